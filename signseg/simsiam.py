"""SimSiam self-supervised pretraining of a classifier's backbone (Chen & He 2020).

The backbone is the project network without its readout (the readout's input is the
penultimate representation). Two augmented views of each training image
(:func:`signseg.views.simsiam_view`; labels are never used) go through the backbone and a
projector MLP, ``z = g(f(x))``; a bottleneck predictor MLP maps ``p = h(z)``. The loss is the
symmetric negative cosine with a stop-gradient on the targets,

    ``L = D(p1, stopgrad(z2)) / 2 + D(p2, stopgrad(z1)) / 2``,  ``D(p, z) = -cos(p, z)``,

minimised by SGD (momentum 0.9, weight decay) at ``lr = pretrain_lr * batch / 256`` with a
cosine decay per step for the backbone and projector and a **constant** lr for the predictor
(the paper's ``--fix-pred-lr``). The projector is the paper's CIFAR one, two layers
(``Linear-BN-ReLU-Linear-BN``, the last BN without affine parameters); the predictor
``Linear-BN-ReLU-Linear`` with a ``dim // 4`` bottleneck.

**Collapse check.** After every epoch, the projector output of up to :data:`CHECK_IMAGES`
fixed, unaugmented training images is computed in eval mode and l2-normalised; the mean over
dimensions of its per-dimension standard deviation is about ``1 / sqrt(dim)`` for
well-spread outputs and 0 for a collapsed (constant) one (the paper's Fig. 2). Eval mode
matters: in train mode the projector's last batch norm rescales even a nearly constant output
to unit variance.

**Cache and resume.** :func:`pretrain` writes ``pretrain_001.pt`` ... into the run folder
(the SimSiam weights, optimizer state, step and history, one file per epoch, atomically) and
resumes from the last complete one, bit-identically (same machine and thread count). The
random stream of each epoch is seeded by ``(seed, epoch)``.
"""

from __future__ import annotations

import math
import time
import warnings
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .errors import InvalidInputError
from .loops import epoch_generator, lr_factor, memory_format, network_input, resume, save_checkpoint, to_unit
from .preprocessing import Preprocessing
from .progress import tqdm
from .runs import TrainConfig
from .views import simsiam_view

__all__ = [
    "CHECK_IMAGES",
    "COLLAPSE_RATIO",
    "SimSiam",
    "negative_cosine",
    "simsiam_loss",
    "collapse_std",
    "replace_module",
    "pretrain",
]

#: Unaugmented training images of the collapse check.
CHECK_IMAGES = 1024
#: A run counts as collapsed when the check's std is below this fraction of ``1 / sqrt(dim)``.
COLLAPSE_RATIO = 0.1
#: Offset of the pretraining epochs' random streams from the supervised epochs' ones.
_STREAM_OFFSET = 500_000
_PREFIX = "pretrain"


