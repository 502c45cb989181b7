"""Comparisons across models of a zoo (paper Section 4.1, Tables 2-3): the recipes of Section 1.

Each function takes loaded :class:`~signseg.zoo.ZooModel` objects or the per-model table of
:func:`signseg.dale.readout_comparison` and returns a tidy table, so that a notebook cell
only calls and plots:

* :func:`readout_table` -- output-layer Dale index untrained vs trained, with each model's
  data set, family, depth and its counterpart in the paper's Table 3;
* :func:`accuracy_correlations` -- Dale index vs top-1 per data set, with bootstrap CIs;
* :func:`depth_trends` -- the paper's depth claim: output-layer index vs depth within a family;
* :func:`batchnorm_table` -- models trained without and with batch normalisation;
* :func:`sign_ratio_table` -- Table 2's positive / |negative| input-weight ratio per model.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from .ablation import sign_ratio
from .dale import dale_table, readout_comparison
from .errors import InvalidInputError
from .metrics.stats import correlation_with_ci

__all__ = [
    "paper_counterpart",
    "readout_table",
    "accuracy_correlations",
    "depth_trends",
    "batchnorm_table",
    "sign_ratio_table",
]


def paper_counterpart(model: Any) -> str | None:
    """The paper's ImageNet model of the same architecture (``"vgg11_bn"``), if it has one.

    Torchvision and published ImageNet models (robust, SimSiam) are their own counterpart; a
    project model maps to the torchvision architecture of the same name (AlexNet and the VGGs).
    The small CIFAR-style ResNets have no ImageNet counterpart (``None``).
    """
    from .zoo import info

    entry = model.entry
    if entry.source in ("torchvision", "published"):
        return entry.name
    if entry.activation != "relu":
        return None
    try:
        return info(entry.arch).name if info(entry.arch).source == "torchvision" else None
    except KeyError:
        return None


def readout_table(trained: Mapping[str, Any], untrained: Mapping[str, Any]) -> pd.DataFrame:
    """Output-layer Dale index before and after training, one row per model.

    Parameters
    ----------
    trained, untrained:
        Name -> :class:`~signseg.zoo.ZooModel`, trained and at its initialisation.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`signseg.dale.readout_comparison` plus ``dataset``, ``family``,
        ``depth``, ``batch_norm``, ``activation`` and ``paper_model`` (the counterpart in
        Table 3, or ``None``).
    """
    table = readout_comparison(
        {name: model.readout_weight() for name, model in trained.items()},
        {name: model.readout_weight() for name, model in untrained.items()},
        {name: model.accuracy for name, model in trained.items()},
    )
    entries = {name: model.entry for name, model in trained.items()}
    table.insert(1, "dataset", table["model"].map(lambda n: entries[n].dataset))
    for column in ("family", "depth", "batch_norm", "activation"):
        table[column] = table["model"].map(lambda n, c=column: getattr(entries[n], c))
    table["paper_model"] = table["model"].map(lambda n: paper_counterpart(trained[n]))
    return table


def accuracy_correlations(
    readout: pd.DataFrame, *, n_boot: int = 2000, seed: int = 0, min_models: int = 4
) -> pd.DataFrame:
    """Spearman and Pearson correlation of the trained index with top-1, per data set.

    Models with different numbers of outputs are never pooled (their random baselines
    differ), so the correlation is computed within each ``dataset`` that has at least
    ``min_models`` models; the CI resamples models (:func:`correlation_with_ci`).

    Returns
    -------
    pandas.DataFrame
        ``dataset``, ``method``, ``r``, ``ci_low``, ``ci_high``, ``p``, ``n``.
    """
    rows = []
    for dataset, group in readout.groupby("dataset", sort=False):
        if len(group) < min_models:
            continue
        for method in ("spearman", "pearson"):
            result = correlation_with_ci(group["trained"], group["top1"], method=method,
                                         n_boot=n_boot, seed=seed)
            rows.append({"dataset": dataset, "method": method, **result})
    return pd.DataFrame(rows, columns=["dataset", "method", "r", "ci_low", "ci_high", "p", "n"])


def depth_trends(readout: pd.DataFrame, *, column: str = "trained") -> pd.DataFrame:
    """The paper's depth claim: the output-layer index against depth within each family.

    Groups the ReLU models by ``(dataset, family, batch_norm)`` and, for every group with at
    least two depths, reports the index at each depth and the Spearman correlation of index
    with depth (with fewer than three depths, ``rho`` is the sign of the change and ``p`` is
    NaN).

    Returns
    -------
    pandas.DataFrame
        ``dataset``, ``family``, ``batch_norm``, ``depths`` (list), ``values`` (list),
        ``rho``, ``p``, ``n``.
    """
    rows = []
    relu = readout[readout["activation"] == "relu"]
    for (dataset, family, batch_norm), group in relu.groupby(["dataset", "family", "batch_norm"], sort=False):
        group = group.sort_values("depth")
        if group["depth"].nunique() < 2:
            continue
        depths, values = group["depth"].tolist(), group[column].tolist()
        if len(group) >= 3:
            rho, p = scipy_stats.spearmanr(depths, values)
        else:
            rho, p = float(np.sign(values[-1] - values[0])), float("nan")
        rows.append({"dataset": dataset, "family": family, "batch_norm": bool(batch_norm),
                     "depths": depths, "values": [round(v, 4) for v in values],
                     "rho": float(rho), "p": float(p), "n": len(group)})
    return pd.DataFrame(rows, columns=["dataset", "family", "batch_norm", "depths", "values", "rho", "p", "n"])


def batchnorm_table(trained: Mapping[str, Any], pairs: Sequence[Sequence[str]]) -> pd.DataFrame:
    """Output-layer and mean Dale index of models trained without and with batch norm.

    Parameters
    ----------
    trained:
        Name -> trained :class:`~signseg.zoo.ZooModel`; must hold every name of ``pairs``.
    pairs:
        ``[plain, with_bn]`` name pairs.

    Returns
    -------
    pandas.DataFrame
        One row per model: ``pair``, ``model``, ``batch_norm``, ``output_dale``,
        ``mean_dale`` (over all layers), ``top1``.
    """
    rows = []
    for pair in pairs:
        if len(pair) != 2:
            raise InvalidInputError(f"a batch-norm pair must name two models [plain, with_bn]; got {list(pair)}")
        missing = [name for name in pair if name not in trained]
        if missing:
            raise InvalidInputError(f"bn pair {list(pair)} names models that were not loaded: {missing}")
        plain, with_bn = pair
        for name, has_bn in ((plain, False), (with_bn, True)):
            table = dale_table(trained[name].model)
            rows.append({"pair": f"{plain} / _bn", "model": name, "batch_norm": has_bn,
                         "output_dale": float(table["dale_index"].iloc[-1]),
                         "mean_dale": float(table["dale_index"].mean()),
                         "top1": trained[name].accuracy})
    return pd.DataFrame(rows)


def sign_ratio_table(trained: Mapping[str, Any]) -> pd.DataFrame:
    """Table 2: per model, mean and std over output units of positive / |negative| input weight."""
    rows = []
    for name, model in trained.items():
        ratio = sign_ratio(model.readout_weight())
        rows.append({"model": name, "paper_model": paper_counterpart(model),
                     "mean": float(ratio.mean()), "std": float(ratio.std())})
    return pd.DataFrame(rows)
