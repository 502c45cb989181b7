"""Measure the paper's claim about positive and negative Dale-like channels (Section 4.5).

The paper (Section 4.5, Fig. 19) shows pictures: channels whose outgoing weights are mostly
positive prefer high-frequency, achromatic, localized features (edges, snouts, eyes); mostly
negative ones low-frequency, coloured, dispersed, background-like ones (sky, grass). Here each
part of that sentence becomes a number per channel, on two kinds of images:

* **visualizations** (:func:`visualization_measures`): the channel's preferred image --
  ``frequency`` (spectral centroid of the luminance, cycles/pixel), ``colourfulness``
  (Hasler & Süsstrunk), ``saturation`` (mean HSV saturation) and ``dispersion`` (fraction of
  the image holding half of its local contrast energy; small = localized);
* **natural images** (:func:`natural_measures`): the channel's activation maps on Tiny
  ImageNet images with object boxes -- ``object_share`` (share of the channel's activation
  inside the object box, minus the box's area: > 0 means the channel fires on the object),
  ``map_dispersion`` (fraction of the map holding half the activation), and the frequency,
  colourfulness and saturation of the image patches around its strongest responses.

:func:`sign_contrasts` compares the top positive with the top negative channels of every
layer (difference of means, bootstrap CI, permutation p-value) and :func:`depth_trends`
correlates each measure with a channel's sign consistency ``p+ - p-`` over all channels of a
layer.

**Choice**: natural images reach the network whole (resized, not centre-cropped) so that its
activation maps align with the object boxes.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch

from .errors import InvalidInputError
from .metrics import box_activation, image_statistics
from .metrics.stats import contrast_table, correlation_with_ci
from .objectives import activation_maps
from .progress import tqdm

__all__ = ["IMAGE_MEASURES", "NATURAL_MEASURES", "image_measures", "visualization_measures",
           "natural_measures", "sign_contrasts", "depth_trends"]

#: Measures of an image (a visualization or a natural patch) and what the paper predicts for
#: positive minus negative channels.
IMAGE_MEASURES = {"frequency": "higher", "colourfulness": "lower", "saturation": "lower",
                  "dispersion": "lower"}
#: Measures of a channel's responses to natural images.
NATURAL_MEASURES = {"object_share": "higher", "map_dispersion": "lower",
                    "patch_frequency": "higher", "patch_colourfulness": "lower",
                    "patch_saturation": "lower"}


def _float_images(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """``[n, 3, H, W]`` float images in [0, 1] from uint8 ``[n, H, W, 3]`` or float NCHW."""
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    if images.dtype == torch.uint8:
        if images.dim() == 4 and images.shape[-1] == 3:
            images = images.permute(0, 3, 1, 2)
        return images.float() / 255
    return images.float()


def image_measures(images: np.ndarray | torch.Tensor) -> pd.DataFrame:
    """``frequency, colourfulness, saturation, dispersion`` of every image.

    Parameters
    ----------
    images:
        uint8 ``[n, H, W, 3]`` (the results stores' layout) or float ``[n, 3, H, W]`` in [0, 1].
    """
    floats = _float_images(images)
    return pd.DataFrame({
        "frequency": image_statistics.spectral_centroid(floats),
        "colourfulness": image_statistics.colourfulness(floats),
        "saturation": image_statistics.mean_saturation(floats),
        "dispersion": image_statistics.contrast_dispersion(floats),
    })


def visualization_measures(table: pd.DataFrame, images: np.ndarray) -> pd.DataFrame:
    """``table`` (one row per visualization) with the :data:`IMAGE_MEASURES` of its images."""
    if len(table) != len(images):
        raise InvalidInputError(f"{len(table)} table rows for {len(images)} images; give one image per row")
    return pd.concat([table.reset_index(drop=True), image_measures(images)], axis=1)


def natural_measures(
    model: Any,
    ranking: pd.DataFrame,
    images: torch.Tensor,
    masks: torch.Tensor,
    *,
    top_images: int = 20,
    patch: int = 16,
    batch_size: int = 128,
    progress: bool = True,
) -> tuple[pd.DataFrame, dict[tuple[str, int], np.ndarray]]:
    """Every ranked channel's responses to natural images with object boxes.

    Parameters
    ----------
    model:
        A :class:`signseg.zoo.ZooModel` (or an ``nn.Module``).
    ranking:
        Rows ``layer, channel`` (e.g. :func:`signseg.channels.channel_ranking`, conv layers
        only: their input must have spatial maps).
    images:
        ``[n, 3, H, W]`` natural images (uint8 or float in [0, 1]).
    masks:
        ``[n, H, W]`` bool object boxes of ``images``.
    top_images:
        Strongest-responding images per channel that the patch and box measures average.
    patch:
        Side (px, in ``images``' resolution) of the patch cut around a response's peak.
    batch_size:
        Images per forward pass.
    progress:
        A progress bar over the layers.

    Returns
    -------
    (pandas.DataFrame, dict)
        ``ranking``'s rows with the :data:`NATURAL_MEASURES`; and ``(layer, channel) ->``
        uint8 patches ``[top_images, patch, patch, 3]`` (strongest first) for the explorer.
    """
    if images.shape[0] != masks.shape[0]:
        raise InvalidInputError(f"{images.shape[0]} images but {masks.shape[0]} masks; give one mask per image")
    if not 1 <= top_images <= images.shape[0]:
        raise InvalidInputError(f"top_images must lie in [1, {images.shape[0]}], got {top_images}")
    floats = _float_images(images)
    rows, patches = [], {}
    layers = list(dict.fromkeys(ranking["layer"]))
    for layer in tqdm(layers, desc="natural images", unit="layer", disable=not progress):
        chosen = ranking[ranking["layer"] == layer]
        channels = chosen["channel"].astype(int).tolist()
        maps = activation_maps(model, layer, floats, site="input", channels=channels,
                               batch_size=batch_size, crop=False).clamp_min(0)
        for column, (_, row) in enumerate(chosen.iterrows()):
            measures, crops = _channel_measures(maps[:, column], floats, masks, top_images, patch)
            rows.append({**row.to_dict(), **measures})
            patches[(layer, int(row["channel"]))] = crops
    return pd.DataFrame(rows), patches


def _channel_measures(maps: torch.Tensor, images: torch.Tensor, masks: torch.Tensor,
                      top_images: int, patch: int) -> tuple[dict[str, float], np.ndarray]:
    index, y, x, _ = box_activation.top_activating(maps, top_images)
    top_maps = maps[torch.as_tensor(index)]
    active = top_maps.flatten(1).sum(dim=1) > 0
    if not bool(active.any()):
        nan = float("nan")
        measures = dict.fromkeys(NATURAL_MEASURES, nan)
    else:
        chosen = torch.as_tensor(index)[active]
        share = box_activation.box_share(top_maps[active], masks[chosen])
        chance = masks[chosen].flatten(1).float().mean(dim=1).numpy()
        crops = box_activation.crop_patches(images, index, y, x, tuple(maps.shape[-2:]), patch)
        stats = image_measures(crops)
        measures = {
            "object_share": float(np.mean(share - chance)),
            "map_dispersion": float(np.mean(image_statistics.map_dispersion(top_maps[active]))),
            "patch_frequency": float(stats["frequency"].mean()),
            "patch_colourfulness": float(stats["colourfulness"].mean()),
            "patch_saturation": float(stats["saturation"].mean()),
        }
    crops = box_activation.crop_patches(images, index, y, x, tuple(maps.shape[-2:]), patch)
    uint8 = (crops.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return measures, uint8


def sign_contrasts(frame: pd.DataFrame, measures: Sequence[str], *, by: str = "layer",
                   order: Sequence[str] | None = None, n_boot: int = 2000,
                   n_permutations: int = 10000, seed: int = 0) -> pd.DataFrame:
    """Top positive vs top negative channels per ``by`` group and measure.

    Parameters
    ----------
    frame:
        One row per channel (or visualization) with ``sign`` (``positive`` / ``negative``:
        the ranking list it was taken from), ``by`` and the ``measures``.
    measures:
        Columns to compare.
    by:
        Grouping column (default per layer).
    order:
        Order of the groups in the result (default: as they first appear in ``frame``), e.g.
        the layers in depth order.
    n_boot, n_permutations, seed:
        Bootstrap replicates of the CI, permutations of the p-value, and their seed.

    Returns
    -------
    pandas.DataFrame
        One row per group and measure: means per sign, the difference (positive - negative)
        with its 95% CI, the permutation p-value, the counts, the paper's predicted direction
        and whether the measured difference agrees with it at p < 0.05.
    """
    predicted = {**IMAGE_MEASURES, **NATURAL_MEASURES}
    parts = []
    for measure in measures:
        # a silent channel (no activation on any image) or a flat image has no value: left out
        # deliberately, per measure, and counted in n_pos / n_neg
        clean = frame.dropna(subset=[measure])
        parts.append(contrast_table(clean, measure, by=by, sign_column="sign", n_boot=n_boot,
                                    n_permutations=n_permutations, seed=seed))
    position = {group: i for i, group in enumerate(dict.fromkeys([*(order or []), *frame[by]]))}
    table = pd.concat(parts, ignore_index=True)
    table = table.sort_values(by, key=lambda column: column.map(position), kind="mergesort")
    table = table.reset_index(drop=True)
    table["predicted"] = table["measure"].map(predicted)
    direction = np.where(table["difference"] > 0, "higher", "lower")
    table["agrees"] = (direction == table["predicted"]) & (table["p"] < 0.05)
    return table


def depth_trends(frame: pd.DataFrame, measures: Sequence[str], *, by: str = "layer",
                 n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Spearman correlation of each measure with ``p_positive - p_negative`` over all channels
    of each layer, with its bootstrap CI and p-value."""
    rows = []
    for group, members in frame.groupby(by, sort=False):
        consistency = (members["p_positive"] - members["p_negative"]).to_numpy()
        for measure in measures:
            values = members[measure].to_numpy(dtype=float)
            keep = np.isfinite(values)
            if keep.sum() < 3:
                continue
            result = correlation_with_ci(consistency[keep], values[keep], method="spearman",
                                         n_boot=n_boot, seed=seed)
            rows.append({by: group, "measure": measure, "n": int(keep.sum()), **result})
    return pd.DataFrame(rows)
