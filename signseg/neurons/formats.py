"""A :class:`~signseg.neurons.recording.Recording` as a NumPy ``.npz`` or an xarray netCDF file.

Both hold exactly the recording's fields, named so that a user can write them with NumPy or
xarray alone:

``.npz`` (:func:`write_npz`, :func:`read_npz`)
    ``images`` (uint8 ``[n_images, 3, H, W]``), ``responses`` (float ``[n_images, n_trials,
    n_neurons]``, ``NaN`` = trial not recorded), ``image_ids`` (strings), ``source``
    (``"recorded"`` or ``"in-silico"``), ``window`` (``[start, stop]`` seconds) and one
    array ``neuron_<column>`` per column of the neurons table (strings or numbers; at least
    ``neuron_neuron``, ``neuron_area``, ``neuron_session``, ``neuron_monkey``).

netCDF (:func:`write_netcdf`, :func:`read_netcdf`; xarray with the ``h5netcdf`` engine)
    Variables ``images (image, channel, y, x)``, ``responses (image, trial, neuron)`` and one
    variable ``neuron_<column>`` along ``neuron`` per column of the neurons table
    (``neuron_area``, ``neuron_session``, ``neuron_monkey``, ...), the ``neuron`` coordinate
    holding the neurons' names and ``image`` the image ids; attributes ``source``,
    ``window_start``, ``window_stop``.

:func:`read` and :func:`write` choose by suffix (``.npz``, ``.nc``, ``.nwb``; NWB in
:mod:`signseg.neurons.nwb`). A file that cannot be used raises
:class:`~signseg.errors.DamagedFileError` naming the file and the problem (a missing array,
mismatched image and response counts, NaN responses, a neuron without an area, ...).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..cache import atomic_path
from ..errors import DamagedFileError, InvalidInputError
from ..files import check_nonempty, damaged, load_npz
from ..optional import import_optional
from .recording import REQUIRED_COLUMNS, Recording

__all__ = ["SUFFIXES", "read", "write", "read_npz", "write_npz", "read_netcdf", "write_netcdf",
           "from_file"]

PathLike = str | os.PathLike[str]

#: File suffixes :func:`read` and :func:`write` know.
SUFFIXES = (".npz", ".nc", ".nwb")

_FIX = ("Write it with signseg.neurons.formats.write (or follow the layout in "
        "signseg.neurons.formats' documentation)")
_NEURON_PREFIX = "neuron_"


def from_file(path: PathLike, build: Callable[[], Recording]) -> Recording:
    """``build()``, with a validation error of the recording it reads turned into a
    :class:`~signseg.errors.DamagedFileError` that names ``path``."""
    try:
        return build()
    except DamagedFileError:
        raise
    except InvalidInputError as error:
        raise damaged(path, f"does not hold a valid recording: {error}", _FIX) from error


def _column_array(values: pd.Series) -> np.ndarray:
    array = values.to_numpy()
    if array.dtype == object or pd.api.types.is_string_dtype(values):
        return np.asarray([str(v) for v in array], dtype=np.str_)
    return array


def write_npz(recording: Recording, path: PathLike) -> Path:
    """Write ``recording`` to ``path`` (``.npz``, compressed, atomically); returns the path."""
    arrays: dict[str, Any] = {
        "images": recording.images,
        "responses": recording.responses,
        "image_ids": np.asarray(recording.image_ids, dtype=np.str_),
        "source": np.asarray(recording.source),
        "window": np.asarray(recording.window, dtype=np.float64),
    }
    for column in recording.neurons.columns:
        arrays[_NEURON_PREFIX + str(column)] = _column_array(recording.neurons[column])
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)
    return path


def read_npz(path: PathLike) -> Recording:
    """Read a recording written by :func:`write_npz` (or by hand in that layout)."""
    needed = ["images", "responses", *(_NEURON_PREFIX + c for c in REQUIRED_COLUMNS)]
    arrays = load_npz(path, "a signseg.neurons recording (.npz)", _FIX, needed)
    columns = {name[len(_NEURON_PREFIX):]: arrays[name] for name in arrays
               if name.startswith(_NEURON_PREFIX)}
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        raise damaged(path, f"has neuron columns of different lengths {lengths}", _FIX)
    window = tuple(arrays["window"].tolist()) if "window" in arrays else (0.07, 0.17)
    return from_file(path, lambda: Recording(
        images=arrays["images"], responses=arrays["responses"], neurons=pd.DataFrame(columns),
        source=str(arrays["source"]) if "source" in arrays else "recorded", window=window,
        image_ids=tuple(arrays["image_ids"].tolist()) if "image_ids" in arrays else ()))


def _xarray() -> Any:
    import_optional("h5netcdf", "reading and writing netCDF recordings", extra="neurons")
    return import_optional("xarray", "reading and writing netCDF recordings", extra="neurons")


def write_netcdf(recording: Recording, path: PathLike) -> Path:
    """Write ``recording`` to ``path`` as netCDF-4 (xarray, ``h5netcdf`` engine, atomically)."""
    xr = _xarray()
    variables: dict[str, Any] = {
        "images": (("image", "channel", "y", "x"), recording.images),
        "responses": (("image", "trial", "neuron"), recording.responses),
    }
    for column in recording.neurons.columns:
        if column != "neuron":
            variables[_NEURON_PREFIX + str(column)] = (("neuron",), _column_array(recording.neurons[column]))
    dataset = xr.Dataset(
        variables,
        coords={"image": np.asarray(recording.image_ids, dtype=np.str_),
                "neuron": _column_array(recording.neurons["neuron"])},
        attrs={"source": recording.source, "window_start": recording.window[0],
               "window_stop": recording.window[1],
               "description": "signseg.neurons recording (see signseg.neurons.formats)"})
    path = Path(path)
    with atomic_path(path) as tmp:
        dataset.to_netcdf(tmp, engine="h5netcdf")
    return path


def read_netcdf(path: PathLike) -> Recording:
    """Read a recording from a netCDF file in the layout of :func:`write_netcdf`."""
    xr = _xarray()
    check_nonempty(path, _FIX)
    try:
        with xr.open_dataset(path, engine="h5netcdf") as opened:
            dataset = opened.load()
    except FileNotFoundError:
        raise
    except Exception as exc:  # OSError from h5py, ValueError from xarray
        raise damaged(path, f"cannot be read as a netCDF recording ({type(exc).__name__}: {exc})",
                      _FIX) from exc
    missing = [name for name in ("images", "responses", *(_NEURON_PREFIX + c for c in REQUIRED_COLUMNS[1:]))
               if name not in dataset.variables]
    if missing:
        raise damaged(path, f"lacks the variables {missing} of a recording (it holds "
                      f"{sorted(map(str, dataset.variables))})", _FIX)
    neuron_columns = {"neuron": [str(v) for v in dataset["neuron"].values]} if "neuron" in dataset.coords else {}
    for name, variable in dataset.data_vars.items():
        if str(name).startswith(_NEURON_PREFIX) and variable.dims == ("neuron",):
            neuron_columns[str(name)[len(_NEURON_PREFIX):]] = variable.values
    if "neuron" not in neuron_columns:
        raise damaged(path, "has no 'neuron' coordinate naming the neurons", _FIX)
    for name in ("images", "responses"):
        expected = ("image", "channel", "y", "x") if name == "images" else ("image", "trial", "neuron")
        if dataset[name].dims != expected:
            raise damaged(path, f"has {name} with dimensions {dataset[name].dims}, expected {expected}", _FIX)
    attrs = dataset.attrs
    return from_file(path, lambda: Recording(
        images=dataset["images"].values, responses=dataset["responses"].values,
        neurons=pd.DataFrame(neuron_columns), source=str(attrs.get("source", "recorded")),
        window=(float(attrs.get("window_start", 0.07)), float(attrs.get("window_stop", 0.17))),
        image_ids=tuple(str(v) for v in dataset["image"].values) if "image" in dataset.coords else ()))


def _suffix(path: PathLike) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise InvalidInputError(
            f"cannot tell the format of {str(path)!r} from its suffix {suffix!r}; use one of "
            f"{list(SUFFIXES)} (NumPy, netCDF, Neurodata Without Borders)")
    return suffix


def read(path: PathLike, **options: Any) -> Recording:
    """Read a recording from ``.npz``, ``.nc`` or ``.nwb`` (options go to the NWB reader:
    :func:`signseg.neurons.nwb.read_nwb`)."""
    suffix = _suffix(path)
    if not Path(path).is_file():
        raise FileNotFoundError(f"no recording at {str(path)!r}; give the path of a "
                                f"{'/'.join(SUFFIXES)} file")
    if suffix == ".nwb":
        from .nwb import read_nwb

        return read_nwb(path, **options)
    if options:
        raise InvalidInputError(f"options {sorted(options)} apply to NWB files only")
    return read_npz(path) if suffix == ".npz" else read_netcdf(path)


def write(recording: Recording, path: PathLike, **options: Any) -> Path:
    """Write ``recording`` as ``.npz``, ``.nc`` or ``.nwb`` by the suffix of ``path``."""
    suffix = _suffix(path)
    if suffix == ".nwb":
        from .nwb import write_nwb

        return write_nwb(recording, path, **options)
    if options:
        raise InvalidInputError(f"options {sorted(options)} apply to NWB files only")
    return write_npz(recording, path) if suffix == ".npz" else write_netcdf(recording, path)
