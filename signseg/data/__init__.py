"""Image data sets: CIFAR-10, MNIST, Tiny ImageNet-200, an embedded procedural set, and the
published stimulus sets of the paper's Section 3 (Geirhos et al.'s cue-conflict images,
Xiao et al.'s backgrounds challenge).

>>> from signseg import data
>>> data.names()
['bg-challenge', 'cifar10', 'cue-conflict', 'mnist', 'procedural', 'tiny-imagenet']
>>> train = data.load("procedural", "train", n=100)
>>> train.images.shape, train.masks.shape
(torch.Size([100, 3, 32, 32]), torch.Size([100, 32, 32]))

Every loader returns an :class:`ImageDataset` holding the whole split in memory as
``uint8``. Where CIFAR-10 and MNIST come from is described in :mod:`signseg.data.natural`
(a local folder or archive named by ``root=`` or ``$SIGNSEG_DATA``, else torchvision);
Tiny ImageNet-200, with one object box per image as its mask, in
:mod:`signseg.data.tinyimagenet`; the procedural set is generated on the fly
(:mod:`signseg.data.procedural`). ``cue-conflict`` (split ``"test"``) and ``bg-challenge``
(split ``"val"``, ``variant=``) are described in :mod:`signseg.data.cueconflict` and
:mod:`signseg.data.bgchallenge`, with the rules that turn a 1000-way ImageNet classifier's
outputs into their categories.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from ..errors import InvalidInputError, UnknownNameError
from . import bgchallenge, cueconflict, procedural, tinyimagenet
from .dataset import ImageDataset, balanced_indices
from .natural import DATA_ENV, SPECS, load_natural

__all__ = ["ImageDataset", "names", "load", "SPLITS", "DATA_ENV", "procedural", "tinyimagenet",
           "cueconflict", "bgchallenge"]

SPLITS = ("train", "test")
"""The splits every data set has (Tiny ImageNet also names its ``"test"`` split ``"val"``)."""

_EXTRA_SPLITS: dict[str, tuple[str, ...]] = {tinyimagenet.NAME: ("val",)}

_OWN_SPLITS: dict[str, tuple[str, ...]] = {cueconflict.NAME: ("test",), bgchallenge.NAME: ("val", "test")}
"""Data sets that do not have :data:`SPLITS`: the splits they have instead."""

_OPTIONS: dict[str, frozenset[str]] = {
    "cifar10": frozenset({"progress"}),
    "mnist": frozenset({"progress"}),
    "procedural": frozenset({"n", "size", "p_agree", "variant"}),
    tinyimagenet.NAME: frozenset({"progress"}),
    cueconflict.NAME: frozenset({"progress"}),
    bgchallenge.NAME: frozenset({"variant", "progress"}),
}
"""Extra keyword options each data set accepts in :func:`load`."""


def names() -> list[str]:
    """Names of the data sets :func:`load` knows, sorted."""
    return sorted(_OPTIONS)


def load(
    name: str,
    split: str = "train",
    *,
    root: str | os.PathLike[str] | None = None,
    download: bool = True,
    limit: int | None = None,
    seed: int = 0,
    **options: Any,
) -> ImageDataset:
    """Load one split of a data set.

    Parameters
    ----------
    name:
        One of :func:`names`.
    split:
        ``"train"`` or ``"test"`` (``tiny-imagenet`` also ``"val"``, the same as ``"test"``);
        ``cue-conflict``: ``"test"``; ``bg-challenge``: ``"val"`` (or ``"test"``).
    root:
        Every set but ``procedural``: folder with a local copy (an archive or a tree); default
        ``$SIGNSEG_DATA``.
    download:
        Every set but ``procedural``: download the data when no local copy is found.
    limit:
        Keep only this many images: a seeded, class-balanced random subset (round robin
        over the classes in a random order, see :func:`~signseg.data.dataset.balanced_indices`),
        in the data set's original order. ``None`` keeps all.
    seed:
        Seed of the ``limit`` subset; for ``procedural`` also the generation seed.
    **options:
        ``cifar10`` / ``mnist`` / ``tiny-imagenet``: ``progress`` (bool, show decoding
        progress; default True).
        ``procedural``: ``n``, ``size``, ``p_agree``, ``variant`` (see
        :func:`signseg.data.procedural.load`).
        ``cue-conflict``: ``progress``. ``bg-challenge``: ``variant`` (one of
        :data:`signseg.data.bgchallenge.VARIANTS`, default ``"original"``), ``progress``.

    Returns
    -------
    ImageDataset

    Raises
    ------
    UnknownNameError
        ``name`` is not a known data set.
    InvalidInputError
        Bad ``split``, ``limit`` or option.
    DataNotFoundError
        The data are neither available locally nor downloadable.
    """
    loader = _loader(name, split, options)
    dataset = loader(split, root=root, download=download, seed=seed, **options)
    if limit is not None:
        dataset = dataset.subset(balanced_indices(dataset.targets, limit, seed))
    return dataset


def _loader(name: str, split: str, options: dict[str, Any]) -> Callable[..., ImageDataset]:
    """Validate the arguments of :func:`load` and return the data set's loader."""
    if name not in _OPTIONS:
        raise UnknownNameError(f"unknown data set {name!r}; known data sets: {', '.join(names())}.")
    allowed = _OWN_SPLITS.get(name) or SPLITS + _EXTRA_SPLITS.get(name, ())
    if split not in allowed:
        raise InvalidInputError(f"split must be one of {list(allowed)}, got {split!r}.")
    unknown = sorted(set(options) - _OPTIONS[name])
    if unknown:
        raise InvalidInputError(
            f"data set {name!r} does not take the option(s) {unknown}; it accepts {sorted(_OPTIONS[name])}."
        )
    if name == "procedural":
        return _load_procedural
    if name == tinyimagenet.NAME:
        return _load_tiny_imagenet
    if name in _OWN_SPLITS:
        return _load_published(name)
    return _natural_loader(name)


def _natural_loader(name: str) -> Callable[..., ImageDataset]:
    """The loader of the natural-image data set ``name``."""

    def load_split(
        split: str, *, root: str | os.PathLike[str] | None, download: bool, seed: int, progress: bool = True
    ) -> ImageDataset:
        return load_natural(SPECS[name], split, root=root, download=download, progress=progress)

    return load_split


def _load_procedural(
    split: str, *, root: str | os.PathLike[str] | None, download: bool, seed: int, **options: Any
) -> ImageDataset:
    """Generate the procedural set (``root`` and ``download`` do not apply)."""
    return procedural.load(split, seed=seed, **options)


def _load_tiny_imagenet(
    split: str, *, root: str | os.PathLike[str] | None, download: bool, seed: int, progress: bool = True
) -> ImageDataset:
    """Load Tiny ImageNet-200 (``seed`` only applies to ``limit``)."""
    return tinyimagenet.load_tiny_imagenet(split, root=root, download=download, progress=progress)


def _load_published(name: str) -> Callable[..., ImageDataset]:
    """The loader of a published stimulus set (``seed`` only applies to ``limit``)."""
    reader = cueconflict.load_cue_conflict if name == cueconflict.NAME else bgchallenge.load_bg_challenge

    def load_split(split: str, *, root: str | os.PathLike[str] | None, download: bool, seed: int,
                   **options: Any) -> ImageDataset:
        return reader(split, root=root, download=download, **options)

    return load_split
