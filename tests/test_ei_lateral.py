"""LC-CNN, F-CNN and LCEI-CNN: shapes, parameter counts, unrolling by hand, zoo entries,
training with the extra loss terms."""

import numpy as np
import pytest
import torch

from signseg import runs, train, zoo
from signseg.ei import lateral, registry
from signseg.errors import InvalidInputError


def _count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_fcnn_and_lccnn_have_the_same_parameters_whatever_the_loops():
    # two 7x7 convs with biases (1->8, 8->8) and a 10-way readout of 8 x 24 x 24 pooled maps
    expected = (1 * 8 * 49 + 8) + (8 * 8 * 49 + 8) + (8 * 24 * 24 * 10 + 10)
    assert _count(lateral.FCNN(10)) == expected == 49634
    for loops in (1, 3, 5):
        model = lateral.LCCNN(10, loops=loops)
        assert _count(model) == expected
        out = model(torch.zeros(2, 1, 48, 48))
        assert out.shape == (2, 10)
        assert [m.shape for m in model.maps(torch.zeros(2, 1, 48, 48))] == [(2, 8, 48, 48)] * (loops + 1)
    lcei = lateral.LCEICNN(10)
    assert _count(lcei) == (1 * 4 * 49 + 4) + 2 * (4 * 4 * 49 + 4) + (4 * 24 * 24 * 10 + 10)
    assert set(lcei.paths(torch.zeros(1, 1, 48, 48))) == {"V0", "VE", "VI", "V"}
    with pytest.raises(InvalidInputError, match="loops"):
        lateral.LCCNN(10, loops=0)


def _conv_by_hand(image: np.ndarray, kernel: np.ndarray, bias: float) -> np.ndarray:
    """'Same' zero-padded cross-correlation of a 2-D map with an odd kernel, by loops."""
    k = kernel.shape[0] // 2
    padded = np.pad(image, k)
    out = np.full(image.shape, bias)
    for y in range(image.shape[0]):
        for x in range(image.shape[1]):
            out[y, x] += (padded[y:y + 2 * k + 1, x:x + 2 * k + 1] * kernel).sum()
    return out


def test_lccnn_unrolls_the_shared_lateral_weights_as_written_by_hand():
    torch.manual_seed(0)
    model = lateral.LCCNN(2, width=1, size=6, loops=3).double()
    image = torch.rand(1, 1, 6, 6, dtype=torch.float64)
    w_aff, b_aff = model.afferent.weight[0, 0].detach().numpy(), model.afferent.bias.item()
    w_lat, b_lat = model.lateral.weight[0, 0].detach().numpy(), model.lateral.bias.item()
    drive = _conv_by_hand(image[0, 0].numpy(), w_aff, b_aff)
    states = [np.maximum(drive, 0)]
    for _ in range(3):  # V_t = ReLU(W_aff * I + W_lat * V_{t-1})
        states.append(np.maximum(drive + _conv_by_hand(states[-1], w_lat, b_lat), 0))
    maps = model.maps(image)
    for computed, expected in zip(maps, states):
        np.testing.assert_allclose(computed[0, 0].detach().numpy(), expected, atol=1e-12)
    # the readout sees the max-pooled last state
    pooled = expected.reshape(3, 2, 3, 2).max(axis=(1, 3)).reshape(-1)
    logits = model.classifier.readout.weight.detach().numpy() @ pooled + model.classifier.readout.bias.detach().numpy()
    np.testing.assert_allclose(model(image)[0].detach().numpy(), logits, atol=1e-12)


def test_lcei_sums_the_afferent_and_both_tanh_paths():
    torch.manual_seed(1)
    model = lateral.LCEICNN(3, width=2, size=8).double()
    x = torch.rand(2, 1, 8, 8, dtype=torch.float64)
    v0 = torch.relu(model.afferent(x))
    paths = model.paths(x)
    torch.testing.assert_close(paths["V"], v0 + torch.tanh(model.excitatory(v0)) + torch.tanh(model.inhibitory(v0)))
    assert set(lateral.lateral_layers(model)) == {"afferent", "excitatory", "inhibitory"}


