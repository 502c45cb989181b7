"""Training runs on disk: how a project model is trained (:class:`TrainConfig`) and where a
finished run lives in the cache.

This is what :mod:`signseg.zoo` needs to *load* trained weights and what :mod:`signseg.train`
needs to *produce* them, kept apart from both so that neither imports the other's
machinery: ``runs`` <- ``zoo`` <- ``train``.

* :func:`resolve` fills in a configuration's data-set dependent defaults;
* :func:`run_dir` is the cache folder of a (name, resolved configuration), keyed by a hash
  of both and of :data:`TRAINING_VERSION` / :data:`signseg.architectures.ARCHITECTURE_VERSION`;
* :func:`finished_run` is the finished run in that folder, or ``None``: damaged files are
  named, removed and left for training to redo (see :mod:`signseg.train`).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
import torch

from .adversarial import ATTACKS as _ATTACKS, check_epsilon
from .architectures import ARCHITECTURE_VERSION
from .cache import cache_dir, config_hash
from .errors import DamagedFileError, InvalidInputError
from .files import load_json, load_torch, warn_recomputing

__all__ = [
    "TRAINING_VERSION",
    "OPTIMIZERS",
    "SCHEDULES",
    "AUGMENTATIONS",
    "DEFAULT_AUGMENT",
    "DEFAULT_WIDTH",
    "META",
    "REGIMES",
    "TRAIN_ATTACKS",
    "PRETRAININGS",
    "ROBUST_EVAL_STEPS",
    "TrainConfig",
    "TrainResult",
    "config_from_dict",
    "resolve",
    "run_dir",
    "checkpoint_path",
    "read_checkpoint",
    "checkpoint_state_dict",
    "finished_run",
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
#: Default ``width`` (base channels) of the project networks per data set, used when no
#: training configuration sets one.
DEFAULT_WIDTH: dict[str, int] = {"procedural": 8, "cifar10": 16, "mnist": 8, "tiny-imagenet": 16}

#: The file that marks a finished run (history, accuracy, configuration).
META = "meta.json"

#: Training regimes a project zoo name can carry (:attr:`signseg.zoo.ZooEntry.regime`):
#: supervised training, adversarial training (``_linf<eps>`` names) and SimSiam pretraining
#: with a linear probe (``_simsiam`` names).
REGIMES = ("standard", "adversarial", "simsiam")

#: Adversarial training attacks: none, FGSM with a random start (Wong et al. 2020), PGD.
TRAIN_ATTACKS = ("none", *_ATTACKS)

#: Self-supervised pretraining methods.
PRETRAININGS = ("none", "simsiam")

#: Steps of the PGD attack that measures the robust test accuracy of adversarially trained runs.
ROBUST_EVAL_STEPS = 10

#: Default PGD steps of adversarial training (Madry et al. 2018 used 7 on CIFAR-10).
_DEFAULT_PGD_STEPS = 7


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

    Adversarial training (set by the ``_linf<eps>`` zoo names through :func:`resolve`; only
    ``attack``, ``attack_steps``, ``attack_step_size`` and ``robust_n_test`` are meant to be
    chosen in a configuration):

    attack:
        ``"none"``, ``"fgsm_rs"`` (FGSM with a random start, step ``1.25 epsilon``; Wong, Rice
        & Kolter 2020) or ``"pgd"`` (Madry et al. 2018, random start, step
        ``2.5 epsilon / attack_steps``). A ``_linf`` name with ``"none"`` trains with
        ``"fgsm_rs"``.
    epsilon:
        L-inf radius of the training attack **in units of 1/255** (0: no adversarial training).
    attack_steps:
        PGD steps (``None``: 7; FGSM-RS: 1).
    attack_step_size:
        Step in units of 1/255 (``None``: the attack's default).
    robust_n_test:
        Test images (a class-balanced subset of the evaluated test images, ``data_seed``) on
        which the robust accuracy under PGD-10 at ``epsilon`` is measured after training
        (``None``: all of them).

    SimSiam pretraining (set by the ``_simsiam`` zoo names; ``epochs``, ``lr`` ... then
    configure the linear probe):

    pretrain:
        ``"none"`` or ``"simsiam"`` (Chen & He 2020) of the backbone, then a linear readout
        on the frozen backbone.
    pretrain_epochs:
        Passes of SimSiam over the training images (labels unused).
    pretrain_lr:
        Base learning rate per 256 images: ``pretrain_lr * pretrain_batch_size / 256``, cosine
        decay to 0 per step; the predictor keeps it constant (the paper's fixed predictor lr).
    pretrain_batch_size:
        Images per SimSiam step (two views each).
    pretrain_weight_decay:
        SGD weight decay of the pretraining (momentum 0.9).
    projector_dim:
        Output (and hidden) width of the projector MLP; the predictor's bottleneck has
        ``projector_dim // 4`` units.

    Extra loss terms (the E/I networks of :mod:`signseg.ei`; added to the cross-entropy of
    every training step):

    l1:
        Coefficient of the L1 norm of every weight tensor (``lambda_1``, 1e-3 in the lateral
        paper; :func:`signseg.ei.penalties.weight_l1`).
    separation:
        Strength ``beta`` of the network's weight-separation penalty (models with a
        ``separation_penalty()`` method: LCEI-CNN, :mod:`signseg.ei.penalties`).
    grad_clip:
        Largest global L2 norm of the gradient per step (``torch.nn.utils.clip_grad_norm_``);
        0 turns it off. Backpropagation through many lateral loops (LC-CNN, 5 loops) can
        blow up without it.

    Fields of these three groups are left out of :meth:`to_dict` (and so of the cache key) at
    their defaults, so the configurations that do not use them keep their cache folders.
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
    attack: str = "none"
    epsilon: float = 0.0
    attack_steps: int | None = None
    attack_step_size: float | None = None
    robust_n_test: int | None = 1000
    pretrain: str = "none"
    pretrain_epochs: int = 10
    pretrain_lr: float = 0.05
    pretrain_batch_size: int = 256
    pretrain_weight_decay: float = 5e-4
    projector_dim: int = 512
    l1: float = 0.0
    separation: float = 0.0
    grad_clip: float = 0.0

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
        problems += self._regime_problems()
        if problems:
            raise InvalidInputError("invalid TrainConfig: " + "; ".join(problems))
        object.__setattr__(self, "data", dict(self.data))
        # 4 and 4.0 are one radius (and one cache key)
        object.__setattr__(self, "epsilon", float(self.epsilon))
        if self.attack_step_size is not None:
            object.__setattr__(self, "attack_step_size", float(self.attack_step_size))

    def _regime_problems(self) -> list[str]:
        """What is wrong with the adversarial and pretraining fields."""
        problems = []
        if self.attack not in TRAIN_ATTACKS:
            problems.append(f"attack must be one of {TRAIN_ATTACKS} (got {self.attack!r})")
        for key in ("epsilon", "attack_step_size"):
            value = getattr(self, key)
            try:
                if value is not None and check_epsilon(value, key) == 0 and key == "attack_step_size":
                    problems.append("attack_step_size must be > 0 (units of 1/255) or None")
            except InvalidInputError as error:
                problems.append(str(error))
        for key in ("attack_steps", "robust_n_test"):
            value = getattr(self, key)
            if value is not None and value < 1:
                problems.append(f"{key} must be >= 1 or None (got {value})")
        if self.attack == "fgsm_rs" and self.attack_steps not in (None, 1):
            problems.append(f"attack 'fgsm_rs' takes one step (got attack_steps={self.attack_steps})")
        if self.pretrain not in PRETRAININGS:
            problems.append(f"pretrain must be one of {PRETRAININGS} (got {self.pretrain!r})")
        if self.pretrain_epochs < 1:
            problems.append(f"pretrain_epochs must be >= 1 (got {self.pretrain_epochs})")
        if not (self.pretrain_lr > 0 and math.isfinite(self.pretrain_lr)):
            problems.append(f"pretrain_lr must be > 0 (got {self.pretrain_lr})")
        if self.pretrain_batch_size < 2:
            problems.append("pretrain_batch_size must be >= 2 for batch normalisation "
                            f"(got {self.pretrain_batch_size})")
        if self.pretrain_weight_decay < 0:
            problems.append(f"pretrain_weight_decay must be >= 0 (got {self.pretrain_weight_decay})")
        if self.projector_dim < 4:
            problems.append(f"projector_dim must be >= 4 (got {self.projector_dim})")
        for key in ("l1", "separation", "grad_clip"):
            value = getattr(self, key)
            if not (value >= 0 and math.isfinite(value)):
                problems.append(f"{key} must be a finite coefficient >= 0 (got {value})")
        return problems

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
        """The fields as a JSON-ready dictionary (the inverse of :meth:`from_dict`).

        The adversarial, pretraining and extra-loss fields are left out at their defaults, so
        that the cache keys of configurations without them are the ones they had before they
        existed.
        """
        values = dataclasses.asdict(self)
        return {key: value for key, value in values.items()
                if key not in _OPTIONAL_DEFAULTS or value != _OPTIONAL_DEFAULTS[key]}


#: The adversarial, pretraining and extra-loss fields of :class:`TrainConfig` and their defaults.
_ADVERSARIAL_FIELDS = ("attack", "epsilon", "attack_steps", "attack_step_size", "robust_n_test")
_PRETRAIN_FIELDS = ("pretrain", "pretrain_epochs", "pretrain_lr", "pretrain_batch_size",
                    "pretrain_weight_decay", "projector_dim")
_PENALTY_FIELDS = ("l1", "separation", "grad_clip")
_OPTIONAL_DEFAULTS: dict[str, Any] = {
    f.name: f.default for f in dataclasses.fields(TrainConfig)
    if f.name in _ADVERSARIAL_FIELDS + _PRETRAIN_FIELDS + _PENALTY_FIELDS
}


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
    robust:
        Adversarially trained runs: the robust test accuracy under PGD-``steps`` at the
        training epsilon, ``{"attack", "steps", "epsilon", "n_images", "clean_acc",
        "robust_acc"}`` (clean and robust top-1 in % on the same ``n_images`` test images;
        epsilon in 1/255); ``None`` otherwise.
    pretraining:
        SimSiam runs: ``{"method", "history", "z_std", "z_std_reference", "collapsed",
        "seconds"}`` -- one history row per pretraining epoch (``epoch``, ``loss``, ``z_std``,
        ``seconds``) and the collapse check of the final epoch (the per-dimension std of the
        l2-normalised projector output, about ``1 / sqrt(projector_dim)`` without collapse and
        0 with it); ``test_acc`` is then the linear probe's top-1. ``None`` otherwise.
    """

    name: str
    config: TrainConfig
    directory: Path
    checkpoints: list[Path]
    history: pd.DataFrame
    test_acc: float
    classes: list[str]
    cached: bool = False
    robust: dict[str, Any] | None = None
    pretraining: dict[str, Any] | None = None

    @property
    def robust_acc(self) -> float | None:
        """Top-1 (%) under PGD at the training epsilon; ``None`` unless adversarially trained."""
        return None if self.robust is None else float(self.robust["robust_acc"])


