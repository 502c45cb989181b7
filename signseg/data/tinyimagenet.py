"""Tiny ImageNet-200: 200 ImageNet synsets at 64 px, one object box per image.

The loader reads the layout of the official ``tiny-imagenet-200.zip`` (Stanford CS231n),
wherever it finds it first:

1. a local folder (``root=``, else ``$SIGNSEG_DATA``; the variable may also name an
   archive file directly), in which the first of these that exists is read:

   * the unpacked tree ``<folder>/tiny-imagenet-200/`` (or ``<folder>`` itself when it holds
     ``wnids.txt``);
   * the official zip ``tiny-imagenet-200.zip``, checked against its published MD5;
   * the project's offline subset ``tiny-imagenet-200-300.tar.gz`` (300 training images per
     class, the whole validation split), checked against ``SHA256SUMS`` beside it;

2. the official zip in ``cache_dir("data", "tiny-imagenet")``, downloaded there once when
   ``download=True`` and checked against its MD5;
3. otherwise a :class:`~signseg.errors.DataNotFoundError` says where to put which file.

Layout read (paths below the ``tiny-imagenet-200/`` folder)::

    wnids.txt                              the 200 WordNet ids, one per line
    words.txt                              WordNet id <TAB> names, for all of WordNet
    train/<wnid>/images/<wnid>_<i>.JPEG
    train/<wnid>/<wnid>_boxes.txt          image <TAB> x0 <TAB> y0 <TAB> x1 <TAB> y1
    val/images/val_<i>.JPEG
    val/val_annotations.txt                image <TAB> wnid <TAB> x0 <TAB> y0 <TAB> x1 <TAB> y1

Choices:

* **Classes** come from ``wnids.txt``, never from the folders present, and are ordered by
  sorted WordNet id (ImageNet-1k's index order). A class listed there with no image folder,
  no box file, or an image without a box is an error naming the file.
* **Class names** are the first synonym of ``words.txt`` (``"goldfish"``); the WordNet ids are
  kept in :attr:`~signseg.data.dataset.ImageDataset.class_ids`.
* **Splits**: ``"train"`` and ``"val"``. The official test split has no labels, so ``"test"``
  is an alias of ``"val"`` (the split every project model is evaluated on).
* **Boxes** are inclusive pixel coordinates ``(x0, y0, x1, y1)`` (``meta["boxes"]``) and
  become the object masks (``masks[i, y0:y1 + 1, x0:x1 + 1] = True``).
* **Grayscale** images (about 1.6%) are converted to RGB by repeating the channel.
* Images are ordered by class, then by the number in the file name (``_2`` before ``_10``);
  validation images by their number.

Decoded arrays are cached like the other natural data sets (see
:mod:`signseg.data.imagefolder`), keyed by the source's checksum or file listing.
"""

from __future__ import annotations

import hashlib
import os
import re
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator

import numpy as np
import torch

from ..cache import cache_dir, config_hash
from ..errors import DamagedFileError, DataNotFoundError, InvalidInputError
from ..files import damaged, warn_recomputing
from .dataset import ImageDataset
from .imagefolder import archive_sha256, decode_images, load_arrays, save_arrays

__all__ = [
    "NAME",
    "TREE",
    "ZIP_NAME",
    "ZIP_URL",
    "ZIP_MD5",
    "SUBSET_ARCHIVE",
    "SPLITS",
    "IMAGE_SIZE",
    "load_tiny_imagenet",
    "boxes_to_masks",
    "find_source",
]

NAME = "tiny-imagenet"
TREE = "tiny-imagenet-200"
ZIP_NAME = "tiny-imagenet-200.zip"
ZIP_URL = "http://cs231n.stanford.edu/tiny-imagenet-200.zip"
ZIP_MD5 = "90528d7ca1a48142e341f4ef8d21d0de"
"""The MD5 published with the official zip (248,100,043 bytes)."""
SUBSET_ARCHIVE = "tiny-imagenet-200-300.tar.gz"
SPLITS = ("train", "val")
IMAGE_SIZE = (64, 64)
_CACHE_FORMAT = 1
_NUMBER = re.compile(r"_(\d+)\.[A-Za-z]+$")
_ARRAYS = ("images", "targets", "boxes", "wnids", "classes")


@dataclass(frozen=True)
class _Files:
    """The raw content of one split: annotation texts and encoded images by relative path."""

    texts: dict[str, str]
    images: dict[str, bytes]


