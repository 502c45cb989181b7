"""Channel objectives: hooks at a module's input or output, per-image scores, gradients."""

import pytest
import torch
from torch import nn

from signseg.errors import InvalidInputError
from signseg.layers import layer_activations
from signseg.objectives import ChannelObjective, activation_maps, as_objective, channel_scores


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(inplace=True),
                         nn.Conv2d(4, 2, 1)).eval()


def test_input_site_is_what_the_layer_receives_after_the_in_place_relu() -> None:
    net, images = _net(), torch.rand(2, 3, 5, 5)
    (received,) = layer_activations(net, images, [("2", "input")])
    (conv_out,) = layer_activations(net, images, [("0", "output")])
    expected = torch.relu(net[0](images))
    assert torch.equal(received, expected)
    # the conv's own output is captured before the in-place ReLU changes it
    assert (conv_out < 0).any() and torch.allclose(conv_out, net[0](images))


def test_scores_per_image_spatial_mean_and_position_by_hand() -> None:
    net, images = _net(), torch.rand(3, 3, 5, 5)
    maps = torch.relu(net[0](images))
    objectives = [ChannelObjective("2", 1), ChannelObjective("2", 3, position=(4, 0)),
                  ChannelObjective("2", 1)]
    scores = channel_scores(net, objectives, images)
    assert torch.allclose(scores, torch.stack([maps[0, 1].mean(), maps[1, 3, 4, 0], maps[2, 1].mean()]))
    single = channel_scores(net, [ChannelObjective("0", 2, site="output")], images)
    assert torch.allclose(single, net[0](images)[:, 2].mean(dim=(1, 2)))


def test_scores_are_differentiable_and_match_a_callable_objective() -> None:
    net = _net()
    images = torch.rand(2, 3, 5, 5, requires_grad=True)
    objective = as_objective(net, [ChannelObjective("2", 0), ChannelObjective("2", 1)])
    objective(images).sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0
    # image 0's gradient does not depend on image 1's objective
    other = images.detach().clone().requires_grad_(True)
    as_objective(net, [ChannelObjective("2", 0), ChannelObjective("2", 3)])(other).sum().backward()
    assert torch.allclose(other.grad[0], images.grad[0])
    custom = lambda x: x.mean(dim=(1, 2, 3))  # noqa: E731
    assert as_objective(net, custom) is custom


def test_bad_objectives_name_the_problem() -> None:
    net, images = _net(), torch.rand(2, 3, 5, 5)
    with pytest.raises(InvalidInputError, match="site"):
        ChannelObjective("2", 0, site="middle")
    with pytest.raises(InvalidInputError, match="channel 9 does not exist"):
        channel_scores(net, [ChannelObjective("2", 9)], images)
    with pytest.raises(InvalidInputError, match="outside"):
        channel_scores(net, [ChannelObjective("2", 0, position=(7, 0))], images)
    with pytest.raises(InvalidInputError, match="no module 'nine'"):
        channel_scores(net, [ChannelObjective("nine", 0)], images)
    with pytest.raises(InvalidInputError, match="3 objectives for 2 images"):
        channel_scores(net, [ChannelObjective("2", 0)] * 3, images)


def test_activation_maps_select_channels_in_batches() -> None:
    net, images = _net(), torch.rand(5, 3, 5, 5)
    maps = activation_maps(net, "2", images, channels=[3, 0], batch_size=2)
    assert maps.shape == (5, 2, 5, 5)
    assert torch.allclose(maps, torch.relu(net[0](images))[:, [3, 0]].detach())
