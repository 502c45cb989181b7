"""Geirhos et al.'s cue-conflict stimuli and their 16-category decision rule (shape vs texture).

*ImageNet-trained CNNs are biased towards texture* (Geirhos et al., ICLR 2019): 1,280
style-transfer images whose shape (content image) and texture (style image) come from two
of 16 entry-level categories, published in https://github.com/rgeirhos/texture-vs-shape as
``stimuli/style-transfer-preprocessed-512/<shape category>/<shape><i>-<texture><j>.png``
(224 x 224 PNG; ``airplane/airplane1-bicycle2.png`` has an airplane's shape and a bicycle's
texture). The same files, under the same names, are the ``cue-conflict`` data set of
Geirhos et al.'s model-vs-human toolbox, released as one archive (:data:`ARCHIVE_URL`,
``cue-conflict/<shape category>/<file>.png``).

Where the images come from, in this order:

1. a local folder (``root=``, else ``$SIGNSEG_DATA``) holding one of
   ``texture-vs-shape/stimuli/style-transfer-preprocessed-512/`` (a clone of the repository),
   ``stimuli/style-transfer-preprocessed-512/`` (the folder *is* the clone),
   ``style-transfer-preprocessed-512/``, a ``cue-conflict/`` tree or the archive
   ``cue-conflict.tar.gz``;
2. the archive in ``cache_dir("data", "cue-conflict")``, downloaded there from
   :data:`ARCHIVE_URL` when ``download=True`` (no checksum is published; the layout is
   checked instead: the 16 category folders, every file name parsed, its shape category that
   of its folder);
3. otherwise a :class:`~signseg.errors.DataNotFoundError` names the files and where to put them.

Decoded images are cached like the other image folders (:mod:`signseg.data.imagefolder`).
The data set (``signseg.data.load("cue-conflict", "test")``) has the 16 categories as classes
(sorted), the **shape** category as target, and per-image ``meta["texture"]`` (texture
category index), ``meta["shape_instance"]`` / ``meta["texture_instance"]`` (the numbers in the
file name), so that every file name can be rebuilt.

Decisions and shape bias (the authors' rules)
---------------------------------------------
A 1000-way ImageNet classifier answers with one of the 16 categories by
``ImageNetProbabilitiesTo16ClassesMapping`` (``code/probabilities_to_decision.py`` of
texture-vs-shape; ``modelvshuman/datasets/decision_mappings.py`` of model-vs-human): softmax
probabilities, **averaged** (``np.mean``, the default aggregation of both) over the ImageNet
classes of each category (:data:`IMAGENET_INDICES`, the ``<category>_indices`` lists of
``code/helper/human_categories.py``), and the category with the largest mean wins (the first
in sorted order on a tie, as their strict ``>`` loop). Shape bias (model-vs-human's
``ShapeBias.analysis``): images whose shape and texture category agree are excluded; of the
rest, shape bias = shape decisions / (shape decisions + texture decisions).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..cache import cache_dir
from ..errors import DataNotFoundError, InvalidInputError
from .dataset import ImageDataset
from .imagefolder import read_split
from .remote import cached_download, local_folder

__all__ = [
    "NAME",
    "CATEGORIES",
    "IMAGENET_INDICES",
    "ARCHIVE_NAME",
    "ARCHIVE_URL",
    "load_cue_conflict",
    "parse_name",
    "category_probabilities",
    "category_decisions",
    "ShapeBias",
    "shape_bias",
]

NAME = "cue-conflict"
#: The 16 entry-level categories, sorted (``get_human_object_recognition_categories``).
CATEGORIES = (
    "airplane", "bear", "bicycle", "bird", "boat", "bottle", "car", "cat",
    "chair", "clock", "dog", "elephant", "keyboard", "knife", "oven", "truck",
)  # fmt: skip
#: ImageNet-1k class indices of each category: the ``<category>_indices`` lists of
#: ``HumanCategories`` in texture-vs-shape's ``code/helper/human_categories.py``
#: (model-vs-human's copy is identical).
IMAGENET_INDICES: dict[str, tuple[int, ...]] = {
    "airplane": (404,),
    "bear": (294, 295, 296, 297),
    "bicycle": (444, 671),
    "bird": (8, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 22, 23, 24, 80, 81, 82, 83, 87, 88, 89,
             90, 91, 92, 93, 94, 95, 96, 98, 99, 100, 127, 128, 129, 130, 131, 132, 133, 135,
             136, 137, 138, 139, 140, 141, 142, 143, 144, 145),
    "boat": (472, 554, 625, 814, 914),
    "bottle": (440, 720, 737, 898, 899, 901, 907),
    "car": (436, 511, 817),
    "cat": (281, 282, 283, 284, 285, 286),
    "chair": (423, 559, 765, 857),
    "clock": (409, 530, 892),
    "dog": (152, 153, 154, 155, 156, 157, 158, 159, 160, 161, 162, 163, 164, 165, 166, 167,
            168, 169, 170, 171, 172, 173, 174, 175, 176, 177, 178, 179, 180, 181, 182, 183, 184,
            185, 186, 187, 188, 189, 190, 191, 193, 194, 195, 196, 197, 198, 199, 200, 201, 202,
            203, 205, 206, 207, 208, 209, 210, 211, 212, 213, 214, 215, 216, 217, 218, 219, 220,
            221, 222, 223, 224, 225, 226, 228, 229, 230, 231, 232, 233, 234, 235, 236, 237, 238,
            239, 240, 241, 243, 244, 245, 246, 247, 248, 249, 250, 252, 253, 254, 255, 256, 257,
            259, 261, 262, 263, 265, 266, 267, 268),
    "elephant": (385, 386),
    "keyboard": (508, 878),
    "knife": (499,),
    "oven": (766,),
    "truck": (555, 569, 656, 675, 717, 734, 864, 867),
}
#: model-vs-human's release of the stimuli (``cue-conflict/<category>/<file>.png``).
ARCHIVE_NAME = "cue-conflict.tar.gz"
ARCHIVE_URL = "https://github.com/bethgelab/model-vs-human/releases/download/v0.1/cue-conflict.tar.gz"
_STIMULI = "style-transfer-preprocessed-512"
_SIZE = (224, 224)
#: ``<shape><i>-<texture><j>.<ext>``, optionally behind a ``<prefix>_`` (model-vs-human's
#: ``get_texture_category`` drops everything up to the last underscore, likewise).
_FILE = re.compile(r"^(?:.*_)?([a-z]+)(\d+)-([a-z]+)(\d+)\.[A-Za-z]+$")


def parse_name(name: str) -> tuple[str, int, str, int]:
    """``(shape, shape number, texture, texture number)`` of a stimulus file name.

    >>> parse_name("airplane1-bicycle2.png")
    ('airplane', 1, 'bicycle', 2)

    Raises
    ------
    InvalidInputError
        The name is not ``<shape><i>-<texture><j>.<ext>`` with two of the 16 categories.
    """
    match = _FILE.match(name)
    if match is None or match.group(1) not in CATEGORIES or match.group(3) not in CATEGORIES:
        raise InvalidInputError(
            f"{name!r} is not a cue-conflict stimulus name: expected <shape><i>-<texture><j>.png "
            f"with shape and texture among {list(CATEGORIES)} (e.g. 'airplane1-bicycle2.png')."
        )
    return match.group(1), int(match.group(2)), match.group(3), int(match.group(4))


# --------------------------------------------------------------------------- sources


def _local_sources(folder: Path) -> list[tuple[Path, str]]:
    """``(source, split folder)`` candidates for :func:`read_split` in ``folder``, in order."""
    return [
        (folder / "texture-vs-shape" / "stimuli", _STIMULI),
        (folder / "stimuli", _STIMULI),
        (folder, _STIMULI),
        (folder, NAME),
        (folder / ARCHIVE_NAME, NAME),
    ]


def _find_source(root: str | os.PathLike[str] | None, download: bool,
                 progress: bool) -> tuple[Path, str]:
    """The tree or archive to read and the name of the folder holding the category folders."""
    folder = local_folder(root)
    if folder is not None:
        for source, split in _local_sources(folder):
            if source.is_file() or (source / split).is_dir():
                return source, split
    cached = cache_dir("data", NAME) / ARCHIVE_NAME
    reason = cached_download(ARCHIVE_URL, cached, download, progress)
    if reason is None:
        return cached, NAME
    where = ("no local folder was given (root=None and $SIGNSEG_DATA is not set)" if folder is None
             else f"{str(folder)!r} holds none of texture-vs-shape/stimuli/{_STIMULI}/, "
                  f"stimuli/{_STIMULI}/, {_STIMULI}/, {NAME}/ or {ARCHIVE_NAME}")
    raise DataNotFoundError(
        f"the cue-conflict stimuli (Geirhos et al. 2019) were not found: {where}, and {reason}. "
        f"Set SIGNSEG_DATA (or pass root=) to a folder holding a clone of "
        f"https://github.com/rgeirhos/texture-vs-shape (its stimuli/{_STIMULI}/ folder) or "
        f"{ARCHIVE_NAME}; or put {ARCHIVE_NAME} (from {ARCHIVE_URL}) at {str(cached)!r}."
    )


def load_cue_conflict(
    split: str = "test",
    *,
    root: str | os.PathLike[str] | None = None,
    download: bool = True,
    progress: bool = True,
) -> ImageDataset:
    """The cue-conflict stimuli: targets are the shape categories, ``meta["texture"]`` the textures.

    Parameters
    ----------
    split:
        ``"test"`` (the stimuli are one set).
    root:
        Folder with a local copy (see the module docstring); default ``$SIGNSEG_DATA``.
    download:
        Download :data:`ARCHIVE_URL` into the signseg cache when no local copy is found.
    progress:
        Show progress bars while downloading and decoding.

    Raises
    ------
    InvalidInputError
        ``split`` is not ``"test"``.
    DataNotFoundError
        No copy was found or downloaded, or the copy lacks or adds category folders, or a file
        is not a stimulus of its folder's category (the message names it).
    """
    if split != "test":
        raise InvalidInputError(f"the cue-conflict stimuli have the one split 'test'; got {split!r}.")
    source, folder = _find_source(root, download, progress)
    decoded = read_split(source, folder, mode="RGB", size=_SIZE, label=NAME, progress=progress)
    where = f"{source}:{folder}" if source.is_file() else str(source / folder)
    if decoded.classes != CATEGORIES:
        missing = sorted(set(CATEGORIES) - set(decoded.classes))
        extra = sorted(set(decoded.classes) - set(CATEGORIES))
        raise DataNotFoundError(
            f"{where} has the category folders {list(decoded.classes)}: missing {missing}, unknown "
            f"{extra}. The stimuli have one folder per category of {list(CATEGORIES)}; copy them "
            "again (a partial copy would mislabel every image)."
        )
    if len(decoded.names) != len(decoded.targets):
        raise DataNotFoundError(
            f"the decoded cache of {where} in {str(cache_dir('data', 'decoded'))!r} keeps no file "
            "names (it predates them); delete its cue-conflict-* files so the images are decoded again."
        )
    return _dataset(decoded.images, decoded.targets, decoded.names, where)


def _dataset(images: np.ndarray, targets: np.ndarray, names: tuple[str, ...], where: str) -> ImageDataset:
    """The :class:`ImageDataset` of decoded stimuli; every name must match its folder."""
    parsed = []
    for target, name in zip(targets, names):
        try:
            shape, i, texture, j = parse_name(name)
        except InvalidInputError as exc:
            raise DataNotFoundError(f"{where}/{CATEGORIES[target]}/{name}: {exc}") from None
        if shape != CATEGORIES[target]:
            raise DataNotFoundError(
                f"{where}/{CATEGORIES[target]}/{name} names the shape {shape!r} but lies in the "
                f"folder {CATEGORIES[target]!r}; the copy is mixed up. Copy the stimuli again."
            )
        parsed.append((CATEGORIES.index(texture), i, j))
    texture, shape_instance, texture_instance = (torch.tensor([row[k] for row in parsed], dtype=torch.int64)
                                                 for k in range(3))
    return ImageDataset(NAME, "test", torch.from_numpy(images), torch.from_numpy(targets), CATEGORIES,
                        meta={"texture": texture, "shape_instance": shape_instance,
                              "texture_instance": texture_instance})


# --------------------------------------------------------------------------- decisions


def category_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """``[N, 16]`` mean softmax probability of each category's ImageNet classes.

    Parameters
    ----------
    logits:
        ``[N, 1000]`` pre-softmax outputs of an ImageNet-1k classifier.
    """
    logits = torch.as_tensor(logits)
    if logits.dim() != 2 or logits.shape[1] != 1000:
        raise InvalidInputError(f"logits must be [N, 1000] ImageNet outputs; got shape {list(logits.shape)}")
    probabilities = torch.softmax(logits.double(), dim=1)
    return torch.stack([probabilities[:, list(IMAGENET_INDICES[c])].mean(dim=1) for c in CATEGORIES], dim=1)


def category_decisions(logits: torch.Tensor) -> torch.Tensor:
    """``int64 [N]``: the index (into :data:`CATEGORIES`) of each image's 16-way decision.

    The category with the largest mean probability (:func:`category_probabilities`); on a
    tie the first in sorted order, as the authors' strict ``>`` loop.
    """
    return category_probabilities(logits).argmax(dim=1)  # argmax returns the first maximum


@dataclass(frozen=True)
class ShapeBias:
    """Shape vs texture decisions on the cue-conflict images.

    Attributes
    ----------
    n:
        Images with a real conflict (shape and texture categories differ).
    shape_hits, texture_hits:
        Of those, decisions for the shape category and for the texture category.
    shape_bias:
        ``shape_hits / (shape_hits + texture_hits)``; NaN when neither was ever chosen.
    """

    n: int
    shape_hits: int
    texture_hits: int
    shape_bias: float


def shape_bias(decisions: torch.Tensor, shape: torch.Tensor, texture: torch.Tensor) -> ShapeBias:
    """Geirhos et al.'s shape bias of 16-way ``decisions`` (category indices).

    Parameters
    ----------
    decisions, shape, texture:
        ``[N]`` category indices: the decision, the shape category (the data set's targets)
        and the texture category (``meta["texture"]``) of every image.
    """
    decisions, shape, texture = (torch.as_tensor(t, dtype=torch.int64).flatten()
                                 for t in (decisions, shape, texture))
    if not decisions.shape == shape.shape == texture.shape:
        raise InvalidInputError(f"decisions, shape and texture need one entry per image; got "
                                f"{decisions.numel()}, {shape.numel()} and {texture.numel()}")
    conflict = shape != texture
    shape_hits = int(((decisions == shape) & conflict).sum())
    texture_hits = int(((decisions == texture) & conflict).sum())
    hits = shape_hits + texture_hits
    return ShapeBias(int(conflict.sum()), shape_hits, texture_hits,
                     shape_hits / hits if hits else float("nan"))
