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
  data set's test split after every epoch (and of the initialisation, epoch 0). Optional
  extra loss terms (:func:`extra_loss`): L1 on the weights and LCEI-CNN's weight-separation
  penalty; the recorded ``train_loss`` includes them.
* **Adversarial training** (``_linf<eps>`` names, ``config.attack``): every training batch,
  after augmentation, is replaced by its adversarial version (:mod:`signseg.adversarial`,
  FGSM with a random start or PGD at ``epsilon / 255`` in pixel space, random starts drawn
  from the epoch's random stream). **Choice:** the attack sees the network in train mode, as
  the step that follows does (batch statistics; Wong et al. 2020), but the attack's forward
  passes leave the batch-norm running statistics untouched, so they are updated once per
  step, by the adversarial batch, as in clean training. After training, the robust accuracy
  under PGD-10 at the training epsilon (eval mode) on ``robust_n_test`` test images goes
  into ``meta.json`` (:attr:`TrainResult.robust`).
* **SimSiam** (``_simsiam`` names, ``config.pretrain``): the backbone is first pretrained
  without labels (:mod:`signseg.simsiam`, ``pretrain_*.pt`` checkpoints in the same folder),
  then frozen -- eval-mode batch norm, no gradients -- and only the readout is trained (the
  linear probe) with the usual recipe for ``epochs``; ``epoch_000.pt`` is the pretrained
  backbone with the initial readout.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from .progress import tqdm

from . import adversarial, simsiam, zoo
from .architectures import ARCHITECTURE_VERSION
from .cache import atomic_write_text
from .ei.penalties import weight_l1
from .errors import InvalidInputError
from .loops import (  # noqa: F401  (lr_factor re-exported: the training API as it was)
    epoch_generator as _epoch_generator,
    lr_factor,
    memory_format as _memory_format,
    network_input as _network_input,
    resume as _resume,
    save_checkpoint as _save_checkpoint,
    to_unit as _to_unit,
)
from .preprocessing import Preprocessing
from .runs import (  # noqa: F401  (re-exported: the training API as it was)
    AUGMENTATIONS,
    DEFAULT_AUGMENT,
    META,
    OPTIMIZERS,
    ROBUST_EVAL_STEPS,
    SCHEDULES,
    TRAINING_VERSION,
    TrainConfig,
    TrainResult,
    checkpoint_state_dict,
    config_from_dict,
    finished_run,
    resolve,
    run_dir,
)

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
    "extra_loss",
    "augment_batch",
    "AUGMENTATIONS",
    "DEFAULT_AUGMENT",
    "OPTIMIZERS",
    "lr_factor",
    "checkpoint_state_dict",
    "load",
    "config_from_dict",
]

_CROP_PADDING = 4
_EVAL_BATCH_SIZE = 500


# --------------------------------------------------------------------------- configuration


def resolve_config(
    name: str, config: TrainConfig | Mapping[str, Any] | None = None, *, seed: int | None = None
) -> TrainConfig:
    """Fill in the data-set dependent defaults of ``config`` for the project model ``name``.

    :func:`signseg.runs.resolve` with the data set and training regime of ``name``: ``width``
    (:func:`signseg.zoo.project_width`) and ``augment`` are set, the regime of a ``_linf``
    or ``_simsiam`` name merged in; ``seed`` replaces ``config.seed`` when given.

    Raises
    ------
    InvalidInputError
        ``name`` is not a project model.
    """
    entry = _project_entry(name)
    return resolve(config, entry.dataset, seed=seed, regime=entry.regime, epsilon=entry.epsilon,
                   width=zoo.project_width(entry))


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
    return run_dir(name, resolve_config(name, config))


def load_result(
    name: str, config: TrainConfig | Mapping[str, Any] | None = None
) -> TrainResult | None:
    """The finished run of ``name`` with ``config`` from the cache, or ``None`` if there is none."""
    return finished_run(name, resolve_config(name, config))


