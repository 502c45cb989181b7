"""Ranking of intermediate channels by the sign consistency of their outgoing weights."""

import pandas as pd
import pytest
import torch
from torch import nn

from signseg.channels import channel_ranking, layer_labels, next_layer, top_channels
from signseg.errors import InvalidInputError


def _net() -> nn.Sequential:
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 3, 1), nn.ReLU(),
                        nn.Flatten(), nn.Linear(3 * 2 * 2, 2))
    with torch.no_grad():
        # conv2 [out=3, in=4, 1, 1]: columns = outgoing weights of conv1's 4 channels
        net[2].weight.copy_(torch.tensor([
            [1.0, -1.0, 2.0, -0.5],
            [2.0, -3.0, -1.0, -0.5],
            [0.5, 1.0, 1.0, -0.5],
        ]).view(3, 4, 1, 1))
    return net


def test_ranking_worked_by_hand() -> None:
    ranking = channel_ranking(_net(), layers=["2"])
    assert ranking["label"].unique().tolist() == ["conv1 → conv2"]
    # p+ of the four channels: 3/3, 1/3, 2/3, 0/3
    assert ranking["p_positive"].tolist() == pytest.approx([1, 1 / 3, 2 / 3, 0])
    assert ranking["dale"].tolist() == pytest.approx([1, 2 / 3, 2 / 3, 1])
    assert ranking["sign"].tolist() == ["positive", "negative", "positive", "negative"]
    assert ranking.set_index("channel")["rank_positive"].to_dict() == {0: 1, 2: 2, 1: 3, 3: 4}
    # channel 3 (p- = 1) first, then channel 1 (p- = 2/3, mean -1) before channel 2
    assert ranking.set_index("channel")["rank_negative"].to_dict() == {3: 1, 1: 2, 2: 3, 0: 4}


def test_ties_break_by_mean_outgoing_weight_then_index() -> None:
    weight = torch.tensor([[1.0, 3.0, 1.0], [-1.0, -1.0, -1.0]])  # every channel p+ = 1/2
    net = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 2))
    with torch.no_grad():
        net[1].weight.copy_(weight)
    ranking = channel_ranking(net).set_index("channel")
    assert ranking["sign"].eq("tie").all()
    assert ranking["rank_positive"].to_dict() == {1: 1, 0: 2, 2: 3}
    assert ranking["rank_negative"].to_dict() == {0: 1, 2: 2, 1: 3}


def test_default_layers_skip_the_image_layer_and_label_in_order() -> None:
    net = _net()
    ranking = channel_ranking(net)
    assert ranking["layer"].unique().tolist() == ["2", "5"]
    assert layer_labels(net) == {"2": "conv1 → conv2", "5": "conv2 → fc1"}
    assert next_layer(net, "0") == "2" and next_layer(net, "2") == "5" and next_layer(net, "5") is None
    assert len(ranking[ranking["layer"] == "5"]) == 12


def test_top_channels_never_overlap_and_refuse_too_large_k() -> None:
    top = top_channels(channel_ranking(_net(), layers=["2"]), 2)
    assert top[top["sign"] == "positive"]["channel"].tolist() == [0, 2]
    assert top[top["sign"] == "negative"]["channel"].tolist() == [3, 1]
    assert top["rank"].tolist() == [1, 2, 1, 2]
    with pytest.raises(InvalidInputError, match="more than half"):
        top_channels(channel_ranking(_net(), layers=["2"]), 3)
    with pytest.raises(InvalidInputError, match="not conv or linear"):
        channel_ranking(_net(), layers=["1"])
