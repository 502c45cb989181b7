"""Sign ablation by cumulative magnitude (paper section 3 "Ablation", A.1; METHODS.md 2).

For a target unit with input weights ``w`` (one row of the layer feeding it) and a sign set
``S`` (``"positive"``: ``w > 0``; ``"negative"``: ``w < 0``; exact zeros belong to neither):

1. sort ``S`` by ``|w|`` in descending order: ``w_1, w_2, ...``;
2. find the smallest ``k >= 0`` with ``sum_{i<=k} |w_i| / sum_{w in S} |w| >= alpha``;
3. set those ``k`` weights to zero.

``alpha = 0`` removes nothing and ``alpha = 1`` removes all of ``S``. The bias is untouched.

Determinism (documented choices)
--------------------------------
* **Ties**: equal magnitudes are ordered by input index, lower index first (a stable sort).
  So with ``w = [2, 2]`` and ``alpha = 0.5`` only input 0 is removed.
* **Boundaries**: cumulative fractions are computed in float64 and a fraction within
  :data:`ALPHA_TOL` (``1e-6``) below ``alpha`` counts as reaching it, so an ``alpha`` that lies
  on a cumulative boundary removes exactly that prefix despite rounding: float32 cannot
  hold 0.7 or 0.1 exactly (relative error up to 6e-8 per weight), so ``[0.7, 0.3]`` at
  ``alpha = 0.7`` would otherwise remove both weights. Strengths closer than 1e-6 are not
  distinguished (the paper steps alpha by 0.1). Hand-worked: ``w = [3, -1, 2, 1, -4]``,
  positive, ``alpha = 0.5``: ``3 / 6 = 0.5`` -> only the 3 is removed; ``alpha = 0.51`` -> the
  3 and the 2. ``alpha = 1`` always removes the whole set, however small its tail.
* **Empty sign set**: a row without weights of the requested sign is returned unchanged.

Layers
------
Linear weights ``[out, in]`` are ablated row by row. For convolutions (**choice**, METHODS.md
2) the row of output channel ``c`` is its flattened kernel ``W[c].reshape(-1)``
(``in * kh * kw`` individual weights), so single kernel weights are removed.

Readout conditions
------------------
:func:`readout_conditions` builds one ablated copy of each requested readout row per
(unit, sign, alpha) condition, stacked in a ``[K, F]`` matrix. Penultimate features are then
computed once per image and every condition is one matrix product
(:func:`evaluate_conditions`), instead of one full forward pass per ablated model.
"""

from __future__ import annotations

import itertools
from contextlib import contextmanager
from typing import Iterator, Sequence

import pandas as pd
import torch
from torch import nn

from .errors import InvalidInputError
from .validation import check_indices, check_scalar

__all__ = [
    "SIGNS",
    "ALPHA_TOL",
    "ablate",
    "ablation_sweep",
    "ablation_mask",
    "sweep_masks",
    "readout_conditions",
    "evaluate_conditions",
    "ablated",
    "sign_ratio",
]

SIGNS: tuple[str, str] = ("positive", "negative")
"""The two sign sets that can be ablated."""

ALPHA_TOL: float = 1e-6
"""A cumulative magnitude fraction within this much below ``alpha`` counts as reaching it."""

_ABLATABLE_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


# --------------------------------------------------------------------------- validation


def _check_sign(sign: str) -> str:
    """Return ``sign`` if it names a sign set, else raise :class:`InvalidInputError`."""
    if sign not in SIGNS:
        raise InvalidInputError(
            f"sign must be one of {SIGNS}, got {sign!r}; pass 'positive' to ablate weights > 0 "
            "or 'negative' to ablate weights < 0"
        )
    return sign


def _check_alphas(alphas: float | Sequence[float] | torch.Tensor) -> torch.Tensor:
    """Return ``alphas`` as a 1-D float64 tensor after checking every value lies in [0, 1]."""
    values = torch.as_tensor(alphas, dtype=torch.float64).reshape(-1)
    if values.numel() == 0:
        raise InvalidInputError("alphas is empty; pass at least one ablation strength in [0, 1]")
    if torch.isnan(values).any():
        raise InvalidInputError("alpha is NaN; the ablation strength must be a number in [0, 1]")
    if ((values < 0) | (values > 1)).any():
        bad = values[(values < 0) | (values > 1)].tolist()
        raise InvalidInputError(
            f"alpha must lie in [0, 1] (the fraction of the sign set's total magnitude to "
            f"remove), got {bad}"
        )
    return values