def load(
    name: str,
    config: TrainConfig | Mapping[str, Any] | None = None,
    *,
    pretrained: bool = True,
    seed: int = 0,
    epoch: int | None = None,
    download: bool = True,
    progress: bool = True,
) -> zoo.ZooModel:
    """Load a zoo model, training a project model first when it is not in the cache.

    Like :func:`signseg.zoo.load` (which never trains), but a missing project run is trained
    here with ``config``: a message names the model, the configuration and the cache folder,
    and tqdm shows the epochs. Other models are passed to :func:`signseg.zoo.load`.

    Parameters
    ----------
    name:
        A zoo name.
    config:
        Project models: a :class:`TrainConfig` or a dictionary of its fields (a profile's
        ``train[dataset]`` section); ``None`` for defaults. Must be ``None`` for published models.
    pretrained, seed, epoch, download, progress:
        As for :func:`signseg.zoo.load`; ``seed`` also seeds training.
    """
    entry = zoo.info(name)
    if entry.source == "project" and pretrained:
        resolved = resolve_config(name, config, seed=seed)
        if finished_run(name, resolved) is None:
            print(f"signseg: training {name} (not in the cache; {_describe(resolved)}, "
                  f"{resolved.n_train or 'all'} training images) into {run_dir(name, resolved)}",
                  flush=True)
            train(name, resolved, progress=progress)
    if entry.source != "project":
        if config is not None:
            raise InvalidInputError(f"{name} has published weights; a training config does not apply to it")
        return zoo.load(name, pretrained=pretrained, seed=seed, epoch=epoch, download=download,
                        progress=progress)
    return zoo.load(name, pretrained=pretrained, seed=seed, epoch=epoch, train_config=config,
                    progress=progress)


def _describe(config: TrainConfig) -> str:
    """``"3 epochs"``, ``"3 epochs of fgsm_rs training at epsilon 4/255"`` or
    ``"10 SimSiam epochs, then 3 epochs of linear probe"``."""
    if config.pretrain != "none":
        return f"{config.pretrain_epochs} SimSiam epochs, then {config.epochs} epochs of linear probe"
    if config.attack != "none":
        return f"{config.epochs} epochs of {config.attack} training at epsilon {config.epsilon:g}/255"
    return f"{config.epochs} epochs"


# --------------------------------------------------------------------------- pieces


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


