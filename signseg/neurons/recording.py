"""The recording format of :mod:`signseg.neurons`: stimulus images, trial responses, neurons.

A :class:`Recording` is what one experiment of the paper's Section 4.6 produces (A.1,
"Visual cortex electrophysiology"): a set of stimulus images, each shown several times,
and the firing rate of every recorded neuron (or multi-unit site) in a response window
after each presentation (paper: 70-170 ms from onset), with each neuron's area, session
and monkey. Everything downstream (diverseSet fits, neuron models, localization) reads it.

Fields
------
``images``
    ``uint8`` ``[n_images, 3, H, W]``: the stimuli as shown (RGB, 0-255).
``responses``
    ``float64`` ``[n_images, n_trials, n_neurons]``: the response (spikes/s in the window)
    of every neuron to every presentation. Images shown a different number of times are
    padded: ``NaN`` marks a trial that was **not recorded** (that image was shown fewer
    times, or the neuron was not isolated during that presentation). That is the only
    meaning of ``NaN``: every ``(image, neuron)`` needs at least one finite trial, and
    infinite values are never allowed.
``neurons``
    A ``pandas.DataFrame``, one row per neuron in the order of ``responses``' last axis,
    with at least the columns ``neuron`` (a unique name), ``area`` (``"V1"``, ``"V4"``,
    ``"IT"`` or any other non-empty name), ``session`` and ``monkey`` (non-empty names);
    further columns (channel, layer, ...) are kept.
``source``
    ``"recorded"`` (a user's data) or ``"in-silico"`` (stand-in neurons of
    :mod:`signseg.neurons.insilico`; every figure made from them says so).
``window``
    ``(start, stop)`` of the response window in seconds after image onset.
``image_ids``
    One name per image (default ``"image-0"``, ...).

On disk: NumPy ``.npz`` and xarray netCDF (:mod:`signseg.neurons.formats`) and Neurodata
Without Borders (:mod:`signseg.neurons.nwb`), each read back into this class, so every
reader validates a file the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from ..errors import InvalidInputError

__all__ = ["AREAS", "SOURCES", "REQUIRED_COLUMNS", "area_order", "Recording"]

#: The areas of the paper's recordings (others are accepted: any non-empty name).
AREAS = ("V1", "V4", "IT")
#: Where a recording's responses come from.
SOURCES = ("recorded", "in-silico")
#: Columns every ``neurons`` table must have.
REQUIRED_COLUMNS = ("neuron", "area", "session", "monkey")


def area_order(areas: Sequence[str]) -> list[str]:
    """The distinct ``areas`` along the ventral stream: :data:`AREAS` first (V1, V4, IT), then
    any others in order of appearance."""
    distinct = list(dict.fromkeys(str(a) for a in areas))
    return [a for a in AREAS if a in distinct] + [a for a in distinct if a not in AREAS]


def _check_images(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise InvalidInputError(
            f"images must be uint8 [n_images, 3, H, W] (RGB, 0-255); got dtype {images.dtype} "
            f"and shape {list(images.shape)}. Convert float images with (x * 255).round().astype('uint8')")
    if images.shape[0] == 0:
        raise InvalidInputError("images is empty; a recording needs at least one stimulus image")
    return images


def _check_responses(responses: np.ndarray, n_images: int, n_neurons: int) -> np.ndarray:
    responses = np.asarray(responses)
    if not np.issubdtype(responses.dtype, np.number) or responses.ndim != 3:
        raise InvalidInputError(
            f"responses must be numbers [n_images, n_trials, n_neurons]; got dtype "
            f"{responses.dtype} and shape {list(responses.shape)}")
    responses = responses.astype(np.float64)
    if responses.shape[0] != n_images:
        raise InvalidInputError(
            f"responses has {responses.shape[0]} images on its first axis but there are "
            f"{n_images} stimulus images; give one response row per image, in the images' order")
    if responses.shape[2] != n_neurons:
        raise InvalidInputError(
            f"responses has {responses.shape[2]} neurons on its last axis but the neurons table "
            f"has {n_neurons} rows; give one table row per neuron, in the responses' order")
    if responses.shape[1] == 0:
        raise InvalidInputError("responses has no trials (axis 1 is empty); give at least one trial")
    if np.isinf(responses).any():
        raise InvalidInputError("responses contain infinite values; responses must be finite rates")
    recorded = np.isfinite(responses).any(axis=1)  # [n_images, n_neurons]
    if not recorded.all():
        image, neuron = np.argwhere(~recorded)[0]
        raise InvalidInputError(
            f"responses are NaN in every trial for {int((~recorded).sum())} (image, neuron) pairs, "
            f"e.g. image {int(image)} and neuron {int(neuron)}; NaN may only mark trials that were "
            "not recorded, and every image needs at least one recorded trial per neuron. Drop that "
            "image or neuron, or fill in its response")
    return responses


def _check_neurons(neurons: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(neurons, pd.DataFrame):
        raise InvalidInputError(
            f"neurons must be a pandas DataFrame with columns {list(REQUIRED_COLUMNS)}; got "
            f"{type(neurons).__name__}")
    missing = [c for c in REQUIRED_COLUMNS if c not in neurons.columns]
    if missing:
        raise InvalidInputError(
            f"the neurons table lacks the columns {missing}; it needs {list(REQUIRED_COLUMNS)} "
            f"(it has {list(neurons.columns)}). Every neuron needs its area (e.g. 'V1', 'V4', 'IT'), "
            "session and monkey")
    if len(neurons) == 0:
        raise InvalidInputError("the neurons table is empty; a recording needs at least one neuron")
    neurons = neurons.reset_index(drop=True).copy()
    for column in REQUIRED_COLUMNS:
        values = neurons[column]
        empty = values.isna() | (values.astype(str).str.strip() == "")
        if empty.any():
            rows = np.flatnonzero(empty.to_numpy())
            raise InvalidInputError(
                f"{int(empty.sum())} neurons have no {column} (rows {rows[:5].tolist()}); "
                f"give every neuron a non-empty {column}")
        neurons[column] = values.astype(str)
    repeated = neurons["neuron"].duplicated()
    if repeated.any():
        raise InvalidInputError(
            f"neuron names repeat: {sorted(set(neurons.loc[repeated, 'neuron']))[:5]}; give every "
            "neuron a unique name")
    return neurons


@dataclass(frozen=True)
class Recording:
    """Stimulus images, per-trial responses and neuron metadata (module docstring).

    Construction validates everything and raises
    :class:`~signseg.errors.InvalidInputError` naming the problem: mismatched image and
    response counts, a neurons table of the wrong length or without ``area`` /
    ``session`` / ``monkey``, NaNs outside the documented missing-trial meaning,
    infinite values, or an unknown ``source``.
    """

    images: np.ndarray
    responses: np.ndarray
    neurons: pd.DataFrame
    source: str = "recorded"
    window: tuple[float, float] = (0.07, 0.17)
    image_ids: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        images = _check_images(self.images)
        neurons = _check_neurons(self.neurons)
        responses = _check_responses(self.responses, images.shape[0], len(neurons))
        if self.source not in SOURCES:
            raise InvalidInputError(f"source must be one of {list(SOURCES)}, got {self.source!r}")
        start, stop = (float(v) for v in self.window)
        if not (np.isfinite(start) and np.isfinite(stop) and stop > start):
            raise InvalidInputError(
                f"window must be (start, stop) in seconds with stop > start, got {self.window!r}")
        ids = tuple(str(i) for i in self.image_ids) or tuple(f"image-{i}" for i in range(len(images)))
        if len(ids) != len(images) or len(set(ids)) != len(ids):
            raise InvalidInputError(
                f"image_ids must name each of the {len(images)} images once; got {len(ids)} names "
                f"({len(set(ids))} distinct)")
        object.__setattr__(self, "images", images)
        object.__setattr__(self, "responses", responses)
        object.__setattr__(self, "neurons", neurons)
        object.__setattr__(self, "window", (start, stop))
        object.__setattr__(self, "image_ids", ids)

    @property
    def n_images(self) -> int:
        """Number of stimulus images."""
        return int(self.images.shape[0])

    @property
    def n_trials(self) -> int:
        """Trials per image (the padded length: some may be ``NaN``)."""
        return int(self.responses.shape[1])

    @property
    def n_neurons(self) -> int:
        """Number of neurons."""
        return int(self.responses.shape[2])

    @property
    def in_silico(self) -> bool:
        """Whether the responses come from stand-in neurons, not an animal."""
        return self.source == "in-silico"

    def mean_responses(self) -> np.ndarray:
        """Trial-averaged responses ``[n_images, n_neurons]`` (missing trials ignored)."""
        return np.nanmean(self.responses, axis=1)

    def trial_counts(self) -> np.ndarray:
        """Recorded trials per image and neuron, ``[n_images, n_neurons]``."""
        return np.isfinite(self.responses).sum(axis=1)

    def float_images(self) -> torch.Tensor:
        """The stimuli as float ``[n_images, 3, H, W]`` in ``[0, 1]``."""
        return torch.from_numpy(self.images).float() / 255.0

    def select_neurons(self, which: Sequence[int] | Sequence[bool] | np.ndarray) -> "Recording":
        """A recording of some neurons (positions or a boolean mask), images unchanged."""
        index = _positions(which, self.n_neurons, "neurons")
        return Recording(self.images, self.responses[:, :, index], self.neurons.iloc[index],
                         self.source, self.window, self.image_ids)

    def select_images(self, which: Sequence[int] | Sequence[bool] | np.ndarray) -> "Recording":
        """A recording of some images (positions or a boolean mask), all neurons."""
        index = _positions(which, self.n_images, "images")
        return Recording(self.images[index], self.responses[index], self.neurons, self.source,
                         self.window, tuple(self.image_ids[i] for i in index))

    def describe(self) -> str:
        """One sentence: how many images, trials and neurons of which areas, and the source."""
        counts = self.neurons["area"].value_counts()
        areas = ", ".join(f"{counts[a]} {a}" for a in area_order(self.neurons["area"]))
        label = "in-silico stand-in neurons" if self.in_silico else "recorded neurons"
        return (f"{self.n_neurons} {label} ({areas}; {self.neurons['session'].nunique()} sessions, "
                f"monkeys {', '.join(sorted(self.neurons['monkey'].unique()))}), {self.n_images} "
                f"images x up to {self.n_trials} trials, window {self.window[0] * 1000:g}-"
                f"{self.window[1] * 1000:g} ms")


def _positions(which: Sequence[int] | Sequence[bool] | np.ndarray, length: int, what: str) -> np.ndarray:
    index = np.asarray(which)
    if index.dtype == np.bool_:
        if index.shape != (length,):
            raise InvalidInputError(f"a boolean mask of {what} needs {length} entries, got {index.shape}")
        return np.flatnonzero(index)
    if index.size == 0:
        raise InvalidInputError(f"no {what} selected; select at least one")
    if not np.issubdtype(index.dtype, np.integer):
        raise InvalidInputError(f"select {what} by integer positions or a boolean mask, got {index.dtype}")
    if index.min() < 0 or index.max() >= length:
        raise InvalidInputError(f"{what} positions must lie in [0, {length}), got {index.min()}..{index.max()}")
    return index.astype(np.int64)
