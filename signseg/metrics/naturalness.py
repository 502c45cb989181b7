"""How close a set of generated images is to natural images: spectral slope and Frechet distance.

Two measures, each computed for a generator's samples and for real images:

* **Spectral slope** -- the slope of the log radially averaged power spectrum against log
  frequency (:func:`spectral_slope`), fitted per image by least squares over the bins of
  :func:`~signseg.metrics.spectra.radial_power_spectrum` (luminance, mean removed, bins 1
  cycle/image wide) between ``f_min`` and ``f_max`` cycles/pixel. An image whose power falls as
  ``f ** -a`` has slope ``-a``. Natural images have slopes near -2 (amplitude ``~ 1/f``; Field
  1987, van der Schaaf & van Hateren 1996); white noise has 0.
* **Frechet distance** in a network's feature space (:func:`frechet_distance`, the statistic of
  FID, Heusel et al. 2017): Gaussians fitted to the two sets' embeddings,
  ``|mu_a - mu_b|**2 + Tr(S_a + S_b - 2 (S_a S_b)**1/2)``. 0 for identical statistics; two
  independent samples of the same images give a small positive value (the finite-sample
  floor), which is the reference to compare against. Use an embedding network that played no
  part in training the generator, so that the distance is not the generator's own loss.

:func:`naturalness_table` computes both for several named image sets against one set of real
reference images.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd
import torch

from ..errors import InvalidInputError
from .similarity import as_embedder
from .spectra import radial_power_spectrum
from .stats import mean_ci

__all__ = ["spectral_slope", "frechet_distance", "naturalness_table", "compare_generators"]


def spectral_slope(
    images: torch.Tensor, f_min: float = 0.0, f_max: float = 0.5
) -> np.ndarray:
    """Per-image slope of log power against log frequency (see the module docstring).

    Parameters
    ----------
    images:
        ``[n, C, H, W]`` in ``[0, 1]`` (RGB is reduced to luminance).
    f_min, f_max:
        Frequency range of the fit in cycles/pixel (bins ``b / min(H, W)`` with
        ``f_min <= f <= f_max``); at least two bins must fall inside.

    Returns
    -------
    numpy.ndarray
        ``[n]`` slopes (float64).

    Raises
    ------
    InvalidInputError
        Fewer than two bins in the range, or an image with zero power in a fitted bin (a
        constant image has no spectrum to fit).
    """
    frequencies, power = radial_power_spectrum(images, color="grey")
    keep = (frequencies >= f_min) & (frequencies <= f_max)
    if keep.sum() < 2:
        raise InvalidInputError(
            f"the fit range [{f_min}, {f_max}] cycles/pixel holds {int(keep.sum())} frequency "
            f"bins of these {images.shape[-1]} px images; widen it to hold at least 2"
        )
    power = power[:, keep]
    flat = np.flatnonzero((power <= 0).any(axis=1))
    if flat.size:
        raise InvalidInputError(
            f"images {flat[:5].tolist()} have zero power in a fitted frequency bin (constant "
            "images?); their spectral slope is undefined"
        )
    x = np.log(frequencies[keep])
    y = np.log(power)
    x_centred = x - x.mean()
    return (y - y.mean(axis=1, keepdims=True)) @ x_centred / (x_centred @ x_centred)


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric positive semi-definite matrix."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    """Frechet distance between Gaussians fitted to two sets of feature vectors.

    ``|mu_a - mu_b|**2 + Tr(S_a) + Tr(S_b) - 2 Tr((S_a^1/2 S_b S_a^1/2)^1/2)`` with unbiased
    covariances ``S`` (the trace term equals ``Tr((S_a S_b)^1/2)``; it is computed from the
    symmetric form, with eigenvalues clipped at 0, so it is real and stable in float64).

    Parameters
    ----------
    a, b:
        ``[n_a, d]`` and ``[n_b, d]`` feature vectors, at least 2 each.

    Raises
    ------
    InvalidInputError
        Not two-dimensional, different ``d``, fewer than 2 vectors, or non-finite values.
    """
    a = np.asarray(a.detach().cpu() if isinstance(a, torch.Tensor) else a, dtype=np.float64)
    b = np.asarray(b.detach().cpu() if isinstance(b, torch.Tensor) else b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise InvalidInputError(
            f"frechet_distance needs two feature sets [n, d] with the same d and n >= 2; got "
            f"{a.shape} and {b.shape}"
        )
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise InvalidInputError("frechet_distance got NaN or infinite features")
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    root_a = _sqrt_psd(cov_a)
    cross = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace_cross = float(np.sqrt(np.clip(cross, 0, None)).sum())
    value = float(((mean_a - mean_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b)
                  - 2 * trace_cross)
    return max(value, 0.0)


def naturalness_table(
    sets: Mapping[str, torch.Tensor],
    reference: torch.Tensor,
    embedder: Any,
    f_min: float = 0.0,
    f_max: float = 0.5,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Spectral slope and Frechet distance of every image set against real reference images.

    Parameters
    ----------
    sets:
        ``name -> [n, 3, H, W]`` images in ``[0, 1]`` (e.g. ``{"learned": ..., "fourier":
        ..., "data": held_out_real_images}``; a real set disjoint from ``reference`` gives the
        finite-sample floor of the distance).
    reference:
        Real images ``[m, 3, H, W]`` in ``[0, 1]``.
    embedder:
        What embeds images for the Frechet distance: a zoo model (its penultimate features),
        an object with ``embed(images01)``, or a callable (see
        :func:`signseg.metrics.similarity.as_embedder`).
    f_min, f_max:
        Frequency range of the slope fit (cycles/pixel).
    confidence:
        Coverage of the slope's interval over images.

    Returns
    -------
    pandas.DataFrame
        One row per set, plus ``"reference"`` first: ``set``, ``n``, ``slope`` (mean over
        images), ``slope_ci_low``, ``slope_ci_high``, ``slope_gap`` (``|slope - reference
        slope|``), ``frechet`` (to the reference; NaN for the reference itself).
    """
    embed = as_embedder(embedder).embed
    reference_features = embed(reference)
    reference_slope = float(spectral_slope(reference, f_min, f_max).mean())
    rows = []
    for name, images in {"reference": reference, **dict(sets)}.items():
        slopes = spectral_slope(images, f_min, f_max)
        mean, low, high = mean_ci(slopes, confidence=confidence)
        frechet = (float("nan") if name == "reference"
                   else frechet_distance(embed(images), reference_features))
        rows.append({"set": name, "n": int(images.shape[0]), "slope": float(mean),
                     "slope_ci_low": float(low), "slope_ci_high": float(high),
                     "slope_gap": abs(float(mean) - reference_slope), "frechet": frechet})
    return pd.DataFrame(rows)


