"""Pieces shared by the project's training loops (:mod:`signseg.train`, SimSiam pretraining in
:mod:`signseg.simsiam`, the learned prior in :mod:`signseg.prior_training`).

* :func:`lr_factor` -- the per-step learning-rate schedule;
* :func:`epoch_generator` -- the random stream of one epoch, seeded by ``(seed, epoch)`` so
  that a resumed run draws exactly what an uninterrupted one does;
* :func:`memory_format` / :func:`network_input` / :func:`to_unit` -- how a batch reaches a
  network;
* :func:`save_checkpoint` / :func:`resume` -- one checkpoint per epoch (weights, optimizer
  state, step count, history) and the restart from the last complete one.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from .cache import atomic_torch_save
from .errors import DamagedFileError, InvalidInputError
from .files import warn_recomputing
from .preprocessing import Preprocessing
from .runs import SCHEDULES, checkpoint_path, read_checkpoint

__all__ = [
    "lr_factor",
    "epoch_generator",
    "memory_format",
    "network_input",
    "to_unit",
    "save_checkpoint",
    "resume",
    "CHANNELS_LAST_MIN_CHANNELS",
]

#: Narrowest convolution (channels) that still gets the channels-last layout: oneDNN's
#: AVX2 1x1 weight-gradient kernel in torch 2.14 never returns for 2-channel convolutions
#: in channels-last layout, and the backward pass of the project ResNets with 3 to 7
#: channels crashes the process (segmentation fault or "double free"; ResNet-8/20, batch
#: 64 of 32 px; VGG and AlexNet are unaffected); such tiny layers gain nothing from it.
CHANNELS_LAST_MIN_CHANNELS = 8


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


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The random stream of one epoch (shuffling and augmentation), independent of the past."""
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """Float images in ``[0, 1]`` (``uint8`` 0-255 are divided by 255)."""
    return images.float().div_(255.0) if images.dtype == torch.uint8 else images.float()


def memory_format(model: nn.Module) -> torch.memory_format:
    """Channels-last (about 1.5x faster CPU convolutions) unless a convolution is too narrow."""
    convolutions = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    narrowest = min((c.out_channels for c in convolutions), default=0)
    if convolutions and narrowest >= CHANNELS_LAST_MIN_CHANNELS:
        return torch.channels_last
    return torch.contiguous_format


def network_input(preprocessing: Preprocessing, images01: torch.Tensor,
                  layout: torch.memory_format) -> torch.Tensor:
    """Preprocessed batch in the model's memory layout."""
    return preprocessing(images01).contiguous(memory_format=layout)


def save_checkpoint(
    directory: Path,
    epoch: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    step: int,
    history: list[dict[str, float]],
    prefix: str = "epoch",
) -> None:
    """Atomically write ``{prefix}_{epoch:03d}.pt``: weights, optimizer state, step, history."""
    atomic_torch_save(
        {
            "epoch": epoch,
            "step": step,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "history": history,
        },
        checkpoint_path(directory, epoch, prefix),
    )


def resume(
    directory: Path, model: nn.Module, optimizer: torch.optim.Optimizer, prefix: str = "epoch"
) -> tuple[int | None, int, list[dict[str, float]]]:
    """Restore the last complete ``{prefix}_*.pt`` checkpoint, if any: (epoch, step, history).

    A damaged last checkpoint (an interrupted write) is named in a warning, removed, and the
    one before is used. ``(None, 0, [])`` when there is none.
    """
    saved = sorted(directory.glob(f"{prefix}_*.pt"))
    while saved:
        try:
            state = read_checkpoint(saved[-1])
            break
        except DamagedFileError as error:  # an interrupted or damaged write: step back one epoch
            warn_recomputing(error, "resumes from the epoch before")
            saved.pop().unlink(missing_ok=True)
    if not saved:
        return None, 0, []
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    return int(state["epoch"]), int(state["step"]), list(state["history"])
