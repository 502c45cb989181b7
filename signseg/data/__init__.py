"""Image data sets: CIFAR-10, MNIST, Tiny ImageNet-200 and an embedded procedural set.

>>> from signseg import data
>>> data.names()
['cifar10', 'mnist', 'procedural', 'tiny-imagenet']
>>> train = data.load("procedural", "train", n=100)
>>> train.images.shape, train.masks.shape
(torch.Size([100, 3, 32, 32]), torch.Size([100, 32, 32]))

Every loader returns an :class:`ImageDataset` holding the whole split in memory as
``uint8``. Where CIFAR-10 and MNIST come from is described in :mod:`signseg.data.natural`
(a local folder or archive named by ``root=`` or ``$SIGNSEG_DATA``, else torchvision);
Tiny ImageNet-200, with one object box per image as its mask, in
:mod:`signseg.data.tinyimagenet`; the procedural set is generated on the fly
(:mod:`signseg.data.procedural`).
"""

from __future__ import annotations

import os
from typing import Any, Callable

from ..errors import InvalidInputError, UnknownNameError
from . import procedural, tinyimagenet
from .dataset import ImageDataset, balanced_indices
from .natural import DATA_ENV, SPECS, load_natural

__all__ = ["ImageDataset", "names", "load", "SPLITS", "DATA_ENV", "procedural", "tinyimagenet"]

SPLITS = ("train", "test")
"""The splits every data set has (Tiny ImageNet also names its ``"test"`` split ``"val"``)."""

_EXTRA_SPLITS: dict[str, tuple[str, ...]] = {tinyimagenet.NAME: ("val",)}

_OPTIONS: dict[str, frozenset[str]] = {
    "cifar10": frozenset({"progress"}),
    "mnist": frozenset({"progress"}),
    "procedural": frozenset({"n", "size", "p_agree", "variant"}),
    tinyimagenet.NAME: frozenset({"progress"}),
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
        ``"train"`` or ``"test"`` (``tiny-imagenet`` also ``"val"``, the same as ``"test"``).
    root:
        ``cifar10`` / ``mnist`` / ``tiny-imagenet``: folder with a local copy (an archive or
        a tree); default ``$SIGNSEG_DATA``. Ignored by ``procedural``.
    download:
        ``cifar10`` / ``mnist`` / ``tiny-imagenet``: download the data when no local copy is
        found. Ignored by ``procedural``.
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
        ``cifar10`` / ``mnist`` are neither available locally nor downloadable.
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
    allowed = SPLITS + _EXTRA_SPLITS.get(name, ())
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
