"""Xiao et al. (2020)'s background-challenge variants built from object boxes (offline Fig. 17).

Xiao, Engstrom, Ilyas & Madry (2020), "Noise or Signal: the role of image backgrounds in
object recognition", made ImageNet-9 variants that separate an image's object from its
background. The paper (Fig. 17) measures accuracy on them under sign ablation. Offline, the
project builds the same variants from any data set with one object box per image
(``meta["boxes"]``, inclusive ``(x0, y0, x1, y1)``), e.g. Tiny ImageNet-200's validation
split. The variant names are Xiao et al.'s:

=================  ==========================================================================
``original``       the image
``only_fg``        the box content on black (everything outside the box set to 0)
``no_fg``          the image with the box black (Xiao et al. black out the segmented object;
                   with boxes only it is the box)
``only_bg_b``      the same images as ``no_fg`` (Xiao et al.'s name for a black box; kept so
                   tables read like theirs)
``only_bg_t``      the box filled by tiling the image's own background (below)
``mixed_same``     the image's box content pasted at its own position onto the ``only_bg_t``
                   version of another image of the same class
``mixed_rand``     the same onto the ``only_bg_t`` version of an image of a random *other*
                   class (Xiao et al. draw any class; excluding the own class makes the
                   background uninformative or misleading, never helpful by chance)
=================  ==========================================================================

Choices:

* **Boxes are loose.** A box is a rectangle around the object, so the "foreground" of
  ``only_fg`` and of the ``mixed_*`` variants keeps the background inside the box, and the
  ``no_fg`` / ``only_bg_*`` variants hide some background with the object. Xiao et al.
  segment the object inside the box (GrabCut); the offline variants do not, so their
  foreground/background split is coarser than ImageNet-9's.
* **Tiling** (``only_bg_t``): of the four background rectangles that do not overlap the box
  (the full-width strips above and below it, the full-height strips left and right of it),
  the one with the largest area is tiled over the image from its own corner, and the box is
  filled with that tiling (ties: above, below, left, right). A strip above the box thus
  fills each box column with the pixels right above it, repeated downwards.
* **Which images**: an image whose largest background rectangle covers less than
  ``min_strip`` of the image (default :data:`MIN_STRIP`, 10 %) is left out of every variant:
  its background is too thin to tile (Tiny ImageNet: a box covering the whole image is
  common; 20 % of the validation images are left out at 10 %). All variants hold the same
  images in the data set's order.
* **Labels** are the class of the object (the box content), also where the box is black.
* **Masks** are the box where the object is shown (``original``, ``only_fg``, ``mixed_*``)
  and empty where it is not (``no_fg``, ``only_bg_b``, ``only_bg_t``), as in the procedural
  set's ``only_bg``.
* **Partners** of ``mixed_*`` come from :mod:`signseg.data.pairing`, seeded by ``seed``:
  ``mixed_same``'s are always drawn first, then ``mixed_rand``'s, so a variant's images do
  not depend on which other variants are built.

Every variant is an :class:`~signseg.data.dataset.ImageDataset` like :func:`signseg.data.load`
returns, with ``meta``: ``boxes`` (the object's box), ``source`` (the image's position in the
input data set), ``background_source`` (position of the image whose background is shown; -1
for ``only_fg``) and ``background_class`` (its class; -1 for ``only_fg``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..errors import InvalidInputError
from .dataset import ImageDataset
from .pairing import random_members, random_other_classes
from .tinyimagenet import boxes_to_masks

__all__ = [
    "VARIANTS",
    "MIN_STRIP",
    "background_strips",
    "usable_boxes",
    "tiled_backgrounds",
    "background_challenge",
]

VARIANTS = ("original", "only_fg", "no_fg", "only_bg_b", "only_bg_t", "mixed_same", "mixed_rand")
"""The background-challenge variants, in Xiao et al.'s naming."""

MIN_STRIP = 0.1
"""Default smallest area (fraction of the image) of an image's largest background rectangle."""

_SEED_SALT = 0xB0C5  # separates these random streams from other uses of the same seed


