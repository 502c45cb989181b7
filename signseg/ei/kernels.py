"""Connection properties of the lateral networks (lateral-connections-ei-cnn.txt, Section
4.1 "Connection properties", SM A.4, Figs. 9-10, Table 3).

Afferent vs lateral kernels (their Eqs. 14-16): for every pair of channels ``p < q``,

* the afferent distance is the root-mean-square difference of their afferent kernels,
  ``d_aff(p, q) = sqrt(sum_k (W_aff[p, k] - W_aff[q, k])^2 / K)`` over the ``K = kh x kw``
  (x input channels) kernel weights (**choice**: Eq. 14 is lost; "K denotes the square of
  the kernel size" reads as a mean over the kernel's weights);
* the lateral distance is the same distance between the *outgoing* lateral kernels of ``p``
  and ``q`` into each channel ``c``, ``W_lat[c, p]`` and ``W_lat[c, q]``, averaged over ``c``
  with its standard error (their Eqs. 15-16).

If channels with similar afferent kernels have similar outgoing lateral connections
(Bosking et al. 1997), the two distances correlate (their Fig. 9: linear).

E and I paths of LCEI-CNN: :func:`oriented_paths` relabels the two paths so that the
excitatory one has the larger mean weight (ABS and SAT-ABS may end either way round; the
paper relabels), :func:`ei_count_ratio` is their Table 3: ``#(W_E > t) : #(W_I < -t)``
as fractions of their sum, per threshold ``t``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch

from ..errors import InvalidInputError

__all__ = ["rms_distance", "kernel_distances", "oriented_paths", "ei_count_ratio",
           "weight_values"]


def rms_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """``sqrt(mean((a - b)^2))`` of two equally shaped kernels."""
    if a.shape != b.shape or a.numel() == 0:
        raise InvalidInputError(f"kernels must have one non-empty shape; got {tuple(a.shape)} and {tuple(b.shape)}")
    return float(((a.double() - b.double()) ** 2).mean().sqrt())


def kernel_distances(afferent: torch.Tensor, lateral: torch.Tensor) -> pd.DataFrame:
    """Afferent vs outgoing-lateral kernel distances of every channel pair (their Fig. 9).

    Parameters
    ----------
    afferent:
        ``W_aff`` ``[C, in, kh, kw]``.
    lateral:
        ``W_lat`` ``[C, C, kh, kw]`` (input channels = the afferent's output channels).

    Returns
    -------
    DataFrame
        One row per pair ``p < q``: ``p``, ``q``, ``afferent``, ``lateral`` (mean over target
        channels), ``lateral_se`` (standard error over them).
    """
    channels = afferent.shape[0]
    if afferent.dim() != 4 or lateral.dim() != 4 or lateral.shape[:2] != (channels, channels):
        raise InvalidInputError(
            f"expected W_aff [C, in, kh, kw] and W_lat [C, C, kh, kw] with the same C; got "
            f"{tuple(afferent.shape)} and {tuple(lateral.shape)}")
    rows = []
    for p in range(channels):
        for q in range(p + 1, channels):
            per_target = np.array([rms_distance(lateral[c, p], lateral[c, q]) for c in range(channels)])
            rows.append({"p": p, "q": q, "afferent": rms_distance(afferent[p], afferent[q]),
                         "lateral": float(per_target.mean()),
                         "lateral_se": float(per_target.std(ddof=1) / np.sqrt(channels))
                         if channels > 1 else float("nan")})
    return pd.DataFrame(rows, columns=["p", "q", "afferent", "lateral", "lateral_se"])


def oriented_paths(excitatory: torch.Tensor, inhibitory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """``(W_E, W_I, swapped)``: the two paths with the larger-mean one first.

    ``swapped`` is ``True`` when the path trained as inhibitory ended with the larger mean
    (possible with the ``abs`` and ``sat_abs`` penalties, whose labels are interchangeable).
    """
    swapped = bool(inhibitory.double().mean() > excitatory.double().mean())
    return (inhibitory, excitatory, True) if swapped else (excitatory, inhibitory, False)


def ei_count_ratio(excitatory: torch.Tensor, inhibitory: torch.Tensor,
                   thresholds: Sequence[float]) -> pd.DataFrame:
    """Excitatory : inhibitory weight counts at thresholds (their Table 3).

    Returns
    -------
    DataFrame
        One row per threshold ``t``: ``threshold``, ``n_excitatory = #(W_E > t)``,
        ``n_inhibitory = #(W_I < -t)``, ``excitatory`` and ``inhibitory`` (their fractions of
        the sum; NaN when both are 0).
    """
    rows = []
    for threshold in thresholds:
        if threshold < 0:
            raise InvalidInputError(f"thresholds must be >= 0, got {threshold}")
        n_e = int((excitatory > threshold).sum())
        n_i = int((inhibitory < -threshold).sum())
        total = n_e + n_i
        rows.append({"threshold": float(threshold), "n_excitatory": n_e, "n_inhibitory": n_i,
                     "excitatory": n_e / total if total else float("nan"),
                     "inhibitory": n_i / total if total else float("nan")})
    return pd.DataFrame(rows)


def weight_values(weights: dict[str, torch.Tensor]) -> pd.DataFrame:
    """Long table ``path``, ``weight`` of every entry of each named weight (their Fig. 10)."""
    return pd.concat([pd.DataFrame({"path": name, "weight": w.detach().double().reshape(-1).numpy()})
                      for name, w in weights.items()], ignore_index=True)
