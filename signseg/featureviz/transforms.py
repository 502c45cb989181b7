"""Lucent's ``standard_transforms`` in plain torch, with every random draw from a generator.

Lucent (``optvis/transform.py``) makes feature visualizations robust by rendering each
optimisation step through random jitter, scaling and rotation::

    pad(12, mode="constant", constant_value=0.5), jitter(8),
    random_scale([1 + (i - 5) / 50 for i in range(11)]),
    random_rotate(list(range(-10, 11)) + 5 * [0]), jitter(4)

(the rotation list holds 0 six times, so 0 degrees is drawn with probability 6/26).
:func:`standard_transforms` returns the same stack as :class:`Transform` objects. Each
transform ``draw``\\ s its parameters for one image from a ``torch.Generator`` and
``apply``\\ s a batch of parameters with ``affine_grid``/``grid_sample`` (bilinear, zeros
outside), following the pixel conventions of kornia 0.4.1 as Lucent calls it: a pixel-space
matrix is normalised by mapping pixels ``0 .. W-1`` to ``[-1, 1]`` and then sampled with
``align_corners=False``. For the same draws, :class:`Jitter` and :class:`RandomRotate` give
Lucent's (kornia's) images to float32 rounding, quirks included: a jitter of ``d`` pixels
moves the image by ``d * W / (W - 1)`` pixels, so it is slightly blurred.

Differences from Lucent, all deliberate:

* **One draw per image, not per batch.** Lucent draws one shift, scale and angle per step
  for the whole batch (numpy's global RNG); here image ``i`` draws from its own generator,
  so an image's transforms do not depend on the rest of the batch (what makes batched
  renders equal to separate ones, :func:`signseg.featureviz.render`).
* **Scaling keeps the canvas size.** Lucent's ``random_scale`` resizes the canvas to
  ``ceil(s * W)`` (bilinear, ``align_corners=True``, then zero padding when ``s < 1``), so
  images of one step can have several sizes. :class:`RandomScale` zooms by exactly ``s``
  about the canvas centre within the same canvas (zeros outside). With the standard stack
  at 64 px (88 px after padding, 7 px of jitter at most) the part cut off at ``s = 1.1``
  (4.4 px per side) lies in the grey padding, so the image content the objective sees is
  the same up to Lucent's 0.3 % larger effective zoom (``(ceil(s W) - 1) / (W - 1)``);
  only the following rotation can then lose a corner sliver that Lucent's larger canvas
  would keep.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F

from ..errors import InvalidInputError

__all__ = [
    "Transform",
    "Pad",
    "Jitter",
    "RandomScale",
    "RandomRotate",
    "standard_transforms",
    "draw_params",
    "apply_transforms",
    "random_transforms",
    "warp",
]


def _pixel_to_normalized(height: int, width: int) -> torch.Tensor:
    """kornia's ``normal_transform_pixel``: pixel ``0 .. W-1`` to ``[-1, 1]`` (float64 3x3)."""
    return torch.tensor([[2.0 / (width - 1), 0.0, -1.0],
                         [0.0, 2.0 / (height - 1), -1.0],
                         [0.0, 0.0, 1.0]], dtype=torch.float64)


def warp(images: torch.Tensor, matrices: torch.Tensor) -> torch.Tensor:
    """Warp images by pixel-space affine maps, as kornia 0.4.1's ``warp_affine`` does.

    Parameters
    ----------
    images:
        ``[n, C, H, W]`` float images (``H, W >= 2``).
    matrices:
        ``[n, 2, 3]`` affine maps from source to destination pixel coordinates (``x`` is the
        column, ``y`` the row).

    Returns
    -------
    torch.Tensor
        ``[n, C, H, W]``: ``out(M p) = images(p)``, bilinear, zeros outside the source.
    """
    n, _, height, width = images.shape
    bottom = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64).expand(n, 1, 3)
    full = torch.cat([matrices.to(torch.float64).cpu(), bottom], dim=1)
    norm = _pixel_to_normalized(height, width)
    source_from_destination = torch.linalg.inv(norm @ full @ torch.linalg.inv(norm))
    theta = source_from_destination[:, :2, :].to(images.device, images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros",
                         align_corners=False)


def _centre(images: torch.Tensor) -> tuple[float, float]:
    height, width = images.shape[-2:]
    return (width - 1) / 2.0, (height - 1) / 2.0