def _check_rows(weight: torch.Tensor) -> torch.Tensor:
    """Return ``weight`` as a detached ``[rows, inputs]`` view; 1-D weights become one row."""
    if not isinstance(weight, torch.Tensor):
        raise InvalidInputError(
            f"weight must be a torch.Tensor, got {type(weight).__name__}; convert with "
            "torch.as_tensor first"
        )
    if weight.dim() not in (1, 2):
        raise InvalidInputError(
            "weight must be a 1-D weight vector or a 2-D [units, inputs] matrix, got shape "
            f"{tuple(weight.shape)}; reshape conv kernels to [out, -1] (or use `ablated`)"
        )
    if not weight.is_floating_point():
        raise InvalidInputError(f"weight must be a floating-point tensor, got {weight.dtype}")
    if not torch.isfinite(weight).all():
        raise InvalidInputError(
            "weight contains NaN or infinite values; sign ablation needs finite weights"
        )
    weight = weight.detach()
    return weight.unsqueeze(0) if weight.dim() == 1 else weight


# --------------------------------------------------------------------------- masks


def _removal_counts(rows: torch.Tensor, sign: str, alphas: torch.Tensor) -> tuple[
    torch.Tensor, torch.Tensor, torch.Tensor
]:
    """Sort each row once and count how many weights each alpha removes.

    Returns
    -------
    selected : bool Tensor [R, F]
        Entries belonging to the sign set.
    rank : long Tensor [R, F]
        Position of each entry in its row's removal order (descending magnitude, stable).
    counts : long Tensor [A, R]
        Number ``k`` of weights removed per alpha and row.
    """
    selected = rows > 0 if sign == "positive" else rows < 0
    magnitude = torch.where(selected, rows.abs(), torch.zeros_like(rows)).to(torch.float64)
    sorted_mag, order = torch.sort(magnitude, dim=1, descending=True, stable=True)
    rank = torch.empty_like(order)
    positions = torch.arange(rows.shape[1], device=rows.device).expand_as(order)
    rank.scatter_(1, order, positions)

    cumulative = sorted_mag.cumsum(dim=1)
    total = cumulative[:, -1:]
    fraction = cumulative / torch.where(total > 0, total, torch.ones_like(total))
    # fraction_ext[:, k] is the removed fraction after k removals (k = 0 .. F); it is
    # non-decreasing, so the smallest k reaching the target is the count of entries below it.
    fraction_ext = torch.cat([torch.zeros_like(total), fraction], dim=1).contiguous()
    targets = (alphas.to(rows.device) - ALPHA_TOL).expand(rows.shape[0], -1).contiguous()
    counts = torch.searchsorted(fraction_ext, targets, side="left").T  # [A, R]
    n_selected = selected.sum(dim=1)
    counts = torch.where(alphas.to(rows.device)[:, None] >= 1, n_selected[None, :], counts)
    return selected, rank, torch.minimum(counts, n_selected[None, :])


def sweep_masks(
    weight: torch.Tensor, sign: str, alphas: Sequence[float] | torch.Tensor
) -> torch.Tensor:
    """Masks of the entries removed at each of many ablation strengths (one sort per row).

    Parameters
    ----------
    weight : Tensor [F] or [R, F]
        A weight vector or a matrix whose rows are ablated independently.
    sign : {"positive", "negative"}
        Which sign set to ablate.
    alphas : sequence of float in [0, 1], length A
        Ablation strengths.

    Returns
    -------
    Tensor [A, *weight.shape] of bool
        ``True`` where the weight is removed at that strength.
    """
    _check_sign(sign)
    alpha_values = _check_alphas(alphas)
    rows = _check_rows(weight)
    selected, rank, counts = _removal_counts(rows, sign, alpha_values)
    masks = selected[None] & (rank[None] < counts[:, :, None])
    return masks.reshape(len(alpha_values), *weight.shape)


