"""The visualization protocol on a real (small, untrained) zoo model and the Fourier prior."""

import numpy as np
import pandas as pd
import pytest
import torch

from signseg import generators, zoo
from signseg.errors import InvalidInputError
from signseg.store import ResultsStore
from signseg.visualize import VisualizationConfig, job_table, visualize


@pytest.fixture(scope="module")
def model():
    return zoo.load("procedural_resnet8", pretrained=False, seed=0)


def _config(**overrides):
    values = dict(units=(0, 3), alphas=(0.0, 0.5, 1.0), generators=("fourier",),
                  generator_options={"fourier": {"size": 16}}, restarts=2, iterations=6,
                  popsize=8, batch_runs=7, seed=1)
    values.update(overrides)
    return VisualizationConfig(**values)


def test_job_table_shares_the_control():
    jobs = job_table(_config())
    # per unit: control + 2 signs x 2 non-zero alphas = 5 conditions, x 2 restarts
    assert len(jobs) == 2 * 5 * 2
    assert (jobs[jobs["sign"] == "control"]["alpha"] == 0.0).all()
    assert set(jobs["sign"]) == {"control", "positive", "negative"}


def test_runs_are_stored_consistent_and_resumable(tmp_path, model, monkeypatch):
    config = _config()
    calls = {"n": 0}
    original = ResultsStore.write

    def interrupted(self, rows, arrays=None):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # the second lockstep batch never lands
        return original(self, rows, arrays)

    monkeypatch.setattr(ResultsStore, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        visualize(model, config, root=tmp_path, progress=False)
    monkeypatch.undo()
    result = visualize(model, config, root=tmp_path, progress=False)
    table = result.table()
    assert len(table) == 20 and not table.duplicated(["unit", "sign", "alpha", "restart"]).any()

    # the stored best activation is the ablated logit of the stored best code's image
    generator = generators.load("fourier", size=16)
    readout = model.readout_layer()
    from signseg.ablation import ablate

    for _, row in table.sample(4, random_state=0).iterrows():
        code = result.store.arrays("code", pd.DataFrame([row]))
        features = model.features(generator(torch.as_tensor(code)))
        weight = readout.weight.detach()[row["unit"]]
        if row["sign"] != "control":
            weight = ablate(weight, row["sign"], row["alpha"])
        activation = features[0] @ weight + readout.bias.detach()[row["unit"]]
        assert activation.item() == pytest.approx(row["best_activation"], rel=1e-4, abs=1e-4)

    images = result.images()
    assert images.dtype == np.uint8 and images.shape == (20, 16, 16, 3)
    assert result.trajectories().shape == (20, 6)
    # trajectories are best-so-far: never decreasing
    assert (np.diff(result.trajectories(), axis=1) >= -1e-6).all()
    best = result.best_per_condition()
    assert len(best) == 10


def test_removing_all_positive_weights_lowers_the_reachable_activation(tmp_path, model):
    config = _config(units=(2,), alphas=(0.0, 1.0), restarts=2, iterations=8)
    table = visualize(model, config, root=tmp_path, progress=False).table()
    by_condition = table.groupby("sign")["best_activation"].max()
    # with every positive input weight removed, the logit is a sum of non-positive terms on
    # post-ReLU (non-negative) features plus the bias: it can never exceed the bias.
    bias = model.readout_layer().bias[2].item()
    assert by_condition["positive"] <= bias + 1e-5
    assert by_condition["control"] > by_condition["positive"]


def test_bad_configs():
    with pytest.raises(InvalidInputError, match=r"\[0, 1\]"):
        _config(alphas=(0.0, 1.5))
    with pytest.raises(InvalidInputError, match="unknown visualization settings"):
        VisualizationConfig.from_dict({"units": [0], "alphas": [0.0], "colour": "red"})


def test_results_are_keyed_by_the_weights(tmp_path, model):
    from signseg.cache import tensors_digest

    config = _config(units=(0,), alphas=(0.0,), restarts=1, iterations=2)
    first = visualize(model, config, root=tmp_path, progress=False)
    changed = zoo.load("procedural_resnet8", pretrained=False, seed=1)  # other weights, same name
    assert tensors_digest(changed.model.state_dict()) != tensors_digest(model.model.state_dict())
    second = visualize(changed, config, root=tmp_path, progress=False)
    assert second.store.path != first.store.path
    assert visualize(model, config, root=tmp_path, progress=False).store.path == first.store.path
    state = {"w": torch.tensor([1.0, 2.0])}
    assert tensors_digest(state) == tensors_digest({"w": torch.tensor([1.0, 2.0])})
    assert tensors_digest(state) != tensors_digest({"w": torch.tensor([1.0, 2.5])})
    assert tensors_digest(state) != tensors_digest({"v": torch.tensor([1.0, 2.0])})
