"""The model zoo: named classifiers with their preprocessing, readout layer and accuracy.

Three sources:

* ``"torchvision"`` — the paper's ImageNet classifiers (Table 3) with torchvision's
  ``DEFAULT`` weights (resnet50/101/152: ``IMAGENET1K_V2``, the paper's 80.86 / 81.89 / 82.28
  top-1). Weights come from the torch hub cache through :func:`signseg.hub.fetch_checkpoint`.
* ``"published"`` — ImageNet ResNet-50s of other training regimes, read from their authors'
  checkpoint files (:mod:`signseg.published`): the adversarially robust ``resnet50_linf0.5``,
  ``_linf1``, ``_linf2``, ``_linf4``, ``_linf8`` (Salman et al. 2020, L-inf epsilon in /255;
  :attr:`ZooEntry.regime` ``"adversarial"``, :attr:`ZooEntry.epsilon`) and ``resnet50_simsiam``
  (SimSiam backbone + linear probe, regime ``"simsiam"``).
* ``"project"`` — small networks of :mod:`signseg.architectures` trained by
  :mod:`signseg.train` on ``procedural``, ``cifar10``, ``mnist`` or ``tiny-imagenet``: names
  ``{prefix}_{arch}`` and ``{prefix}_{arch}_tanh`` (every ReLU replaced by Tanh), where the
  prefix is the data set's name without hyphens (``tinyimagenet_resnet8``). The ReLU
  ResNets also come in two training regimes (:attr:`ZooEntry.regime`), same architecture:
  ``{prefix}_{arch}_linf{eps}`` adversarially trained at L-inf radius ``eps / 255`` for ``eps``
  in :data:`ROBUST_EPSILONS` (``tinyimagenet_resnet8_linf4``, ``..._linf0.5``), and
  ``{prefix}_{arch}_simsiam``: a SimSiam-pretrained, frozen backbone with a linear readout
  trained on the labels (see :class:`signseg.runs.TrainConfig`). The networks with
  excitatory and inhibitory cells of :mod:`signseg.ei` (families ``"lateral"`` and
  ``"multicell"``) are project models too: ``mnist_lccnn_loop3``, ``cifar10_eirnn_standard_ei``
  ... (:data:`signseg.ei.registry.EI_ARCHS`), without ``_tanh`` or regime variants.

>>> from signseg import zoo
>>> zoo.names(source="project", dataset="mnist")[:2]
['mnist_alexnet', 'mnist_alexnet_tanh']
>>> zoo.info("resnet50").top1
80.858

:func:`load` returns a :class:`ZooModel`: the network in eval mode on the CPU plus what the
analyses need — the readout ``nn.Linear`` (:meth:`ZooModel.readout_layer`), the penultimate
representation (:meth:`ZooModel.features`, the readout's input), class names, accuracy and,
for project models, the per-epoch checkpoints and training history.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Mapping

import pandas as pd
import torch
from torch import nn

from . import architectures, published, runs
from .ei import registry as ei_registry
from .errors import InvalidInputError, UnknownNameError, WeightsNotFoundError
from .preprocessing import IMAGENET, Preprocessing
from .validation import as_unit_images


__all__ = [
    "ZooEntry",
    "ZooModel",
    "SOURCES",
    "DATASETS",
    "PROJECT_DATASETS",
    "DEFAULT_WIDTH",
    "ROBUST_EPSILONS",
    "REGIME_FAMILIES",
    "names",
    "robust_name",
    "info",
    "build",
    "project_width",
    "load",
    "dataset_classes",
]

SOURCES = ("torchvision", "published", "project")
PROJECT_DATASETS = ("procedural", "cifar10", "mnist", "tiny-imagenet")
DATASETS = ("imagenet", *PROJECT_DATASETS)

#: Default ``width`` (base channels) of the project networks per data set, used when no
#: training configuration sets one (defined with the training configuration, in :mod:`signseg.runs`).
DEFAULT_WIDTH = runs.DEFAULT_WIDTH

_CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)

#: Input specification of the project networks per data set. CIFAR-10 and MNIST use their
#: usual training-set channel statistics; the procedural set (**choice**) a fixed 0.5 / 0.25.
#: Tiny ImageNet (**choice**, for the 2-core budget): its 64 px images are downsampled to
#: 32 px (antialiased bilinear) and normalised with ImageNet's statistics, as torchvision's
#: ImageNet models are.
_PROJECT_PREPROCESSING: dict[str, Preprocessing] = {
    "cifar10": Preprocessing(
        size=32, mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616)
    ),
    "mnist": Preprocessing(size=28, mean=(0.1307,), std=(0.3081,), channels=1),
    "procedural": Preprocessing(size=32, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25)),
    "tiny-imagenet": Preprocessing(size=32, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)),
}

#: L-inf radii (units of 1/255) of the adversarially trained project models: the paper's
#: robust ResNet-50s (Salman et al. 2020). Their ``eps = 0`` member is the plain model.
ROBUST_EPSILONS = published.ROBUST_EPSILONS  # the published ResNet-50s' radii, (0.5, 1, 2, 4, 8)

#: Project families that come in the adversarial and SimSiam regimes (ReLU networks only).
REGIME_FAMILIES = ("resnet",)

#: Number of classes of each project data set (fixed by the data set, so that entries can be
#: listed without reading any data).
_PROJECT_NUM_CLASSES: dict[str, int] = {"cifar10": 10, "mnist": 10, "tiny-imagenet": 200}

#: torchvision architectures: (family, batch_norm, depth, readout module path).
_TORCHVISION: dict[str, tuple[str, bool, int, str]] = {
    "alexnet": ("alexnet", False, 8, "classifier.6"),
    **{
        f"vgg{depth}{suffix}": ("vgg", bool(suffix), depth, "classifier.6")
        for depth in (11, 13, 16, 19)
        for suffix in ("", "_bn")
    },
    **{f"resnet{depth}": ("resnet", True, depth, "fc") for depth in (18, 34, 50, 101, 152)},
    **{f"densenet{depth}": ("densenet", True, depth, "classifier") for depth in (121, 169, 201)},
    "inception_v3": ("inception", True, 48, "fc"),
}

#: Builder arguments torchvision uses with pretrained weights; the untrained version gets the
#: same so that both expect the same input (inception_v3 re-normalises its input itself).
_TORCHVISION_KWARGS: dict[str, dict[str, Any]] = {
    "inception_v3": {"transform_input": True, "aux_logits": True, "init_weights": True},
}


@dataclass(frozen=True)
class ZooEntry:
    """Static description of a zoo model (no weights are loaded to produce it).

    Attributes
    ----------
    name:
        Registry name, e.g. ``"vgg16_bn"`` or ``"cifar10_resnet8_tanh"``.
    source:
        ``"torchvision"``, ``"published"`` or ``"project"``.
    dataset:
        Training data: ``"imagenet"``, ``"cifar10"``, ``"mnist"`` or ``"procedural"``.
    family:
        ``"alexnet"``, ``"vgg"``, ``"resnet"``, ``"densenet"``, ``"inception"``, or the E/I
        families ``"lateral"`` and ``"multicell"`` (:mod:`signseg.ei.registry`).
    arch:
        Architecture name inside its source (torchvision builder or project architecture).
    activation:
        ``"relu"`` or ``"tanh"``.
    batch_norm:
        Whether the network uses batch normalisation.
    depth:
        Number of weighted layers on the main path (the number in the name; 48 for inception_v3).
    readout:
        Module path of the output ``nn.Linear`` (e.g. ``"fc"``, ``"classifier.6"``).
    preprocessing:
        How ``[0, 1]`` images are converted to network input.
    num_classes:
        Number of output units.
    weights:
        torchvision weights enum member (e.g. ``"IMAGENET1K_V2"``); published models: the
        checkpoint file name(s), comma-separated; ``None`` for project models.
    top1:
        Published ImageNet top-1 accuracy (%) of those weights; ``None`` for project models.
    regime:
        How the network was trained (:data:`signseg.runs.REGIMES`): ``"standard"``
        (supervised), ``"adversarial"`` (L-inf adversarial training at ``epsilon``) or
        ``"simsiam"`` (self-supervised backbone, frozen, with a linear readout).
    epsilon:
        L-inf radius of adversarial training in units of 1/255 (0 unless ``"adversarial"``).
    default_width:
        Project models: ``width`` when the training configuration sets none (``None``: the
        data set's :data:`DEFAULT_WIDTH`; the E/I networks: their papers' channel counts).
    """

    name: str
    source: str
    dataset: str
    family: str
    arch: str
    activation: str
    batch_norm: bool
    depth: int
    readout: str
    preprocessing: Preprocessing
    num_classes: int
    weights: str | None = None
    top1: float | None = None
    regime: str = "standard"
    epsilon: float = 0.0
    default_width: int | None = None


@dataclass
class ZooModel:
    """A loaded zoo model and what the analyses need from it.

    Attributes
    ----------
    name, entry:
        Registry name and its :class:`ZooEntry`.
    model:
        The network, in eval mode, on the CPU.
    pretrained:
        Whether trained weights were loaded (``False``: the seeded initialisation).
    accuracy:
        Top-1 accuracy in %: the published ImageNet value (torchvision, published models), or
        the measured test accuracy of a project model at the loaded epoch; ``None`` for untrained models.
    classes:
        Class name of every output unit.
    checkpoints:
        Project models: per-epoch checkpoint files (index 0 = initialisation); else empty.
    history:
        Project models: per-epoch ``epoch``, ``train_loss``, ``train_acc``, ``test_acc``,
        ``seconds``; else ``None``.
    robust_accuracy:
        Adversarially trained project models: top-1 (%) under PGD-10 at the training epsilon
        (:attr:`signseg.runs.TrainResult.robust`); else ``None``.
    """

    name: str
    entry: ZooEntry
    model: nn.Module
    pretrained: bool
    accuracy: float | None
    classes: list[str]
    checkpoints: list[Path] = field(default_factory=list)
    history: pd.DataFrame | None = None
    robust_accuracy: float | None = None

    def readout_layer(self) -> nn.Linear:
        """The output ``nn.Linear`` (pre-softmax logits)."""
        return self.model.get_submodule(self.entry.readout)  # type: ignore[return-value]

    def readout_weight(self) -> torch.Tensor:
        """``[classes, features]`` weight of the readout layer (detached, shares storage)."""
        return self.readout_layer().weight.detach()

    def features(
        self, images01: torch.Tensor, batch_size: int = 256, *, crop: bool = True
    ) -> torch.Tensor:
        """Penultimate representation ``[B, features]``: the input of the readout layer.

        Parameters
        ----------
        images01:
            Images in ``[0, 1]``, ``[B, C, H, W]`` (any size and 1 or 3 channels; converted by
            ``entry.preprocessing``). ``uint8`` images (0-255, as ``ImageDataset.images``)
            are divided by 255 first; other integer dtypes are refused.
        batch_size:
            Images per forward pass.
        crop:
            ``True`` for natural images (the network's evaluation transform: resize and
            centre crop); ``False`` for generated images, which are resized whole so that
            every pixel reaches the network (see :class:`~signseg.preprocessing.Preprocessing`).
        """
        return self._forward(images01, batch_size, crop)[0]

    def logits(
        self, images01: torch.Tensor, batch_size: int = 256, *, crop: bool = True
    ) -> torch.Tensor:
        """Pre-softmax outputs ``[B, classes]`` of images in ``[0, 1]`` (see :meth:`features`)."""
        return self._forward(images01, batch_size, crop)[1]

    def weighted_layers(self) -> list[tuple[str, nn.Module]]:
        """The ``Conv2d`` and ``Linear`` layers ``(name, module)`` in forward (execution) order.

        The order is traced with one eval-mode forward pass of a blank image. Layers that this
        pass never calls are left out: only inception_v3's auxiliary classifier
        (``AuxLogits``), which exists for training and does not shape the logits.
        """
        from .dale import weighted_layers

        layers = weighted_layers(self.model)
        order = _execution_order(self.model, [module for _, module in layers], self.entry)
        executed = [item for item in layers if id(item[1]) in order]
        return sorted(executed, key=lambda item: order[id(item[1])])

    linear_layers = weighted_layers

    def epoch_state_dicts(self) -> list[dict[str, torch.Tensor]]:
        """Model weights at every checkpoint (epoch 0 = initialisation); project models only."""
        if not self.checkpoints:
            raise InvalidInputError(
                f"{self.name} has no training checkpoints; only pretrained project models "
                "(source 'project') carry per-epoch checkpoints"
            )
        return [runs.checkpoint_state_dict(path) for path in self.checkpoints]

    def _forward(
        self, images01: torch.Tensor, batch_size: int, crop: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if batch_size < 1:
            raise InvalidInputError(f"batch_size must be >= 1, got {batch_size}")
        images01 = as_unit_images(images01)  # uint8 0-255 (ImageDataset.images) -> [0, 1]
        if images01.dim() == 3:
            images01 = images01.unsqueeze(0)
        captured: list[torch.Tensor] = []
        hook = self.readout_layer().register_forward_pre_hook(
            lambda module, inputs: captured.append(inputs[0].detach())
        )
        device = next(self.model.parameters()).device
        outputs: list[torch.Tensor] = []
        try:
            with torch.no_grad():
                for start in range(0, images01.shape[0], batch_size):
                    batch = self.entry.preprocessing(images01[start : start + batch_size], crop=crop)
                    outputs.append(self.model(batch.to(device)).cpu())
        finally:
            hook.remove()
        features = torch.cat([c.flatten(1).cpu() for c in captured]) if captured else torch.empty(0)
        logits = torch.cat(outputs) if outputs else torch.empty(0)
        return features, logits


def _execution_order(
    model: nn.Module, modules: list[nn.Module], entry: ZooEntry
) -> dict[int, int]:
    """``id(module) -> position`` of the first call of each module in one eval forward pass."""
    order: dict[int, int] = {}

    def record(module: nn.Module, inputs: Any) -> None:
        order.setdefault(id(module), len(order))

    hooks = [module.register_forward_pre_hook(record) for module in modules]
    spec = entry.preprocessing
    blank = torch.zeros(1, spec.channels, spec.size, spec.size)
    device = next(model.parameters()).device
    try:
        with torch.no_grad():
            model(blank.to(device))
    finally:
        for hook in hooks:
            hook.remove()
    return order


# --------------------------------------------------------------------------- registry


def name_prefix(dataset: str) -> str:
    """The prefix of a project data set's model names: its name without hyphens."""
    return dataset.replace("-", "")


