"""Colour of an image's surround: how bright, how saturated, how white (paper Fig. 4).

The paper notes that after negative ablation the robust ResNet-50's preferred images often
have a *white background* (Fig. 4), shown but not measured. Here it is measured per image:
the pixels *outside* the image's most relevant region are the surround, and

* ``brightness`` -- mean HSV value ``V = max(R, G, B)``;
* ``saturation`` -- mean HSV saturation ``S = (max - min) / max`` (0 where ``max = 0``);
* ``luminance`` -- mean ITU-R 601 luminance ``0.299 R + 0.587 G + 0.114 B``
  (definitions in :mod:`signseg.metrics.colour`);
* ``white_fraction`` -- share of surround pixels that are white: ``V >= white_value`` and
  ``S <= white_saturation`` (defaults :data:`WHITE_VALUE` 0.8 and :data:`WHITE_SATURATION`
  0.2),

over the surround pixels (all of them when the region is empty). The relevant region
(**choice**) is one of:

* :func:`top_fraction_region` of a relevance map -- the ``fraction`` of pixels with the
  largest values, e.g. of ``|input x gradient|`` of the visualized unit's logit through the
  (ablated) model (:func:`signseg.analysis.background_colour_by_condition`), smoothed first
  (:func:`smooth_maps`) so that the region is a blob rather than scattered pixels;
* :func:`central_region` -- model-free: a centred rectangle covering ``fraction`` of the
  image, for images whose object is centred.
"""

from __future__ import annotations

import math

import pandas as pd
import torch
import torch.nn.functional as F

from ..errors import InvalidInputError
from ._images import check_images
from .colour import hsv_value_saturation, luminance

__all__ = [
    "WHITE_VALUE",
    "WHITE_SATURATION",
    "smooth_maps",
    "top_fraction_region",
    "central_region",
    "surround_colour",
]

WHITE_VALUE = 0.8
"""Default smallest HSV value of a white pixel."""
WHITE_SATURATION = 0.2
"""Default largest HSV saturation of a white pixel."""

def _check_fraction(fraction: float) -> float:
    """``fraction`` as a float strictly between 0 and 1, else :class:`InvalidInputError`."""
    if not 0.0 < float(fraction) < 1.0:
        raise InvalidInputError(
            f"fraction must lie strictly between 0 and 1 (a share of the pixels), got {fraction!r}.")
    return float(fraction)


def smooth_maps(maps: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian-smoothed maps ``[n, H, W]`` (standard deviation ``sigma`` pixels, reflected
    borders, kernel radius ``ceil(3 sigma)`` clipped to the image); ``sigma = 0`` returns them."""
    maps = torch.as_tensor(maps).double()
    if maps.dim() != 3:
        raise InvalidInputError(f"maps must be [n, H, W]; got shape {tuple(maps.shape)}.")
    if not float(sigma) >= 0.0:
        raise InvalidInputError(f"sigma must be >= 0 pixels, got {sigma!r}.")
    if sigma == 0:
        return maps
    radius = min(math.ceil(3 * sigma), min(maps.shape[-2:]) - 1)
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum()
    x = F.pad(maps[:, None], (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, kernel.view(1, 1, 1, -1))
    x = F.conv2d(x, kernel.view(1, 1, -1, 1))
    return x[:, 0]


def top_fraction_region(maps: torch.Tensor, fraction: float) -> torch.Tensor:
    """``bool`` ``[n, H, W]``: the ``round(fraction * H * W)`` (at least 1) pixels of each map
    with the largest values; ties go to the earlier pixel in row-major order."""
    fraction = _check_fraction(fraction)
    maps = torch.as_tensor(maps).double()
    if maps.dim() != 3:
        raise InvalidInputError(f"maps must be [n, H, W]; got shape {tuple(maps.shape)}.")
    if not torch.isfinite(maps).all():
        raise InvalidInputError("maps contain NaN or infinite values; a relevance map must be finite.")
    n, height, width = maps.shape
    count = max(1, round(fraction * height * width))
    order = torch.sort(maps.reshape(n, -1), dim=1, descending=True, stable=True).indices[:, :count]
    region = torch.zeros(n, height * width, dtype=torch.bool)
    region.scatter_(1, order, True)
    return region.reshape(n, height, width)


def central_region(height: int, width: int, fraction: float) -> torch.Tensor:
    """``bool`` ``[H, W]``: the centred rectangle with sides ``round(sqrt(fraction) * side)``
    (at least 1 pixel), placed ``(side - length) // 2`` from the top and left."""
    fraction = _check_fraction(fraction)
    region = torch.zeros(height, width, dtype=torch.bool)
    rows = max(1, round(math.sqrt(fraction) * height))
    cols = max(1, round(math.sqrt(fraction) * width))
    top, left = (height - rows) // 2, (width - cols) // 2
    region[top : top + rows, left : left + cols] = True
    return region


def surround_colour(
    images: torch.Tensor,
    regions: torch.Tensor,
    white_value: float = WHITE_VALUE,
    white_saturation: float = WHITE_SATURATION,
) -> pd.DataFrame:
    """Brightness, saturation, luminance and white share of each image outside its region.

    Parameters
    ----------
    images:
        RGB ``[n, 3, H, W]`` in ``[0, 1]``.
    regions:
        ``bool`` relevant regions ``[n, H, W]`` or one ``[H, W]`` for all images; the
        surround is the rest (every pixel when the region covers all of them is an error).
    white_value, white_saturation:
        Thresholds of a white pixel (module docstring).

    Returns
    -------
    pandas.DataFrame
        One row per image: ``brightness``, ``saturation``, ``luminance``, ``white_fraction``.
    """
    images = check_images(images).double()
    value, saturation = hsv_value_saturation(images)
    n, height, width = value.shape
    regions = torch.as_tensor(regions, dtype=torch.bool)
    if regions.dim() == 2:
        regions = regions.expand(n, height, width)
    if tuple(regions.shape) != (n, height, width):
        raise InvalidInputError(
            f"regions must be [H, W] or [n, H, W] = {[n, height, width]}; got {list(regions.shape)}.")
    surround = (~regions).double()
    area = surround.flatten(1).sum(dim=1)
    if (area == 0).any():
        raise InvalidInputError("a region covers the whole image, so it has no surround; use a smaller fraction.")
    lum = luminance(images)
    white = ((value >= white_value) & (saturation <= white_saturation)).double()

    def mean(x: torch.Tensor) -> torch.Tensor:
        return (x * surround).flatten(1).sum(dim=1) / area

    return pd.DataFrame({"brightness": mean(value).numpy(), "saturation": mean(saturation).numpy(),
                         "luminance": mean(lum).numpy(), "white_fraction": mean(white).numpy()})
