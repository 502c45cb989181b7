"""Quantifying image sets (METHODS.md section 4; paper 4.2, A.1, Figs. 2D-E, 11-17).

Inputs are image sets as float tensors ``[n, 3, H, W]`` in ``[0, 1]``: the control set
(alpha = 0) and an ablated set for the same unit. Every summary comes with a 95%
confidence interval over units or networks.

Statistics (:mod:`~signseg.metrics.stats`)
    ``mean_ci(values, confidence=0.95, method="t"|"bootstrap", n_boot=2000, seed=0)
    -> (mean, low, high)``;
    ``bootstrap_ci(statistic, *samples, n_boot=2000, seed=0, paired=True, confidence=0.95)
    -> (estimate, low, high)``;
    ``correlation_with_ci(x, y, method="spearman"|"pearson", n_boot=2000, seed=0,
    confidence=0.95) -> dict(r, p, ci_low, ci_high, n, n_degenerate, method, confidence)``;
    ``summarize(frame, value, by, nested=("unit",)) -> DataFrame`` (nested averaging, CI
    over the outermost level);
    ``permutation_test(a, b, n_permutations=10000, seed=0, alternative="two-sided")
    -> (difference, p)``;
    ``group_contrast(values, positive_mask, confidence=0.95, n_boot=2000,
    n_permutations=10000, seed=0) -> dict(mean_pos, mean_neg, difference, ci_low, ci_high,
    p, n_pos, n_neg)``; ``contrast_table(frame, value_columns, by="layer",
    sign_column="sign") -> DataFrame`` (one row per layer x measure).

Representational similarity (:mod:`~signseg.metrics.similarity`)
    ``representational_similarity(control, ablated, embedders, readout="features")
    -> EnsembleSimilarity`` (per-embedder values, control-vs-control ceiling, ensemble
    mean with CI over embedders); ``similarity_table(control, conditions, embedders)
    -> DataFrame`` for many conditions at once; embedders are objects with
    ``embed(images01)``, callables, or zoo models (``as_embedder`` /
    ``ZooEmbedder(model, readout="features"|"logits")``).

Perceptual similarity (:mod:`~signseg.metrics.perceptual`)
    ``PerceptualSimilarity(net="alex", download=True)`` with ``.similarity(control,
    ablated)``, ``.ceiling(control)`` (mean ``1 - LPIPS``) and ``.distance_matrix(a, b)``.
    Needs the ``lpips`` package and the torchvision trunk weights in the torch hub cache.

Objectness (:mod:`~signseg.metrics.objectness`)
    ``objectness(images, detector=None) -> ndarray [n]`` (maximum box confidence of an
    Ultralytics YOLO11n detector); ``objectness_available() -> (bool, reason)``;
    ``load_detector(name, download=True)``. Needs ``ultralytics`` and ``yolo11n.pt`` in the
    torch hub cache.

Spatial frequency (:mod:`~signseg.metrics.spectra`)
    ``radial_power_spectrum(images, color="grey") -> (frequencies, power [n, bins])``;
    ``spectrum_ratio(control, ablated, frequencies) -> DataFrame`` (control/ablated per
    bin, CI over units).

Image statistics of positive vs negative channels (:mod:`~signseg.metrics.image_statistics`)
    ``spectral_centroid(images)``, ``high_frequency_fraction(images, cutoff=0.25)``,
    ``colourfulness(images)`` (Hasler & Suesstrunk, 0-255 scale), ``mean_saturation(images)``,
    ``contrast_dispersion(images, sigma=None)``, ``map_dispersion(maps)``,
    ``energy_dispersion(maps, statistic="mass"|"entropy", mass=0.5)``: each ``-> ndarray [n]``.

Activation maps on natural images (:mod:`~signseg.metrics.box_activation`)
    ``box_share(maps, masks) -> ndarray [n]`` (activation mass inside the object box),
    ``box_share_table(maps, masks) -> DataFrame`` (share, chance, excess),
    ``top_activating(maps, k) -> (image_index, y, x, value)``,
    ``crop_patches(images, index, y, x, map_size, patch) -> Tensor [k, 3, patch, patch]``.

Naturalness (:mod:`~signseg.metrics.naturalness`)
    ``spectral_slope(images, f_min=0, f_max=0.5) -> ndarray [n]`` (log-log slope of the
    radial power spectrum; natural images about -2); ``frechet_distance(a, b)`` (FID's
    statistic on any features); ``kernel_distance(a, b, subsets=100) -> (mean, std)`` (KID's,
    as torch-fidelity computes it); ``naturalness_table(sets, reference, embedders) ->
    DataFrame`` (one row per embedder and set).

Activation (:mod:`~signseg.metrics.activation`)
    ``activation_summary(runs, value="activation", condition=("sign", "alpha"),
    unit="unit") -> DataFrame``.

Object vs background (:mod:`~signseg.metrics.segregation`)
    ``object_share(images, masks, method="contrast"|"attribution", ...) -> ndarray [n]``,
    ``mass_share(weights, masks) -> ndarray [n]`` (share of any non-negative map on a mask),
    ``canonical_mask(masks, size)``, ``chance_share(masks)``,
    ``background_challenge_accuracy(model_fn, datasets) -> DataFrame``,
    ``background_gap(table)``.

Shape bias (:mod:`~signseg.metrics.shape_bias`)
    ``pairwise_shape_bias(logits, shape_targets, texture_targets) -> dict`` (share of
    ``logit[shape] > logit[texture]``, Wilson CI); ``geirhos_shape_bias(...) -> dict``
    (shape / (shape + texture) top-1 hits, and the two accuracies).

Colour and surround (:mod:`~signseg.metrics.colour`, :mod:`~signseg.metrics.surround`)
    ``luminance(images)``, ``hsv_value_saturation(images)``;
    ``surround_colour(images, regions) -> DataFrame`` (brightness, saturation, luminance,
    white share outside a region), ``top_fraction_region(maps, fraction)``,
    ``central_region(height, width, fraction)``, ``smooth_maps(maps, sigma)``.
"""

