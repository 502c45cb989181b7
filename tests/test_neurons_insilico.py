"""In-silico stand-in neurons: responses computed by hand, the planted answer, the recording."""

import numpy as np
import pytest
import torch

from signseg import zoo
from signseg.errors import InvalidInputError
from signseg.layers import layer_activations
from signseg.neurons import insilico, localization
from signseg.objectives import ChannelObjective, channel_scores

LAYERS = {"V1": "features.6", "V4": "features.13", "IT": "features.27"}


@pytest.fixture(scope="module")
def source():
    return zoo.load("procedural_vgg11_bn", pretrained=False, seed=0)


@pytest.fixture(scope="module")
def images():
    generator = torch.Generator().manual_seed(0)
    coarse = torch.rand(60, 3, 8, 8, generator=generator)
    return torch.nn.functional.interpolate(coarse, size=32, mode="bilinear", align_corners=False)


@pytest.fixture(scope="module")
def standins(source, images):
    return insilico.standin_readouts(source, LAYERS, images, sessions=2, per_session=1,
                                     field={"V1": 0.25, "V4": 0.5, "IT": 1.0}, spread=0.0, seed=0)


def _evoked(source, layer, images):
    network, prep = source.model, source.entry.preprocessing
    with torch.no_grad():
        (a,) = layer_activations(network, prep(images, crop=False), [(layer, "output")])
        (b,) = layer_activations(network, prep(torch.full((1, 3, 32, 32), 0.5), crop=False), [(layer, "output")])
    return torch.relu(a - b)


def test_standin_rates_by_hand(source, images, standins):
    population = insilico.InSilicoPopulation(source, standins)
    rates = insilico.expected_rates(population, images[:5])
    neurons = standins.neurons
    assert neurons["area"].tolist() == ["V1", "V1", "V4", "V4", "IT", "IT"]
    assert set(neurons["session"]) == {"session-0", "session-1"} and (neurons["kind"] == "stand-in").all()
    for j, row in neurons.iterrows():
        evoked = _evoked(source, row["layer"], images[:5])[:, row["channel"]]
        window = insilico.central_window(evoked.shape[1], evoked.shape[2], row["field"])
        expected = 2.0 + standins.gain[j] * evoked[:, window].mean(1).double().numpy()
        np.testing.assert_allclose(rates[:, j], expected, rtol=1e-4)
    # with no spread every neuron's mean rate over the calibration images is the target, 30/s
    np.testing.assert_allclose(insilico.expected_rates(population, images).mean(0), 30.0, rtol=1e-4)
    # a blank screen evokes nothing: the spontaneous rate
    np.testing.assert_allclose(insilico.expected_rates(population, torch.full((1, 3, 32, 32), 0.5)), 2.0)
    # each stand-in is a channel objective of the population module
    scores = channel_scores(population, [ChannelObjective("rates", 3, site="output")], images[:5])
    np.testing.assert_allclose(scores.detach().double().numpy(), rates[:, 3], rtol=1e-5)


def test_central_window_by_hand():
    window = insilico.central_window(8, 8, 0.5)
    assert window.sum() == 16 and window[2:6, 2:6].all()
    assert insilico.central_window(2, 2, 1.0).all() and insilico.central_window(16, 16, 0.01).sum() == 1
    with pytest.raises(InvalidInputError, match="field"):
        insilico.central_window(8, 8, 0.0)


def test_planted_population_rises_when_the_surround_is_cleared(source, images):
    masks = torch.zeros(60, 32, 32, dtype=torch.bool)
    masks[:, 8:24, 8:24] = True
    masks[:20, 4:28, 4:28] = True  # a third of the boxes are larger
    planted = insilico.planted_readouts(source, "features.10", images, masks, neurons=3, pool=4,
                                        excitatory=2, inhibitory=2, coverage=0.5, seed=1)
    population = insilico.InSilicoPopulation(source, planted)
    region = population.region
    assert torch.equal(region, masks.float().mean(0) >= 0.5) and region.sum() == 16 * 16
    assert (planted.neurons["kind"] == "planted").all() and planted.neurons["session"].nunique() == 3
    intact = insilico.expected_rates(population, images)
    cleared = insilico.expected_rates(population, localization.clear_background(
        images, region[None].expand(60, -1, -1)))
    # clearing keeps the excitation and removes the inhibition: never lower, mostly higher
    assert (cleared >= intact - 1e-3).all() and (cleared > intact + 1e-3).mean() > 0.5
    # the surround alone only inhibits: the spontaneous rate
    surround_only = localization.clear_background(images, (~region)[None].expand(60, -1, -1))
    np.testing.assert_allclose(insilico.expected_rates(population, surround_only), 2.0, atol=1e-4)
    with pytest.raises(InvalidInputError, match="masks must be"):
        insilico.planted_readouts(source, "features.10", images, masks[:, :16], neurons=1)


def test_recording_is_poisson_in_silico_and_seeded(source, images, standins):
    population = insilico.InSilicoPopulation(source, standins, name="test")
    record = insilico.record(population, images[:4], trials=400, seed=3)
    assert record.in_silico and record.window == insilico.WINDOW and record.responses.shape == (4, 400, 6)
    counts = record.responses * 0.1
    np.testing.assert_allclose(counts, np.round(counts))
    expected = insilico.expected_rates(population, record.images)
    np.testing.assert_allclose(record.mean_responses(), expected, rtol=0.2, atol=2.0)
    variance = record.responses.var(axis=1) * 0.01  # Poisson: count variance = count mean
    np.testing.assert_allclose(variance.mean(), (expected * 0.1).mean(), rtol=0.2)
    again = insilico.record(population, images[:4], trials=400, seed=3)
    np.testing.assert_array_equal(record.responses, again.responses)
    means = insilico.trial_means(population, images[:4], trials=400, seed=3)
    np.testing.assert_allclose(means, record.mean_responses())
    assert record.images.dtype == np.uint8
