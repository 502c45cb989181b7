"""The Dale index on hand-worked matrices, conv averaging, analytic expectations."""

import math

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from signseg import dale
from signseg.errors import InvalidInputError


def test_hand_worked_linear_weight():
    # columns: [1, 2, 0.5] all positive -> 1; [-1, 3, -2] two negative of three -> 2/3
    weight = torch.tensor([[1.0, -1.0], [2.0, 3.0], [0.5, -2.0]])
    assert torch.allclose(dale.dale_index(weight), torch.tensor([1.0, 2 / 3], dtype=torch.float64))
    assert dale.dale_signs(weight).tolist() == [1, -1]
    assert dale.layer_dale_index(weight) == pytest.approx((1 + 2 / 3) / 2)


def test_index_uses_outgoing_columns_not_rows():
    # 4 outputs x 1 input: the single input channel sends +,+,+,- -> 3/4.
    weight = torch.tensor([[1.0], [1.0], [1.0], [-1.0]])
    assert dale.dale_index(weight).tolist() == [0.75]
    # its transpose has 4 input channels with one outgoing weight each -> all 1.
    assert dale.dale_index(weight.T).tolist() == [1.0, 1.0, 1.0, 1.0]


def test_conv_weights_are_averaged_over_space_first():
    # Output 0 / input 0: kernel values 3, -1, -1, -0.5 -> mean +0.125 (positive) although
    # three of the four kernel entries are negative. Output 1 / input 0: all negative.
    weight = torch.zeros(2, 1, 2, 2)
    weight[0, 0] = torch.tensor([[3.0, -1.0], [-1.0, -0.5]])
    weight[1, 0] = -1.0
    assert dale.dale_index(weight).tolist() == [0.5]
    weight[1, 0] = 1.0
    assert dale.dale_index(weight).tolist() == [1.0]
    assert dale.outgoing_weights(weight).shape == (2, 1)


def test_zeros_carry_no_sign_and_all_zero_channels_are_nan():
    weight = torch.tensor([[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [2.0, 0.0]])
    index = dale.dale_index(weight)
    assert index[0].item() == pytest.approx(2 / 3)
    assert math.isnan(index[1].item())
    assert dale.layer_dale_index(weight) == pytest.approx(2 / 3)
    assert dale.dale_signs(weight).tolist() == [1, 0]


@pytest.mark.parametrize("n, expected", [(1, 1.0), (2, 0.75), (3, 0.75), (4, 0.6875)])
def test_random_expectation_small_n_by_hand(n, expected):
    # n=3: B in {0,1,2,3} w.p. 1/8,3/8,3/8,1/8; |B/3-1/2| = 1/2,1/6,1/6,1/2 -> E = 1/4
    # n=4: |B/4-1/2| = .5,.25,0,.25,.5 w.p. 1,4,6,4,1 /16 -> E = (1+2+2+1)/16*... = 0.1875
    assert dale.expected_random_dale_index(n) == pytest.approx(expected)


def test_random_expectation_matches_paper_and_simulation():
    assert dale.expected_random_dale_index(1000) == pytest.approx(0.5126, abs=5e-5)
    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(1000, 4000, generator=generator)
    simulated = dale.layer_dale_index(weight)
    # per-channel sd ~0.0096 -> sd of the mean over 4000 channels ~0.00015
    assert simulated == pytest.approx(dale.expected_random_dale_index(1000), abs=1e-3)


def test_expected_value_equals_binomial_mean_absolute_deviation():
    n = 37
    k = np.arange(n + 1)
    direct = 0.5 + np.sum(stats.binom.pmf(k, n, 0.5) * np.abs(k / n - 0.5))
    assert dale.expected_random_dale_index(n) == pytest.approx(direct, rel=1e-12)


def test_dale_table_rows_follow_layers():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 2 * 2, 5))
    table = dale.dale_table(model)
    assert list(table["layer"]) == ["0", "3"]
    assert list(table["kind"]) == ["conv", "linear"]
    assert list(table["n_in"]) == [3, 16]
    assert list(table["n_out"]) == [4, 5]
    assert table["dale_index"].iloc[1] == pytest.approx(dale.layer_dale_index(model[3].weight))
    assert table["random_expectation"].iloc[1] == pytest.approx(
        dale.expected_random_dale_index(5))
    assert list(table["relative_depth"]) == [0.0, 1.0]
    only_last = dale.dale_table(model, layers=["3"])
    assert list(only_last["layer"]) == ["3"]


def test_channel_table_signs():
    weight = torch.tensor([[1.0, -1.0, 1.0], [1.0, -1.0, -1.0]])
    table = dale.channel_table(weight)
    assert list(table["sign"]) == [1, -1, 0]
    assert list(table["dale_index"]) == [1.0, 1.0, 0.5]


def test_readout_comparison():
    trained = {"m": torch.tensor([[1.0, 1.0], [1.0, -1.0]])}
    untrained = {"m": torch.tensor([[1.0, 1.0], [-1.0, -1.0]])}
    table = dale.readout_comparison(trained, untrained, {"m": 71.5})
    row = table.iloc[0]
    assert row["trained"] == 0.75 and row["untrained"] == 0.5 and row["delta"] == 0.25
    assert row["random_expectation"] == 0.75 and row["top1"] == 71.5
    with pytest.raises(InvalidInputError, match="same models"):
        dale.readout_comparison(trained, {"other": untrained["m"]})


@pytest.mark.parametrize("bad", [torch.zeros(3), torch.zeros(2, 2, 2), torch.tensor([[float("nan")]])])
def test_bad_weights_are_clear_errors(bad):
    with pytest.raises(InvalidInputError):
        dale.dale_index(bad)


def test_unknown_layer_is_a_clear_error():
    with pytest.raises(InvalidInputError, match="not Conv2d/Linear"):
        dale.dale_table(nn.Sequential(nn.Linear(2, 2)), layers=["nope"])