def _clipped_boxes(boxes: torch.Tensor | np.ndarray, height: int, width: int) -> torch.Tensor:
    """Boxes ``[n, 4]`` as int64 clipped to the image (inclusive coordinates)."""
    boxes = torch.as_tensor(np.asarray(boxes), dtype=torch.int64)
    if boxes.dim() != 2 or boxes.shape[1] != 4:
        raise InvalidInputError(
            f"boxes must be [n, 4] inclusive (x0, y0, x1, y1); got shape {tuple(boxes.shape)}.")
    x0, y0, x1, y1 = boxes.unbind(1)
    if ((x1 < x0) | (y1 < y0)).any():
        raise InvalidInputError("every box needs x1 >= x0 and y1 >= y0 (inclusive coordinates).")
    return torch.stack([x0.clamp(0, width - 1), y0.clamp(0, height - 1),
                        x1.clamp(0, width - 1), y1.clamp(0, height - 1)], dim=1)


def background_strips(boxes: torch.Tensor | np.ndarray, height: int, width: int) -> torch.Tensor:
    """The largest background rectangle beside each box (the tile of ``only_bg_t``).

    Parameters
    ----------
    boxes:
        ``[n, 4]`` inclusive ``(x0, y0, x1, y1)``; clipped to the image.
    height, width:
        Image size.

    Returns
    -------
    torch.Tensor
        ``int64`` ``[n, 4]`` half-open rectangles ``(row0, row1, col0, col1)``: the
        full-width strip above or below the box or the full-height strip left or right of
        it, whichever is largest (ties in that order). Its area is 0 when the box touches
        all four sides.
    """
    x0, y0, x1, y1 = _clipped_boxes(boxes, height, width).unbind(1)
    zeros, rows, cols = torch.zeros_like(x0), torch.full_like(x0, height), torch.full_like(x0, width)
    candidates = torch.stack([
        torch.stack([zeros, y0, zeros, cols], 1),  # above
        torch.stack([y1 + 1, rows, zeros, cols], 1),  # below
        torch.stack([zeros, rows, zeros, x0], 1),  # left
        torch.stack([zeros, rows, x1 + 1, cols], 1),  # right
    ], 1)  # [n, 4 candidates, 4]
    area = (candidates[..., 1] - candidates[..., 0]) * (candidates[..., 3] - candidates[..., 2])
    best = torch.argmax(area, dim=1)  # first maximum: above, below, left, right
    return candidates[torch.arange(len(best)), best]


def usable_boxes(
    boxes: torch.Tensor | np.ndarray, height: int, width: int, min_strip: float = MIN_STRIP
) -> torch.Tensor:
    """Whether each image has a background rectangle of at least ``min_strip`` of its area.

    Returns a ``bool`` ``[n]`` tensor; ``min_strip`` must lie in ``(0, 1]``.
    """
    if not 0.0 < float(min_strip) <= 1.0:
        raise InvalidInputError(
            f"min_strip must lie in (0, 1] (a fraction of the image area), got {min_strip!r}.")
    strips = background_strips(boxes, height, width)
    area = (strips[:, 1] - strips[:, 0]) * (strips[:, 3] - strips[:, 2])
    return area >= float(min_strip) * height * width


def tiled_backgrounds(images: torch.Tensor, boxes: torch.Tensor | np.ndarray) -> torch.Tensor:
    """``only_bg_t``: each image with its box filled by tiling its largest background strip.

    Parameters
    ----------
    images:
        ``[n, C, H, W]`` (any dtype).
    boxes:
        ``[n, 4]`` inclusive ``(x0, y0, x1, y1)``.

    Returns
    -------
    torch.Tensor
        Same shape and dtype; pixels outside the box are unchanged. A pixel ``(r, c)`` of the
        box takes the value of the strip ``(row0, row1, col0, col1)`` (see
        :func:`background_strips`) at ``(row0 + (r - row0) mod h, col0 + (c - col0) mod w)``.

    Raises
    ------
    InvalidInputError
        An image has no background beside its box (filter with :func:`usable_boxes`).
    """
    if images.dim() != 4 or len(boxes) != images.shape[0]:
        raise InvalidInputError(
            f"images must be [n, C, H, W] with one box per image; got {tuple(images.shape)} and "
            f"{len(boxes)} boxes.")
    n, _, height, width = images.shape
    strips = background_strips(boxes, height, width)
    size_rows, size_cols = strips[:, 1] - strips[:, 0], strips[:, 3] - strips[:, 2]
    empty = (size_rows <= 0) | (size_cols <= 0)
    if empty.any():
        raise InvalidInputError(
            f"{int(empty.sum())} image(s) have no background beside their box (positions "
            f"{empty.nonzero().flatten()[:10].tolist()}); leave them out first with usable_boxes().")
    rows = strips[:, :1] + torch.remainder(torch.arange(height) - strips[:, :1], size_rows[:, None])
    cols = strips[:, 2:3] + torch.remainder(torch.arange(width) - strips[:, 2:3], size_cols[:, None])
    index = torch.arange(n)[:, None, None]
    tiled = images[index, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)  # [n, C, H, W]
    inside = boxes_to_masks(_clipped_boxes(boxes, height, width), (height, width))[:, None]
    return torch.where(inside, tiled, images)


