"""Small classifier families trained by the project, mirroring the paper's zoo.

Three families scaled down from the ImageNet originals so that they train on a laptop CPU:

* ``alexnet`` — five conv layers (channel ratios 1:3:6:4:4 like AlexNet's 64:192:384:256:256),
  max-pooling after conv 1, 2 and 5, then two hidden fully connected layers.
* ``vgg11``, ``vgg13``, ``vgg16`` (and ``_bn`` variants with batch normalisation after every
  conv) — VGG's configurations with channel ratios 1:2:4:8:8 and five max-pools, then two
  hidden fully connected layers.
* ``resnet8``, ``resnet14``, ``resnet20`` — the CIFAR ResNets of He et al. (2016, sec. 4.2):
  ``6n + 2`` layers in three stages of ``n`` basic blocks with ``width``, ``2 width`` and
  ``4 width`` channels.

Every network ends with global average pooling, optional hidden ``nn.Linear`` layers and
**one** ``nn.Linear`` readout named ``classifier.readout``; its input is the penultimate
representation. ``activation="tanh"`` replaces every ReLU by Tanh (paper 4.3). ``width``
is the number of channels of the first stage, so tiny networks for tests and the ``ci``
profile use the same code as the ``quick`` ones.

Max-pooling uses ``ceil_mode=True`` so that 28 px MNIST digits survive five poolings
(28 -> 14 -> 7 -> 4 -> 2 -> 1) as well as 32 px images do.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from .errors import InvalidInputError

__all__ = [
    "ARCHITECTURE_VERSION",
    "ARCHS",
    "ACTIVATIONS",
    "ArchSpec",
    "arch_spec",
    "build",
    "initialise",
    "activation_module",
    "SmallAlexNet",
    "SmallVGG",
    "CifarResNet",
    "READOUT",
]

#: Bump when any architecture changes; it is part of every trained model's cache key.
ARCHITECTURE_VERSION = 1

#: Module path of the readout ``nn.Linear`` in every project network.
READOUT = "classifier.readout"

#: Supported activation names.
ACTIVATIONS = ("relu", "tanh")

#: VGG layer configurations in units of ``width`` channels; ``"M"`` is a 2x2 max-pool.
_VGG_CONFIGS: dict[int, tuple[int | str, ...]] = {
    11: (1, "M", 2, "M", 4, 4, "M", 8, 8, "M", 8, 8, "M"),
    13: (1, 1, "M", 2, 2, "M", 4, 4, "M", 8, 8, "M", 8, 8, "M"),
    16: (1, 1, "M", 2, 2, "M", 4, 4, 4, "M", 8, 8, 8, "M", 8, 8, 8, "M"),
}

#: AlexNet's conv channels (64, 192, 384, 256, 256) in units of ``width`` = 64 / 4 ... kept
#: as ratios 1:3:6:4:4 of ``width``; kernel sizes shrink with the input (32 px instead of 224).
_ALEXNET_CHANNELS = (1, 3, 6, 4, 4)
_ALEXNET_KERNELS = (5, 5, 3, 3, 3)

#: Hidden fully connected width of alexnet / vgg in units of ``width`` (ImageNet: 4096 = 64 x 64).
_HIDDEN_MULTIPLIER = 16


@dataclass(frozen=True)
class ArchSpec:
    """What a project architecture name means.

    Attributes
    ----------
    arch:
        The architecture name, e.g. ``"vgg11_bn"``.
    family:
        ``"alexnet"``, ``"vgg"`` or ``"resnet"``.
    depth:
        Number of weighted (conv + linear) layers on the main path, the number in the name.
    batch_norm:
        Whether every conv is followed by batch normalisation.
    """

    arch: str
    family: str
    depth: int
    batch_norm: bool


#: Every project architecture, in the order the zoo lists them.
ARCHS: dict[str, ArchSpec] = {
    spec.arch: spec
    for spec in (
        ArchSpec("alexnet", "alexnet", 8, False),
        ArchSpec("vgg11", "vgg", 11, False),
        ArchSpec("vgg11_bn", "vgg", 11, True),
        ArchSpec("vgg13", "vgg", 13, False),
        ArchSpec("vgg13_bn", "vgg", 13, True),
        ArchSpec("vgg16", "vgg", 16, False),
        ArchSpec("vgg16_bn", "vgg", 16, True),
        ArchSpec("resnet8", "resnet", 8, True),
        ArchSpec("resnet14", "resnet", 14, True),
        ArchSpec("resnet20", "resnet", 20, True),
    )
}


def arch_spec(arch: str) -> ArchSpec:
    """Look up a project architecture by name.

    Raises
    ------
    InvalidInputError
        ``arch`` is not one of :data:`ARCHS`.
    """
    if arch not in ARCHS:
        raise InvalidInputError(
            f"unknown project architecture {arch!r}; expected one of {sorted(ARCHS)}"
        )
    return ARCHS[arch]


def activation_module(activation: str) -> nn.Module:
    """A fresh activation layer: ``nn.ReLU()`` or ``nn.Tanh()``.

    Raises
    ------
    InvalidInputError
        ``activation`` is not in :data:`ACTIVATIONS`.
    """
    if activation == "relu":
        return nn.ReLU(inplace=True)
    if activation == "tanh":
        return nn.Tanh()
    raise InvalidInputError(f"unknown activation {activation!r}; expected one of {ACTIVATIONS}")


def _classifier(
    in_features: int, hidden: int, num_classes: int, n_hidden: int, activation: str
) -> nn.Sequential:
    """Global average pool, flatten, ``n_hidden`` hidden fc layers, then the readout."""
    layers: dict[str, nn.Module] = {"pool": nn.AdaptiveAvgPool2d(1), "flatten": nn.Flatten()}
    features = in_features
    for index in range(n_hidden):
        layers[f"fc{index + 1}"] = nn.Linear(features, hidden)
        layers[f"act{index + 1}"] = activation_module(activation)
        features = hidden
    layers["readout"] = nn.Linear(features, num_classes)
    return nn.Sequential(OrderedDict(layers))


def _conv_block(
    in_channels: int, out_channels: int, kernel: int, batch_norm: bool, activation: str
) -> list[nn.Module]:
    """Conv (bias only without BN), optional BN, activation."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, bias=not batch_norm)
    ]
    if batch_norm:
        layers.append(nn.BatchNorm2d(out_channels))
    layers.append(activation_module(activation))
    return layers