def _regime_suffix(regime: str, epsilon: float) -> str:
    """``""``, ``"_linf4"`` / ``"_linf0.5"`` or ``"_simsiam"``."""
    if regime == "adversarial":
        return f"_linf{epsilon:g}"
    return "" if regime == "standard" else f"_{regime}"


def _variants(spec: architectures.ArchSpec) -> Iterator[tuple[str, str, float]]:
    """(activation, regime, epsilon) of every zoo model of one project architecture."""
    for activation in architectures.ACTIVATIONS:
        yield activation, "standard", 0.0
    if spec.family in REGIME_FAMILIES:
        for epsilon in ROBUST_EPSILONS:
            yield "relu", "adversarial", epsilon
        yield "relu", "simsiam", 0.0


def _project_entry(dataset: str, arch: str, suffix: str, preprocessing: Preprocessing,
                   **fields: Any) -> ZooEntry:
    """The zoo entry ``{prefix}_{arch}{suffix}`` of a project network trained on ``dataset``;
    ``fields`` are the remaining :class:`ZooEntry` attributes (family, activation, ...)."""
    return ZooEntry(name=f"{name_prefix(dataset)}_{arch}{suffix}", source="project",
                    dataset=dataset, arch=arch, readout=architectures.READOUT,
                    preprocessing=preprocessing, num_classes=_num_classes(dataset), **fields)