def load_tiny_imagenet(
    split: str,
    *,
    root: str | os.PathLike[str] | None = None,
    download: bool = True,
    progress: bool = True,
) -> ImageDataset:
    """Load one split of Tiny ImageNet-200 with its object boxes as masks.

    Parameters
    ----------
    split:
        ``"train"``, ``"val"`` or ``"test"`` (an alias of ``"val"``).
    root:
        Folder (or archive file) with a local copy; default ``$SIGNSEG_DATA``.
    download:
        Download the official zip into the signseg cache when no local copy is found.
    progress:
        Show a progress bar while decoding.

    Returns
    -------
    ImageDataset
        ``uint8`` images ``[N, 3, 64, 64]``, labels indexing the 200 classes, ``masks``
        ``[N, 64, 64]`` (inside the box) and ``meta["boxes"]`` ``[N, 4]``.

    Raises
    ------
    InvalidInputError
        ``split`` is not a split of Tiny ImageNet.
    DataNotFoundError
        No copy was found or downloaded, a checksum fails, or a file of the layout is missing.
    """
    split = _split_name(split)
    source = find_source(root, download=download, progress=progress)
    key = config_hash({"format": _CACHE_FORMAT, "source": _source_key(source), "split": split})
    cached = cache_dir("data", "decoded") / f"{NAME}-{split}-{key}.npz"
    if cached.is_file():
        try:
            return _dataset(load_arrays(cached, entries=_ARRAYS), split)
        except DamagedFileError as error:  # our own cache: decode again and overwrite it
            warn_recomputing(error, "decodes the images again")
    arrays = _decode_split(_read_files(source, split), split, source, progress)
    save_arrays(cached, arrays)
    return _dataset(arrays, split)


def boxes_to_masks(boxes: np.ndarray | torch.Tensor, size: tuple[int, int] = IMAGE_SIZE) -> torch.Tensor:
    """Boolean masks ``[N, H, W]`` that are True inside each inclusive box ``(x0, y0, x1, y1)``.

    Coordinates are clipped to the image; a box with ``x1 < x0`` (or ``y1 < y0``) after
    clipping gives an empty mask.
    """
    boxes = torch.as_tensor(np.asarray(boxes), dtype=torch.int64).reshape(-1, 4)
    height, width = size
    rows = torch.arange(height).view(1, height, 1)
    cols = torch.arange(width).view(1, 1, width)
    x0, y0, x1, y1 = (boxes[:, i].view(-1, 1, 1) for i in range(4))
    return (cols >= x0) & (cols <= x1) & (rows >= y0) & (rows <= y1)


def find_source(
    root: str | os.PathLike[str] | None = None, *, download: bool = True, progress: bool = True
) -> Path:
    """The tree folder or archive to read (see the module docstring for the order).

    Raises
    ------
    DataNotFoundError
        Nothing was found and the download was disabled or failed, or a checksum fails.
    """
    given = root if root is not None else os.environ.get("SIGNSEG_DATA") or None
    folder = Path(given).expanduser() if given else None
    if folder is not None:
        local = _local_source(folder)
        if local is not None:
            return local
    cached_zip = cache_dir("data", NAME) / ZIP_NAME
    if cached_zip.is_file():
        return _checked_zip(cached_zip)
    reason = "download=False"
    if download:
        try:
            torch.hub.download_url_to_file(ZIP_URL, str(cached_zip), progress=progress)
            return _checked_zip(cached_zip)
        except DataNotFoundError:
            raise
        except Exception as exc:  # urllib, ssl and socket errors differ by platform
            reason = f"the download from {ZIP_URL} failed ({type(exc).__name__}: {exc})"
    where = (
        "no local folder was given (root=None and $SIGNSEG_DATA is not set)"
        if folder is None
        else f"{str(folder)!r} holds neither {TREE}/, {ZIP_NAME} nor {SUBSET_ARCHIVE}"
    )
    raise DataNotFoundError(
        f"Tiny ImageNet-200 was not found: {where}, and {reason}. Set SIGNSEG_DATA (or pass "
        f"root=) to a folder holding the unpacked {TREE}/ tree, the official {ZIP_NAME} or the "
        f"offline subset {SUBSET_ARCHIVE}; or put {ZIP_NAME} (from {ZIP_URL}) at "
        f"{str(cached_zip)!r}."
    )


# --------------------------------------------------------------------------- sources


def _split_name(split: str) -> str:
    if split == "test":
        return "val"
    if split not in SPLITS:
        raise InvalidInputError(
            f"Tiny ImageNet has the splits {list(SPLITS)} ('test' means 'val': the official test "
            f"split has no labels); got split={split!r}."
        )
    return split


