"""From stored visualizations and ablated models to the tables of the ablation section.

Each function here turns a :class:`~signseg.visualize.Visualization` (or a model and a data
set) into one tidy table that a figure of paper Section 4.2 plots: representational
similarity, spatial-frequency spectra, the object share of preferred images, and the
object/background evidence a unit keeps under ablation; and those of the training-regimes
section: accuracy on background-challenge variants, shape bias on cue-conflict images and
the colour of preferred images' surround. The metrics themselves live in
:mod:`signseg.metrics`; this module only pairs control and ablated sets and loops over
conditions. In every table the control (``alpha = 0``) is listed under both signs so that
curves start at it.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any, Callable, ContextManager, Iterator, Mapping, Sequence, Union

import numpy as np
import pandas as pd
import torch

from .ablation import ablated, ablation_sweep
from .data.dataset import ImageDataset
from .errors import InvalidInputError
from .metrics import mean_ci, object_share, radial_power_spectrum, similarity_table, spectrum_ratio
from .metrics.segregation import attribution_map, wilson_interval
from .metrics.shape_bias import geirhos_shape_bias, pairwise_shape_bias
from .metrics.surround import (
    WHITE_SATURATION,
    WHITE_VALUE,
    central_region,
    smooth_maps,
    surround_colour,
    top_fraction_region,
)
from .visualize import Visualization

__all__ = [
    "best_frames",
    "perceptual_by_condition",
    "occlusion_under_ablation",
    "evidence_targets",
    "condition_images",
    "run_images",
    "readout_logits_under_ablation",
    "similarity_by_condition",
    "similarity_of_sets",
    "spectrum_ratio_by_condition",
    "object_share_by_condition",
    "attribution_share_under_ablation",
    "accuracy_under_ablation",
    "shape_bias_under_ablation",
    "background_colour_by_condition",
    "control_under_both_signs",
    "compare_signs",
]

Condition = tuple[int, str, float]
LabelledImages = Union[ImageDataset, tuple[torch.Tensor, torch.Tensor]]
"""A data set, or ``(images [n, C, H, W] in [0, 1] or uint8, targets [n])``."""


Ablate = Callable[[str, float], ContextManager[Any]]
"""A condition: ``ablate(sign, alpha)`` is a context manager inside which the model is changed."""


def _readout_ablation(model: Any) -> Ablate:
    """Every readout unit of ``model`` sign-ablated (the paper's condition)."""
    return lambda sign, alpha: ablated(model.model, model.entry.readout, None, sign, alpha)


def _logits_under(
    model: Any, images: Mapping[str, torch.Tensor], signs: Sequence[str], alphas: Sequence[float],
    ablate: Ablate,
) -> Iterator[tuple[str, float, dict[str, torch.Tensor]]]:
    """Logits of every image set under every ``(sign, alpha)`` of ``sorted({0, *alphas})``,
    one forward pass each inside ``ablate(sign, alpha)``."""
    for sign in signs:
        for alpha in sorted({0.0, *map(float, alphas)}):
            with ablate(sign, alpha):
                yield sign, alpha, {name: model.logits(batch) for name, batch in images.items()}


def run_images(vis: Visualization) -> tuple[pd.DataFrame, torch.Tensor]:
    """Every run of a visualization: its table and best images, float ``[n, 3, H, W]`` in [0, 1]."""
    table = vis.table()
    return table, torch.from_numpy(vis.images(table)).permute(0, 3, 1, 2).float() / 255.0


def condition_images(vis: Visualization) -> dict[Condition, torch.Tensor]:
    """Every run's best image per ``(unit, sign, alpha)`` as float ``[n, 3, H, W]`` in [0, 1]."""
    table, images = run_images(vis)
    grouped: dict[Condition, torch.Tensor] = {}
    for key, index in table.groupby(["unit", "sign", "alpha"]).indices.items():
        grouped[(int(key[0]), str(key[1]), float(key[2]))] = images[index]
    return grouped


def best_frames(
    vis: Visualization, signs: Sequence[str], generator: str | None = None
) -> dict[Condition, np.ndarray]:
    """The image a figure shows for each condition: the best run's, as ``[H, W, 3]`` uint8.

    The control (``alpha = 0``) is listed under every sign in ``signs``, so each sign's row
    of a figure starts with it; ``generator`` restricts the runs to one generator's.
    Statistics never use only these: they use every run.
    """
    best = vis.best_per_condition(generator)
    frames: dict[Condition, np.ndarray] = {}
    for (_, row), image in zip(best.iterrows(), vis.images(best)):
        for sign in (signs if row["sign"] == "control" else [row["sign"]]):
            frames[(int(row["unit"]), str(sign), float(row["alpha"]))] = image
    return frames


def perceptual_by_condition(vis: Visualization, perceptual: Any) -> pd.DataFrame:
    """``1 - LPIPS`` between each unit's control set and every ablated set (Fig. 13).

    ``perceptual`` is a :class:`signseg.metrics.PerceptualSimilarity`. Returns rows ``unit``,
    ``sign``, ``alpha``, ``similarity``.
    """
    sets = condition_images(vis)
    rows = [{"unit": unit, "sign": sign, "alpha": alpha,
             "similarity": perceptual.similarity(sets[(unit, "control", 0.0)], images)}
            for (unit, sign, alpha), images in sets.items() if sign != "control"]
    return pd.DataFrame(rows, columns=["unit", "sign", "alpha", "similarity"])


def _signs(conditions: Sequence[Condition]) -> list[str]:
    return sorted({s for _, s, _ in conditions if s != "control"})


def similarity_by_condition(
    vis: Visualization, embedders: Mapping[str, Any] | Sequence[Any], *, progress: bool = True
) -> pd.DataFrame:
    """Mean pairwise cosine similarity of control vs ablated sets in each readout network.

    Returns rows ``unit``, ``sign``, ``alpha``, ``embedder``, ``similarity``; the
    control-vs-control ceiling appears with ``sign = "ceiling"``, and the control itself
    (the ceiling value) at ``alpha = 0`` under each sign. The preferred images are generated
    images, so zoo models of the ensemble embed them resized whole (``crop=False``), as the
    target network scored them.
    """
    return similarity_of_sets(condition_images(vis), embedders, progress=progress)


def similarity_of_sets(
    sets: Mapping[Condition, torch.Tensor], embedders: Mapping[str, Any] | Sequence[Any], *,
    progress: bool = True
) -> pd.DataFrame:
    """:func:`similarity_by_condition` of image sets gathered in any way.

    ``sets`` maps ``(unit, sign, alpha)`` to float images ``[n, 3, H, W]`` in ``[0, 1]``, with
    each unit's control under ``(unit, "control", 0.0)`` (two images at least, for the
    ceiling); ``sign`` may name any condition (e.g. a silenced cell population). Returns the
    same table as :func:`similarity_by_condition`.
    """
    frames = []
    for unit in sorted({u for u, _, _ in sets}):
        control = sets[(unit, "control", 0.0)]
        ablated_sets = {(s, a): images for (u, s, a), images in sets.items()
                        if u == unit and s != "control"}
        table = similarity_table(control, ablated_sets, embedders, progress=progress, crop=False)
        ceiling = table[table["condition"] == "ceiling"]
        rows = table[table["condition"] != "ceiling"]
        frame = pd.DataFrame({
            "unit": unit,
            "sign": [c[0] for c in rows["condition"]],
            "alpha": [c[1] for c in rows["condition"]],
            "embedder": rows["embedder"].to_numpy(),
            "similarity": rows["similarity"].to_numpy(),
        })
        starts = [ceiling.assign(sign=s, alpha=0.0) for s in _signs(list(sets))]
        ceil = ceiling.assign(sign="ceiling", alpha=0.0)
        extra = pd.concat([*starts, ceil])[["sign", "alpha", "embedder", "similarity"]]
        frames += [frame, extra.assign(unit=unit)]
    return pd.concat(frames, ignore_index=True)[["unit", "sign", "alpha", "embedder", "similarity"]]


def spectrum_ratio_by_condition(vis: Visualization) -> pd.DataFrame:
    """Control / ablated radially averaged power, per sign and alpha, CI over units.

    Each unit's spectrum in a condition is the mean over its runs. Returns rows ``sign``,
    ``alpha``, ``frequency``, ``ratio``, ``ci_low``, ``ci_high``, ``n``.
    """
    sets = condition_images(vis)
    units = sorted({u for u, _, _ in sets})
    mean_spectrum: dict[Condition, np.ndarray] = {}
    frequencies = None
    for key, images in sets.items():
        frequencies, power = radial_power_spectrum(images)
        mean_spectrum[key] = power.mean(axis=0)
    frames = []
    for sign in _signs(list(sets)):
        for alpha in sorted({a for _, s, a in sets if s == sign}):
            control = np.stack([mean_spectrum[(u, "control", 0.0)] for u in units])
            ablated_power = np.stack([mean_spectrum[(u, sign, alpha)] for u in units])
            frames.append(spectrum_ratio(control, ablated_power, frequencies)
                          .assign(sign=sign, alpha=alpha))
    return pd.concat(frames, ignore_index=True)


def object_share_by_condition(
    vis: Visualization, reference_mask: torch.Tensor, energy: str = "deviation"
) -> pd.DataFrame:
    """Share of each preferred image's contrast energy inside a reference object mask.

    ``reference_mask`` is ``[H, W]`` (e.g. the class-average foreground mask of the
    procedural set, :func:`signseg.metrics.canonical_mask`) or a mapping unit -> mask.
    Returns one row per run: ``unit``, ``sign``, ``alpha``, ``generator``, ``restart``,
    ``share``; the control rows are repeated under each sign at ``alpha = 0``.
    """
    table, images = run_images(vis)
    shares = np.empty(len(table))
    for unit, index in table.groupby("unit").indices.items():
        mask = reference_mask[unit] if isinstance(reference_mask, Mapping) else reference_mask
        shares[index] = object_share(images[index], mask, method="contrast", energy=energy)
    out = table[["unit", "sign", "alpha", "generator", "restart"]].assign(share=shares)
    return control_under_both_signs(out)


def control_under_both_signs(table: pd.DataFrame) -> pd.DataFrame:
    """Repeat the ``sign == "control"`` rows under every ablation sign (at their alpha 0)."""
    control = table[table["sign"] == "control"]
    others = table[table["sign"] != "control"]
    starts = [control.assign(sign=s) for s in sorted(others["sign"].unique())]
    return pd.concat([*starts, others], ignore_index=True)


def compare_signs(
    table: pd.DataFrame, value: str, alpha: float, paired_by: str = "unit",
    confidence: float = 0.95,
) -> dict[str, float]:
    """Paired comparison of positive vs negative ablation at one ``alpha``.

    ``table`` holds one row per ``(paired_by, sign, alpha)`` (e.g. per-unit means of a
    metric); rows are averaged within each pair first. Returns the mean of ``value`` under
    each sign, the mean paired difference ``negative - positive`` with its t confidence
    interval, and the number of pairs ``n``. The interval is ``NaN`` for a single pair.

    Raises
    ------
    InvalidInputError
        ``value`` or ``paired_by`` is not a column, or no pair has both signs at ``alpha``.
    """
    for column in (value, paired_by, "sign", "alpha"):
        if column not in table.columns:
            raise InvalidInputError(
                f"compare_signs needs a {column!r} column; the table has {list(table.columns)}")
    at_alpha = table[np.isclose(table["alpha"].astype(float), float(alpha))]
    wide = (at_alpha[at_alpha["sign"].isin(["positive", "negative"])]
            .groupby([paired_by, "sign"])[value].mean().unstack("sign").dropna())
    if wide.empty or not {"positive", "negative"} <= set(wide.columns):
        raise InvalidInputError(
            f"no {paired_by} has both a positive and a negative row at alpha = {alpha}")
    difference, low, high = mean_ci((wide["negative"] - wide["positive"]).to_numpy(), confidence)
    return {"positive": float(wide["positive"].mean()), "negative": float(wide["negative"].mean()),
            "difference": difference, "ci_low": low, "ci_high": high, "n": int(len(wide))}


def attribution_share_under_ablation(
    model: Any,
    images: torch.Tensor,
    masks: torch.Tensor,
    targets: torch.Tensor,
    signs: Sequence[str],
    alphas: Sequence[float],
    *,
    ablate: Ablate | None = None,
) -> pd.DataFrame:
    """Where a unit's evidence lies when its positive or negative inputs are removed.

    For real images with ground-truth object masks, the share of ``|input x gradient|`` of
    the true class's logit that falls on the object, with every readout unit ablated by
    ``(sign, alpha)``. If positive weights carry object features, removing them moves the
    remaining evidence to the background (the share falls) and removing negative weights
    concentrates it on the object (the share rises).

    ``ablate(sign, alpha)`` replaces the readout sign ablation by another condition: a
    context manager inside which ``model`` is changed (e.g.
    :func:`signseg.ei.populations.silenced`, with ``signs`` naming cell populations).

    Returns rows ``sign``, ``alpha``, ``mean``, ``ci_low``, ``ci_high``, ``n`` (images with
    any attribution; a condition under which no image has any is NaN with ``n = 0``).
    """
    ablate = ablate or _readout_ablation(model)
    preprocessing = model.entry.preprocessing

    def logits(x: torch.Tensor) -> torch.Tensor:
        return model.model(preprocessing(x))

    rows = []
    for sign in signs:
        for alpha in sorted({0.0, *map(float, alphas)}):
            with ablate(sign, alpha):
                shares = object_share(images, masks, method="attribution", model_fn=logits,
                                      targets=targets)
            shares = shares[np.isfinite(shares)]
            # no image with any evidence left (the logit no longer depends on the input): NaN, n = 0
            mean, low, high = mean_ci(shares) if len(shares) else (np.nan, np.nan, np.nan)
            rows.append({"sign": sign, "alpha": alpha, "mean": mean, "ci_low": low,
                         "ci_high": high, "n": len(shares)})
    return pd.DataFrame(rows)


def readout_logits_under_ablation(
    model: Any, features: Mapping[str, torch.Tensor], signs: Sequence[str], alphas: Sequence[float]
) -> Iterator[tuple[str, float, dict[str, torch.Tensor]]]:
    """Logits of precomputed penultimate features with every readout unit sign-ablated.

    For each sign and each alpha of ``sorted({0, *alphas})`` (the intact readout first, under
    every sign), every row of the readout is ablated (:func:`signseg.ablation.ablation_sweep`)
    and each feature set becomes logits with one matrix product; the bias is untouched.

    Parameters
    ----------
    model:
        A :class:`~signseg.zoo.ZooModel` (``readout_layer()``).
    features:
        Name -> ``[n, F]`` features (``model.features(images)``), computed once by the caller.
    signs, alphas:
        Ablation conditions.

    Yields
    ------
    (sign, alpha, logits)
        ``logits`` maps each name of ``features`` to ``[n, classes]``.
    """
    readout = model.readout_layer()
    weight = readout.weight.detach()
    bias = readout.bias.detach() if readout.bias is not None else torch.zeros(weight.shape[0])
    for sign, alpha, ablated_weight in ablation_sweep(weight, signs, sorted({0.0, *map(float, alphas)})):
        yield sign, alpha, {name: f @ ablated_weight.to(f.device).T + bias.to(f.device)
                            for name, f in features.items()}


def _images_and_targets(value: LabelledImages, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(images, targets)`` of a data set or of a pair."""
    if isinstance(value, ImageDataset):
        return value.images, value.targets
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return value[0], torch.as_tensor(value[1])
    raise InvalidInputError(
        f"datasets[{name!r}] must be an ImageDataset or a pair (images, targets); got {type(value).__name__}")


def accuracy_under_ablation(
    model: Any,
    datasets: Mapping[str, LabelledImages],
    signs: Sequence[str],
    alphas: Sequence[float],
    decide: Callable[[torch.Tensor], torch.Tensor] | None = None,
    *,
    ablate: Ablate | None = None,
) -> pd.DataFrame:
    """Top-1 accuracy on each data-set variant with every readout unit sign-ablated.

    ``datasets`` maps a variant (e.g. the background-challenge ``original``, ``only_fg``,
    ``only_bg``, ``mixed_rand``, ``mixed_same``; :func:`signseg.data.box_backgrounds.background_challenge`
    returns such a mapping) to an :class:`~signseg.data.dataset.ImageDataset` or to
    ``(images in [0, 1], targets)``. The penultimate features of each variant are computed
    once; every ``(sign, alpha)`` is a matrix product with the ablated readout
    (:func:`readout_logits_under_ablation`). ``decide`` maps logits ``[n, classes]`` to the
    predicted labels ``[n]`` when the targets are not the model's classes (e.g. ImageNet ->
    IN-9: ``lambda z: signseg.data.bgchallenge.in9_decisions(z, label_map)``); default the
    arg-max. ``ablate(sign, alpha)``: another condition than the readout sign ablation (see
    :func:`attribution_share_under_ablation`); every condition is then a full forward pass.
    Returns rows ``sign``, ``alpha``, ``variant``, ``accuracy``, ``ci_low``, ``ci_high``
    (Wilson 95%), ``n``.
    """
    if not datasets:
        raise InvalidInputError("datasets is empty; pass at least one variant")
    pairs = {variant: _images_and_targets(value, variant) for variant, value in datasets.items()}
    if ablate is None:
        features = {variant: model.features(images) for variant, (images, _) in pairs.items()}
        conditions = readout_logits_under_ablation(model, features, signs, alphas)
    else:
        conditions = _logits_under(model, {v: images for v, (images, _) in pairs.items()},
                                   signs, alphas, ablate)
    rows = []
    for sign, alpha, logits in conditions:
        for variant, (_, targets) in pairs.items():
            predicted = logits[variant].argmax(dim=1) if decide is None else decide(logits[variant])
            correct = int((predicted == targets.to(predicted.device)).sum())
            n = len(predicted)
            low, high = wilson_interval(correct, n, 0.95)
            rows.append({"sign": sign, "alpha": alpha, "variant": variant,
                         "accuracy": correct / n, "ci_low": low, "ci_high": high, "n": n})
    return pd.DataFrame(rows)


def shape_bias_under_ablation(
    model: Any,
    cue_conflict: Any,
    signs: Sequence[str],
    alphas: Sequence[float],
    confidence: float = 0.95,
    aggregate: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> pd.DataFrame:
    """Shape bias on cue-conflict images with every readout unit sign-ablated (paper Fig. 16).

    Parameters
    ----------
    model:
        A :class:`~signseg.zoo.ZooModel`.
    cue_conflict:
        A :class:`~signseg.data.hybrid_cues.CueConflictSet`, or an
        :class:`~signseg.data.dataset.ImageDataset` whose ``targets`` are the shape classes
        and ``meta["texture"]`` the texture classes (as Geirhos et al.'s set from
        :func:`signseg.data.cueconflict.load_cue_conflict`, with
        ``aggregate=signseg.data.cueconflict.category_probabilities`` for ImageNet models).
        Images whose shape and texture class agree are left out of every measure.
    signs, alphas:
        Ablation conditions; alpha 0 (intact) is always included, under every sign.
    confidence:
        Coverage of the Wilson intervals.
    aggregate:
        Optional map from the model's logits ``[n, classes]`` to the logits of the classes
        the targets index (e.g. ImageNet's 1000 classes to Geirhos et al.'s 16 categories);
        ``None`` when the targets index the model's outputs.

    Returns
    -------
    pandas.DataFrame
        One row per ``(sign, alpha)``: ``shape_bias``, ``ci_low``, ``ci_high``, ``n``,
        ``ties`` (pairwise measure, :func:`signseg.metrics.shape_bias.pairwise_shape_bias`),
        ``geirhos_shape_bias``, ``geirhos_low``, ``geirhos_high``, ``geirhos_n``,
        ``shape_accuracy``, ``texture_accuracy``
        (:func:`signseg.metrics.shape_bias.geirhos_shape_bias`).
    """
    conflict = getattr(cue_conflict, "conflict", cue_conflict)
    if not isinstance(conflict, ImageDataset) or "texture" not in conflict.meta:
        raise InvalidInputError(
            "cue_conflict must be a CueConflictSet (signseg.data.hybrid_cues.cue_conflict) or an "
            "ImageDataset with meta['texture'] (signseg.data.cueconflict.load_cue_conflict); got "
            + type(cue_conflict).__name__)
    shape, texture = conflict.targets, conflict.meta["texture"]
    features = {"conflict": model.features(conflict.images)}
    rows = []
    for sign, alpha, logits in readout_logits_under_ablation(model, features, signs, alphas):
        values = logits["conflict"] if aggregate is None else aggregate(logits["conflict"])
        pairwise = pairwise_shape_bias(values, shape, texture, confidence)
        geirhos = geirhos_shape_bias(values, shape, texture, confidence)
        rows.append({"sign": sign, "alpha": alpha, **pairwise,
                     "geirhos_shape_bias": geirhos["shape_bias"], "geirhos_low": geirhos["ci_low"],
                     "geirhos_high": geirhos["ci_high"], "geirhos_n": geirhos["n"],
                     "shape_accuracy": geirhos["shape_accuracy"],
                     "texture_accuracy": geirhos["texture_accuracy"]})
    return pd.DataFrame(rows)


def _network_zero(model: Any, channels: int) -> torch.Tensor:
    """The image in ``[0, 1]`` that the model's normalisation maps to 0: ``[1, C, 1, 1]``."""
    fill = torch.tensor(model.entry.preprocessing.mean, dtype=torch.float32).view(1, -1, 1, 1)
    return fill if fill.shape[1] == channels else fill.mean(1, keepdim=True)


def occlusion_under_ablation(
    model: Any,
    images: torch.Tensor,
    masks: torch.Tensor,
    targets: torch.Tensor,
    signs: Sequence[str],
    alphas: Sequence[float],
    confidence: float = 0.95,
) -> pd.DataFrame:
    """How much the true class's logit needs the object, and the background, under ablation.

    Each image is shown intact, with its object occluded (the mask filled with the model's
    normalisation mean, i.e. zero network input) and with its background occluded. The drop
    of the true class's logit from the intact image is the evidence the occluded part
    provided. Features are computed once per version; every ``(sign, alpha)`` readout is a
    matrix product (:func:`readout_logits_under_ablation`). If positive weights carry the object,
    positive ablation shrinks the object drop more than negative ablation does.

    Parameters
    ----------
    model:
        A :class:`~signseg.zoo.ZooModel`.
    images, masks, targets:
        Images in ``[0, 1]`` ``[N, C, H, W]``, object masks ``[N, H, W]`` (True on the
        object) and true classes ``[N]``.
    signs, alphas:
        Ablation conditions; alpha 0 (intact) is always included, under every sign.

    Returns
    -------
    pandas.DataFrame
        ``sign``, ``alpha``, ``object_drop``, ``object_low``, ``object_high``,
        ``background_drop``, ``background_low``, ``background_high``, ``n``.
    """
    if masks.shape != (images.shape[0], *images.shape[2:]):
        raise InvalidInputError(
            f"masks must have shape [N, H, W] = {[images.shape[0], *images.shape[2:]]}, got {list(masks.shape)}")
    fill = _network_zero(model, images.shape[1])
    inside = masks[:, None].to(torch.bool)
    versions = {
        "intact": images,
        "object": torch.where(inside, fill, images.float()),
        "background": torch.where(inside, images.float(), fill),
    }
    features = {name: model.features(batch) for name, batch in versions.items()}
    index = torch.as_tensor(targets).long()
    rows = []
    for sign, alpha, logits in readout_logits_under_ablation(model, features, signs, alphas):
        logit = {name: values.gather(1, index[:, None].to(values.device)).squeeze(1).cpu()
                 for name, values in logits.items()}
        row: dict[str, Any] = {"sign": sign, "alpha": alpha}
        for part in ("object", "background"):
            drop, low, high = mean_ci((logit["intact"] - logit[part]).numpy(), confidence)
            row.update({f"{part}_drop": drop, f"{part}_low": low, f"{part}_high": high})
        row["n"] = int(len(index))
        rows.append(row)
    return pd.DataFrame(rows)


def evidence_targets(model: Any, dataset: Any) -> torch.Tensor:
    """The class whose evidence the ground-truth tests follow, per image.

    The true label when the model was trained on the data set's classes (same class list);
    otherwise (an ImageNet model shown Tiny ImageNet images) the model's own top class on the
    intact image, so the test asks where the evidence for what the model sees lies.
    """
    if list(model.classes) == list(dataset.classes):
        return dataset.targets
    return model.logits(dataset.float_images()).argmax(dim=1)


def background_colour_by_condition(
    vis: Visualization,
    model: Any,
    *,
    region: str = "attribution",
    fraction: float = 0.25,
    sigma: float = 0.03,
    white_value: float = WHITE_VALUE,
    white_saturation: float = WHITE_SATURATION,
) -> pd.DataFrame:
    """Colour of each preferred image outside its most relevant region (paper Fig. 4).

    Measures the "white background after negative ablation": brightness (HSV value),
    saturation, luminance and white share of the surround (:mod:`signseg.metrics.surround`).

    Parameters
    ----------
    vis:
        Stored visualizations of ``model``.
    model:
        The :class:`~signseg.zoo.ZooModel` that was visualized (used by
        ``region="attribution"`` only).
    region:
        ``"attribution"`` (default): the ``fraction`` of pixels with the largest
        ``|(x - x0) * d logit / d x|`` (summed over colour channels) of the visualized unit's
        logit through the model with that run's ablation (none for the control), where ``x0``
        is the image the model's normalisation maps to 0 (so it is input x gradient of the
        network's own input, neutral between bright and dark); the map is smoothed with a
        Gaussian of ``sigma`` times the image side first. Images are scored as the
        visualization scored them (resized whole, ``crop=False``).
        ``"centre"``: the centred rectangle of ``fraction`` of the image (model-free).
    fraction:
        Share of the pixels in the relevant region, in ``(0, 1)``.
    sigma:
        Smoothing of the attribution map, as a fraction of the image side (0: none).
    white_value, white_saturation:
        Thresholds of a white pixel.

    Returns
    -------
    pandas.DataFrame
        One row per run: ``unit``, ``sign``, ``alpha``, ``generator``, ``restart``,
        ``brightness``, ``saturation``, ``luminance``, ``white_fraction``; the control rows
        are repeated under each sign at ``alpha = 0``. Summarise with
        ``metrics.summarize(table, "brightness", by=["sign", "alpha"], nested=("unit",))``.
    """
    table, images = run_images(vis)
    height, width = images.shape[-2:]
    if region == "centre":
        regions = central_region(height, width, fraction)
    elif region == "attribution":
        regions = _attribution_regions(model, table, images, fraction, sigma * min(height, width))
    else:
        raise InvalidInputError(f"region must be 'attribution' or 'centre'; got {region!r}")
    colour = surround_colour(images, regions, white_value, white_saturation)
    keys = table[["unit", "sign", "alpha", "generator", "restart"]].reset_index(drop=True)
    return control_under_both_signs(pd.concat([keys, colour], axis=1))


def _attribution_regions(
    model: Any, table: pd.DataFrame, images: torch.Tensor, fraction: float, sigma: float
) -> torch.Tensor:
    """Top-``fraction`` regions of each run's smoothed attribution map, ``bool [n, H, W]``."""
    preprocessing = model.entry.preprocessing
    device = next(model.model.parameters()).device
    baseline = _network_zero(model, images.shape[1])

    def logits(x: torch.Tensor) -> torch.Tensor:
        return model.model(preprocessing(x, crop=False).to(device))

    regions = torch.zeros(images.shape[0], *images.shape[-2:], dtype=torch.bool)
    for (unit, sign, alpha), index in table.groupby(["unit", "sign", "alpha"]).indices.items():
        condition = (nullcontext() if sign == "control"
                     else ablated(model.model, model.entry.readout, [int(unit)], sign, float(alpha)))
        with condition:
            maps = attribution_map(logits, images[index], int(unit), baseline=baseline)
        regions[torch.as_tensor(index)] = top_fraction_region(smooth_maps(maps.cpu(), sigma), fraction)
    return regions