def test_zoo_entries_see_grayscale_48px_and_build_the_papers_widths():
    entry = zoo.info("cifar10_lccnn_loop3")
    assert (entry.family, entry.preprocessing.size, entry.preprocessing.channels) == ("lateral", 48, 1)
    assert entry.default_width == 8 and zoo.info("mnist_lceicnn_sat_abs").default_width == 4
    model = zoo.build("cifar10_lccnn_loop3")
    assert isinstance(model, lateral.LCCNN) and model.loops == 3 and model.afferent.out_channels == 8
    rgb = torch.rand(2, 3, 32, 32)
    assert model(entry.preprocessing(rgb)).shape == (2, 10)  # RGB -> luminance, 32 -> 48 px
    lcei = zoo.build("mnist_lceicnn_exp_sat")
    assert lcei.penalty == "exp_sat" and lcei.afferent.out_channels == 4
    assert runs.resolve(None, "mnist", width=zoo.project_width(zoo.info("mnist_fcnn"))).width == 8
    # a configuration's width still wins
    assert train.resolve_config("mnist_fcnn", {"width": 3}).width == 3
    assert list(registry.EI_ARCHS)[:4] == ["fcnn", "lccnn_loop1", "lccnn_loop3", "lccnn_loop5"]


def test_extra_loss_is_l1_of_the_weights_plus_the_scaled_penalty():
    torch.manual_seed(2)
    model = lateral.LCEICNN(2, width=2, size=4, penalty="exp_sat")
    config = runs.TrainConfig(l1=1e-3, separation=0.5)
    weights = [model.afferent.weight, model.excitatory.weight, model.inhibitory.weight,
               model.classifier.readout.weight]
    l1 = sum(w.abs().sum().item() for w in weights)
    we, wi = model.excitatory.weight, model.inhibitory.weight
    penalty = -(np.tanh(we.mean().item()) + np.tanh(-wi.mean().item()))
    assert train.extra_loss(model, config).item() == pytest.approx(1e-3 * l1 + 0.5 * penalty, rel=1e-5)
    assert train.extra_loss(model, runs.TrainConfig()) == 0.0
    with pytest.raises(InvalidInputError, match="no weight-separation penalty"):
        train.extra_loss(lateral.FCNN(2, size=4), config)
    with pytest.raises(InvalidInputError, match="separation"):
        runs.TrainConfig(separation=-1.0)
    # the new fields stay out of the cache key at their defaults
    assert "l1" not in runs.TrainConfig().to_dict() and runs.TrainConfig(l1=0.1).to_dict()["l1"] == 0.1


def test_training_with_the_separation_penalty_pulls_the_paths_apart(tmp_path, monkeypatch):
    monkeypatch.setenv("SIGNSEG_CACHE", str(tmp_path))
    config = {"epochs": 1, "n_train": 96, "n_test": 20, "batch_size": 32, "optimizer": "adamw",
              "lr": 0.01, "weight_decay": 0.0, "separation": 1000.0, "schedule": "constant",
              "warmup": 0.0, "data": {"n": 96}}
    result = train.train("procedural_lceicnn_sat_exp", config, progress=False)
    before, after = (runs.checkpoint_state_dict(result.checkpoints[i]) for i in (0, -1))
    # three Adam steps of ~lr each, all pushed the same way by the penalty
    assert float(after["excitatory.weight"].mean() - before["excitatory.weight"].mean()) > 0.02
    assert float(after["inhibitory.weight"].mean() - before["inhibitory.weight"].mean()) < -0.02
    assert result.config.separation == 1000.0 and len(result.history) == 2


def test_gradient_clipping_bounds_every_step_and_stays_out_of_the_default_cache_key(tmp_path, monkeypatch):
    monkeypatch.setenv("SIGNSEG_CACHE", str(tmp_path))
    assert "grad_clip" not in runs.TrainConfig().to_dict()
    assert runs.TrainConfig(grad_clip=1.0).to_dict()["grad_clip"] == 1.0
    with pytest.raises(InvalidInputError, match="grad_clip"):
        runs.TrainConfig(grad_clip=-1.0)
    config = {"epochs": 1, "n_train": 32, "n_test": 20, "batch_size": 32, "optimizer": "sgd",
              "lr": 1.0, "momentum": 0.0, "weight_decay": 0.0, "schedule": "constant",
              "warmup": 0.0, "grad_clip": 1e-3, "data": {"n": 32}}
    result = train.train("procedural_lccnn_loop5", config, progress=False)
    before, after = (runs.checkpoint_state_dict(result.checkpoints[i]) for i in (0, -1))
    # one plain SGD step of lr 1 with the gradient's global norm clipped to 1e-3
    moved = torch.sqrt(sum(((after[k].double() - before[k].double()) ** 2).sum()
                           for k in before if before[k].is_floating_point()))
    assert 0 < float(moved) <= 1e-3 * (1 + 1e-4)
