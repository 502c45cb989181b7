"""The paper's published tables (1, 2, 3) as data, for side-by-side comparison in the book."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import pandas as pd
import yaml

from ..errors import UnknownNameError

__all__ = ["paper_table", "paper_caption", "beside_paper"]


@lru_cache(maxsize=1)
def _tables() -> dict:
    text = resources.files(__package__).joinpath("paper_tables.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def paper_table(number: int) -> pd.DataFrame:
    """Table ``number`` (1, 2 or 3) of the main paper as a DataFrame, values as published."""
    key = f"table{number}"
    tables = _tables()
    if key not in tables:
        known = sorted(int(k[5:]) for k in tables if k.startswith("table"))
        raise UnknownNameError(f"the paper has no table {number} on record; known: {known}")
    return pd.DataFrame(tables[key]["rows"])


def paper_caption(number: int) -> str:
    """The caption recorded for table ``number``."""
    paper_table(number)  # validates the number
    return str(_tables()[f"table{number}"]["caption"])


def beside_paper(
    computed: pd.DataFrame, number: int, on: str = "model", columns: list[str] | None = None
) -> pd.DataFrame:
    """Join ``computed`` with the paper's table ``number`` on ``on``.

    The paper's columns get the prefix ``paper_``; for every column present in both, a
    ``diff_<column>`` (computed - paper) is added. Rows of ``computed`` without a paper value
    keep NaN there, so nothing is silently dropped. ``on`` may name a column of ``computed``
    other than ``model`` (such as ``paper_model``, a project model's ImageNet counterpart):
    it is matched against the paper's ``model`` column.
    """
    paper = paper_table(number)
    if on not in paper.columns and "model" in paper.columns:
        paper = paper.rename(columns={"model": on})  # e.g. on="paper_model" for project models
    if columns is not None:
        paper = paper[[on, *columns]]
    shared = [c for c in paper.columns if c != on and c in computed.columns]
    paper = paper.rename(columns={c: f"paper_{c}" for c in paper.columns if c != on})
    merged = computed.merge(paper, on=on, how="left")
    for column in shared:
        merged[f"diff_{column}"] = merged[column] - merged[f"paper_{column}"]
    return merged
