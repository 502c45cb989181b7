"""Published checkpoints through the torch hub cache: verified, with a clear error when offline.

Every pretrained file signseg uses (torchvision weights, DeePSiM, BigGAN, LPIPS trunks, the
objectness detector, ...) goes through :func:`fetch_checkpoint`: the file is looked up in
``<torch hub dir>/checkpoints/<filename>`` (``$TORCH_HOME/hub`` or ``~/.cache/torch/hub``),
downloaded there if missing and the network allows, and otherwise a
:class:`~signseg.errors.WeightsNotFoundError` names the file, the folder to put it in and
the address to get it from.

Verification
------------
Each external checkpoint has one :class:`CheckpointRecord` (address, file name, SHA-256),
kept as data in ``signseg/reference/checkpoints.yaml``; torchvision files need no entry there,
since torchvision names each file after the first hex digits of its SHA-256
(``resnet18-f37072fd.pth``) and that prefix is read from the address. A file is verified after
every download and before every load; a mismatch raises
:class:`~signseg.errors.DamagedFileError` naming the file, both digests and what to do. A
verified digest is remembered per ``(path, size, modification time)`` in
``cache_dir("checkpoint-digests")``, so a 500 MB file is hashed once, not on every load.

Opting out: ``fetch_checkpoint(..., verify=False)`` for one call (a user's own file saved
under a published name), or ``SIGNSEG_VERIFY_CHECKPOINTS=0`` for the whole process -- meant
for tests that run notebooks against random-weight stand-ins saved under the published file
names; signseg warns once when the variable turns verification off.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlparse

import torch

from .cache import atomic_path, atomic_write_text, cache_dir, config_hash
from .errors import DamagedFileError, UnknownNameError, WeightsNotFoundError
from .files import damaged, load_json, load_torch

__all__ = [
    "VERIFY_ENV",
    "CheckpointRecord",
    "checkpoint_records",
    "checkpoint_record",
    "verification_enabled",
    "file_sha256",
    "verify_checkpoint",
    "checkpoint_dir",
    "checkpoint_path",
    "fetch_checkpoint",
    "load_state_dict",
    "remap_keys",
]

#: Environment variable that turns checkpoint verification off process-wide when ``"0"``.
VERIFY_ENV = "SIGNSEG_VERIFY_CHECKPOINTS"

#: torchvision's host and its ``<name>-<sha256 prefix>.pth`` file names.
_TORCHVISION_HOST = "download.pytorch.org"
_HASH_PREFIX = re.compile(r"-([0-9a-f]{8,})\.pth?$")

_warned: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, UserWarning, stacklevel=3)


@dataclass(frozen=True)
class CheckpointRecord:
    """What is known about one published checkpoint.

    Attributes
    ----------
    name:
        Short identifier (``"biggan-deep-256-weights"``; torchvision files: the file stem).
    url:
        Published address.
    filename:
        Name in ``<torch hub dir>/checkpoints``.
    sha256:
        Full hex SHA-256, or ``None`` when not on record.
    hash_prefix:
        torchvision files: the leading hex digits of the SHA-256 in the file name.
    what:
        Human description used in messages.
    """

    name: str
    url: str
    filename: str
    sha256: str | None = None
    hash_prefix: str | None = None
    what: str = "checkpoint"

    @property
    def expected(self) -> str | None:
        """The digest (or digest prefix) a good file's SHA-256 starts with, if known."""
        return self.sha256 or self.hash_prefix


@lru_cache(maxsize=1)
def checkpoint_records() -> dict[str, CheckpointRecord]:
    """The records of ``signseg/reference/checkpoints.yaml``, keyed by file name."""
    import yaml

    text = resources.files("signseg.reference").joinpath("checkpoints.yaml").read_text("utf-8")
    records = {}
    for item in yaml.safe_load(text)["checkpoints"]:
        sha = item.get("sha256")
        record = CheckpointRecord(
            name=item["name"], url=item["url"], filename=item["filename"],
            sha256=str(sha).lower() if sha else None, what=item.get("what", item["name"]),
        )
        records[record.filename] = record
    return records


def checkpoint_record(url: str, filename: str | None = None) -> CheckpointRecord | None:
    """The record of the checkpoint at ``url`` (cached as ``filename``), or ``None``.

    Looks the file name up in :func:`checkpoint_records`; a torchvision address
    (``download.pytorch.org/models/<name>-<hex>.pth``) gives a record with its hash prefix.
    """
    name = filename or os.path.basename(urlparse(url).path)
    record = checkpoint_records().get(name)
    if record is not None:
        return record
    match = _HASH_PREFIX.search(name)
    if urlparse(url).hostname == _TORCHVISION_HOST and match:
        return CheckpointRecord(name=Path(name).stem, url=url, filename=name,
                                hash_prefix=match.group(1), what=f"torchvision weights {name}")
    return None