def compare_generators(
    generators: Mapping[str, Any],
    real_images01: torch.Tensor,
    embedder: Any,
    n: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """:func:`naturalness_table` of several generators' samples against real images.

    The real images are split in two halves: the first is the reference, the second a
    held-out real set (``"real (held out)"``) whose distance is the finite-sample floor.
    Every generator contributes ``n`` samples, ``generator(generator.sample_codes(n, seed))``
    (the distribution CMA-ES starts from), resized to the real images' size.

    Parameters
    ----------
    generators:
        Name -> :class:`~signseg.generators.Generator`.
    real_images01:
        At least ``2 n`` real images ``[m, 3, H, W]`` in ``[0, 1]``.
    embedder, seed:
        As in :func:`naturalness_table`; ``seed`` of the samples.
    """
    if real_images01.shape[0] < 2 * n:
        raise InvalidInputError(
            f"compare_generators needs at least 2 n = {2 * n} real images (reference and held-out "
            f"halves), got {real_images01.shape[0]}")
    size = real_images01.shape[-2:]
    sets = {}
    for name, generator in generators.items():
        with torch.no_grad():
            images = generator(generator.sample_codes(n, seed)).float().cpu()
        if images.shape[-2:] != size:
            images = torch.nn.functional.interpolate(images, size=tuple(size), mode="bilinear",
                                                     antialias=True, align_corners=False)
        sets[name] = images.clamp(0, 1)
    sets["real (held out)"] = real_images01[n : 2 * n]
    return naturalness_table(sets, real_images01[:n], embedder)
