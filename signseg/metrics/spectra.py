"""Radially averaged power spectra of images and the control/ablated ratio (Figs. 14-15).

Exact definition used throughout the book (the paper gives none beyond "radial power
spectrum"):

1. **Colour** -- ``color="grey"``: one luminance image ``0.299 R + 0.587 G + 0.114 B``
   (ITU-R 601, the same weights as :class:`signseg.preprocessing.Preprocessing`);
   ``color="channels"``: each channel separately, spectra averaged over channels.
2. **Mean subtraction** -- each image (channel) has its mean removed, so the DC term is 0.
3. **Power** -- ``P(k) = |FFT2(x)(k)|^2 / (H W)``. With this normalisation white noise of
   variance ``s^2`` has ``E[P(k)] = s^2`` at every frequency, and by Parseval the mean of
   ``P`` over all frequencies equals the image's variance.
4. **Radial bins** -- a frequency ``(f_y, f_x)`` in cycles/pixel (``numpy.fft.fftfreq``) has
   radius ``r = sqrt(f_y^2 + f_x^2)``; it goes to the integer bin ``b = round(r S)`` with
   ``S = min(H, W)``, i.e. bins are 1 cycle per image wide. ``P`` is *averaged* (not
   summed) within a bin. Bins ``1 .. S // 2`` are returned, at frequencies ``b / S``
   cycles/pixel (up to Nyquist, 0.5); the DC bin (0 after mean subtraction) and the
   corners beyond Nyquist are left out. ``reduce="sum"`` instead returns the *total* power
   of each annulus (the mean times the number of FFT frequencies in it), the quantity a
   power-weighted statistic over all frequencies needs
   (:mod:`signseg.metrics.image_statistics`).

The ratio (Fig. 15) is ``control / ablated`` per radius bin: each unit's images are averaged
into one spectrum per condition, the ratio is taken per unit, and the mean and confidence
interval are over units (or networks).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
import torch

from ..errors import InvalidInputError
from ._images import check_images
from .colour import LUMINANCE, luminance
from .stats import mean_ci

__all__ = ["LUMINANCE", "radial_frequencies", "radial_power_spectrum", "spectrum_ratio"]

def _radial_bins(height: int, width: int) -> tuple[torch.Tensor, int]:
    """Integer radius bin of every FFT frequency and the side ``S = min(H, W)``."""
    side = min(height, width)
    fy = torch.fft.fftfreq(height, dtype=torch.float64)
    fx = torch.fft.fftfreq(width, dtype=torch.float64)
    radius = torch.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)
    return torch.round(radius * side).long(), side


def radial_frequencies(height: int, width: int | None = None) -> np.ndarray:
    """Frequencies (cycles/pixel) of the bins returned by :func:`radial_power_spectrum`."""
    side = min(height, width if width is not None else height)
    return np.arange(1, side // 2 + 1) / side


def radial_power_spectrum(
    images: torch.Tensor,
    color: Literal["grey", "channels"] = "grey",
    reduce: Literal["mean", "sum"] = "mean",
) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged (or summed) power spectrum of each image (module docstring).

    Parameters
    ----------
    images:
        ``[n, C, H, W]`` in ``[0, 1]`` (``C`` = 3 for RGB; ``C`` = 1 is used as is).
    color:
        ``"grey"`` (luminance, the default) or ``"channels"`` (per-channel spectra averaged).
    reduce:
        ``"mean"`` (the default): power averaged within each radius bin; ``"sum"``: the
        total power of each bin (annulus).

    Returns
    -------
    (frequencies, power)
        ``frequencies`` ``[B]`` in cycles/pixel and ``power`` ``[n, B]`` with
        ``B = min(H, W) // 2``.
    """
    images = check_images(images).double()
    if min(images.shape[-2:]) < 2:
        raise InvalidInputError(
            f"images must be at least 2 x 2 pixels; got {tuple(images.shape[-2:])}"
        )
    if color == "grey":
        if images.shape[1] == 3:
            images = luminance(images)[:, None]
        elif images.shape[1] != 1:
            raise InvalidInputError(
                f"color='grey' needs RGB or single-channel images; got {images.shape[1]} channels"
            )
    elif color != "channels":
        raise InvalidInputError(f"color must be 'grey' or 'channels'; got {color!r}")
    if reduce not in ("mean", "sum"):
        raise InvalidInputError(f"reduce must be 'mean' or 'sum'; got {reduce!r}")
    height, width = images.shape[-2:]
    centred = images - images.mean(dim=(-2, -1), keepdim=True)
    power = torch.fft.fft2(centred).abs() ** 2 / (height * width)
    power = power.mean(dim=1)  # average over channels: [n, H, W]
    bins, side = _radial_bins(height, width)
    n_bins = side // 2
    keep = (bins >= 1) & (bins <= n_bins)
    index = bins[keep] - 1
    totals = torch.zeros(power.shape[0], n_bins, dtype=torch.float64)
    totals.index_add_(1, index, power[:, keep])
    if reduce == "sum":
        return radial_frequencies(height, width), totals.numpy()
    counts = torch.bincount(index, minlength=n_bins).double()
    return radial_frequencies(height, width), (totals / counts).numpy()