def verification_enabled() -> bool:
    """Whether checkpoints are verified (``$SIGNSEG_VERIFY_CHECKPOINTS`` is not ``"0"``)."""
    if os.environ.get(VERIFY_ENV, "").strip().lower() in {"0", "false", "no", "off"}:
        _warn_once(VERIFY_ENV, (
            f"{VERIFY_ENV}=0: published checkpoints are NOT verified against their recorded "
            "SHA-256 in this process. This is meant for tests with stand-in weights; results "
            "computed with unverified weights may not be those of the published models."
        ))
        return False
    return True


def _digest_cache_file(path: Path) -> Path:
    return cache_dir("checkpoint-digests") / f"{config_hash(str(path.resolve()))}.json"


def _hash_file(path: Path) -> str:
    """Hex SHA-256 of the bytes of ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Full hex SHA-256 of ``path``, remembered per (path, size, modification time).

    The digest is stored in ``cache_dir("checkpoint-digests")``; a changed file (new size or
    modification time) is hashed again.
    """
    path = Path(path)
    stat = path.stat()
    stamp = {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    cache_file = _digest_cache_file(path)
    if cache_file.is_file():
        try:
            cached = load_json(cache_file, "a digest record", "It is recomputed.")
        except DamagedFileError:
            cached = None
        if isinstance(cached, dict) and all(cached.get(k) == v for k, v in stamp.items()):
            return str(cached.get("sha256"))
    sha = _hash_file(path)
    atomic_write_text(cache_file, json.dumps({**stamp, "sha256": sha}))
    return sha


def verify_checkpoint(path: str | os.PathLike[str], record: CheckpointRecord | None, *,
                      url: str | None = None) -> None:
    """Check ``path`` against ``record``; raise :class:`DamagedFileError` on a mismatch.

    A record without a digest (``sha256: null``) and an address without a record are not
    verifiable: the first warns once and passes (the loader checks the file's structure), the
    second raises :class:`~signseg.errors.UnknownNameError` asking for a record.
    """
    path = Path(path)
    if record is None:
        raise UnknownNameError(
            f"no checkpoint record for {path.name!r} (from {url}): every external checkpoint "
            "needs one entry (url, filename, sha256) in signseg/reference/checkpoints.yaml. "
            "Add it, or pass verify=False for a file of your own."
        )
    if record.expected is None:
        _warn_once(record.filename, (
            f"{record.what}: no SHA-256 is on record for {record.filename!r} (see "
            "signseg/reference/checkpoints.yaml), so the file is checked by its structure only."
        ))
        return
    fix = (
        f"Delete it and download it again from {record.url} (signseg does this itself when "
        f"the network allows); if it is your own file on purpose, pass verify=False or set "
        f"{VERIFY_ENV}=0."
    )
    if path.stat().st_size == 0:
        raise damaged(path, f"is empty (0 bytes), not {record.what}", fix)
    actual = file_sha256(path)
    if not actual.startswith(record.expected):
        kind = "SHA-256" if record.sha256 else "SHA-256 prefix"
        raise damaged(
            path,
            f"is not the published {record.what}: its SHA-256 is {actual}, the recorded "
            f"{kind} is {record.expected} (a truncated or interrupted download, or another "
            "file saved under this name)",
            fix,
        )


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
    verify: bool = True,
) -> Path:
    """Return the local path of the checkpoint at ``url``, downloading it if needed.

    The file is verified against its :class:`CheckpointRecord` after a download and every
    time it is fetched from the cache (see the module docstring).

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
    verify:
        Check the file's SHA-256 against its record. ``False`` accepts any file under this
        name (a user's own checkpoint); ``$SIGNSEG_VERIFY_CHECKPOINTS=0`` does the same for
        every call.

    Raises
    ------
    WeightsNotFoundError
        The file is not cached and could not be downloaded.
    DamagedFileError
        The cached or downloaded file does not match its recorded SHA-256.
    UnknownNameError
        ``verify`` is on and the file has no record.
    """
    path = checkpoint_path(url, filename)
    check = verify and verification_enabled()
    record = checkpoint_record(url, filename) if check else None
    if check and record is None:
        verify_checkpoint(path, None, url=url)
    if path.is_file():
        if check:
            verify_checkpoint(path, record)
        return path
    reason = "downloading is disabled (download=False)"
    if download:
        try:
            with atomic_path(path) as tmp:
                torch.hub.download_url_to_file(url, str(tmp), progress=progress)
                if check:
                    verify_checkpoint(tmp, record)
            return path
        except DamagedFileError as exc:
            raise DamagedFileError(
                f"the download of {what} from {url} does not match its record: {exc}"
            ) from None
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
    """Load a checkpoint on the CPU; ``key`` selects a nested entry (e.g. ``"state_dict"``).

    Raises
    ------
    DamagedFileError
        The file is empty, truncated, not a PyTorch file, or lacks ``key``.
    """
    fix = ("Delete it so that signseg downloads it again (or copy a good copy there), or "
           "pass the right file.")
    obj = load_torch(path, "a checkpoint", fix, entries=[key] if key is not None else ())
    if key is not None:
        obj = obj[key]
    if not isinstance(obj, Mapping):
        raise damaged(path, f"is not a state dict: it holds a {type(obj).__name__}", fix)
    return dict(obj)
