"""Where in an image a neuron's response comes from, without gradients (paper A.1, Figs. 21, 24).

The paper localizes a feature in vivo by perturbation: in the neuron's preferred image it
shuffles the pixels inside 30 random circles of 50 px diameter (in a 256 px image; circles
that would leave the image are not used), one circle per presented image, which destroys
local structure but keeps local colour and contrast. Each circle's **normalized response
change** is ``(r_intact - r_perturbed) / r_intact``; the circle masks are averaged, weighted
by their change; the average is smoothed with a Gaussian of 30 px standard deviation and the
**relevant region** is where it reaches 0.5. Clearing the image **outside** the relevant
region then removes context while keeping the feature: the paper's neurons responded more
(Fig. 24), as expected if negative (inhibitory) inputs carry the background.

Functions here: :func:`disk` and :func:`circle_masks` (the circles), :func:`shuffle_circles`
(the perturbed images), :func:`response_change`, :func:`localization_map`,
:func:`relevant_region`, :func:`localize` (all of it for a set of neurons and images, with
any response function: in-silico neurons' recorded responses, or a neuron model's
predictions), :func:`clear_background`, :func:`background_clearing` and
:func:`clearing_test` (does the response rise, over neurons), :func:`overlap`.

Sizes scale with the image: diameter ``50 / 256`` and smoothing ``30 / 256`` of its smaller
side (:data:`DIAMETER`, :data:`SIGMA`).

**Choices**: the weighted average at a pixel is ``sum_k c_k m_k / sum_k m_k`` over the circles
covering it (0 where none does), so the map is in units of response change and 0.5 keeps
the paper's meaning; ``relative=True`` instead thresholds at ``threshold`` times the map's
maximum (the full width at half maximum of Fig. 21's caption), which always gives a region
when some circle lowered the response. Cleared pixels are set to mid-grey (``fill = 0.5``),
the usual blank screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from scipy import stats

from ..errors import InvalidInputError
from ..metrics.stats import mean_ci
from ..metrics.surround import smooth_maps
from ..validation import as_unit_images

__all__ = ["CIRCLES", "DIAMETER", "SIGMA", "THRESHOLD", "Localization", "disk", "circle_masks",
           "shuffle_circles", "response_change", "localization_map", "relevant_region", "localize",
           "resize_region", "clear_background", "background_clearing", "clearing_test", "overlap"]

#: Circles per image (paper: 30).
CIRCLES = 30
#: Circle diameter as a share of the image side (paper: 50 px of 256).
DIAMETER = 50 / 256
#: Gaussian smoothing standard deviation as a share of the image side (paper: 30 px of 256).
SIGMA = 30 / 256
#: Normalized response change that makes a pixel relevant (paper: 0.5).
THRESHOLD = 0.5

Respond = Callable[[torch.Tensor], np.ndarray]
"""Images ``[n, 3, H, W]`` in ``[0, 1]`` -> responses ``[n, neurons]``."""


def disk(height: int, width: int, centre: tuple[float, float], radius: float) -> torch.Tensor:
    """``bool`` ``[H, W]``: pixels whose centre ``(y, x)`` lies within ``radius`` of ``centre``
    (pixel ``(i, j)`` has its centre at ``(i, j)``)."""
    y = torch.arange(height, dtype=torch.float64)[:, None]
    x = torch.arange(width, dtype=torch.float64)[None, :]
    return (y - float(centre[0])) ** 2 + (x - float(centre[1])) ** 2 <= float(radius) ** 2 + 1e-9


def circle_masks(height: int, width: int, n: int = CIRCLES, diameter: float | None = None, *,
                 seed: int = 0) -> torch.Tensor:
    """``n`` random circles inside an ``H x W`` image, ``bool`` ``[n, H, W]``.

    Centres are drawn uniformly (``numpy.random.default_rng(seed)``) among the points from
    which the whole circle stays inside the image: ``y`` in ``[r - 1/2, H - 1/2 - r]`` for
    radius ``r = diameter / 2`` (pixel edges at half-integers), likewise ``x``.
    ``diameter`` defaults to :data:`DIAMETER` of the smaller side (px).
    """
    if int(n) < 1:
        raise InvalidInputError(f"n must be >= 1 circles, got {n!r}")
    diameter = DIAMETER * min(height, width) if diameter is None else float(diameter)
    radius = diameter / 2
    if not 0 < diameter <= min(height, width):
        raise InvalidInputError(
            f"diameter must lie in (0, {min(height, width)}] px for a {height} x {width} image, got {diameter!r}")
    rng = np.random.default_rng(seed)
    ys = rng.uniform(radius - 0.5, height - 0.5 - radius, int(n))
    xs = rng.uniform(radius - 0.5, width - 0.5 - radius, int(n))
    masks = torch.stack([disk(height, width, (y, x), radius) for y, x in zip(ys, xs)])
    empty = ~masks.flatten(1).any(dim=1)
    if empty.any():
        raise InvalidInputError(f"a diameter of {diameter:g} px covers no pixel centre; use at least 1 px")
    return masks


def shuffle_circles(image: torch.Tensor, masks: torch.Tensor, *, seed: int = 0) -> torch.Tensor:
    """One perturbed copy of ``image`` ``[3, H, W]`` per mask ``[n, H, W]``: the pixels inside the
    mask randomly permuted (all channels of a pixel move together), the rest unchanged."""
    if image.dim() != 3 or masks.dim() != 3 or tuple(masks.shape[1:]) != tuple(image.shape[1:]):
        raise InvalidInputError(
            f"image must be [C, H, W] and masks [n, H, W] of the same size, got {list(image.shape)} "
            f"and {list(masks.shape)}")
    generator = torch.Generator().manual_seed(int(seed))
    flat = image.reshape(image.shape[0], -1)
    copies = []
    for mask in masks.bool():
        inside = mask.reshape(-1).nonzero().flatten()
        order = inside[torch.randperm(inside.numel(), generator=generator)]
        copy = flat.clone()
        copy[:, inside] = flat[:, order]
        copies.append(copy.reshape(image.shape))
    return torch.stack(copies)


def response_change(intact: float | np.ndarray, perturbed: np.ndarray) -> np.ndarray:
    """Normalized response change ``(intact - perturbed) / intact`` (``NaN`` where ``intact <= 0``)."""
    intact = np.asarray(intact, dtype=np.float64)
    perturbed = np.asarray(perturbed, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(intact > 0, (intact - perturbed) / np.where(intact > 0, intact, 1.0), np.nan)


def localization_map(masks: torch.Tensor, changes: np.ndarray, sigma: float) -> torch.Tensor:
    """Change-weighted average of circle masks, smoothed: float64 ``[H, W]`` (module docstring).

    Parameters
    ----------
    masks:
        ``[n, H, W]`` circles.
    changes:
        ``[n]`` normalized response change of each circle (finite).
    sigma:
        Gaussian smoothing in pixels (0: none).
    """
    masks = torch.as_tensor(masks).double()
    changes = torch.as_tensor(np.asarray(changes, dtype=np.float64))
    if masks.dim() != 3 or changes.shape != (masks.shape[0],) or not torch.isfinite(changes).all():
        raise InvalidInputError(
            f"masks must be [n, H, W] with one finite change each; got {list(masks.shape)} masks and "
            f"changes of shape {list(changes.shape)}")
    weighted = torch.einsum("k,khw->hw", changes, masks)
    covered = masks.sum(dim=0)
    average = torch.where(covered > 0, weighted / covered.clamp_min(1.0), torch.zeros_like(weighted))
    return smooth_maps(average[None], float(sigma))[0]


def relevant_region(maps: torch.Tensor, threshold: float = THRESHOLD, relative: bool = False) -> torch.Tensor:
    """``bool``: where a localization map reaches ``threshold`` (times its maximum when
    ``relative``; a map whose maximum is not positive has no region). Works on ``[H, W]``
    or ``[n, H, W]``."""
    maps = torch.as_tensor(maps).double()
    if not relative:
        return maps >= float(threshold)
    peak = maps.flatten(-2).max(dim=-1).values[..., None, None]
    return (maps >= float(threshold) * peak) & (peak > 0)


@dataclass(frozen=True)
class Localization:
    """Perturbation localization of a set of (image, neuron) pairs.

    Attributes
    ----------
    table:
        One row per pair: ``image``, ``neuron`` (its column in the responses), ``intact``
        (response to the intact image), ``peak`` (maximum of the smoothed map), ``area``
        (share of the image in the relevant region).
    masks:
        ``[pairs, circles, H, W]`` the circles.
    changes:
        ``[pairs, circles]`` normalized response change of each circle.
    maps:
        ``[pairs, H, W]`` smoothed localization maps.
    regions:
        ``[pairs, H, W]`` relevant regions.
    """

    table: pd.DataFrame
    masks: torch.Tensor
    changes: np.ndarray
    maps: torch.Tensor
    regions: torch.Tensor


def localize(respond: Respond, images: torch.Tensor, neurons: Sequence[int], *, circles: int = CIRCLES,
             diameter: float | None = None, sigma: float | None = None, threshold: float = THRESHOLD,
             relative: bool = False, seed: int = 0) -> Localization:
    """Localize what drives neuron ``neurons[i]`` in image ``images[i]``, for every ``i``.

    Parameters
    ----------
    respond:
        Images ``[n, 3, H, W]`` in ``[0, 1]`` -> responses ``[n, neurons]`` (recorded
        in-silico responses, or a model's predictions). Called once with every intact and
        perturbed image.
    images:
        ``[m, 3, H, W]`` (uint8 or in ``[0, 1]``), e.g. each neuron's preferred image.
    neurons:
        ``[m]`` the column of ``respond``'s output to read for each image.
    circles, diameter, sigma:
        Circles per image, their diameter and the smoothing (px; defaults: the paper's
        shares of the image side, :data:`DIAMETER`, :data:`SIGMA`).
    threshold, relative:
        For :func:`relevant_region`.
    seed:
        Seed of the circles and shuffles (image ``i`` uses ``seed + i``).
    """
    images01 = as_unit_images(torch.as_tensor(images), "images")
    neurons = [int(j) for j in neurons]
    if images01.dim() != 4 or len(neurons) != images01.shape[0]:
        raise InvalidInputError(
            f"give one neuron per image: {len(neurons)} neurons for images of shape {list(images01.shape)}")
    height, width = images01.shape[-2:]
    sigma = SIGMA * min(height, width) if sigma is None else float(sigma)
    masks = torch.stack([circle_masks(height, width, circles, diameter, seed=seed + i)
                         for i in range(len(neurons))])
    batch = torch.cat([torch.cat([image[None], shuffle_circles(image, mask, seed=seed + i)])
                       for i, (image, mask) in enumerate(zip(images01, masks))])
    responses = np.asarray(respond(batch), dtype=np.float64).reshape(len(neurons), circles + 1, -1)
    intact = np.array([responses[i, 0, j] for i, j in enumerate(neurons)])
    perturbed = np.stack([responses[i, 1:, j] for i, j in enumerate(neurons)])
    changes = response_change(intact[:, None], perturbed)
    maps = torch.stack([localization_map(m, np.nan_to_num(c), sigma) for m, c in zip(masks, changes)])
    regions = relevant_region(maps, threshold, relative)
    table = pd.DataFrame({"image": np.arange(len(neurons)), "neuron": neurons, "intact": intact,
                          "peak": maps.flatten(1).max(dim=1).values.numpy(),
                          "area": regions.flatten(1).double().mean(dim=1).numpy()})
    return Localization(table, masks, changes, maps, regions)


def resize_region(region: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A ``bool`` region ``[H', W']`` resized to ``size`` ``(H, W)`` by nearest neighbour."""
    region = torch.as_tensor(region).bool()
    if region.dim() != 2:
        raise InvalidInputError(f"a region must be [H, W], got shape {list(region.shape)}")
    if tuple(region.shape) == tuple(size):
        return region
    resized = torch.nn.functional.interpolate(region[None, None].float(), size=tuple(size), mode="nearest")
    return resized[0, 0] > 0.5


def clear_background(images: torch.Tensor, regions: torch.Tensor, fill: float = 0.5) -> torch.Tensor:
    """Images ``[n, 3, H, W]`` in ``[0, 1]`` with every pixel outside ``regions`` ``[n, H, W]`` set
    to ``fill``."""
    images01 = as_unit_images(torch.as_tensor(images), "images")
    regions = torch.as_tensor(regions).bool()
    if regions.shape != (images01.shape[0], *images01.shape[2:]):
        raise InvalidInputError(
            f"regions must be [n, H, W] = {[images01.shape[0], *images01.shape[2:]]}, got {list(regions.shape)}")
    if not 0.0 <= float(fill) <= 1.0:
        raise InvalidInputError(f"fill must be a grey level in [0, 1], got {fill!r}")
    return torch.where(regions[:, None], images01, torch.full_like(images01, float(fill)))


def background_clearing(respond: Respond, images: torch.Tensor, regions: torch.Tensor,
                        neurons: Sequence[int], fill: float = 0.5) -> pd.DataFrame:
    """Responses to each image intact and with its background cleared (one call to ``respond``).

    Returns
    -------
    pandas.DataFrame
        One row per image: ``image``, ``neuron``, ``intact``, ``cleared``, ``change`` =
        ``(cleared - intact) / intact`` (``NaN`` where ``intact <= 0``; positive: the
        response rose).
    """
    images01 = as_unit_images(torch.as_tensor(images), "images")
    neurons = [int(j) for j in neurons]
    if len(neurons) != images01.shape[0]:
        raise InvalidInputError(f"give one neuron per image: {len(neurons)} neurons, {images01.shape[0]} images")
    cleared = clear_background(images01, regions, fill)
    responses = np.asarray(respond(torch.cat([images01, cleared])), dtype=np.float64)
    n = len(neurons)
    intact = responses[np.arange(n), neurons]
    after = responses[n + np.arange(n), neurons]
    return pd.DataFrame({"image": np.arange(n), "neuron": neurons, "intact": intact, "cleared": after,
                         "change": -response_change(intact, after)})


def clearing_test(changes: np.ndarray, confidence: float = 0.95) -> dict[str, float]:
    """Does clearing the background raise the response, over neurons?

    Returns the mean change with its t interval (:func:`signseg.metrics.stats.mean_ci`), the
    one-sided Wilcoxon signed-rank p-value of "changes > 0" (``scipy.stats.wilcoxon``), the
    share of neurons whose response rose, and ``n``. ``NaN`` changes (silent intact
    responses) are dropped first and counted in ``dropped``; with none left every value is
    ``NaN`` and ``n`` is 0.
    """
    values = np.asarray(changes, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:  # every intact response was silent: nothing to test
        return {"mean": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"), "p": float("nan"),
                "rose": float("nan"), "n": 0, "dropped": int(values.size)}
    mean, low, high = mean_ci(finite, confidence)
    p = float(stats.wilcoxon(finite, alternative="greater").pvalue) if np.any(finite != 0) else 1.0
    return {"mean": mean, "ci_low": low, "ci_high": high, "p": p,
            "rose": float((finite > 0).mean()), "n": int(finite.size),
            "dropped": int(values.size - finite.size)}


def overlap(regions: torch.Tensor, reference: torch.Tensor) -> np.ndarray:
    """Intersection over union of each region ``[n, H, W]`` with ``reference`` ``[H, W]``
    (``NaN`` when both are empty)."""
    regions = torch.as_tensor(regions).bool()
    reference = torch.as_tensor(reference).bool()
    if regions.dim() == 2:
        regions = regions[None]
    if tuple(regions.shape[1:]) != tuple(reference.shape):
        raise InvalidInputError(f"regions {list(regions.shape)} and reference {list(reference.shape)} differ in size")
    inter = (regions & reference).flatten(1).sum(dim=1).double()
    union = (regions | reference).flatten(1).sum(dim=1).double()
    return torch.where(union > 0, inter / union.clamp_min(1), torch.nan).numpy()
