"""Laterally connected CNNs (lateral-connections-ei-cnn.txt, Sections 3.1-3.3, SM A.1).

Three single-area networks on grayscale 48 x 48 images, 7 x 7 kernels with zero padding
(``padding=3``, so every feature map stays 48 x 48), no batch normalisation, then a 2 x 2
max-pool (24 x 24) and one fully connected readout on the flattened maps
(``classifier.readout``, :data:`signseg.architectures.READOUT`):

* :class:`FCNN` -- the feed-forward baseline (their Eq. 1):
  ``V = ReLU(W_2 * ReLU(W_aff * I))``.
* :class:`LCCNN` -- the afferent drive ``A = W_aff * I`` is computed once and a lateral
  convolution is unrolled ``loops`` times with shared weights (their Eqs. 2-3):
  ``V_0 = ReLU(A)``, ``V_t = ReLU(A + W_lat * V_{t-1})`` for ``t = 1 .. loops``.
  Training backpropagates through time: autograd sums the gradients of the shared
  ``W_lat`` over the unrolled steps, and ``W_aff`` is used once. ``W_lat`` has as many
  input as output channels, so :class:`LCCNN` has exactly the parameters of :class:`FCNN`
  (both layers have biases) whatever ``loops`` is.
* :class:`LCEICNN` -- separate excitatory and inhibitory lateral paths (their Eqs. 5-6):
  ``V_0 = ReLU(W_aff * I)``, ``V_E = tanh(W_E * V_0)``, ``V_I = tanh(W_I * V_0)`` and
  ``V = V_0 + V_E + V_I``, pooled and read out. The weight-separation penalties that push
  ``W_E`` positive and ``W_I`` negative are in :mod:`signseg.ei.penalties`
  (:meth:`LCEICNN.separation_penalty`).

**Reading** (the equations did not survive in the text): Eq. 6's element-wise sum is read as
the afferent response plus both lateral contributions, ``V_0 + V_E + V_I`` -- "the lateral
interactions on V_0 ... an element-wise addition follows", like the afferent drive added to
the lateral term of Eq. 3. Their SM A.1 lists, for LCEI-CNN, a 1 -> 4 ReLU conv, two
4 -> 4 tanh convs and a 4 -> 4 sum without activation, then the pool.

Channels: 8 for :class:`FCNN` / :class:`LCCNN` and 4 for :class:`LCEICNN` (their Section
3.3); ``width`` changes them.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from ..architectures import READOUT
from ..errors import InvalidInputError
from .penalties import check_penalty, separation_penalty

__all__ = [
    "KERNEL",
    "INPUT_SIZE",
    "LATERAL_WIDTH",
    "LCEI_WIDTH",
    "FCNN",
    "LCCNN",
    "LCEICNN",
    "lateral_layers",
]

#: Kernel size of every convolution (their Section 3.3: 7 x 7, "deliberately" large).
KERNEL = 7

#: Side of the grayscale input images (their Section 3.3).
INPUT_SIZE = 48

#: Channels of F-CNN and LC-CNN (model 1) and of LCEI-CNN (model 2).
LATERAL_WIDTH = 8
LCEI_WIDTH = 4


def _conv(in_channels: int, out_channels: int) -> nn.Conv2d:
    """A 7 x 7 convolution that keeps the map size."""
    return nn.Conv2d(in_channels, out_channels, KERNEL, padding=KERNEL // 2)


def _readout(channels: int, num_classes: int, size: int) -> nn.Sequential:
    """2 x 2 max-pool, flatten, one linear readout named ``readout``."""
    pooled = (size + 1) // 2
    return nn.Sequential(OrderedDict(
        pool=nn.MaxPool2d(2, 2, ceil_mode=True), flatten=nn.Flatten(),
        readout=nn.Linear(channels * pooled * pooled, num_classes)))


def _check(num_classes: int, in_channels: int, width: int, size: int) -> None:
    if min(num_classes, in_channels, width, size) < 1:
        raise InvalidInputError(
            f"num_classes, in_channels, width and size must be >= 1; got {num_classes}, "
            f"{in_channels}, {width}, {size}")


class FCNN(nn.Module):
    """The feed-forward baseline F-CNN: two 7 x 7 ReLU convolutions, pool, readout.

    Parameters
    ----------
    num_classes, in_channels:
        Output classes and input channels (1: grayscale).
    width:
        Channels of both convolutions (8).
    size:
        Input side in pixels (48); fixes the readout's input size.
    """

    def __init__(self, num_classes: int, in_channels: int = 1, width: int = LATERAL_WIDTH,
                 size: int = INPUT_SIZE) -> None:
        super().__init__()
        _check(num_classes, in_channels, width, size)
        self.afferent = _conv(in_channels, width)
        self.second = _conv(width, width)
        self.classifier = _readout(width, num_classes, size)

    def maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps before pooling: ``[ReLU(W_aff * x), ReLU(W_2 * ...)]``."""
        first = torch.relu(self.afferent(x))
        return [first, torch.relu(self.second(first))]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, num_classes]`` of a normalised batch ``[B, C, size, size]``."""
        return self.classifier(self.maps(x)[-1])


class LCCNN(nn.Module):
    """LC-CNN: an afferent convolution and a lateral convolution unrolled ``loops`` times.

    Parameters
    ----------
    num_classes, in_channels, width, size:
        As :class:`FCNN`.
    loops:
        Lateral activation loops (1, 3 or 5 in the paper); >= 1.
    """

    def __init__(self, num_classes: int, in_channels: int = 1, width: int = LATERAL_WIDTH,
                 size: int = INPUT_SIZE, loops: int = 1) -> None:
        super().__init__()
        _check(num_classes, in_channels, width, size)
        if loops < 1:
            raise InvalidInputError(f"loops must be >= 1 (lateral activation steps), got {loops}")
        self.loops = loops
        self.afferent = _conv(in_channels, width)
        self.lateral = _conv(width, width)
        self.classifier = _readout(width, num_classes, size)

    def maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``[V_0, V_1, ..., V_loops]`` (their Fig. 5), each ``[B, width, size, size]``."""
        drive = self.afferent(x)
        states = [torch.relu(drive)]
        for _ in range(self.loops):
            states.append(torch.relu(drive + self.lateral(states[-1])))
        return states

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the last lateral step ``V_loops``."""
        return self.classifier(self.maps(x)[-1])


class LCEICNN(nn.Module):
    """LCEI-CNN: afferent ReLU convolution, excitatory and inhibitory tanh lateral paths.

    Parameters
    ----------
    num_classes, in_channels, size:
        As :class:`FCNN`.
    width:
        Channels of every map (4).
    penalty:
        The weight-separation penalty trained with it (:data:`signseg.ei.penalties.PENALTIES`:
        ``"none"``, ``"abs"``, ``"sat_abs"``, ``"exp_sat"``, ``"sat_exp"``); its strength is
        the training configuration's ``separation``.
    """

    def __init__(self, num_classes: int, in_channels: int = 1, width: int = LCEI_WIDTH,
                 size: int = INPUT_SIZE, penalty: str = "none") -> None:
        super().__init__()
        _check(num_classes, in_channels, width, size)
        self.penalty = check_penalty(penalty)
        self.afferent = _conv(in_channels, width)
        self.excitatory = _conv(width, width)
        self.inhibitory = _conv(width, width)
        self.classifier = _readout(width, num_classes, size)

    def paths(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The maps ``V_0``, ``V_E``, ``V_I`` and their sum ``V`` (their Fig. 11)."""
        v0 = torch.relu(self.afferent(x))
        ve = torch.tanh(self.excitatory(v0))
        vi = torch.tanh(self.inhibitory(v0))
        return {"V0": v0, "VE": ve, "VI": vi, "V": v0 + ve + vi}

    def maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``[V_0, V]``: the afferent response and what the readout pools."""
        paths = self.paths(x)
        return [paths["V0"], paths["V"]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of ``V_0 + V_E + V_I``."""
        return self.classifier(self.paths(x)["V"])

    def separation_penalty(self) -> torch.Tensor:
        """This network's weight-separation penalty of ``(W_E, W_I)`` (0 for ``"none"``)."""
        return separation_penalty(self.excitatory.weight, self.inhibitory.weight, self.penalty)


def lateral_layers(model: nn.Module) -> dict[str, torch.Tensor]:
    """The convolution weights of a lateral network by role, detached.

    ``{"afferent": W_aff, "lateral": W_lat}`` (LC-CNN), ``{"afferent", "second"}`` (F-CNN) or
    ``{"afferent", "excitatory", "inhibitory"}`` (LCEI-CNN).

    Raises
    ------
    InvalidInputError
        ``model`` is not one of the three networks.
    """
    if isinstance(model, LCCNN):
        names = ("afferent", "lateral")
    elif isinstance(model, FCNN):
        names = ("afferent", "second")
    elif isinstance(model, LCEICNN):
        names = ("afferent", "excitatory", "inhibitory")
    else:
        raise InvalidInputError(
            f"expected an FCNN, LCCNN or LCEICNN (signseg.ei.lateral), got {type(model).__name__}")
    return {name: getattr(model, name).weight.detach() for name in names}
