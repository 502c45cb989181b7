"""From stored visualizations and ablated models to the tables of the ablation section.

Each function here turns a :class:`~signseg.visualize.Visualization` (or a model and a data
set) into one tidy table that a figure of paper Section 4.2 plots: representational
similarity, spatial-frequency spectra, the object share of preferred images, and the
object/background evidence a unit keeps under ablation. The metrics themselves live in
:mod:`signseg.metrics`; this module only pairs control and ablated sets and loops over
conditions. In every table the control (``alpha = 0``) is listed under both signs so that
curves start at it.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from .ablation import ablate, ablated
from .errors import InvalidInputError
from .metrics import mean_ci, object_share, radial_power_spectrum, similarity_table, spectrum_ratio
from .metrics.segregation import wilson_interval
from .visualize import Visualization

__all__ = [
    "best_frames",
    "perceptual_by_condition",
    "occlusion_under_ablation",
    "evidence_targets",
    "condition_images",
    "similarity_by_condition",
    "spectrum_ratio_by_condition",
    "object_share_by_condition",
    "attribution_share_under_ablation",
    "accuracy_under_ablation",
    "control_under_both_signs",
    "compare_signs",
]

Condition = tuple[int, str, float]


def condition_images(vis: Visualization) -> dict[Condition, torch.Tensor]:
    """Every run's best image per ``(unit, sign, alpha)`` as float ``[n, 3, H, W]`` in [0, 1]."""
    table = vis.table()
    images = torch.from_numpy(vis.images(table)).permute(0, 3, 1, 2).float() / 255.0
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
    sets = condition_images(vis)
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
    table = vis.table()
    images = torch.from_numpy(vis.images(table)).permute(0, 3, 1, 2).float() / 255.0
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
) -> pd.DataFrame:
    """Where a unit's evidence lies when its positive or negative inputs are removed.

    For real images with ground-truth object masks, the share of ``|input x gradient|`` of
    the true class's logit that falls on the object, with every readout unit ablated by
    ``(sign, alpha)``. If positive weights carry object features, removing them moves the
    remaining evidence to the background (the share falls) and removing negative weights
    concentrates it on the object (the share rises).

    Returns rows ``sign``, ``alpha``, ``mean``, ``ci_low``, ``ci_high``, ``n`` (images).
    """
    preprocessing = model.entry.preprocessing

    def logits(x: torch.Tensor) -> torch.Tensor:
        return model.model(preprocessing(x))

    rows = []
    for sign in signs:
        for alpha in sorted({0.0, *map(float, alphas)}):
            with ablated(model.model, model.entry.readout, None, sign, alpha):
                shares = object_share(images, masks, method="attribution", model_fn=logits,
                                      targets=targets)
            shares = shares[np.isfinite(shares)]
            mean, low, high = mean_ci(shares)
            rows.append({"sign": sign, "alpha": alpha, "mean": mean, "ci_low": low,
                         "ci_high": high, "n": len(shares)})
    return pd.DataFrame(rows)


def accuracy_under_ablation(
    model: Any,
    datasets: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
    signs: Sequence[str],
    alphas: Sequence[float],
) -> pd.DataFrame:
    """Top-1 accuracy on each data-set variant with every readout unit sign-ablated.

    ``datasets`` maps a variant (e.g. the background-challenge ``original``, ``only_fg``,
    ``only_bg``, ``mixed_rand``, ``mixed_same``) to ``(images in [0, 1], targets)``. The
    penultimate features of each variant are computed once; every ``(sign, alpha)`` is a
    matrix product with the ablated readout. Returns rows ``sign``, ``alpha``, ``variant``,
    ``accuracy``, ``ci_low``, ``ci_high`` (Wilson 95%), ``n``.
    """
    if not datasets:
        raise InvalidInputError("datasets is empty; pass at least one variant")
    readout = model.readout_layer()
    weight = readout.weight.detach()
    bias = readout.bias.detach() if readout.bias is not None else torch.zeros(weight.shape[0])
    features = {variant: model.features(images) for variant, (images, _) in datasets.items()}
    rows = []
    for sign in signs:
        for alpha in sorted({0.0, *map(float, alphas)}):
            ablated_weight = ablate(weight, sign, alpha)
            for variant, (_, targets) in datasets.items():
                predicted = (features[variant] @ ablated_weight.T + bias).argmax(dim=1)
                correct = int((predicted == torch.as_tensor(targets)).sum())
                n = len(predicted)
                low, high = wilson_interval(correct, n, 0.95)
                rows.append({"sign": sign, "alpha": alpha, "variant": variant,
                             "accuracy": correct / n, "ci_low": low, "ci_high": high, "n": n})
    return pd.DataFrame(rows)


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
    matrix product (:func:`signseg.ablation.ablate`). If positive weights carry the object,
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
    fill = torch.tensor(model.entry.preprocessing.mean, dtype=torch.float32).view(1, -1, 1, 1)
    if fill.shape[1] != images.shape[1]:
        fill = fill.mean(1, keepdim=True)
    inside = masks[:, None].to(torch.bool)
    versions = {
        "intact": images,
        "object": torch.where(inside, fill, images.float()),
        "background": torch.where(inside, images.float(), fill),
    }
    features = {name: model.features(batch) for name, batch in versions.items()}
    readout = model.readout_layer()
    weight = readout.weight.detach()
    bias = readout.bias.detach() if readout.bias is not None else torch.zeros(weight.shape[0])
    index = torch.as_tensor(targets).long()
    rows = []
    for sign in signs:
        for alpha in sorted({0.0, *map(float, alphas)}):
            ablated_weight = ablate(weight, sign, alpha)
            logit = {name: (f @ ablated_weight.T + bias).gather(1, index[:, None]).squeeze(1)
                     for name, f in features.items()}
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