def background_challenge(
    dataset: ImageDataset,
    variants: Sequence[str] = VARIANTS,
    *,
    seed: int = 0,
    min_strip: float = MIN_STRIP,
) -> dict[str, ImageDataset]:
    """Build background-challenge variants of a data set with object boxes.

    Parameters
    ----------
    dataset:
        With ``meta["boxes"]`` (e.g. ``data.load("tiny-imagenet", "val", limit=...)``).
    variants:
        Names from :data:`VARIANTS` (default all), in the order the result lists them.
    seed:
        Seed of the ``mixed_*`` partners.
    min_strip:
        Images whose largest background rectangle covers less than this fraction of the image
        are left out (module docstring).

    Returns
    -------
    dict
        Variant name -> :class:`~signseg.data.dataset.ImageDataset` (same images, targets and
        classes in every variant; masks and meta described in the module docstring). Pass it
        to :func:`signseg.analysis.accuracy_under_ablation` as is.

    Raises
    ------
    InvalidInputError
        Unknown variant, no ``meta["boxes"]``, no usable image, or (``mixed_rand``) fewer
        than two classes among the usable images.
    """
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or not variants:
        raise InvalidInputError(f"variants must be names from {list(VARIANTS)}; got {list(variants)!r}.")
    if "boxes" not in dataset.meta:
        raise InvalidInputError(
            f"{dataset.name} {dataset.split} has no meta['boxes']; the background challenge needs one "
            "object box per image (e.g. data.load('tiny-imagenet', 'val')).")
    height, width = dataset.images.shape[-2:]
    keep = usable_boxes(dataset.meta["boxes"], height, width, min_strip).nonzero().flatten()
    if keep.numel() == 0:
        raise InvalidInputError(
            f"no image of {dataset.name} {dataset.split} has a background rectangle of at least "
            f"{min_strip:.0%} of the image beside its box; lower min_strip.")
    base = dataset.subset(keep)
    boxes = _clipped_boxes(base.meta["boxes"], height, width)
    labels = base.targets.numpy()
    rng = np.random.default_rng([int(seed), _SEED_SALT])
    partners = {"mixed_same": random_members(rng, labels, labels)}
    if "mixed_rand" in variants:
        partners["mixed_rand"] = random_members(rng, labels, random_other_classes(rng, labels))
    box_masks = boxes_to_masks(boxes, (height, width))
    tiled = tiled_backgrounds(base.images, boxes) if {"only_bg_t", "mixed_same", "mixed_rand"} & set(variants) else None
    own = torch.arange(len(base))
    out = {}
    for variant in variants:
        source = own
        shown = box_masks
        if variant == "original":
            images = base.images
        elif variant == "only_fg":
            images = torch.where(box_masks[:, None], base.images, torch.zeros_like(base.images))
            source = torch.full_like(own, -1)
        elif variant in ("no_fg", "only_bg_b"):
            images = torch.where(box_masks[:, None], torch.zeros_like(base.images), base.images)
            shown = torch.zeros_like(box_masks)
        elif variant == "only_bg_t":
            images, shown = tiled, torch.zeros_like(box_masks)
        else:  # mixed_same, mixed_rand
            source = torch.from_numpy(partners[variant])
            images = torch.where(box_masks[:, None], base.images, tiled[source])
        out[variant] = _variant(base, keep, images, shown, boxes, source)
    return out


def _variant(base: ImageDataset, keep: torch.Tensor, images: torch.Tensor, masks: torch.Tensor,
             boxes: torch.Tensor, source: torch.Tensor) -> ImageDataset:
    """One variant as an ImageDataset; ``source`` indexes ``base`` (-1: no background)."""
    shown = source >= 0
    background_source = torch.where(shown, keep[source.clamp_min(0)], torch.full_like(source, -1))
    background_class = torch.where(shown, base.targets[source.clamp_min(0)], torch.full_like(source, -1))
    meta = {**base.meta, "boxes": boxes, "source": keep.clone(),
            "background_source": background_source, "background_class": background_class}
    return ImageDataset(base.name, base.split, images.contiguous(), base.targets, base.classes,
                        masks, meta, base.class_ids)