def _project_entries() -> Iterator[ZooEntry]:
    for dataset in PROJECT_DATASETS:
        for arch, spec in architectures.ARCHS.items():
            for activation, regime, epsilon in _variants(spec):
                suffix = ("" if activation == "relu" else f"_{activation}") + _regime_suffix(regime, epsilon)
                yield _project_entry(dataset, arch, suffix, _PROJECT_PREPROCESSING[dataset],
                                     family=spec.family, activation=activation,
                                     batch_norm=spec.batch_norm, depth=spec.depth, regime=regime,
                                     epsilon=epsilon)


def _ei_entries() -> Iterator[ZooEntry]:
    """The E/I networks (:data:`signseg.ei.registry.EI_ARCHS`) of every project data set."""
    for dataset in PROJECT_DATASETS:
        for arch, spec in ei_registry.EI_ARCHS.items():
            preprocessing = ei_registry.input_preprocessing(arch, dataset, _PROJECT_PREPROCESSING[dataset])
            yield _project_entry(dataset, arch, "", preprocessing, family=spec.family,
                                 activation=spec.activation, batch_norm=spec.batch_norm,
                                 depth=spec.depth, default_width=spec.default_width)


def _torchvision_entries() -> Iterator[ZooEntry]:
    from torchvision.models import get_model_weights

    for arch, (family, batch_norm, depth, readout) in _TORCHVISION.items():
        weights = get_model_weights(arch).DEFAULT
        transform = weights.transforms()
        yield ZooEntry(
            name=arch,
            source="torchvision",
            dataset="imagenet",
            family=family,
            arch=arch,
            activation="relu",
            batch_norm=batch_norm,
            depth=depth,
            readout=readout,
            preprocessing=Preprocessing(
                size=int(transform.crop_size[0]),
                mean=tuple(float(m) for m in transform.mean),
                std=tuple(float(s) for s in transform.std),
                resize_size=int(transform.resize_size[0]),
            ),
            num_classes=len(weights.meta["categories"]),
            weights=weights.name,
            top1=float(weights.meta["_metrics"]["ImageNet-1K"]["acc@1"]),
        )


