"""Per-image statistics that test the paper's verbal claims about positive and negative channels.

The paper describes the feature visualizations of the most positive and most negative
"Dale-like" channels (Sec. 4.5, App. A.3, Fig. 19) as *high-frequency, achromatic,
localized* versus *low-frequency, coloured, dispersed*. Each adjective gets one number per
image here, so the two groups can be compared with an interval and a permutation test
(:func:`signseg.metrics.stats.group_contrast`).

Inputs are RGB image sets ``[n, 3, H, W]`` with values in ``[0, 1]`` (the package's
convention, :func:`signseg.metrics._images.check_images`); results are ``[n]`` float64
arrays.

Frequency (:func:`spectral_centroid`, :func:`high_frequency_fraction`)
    From the luminance power spectrum of :func:`~signseg.metrics.spectra.radial_power_spectrum`
    (ITU-R 601 luminance, mean removed, ``P(k) = |FFT2|^2 / (H W)``, radius bins ``b / S``
    cycles/pixel, ``S = min(H, W)``, ``b = 1 .. S // 2``) with ``reduce="sum"``: ``T_b`` is
    the *total* power of annulus ``b``. The spectral centroid is the power-weighted mean
    radial frequency over all frequencies up to Nyquist,
    ``sum_b f_b T_b / sum_b T_b`` (cycles/pixel, in ``[1/S, 1/2]``); the high-frequency
    fraction is ``sum_{f_b > cutoff} T_b / sum_b T_b``. Frequencies are rounded to their bin
    (1 cycle/image wide); the corners beyond Nyquist are left out. A constant image has no
    power: ``NaN``.

Colour (:func:`colourfulness`, :func:`mean_saturation`)
    Hasler & Suesstrunk (2003), on the 0-255 scale of their paper: with ``rg = R - G`` and
    ``yb = (R + G) / 2 - B`` per pixel, ``M = sqrt(s_rg^2 + s_yb^2) + 0.3 sqrt(m_rg^2 +
    m_yb^2)``, ``m`` and ``s`` the mean and *population* standard deviation (``ddof=0``) over
    the image's pixels. Grey images score 0; the authors' "highly colourful" starts near
    82. Mean saturation is the mean HSV saturation ``(max - min) / max`` of
    :func:`~signseg.metrics.colour.hsv_value_saturation` (0 for black pixels).

Spatial dispersion (:func:`energy_dispersion`, :func:`contrast_dispersion`, :func:`map_dispersion`)
    One statistic of a non-negative energy map, normalised to a distribution ``p`` over its
    ``N`` pixels (:func:`energy_dispersion`):

    * ``statistic="mass"`` (default): the fraction of pixels needed to hold ``mass`` (0.5)
      of the energy, largest pixels first, with linear interpolation inside the last pixel:
      if the ``k`` largest pixels hold ``c_k`` and ``c_{k-1} < mass <= c_k``, the value is
      ``(k - 1 + (mass - c_{k-1}) / p_(k)) / N``. A flat map gives exactly ``mass``; a map
      with all energy in one pixel gives ``mass / N``. Values lie in ``(0, mass]``.
    * ``statistic="entropy"``: the normalised spatial entropy ``-sum p log p / log N`` in
      ``[0, 1]`` (1 for a flat map, 0 for one pixel).

    Small values mean *localized*, large ones *dispersed*. A map with no energy gives ``NaN``.
    :func:`contrast_dispersion` applies it to the local contrast energy of images: the
    squared deviation of the luminance from its Gaussian blur (``sigma`` pixels, default
    ``min(H, W) / 32``, reflected borders, :func:`~signseg.metrics.surround.smooth_maps`;
    deviations below :data:`ROUNDING` are 0, so a constant image has no energy);
    :func:`map_dispersion` to activation or attribution maps as they are.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from ..errors import InvalidInputError
from ._images import check_images, check_maps
from .colour import hsv_value_saturation, luminance
from .spectra import radial_power_spectrum
from .surround import smooth_maps

__all__ = [
    "spectral_centroid",
    "high_frequency_fraction",
    "colourfulness",
    "mean_saturation",
    "energy_dispersion",
    "local_contrast_energy",
    "contrast_dispersion",
    "map_dispersion",
]

Statistic = Literal["mass", "entropy"]

#: Luminance deviations below this count as 0 in :func:`local_contrast_energy`: rounding of
#: the blur, far below the resolution of float32 images in ``[0, 1]`` (about 6e-8).
ROUNDING = 1e-9


def _rgb_images(images: torch.Tensor) -> torch.Tensor:
    """Validated RGB images ``[n, 3, H, W]`` in ``[0, 1]`` as float64."""
    images = check_images(images).double()
    if images.shape[1] != 3:
        raise InvalidInputError(
            f"images must be RGB [n, 3, H, W]; got {images.shape[1]} channels. Repeat a grey "
            "channel three times (images.expand(-1, 3, -1, -1)) for grey images."
        )
    return images


def _annulus_power(images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Bin frequencies ``[B]`` and total luminance power per annulus ``[n, B]``."""
    return radial_power_spectrum(_rgb_images(images), color="grey", reduce="sum")


