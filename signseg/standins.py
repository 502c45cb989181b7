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

The ``paper`` profile also reads two published stimulus sets (:mod:`signseg.data.challenges`);
:func:`write_challenges` writes stand-ins of them where a download would have put them, in the
signseg data cache (``cache_dir("data")``), as the archives they are released as:

* Geirhos et al.'s cue-conflict stimuli: model-vs-human's ``cue-conflict.tar.gz`` holding
  ``cue-conflict/<shape category>/<shape><i>-<texture><j>.png`` (224 x 224 PNG), one folder
  per category of :data:`signseg.data.cueconflict.CATEGORIES` (:mod:`signseg.data.cueconflict`).
* Xiao et al.'s backgrounds challenge: ``backgrounds_challenge_data.tar.gz`` holding
  ``bg_challenge/<variant>/val/<NN_class>/<image>.JPEG`` (224 x 224 JPEG) for every variant,
  and the ImageNet -> IN-9 map ``in_to_in9.json`` (``{"0": label, ..., "999": label}``,
  labels in -1..8) beside it (:mod:`signseg.data.bgchallenge`).

Their images are flat grey (one value per image) so that a reader's output can be checked
pixel by pixel; :func:`cue_conflict_files` and :func:`bg_challenge_files` give the members,
:func:`write_tree` and :func:`write_archive` lay them out as a folder or as a ``.tar.gz``
(byte for byte the same for the same members, so the decoded-image cache keyed by the
archive's digest is reused across runs).

Files that exist are never replaced (:class:`~signseg.errors.InvalidInputError`), so real
weights or data in a cache cannot be overwritten by accident.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import tarfile
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

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
    "write_image_folder",
    "robust_checkpoint",
    "cue_conflict_stimuli",
    "cue_conflict_files",
    "bg_challenge_files",
    "in9_mapping",
    "write_tree",
    "write_archive",
    "write_cue_conflict",
    "write_bg_challenge",
    "required_challenges",
    "write_challenges",
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


def _nodes(value: Any, key: Any = None) -> Iterator[tuple[Any, Any]]:
    """``(key, value)`` of ``value`` and of everything nested in its mappings and lists.

    Depth first, in order; the key of a list item is its index, that of ``value`` ``key``.
    """
    yield key, value
    if isinstance(value, Mapping):
        items: Iterable[tuple[Any, Any]] = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        return
    for inner_key, item in items:
        yield from _nodes(item, inner_key)


def required_standins(parameters: Iterable[Mapping[str, Any]]) -> tuple[list[str], list[str]]:
    """The torchvision / published models and published generators named in ``parameters``.

    Every string value and mapping key of the (nested) notebook parameters is looked up
    (``robust: {resnet50_linf4: 4}`` names a model by its key): zoo names of
    torchvision and published models (``resnet50_linf4``, ``resnet50_simsiam``) and the names
    ``deepsim-fc6`` / ``biggan-deep-256`` are returned, in order of first appearance; anything
    else (project models, data descriptions) is ignored.
    """
    from . import zoo

    torchvision = set(zoo.names(source="torchvision")) | set(zoo.names(source="published"))
    published = {"deepsim-fc6", "biggan-deep-256"}
    models: list[str] = []
    generators: list[str] = []
    for key, value in _nodes(list(parameters)):
        for name in (key, value):  # values, and keys of mappings such as ``robust: {name: eps}``
            if not isinstance(name, str):
                continue
            if name in torchvision and name not in models:
                models.append(name)
            elif name in published and name not in generators:
                generators.append(name)
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


# --------------------------------------------------------------------------- stimulus sets


def _image_bytes(value: int, fmt: str, size: tuple[int, int] = (224, 224)) -> bytes:
    """A flat grey RGB image of ``size`` (height, width) encoded as ``fmt`` (``"PNG"``, ``"JPEG"``)."""
    import numpy as np
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.full((*size, 3), value, dtype=np.uint8)).save(buffer, format=fmt)
    return buffer.getvalue()


