"""Validation of image sets: float tensors ``[n, C, H, W]`` with values in ``[0, 1]``."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import InvalidInputError

__all__ = ["check_images"]


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