def _power_weighted(weights: np.ndarray, power: np.ndarray) -> np.ndarray:
    """``sum_b weights_b power_b / sum_b power_b`` per row; ``NaN`` for rows with no power."""
    total = power.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        result = (power * weights[None, :]).sum(axis=1) / total
    return np.where(total > 0, result, np.nan)


def spectral_centroid(images: torch.Tensor) -> np.ndarray:
    """Power-weighted mean radial frequency of each image's luminance spectrum.

    Parameters
    ----------
    images:
        RGB ``[n, 3, H, W]`` in ``[0, 1]``, at least 2 x 2 pixels.

    Returns
    -------
    numpy.ndarray
        ``[n]`` centroids ``sum_b f_b T_b / sum_b T_b`` in cycles/pixel (module docstring);
        a grating of frequency ``f = b / min(H, W)`` gives ``f``. ``NaN`` for a constant image.
    """
    frequencies, power = _annulus_power(images)
    return _power_weighted(frequencies, power)


def high_frequency_fraction(images: torch.Tensor, cutoff: float = 0.25) -> np.ndarray:
    """Fraction of each image's luminance power at radial frequencies above ``cutoff``.

    Parameters
    ----------
    images:
        RGB ``[n, 3, H, W]`` in ``[0, 1]``, at least 2 x 2 pixels.
    cutoff:
        Frequency in cycles/pixel, in ``[0, 0.5)``; bins with ``f_b > cutoff`` count as high.

    Returns
    -------
    numpy.ndarray
        ``[n]`` fractions in ``[0, 1]``; ``NaN`` for a constant image.
    """
    if not 0.0 <= float(cutoff) < 0.5:
        raise InvalidInputError(
            f"cutoff must be a frequency in [0, 0.5) cycles/pixel (below Nyquist); got {cutoff!r}"
        )
    frequencies, power = _annulus_power(images)
    return _power_weighted((frequencies > cutoff).astype(np.float64), power)


def colourfulness(images: torch.Tensor) -> np.ndarray:
    """Hasler & Suesstrunk (2003) colourfulness ``M`` of each image, on the 0-255 scale.

    Parameters
    ----------
    images:
        RGB ``[n, 3, H, W]`` in ``[0, 1]`` (multiplied by 255 here).

    Returns
    -------
    numpy.ndarray
        ``[n]`` values ``sqrt(s_rg^2 + s_yb^2) + 0.3 sqrt(m_rg^2 + m_yb^2)`` >= 0 (module
        docstring; population standard deviations); 0 for grey images.
    """
    rgb = _rgb_images(images) * 255.0
    red, green, blue = rgb[:, 0].flatten(1), rgb[:, 1].flatten(1), rgb[:, 2].flatten(1)
    rg = red - green
    yb = 0.5 * (red + green) - blue
    spread = torch.sqrt(rg.var(dim=1, correction=0) + yb.var(dim=1, correction=0))
    offset = torch.sqrt(rg.mean(dim=1) ** 2 + yb.mean(dim=1) ** 2)
    return (spread + 0.3 * offset).numpy()


def mean_saturation(images: torch.Tensor) -> np.ndarray:
    """Mean HSV saturation ``(max - min) / max`` of each image (0 at black pixels).

    Parameters
    ----------
    images:
        RGB ``[n, 3, H, W]`` in ``[0, 1]``.

    Returns
    -------
    numpy.ndarray
        ``[n]`` values in ``[0, 1]``: 0 for grey images, 1 for fully saturated ones.
    """
    _, saturation = hsv_value_saturation(_rgb_images(images))
    return saturation.flatten(1).mean(dim=1).numpy()


