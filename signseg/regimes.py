"""Comparing sign segregation across training regimes (paper Sections 4.3-4.4, Table 1).

The ablation section measures, per unit, how similar the preferred images of an ablated
unit stay to the intact unit's (:func:`signseg.analysis.similarity_by_condition`). This
module turns those per-unit similarities of several networks into the numbers that compare
regimes:

* :func:`similarity_per_unit` averages the readout ensemble, per network, unit and condition;
* :func:`delta_to_ceiling` is the paper's Delta(cosine similarity): ablated-vs-control minus
  control-vs-control, so that 0 means "no change" and negative values a change (Fig. 5);
* :func:`segregation_gap` quantifies *segregation* as the gap between the two ablation
  curves: per unit, the mean over ablation strengths alpha > 0 of
  ``similarity(negative ablated) - similarity(positive ablated)``. It is positive when removing
  positive weights changes the preferred images more than removing negative ones (the
  paper's ReLU networks) and near zero when both signs matter alike (its Tanh network);
* :func:`gap_difference` compares two networks' gaps on the same units (paired by unit);
* :func:`robustness_correlation` is Table 1: Spearman's rho between Delta(cosine similarity)
  and the networks' robustness radius, per alpha and sign, over all (network, unit) pairs, as
  the paper pools its 11 units of 6 ResNet-50s (n = 66).

Every statistic comes with a 95% interval: t intervals over units for means, bootstrap
intervals over (network, unit) pairs for correlations.
"""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd
import torch

from .errors import InvalidInputError
from .metrics.segregation import wilson_interval
from .metrics.stats import correlation_with_ci, mean_ci

__all__ = [
    "SIGNS",
    "similarity_per_unit",
    "delta_to_ceiling",
    "segregation_gap",
    "gap_difference",
    "robustness_correlation",
    "accuracy_table",
]

#: The two ablation signs, in the order tables list them.
SIGNS = ("positive", "negative")

_KEYS = ["network", "unit", "sign", "alpha"]


