"""Validation of image sets (float tensors ``[n, C, H, W]`` with values in ``[0, 1]``) and of
map sets (``[n, H, W]``: energies, activations, attributions)."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import InvalidInputError

__all__ = ["check_images", "check_maps"]


def check_images(images: torch.Tensor, name: str = "images") -> torch.Tensor:
    """Validate an image set: a float tensor ``[n, C, H, W]`` with values in ``[0, 1]``.

    Returns the images as float32 (what the networks take) on their device; raises
    :class:`~signseg.errors.InvalidInputError` otherwise.
    """
    if not isinstance(images, torch.Tensor):
        images = torch.as_tensor(np.asarray(images))
    if images.dim() != 4 or images.shape[0] == 0:
        raise InvalidInputError(
            f"{name} must be a non-empty image batch [n, C, H, W]; got shape {tuple(images.shape)}"
        )
    images = images.float()
    if not torch.isfinite(images).all():
        raise InvalidInputError(f"{name} contain NaN or infinite values; expected [0, 1]")
    low, high = float(images.min()), float(images.max())
    if low < 0.0 or high > 1.0:
        raise InvalidInputError(
            f"{name} must have values in [0, 1]; got the range [{low:.4g}, {high:.4g}]. "
            "Convert generator output with (x + 1) / 2 or clamp it first."
        )
    return images


def check_maps(
    maps: torch.Tensor | np.ndarray, name: str = "maps", non_negative: bool = True
) -> torch.Tensor:
    """Validate a map set: finite ``[n, H, W]`` (non-negative unless ``non_negative=False``).

    Returns the maps as float64 on the CPU, detached; raises
    :class:`~signseg.errors.InvalidInputError` otherwise.
    """
    maps = torch.as_tensor(maps).detach().double().cpu()
    if maps.dim() != 3 or maps.shape[0] == 0 or maps[0].numel() == 0:
        raise InvalidInputError(
            f"{name} must be a non-empty batch of maps [n, H, W]; got shape {tuple(maps.shape)}"
        )
    if not torch.isfinite(maps).all():
        raise InvalidInputError(f"{name} contain NaN or infinite values; expected finite maps")
    if non_negative and float(maps.min()) < 0.0:
        raise InvalidInputError(
            f"{name} must be non-negative (an energy or activation mass per pixel); got a "
            f"minimum of {float(maps.min()):.4g}. Rectify them first (maps.clamp(min=0) for "
            "activations, maps.abs() or maps ** 2 for signed attributions)."
        )
    return maps
