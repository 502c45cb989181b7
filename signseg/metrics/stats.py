"""Confidence intervals, the bootstrap and rank correlations.

Every error bar in the book comes from here (METHODS.md section 4: "95% confidence
intervals over units (or networks)").

* :func:`mean_ci` -- mean with a Student-t interval (the default, as in the paper's error
  bars) or a percentile-bootstrap interval.
* :func:`bootstrap_ci` -- percentile-bootstrap interval of any statistic of one or more
  samples, paired (same resampled indices for every sample) or independent.
* :func:`correlation_with_ci` -- Spearman or Pearson correlation with its scipy p-value and
  a percentile-bootstrap interval over pairs.
* :func:`summarize` -- tidy-table helper: average nested levels (visualizations within a
  unit, units within a network, ...) and put a confidence interval over the outermost one.
* :func:`permutation_test` -- difference of the means of two independent samples with its
  permutation p-value (exact enumeration when it is small enough, as scipy does).
* :func:`group_contrast` -- positive vs negative group of one measure: both means, their
  difference with an independent-resampling bootstrap interval, and the permutation p;
  :func:`contrast_table` does it per layer and measure of a tidy table.

Conventions
-----------
* Inputs must be finite: NaNs raise :class:`~signseg.errors.InvalidInputError` instead of
  being dropped silently (drop them yourself, deliberately).
* A single value has a mean but no interval: ``low`` and ``high`` are ``NaN``.
* Bootstrap replicates whose statistic is undefined (``NaN``, e.g. a correlation of a
  resample whose values are all equal) are left out of the percentiles; when every replicate
  is undefined the interval is ``NaN``.
* Randomness comes only from ``numpy.random.default_rng(seed)``: same seed, same interval.
"""

from __future__ import annotations

import math
import warnings
from itertools import combinations
from typing import Callable, Iterator, Literal, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import InvalidInputError

__all__ = [
    "mean_ci",
    "bootstrap_ci",
    "correlation_with_ci",
    "summarize",
    "permutation_test",
    "group_contrast",
    "contrast_table",
]

ArrayLike = Sequence[float] | np.ndarray


def _as_finite_1d(values: ArrayLike, name: str = "values") -> np.ndarray:
    """Return ``values`` as a finite 1-D float64 array, or raise a clear error."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1:
        raise InvalidInputError(
            f"{name} must be one-dimensional (one value per unit/network); got shape "
            f"{array.shape}. Flatten or average it first."
        )
    if array.size == 0:
        raise InvalidInputError(f"{name} is empty; a mean and an interval need at least one value")
    if not np.isfinite(array).all():
        raise InvalidInputError(
            f"{name} contains {int((~np.isfinite(array)).sum())} NaN or infinite values; "
            "expected finite numbers. Remove them explicitly (e.g. values[np.isfinite(values)]) "
            "if leaving them out is intended."
        )
    return array


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise InvalidInputError(f"confidence must lie strictly between 0 and 1; got {confidence}")


def _percentile_interval(replicates: np.ndarray, confidence: float) -> tuple[float, float]:
    """Equal-tailed percentile interval of the finite bootstrap replicates (NaN if none)."""
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        return float("nan"), float("nan")
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return float(low), float(high)


def _resample_indices(n: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``[n_boot, n]`` indices drawn with replacement."""
    return rng.integers(0, n, size=(n_boot, n))


def _check_n_boot(n_boot: int) -> None:
    if int(n_boot) < 1:
        raise InvalidInputError(f"n_boot must be a positive number of resamples; got {n_boot}")