def _require(table: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InvalidInputError(
            f"{what} needs columns {missing}; the table has {list(table.columns)}")


def similarity_per_unit(similarities: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Ensemble-mean similarity per network, unit, sign and alpha.

    Parameters
    ----------
    similarities:
        ``network -> table`` as :func:`signseg.analysis.similarity_by_condition` returns it
        (columns ``unit``, ``sign``, ``alpha``, ``embedder``, ``similarity``; the
        control-vs-control ceiling under ``sign = "ceiling"``).

    Returns
    -------
    pandas.DataFrame
        Columns ``network``, ``unit``, ``sign``, ``alpha``, ``similarity`` (mean over the
        readout ensemble), the ceiling kept as its own rows.
    """
    if not similarities:
        raise InvalidInputError("similarities is empty: pass network -> similarity table")
    frames = []
    for network, table in similarities.items():
        _require(table, ["unit", "sign", "alpha", "similarity"], f"the similarity table of {network!r}")
        frames.append(table.assign(network=network))
    table = pd.concat(frames, ignore_index=True)
    table["alpha"] = table["alpha"].astype(float).round(6)
    return table.groupby(_KEYS, as_index=False, sort=True)["similarity"].mean()[_KEYS + ["similarity"]]


def delta_to_ceiling(per_unit: pd.DataFrame) -> pd.DataFrame:
    """Delta(cosine similarity): each condition's similarity minus its unit's ceiling.

    Parameters
    ----------
    per_unit:
        :func:`similarity_per_unit`'s table (with the ``"ceiling"`` rows).

    Returns
    -------
    pandas.DataFrame
        The positive and negative rows with a ``delta`` column (``similarity - ceiling`` of
        the same network and unit); 0 at alpha = 0 by construction.

    Raises
    ------
    InvalidInputError
        A (network, unit) has no ceiling row.
    """
    _require(per_unit, _KEYS + ["similarity"], "delta_to_ceiling")
    ceiling = (per_unit[per_unit["sign"] == "ceiling"]
               .groupby(["network", "unit"])["similarity"].mean().rename("ceiling"))
    rows = per_unit[per_unit["sign"].isin(SIGNS)].join(ceiling, on=["network", "unit"])
    if rows["ceiling"].isna().any():
        lacking = rows[rows["ceiling"].isna()][["network", "unit"]].drop_duplicates()
        raise InvalidInputError(
            f"no control-vs-control ceiling for {lacking.to_records(index=False).tolist()}: "
            "compute the similarities with signseg.analysis.similarity_by_condition")
    return rows.assign(delta=rows["similarity"] - rows["ceiling"]).reset_index(drop=True)


def _unit_gaps(per_unit: pd.DataFrame) -> pd.DataFrame:
    """Per (network, unit): mean over alpha > 0 of negative minus positive similarity."""
    ablated = per_unit[per_unit["sign"].isin(SIGNS) & (per_unit["alpha"] > 0)]
    if ablated.empty:
        raise InvalidInputError("no ablated rows (sign positive/negative, alpha > 0) to compare")
    wide = ablated.pivot_table(index=["network", "unit", "alpha"], columns="sign",
                               values="similarity", aggfunc="mean")
    missing = [s for s in SIGNS if s not in wide.columns]
    if missing:
        raise InvalidInputError(f"the segregation gap needs both signs; {missing} are missing")
    wide = wide.dropna()
    difference = (wide["negative"] - wide["positive"]).rename("gap")
    return difference.groupby(["network", "unit"]).mean().reset_index()


def segregation_gap(per_unit: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """The gap between the negative- and positive-ablation similarity curves, per network.

    For each unit, ``gap = mean over alpha > 0 of (similarity after negative ablation -
    similarity after positive ablation)``; the table gives its mean over units with a t
    interval. Positive: removing positive weights changes the preferred images more.

    Parameters
    ----------
    per_unit:
        :func:`similarity_per_unit`'s table.
    confidence:
        Coverage of the interval.

    Returns
    -------
    pandas.DataFrame
        ``network``, ``gap``, ``ci_low``, ``ci_high``, ``n`` (units), in the order the
        networks first appear.
    """
    _require(per_unit, _KEYS + ["similarity"], "segregation_gap")
    gaps = _unit_gaps(per_unit)
    rows = []
    for network in pd.unique(per_unit["network"]):
        values = gaps.loc[gaps["network"] == network, "gap"].to_numpy()
        if values.size == 0:
            continue
        mean, low, high = mean_ci(values, confidence)
        rows.append({"network": network, "gap": mean, "ci_low": low, "ci_high": high,
                     "n": int(values.size)})
    return pd.DataFrame(rows, columns=["network", "gap", "ci_low", "ci_high", "n"])


def gap_difference(per_unit: pd.DataFrame, first: str, second: str,
                   confidence: float = 0.95) -> dict[str, float]:
    """``gap(first) - gap(second)``, paired over the units both networks visualized.

    Returns
    -------
    dict
        ``difference``, ``ci_low``, ``ci_high`` (t interval over paired units) and ``n``.

    Raises
    ------
    InvalidInputError
        Either network is absent, or the two share no unit.
    """
    gaps = _unit_gaps(per_unit).pivot(index="unit", columns="network", values="gap")
    for name in (first, second):
        if name not in gaps.columns:
            raise InvalidInputError(f"network {name!r} is not in the table; it has {list(gaps.columns)}")
    paired = gaps[[first, second]].dropna()
    if paired.empty:
        raise InvalidInputError(f"{first!r} and {second!r} share no visualized unit")
    difference, low, high = mean_ci((paired[first] - paired[second]).to_numpy(), confidence)
    return {"difference": difference, "ci_low": low, "ci_high": high, "n": int(len(paired))}


def robustness_correlation(
    delta: pd.DataFrame, epsilon: Mapping[str, float], *, n_boot: int = 2000, seed: int = 0,
) -> pd.DataFrame:
    """Table 1: Spearman rho of Delta(cosine similarity) vs robustness, per alpha and sign.

    Every (network, unit) pair is one observation, as in the paper (11 units x 6 ResNet-50s).
    Negative rho: the more robust the network, the more the ablation changes the preferred
    images.

    Parameters
    ----------
    delta:
        :func:`delta_to_ceiling`'s table.
    epsilon:
        ``network -> robustness radius`` (L-inf epsilon, 0 for the standard network); every
        network of ``delta`` must have one.
    n_boot, seed:
        Bootstrap resamples of the (network, unit) pairs for the interval of rho.

    Returns
    -------
    pandas.DataFrame
        One row per alpha > 0 with ``positive_rho``, ``positive_p``, ``positive_ci_low``,
        ``positive_ci_high`` and the same for ``negative``, and ``n`` (pairs).

    Raises
    ------
    InvalidInputError
        A network without an epsilon, or fewer than two distinct epsilons.
    """
    _require(delta, _KEYS + ["delta"], "robustness_correlation")
    lacking = sorted(set(delta["network"]) - set(epsilon))
    if lacking:
        raise InvalidInputError(f"no epsilon given for networks {lacking}; pass network -> L-inf radius")
    if len({float(epsilon[n]) for n in delta["network"].unique()}) < 2:
        raise InvalidInputError("a correlation with robustness needs networks of at least two epsilons")
    table = delta.assign(epsilon=delta["network"].map(lambda n: float(epsilon[n])))
    rows = []
    for alpha in sorted(a for a in table["alpha"].unique() if a > 0):
        row: dict[str, float | int] = {"alpha": float(alpha)}
        for sign in SIGNS:
            cell = table[(table["alpha"] == alpha) & (table["sign"] == sign)]
            result = correlation_with_ci(cell["epsilon"].to_numpy(), cell["delta"].to_numpy(),
                                         "spearman", n_boot=n_boot, seed=seed)
            row.update({f"{sign}_rho": result["r"], f"{sign}_p": result["p"],
                        f"{sign}_ci_low": result["ci_low"], f"{sign}_ci_high": result["ci_high"]})
            row["n"] = int(result["n"])
        rows.append(row)
    return pd.DataFrame(rows)



def accuracy_table(
    models: Mapping[str, Any], images: torch.Tensor, targets: torch.Tensor, epsilon: float,
    steps: int = 10, *, seed: int = 0, n_classes: int | None = None,
) -> pd.DataFrame:
    """Clean and adversarial top-1 of every network (Table 1 of the book's Section 3).

    Parameters
    ----------
    models:
        ``label -> ZooModel``.
    images, targets:
        Evaluation images (``uint8`` or ``[0, 1]`` floats) and labels, e.g. a class-balanced
        slice of the validation split.
    epsilon, steps:
        The L-inf PGD attack (radius in 1/255, :func:`signseg.adversarial.robust_accuracy`).
    seed:
        Random start of the attack.
    n_classes:
        Number of classes ``targets`` index; networks with another number of outputs (an
        ImageNet model on Tiny ImageNet images) are listed with their recorded ``top1`` only,
        ``clean`` and ``robust`` left NaN, never scored against the wrong labels.

    Returns
    -------
    pandas.DataFrame
        ``network``, ``regime``, ``trained_epsilon`` (the radius the network was trained
        against), ``top1`` (the model's recorded test top-1, %), ``clean`` and ``robust``
        (top-1 on ``images`` without and under attack, %) with the Wilson 95% interval of the
        latter (``robust_low``, ``robust_high``) and ``n``.
    """
    from .adversarial import robust_accuracy

    n = int(len(targets))
    rows = []
    for label, model in models.items():
        if n_classes is not None and model.entry.num_classes != n_classes:
            nan = float("nan")
            rows.append({"network": label, "regime": model.entry.regime,
                         "trained_epsilon": float(model.entry.epsilon), "top1": model.accuracy,
                         "clean": nan, "robust": nan, "robust_low": nan, "robust_high": nan, "n": 0})
            continue
        clean = robust_accuracy(model, images, targets, 0.0, steps=1, seed=seed, progress=False)
        robust = robust_accuracy(model, images, targets, epsilon, steps=steps, seed=seed)
        low, high = wilson_interval(round(robust * n / 100), n, 0.95)
        rows.append({"network": label, "regime": model.entry.regime,
                     "trained_epsilon": float(model.entry.epsilon), "top1": model.accuracy,
                     "clean": clean, "robust": robust, "robust_low": 100 * low,
                     "robust_high": 100 * high, "n": n})
    return pd.DataFrame(rows)
