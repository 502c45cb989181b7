"""The in-memory image data set every loader in :mod:`signseg.data` returns.

All images of a split are held as one ``uint8`` tensor ``[N, C, H, W]`` (CIFAR-10 train is
150 MB), so indexing, sub-setting and batching are plain tensor operations.
"""

from __future__ import annotations

from typing import Sequence, Union

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import InvalidInputError

__all__ = ["ImageDataset", "Indices", "as_indices", "balanced_indices"]

Indices = Union[Sequence[int], np.ndarray, torch.Tensor]
"""Positions into a data set: integers, or a boolean mask with one entry per image."""


def as_indices(indices: Indices, length: int) -> torch.Tensor:
    """Convert positions (or a boolean mask) into an ``int64`` tensor of valid positions.

    Parameters
    ----------
    indices:
        Integer positions (negative ones count from the end) or a boolean mask of
        ``length`` entries.
    length:
        Number of items being indexed.

    Returns
    -------
    torch.Tensor
        ``int64`` positions in ``[0, length)``, in the order given.

    Raises
    ------
    InvalidInputError
        A position is out of range, the mask has the wrong length, or the values are
        neither integers nor booleans.
    """
    index = torch.as_tensor(np.asarray(indices) if not isinstance(indices, torch.Tensor) else indices)
    if index.dtype == torch.bool:
        if index.shape != (length,):
            raise InvalidInputError(
                f"a boolean mask must have one entry per image: got shape {tuple(index.shape)}, "
                f"expected ({length},)."
            )
        return index.nonzero().flatten()
    if index.numel() == 0:
        return torch.zeros(0, dtype=torch.int64)
    if index.is_floating_point() or index.is_complex():
        raise InvalidInputError(f"indices must be integers or a boolean mask, got dtype {index.dtype}.")
    index = index.to(torch.int64).flatten()
    if int(index.min()) < -length or int(index.max()) >= length:
        raise InvalidInputError(
            f"indices must lie in [-{length}, {length}) for {length} images: got values from "
            f"{int(index.min())} to {int(index.max())}."
        )
    return torch.where(index < 0, index + length, index)


def balanced_indices(targets: torch.Tensor, limit: int, seed: int = 0) -> torch.Tensor:
    """Pick a seeded, class-balanced random subset of ``limit`` positions.

    The images are shuffled with ``numpy.random.default_rng(seed)``; then the first image
    of every class (in that order) is taken, then the second of every class, and so on
    (round robin) until ``limit`` are chosen. Classes are therefore equally represented up
    to one image (a class that runs out simply stops contributing), and which classes get
    the one extra image is decided by the shuffle.

    Parameters
    ----------
    targets:
        ``int64`` labels ``[N]``.
    limit:
        How many positions to keep; ``limit >= N`` keeps every position.
    seed:
        Seed of the shuffle: the same seed always gives the same subset.

    Returns
    -------
    torch.Tensor
        ``int64`` positions, sorted increasingly (the subset keeps the data set's order).
    """
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
        raise InvalidInputError(f"limit must be a positive integer or None, got {limit!r}.")
    labels = targets.numpy()
    count = labels.shape[0]
    if limit >= count:
        return torch.arange(count, dtype=torch.int64)
    shuffled = np.random.default_rng(seed).permutation(count)
    shuffled_labels = labels[shuffled]
    by_class = np.argsort(shuffled_labels, kind="stable")
    sorted_labels = shuffled_labels[by_class]
    rank_sorted = np.arange(count) - np.searchsorted(sorted_labels, sorted_labels, side="left")
    rank = np.empty(count, dtype=np.int64)
    rank[by_class] = rank_sorted
    chosen = shuffled[np.lexsort((np.arange(count), rank))[:limit]]
    return torch.from_numpy(np.sort(chosen))