def _published_entries() -> Iterator[ZooEntry]:
    for spec in published.PUBLISHED.values():
        yield ZooEntry(
            name=spec.name,
            source="published",
            dataset="imagenet",
            family="resnet",
            arch="resnet50",
            activation="relu",
            batch_norm=True,
            depth=50,
            readout="fc",
            preprocessing=IMAGENET,
            num_classes=1000,
            weights=",".join(filename for _, filename, _ in spec.files),
            top1=spec.top1,
            regime=spec.regime,
            epsilon=spec.epsilon,
        )


@lru_cache(maxsize=None)
def _registry() -> dict[str, ZooEntry]:
    entries = [*_torchvision_entries(), *_published_entries(), *_project_entries(), *_ei_entries()]
    return {entry.name: entry for entry in entries}


def _num_classes(dataset: str) -> int:
    if dataset == "procedural":
        from .data import procedural

        return len(procedural.CLASSES)
    return _PROJECT_NUM_CLASSES[dataset]


def dataset_classes(dataset: str) -> list[str]:
    """Class names of a project data set (``"procedural"``, ``"cifar10"``, ``"mnist"``,
    ``"tiny-imagenet"``).

    Tiny ImageNet's names are read from the data (its ``wnids.txt`` and ``words.txt``, through
    :func:`signseg.data.load`), so they need a local copy or the download.

    Raises
    ------
    UnknownNameError
        ``dataset`` is not a project data set.
    DataNotFoundError
        ``"tiny-imagenet"`` is neither available locally nor downloadable.
    """
    if dataset == "cifar10":
        return list(_CIFAR10_CLASSES)
    if dataset == "mnist":
        return [str(digit) for digit in range(10)]
    if dataset == "procedural":
        from .data import procedural

        return list(procedural.CLASSES)
    if dataset == "tiny-imagenet":
        from . import data

        return data.load("tiny-imagenet", "val", progress=False).classes
    raise UnknownNameError(
        f"unknown project data set {dataset!r}; expected one of {list(PROJECT_DATASETS)}"
    )