def _mass_fraction(p: torch.Tensor, mass: float) -> torch.Tensor:
    """Interpolated fraction of pixels holding ``mass`` of each row distribution ``p``."""
    n_pixels = p.shape[1]
    ordered = torch.sort(p, dim=1, descending=True).values
    cumulative = ordered.cumsum(dim=1)
    # first k (1-based) with c_k >= mass; the tolerance absorbs rounding of the cumulative sum
    k = (cumulative < mass - 1e-12).sum(dim=1).clamp(max=n_pixels - 1)
    before = torch.where(k > 0, cumulative.gather(1, (k - 1).clamp(min=0)[:, None])[:, 0], 0.0)
    last = ordered.gather(1, k[:, None])[:, 0]
    inside = ((mass - before) / last).clamp(0.0, 1.0)
    return (k.double() + inside) / n_pixels


def _normalised_entropy(p: torch.Tensor) -> torch.Tensor:
    """``-sum p log p / log N`` of each row distribution ``p`` (0 log 0 = 0)."""
    n_pixels = p.shape[1]
    if n_pixels == 1:
        return torch.zeros(p.shape[0], dtype=torch.float64)
    terms = torch.where(p > 0, -p * torch.log(p.clamp_min(1e-300)), torch.zeros_like(p))
    return terms.sum(dim=1) / np.log(n_pixels)


def energy_dispersion(
    maps: torch.Tensor | np.ndarray, statistic: Statistic = "mass", mass: float = 0.5
) -> np.ndarray:
    """How spread out each non-negative energy map is (definitions in the module docstring).

    Parameters
    ----------
    maps:
        ``[n, H, W]`` finite, non-negative maps.
    statistic:
        ``"mass"``: fraction of pixels holding ``mass`` of the energy (largest first,
        interpolated); ``"entropy"``: normalised spatial entropy.
    mass:
        Share of the energy for ``statistic="mass"``, in ``(0, 1]``.

    Returns
    -------
    numpy.ndarray
        ``[n]`` values (small = localized); ``NaN`` for an all-zero map.
    """
    if statistic not in ("mass", "entropy"):
        raise InvalidInputError(f"statistic must be 'mass' or 'entropy'; got {statistic!r}")
    if not 0.0 < float(mass) <= 1.0:
        raise InvalidInputError(f"mass must be a share of the energy in (0, 1]; got {mass!r}")
    flat = check_maps(maps).flatten(1)
    total = flat.sum(dim=1, keepdim=True)
    p = flat / total.clamp_min(1e-300)
    values = _mass_fraction(p, float(mass)) if statistic == "mass" else _normalised_entropy(p)
    return torch.where(total[:, 0] > 0, values, torch.nan).numpy()


def map_dispersion(
    maps: torch.Tensor | np.ndarray, statistic: Statistic = "mass", mass: float = 0.5
) -> np.ndarray:
    """Dispersion of activation or attribution maps ``[n, h, w]`` (non-negative, used as they
    are): :func:`energy_dispersion` under the name the book uses for maps."""
    return energy_dispersion(maps, statistic=statistic, mass=mass)


def local_contrast_energy(images: torch.Tensor, sigma: float | None = None) -> torch.Tensor:
    """Squared deviation ``[n, H, W]`` of each image's luminance from its Gaussian blur.

    Parameters
    ----------
    images:
        RGB ``[n, 3, H, W]`` in ``[0, 1]``.
    sigma:
        Blur standard deviation in pixels; default ``min(H, W) / 32``.
    """
    images = _rgb_images(images)
    if sigma is None:
        sigma = min(images.shape[-2:]) / 32.0
    if not float(sigma) > 0.0:
        raise InvalidInputError(f"sigma must be a positive blur width in pixels; got {sigma!r}")
    lum = luminance(images)
    deviation = lum - smooth_maps(lum, float(sigma))
    # the blur of a flat region differs from it only by rounding (~1e-16); count that as 0
    deviation = torch.where(deviation.abs() < ROUNDING, torch.zeros_like(deviation), deviation)
    return deviation**2


def contrast_dispersion(
    images: torch.Tensor,
    sigma: float | None = None,
    statistic: Statistic = "mass",
    mass: float = 0.5,
) -> np.ndarray:
    """Dispersion of each image's local contrast energy (module docstring).

    Parameters
    ----------
    images:
        RGB ``[n, 3, H, W]`` in ``[0, 1]``.
    sigma:
        Blur of :func:`local_contrast_energy` in pixels; default ``min(H, W) / 32``.
    statistic, mass:
        See :func:`energy_dispersion`.

    Returns
    -------
    numpy.ndarray
        ``[n]`` values (small = localized contrast); ``NaN`` for a constant image.
    """
    return energy_dispersion(local_contrast_energy(images, sigma), statistic=statistic, mass=mass)
