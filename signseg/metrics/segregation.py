"""Object vs background: quantitative tests of "positive = object, negative = context".

The paper shows the segregation qualitatively and with the background challenge (Xiao et
al. 2020; Fig. 17). On the project's procedural set (objects on backgrounds with
ground-truth masks) it can be measured directly:

* :func:`object_share` with ``method="contrast"`` -- for images *without* a mask of their
  own (feature visualizations), the share of the image's local contrast energy that falls
  on a reference mask. **Choice** of reference: the *class-average foreground mask*
  (:func:`canonical_mask`): the mean of the ground-truth masks of the unit's class in the
  procedural set, i.e. the probability that a pixel belongs to an object of that class.
  The share is ``sum(E * M) / sum(E)`` for a contrast-energy map ``E`` and a (soft) mask
  ``M``; an image whose contrast is spread uniformly scores the mask's area fraction
  (:func:`chance_share`), so a preferred image concentrated on the object scores above
  it and one made of context scores below it.
* :func:`object_share` with ``method="attribution"`` -- for real procedural images *with*
  masks: the share of ``|(x - baseline) * d logit_c / d x|`` (input x gradient, summed over
  colour channels) that falls inside the object mask, for the unit's logit under the
  (ablated) readout. This asks directly whether the weights that remain after an ablation
  read the object or the background.
* :func:`background_challenge_accuracy` -- accuracy per background-challenge variant
  (``original``, ``only_fg``, ``only_bg``, ``mixed_rand``, ``mixed_same``, ...) with Wilson
  95% intervals; :func:`background_gap` is Xiao et al.'s BG-gap,
  ``acc(mixed_same) - acc(mixed_rand)``.

Contrast energy (``energy=``): ``"gradient"`` (default) is the squared gradient magnitude
``|d x/d row|^2 + |d x/d col|^2`` summed over channels, with central differences inside the
image and one-sided differences at its border (:func:`torch.gradient`) -- edges and texture;
``"deviation"`` is ``|x - mean(x)|^2`` summed over channels (per-image channel means) --
also counts smooth coloured regions, the "low-frequency, coloured" features the paper
attributes to negative weights.

On the procedural set (flat, saturated objects with hard edges on mid-brightness textured
backgrounds, :mod:`signseg.data.procedural`) the two energies answer different questions:
the gradient energy of an object lies on its outline, while the background texture has
gradient energy everywhere; the deviation energy lies on the object's saturated fill. Report
both.

An image with no contrast (or no attribution) at all has an undefined share: ``NaN``.
"""

from __future__ import annotations

from typing import Callable, Literal, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy import stats
from ..progress import tqdm

from ..errors import InvalidInputError
from ._images import check_images, check_maps

__all__ = [
    "contrast_energy",
    "canonical_mask",
    "chance_share",
    "attribution_map",
    "object_share",
    "mass_share",
    "background_challenge_accuracy",
    "background_gap",
]

ModelFn = Callable[[torch.Tensor], torch.Tensor]


def contrast_energy(
    images: torch.Tensor, energy: Literal["gradient", "deviation"] = "gradient"
) -> torch.Tensor:
    """Local contrast energy map ``[n, H, W]`` of images ``[n, C, H, W]`` in ``[0, 1]``.

    See the module docstring for the two definitions.
    """
    images = check_images(images).double()
    if energy == "gradient":
        if min(images.shape[-2:]) < 2:
            raise InvalidInputError("the gradient energy needs images of at least 2 x 2 pixels")
        d_row, d_col = torch.gradient(images, dim=(-2, -1))
        return (d_row**2 + d_col**2).sum(dim=1)
    if energy == "deviation":
        return ((images - images.mean(dim=(-2, -1), keepdim=True)) ** 2).sum(dim=1)
    raise InvalidInputError(f"energy must be 'gradient' or 'deviation'; got {energy!r}")


def _as_masks(masks: torch.Tensor, n: int, size: tuple[int, int]) -> torch.Tensor:
    """Masks as float64 ``[n, H, W]``; accepts ``[H, W]``, ``[n, H, W]`` and ``[n, 1, H, W]``."""
    masks = torch.as_tensor(masks).double()
    if masks.dim() == 4 and masks.shape[1] == 1:
        masks = masks[:, 0]
    if masks.dim() == 2:
        masks = masks.expand(n, *masks.shape)
    if masks.dim() != 3 or masks.shape[0] != n or tuple(masks.shape[-2:]) != tuple(size):
        raise InvalidInputError(
            f"masks must be [H, W] (one reference mask), [n, H, W] or [n, 1, H, W] with "
            f"n = {n} and H, W = {tuple(size)} matching the images; got {tuple(masks.shape)}. "
            "Resize a reference mask with canonical_mask(masks, size=...)."
        )
    if not torch.isfinite(masks).all() or masks.min() < 0 or masks.max() > 1:
        raise InvalidInputError("mask values must lie in [0, 1] (1 = object, 0 = background)")
    return masks