def _max_pool() -> nn.MaxPool2d:
    return nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=True)


class _ConvThenClassifier(nn.Module):
    """``features`` (convs and pools) then ``classifier`` (three linear layers)."""

    features: nn.Sequential
    classifier: nn.Sequential

    def _build(self, layers: list[nn.Module], channels: int, width: int, num_classes: int,
               activation: str) -> None:
        self.features = nn.Sequential(*layers)
        self.classifier = _classifier(
            channels, _HIDDEN_MULTIPLIER * width, num_classes, 2, activation
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, num_classes]`` of a normalised batch ``[B, C, H, W]``."""
        return self.classifier(self.features(x))


class SmallAlexNet(_ConvThenClassifier):
    """AlexNet-like network for small images (see the module docstring).

    Parameters
    ----------
    num_classes, in_channels:
        Output classes and input channels.
    width:
        Channels of the first conv layer; the others are 3, 6, 4, 4 times ``width`` and the
        hidden fully connected layers have ``16 width`` units.
    activation:
        ``"relu"`` or ``"tanh"``.
    """

    def __init__(
        self, num_classes: int, in_channels: int = 3, width: int = 16, activation: str = "relu"
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for index, (ratio, kernel) in enumerate(zip(_ALEXNET_CHANNELS, _ALEXNET_KERNELS)):
            layers += _conv_block(channels, ratio * width, kernel, False, activation)
            channels = ratio * width
            if index in (0, 1, 4):
                layers.append(_max_pool())
        self._build(layers, channels, width, num_classes, activation)


class SmallVGG(_ConvThenClassifier):
    """VGG-like network for small images (see the module docstring).

    Parameters
    ----------
    depth:
        11, 13 or 16 weighted layers (8, 10 or 13 convs plus three fully connected layers).
    num_classes, in_channels:
        Output classes and input channels.
    width:
        Channels of the first stage; the others have 2, 4, 8, 8 times ``width``; the hidden
        fully connected layers have ``16 width`` units.
    batch_norm:
        Batch normalisation after every conv (the ``_bn`` variants).
    activation:
        ``"relu"`` or ``"tanh"``.
    """

    def __init__(
        self,
        depth: int,
        num_classes: int,
        in_channels: int = 3,
        width: int = 8,
        batch_norm: bool = False,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        if depth not in _VGG_CONFIGS:
            raise InvalidInputError(f"VGG depth must be one of {sorted(_VGG_CONFIGS)}, got {depth}")
        layers: list[nn.Module] = []
        channels = in_channels
        for item in _VGG_CONFIGS[depth]:
            if item == "M":
                layers.append(_max_pool())
            else:
                out = int(item) * width
                layers += _conv_block(channels, out, 3, batch_norm, activation)
                channels = out
        self._build(layers, channels, width, num_classes, activation)


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with an identity (or 1x1 conv-BN projection) shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, activation: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.act1 = activation_module(activation)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.act2 = activation_module(activation)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``act(bn2(conv2(act(bn1(conv1(x))))) + shortcut(x))``."""
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.act2(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """ResNet of depth ``6n + 2`` for small images (He et al. 2016, section 4.2).

    Parameters
    ----------
    depth:
        8, 14, 20, ... (``6n + 2``).
    num_classes, in_channels:
        Output classes and input channels.
    width:
        Channels of the first stage (16 in the paper); then ``2 width`` and ``4 width``.
    activation:
        ``"relu"`` or ``"tanh"``.
    """

    def __init__(
        self,
        depth: int,
        num_classes: int,
        in_channels: int = 3,
        width: int = 16,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise InvalidInputError(f"CIFAR ResNet depth must be 6n + 2 >= 8, got {depth}")
        blocks = (depth - 2) // 6
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, 1, 1, bias=False),
            nn.BatchNorm2d(width),
            activation_module(activation),
        )
        stages: list[nn.Module] = []
        channels = width
        for stage, multiplier in enumerate((1, 2, 4)):
            out = multiplier * width
            layers = []
            for index in range(blocks):
                stride = 2 if stage > 0 and index == 0 else 1
                layers.append(BasicBlock(channels, out, stride, activation))
                channels = out
            stages.append(nn.Sequential(*layers))
        self.features = nn.Sequential(*stages)
        self.classifier = _classifier(channels, 0, num_classes, 0, activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, num_classes]`` of a normalised batch ``[B, C, H, W]``."""
        return self.classifier(self.features(self.stem(x)))


def initialise(model: nn.Module) -> nn.Module:
    """He-normal initialisation of every conv and hidden linear layer, in place.

    Conv2d and ``nn.Linear`` weights except the readout are drawn from
    ``N(0, 2 / fan_in)`` (He et al. 2015; keeps the forward signal's scale through ReLUs so
    the deep VGGs without batch normalisation train), their biases set to 0, batch-norm
    scales to 1 and shifts to 0. The readout keeps PyTorch's default
    ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``. The Tanh variants use the same initialisation, so
    the ReLU / Tanh pairs differ only in the activation.
    """
    readout = model.get_submodule(READOUT)
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)) and module is not readout:
            nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    return model


def _builders() -> dict[str, Callable[..., nn.Module]]:
    return {
        "alexnet": lambda spec, **kw: SmallAlexNet(**kw),
        "vgg": lambda spec, **kw: SmallVGG(spec.depth, batch_norm=spec.batch_norm, **kw),
        "resnet": lambda spec, **kw: CifarResNet(spec.depth, **kw),
    }


def build(
    arch: str,
    num_classes: int,
    in_channels: int = 3,
    width: int = 16,
    activation: str = "relu",
) -> nn.Module:
    """Build a freshly initialised project network (see :func:`initialise`).

    Parameters
    ----------
    arch:
        A name in :data:`ARCHS`, e.g. ``"resnet8"`` or ``"vgg11_bn"``.
    num_classes, in_channels:
        Output classes and input channels.
    width:
        Base channel count (see each family); must be >= 1.
    activation:
        ``"relu"`` or ``"tanh"``.

    Returns
    -------
    nn.Module
        The network in training mode; its readout is the ``nn.Linear`` at :data:`READOUT`.
    """
    spec = arch_spec(arch)
    if width < 1 or num_classes < 1 or in_channels < 1:
        raise InvalidInputError(
            f"width, num_classes and in_channels must be >= 1; got width={width}, "
            f"num_classes={num_classes}, in_channels={in_channels}"
        )
    activation_module(activation)  # validates the name
    model = _builders()[spec.family](
        spec, num_classes=num_classes, in_channels=in_channels, width=width,
        activation=activation,
    )
    return initialise(model)
