"""Lucid/Lucent's decorrelated Fourier image parametrization, batched and seeded per image.

An image is a learnable half spectrum per decorrelated colour component (Lucent's
``optvis/param/spatial.py`` ``fft_image`` and ``optvis/param/color.py`` ``to_valid_rgb``;
Olah et al. 2017, "Feature Visualization", Distill):

1. the parameter ``spectrum`` holds, per image and colour component, the real and
   imaginary parts of the ``torch.fft.rfft2`` half spectrum: ``[n, 3, size, size // 2 + 1, 2]``,
   initialised with i.i.d. ``N(0, sd**2)`` entries (Lucent: ``sd = 0.01``);
2. each coefficient at frequency ``f`` (cycles per pixel) is scaled by
   ``1 / max(f, 1 / size) ** decay_power`` (decay 1);
3. ``irfft2(..., norm="ortho")`` gives a real image, divided by Lucent's "magic" constant
   :data:`LUCENT_MAGIC` (4);
4. with ``decorrelate``, colours are mixed by Lucid's ImageNet colour-correlation square
   root, normalised by its largest column norm
   (:func:`signseg.generators.prior.color_correlation_normalized`);
5. a sigmoid maps to ``[0, 1]``.

For the same spectrum tensor the images equal Lucent's ``param.image(size, batch=n)`` to
float32 rounding. Steps 2-4 are shared with the gradient-free Fourier prior
(:class:`signseg.generators.FourierPrior`, which replaces the magic 4 by a closed-form gain).

Seeding: image ``i`` is drawn from its own ``torch.Generator`` seeded with ``seeds[i]``
(:func:`image_seeds`: ``seed + i`` for an integer ``seed``), so an image does not depend on
how many others share its batch. ``FourierImage(1, size, seed=s)`` starts from the same
spectrum as Lucent's ``param.image(size)`` after ``torch.manual_seed(s)`` on the CPU.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from ..errors import InvalidInputError
from ..generators.base import seeded_generator
from ..generators.prior import color_correlation_normalized, fourier_logits, spectrum_scale
from ..validation import check_index, check_indices, check_scalar

__all__ = ["FourierImage", "LUCENT_MAGIC", "image_seeds", "check_image_size"]

#: Lucent divides the inverse FFT by this constant ("increasing this seems to reduce saturation").
LUCENT_MAGIC = 4.0


def check_image_size(size: int, name: str = "size") -> int:
    """``size`` as an ``int`` >= 2; raise :class:`InvalidInputError` naming ``name`` otherwise."""
    size = check_index(size, name)
    if size < 2:
        raise InvalidInputError(f"{name} must be an integer >= 2 (pixels per side), got {size}")
    return size


def image_seeds(seed: int | Sequence[int], n: int) -> tuple[int, ...]:
    """One non-negative seed per image: ``seed + i`` for an integer, else the sequence itself.

    Parameters
    ----------
    seed:
        An integer, or one integer per image.
    n:
        Number of images.

    Raises
    ------
    InvalidInputError
        ``seed`` is not an integer or a sequence of ``n`` integers, or a seed is negative.
    """
    try:
        first = check_index(seed, "seed")
    except InvalidInputError:
        seeds = check_indices(seed, "seed")
    else:
        seeds = tuple(first + i for i in range(n))
    if len(seeds) != n:
        raise InvalidInputError(
            f"seed holds {len(seeds)} seeds for {n} images; give one integer (image i gets "
            "seed + i) or exactly one seed per image")
    if min(seeds) < 0:
        raise InvalidInputError(f"seed must be >= 0, got {seeds}")
    return seeds


class FourierImage(nn.Module):
    """A batch of images in Lucent's decorrelated Fourier parametrization (module docstring).

    Parameters
    ----------
    n:
        Number of images.
    size:
        Side length in pixels.
    seed:
        Integer (image ``i`` is drawn with seed ``seed + i``) or one seed per image.
    sd:
        Standard deviation of the initial spectrum entries (Lucent's 0.01).
    decorrelate:
        Mix colours with the ImageNet colour-correlation matrix (Lucent's default);
        ``False``: the three components are RGB directly.
    decay_power:
        Exponent of the ``1/f`` amplitude scale (Lucent's 1).

    Attributes
    ----------
    spectrum:
        The learnable ``[n, 3, size, size // 2 + 1, 2]`` parameter (float32, CPU until moved).
    """

    def __init__(self, n: int, size: int, seed: int | Sequence[int] = 0, sd: float = 0.01,
                 decorrelate: bool = True, decay_power: float = 1.0) -> None:
        super().__init__()
        n = check_index(n, "n")
        if n < 1:
            raise InvalidInputError(f"n must be >= 1 (number of images), got {n}")
        self.size = check_image_size(size)
        sd = check_scalar(sd, "sd")
        if not math.isfinite(sd) or sd <= 0:
            raise InvalidInputError(f"sd must be a finite number > 0, got {sd}")
        decay_power = check_scalar(decay_power, "decay_power")
        if not math.isfinite(decay_power) or decay_power < 0:
            raise InvalidInputError(f"decay_power must be finite and >= 0, got {decay_power}")
        self.seeds = image_seeds(seed, n)
        self.decorrelate = bool(decorrelate)
        shape = (3, self.size, self.size // 2 + 1, 2)
        self.spectrum = nn.Parameter(torch.stack(
            [torch.randn(shape, generator=seeded_generator(s)) * sd for s in self.seeds]))
        color = color_correlation_normalized() if self.decorrelate else torch.eye(3)
        self.register_buffer("color", color.float(), persistent=False)
        self.register_buffer(
            "scale", spectrum_scale(self.size, decay_power).float() / LUCENT_MAGIC,
            persistent=False)

    def logits(self) -> torch.Tensor:
        """Pre-sigmoid RGB images ``[n, 3, size, size]`` (``forward`` is their sigmoid)."""
        return fourier_logits(self.spectrum, self.scale, self.color, self.size)

    def forward(self) -> torch.Tensor:
        """The images ``[n, 3, size, size]`` in ``[0, 1]``, differentiable in ``spectrum``."""
        return torch.sigmoid(self.logits())
