"""Best achieved activation per ablation condition (paper Fig. 11).

Each visualization run ends with the best activation it reached (the objective: the target
unit's logit under the ablated weights). Per condition, each unit contributes the mean of
its runs' best activations, and the figure shows the mean and 95% interval over units; the
control (alpha = 0) is drawn as a horizontal line.
"""

from __future__ import annotations

from typing import Literal, Sequence

import pandas as pd

from ..errors import InvalidInputError
from .stats import summarize

__all__ = ["activation_summary"]


def activation_summary(
    runs: pd.DataFrame,
    value: str = "activation",
    condition: str | Sequence[str] = ("sign", "alpha"),
    unit: str | Sequence[str] = "unit",
    run: str | None = None,
    confidence: float = 0.95,
    method: Literal["t", "bootstrap"] = "t",
) -> pd.DataFrame:
    """Mean best activation per condition with a confidence interval over units.

    Parameters
    ----------
    runs:
        Tidy table with one row per visualization run (or per iteration when ``run`` is
        given) and columns for the condition, the unit and ``value``.
    value:
        Column holding the activation.
    condition:
        Column(s) of the ablation condition (e.g. sign and alpha).
    unit:
        Column(s) identifying the unit, outermost first (e.g. ``("network", "unit")`` for
        an interval over networks).
    run:
        When the table holds several rows per run (e.g. one per iteration), the column
        identifying the run: each run's maximum is taken first. ``None``: each row is
        already a run's best activation.
    confidence, method:
        Passed to :func:`signseg.metrics.stats.mean_ci`.

    Returns
    -------
    pandas.DataFrame
        ``condition...``, ``mean``, ``ci_low``, ``ci_high``, ``n`` (units).
    """
    conditions = [condition] if isinstance(condition, str) else list(condition)
    units = [unit] if isinstance(unit, str) else list(unit)
    if run is not None:
        if run not in runs.columns:
            raise InvalidInputError(
                f"run column {run!r} is not in the table; it has {list(runs.columns)}"
            )
        runs = runs.groupby([*conditions, *units, run], observed=True, as_index=False)[value].max()
    return summarize(runs, value=value, by=conditions, nested=units, confidence=confidence,
                     method=method)
