"""Reading an ImageFolder split from a folder tree or straight from a ``.tar.gz`` archive.

Layout (torchvision ``ImageFolder``): ``<tree>/<split>/<class>/<image>``; inside an archive
the same layout may sit below a top folder (``cifar10-jpg/train/cat/0001.jpg``). Archives that
hold several such sets side by side (``bg_challenge/<variant>/val/<class>/<image>``) are read
one set at a time by naming the folder above the split (``parent=``). Classes are
the sorted class-folder names; images are ordered by class, then by file name, exactly as
``torchvision.datasets.ImageFolder`` orders them. Hidden files and files whose extension is
not an image extension are ignored.

Decoding tens of thousands of small files takes seconds, so the decoded ``uint8`` arrays of
a split are cached in ``cache_dir("data", "decoded")`` as one ``.npz`` file, written
atomically and keyed by the source: the archive's SHA-256, or the tree's listing (relative
path, size and modification time of every file). A changed source therefore gets a new
cache entry; a second read of the same source only loads the ``.npz``.

Archives are decoded member by member from the compressed stream, never unpacked to disk:
extracting the 60,000-70,000 files of the shared archives costs more than decoding them, and
the decoded cache already makes the work happen once. When a ``SHA256SUMS`` file lies beside
the archive and lists it, the archive is checked against it before use.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterable, Iterator

import numpy as np
from PIL import Image
from ..progress import tqdm

from ..cache import atomic_path, cache_dir, config_hash
from ..errors import DamagedFileError, DataNotFoundError, InvalidInputError
from ..files import check_nonempty, damaged, load_npz, warn_recomputing

__all__ = [
    "IMAGE_EXTENSIONS",
    "DecodedSplit",
    "archive_sha256",
    "read_split",
    "decode_images",
    "save_arrays",
    "load_arrays",
]

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"})
"""File extensions read as images (those of ``torchvision.datasets.folder.IMG_EXTENSIONS``)."""

_CACHE_FORMAT = 1
"""Bump when the decoded cache's content or layout changes, to invalidate old entries."""

@dataclass(frozen=True)
class DecodedSplit:
    """The decoded images of one split.

    Attributes
    ----------
    images:
        ``uint8`` array ``[N, C, H, W]``.
    targets:
        ``int64`` array ``[N]`` indexing ``classes``.
    classes:
        Sorted class-folder names.
    names:
        File name of every image, in the same order (empty when read from a cache written
        before file names were kept).
    """

    images: np.ndarray
    targets: np.ndarray
    classes: tuple[str, ...]
    names: tuple[str, ...] = ()


def read_split(
    source: Path,
    split: str,
    *,
    mode: str,
    size: tuple[int, int],
    label: str,
    progress: bool = True,
    parent: str | None = None,
) -> DecodedSplit:
    """Read one split of an ImageFolder tree or archive, through the decoded cache.

    Parameters
    ----------
    source:
        A folder holding ``<split>/<class>/<image>``, or a ``.tar.gz`` archive holding that
        layout (optionally below one top folder).
    split:
        Name of the split folder (``"train"`` or ``"test"``).
    mode:
        PIL mode every image is converted to: ``"RGB"`` (3 channels) or ``"L"`` (1 channel).
    size:
        Expected ``(height, width)`` of every image.
    label:
        Short name used in the cache file name and in messages (e.g. ``"cifar10"``).
    progress:
        Show a tqdm progress bar while decoding.
    parent:
        Read ``<parent>/<split>/<class>/<image>`` instead: the folder ``source/parent/split``
        of a tree, or only the archive members whose split folder sits in a folder ``parent``.

    Returns
    -------
    DecodedSplit

    Raises
    ------
    DataNotFoundError
        The source holds no image for ``split``, or the archive fails its checksum.
    InvalidInputError
        An image does not have the expected size.
    """
    folder = split if parent is None else f"{parent}/{split}"
    if source.is_file():
        source_key, items = archive_sha256(source), _archive_items(source, split, parent)
    else:
        files = _tree_files(source / folder)
        source_key, items = _tree_listing_key(files), _read_files(files)
    setting = {"format": _CACHE_FORMAT, "source": source_key, "split": split, "mode": mode, "size": size}
    if parent is not None:  # (absent otherwise: existing cache entries keep their keys)
        setting["parent"] = parent
    cached = cache_dir("data", "decoded") / f"{label}-{split}-{config_hash(setting)}.npz"
    if cached.is_file():
        try:
            return _load_cached(cached)
        except DamagedFileError as error:  # our own cache: decode again and overwrite it
            warn_recomputing(error, "decodes the images again")
    where = f"{source}:{folder}" if source.is_file() else str(source / folder)  # names a bad image
    decoded = _assemble(_decode_all(items, mode, f"decoding {label} {split}", progress, where), mode, size, source, folder)
    _save_cached(cached, decoded)
    return decoded


