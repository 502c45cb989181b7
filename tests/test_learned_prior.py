"""The learned image prior: code basis, decoder, hidden-layer capture, training, cache, CMA-ES."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from signseg import evolve, generators, prior_training, train, zoo
from signseg.errors import InvalidInputError, WeightsNotFoundError
from signseg.generators.learned import LearnedPrior, build_decoder, fit_code_basis
from signseg.layers import layer_outputs

#: A tiny encoder: a 4-channel AlexNet trained for one epoch on 200 procedural images.
ENCODER = "procedural_alexnet"
ENCODER_CONFIG = {"epochs": 1, "batch_size": 20, "width": 4, "n_train": None, "n_test": 40,
                  "data": {"n": 200}}
#: A tiny prior on the same images: 16 px, 2 epochs of batches of 20.
TINY = {
    "encoder": ENCODER, "encoder_config": ENCODER_CONFIG, "layer": "features",
    "feature_layers": ["features.2", "features"], "dataset": "procedural", "data": {"n": 200},
    "n_train": None, "n_val": 20, "output_size": 16, "width": 16, "code_variance": 0.95,
    "max_code_dim": 24, "epochs": 2, "batch_size": 20, "lr": 5e-3,
}


@pytest.fixture(scope="module")
def encoder_cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A cache folder holding the trained tiny encoder."""
    folder = str(tmp_path_factory.mktemp("encoder-cache"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SIGNSEG_CACHE", folder)
        train.load(ENCODER, ENCODER_CONFIG, progress=False)
    return folder


@pytest.fixture
def encoder(encoder_cache: str, monkeypatch: pytest.MonkeyPatch) -> zoo.ZooModel:
    monkeypatch.setenv("SIGNSEG_CACHE", encoder_cache)
    return zoo.load(ENCODER, train_config=ENCODER_CONFIG)


def _states_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# --------------------------------------------------------------------------- code basis


def _rotation() -> torch.Tensor:
    angle = math.pi / 6
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)


def _axis_points() -> torch.Tensor:
    """Six points +-2 e1, +-1 e2, +-0.5 e3: population variances 4/3, 1/3, 1/12 (16 : 4 : 1)."""
    points = torch.zeros(6, 3, dtype=torch.float64)
    points[0, 0], points[1, 0], points[2, 1], points[3, 1], points[4, 2], points[5, 2] = (
        2, -2, 1, -1, 0.5, -0.5)
    return points


@pytest.mark.parametrize(("variance", "k"), [(0.7, 1), (16 / 21, 1), (0.9, 2), (0.96, 3), (1.0, 3)])
def test_code_dim_is_the_fewest_components_reaching_the_variance(variance: float, k: int) -> None:
    # explained fractions after 1, 2, 3 components: 16/21, 20/21, 1
    basis = fit_code_basis(_axis_points(), code_variance=variance)
    assert basis.code_dim == k
    assert basis.explained == pytest.approx([16 / 21, 20 / 21, 1.0][k - 1])


def test_code_basis_by_hand() -> None:
    rotation, offset = _rotation(), torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64)
    features = offset + _axis_points() @ rotation.T  # the axes rotated, then shifted
    basis = fit_code_basis(features.float(), code_variance=0.9)
    assert basis.code_dim == 2
    assert torch.allclose(basis.mean, offset, atol=1e-6)
    assert torch.allclose(basis.eigenvalues, torch.tensor([4 / 3, 1 / 3, 1 / 12],
                                                          dtype=torch.float64), atol=1e-6)
    assert basis.total_variance == pytest.approx(21 / 12, rel=1e-6)
    # the components are the rotated axes, signs fixed so that the largest entry is positive
    assert torch.allclose(basis.components, rotation[:, :2], atol=1e-6)
    codes = basis.to_codes(features.float()).double()
    expected = torch.zeros(6, 2, dtype=torch.float64)
    expected[0, 0], expected[1, 0] = 2 / math.sqrt(4 / 3), -2 / math.sqrt(4 / 3)
    expected[2, 1], expected[3, 1] = 1 / math.sqrt(1 / 3), -1 / math.sqrt(1 / 3)
    assert torch.allclose(codes, expected, atol=1e-5)
    # whitened: mean 0, identity population covariance, root mean square 1
    assert torch.allclose(codes.T @ codes / 6, torch.eye(2, dtype=torch.float64), atol=1e-5)
    # features from codes: the projection onto the two kept axes
    projected = offset + (_axis_points() * torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64)) @ rotation.T
    assert torch.allclose(basis.to_features(basis.to_codes(features.float())).double(), projected,
                          atol=1e-5)


