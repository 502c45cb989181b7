"""Seeded pairing of images by class: a random member of a class, a random other class.

Stimulus sets that combine two images (an object on another image's background, one
image's shape with another's texture) pick the partner image with these functions. The
procedural set's ``mixed_*`` variants (:mod:`signseg.data.procedural`), the box-based
background challenge (:mod:`signseg.data.box_backgrounds`) and the hybrid cue-conflict set
(:mod:`signseg.data.hybrid_cues`) all use them, so "another image of the same class" and "an
image of a random other class" mean the same everywhere.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidInputError

__all__ = ["random_members", "random_other_classes"]


def random_members(rng: np.random.Generator, labels: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """For each image ``i``, a random image of class ``wanted[i]`` other than ``i`` itself.

    Parameters
    ----------
    rng:
        Source of randomness; exactly one ``rng.random(n)`` draw is consumed.
    labels:
        ``int`` ``[n]``: the class of every image (non-negative).
    wanted:
        ``int`` ``[n]``: the class the partner of image ``i`` must have; every class named
        here must occur in ``labels``.

    Returns
    -------
    numpy.ndarray
        ``int64`` ``[n]`` positions into ``labels``. Each member of the wanted class other
        than ``i`` is equally likely; ``i`` itself is returned only when it is the sole member
        of its wanted class.

    Raises
    ------
    InvalidInputError
        Shapes differ, a label is negative, or a wanted class has no member.
    """
    labels = np.asarray(labels, dtype=np.int64)
    wanted = np.asarray(wanted, dtype=np.int64)
    if labels.ndim != 1 or wanted.shape != labels.shape:
        raise InvalidInputError(
            f"labels and wanted must be 1-D with one entry per image; got shapes {labels.shape} "
            f"and {wanted.shape}.")
    n = labels.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if labels.min() < 0 or wanted.min() < 0:
        raise InvalidInputError("labels and wanted must be non-negative class indices.")
    n_classes = int(max(labels.max(), wanted.max())) + 1
    counts = np.bincount(labels, minlength=n_classes)
    if (counts[wanted] == 0).any():
        missing = sorted(set(wanted[counts[wanted] == 0].tolist()))
        raise InvalidInputError(
            f"no image has the wanted class(es) {missing[:10]}; pick partners among the classes "
            "present in labels.")
    order = np.argsort(labels, kind="stable")
    starts = np.searchsorted(labels[order], np.arange(n_classes), side="left")
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n) - starts[labels[order]]
    excluded = (wanted == labels) & (counts[wanted] > 1)
    offset = np.floor(rng.random(n) * (counts[wanted] - excluded)).astype(np.int64)
    offset += excluded & (offset >= position)
    return order[starts[wanted] + offset].astype(np.int64)


def random_other_classes(rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    """For each image, a class drawn uniformly from the classes present other than its own.

    Parameters
    ----------
    rng:
        Source of randomness; exactly one ``rng.integers`` draw of ``n`` values is consumed.
    labels:
        ``int`` ``[n]``: the class of every image.

    Returns
    -------
    numpy.ndarray
        ``int64`` ``[n]`` classes; every class of ``labels`` except the image's own is
        equally likely.

    Raises
    ------
    InvalidInputError
        Fewer than two classes are present (there is no other class to draw).
    """
    labels = np.asarray(labels, dtype=np.int64)
    present = np.unique(labels)
    if present.size < 2:
        raise InvalidInputError(
            f"pairing with another class needs images of at least two classes; got "
            f"{present.size} class(es). Use more images (or a data set with more classes).")
    own = np.searchsorted(present, labels)
    draw = rng.integers(0, present.size - 1, labels.shape[0])
    return present[draw + (draw >= own)].astype(np.int64)