def _local_source(folder: Path) -> Path | None:
    """The copy of Tiny ImageNet in (or at) ``folder``, or ``None``."""
    if folder.is_file():
        if folder.name.endswith(".zip"):
            return _checked_zip(folder)
        if folder.name.endswith((".tar.gz", ".tgz", ".tar")):
            archive_sha256(folder)  # raises on a SHA256SUMS mismatch
            return folder
        raise DataNotFoundError(
            f"{folder} is a file but neither a .zip nor a .tar.gz archive of Tiny ImageNet; point "
            f"SIGNSEG_DATA (or root=) at the folder holding {TREE}/, {ZIP_NAME} or {SUBSET_ARCHIVE}."
        )
    for tree in (folder / TREE, folder):
        if (tree / "wnids.txt").is_file():
            return tree
    if (folder / ZIP_NAME).is_file():
        return _checked_zip(folder / ZIP_NAME)
    if (folder / SUBSET_ARCHIVE).is_file():
        archive_sha256(folder / SUBSET_ARCHIVE)
        return folder / SUBSET_ARCHIVE
    return None


def _checked_zip(path: Path) -> Path:
    """``path`` after checking the official zip's MD5 (a mismatch removes nothing)."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != ZIP_MD5:
        raise DataNotFoundError(
            f"{path} does not match the published MD5 of {ZIP_NAME} (expected {ZIP_MD5}, got "
            f"{digest.hexdigest()}): the download is incomplete or it is another file. Delete it "
            f"and download it again from {ZIP_URL}."
        )
    return path


def _source_key(source: Path) -> str:
    """What identifies the source's content: an archive's SHA-256 or the tree's listing."""
    if source.is_file():
        return archive_sha256(source)
    listing = []
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        stat = path.stat()
        listing.append((path.relative_to(source).as_posix(), stat.st_size, stat.st_mtime_ns))
    return config_hash(listing, length=32)


def _wanted(relative: str, split: str) -> str | None:
    """``"text"``, ``"image"`` or ``None``: whether the split needs the file at ``relative``."""
    parts = PurePosixPath(relative).parts
    if relative in ("wnids.txt", "words.txt"):
        return "text"
    if split == "train" and len(parts) == 3 and parts[0] == "train" and parts[2].endswith("_boxes.txt"):
        return "text"
    if split == "train" and len(parts) == 4 and parts[0] == "train" and parts[2] == "images":
        return "image" if not parts[3].startswith(".") else None
    if split == "val" and relative == "val/val_annotations.txt":
        return "text"
    if split == "val" and len(parts) == 3 and parts[:2] == ("val", "images"):
        return "image" if not parts[2].startswith(".") else None
    return None


def _relative(member: str) -> str | None:
    """A member name below the ``tiny-imagenet-200/`` folder (``None`` outside it)."""
    parts = PurePosixPath(member).parts
    if TREE in parts:
        return PurePosixPath(*parts[parts.index(TREE) + 1 :]).as_posix() if parts[-1] != TREE else None
    return None


def _read_files(source: Path, split: str) -> _Files:
    """Collect every file the split needs from a tree, a zip or a tar archive."""
    texts: dict[str, str] = {}
    images: dict[str, bytes] = {}
    try:
        for relative, read in _entries(source):
            kind = _wanted(relative, split)
            if kind == "text":
                texts[relative] = read().decode("utf-8")
            elif kind == "image":
                images[relative] = read()
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise damaged(source, f"cannot be read ({type(exc).__name__}: {exc}); it is truncated or damaged",
                      f"Copy it again (or download the official {ZIP_NAME} from {ZIP_URL}).") from exc
    return _Files(texts, images)


def _entries(source: Path) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """``(path below tiny-imagenet-200/, reader)`` of every file of the source."""
    if source.is_dir():
        for path in source.rglob("*"):
            if path.is_file():
                yield path.relative_to(source).as_posix(), path.read_bytes
    elif source.name.endswith(".zip"):
        with zipfile.ZipFile(source) as archive:
            for info in archive.infolist():
                relative = _relative(info.filename)
                if relative and not info.is_dir():
                    yield relative, lambda info=info: archive.read(info)
    else:
        with tarfile.open(source, "r:*") as archive:
            for member in archive:
                relative = _relative(member.name)
                if relative and member.isfile():
                    handle = archive.extractfile(member)
                    if handle is not None:
                        yield relative, handle.read


# --------------------------------------------------------------------------- parsing


def _text(files: _Files, relative: str, source: Path) -> str:
    if relative not in files.texts:
        raise DataNotFoundError(
            f"{source}: the file {TREE}/{relative} is missing; the copy is incomplete. Copy the "
            f"whole {TREE}/ folder again (or use the official {ZIP_NAME})."
        )
    return files.texts[relative]


