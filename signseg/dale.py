"""The Dale index: how sign-consistent the outgoing weights of a channel are.

Definition (paper section 3 "Dale index", appendix A.3; METHODS.md section 1): for a layer
with weight ``W`` of shape ``[out, in]`` (linear) or ``[out, in, kh, kw]`` (conv, first
averaged over its spatial dimensions), the *outgoing* weights of input channel ``j`` are the
column ``W[:, j]``. With ``p+`` and ``p-`` the fractions of that column that are ``> 0`` and
``< 0``, the channel's Dale index is ``D_j = max(p+, p-)`` in ``[0.5, 1]``, and the channel
is *positive Dale-like* when ``p+ > p-``. A layer's Dale index is the mean of ``D_j``.

**Choice** (METHODS.md is silent on zeros): an exact zero carries no sign, so the fractions
are taken over a channel's non-zero outgoing weights. Trained and initialised weights have
no exact zeros, so this only matters after ablation or pruning; a channel whose outgoing
weights are all zero has no Dale index (NaN), and layer means skip such channels.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np
import pandas as pd
import torch
from scipy import stats
from torch import nn

from .errors import InvalidInputError

__all__ = [
    "outgoing_weights",
    "sign_fractions",
    "dale_index",
    "dale_signs",
    "layer_dale_index",
    "expected_random_dale_index",
    "weighted_layers",
    "dale_table",
    "channel_table",
    "readout_comparison",
]


def outgoing_weights(weight: torch.Tensor) -> torch.Tensor:
    """Return the ``[out, in]`` matrix whose column ``j`` holds input channel ``j``'s weights.

    Linear weights are returned as they are; conv weights ``[out, in, kh, kw]`` are averaged
    over the spatial dimensions (A.3: "averaging spatial weights").
    """
    if not isinstance(weight, torch.Tensor):
        weight = torch.as_tensor(weight)
    if weight.numel() == 0:
        raise InvalidInputError(
            f"the weight is empty (shape {tuple(weight.shape)}); the Dale index needs at least "
            "one input channel with one outgoing weight"
        )
    if weight.dtype == torch.bool or weight.is_complex():
        raise InvalidInputError(f"the weight must hold real numbers, got dtype {weight.dtype}")
    if not weight.is_floating_point():
        weight = weight.double()  # integer weights: only signs matter, but conv kernels are averaged
    if weight.dim() == 4:
        weight = weight.mean(dim=(2, 3))
    elif weight.dim() != 2:
        raise InvalidInputError(
            "dale_index expects a 2-D linear weight [out, in] or a 4-D conv weight "
            f"[out, in, kh, kw]; got a tensor of shape {tuple(weight.shape)}"
        )
    if not torch.isfinite(weight).all():
        raise InvalidInputError(
            "the weight contains NaN or infinite values; the Dale index needs finite weights"
        )
    return weight.detach()


def sign_fractions(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Fractions ``(p+, p-)`` of positive and negative outgoing weights per input channel.

    Fractions are taken over the channel's non-zero outgoing weights (an exact zero carries
    no sign), so ``p+ + p- = 1``; a channel whose outgoing weights are all zero gets NaN.
    """
    columns = outgoing_weights(weight)
    positive = (columns > 0).sum(dim=0).double()
    negative = (columns < 0).sum(dim=0).double()
    signed = positive + negative
    return positive / signed, negative / signed


def dale_index(weight: torch.Tensor) -> torch.Tensor:
    """Per-input-channel Dale index ``max(p+, p-)`` of a linear or conv weight.

    Parameters
    ----------
    weight:
        ``[out, in]`` (linear) or ``[out, in, kh, kw]`` (conv) weight tensor.

    Returns
    -------
    torch.Tensor
        Float64 tensor of shape ``[in]`` with values in ``[0.5, 1]`` (NaN for a channel
        whose outgoing weights are all exactly zero).

    Examples
    --------
    >>> dale_index(torch.tensor([[1.0, -1.0], [2.0, 3.0], [0.5, -2.0]]))
    tensor([1.0000, 0.6667], dtype=torch.float64)
    """
    positive, negative = sign_fractions(weight)
    return torch.maximum(positive, negative)


def dale_signs(weight: torch.Tensor) -> torch.Tensor:
    """Majority sign of each input channel's outgoing weights: +1, -1, or 0 on a tie."""
    positive, negative = sign_fractions(weight)
    return torch.sign(torch.nan_to_num(positive - negative)).to(torch.int8)


def layer_dale_index(weight: torch.Tensor) -> float:
    """The layer's Dale index: the mean of the per-channel indices."""
    return float(torch.nanmean(dale_index(weight)))


def expected_random_dale_index(n_outgoing: int) -> float:
    """Expected Dale index of a channel with ``n`` i.i.d. symmetric random outgoing weights.

    ``E[D] = 0.5 + E|B/n - 0.5|`` with ``B ~ Binomial(n, 1/2)``, computed exactly; about
    0.5126 for ``n = 1000`` (the paper's untrained column, Table 3).
    """
    if n_outgoing < 1:
        raise InvalidInputError(f"n_outgoing must be a positive integer, got {n_outgoing}")
    k = np.arange(n_outgoing + 1)
    pmf = stats.binom.pmf(k, n_outgoing, 0.5)
    return float(0.5 + np.sum(pmf * np.abs(k / n_outgoing - 0.5)))


