"""How close a set of generated images is to natural images: spectral slope, FD and KID.

Three measures, each computed for a generator's samples and for real images:

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
* **Kernel distance** in the same features (:func:`kernel_distance`, the statistic of KID,
  Binkowski et al. 2018): the unbiased squared MMD with the cubic polynomial kernel
  ``k(x, y) = (x . y / d + 1) ** 3``, averaged over random subsets, with the standard deviation
  over subsets, exactly as ``torch-fidelity`` computes it (its defaults: 100 subsets, degree 3,
  gamma ``1 / d``, coef0 1). Unlike the Frechet distance it has no positive bias at small
  sample sizes (its expectation is 0 for two samples of the same distribution), which matters
  for the few hundred images of the ``quick`` profile.

One embedding network decides nothing on its own: a small network trained for a few epochs
can rank two generators either way. :func:`naturalness_table` therefore accepts several
embedders and reports every distance in each of them.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd
import torch

from ..errors import InvalidInputError
from .similarity import named_embedders
from .spectra import radial_power_spectrum
from .stats import mean_ci

__all__ = ["spectral_slope", "frechet_distance", "kernel_distance", "naturalness_table",
           "compare_generators"]


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


def _feature_pair(
    a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor, caller: str
) -> tuple[np.ndarray, np.ndarray]:
    """Two feature sets as float64 arrays, checked: ``[n, d]`` each, same ``d``, ``n >= 2``."""
    a = np.asarray(a.detach().cpu() if isinstance(a, torch.Tensor) else a, dtype=np.float64)
    b = np.asarray(b.detach().cpu() if isinstance(b, torch.Tensor) else b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise InvalidInputError(
            f"{caller} needs two feature sets [n, d] with the same d and n >= 2; got "
            f"{a.shape} and {b.shape}"
        )
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise InvalidInputError(f"{caller} got NaN or infinite features")
    return a, b


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
    a, b = _feature_pair(a, b, "frechet_distance")
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    root_a = _sqrt_psd(cov_a)
    cross = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace_cross = float(np.sqrt(np.clip(cross, 0, None)).sum())
    value = float(((mean_a - mean_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b)
                  - 2 * trace_cross)
    return max(value, 0.0)


def kernel_distance(
    a: np.ndarray | torch.Tensor,
    b: np.ndarray | torch.Tensor,
    subsets: int = 100,
    subset_size: int | None = None,
    degree: int = 3,
    gamma: float | None = None,
    coef0: float = 1.0,
    seed: int = 0,
) -> tuple[float, float]:
    """Kernel (Inception) distance between two sets of feature vectors: mean and std over subsets.

    For each of ``subsets`` draws, ``subset_size`` rows of ``a`` and then of ``b`` are chosen
    without replacement (``numpy.random.RandomState(seed).choice``, in that order), and the
    unbiased squared MMD of Binkowski et al. (2018) is computed with the polynomial kernel
    ``k(x, y) = (gamma x . y + coef0) ** degree``::

        sum_{i != j} k(a_i, a_j) / (m (m - 1)) + sum_{i != j} k(b_i, b_j) / (m (m - 1))
            - 2 sum_{i, j} k(a_i, b_j) / m**2

    This is ``torch_fidelity.metric_kid.kid_features_to_metric`` step for step (the tests
    compare the two), so values are comparable with published KIDs computed by it.

    Parameters
    ----------
    a, b:
        ``[n_a, d]`` and ``[n_b, d]`` feature vectors.
    subsets:
        Number of random subsets (torch-fidelity's default 100).
    subset_size:
        Rows per subset; ``None`` takes ``min(n_a, n_b, 1000)`` (1000 is torch-fidelity's
        default, which it requires both sets to reach; here smaller sets shrink the subsets, as
        clean-fid does).
    degree, gamma, coef0:
        The kernel; ``gamma=None`` is ``1 / d``.
    seed:
        Seed of the subset draws.

    Returns
    -------
    tuple of float
        Mean and standard deviation (``numpy.std``, ddof 0) of the subsets' squared MMDs. The
        mean can be slightly negative when the two sets come from one distribution.

    Raises
    ------
    InvalidInputError
        Not two-dimensional, different ``d``, fewer than 2 rows per set or per subset, a
        subset larger than a set, ``subsets < 1``, or non-finite values.
    """
    a, b = _feature_pair(a, b, "kernel_distance")
    size = min(len(a), len(b), 1000) if subset_size is None else int(subset_size)
    if subsets < 1 or size < 2 or size > min(len(a), len(b)):
        raise InvalidInputError(
            f"kernel_distance needs subsets >= 1 and 2 <= subset_size <= min(n_a, n_b) = "
            f"{min(len(a), len(b))}; got subsets={subsets}, subset_size={size}")
    gamma = 1.0 / a.shape[1] if gamma is None else float(gamma)
    rng = np.random.RandomState(seed)
    values = np.empty(subsets)
    for index in range(subsets):
        x = a[rng.choice(len(a), size, replace=False)]
        y = b[rng.choice(len(b), size, replace=False)]
        k_xx = (x @ x.T * gamma + coef0) ** degree
        k_yy = (y @ y.T * gamma + coef0) ** degree
        k_xy = (x @ y.T * gamma + coef0) ** degree
        within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (size * (size - 1))
        values[index] = within - 2 * k_xy.sum() / (size * size)
    return float(values.mean()), float(values.std())


def naturalness_table(
    sets: Mapping[str, torch.Tensor],
    reference: torch.Tensor,
    embedders: Any,
    f_min: float = 0.0,
    f_max: float = 0.5,
    confidence: float = 0.95,
    kid_subsets: int = 100,
    kid_subset_size: int | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Spectral slope, Frechet and kernel distance of every image set against real images.

    Parameters
    ----------
    sets:
        ``name -> [n, 3, H, W]`` images in ``[0, 1]`` (e.g. ``{"learned": ..., "fourier":
        ..., "data": held_out_real_images}``; a real set disjoint from ``reference`` gives the
        finite-sample floor of the distance).
    reference:
        Real images ``[m, 3, H, W]`` in ``[0, 1]``.
    embedders:
        What embeds images for the distances: one embedder, a sequence of them, or a mapping
        name -> embedder. Each is a zoo model (its penultimate features), an object with
        ``embed(images01)``, or a callable (see :func:`signseg.metrics.similarity.as_embedder`).
    f_min, f_max:
        Frequency range of the slope fit (cycles/pixel).
    confidence:
        Coverage of the slope's interval over images.
    kid_subsets, kid_subset_size, seed:
        Subsets, their size and seed of :func:`kernel_distance`. ``kid_subset_size=None``
        takes half of the smaller set, at most 1000: subsets as large as the sets would all be
        permutations of the same rows, whose spread is 0 and says nothing about the sampling
        error (torch-fidelity's 1000 assumes sets of several thousand images).

    Returns
    -------
    pandas.DataFrame
        One row per embedder and set, ``"reference"`` first for each embedder: ``embedder``,
        ``set``, ``n``, ``slope`` (mean over images; the same in every embedder's rows),
        ``slope_ci_low``, ``slope_ci_high``, ``slope_gap`` (``|slope - reference slope|``),
        ``frechet``, ``kid`` and ``kid_std`` (to the reference in that embedder's features;
        NaN for the reference itself).
    """
    named = named_embedders(embedders, "features")
    all_sets = {"reference": reference, **dict(sets)}
    slopes = {name: mean_ci(spectral_slope(images, f_min, f_max), confidence=confidence)
              for name, images in all_sets.items()}
    reference_slope = float(slopes["reference"][0])
    rows = []
    for embedder_name, embedder in named.items():
        reference_features = embedder.embed(reference)
        for name, images in all_sets.items():
            mean, low, high = (float(value) for value in slopes[name])
            row = {"embedder": embedder_name, "set": name, "n": int(images.shape[0]),
                   "slope": mean, "slope_ci_low": low, "slope_ci_high": high,
                   "slope_gap": abs(mean - reference_slope),
                   "frechet": float("nan"), "kid": float("nan"), "kid_std": float("nan")}
            if name != "reference":
                features = embedder.embed(images)
                row["frechet"] = frechet_distance(features, reference_features)
                size = kid_subset_size or max(
                    2, min(len(features), len(reference_features), 2000) // 2)
                row["kid"], row["kid_std"] = kernel_distance(
                    features, reference_features, subsets=kid_subsets, subset_size=size, seed=seed)
            rows.append(row)
    return pd.DataFrame(rows)


def compare_generators(
    generators: Mapping[str, Any],
    real_images01: torch.Tensor,
    embedders: Any,
    n: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """:func:`naturalness_table` of several generators' samples against real images.

    The real images are split in two halves: the first is the reference, the second a
    held-out real set (``"real (held out)"``) whose distance is the finite-sample floor.
    Every generator contributes ``n`` samples, ``generator(generator.sample_codes(n, seed))``
    (the distribution CMA-ES starts from), resized to the real images' size. Embedders named
    in any generator's ``trained_with`` (the network it was trained to invert) are left out:
    a generator is not judged by its own training loss.

    Parameters
    ----------
    generators:
        Name -> :class:`~signseg.generators.Generator`.
    real_images01:
        At least ``2 n`` real images ``[m, 3, H, W]`` in ``[0, 1]``.
    embedders:
        A mapping name -> embedder (or a sequence, or one), as in :func:`naturalness_table`:
        best several, so that no single network decides.
    seed:
        Seed of the samples and of the kernel distance's subsets.

    Raises
    ------
    InvalidInputError
        Fewer than ``2 n`` real images, or no embedder left once the generators' own
        networks are left out.
    """
    if real_images01.shape[0] < 2 * n:
        raise InvalidInputError(
            f"compare_generators needs at least 2 n = {2 * n} real images (reference and held-out "
            f"halves), got {real_images01.shape[0]}")
    named = named_embedders(embedders, "features")
    own = {network for generator in generators.values()
           for network in getattr(generator, "trained_with", ())}
    judges = {name: embedder for name, embedder in named.items() if name not in own}
    if not judges:
        raise InvalidInputError(
            f"every embedder ({', '.join(named)}) trained one of the generators "
            f"({', '.join(sorted(own))}); add a network that none of them was trained with")
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
    return naturalness_table(sets, real_images01[:n], judges, seed=seed)
