"""Weight dynamics (Fig. 25) on trajectories worked by hand."""

import math

import pandas as pd
import pytest
import torch

from signseg import dynamics
from signseg.errors import InvalidInputError


def _trajectory():
    # Linear layer [out=2, in=2]. Channel 0 (column 0) moves [1,0] -> [1,1] -> [-0.5,1];
    # channel 1 is constant [-1,-1] (negative, Dale index 1).
    epochs = [torch.tensor([[1.0, -1.0], [0.0, -1.0]]),
              torch.tensor([[1.0, -1.0], [1.0, -1.0]]),
              torch.tensor([[-0.5, -1.0], [1.0, -1.0]])]
    return [{"fc.weight": w, "fc.bias": torch.zeros(2)} for w in epochs]


def test_cosine_to_final_by_hand():
    states = _trajectory()
    similarity = dynamics.cosine_to_final([s["fc.weight"] for s in states])
    norm = math.sqrt(1.25)
    assert similarity[:, 0].tolist() == pytest.approx(
        [-0.5 / norm, 0.5 / (math.sqrt(2) * norm), 1.0])
    assert similarity[:, 1].tolist() == pytest.approx([1.0, 1.0, 1.0])


def test_convergence_epoch_is_first_epoch_over_threshold():
    similarity = torch.tensor([[0.0, 1.0, 0.2], [0.85, 1.0, 0.95], [1.0, 1.0, 1.0]])
    assert dynamics.convergence_epochs(similarity, 0.9).tolist() == [2, 0, 1]
    assert dynamics.convergence_epochs(similarity, 0.8).tolist() == [1, 0, 1]
    with pytest.raises(InvalidInputError):
        dynamics.convergence_epochs(similarity, 0.0)


def test_conv_channels_use_full_kernels():
    # Channel 0 of a conv layer: spatial mean constant, but the kernel pattern flips.
    first = torch.tensor([[[[1.0, -1.0]]]])
    last = torch.tensor([[[[-1.0, 1.0]]]])
    similarity = dynamics.cosine_to_final([first, last])
    assert similarity[0, 0].item() == pytest.approx(-1.0)


def test_convergence_table_and_dale_over_epochs():
    states = _trajectory()
    table = dynamics.convergence_table(states, ["fc"])
    assert list(table["convergence_epoch"]) == [2, 0]
    assert list(table["dale_index"]) == [0.5, 1.0]
    assert list(table["frac_negative"]) == [0.5, 1.0]
    over = dynamics.dale_over_epochs(states, ["fc"])
    assert list(over["epoch"]) == [0, 1, 2]
    # epochs 0 and 1: every channel one-signed (zeros carry no sign); epoch 2: (0.5 + 1) / 2
    assert list(over["dale_index"]) == pytest.approx([1.0, 1.0, 0.75])


def test_spread_by_dale():
    table = pd.DataFrame({"dale_index": [0.5, 0.55, 0.9, 0.95],
                          "convergence_epoch": [0, 10, 5, 5]})
    spread = dynamics.spread_by_dale(table).set_index("group")
    assert spread.loc["high", "std"] == 0.0
    assert spread.loc["low", "std"] == pytest.approx(7.0710678)
    assert spread.loc["low", "n"] == 2


def test_load_states_accepts_wrapped_checkpoints(tmp_path):
    state = {"fc.weight": torch.ones(2, 2)}
    torch.save({"model": state, "epoch": 1}, tmp_path / "a.pt")
    torch.save(state, tmp_path / "b.pt")
    loaded = dynamics.load_states([tmp_path / "a.pt", tmp_path / "b.pt"])
    assert all(torch.equal(s["fc.weight"], state["fc.weight"]) for s in loaded)


def test_errors():
    with pytest.raises(InvalidInputError, match="two checkpoints"):
        dynamics.cosine_to_final([torch.ones(2, 2)])
    with pytest.raises(InvalidInputError, match="no weight 'conv.weight'"):
        dynamics.convergence_table(_trajectory(), ["conv"])