def _check_choice(kind: str, value: str | None, allowed: tuple[str, ...]) -> None:
    if value is not None and value not in allowed:
        raise UnknownNameError(f"unknown {kind} {value!r}; expected one of {list(allowed)} or None")


def names(source: str | None = None, dataset: str | None = None) -> list[str]:
    """Names of the zoo models, optionally only those of one ``source`` and/or ``dataset``.

    Parameters
    ----------
    source:
        ``"torchvision"``, ``"published"`` or ``"project"`` (``None``: all).
    dataset:
        ``"imagenet"``, ``"procedural"``, ``"cifar10"``, ``"mnist"`` or ``"tiny-imagenet"``
        (``None``: all).

    Returns
    -------
    list[str]
        Registry names: torchvision models first (Table 3 order), then the published models
        (robust ResNet-50s by epsilon, SimSiam), then project models by data set and
        architecture.
    """
    _check_choice("source", source, SOURCES)
    _check_choice("dataset", dataset, DATASETS)
    return [
        entry.name
        for entry in _registry().values()
        if (source is None or entry.source == source)
        and (dataset is None or entry.dataset == dataset)
    ]


def robust_name(name: str, epsilon: float) -> str:
    """The zoo name of the project model ``name`` adversarially trained at ``epsilon`` (1/255).

    ``epsilon = 0`` gives ``name`` itself, so a sweep is
    ``[robust_name("tinyimagenet_resnet8", e) for e in (0, *ROBUST_EPSILONS)]``.

    Raises
    ------
    UnknownNameError
        ``name`` is not a plain ReLU project model of a :data:`REGIME_FAMILIES` family, or
        ``epsilon`` is not 0 or one of :data:`ROBUST_EPSILONS`.
    """
    entry = info(name)
    if epsilon == 0 and entry.regime == "standard":
        return name
    robust = f"{name}{_regime_suffix('adversarial', float(epsilon))}"
    if entry.regime != "standard" or robust not in _registry():
        raise UnknownNameError(
            f"no adversarially trained variant of {name!r} at epsilon={epsilon}: robust variants "
            f"exist for the plain ReLU {'/'.join(REGIME_FAMILIES)} project models at epsilon "
            f"in {list(ROBUST_EPSILONS)} (units of 1/255), or 0 for the model itself"
        )
    return robust