class ImageDataset(Dataset):
    """A labelled image data set held in memory as ``uint8``.

    Parameters
    ----------
    name:
        Registry name of the data set (``"cifar10"``, ``"mnist"``, ``"procedural"``).
    split:
        ``"train"`` or ``"test"``.
    images:
        ``torch.uint8`` tensor ``[N, C, H, W]``.
    targets:
        ``torch.int64`` tensor ``[N]`` of class indices into ``classes``.
    classes:
        Class names; ``targets`` index this list.
    masks:
        Optional ``torch.bool`` tensor ``[N, H, W]``: ground-truth foreground masks
        (only the procedural set has them).
    meta:
        Optional per-image tensors (first dimension ``N``), e.g. the procedural set's
        background texture family or Tiny ImageNet's boxes; carried along by :meth:`subset`.
    class_ids:
        Optional identifiers of the classes, one per entry of ``classes`` (Tiny ImageNet's
        WordNet ids, e.g. ``"n01443537"``); ``None`` when the names are the identifiers.

    Notes
    -----
    ``dataset[i]`` returns ``(image, label)`` with ``image`` a ``float32`` tensor
    ``[C, H, W]`` in ``[0, 1]`` and ``label`` a Python ``int``, so the object plugs into a
    ``torch.utils.data.DataLoader``. For whole batches :meth:`float_images` is faster.
    """

    def __init__(
        self,
        name: str,
        split: str,
        images: torch.Tensor,
        targets: torch.Tensor,
        classes: Sequence[str],
        masks: torch.Tensor | None = None,
        meta: dict[str, torch.Tensor] | None = None,
        class_ids: Sequence[str] | None = None,
    ) -> None:
        _check_tensor("images", images, torch.uint8, 4)
        _check_tensor("targets", targets, torch.int64, 1)
        count = images.shape[0]
        if targets.shape[0] != count:
            raise InvalidInputError(
                f"got {count} images but {targets.shape[0]} targets; expected one target per image."
            )
        if count and (int(targets.min()) < 0 or int(targets.max()) >= len(classes)):
            raise InvalidInputError(
                f"targets must index the {len(classes)} classes: got values from {int(targets.min())} "
                f"to {int(targets.max())}."
            )
        if masks is not None:
            _check_tensor("masks", masks, torch.bool, 3)
            if masks.shape != (count, *images.shape[2:]):
                raise InvalidInputError(
                    f"masks must have shape [N, H, W] = {[count, *images.shape[2:]]}, got {list(masks.shape)}."
                )
        for key, value in (meta or {}).items():
            if value.shape[:1] != (count,):
                raise InvalidInputError(
                    f"meta[{key!r}] must have {count} rows (one per image), got shape {list(value.shape)}."
                )
        if class_ids is not None and len(class_ids) != len(classes):
            raise InvalidInputError(
                f"class_ids must have one entry per class: got {len(class_ids)} for {len(classes)} classes."
            )
        self.name = name
        self.split = split
        self.images = images
        self.targets = targets
        self.classes = list(classes)
        self.masks = masks
        self.meta = dict(meta or {})
        self.class_ids = None if class_ids is None else list(class_ids)

    def __len__(self) -> int:
        """Number of images."""
        return self.images.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        """Image ``index`` as ``float32`` ``[C, H, W]`` in ``[0, 1]`` and its label."""
        return self.images[index].float().div_(255.0), int(self.targets[index])

    def __repr__(self) -> str:
        channels, height, width = self.images.shape[1:]
        masks = ", masks" if self.masks is not None else ""
        return (
            f"ImageDataset(name={self.name!r}, split={self.split!r}, n={len(self)}, "
            f"shape=[{channels}, {height}, {width}], classes={len(self.classes)}{masks})"
        )

    def float_images(self, indices: Indices | None = None) -> torch.Tensor:
        """Images as ``float32`` ``[n, C, H, W]`` in ``[0, 1]`` (all, or those at ``indices``)."""
        images = self.images if indices is None else self.images[as_indices(indices, len(self))]
        return images.float().div_(255.0)

    def subset(self, indices: Indices) -> "ImageDataset":
        """A new data set holding the images at ``indices`` (in that order), with their masks."""
        index = as_indices(indices, len(self))
        return ImageDataset(
            self.name,
            self.split,
            self.images[index],
            self.targets[index],
            self.classes,
            None if self.masks is None else self.masks[index],
            {key: value[index] for key, value in self.meta.items()},
            self.class_ids,
        )


def _check_tensor(what: str, tensor: torch.Tensor, dtype: torch.dtype, dims: int) -> None:
    """Raise :class:`InvalidInputError` unless ``tensor`` has ``dtype`` and ``dims`` dimensions."""
    if not isinstance(tensor, torch.Tensor) or tensor.dtype != dtype or tensor.dim() != dims:
        if isinstance(tensor, torch.Tensor):
            found = f"{tensor.dtype} with {tensor.dim()} dimensions"
        else:
            found = type(tensor).__name__
        raise InvalidInputError(f"{what} must be a {dtype} tensor with {dims} dimensions, got {found}.")
