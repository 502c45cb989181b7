"""Train torchvision architectures on an ImageNet-layout folder, streamed from disk.

The paper's ReLU / Tanh ResNet-18 pair (Section 4.3, Fig. 3) was trained for 16 epochs on
ImageNet and is not published. A user with ImageNet on disk trains it here:

    signseg.folder_training.train_on_folder("resnet18", "tanh", "/data/imagenet")

The folder holds ``train/<class>/<image>`` and ``val/<class>/<image>`` (torchvision
``ImageFolder``; ImageNet's validation images sorted into class folders, as the usual
``valprep.sh`` does). Unlike the project's in-memory trainer (:mod:`signseg.train`), images are
decoded by ``DataLoader`` workers batch by batch, so 1.28 million images never sit in memory.

* Architecture: ``torchvision.models.get_model(arch, num_classes=len(classes))``; for
  ``activation="tanh"`` every ``nn.ReLU`` module is replaced by ``nn.Tanh``
  (:func:`activation_variant`), everything else identical.
* Recipe (defaults of :class:`FolderTrainConfig`): SGD with momentum 0.9, weight decay 1e-4,
  learning rate 0.1 per 256 images with a cosine decay, batch 256, ``RandomResizedCrop(224)``
  and horizontal flips; validation: resize to 256, centre crop 224 -- torchvision's reference
  recipe, shortened to the paper's 16 epochs.
* Runs are cached by content (architecture, activation, the folder's class list and file
  counts, the recipe) with a checkpoint per epoch written atomically; an interrupted run
  resumes from its last complete epoch. Shuffling is seeded per epoch.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import torch
from torch import nn

from . import loops, zoo
from .runs import SCHEDULES, checkpoint_path, read_checkpoint
from .cache import atomic_path, cache_dir, config_hash
from .errors import DataNotFoundError, InvalidInputError
from .files import load_json
from .progress import tqdm

__all__ = ["ACTIVATIONS", "FolderTrainConfig", "FolderRun", "activation_variant", "folder_classes",
           "train_on_folder", "load_trained"]

ACTIVATIONS = ("relu", "tanh")
_MEAN, _STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class FolderTrainConfig:
    """The training recipe (every field is part of the run's cache key but ``workers``).

    Attributes
    ----------
    epochs, batch_size:
        Passes over the training split (paper: 16) and images per step.
    lr:
        Peak learning rate for ``batch_size`` (0.1 x batch / 256 in the reference recipe).
    momentum, weight_decay:
        SGD settings.
    schedule, warmup:
        Learning-rate schedule (:func:`signseg.loops.lr_factor`) and warm-up fraction.
    image_size:
        Training crop and validation crop side (px).
    limit_per_class:
        Use only the first ``n`` images (by file name) of every class in both splits; ``None``
        for all (a quick trial, or a test).
    workers:
        ``DataLoader`` worker processes decoding images.
    seed:
        Initialisation and shuffling seed.
    """

    epochs: int = 16
    batch_size: int = 256
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    warmup: float = 0.0
    image_size: int = 224
    limit_per_class: int | None = None
    workers: int = 8
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "image_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInputError(f"FolderTrainConfig.{name} must be an integer >= 1, got {value!r}")
        if self.limit_per_class is not None and self.limit_per_class < 1:
            raise InvalidInputError(f"limit_per_class must be >= 1 or None, got {self.limit_per_class!r}")
        if not self.lr > 0 or self.workers < 0:
            raise InvalidInputError("lr must be positive and workers >= 0")
        if self.schedule not in SCHEDULES:
            raise InvalidInputError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")

    def identity(self) -> dict[str, Any]:
        """The fields that change the trained weights."""
        data = asdict(self)
        data.pop("workers")
        return data


@dataclass
class FolderRun:
    """A finished (or loaded) run: its folder, per-epoch history, final top-1 and classes."""

    directory: Path
    history: pd.DataFrame
    top1: float
    classes: list[str]
    cached: bool = True

    def checkpoint(self, epoch: int | None = None) -> Path:
        """The checkpoint of ``epoch`` (default: the last)."""
        epoch = int(self.history["epoch"].max()) if epoch is None else epoch
        return checkpoint_path(self.directory, epoch)


def activation_variant(model: nn.Module, activation: str) -> nn.Module:
    """``model`` with every ``nn.ReLU`` module replaced by ``activation``'s module, in place.

    ``"relu"`` leaves the model unchanged. Modules called several times (torchvision's
    ``BasicBlock.relu``) are replaced once and so change at every call.
    """
    if activation not in ACTIVATIONS:
        raise InvalidInputError(f"activation must be one of {list(ACTIVATIONS)}, got {activation!r}")
    if activation == "relu":
        return model
    for parent in list(model.modules()):
        for child_name, child in list(parent.named_children()):
            if isinstance(child, nn.ReLU):
                setattr(parent, child_name, nn.Tanh())
    return model


def _split_dir(root: Path, split: str) -> Path:
    path = root / split
    if not path.is_dir():
        raise DataNotFoundError(
            f"the ImageNet folder {str(root)!r} has no {split}/ folder; expected "
            f"{split}/<class>/<image> (torchvision ImageFolder layout; sort ImageNet's validation "
            "images into class folders first)")
    return path


def folder_classes(root: str | os.PathLike[str]) -> list[str]:
    """The class folders of ``root/train`` (sorted); ``root/val`` must have the same ones."""
    root = Path(root)
    train = sorted(p.name for p in _split_dir(root, "train").iterdir() if p.is_dir())
    val = sorted(p.name for p in _split_dir(root, "val").iterdir() if p.is_dir())
    if not train:
        raise DataNotFoundError(f"{str(root / 'train')!r} holds no class folders")
    if train != val:
        missing = sorted(set(train) ^ set(val))[:5]
        raise InvalidInputError(
            f"train/ and val/ of {str(root)!r} have different class folders (e.g. {missing}); "
            "both splits need the same classes")
    return train


def _fingerprint(root: Path, classes: list[str]) -> dict[str, Any]:
    """Class list and per-split file counts: cheap to compute, changes with the data."""
    counts = {split: sum(len(os.listdir(root / split / c)) for c in classes) for split in ("train", "val")}
    return {"classes": config_hash(classes), **counts}


def _dataset(root: Path, split: str, config: FolderTrainConfig) -> torch.utils.data.Dataset:
    from torchvision import datasets, transforms

    size = config.image_size
    if split == "train":
        transform = transforms.Compose([
            transforms.RandomResizedCrop(size), transforms.RandomHorizontalFlip(),
            transforms.ToTensor(), transforms.Normalize(_MEAN, _STD)])
    else:
        transform = transforms.Compose([
            transforms.Resize(round(size * 256 / 224)), transforms.CenterCrop(size),
            transforms.ToTensor(), transforms.Normalize(_MEAN, _STD)])
    folder = datasets.ImageFolder(str(_split_dir(root, split)), transform=transform)
    if config.limit_per_class is None:
        return folder
    taken: dict[int, int] = {}
    keep = []
    for index, (_, target) in enumerate(folder.samples):
        if taken.get(target, 0) < config.limit_per_class:
            taken[target] = taken.get(target, 0) + 1
            keep.append(index)
    return torch.utils.data.Subset(folder, keep)


def _run_dir(arch: str, activation: str, root: Path, classes: list[str], config: FolderTrainConfig) -> Path:
    key = config_hash({"arch": arch, "activation": activation, "data": _fingerprint(root, classes),
                       **config.identity()})
    return cache_dir("models", f"folder-{arch}_{activation}-{key}")


def _build(arch: str, activation: str, n_classes: int, seed: int) -> nn.Module:
    from torchvision.models import get_model

    torch.manual_seed(seed)
    return activation_variant(get_model(arch, weights=None, num_classes=n_classes), activation)


@torch.no_grad()
def _top1(model: nn.Module, loader: torch.utils.data.DataLoader, device: torch.device) -> float:
    model.eval()
    correct = total = 0
    for images, targets in loader:
        predictions = model(images.to(device)).argmax(dim=1).cpu()
        correct += int((predictions == targets).sum())
        total += len(targets)
    return 100.0 * correct / max(total, 1)


def train_on_folder(
    arch: str,
    activation: str,
    root: str | os.PathLike[str],
    config: FolderTrainConfig | None = None,
    *,
    progress: bool = True,
    callback: Callable[[int, dict[str, float]], None] | None = None,
) -> FolderRun:
    """Train ``arch`` with ``activation`` on the folder ``root`` (or reuse the cached run).

    Parameters
    ----------
    arch:
        A torchvision classification architecture (``"resnet18"``, ``"alexnet"``, ...).
    activation:
        ``"relu"`` (as built) or ``"tanh"`` (every ReLU replaced).
    root:
        Folder with ``train/`` and ``val/`` class folders.
    config:
        The recipe (default :class:`FolderTrainConfig`: 16 epochs, the paper's length).
    progress:
        tqdm bars over epochs and batches.
    callback:
        ``callback(epoch, history_row)`` after each epoch's checkpoint; an exception it raises
        interrupts training, which the next call resumes.

    Returns
    -------
    FolderRun
        The run's folder, history (``epoch, train_loss, train_acc, val_acc, seconds``), final
        validation top-1 (%) and classes.
    """
    config = config or FolderTrainConfig()
    root = Path(root)
    classes = folder_classes(root)
    directory = _run_dir(arch, activation, root, classes, config)
    finished = _finished(directory)
    if finished is not None:
        return finished
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = _build(arch, activation, len(classes), config.seed).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                                weight_decay=config.weight_decay)
    train_set, val_set = _dataset(root, "train", config), _dataset(root, "val", config)
    val_loader = torch.utils.data.DataLoader(val_set, batch_size=config.batch_size,
                                             num_workers=config.workers)
    start, step, history = loops.resume(directory, model, optimizer)
    if start is None:
        history = [{"epoch": 0, "train_loss": float("nan"), "train_acc": float("nan"),
                    "val_acc": _top1(model, val_loader, device), "seconds": 0.0}]
        loops.save_checkpoint(directory, 0, model, optimizer, 0, history)
        start = 0
    steps_per_epoch = -(-len(train_set) // config.batch_size)
    total = config.epochs * steps_per_epoch
    loss_fn = nn.CrossEntropyLoss()
    for epoch in tqdm(range(start + 1, config.epochs + 1), desc=f"{arch} ({activation})",
                      disable=not progress, initial=start, total=config.epochs):
        began = time.perf_counter()
        sampler = torch.utils.data.RandomSampler(train_set, generator=loops.epoch_generator(config.seed, epoch))
        loader = torch.utils.data.DataLoader(train_set, batch_size=config.batch_size, sampler=sampler,
                                             num_workers=config.workers, drop_last=False)
        model.train()
        loss_sum = correct = seen = 0.0
        for images, targets in tqdm(loader, desc=f"epoch {epoch}", leave=False, disable=not progress):
            for group in optimizer.param_groups:
                group["lr"] = config.lr * loops.lr_factor(step, total, config.schedule, config.warmup)
            images, targets = images.to(device), targets.to(device)
            logits = model(images)
            loss = loss_fn(logits, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            loss_sum += float(loss.detach()) * len(targets)
            correct += float((logits.argmax(dim=1) == targets).sum())
            seen += len(targets)
        history.append({"epoch": epoch, "train_loss": loss_sum / seen, "train_acc": 100 * correct / seen,
                        "val_acc": _top1(model, val_loader, device),
                        "seconds": time.perf_counter() - began})
        loops.save_checkpoint(directory, epoch, model, optimizer, step, history)
        if callback is not None:
            callback(epoch, dict(history[-1]))
    with atomic_path(directory / "meta.json") as path:
        Path(path).write_text(json.dumps({"arch": arch, "activation": activation, "classes": classes,
                                          "config": config.identity(), "history": history}))
    run = _finished(directory)
    assert run is not None  # meta.json was just written
    run.cached = False
    return run


def _finished(directory: Path) -> FolderRun | None:
    meta_path = directory / "meta.json"
    if not meta_path.is_file():
        return None
    meta = load_json(meta_path, "the folder-training run's record",
                     "delete the file; the next call rewrites it from the last checkpoint",
                     entries=("history", "classes"))
    history = pd.DataFrame(meta["history"])
    return FolderRun(directory, history, float(history["val_acc"].iloc[-1]), list(meta["classes"]))


def load_trained(arch: str, activation: str, root: str | os.PathLike[str],
                 config: FolderTrainConfig | None = None, *, progress: bool = True) -> zoo.ZooModel:
    """Train (or reuse) the run and return it as a :class:`signseg.zoo.ZooModel` named
    ``"<arch>_<activation>_folder"``, ready for every analysis of the book."""
    config = config or FolderTrainConfig()
    run = train_on_folder(arch, activation, root, config, progress=progress)
    model = _build(arch, activation, len(run.classes), config.seed)
    model.load_state_dict(read_checkpoint(run.checkpoint())["model"])
    base = zoo.info(arch)
    preprocessing = dataclasses.replace(base.preprocessing, size=config.image_size,
                                        resize_size=round(config.image_size * 256 / 224))
    entry = dataclasses.replace(base, name=f"{arch}_{activation}_folder", source="project",
                                activation=activation, weights=None, top1=None,
                                num_classes=len(run.classes), preprocessing=preprocessing)
    checkpoints = [run.checkpoint(int(e)) for e in run.history["epoch"]]
    return zoo.ZooModel(entry.name, entry, model.eval(), True, run.top1, run.classes,
                        checkpoints=checkpoints,
                        history=run.history.rename(columns={"val_acc": "test_acc"}))
