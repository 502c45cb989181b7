"""Stand-in checkpoints: seeded random weights under the published file names and formats.

Nothing computed from a stand-in is a result. The ``paper`` profile loads published weights
-- torchvision's ImageNet classifiers, the DeePSiM fc6 and BigGAN-deep-256 generators, the
LPIPS AlexNet trunk and the YOLO detector -- that a machine without network access does not
have, so its notebooks could never run here. :func:`write_standins` writes random weights
under exactly the names the code looks up in ``<torch hub dir>/checkpoints`` and in the
formats it reads there, so that the whole code path of a GPU runner with network access
runs end to end (``tests/test_paper_profile.py``): file names, key layouts, the loaders'
remapping, shapes, and everything downstream.

Formats written (each as the published file is read by signseg or by the library it uses):

* torchvision classifiers: ``torch.save(state_dict)`` under the basename of the weights'
  ``url`` (e.g. ``resnet50-11ad3fa6.pth``); DenseNets with the old ``norm.1``-style keys
  and no ``num_batches_tracked`` entries, as published, which torchvision renames on loading.
* DeePSiM fc6: the port's ``nn.Sequential`` state dict as ``upconvGAN_fc6.pt``
  (:mod:`signseg.generators.deepsim`).
* BigGAN-deep-256: the package's published configuration ``biggan-deep-256-config.json``
  (:data:`BIGGAN_DEEP_256_CONFIG`, 55.9 M parameters) and state dict
  ``biggan-deep-256-pytorch_model.bin`` in torch's legacy (non-zip) format, as published
  in 2019 (:mod:`signseg.generators.biggan`). Spectral-norm vectors are power-iterated so
  that the random generator's images are finite.
* LPIPS trunk: the torchvision AlexNet file (``alexnet-owt-7be5be79.pth``).
* YOLO: an Ultralytics checkpoint of the untrained architecture from the package's own
  model description (e.g. ``yolo11n.yaml``), saved by Ultralytics as ``yolo11n.pt``.
* Robust ResNet-50s (Salman et al. 2020): the robustness library's checkpoint
  (``resnet50_linf_eps4.0.ckpt``, ...): ``{"model", "optimizer", "schedule", "epoch"}`` with
  ``model`` holding ``module.normalizer.*``, ``module.model.*``, ``module.attacker.normalize.*``
  and ``module.attacker.model.*`` (the same tensors), as :mod:`signseg.published` describes.
* SimSiam ResNet-50: the pre-training checkpoint (``state_dict`` of the whole SimSiam network:
  ``module.encoder.*`` with the 3-layer projector as ``module.encoder.fc``, ``module.predictor.*``)
  and the linear classifier (``state_dict`` of the ResNet-50 with the frozen backbone and a
  trained 1000-way ``fc``, ``best_acc1``), under the names :mod:`signseg.published` caches them as.

Files that exist are never replaced (:class:`~signseg.errors.InvalidInputError`), so real
weights in a hub cache cannot be overwritten by accident.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

import torch
import torch.nn.functional as F

from .errors import InvalidInputError

__all__ = [
    "BIGGAN_DEEP_256_CONFIG",
    "required_standins",
    "write_standins",
    "write_torchvision",
    "write_deepsim",
    "write_biggan",
    "write_detector",
    "write_robust",
    "write_simsiam",
    "write_published",
    "robust_checkpoint",
]

#: ``biggan-deep-256-config.json`` as published with ``pytorch-pretrained-biggan``.
BIGGAN_DEEP_256_CONFIG: dict[str, Any] = {
    "output_dim": 256,
    "z_dim": 128,
    "class_embed_dim": 128,
    "channel_width": 128,
    "num_classes": 1000,
    "layers": [
        [False, 16, 16], [True, 16, 16], [False, 16, 16], [True, 16, 8],
        [False, 8, 8], [True, 8, 8], [False, 8, 8], [True, 8, 4],
        [False, 4, 4], [True, 4, 2], [False, 2, 2], [True, 2, 1],
    ],
    "attention_layer_position": 8,
    "eps": 1e-4,
    "n_stats": 51,
}  # fmt: skip

_DENSENET_OLD_KEYS = re.compile(r"(denselayer\d+\.(?:norm|relu|conv))([12])\.")


def _target(folder: Path, name: str) -> Path:
    path = Path(folder) / name
    if path.exists():
        raise InvalidInputError(
            f"{str(path)!r} exists; stand-in checkpoints are only written into a folder "
            "without them (use an empty temporary TORCH_HOME), never over real weights"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _url_name(url: str) -> str:
    from .hub import checkpoint_path

    return checkpoint_path(url).name


def write_torchvision(folder: Path, name: str, seed: int = 0) -> Path:
    """Random weights of the zoo's torchvision model ``name`` under its published file name."""
    from torchvision.models import get_model_weights

    from . import zoo

    entry = zoo.info(name)
    if entry.source != "torchvision":
        raise InvalidInputError(f"{name} is a {entry.source} model; only torchvision models "
                                "have published checkpoints to stand in for")
    url = get_model_weights(entry.arch)[entry.weights].url
    state = zoo.build(name, seed=seed).state_dict()
    if entry.family == "densenet":  # published before torchvision's key names (and before
        # batch norm counted its batches): old ``norm.1`` keys, no ``num_batches_tracked``
        state = {_DENSENET_OLD_KEYS.sub(r"\1.\2.", key): value for key, value in state.items()
                 if not key.endswith("num_batches_tracked")}
    path = _target(folder, _url_name(url))
    torch.save(state, path)
    return path


