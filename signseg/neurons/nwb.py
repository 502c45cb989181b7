"""Recordings in Neurodata Without Borders (NWB 2) files, the field's standard, via ``pynwb``.

Layout read and written (the usual one for a visual-stimulus experiment):

* **Stimuli**: an ``Images`` container in ``stimulus_template`` (``RGBImage`` or
  ``GrayscaleImage`` each, ``[H, W(, 3)]`` uint8), in the order of its
  ``order_of_images`` when it has one;
* **Presentations**: an ``IndexSeries`` in ``stimulus`` (default name ``"presentations"``)
  whose ``data`` are image indices and whose ``timestamps`` are onset times (s), with
  ``indexed_images`` pointing at the stimuli;
* **Units**: the ``units`` table with ``spike_times`` (s) and, optionally,
  ``obs_intervals`` (when each unit was isolated); metadata per unit from the columns
  ``area`` (else ``location``, else the ``location`` of its electrodes), ``session``
  (else the file's ``session_id``, else its ``identifier``), ``monkey`` (else the file's
  ``subject.subject_id``), ``neuron`` (else ``<session>-unit<id>``) and ``source``
  (``"in-silico"`` for stand-in neurons, else ``"recorded"``).

:func:`read_nwb` turns spikes into the recording's responses: for presentation ``p`` at
onset ``t`` the rate of a unit is its number of spikes in ``[t + start, t + stop)`` divided
by ``stop - start`` (``window``, paper: 70-170 ms); a presentation whose window is not
inside one of the unit's observation intervals is a trial not recorded (``NaN``). The
presentations of each image, in time order, are its trials. Images never presented are
left out. Several files (sessions) with the same stimuli are read into one recording.

:func:`write_nwb` writes a :class:`~signseg.neurons.recording.Recording` in that layout:
presentations every ``period`` seconds (paper: 100 ms on, 150 ms off), trial after trial,
and for every unit ``rate * (stop - start)`` spikes spread evenly through each window. NWB
holds spikes, so the rates must be spike counts in the window divided by its duration (as
the in-silico neurons' and any binned recording's are); others are refused: write them as
``.npz`` or ``.nc`` (:mod:`signseg.neurons.formats`).
"""

from __future__ import annotations

import datetime
import os
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..cache import atomic_path, arrays_digest
from ..errors import InvalidInputError
from ..files import check_nonempty, damaged
from ..optional import import_optional
from .formats import from_file
from .recording import Recording

__all__ = ["DEFAULT_WINDOW", "PRESENTATION_PERIOD", "read_nwb", "write_nwb", "spike_rates"]

PathLike = str | os.PathLike[str]

#: Response window after image onset (s): the paper's 70-170 ms.
DEFAULT_WINDOW = (0.07, 0.17)
#: Onset-to-onset interval of :func:`write_nwb` (s): the paper's 100 ms on, 150 ms off.
PRESENTATION_PERIOD = 0.25

_FIX = ("See signseg.neurons.nwb's documentation for the layout it reads (an Images stimulus "
        "template, an IndexSeries of presentations, a units table with spike times and areas)")
_RESERVED = {"spike_times", "obs_intervals", "electrodes", "electrode_group", "waveform_mean",
             "waveform_sd", "waveforms", "id"}


def _pynwb() -> Any:
    return import_optional("pynwb", "reading and writing NWB recordings", extra="neurons")


# --------------------------------------------------------------------------- reading