def canonical_mask(masks: torch.Tensor, size: int | tuple[int, int] | None = None) -> torch.Tensor:
    """Class-average foreground mask: mean of ground-truth masks, optionally resized.

    Parameters
    ----------
    masks:
        ``[n, H, W]`` or ``[n, 1, H, W]`` masks of one class (bool or float in ``[0, 1]``).
    size:
        Output size (e.g. the visualizations' side); antialiased bilinear resizing.

    Returns
    -------
    torch.Tensor
        ``[H', W']`` float64 in ``[0, 1]``: the fraction of images with object at each pixel.
    """
    masks = torch.as_tensor(masks).double()
    if masks.dim() == 4 and masks.shape[1] == 1:
        masks = masks[:, 0]
    if masks.dim() != 3 or masks.shape[0] == 0:
        raise InvalidInputError(
            f"masks must be [n, H, W] or [n, 1, H, W]; got {tuple(masks.shape)}"
        )
    mean = masks.mean(dim=0)
    if size is not None:
        size = (size, size) if isinstance(size, int) else tuple(size)
        mean = F.interpolate(mean[None, None], size=size, mode="bilinear", antialias=True,
                             align_corners=False)[0, 0].clamp(0.0, 1.0)
    return mean


def chance_share(masks: torch.Tensor) -> np.ndarray:
    """Share expected for spatially uniform energy: each mask's mean (area fraction).

    ``masks``: ``[H, W]``, ``[n, H, W]`` or ``[n, 1, H, W]``; returns ``[n]`` (``[1]`` for one).
    """
    masks = torch.as_tensor(masks).double()
    if masks.dim() == 2:
        masks = masks[None]
    return masks.reshape(masks.shape[0], -1).mean(dim=1).numpy()


def _as_targets(targets: int | Sequence[int] | torch.Tensor, n: int) -> torch.Tensor:
    targets = torch.as_tensor(targets, dtype=torch.long)
    if targets.dim() == 0:
        targets = targets.expand(n)
    if targets.shape != (n,):
        raise InvalidInputError(
            f"targets must be one unit index or one per image ({n}); got shape "
            f"{tuple(targets.shape)}"
        )
    return targets


def attribution_map(
    model_fn: ModelFn,
    images: torch.Tensor,
    targets: int | Sequence[int] | torch.Tensor,
    baseline: float | torch.Tensor = 0.0,
) -> torch.Tensor:
    """``|(x - baseline) * d logit_target / d x|`` summed over channels: ``[n, H, W]``.

    Parameters
    ----------
    model_fn:
        Images in ``[0, 1]`` ``[n, C, H, W]`` -> logits ``[n, classes]`` (apply the model's
        preprocessing inside; e.g. a zoo model's ``logits`` with an ablated readout).
    images:
        Inputs in ``[0, 1]``.
    targets:
        The unit whose logit is attributed: one index for all images or one per image.
    baseline:
        Reference input; 0 is the classic input x gradient (black = no attribution),
        0.5 measures deviations from mid-grey. A tensor broadcastable to the images (e.g.
        ``[1, C, 1, 1]``, the image the model's normalisation maps to 0) gives one reference
        per channel.
    """
    images = check_images(images).detach().clone().requires_grad_(True)
    targets = _as_targets(targets, images.shape[0])
    logits = model_fn(images)
    if logits.dim() != 2 or logits.shape[0] != images.shape[0]:
        raise InvalidInputError(
            f"model_fn must return logits [n, classes]; got shape {tuple(logits.shape)}"
        )
    selected = logits.gather(1, targets.to(logits.device)[:, None]).sum()
    (gradient,) = torch.autograd.grad(selected, images)
    return ((images.detach() - baseline) * gradient).abs().sum(dim=1).double()


def object_share(
    images: torch.Tensor,
    masks: torch.Tensor,
    method: Literal["contrast", "attribution"] = "contrast",
    energy: Literal["gradient", "deviation"] = "gradient",
    model_fn: ModelFn | None = None,
    targets: int | Sequence[int] | torch.Tensor | None = None,
    baseline: float = 0.0,
) -> np.ndarray:
    """Share of each image's contrast energy or attribution that lies on the object mask.

    Parameters
    ----------
    images:
        ``[n, C, H, W]`` in ``[0, 1]``.
    masks:
        ``[H, W]`` reference mask (e.g. :func:`canonical_mask`) or per-image masks
        ``[n, H, W]`` / ``[n, 1, H, W]``; values in ``[0, 1]``, soft masks weight pixels.
    method:
        ``"contrast"`` (needs ``energy``) or ``"attribution"`` (needs ``model_fn`` and
        ``targets``).
    energy:
        Contrast energy for ``method="contrast"`` (module docstring).
    model_fn, targets, baseline:
        For ``method="attribution"``, see :func:`attribution_map`.

    Returns
    -------
    numpy.ndarray
        ``[n]`` shares in ``[0, 1]``; ``NaN`` for an image with zero total energy.
        Compare with :func:`chance_share` of the same masks.
    """
    images = check_images(images)
    if method == "contrast":
        weights = contrast_energy(images, energy=energy)
    elif method == "attribution":
        if model_fn is None or targets is None:
            raise InvalidInputError(
                "method='attribution' needs model_fn (images01 -> logits) and targets (the "
                "unit index, or one per image)"
            )
        weights = attribution_map(model_fn, images, targets, baseline=baseline)
    else:
        raise InvalidInputError(f"method must be 'contrast' or 'attribution'; got {method!r}")
    return mass_share(weights, masks)