def write_deepsim(folder: Path, seed: int = 0) -> Path:
    """Random DeePSiM fc6 weights as ``upconvGAN_fc6.pt``."""
    from .generators.deepsim import WEIGHTS_FILENAME, DeePSiMFc6

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        state = DeePSiMFc6().net.state_dict()
    path = _target(folder, WEIGHTS_FILENAME)
    torch.save(state, path)
    return path


def _converge_spectral_norms(model: torch.nn.Module, iterations: int = 30) -> None:
    """Power-iterate every spectral-norm ``weight_u`` / ``weight_v`` pair of ``model``.

    A trained checkpoint stores converged vectors; freshly initialised ones can give a
    near-zero norm estimate and a generator whose activations overflow.
    """
    with torch.no_grad():
        for module in model.modules():
            if not all(hasattr(module, key) for key in ("weight_orig", "weight_u", "weight_v")):
                continue
            matrix = module.weight_orig.reshape(module.weight_u.shape[0], -1)
            u = module.weight_u
            for _ in range(iterations):
                v = F.normalize(matrix.T @ u, dim=0)
                u = F.normalize(matrix @ v, dim=0)
            module.weight_u.copy_(u)
            module.weight_v.copy_(v)


def write_biggan(folder: Path, seed: int = 0) -> tuple[Path, Path]:
    """Random BigGAN-deep-256: the published configuration JSON and a state dict."""
    from .generators.biggan import CONFIG_URL, WEIGHTS_URL, build_biggan

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_biggan(BIGGAN_DEEP_256_CONFIG)
    _converge_spectral_norms(model)
    config = _target(folder, _url_name(CONFIG_URL))
    weights = _target(folder, _url_name(WEIGHTS_URL))
    config.write_text(json.dumps(BIGGAN_DEEP_256_CONFIG, indent=2), encoding="utf-8")
    torch.save(model.state_dict(), weights, _use_new_zipfile_serialization=False)
    return config, weights


def write_detector(folder: Path, name: str = "yolo11n.pt") -> Path:
    """An untrained Ultralytics detector checkpoint (``yolo11n.pt``, ...), built offline."""
    from .metrics.objectness import detector_url
    from .optional import import_optional

    detector_url(name)  # only the supported detectors
    ultralytics = import_optional("ultralytics", "the YOLO stand-in", "ultralytics")
    path = _target(folder, name)
    ultralytics.YOLO(Path(name).with_suffix(".yaml").name).save(str(path))
    return path


def _sgd_state(parameter_count: int, lr: float) -> dict[str, Any]:
    """An SGD state dict as ``optimizer.state_dict()`` saves it before any momentum exists."""
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(parameter_count)]
    return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=1e-4).state_dict()


