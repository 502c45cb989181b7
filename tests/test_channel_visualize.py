"""Stored channel visualizations: gradient and CMA-ES routes, ablation conditions, resuming."""

import numpy as np
import pytest
import torch
from torch import nn

from signseg.channel_visualize import ChannelVisualizationConfig, channel_jobs, visualize_channels
from signseg.errors import InvalidInputError
from signseg.objectives import ChannelObjective, channel_scores


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(inplace=True),
                         nn.Conv2d(4, 3, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(3, 2)).eval()


TARGETS = [ChannelObjective("2", 0), ChannelObjective("2", 3)]


def test_jobs_give_controls_to_input_targets_and_ablations_to_output_targets() -> None:
    config = ChannelVisualizationConfig(signs=("positive", "negative"), alphas=(0.0, 0.5, 1.0),
                                        restarts=2)
    jobs = channel_jobs([ChannelObjective("2", 0), ChannelObjective("0", 1, site="output")], config)
    assert len(jobs[jobs["site"] == "input"]) == 2  # control x 2 restarts
    output = jobs[jobs["site"] == "output"]
    assert len(output) == 2 * (1 + 2 * 2)
    assert set(output["alpha"]) == {0.0, 0.5, 1.0} and set(output["sign"]) == {"control", "positive", "negative"}


def test_gradient_route_raises_each_channel_and_resumes_from_the_store(tmp_path) -> None:
    net = _net()
    config = ChannelVisualizationConfig(size=16, steps=30, lr=0.1, batch=1)
    first = visualize_channels(net, TARGETS[:1], config, name="tiny", root=tmp_path, progress=False)
    both = visualize_channels(net, TARGETS, config, name="tiny", root=tmp_path, progress=False)
    table = both.table()
    assert len(table) == 2 and (table["score"] > table["initial_score"]).all()
    # the first target was stored once and not recomputed: its images are bitwise the same
    again = first.table()
    row = table[table["channel"] == 0]
    assert np.array_equal(both.images(row), first.images(again[again["channel"] == 0]))
    images = torch.from_numpy(both.images()).permute(0, 3, 1, 2).float() / 255
    objectives = [ChannelObjective("2", int(c)) for c in table["channel"]]
    stored = torch.tensor(table["score"].to_numpy(), dtype=torch.float32)
    assert torch.allclose(channel_scores(net, objectives, images).detach(), stored, atol=1e-5)


def test_ablating_all_positive_inputs_of_a_relu_channel_silences_it(tmp_path) -> None:
    net = _net()
    config = ChannelVisualizationConfig(size=16, steps=20, lr=0.1, signs=("positive",), alphas=(1.0,))
    target = ChannelObjective("2", 1, site="output")
    vis = visualize_channels(net, [target], config, name="tiny", root=tmp_path, progress=False)
    table = vis.table().set_index("sign")
    # without positive weights the conv output can only rise through its bias
    assert table.loc["positive", "score"] <= float(net[2].bias[1].detach()) + 1e-5
    assert table.loc["control", "score"] > table.loc["positive", "score"]
    # the model's weights are restored after the ablated chunk
    assert (net[2].weight[1] > 0).any()


def test_cmaes_route_searches_a_generator_code_space(tmp_path) -> None:
    net = _net()
    config = ChannelVisualizationConfig(method="cmaes", generator="fourier",
                                        generator_options={"size": 16}, iterations=8, restarts=1)
    vis = visualize_channels(net, TARGETS, config, name="tiny", root=tmp_path, progress=False)
    table = vis.table()
    assert (table["score"] >= table["initial_score"]).all()
    assert vis.images().shape == (2, 16, 16, 3) and vis.trajectories().shape == (2, 8)


def test_bad_settings_name_the_setting() -> None:
    with pytest.raises(InvalidInputError, match="method"):
        ChannelVisualizationConfig(method="guess")
    with pytest.raises(InvalidInputError, match="alphas"):
        ChannelVisualizationConfig(alphas=(1.5,))
    with pytest.raises(InvalidInputError, match="unknown channel visualization settings"):
        ChannelVisualizationConfig.from_dict({"stepz": 3})
    with pytest.raises(InvalidInputError, match="targets is empty"):
        channel_jobs([], ChannelVisualizationConfig())
