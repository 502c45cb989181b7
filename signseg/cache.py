"""The on-disk cache: where it lives, how entries are keyed, how they are written.

* ``cache_dir()`` is ``$SIGNSEG_CACHE`` or ``~/.cache/signseg``.
* ``config_hash(obj)`` keys an entry by the content of a JSON-like configuration.
* ``atomic_path(path)`` / ``atomic_write_bytes`` / ``atomic_torch_save`` write to a
  temporary file in the same folder and rename it into place, so a reader never sees
  a half-written file and an interrupted run leaves nothing behind but the old state.
* ``create_exclusive(path, write)`` does the same but never replaces an existing file: of
  several processes publishing one path at once, exactly one succeeds (a hard link, atomic
  on local file systems and NFS), so the first complete version of a file is the one kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

__all__ = [
    "cache_dir",
    "config_hash",
    "canonical_json",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_torch_save",
    "create_exclusive",
    "file_digest",
    "arrays_digest",
]


def cache_dir(*parts: str) -> Path:
    """Return (and create) a folder inside the signseg cache.

    The root is ``$SIGNSEG_CACHE`` when set, else ``~/.cache/signseg``.
    """
    root = os.environ.get("SIGNSEG_CACHE") or os.path.join(Path.home(), ".cache", "signseg")
    path = Path(root).expanduser().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if hasattr(obj, "tolist"):  # numpy / torch scalars and arrays
        return obj.tolist()
    raise TypeError(f"cannot hash a configuration value of type {type(obj).__name__}: {obj!r}")


def canonical_json(obj: Any) -> str:
    """Serialise ``obj`` to JSON with sorted keys and no whitespace (stable across runs)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_default)


def config_hash(obj: Any, length: int = 16) -> str:
    """Hex SHA-256 of the canonical JSON of ``obj``, truncated to ``length`` characters."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:length]


def _entries_digest(entries: Iterable[tuple[str, tuple[int, ...], str, bytes]], length: int) -> str:
    """Hex SHA-256 (first ``length`` characters) of ``(name, shape, dtype, bytes)`` entries."""
    digest = hashlib.sha256()
    for name, shape, dtype, data in entries:
        digest.update(f"{name}:{shape}:{dtype}".encode())
        digest.update(data)
    return digest.hexdigest()[:length]


def tensors_digest(state: Mapping[str, Any], length: int = 16) -> str:
    """Hex SHA-256 (first ``length`` characters) of a state dict's names, shapes and values.

    Identifies trained weights in cache keys, so results computed from one set of weights are
    never reused for another. Tensors are hashed in key order as contiguous CPU bytes.
    """
    import torch

    def entries() -> Iterator[tuple[str, tuple[int, ...], str, bytes]]:
        for key in sorted(state):
            value = state[key]
            if not isinstance(value, torch.Tensor):
                continue
            tensor = value.detach().to("cpu").contiguous()
            data = tensor.view(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b""
            yield key, tuple(tensor.shape), str(tensor.dtype), data

    return _entries_digest(entries(), length)


def arrays_digest(arrays: Mapping[str, Any], length: int = 16) -> str:
    """Hex SHA-256 (first ``length`` characters) of NumPy arrays' names, shapes, dtypes and values.

    Equal arrays give equal digests on every machine (unlike the bytes of an ``.npz`` file,
    which carry a time stamp), so a file named by it is the same file wherever it was written.
    """
    import numpy as np

    def entries() -> Iterator[tuple[str, tuple[int, ...], str, bytes]]:
        for key in sorted(arrays):
            array = np.ascontiguousarray(arrays[key])
            yield key, tuple(array.shape), array.dtype.str, array.tobytes()

    return _entries_digest(entries(), length)


def file_digest(path: str | os.PathLike[str], length: int = 16) -> str:
    """Hex SHA-256 of a file's bytes, truncated to ``length`` characters."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:length]


@contextlib.contextmanager
def _temporary(target: Path) -> Iterator[Path]:
    """Yield a temporary file next to ``target`` (the usual file mode); always remove it after."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _usual_mode(path: Path) -> None:
    """Give ``path`` the mode a new file gets (``mkstemp`` creates files 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` keeps its old content.
    """
    target = Path(path)
    with _temporary(target) as tmp:
        yield tmp
        _usual_mode(tmp)
        os.replace(tmp, target)


def create_exclusive(path: str | os.PathLike[str], write: Callable[[Path], None]) -> bool:
    """Write a new file ``path`` with ``write(tmp)``, unless ``path`` exists; atomically.

    ``write`` fills a temporary file next to ``path``, which is then hard-linked to ``path``:
    the link fails if ``path`` exists, so of several processes creating one path at once
    exactly one wins and nobody's file is ever replaced. On file systems without hard links
    it falls back to a rename when ``path`` does not exist yet (last writer wins in a race).

    Returns
    -------
    bool
        ``True`` if this call created ``path``; ``False`` if it existed (``write`` still ran
        when it appeared in the meantime; its output is discarded).
    """
    target = Path(path)
    if target.exists():
        return False
    with _temporary(target) as tmp:
        write(tmp)
        _usual_mode(tmp)
        try:
            os.link(tmp, target)
        except FileExistsError:
            return False
        except OSError:  # no hard links here (some network or FAT file systems)
            if target.exists():
                return False
            os.replace(tmp, target)
    return True


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Atomically write ``data`` to ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Atomically write ``text`` (UTF-8) to ``path``."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_torch_save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """Atomically ``torch.save`` ``obj`` to ``path``."""
    import torch

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)
