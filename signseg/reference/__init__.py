"""The papers' published tables as data, for side-by-side comparison in the book: the main
paper's Tables 1-3 (:func:`paper_table`) and the related papers' of Section 6
(:func:`related_table`)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import pandas as pd
import yaml

from ..errors import UnknownNameError

__all__ = ["paper_table", "paper_caption", "beside_paper", "related_table", "related_caption"]


@lru_cache(maxsize=None)
def _tables(filename: str = "paper_tables.yaml") -> dict:
    text = resources.files(__package__).joinpath(filename).read_text("utf-8")
    return yaml.safe_load(text)


_RELATED = "related_tables.yaml"


def related_table(name: str) -> pd.DataFrame:
    """A table of the related papers of Section 6 (``"lateral_table1"`` .. ``"lateral_table3"``,
    ``"multicell_estimates"``), values as published.

    Raises
    ------
    UnknownNameError
        No such table on record (the message lists them).
    """
    tables = _tables(_RELATED)
    if name not in tables or not isinstance(tables[name], dict):
        known = sorted(k for k, v in tables.items() if isinstance(v, dict))
        raise UnknownNameError(f"no related-paper table {name!r} on record; known: {known}")
    return pd.DataFrame(tables[name]["rows"])


def related_caption(name: str) -> str:
    """The caption recorded for the related-paper table ``name``."""
    related_table(name)  # validates the name
    return str(_tables(_RELATED)[name]["caption"])


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