def robust_checkpoint(state: Mapping[str, torch.Tensor], epoch: int = 90) -> dict[str, Any]:
    """A torchvision ResNet-50 ``state`` in the robustness library's checkpoint format.

    The keys follow ``DataParallel(AttackerModel)``: the input normaliser (ImageNet's mean
    and std as ``[3, 1, 1]`` buffers), the classifier, the attacker's normaliser and the
    attacker's reference to the same classifier (the same tensors, stored once by torch).
    """
    from .preprocessing import IMAGENET

    mean = torch.tensor(IMAGENET.mean)[:, None, None]
    std = torch.tensor(IMAGENET.std)[:, None, None]
    model: dict[str, torch.Tensor] = {"module.normalizer.new_mean": mean,
                                      "module.normalizer.new_std": std}
    model.update({f"module.model.{key}": value for key, value in state.items()})
    model.update({"module.attacker.normalize.new_mean": mean,
                  "module.attacker.normalize.new_std": std})
    model.update({f"module.attacker.model.{key}": value for key, value in state.items()})
    parameters = sum(1 for value in state.values() if value.is_floating_point()
                     and value.dim() > 0)
    schedule = {"step_size": 30, "gamma": 0.1, "base_lrs": [0.1], "last_epoch": epoch - 1,
                "_step_count": epoch, "_last_lr": [0.1 * 0.1 ** ((epoch - 1) // 30)]}
    return {"model": model, "optimizer": _sgd_state(parameters, 0.1), "schedule": schedule,
            "epoch": epoch}


def write_robust(folder: Path, name: str, seed: int = 0) -> Path:
    """Random weights of the robust ResNet-50 ``name`` (``resnet50_linf4``) as published."""
    from . import published, zoo

    spec = published.PUBLISHED.get(name)
    if spec is None or spec.regime != "adversarial":
        raise InvalidInputError(f"{name!r} is not a robust published model; expected one of "
                                f"{[n for n, s in published.PUBLISHED.items() if s.regime == 'adversarial']}")
    network = zoo.build(name, seed=seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        _randomize_batch_norm(network)
    path = _target(folder, spec.files[0][1])
    torch.save(robust_checkpoint(network.state_dict()), path)
    return path


def _simsiam_network(dim: int = 2048, pred_dim: int = 512) -> torch.nn.Module:
    """SimSiam's network (``simsiam/builder.py``): ResNet-50 encoder with projector, predictor."""
    from torch import nn
    from torchvision.models import resnet50

    encoder = resnet50(num_classes=dim, zero_init_residual=True)
    width = encoder.fc.weight.shape[1]
    encoder.fc = nn.Sequential(
        nn.Linear(width, width, bias=False), nn.BatchNorm1d(width), nn.ReLU(inplace=True),
        nn.Linear(width, width, bias=False), nn.BatchNorm1d(width), nn.ReLU(inplace=True),
        encoder.fc, nn.BatchNorm1d(dim, affine=False),
    )
    predictor = nn.Sequential(nn.Linear(dim, pred_dim, bias=False), nn.BatchNorm1d(pred_dim),
                              nn.ReLU(inplace=True), nn.Linear(pred_dim, dim))
    return nn.ModuleDict({"encoder": encoder, "predictor": predictor})


def _randomize_batch_norm(module: torch.nn.Module) -> None:
    """Give every batch norm random statistics and affine parameters (as after training).

    A fresh network has running means 0, variances 1 and (SimSiam's ``zero_init_residual``)
    zero last-BN scales; a loader that dropped them would go unnoticed with those values.
    """
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, torch.nn.modules.batchnorm._BatchNorm):
                layer.running_mean.normal_(0.0, 0.1)
                layer.running_var.uniform_(0.5, 1.5)
                if layer.affine:
                    layer.weight.uniform_(0.5, 1.5)
                    layer.bias.normal_(0.0, 0.1)


def write_simsiam(folder: Path, seed: int = 0) -> tuple[Path, Path]:
    """Random SimSiam ResNet-50: the pre-training checkpoint and the linear classifier."""
    from .published import SIMSIAM_LINEAR_FILENAME, SIMSIAM_PRETRAIN_FILENAME

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        network = _simsiam_network()
        _randomize_batch_norm(network)
        fc_weight = 0.01 * torch.randn(1000, 2048)
        fc_bias = 0.01 * torch.randn(1000)
    state = {f"module.{key}": value for key, value in network.state_dict().items()}
    backbone = {key[len("module.encoder."):]: value for key, value in state.items()
                if key.startswith("module.encoder.") and not key.startswith("module.encoder.fc.")}
    probe = {f"module.{key}": value for key, value in backbone.items()}
    probe.update({"module.fc.weight": fc_weight, "module.fc.bias": fc_bias})
    pretrain = _target(folder, SIMSIAM_PRETRAIN_FILENAME)
    linear = _target(folder, SIMSIAM_LINEAR_FILENAME)
    torch.save({"epoch": 100, "arch": "resnet50", "state_dict": state,
                "optimizer": _sgd_state(len(list(network.parameters())), 0.1)}, pretrain)
    torch.save({"epoch": 90, "arch": "resnet50", "state_dict": probe,
                "best_acc1": torch.tensor(68.1), "optimizer": _sgd_state(2, 0.02)}, linear)
    return pretrain, linear


def write_published(folder: Path, name: str, seed: int = 0) -> list[Path]:
    """Stand-ins of every checkpoint file the published zoo model ``name`` is read from."""
    from . import published

    if name not in published.PUBLISHED:
        raise InvalidInputError(f"{name!r} is not a published model; expected one of "
                                f"{list(published.PUBLISHED)}")
    if published.PUBLISHED[name].regime == "adversarial":
        return [write_robust(folder, name, seed)]
    return list(write_simsiam(folder, seed))


def required_standins(parameters: Iterable[Mapping[str, Any]]) -> tuple[list[str], list[str]]:
    """The torchvision / published models and published generators named in ``parameters``.

    Every string value of the (nested) notebook parameters is looked up: zoo names of
    torchvision and published models (``resnet50_linf4``, ``resnet50_simsiam``) and the names
    ``deepsim-fc6`` / ``biggan-deep-256`` are returned, in order of first appearance; anything
    else (project models, data descriptions) is ignored.
    """
    from . import zoo

    torchvision = set(zoo.names(source="torchvision")) | set(zoo.names(source="published"))
    published = {"deepsim-fc6", "biggan-deep-256"}
    models: list[str] = []
    generators: list[str] = []

    def visit(value: Any) -> None:
        if isinstance(value, Mapping):
            for item in value.values():
                visit(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                visit(item)
        elif isinstance(value, str):
            if value in torchvision and value not in models:
                models.append(value)
            elif value in published and value not in generators:
                generators.append(value)

    for params in parameters:
        visit(params)
    return models, generators


def write_standins(
    folder: Path,
    models: Iterable[str] = (),
    generators: Iterable[str] = (),
    *,
    lpips: bool = True,
    detector: bool = True,
    seed: int = 0,
) -> list[Path]:
    """Write stand-ins for ``models`` and ``generators`` (and the LPIPS trunk, the detector).

    Parameters
    ----------
    folder:
        The hub checkpoint folder, ``<TORCH_HOME>/hub/checkpoints`` of a temporary
        ``TORCH_HOME``; none of the files may exist yet.
    models:
        torchvision and published zoo names (see :func:`required_standins`).
    generators:
        ``"deepsim-fc6"`` and/or ``"biggan-deep-256"``.
    lpips:
        Also write the LPIPS AlexNet trunk (torchvision's AlexNet file).
    detector:
        Also write the default YOLO detector (needs ``ultralytics``).
    seed:
        Initialisation seed of every network.

    Returns
    -------
    list of Path
        The files written.
    """
    writers = {"deepsim-fc6": write_deepsim, "biggan-deep-256": write_biggan}
    models = list(models)
    if lpips and "alexnet" not in models:
        models.append("alexnet")
    from . import zoo

    paths: list[Path] = []
    for name in models:
        if zoo.info(name).source == "published":
            paths.extend(write_published(folder, name, seed))
        else:
            paths.append(write_torchvision(folder, name, seed))
    for name in generators:
        if name not in writers:
            raise InvalidInputError(f"no stand-in for generator {name!r}; expected one of "
                                    f"{sorted(writers)}")
        written = writers[name](folder, seed)
        paths.extend(written if isinstance(written, tuple) else [written])
    if detector:
        from .metrics.objectness import DEFAULT_DETECTOR

        paths.append(write_detector(folder, DEFAULT_DETECTOR))
    return paths
