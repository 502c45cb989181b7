"""Offline image priors: latent codes -> images with no learned weights and no download.

They stand in for the paper's GANs in the ``ci`` and ``quick`` profiles, whose
classifiers see 28 or 32 px images.

``"fourier"`` -- the decorrelated Fourier parametrization of Lucid/Lucent
(``optvis/param/spatial.py`` ``fft_image`` and ``optvis/param/color.py``; Olah et al.
2017, "Feature Visualization", Distill):

1. the code holds, for each of 3 decorrelated colour components, the real and imaginary
   parts of the half spectrum ``torch.fft.rfft2`` uses: ``codes.view(n, 3, size,
   size // 2 + 1, 2)``, so ``code_dim = 3 * size * (size // 2 + 1) * 2`` (3264 at 32 px,
   2520 at 28 px);
2. each coefficient at frequency ``f`` (cycles per pixel) is scaled by
   ``1 / max(f, 1 / size) ** decay_power`` (Lucid's 1/f amplitude spectrum);
3. ``torch.fft.irfft2(..., s=(size, size), norm="ortho")`` gives a real image;
4. colours are mixed with Lucid's ImageNet colour-correlation square root
   (:data:`COLOR_CORRELATION_SVD_SQRT`, columns scaled so the largest has unit norm);
5. a sigmoid maps the result to ``[0, 1]``.

Lucid divides step 3's output by a "magic" 4; here a gain computed in closed form
(:func:`fourier_gain`) replaces it, so that codes with i.i.d. standard normal entries give
pre-sigmoid RGB values with variance exactly 1 at every pixel (averaged over the three
channels), for every ``size`` and ``decay_power``. The layout is Lucid's and is not
minimal: the image depends only on a ``3 * size**2``-dimensional subspace of the codes
(the imaginary parts of the self-conjugate frequencies are ignored, and the two halves of
the Hermitian pairs in the ``kx = 0`` and Nyquist columns add up).

``"pixel"`` -- pixels through a sigmoid: ``sigmoid(codes.view(n, 3, size, size))``,
``code_dim = 3 * size**2``.

Step size and initial codes (a choice of this package, not from the paper): both priors
have unit pre-sigmoid variance per unit code variance, so ``default_sigma = 1.0`` makes the
first CMA-ES generation around the grey origin full-contrast but unsaturated images
(pixel values ``sigmoid(N(0, 1))``, 95% within ``[0.12, 0.88]``); the initial codes are
small-norm vectors near the origin like the paper's, ``0.1 * N(0, I)``: faint structure on
a 0.5 grey background.
"""

from __future__ import annotations

import math
from abc import abstractmethod

import numpy as np
import torch

from ..errors import InvalidInputError
from .base import Generator, seeded_generator

__all__ = [
    "FourierPrior",
    "PixelPrior",
    "COLOR_CORRELATION_SVD_SQRT",
    "color_correlation_normalized",
    "spectrum_frequencies",
    "spectrum_scale",
    "hermitian_energy",
    "fourier_gain",
    "fourier_logits",
]

#: Lucid's square root of the ImageNet RGB colour covariance (its ``U @ sqrt(S)`` from an
#: SVD, rounded to two decimals): column 0 is luminance, 1 red-blue, 2 green-magenta.
COLOR_CORRELATION_SVD_SQRT = np.asarray(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype=np.float64
)

_INIT_SCALE = 0.1


def color_correlation_normalized() -> torch.Tensor:
    """Lucid's colour matrix divided by its largest column norm (``rgb = C @ decorrelated``)."""
    matrix = torch.from_numpy(COLOR_CORRELATION_SVD_SQRT)
    return matrix / torch.linalg.vector_norm(matrix, dim=0).max()


def _check_size(size: int) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 2:
        raise InvalidInputError(f"image size must be an integer >= 2, got {size!r}")
    return int(size)


def spectrum_frequencies(size: int) -> torch.Tensor:
    """``[size, size // 2 + 1]`` radial frequencies (cycles/pixel) of the rfft2 half spectrum."""
    size = _check_size(size)
    fy = torch.fft.fftfreq(size, dtype=torch.float64)[:, None]
    fx = torch.fft.rfftfreq(size, dtype=torch.float64)[None, :]
    return torch.sqrt(fx**2 + fy**2)


def spectrum_scale(size: int, decay_power: float = 1.0) -> torch.Tensor:
    """Lucid's amplitude scale ``1 / max(f, 1 / size) ** decay_power`` per frequency."""
    freqs = spectrum_frequencies(size)
    return 1.0 / torch.clamp(freqs, min=1.0 / size) ** decay_power


