"""Shape bias on cue-conflict images: which of two conflicting cues decides the output.

A cue-conflict image carries a shape cue of class ``s`` and a texture cue of class ``t``
(Geirhos et al. 2019: :mod:`signseg.data.cueconflict`; offline: :mod:`signseg.data.hybrid_cues`).
Images with ``s == t`` (Geirhos et al.'s set has 160 of them) carry no conflict and are left
out of both measures. Two measures of how much a classifier follows shape, from its logits
``z`` (``[n, classes]``; or any scores, e.g. Geirhos et al.'s 16 category probabilities):

* :func:`pairwise_shape_bias` -- the share of images with ``z[s] > z[t]``: a two-way decision
  between the two cued classes, defined for every image. It stays informative for weak
  many-way classifiers (the project's 200-way Tiny ImageNet models), whose top-1 prediction is
  rarely either cued class. An exact tie ``z[s] == z[t]`` is no decision: the image is left
  out of ``n`` (``ties`` counts them).
* :func:`geirhos_shape_bias` -- Geirhos et al.'s definition: among the images whose top-1
  class is the shape class or the texture class, the share decided by shape,
  ``shape hits / (shape hits + texture hits)`` (:func:`signseg.data.cueconflict.shape_bias`).
  ``n`` is the number of such hits; the share is ``NaN`` when there is none. Also returns the
  shape and texture accuracies (hits over the conflict images).

Intervals are Wilson score intervals of a binomial proportion
(:func:`signseg.metrics.segregation.wilson_interval`); ``NaN`` when ``n = 0``.

Hand-worked: logits ``[[2, 1, 0], [0, 3, 1], [1, 1, 5], [4, 0, 0]]`` with shape classes
``[0, 0, 0, 1]`` and texture classes ``[1, 1, 1, 2]`` -- pairwise: wins ``2 > 1`` yes,
``0 > 3`` no, ``1 > 1`` tie, ``0 > 0`` tie: 1 of 2 decided images, bias 0.5, ties 2;
Geirhos: top-1 classes ``0, 1, 2, 0`` -> shape hit (image 0), texture hit (image 1), neither,
neither: bias 1 / 2, shape accuracy 1 / 4, texture accuracy 1 / 4.
"""

from __future__ import annotations

from typing import Sequence

import torch

from ..data.cueconflict import shape_bias
from ..errors import InvalidInputError
from .segregation import wilson_interval

__all__ = ["pairwise_shape_bias", "geirhos_shape_bias"]

Targets = Sequence[int] | torch.Tensor


def _checked(logits: torch.Tensor, shape_targets: Targets, texture_targets: Targets) -> tuple[
    torch.Tensor, torch.Tensor, torch.Tensor
]:
    """Logits ``[m, classes]`` and the two targets ``[m]`` of the conflict images (``s != t``)."""
    logits = torch.as_tensor(logits)
    if logits.dim() != 2 or logits.shape[0] == 0:
        raise InvalidInputError(f"logits must be [n, classes] with n >= 1; got shape {tuple(logits.shape)}.")
    shape = torch.as_tensor(shape_targets, dtype=torch.int64).reshape(-1)
    texture = torch.as_tensor(texture_targets, dtype=torch.int64).reshape(-1)
    for name, targets in (("shape_targets", shape), ("texture_targets", texture)):
        if targets.shape != (logits.shape[0],):
            raise InvalidInputError(
                f"{name} must have one class per image ({logits.shape[0]}); got {tuple(targets.shape)}.")
        if int(targets.min()) < 0 or int(targets.max()) >= logits.shape[1]:
            raise InvalidInputError(f"{name} must index the {logits.shape[1]} logits of each image.")
    conflict = shape != texture
    return logits[conflict], shape[conflict], texture[conflict]


def _proportion(successes: int, n: int, confidence: float) -> tuple[float, float, float]:
    """Share and Wilson interval; ``NaN`` for ``n = 0``."""
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    low, high = wilson_interval(successes, n, confidence)
    return successes / n, low, high


def pairwise_shape_bias(
    logits: torch.Tensor, shape_targets: Targets, texture_targets: Targets, confidence: float = 0.95
) -> dict[str, float]:
    """Share of images whose shape class's logit beats the texture class's (module docstring).

    Returns
    -------
    dict
        ``shape_bias``, ``ci_low``, ``ci_high`` (Wilson), ``n`` (images with a decision),
        ``ties``.
    """
    logits, shape, texture = _checked(logits, shape_targets, texture_targets)
    shape_logit = logits.gather(1, shape[:, None]).squeeze(1)
    texture_logit = logits.gather(1, texture[:, None]).squeeze(1)
    wins, ties = int((shape_logit > texture_logit).sum()), int((shape_logit == texture_logit).sum())
    n = logits.shape[0] - ties
    bias, low, high = _proportion(wins, n, confidence)
    return {"shape_bias": bias, "ci_low": low, "ci_high": high, "n": n, "ties": ties}


def geirhos_shape_bias(
    logits: torch.Tensor, shape_targets: Targets, texture_targets: Targets, confidence: float = 0.95
) -> dict[str, float]:
    """Geirhos et al.'s shape bias: shape hits / (shape hits + texture hits) of top-1 decisions.

    Returns
    -------
    dict
        ``shape_bias``, ``ci_low``, ``ci_high`` (Wilson over the hits), ``n`` (shape +
        texture hits), ``shape_accuracy`` and ``texture_accuracy`` (hits over the conflict
        images; ``NaN`` without any).
    """
    logits, shape, texture = _checked(logits, shape_targets, texture_targets)
    hits = shape_bias(logits.argmax(dim=1), shape, texture)
    n = hits.shape_hits + hits.texture_hits
    bias, low, high = _proportion(hits.shape_hits, n, confidence)
    shape_accuracy, texture_accuracy = (
        (hits.shape_hits / hits.n, hits.texture_hits / hits.n) if hits.n else (float("nan"),) * 2)
    return {"shape_bias": bias, "ci_low": low, "ci_high": high, "n": n,
            "shape_accuracy": shape_accuracy, "texture_accuracy": texture_accuracy}