def weighted_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """All ``Conv2d`` and ``Linear`` layers of ``model`` in registration order."""
    return [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, (nn.Conv2d, nn.Linear))
    ]


def _layers(model: nn.Module, layers: Iterable[str] | None) -> list[tuple[str, nn.Module]]:
    found = weighted_layers(model)
    if layers is None:
        return found
    by_name = dict(found)
    wanted = [layers] if isinstance(layers, str) else list(layers)  # "fc" is one layer, not 2
    missing = [name for name in wanted if name not in by_name]
    if missing:
        raise InvalidInputError(
            f"layers {missing} are not Conv2d/Linear layers of this model; available: "
            f"{list(by_name)[:8]}{' ...' if len(by_name) > 8 else ''}"
        )
    return [(name, by_name[name]) for name in wanted]


def dale_table(model: nn.Module, layers: str | Iterable[str] | None = None) -> pd.DataFrame:
    """One row per Conv2d/Linear layer with its Dale index and sign bookkeeping.

    Columns: ``layer``, ``kind`` ("conv" or "linear"), ``depth`` (0-based position among the
    weighted layers), ``relative_depth`` (depth / (n_layers - 1)), ``n_in`` (channels whose
    index is computed), ``n_out`` (outgoing weights per channel), ``dale_index`` (layer mean),
    ``dale_std``, ``random_expectation`` (the analytic value for random signs),
    ``frac_positive_dale`` (share of channels with ``p+ > p-``), ``frac_negative_dale``.
    """
    chosen = _layers(model, layers)
    rows = []
    for depth, (name, module) in enumerate(chosen):
        index = dale_index(module.weight)
        signs = dale_signs(module.weight)
        n_out = module.weight.shape[0]
        rows.append(
            {
                "layer": name,
                "kind": "conv" if isinstance(module, nn.Conv2d) else "linear",
                "depth": depth,
                "relative_depth": depth / max(len(chosen) - 1, 1),
                "n_in": int(index.numel()),
                "n_out": int(n_out),
                "dale_index": float(torch.nanmean(index)),
                "dale_std": float(np.nanstd(index.numpy(), ddof=1)) if index.numel() > 1 else 0.0,
                "random_expectation": expected_random_dale_index(n_out),
                "frac_positive_dale": float((signs > 0).double().mean()),
                "frac_negative_dale": float((signs < 0).double().mean()),
            }
        )
    return pd.DataFrame(rows)


def channel_table(weight: torch.Tensor) -> pd.DataFrame:
    """One row per input channel: ``channel``, ``p_positive``, ``p_negative``, ``dale_index``,
    ``sign`` (+1 / -1 / 0 majority sign)."""
    positive, negative = sign_fractions(weight)
    return pd.DataFrame(
        {
            "channel": np.arange(positive.numel()),
            "p_positive": positive.numpy(),
            "p_negative": negative.numpy(),
            "dale_index": torch.maximum(positive, negative).numpy(),
            "sign": torch.sign(torch.nan_to_num(positive - negative)).numpy().astype(int),
        }
    )



def readout_comparison(
    trained: Mapping[str, torch.Tensor],
    untrained: Mapping[str, torch.Tensor],
    top1: Mapping[str, float | None] | None = None,
) -> pd.DataFrame:
    """Output-layer Dale index before and after training, one row per model.

    Parameters
    ----------
    trained, untrained:
        Model name -> readout weight ``[classes, features]`` (same names in both).
    top1:
        Model name -> top-1 accuracy in percent of the trained model (optional).

    Returns
    -------
    pandas.DataFrame
        Columns ``model``, ``n_outgoing`` (classes), ``random_expectation`` (analytic, for
        that many outgoing weights), ``untrained``, ``trained``, ``delta``, ``top1``.
    """
    missing = sorted(set(trained) ^ set(untrained))
    if missing:
        raise InvalidInputError(f"trained and untrained weights must name the same models; differ in {missing}")
    for name, weight in trained.items():
        shapes = (tuple(torch.as_tensor(weight).shape), tuple(torch.as_tensor(untrained[name]).shape))
        if len(shapes[0]) != 2 or shapes[0] != shapes[1]:
            raise InvalidInputError(
                f"readout weights of {name!r} must be 2-D [classes, features] and the same shape "
                f"before and after training; got trained {list(shapes[0])} and untrained "
                f"{list(shapes[1])}"
            )
    rows = []
    for name, weight in trained.items():
        before, after = layer_dale_index(untrained[name]), layer_dale_index(weight)
        rows.append(
            {
                "model": name,
                "n_outgoing": int(weight.shape[0]),
                "random_expectation": expected_random_dale_index(int(weight.shape[0])),
                "untrained": before,
                "trained": after,
                "delta": after - before,
                "top1": (top1 or {}).get(name),
            }
        )
    return pd.DataFrame(rows)
