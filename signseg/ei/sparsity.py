"""Sparsity and response distributions of feature maps over lateral loops
(lateral-connections-ei-cnn.txt, Section 4.1, Figs. 5-7).

* :func:`kurtosis` -- the standardised fourth central moment ``E[(x - mu)^4] / sigma^4``
  (Pearson's kurtosis: 3 for a Gaussian; **choice**: the paper names "the fourth central
  moment", a scale-free version of it is what can be compared across loops);
* :func:`zero_fraction` -- the share of exactly zero responses (ReLU maps);
* :func:`map_sparsity` -- both, per image, for every step ``V_0 .. V_T`` of a lateral network;
* :func:`response_density` and :func:`tail_crossing` -- the distribution of the non-zero
  responses on logarithmic bins (their log-log Fig. 7) against the half-normal density with
  the same second moment (**choice**: responses of ReLU maps are non-negative, so the
  matching Gaussian is folded at 0; the zeros, a point mass, are left out), and the
  response at which the empirical density rises above the Gaussian for good: where the heavy
  tail begins (Lee & Choe 2003's intersection).

Hand-worked anchor (tested): a Laplace density ``exp(-|x| / b) / (2 b)`` and the Gaussian of
equal variance ``2 b^2`` cross where ``u^2 - 4u + 2 ln(pi) = 0`` for ``u = x / b``: at
``u = 2 - sqrt(4 - 2 ln pi) = 0.692`` (entering the shoulder) and
``u = 2 + sqrt(4 - 2 ln pi) = 3.308`` (the tail); :func:`tail_crossing` returns the second.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch

from ..errors import InvalidInputError
from ..metrics.stats import mean_ci

__all__ = ["kurtosis", "zero_fraction", "map_sparsity", "response_density", "half_normal_density",
           "tail_crossing", "response_distribution"]


def _flat(values: torch.Tensor | np.ndarray, name: str = "values") -> np.ndarray:
    array = np.asarray(values.detach().cpu() if isinstance(values, torch.Tensor) else values,
                       dtype=np.float64).reshape(-1)
    if array.size == 0 or not np.isfinite(array).all():
        raise InvalidInputError(f"{name} must be a non-empty array of finite numbers")
    return array


def kurtosis(values: torch.Tensor | np.ndarray) -> float:
    """``E[(x - mean)^4] / var^2`` of all entries (NaN when they are all equal).

    >>> kurtosis([0.0, 0.0, 0.0, 1.0])  # doctest: +ELLIPSIS
    2.333...
    """
    x = _flat(values)
    centred = x - x.mean()
    variance = float(np.mean(centred**2))
    return float(np.mean(centred**4) / variance**2) if variance > 0 else float("nan")


def zero_fraction(values: torch.Tensor | np.ndarray) -> float:
    """Share of entries that are exactly 0."""
    x = _flat(values)
    return float(np.mean(x == 0))


def map_sparsity(model: Any, images: torch.Tensor, batch_size: int = 100) -> pd.DataFrame:
    """Kurtosis and fraction of zeros of every step's feature maps, mean over images.

    Parameters
    ----------
    model:
        A :class:`signseg.zoo.ZooModel` of a lateral network (its ``model.maps(x)`` lists
        ``V_0 .. V_T``; the preprocessing of ``entry`` is applied).
    images:
        ``[n, C, H, W]`` in ``[0, 1]`` (or uint8).
    batch_size:
        Images per forward pass.

    Returns
    -------
    DataFrame
        One row per step ``t`` (0 = ``ReLU(W_aff * I)``): ``step``, ``kurtosis``,
        ``kurtosis_low``, ``kurtosis_high``, ``zero_fraction``, ``zero_low``, ``zero_high``
        (t 95% CIs over images), ``n`` and ``n_kurtosis`` (images whose map is not silent:
        an all-zero map has no kurtosis). Each image's statistic is over all its channels
        and positions.
    """
    per_image: list[list[tuple[float, float]]] = []
    for maps in _batched_maps(model, images, batch_size):
        for index in range(maps[0].shape[0]):
            per_image.append([(kurtosis(m[index]), zero_fraction(m[index])) for m in maps])
    values = np.asarray(per_image)  # [n, steps, 2]
    rows = []
    for step in range(values.shape[1]):
        kurt = values[:, step, 0]
        kurt = kurt[np.isfinite(kurt)]
        # a map that is zero everywhere (a silent step) has no kurtosis: left out, and when
        # every image's map is silent the step's kurtosis is NaN with n_kurtosis = 0
        k, k_low, k_high = mean_ci(kurt) if kurt.size else (np.nan, np.nan, np.nan)
        z, z_low, z_high = mean_ci(values[:, step, 1])
        rows.append({"step": step, "kurtosis": k, "kurtosis_low": k_low, "kurtosis_high": k_high,
                     "zero_fraction": z, "zero_low": z_low, "zero_high": z_high, "n": len(values),
                     "n_kurtosis": int(kurt.size)})
    return pd.DataFrame(rows)


def _batched_maps(model: Any, images: torch.Tensor, batch_size: int):
    """``model.model.maps`` of preprocessed batches, without gradients."""
    from ..loops import to_unit

    if images.dim() != 4 or len(images) == 0:
        raise InvalidInputError(f"images must be a non-empty [n, C, H, W] batch, got {tuple(images.shape)}")
    network = model.model
    if not hasattr(network, "maps"):
        raise InvalidInputError(f"{type(network).__name__} has no feature maps by step (maps()); "
                                "pass a lateral network (signseg.ei.lateral)")
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            batch = model.entry.preprocessing(to_unit(images[start:start + batch_size]))
            yield network.maps(batch)


def response_density(values: torch.Tensor | np.ndarray, bins: int = 40) -> pd.DataFrame:
    """Density of the positive entries of ``values`` on ``bins`` logarithmic bins.

    Returns
    -------
    DataFrame
        ``response`` (geometric bin centre), ``density`` (count / (n_positive x bin width),
        so that ``sum(density x width) = 1``), ``width``.

    Raises
    ------
    InvalidInputError
        Fewer than two distinct positive values.
    """
    x = _flat(values)
    positive = x[x > 0]
    if positive.size < 2 or positive.min() == positive.max():
        raise InvalidInputError("response_density needs at least two distinct positive responses")
    edges = np.geomspace(positive.min(), positive.max(), bins + 1)
    counts, _ = np.histogram(positive, edges)
    width = np.diff(edges)
    return pd.DataFrame({"response": np.sqrt(edges[:-1] * edges[1:]),
                         "density": counts / (positive.size * width), "width": width})


def half_normal_density(response: np.ndarray, second_moment: float) -> np.ndarray:
    """Density at ``response >= 0`` of ``|N(0, s^2)|`` with ``s^2 = second_moment``."""
    if not second_moment > 0:
        raise InvalidInputError(f"second_moment must be > 0, got {second_moment}")
    sigma = np.sqrt(second_moment)
    return 2.0 * np.exp(-0.5 * (np.asarray(response) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))


def tail_crossing(response: Sequence[float], density: Sequence[float],
                  gaussian: Sequence[float]) -> float:
    """Where the empirical density rises above the Gaussian one for the last time.

    ``response`` must increase. The crossing is the last point where ``log density -
    log gaussian`` goes from negative to non-negative, found by linear interpolation of that
    difference between neighbouring points (in the log of ``response``); bins with a zero
    density are skipped. ``NaN`` when the empirical density never rises above the Gaussian
    after having been below it (no heavy tail).
    """
    r, d, g = (np.asarray(v, dtype=np.float64) for v in (response, density, gaussian))
    if not (r.shape == d.shape == g.shape) or r.ndim != 1 or np.any(np.diff(r) <= 0):
        raise InvalidInputError("response, density and gaussian must be equal-length 1-D arrays "
                                "with response increasing")
    keep = (d > 0) & (g > 0)
    r, diff = r[keep], np.log(d[keep]) - np.log(g[keep])
    rises = np.flatnonzero((diff[:-1] < 0) & (diff[1:] >= 0))
    if rises.size == 0:
        return float("nan")
    i = int(rises[-1])
    lr = np.log(r[i : i + 2])
    fraction = -diff[i] / (diff[i + 1] - diff[i])
    return float(np.exp(lr[0] + fraction * (lr[1] - lr[0])))


def response_distribution(model: Any, images: torch.Tensor, bins: int = 40,
                          batch_size: int = 100) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Response densities of every lateral step against the matching half-normal (Fig. 7).

    Returns
    -------
    (densities, crossings)
        ``densities``: ``step``, ``response``, ``density``, ``gaussian`` per bin;
        ``crossings``: one row per step with ``second_moment``, ``crossing`` (response where
        the heavy tail begins, :func:`tail_crossing`) and ``crossing_sd`` (the same in units of
        the matching Gaussian's ``s``) and ``silent`` (a step whose responses are all zero
        has no density and NaN crossings).
    """
    steps: list[list[np.ndarray]] = []
    for maps in _batched_maps(model, images, batch_size):
        for t, m in enumerate(maps):
            if len(steps) <= t:
                steps.append([])
            steps[t].append(m.reshape(-1).numpy())
    frames, crossings = [], []
    for t, chunks in enumerate(steps):
        values = np.concatenate(chunks)
        positive = values[values > 0]
        if positive.size < 2 or positive.min() == positive.max():
            # a silent step (every response zero, or one value): no density, no crossing
            crossings.append({"step": t, "second_moment": np.nan, "crossing": np.nan,
                              "crossing_sd": np.nan, "silent": True})
            continue
        moment = float(np.mean(positive**2))
        table = response_density(values, bins)
        table["gaussian"] = half_normal_density(table["response"].to_numpy(), moment)
        frames.append(table.assign(step=t))
        crossing = tail_crossing(table["response"], table["density"], table["gaussian"])
        crossings.append({"step": t, "second_moment": moment, "crossing": crossing,
                          "crossing_sd": crossing / np.sqrt(moment), "silent": False})
    columns = ["step", "response", "density", "gaussian"]
    densities = pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)
    return densities, pd.DataFrame(crossings)