def _optimizer(parameters: list[nn.Parameter], config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adamw":
        return torch.optim.AdamW(
            parameters, lr=config.lr, betas=(config.momentum, 0.999),
            weight_decay=config.weight_decay,
        )
    return torch.optim.SGD(
        parameters,
        lr=config.lr,
        momentum=config.momentum,
        nesterov=config.nesterov and config.momentum > 0,
        weight_decay=config.weight_decay,
    )


def _trainable(model: nn.Module, readout: str, config: TrainConfig) -> list[nn.Parameter]:
    """The parameters training updates: all of them, or the readout's on a pretrained backbone.

    With pretraining, every other parameter stops requiring gradients (the frozen backbone).
    """
    if config.pretrain == "none":
        return list(model.parameters())
    head = model.get_submodule(readout)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    for parameter in head.parameters():
        parameter.requires_grad_(True)
    return list(head.parameters())


def extra_loss(model: nn.Module, config: TrainConfig) -> torch.Tensor | float:
    """The loss terms added to the cross-entropy: ``l1 * sum |w|`` and ``separation * P``.

    ``P`` is the model's ``separation_penalty()`` (LCEI-CNN's weight-separation penalty,
    :mod:`signseg.ei.penalties`); 0 when both coefficients are 0.

    Raises
    ------
    InvalidInputError
        ``config.separation > 0`` for a model without a separation penalty.
    """
    total: torch.Tensor | float = 0.0
    if config.l1 > 0:
        total = total + config.l1 * weight_l1(model)
    if config.separation > 0:
        penalty = getattr(model, "separation_penalty", None)
        if penalty is None:
            raise InvalidInputError(
                f"separation={config.separation} in the training configuration, but "
                f"{type(model).__name__} has no weight-separation penalty; only the LCEI-CNN "
                "networks (zoo names '*_lceicnn_*') take one. Set separation to 0.")
        total = total + config.separation * penalty()
    return total


def _steps_per_epoch(n_images: int, batch_size: int) -> int:
    return max(1, n_images // batch_size)


def _adversarial_batch(
    model: nn.Module,
    images: torch.Tensor,
    targets: torch.Tensor,
    preprocessing: Preprocessing,
    config: TrainConfig,
    generator: torch.Generator,
    layout: torch.memory_format,
) -> torch.Tensor:
    """The adversarial version of a training batch (model in train mode; see the module notes).

    The batch-norm running statistics (every buffer) are restored after the attack, so only the
    training step's own forward pass updates them.
    """
    saved = [buffer.clone() for buffer in model.buffers()]
    try:
        return adversarial.perturb(
            model, images, targets, config.epsilon, attack=config.attack,
            steps=config.attack_steps, step_size=config.attack_step_size,
            preprocessing=lambda pixels: _network_input(preprocessing, pixels, layout),
            seed=generator,
        )
    finally:
        with torch.no_grad():
            for buffer, value in zip(model.buffers(), saved):
                buffer.copy_(value)


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
    """One epoch of SGD; returns mean train loss, train accuracy (%) and the new step count.

    A pretrained (frozen) backbone stays in eval mode: its batch norm uses and keeps its
    running statistics.
    """
    model.train(config.pretrain == "none")
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
        if config.attack != "none":
            images = _adversarial_batch(model, images, targets, data.preprocessing, config,
                                        generator, memory_format)
        for group in optimizer.param_groups:
            group["lr"] = config.lr * lr_factor(step, total_steps, config.schedule, config.warmup)
        logits = model(_network_input(data.preprocessing, images, memory_format))
        loss = F.cross_entropy(logits, targets, label_smoothing=config.label_smoothing)
        loss = loss + extra_loss(model, config)
        value = loss.item()
        if not math.isfinite(value):
            raise InvalidInputError(
                f"training {label} diverged (loss {value} at epoch {epoch}); lower lr "
                f"(now {config.lr}) or use a model with batch normalisation"
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
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
    # the preprocessing turns RGB into luminance (the grayscale E/I networks) and grey into RGB
    convertible = {images.shape[1], entry.preprocessing.channels} == {1, 3}
    if images.shape[1] != entry.preprocessing.channels and not convertible:
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
    extra_loss(model, config)  # a penalty the model lacks fails here, before any epoch
    model = model.to(memory_format=_memory_format(model))
    pretraining = None
    if config.pretrain == "simsiam":
        pretraining = simsiam.pretrain(model, entry.readout, train_data.images, entry.preprocessing,
                                       config, directory, progress=progress, label=name)
    optimizer = _optimizer(_trainable(model, entry.readout, config), config)
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
    robust = _robust_evaluation(model, test_data, config, progress)
    _write_meta(directory, name, config, history, train_data.classes,
                {"robust": robust, "pretraining": pretraining})
    result = load_result(name, config)
    assert result is not None  # meta.json was just written
    result.cached = False
    return result


def _robust_evaluation(model: nn.Module, test: _Split, config: TrainConfig,
                       progress: bool) -> dict[str, Any] | None:
    """Clean and PGD-10 accuracy at the training epsilon on ``robust_n_test`` test images.

    ``None`` for runs without adversarial training. The images are a class-balanced subset
    (seed ``data_seed``) of the evaluated test images; the attack's random starts are seeded
    by ``seed``.
    """
    if config.attack == "none":
        return None
    from .data.dataset import balanced_indices

    count = test.images.shape[0]
    index = torch.arange(count)
    if config.robust_n_test is not None and config.robust_n_test < count:
        index = balanced_indices(test.targets, config.robust_n_test, config.data_seed)
    images, targets = test.images[index], test.targets[index]
    robust = adversarial.robust_accuracy(
        model, images, targets, config.epsilon, steps=ROBUST_EVAL_STEPS,
        preprocessing=test.preprocessing, seed=config.seed, progress=progress,
    )
    return {"attack": "pgd", "steps": ROBUST_EVAL_STEPS, "epsilon": config.epsilon,
            "n_images": int(index.numel()),
            "clean_acc": evaluate(model, images, targets, test.preprocessing),
            "robust_acc": robust}


def _row(epoch: int, loss: float, train_acc: float, test_acc: float, seconds: float) -> dict[str, float]:
    return {"epoch": epoch, "train_loss": loss, "train_acc": train_acc, "test_acc": test_acc,
            "seconds": seconds}


def _write_meta(
    directory: Path,
    name: str,
    config: TrainConfig,
    history: list[dict[str, float]],
    classes: list[str],
    records: Mapping[str, Any],
) -> None:
    """Write ``meta.json``; ``records`` (robust accuracy, pretraining) are added unless ``None``."""
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
        **{key: value for key, value in records.items() if value is not None},
    }
    atomic_write_text(directory / META, json.dumps(meta, indent=1, allow_nan=True))
