"""Deterministic, resumable training of the project's zoo models, cached by configuration.

``train(name, config)`` trains the project model ``name`` (e.g. ``"cifar10_resnet8"``, see
:func:`signseg.zoo.names`) with a :class:`TrainConfig` and returns a :class:`TrainResult`.

* **Cache.** Everything lives in ``cache_dir("models", f"{name}-{hash}")`` where the hash
  covers the model name, the resolved configuration and :data:`TRAINING_VERSION` /
  :data:`signseg.architectures.ARCHITECTURE_VERSION`. Each epoch's checkpoint
  (``epoch_000.pt`` = the initialisation, ..., ``epoch_E.pt``) is written atomically;
  ``meta.json`` (history, accuracy, configuration) is written last and marks a finished run,
  which later calls reuse without training.
* **Resume.** An interrupted run restarts from its last complete epoch: a checkpoint holds
  the weights, the optimizer state (momentum buffers), the step count that drives the
  learning-rate schedule and the history so far; the shuffling / augmentation random stream
  of each epoch is seeded by ``(seed, epoch)``. A resumed run ends with bit-identical weights.
* **Determinism.** Same name, configuration and seed give bit-identical weights (on the same
  machine and thread count: CPU kernels may reduce in a different order with other counts).
* **Recipe.** SGD with Nesterov momentum, weight decay, label smoothing, a linear warm-up then
  a linear ("onecycle") or cosine decay to zero, per step; random 4-px-padded crops and
  horizontal flips for CIFAR-10 and the procedural set, none for MNIST. Test accuracy on the
  data set's test split after every epoch (and of the initialisation, epoch 0).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from .progress import tqdm

from . import zoo
from .architectures import ARCHITECTURE_VERSION
from .cache import atomic_torch_save, atomic_write_text, cache_dir, config_hash
from .errors import DamagedFileError, InvalidInputError
from .files import load_json, load_torch, warn_recomputing
from .preprocessing import Preprocessing

__all__ = [
    "TRAINING_VERSION",
    "SCHEDULES",
    "TrainConfig",
    "TrainResult",
    "resolve_config",
    "result_dir",
    "load_result",
    "train",
    "evaluate",
    "augment_batch",
    "AUGMENTATIONS",
    "DEFAULT_AUGMENT",
    "OPTIMIZERS",
    "lr_factor",
    "checkpoint_state_dict",
    "config_from_dict",
]

#: Bump when the training procedure changes results; part of every cache key.
TRAINING_VERSION = 1

#: Optimizers: SGD (with ``momentum`` / ``nesterov``) or AdamW (betas ``(momentum, 0.999)``).
OPTIMIZERS = ("sgd", "adamw")

#: Learning-rate schedules: linear warm-up, then linear / cosine decay to 0, or constant.
SCHEDULES = ("onecycle", "cosine", "constant")

#: Augmentations: random 4-px-padded crops and horizontal flips, flips only, or none.
AUGMENTATIONS = ("crop_flip", "flip", "none")

#: Augmentation of each data set when the configuration does not set one (digits are not
#: flipped).
DEFAULT_AUGMENT = {"procedural": "crop_flip", "cifar10": "crop_flip", "mnist": "none",
                   "tiny-imagenet": "crop_flip"}
_CROP_PADDING = 4
_EVAL_BATCH_SIZE = 500
_META = "meta.json"


@dataclass(frozen=True)
class TrainConfig:
    """How a project model is trained. Defaults suit the ``quick`` profile on CIFAR-10.

    Attributes
    ----------
    epochs:
        Passes over the training set (default 5).
    batch_size:
        Images per SGD step (128); the last incomplete batch of an epoch is dropped.
    lr:
        Peak learning rate (0.05), reached at the end of the warm-up.
    momentum, nesterov:
        SGD momentum (0.9) and Nesterov momentum (True).
    weight_decay:
        L2 penalty on every parameter (5e-4).
    schedule:
        ``"onecycle"`` (linear warm-up, linear decay to 0), ``"cosine"`` (linear warm-up,
        cosine decay to 0) or ``"constant"`` (linear warm-up only).
    warmup:
        Fraction of all steps spent in the linear warm-up (0.2).
    label_smoothing:
        Cross-entropy label smoothing (0.1).
    augment:
        ``"crop_flip"`` (random crops of the 4-px zero-padded image and horizontal flips),
        ``"flip"`` or ``"none"``; ``True`` / ``False`` mean ``"crop_flip"`` / ``"none"``.
        ``None``: :data:`DEFAULT_AUGMENT` of the data set.
    n_train:
        Size of the random training subset (``None``: the whole training split).
    n_test:
        Size of the random test subset evaluated after every epoch (``None``: all of it).
    width:
        Base channel count of the network (``None``: :data:`signseg.zoo.DEFAULT_WIDTH`).
    seed:
        Initialisation, shuffling and augmentation seed.
    data_seed:
        Seed of the data subsets (kept apart from ``seed`` so that models trained with
        different seeds see the same images).
    data:
        Extra options for :func:`signseg.data.load` (e.g. ``{"n": 3000, "p_agree": 0.8}`` for
        the procedural set), used for both splits.
    """

    epochs: int = 5
    batch_size: int = 128
    lr: float = 0.05
    optimizer: str = "sgd"
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    schedule: str = "onecycle"
    warmup: float = 0.2
    label_smoothing: float = 0.1
    augment: str | bool | None = None
    n_train: int | None = 20000
    n_test: int | None = None
    width: int | None = None
    seed: int = 0
    data_seed: int = 0
    data: dict[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        problems = []
        if self.epochs < 1:
            problems.append(f"epochs must be >= 1 (got {self.epochs})")
        if self.batch_size < 1:
            problems.append(f"batch_size must be >= 1 (got {self.batch_size})")
        if not self.lr > 0:
            problems.append(f"lr must be > 0 (got {self.lr})")
        if not 0 <= self.momentum < 1:
            problems.append(f"momentum must be in [0, 1) (got {self.momentum})")
        if self.weight_decay < 0:
            problems.append(f"weight_decay must be >= 0 (got {self.weight_decay})")
        if isinstance(self.augment, bool):
            object.__setattr__(self, "augment", "crop_flip" if self.augment else "none")
        if self.augment is not None and self.augment not in AUGMENTATIONS:
            problems.append(f"augment must be one of {AUGMENTATIONS} or None (got {self.augment!r})")
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"optimizer must be one of {OPTIMIZERS} (got {self.optimizer!r})")
        if self.schedule not in SCHEDULES:
            problems.append(f"schedule must be one of {SCHEDULES} (got {self.schedule!r})")
        if not 0 <= self.warmup < 1:
            problems.append(f"warmup must be a fraction in [0, 1) (got {self.warmup})")
        if not 0 <= self.label_smoothing < 1:
            problems.append(f"label_smoothing must be in [0, 1) (got {self.label_smoothing})")
        for key in ("n_train", "n_test", "width"):
            value = getattr(self, key)
            if value is not None and value < 1:
                problems.append(f"{key} must be >= 1 or None (got {value})")
        if not isinstance(self.data, Mapping):
            problems.append(f"data must be a mapping of data set options (got {self.data!r})")
        if problems:
            raise InvalidInputError("invalid TrainConfig: " + "; ".join(problems))
        object.__setattr__(self, "data", dict(self.data))

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> "TrainConfig":
        """Build a configuration from a dictionary (e.g. a profile's YAML ``train`` section).

        Raises
        ------
        InvalidInputError
            A key is not a field of :class:`TrainConfig` (the message suggests the closest
            field and lists them all) or a value is invalid.
        """
        return config_from_dict(cls, values)

    def to_dict(self) -> dict[str, Any]:
        """All fields as a JSON-ready dictionary (the inverse of :meth:`from_dict`)."""
        return dataclasses.asdict(self)


def config_from_dict(cls: type, values: Mapping[str, Any] | None) -> Any:
    """``cls(**values)`` for a configuration dataclass, rejecting unknown keys helpfully.

    Raises
    ------
    InvalidInputError
        A key is not a field of ``cls`` (the message suggests the closest field and lists
        them all).
    """
    values = dict(values or {})
    known = [f.name for f in dataclasses.fields(cls)]
    unknown = [key for key in values if key not in known]
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(str(key), known, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise InvalidInputError(
            f"unknown {cls.__name__} field(s) {', '.join(hints)}; valid fields: {known}"
        )
    return cls(**values)


@dataclass
class TrainResult:
    """A finished training run.

    Attributes
    ----------
    name:
        The project zoo name.
    config:
        The resolved configuration (``width``, ``augment`` and ``seed`` filled in).
    directory:
        Its cache folder.
    checkpoints:
        ``epoch_000.pt`` (initialisation) ... ``epoch_E.pt``.
    history:
        One row per epoch 0..E: ``epoch``, ``train_loss``, ``train_acc``, ``test_acc`` (%),
        ``seconds`` (training time of that epoch; epoch 0 has no training: NaN loss and acc).
    test_acc:
        Final test accuracy (%).
    classes:
        Class names of the output units.
    cached:
        Whether the run was found finished in the cache (no training happened).
    """

    name: str
    config: TrainConfig
    directory: Path
    checkpoints: list[Path]
    history: pd.DataFrame
    test_acc: float
    classes: list[str]
    cached: bool = False


# --------------------------------------------------------------------------- configuration


def resolve_config(
    name: str, config: TrainConfig | Mapping[str, Any] | None = None, *, seed: int | None = None
) -> TrainConfig:
    """Fill in the data-set dependent defaults of ``config`` for the project model ``name``.

    Parameters
    ----------
    name:
        A project zoo name.
    config:
        A :class:`TrainConfig`, a dictionary of its fields, or ``None`` (all defaults).
    seed:
        If given, replaces ``config.seed``.

    Returns
    -------
    TrainConfig
        With ``width`` (:data:`signseg.zoo.DEFAULT_WIDTH`) and ``augment`` set.
    """
    entry = _project_entry(name)
    if not isinstance(config, TrainConfig):
        config = TrainConfig.from_dict(config)
    changes: dict[str, Any] = {}
    if config.width is None:
        changes["width"] = zoo.DEFAULT_WIDTH[entry.dataset]
    if config.augment is None:
        changes["augment"] = DEFAULT_AUGMENT[entry.dataset]
    if seed is not None:
        changes["seed"] = seed
    return dataclasses.replace(config, **changes)


def _project_entry(name: str) -> zoo.ZooEntry:
    entry = zoo.info(name)
    if entry.source != "project":
        raise InvalidInputError(
            f"{name} is a {entry.source} model with published weights; only project models "
            "are trained here (see signseg.zoo.names(source='project'))"
        )
    return entry


def result_dir(name: str, config: TrainConfig | Mapping[str, Any] | None = None) -> Path:
    """The cache folder of ``name`` trained with ``config`` (created if missing)."""
    config = resolve_config(name, config)
    key = config_hash(
        {
            "name": name,
            "config": config.to_dict(),
            "architecture_version": ARCHITECTURE_VERSION,
            "training_version": TRAINING_VERSION,
        }
    )
    return cache_dir("models", f"{name}-{key}")


def _checkpoint_path(directory: Path, epoch: int) -> Path:
    return directory / f"epoch_{epoch:03d}.pt"


def _checkpoint_fix(path: str | Path) -> str:
    return (f"Delete it (or its folder {str(Path(path).parent)!r}); signseg trains the missing "
            "epochs again, from the last good checkpoint.")


def _read_checkpoint(path: str | Path) -> dict[str, Any]:
    """A training checkpoint; :class:`~signseg.errors.DamagedFileError` names a bad file."""
    return load_torch(path, "a training checkpoint", _checkpoint_fix(path),
                      entries=("epoch", "step", "model", "optimizer", "history"))


def checkpoint_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The model weights stored in a training checkpoint file.

    Raises
    ------
    DamagedFileError
        The file is empty, truncated or not a training checkpoint (the message names it).
    """
    return load_torch(path, "a training checkpoint", _checkpoint_fix(path), entries=("model",))["model"]


def _discard_damaged(directory: Path, error: DamagedFileError, first_bad: int | None) -> None:
    """Remove ``meta.json`` and the checkpoints from epoch ``first_bad`` on, so training resumes."""
    warn_recomputing(error, "trains the affected epochs again")
    (directory / _META).unlink(missing_ok=True)
    if first_bad is not None:
        for path in directory.glob("epoch_*.pt"):
            if int(path.stem.split("_")[1]) >= first_bad:
                path.unlink(missing_ok=True)


def load_result(
    name: str, config: TrainConfig | Mapping[str, Any] | None = None
) -> TrainResult | None:
    """The finished run of ``name`` with ``config`` from the cache, or ``None`` if there is none."""
    config = resolve_config(name, config)
    directory = result_dir(name, config)
    meta_path = directory / _META
    if not meta_path.is_file():
        return None
    try:
        meta = load_json(meta_path, "a finished training run's record",
                         "Delete it; signseg rewrites it after checking the checkpoints.",
                         entries=("history", "test_acc", "classes"))
    except DamagedFileError as error:  # our own cache: finish the run again from its checkpoints
        _discard_damaged(directory, error, None)
        return None
    checkpoints = [_checkpoint_path(directory, epoch) for epoch in range(config.epochs + 1)]
    missing = [path.name for path in checkpoints if not path.is_file()]
    if missing:
        raise InvalidInputError(
            f"the cached run in {str(directory)!r} is damaged: {missing} are missing. Delete "
            "the folder to train again."
        )
    for epoch, path in enumerate(checkpoints):
        try:
            _read_checkpoint(path)
        except DamagedFileError as error:  # our own cache: retrain from the last good epoch
            _discard_damaged(directory, error, epoch)
            return None
    return TrainResult(
        name=name,
        config=config,
        directory=directory,
        checkpoints=checkpoints,
        history=pd.DataFrame(meta["history"]),
        test_acc=float(meta["test_acc"]),
        classes=list(meta["classes"]),
        cached=True,
    )


# --------------------------------------------------------------------------- pieces


def lr_factor(step: int, total: int, schedule: str, warmup: float) -> float:
    """Learning-rate multiplier at 0-based optimizer ``step`` of ``total``.

    Linear warm-up from ``1 / w`` to 1 over the first ``w = round(warmup * total)`` steps, then
    ``"onecycle"``: linear decay towards 0; ``"cosine"``: half-cosine decay towards 0;
    ``"constant"``: 1.
    """
    if schedule not in SCHEDULES:
        raise InvalidInputError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    warm = round(warmup * total)
    if step < warm:
        return (step + 1) / warm
    if schedule == "constant":
        return 1.0
    progress = (step - warm) / max(1, total - warm)
    if schedule == "onecycle":
        return 1.0 - progress
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def augment_batch(
    images: torch.Tensor, generator: torch.Generator, padding: int = _CROP_PADDING
) -> torch.Tensor:
    """Random ``padding``-px zero-padded crops and horizontal flips of a batch ``[B, C, H, W]``.

    Every image gets its own offset in ``[0, 2 padding]`` per axis and a flip with probability
    1/2, drawn from ``generator`` (offsets first, then flips). ``padding=0``: flips only.
    """
    batch, _, height, width = images.shape
    padded = F.pad(images, (padding, padding, padding, padding))
    dy = torch.randint(0, 2 * padding + 1, (batch,), generator=generator)
    dx = torch.randint(0, 2 * padding + 1, (batch,), generator=generator)
    flip = torch.rand(batch, generator=generator) < 0.5
    rows = dy[:, None] + torch.arange(height)[None, :]  # [B, H]
    cols = dx[:, None] + torch.arange(width)[None, :]  # [B, W]
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    index = torch.arange(batch)[:, None, None]
    # advanced indexing on dims 0, 2, 3 puts the channel dim last: [B, H, W, C]
    out = padded.permute(0, 2, 3, 1)[index, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2).contiguous()


def _to_unit(images: torch.Tensor) -> torch.Tensor:
    return images.float().div_(255.0) if images.dtype == torch.uint8 else images.float()


#: Narrowest convolution (channels) that still gets the channels-last layout: oneDNN's
#: AVX2 1x1 weight-gradient kernel in torch 2.14 never returns for 2-channel convolutions
#: in channels-last layout, and the backward pass of the project ResNets with 3 to 7
#: channels crashes the process (segmentation fault or "double free"; ResNet-8/20, batch
#: 64 of 32 px; VGG and AlexNet are unaffected); such tiny layers gain nothing from it.
_CHANNELS_LAST_MIN_CHANNELS = 8


def _memory_format(model: nn.Module) -> torch.memory_format:
    """Channels-last (about 1.5x faster CPU convolutions) unless a convolution is too narrow."""
    convolutions = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    narrowest = min((c.out_channels for c in convolutions), default=0)
    if convolutions and narrowest >= _CHANNELS_LAST_MIN_CHANNELS:
        return torch.channels_last
    return torch.contiguous_format


def _network_input(preprocessing: Preprocessing, images01: torch.Tensor,
                   memory_format: torch.memory_format) -> torch.Tensor:
    """Preprocessed batch in the model's memory layout."""
    return preprocessing(images01).contiguous(memory_format=memory_format)


def evaluate(
    model: nn.Module,
    images: torch.Tensor,
    targets: torch.Tensor,
    preprocessing: Preprocessing,
    batch_size: int = _EVAL_BATCH_SIZE,
) -> float:
    """Top-1 accuracy (%) of ``model`` in eval mode on ``images`` (uint8 or ``[0, 1]`` floats).

    The model's train/eval mode is restored afterwards.
    """
    was_training = model.training
    memory_format = _memory_format(model)
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            batch = _network_input(
                preprocessing, _to_unit(images[start : start + batch_size]), memory_format
            )
            predicted = model(batch).argmax(dim=1)
            correct += int((predicted == targets[start : start + batch_size]).sum())
    model.train(was_training)
    return 100.0 * correct / max(1, images.shape[0])


def _epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The random stream of one epoch (shuffling and augmentation), independent of the past."""
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def _optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adamw":
        return torch.optim.AdamW(
            model.parameters(), lr=config.lr, betas=(config.momentum, 0.999),
            weight_decay=config.weight_decay,
        )
    return torch.optim.SGD(
        model.parameters(),
        lr=config.lr,
        momentum=config.momentum,
        nesterov=config.nesterov and config.momentum > 0,
        weight_decay=config.weight_decay,
    )


def _steps_per_epoch(n_images: int, batch_size: int) -> int:
    return max(1, n_images // batch_size)


def _train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    data: "_Split",
    config: TrainConfig,
    epoch: int,
    step: int,
    total_steps: int,
    progress: bool,
    label: str,
) -> tuple[float, float, int]:
    """One epoch of SGD; returns mean train loss, train accuracy (%) and the new step count."""
    model.train()
    generator = _epoch_generator(config.seed, epoch)
    order = torch.randperm(data.images.shape[0], generator=generator)
    n_steps = _steps_per_epoch(order.numel(), config.batch_size)
    memory_format = _memory_format(model)
    loss_sum, correct, seen = 0.0, 0, 0
    for batch_index in tqdm(range(n_steps), desc=f"{label} epoch {epoch}", leave=False,
                            disable=not progress):
        index = order[batch_index * config.batch_size : (batch_index + 1) * config.batch_size]
        images = _to_unit(data.images[index])
        if config.augment != "none":
            padding = _CROP_PADDING if config.augment == "crop_flip" else 0
            images = augment_batch(images, generator, padding)
        targets = data.targets[index]
        for group in optimizer.param_groups:
            group["lr"] = config.lr * lr_factor(step, total_steps, config.schedule, config.warmup)
        logits = model(_network_input(data.preprocessing, images, memory_format))
        loss = F.cross_entropy(logits, targets, label_smoothing=config.label_smoothing)
        value = loss.item()
        if not math.isfinite(value):
            raise InvalidInputError(
                f"training {label} diverged (loss {value} at epoch {epoch}); lower lr "
                f"(now {config.lr}) or use a model with batch normalisation"
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        loss_sum += value * targets.numel()
        correct += int((logits.argmax(1) == targets).sum())
        seen += targets.numel()
    return loss_sum / seen, 100.0 * correct / seen, step


@dataclass
class _Split:
    images: torch.Tensor
    targets: torch.Tensor
    classes: list[str]
    preprocessing: Preprocessing


def _load_split(entry: zoo.ZooEntry, config: TrainConfig, split: str) -> _Split:
    from . import data

    limit = config.n_train if split == "train" else config.n_test
    dataset = data.load(entry.dataset, split, limit=limit, seed=config.data_seed, **config.data)
    images = dataset.images
    if images.shape[1] != entry.preprocessing.channels:
        raise InvalidInputError(
            f"{entry.name} expects {entry.preprocessing.channels}-channel images but the "
            f"{entry.dataset} {split} split has {images.shape[1]}"
        )
    return _Split(images, dataset.targets.long(), list(dataset.classes), entry.preprocessing)


# --------------------------------------------------------------------------- training


def train(
    name: str,
    config: TrainConfig | Mapping[str, Any] | None = None,
    *,
    progress: bool = True,
    callback: Callable[[int, dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train the project model ``name`` with ``config`` (or reuse the finished cached run).

    Parameters
    ----------
    name:
        A project zoo name, e.g. ``"procedural_vgg11_bn"``.
    config:
        A :class:`TrainConfig`, a dictionary of its fields or ``None`` (defaults), resolved
        with :func:`resolve_config`.
    progress:
        Show tqdm bars over epochs and batches.
    callback:
        Called as ``callback(epoch, history_row)`` after every epoch's checkpoint is written
        (e.g. to plot live); an exception it raises interrupts training, which a later call
        resumes from that epoch.

    Returns
    -------
    TrainResult
        Checkpoints of epochs 0..E, the history and the final test accuracy.
    """
    entry = _project_entry(name)
    config = resolve_config(name, config)
    finished = load_result(name, config)
    if finished is not None:
        return finished
    directory = result_dir(name, config)
    train_data = _load_split(entry, config, "train")
    test_data = _load_split(entry, config, "test")
    model = zoo.build(name, seed=config.seed, width=config.width)
    model = model.to(memory_format=_memory_format(model))
    optimizer = _optimizer(model, config)
    start, step, history = _resume(directory, model, optimizer)
    if start is None:
        history = [_row(0, math.nan, math.nan, evaluate(model, test_data.images, test_data.targets, entry.preprocessing), 0.0)]
        _save_checkpoint(directory, 0, model, optimizer, 0, history)
        start = 0
    total_steps = config.epochs * _steps_per_epoch(train_data.images.shape[0], config.batch_size)
    epochs = tqdm(range(start + 1, config.epochs + 1), desc=name, disable=not progress,
                  initial=start, total=config.epochs)
    for epoch in epochs:
        began = time.perf_counter()
        loss, train_acc, step = _train_epoch(
            model, optimizer, train_data, config, epoch, step, total_steps, progress, name
        )
        seconds = time.perf_counter() - began
        test_acc = evaluate(model, test_data.images, test_data.targets, entry.preprocessing)
        history.append(_row(epoch, loss, train_acc, test_acc, seconds))
        _save_checkpoint(directory, epoch, model, optimizer, step, history)
        epochs.set_postfix(loss=f"{loss:.3f}", test_acc=f"{test_acc:.1f}")
        if callback is not None:
            callback(epoch, dict(history[-1]))
    _write_meta(directory, name, config, history, train_data.classes)
    result = load_result(name, config)
    assert result is not None  # meta.json was just written
    result.cached = False
    return result


def _row(epoch: int, loss: float, train_acc: float, test_acc: float, seconds: float) -> dict[str, float]:
    return {"epoch": epoch, "train_loss": loss, "train_acc": train_acc, "test_acc": test_acc,
            "seconds": seconds}


def _save_checkpoint(
    directory: Path,
    epoch: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    step: int,
    history: list[dict[str, float]],
) -> None:
    atomic_torch_save(
        {
            "epoch": epoch,
            "step": step,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "history": history,
        },
        _checkpoint_path(directory, epoch),
    )


def _resume(
    directory: Path, model: nn.Module, optimizer: torch.optim.Optimizer
) -> tuple[int | None, int, list[dict[str, float]]]:
    """Restore the last complete epoch's checkpoint, if any: (epoch, step, history)."""
    saved = sorted(directory.glob("epoch_*.pt"))
    while saved:
        try:
            state = _read_checkpoint(saved[-1])
            break
        except DamagedFileError as error:  # an interrupted or damaged write: step back one epoch
            warn_recomputing(error, "resumes from the epoch before")
            saved.pop().unlink(missing_ok=True)
    if not saved:
        return None, 0, []
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    return int(state["epoch"]), int(state["step"]), list(state["history"])


def _write_meta(
    directory: Path,
    name: str,
    config: TrainConfig,
    history: list[dict[str, float]],
    classes: list[str],
) -> None:
    meta = {
        "name": name,
        "config": config.to_dict(),
        "architecture_version": ARCHITECTURE_VERSION,
        "training_version": TRAINING_VERSION,
        "torch_version": torch.__version__,
        "test_acc": history[-1]["test_acc"],
        "train_seconds": sum(row["seconds"] for row in history),
        "classes": classes,
        "history": history,
    }
    atomic_write_text(directory / _META, json.dumps(meta, indent=1, allow_nan=True))
