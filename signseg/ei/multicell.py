"""Multi-cell convolutional recurrent networks with E and I cells
(ei-neurons-selectivity-connectivity.txt, Section 1, Appendix A).

Two feed-forward convolutional areas ("retina", "thalamus"; 3 x 3, ReLU, max-pool of stride 1
after the first and 2 after every other area) are followed by two recurrent areas ("cortex",
areas 3 and 4), unrolled for ``steps`` time steps (4); area 4's input at step ``t`` is area
3's principal cells at step ``t`` (pooled), and the readout (``classifier.readout``) reads
area 4's principal cells at the last step, pooled and flattened. Every recurrent connection
is a depth-separable convolution (a 3 x 3 depthwise kernel per input channel, then a 1 x 1
pointwise mix; their Appendix A), :class:`SignedSeparableConv`.

Cell types
----------
* ``"standard"`` (their Eq. 2): principal neurons ``PN`` (excitatory, the only cells that
  project to the next area), input-gating ``IG`` and output-gating ``OG`` interneurons::

      f_t  = sigmoid(W_X->f * X + W_PN->f * PN_{t-1} + b_f)
      IG_t = ReLU(W_X->IG * X + W_PN->IG * PN_{t-1} + b_IG),  i_t = sigmoid(W_IG->PN * IG_t + b_i)
      OG_t = ReLU(W_X->OG * X + W_PN->OG * PN_{t-1} + b_OG),  o_t = ReLU(W_OG->PN * OG_t + b_o)
      C_t  = f_t C_{t-1} + (1 - i_t) ReLU(W_X->PN * X + W_PN->PN * PN_{t-1} + b_c)
      PN_t = ReLU(BN(C_t) - o_t)

  **Choice**: batch normalisation is applied to ``C_t`` where it enters ``PN_t``; the
  state ``C_t`` itself stays unnormalised. Each time step keeps its own batch statistics
  (the distribution changes over the steps; one shared set of running statistics left the
  networks at chance in evaluation mode) and the steps share one scale and shift.
* ``"standard_ei"`` (their Eq. 1): excitatory ``E`` (the principal cells) and inhibitory ``I``
  cells with forget gates ``f = sigmoid(f~)`` per channel::

      Curr_E = W_X->E * X + W_E->E * E_{t-1} - W_I->E * I_{t-1} + b_E   (batch-normalised)
      Curr_I = W_X->I * X + W_E->I * E_{t-1} - W_I->I * I_{t-1} + b_I
      E_t = f_E E_{t-1} + (1 - f_E) ReLU(Curr_E),   I_t = f_I I_{t-1} + (1 - f_I) ReLU(Curr_I)

Dale's law: every weight out of a cell is ``W = |W~|`` (both the depthwise and the pointwise
factor, so the composed 3 x 3 x in x out kernel has one sign) times the sign of its source:
``+`` for excitatory sources and for the long-range input ``X`` (the previous area's
principal cells), ``-`` for inhibitory ones (in ``"standard"`` the interneurons act through
the gates, whose weights are ``|W~|``: more IG closes the input gate, more OG subtracts).
The trainable variable is ``W~``. Variants (their Section 3):

* ``inh_pn=True`` (*InhPN*): the signs of all *local* recurrent connections are flipped, so
  the principal cells inhibit within their area and the interneurons excite; the long-range
  projections stay excitatory.
* ``constrained=False`` (*NoConstraint*): ``W = W~``, signs free; the cell types, gates and
  projections stay.

Channels: ``width`` principal cells in area 3 (64 in the paper), ``width / 4`` IG and OG (or
I) cells, twice as many of each in area 4; the feed-forward areas have ``width / 4`` and
``width / 2`` channels (16 and 32 in the paper).

:meth:`MultiCellRNN.responses` returns every cell type's activity at every step, and each
area's :meth:`RecurrentArea.population_masks` lets :mod:`signseg.ei.populations` silence a
fraction of the principal cells' inputs from E or from I cells.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from ..architectures import READOUT
from ..errors import InvalidInputError

__all__ = [
    "CELL_MODELS",
    "STEPS",
    "PAPER_WIDTH",
    "SignedSeparableConv",
    "RecurrentArea",
    "MultiCellRNN",
]

#: The two recurrent cell models.
CELL_MODELS = ("standard", "standard_ei")

#: Time steps the recurrent areas are unrolled for (4 on CIFAR-10).
STEPS = 4

#: Principal cells of area 3 in the paper's CIFAR-10 network.
PAPER_WIDTH = 64

_KERNEL = 3

#: Initial biases of the input gate (``sigmoid(-2) = 0.12`` of the input blocked without IG
#: activity) and of the output gate (-1: no subtraction until OG activity exceeds it).
_GATE_BIAS = {"i": -2.0, "o": -1.0}


class SignedSeparableConv(nn.Module):
    """A depth-separable 3 x 3 convolution whose composed kernel has a fixed sign.

    Parameters
    ----------
    in_channels, out_channels:
        Source and target channels.
    sign:
        ``+1`` (excitatory source) or ``-1`` (inhibitory source).
    constrained:
        ``True``: weights ``sign * |W~|`` (Dale's law); ``False``: ``W~`` (signs free).
    bias:
        Add a learned bias per output channel.

    Notes
    -----
    ``keep`` is a ``[out, in]`` buffer of ones that multiplies the pointwise weights;
    :mod:`signseg.ei.populations` zeroes entries of it to cut single connections.
    """

    def __init__(self, in_channels: int, out_channels: int, sign: int = 1,
                 constrained: bool = True, bias: bool = False) -> None:
        super().__init__()
        if sign not in (1, -1):
            raise InvalidInputError(f"sign must be +1 or -1, got {sign}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.sign, self.constrained = sign, constrained
        self.depthwise = nn.Parameter(torch.empty(in_channels, 1, _KERNEL, _KERNEL))
        self.pointwise = nn.Parameter(torch.empty(out_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.register_buffer("keep", torch.ones(out_channels, in_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``W~ ~ N(0, s^2)`` with ``s = 1.25 / fan_in`` for each factor (9 for the depthwise,
        ``in`` for the pointwise one).

        ``E|W~| = 0.8 s = 1 / fan_in``, so the magnitudes of each factor sum to about 1 and a
        sign-constrained connection passes on about the mean of its (non-negative) input.
        **Choice**: variance-preserving (He) scales make every non-negative drive grow with the
        fan-in; the output gates then silenced all principal cells at the start and the
        *Standard* networks never left chance.
        """
        nn.init.normal_(self.depthwise, 0.0, 1.25 / _KERNEL**2)
        nn.init.normal_(self.pointwise, 0.0, 1.25 / self.in_channels)

    def factors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The effective (signed) depthwise ``[in, 1, 3, 3]`` and pointwise ``[out, in, 1, 1]``
        weights; the sign is carried by the pointwise factor."""
        depthwise, pointwise = self.depthwise, self.pointwise
        if self.constrained:
            depthwise, pointwise = depthwise.abs(), pointwise.abs()
        pointwise = self.sign * pointwise * self.keep[:, :, None, None]
        return depthwise, pointwise

    def kernel(self) -> torch.Tensor:
        """The composed ``[out, in, 3, 3]`` kernel ``K[o, i] = P[o, i] D[i]`` (detached)."""
        depthwise, pointwise = (f.detach() for f in self.factors())
        return pointwise[:, :, 0, 0, None, None] * depthwise[None, :, 0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Depthwise then pointwise convolution (zero padding keeps the map size)."""
        depthwise, pointwise = self.factors()
        hidden = nn.functional.conv2d(x, depthwise, padding=_KERNEL // 2, groups=self.in_channels)
        return nn.functional.conv2d(hidden, pointwise, self.bias)


def _paths(cell_model: str) -> dict[str, tuple[str, str]]:
    """Connection name -> (source, target) of one recurrent area (``X``: long-range input)."""
    if cell_model == "standard":
        return {"X->PN": ("X", "PN"), "PN->PN": ("PN", "PN"), "X->f": ("X", "f"),
                "PN->f": ("PN", "f"), "X->IG": ("X", "IG"), "PN->IG": ("PN", "IG"),
                "X->OG": ("X", "OG"), "PN->OG": ("PN", "OG"), "IG->PN": ("IG", "i"),
                "OG->PN": ("OG", "o")}
    return {"X->E": ("X", "E"), "E->E": ("E", "E"), "I->E": ("I", "E"), "X->I": ("X", "I"),
            "E->I": ("E", "I"), "I->I": ("I", "I")}


class RecurrentArea(nn.Module):
    """One recurrent area of :class:`MultiCellRNN` (see the module docstring).

    Parameters
    ----------
    in_channels:
        Channels of the long-range input ``X``.
    principal, interneurons:
        Principal cells (PN or E) and cells of each interneuron type (IG and OG, or I).
    cell_model:
        ``"standard"`` or ``"standard_ei"``.
    constrained, inh_pn:
        Dale's law and the InhPN sign flip (module docstring).
    steps:
        Time steps (each has its own batch-normalisation statistics).
    """

    def __init__(self, in_channels: int, principal: int, interneurons: int,
                 cell_model: str = "standard", constrained: bool = True, inh_pn: bool = False,
                 steps: int = STEPS) -> None:
        super().__init__()
        if cell_model not in CELL_MODELS:
            raise InvalidInputError(f"cell_model must be one of {CELL_MODELS}, got {cell_model!r}")
        self.cell_model = cell_model
        self.principal_type = "PN" if cell_model == "standard" else "E"
        self.interneuron_types = ("IG", "OG") if cell_model == "standard" else ("I",)
        sizes = {"X": in_channels, "PN": principal, "E": principal, "f": principal, "i": principal,
                 "o": principal, "IG": interneurons, "OG": interneurons, "I": interneurons}
        inhibitory = {"I"} if cell_model == "standard_ei" else set()
        flip = -1 if inh_pn else 1
        self.paths = _paths(cell_model)
        self.connections = nn.ModuleDict()
        for name, (source, target) in self.paths.items():
            sign = 1 if source == "X" else flip * (-1 if source in inhibitory else 1)
            self.connections[name.replace("->", "_to_")] = SignedSeparableConv(
                sizes[source], sizes[target], sign, constrained, bias=True)
        if cell_model == "standard":  # gates start mostly open (see the module docstring)
            with torch.no_grad():
                self.connection("IG->PN").bias.fill_(_GATE_BIAS["i"])
                self.connection("OG->PN").bias.fill_(_GATE_BIAS["o"])
        if cell_model == "standard_ei":
            self.forget = nn.Parameter(torch.zeros(principal + interneurons))
        self.norms = nn.ModuleList(nn.BatchNorm2d(principal, affine=False) for _ in range(steps))
        self.norm_weight = nn.Parameter(torch.ones(principal))
        self.norm_bias = nn.Parameter(torch.zeros(principal))
        self.principal, self.interneurons = principal, interneurons
        self.constrained, self.inh_pn = constrained, inh_pn

    def connection(self, name: str) -> SignedSeparableConv:
        """The connection ``"PN->PN"``, ``"IG->PN"``, ... of this area."""
        if name not in self.paths:
            raise InvalidInputError(f"no connection {name!r}; this area has {list(self.paths)}")
        return self.connections[name.replace("->", "_to_")]  # type: ignore[return-value]

    def initial_state(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """All-zero activities of every cell type for a batch of inputs ``x``."""
        batch, _, height, width = x.shape
        zeros = {n: x.new_zeros(batch, c, height, width) for n, c in
                 (("C", self.principal), (self.principal_type, self.principal),
                  *((t, self.interneurons) for t in self.interneuron_types))}
        return zeros

    def step(self, x: torch.Tensor, state: dict[str, torch.Tensor], t: int) -> dict[str, torch.Tensor]:
        """Time step ``t`` (0-based): the new activities given the input ``x`` and the last ``state``."""
        if not 0 <= t < len(self.norms):
            raise InvalidInputError(f"time step {t} outside 0 .. {len(self.norms) - 1}")
        if self.cell_model == "standard":
            return self._standard_step(x, state, t)
        return self._ei_step(x, state, t)

    def _norm(self, values: torch.Tensor, t: int) -> torch.Tensor:
        """Batch normalisation with step ``t``'s statistics and the shared scale and shift."""
        normalised = self.norms[t](values)
        return normalised * self.norm_weight[None, :, None, None] + self.norm_bias[None, :, None, None]

    def _drive(self, target_paths: tuple[str, ...], inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        total = None
        for name in target_paths:
            source = self.paths[name][0]
            term = self.connection(name)(inputs[source])
            total = term if total is None else total + term
        return total

    def _standard_step(self, x: torch.Tensor, state: dict[str, torch.Tensor], t: int) -> dict[str, torch.Tensor]:
        inputs = {"X": x, "PN": state["PN"]}
        forget = torch.sigmoid(self._drive(("X->f", "PN->f"), inputs))
        ig = torch.relu(self._drive(("X->IG", "PN->IG"), inputs))
        og = torch.relu(self._drive(("X->OG", "PN->OG"), inputs))
        input_gate = torch.sigmoid(self.connection("IG->PN")(ig))
        output_gate = torch.relu(self.connection("OG->PN")(og))
        cell = forget * state["C"] + (1 - input_gate) * torch.relu(self._drive(("X->PN", "PN->PN"), inputs))
        pn = torch.relu(self._norm(cell, t) - output_gate)
        return {"C": cell, "PN": pn, "IG": ig, "OG": og}

    def _ei_step(self, x: torch.Tensor, state: dict[str, torch.Tensor], t: int) -> dict[str, torch.Tensor]:
        inputs = {"X": x, "E": state["E"], "I": state["I"]}
        forget = torch.sigmoid(self.forget)[None, :, None, None]
        f_e, f_i = forget[:, : self.principal], forget[:, self.principal :]
        current_e = self._norm(self._drive(("X->E", "E->E", "I->E"), inputs), t)
        current_i = self._drive(("X->I", "E->I", "I->I"), inputs)
        e = f_e * state["E"] + (1 - f_e) * torch.relu(current_e)
        i = f_i * state["I"] + (1 - f_i) * torch.relu(current_i)
        return {"C": state["C"], "E": e, "I": i}


class MultiCellRNN(nn.Module):
    """Two feed-forward and two recurrent E-I areas, read out from area 4's principal cells.

    Parameters
    ----------
    num_classes, in_channels:
        Output classes and input channels.
    width:
        Principal cells of area 3 (64 in the paper); must be a multiple of 4.
    cell_model, constrained, inh_pn:
        The cell model and variant (module docstring).
    steps:
        Time steps (4).
    size:
        Input side in pixels; fixes the readout's input size.
    """

    def __init__(self, num_classes: int, in_channels: int = 3, width: int = PAPER_WIDTH,
                 cell_model: str = "standard", constrained: bool = True, inh_pn: bool = False,
                 steps: int = STEPS, size: int = 32) -> None:
        super().__init__()
        if width < 4 or width % 4:
            raise InvalidInputError(f"width (principal cells of area 3) must be a multiple of 4, got {width}")
        if steps < 1 or num_classes < 1 or in_channels < 1 or size < 4:
            raise InvalidInputError(
                f"steps, num_classes and in_channels must be >= 1 and size >= 4; got {steps}, "
                f"{num_classes}, {in_channels}, {size}")
        self.steps = steps
        quarter, half = width // 4, width // 2
        self.area1 = nn.Sequential(nn.Conv2d(in_channels, quarter, _KERNEL, padding=1), nn.ReLU(),
                                   nn.MaxPool2d(3, 1, padding=1))
        self.area2 = nn.Sequential(nn.Conv2d(quarter, half, _KERNEL, padding=1), nn.ReLU(),
                                   nn.MaxPool2d(2, 2, ceil_mode=True))
        self.area3 = RecurrentArea(half, width, quarter, cell_model, constrained, inh_pn, steps)
        self.area4 = RecurrentArea(width, 2 * width, half, cell_model, constrained, inh_pn, steps)
        self.pool = nn.MaxPool2d(2, 2, ceil_mode=True)
        final = -(-size // 8)  # three stride-2 pools, ceil mode
        self.classifier = nn.Sequential(OrderedDict(
            pool=nn.MaxPool2d(2, 2, ceil_mode=True), flatten=nn.Flatten(),
            readout=nn.Linear(2 * width * final * final, num_classes)))

    def areas(self) -> dict[str, RecurrentArea]:
        """The recurrent areas by name: ``{"area3": ..., "area4": ...}``."""
        return {"area3": self.area3, "area4": self.area4}

    def responses(self, x: torch.Tensor) -> dict[str, list[dict[str, torch.Tensor]]]:
        """Every cell type's activity at every step: ``{"area3": [state_1, ...], "area4": [...]}``,
        each state mapping ``"PN"`` / ``"IG"`` / ``"OG"`` (or ``"E"`` / ``"I"``) and ``"C"`` to
        ``[B, channels, H, W]``."""
        drive = self.area2(self.area1(x))
        state3, state4 = None, None
        history: dict[str, list[dict[str, torch.Tensor]]] = {"area3": [], "area4": []}
        for t in range(self.steps):
            state3 = self.area3.step(drive, state3 or self.area3.initial_state(drive), t)
            upper = self.pool(state3[self.area3.principal_type])
            state4 = self.area4.step(upper, state4 or self.area4.initial_state(upper), t)
            history["area3"].append(state3)
            history["area4"].append(state4)
        return history

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits from area 4's principal cells at the last step (pooled, flattened)."""
        last = self.responses(x)["area4"][-1][self.area4.principal_type]
        return self.classifier(last)