def cue_conflict_stimuli(per_category: int = 1) -> dict[str, int]:
    """File name -> grey value of a small cue-conflict set: every category as a shape.

    Shape category ``c`` gets ``per_category`` stimuli ``<c><k>-<next category><k + 1>.png``
    (``k`` from 1), whose texture is the next category in sorted order, and ``dog`` one more
    stimulus without conflict (``dog10-dog3.png``), as the published set has. Grey values
    are distinct while there are fewer than 256 stimuli.
    """
    from .data.cueconflict import CATEGORIES

    if per_category < 1:
        raise InvalidInputError(f"per_category must be at least 1; got {per_category}")
    names = [f"{shape}{k}-{CATEGORIES[(i + 1) % len(CATEGORIES)]}{k + 1}.png"
             for i, shape in enumerate(CATEGORIES) for k in range(1, per_category + 1)]
    names.append("dog10-dog3.png")  # shape == texture: left out of shape bias
    return {name: (10 + 10 * i) % 256 for i, name in enumerate(names)}


def cue_conflict_files(stimuli: Mapping[str, int]) -> dict[str, bytes]:
    """``"<shape category>/<file name>"`` -> PNG bytes of every stimulus (name -> grey value)."""
    from .data.cueconflict import parse_name

    return {f"{parse_name(name)[0]}/{name}": _image_bytes(value, "PNG")
            for name, value in stimuli.items()}


def bg_challenge_files(variants: Mapping[str, int], per_class: int = 2) -> dict[str, bytes]:
    """``"<variant>/val/<class folder>/<image>.JPEG"`` -> JPEG bytes of a small IN-9 set.

    Every variant gets ``per_class`` images in each of the 9 class folders; image ``k`` of
    class ``label`` is flat grey ``value + 2 * label`` (``value`` the variant's).
    """
    from .data.bgchallenge import CLASS_FOLDERS, VARIANTS

    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        raise InvalidInputError(f"unknown backgrounds-challenge variants {unknown}; expected some "
                                f"of {list(VARIANTS)}")
    return {f"{variant}/val/{folder}/n{label:08d}_{k}.JPEG": _image_bytes(value + 2 * label, "JPEG")
            for variant, value in variants.items() for label, folder in enumerate(CLASS_FOLDERS)
            for k in range(per_class)}


def in9_mapping(seed: int = 0) -> dict[str, int]:
    """A random ``in_to_in9.json``: every ImageNet index ``"0"`` ... ``"999"`` -> a label in -1..8.

    About half the classes map to none of the 9 (``-1``), as in the published file; which
    ones is drawn from ``seed``. Not the published map: a stand-in of its format.
    """
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(-9, 9, (1000,), generator=generator).clamp(min=-1)
    return {str(i): int(label) for i, label in enumerate(labels)}


def write_image_folder(folder: Path, classes: int = 3, per_class: int = 4, seed: int = 0,
                       size: tuple[int, int] = (48, 48)) -> Path:
    """A small ImageNet-layout folder: ``{train,val}/n<class:08d>/<k>.JPEG``, flat grey
    images (class ``c`` of value ``40 + 60 c``, jittered by ``seed``), for the paper
    profile's ResNet-18 pair (:mod:`signseg.folder_training`); returns ``folder``."""
    generator = torch.Generator().manual_seed(seed)
    files = {}
    for split in ("train", "val"):
        for label in range(classes):
            for k in range(per_class):
                value = (40 + 60 * label + int(torch.randint(0, 20, (1,), generator=generator))) % 256
                files[f"{split}/n{label:08d}/{k}.JPEG"] = _image_bytes(value, "JPEG", size)
    return write_tree(folder, files)


def write_tree(folder: Path, files: Mapping[str, bytes]) -> Path:
    """Write ``files`` (relative POSIX path -> bytes) below ``folder``; returns ``folder``."""
    for relative, content in files.items():
        _target(folder, relative).write_bytes(content)
    return Path(folder)