def archive_sha256(archive: Path) -> str:
    """SHA-256 (hex) of ``archive``, checked against a ``SHA256SUMS`` file beside it if any.

    Raises
    ------
    DataNotFoundError
        ``SHA256SUMS`` lists the archive with a different digest (corrupt or partial copy).
    """
    digest = hashlib.sha256()
    with open(archive, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    actual = digest.hexdigest()
    expected = _listed_sha256(archive)
    if expected is not None and expected != actual:
        raise DataNotFoundError(
            f"{archive} does not match its checksum in {archive.parent / 'SHA256SUMS'}: expected "
            f"{expected}, got {actual}. The copy is corrupt or incomplete; copy the archive again."
        )
    return actual


def _listed_sha256(archive: Path) -> str | None:
    """The digest that ``SHA256SUMS`` beside ``archive`` lists for it, or ``None``."""
    sums = archive.parent / "SHA256SUMS"
    if not sums.is_file():
        return None
    for line in sums.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("*") == archive.name:
            return parts[0].lower()
    return None


def _is_image_name(name: str) -> bool:
    """Whether ``name`` is a visible file with an image extension."""
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _tree_files(split_dir: Path) -> list[tuple[str, str, Path]]:
    """``(class, file name, path)`` of every image in ``split_dir/<class>/``, sorted."""
    if not split_dir.is_dir():
        return []
    files = []
    for class_entry in os.scandir(split_dir):
        if class_entry.is_dir() and not class_entry.name.startswith("."):
            for entry in os.scandir(class_entry.path):
                if entry.is_file() and _is_image_name(entry.name):
                    files.append((class_entry.name, entry.name, Path(entry.path)))
    return sorted(files)


def _tree_listing_key(files: list[tuple[str, str, Path]]) -> str:
    """Hash of the relative path, size and modification time of every listed file."""
    listing = []
    for class_name, file_name, path in files:
        stat = path.stat()
        listing.append((class_name, file_name, stat.st_size, stat.st_mtime_ns))
    return config_hash(listing, length=32)


def _read_files(files: list[tuple[str, str, Path]]) -> Iterator[tuple[str, str, bytes]]:
    """``(class, file name, encoded bytes)`` of every listed file (read lazily)."""
    for class_name, file_name, path in files:
        yield class_name, file_name, path.read_bytes()


def _archive_items(archive: Path, split: str, parent: str | None = None) -> Iterator[tuple[str, str, bytes]]:
    """``(class, file name, encoded bytes)`` of every ``.../[<parent>/]<split>/<class>/<image>`` member.

    Raises
    ------
    DamagedFileError
        The archive is empty, truncated or not a tar archive (names the archive).
    """
    fix = "The copy is damaged or incomplete; copy the archive again."
    check_nonempty(archive, fix)
    try:
        yield from _archive_members(archive, split, parent)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise damaged(archive, f"cannot be read as a .tar.gz archive ({type(exc).__name__}: {exc})",
                      fix) from exc


def _archive_members(archive: Path, split: str, parent: str | None) -> Iterator[tuple[str, str, bytes]]:
    with tarfile.open(archive, "r:*") as tar:
        for member in tar:
            parts = PurePosixPath(member.name).parts
            if (
                member.isfile()
                and len(parts) >= 3
                and parts[-3] == split
                and (parent is None or (len(parts) >= 4 and parts[-4] == parent))
                and not parts[-2].startswith(".")
                and _is_image_name(parts[-1])
            ):
                handle = tar.extractfile(member)
                if handle is not None:
                    yield parts[-2], parts[-1], handle.read()


def decode_images(
    items: Iterable[tuple[str, str, bytes]], mode: str, description: str, progress: bool,
    where: str = "",
) -> list[np.ndarray]:
    """Decode ``(class, file name, encoded bytes)`` items to ``uint8`` arrays, in order.

    Each array is ``[H, W]`` (mode ``"L"``) or ``[H, W, C]``; every image is converted to
    ``mode`` first (grey images become RGB by repeating the channel).

    Raises
    ------
    DamagedFileError
        An image cannot be decoded; names it as ``<where>/<class>/<file>`` (``where`` is the
        split folder, or ``<archive>:<split>``).
    """
    decoded = []
    for class_name, file_name, data in tqdm(items, desc=description, unit="img", disable=not progress):
        try:
            with Image.open(io.BytesIO(data)) as image:
                decoded.append(np.asarray(image.convert(mode)))
        except (OSError, ValueError, SyntaxError) as exc:  # UnidentifiedImageError is an OSError
            raise damaged(f"{where}/{class_name}/{file_name}", f"is not a readable image ({type(exc).__name__}: {exc})",
                          "It is empty, truncated or not an image: replace it with a good copy "
                          "(or copy the data set again).") from exc
    return decoded


def _decode_all(
    items: Iterable[tuple[str, str, bytes]], mode: str, description: str, progress: bool,
    where: str = "",
) -> list[tuple[str, str, np.ndarray]]:
    """Decode every item, keeping its class and file name beside the array."""
    items = list(items)
    arrays = decode_images(items, mode, description, progress, where)
    return [(class_name, file_name, array) for (class_name, file_name, _), array in zip(items, arrays)]


def _assemble(
    decoded: list[tuple[str, str, np.ndarray]], mode: str, size: tuple[int, int], source: Path, split: str
) -> DecodedSplit:
    """Sort decoded images by (class, file name) and stack them into a :class:`DecodedSplit`."""
    if not decoded:
        raise DataNotFoundError(
            f"{source} holds no image for the split {split!r}: expected files "
            f"{split}/<class>/<image> with one of the extensions {sorted(IMAGE_EXTENSIONS)}."
        )
    decoded.sort(key=lambda item: (item[0], item[1]))
    for class_name, file_name, array in decoded:
        if array.shape[:2] != tuple(size):
            raise InvalidInputError(
                f"{source}: {split}/{class_name}/{file_name} is {array.shape[0]}x{array.shape[1]} pixels, "
                f"expected {size[0]}x{size[1]}. Is this folder the right data set?"
            )
    classes = tuple(sorted({class_name for class_name, _, _ in decoded}))
    class_index = {name: index for index, name in enumerate(classes)}
    images = np.stack([array for _, _, array in decoded])
    images = images[:, None] if mode == "L" else images.transpose(0, 3, 1, 2)
    targets = np.array([class_index[class_name] for class_name, _, _ in decoded], dtype=np.int64)
    names = tuple(file_name for _, file_name, _ in decoded)
    return DecodedSplit(np.ascontiguousarray(images), targets, classes, names)


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Atomically write named arrays to ``path`` (uncompressed ``.npz``)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)


