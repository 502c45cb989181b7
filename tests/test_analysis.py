"""Tables of the ablation section: paired sign comparison, control bookkeeping, ablated
accuracy and attribution on a real (small, untrained) zoo model."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from signseg import analysis, data, visualize, zoo
from signseg.ablation import ablated
from signseg.errors import InvalidInputError


@pytest.fixture(scope="module")
def model():
    return zoo.load("procedural_resnet8", pretrained=False, seed=0)


@pytest.fixture(scope="module")
def variants():
    out = {}
    for variant in ("original", "only_fg"):
        split = data.load("procedural", "test", limit=24, seed=3, variant=variant)
        out[variant] = (split.float_images(), split.targets)
    return out


def _per_unit(positive, negative, alpha=1.0):
    rows = [{"unit": u, "sign": "positive", "alpha": alpha, "value": v} for u, v in enumerate(positive)]
    rows += [{"unit": u, "sign": "negative", "alpha": alpha, "value": v} for u, v in enumerate(negative)]
    return pd.DataFrame(rows)


def test_compare_signs_by_hand():
    # differences negative - positive: 0.2, 0.1, 0.2 -> mean 1/6, sd 0.0577, n 3
    table = _per_unit([0.5, 0.6, 0.7], [0.7, 0.7, 0.9])
    table = pd.concat([table, _per_unit([9.0, 9.0, 9.0], [0.0, 0.0, 0.0], alpha=0.5)])
    result = analysis.compare_signs(table, "value", 1.0)
    half = stats.t.ppf(0.975, 2) * np.std([0.2, 0.1, 0.2], ddof=1) / math.sqrt(3)
    assert result["positive"] == pytest.approx(0.6)
    assert result["negative"] == pytest.approx(0.7667, abs=1e-4)
    assert result["difference"] == pytest.approx(1 / 6)
    assert result["ci_low"] == pytest.approx(1 / 6 - half)
    assert result["ci_high"] == pytest.approx(1 / 6 + half)
    assert result["n"] == 3


def test_compare_signs_averages_repeated_rows_and_pairs_only_complete_units():
    table = pd.concat([
        _per_unit([0.4, 0.6], [0.5, 0.9]),
        _per_unit([0.6], [0.7]),  # unit 0 again: means 0.5 and 0.6
        pd.DataFrame([{"unit": 7, "sign": "positive", "alpha": 1.0, "value": 100.0}]),
    ])
    result = analysis.compare_signs(table, "value", 1.0)
    assert result["n"] == 2
    assert result["difference"] == pytest.approx(((0.6 - 0.5) + (0.9 - 0.6)) / 2)


def test_compare_signs_errors():
    with pytest.raises(InvalidInputError, match="'score' column"):
        analysis.compare_signs(_per_unit([1.0], [2.0]), "score", 1.0)
    with pytest.raises(InvalidInputError, match="alpha = 0.3"):
        analysis.compare_signs(_per_unit([1.0], [2.0]), "value", 0.3)


def test_control_rows_start_both_sign_curves():
    table = pd.DataFrame({"unit": [0, 0, 0], "sign": ["control", "positive", "negative"],
                          "alpha": [0.0, 1.0, 1.0], "x": [1.0, 2.0, 3.0]})
    out = analysis.control_under_both_signs(table)
    assert sorted(zip(out["sign"], out["alpha"], out["x"])) == [
        ("negative", 0.0, 1.0), ("negative", 1.0, 3.0), ("positive", 0.0, 1.0), ("positive", 1.0, 2.0)]


def test_accuracy_under_ablation_matches_the_ablated_network(model, variants):
    table = analysis.accuracy_under_ablation(model, variants, ["positive", "negative"], [0.5, 1.0])
    assert len(table) == 2 * 3 * 2  # signs x (0, 0.5, 1) x variants
    preprocessing = model.entry.preprocessing
    for sign in ("positive", "negative"):
        for alpha in (0.0, 0.5, 1.0):
            for variant, (images, targets) in variants.items():
                with ablated(model.model, model.entry.readout, None, sign, alpha), torch.no_grad():
                    predicted = model.model(preprocessing(images)).argmax(1)
                expected = float((predicted == targets).float().mean())
                row = table[(table["sign"] == sign) & (table["alpha"] == alpha)
                            & (table["variant"] == variant)].iloc[0]
                assert row["accuracy"] == pytest.approx(expected)
                assert row["ci_low"] <= row["accuracy"] <= row["ci_high"] and row["n"] == 24
    # the weights were restored after every ablation
    assert torch.equal(model.readout_weight(),
                       zoo.load("procedural_resnet8", pretrained=False, seed=0).readout_weight())
    with pytest.raises(InvalidInputError, match="datasets is empty"):
        analysis.accuracy_under_ablation(model, {}, ["positive"], [1.0])


def test_attribution_share_is_a_fraction_and_alpha_zero_is_the_intact_model(model):
    split = data.load("procedural", "test", limit=8, seed=3)
    table = analysis.attribution_share_under_ablation(
        model, split.float_images(), split.masks, split.targets, ["positive", "negative"], [1.0])
    assert set(zip(table["sign"], table["alpha"])) == {
        ("positive", 0.0), ("positive", 1.0), ("negative", 0.0), ("negative", 1.0)}
    assert ((table["mean"] >= 0) & (table["mean"] <= 1)).all()
    intact = table[table["alpha"] == 0.0]["mean"].to_numpy()
    assert intact[0] == pytest.approx(intact[1])  # alpha 0 removes nothing, whatever the sign


def test_spectra_and_images_of_a_stored_visualization(tmp_path, model):
    config = visualize.VisualizationConfig(
        units=(1, 2), alphas=(0.0, 1.0), generators=("fourier",),
        generator_options={"fourier": {"size": 16}}, restarts=2, iterations=3, popsize=6, seed=0)
    vis = visualize.visualize(model, config, root=tmp_path, progress=False)
    sets = analysis.condition_images(vis)
    assert set(sets) == {(u, s, a) for u in (1, 2)
                         for s, a in (("control", 0.0), ("positive", 1.0), ("negative", 1.0))}
    assert all(images.shape == (2, 3, 16, 16) for images in sets.values())
    spectra = analysis.spectrum_ratio_by_condition(vis)
    assert set(spectra["sign"]) == {"positive", "negative"}
    assert (spectra["ratio"] > 0).all() and (spectra["n"] == 2).all()