def write_archive(path: Path, files: Mapping[str, bytes], top: str) -> Path:
    """Write ``files`` as the ``.tar.gz`` ``path``, below the folder ``top``, reproducibly.

    Directory entries precede their files, as ``tar -czf`` writes them; every member has
    modification time 0, and the gzip header no time and no name, so equal ``files`` give
    equal bytes.
    """
    path = _target(Path(path).parent, Path(path).name)
    names = sorted(f"{top}/{relative}" for relative in files)
    folders = sorted({"/".join(name.split("/")[:depth]) for name in names
                      for depth in range(1, name.count("/") + 1)})
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as packed:
        with tarfile.open(fileobj=packed, mode="w", format=tarfile.GNU_FORMAT) as tar:
            for name in sorted(folders + names):
                info = tarfile.TarInfo(name)
                if name in folders:
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
                else:
                    content = files[name[len(top) + 1:]]
                    info.size, info.mode = len(content), 0o644
                    tar.addfile(info, io.BytesIO(content))
    path.write_bytes(buffer.getvalue())
    return path


def write_cue_conflict(folder: Path, per_category: int = 1) -> Path:
    """Geirhos et al.'s stimuli as model-vs-human releases them: ``folder/cue-conflict.tar.gz``."""
    from .data.cueconflict import ARCHIVE_NAME, NAME

    return write_archive(Path(folder) / ARCHIVE_NAME,
                         cue_conflict_files(cue_conflict_stimuli(per_category)), NAME)


def write_bg_challenge(folder: Path, per_class: int = 1, seed: int = 0) -> tuple[Path, Path]:
    """Xiao et al.'s challenge: ``backgrounds_challenge_data.tar.gz`` and ``in_to_in9.json``.

    The archive holds every variant, ``per_class`` images per class; the map is
    :func:`in9_mapping` of ``seed``.
    """
    from .data.bgchallenge import ARCHIVE_NAME, MAPPING_NAME, VARIANTS

    variants = {variant: 20 + 20 * i for i, variant in enumerate(VARIANTS)}
    archive = write_archive(Path(folder) / ARCHIVE_NAME, bg_challenge_files(variants, per_class),
                            "bg_challenge")
    mapping = _target(folder, MAPPING_NAME)
    mapping.write_text(json.dumps(in9_mapping(seed)), encoding="utf-8")
    return archive, mapping


def required_challenges(parameters: Iterable[Mapping[str, Any]]) -> list[str]:
    """The published stimulus sources (``"geirhos"``, ``"xiao"``) named in ``parameters``.

    Every ``source`` entry of the (nested) notebook parameters is looked up, in order of
    first appearance; the offline ``"tiny-imagenet"`` source needs no stand-in.
    """
    from .data.challenges import BACKGROUND_SOURCES, CUE_SOURCES

    published = (set(CUE_SOURCES) | set(BACKGROUND_SOURCES)) - {"tiny-imagenet"}
    sources: list[str] = []
    for key, value in _nodes(list(parameters)):
        if key == "source" and isinstance(value, str) and value in published and value not in sources:
            sources.append(value)
    return sources


def write_challenges(folder: Path, sources: Iterable[str], *, seed: int = 0) -> list[Path]:
    """Stand-ins of the published stimulus ``sources`` in the data cache ``folder``.

    Parameters
    ----------
    folder:
        The signseg data cache, ``cache_dir("data")`` of a temporary ``SIGNSEG_CACHE``: the
        files go where the readers keep a download (``<folder>/cue-conflict/``,
        ``<folder>/bg-challenge/``); none of them may exist yet.
    sources:
        ``"geirhos"`` and/or ``"xiao"`` (see :func:`required_challenges`).
    seed:
        Seed of the random ImageNet -> IN-9 map.

    Returns
    -------
    list of Path
        The files written.
    """
    from .data import bgchallenge, cueconflict

    paths: list[Path] = []
    for source in sources:
        if source == "geirhos":
            paths.append(write_cue_conflict(Path(folder) / cueconflict.NAME))
        elif source == "xiao":
            paths.extend(write_bg_challenge(Path(folder) / bgchallenge.NAME, seed=seed))
        else:
            raise InvalidInputError(f"no stand-in for the stimulus source {source!r}; expected "
                                    "'geirhos' or 'xiao'")
    return paths