def mass_share(weights: torch.Tensor, masks: torch.Tensor) -> np.ndarray:
    """Share of each non-negative map's total mass that lies on its mask.

    Parameters
    ----------
    weights:
        ``[n, H, W]`` non-negative maps (contrast energy, attribution, activation).
    masks:
        ``[H, W]``, ``[n, H, W]`` or ``[n, 1, H, W]`` with values in ``[0, 1]`` and the maps'
        ``H, W``; soft masks weight pixels.

    Returns
    -------
    numpy.ndarray
        ``[n]`` shares ``sum(w * m) / sum(w)`` in ``[0, 1]``; ``NaN`` for an all-zero map.
    """
    weights = check_maps(weights, name="weights")
    masks = _as_masks(masks, weights.shape[0], tuple(weights.shape[-2:]))
    total = weights.flatten(1).sum(dim=1)
    inside = (weights * masks).flatten(1).sum(dim=1)
    share = torch.where(total > 0, inside / total.clamp_min(1e-300), torch.nan)
    return share.cpu().numpy()


def wilson_interval(correct: int, n: int, confidence: float) -> tuple[float, float]:
    result = stats.binomtest(correct, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(result.low), float(result.high)


def background_challenge_accuracy(
    model_fn: ModelFn,
    datasets: Mapping[str, tuple[torch.Tensor, torch.Tensor | Sequence[int]]],
    label_map: Sequence[int] | torch.Tensor | None = None,
    batch_size: int = 64,
    confidence: float = 0.95,
    progress: bool = True,
) -> pd.DataFrame:
    """Top-1 accuracy of a classifier on each background-challenge variant.

    Parameters
    ----------
    model_fn:
        Images in ``[0, 1]`` -> logits ``[n, classes]`` (e.g. an ablated zoo model).
    datasets:
        Variant name (``original``, ``only_fg``, ``only_bg``, ``mixed_rand``,
        ``mixed_same``, ...) -> ``(images [n, C, H, W] in [0, 1], targets [n])``.
    label_map:
        Optional ``[classes]`` map from the model's output index to the dataset's label
        (-1: no label, always wrong), e.g. ImageNet -> the 9 IN-9 superclasses. Applied to
        the arg-max prediction.
    batch_size, confidence, progress:
        Images per forward pass; coverage of the Wilson interval; tqdm bar over variants.

    Returns
    -------
    pandas.DataFrame
        One row per variant: ``variant``, ``n``, ``correct``, ``accuracy``, ``ci_low``,
        ``ci_high`` (Wilson score interval of a binomial proportion).
    """
    if batch_size < 1:
        raise InvalidInputError(f"batch_size must be positive; got {batch_size}")
    mapping = None if label_map is None else torch.as_tensor(label_map, dtype=torch.long)
    rows = []
    for variant, (images, targets) in tqdm(datasets.items(), desc="background challenge",
                                           disable=not progress):
        images = check_images(images, f"images of variant {variant!r}")
        targets = _as_targets(targets, images.shape[0])
        predictions = []
        with torch.no_grad():
            for start in range(0, images.shape[0], batch_size):
                predictions.append(model_fn(images[start : start + batch_size]).argmax(dim=1).cpu())
        predicted = torch.cat(predictions)
        if mapping is not None:
            if int(predicted.max()) >= mapping.numel():
                raise InvalidInputError(
                    f"label_map has {mapping.numel()} entries but the model predicts class "
                    f"{int(predicted.max())}; give one label per model output"
                )
            predicted = mapping[predicted]
        correct = int((predicted == targets).sum())
        low, high = wilson_interval(correct, int(targets.numel()), confidence)
        rows.append({"variant": variant, "n": int(targets.numel()), "correct": correct,
                     "accuracy": correct / targets.numel(), "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows, columns=["variant", "n", "correct", "accuracy", "ci_low", "ci_high"])


def background_gap(table: pd.DataFrame) -> float:
    """Xiao et al.'s BG-gap: ``accuracy(mixed_same) - accuracy(mixed_rand)`` from the table."""
    accuracy = table.set_index("variant")["accuracy"]
    missing = [v for v in ("mixed_same", "mixed_rand") if v not in accuracy.index]
    if missing:
        raise InvalidInputError(
            f"the BG-gap needs the variants 'mixed_same' and 'mixed_rand'; missing {missing}"
        )
    return float(accuracy["mixed_same"] - accuracy["mixed_rand"])