class Transform(ABC):
    """One step of a transform stack: per-image random parameters, batched application."""

    #: How many numbers :meth:`draw` returns per image.
    n_params: int = 0

    @abstractmethod
    def draw(self, generator: torch.Generator) -> list[float]:
        """The ``n_params`` parameters of one image, drawn from ``generator``."""

    @abstractmethod
    def apply(self, images: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """Transform ``[n, C, H, W]`` images with ``[n, n_params]`` float64 parameters."""


def _choice(options: tuple[float, ...], generator: torch.Generator) -> float:
    return options[int(torch.randint(len(options), (1,), generator=generator))]


def _options(values: Sequence[float], name: str) -> tuple[float, ...]:
    options = tuple(float(v) for v in values)
    if not options or not all(math.isfinite(v) for v in options):
        raise InvalidInputError(f"{name} must be a non-empty sequence of finite numbers, "
                                f"got {values!r}")
    return options


@dataclass(frozen=True)
class Pad(Transform):
    """Pad every side by ``width`` pixels of the constant ``value`` (Lucent: 12, 0.5)."""

    width: int
    value: float = 0.5

    def __post_init__(self) -> None:
        if isinstance(self.width, bool) or not isinstance(self.width, int) or self.width < 0:
            raise InvalidInputError(f"Pad width must be an integer >= 0, got {self.width!r}")

    def draw(self, generator: torch.Generator) -> list[float]:
        """Nothing to draw."""
        return []

    def apply(self, images: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """``F.pad(images, [width] * 4, value=value)``."""
        return F.pad(images, [self.width] * 4, mode="constant", value=self.value)


@dataclass(frozen=True)
class Jitter(Transform):
    """Shift by ``(dx, dy)``, each uniform on ``0 .. d - 1`` pixels (Lucent's ``jitter(d)``)."""

    d: int
    n_params = 2

    def __post_init__(self) -> None:
        if isinstance(self.d, bool) or not isinstance(self.d, int) or self.d < 1:
            raise InvalidInputError(f"Jitter d must be an integer >= 1, got {self.d!r}")

    def draw(self, generator: torch.Generator) -> list[float]:
        """``[dx, dy]``."""
        return [float(v) for v in torch.randint(self.d, (2,), generator=generator)]

    def apply(self, images: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """Translate image ``i`` by ``params[i] = (dx, dy)`` (right and down)."""
        matrices = torch.eye(3, dtype=torch.float64)[:2].repeat(len(params), 1, 1)
        matrices[:, :, 2] = params.to(torch.float64)
        return warp(images, matrices)


@dataclass(frozen=True)
class RandomScale(Transform):
    """Zoom by a factor drawn uniformly from ``scales`` about the centre, same canvas size."""

    scales: tuple[float, ...]
    n_params = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "scales", _options(self.scales, "RandomScale scales"))
        if min(self.scales) <= 0:
            raise InvalidInputError(f"RandomScale scales must be > 0, got {self.scales}")

    def draw(self, generator: torch.Generator) -> list[float]:
        """``[s]``."""
        return [_choice(self.scales, generator)]

    def apply(self, images: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """Zoom image ``i`` by ``params[i, 0]`` about pixel ``((W - 1) / 2, (H - 1) / 2)``."""
        cx, cy = _centre(images)
        s = params[:, 0].to(torch.float64)
        zero = torch.zeros_like(s)
        matrices = torch.stack([torch.stack([s, zero, (1 - s) * cx], dim=-1),
                                torch.stack([zero, s, (1 - s) * cy], dim=-1)], dim=1)
        return warp(images, matrices)


@dataclass(frozen=True)
class RandomRotate(Transform):
    """Rotate by an angle in degrees drawn uniformly from ``angles`` (counter-clockwise on
    screen, about the centre; kornia's ``get_rotation_matrix2d``)."""

    angles: tuple[float, ...]
    n_params = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "angles", _options(self.angles, "RandomRotate angles"))

    def draw(self, generator: torch.Generator) -> list[float]:
        """``[degrees]``."""
        return [_choice(self.angles, generator)]

    def apply(self, images: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """Rotate image ``i`` by ``params[i, 0]`` degrees about the centre pixel."""
        cx, cy = _centre(images)
        radians = torch.deg2rad(params[:, 0].to(torch.float64))
        a, b = torch.cos(radians), torch.sin(radians)
        matrices = torch.stack([torch.stack([a, b, (1 - a) * cx - b * cy], dim=-1),
                                torch.stack([-b, a, b * cx + (1 - a) * cy], dim=-1)], dim=1)
        return warp(images, matrices)


def standard_transforms() -> tuple[Transform, ...]:
    """Lucent's ``transform.standard_transforms`` (module docstring)."""
    return (
        Pad(12, 0.5),
        Jitter(8),
        RandomScale(tuple(1 + (i - 5) / 50.0 for i in range(11))),
        RandomRotate(tuple(range(-10, 11)) + 5 * (0,)),
        Jitter(4),
    )


def draw_params(transforms: Sequence[Transform],
                generators: Sequence[torch.Generator]) -> list[torch.Tensor]:
    """One ``[n, n_params]`` float64 tensor per transform; image ``i`` draws from
    ``generators[i]`` (its transforms in order), independently of the other images."""
    per_image = [[t.draw(g) for t in transforms] for g in generators]
    return [torch.tensor([draws[k] for draws in per_image], dtype=torch.float64)
            .reshape(len(generators), t.n_params) for k, t in enumerate(transforms)]


def apply_transforms(images: torch.Tensor, transforms: Sequence[Transform],
                     params: Sequence[torch.Tensor]) -> torch.Tensor:
    """Apply ``transforms`` in order with the given parameters (:func:`draw_params`)."""
    for transform, p in zip(transforms, params, strict=True):
        images = transform.apply(images, p)
    return images


def random_transforms(images: torch.Tensor, transforms: Sequence[Transform],
                      generators: Sequence[torch.Generator]) -> torch.Tensor:
    """Draw parameters per image from ``generators`` and apply ``transforms``.

    Raises
    ------
    InvalidInputError
        ``generators`` does not hold one generator per image.
    """
    if len(generators) != len(images):
        raise InvalidInputError(f"generators holds {len(generators)} generators for "
                                f"{len(images)} images; give one per image")
    return apply_transforms(images, transforms, draw_params(transforms, generators))