def ablation_mask(weight: torch.Tensor, sign: str, alpha: float) -> torch.Tensor:
    """Mask of the entries that :func:`ablate` sets to zero.

    Parameters
    ----------
    weight : Tensor [F] or [R, F]
        A weight vector or a matrix whose rows are ablated independently.
    sign : {"positive", "negative"}
        Which sign set to ablate.
    alpha : float in [0, 1]
        Fraction of the sign set's total magnitude to remove.

    Returns
    -------
    Tensor of bool, same shape as ``weight``
    """
    return sweep_masks(weight, sign, [check_scalar(alpha, "alpha")])[0]


def ablate(weight: torch.Tensor, sign: str, alpha: float) -> torch.Tensor:
    """Return a copy of ``weight`` with its ``sign`` weights ablated to strength ``alpha``.

    Parameters
    ----------
    weight : Tensor [F] or [R, F]
        A weight vector or a ``[units, inputs]`` matrix; each row is ablated independently.
        The input is never modified.
    sign : {"positive", "negative"}
        Which sign set to ablate.
    alpha : float in [0, 1]
        Fraction of the sign set's total magnitude to remove (see the module docstring for
        ties and boundaries).

    Returns
    -------
    Tensor
        A new tensor (detached from autograd), same shape, dtype and device as ``weight``.

    Examples
    --------
    >>> ablate(torch.tensor([3., -1., 2., 1., -4.]), "positive", 0.5)
    tensor([ 0., -1.,  2.,  1., -4.])
    """
    mask = ablation_mask(weight, sign, alpha)
    return weight.detach().masked_fill(mask, 0.0)


def ablation_sweep(
    weight: torch.Tensor, signs: str | Sequence[str], alphas: Sequence[float] | torch.Tensor
) -> Iterator[tuple[str, float, torch.Tensor]]:
    """Ablated copies of a whole weight matrix for every ``(sign, alpha)``, every row ablated.

    Equal to ``ablate(weight, sign, alpha)`` for each condition, but each row is sorted once
    per sign (:func:`sweep_masks`) instead of once per condition.

    Parameters
    ----------
    weight : Tensor [F] or [R, F]
        A weight vector or a ``[units, inputs]`` matrix (e.g. a readout layer's); never
        modified.
    signs : str or sequence of str
        ``"positive"`` and/or ``"negative"``, in the order yielded.
    alphas : sequence of float in [0, 1]
        Ablation strengths, in the order yielded within each sign.

    Yields
    ------
    (sign, alpha, ablated)
        ``ablated`` is a new detached tensor shaped like ``weight``.
    """
    sign_list = [signs] if isinstance(signs, str) else list(signs)
    if not sign_list:
        raise InvalidInputError("signs is empty; pass 'positive', 'negative' or both")
    alpha_values = _check_alphas(alphas)
    detached = weight.detach() if isinstance(weight, torch.Tensor) else weight
    for sign in sign_list:
        masks = sweep_masks(detached, sign, alpha_values)
        for alpha, mask in zip(alpha_values.tolist(), masks):
            yield sign, alpha, detached.masked_fill(mask, 0.0)


# --------------------------------------------------------------------------- readout conditions