from __future__ import annotations

from .activation import activation_summary
from .box_activation import box_share, box_share_table, crop_patches, top_activating
from .colour import hsv_value_saturation, luminance
from .image_statistics import (
    colourfulness,
    contrast_dispersion,
    energy_dispersion,
    high_frequency_fraction,
    map_dispersion,
    mean_saturation,
    spectral_centroid,
)
from .naturalness import (
    compare_generators,
    frechet_distance,
    kernel_distance,
    naturalness_table,
    spectral_slope,
)
from .objectness import load_detector, objectness, objectness_available
from .perceptual import PerceptualSimilarity
from .segregation import (
    background_challenge_accuracy,
    background_gap,
    canonical_mask,
    chance_share,
    mass_share,
    object_share,
)
from .similarity import (
    EnsembleSimilarity,
    ZooEmbedder,
    as_embedder,
    representational_similarity,
    similarity_table,
)
from .shape_bias import geirhos_shape_bias, pairwise_shape_bias
from .spectra import radial_power_spectrum, spectrum_ratio
from .stats import (
    bootstrap_ci,
    contrast_table,
    correlation_with_ci,
    group_contrast,
    mean_ci,
    permutation_test,
    summarize,
)
from .surround import central_region, smooth_maps, surround_colour, top_fraction_region

__all__ = [
    "mean_ci",
    "bootstrap_ci",
    "correlation_with_ci",
    "summarize",
    "permutation_test",
    "group_contrast",
    "contrast_table",
    "spectral_centroid",
    "high_frequency_fraction",
    "colourfulness",
    "mean_saturation",
    "energy_dispersion",
    "contrast_dispersion",
    "map_dispersion",
    "box_share",
    "box_share_table",
    "top_activating",
    "crop_patches",
    "representational_similarity",
    "similarity_table",
    "EnsembleSimilarity",
    "ZooEmbedder",
    "as_embedder",
    "PerceptualSimilarity",
    "objectness",
    "objectness_available",
    "load_detector",
    "radial_power_spectrum",
    "spectrum_ratio",
    "spectral_slope",
    "frechet_distance",
    "kernel_distance",
    "naturalness_table",
    "compare_generators",
    "activation_summary",
    "object_share",
    "mass_share",
    "canonical_mask",
    "chance_share",
    "background_challenge_accuracy",
    "background_gap",
    "pairwise_shape_bias",
    "geirhos_shape_bias",
    "luminance",
    "hsv_value_saturation",
    "surround_colour",
    "top_fraction_region",
    "central_region",
    "smooth_maps",
]