def spectrum_ratio(
    control: np.ndarray,
    ablated: np.ndarray,
    frequencies: np.ndarray,
    geometric: bool = False,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Control / ablated power ratio per radius bin, with a CI over units.

    Parameters
    ----------
    control, ablated:
        ``[units, B]`` spectra, one row per unit (or network): the mean of that unit's
        visualization spectra in each condition (same unit order in both).
    frequencies:
        ``[B]`` bin frequencies from :func:`radial_power_spectrum`.
    geometric:
        ``False``: arithmetic mean of the per-unit ratios with a t interval (as plotted in
        the paper). ``True``: mean and interval of ``log`` ratios, exponentiated (a
        geometric mean, less dominated by single large ratios).
    confidence:
        Coverage of the interval over units.

    Returns
    -------
    pandas.DataFrame
        Columns ``frequency``, ``ratio``, ``ci_low``, ``ci_high``, ``n`` (units).

    Raises
    ------
    InvalidInputError
        Shapes that do not match, or an ablated bin with zero power (ratio undefined).
    """
    control = np.asarray(control, dtype=np.float64)
    ablated = np.asarray(ablated, dtype=np.float64)
    frequencies = np.asarray(frequencies, dtype=np.float64)
    if control.ndim != 2 or control.shape != ablated.shape or control.shape[1] != frequencies.size:
        raise InvalidInputError(
            "spectrum_ratio needs control and ablated spectra of equal shape [units, bins] and "
            f"one frequency per bin; got {control.shape}, {ablated.shape} and "
            f"{frequencies.shape}"
        )
    if (ablated <= 0).any():
        raise InvalidInputError(
            "the ablated spectra have bins with zero power (e.g. a constant image); the "
            "control/ablated ratio is undefined there"
        )
    if (control < 0).any() or (geometric and (control <= 0).any()):
        raise InvalidInputError(
            "the control spectra must be positive (non-negative for geometric=False); got "
            f"a minimum of {control.min():.4g}"
        )
    ratios = control / ablated
    rows = []
    for b, frequency in enumerate(frequencies):
        values = np.log(ratios[:, b]) if geometric else ratios[:, b]
        mean, low, high = mean_ci(values, confidence=confidence)
        if geometric:
            mean, low, high = np.exp(mean), np.exp(low), np.exp(high)
        rows.append({"frequency": float(frequency), "ratio": float(mean), "ci_low": float(low),
                     "ci_high": float(high), "n": int(ratios.shape[0])})
    return pd.DataFrame(rows, columns=["frequency", "ratio", "ci_low", "ci_high", "n"])
