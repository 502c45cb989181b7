"""Training the learned image prior (:mod:`signseg.generators.learned`), cached and resumable.

The recipe follows DeePSiM (Dosovitskiy & Brox 2016, "Generating images with perceptual
similarity metrics based on deep networks"), which trained up-convolutional generators to
invert AlexNet's layers with an image loss, a feature loss in a comparator network and an
adversarial loss:

1. **Codes.** The encoder (a :class:`~signseg.zoo.ZooModel`, frozen, eval mode) maps every
   training image, at its own input resolution, to the output of the module ``layer``; the
   whitened principal components of these features (:func:`~signseg.generators.learned.
   fit_code_basis`, ``code_variance`` of the variance, at most ``max_code_dim`` components) are
   the codes. They are computed once and saved with the basis in ``stats.pt``.
2. **Losses.** For a batch of codes ``z`` and their images ``x`` (resized to ``output_size``,
   antialiased bilinear), with ``y = G(z)``:

   ``pixel_weight * mean((y - x)**2) + feature_weight * sum_l mean((f_l(y) - f_l(x))**2) /
   mean(f_l(x)**2)``

   where ``f_l`` are the encoder's outputs at ``feature_layers`` (default: the code layer)
   on the encoder's preprocessing of ``y`` and ``x``. Dividing by the target's mean square
   makes every feature term a relative error (1 for an all-zero prediction), so the weights
   do not depend on the layers' scales. No adversarial loss: on two CPU cores its
   discriminator would double the cost of every step for sharper details that the
   ``quick`` budget cannot pay for.
3. **Optimizer.** Adam (``lr``, betas 0.9 / 0.999), a linear warm-up then cosine decay per
   step (:func:`signseg.loops.lr_factor`); batches drawn by a random permutation per epoch,
   seeded by ``(seed, epoch)`` as in :mod:`signseg.train`.

**Cache and resume.** Everything lives in ``cache_dir("generators", f"learned-{hash}")``,
the hash covering the configuration, the encoder's weights (:func:`~signseg.cache.
tensors_digest`) and :data:`PRIOR_TRAINING_VERSION`. ``stats.pt`` (basis, codes) is written
first, then one checkpoint per epoch (``epoch_000.pt`` = the initialisation; decoder weights,
Adam state, step and history, via :mod:`signseg.loops`), then
``meta.json``, which marks a finished run. An interrupted run resumes from its last complete
epoch and ends with bit-identical weights (same machine and thread count).

**Measured** (the defaults: ``tinyimagenet_alexnet`` trained with ``TrainConfig()`` defaults,
6.96% top-1; 20,000 Tiny ImageNet images, 3 epochs; one thread on a 2-core machine shared
with other jobs): 486 s in all (93 s for the codes, 372 s for the epochs); 202-d codes (97%
of the variance of 1024 features); validation PSNR 11.7 dB at initialisation (the mean
image), 15.6 dB after training. The ``ci`` settings (``procedural_alexnet``, 2,000 procedural
images, ``width=32``, 2 epochs) train in 25 s.

**Validation.** After every epoch the decoder reconstructs ``n_val`` held-out images (the
data set's test split): pixel MSE, PSNR (dB, images in ``[0, 1]``) and the feature loss.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import pandas as pd
import torch
import torch.nn.functional as F

from . import train, zoo
from .cache import atomic_torch_save, atomic_write_text, cache_dir, config_hash, tensors_digest
from .errors import InvalidInputError, WeightsNotFoundError
from .generators.learned import (
    UPSAMPLING,
    CodeBasis,
    LearnedPrior,
    build_decoder,
    fit_code_basis,
)
from .layers import check_layer, layer_outputs
from .progress import tqdm
from .runs import SCHEDULES, checkpoint_path, checkpoint_state_dict, config_from_dict
from .loops import (
    epoch_generator as _epoch_generator,
    lr_factor,
    resume as _resume,
    save_checkpoint as _save_checkpoint,
    to_unit as _to_unit,
)

__all__ = [
    "PRIOR_TRAINING_VERSION",
    "PriorConfig",
    "PriorResult",
    "prior_dir",
    "load_prior_result",
    "train_prior",
    "load_prior",
    "resize_images",
    "encoder_codes",
]

#: Bump when the training procedure changes results; part of every cache key.
PRIOR_TRAINING_VERSION = 1

_STATS = "stats.pt"
_META = "meta.json"
_ENCODE_BATCH = 256


@dataclass(frozen=True)
class PriorConfig:
    """How the learned prior is trained. Defaults: the ``quick`` profile's prior.

    Attributes
    ----------
    encoder:
        Zoo name of the encoder (e.g. ``"tinyimagenet_alexnet"``), loaded with
        :func:`signseg.train.load` (trained first if it is not cached).
    encoder_config:
        The encoder's training configuration (a profile's ``train[dataset]`` section);
        ``None``: :class:`signseg.train.TrainConfig` defaults.
    encoder_seed:
        The encoder's seed.
    layer:
        Module path (in the encoder's network) whose output is the code source.
    feature_layers:
        Module paths of the feature loss; empty: ``(layer,)``. Default: the small AlexNet's
        first and second ReLU and its conv trunk's output (the code layer). The code layer
        alone lets the decoder satisfy the loss with saturated colour stripes; the early
        layers tie local colour and edges to the image (measured on Tiny ImageNet: validation
        PSNR 12.5 dB with the code layer alone, 13.6 dB with all three).
    dataset, data:
        Training images: :func:`signseg.data.load` name and extra options.
    n_train:
        Size of the class-balanced training subset (``None``: the whole split).
    n_val:
        Held-out images (test split) reconstructed after every epoch.
    output_size:
        Side of the generated images (4 times a power of two).
    width:
        Channels of the decoder's first 4 x 4 map (halved by every upsampling).
    upsample:
        ``"nearest"`` (upsampling then 3x3 convolution) or ``"deconv"`` (DeePSiM's transposed
        convolutions); see :data:`~signseg.generators.learned.UPSAMPLING`.
    code_variance, max_code_dim:
        How many principal components the codes keep (see
        :func:`~signseg.generators.learned.fit_code_basis`). With the default encoder 97% of
        the variance of its 1024 features takes about 200 components (90%: 44, 99%: 470);
        going from 90% to 97% raised the validation PSNR from 13.6 to 14.7 dB.
    epochs, batch_size, lr, schedule, warmup:
        Adam with a linear warm-up over ``warmup`` of the steps, then ``schedule``.
    pixel_weight, feature_weight:
        Weights of the two loss terms (module docstring); the pixel term's 4 balances the
        three relative feature errors (each about 0.3-0.6 after training) against the pixel
        MSE (about 0.04).
    seed:
        Decoder initialisation and batch order.
    data_seed:
        Seed of the training and validation subsets.
    """

    encoder: str = "tinyimagenet_alexnet"
    encoder_config: dict[str, Any] | None = field(default=None, hash=False)
    encoder_seed: int = 0
    layer: str = "features"
    feature_layers: tuple[str, ...] = ("features.1", "features.4", "features")
    dataset: str = "tiny-imagenet"
    data: dict[str, Any] = field(default_factory=dict, hash=False)
    n_train: int | None = 20000
    n_val: int = 256
    output_size: int = 32
    width: int = 64
    upsample: str = "nearest"
    code_variance: float = 0.97
    max_code_dim: int | None = 512
    epochs: int = 3
    batch_size: int = 64
    lr: float = 2e-3
    schedule: str = "cosine"
    warmup: float = 0.05
    pixel_weight: float = 4.0
    feature_weight: float = 1.0
    seed: int = 0
    data_seed: int = 0

    def __post_init__(self) -> None:
        problems = []
        for key in ("epochs", "batch_size", "width", "n_val"):
            if getattr(self, key) < 1:
                problems.append(f"{key} must be >= 1 (got {getattr(self, key)})")
        for key in ("n_train", "max_code_dim"):
            value = getattr(self, key)
            if value is not None and value < 2:
                problems.append(f"{key} must be >= 2 or None (got {value})")
        if not self.lr > 0:
            problems.append(f"lr must be > 0 (got {self.lr})")
        if self.schedule not in SCHEDULES:
            problems.append(f"schedule must be one of {SCHEDULES} (got {self.schedule!r})")
        if not 0 <= self.warmup < 1:
            problems.append(f"warmup must be a fraction in [0, 1) (got {self.warmup})")
        if not 0 < self.code_variance <= 1:
            problems.append(f"code_variance must be in (0, 1] (got {self.code_variance})")
        if self.pixel_weight < 0 or self.feature_weight < 0 or (
            self.pixel_weight == 0 and self.feature_weight == 0
        ):
            problems.append(
                "pixel_weight and feature_weight must be >= 0 and not both 0 (got "
                f"{self.pixel_weight}, {self.feature_weight})"
            )
        if self.upsample not in UPSAMPLING:
            problems.append(f"upsample must be one of {UPSAMPLING} (got {self.upsample!r})")
        if isinstance(self.feature_layers, str):
            problems.append(
                f"feature_layers must be a list of module paths, got the string "
                f"{self.feature_layers!r}; write [{self.feature_layers!r}]"
            )
        if problems:
            raise InvalidInputError("invalid PriorConfig: " + "; ".join(problems))
        object.__setattr__(self, "feature_layers", tuple(self.feature_layers))
        object.__setattr__(self, "data", dict(self.data))
        if self.encoder_config is not None:
            object.__setattr__(self, "encoder_config", dict(self.encoder_config))

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> "PriorConfig":
        """Build a configuration from a dictionary (unknown keys are rejected with a hint)."""
        return config_from_dict(cls, values)

    def to_dict(self) -> dict[str, Any]:
        """All fields as a JSON-ready dictionary (the inverse of :meth:`from_dict`)."""
        values = dataclasses.asdict(self)
        values["feature_layers"] = list(self.feature_layers)
        return values

    @property
    def loss_layers(self) -> tuple[str, ...]:
        """The feature loss's module paths (``feature_layers`` or the code layer)."""
        return self.feature_layers or (self.layer,)


@dataclass
class PriorResult:
    """A finished (or cached) training run of the learned prior.

    Attributes
    ----------
    config:
        The configuration.
    directory:
        Its cache folder.
    checkpoints:
        ``epoch_000.pt`` (initialisation) ... ``epoch_E.pt``.
    history:
        One row per epoch 0..E: ``epoch``, ``loss``, ``pixel_loss``, ``feature_loss`` (training
        means; NaN at epoch 0), ``val_pixel_mse``, ``val_psnr``, ``val_feature_loss``,
        ``seconds``.
    basis:
        The code basis.
    meta:
        Everything in ``meta.json``: code statistics (``code_dim``, ``explained``,
        ``code_rms``, ``code_std``, ``code_norm``, ``eigenvalues``), the encoder's name and
        weights digest, ``train_seconds`` (codes and epochs) and the provenance.
    cached:
        Whether the run was found finished in the cache.
    """

    config: PriorConfig
    directory: Path
    checkpoints: list[Path]
    history: pd.DataFrame
    basis: CodeBasis
    meta: dict[str, Any]
    cached: bool = False


# --------------------------------------------------------------------------- pieces


def resize_images(images01: torch.Tensor, size: int) -> torch.Tensor:
    """Images ``[n, C, H, W]`` in ``[0, 1]`` resized to ``size`` (antialiased bilinear), RGB.

    Grey images are repeated to three channels; images already ``size`` px are returned as
    float32 unchanged.
    """
    images = _to_unit(images01)
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    if images.shape[-2:] != (size, size):
        images = F.interpolate(images, size=(size, size), mode="bilinear", antialias=True,
                               align_corners=False).clamp_(0.0, 1.0)
    return images


def encoder_codes(
    encoder: zoo.ZooModel, images: torch.Tensor, layer: str, progress: bool = False
) -> torch.Tensor:
    """Flattened outputs ``[n, D]`` (float32, CPU) of ``layer`` for images (uint8 or [0, 1])."""
    network, spec = encoder.model, encoder.entry.preprocessing
    device = next(network.parameters()).device
    outputs = []
    with torch.no_grad():
        for start in tqdm(range(0, images.shape[0], _ENCODE_BATCH), desc="prior codes",
                          leave=False, disable=not progress):
            batch = spec(_to_unit(images[start : start + _ENCODE_BATCH])).to(device)
            (features,) = layer_outputs(network, batch, [layer])
            outputs.append(features.flatten(1).float().cpu())
    return torch.cat(outputs)


def _feature_loss(
    encoder: zoo.ZooModel, generated: torch.Tensor, target: torch.Tensor, layers: tuple[str, ...]
) -> torch.Tensor:
    """``sum_l mean((f_l(y) - f_l(x))**2) / mean(f_l(x)**2)`` (relative feature error)."""
    spec = encoder.entry.preprocessing
    with torch.no_grad():
        wanted = layer_outputs(encoder.model, spec(target), layers)
    got = layer_outputs(encoder.model, spec(generated), layers)
    total = generated.new_zeros(())
    for a, b in zip(got, wanted):
        total = total + F.mse_loss(a, b) / b.pow(2).mean().clamp(min=1e-12)
    return total


def _losses(
    decoder: torch.nn.Module,
    encoder: zoo.ZooModel,
    codes: torch.Tensor,
    targets: torch.Tensor,
    config: PriorConfig,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total, pixel, feature) loss of one batch."""
    generated = decoder(codes)
    pixel = F.mse_loss(generated, targets)
    feature = (
        _feature_loss(encoder, generated, targets, config.loss_layers)
        if config.feature_weight > 0 else pixel.new_zeros(())
    )
    return config.pixel_weight * pixel + config.feature_weight * feature, pixel, feature


def _validate(
    decoder: torch.nn.Module, encoder: zoo.ZooModel, data: "_Data", config: PriorConfig
) -> dict[str, float]:
    """Reconstruction quality on the held-out images."""
    decoder.eval()
    pixel_sum, feature_sum, n = 0.0, 0.0, 0
    with torch.no_grad():
        for start in range(0, data.val_codes.shape[0], _ENCODE_BATCH):
            codes = data.val_codes[start : start + _ENCODE_BATCH]
            targets = resize_images(data.val_images[start : start + _ENCODE_BATCH],
                                    config.output_size)
            _, pixel, feature = _losses(decoder, encoder, codes, targets, config)
            pixel_sum += float(pixel) * codes.shape[0]
            feature_sum += float(feature) * codes.shape[0]
            n += codes.shape[0]
    decoder.train()
    mse = pixel_sum / n
    return {"val_pixel_mse": mse, "val_psnr": 10 * math.log10(1.0 / max(mse, 1e-12)),
            "val_feature_loss": feature_sum / n}


@dataclass
class _Data:
    images: torch.Tensor
    codes: torch.Tensor
    val_images: torch.Tensor
    val_codes: torch.Tensor


# --------------------------------------------------------------------------- cache


def _load_encoder(config: PriorConfig, download: bool, progress: bool) -> zoo.ZooModel:
    return train.load(config.encoder, config.encoder_config, seed=config.encoder_seed,
                      download=download, progress=progress)


def _encoder_digest(encoder: zoo.ZooModel) -> str:
    return tensors_digest(encoder.model.state_dict())


def _as_config(config: PriorConfig | Mapping[str, Any] | None, **changes: Any) -> PriorConfig:
    if not isinstance(config, PriorConfig):
        config = PriorConfig.from_dict(config)
    changes = {key: value for key, value in changes.items() if value is not None}
    return dataclasses.replace(config, **changes) if changes else config


def prior_dir(config: PriorConfig, encoder: zoo.ZooModel) -> Path:
    """The cache folder of the prior trained with ``config`` on ``encoder`` (created)."""
    key = config_hash({
        "config": config.to_dict(),
        "encoder": encoder.name,
        "encoder_weights": _encoder_digest(encoder),
        "prior_training_version": PRIOR_TRAINING_VERSION,
    })
    return cache_dir("generators", f"learned-{key}")


def load_prior_result(config: PriorConfig, encoder: zoo.ZooModel) -> PriorResult | None:
    """The finished run of ``config`` on ``encoder`` from the cache, or ``None``."""
    directory = prior_dir(config, encoder)
    meta_path = directory / _META
    if not meta_path.is_file():
        return None
    checkpoints = [checkpoint_path(directory, epoch) for epoch in range(config.epochs + 1)]
    missing = [path.name for path in [*checkpoints, directory / _STATS] if not path.is_file()]
    if missing:
        raise InvalidInputError(
            f"the cached prior in {str(directory)!r} is damaged: {missing} are missing. Delete "
            "the folder to train it again."
        )
    meta = json.loads(meta_path.read_text("utf-8"))
    stats = torch.load(directory / _STATS, map_location="cpu", weights_only=True)
    return PriorResult(config, directory, checkpoints, pd.DataFrame(meta["history"]),
                       CodeBasis.from_state_dict(stats["basis"]), meta, cached=True)


def _code_statistics(config: PriorConfig, encoder: zoo.ZooModel, directory: Path,
                     download: bool, progress: bool) -> tuple[_Data, dict[str, Any]]:
    """Training/validation images and codes, and the basis; computed once, then read back."""
    from . import data

    options = {"download": download, "seed": config.data_seed, **config.data}
    train_set = data.load(config.dataset, "train", limit=config.n_train, **options)
    val_set = data.load(config.dataset, "test", limit=config.n_val, **options)
    path = directory / _STATS
    if path.is_file():
        stats = torch.load(path, map_location="cpu", weights_only=True)
    else:
        began = time.perf_counter()
        features = encoder_codes(encoder, train_set.images, config.layer, progress)
        basis = fit_code_basis(features, config.code_variance, config.max_code_dim)
        stats = {
            "basis": basis.state_dict(),
            "codes": basis.to_codes(features),
            "val_codes": basis.to_codes(encoder_codes(encoder, val_set.images, config.layer)),
            "feature_dim": int(basis.mean.numel()),
            "seconds": time.perf_counter() - began,
        }
        atomic_torch_save(stats, path)
    prepared = _Data(train_set.images, stats["codes"], val_set.images, stats["val_codes"])
    return prepared, stats



# --------------------------------------------------------------------------- training


def _train_epoch(
    decoder: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    encoder: zoo.ZooModel,
    data: _Data,
    config: PriorConfig,
    epoch: int,
    step: int,
    total_steps: int,
    progress: bool,
) -> tuple[dict[str, float], int]:
    """One pass over the training codes; returns mean losses and the new step count."""
    decoder.train()
    order = torch.randperm(data.codes.shape[0], generator=_epoch_generator(config.seed, epoch))
    n_steps = max(1, order.numel() // config.batch_size)
    sums = {"loss": 0.0, "pixel_loss": 0.0, "feature_loss": 0.0}
    for batch in tqdm(range(n_steps), desc=f"prior epoch {epoch}", leave=False,
                      disable=not progress):
        index = order[batch * config.batch_size : (batch + 1) * config.batch_size]
        targets = resize_images(data.images[index], config.output_size)
        for group in optimizer.param_groups:
            group["lr"] = config.lr * lr_factor(step, total_steps, config.schedule, config.warmup)
        loss, pixel, feature = _losses(decoder, encoder, data.codes[index], targets, config)
        if not math.isfinite(loss.item()):
            raise InvalidInputError(
                f"training the learned prior diverged (loss {loss.item()} at epoch {epoch}); "
                f"lower lr (now {config.lr})"
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        for key, value in zip(sums, (loss.detach(), pixel.detach(), feature.detach())):
            sums[key] += value.item()
    return {key: value / n_steps for key, value in sums.items()}, step


def train_prior(
    config: PriorConfig | Mapping[str, Any] | None = None,
    *,
    encoder: zoo.ZooModel | None = None,
    download: bool = True,
    progress: bool = True,
    callback: Callable[[int, dict[str, float]], None] | None = None,
) -> PriorResult:
    """Train the learned prior with ``config`` (or reuse the finished cached run).

    Parameters
    ----------
    config:
        A :class:`PriorConfig` or a dictionary of its fields (``None``: defaults).
    encoder:
        Any :class:`~signseg.zoo.ZooModel` to invert instead of ``config.encoder`` (its
        weights, not its name, key the cache).
    download:
        Let the encoder's and the data set's loaders download what is missing.
    progress:
        tqdm bars over the code pass, the epochs and the batches.
    callback:
        ``callback(epoch, history_row)`` after every epoch's checkpoint is written; an
        exception it raises interrupts training, which a later call resumes.

    Returns
    -------
    PriorResult
    """
    config = _as_config(config)
    if encoder is None:
        encoder = _load_encoder(config, download, progress)
    network = encoder.model.eval().requires_grad_(False)
    for path in {config.layer, *config.loss_layers}:
        check_layer(network, path, owner=f"encoder {encoder.name}")
    finished = load_prior_result(config, encoder)
    if finished is not None:
        return finished
    directory = prior_dir(config, encoder)
    data, stats = _code_statistics(config, encoder, directory, download, progress)
    basis = CodeBasis.from_state_dict(stats["basis"])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        decoder = build_decoder(basis.code_dim, config.output_size, config.width, config.upsample)
    optimizer = torch.optim.Adam(decoder.parameters(), lr=config.lr)
    start, step, history = _resume(directory, decoder, optimizer)
    if start is None:
        history = [_row(0, dict.fromkeys(("loss", "pixel_loss", "feature_loss"), math.nan),
                        _validate(decoder, encoder, data, config), 0.0)]
        _save_checkpoint(directory, 0, decoder, optimizer, 0, history)
        start = 0
    total_steps = config.epochs * max(1, data.codes.shape[0] // config.batch_size)
    epochs = tqdm(range(start + 1, config.epochs + 1), desc="learned prior", initial=start,
                  total=config.epochs, disable=not progress)
    for epoch in epochs:
        began = time.perf_counter()
        losses, step = _train_epoch(decoder, optimizer, encoder, data, config, epoch, step,
                                    total_steps, progress)
        seconds = time.perf_counter() - began
        history.append(_row(epoch, losses, _validate(decoder, encoder, data, config), seconds))
        _save_checkpoint(directory, epoch, decoder, optimizer, step, history)
        epochs.set_postfix(loss=f"{losses['loss']:.3f}", psnr=f"{history[-1]['val_psnr']:.1f}")
        if callback is not None:
            callback(epoch, dict(history[-1]))
    _write_meta(directory, config, encoder, basis, data.codes, stats, history)
    result = load_prior_result(config, encoder)
    assert result is not None  # meta.json was just written
    result.cached = False
    return result


def _row(epoch: int, losses: Mapping[str, float], validation: Mapping[str, float],
         seconds: float) -> dict[str, float]:
    return {"epoch": epoch, **losses, **validation, "seconds": seconds}


def _write_meta(directory: Path, config: PriorConfig, encoder: zoo.ZooModel, basis: CodeBasis,
                codes: torch.Tensor, stats: Mapping[str, Any],
                history: list[dict[str, float]]) -> None:
    codes = codes.double()
    meta = {
        "config": config.to_dict(),
        "encoder": encoder.name,
        "encoder_weights": _encoder_digest(encoder),
        "prior_training_version": PRIOR_TRAINING_VERSION,
        "torch_version": torch.__version__,
        "n_train": int(codes.shape[0]),
        "feature_dim": int(basis.mean.numel()),
        "code_dim": basis.code_dim,
        "explained": basis.explained,
        "code_rms": float(codes.pow(2).mean().sqrt()),
        "code_std": codes.std(0, unbiased=False).tolist(),
        "code_norm": float(codes.norm(dim=1).mean()),
        "eigenvalues": basis.eigenvalues.tolist(),
        "code_seconds": float(stats["seconds"]),
        "train_seconds": float(stats["seconds"]) + sum(row["seconds"] for row in history),
        "history": history,
    }
    atomic_write_text(directory / _META, json.dumps(meta, indent=1, allow_nan=True))


def load_prior(
    config: PriorConfig | Mapping[str, Any] | None = None,
    *,
    encoder: str | zoo.ZooModel | None = None,
    layer: str | None = None,
    epoch: int | None = None,
    train_if_missing: bool = True,
    download: bool = True,
    progress: bool = True,
) -> LearnedPrior:
    """The learned prior of ``config``: frozen, in eval mode, with its encoder.

    Parameters
    ----------
    config:
        A :class:`PriorConfig` or a dictionary of its fields (``None``: defaults).
    encoder:
        A zoo name replacing ``config.encoder``, or any :class:`~signseg.zoo.ZooModel`.
    layer:
        Replaces ``config.layer``.
    epoch:
        Load the decoder after this epoch (0 = initialisation; default: the last).
    train_if_missing:
        Train now when the prior is not cached (else raise).
    download, progress:
        As for :func:`train_prior`.

    Raises
    ------
    WeightsNotFoundError
        Not cached and ``train_if_missing=False``.
    InvalidInputError
        ``epoch`` out of range, or an invalid configuration.
    """
    model = encoder if isinstance(encoder, zoo.ZooModel) else None
    config = _as_config(config, encoder=None if model is not None else encoder, layer=layer)
    if model is None:
        model = _load_encoder(config, download, progress)
    result = load_prior_result(config, model)
    if result is None:
        if not train_if_missing:
            raise WeightsNotFoundError(
                f"the learned prior has not been trained with this configuration on "
                f"{model.name} (cache folder {str(prior_dir(config, model))!r} holds no "
                "finished run). Train it with signseg.prior_training.train_prior(config) or "
                "pass train_if_missing=True."
            )
        result = train_prior(config, encoder=model, download=download, progress=progress)
    last = len(result.checkpoints) - 1
    index = last if epoch is None else epoch
    if not 0 <= index <= last:
        raise InvalidInputError(f"epoch must be between 0 and {last}; got {epoch}")
    provenance = {"encoder": model.name, "layer": config.layer, "dataset": config.dataset,
                  "n_train": result.meta["n_train"]}
    prior = LearnedPrior(result.basis, config.output_size, config.width, config.upsample,
                         provenance, model,
                         default_sigma=result.meta["code_rms"])
    prior.decoder.load_state_dict(checkpoint_state_dict(result.checkpoints[index]))
    return prior.eval().requires_grad_(False)
