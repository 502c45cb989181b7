"""The weight-separation penalties of LCEI-CNN: values by hand, gradient signs, L1."""

import math

import pytest
import torch

from signseg.ei import penalties
from signseg.errors import InvalidInputError

WE = [1.0, 3.0]  # mean 2
WI = [-1.0, 0.0]  # mean -0.5


def _value_and_grads(name, we=WE, wi=WI):
    e = torch.tensor(we, dtype=torch.float64, requires_grad=True)
    i = torch.tensor(wi, dtype=torch.float64, requires_grad=True)
    value = penalties.separation_penalty(e, i, name)
    value.backward()
    return value.item(), e.grad, i.grad


def test_penalty_values_by_hand():
    t = math.tanh
    expected = {
        "abs": -abs(2.0 - -0.5),
        "sat_abs": -abs(t(2.0) - t(-0.5)),
        "exp_sat": -(t(2.0) + t(0.5)),
        "sat_exp": -((t(1.0) + t(3.0)) / 2 + (t(1.0) + t(0.0)) / 2),
        "none": 0.0,
    }
    assert list(expected) == ["abs", "sat_abs", "exp_sat", "sat_exp", "none"]
    assert penalties.PENALTIES == ("none", "abs", "sat_abs", "exp_sat", "sat_exp")
    for name, value in expected.items():
        assert _value_and_grads(name)[0] == pytest.approx(value, abs=1e-12), name


@pytest.mark.parametrize("name", ["exp_sat", "sat_exp"])
def test_unsigned_penalties_always_raise_we_and_lower_wi(name):
    # gradient descent moves against the gradient: dP/dW_E < 0 raises W_E, dP/dW_I > 0 lowers W_I,
    # whichever path is currently larger
    for we, wi in ((WE, WI), (WI, WE), ([0.0, 0.0], [0.0, 0.0])):
        _, grad_e, grad_i = _value_and_grads(name, we, wi)
        assert (grad_e < 0).all() and (grad_i > 0).all(), (name, we, wi)
    # exp_sat: d/dw_k of -tanh(mean) = -sech^2(mean) / n
    _, grad_e, _ = _value_and_grads("exp_sat")
    assert grad_e[0].item() == pytest.approx(-(1 - math.tanh(2.0) ** 2) / 2)


@pytest.mark.parametrize("name", ["abs", "sat_abs"])
def test_absolute_penalties_push_the_larger_path_up(name):
    _, grad_e, grad_i = _value_and_grads(name)  # m_E = 2 > m_I = -0.5
    assert (grad_e < 0).all() and (grad_i > 0).all()
    _, grad_e, grad_i = _value_and_grads(name, WI, WE)  # labels swapped: the other way round
    assert (grad_e > 0).all() and (grad_i < 0).all()
    if name == "abs":  # no saturation: a constant 1/n whatever the distance
        assert grad_e.tolist() == [0.5, 0.5]


def test_no_penalty_has_no_gradient_and_unknown_names_fail():
    value, grad_e, grad_i = _value_and_grads("none")
    assert value == 0.0 and not grad_e.any() and not grad_i.any()
    with pytest.raises(InvalidInputError, match="sat_abs"):
        penalties.check_penalty("sat-abs")


def test_weight_l1_counts_weights_not_biases():
    layer = torch.nn.Linear(2, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, -2.0], [0.5, 0.0]]))
        layer.bias.fill_(10.0)
    assert penalties.weight_l1(layer).item() == pytest.approx(3.5)
    with pytest.raises(InvalidInputError, match="no weight"):
        penalties.weight_l1(torch.nn.ReLU())