def load_arrays(path: Path, entries: Iterable[str] = ()) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz`` written by :func:`save_arrays`.

    Raises
    ------
    DamagedFileError
        The file is truncated, not an ``.npz`` or lacks one of ``entries`` (the caller
        decodes the images again).
    """
    return load_npz(path, "a decoded-images cache", "Delete it; signseg decodes the images again.",
                    entries=entries)


def _save_cached(path: Path, decoded: DecodedSplit) -> None:
    """Atomically write ``decoded`` to ``path``."""
    save_arrays(path, {"images": decoded.images, "targets": decoded.targets, "classes": np.array(decoded.classes),
                       "names": np.array(decoded.names)})


def _load_cached(path: Path) -> DecodedSplit:
    """Read a :class:`DecodedSplit` written by :func:`_save_cached`.

    Raises
    ------
    DamagedFileError
        The file is truncated, not an ``.npz`` or lacks an array (the caller recomputes it).
    """
    data = load_arrays(path, entries=("images", "targets", "classes"))
    if len(data["images"]) != len(data["targets"]):
        raise damaged(path, "holds different numbers of images and labels",
                      "Delete it; signseg decodes the images again.")
    names = tuple(str(name) for name in data["names"]) if "names" in data else ()
    return DecodedSplit(data["images"], data["targets"], tuple(str(name) for name in data["classes"]), names)
