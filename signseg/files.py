"""Reading the files signseg depends on so that a damaged one names itself.

A truncated, empty or wrong-kind file makes ``torch.load``, ``json``, ``numpy`` and
``pyarrow`` raise ``EOFError``, ``BadZipFile``, ``UnpicklingError``, ``JSONDecodeError`` or
``KeyError`` without saying which file. Every reader here turns those into a
:class:`~signseg.errors.DamagedFileError` whose message names the file, says what is wrong
with it and what to do (``fix``): delete it to recompute a cache, copy a data file again, or
download a checkpoint again.

Callers that own a cache catch :class:`~signseg.errors.DamagedFileError`, warn with
:func:`warn_recomputing` and recompute; callers reading a user's file let it propagate.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any, Iterable

from .errors import DamagedFileError

__all__ = [
    "damaged",
    "check_nonempty",
    "require_entries",
    "load_torch",
    "load_json",
    "load_npz",
    "read_parquet",
    "warn_recomputing",
]

PathLike = str | os.PathLike[str]


def damaged(path: PathLike, problem: str, fix: str) -> DamagedFileError:
    """The error for ``path``: ``"the file '<path>' <problem>. <fix>"``."""
    return DamagedFileError(f"the file {str(path)!r} {problem}. {fix}")


def _describe(exc: BaseException) -> str:
    """A short reason from a library error (its type and first line)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def check_nonempty(path: PathLike, fix: str) -> None:
    """Raise :class:`DamagedFileError` if ``path`` is an empty (zero-byte) file."""
    if Path(path).stat().st_size == 0:
        raise damaged(path, "is empty (0 bytes; an interrupted copy or download?)", fix)


def require_entries(obj: Any, entries: Iterable[str], path: PathLike, what: str, fix: str) -> None:
    """Raise :class:`DamagedFileError` unless the mapping ``obj`` holds every key of ``entries``."""
    if not isinstance(obj, dict):
        raise damaged(path, f"is not {what}: it holds a {type(obj).__name__}, not a mapping", fix)
    missing = [key for key in entries if key not in obj]
    if missing:
        present = sorted(map(str, obj))
        shown = present[:10] + (["..."] if len(present) > 10 else [])
        raise damaged(path, f"is not {what}: it lacks the entries {missing} (it holds {shown})", fix)


def load_torch(path: PathLike, what: str, fix: str, entries: Iterable[str] = ()) -> Any:
    """``torch.load(path, map_location="cpu", weights_only=True)`` naming the file on damage.

    Parameters
    ----------
    path:
        The file.
    what:
        What the file should be (``"a training checkpoint"``), used in the message.
    fix:
        What the user should do, appended to the message.
    entries:
        Keys the loaded mapping must have.
    """
    import torch

    check_nonempty(path, fix)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # EOFError, BadZipFile, UnpicklingError, RuntimeError, ...
        raise damaged(path, f"cannot be read as {what} ({_describe(exc)}); it is truncated or "
                      "not a PyTorch file", fix) from exc
    entries = list(entries)
    if entries:
        require_entries(obj, entries, path, what, fix)
    return obj


def load_json(path: PathLike, what: str, fix: str, entries: Iterable[str] = ()) -> Any:
    """Parse the JSON file ``path`` naming the file on damage; check ``entries`` as keys."""
    check_nonempty(path, fix)
    try:
        obj = json.loads(Path(path).read_text("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise damaged(path, f"is not valid JSON ({_describe(exc)}); it is truncated or "
                      f"overwritten, not {what}", fix) from exc
    entries = list(entries)
    if entries:
        require_entries(obj, entries, path, what, fix)
    return obj


def load_npz(path: PathLike, what: str, fix: str, entries: Iterable[str] = ()) -> dict[str, Any]:
    """Every array of the ``.npz`` file ``path`` (read fully), naming the file on damage."""
    import numpy as np

    check_nonempty(path, fix)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except Exception as exc:  # BadZipFile, EOFError, ValueError, zlib.error, ...
        raise damaged(path, f"cannot be read as {what} ({_describe(exc)}); it is truncated "
                      "or not a NumPy .npz file", fix) from exc
    entries = list(entries)
    if entries:
        require_entries(arrays, entries, path, what, fix)
    return arrays


def read_parquet(path: PathLike, what: str, fix: str) -> Any:
    """``pandas.read_parquet(path)`` naming the file on damage."""
    import pandas as pd

    check_nonempty(path, fix)
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow.ArrowInvalid, OSError, ...
        raise damaged(path, f"cannot be read as {what} ({_describe(exc)}); it is truncated "
                      "or not a Parquet file", fix) from exc


def warn_recomputing(error: DamagedFileError, action: str) -> None:
    """Warn that a damaged cache entry is being recomputed (``action`` says how)."""
    warnings.warn(f"{error} signseg {action}.", RuntimeWarning, stacklevel=3)