def mean_ci(
    values: ArrayLike,
    confidence: float = 0.95,
    method: Literal["t", "bootstrap"] = "t",
    n_boot: int = 2000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Mean of ``values`` with a confidence interval.

    Parameters
    ----------
    values:
        One value per independent unit (unit, class, network), 1-D and finite.
    confidence:
        Coverage of the interval, in ``(0, 1)``.
    method:
        ``"t"``: ``mean +- t_{(1+c)/2, n-1} * s / sqrt(n)`` with the sample standard
        deviation ``s`` (``ddof=1``) -- the usual error bar. ``"bootstrap"``: equal-tailed
        percentile interval of the means of ``n_boot`` resamples with replacement.
    n_boot, seed:
        Number of resamples and random seed for ``method="bootstrap"``.

    Returns
    -------
    (mean, low, high)
        ``low`` and ``high`` are ``NaN`` when there is a single value. Identical values give
        a zero-width interval.

    Raises
    ------
    InvalidInputError
        Empty or non-finite ``values``, ``confidence`` outside ``(0, 1)``, unknown ``method``.
    """
    if method not in ("t", "bootstrap"):
        raise InvalidInputError(f"method must be 't' or 'bootstrap'; got {method!r}")
    array = _as_finite_1d(values)
    _check_confidence(confidence)
    mean = float(array.mean())
    if array.size == 1:
        return mean, float("nan"), float("nan")
    if method == "t":
        sem = float(array.std(ddof=1)) / np.sqrt(array.size)
        half = float(stats.t.ppf(0.5 + confidence / 2.0, df=array.size - 1)) * sem
        return mean, mean - half, mean + half
    _check_n_boot(n_boot)
    rng = np.random.default_rng(seed)
    replicates = array[_resample_indices(array.size, int(n_boot), rng)].mean(axis=1)
    low, high = _percentile_interval(replicates, confidence)
    return mean, low, high


def bootstrap_ci(
    statistic: Callable[..., float],
    *samples: ArrayLike,
    n_boot: int = 2000,
    seed: int = 0,
    paired: bool = True,
    confidence: float = 0.95,
) -> tuple[float, float, float]:
    """Percentile-bootstrap confidence interval of ``statistic(*samples)``.

    Parameters
    ----------
    statistic:
        Function of as many 1-D arrays as ``samples`` returning a float (e.g.
        ``lambda a, b: a.mean() - b.mean()``). It may return ``NaN`` for a degenerate
        resample; such replicates are left out of the percentiles.
    *samples:
        One or more 1-D finite samples.
    paired:
        ``True``: the samples are paired observations (same length) and every resample
        draws the same indices from all of them. ``False``: each sample is resampled
        independently.
    n_boot, seed, confidence:
        Number of resamples, random seed, coverage.

    Returns
    -------
    (estimate, low, high)
        ``estimate`` is the statistic on the original samples.
    """
    if not samples:
        raise InvalidInputError("bootstrap_ci needs at least one sample after the statistic")
    arrays = [_as_finite_1d(s, name=f"sample {i}") for i, s in enumerate(samples)]
    _check_confidence(confidence)
    _check_n_boot(n_boot)
    if paired and len({a.size for a in arrays}) > 1:
        raise InvalidInputError(
            "paired=True needs samples of equal length (one entry per paired observation); "
            f"got lengths {[a.size for a in arrays]}. Use paired=False for independent samples."
        )
    estimate = float(statistic(*arrays))
    rng = np.random.default_rng(seed)
    if paired:
        indices = [_resample_indices(arrays[0].size, int(n_boot), rng)] * len(arrays)
    else:
        indices = [_resample_indices(a.size, int(n_boot), rng) for a in arrays]
    replicates = np.array([
        float(statistic(*(a[idx[b]] for a, idx in zip(arrays, indices))))
        for b in range(int(n_boot))
    ])
    low, high = _percentile_interval(replicates, confidence)
    return estimate, low, high


def _rowwise_pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row pair of ``x`` and ``y`` (``NaN`` for a constant row)."""
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    denom = np.sqrt((xc * xc).sum(axis=1) * (yc * yc).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (xc * yc).sum(axis=1) / denom
    # rounding can leave |r| a hair above 1 for perfectly (anti)correlated rows
    r = np.clip(r, -1.0, 1.0)
    r[~(denom > 0)] = np.nan
    return r


def _rowwise_correlation(x: np.ndarray, y: np.ndarray, method: str) -> np.ndarray:
    """Row-wise Pearson, or Spearman as Pearson of average ranks (scipy's definition)."""
    if method == "spearman":
        x = stats.rankdata(x, axis=1)
        y = stats.rankdata(y, axis=1)
    return _rowwise_pearson(x, y)


def correlation_with_ci(
    x: ArrayLike,
    y: ArrayLike,
    method: Literal["spearman", "pearson"] = "spearman",
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, float | int | str]:
    """Correlation of paired observations with its p-value and a bootstrap interval.

    ``r`` and ``p`` are scipy's (:func:`scipy.stats.spearmanr`, average ranks for ties, or
    :func:`scipy.stats.pearsonr`; two-sided). The interval is the equal-tailed percentile
    interval of ``r`` over ``n_boot`` resamples of the *pairs* with replacement; resamples in
    which ``x`` or ``y`` is constant have no correlation and are left out (their count is
    returned as ``n_degenerate``).

    Parameters
    ----------
    x, y:
        Paired, finite, 1-D observations (e.g. Dale index and top-1 accuracy per model).
    method:
        ``"spearman"`` (rank) or ``"pearson"`` (linear).
    n_boot, seed, confidence:
        Number of resamples, random seed, coverage.

    Returns
    -------
    dict
        ``r``, ``p``, ``ci_low``, ``ci_high`` (floats), ``n`` (pairs), ``n_degenerate``
        (resamples left out), ``method``, ``confidence``.

    Raises
    ------
    InvalidInputError
        Fewer than 3 pairs (no meaningful correlation or interval), unequal lengths,
        non-finite values, unknown ``method``.

    Warns
    -----
    RuntimeWarning
        When ``x`` or ``y`` is constant: the correlation is undefined and ``r``, ``p`` and
        the interval are ``NaN``.
    """
    if method not in ("spearman", "pearson"):
        raise InvalidInputError(f"method must be 'spearman' or 'pearson'; got {method!r}")
    xa = _as_finite_1d(x, name="x")
    ya = _as_finite_1d(y, name="y")
    if xa.size != ya.size:
        raise InvalidInputError(
            f"x and y must be paired observations of equal length; got {xa.size} and {ya.size}"
        )
    if xa.size < 3:
        raise InvalidInputError(
            f"a correlation with a confidence interval needs at least 3 pairs; got {xa.size}"
        )
    _check_confidence(confidence)
    _check_n_boot(n_boot)
    result: dict[str, float | int | str] = {
        "method": method, "n": int(xa.size), "confidence": float(confidence)
    }
    if np.ptp(xa) == 0 or np.ptp(ya) == 0:
        which = "x" if np.ptp(xa) == 0 else "y"
        warnings.warn(
            f"{which} is constant ({(xa if which == 'x' else ya)[0]!r} for all {xa.size} pairs): "
            "the correlation is undefined and is reported as NaN",
            RuntimeWarning,
            stacklevel=2,
        )
        nan = float("nan")
        result.update(r=nan, p=nan, ci_low=nan, ci_high=nan, n_degenerate=int(n_boot))
        return result
    reference = stats.spearmanr(xa, ya) if method == "spearman" else stats.pearsonr(xa, ya)
    rng = np.random.default_rng(seed)
    idx = _resample_indices(xa.size, int(n_boot), rng)
    replicates = _rowwise_correlation(xa[idx], ya[idx], method)
    low, high = _percentile_interval(replicates, confidence)
    result.update(
        r=float(reference.statistic),
        p=float(reference.pvalue),
        ci_low=low,
        ci_high=high,
        n_degenerate=int((~np.isfinite(replicates)).sum()),
    )
    return result


def _check_columns(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    """Raise :class:`InvalidInputError` naming the ``columns`` missing from ``frame``."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidInputError(
            f"columns {missing} are not in the table; it has {list(frame.columns)}"
        )


def _finite_column(frame: pd.DataFrame, column: str, where: str = "") -> np.ndarray:
    """``frame[column]`` as finite float64 values; missing, non-numeric or infinite entries
    raise :class:`InvalidInputError` (``where`` names the rows, e.g. a group)."""
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        raise InvalidInputError(
            f"column {column!r} has {int((~np.isfinite(values)).sum())} missing, non-numeric or "
            f"infinite values{where}; drop those rows deliberately first (e.g. "
            f"frame.dropna(subset=[{column!r}])) if leaving them out is intended"
        )
    return values


def summarize(
    frame: pd.DataFrame,
    value: str,
    by: str | Sequence[str],
    nested: str | Sequence[str] = ("unit",),
    confidence: float = 0.95,
    method: Literal["t", "bootstrap"] = "t",
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Mean and confidence interval of ``value`` per group, over the outermost nested level.

    Rows are first averaged within the innermost groups, then level by level outwards, and
    the interval is taken over the outermost level. Examples (paper conventions):

    * ``nested=("unit",)``: each unit is the mean of its visualizations; CI over units
      (Figs. 2D, 11).
    * ``nested=("network", "unit")``: mean over visualizations per unit, over units per
      network; CI over networks (Fig. 2E).

    Parameters
    ----------
    frame:
        Tidy table, one row per observation (e.g. per visualization).
    value:
        Column to summarise.
    by:
        Column(s) defining the reported groups (e.g. ``["sign", "alpha"]``).
    nested:
        Column(s) from outermost to innermost grouping level.
    confidence, method, n_boot, seed:
        Passed to :func:`mean_ci`.

    Returns
    -------
    pandas.DataFrame
        One row per group of ``by`` with columns ``by...``, ``mean``, ``ci_low``,
        ``ci_high`` and ``n`` (number of outermost units).

    Raises
    ------
    InvalidInputError
        Missing columns, or missing / non-finite entries in ``value`` (never skipped
        silently).
    """
    by_cols = [by] if isinstance(by, str) else list(by)
    levels = [nested] if isinstance(nested, str) else list(nested)
    if not levels:
        raise InvalidInputError("nested must name at least one level (e.g. 'unit')")
    _check_columns(frame, [value, *by_cols, *levels])
    _finite_column(frame, value)
    means = frame.groupby(by_cols + levels, sort=True, observed=True)[value].mean()
    for depth in range(len(levels) - 1, 0, -1):
        means = means.groupby(level=list(range(len(by_cols) + depth)), observed=True).mean()
    rows = []
    for key, group in means.groupby(level=list(range(len(by_cols))), sort=True, observed=True):
        key = key if isinstance(key, tuple) else (key,)
        mean, low, high = mean_ci(
            group.to_numpy(), confidence=confidence, method=method, n_boot=n_boot, seed=seed
        )
        rows.append({**dict(zip(by_cols, key)), "mean": mean, "ci_low": low, "ci_high": high,
                     "n": int(group.size)})
    return pd.DataFrame(rows, columns=[*by_cols, "mean", "ci_low", "ci_high", "n"])


Alternative = Literal["two-sided", "greater", "less"]

#: Columns of :func:`group_contrast`'s result, in the order :func:`contrast_table` uses.
CONTRAST_COLUMNS = (
    "mean_pos", "mean_neg", "difference", "ci_low", "ci_high", "p", "n_pos", "n_neg"
)


def _split_sums(
    pooled: np.ndarray, n_a: int, n_permutations: int, rng: np.random.Generator
) -> tuple[Iterator[np.ndarray], int, bool]:
    """Sums of the first group over the null's reassignments, in batches.

    Returns ``(batches, count, exact)``: every one of the ``C(n, n_a)`` splits when that
    is at most ``n_permutations`` (``exact``), else ``n_permutations`` random permutations.
    """
    n = pooled.size
    n_splits = math.comb(n, n_a)
    if n_splits <= n_permutations:
        chosen = np.array(list(combinations(range(n), n_a)), dtype=np.int64)
        return iter([pooled[chosen].sum(axis=1)]), n_splits, True
    batch = max(1, 2**20 // n)

    def batches() -> Iterator[np.ndarray]:
        for start in range(0, n_permutations, batch):
            size = min(batch, n_permutations - start)
            shuffled = rng.permuted(np.tile(pooled, (size, 1)), axis=1)
            yield shuffled[:, :n_a].sum(axis=1)

    return batches(), n_permutations, False


def permutation_test(
    a: ArrayLike,
    b: ArrayLike,
    *,
    n_permutations: int = 10000,
    seed: int = 0,
    alternative: Alternative = "two-sided",
) -> tuple[float, float]:
    """Permutation test of the difference of means of two independent samples.

    The statistic is ``mean(a) - mean(b)``; under the null hypothesis the pooled values are
    exchangeable between the groups. When the number of distinct splits
    ``C(n_a + n_b, n_a)`` is at most ``n_permutations`` every split is enumerated and the
    p-value is exact; otherwise ``n_permutations`` random reassignments are drawn and
    ``p = (1 + hits) / (1 + n_permutations)`` (never 0). ``"greater"`` counts null values
    ``>= observed``, ``"less"`` ``<= observed``, ``"two-sided"`` is twice the smaller of the
    two, capped at 1 -- the conventions of :func:`scipy.stats.permutation_test`. Null
    values within ``100 eps max(|observed|, max |x|)`` of the observed one count as ties
    (rounding of equal sums).

    Parameters
    ----------
    a, b:
        1-D finite samples (e.g. a measure of the positive and of the negative channels).
    n_permutations:
        Largest number of splits; also the number of random ones when enumeration is too
        large.
    seed:
        Seed of ``numpy.random.default_rng`` for the random reassignments.
    alternative:
        ``"two-sided"``, ``"greater"`` (``mean(a) > mean(b)``) or ``"less"``.

    Returns
    -------
    (difference, p)
        ``mean(a) - mean(b)`` and the p-value.
    """
    if alternative not in ("two-sided", "greater", "less"):
        raise InvalidInputError(
            f"alternative must be 'two-sided', 'greater' or 'less'; got {alternative!r}"
        )
    if int(n_permutations) < 1:
        raise InvalidInputError(
            f"n_permutations must be a positive number of reassignments; got {n_permutations}"
        )
    xa = _as_finite_1d(a, name="a")
    xb = _as_finite_1d(b, name="b")
    pooled = np.concatenate([xa, xb])
    total = pooled.sum()

    def difference(sum_a: np.ndarray | float) -> np.ndarray | float:
        return sum_a / xa.size - (total - sum_a) / xb.size

    observed = float(difference(xa.sum()))
    tolerance = 100 * np.finfo(np.float64).eps * max(abs(observed), float(np.abs(pooled).max()))
    batches, count, exact = _split_sums(pooled, xa.size, int(n_permutations),
                                        np.random.default_rng(seed))
    at_most = at_least = 0
    for sums in batches:
        null = difference(sums)
        at_most += int((null <= observed + tolerance).sum())
        at_least += int((null >= observed - tolerance).sum())
    adjustment = 0 if exact else 1
    p_less = (at_most + adjustment) / (count + adjustment)
    p_greater = (at_least + adjustment) / (count + adjustment)
    p = {"less": p_less, "greater": p_greater,
         "two-sided": min(1.0, 2.0 * min(p_less, p_greater))}[alternative]
    return observed, float(p)


def _mean_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(a.mean() - b.mean())


def group_contrast(
    values: ArrayLike,
    positive_mask: Sequence[bool] | np.ndarray,
    *,
    confidence: float = 0.95,
    n_boot: int = 2000,
    n_permutations: int = 10000,
    seed: int = 0,
    alternative: Alternative = "two-sided",
) -> dict[str, float | int]:
    """Positive vs negative group of one measure: means, difference, interval and p.

    Parameters
    ----------
    values:
        1-D finite values, one per channel (or image).
    positive_mask:
        Boolean ``[n]``: ``True`` for the positive group, ``False`` for the negative one.
    confidence, n_boot:
        Coverage and resamples of the percentile-bootstrap interval of the difference;
        the groups are resampled independently (:func:`bootstrap_ci`, ``paired=False``).
    n_permutations, alternative:
        For the p-value of :func:`permutation_test`.
    seed:
        Seed of both the bootstrap and the permutations.

    Returns
    -------
    dict
        ``mean_pos``, ``mean_neg``, ``difference`` (``mean_pos - mean_neg``), ``ci_low``,
        ``ci_high`` (``NaN`` when a group has a single value: no interval), ``p``,
        ``n_pos``, ``n_neg``.

    Raises
    ------
    InvalidInputError
        Non-finite values, a mask of another length or not boolean, an empty group.
    """
    array = _as_finite_1d(values)
    mask = np.asarray(positive_mask)
    if mask.dtype != np.bool_ or mask.shape != array.shape:
        raise InvalidInputError(
            f"positive_mask must be boolean with one entry per value ({array.size}); got "
            f"dtype {mask.dtype} and shape {mask.shape}"
        )
    positive, negative = array[mask], array[~mask]
    if positive.size == 0 or negative.size == 0:
        raise InvalidInputError(
            f"both groups need values; got {positive.size} positive and {negative.size} "
            "negative ones"
        )
    _check_confidence(confidence)
    difference, p = permutation_test(positive, negative, n_permutations=n_permutations,
                                     seed=seed, alternative=alternative)
    low = high = float("nan")
    if min(positive.size, negative.size) > 1:
        _, low, high = bootstrap_ci(_mean_difference, positive, negative, n_boot=n_boot,
                                    seed=seed, paired=False, confidence=confidence)
    return {"mean_pos": float(positive.mean()), "mean_neg": float(negative.mean()),
            "difference": difference, "ci_low": low, "ci_high": high, "p": p,
            "n_pos": int(positive.size), "n_neg": int(negative.size)}


def contrast_table(
    frame: pd.DataFrame,
    value_columns: str | Sequence[str],
    by: str | Sequence[str] = "layer",
    sign_column: str = "sign",
    *,
    positive: object = "positive",
    negative: object = "negative",
    confidence: float = 0.95,
    n_boot: int = 2000,
    n_permutations: int = 10000,
    seed: int = 0,
    alternative: Alternative = "two-sided",
) -> pd.DataFrame:
    """:func:`group_contrast` of every measure within every group of a tidy table.

    Parameters
    ----------
    frame:
        One row per observation (channel, image), with the ``by`` column(s), the sign
        column and one column per measure.
    value_columns:
        The measure column(s).
    by:
        Column(s) of the reported groups (e.g. ``"layer"``), kept in order of appearance.
    sign_column, positive, negative:
        The column naming each row's group and its two labels; any other label is an error
        (filter the table first).
    confidence, n_boot, n_permutations, seed, alternative:
        Passed to :func:`group_contrast`.

    Returns
    -------
    pandas.DataFrame
        One row per group x measure: ``by...``, ``measure``, ``mean_pos``, ``mean_neg``,
        ``difference``, ``ci_low``, ``ci_high``, ``p``, ``n_pos``, ``n_neg``. The p-values
        are not corrected for the number of rows.

    Raises
    ------
    InvalidInputError
        Missing columns, other sign labels, missing or non-finite measure values (never
        dropped silently), a group without positive or negative rows.
    """
    by_cols = [by] if isinstance(by, str) else list(by)
    measures = [value_columns] if isinstance(value_columns, str) else list(value_columns)
    _check_columns(frame, [*by_cols, sign_column, *measures])
    labels = frame[sign_column]
    unknown = sorted({repr(v) for v in labels[~labels.isin([positive, negative])]})
    if unknown:
        raise InvalidInputError(
            f"column {sign_column!r} must hold only {positive!r} or {negative!r}; found "
            f"{unknown}. Keep only the two groups first (frame[frame[{sign_column!r}].isin(...)])"
        )
    rows = []
    for key, group in frame.groupby(by_cols, sort=False, observed=True):
        names = dict(zip(by_cols, key if isinstance(key, tuple) else (key,)))
        is_positive = group[sign_column].eq(positive).to_numpy()
        if is_positive.all() or not is_positive.any():
            raise InvalidInputError(
                f"group {names} needs both {positive!r} and {negative!r} rows; it has "
                f"{int(is_positive.sum())} and {int((~is_positive).sum())}"
            )
        for measure in measures:
            result = group_contrast(
                _finite_column(group, measure, f" in group {names}"), is_positive, confidence=confidence, n_boot=n_boot,
                n_permutations=n_permutations, seed=seed, alternative=alternative,
            )
            rows.append({**names, "measure": measure, **result})
    return pd.DataFrame(rows, columns=[*by_cols, "measure", *CONTRAST_COLUMNS])