def spike_rates(spike_times: np.ndarray, onsets: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    """Rates (spikes/s) of one unit in ``[onset + start, onset + stop)`` for each onset.

    Parameters
    ----------
    spike_times:
        The unit's spike times (s), any order.
    onsets:
        Presentation onsets (s).
    window:
        ``(start, stop)`` seconds after onset.

    Returns
    -------
    numpy.ndarray
        ``[len(onsets)]`` float64 rates.
    """
    start, stop = float(window[0]), float(window[1])
    times = np.sort(np.asarray(spike_times, dtype=np.float64))
    onsets = np.asarray(onsets, dtype=np.float64)
    counts = np.searchsorted(times, onsets + stop, side="left") - np.searchsorted(
        times, onsets + start, side="left")
    return counts / (stop - start)


def _observed(intervals: np.ndarray | None, onsets: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    """Whether each window lies inside one of the observation intervals (all, without any)."""
    if intervals is None:
        return np.ones(len(onsets), dtype=bool)
    intervals = np.asarray(intervals, dtype=np.float64).reshape(-1, 2)
    starts, stops = onsets + window[0], onsets + window[1]
    return ((intervals[None, :, 0] <= starts[:, None]) & (stops[:, None] <= intervals[None, :, 1])).any(axis=1)


def _image_array(image: Any, path: PathLike) -> np.ndarray:
    data = np.asarray(image.data[:])
    if data.ndim == 2:
        data = np.repeat(data[..., None], 3, axis=-1)
    if data.ndim != 3 or data.shape[-1] not in (3, 4):
        raise damaged(path, f"has a stimulus image {image.name!r} of shape {list(data.shape)}; "
                      "expected [H, W] (grey) or [H, W, 3] (RGB)", _FIX)
    data = data[..., :3]
    if data.dtype != np.uint8:
        if np.issubdtype(data.dtype, np.floating) and data.min() >= 0 and data.max() <= 1:
            data = (data * 255).round()
        elif not (np.issubdtype(data.dtype, np.integer) and data.min() >= 0 and data.max() <= 255):
            raise damaged(path, f"has a stimulus image {image.name!r} of dtype {data.dtype} outside "
                          "0-255 (or floats outside [0, 1])", _FIX)
        data = data.astype(np.uint8)
    return data.transpose(2, 0, 1)


def _stimuli(nwbfile: Any, presentations: str, path: PathLike) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray]:
    """Images ``[n, 3, H, W]``, their names, and per presentation its image index and onset."""
    if presentations not in nwbfile.stimulus:
        raise damaged(path, f"has no stimulus series {presentations!r} (its stimulus series: "
                      f"{sorted(nwbfile.stimulus)}); name the IndexSeries of image presentations "
                      "with read_nwb(..., presentations=...)", _FIX)
    series = nwbfile.stimulus[presentations]
    indexed = getattr(series, "indexed_images", None)
    if indexed is None:
        raise damaged(path, f"has a stimulus series {presentations!r} without indexed_images; the "
                      "presentations must index an Images container of the stimuli", _FIX)
    order = getattr(indexed, "order_of_images", None)
    images = list(order.data[:]) if order is not None else list(indexed.images.values())
    if not images:
        raise damaged(path, "has no stimulus images", _FIX)
    arrays = [_image_array(image, path) for image in images]
    if len({a.shape for a in arrays}) != 1:
        raise damaged(path, f"has stimulus images of different sizes {sorted({a.shape for a in arrays})}; "
                      "a recording's images share one size", _FIX)
    index = np.asarray(series.data[:]).astype(np.int64)
    if series.timestamps is not None:
        onsets = np.asarray(series.timestamps[:], dtype=np.float64)
    else:
        onsets = series.starting_time + np.arange(len(index)) / series.rate
    if len(onsets) != len(index):
        raise damaged(path, f"has {len(index)} presentations but {len(onsets)} onset times", _FIX)
    if index.size == 0 or index.min() < 0 or index.max() >= len(arrays):
        raise damaged(path, f"has presentations indexing images outside 0..{len(arrays) - 1}", _FIX)
    return np.stack(arrays), [image.name for image in images], index, onsets


def _unit_metadata(nwbfile: Any, units: pd.DataFrame, path: PathLike) -> pd.DataFrame:
    frame = pd.DataFrame(index=units.index)
    if "area" in units.columns:
        frame["area"] = units["area"].astype(str).to_numpy()
    elif "location" in units.columns:
        frame["area"] = units["location"].astype(str).to_numpy()
    elif "electrodes" in units.columns:
        frame["area"] = [str(electrodes["location"].iloc[0]) if len(electrodes) else ""
                         for electrodes in units["electrodes"]]
    else:
        raise damaged(path, "does not say in which area its units are: add a units column 'area' "
                      "(or 'location', or electrodes with a location)", _FIX)
    session = nwbfile.session_id or nwbfile.identifier
    frame["session"] = units["session"].astype(str).to_numpy() if "session" in units.columns else str(session)
    subject = nwbfile.subject.subject_id if nwbfile.subject is not None else None
    if "monkey" in units.columns:
        frame["monkey"] = units["monkey"].astype(str).to_numpy()
    elif subject:
        frame["monkey"] = str(subject)
    else:
        raise damaged(path, "does not name its animal: add a subject with a subject_id, or a units "
                      "column 'monkey'", _FIX)
    frame["neuron"] = (units["neuron"].astype(str).to_numpy() if "neuron" in units.columns
                       else [f"{s}-unit{i}" for s, i in zip(frame["session"], units.index)])
    frame["source"] = units["source"].astype(str).to_numpy() if "source" in units.columns else "recorded"
    for column in units.columns:
        if column not in _RESERVED and column not in frame.columns and column not in ("location",):
            values = units[column]
            if values.map(lambda v: isinstance(v, (str, int, float, np.integer, np.floating))).all():
                frame[column] = values.to_numpy()
    first = ["neuron", "area", "session", "monkey"]
    return frame[first + [c for c in frame.columns if c not in first]].reset_index(drop=True)


def _read_one(path: PathLike, window: tuple[float, float], presentations: str) -> dict[str, Any]:
    pynwb = _pynwb()
    check_nonempty(path, _FIX)
    try:
        io = pynwb.NWBHDF5IO(str(path), "r", load_namespaces=True)
        nwbfile = io.read()
    except FileNotFoundError:
        raise
    except Exception as exc:  # OSError from h5py, hdmf construction errors
        raise damaged(path, f"cannot be read as an NWB file ({type(exc).__name__}: "
                      f"{str(exc).splitlines()[0] if str(exc) else ''})", _FIX) from exc
    try:
        images, names, index, onsets = _stimuli(nwbfile, presentations, path)
        if nwbfile.units is None or len(nwbfile.units) == 0:
            raise damaged(path, "has no units table (no spike times of any neuron)", _FIX)
        units = nwbfile.units.to_dataframe()
        metadata = _unit_metadata(nwbfile, units, path)
        has_intervals = "obs_intervals" in units.columns
        order = np.argsort(onsets, kind="stable")
        index, onsets = index[order], onsets[order]
        rates = np.empty((len(onsets), len(units)))
        for u, (_, unit) in enumerate(units.iterrows()):
            rates[:, u] = spike_rates(np.asarray(unit["spike_times"]), onsets, window)
            seen = _observed(np.asarray(unit["obs_intervals"]) if has_intervals else None, onsets, window)
            rates[~seen, u] = np.nan
    finally:
        io.close()
    shown = np.unique(index)
    trials = max(int((index == i).sum()) for i in shown)
    responses = np.full((len(shown), trials, len(units)), np.nan)
    for row, image in enumerate(shown):
        presented = rates[index == image]
        responses[row, :len(presented)] = presented
    return {"images": images[shown], "ids": [names[i] for i in shown], "responses": responses,
            "neurons": metadata}


def read_nwb(paths: PathLike | Sequence[PathLike], *, window: tuple[float, float] = DEFAULT_WINDOW,
             presentations: str = "presentations") -> Recording:
    """Read one NWB file, or several (sessions) with the same stimuli, into a recording.

    Parameters
    ----------
    paths:
        An ``.nwb`` file or a list of them.
    window:
        Response window ``(start, stop)`` in seconds after onset (paper: 70-170 ms). A
        file written by :func:`write_nwb` is read back exactly with the window it was
        written with.
    presentations:
        Name of the ``IndexSeries`` of image presentations in the files' ``stimulus``.

    Raises
    ------
    DamagedFileError
        A file lacks stimuli, presentations, units or their areas or animal, or its
        responses do not make a valid recording; the message names the file.
    """
    window = (float(window[0]), float(window[1]))
    if not window[1] > window[0]:
        raise InvalidInputError(f"window must be (start, stop) with stop > start, got {window}")
    files = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not files:
        raise InvalidInputError("no NWB files given; pass a path or a list of paths")
    parts = [_read_one(path, window, presentations) for path in files]
    first = parts[0]
    for path, part in zip(files[1:], parts[1:]):
        if part["images"].shape != first["images"].shape or not np.array_equal(part["images"], first["images"]):
            raise damaged(path, f"shows other stimuli than {str(files[0])!r}; one recording needs "
                          "the same images in every session (read them separately)", _FIX)
    trials = max(p["responses"].shape[1] for p in parts)
    responses = np.concatenate([
        np.pad(p["responses"], ((0, 0), (0, trials - p["responses"].shape[1]), (0, 0)),
               constant_values=np.nan) for p in parts], axis=2)
    neurons = pd.concat([p["neurons"] for p in parts], ignore_index=True)
    sources = set(neurons.pop("source"))
    source = "in-silico" if sources == {"in-silico"} else "recorded"
    if len(sources) > 1:
        raise damaged(files[0], f"mixes in-silico and recorded units ({sorted(sources)}); read them "
                      "as separate recordings", _FIX)
    return from_file(files[0] if len(files) == 1 else ", ".join(map(str, files)), lambda: Recording(
        first["images"], responses, neurons, source, window, tuple(first["ids"])))


# --------------------------------------------------------------------------- writing


def _spike_counts(recording: Recording) -> np.ndarray:
    duration = recording.window[1] - recording.window[0]
    counts = recording.responses * duration
    finite = np.isfinite(counts)
    rounded = np.round(counts)
    bad = finite & ((np.abs(counts - rounded) > 1e-6 * np.maximum(1.0, np.abs(counts))) | (counts < 0))
    if bad.any():
        example = float(recording.responses[bad][0])
        raise InvalidInputError(
            f"NWB stores spikes, but {int(bad.sum())} responses are not spike counts in the "
            f"{duration * 1000:g} ms window divided by its duration (e.g. {example:g} spikes/s x "
            f"{duration:g} s = {example * duration:g} spikes); write such rates as .npz or .nc "
            "(signseg.neurons.formats) instead")
    return np.where(finite, rounded, -1).astype(np.int64)


def _merge(intervals: list[tuple[float, float]]) -> list[list[float]]:
    merged: list[list[float]] = []
    for start, stop in intervals:
        if merged and start <= merged[-1][1] + 1e-9:
            merged[-1][1] = max(merged[-1][1], stop)
        else:
            merged.append([start, stop])
    return merged


def write_nwb(recording: Recording, path: PathLike, *, period: float = PRESENTATION_PERIOD,
              session_description: str | None = None,
              session_start_time: datetime.datetime | None = None) -> Path:
    """Write ``recording`` to ``path`` as an NWB file (module docstring for the layout).

    Parameters
    ----------
    recording:
        Responses must be spike counts in the window divided by its duration.
    path:
        The ``.nwb`` file (written atomically).
    period:
        Onset-to-onset interval of the presentations (s); longer than the window's end.
    session_description, session_start_time:
        NWB file metadata (defaults: a description of the recording; 1970-01-01 UTC, so
        that the same recording gives the same file content).

    Raises
    ------
    InvalidInputError
        Responses that are not spike counts per window duration, or ``period`` too short.
    """
    pynwb = _pynwb()
    from pynwb.base import ImageReferences
    from pynwb.file import Subject
    from pynwb.image import Images, IndexSeries, RGBImage

    if not period > recording.window[1]:
        raise InvalidInputError(f"period ({period} s) must exceed the window's end ({recording.window[1]} s)")
    counts = _spike_counts(recording)
    neurons = recording.neurons
    sessions, monkeys = neurons["session"].unique(), neurons["monkey"].unique()
    nwbfile = pynwb.NWBFile(
        session_description=session_description or recording.describe(),
        identifier=f"signseg-{arrays_digest({'responses': recording.responses, 'images': recording.images})}",
        session_start_time=session_start_time or datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc),
        session_id=str(sessions[0]) if len(sessions) == 1 else None)
    if len(monkeys) == 1:
        nwbfile.subject = Subject(subject_id=str(monkeys[0]),
                                  description="in-silico stand-in" if recording.in_silico else None)
    stimuli = [RGBImage(name=name, data=image.transpose(1, 2, 0))
               for name, image in zip(recording.image_ids, recording.images)]
    images = Images(name="stimuli", images=stimuli, description="stimulus images, in presentation index order",
                    order_of_images=ImageReferences(name="order_of_images", data=stimuli))
    nwbfile.add_stimulus_template(images)
    shown = np.isfinite(recording.responses).any(axis=2)  # [images, trials]
    image_of, trial_of = [], []
    for trial in range(recording.n_trials):
        for image in range(recording.n_images):
            if shown[image, trial]:
                image_of.append(image)
                trial_of.append(trial)
    onsets = np.arange(len(image_of)) * period
    nwbfile.add_stimulus(IndexSeries(name="presentations", data=np.asarray(image_of, dtype=np.uint32),
                                     indexed_images=images, unit="N/A", timestamps=onsets,
                                     description="image presentations (index into the stimuli)"))
    columns = {"neuron": "unit name", "area": "cortical area", "session": "recording session",
               "monkey": "animal", "source": "'recorded' or 'in-silico' (stand-in neuron)"}
    extra = [c for c in neurons.columns if c not in columns and c not in _RESERVED]
    for name in [*columns, *extra]:
        nwbfile.add_unit_column(name=str(name), description=columns.get(name, f"neuron metadata {name!r}"))
    start, stop = recording.window
    for u, row in neurons.iterrows():
        spikes, observed = [], []
        for p, (image, trial) in enumerate(zip(image_of, trial_of)):
            count = counts[image, trial, u]
            if count < 0:
                continue
            observed.append((onsets[p], onsets[p] + period))
            spikes.extend(onsets[p] + start + (np.arange(count) + 0.5) * (stop - start) / max(count, 1))
        values = {name: row[name] for name in extra}
        nwbfile.add_unit(spike_times=np.asarray(spikes, dtype=np.float64),
                         obs_intervals=_merge(observed) or [[0.0, 0.0]], neuron=str(row["neuron"]),
                         area=str(row["area"]), session=str(row["session"]), monkey=str(row["monkey"]),
                         source=recording.source, **values)
    path = Path(path)
    with atomic_path(path) as tmp, warnings.catch_warnings():
        # the temporary file's name does not end in .nwb; the file it becomes does
        warnings.filterwarnings("ignore", message=".*does not end in '.nwb'")
        with pynwb.NWBHDF5IO(str(tmp), "w") as io:
            io.write(nwbfile)
    return path
