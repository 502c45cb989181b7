"""Where a channel responds in natural images: share inside object boxes, top-activating patches.

The second test of the paper's claim that positive Dale-like channels carry localized object
parts and negative ones background (Sec. 4.5, Fig. 19) uses real images with object boxes
(Tiny ImageNet's ``val.masks``) instead of feature visualizations:

* :func:`box_share` -- the share of one channel's activation mass that falls inside the
  object box, per image. The activation map ``[h, w]`` is first resized to the mask's
  ``[H, W]`` by bilinear interpolation (``align_corners=False``: map cell ``(i, j)`` is
  centred on image pixel ``((i + 0.5) H / h - 0.5, (j + 0.5) W / w - 0.5)``, the usual
  approximation of a receptive-field centre; antialiased when shrinking), then
  :func:`~signseg.metrics.segregation.mass_share` gives ``sum(a * m) / sum(a)``. A channel
  that ignores the box layout scores the box's area fraction,
  :func:`~signseg.metrics.segregation.chance_share`; :func:`box_share_table` reports both
  and their difference (``excess``). An all-zero map (a silent channel) has no share:
  ``NaN``, to be dropped deliberately before averaging.
* :func:`top_activating` -- the ``k`` images on which one channel's maximum activation is
  largest, with the position of that maximum; :func:`crop_patches` cuts the image patch
  centred on it (the classic "top-k dataset examples" of a channel).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ..errors import InvalidInputError
from ._images import check_images, check_maps
from .segregation import chance_share, mass_share

__all__ = ["resize_maps", "box_share", "box_share_table", "top_activating", "crop_patches"]


def resize_maps(maps: torch.Tensor | np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """Bilinearly resized maps ``[n, H, W]`` (``align_corners=False``, antialiased when
    shrinking; non-negative maps stay non-negative).

    Parameters
    ----------
    maps:
        Finite, non-negative ``[n, h, w]`` maps.
    size:
        Output ``(H, W)``.
    """
    maps = check_maps(maps)
    size = (int(size[0]), int(size[1]))
    if tuple(maps.shape[-2:]) == size:
        return maps
    resized = F.interpolate(maps[:, None], size=size, mode="bilinear", align_corners=False,
                            antialias=True)[:, 0]
    return resized.clamp_min(0.0)


def _mask_size(masks: torch.Tensor | np.ndarray) -> tuple[int, int]:
    """``(H, W)`` of masks ``[H, W]``, ``[n, H, W]`` or ``[n, 1, H, W]``."""
    shape = tuple(torch.as_tensor(masks).shape)
    if len(shape) not in (2, 3, 4):
        raise InvalidInputError(
            f"masks must be [H, W], [n, H, W] or [n, 1, H, W] object boxes; got shape {shape}"
        )
    return shape[-2], shape[-1]


def box_share(maps: torch.Tensor | np.ndarray, masks: torch.Tensor | np.ndarray) -> np.ndarray:
    """Share of one channel's activation mass inside each image's object box.

    Parameters
    ----------
    maps:
        ``[n, h, w]`` non-negative activations of one channel (e.g. after its ReLU), one map
        per image.
    masks:
        ``[n, H, W]`` (or ``[n, 1, H, W]``) boolean boxes, or soft masks in ``[0, 1]``, at
        image resolution; one ``[H, W]`` mask for all images is accepted too.

    Returns
    -------
    numpy.ndarray
        ``[n]`` shares in ``[0, 1]`` after resizing the maps to the masks (module
        docstring); ``NaN`` where a map is all zero.
    """
    return mass_share(resize_maps(maps, _mask_size(masks)), torch.as_tensor(masks))


def box_share_table(
    maps: torch.Tensor | np.ndarray, masks: torch.Tensor | np.ndarray
) -> pd.DataFrame:
    """:func:`box_share` beside its chance level, per image.

    Parameters
    ----------
    maps, masks:
        As for :func:`box_share`; ``masks`` one per image ``[n, H, W]``.

    Returns
    -------
    pandas.DataFrame
        One row per image: ``image`` (index), ``share``, ``chance`` (box area fraction) and
        ``excess = share - chance`` (``NaN`` for an all-zero map).
    """
    share = box_share(maps, masks)
    chance = chance_share(masks)
    if chance.size != share.size:
        raise InvalidInputError(
            f"box_share_table needs one mask per map; got {chance.size} masks for {share.size} maps"
        )
    return pd.DataFrame({"image": np.arange(share.size), "share": share, "chance": chance,
                         "excess": share - chance})


def top_activating(
    maps: torch.Tensor | np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The ``k`` images with the largest maximum activation of one channel.

    Parameters
    ----------
    maps:
        ``[n_images, h, w]`` finite activations of one channel (any sign).
    k:
        Number of images, ``1 <= k <= n_images``.

    Returns
    -------
    (image_index, y, x, value)
        ``[k]`` arrays, largest maximum first (ties: lower image index first): the image,
        the row and column of its maximum in map coordinates (the first in row-major
        order when tied) and the maximum itself.
    """
    maps = check_maps(maps, non_negative=False)
    n, _, width = maps.shape
    if not 1 <= int(k) <= n:
        raise InvalidInputError(f"k must lie between 1 and the number of maps ({n}); got {k!r}")
    peak, position = maps.flatten(1).max(dim=1)
    order = torch.sort(peak, descending=True, stable=True).indices[: int(k)]
    position = position[order]
    return (order.numpy(), (position // width).numpy(), (position % width).numpy(),
            peak[order].numpy())


def _patch_starts(cells: np.ndarray, map_side: int, image_side: int, patch: int) -> np.ndarray:
    """First row (or column) of each patch: centred on the pixel holding the map cell's centre
    ``floor((cell + 0.5) image_side / map_side)``, clamped into the image."""
    centre = np.floor((cells + 0.5) * image_side / map_side).astype(np.int64)
    return np.clip(centre - patch // 2, 0, image_side - patch)


def crop_patches(
    images: torch.Tensor,
    index: Sequence[int] | np.ndarray,
    y: Sequence[int] | np.ndarray,
    x: Sequence[int] | np.ndarray,
    map_size: tuple[int, int],
    patch: int,
) -> torch.Tensor:
    """Image patches centred on activation-map positions (e.g. from :func:`top_activating`).

    Parameters
    ----------
    images:
        ``[n, C, H, W]`` in ``[0, 1]``: the images the maps were computed on.
    index, y, x:
        ``[k]`` image indices and map rows and columns.
    map_size:
        ``(h, w)`` of the activation maps.
    patch:
        Side of the square patch in pixels, ``1 <= patch <= min(H, W)``.

    Returns
    -------
    torch.Tensor
        ``[k, C, patch, patch]``: patch ``i`` has the pixel ``floor((y_i + 0.5) H / h)``,
        ``floor((x_i + 0.5) W / w)`` (the map cell's centre) at row and column
        ``patch // 2``, shifted to stay inside the image near the border.
    """
    images = check_images(images)
    n, _, height, width = images.shape
    index, y, x = (np.asarray(v, dtype=np.int64).reshape(-1) for v in (index, y, x))
    map_h, map_w = (int(s) for s in map_size)
    if not (index.size == y.size == x.size):
        raise InvalidInputError(
            f"index, y and x must have one entry per patch; got {index.size}, {y.size}, {x.size}"
        )
    if not 1 <= int(patch) <= min(height, width):
        raise InvalidInputError(
            f"patch must lie between 1 and the image side {min(height, width)}; got {patch!r}"
        )
    if map_h < 1 or map_w < 1 or ((y < 0) | (y >= map_h) | (x < 0) | (x >= map_w)).any():
        raise InvalidInputError(
            f"y and x must be positions inside the maps of map_size {(map_h, map_w)}"
        )
    if ((index < 0) | (index >= n)).any():
        raise InvalidInputError(f"index must name images 0 .. {n - 1}; got {index.tolist()}")
    tops = _patch_starts(y, map_h, height, int(patch))
    lefts = _patch_starts(x, map_w, width, int(patch))
    patches = [images[i, :, t : t + patch, l : l + patch] for i, t, l in zip(index, tops, lefts)]
    if not patches:
        return images.new_zeros((0, images.shape[1], patch, patch))
    return torch.stack(patches)