def hermitian_energy(size: int) -> torch.Tensor:
    """Squared norm of the image each unit half-spectrum entry produces.

    ``E[ky, kx, part] = || irfft2(e, s=(size, size), norm="ortho") ||**2`` for ``e`` the
    unit real (``part = 0``) or imaginary (``part = 1``) entry at ``(ky, kx)``:

    * generic columns (``0 < kx < size / 2``) stand for a Hermitian pair ``k, -k``: 2;
    * self-conjugate columns (``kx = 0`` and, for even sizes, ``kx = size / 2``): the real
      part of the column is used, so real and imaginary entries give 1/2 each, except at
      the self-conjugate frequencies themselves (``ky = 0`` or ``size / 2``), where the
      real entry gives 1 and the imaginary entry is ignored (0).

    Returns
    -------
    torch.Tensor
        float64 ``[size, size // 2 + 1, 2]``.
    """
    size = _check_size(size)
    half = size // 2 + 1
    energy = torch.full((size, half, 2), 2.0, dtype=torch.float64)
    self_conjugate = [0] + ([size // 2] if size % 2 == 0 else [])
    for kx in self_conjugate:
        energy[:, kx, :] = 0.5
        for ky in self_conjugate:
            energy[ky, kx, 0] = 1.0
            energy[ky, kx, 1] = 0.0
    return energy


def fourier_gain(size: int, decay_power: float, color: torch.Tensor) -> float:
    """Factor making unit i.i.d. codes give unit-variance pre-sigmoid RGB values.

    Each pixel of ``irfft2(scale * z)`` has variance ``sum(scale**2 * E) / size**2`` for
    ``z ~ N(0, I)`` (:func:`hermitian_energy`; the same at every pixel), and mixing colours
    with ``color`` multiplies the channel-averaged variance by ``||color||_F**2 / 3``.
    """
    scale = spectrum_scale(size, decay_power)
    pixel_variance = float((scale[..., None] ** 2 * hermitian_energy(size)).sum()) / size**2
    color_variance = float((color.double() ** 2).sum()) / 3.0
    return 1.0 / math.sqrt(pixel_variance * color_variance)


def fourier_logits(spectrum: torch.Tensor, scale: torch.Tensor, color: torch.Tensor,
                   size: int) -> torch.Tensor:
    """Steps 2-4 of the module docstring: scaled half spectra to colour-mixed images.

    Parameters
    ----------
    spectrum:
        ``[n, 3, size, size // 2 + 1, 2]`` real and imaginary parts of the half spectra.
    scale:
        ``[size, size // 2 + 1]`` amplitude scale (e.g. :func:`spectrum_scale` times a gain).
    color:
        ``[3, 3]`` colour mixing matrix (``rgb = color @ components``).
    size:
        Side length of the images.

    Returns
    -------
    torch.Tensor
        ``[n, 3, size, size]`` pre-sigmoid RGB images.
    """
    complex_spectrum = torch.view_as_complex(spectrum.contiguous())
    image = torch.fft.irfft2(complex_spectrum * scale, s=(size, size), norm="ortho")
    return torch.einsum("ij,njhw->nihw", color, image)


class _SigmoidPrior(Generator):
    """Shared parts of the priors: seeded small-norm init, sigmoid output, unit step size."""

    default_sigma = 1.0
    #: Standard deviation of the initial codes' entries.
    init_scale = _INIT_SCALE

    def init_codes(self, n: int, seed: int = 0) -> torch.Tensor:
        """``n`` codes with i.i.d. ``N(0, init_scale**2)`` entries, deterministic in ``seed``."""
        n = self._check_count(n)
        return self.init_scale * torch.randn(n, self.code_dim, generator=seeded_generator(seed))

    def logits(self, codes: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Pre-sigmoid RGB images ``[n, 3, size, size]`` (``forward`` is their sigmoid)."""
        return self._logits(self.check_codes(codes))

    @abstractmethod
    def _logits(self, codes: torch.Tensor) -> torch.Tensor:
        """Pre-sigmoid images of validated codes."""

    def _render(self, codes: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self._logits(codes))


class FourierPrior(_SigmoidPrior):
    """Lucid-style decorrelated Fourier image prior (see the module docstring).

    Parameters
    ----------
    size:
        Side length of the images (default 32).
    decay_power:
        Exponent of the ``1/f`` amplitude scaling (Lucid's default 1).
    decorrelate:
        Mix colours with the ImageNet colour-correlation matrix (``False``: channels are
        independent RGB).
    """

    name = "fourier"

    def __init__(self, size: int = 32, decay_power: float = 1.0, decorrelate: bool = True) -> None:
        super().__init__()
        self.output_size = _check_size(size)
        if not math.isfinite(decay_power) or decay_power < 0:
            raise InvalidInputError(f"decay_power must be finite and >= 0, got {decay_power!r}")
        self.decay_power = float(decay_power)
        self.decorrelate = bool(decorrelate)
        self.spectrum_shape = (3, self.output_size, self.output_size // 2 + 1, 2)
        self.code_dim = math.prod(self.spectrum_shape)
        color = color_correlation_normalized() if decorrelate else torch.eye(3, dtype=torch.float64)
        gain = fourier_gain(self.output_size, self.decay_power, color)
        self.register_buffer("color", color.float(), persistent=False)
        self.register_buffer(
            "scale",
            (gain * spectrum_scale(self.output_size, self.decay_power)).float(),
            persistent=False,
        )

    def _logits(self, codes: torch.Tensor) -> torch.Tensor:
        spectrum = codes.reshape(-1, *self.spectrum_shape)
        return fourier_logits(spectrum, self.scale, self.color, self.output_size)

    def describe(self) -> str:
        colour = "ImageNet colour decorrelation" if self.decorrelate else "independent RGB channels"
        return (
            f"Decorrelated Fourier image prior (Lucid style: 1/f^{self.decay_power:g} amplitude "
            f"spectrum, {colour}, sigmoid) mapping {self.code_dim}-d codes to "
            f"{self.output_size}x{self.output_size} RGB images."
        )


class PixelPrior(_SigmoidPrior):
    """Pixels through a sigmoid: ``sigmoid(codes.view(n, 3, size, size))``.

    Parameters
    ----------
    size:
        Side length of the images (default 32).
    """

    name = "pixel"

    def __init__(self, size: int = 32) -> None:
        super().__init__()
        self.output_size = _check_size(size)
        self.code_dim = 3 * self.output_size**2

    def _logits(self, codes: torch.Tensor) -> torch.Tensor:
        return codes.reshape(-1, 3, self.output_size, self.output_size)

    def describe(self) -> str:
        return (
            f"Pixel image prior (sigmoid of independent pixel values) mapping {self.code_dim}-d "
            f"codes to {self.output_size}x{self.output_size} RGB images."
        )