# --------------------------------------------------------------------------- runs on disk


def resolve(
    config: TrainConfig | Mapping[str, Any] | None,
    dataset: str,
    *,
    seed: int | None = None,
    regime: str = "standard",
    epsilon: float = 0.0,
    width: int | None = None,
) -> TrainConfig:
    """Fill in the data-set and regime dependent settings of ``config`` for a model of ``dataset``.

    Parameters
    ----------
    config:
        A :class:`TrainConfig`, a dictionary of its fields, or ``None`` (all defaults).
    dataset:
        The project data set (``"tiny-imagenet"``, ``"cifar10"``, ...).
    seed:
        If given, replaces ``config.seed``.
    regime, epsilon:
        The training regime of the model name (:data:`REGIMES`) and, for ``"adversarial"``,
        its L-inf radius in units of 1/255 (see :attr:`signseg.zoo.ZooEntry.regime`).
    width:
        The model's own default ``width`` (:func:`signseg.zoo.project_width`), used when
        ``config`` sets none; ``None``: :data:`DEFAULT_WIDTH` of ``dataset``.

    Returns
    -------
    TrainConfig
        With ``width`` and ``augment`` (:data:`DEFAULT_AUGMENT`) set,
        the regime merged in (``epsilon`` and ``attack``, default ``"fgsm_rs"``, for
        ``"adversarial"``; ``pretrain="simsiam"`` for ``"simsiam"``) and the settings that
        have no effect reset to their defaults: the attack's when ``epsilon`` is 0, the
        pretraining's without pretraining. So the ``epsilon = 0`` member of a sweep trained
        with one configuration is exactly the plain model's run.

    Raises
    ------
    InvalidInputError
        The configuration asks for another regime than the model name has (e.g. ``epsilon``
        for a plain name): the message names the zoo name to use.
    """
    if not isinstance(config, TrainConfig):
        config = TrainConfig.from_dict(config)
    changes: dict[str, Any] = _regime_changes(config, regime, epsilon)
    if config.width is None:
        changes["width"] = DEFAULT_WIDTH[dataset] if width is None else width
    if config.augment is None:
        changes["augment"] = DEFAULT_AUGMENT[dataset]
    if seed is not None:
        changes["seed"] = seed
    return dataclasses.replace(config, **changes)