def readout_conditions(
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    units: Sequence[int],
    signs: str | Sequence[str],
    alphas: Sequence[float],
) -> tuple[torch.Tensor, torch.Tensor, pd.DataFrame]:
    """Stack the ablated readout rows of every (unit, sign, alpha) condition.

    Parameters
    ----------
    weight : Tensor [C, F]
        Readout (last linear) layer weight.
    bias : Tensor [C] or None
        Readout bias, copied unchanged into every condition (zeros when ``None``).
    units : sequence of int
        Output units to ablate.
    signs : str or sequence of str
        ``"positive"`` and/or ``"negative"``.
    alphas : sequence of float in [0, 1]
        Ablation strengths. ``alpha = 0`` (the control) appears once per sign.

    Returns
    -------
    W_cond : Tensor [K, F]
        One ablated weight row per condition, ``K = len(units) * len(signs) * len(alphas)``,
        ordered like ``itertools.product(units, signs, alphas)``.
    b_cond : Tensor [K]
        The unit's bias per condition.
    conditions : DataFrame
        Columns ``unit``, ``sign``, ``alpha``; row ``k`` describes ``W_cond[k]``.
    """
    if not isinstance(weight, torch.Tensor) or weight.dim() != 2:
        shape = tuple(weight.shape) if isinstance(weight, torch.Tensor) else type(weight).__name__
        raise InvalidInputError(
            f"readout weight must be a 2-D [classes, features] tensor, got {shape}"
        )
    unit_index = _unit_indices(units, weight.shape[0])
    sign_list = [signs] if isinstance(signs, str) else list(signs)
    if not sign_list:
        raise InvalidInputError("signs is empty; pass 'positive', 'negative' or both")
    alpha_values = _check_alphas(alphas)
    bias = _check_bias(bias, weight)

    rows = weight.detach()[unit_index]  # [U, F]
    masks = torch.stack([sweep_masks(rows, s, alpha_values) for s in sign_list])  # [S, A, U, F]
    masks = masks.permute(2, 0, 1, 3).reshape(-1, weight.shape[1])  # [U*S*A, F]
    repeats = len(sign_list) * len(alpha_values)
    w_cond = rows.repeat_interleave(repeats, dim=0).masked_fill(masks, 0.0)
    b_cond = bias[unit_index].repeat_interleave(repeats)
    conditions = pd.DataFrame(
        list(itertools.product(unit_index.tolist(), sign_list, alpha_values.tolist())),
        columns=["unit", "sign", "alpha"],
    )
    return w_cond, b_cond, conditions


def evaluate_conditions(
    features: torch.Tensor,
    w_cond: torch.Tensor,
    b_cond: torch.Tensor,
    condition_index: torch.Tensor | None = None,
) -> torch.Tensor:
    """Readout activations (logits) of features under ablated readout conditions.

    Parameters
    ----------
    features : Tensor [B, F]
        Penultimate-layer features (the readout layer's input), computed once per image.
    w_cond, b_cond : Tensor [K, F], Tensor [K]
        From :func:`readout_conditions`.
    condition_index : long Tensor [B], optional
        When given, image ``b`` is evaluated under condition ``condition_index[b]`` only (the
        lockstep-visualization case: every run optimizes its own condition).

    Returns
    -------
    Tensor [B, K], or Tensor [B] when ``condition_index`` is given
    """
    if features.dim() != 2 or w_cond.dim() != 2 or features.shape[1] != w_cond.shape[1]:
        raise InvalidInputError(
            f"features must be [B, F] and W_cond [K, F] with the same F; got "
            f"{tuple(features.shape)} and {tuple(w_cond.shape)}"
        )
    if b_cond.shape != (w_cond.shape[0],):
        raise InvalidInputError(
            f"b_cond must have shape [K] = [{w_cond.shape[0]}], got {tuple(b_cond.shape)}"
        )
    if condition_index is None:
        return torch.addmm(b_cond, features, w_cond.T)
    index = torch.as_tensor(condition_index, device=w_cond.device).long()
    if index.shape != (features.shape[0],):
        raise InvalidInputError(
            f"condition_index must have one entry per image, shape [{features.shape[0]}], got "
            f"{tuple(index.shape)}"
        )
    if (index < 0).any() or (index >= w_cond.shape[0]).any():
        raise InvalidInputError(
            f"condition_index entries must lie in [0, {w_cond.shape[0] - 1}] (one per condition)"
        )
    return (features * w_cond[index]).sum(dim=1) + b_cond[index]


def _unit_indices(units: int | Sequence[int] | None, n_units: int) -> torch.Tensor:
    """Validate unit indices against a layer with ``n_units`` rows; ``None`` means all."""
    if units is None:
        return torch.arange(n_units)
    index = torch.as_tensor(check_indices(units, "units"), dtype=torch.long)  # no 0.7 -> 0
    if (index < 0).any() or (index >= n_units).any():
        raise InvalidInputError(
            f"unit indices must lie in [0, {n_units - 1}] for a layer with {n_units} units, got "
            f"{index[(index < 0) | (index >= n_units)].tolist()}"
        )
    return index


def _check_bias(bias: torch.Tensor | None, weight: torch.Tensor) -> torch.Tensor:
    """Return the bias as a detached ``[C]`` tensor (zeros when ``None``)."""
    if bias is None:
        return torch.zeros(weight.shape[0], dtype=weight.dtype, device=weight.device)
    if bias.shape != (weight.shape[0],):
        raise InvalidInputError(
            f"bias must have shape [{weight.shape[0]}] to match the weight, got {tuple(bias.shape)}"
        )
    return bias.detach()