class SimSiam(nn.Module):
    """Backbone, projector and predictor of SimSiam.

    Parameters
    ----------
    backbone:
        Maps a preprocessed batch to features ``[B, feature_dim]`` (the classifier with its
        readout replaced by ``nn.Identity``).
    feature_dim:
        Width of the backbone's output.
    dim:
        Projector width (hidden and output); the predictor's bottleneck has ``dim // 4`` units.
    """

    def __init__(self, backbone: nn.Module, feature_dim: int, dim: int) -> None:
        super().__init__()
        if dim < 4:
            raise InvalidInputError(f"dim must be >= 4 (the predictor has dim // 4 units), got {dim}")
        self.backbone = backbone
        self.projector = nn.Sequential(
            nn.Linear(feature_dim, dim, bias=False), nn.BatchNorm1d(dim), nn.ReLU(inplace=True),
            nn.Linear(dim, dim, bias=False), nn.BatchNorm1d(dim, affine=False),
        )
        self.predictor = nn.Sequential(
            nn.Linear(dim, dim // 4, bias=False), nn.BatchNorm1d(dim // 4), nn.ReLU(inplace=True),
            nn.Linear(dim // 4, dim),
        )

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """Projector output ``z = g(f(x))`` ``[B, dim]``."""
        return self.projector(self.backbone(x).flatten(1))

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``(p1, p2, z1, z2)`` of two views; :func:`simsiam_loss` stops the gradient of ``z``."""
        z1, z2 = self.project(x1), self.project(x2)
        return self.predictor(z1), self.predictor(z2), z1, z2


def negative_cosine(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """``D(p, z)``: minus the mean cosine similarity of the rows, with no gradient through ``z``.

    -1 for identical directions, 0 for orthogonal ones.
    """
    return -(F.normalize(p, dim=1) * F.normalize(z.detach(), dim=1)).sum(dim=1).mean()


def simsiam_loss(p1: torch.Tensor, p2: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """The symmetric SimSiam loss ``D(p1, z2) / 2 + D(p2, z1) / 2`` (stop-gradient on ``z``)."""
    return 0.5 * negative_cosine(p1, z2) + 0.5 * negative_cosine(p2, z1)


def collapse_std(z: torch.Tensor) -> float:
    """Mean over dimensions of the std over samples of the l2-normalised rows of ``z``."""
    return float(F.normalize(z, dim=1).std(dim=0).mean())


def replace_module(model: nn.Module, path: str, module: nn.Module) -> nn.Module:
    """Put ``module`` at the dotted ``path`` of ``model``; return the module that was there."""
    parent_path, _, child = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    old = parent.get_submodule(child)
    setattr(parent, child, module)
    return old


def _optimizer(simsiam: SimSiam, config: TrainConfig, base_lr: float) -> torch.optim.SGD:
    """SGD with the predictor in its own group of constant lr (``fix_lr``)."""
    scheduled = [*simsiam.backbone.parameters(), *simsiam.projector.parameters()]
    return torch.optim.SGD(
        [{"params": scheduled, "fix_lr": False},
         {"params": list(simsiam.predictor.parameters()), "fix_lr": True}],
        lr=base_lr, momentum=0.9, weight_decay=config.pretrain_weight_decay,
    )


def _check(simsiam: SimSiam, images: torch.Tensor, preprocessing: Preprocessing,
           layout: torch.memory_format) -> float:
    """:func:`collapse_std` of the eval-mode projector output of ``images``."""
    was_training = simsiam.training
    simsiam.eval()
    with torch.no_grad():
        batch = network_input(preprocessing, to_unit(images), layout)
        value = collapse_std(simsiam.project(batch))
    simsiam.train(was_training)
    return value


def _epoch(simsiam: SimSiam, optimizer: torch.optim.SGD, images: torch.Tensor,
           preprocessing: Preprocessing, config: TrainConfig, epoch: int, step: int, total: int,
           base_lr: float, progress: bool, label: str) -> tuple[float, int]:
    """One pass of SimSiam over ``images``; returns the mean loss and the new step count."""
    simsiam.train()
    generator = epoch_generator(config.seed, _STREAM_OFFSET + epoch)
    order = torch.randperm(images.shape[0], generator=generator)
    batch_size = config.pretrain_batch_size
    layout = memory_format(simsiam)
    losses = []
    for index in tqdm(range(images.shape[0] // batch_size), desc=f"{label} SimSiam epoch {epoch}",
                      leave=False, disable=not progress):
        batch = to_unit(images[order[index * batch_size : (index + 1) * batch_size]])
        views = [network_input(preprocessing, simsiam_view(batch, preprocessing.size, generator), layout)
                 for _ in range(2)]
        factor = lr_factor(step, total, "cosine", 0.0)
        for group in optimizer.param_groups:
            group["lr"] = base_lr if group["fix_lr"] else base_lr * factor
        loss = simsiam_loss(*simsiam(*views))
        value = loss.item()
        if not math.isfinite(value):
            raise InvalidInputError(
                f"SimSiam pretraining of {label} diverged (loss {value} at epoch {epoch}); lower "
                f"pretrain_lr (now {config.pretrain_lr})")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        losses.append(value)
    return sum(losses) / len(losses), step


def pretrain(
    model: nn.Module,
    readout: str,
    images: torch.Tensor,
    preprocessing: Preprocessing,
    config: TrainConfig,
    directory: Path,
    *,
    progress: bool = True,
    label: str = "model",
) -> dict[str, Any]:
    """SimSiam-pretrain the backbone of ``model`` in place (resuming from ``directory``).

    Parameters
    ----------
    model:
        The classifier; every module but the one at ``readout`` is trained, the readout is
        left untouched (and restored in place afterwards).
    readout:
        Module path of the readout ``nn.Linear`` (e.g. ``"classifier.readout"``).
    images:
        Training images ``[N, C, H, W]`` (``uint8`` or ``[0, 1]``); no labels.
    preprocessing:
        The model's input specification (views are made at ``preprocessing.size``).
    config:
        ``pretrain_epochs``, ``pretrain_lr``, ``pretrain_batch_size``,
        ``pretrain_weight_decay``, ``projector_dim`` and ``seed`` are used.
    directory:
        The run folder for the ``pretrain_*.pt`` checkpoints.
    progress, label:
        tqdm bars and their label.

    Returns
    -------
    dict
        ``method``, ``history`` (per epoch: ``epoch``, ``loss``, ``z_std``, ``seconds``),
        ``z_std`` (final), ``z_std_reference`` (``1 / sqrt(projector_dim)``), ``collapsed``
        (``z_std < COLLAPSE_RATIO * z_std_reference``) and ``seconds``.
    """
    if images.shape[0] < config.pretrain_batch_size:
        raise InvalidInputError(
            f"SimSiam needs at least pretrain_batch_size={config.pretrain_batch_size} training "
            f"images, got {images.shape[0]}; lower pretrain_batch_size")
    head = replace_module(model, readout, nn.Identity())
    try:
        with torch.random.fork_rng(devices=[]):  # projector and predictor seeded, global state kept
            torch.manual_seed(config.seed)
            simsiam = SimSiam(model, head.in_features, config.projector_dim)
        history = _run(simsiam, images, preprocessing, config, directory, progress, label)
    finally:
        replace_module(model, readout, head)
    reference = 1.0 / math.sqrt(config.projector_dim)
    final = history[-1]["z_std"]
    if final < COLLAPSE_RATIO * reference:
        warnings.warn(f"SimSiam pretraining of {label} collapsed: the std of the normalised projector "
                      f"output is {final:.4f}, against {reference:.4f} for spread outputs", stacklevel=2)
    return {"method": "simsiam", "history": history, "z_std": final, "z_std_reference": reference,
            "collapsed": final < COLLAPSE_RATIO * reference,
            "seconds": sum(row["seconds"] for row in history)}


def _run(simsiam: SimSiam, images: torch.Tensor, preprocessing: Preprocessing, config: TrainConfig,
         directory: Path, progress: bool, label: str) -> list[dict[str, float]]:
    """The epochs of :func:`pretrain` not yet in ``directory``; returns the whole history."""
    simsiam.to(memory_format=memory_format(simsiam.backbone))
    base_lr = config.pretrain_lr * config.pretrain_batch_size / 256
    optimizer = _optimizer(simsiam, config, base_lr)
    start, step, history = resume(directory, simsiam, optimizer, prefix=_PREFIX)
    total = config.pretrain_epochs * (images.shape[0] // config.pretrain_batch_size)
    check = images[: min(CHECK_IMAGES, images.shape[0])]
    layout = memory_format(simsiam)
    first = 1 if start is None else start + 1
    epochs = tqdm(range(first, config.pretrain_epochs + 1), desc=f"{label} SimSiam",
                  disable=not progress, initial=first - 1, total=config.pretrain_epochs)
    for epoch in epochs:
        began = time.perf_counter()
        loss, step = _epoch(simsiam, optimizer, images, preprocessing, config, epoch, step, total,
                            base_lr, progress, label)
        seconds = time.perf_counter() - began
        history.append({"epoch": epoch, "loss": loss,
                        "z_std": _check(simsiam, check, preprocessing, layout), "seconds": seconds})
        save_checkpoint(directory, epoch, simsiam, optimizer, step, history, prefix=_PREFIX)
        epochs.set_postfix(loss=f"{loss:.3f}", z_std=f"{history[-1]['z_std']:.3f}")
    return history
