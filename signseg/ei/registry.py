"""The E/I networks as project zoo architectures: names, defaults, input and builders.

Every architecture here is listed by :mod:`signseg.zoo` for every project data set as
``{prefix}_{arch}`` (``mnist_lccnn_loop3``, ``cifar10_eirnn_standard_ei``) and is trained,
cached and loaded by :mod:`signseg.train` like the other project networks:

============================ ============================================================
arch                         network
============================ ============================================================
``fcnn``                     F-CNN baseline (:class:`~signseg.ei.lateral.FCNN`)
``lccnn_loop1/3/5``          LC-CNN with 1, 3, 5 lateral loops
``lceicnn_<penalty>``        LCEI-CNN trained with a weight-separation penalty
                             (``none``, ``abs``, ``sat_abs``, ``exp_sat``, ``sat_exp``)
``eirnn_standard``           multi-cell RNN, PN + IG + OG cells, Dale's law
``eirnn_standard_ei``        multi-cell RNN, E + I cells, Dale's law (*StandardEI*)
``eirnn_inhpn``              *Standard* with inhibitory principal cells (*InhPN*)
``eirnn_noconstraint``       *Standard* without sign constraints (*NoConstraint*)
============================ ============================================================

The lateral networks see what the paper's saw (lateral-connections-ei-cnn.txt, 3.3):
grayscale 48 x 48 images, whatever the data set (colour images are converted to luminance,
normalised by the training split's grayscale mean and std); the multi-cell networks get the
data set's usual input. ``width`` defaults to the papers' channel counts (8, 4 and 64 principal
cells) instead of the data set's default, and the paper's training recipes are profile
settings (:class:`signseg.runs.TrainConfig` ``l1``, ``separation``, ``optimizer``, ...).

A change to any of these networks that changes trained weights must bump
:data:`signseg.architectures.ARCHITECTURE_VERSION`, part of every trained model's cache key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import nn

from ..errors import UnknownNameError
from ..preprocessing import Preprocessing
from .lateral import FCNN, INPUT_SIZE, LATERAL_WIDTH, LCEI_WIDTH, LCCNN, LCEICNN
from .multicell import PAPER_WIDTH, MultiCellRNN
from .penalties import PENALTIES, PENALTY_LABELS

__all__ = ["EIArch", "EI_ARCHS", "FAMILIES", "LOOPS", "VARIANTS", "ei_arch", "input_preprocessing",
           "build"]

#: Lateral activation loops of the paper's Table 1.
LOOPS = (1, 3, 5)

#: Multi-cell variants: arch suffix -> (cell model, Dale's law, inhibitory principal cells).
VARIANTS: dict[str, tuple[str, bool, bool]] = {
    "standard": ("standard", True, False),
    "standard_ei": ("standard_ei", True, False),
    "inhpn": ("standard", True, True),
    "noconstraint": ("standard", False, False),
}

#: Zoo families of these architectures.
FAMILIES = ("lateral", "multicell")

#: Grayscale mean and std of each project data set's training images (luminance
#: ``0.299 R + 0.587 G + 0.114 B``; CIFAR-10 and Tiny ImageNet measured on the local copies,
#: MNIST its usual values, the procedural set the fixed values of its RGB models).
_GRAY_STATS: dict[str, tuple[float, float]] = {
    "mnist": (0.1307, 0.3081), "cifar10": (0.4808, 0.2388), "procedural": (0.5, 0.25),
    "tiny-imagenet": (0.4520, 0.2617),
}


@dataclass(frozen=True)
class EIArch:
    """One E/I architecture.

    Attributes
    ----------
    arch:
        Name inside the zoo names (``"lccnn_loop3"``).
    family:
        ``"lateral"`` or ``"multicell"``.
    label:
        The paper's name for it (``"LC-CNN: Loop-3"``, ``"StandardEI"``).
    default_width:
        Channels when the training configuration sets none.
    depth:
        Weighted layers on the main path (convolutions or recurrent areas, and the readout).
    batch_norm, activation:
        Whether it normalises (the multi-cell ``C_t``) and its main nonlinearity.
    options:
        Builder keyword arguments.
    """

    arch: str
    family: str
    label: str
    default_width: int
    depth: int
    batch_norm: bool
    activation: str
    options: dict[str, Any] = field(default_factory=dict, hash=False)


def _archs() -> dict[str, EIArch]:
    archs = [EIArch("fcnn", "lateral", "F-CNN", LATERAL_WIDTH, 3, False, "relu", {"kind": "fcnn"})]
    archs += [EIArch(f"lccnn_loop{n}", "lateral", f"LC-CNN: Loop-{n}", LATERAL_WIDTH, 3, False,
                     "relu", {"kind": "lccnn", "loops": n}) for n in LOOPS]
    archs += [EIArch(f"lceicnn_{p}", "lateral", f"LCEI-CNN: {PENALTY_LABELS[p]}", LCEI_WIDTH, 4,
                     False, "tanh", {"kind": "lceicnn", "penalty": p}) for p in PENALTIES]
    labels = {"standard": "Standard", "standard_ei": "StandardEI", "inhpn": "InhPN",
              "noconstraint": "NoConstraint"}
    archs += [EIArch(f"eirnn_{v}", "multicell", labels[v], PAPER_WIDTH, 5, True, "relu",
                     {"kind": "multicell", "cell_model": c, "constrained": d, "inh_pn": i})
              for v, (c, d, i) in VARIANTS.items()]
    return {spec.arch: spec for spec in archs}


#: Every E/I architecture by ``arch``, in the zoo's order.
EI_ARCHS: dict[str, EIArch] = _archs()


def ei_arch(arch: str) -> EIArch:
    """The :class:`EIArch` named ``arch``.

    Raises
    ------
    UnknownNameError
        ``arch`` is not in :data:`EI_ARCHS` (the message lists them).
    """
    if arch not in EI_ARCHS:
        raise UnknownNameError(f"unknown E/I architecture {arch!r}; expected one of {list(EI_ARCHS)}")
    return EI_ARCHS[arch]


def input_preprocessing(arch: str, dataset: str, default: Preprocessing) -> Preprocessing:
    """What ``arch`` trained on ``dataset`` expects: grayscale 48 px for the lateral networks,
    ``default`` (the data set's project input) for the multi-cell ones."""
    spec = ei_arch(arch)
    if spec.family != "lateral":
        return default
    if dataset not in _GRAY_STATS:
        raise UnknownNameError(f"no grayscale statistics for data set {dataset!r}; known: {list(_GRAY_STATS)}")
    mean, std = _GRAY_STATS[dataset]
    return Preprocessing(size=INPUT_SIZE, mean=(mean,), std=(std,), channels=1)


def build(arch: str, num_classes: int, in_channels: int, width: int, size: int) -> nn.Module:
    """A freshly initialised E/I network (PyTorch's default initialisation for the lateral
    networks, :meth:`~signseg.ei.multicell.SignedSeparableConv.reset_parameters` for the
    recurrent connections).

    Parameters
    ----------
    arch:
        A name in :data:`EI_ARCHS`.
    num_classes, in_channels, size:
        Output classes, input channels and input side (from the zoo entry's preprocessing).
    width:
        Channels (lateral) or area-3 principal cells (multi-cell; a multiple of 4).

    Raises
    ------
    InvalidInputError
        A size or count is out of range.
    """
    options = dict(ei_arch(arch).options)
    builder = _BUILDERS[options.pop("kind")]
    return builder(num_classes=num_classes, in_channels=in_channels, width=width, size=size,
                   **options)


_BUILDERS: dict[str, type[nn.Module]] = {"fcnn": FCNN, "lccnn": LCCNN, "lceicnn": LCEICNN,
                                         "multicell": MultiCellRNN}