# --------------------------------------------------------------------------- in-place on a model


def _resolve_layer(model: nn.Module, layer: str | nn.Module) -> nn.Module:
    """Find ``layer`` (a dotted name or a module) in ``model`` and check it can be ablated."""
    if isinstance(layer, str):
        try:
            module = model.get_submodule(layer) if layer else model
        except AttributeError:
            names = [n for n, m in model.named_modules() if isinstance(m, _ABLATABLE_LAYERS)]
            raise InvalidInputError(
                f"model has no layer named {layer!r}; ablatable layers are {names}"
            ) from None
    elif isinstance(layer, nn.Module):
        if not any(m is layer for m in model.modules()):
            raise InvalidInputError("the layer module given is not part of the model given")
        module = layer
    else:
        raise InvalidInputError(
            f"layer must be a dotted module name or an nn.Module, got {type(layer).__name__}"
        )
    if not isinstance(module, _ABLATABLE_LAYERS):
        raise InvalidInputError(
            f"layer {layer!r} is a {type(module).__name__}; only Linear and Conv1d/2d/3d layers "
            "(weights with output units first) can be sign-ablated"
        )
    return module


@contextmanager
def ablated(
    model: nn.Module,
    layer: str | nn.Module,
    units: int | Sequence[int] | None,
    sign: str,
    alpha: float,
) -> Iterator[torch.Tensor]:
    """Temporarily sign-ablate the input weights of some units of a layer, in place.

    Inside the ``with`` block the layer's weight rows of ``units`` are ablated (a conv output
    channel's row is its flattened ``[in * kh * kw]`` kernel). On exit -- also when the block
    raises -- the original weight values are copied back bit for bit.

    Parameters
    ----------
    model : nn.Module
        The model (or the layer itself).
    layer : str or nn.Module
        Dotted name of the layer in ``model`` (``""`` for ``model`` itself) or the module.
    units : int, sequence of int or None
        Output units / channels to ablate; ``None`` ablates every unit.
    sign : {"positive", "negative"}
        Which sign set to ablate.
    alpha : float in [0, 1]
        Ablation strength.

    Yields
    ------
    Tensor of bool, shape of the layer's weight
        The removed entries.

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(4, 3))
    >>> with ablated(net, "0", [1], "positive", 1.0):
    ...     logits = net(torch.ones(1, 4))
    """
    module = _resolve_layer(model, layer)
    weight: torch.Tensor = module.weight
    rows = weight.detach().reshape(weight.shape[0], -1)
    unit_index = _unit_indices(units, rows.shape[0])
    mask = torch.zeros_like(rows, dtype=torch.bool)
    mask[unit_index] = ablation_mask(rows[unit_index], sign, alpha)
    mask = mask.reshape(weight.shape)
    original = weight.detach().clone()
    try:
        with torch.no_grad():
            weight.masked_fill_(mask, 0.0)
        yield mask
    finally:
        with torch.no_grad():
            weight.copy_(original)


# --------------------------------------------------------------------------- Table 2


def sign_ratio(weight: torch.Tensor) -> torch.Tensor:
    """Per unit: sum of positive weights / sum of |negative| weights (paper Table 2).

    Parameters
    ----------
    weight : Tensor [C, F] (or a conv weight [C, in, kh, kw], flattened per output channel)

    Returns
    -------
    Tensor [C]
        ``inf`` for a unit without negative weights, ``nan`` for an all-zero row.
    """
    if not isinstance(weight, torch.Tensor) or weight.dim() < 2:
        shape = tuple(weight.shape) if isinstance(weight, torch.Tensor) else type(weight).__name__
        raise InvalidInputError(f"sign_ratio expects a [units, inputs] weight, got {shape}")
    if not torch.isfinite(weight).all():
        raise InvalidInputError("weight contains NaN or infinite values; expected finite weights")
    rows = weight.detach().reshape(weight.shape[0], -1)
    positive = rows.clamp(min=0).sum(dim=1)
    negative = (-rows).clamp(min=0).sum(dim=1)
    return positive / negative

