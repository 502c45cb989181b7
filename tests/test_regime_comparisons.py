"""Regime comparisons on tables worked by hand (signseg.regimes)."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from signseg import regimes
from signseg.errors import InvalidInputError


def _similarity(values: dict, ceiling: float, embedders=("a", "b")) -> pd.DataFrame:
    """A similarity_by_condition-style table: (unit, sign, alpha) -> similarity, two embedders
    that disagree symmetrically (+-0.01) so their mean is the given value."""
    rows = []
    for (unit, sign, alpha), value in values.items():
        for k, embedder in enumerate(embedders):
            rows.append({"unit": unit, "sign": sign, "alpha": alpha, "embedder": embedder,
                         "similarity": value + (0.01 if k == 0 else -0.01)})
    for unit in {u for u, _, _ in values}:
        for embedder in embedders:
            rows.append({"unit": unit, "sign": "ceiling", "alpha": 0.0, "embedder": embedder,
                         "similarity": ceiling})
    return pd.DataFrame(rows)


def _network(pos: dict, neg: dict, ceiling: float = 0.8) -> pd.DataFrame:
    values = {}
    for unit in pos:
        for alpha, p, n in zip((0.5, 1.0), pos[unit], neg[unit]):
            values[(unit, "positive", alpha)] = p
            values[(unit, "negative", alpha)] = n
    return _similarity(values, ceiling)


def test_per_unit_mean_over_embedders_and_delta_to_ceiling():
    per_unit = regimes.similarity_per_unit({"relu": _network({0: (0.6, 0.4)}, {0: (0.7, 0.7)})})
    pos = per_unit[(per_unit["sign"] == "positive")].set_index("alpha")["similarity"]
    assert pos.to_dict() == pytest.approx({0.5: 0.6, 1.0: 0.4})
    delta = regimes.delta_to_ceiling(per_unit).set_index(["sign", "alpha"])["delta"]
    assert delta[("positive", 1.0)] == pytest.approx(0.4 - 0.8)
    assert delta[("negative", 0.5)] == pytest.approx(0.7 - 0.8)
    assert set(delta.index.get_level_values(0)) == {"positive", "negative"}


def test_segregation_gap_by_hand():
    # unit 0: gaps (0.7-0.6, 0.7-0.4) -> mean 0.2; unit 1: (0.5-0.5, 0.6-0.4) -> 0.1;
    # unit 2: (0.8-0.5, 0.6-0.6) -> 0.15. Mean 0.15, t interval over three units.
    relu = _network({0: (0.6, 0.4), 1: (0.5, 0.4), 2: (0.5, 0.6)},
                    {0: (0.7, 0.7), 1: (0.5, 0.6), 2: (0.8, 0.6)})
    tanh = _network({0: (0.6, 0.6), 1: (0.5, 0.5), 2: (0.5, 0.5)},
                    {0: (0.6, 0.6), 1: (0.5, 0.5), 2: (0.5, 0.5)})
    per_unit = regimes.similarity_per_unit({"relu": relu, "tanh": tanh})
    gaps = regimes.segregation_gap(per_unit).set_index("network")
    assert gaps.loc["relu", "gap"] == pytest.approx(0.15)
    half = stats.t.ppf(0.975, 2) * np.std([0.2, 0.1, 0.15], ddof=1) / np.sqrt(3)
    assert gaps.loc["relu", "ci_low"] == pytest.approx(0.15 - half)
    assert gaps.loc["relu", "ci_high"] == pytest.approx(0.15 + half)
    assert gaps.loc["tanh", "gap"] == pytest.approx(0.0, abs=1e-12)
    assert list(gaps.index) == ["relu", "tanh"] and gaps.loc["relu", "n"] == 3
    paired = regimes.gap_difference(per_unit, "relu", "tanh")
    assert paired["difference"] == pytest.approx(0.15) and paired["n"] == 3
    assert paired["ci_low"] == pytest.approx(0.15 - half)


def test_gap_needs_both_signs_and_known_networks():
    per_unit = regimes.similarity_per_unit({"relu": _network({0: (0.6, 0.4)}, {0: (0.7, 0.7)})})
    with pytest.raises(InvalidInputError, match="both signs"):
        regimes.segregation_gap(per_unit[per_unit["sign"] != "negative"])
    with pytest.raises(InvalidInputError, match="'tanh' is not in the table"):
        regimes.gap_difference(per_unit, "relu", "tanh")
    with pytest.raises(InvalidInputError, match="ceiling"):
        regimes.delta_to_ceiling(per_unit[per_unit["sign"] != "ceiling"])


def test_robustness_correlation_matches_scipy_over_network_unit_pairs():
    rng = np.random.default_rng(0)
    epsilon = {"eps0": 0.0, "eps1": 1.0, "eps4": 4.0, "eps8": 8.0}
    tables = {}
    for k, network in enumerate(epsilon):
        pos = {u: tuple(0.7 - 0.05 * k + 0.01 * rng.standard_normal(2)) for u in range(3)}
        neg = {u: (0.7 - 0.02 * k * (u + 1),) * 2 for u in range(3)}
        tables[network] = _network(pos, neg)
    delta = regimes.delta_to_ceiling(regimes.similarity_per_unit(tables))
    table = regimes.robustness_correlation(delta, epsilon, n_boot=200).set_index("alpha")
    assert list(table.index) == [0.5, 1.0]
    for sign in ("positive", "negative"):
        cell = delta[(delta["alpha"] == 1.0) & (delta["sign"] == sign)]
        expected = stats.spearmanr(cell["network"].map(epsilon), cell["delta"])
        assert table.loc[1.0, f"{sign}_rho"] == pytest.approx(expected.statistic)
        assert table.loc[1.0, f"{sign}_p"] == pytest.approx(expected.pvalue)
        assert table.loc[1.0, f"{sign}_ci_low"] <= table.loc[1.0, f"{sign}_rho"] <= table.loc[1.0, f"{sign}_ci_high"]
    assert table.loc[1.0, "n"] == 12
    # similarity falls steadily with epsilon for the positive sign: a strong negative rho
    assert table.loc[1.0, "positive_rho"] < -0.8


def test_robustness_correlation_refuses_missing_or_single_epsilon():
    delta = regimes.delta_to_ceiling(regimes.similarity_per_unit(
        {"a": _network({0: (0.6, 0.4)}, {0: (0.7, 0.7)}), "b": _network({0: (0.6, 0.4)}, {0: (0.7, 0.7)})}))
    with pytest.raises(InvalidInputError, match=r"no epsilon given for networks \['b'\]"):
        regimes.robustness_correlation(delta, {"a": 0.0})
    with pytest.raises(InvalidInputError, match="at least two epsilons"):
        regimes.robustness_correlation(delta, {"a": 1.0, "b": 1.0})


def test_report_sentences_follow_the_intervals():
    from signseg import report

    gaps = pd.DataFrame([{"network": "relu", "gap": 0.1, "ci_low": 0.05, "ci_high": 0.15, "n": 3}])
    text = report.segregation_gaps(gaps, {"ReLU - Tanh": {"difference": 0.08, "ci_low": -0.01,
                                                          "ci_high": 0.17, "n": 3}})
    assert "relu +0.100 [+0.050, +0.150]" in text and "includes zero" in text
    table = pd.DataFrame([{"alpha": 1.0, "positive_rho": -0.5, "positive_p": 0.01,
                           "positive_ci_low": -0.8, "positive_ci_high": -0.2, "negative_rho": 0.1,
                           "negative_p": 0.6, "negative_ci_low": -0.3, "negative_ci_high": 0.5, "n": 40}])
    text = report.robustness_trend(table, 1.0)
    assert "grows with robustness for positive ablation" in text and "over 40" in text
    table.loc[0, ["positive_ci_high"]] = 0.1
    assert "no trend is established" in report.robustness_trend(table, 1.0)


def test_accuracy_table_never_scores_a_network_against_another_label_set():
    from types import SimpleNamespace

    import torch

    imagenet = SimpleNamespace(entry=SimpleNamespace(num_classes=1000, regime="adversarial", epsilon=4.0),
                               accuracy=63.86)
    table = regimes.accuracy_table({"resnet50_linf4": imagenet}, torch.zeros(3, 3, 8, 8, dtype=torch.uint8),
                                   torch.tensor([0, 1, 2]), 2.0, n_classes=200)
    row = table.iloc[0]
    assert row["top1"] == 63.86 and row["trained_epsilon"] == 4.0 and row["n"] == 0
    assert np.isnan(row["clean"]) and np.isnan(row["robust"])
