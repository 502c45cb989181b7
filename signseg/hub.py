"""Published checkpoints through the torch hub cache, with a clear error when offline.

Every pretrained file signseg uses (torchvision weights, DeePSiM, robust ResNets, ...)
goes through :func:`fetch_checkpoint`: the file is looked up in
``<torch hub dir>/checkpoints/<filename>`` (``$TORCH_HOME/hub`` or ``~/.cache/torch/hub``),
downloaded there if missing and the network allows, and otherwise a
:class:`~signseg.errors.WeightsNotFoundError` names the file, the folder to put it in and
the address to get it from.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlparse

import torch

from .errors import WeightsNotFoundError

__all__ = ["checkpoint_dir", "checkpoint_path", "fetch_checkpoint", "load_state_dict", "remap_keys"]


def checkpoint_dir() -> Path:
    """The folder where torch hub keeps downloaded checkpoints."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def checkpoint_path(url: str, filename: str | None = None) -> Path:
    """Where the checkpoint published at ``url`` lives in the hub cache."""
    return checkpoint_dir() / (filename or os.path.basename(urlparse(url).path))


def fetch_checkpoint(
    url: str,
    filename: str | None = None,
    *,
    download: bool = True,
    progress: bool = True,
    what: str = "checkpoint",
) -> Path:
    """Return the local path of the checkpoint at ``url``, downloading it if needed.

    Parameters
    ----------
    url:
        The published address of the file.
    filename:
        Name in the cache folder (default: the last part of ``url``).
    download:
        Try to download when the file is missing. ``False`` only looks in the cache.
    what:
        A human name for the file, used in the error message (e.g. ``"resnet50 weights"``).

    Raises
    ------
    WeightsNotFoundError
        The file is not cached and could not be downloaded.
    """
    path = checkpoint_path(url, filename)
    if path.is_file():
        return path
    reason = "downloading is disabled (download=False)"
    if download:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(url, str(path), progress=progress)
            return path
        except Exception as exc:  # urllib/ssl/socket errors differ by platform
            reason = f"the download failed ({type(exc).__name__}: {exc})"
    raise WeightsNotFoundError(
        f"{what} not found: expected the file {path.name!r} in {str(path.parent)!r}, and "
        f"{reason}. Download it from {url} on a machine with internet access and copy it "
        f"to {str(path)!r} (set TORCH_HOME to use another cache folder)."
    )


def remap_keys(
    state_dict: Mapping[str, Any], rules: Callable[[str], str | None]
) -> dict[str, Any]:
    """Rename checkpoint keys with ``rules`` (return ``None`` to drop a key)."""
    out: dict[str, Any] = {}
    for key, value in state_dict.items():
        new = rules(key)
        if new is not None:
            out[new] = value
    return out


def load_state_dict(path: str | os.PathLike[str], *, key: str | None = None) -> dict[str, Any]:
    """Load a checkpoint on the CPU; ``key`` selects a nested entry (e.g. ``"state_dict"``)."""
    obj = torch.load(path, map_location="cpu", weights_only=True)
    if key is not None:
        if key not in obj:
            raise WeightsNotFoundError(
                f"checkpoint {str(path)!r} has no entry {key!r}; it holds {sorted(obj)[:10]}"
            )
        obj = obj[key]
    return dict(obj)
