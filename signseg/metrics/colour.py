"""Colour coordinates of RGB images: ITU-R 601 luminance and HSV value and saturation.

Every place of the package that reduces RGB to luminance or measures brightness and
saturation uses these definitions (spectra, the surround colour of preferred images, the
hybrid cue-conflict images).
"""

from __future__ import annotations

import torch

from ..errors import InvalidInputError

__all__ = ["LUMINANCE", "luminance", "hsv_value_saturation"]

#: ITU-R 601 luminance weights ``(R, G, B)``; they sum to 1.
LUMINANCE = (0.299, 0.587, 0.114)


def _rgb(images: torch.Tensor) -> torch.Tensor:
    """``images`` after checking they are ``[n, 3, H, W]``; floats keep their dtype, other
    dtypes become float64."""
    images = torch.as_tensor(images)
    if images.dim() != 4 or images.shape[1] != 3:
        raise InvalidInputError(f"images must be RGB [n, 3, H, W]; got shape {tuple(images.shape)}.")
    return images if images.is_floating_point() else images.double()


def luminance(images: torch.Tensor) -> torch.Tensor:
    """Luminance ``0.299 R + 0.587 G + 0.114 B`` ``[n, H, W]`` of RGB images ``[n, 3, H, W]``
    (any range: the map is linear; float inputs keep their dtype, others give float64)."""
    images = _rgb(images)
    return (images * images.new_tensor(LUMINANCE).view(1, 3, 1, 1)).sum(dim=1)


def hsv_value_saturation(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """HSV value ``V = max(R, G, B)`` and saturation ``S = (max - min) / max`` (0 where
    ``max = 0``), each ``[n, H, W]``, of RGB images ``[n, 3, H, W]`` in ``[0, 1]`` (float
    inputs keep their dtype, others give float64)."""
    images = _rgb(images)
    value = images.amax(dim=1)
    spread = value - images.amin(dim=1)
    saturation = torch.where(value > 0, spread / value.clamp_min(1e-300), torch.zeros_like(value))
    return value, saturation