def _regime_changes(config: TrainConfig, regime: str, epsilon: float) -> dict[str, Any]:
    """The fields :func:`resolve` sets for a model name's regime (see there)."""
    if regime not in REGIMES:
        raise InvalidInputError(f"regime must be one of {REGIMES}, got {regime!r}")
    wanted_epsilon = epsilon if regime == "adversarial" else 0.0
    if config.epsilon not in (0.0, wanted_epsilon):
        raise InvalidInputError(
            f"epsilon={config.epsilon} in the training configuration, but the model name fixes "
            f"epsilon={wanted_epsilon:g}: the robust models are the zoo names ending in "
            f"'_linf<epsilon>' (e.g. tinyimagenet_resnet8_linf{config.epsilon:g}); leave epsilon out"
        )
    if config.pretrain != "none" and regime != "simsiam":
        raise InvalidInputError(
            f"pretrain={config.pretrain!r} in the training configuration, but only the zoo names "
            "ending in '_simsiam' are pretrained (e.g. tinyimagenet_resnet8_simsiam); leave "
            "pretrain out"
        )
    changes: dict[str, Any] = {}
    if regime == "adversarial" and epsilon > 0:
        attack = "fgsm_rs" if config.attack == "none" else config.attack
        steps = config.attack_steps or (1 if attack == "fgsm_rs" else _DEFAULT_PGD_STEPS)
        if attack == "fgsm_rs" and steps != 1:
            raise InvalidInputError(f"attack 'fgsm_rs' takes one step (got attack_steps={steps})")
        changes.update(attack=attack, epsilon=float(epsilon), attack_steps=steps)
    else:
        changes.update({key: _OPTIONAL_DEFAULTS[key] for key in _ADVERSARIAL_FIELDS})
    if regime == "simsiam":
        changes["pretrain"] = "simsiam"
    else:
        changes.update({key: _OPTIONAL_DEFAULTS[key] for key in _PRETRAIN_FIELDS})
    return changes


