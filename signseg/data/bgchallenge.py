"""Xiao et al.'s backgrounds challenge: ImageNet-9 and its foreground / background variants.

*Noise or Signal: The Role of Image Backgrounds in Object Recognition* (Xiao, Engstrom, Ilyas
& Madry 2020; https://github.com/MadryLab/backgrounds_challenge). ImageNet-9 (IN-9) groups
ImageNet classes into 9 super-classes; its test images (450 per class, 224 x 224) come in
variants with different amounts of foreground and background signal, released as one archive
(:data:`ARCHIVE_URL`) laid out as ``bg_challenge/<variant>/val/<class folder>/<image>``:

``original``, ``only_fg`` (background black), ``no_fg`` (foreground black), ``only_bg_b``
(background only, foreground box black), ``only_bg_t`` (background only, box filled by
tiling the background), ``mixed_same`` / ``mixed_rand`` / ``mixed_next`` (the foreground
pasted on the background of an image of the same class / a random class / the next class).

The class folders are :data:`CLASS_FOLDERS` (``00_dog`` ... ``08_fish``, two with a space);
labels are their sorted order, as torchvision's ``ImageFolder`` in the authors' ``in9_eval.py``.

Where the images come from, in this order:

1. a local folder (``root=``, else ``$SIGNSEG_DATA``) holding ``bg_challenge/`` (or being it:
   holding ``original/val/``), or the archive ``backgrounds_challenge_data.tar.gz``;
2. the archive in ``cache_dir("data", "bg-challenge")``, downloaded there from
   :data:`ARCHIVE_URL` when ``download=True`` (no checksum is published; the 9 class folders
   are checked instead);
3. otherwise a :class:`~signseg.errors.DataNotFoundError` names the files and where to put them.

Scoring a 1000-way ImageNet model (``in9_eval.py`` / ``tools/model_utils.py: eval_model``):
the arg-max over the 1000 ImageNet classes is mapped to IN-9 with the published
``in_to_in9.json`` (ImageNet index -> IN-9 label, ``-1`` for the classes outside the 9
super-classes; such a prediction is always wrong). :func:`in9_label_map` reads that file
(local folder, cache, or :data:`MAPPING_URL`); :func:`in9_decisions` applies it. The mapping is
not copied into signseg: its 1000 entries could not be confirmed offline, so the published
file itself is read (and checked: 1000 indices, labels in -1..8).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ..cache import cache_dir
from ..errors import DataNotFoundError, InvalidInputError
from ..files import damaged, load_json
from .dataset import ImageDataset
from .imagefolder import read_split
from .remote import cached_download, local_folder

__all__ = [
    "NAME",
    "VARIANTS",
    "CLASS_FOLDERS",
    "CLASSES",
    "ARCHIVE_NAME",
    "ARCHIVE_URL",
    "MAPPING_NAME",
    "MAPPING_URL",
    "load_bg_challenge",
    "in9_label_map",
    "in9_decisions",
]

NAME = "bg-challenge"
VARIANTS = ("original", "only_fg", "no_fg", "only_bg_b", "only_bg_t", "mixed_same", "mixed_rand",
            "mixed_next")
CLASS_FOLDERS = ("00_dog", "01_bird", "02_wheeled vehicle", "03_reptile", "04_carnivore",
                 "05_insect", "06_musical instrument", "07_primate", "08_fish")
#: Class names: the folder names without their number.
CLASSES = tuple(folder.split("_", 1)[1] for folder in CLASS_FOLDERS)
ARCHIVE_NAME = "backgrounds_challenge_data.tar.gz"
ARCHIVE_URL = ("https://github.com/MadryLab/backgrounds_challenge/releases/download/data/"
               "backgrounds_challenge_data.tar.gz")
MAPPING_NAME = "in_to_in9.json"
MAPPING_URL = "https://raw.githubusercontent.com/MadryLab/backgrounds_challenge/master/in_to_in9.json"
_TREE = "bg_challenge"
_SPLIT = "val"
_SIZE = (224, 224)


def _find_source(root: str | os.PathLike[str] | None, variant: str, download: bool,
                 progress: bool) -> Path:
    """The ``bg_challenge`` tree or the archive to read ``variant`` from."""
    folder = local_folder(root)
    if folder is not None:
        for tree in (folder / _TREE, folder):
            if (tree / variant / _SPLIT).is_dir():
                return tree
        if (folder / ARCHIVE_NAME).is_file():
            return folder / ARCHIVE_NAME
    cached = cache_dir("data", NAME) / ARCHIVE_NAME
    reason = cached_download(ARCHIVE_URL, cached, download, progress)
    if reason is None:
        return cached
    where = ("no local folder was given (root=None and $SIGNSEG_DATA is not set)" if folder is None
             else f"{str(folder)!r} holds neither {_TREE}/{variant}/{_SPLIT}/ nor {ARCHIVE_NAME}")
    raise DataNotFoundError(
        f"the backgrounds challenge (Xiao et al. 2020), variant {variant!r}, was not found: {where}, "
        f"and {reason}. Set SIGNSEG_DATA (or pass root=) to a folder holding the unpacked "
        f"{_TREE}/ tree or {ARCHIVE_NAME}; or put {ARCHIVE_NAME} (from {ARCHIVE_URL}) at "
        f"{str(cached)!r}."
    )


def load_bg_challenge(
    split: str = "val",
    *,
    variant: str = "original",
    root: str | os.PathLike[str] | None = None,
    download: bool = True,
    progress: bool = True,
) -> ImageDataset:
    """One variant of the IN-9 test set, labels indexing :data:`CLASSES`.

    Parameters
    ----------
    split:
        ``"val"`` (the challenge's test images; ``"test"`` is an alias).
    variant:
        One of :data:`VARIANTS`.
    root:
        Folder with a local copy (see the module docstring); default ``$SIGNSEG_DATA``.
    download:
        Download :data:`ARCHIVE_URL` into the signseg cache when no local copy is found.
    progress:
        Show progress bars while downloading and decoding.

    Raises
    ------
    InvalidInputError
        Unknown ``split`` or ``variant``.
    DataNotFoundError
        No copy was found or downloaded, or its class folders are not the 9 of IN-9.
    """
    if split not in (_SPLIT, "test"):
        raise InvalidInputError(f"the backgrounds challenge has the split 'val' ('test' is the same); "
                                f"got {split!r}.")
    if variant not in VARIANTS:
        raise InvalidInputError(f"variant must be one of {list(VARIANTS)}; got {variant!r}.")
    source = _find_source(root, variant, download, progress)
    decoded = read_split(source, _SPLIT, mode="RGB", size=_SIZE, label=f"{NAME}-{variant}",
                         progress=progress, parent=variant)
    if decoded.classes != CLASS_FOLDERS:
        where = f"{source}:{variant}/{_SPLIT}" if source.is_file() else str(source / variant / _SPLIT)
        raise DataNotFoundError(
            f"{where} has the class folders {list(decoded.classes)}, not the 9 of IN-9 "
            f"{list(CLASS_FOLDERS)}; a partial copy would mislabel images. Copy {ARCHIVE_NAME} again."
        )
    return ImageDataset(NAME, _SPLIT, torch.from_numpy(decoded.images),
                        torch.from_numpy(decoded.targets), CLASSES, class_ids=CLASS_FOLDERS)


# --------------------------------------------------------------------------- scoring


def _mapping_file(root: str | os.PathLike[str] | None, download: bool, progress: bool) -> Path:
    """``in_to_in9.json``: beside the local copy, in the cache, or downloaded into the cache."""
    folder = local_folder(root)
    if folder is not None:
        for candidate in (folder / MAPPING_NAME, folder / _TREE / MAPPING_NAME):
            if candidate.is_file():
                return candidate
    cached = cache_dir("data", NAME) / MAPPING_NAME
    reason = cached_download(MAPPING_URL, cached, download, progress)
    if reason is None:
        return cached
    raise DataNotFoundError(
        f"the ImageNet -> IN-9 mapping {MAPPING_NAME} was not found "
        f"({'no local folder was given' if folder is None else f'not in {str(folder)!r}'}) and "
        f"{reason}. Put {MAPPING_NAME} (from {MAPPING_URL}) in SIGNSEG_DATA or at {str(cached)!r}."
    )


def in9_label_map(root: str | os.PathLike[str] | None = None, *, download: bool = True,
                  progress: bool = False) -> torch.Tensor:
    """``int64 [1000]``: the IN-9 label of every ImageNet class (``-1``: none), from ``in_to_in9.json``.

    Raises
    ------
    DataNotFoundError
        The file is neither local nor cached nor downloadable.
    DamagedFileError
        The file is not a JSON object mapping ``"0"`` ... ``"999"`` to labels in -1..8.
    """
    path = _mapping_file(root, download, progress)
    fix = f"Delete it and download it again from {MAPPING_URL}."
    mapping = load_json(path, "the ImageNet -> IN-9 mapping", fix, entries=[str(i) for i in range(1000)])
    labels = [mapping[str(i)] for i in range(1000)]
    bad = [(i, v) for i, v in enumerate(labels)
           if isinstance(v, bool) or not isinstance(v, int) or not -1 <= v < len(CLASSES)]
    if bad or len(mapping) != 1000:
        raise damaged(path, f"is not the ImageNet -> IN-9 mapping: it needs exactly the keys '0' ... "
                      f"'999' with labels in -1..{len(CLASSES) - 1} (found {len(mapping)} keys; "
                      f"bad entries {bad[:3]})", fix)
    return torch.tensor(labels, dtype=torch.int64)


def in9_decisions(logits: torch.Tensor, label_map: torch.Tensor) -> torch.Tensor:
    """``int64 [N]``: the IN-9 label of each image's top-1 ImageNet class (``-1``: none of the 9).

    Parameters
    ----------
    logits:
        ``[N, 1000]`` outputs of an ImageNet-1k classifier (softmax does not change the arg-max).
    label_map:
        ``[1000]`` IN-9 label per ImageNet class (:func:`in9_label_map`).
    """
    logits, label_map = torch.as_tensor(logits), torch.as_tensor(label_map, dtype=torch.int64)
    if logits.dim() != 2 or logits.shape[1] != label_map.numel():
        raise InvalidInputError(f"logits must be [N, {label_map.numel()}] (one column per entry of "
                                f"label_map); got shape {list(logits.shape)}")
    return label_map[logits.argmax(dim=1)]
