"""Argument checks shared across modules: integers that must not be truncated, scalars that
must not be sequences, and image tensors in ``[0, 1]``.

Python and torch convert silently where a user most likely made a mistake: ``int(0.7)`` is 0,
``torch.as_tensor([0.7], dtype=torch.long)`` is ``[0]``, ``True`` is the integer 1, and a
``uint8`` image of 0-255 values passes where floats in ``[0, 1]`` are meant. These helpers
raise :class:`~signseg.errors.InvalidInputError` (or convert, where the meaning is certain)
instead.
"""

from __future__ import annotations

import numbers
from typing import Any, Iterable

import numpy as np
import torch

from .errors import InvalidInputError

__all__ = ["check_index", "check_indices", "check_scalar", "as_unit_images"]


def _is_integer(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, numbers.Integral):
        return True
    return isinstance(value, (torch.Tensor, np.ndarray)) and value.ndim == 0 and not (
        value.dtype in (torch.bool, np.bool_)) and not (
        value.is_floating_point() if isinstance(value, torch.Tensor)
        else np.issubdtype(value.dtype, np.floating))


def check_index(value: Any, name: str) -> int:
    """``value`` as an ``int``; raise unless it is an integer (``bool`` and ``0.7`` are not)."""
    if not _is_integer(value):
        raise InvalidInputError(
            f"{name} must be an integer, got {value!r} ({type(value).__name__}); integers are "
            "never rounded or truncated here"
        )
    return int(value)


def check_indices(values: Any, name: str) -> tuple[int, ...]:
    """A non-empty sequence of integers as a tuple; a single integer becomes one element."""
    if _is_integer(values):
        return (int(values),)
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise InvalidInputError(
            f"{name} must be an integer or a sequence of integers, got {values!r} "
            f"({type(values).__name__})"
        )
    items = list(values.tolist() if isinstance(values, (torch.Tensor, np.ndarray)) else values)
    if not items:
        raise InvalidInputError(f"{name} is empty; give at least one integer")
    bad = [item for item in items if not _is_integer(item)]
    if bad:
        raise InvalidInputError(
            f"{name} must hold integers only, got {bad} in {items}; integers are never "
            "rounded or truncated here"
        )
    return tuple(int(item) for item in items)


def check_scalar(value: Any, name: str) -> float:
    """``value`` as a ``float``; raise if it is a sequence, a string or a bool."""
    if isinstance(value, (torch.Tensor, np.ndarray)) and value.ndim == 0:
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise InvalidInputError(
            f"{name} must be a single number, got {value!r} ({type(value).__name__}); "
            "pass one value per call"
        )
    return float(value)


def as_unit_images(images: torch.Tensor, name: str = "images01") -> torch.Tensor:
    """Images in ``[0, 1]``: floats pass unchanged, ``uint8`` (0-255) are divided by 255.

    Raises
    ------
    InvalidInputError
        ``images`` is not a tensor, or has another integer or boolean dtype (its scale is
        unknown).
    """
    if not isinstance(images, torch.Tensor):
        raise InvalidInputError(
            f"{name} must be a torch.Tensor [B, C, H, W], got {type(images).__name__}")
    if images.is_floating_point():
        return images
    if images.dtype == torch.uint8:
        return images.float() / 255.0
    raise InvalidInputError(
        f"{name} has dtype {images.dtype}; expected floats in [0, 1] or uint8 in [0, 255] "
        "(e.g. ImageDataset.images). Convert it with images.float() / <max value> first."
    )
