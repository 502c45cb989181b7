"""Confidence intervals, bootstrap and correlations (signseg.metrics.stats)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from signseg.errors import InvalidInputError
from signseg.metrics.stats import (
    _rowwise_correlation,
    bootstrap_ci,
    contrast_table,
    correlation_with_ci,
    group_contrast,
    mean_ci,
    permutation_test,
    summarize,
)

T_975_DF1 = 12.706204736174698  # Student t quantile 0.975 with 1 degree of freedom (tables)
T_975_DF2 = 4.302652729749464  # ... with 2 degrees of freedom


def test_t_interval_of_1_2_3_by_hand() -> None:
    # mean 2, sample sd 1, sem 1/sqrt(3)
    mean, low, high = mean_ci([1.0, 2.0, 3.0])
    half = T_975_DF2 / math.sqrt(3.0)
    assert mean == 2.0
    assert low == pytest.approx(2.0 - half, abs=1e-12)
    assert high == pytest.approx(2.0 + half, abs=1e-12)


def test_t_interval_matches_scipy_and_narrows_with_confidence() -> None:
    values = np.random.default_rng(3).normal(1.0, 2.0, size=25)
    mean, low, high = mean_ci(values, confidence=0.9)
    ref = stats.t.interval(0.9, df=24, loc=values.mean(), scale=stats.sem(values))
    assert (low, high) == pytest.approx(ref, abs=1e-12)
    _, low95, high95 = mean_ci(values, confidence=0.95)
    assert low95 < low and high95 > high


def test_single_value_has_no_interval_and_constant_values_zero_width() -> None:
    mean, low, high = mean_ci([4.5])
    assert mean == 4.5 and math.isnan(low) and math.isnan(high)
    assert mean_ci([2.0, 2.0, 2.0]) == (2.0, 2.0, 2.0)
    assert mean_ci([2.0, 2.0, 2.0], method="bootstrap") == (2.0, 2.0, 2.0)


@pytest.mark.parametrize("bad", [[], [1.0, np.nan], [[1.0, 2.0], [3.0, 4.0]]])
def test_mean_ci_rejects_bad_values(bad: list) -> None:
    with pytest.raises(InvalidInputError):
        mean_ci(bad)


def test_mean_ci_rejects_bad_options() -> None:
    with pytest.raises(InvalidInputError, match="method"):
        mean_ci([1.0, 2.0], method="normal")
    with pytest.raises(InvalidInputError, match="confidence"):
        mean_ci([1.0, 2.0], confidence=95)


def test_bootstrap_mean_ci_agrees_with_scipy_percentile_bootstrap() -> None:
    values = np.random.default_rng(0).exponential(1.0, size=40)
    mean, low, high = mean_ci(values, method="bootstrap", n_boot=20000, seed=1)
    ref = stats.bootstrap((values,), np.mean, n_resamples=20000, method="percentile",
                          random_state=np.random.default_rng(2)).confidence_interval
    assert mean == pytest.approx(values.mean())
    assert low == pytest.approx(ref.low, abs=0.02)
    assert high == pytest.approx(ref.high, abs=0.02)
    # deterministic by seed, different for another seed
    assert mean_ci(values, method="bootstrap", n_boot=500, seed=7) == mean_ci(
        values, method="bootstrap", n_boot=500, seed=7
    )
    assert mean_ci(values, method="bootstrap", n_boot=500, seed=7) != mean_ci(
        values, method="bootstrap", n_boot=500, seed=8
    )


def test_bootstrap_ci_paired_difference_is_exact_for_a_constant_shift() -> None:
    a = np.random.default_rng(1).normal(size=12)
    estimate, low, high = bootstrap_ci(lambda x, y: float((x - y).mean()), a, a + 1.0)
    assert estimate == pytest.approx(-1.0)
    assert low == pytest.approx(-1.0) and high == pytest.approx(-1.0)
    # unpaired resampling of the same data mixes the pairs: the interval widens
    _, low_u, high_u = bootstrap_ci(lambda x, y: float(x.mean() - y.mean()), a, a + 1.0,
                                    paired=False)
    assert low_u < -1.1 and high_u > -0.9


def test_bootstrap_ci_unpaired_accepts_different_lengths_paired_does_not() -> None:
    estimate, low, high = bootstrap_ci(lambda x, y: float(x.mean() - y.mean()), [2.0], [5.0, 5.0],
                                       paired=False, n_boot=50)
    assert (estimate, low, high) == (-3.0, -3.0, -3.0)
    with pytest.raises(InvalidInputError, match="equal length"):
        bootstrap_ci(lambda x, y: 0.0, [1.0, 2.0], [1.0])


def test_bootstrap_ci_agrees_with_scipy_paired_bootstrap_of_a_correlation() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=30)
    y = 0.6 * x + rng.normal(size=30)

    def pearson(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.corrcoef(a, b)[0, 1])

    estimate, low, high = bootstrap_ci(pearson, x, y, n_boot=4000, seed=0)
    ref = stats.bootstrap((x, y), pearson, paired=True, vectorized=False, n_resamples=4000,
                          method="percentile", random_state=np.random.default_rng(1))
    assert estimate == pytest.approx(stats.pearsonr(x, y).statistic)
    assert low == pytest.approx(ref.confidence_interval.low, abs=0.04)
    assert high == pytest.approx(ref.confidence_interval.high, abs=0.04)


def test_rowwise_correlation_equals_scipy_row_by_row_including_ties() -> None:
    rng = np.random.default_rng(9)
    x = rng.integers(0, 4, size=(50, 8)).astype(float)  # many ties
    y = x + rng.integers(0, 3, size=(50, 8))
    for method, reference in (("spearman", stats.spearmanr), ("pearson", stats.pearsonr)):
        rows = _rowwise_correlation(x, y, method)
        for k in range(x.shape[0]):
            if np.ptp(x[k]) == 0 or np.ptp(y[k]) == 0:
                assert math.isnan(rows[k])
            else:
                assert rows[k] == pytest.approx(reference(x[k], y[k]).statistic, abs=1e-12)


@pytest.mark.parametrize("method", ["spearman", "pearson"])
def test_correlation_matches_scipy_point_estimate_and_p(method: str) -> None:
    rng = np.random.default_rng(11)
    x = rng.normal(size=15)
    y = x + rng.normal(size=15)
    result = correlation_with_ci(x, y, method=method)
    ref = stats.spearmanr(x, y) if method == "spearman" else stats.pearsonr(x, y)
    assert result["r"] == pytest.approx(ref.statistic, abs=1e-12)
    assert result["p"] == pytest.approx(ref.pvalue, rel=1e-10)
    assert result["n"] == 15 and result["method"] == method
    assert result["ci_low"] < result["r"] < result["ci_high"]


def test_correlation_ci_agrees_with_scipy_bootstrap() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=25)
    y = 0.5 * x + rng.normal(size=25)
    result = correlation_with_ci(x, y, method="spearman", n_boot=2000, seed=0)
    ref = stats.bootstrap((x, y), lambda a, b: stats.spearmanr(a, b).statistic, paired=True,
                          vectorized=False, n_resamples=2000, method="percentile",
                          random_state=np.random.default_rng(3)).confidence_interval
    assert result["ci_low"] == pytest.approx(ref.low, abs=0.05)
    assert result["ci_high"] == pytest.approx(ref.high, abs=0.05)


def test_perfect_monotone_relation_gives_spearman_one_with_degenerate_interval() -> None:
    x = np.arange(1.0, 11.0)
    up = correlation_with_ci(x, x**3, method="spearman")
    assert up["r"] == pytest.approx(1.0) and up["p"] < 1e-10
    assert up["ci_low"] == pytest.approx(1.0) and up["ci_high"] == pytest.approx(1.0)
    down = correlation_with_ci(x, -np.exp(x), method="spearman")
    assert down["r"] == pytest.approx(-1.0) and down["ci_high"] == pytest.approx(-1.0)
    # the cubic is monotone but not linear: Pearson below 1
    assert correlation_with_ci(x, x**3, method="pearson")["r"] < 0.95


def test_correlation_counts_degenerate_resamples() -> None:
    # resamples that miss the single 1 have a constant x: probability (4/5)^5 ~ 0.33
    result = correlation_with_ci([0, 0, 0, 0, 1], [1, 2, 3, 4, 5], n_boot=2000, seed=0)
    assert 500 < result["n_degenerate"] < 800
    assert np.isfinite(result["ci_low"]) and np.isfinite(result["ci_high"])


def test_correlation_constant_input_is_nan_with_a_warning() -> None:
    with pytest.warns(RuntimeWarning, match="constant"):
        result = correlation_with_ci([1.0, 2.0, 3.0, 4.0], [5.0, 5.0, 5.0, 5.0])
    assert all(math.isnan(result[k]) for k in ("r", "p", "ci_low", "ci_high"))


def test_correlation_rejects_too_few_unequal_or_nan_inputs() -> None:
    with pytest.raises(InvalidInputError, match="at least 3"):
        correlation_with_ci([1.0, 2.0], [2.0, 1.0])
    with pytest.raises(InvalidInputError, match="equal length"):
        correlation_with_ci([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(InvalidInputError, match="NaN"):
        correlation_with_ci([1.0, 2.0, np.nan], [1.0, 2.0, 3.0])
    with pytest.raises(InvalidInputError, match="method"):
        correlation_with_ci([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], method="kendall")


def test_correlation_emits_no_warning_for_regular_input() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        correlation_with_ci([1.0, 3.0, 2.0, 5.0, 4.0], [2.0, 1.0, 4.0, 3.0, 6.0], n_boot=300)


def test_summarize_averages_within_units_then_intervals_over_units() -> None:
    frame = pd.DataFrame({
        "sign": ["pos", "pos", "pos", "neg", "neg"],
        "unit": ["a", "a", "b", "a", "b"],
        "value": [1.0, 3.0, 4.0, 5.0, 5.0],
    })
    table = summarize(frame, "value", by="sign", nested="unit").set_index("sign")
    # pos: unit means 2 and 4 -> mean 3, sd sqrt(2), sem 1, t(1) quantile
    assert table.loc["pos", "mean"] == 3.0 and table.loc["pos", "n"] == 2
    assert table.loc["pos", "ci_low"] == pytest.approx(3.0 - T_975_DF1)
    assert table.loc["pos", "ci_high"] == pytest.approx(3.0 + T_975_DF1)
    assert (table.loc["neg", "ci_low"], table.loc["neg", "ci_high"]) == (5.0, 5.0)


def test_summarize_nested_levels_are_averaged_hierarchically() -> None:
    frame = pd.DataFrame({
        "alpha": [0.5] * 4,
        "network": ["A", "A", "A", "B"],
        "unit": [1, 1, 2, 1],
        "value": [0.0, 2.0, 3.0, 10.0],
    })
    row = summarize(frame, "value", by="alpha", nested=("network", "unit")).iloc[0]
    # A: units (0+2)/2 = 1 and 3 -> 2; B: 10; over networks: 6 (pooled rows would give 3.75)
    assert row["mean"] == 6.0 and row["n"] == 2
    with pytest.raises(InvalidInputError, match="columns"):
        summarize(frame, "value", by="sign")
    frame.loc[1, "value"] = np.nan
    with pytest.raises(InvalidInputError, match="dropna"):
        summarize(frame, "value", by="alpha", nested=("network", "unit"))


def scipy_permutation_p(a, b, alternative: str, n_resamples: int) -> float:
    return stats.permutation_test(
        (a, b), lambda x, y, axis: x.mean(axis=axis) - y.mean(axis=axis), vectorized=True,
        n_resamples=n_resamples, alternative=alternative, random_state=np.random.default_rng(5),
    ).pvalue


def test_permutation_test_enumerates_the_six_splits_of_1_2_versus_3_4() -> None:
    # a-means minus b-means of the 6 splits: -2, -1, 0, 0, 1, 2; observed -2
    assert permutation_test([1.0, 2.0], [3.0, 4.0], alternative="less") == (-2.0, 1 / 6)
    assert permutation_test([1.0, 2.0], [3.0, 4.0], alternative="greater") == (-2.0, 1.0)
    difference, p = permutation_test([1.0, 2.0], [3.0, 4.0])
    assert difference == -2.0 and p == pytest.approx(1 / 3, abs=1e-15)
    # ties count: observed 0 for a = [1, 4], b = [2, 3]; splits at most 0: 4 of 6
    assert permutation_test([1.0, 4.0], [2.0, 3.0], alternative="less")[1] == pytest.approx(4 / 6)


@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
def test_exact_permutation_test_equals_scipy(alternative: str) -> None:
    rng = np.random.default_rng(4)
    a, b = rng.normal(0.8, 1.0, size=5), rng.normal(0.0, 1.0, size=6)  # C(11, 5) = 462 splits
    difference, p = permutation_test(a, b, alternative=alternative)
    assert difference == pytest.approx(a.mean() - b.mean(), abs=1e-12)
    assert p == pytest.approx(scipy_permutation_p(a, b, alternative, 10000), abs=1e-12)


@pytest.mark.parametrize("alternative", ["two-sided", "greater"])
def test_random_permutation_test_agrees_with_scipy_within_monte_carlo_error(alternative) -> None:
    rng = np.random.default_rng(6)
    a, b = rng.normal(0.25, 1.0, size=40), rng.normal(0.0, 1.0, size=35)
    reference = scipy_permutation_p(a, b, alternative, 100000)
    _, p = permutation_test(a, b, n_permutations=20000, seed=3, alternative=alternative)
    assert 0.01 < reference < 0.1
    # Monte-Carlo standard error of a tail share q: sqrt(q (1 - q) / N); two-sided p = 2 q
    q = reference / 2 if alternative == "two-sided" else reference
    scale = 2 if alternative == "two-sided" else 1
    error = scale * math.sqrt(q * (1 - q) * (1 / 20000 + 1 / 100000))
    assert p == pytest.approx(reference, abs=5 * error)
    assert permutation_test(a, b, n_permutations=500, seed=1) == permutation_test(
        a, b, n_permutations=500, seed=1)


def test_random_permutation_p_value_is_never_zero() -> None:
    a, b = np.arange(20.0) + 100.0, np.arange(20.0)
    assert permutation_test(a, b, n_permutations=999, alternative="greater")[1] == 1 / 1000
    assert permutation_test(a, b, n_permutations=999)[1] == 2 / 1000


def test_permutation_test_rejects_bad_input() -> None:
    with pytest.raises(InvalidInputError, match="alternative"):
        permutation_test([1.0], [2.0], alternative="bigger")
    with pytest.raises(InvalidInputError, match="n_permutations"):
        permutation_test([1.0], [2.0], n_permutations=0)
    with pytest.raises(InvalidInputError, match="b"):
        permutation_test([1.0], [np.nan])


def test_group_contrast_combines_means_bootstrap_and_permutation() -> None:
    rng = np.random.default_rng(8)
    values = rng.normal(size=30)
    positive = np.arange(30) % 3 == 0
    result = group_contrast(values, positive, n_boot=500, n_permutations=2000, seed=2)
    pos, neg = values[positive], values[~positive]
    assert result["mean_pos"] == pytest.approx(pos.mean())
    assert result["mean_neg"] == pytest.approx(neg.mean())
    assert result["difference"] == pytest.approx(pos.mean() - neg.mean())
    assert (result["n_pos"], result["n_neg"]) == (10, 20)
    _, low, high = bootstrap_ci(lambda x, y: x.mean() - y.mean(), pos, neg, n_boot=500,
                                seed=2, paired=False)
    assert (result["ci_low"], result["ci_high"]) == (low, high)
    assert result["p"] == permutation_test(pos, neg, n_permutations=2000, seed=2)[1]


def test_group_contrast_single_value_has_no_interval_and_bad_masks_fail() -> None:
    result = group_contrast([5.0, 1.0, 2.0, 3.0], [True, False, False, False], n_boot=100)
    assert result["difference"] == 3.0 and result["p"] == pytest.approx(0.5)
    assert math.isnan(result["ci_low"]) and math.isnan(result["ci_high"])
    with pytest.raises(InvalidInputError, match="both groups"):
        group_contrast([1.0, 2.0], [True, True])
    with pytest.raises(InvalidInputError, match="boolean"):
        group_contrast([1.0, 2.0], [1, 0])
    with pytest.raises(InvalidInputError, match="boolean"):
        group_contrast([1.0, 2.0, 3.0], [True, False])


def contrast_frame() -> pd.DataFrame:
    rng = np.random.default_rng(9)
    rows = []
    for layer in ("conv2", "conv1"):
        for channel in range(12):
            sign = "positive" if channel < 5 else "negative"
            rows.append({"layer": layer, "channel": channel, "sign": sign,
                         "centroid": rng.normal(0.3 if sign == "positive" else 0.1, 0.05),
                         "colour": rng.normal(20.0, 5.0)})
    return pd.DataFrame(rows)


def test_contrast_table_is_group_contrast_per_layer_and_measure() -> None:
    frame = contrast_frame()
    table = contrast_table(frame, ["centroid", "colour"], n_boot=200, n_permutations=500)
    assert list(table.columns) == ["layer", "measure", "mean_pos", "mean_neg", "difference",
                                   "ci_low", "ci_high", "p", "n_pos", "n_neg"]
    assert table[["layer", "measure"]].values.tolist() == [
        ["conv2", "centroid"], ["conv2", "colour"], ["conv1", "centroid"], ["conv1", "colour"]]
    for row in table.itertuples():
        subset = frame[frame["layer"] == row.layer]
        expected = group_contrast(subset[row.measure].to_numpy(),
                                  (subset["sign"] == "positive").to_numpy(), n_boot=200,
                                  n_permutations=500)
        assert {k: getattr(row, k) for k in expected} == pytest.approx(expected)
    centroid = table[table["measure"] == "centroid"]
    assert (centroid["difference"] > 0.1).all() and (centroid["ci_low"] > 0).all()
    assert (centroid["p"] < 0.01).all()


def test_contrast_table_rejects_unknown_signs_missing_values_and_one_sided_layers() -> None:
    frame = contrast_frame()
    with pytest.raises(InvalidInputError, match="neutral"):
        contrast_table(frame.assign(sign=frame["sign"].where(frame["channel"] != 7, "neutral")),
                       "centroid")
    with pytest.raises(InvalidInputError, match="dropna"):
        contrast_table(frame.assign(centroid=frame["centroid"].where(frame["channel"] != 3)),
                       "centroid")
    with pytest.raises(InvalidInputError, match="both"):
        contrast_table(frame[frame["sign"] == "positive"], "centroid")
    with pytest.raises(InvalidInputError, match="missing_column"):
        contrast_table(frame, "missing_column")
    numeric = frame.assign(sign=np.where(frame["sign"] == "positive", 1, -1))
    table = contrast_table(numeric, "centroid", positive=1, negative=-1, n_boot=50,
                           n_permutations=50)
    assert table["n_pos"].tolist() == [5, 5]