def _rows(text: str, columns: int, where: str) -> list[list[str]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t") if "\t" in line else line.split()
        if len(fields) != columns:
            raise DataNotFoundError(
                f"{where}, line {number}: expected {columns} tab-separated fields, got "
                f"{len(fields)} ({line!r}); the file is damaged."
            )
        rows.append(fields)
    return rows


def _box(fields: list[str], where: str) -> tuple[int, int, int, int]:
    try:
        x0, y0, x1, y1 = (int(value) for value in fields)
    except ValueError:
        raise DataNotFoundError(f"{where}: box {fields} is not four integers; the file is damaged.") from None
    return x0, y0, x1, y1


def _number(name: str) -> int:
    match = _NUMBER.search(name)
    return int(match.group(1)) if match else -1


def _class_table(files: _Files, source: Path) -> tuple[list[str], list[str]]:
    """Sorted WordNet ids from ``wnids.txt`` and their first ``words.txt`` synonym."""
    wnids = sorted({line.strip() for line in _text(files, "wnids.txt", source).splitlines() if line.strip()})
    if not wnids:
        raise DataNotFoundError(f"{source}: {TREE}/wnids.txt lists no class; the file is damaged.")
    words: dict[str, str] = {}
    for line in _text(files, "words.txt", source).splitlines():
        wnid, _, names = line.partition("\t")
        words[wnid.strip()] = names.split(",")[0].strip()
    return wnids, [words.get(wnid) or wnid for wnid in wnids]


def _labelled_images(files: _Files, split: str, wnids: list[str], source: Path) -> list[tuple[str, int, tuple[int, int, int, int]]]:
    """``(image path, class index, box)`` of every image of the split, in loader order."""
    index = {wnid: i for i, wnid in enumerate(wnids)}
    items = []
    if split == "train":
        for wnid in wnids:
            boxes_file = f"train/{wnid}/{wnid}_boxes.txt"
            where = f"{source}: {TREE}/{boxes_file}"
            boxes = {row[0]: _box(row[1:], where) for row in _rows(_text(files, boxes_file, source), 5, where)}
            prefix = f"train/{wnid}/images/"
            names = sorted((p for p in files.images if p.startswith(prefix)), key=lambda p: (_number(p), p))
            if not names:
                raise DataNotFoundError(
                    f"{source}: the class {wnid} (listed in {TREE}/wnids.txt) has no image in "
                    f"{TREE}/{prefix}; the copy is incomplete."
                )
            for path in names:
                name = PurePosixPath(path).name
                if name not in boxes:
                    raise DataNotFoundError(f"{where} has no box for the image {name}; the file is damaged.")
                items.append((path, index[wnid], boxes[name]))
        return items
    where = f"{source}: {TREE}/val/val_annotations.txt"
    rows = _rows(_text(files, "val/val_annotations.txt", source), 6, where)
    for name, wnid, *box in sorted(rows, key=lambda row: (_number(row[0]), row[0])):
        if wnid not in index:
            raise DataNotFoundError(f"{where}: {name} has the class {wnid}, which wnids.txt does not list.")
        path = f"val/images/{name}"
        if path not in files.images:
            raise DataNotFoundError(f"{source}: {TREE}/{path} (listed in val_annotations.txt) is missing.")
        items.append((path, index[wnid], _box(box, where)))
    return items


def _decode_split(files: _Files, split: str, source: Path, progress: bool) -> dict[str, np.ndarray]:
    """Parse the annotations and decode every image of the split into arrays."""
    wnids, names = _class_table(files, source)
    items = _labelled_images(files, split, wnids, source)
    encoded = ((TREE, path, files.images[path]) for path, _, _ in items)
    images = decode_images(encoded, "RGB", f"decoding {NAME} {split}", progress, where=str(source))
    for (path, _, _), image in zip(items, images):
        if image.shape[:2] != IMAGE_SIZE:
            raise InvalidInputError(
                f"{source}: {TREE}/{path} is {image.shape[0]}x{image.shape[1]} pixels, expected "
                f"64x64. Is this the Tiny ImageNet-200 data set?"
            )
    return {
        "images": np.ascontiguousarray(np.stack(images).transpose(0, 3, 1, 2)),
        "targets": np.array([label for _, label, _ in items], dtype=np.int64),
        "boxes": np.array([box for _, _, box in items], dtype=np.int64),
        "wnids": np.array(wnids),
        "classes": np.array(names),
    }


def _dataset(arrays: dict[str, np.ndarray], split: str) -> ImageDataset:
    boxes = torch.from_numpy(arrays["boxes"])
    return ImageDataset(
        NAME,
        split,
        torch.from_numpy(arrays["images"]),
        torch.from_numpy(arrays["targets"]),
        [str(name) for name in arrays["classes"]],
        masks=boxes_to_masks(boxes),
        meta={"boxes": boxes},
        class_ids=[str(wnid) for wnid in arrays["wnids"]],
    )