def test_code_basis_caps_the_dimension_and_skips_zero_variance() -> None:
    features = torch.tensor([[1.0, 2.0], [3.0, 6.0], [-1.0, -2.0]])  # rank 1
    assert fit_code_basis(features, code_variance=1.0).code_dim == 1
    assert fit_code_basis(_axis_points(), code_variance=1.0, max_code_dim=2).code_dim == 2


@pytest.mark.parametrize(
    ("features", "options", "match"),
    [(torch.ones(5, 3), {}, "constant"), (torch.zeros(1, 3), {}, "at least 2"),
     (torch.full((3, 2), float("nan")), {}, "NaN"), (torch.randn(4, 2), {"code_variance": 0}, "code_variance"),
     (torch.randn(4, 2), {"max_code_dim": 0}, "max_code_dim")],
)  # fmt: skip
def test_code_basis_rejects_bad_input(features: torch.Tensor, options: dict, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        fit_code_basis(features, **options)


def test_code_basis_round_trips_through_a_state_dict() -> None:
    basis = fit_code_basis(_axis_points(), 0.9)
    again = type(basis).from_state_dict(basis.state_dict())
    assert torch.equal(again.components, basis.components) and again.code_dim == 2


# --------------------------------------------------------------------------- decoder


@pytest.mark.parametrize("upsample", ["nearest", "deconv"])
@pytest.mark.parametrize(("size", "steps"), [(4, 0), (8, 1), (32, 3), (64, 4)])
def test_decoder_shapes(size: int, steps: int, upsample: str) -> None:
    decoder = build_decoder(10, size, width=32, upsample=upsample)
    images = decoder(torch.randn(3, 10))
    assert images.shape == (3, 3, size, size)
    assert images.min() >= 0 and images.max() <= 1
    kind = nn.ConvTranspose2d if upsample == "deconv" else nn.Conv2d
    layers = [m for m in decoder if isinstance(m, kind)][:steps]  # the last Conv2d is to_rgb
    assert len(layers) == steps and all(m.stride == (2 if upsample == "deconv" else 1,) * 2
                                        for m in layers)
    assert [m.out_channels for m in layers] == [max(32 >> (i + 1), 8) for i in range(steps)]
    assert sum(isinstance(m, nn.Upsample) for m in decoder) == (steps if upsample == "nearest" else 0)


@pytest.mark.parametrize("size", [3, 24, 48, 0])
def test_decoder_sizes_must_be_four_times_a_power_of_two(size: int) -> None:
    with pytest.raises(InvalidInputError, match="power of two"):
        build_decoder(10, size, width=8)


def test_learned_prior_codes_and_describe() -> None:
    basis = fit_code_basis(_axis_points(), 0.9)
    provenance = {"encoder": "enc", "layer": "features.3", "dataset": "procedural", "n_train": 6}
    prior = LearnedPrior(basis, 8, 8, provenance=provenance, default_sigma=1.25)
    codes = prior.init_codes(1000, seed=2)
    assert codes.shape == (1000, 2) and torch.equal(codes, prior.init_codes(1000, seed=2))
    assert codes.std().item() == pytest.approx(0.1 * 1.25, rel=0.05)
    samples = prior.sample_codes(1000, seed=2)
    assert samples.std().item() == pytest.approx(math.hypot(0.125, 1.25), rel=0.05)
    assert prior(codes[:4]).shape == (4, 3, 8, 8)
    text = prior.describe()
    assert all(word in text for word in ("enc", "'features.3'", "procedural", "2-d", "8x8"))
    assert prior.trained_with == ("enc",)  # its encoder may not judge its naturalness
    assert LearnedPrior(basis, 8, 8).trained_with == ()
    with pytest.raises(InvalidInputError, match="no encoder"):
        prior.encode(torch.rand(1, 3, 8, 8))


# --------------------------------------------------------------------------- hidden layers


def test_layer_outputs_are_taken_before_in_place_activations_and_stop_early() -> None:
    linear = nn.Linear(2, 2)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, -1.0]]))
        linear.bias.zero_()

    class Forbidden(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise AssertionError("the pass must stop after the last requested layer")

    network = nn.Sequential(linear, nn.ReLU(inplace=True), Forbidden())
    inputs = torch.tensor([[1.0, 2.0]], requires_grad=True)
    before, after = layer_outputs(network, inputs, ["0", "1"])
    assert torch.equal(before, torch.tensor([[1.0, -2.0]]))  # not rectified by the in-place ReLU
    assert torch.equal(after, torch.tensor([[1.0, 0.0]]))
    (before.sum() + after.sum()).backward()
    assert torch.equal(inputs.grad, torch.tensor([[2.0, -1.0]]))
    with pytest.raises(InvalidInputError, match="no module 'fc'"):
        layer_outputs(network, inputs, ["fc"])


# --------------------------------------------------------------------------- training


def test_training_is_deterministic_cached_and_records_code_statistics(
    encoder: zoo.ZooModel, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = []
    for folder in ("a", "b"):
        monkeypatch.setenv("SIGNSEG_CACHE", str(tmp_path / folder))
        results.append(prior_training.train_prior(TINY, encoder=encoder, progress=False))
    a, b = results
    assert not a.cached and [p.name for p in a.checkpoints] == [
        "epoch_000.pt", "epoch_001.pt", "epoch_002.pt"]
    for path_a, path_b in zip(a.checkpoints, b.checkpoints):
        assert _states_equal(train.checkpoint_state_dict(path_a), train.checkpoint_state_dict(path_b))
    history = a.history
    assert history["epoch"].tolist() == [0, 1, 2] and math.isnan(history["loss"][0])
    assert history["val_feature_loss"].iloc[-1] < history["val_feature_loss"].iloc[0]  # it learned
    # the recorded statistics: whitened codes, and the generator's sigma and init from them
    meta = a.meta
    assert meta["code_dim"] == a.basis.code_dim <= 24 and meta["n_train"] == 200
    assert meta["feature_dim"] == a.basis.mean.numel() == 4 * 4 * 4 * 2 * 2
    assert meta["code_rms"] == pytest.approx(1.0, abs=1e-6)
    assert meta["code_std"] == pytest.approx([1.0] * meta["code_dim"], abs=1e-5)
    prior = prior_training.load_prior(TINY, encoder=encoder, progress=False)
    assert prior.code_dim == meta["code_dim"] and prior.default_sigma == meta["code_rms"]
    assert prior.init_codes(4000).std().item() == pytest.approx(0.1 * prior.default_sigma, rel=0.05)
    assert _states_equal(prior.decoder.state_dict(), train.checkpoint_state_dict(a.checkpoints[-1]))
    assert not any(p.requires_grad for p in prior.parameters()) and not prior.training

    def no_training(*args, **kwargs):
        raise AssertionError("a finished prior must be reused, not retrained")

    monkeypatch.setattr(prior_training, "_train_epoch", no_training)
    monkeypatch.setattr(prior_training, "encoder_codes", no_training)
    again = prior_training.train_prior(TINY, encoder=encoder, progress=False)
    assert again.cached and again.checkpoints == b.checkpoints


def test_interrupted_training_resumes_to_the_same_weights(
    encoder: zoo.ZooModel, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = {**TINY, "epochs": 3}
    monkeypatch.setenv("SIGNSEG_CACHE", str(tmp_path / "full"))
    full = prior_training.train_prior(config, encoder=encoder, progress=False)

    class Interrupt(Exception):
        pass

    def stop_after_first_epoch(epoch, row):
        if epoch == 1:
            raise Interrupt

    monkeypatch.setenv("SIGNSEG_CACHE", str(tmp_path / "resumed"))
    with pytest.raises(Interrupt):
        prior_training.train_prior(config, encoder=encoder, progress=False,
                                   callback=stop_after_first_epoch)
    resolved = prior_training.PriorConfig.from_dict(config)
    assert prior_training.load_prior_result(resolved, encoder) is None
    seen = []
    resumed = prior_training.train_prior(config, encoder=encoder, progress=False,
                                         callback=lambda e, row: seen.append(e))
    assert seen == [2, 3]
    for path_a, path_b in zip(full.checkpoints, resumed.checkpoints):
        assert _states_equal(train.checkpoint_state_dict(path_a), train.checkpoint_state_dict(path_b))
    columns = [c for c in full.history.columns if c != "seconds"]
    assert full.history[columns].equals(resumed.history[columns])


def test_registry_loads_the_cached_prior_and_encodes(encoder_cache: str, monkeypatch,
                                                     tmp_path) -> None:
    monkeypatch.setenv("SIGNSEG_CACHE", encoder_cache)
    assert "learned" in generators.names()
    with pytest.raises(WeightsNotFoundError, match="train_prior"):
        generators.load("learned", config=TINY, train_if_missing=False)
    prior = generators.load("learned", config=TINY, progress=False)
    assert isinstance(prior, LearnedPrior) and prior.output_size == 16
    assert "procedural_alexnet" in prior.describe() and "'features'" in prior.describe()
    from signseg import data

    images = data.load("procedural", "test", n=200).images[:8].float() / 255
    codes = prior.encode(images)
    result = prior_training.load_prior_result(prior_training.PriorConfig.from_dict(TINY),
                                              prior.encoder)
    assert codes.shape == (8, prior.code_dim)
    assert torch.allclose(codes, result.basis.to_codes(
        layer_outputs(prior.encoder.model, prior.encoder.entry.preprocessing(images),
                      ["features"])[0].flatten(1)), atol=1e-5)
    assert torch.equal(prior.reconstruct(images), prior(codes))
    with pytest.raises(InvalidInputError, match="no module"):
        generators.load("learned", config={**TINY, "layer": "classifier.fc9"}, progress=False)


def test_config_rejects_unknown_fields_and_bad_values() -> None:
    with pytest.raises(InvalidInputError, match="did you mean 'epochs'"):
        prior_training.PriorConfig.from_dict({"epoch": 3})
    with pytest.raises(InvalidInputError, match="feature_layers must be a list"):
        prior_training.PriorConfig(feature_layers="features")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="not both 0"):
        prior_training.PriorConfig(pixel_weight=0, feature_weight=0)


# --------------------------------------------------------------------------- search


def test_cma_es_raises_a_units_score_on_the_learned_prior(encoder_cache: str, monkeypatch) -> None:
    monkeypatch.setenv("SIGNSEG_CACHE", encoder_cache)
    prior = generators.load("learned", config=TINY, progress=False)
    classifier = prior.encoder

    def unit_score(codes: torch.Tensor) -> torch.Tensor:
        return classifier.logits(prior(codes))[:, 1]

    x0 = prior.init_codes(2, seed=0)
    start = unit_score(x0)
    result = evolve.minimize(unit_score, x0, prior.default_sigma, iterations=6, maximize=True,
                             seed=[1, 2], progress=False)
    assert (result.best_f > start).all()
    assert torch.allclose(unit_score(result.best_x).double(), result.best_f.double(), atol=1e-4)
