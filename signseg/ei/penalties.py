"""Weight-separation penalties of LCEI-CNN (lateral-connections-ei-cnn.txt, Eqs. 7-11).

The paper adds a penalty ``P(W_E, W_I)`` to the loss,
``L = CE(y, y_hat) + lambda_1 sum |w| + beta P`` (their Eq. 11), that drives the weights of
one lateral path positive (excitatory) and of the other negative (inhibitory). Its four
equations did not survive in the text; this is our reading of the prose, with
``m_E = mean(W_E)`` and ``m_I = mean(W_I)`` the means over all kernel weights of a path:

========== =============================================== ==================================
name       P(W_E, W_I)                                     prose it follows
========== =============================================== ==================================
``abs``     ``-|m_E - m_I|``                               Eq. 7: the means' absolute
                                                           difference, negated; either path
                                                           may end positive (relabel)
``sat_abs`` ``-|tanh(m_E) - tanh(m_I)|``                   Eq. 8: Eq. 7 saturated by tanh so
                                                           the weights cannot grow unbounded
``exp_sat`` ``-(tanh(m_E) + tanh(-m_I))``                  Eq. 9: Eq. 8 without the absolute
                                                           value, ``W_I`` negated: each path is
                                                           pushed on its own, labels fixed;
                                                           expectation, then saturation
``sat_exp`` ``-(mean(tanh(W_E)) + mean(tanh(-W_I)))``      Eq. 10: Eq. 9 with expectation and
                                                           tanh swapped (saturation first)
``none``    ``0``                                          the no-penalty baseline
========== =============================================== ==================================

Gradient signs (tested): ``exp_sat`` and ``sat_exp`` always have ``dP/dW_E < 0`` and
``dP/dW_I > 0`` elementwise, so gradient descent raises ``W_E`` and lowers ``W_I``;
``abs`` and ``sat_abs`` do so when ``m_E > m_I`` and the reverse when ``m_E < m_I`` (the
path that starts higher becomes the excitatory one). ``abs`` has a constant gradient of
magnitude ``beta / n`` per weight, so it never saturates (their reason for Eq. 8).

The strength ``beta`` (their search space is lost too) is
:attr:`signseg.runs.TrainConfig.separation`; ``lambda_1`` is ``TrainConfig.l1``
(1e-3 in the paper) and acts through :func:`weight_l1`.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ..errors import InvalidInputError

__all__ = ["PENALTIES", "PENALTY_LABELS", "check_penalty", "separation_penalty", "weight_l1"]


def _abs(we: torch.Tensor, wi: torch.Tensor) -> torch.Tensor:
    return -(we.mean() - wi.mean()).abs()


def _sat_abs(we: torch.Tensor, wi: torch.Tensor) -> torch.Tensor:
    return -(torch.tanh(we.mean()) - torch.tanh(wi.mean())).abs()


def _exp_sat(we: torch.Tensor, wi: torch.Tensor) -> torch.Tensor:
    return -(torch.tanh(we.mean()) + torch.tanh(-wi.mean()))


def _sat_exp(we: torch.Tensor, wi: torch.Tensor) -> torch.Tensor:
    return -(torch.tanh(we).mean() + torch.tanh(-wi).mean())


def _none(we: torch.Tensor, wi: torch.Tensor) -> torch.Tensor:
    return (we.sum() + wi.sum()) * 0.0


_FUNCTIONS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "none": _none, "abs": _abs, "sat_abs": _sat_abs, "exp_sat": _exp_sat, "sat_exp": _sat_exp,
}

#: Penalty names, in the order of the paper's Table 2 (the baseline first).
PENALTIES: tuple[str, ...] = tuple(_FUNCTIONS)

#: The paper's label of each penalty.
PENALTY_LABELS: dict[str, str] = {"none": "No Penalty", "abs": "ABS", "sat_abs": "SAT-ABS",
                                  "exp_sat": "EXP-SAT", "sat_exp": "SAT-EXP"}


def check_penalty(name: str) -> str:
    """Return ``name`` if it is one of :data:`PENALTIES`.

    Raises
    ------
    InvalidInputError
        Any other name (the message lists them).
    """
    if name not in _FUNCTIONS:
        raise InvalidInputError(f"unknown weight-separation penalty {name!r}; expected one of {PENALTIES}")
    return name


def separation_penalty(excitatory: torch.Tensor, inhibitory: torch.Tensor, name: str) -> torch.Tensor:
    """The weight-separation penalty ``P(W_E, W_I)`` (a scalar, differentiable).

    Parameters
    ----------
    excitatory, inhibitory:
        The weights ``W_E`` and ``W_I`` of the two lateral paths (any shapes).
    name:
        One of :data:`PENALTIES` (see the module docstring for the equations).

    Returns
    -------
    Tensor
        Zero-dimensional; lower when the paths are further apart.
    """
    return _FUNCTIONS[check_penalty(name)](excitatory, inhibitory)


def weight_l1(model: nn.Module) -> torch.Tensor:
    """``sum |w|`` over every weight tensor of ``model`` (parameters with >= 2 dimensions:
    convolution kernels and linear weights; biases and normalisation scales are left out)."""
    terms = [parameter.abs().sum() for parameter in model.parameters()
             if parameter.dim() >= 2 and parameter.requires_grad]
    if not terms:
        raise InvalidInputError(f"{type(model).__name__} has no weight tensor to regularise")
    return torch.stack(terms).sum()
