"""Progress bars that reach the person running the book, not the book.

Inside a notebook executed by :mod:`signseg.runner`, a ``tqdm.auto`` bar is a widget in the
notebook's output: invisible while the command line waits, and stored in the executed
notebook. When the runner sets ``$SIGNSEG_PROGRESS_FILE``, :func:`tqdm` instead writes a plain
text bar to that file, which the runner forwards live to its terminal; the notebook gets no
bar at all. Without the variable (an interactive session) it is ``tqdm.auto.tqdm``.
"""

from __future__ import annotations

import os
from typing import IO, Any

__all__ = ["PROGRESS_ENV", "tqdm"]

#: Environment variable naming the file progress bars are written to (set by the runner).
PROGRESS_ENV = "SIGNSEG_PROGRESS_FILE"

_streams: dict[str, IO[str]] = {}


def _stream(path: str) -> IO[str]:
    if path not in _streams:
        _streams[path] = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
    return _streams[path]


def tqdm(*args: Any, **kwargs: Any) -> Any:
    """A tqdm bar: plain text to ``$SIGNSEG_PROGRESS_FILE`` when set, else ``tqdm.auto``."""
    path = os.environ.get(PROGRESS_ENV)
    if path:
        from tqdm.std import tqdm as text_bar

        kwargs.setdefault("file", _stream(path))
        kwargs.setdefault("mininterval", 1.0)
        kwargs.setdefault("dynamic_ncols", False)
        kwargs.setdefault("ncols", 100)
        return text_bar(*args, **kwargs)
    from tqdm.auto import tqdm as auto_bar

    return auto_bar(*args, **kwargs)