def info(name: str) -> ZooEntry:
    """The :class:`ZooEntry` of ``name`` (no weights are loaded).

    Raises
    ------
    UnknownNameError
        ``name`` is not in the zoo; the message lists close matches.
    """
    registry = _registry()
    if name not in registry:
        close = difflib.get_close_matches(str(name), list(registry), n=5, cutoff=0.6)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise UnknownNameError(
            f"unknown zoo model {name!r}.{hint} signseg.zoo.names() lists all "
            f"{len(registry)} models."
        )
    return registry[name]


# --------------------------------------------------------------------------- building


def build(name: str, *, seed: int = 0, width: int | None = None) -> nn.Module:
    """The untrained (freshly initialised) network of ``name``, reproducible by ``seed``.

    The global torch random state is left as it was.

    Parameters
    ----------
    name:
        A zoo name.
    seed:
        Initialisation seed (``torch.manual_seed`` inside a forked random state).
    width:
        Project models only: base channel count (default :func:`project_width`: the data set's
        :data:`DEFAULT_WIDTH`, or the E/I network's own).

    Returns
    -------
    nn.Module
        The network in training mode on the CPU.
    """
    entry = info(name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if entry.source != "project":
            if width is not None:
                raise InvalidInputError(
                    f"width only applies to project models; {name} is a {entry.source} model"
                )
            from torchvision.models import get_model

            return get_model(entry.arch, weights=None, **_TORCHVISION_KWARGS.get(entry.arch, {}))
        width = project_width(entry) if width is None else width
        if entry.family in ei_registry.FAMILIES:
            return ei_registry.build(entry.arch, entry.num_classes, entry.preprocessing.channels,
                                     width, entry.preprocessing.size)
        return architectures.build(
            entry.arch,
            num_classes=entry.num_classes,
            in_channels=entry.preprocessing.channels,
            width=width,
            activation=entry.activation,
        )


def project_width(entry: ZooEntry) -> int:
    """``width`` of a project model when its training configuration sets none."""
    return entry.default_width if entry.default_width is not None else DEFAULT_WIDTH[entry.dataset]


def _pretrained_torchvision(entry: ZooEntry, *, download: bool, progress: bool) -> nn.Module:
    """Build ``entry`` with its torchvision weights, fetched through :mod:`signseg.hub`.

    The file is placed in (or found in) the torch hub cache first; torchvision's builder then
    reads it from there with its own key handling (e.g. densenet's old ``norm.1`` keys).
    """
    from torchvision.models import get_model, get_model_weights

    from .hub import fetch_checkpoint

    weights = get_model_weights(entry.arch)[entry.weights]
    path = fetch_checkpoint(
        weights.url, what=f"{entry.name} ImageNet weights", download=download, progress=progress
    )
    try:
        return get_model(entry.arch, weights=weights, progress=progress)
    except Exception as exc:  # unverified file (SIGNSEG_VERIFY_CHECKPOINTS=0): name it
        from .files import damaged

        raise damaged(path, f"cannot be loaded as the {entry.name} ImageNet weights "
                      f"({type(exc).__name__}: {str(exc)[:300]})",
                      f"Delete it and download it again from {weights.url}.") from exc


def load(
    name: str,
    pretrained: bool = True,
    *,
    seed: int = 0,
    epoch: int | None = None,
    train_config: "runs.TrainConfig | Mapping[str, Any] | None" = None,
    download: bool = True,
    progress: bool = True,
) -> ZooModel:
    """Load a zoo model, in eval mode on the CPU. Never trains: see :func:`signseg.train.load`.

    Parameters
    ----------
    name:
        A zoo name (see :func:`names`).
    pretrained:
        ``True``: trained weights (torchvision's, the published checkpoints of
        :mod:`signseg.published`, or the project's from :mod:`signseg.train`).
        ``False``: the initialisation made with ``torch.manual_seed(seed)``.
    seed:
        Initialisation seed; for project models also the training seed (it replaces
        ``train_config.seed``), so ``load(name, False, seed=s)`` equals epoch 0 of
        ``load(name, True, seed=s)`` (except for ``_simsiam`` models, whose epoch 0 is the
        pretrained backbone with the initial linear readout).
    epoch:
        Project models only: load the checkpoint after this epoch (0 = initialisation;
        default: the last). For ``_simsiam`` models the epochs are the linear probe's.
    train_config:
        Project models only: a :class:`signseg.train.TrainConfig` or a dictionary of its fields
        (a profile's ``train[dataset]`` section). Default: ``TrainConfig()``. The model
        name's regime is merged in (:func:`signseg.runs.resolve`).
    download:
        torchvision and published models: download missing weights into the torch hub cache.
    progress:
        Show download progress bars.

    Raises
    ------
    UnknownNameError
        ``name`` is not in the zoo.
    WeightsNotFoundError
        The weights are not cached and cannot be downloaded (torchvision, published), or the project
        model has not been trained with this configuration (the message says how to train it:
        :func:`signseg.train.load` trains and loads, showing progress).
    InvalidInputError
        ``epoch`` or ``train_config`` given for a torchvision or published model, or ``epoch``
        out of range.
    DamagedFileError
        A published checkpoint file cannot be read or is not in its published format (the
        message names the file and what to do).
    """
    entry = info(name)
    if entry.source != "project":
        return _load_imagenet(entry, pretrained, seed, epoch, train_config, download, progress)
    return _load_project(entry, pretrained, seed, epoch, train_config)


def _load_imagenet(
    entry: ZooEntry,
    pretrained: bool,
    seed: int,
    epoch: int | None,
    train_config: Any,
    download: bool,
    progress: bool,
) -> ZooModel:
    """A torchvision or published ImageNet model (weights through the torch hub cache)."""
    if epoch is not None or train_config is not None:
        raise InvalidInputError(
            f"{entry.name} is a {entry.source} model with fixed published weights; epoch and "
            "train_config only apply to project models (signseg.zoo.names(source='project'))"
        )
    from torchvision.models import get_model_weights

    if not pretrained:
        model = build(entry.name, seed=seed)
    elif entry.source == "torchvision":
        model = _pretrained_torchvision(entry, download=download, progress=progress)
    else:
        model = published.load_published(entry.name, download=download, progress=progress)
    # published models are ImageNet-1k classifiers in the standard (sorted WordNet id) order
    weights = entry.weights if entry.source == "torchvision" else "IMAGENET1K_V1"
    categories = get_model_weights(entry.arch)[weights].meta["categories"]
    return ZooModel(
        name=entry.name,
        entry=entry,
        model=model.eval(),
        pretrained=pretrained,
        accuracy=entry.top1 if pretrained else None,
        classes=list(categories),
    )


def _load_project(
    entry: ZooEntry,
    pretrained: bool,
    seed: int,
    epoch: int | None,
    train_config: "runs.TrainConfig | Mapping[str, Any] | None",
) -> ZooModel:
    config = runs.resolve(train_config, entry.dataset, seed=seed, regime=entry.regime,
                          epsilon=entry.epsilon, width=project_width(entry))
    if not pretrained:
        if epoch is not None:
            raise InvalidInputError("epoch only applies to pretrained=True (trained checkpoints)")
        model = build(entry.name, seed=seed, width=config.width)
        return ZooModel(entry.name, entry, model.eval(), False, None, dataset_classes(entry.dataset))

    result = runs.finished_run(entry.name, config)
    if result is None:
        raise WeightsNotFoundError(
            f"{entry.name} has not been trained with this configuration (cache folder "
            f"{str(runs.run_dir(entry.name, config))!r} holds no finished run). Train and load it "
            f"with signseg.train.load({entry.name!r}, config), which shows its progress "
            f"(signseg.train.train({entry.name!r}, config) only trains)."
        )
    last = len(result.checkpoints) - 1
    index = last if epoch is None else epoch
    if not 0 <= index <= last:
        raise InvalidInputError(
            f"epoch must be between 0 (initialisation) and {last} for {entry.name}; got {epoch}"
        )
    model = build(entry.name, seed=seed, width=config.width)
    model.load_state_dict(runs.checkpoint_state_dict(result.checkpoints[index]))
    return ZooModel(
        name=entry.name,
        entry=entry,
        model=model.eval(),
        pretrained=True,
        accuracy=float(result.history["test_acc"].iloc[index]),
        classes=list(result.classes),
        checkpoints=list(result.checkpoints),
        history=result.history,
        robust_accuracy=result.robust_acc,
    )
