"""CIFAR-10 and MNIST: from a local folder or archive, else through torchvision.

Where the images come from, in this order:

1. A local folder: the ``root`` argument, else the ``SIGNSEG_DATA`` environment variable.
   In it, the first of these that exists is read:

   * an ImageFolder tree ``<folder>/<tree name>/{train,test}/<class>/<image>``, with
     ``<tree name>`` ``cifar10-jpg`` or ``cifar10`` (``mnist-png`` or ``mnist``);
   * the folder itself, when it *is* such a tree (holds ``train/`` or ``test/``);
   * the archive ``cifar10-jpg.tar.gz`` (``mnist-png.tar.gz``) as in the project's shared
     data folder, checked against ``SHA256SUMS`` when that file lies beside it.

   Decoded images are cached (see :mod:`signseg.data.imagefolder`), so only the first
   read of a source is slow.
2. ``torchvision.datasets.CIFAR10`` / ``MNIST`` with ``root=cache_dir("data", "torchvision")``,
   downloading when ``download=True``.
3. Otherwise a :class:`~signseg.errors.DataNotFoundError` says how to provide the data.

Class order is the sorted class-folder names, which is torchvision's order for both sets
(``airplane`` ... ``truck``; ``"0"`` ... ``"9"``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..cache import cache_dir
from ..errors import DataNotFoundError
from .dataset import ImageDataset
from .imagefolder import read_split

__all__ = ["NaturalSpec", "SPECS", "DATA_ENV", "load_natural", "find_local_source", "check_classes"]

DATA_ENV = "SIGNSEG_DATA"
"""Environment variable naming the folder with local data copies."""


@dataclass(frozen=True)
class NaturalSpec:
    """What identifies one natural-image data set on disk and in torchvision.

    Attributes
    ----------
    name:
        Registry name (``"cifar10"``).
    title:
        Human name used in messages (``"CIFAR-10"``).
    archive:
        File name of the archive in the shared data folder.
    tree_names:
        Folder names an ImageFolder tree of this set may have.
    mode:
        PIL mode of the images: ``"RGB"`` or ``"L"`` (grey).
    size:
        Height and width of every image.
    classes:
        Class names in label order (the sorted folder names).
    torchvision_class:
        Name of the class in ``torchvision.datasets``.
    """

    name: str
    title: str
    archive: str
    tree_names: tuple[str, ...]
    mode: str
    size: tuple[int, int]
    classes: tuple[str, ...]
    torchvision_class: str


SPECS: dict[str, NaturalSpec] = {
    "cifar10": NaturalSpec(
        name="cifar10",
        title="CIFAR-10",
        archive="cifar10-jpg.tar.gz",
        tree_names=("cifar10-jpg", "cifar10"),
        mode="RGB",
        size=(32, 32),
        classes=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
        torchvision_class="CIFAR10",
    ),
    "mnist": NaturalSpec(
        name="mnist",
        title="MNIST",
        archive="mnist-png.tar.gz",
        tree_names=("mnist-png", "mnist"),
        mode="L",
        size=(28, 28),
        classes=tuple(str(digit) for digit in range(10)),
        torchvision_class="MNIST",
    ),
}


def load_natural(
    spec: NaturalSpec,
    split: str,
    *,
    root: str | os.PathLike[str] | None = None,
    download: bool = True,
    progress: bool = True,
) -> ImageDataset:
    """Load one split of a natural-image data set (see the module docstring for the sources).

    Parameters
    ----------
    spec:
        Which data set (an entry of :data:`SPECS`).
    split:
        ``"train"`` or ``"test"`` (already validated by the caller).
    root:
        Folder with a local copy; ``None`` uses ``$SIGNSEG_DATA`` if set.
    download:
        Let torchvision download the data when no local copy is found.
    progress:
        Show progress bars while decoding.

    Raises
    ------
    DataNotFoundError
        No local copy, and torchvision could neither find nor download the data.
    """
    folder = _local_folder(root, spec)
    source = find_local_source(folder, spec, split) if folder is not None else None
    if source is None and folder is not None:
        _check_no_partial_tree(folder, spec, split)
    if source is not None:
        decoded = read_split(source, split, mode=spec.mode, size=spec.size, label=spec.name, progress=progress)
        check_classes(decoded.classes, spec, source, split)
        return ImageDataset(
            spec.name,
            split,
            torch.from_numpy(decoded.images),
            torch.from_numpy(decoded.targets),
            decoded.classes,
        )
    try:
        return _load_torchvision(spec, split, download)
    except Exception as exc:  # torchvision raises RuntimeError, URLError, ssl and socket errors
        raise DataNotFoundError(_not_found_message(spec, split, root, folder, download, exc)) from exc


def find_local_source(folder: Path, spec: NaturalSpec, split: str) -> Path | None:
    """The tree or archive in ``folder`` holding ``split`` of ``spec``, or ``None``.

    Checks ``folder/<tree name>/<split>``, then ``folder/<split>`` (``folder`` is the tree),
    then ``folder/<archive>``; returns the tree folder or the archive path.
    """
    for tree_name in spec.tree_names:
        if (folder / tree_name / split).is_dir():
            return folder / tree_name
    if (folder / split).is_dir():
        return folder
    if (folder / spec.archive).is_file():
        return folder / spec.archive
    return None


def check_classes(found: tuple[str, ...], spec: NaturalSpec, source: Path, split: str) -> None:
    """Raise unless the class folders ``found`` are exactly ``spec.classes``.

    A missing class folder would otherwise shift every later label by one (labels index the
    sorted folder names), silently.

    Raises
    ------
    DataNotFoundError
        A class is missing or an unknown class folder is present; the message names both.
    """
    if tuple(found) == tuple(spec.classes):
        return
    missing = [name for name in spec.classes if name not in found]
    extra = [name for name in found if name not in spec.classes]
    problems = []
    if missing:
        problems.append(f"lacks the class folders {missing}")
    if extra:
        problems.append(f"has unknown class folders {extra}")
    raise DataNotFoundError(
        f"the {spec.title} {split} split in {str(source)!r} {' and '.join(problems)}; "
        f"{spec.title} has the {len(spec.classes)} classes {list(spec.classes)}. Labels index "
        "this list, so a partial copy would mislabel images: copy the data set again (or "
        "point root= / $SIGNSEG_DATA at the complete copy)."
    )


def _local_folder(root: str | os.PathLike[str] | None, spec: NaturalSpec) -> Path | None:
    """``root``, else ``$SIGNSEG_DATA``, as a path; ``None`` when neither is given.

    Raises
    ------
    DataNotFoundError
        The path names a file (e.g. the archive itself) instead of the folder holding it.
    """
    given = f"root={str(root)!r}" if root is not None else f"${DATA_ENV}={os.environ.get(DATA_ENV)!r}"
    if root is not None:
        folder = Path(root).expanduser()
    else:
        env = os.environ.get(DATA_ENV)
        folder = Path(env).expanduser() if env else None
    if folder is not None and folder.is_file():
        raise DataNotFoundError(
            f"{given} names a file, but it must name the folder that holds the archive "
            f"{spec.archive!r} or an ImageFolder tree; use {str(folder.parent)!r} instead."
        )
    return folder


def _check_no_partial_tree(folder: Path, spec: NaturalSpec, split: str) -> None:
    """Raise if ``folder`` holds a tree of ``spec`` that lacks ``split`` (and no archive)."""
    for tree in [folder / name for name in spec.tree_names] + [folder]:
        present = [s for s in ("train", "test") if (tree / s).is_dir()]
        if present:
            raise DataNotFoundError(
                f"the {spec.title} ImageFolder tree {str(tree)!r} has the split folders "
                f"{present} but no {split!r} folder (and {str(folder)!r} holds no archive "
                f"{spec.archive!r}). Copy the {split} split to {str(tree / split)!r}, or put the "
                "archive in the folder."
            )


def _load_torchvision(spec: NaturalSpec, split: str, download: bool) -> ImageDataset:
    """Load ``split`` through ``torchvision.datasets`` into the torchvision cache folder."""
    import torchvision

    dataset_class = getattr(torchvision.datasets, spec.torchvision_class)
    dataset = dataset_class(root=str(cache_dir("data", "torchvision")), train=split == "train", download=download)
    images = torch.as_tensor(np.asarray(dataset.data), dtype=torch.uint8)
    images = images.unsqueeze(1) if images.dim() == 3 else images.permute(0, 3, 1, 2)
    targets = torch.as_tensor(np.asarray(dataset.targets), dtype=torch.int64)
    return ImageDataset(spec.name, split, images.contiguous(), targets, spec.classes)


def _not_found_message(
    spec: NaturalSpec,
    split: str,
    root: str | os.PathLike[str] | None,
    folder: Path | None,
    download: bool,
    exc: BaseException,
) -> str:
    """Explain where the data was looked for and the two ways to provide it."""
    if folder is None:
        looked = f"no local folder was given (root=None and ${DATA_ENV} is not set)"
    else:
        given = "root=" if root is not None else f"${DATA_ENV}="
        state = "does not exist" if not folder.exists() else "holds neither the archive nor an ImageFolder tree"
        looked = f"the local folder {given}{str(folder)!r} {state}"
    reason = "download=False" if not download else f"the download failed ({type(exc).__name__}: {exc})"
    layouts = " or ".join(f"'{name}/{{train,test}}/<class>/<image>'" for name in spec.tree_names)
    return (
        f"{spec.title} ({split} split) was not found: {looked}, and torchvision could not provide it "
        f"({reason}). Either set {DATA_ENV} (or pass root=) to a folder holding the archive "
        f"{spec.archive!r} or an ImageFolder tree {layouts}; or allow download=True on a machine "
        f"with internet access (torchvision stores it in {str(cache_dir('data', 'torchvision'))!r})."
    )
