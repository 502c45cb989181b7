"""Where the published stimulus sets look for local copies, and how they download the rest."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ..cache import atomic_path

__all__ = ["local_folder", "download_to", "cached_download"]


def local_folder(root: str | os.PathLike[str] | None) -> Path | None:
    """``root``, else ``$SIGNSEG_DATA``, as a path; ``None`` when neither is given."""
    given = root if root is not None else os.environ.get("SIGNSEG_DATA") or None
    return Path(given).expanduser() if given else None


def download_to(url: str, target: Path, progress: bool) -> str | None:
    """Download ``url`` to ``target`` (atomically: nothing is left on failure).

    Returns
    -------
    str or None
        ``None`` on success, else why it failed (for the caller's error message).
    """
    try:
        with atomic_path(target) as tmp:
            torch.hub.download_url_to_file(url, str(tmp), progress=progress)
        return None
    except Exception as exc:  # urllib, ssl and socket errors differ by platform
        return f"the download from {url} failed ({type(exc).__name__}: {exc})"


def cached_download(url: str, target: Path, download: bool, progress: bool) -> str | None:
    """Make sure ``target`` (a file in the signseg cache) exists, downloading ``url`` if allowed.

    Returns
    -------
    str or None
        ``None`` when ``target`` is there (cached before, or just downloaded), else why not.
    """
    if target.is_file():
        return None
    return download_to(url, target, progress) if download else "download=False"