def run_dir(name: str, config: TrainConfig) -> Path:
    """The cache folder of ``name`` trained with the resolved ``config`` (created if missing)."""
    key = config_hash(
        {
            "name": name,
            "config": config.to_dict(),
            "architecture_version": ARCHITECTURE_VERSION,
            "training_version": TRAINING_VERSION,
        }
    )
    return cache_dir("models", f"{name}-{key}")


def checkpoint_path(directory: Path, epoch: int, prefix: str = "epoch") -> Path:
    """The checkpoint file of ``epoch`` (0: the initialisation) in a run folder.

    ``prefix="pretrain"`` names the SimSiam pretraining checkpoints of the same folder.
    """
    return directory / f"{prefix}_{epoch:03d}.pt"


def _checkpoint_fix(path: str | Path) -> str:
    return (f"Delete it (or its folder {str(Path(path).parent)!r}); signseg trains the missing "
            "epochs again, from the last good checkpoint.")


def read_checkpoint(path: str | Path) -> dict[str, Any]:
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
    (directory / META).unlink(missing_ok=True)
    if first_bad is not None:
        for path in directory.glob("epoch_*.pt"):
            if int(path.stem.split("_")[1]) >= first_bad:
                path.unlink(missing_ok=True)


def finished_run(name: str, config: TrainConfig) -> TrainResult | None:
    """The finished run of ``name`` with the resolved ``config``, or ``None`` if there is none.

    A damaged ``meta.json`` or checkpoint (our own cache) is named in a warning and removed
    from that epoch on, and ``None`` is returned, so that training redoes exactly what was lost.
    """
    directory = run_dir(name, config)
    meta_path = directory / META
    if not meta_path.is_file():
        return None
    try:
        meta = load_json(meta_path, "a finished training run's record",
                         "Delete it; signseg rewrites it after checking the checkpoints.",
                         entries=("history", "test_acc", "classes"))
    except DamagedFileError as error:  # our own cache: finish the run again from its checkpoints
        _discard_damaged(directory, error, None)
        return None
    checkpoints = [checkpoint_path(directory, epoch) for epoch in range(config.epochs + 1)]
    missing = [path.name for path in checkpoints if not path.is_file()]
    if missing:
        raise InvalidInputError(
            f"the cached run in {str(directory)!r} is damaged: {missing} are missing. Delete "
            "the folder to train again."
        )
    for epoch, path in enumerate(checkpoints):
        try:
            read_checkpoint(path)
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
        robust=meta.get("robust"),
        pretraining=meta.get("pretraining"),
    )
