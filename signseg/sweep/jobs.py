"""A sweep's jobs in chunks: one fixed partition, and the part of it still to compute.

A chunk is the unit of work of one task and of one write to a
:class:`~signseg.store.ResultsStore` (for visualizations: runs evolved in lockstep). Its
rows are decided by the full job table and the chunk size alone, never by what is stored
already, so a sweep that was interrupted, restarted, or spread over any number of workers
computes every job in the same company and gets the same numbers.
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd

from ..errors import InvalidInputError
from ..store import ResultsStore

__all__ = ["plan_chunks", "pending_chunks"]


def plan_chunks(jobs: pd.DataFrame, size: int, by: Sequence[str] = ()) -> list[pd.DataFrame]:
    """Consecutive blocks of ``size`` rows of ``jobs``, each split by the values of ``by``.

    Parameters
    ----------
    jobs:
        The full job table of the sweep (one row per job), in its canonical order.
    size:
        Rows per block (>= 1).
    by:
        Columns whose rows must not share a chunk (e.g. ``"generator"``: one generator per
        lockstep batch); groups keep their order of first appearance within the block.

    Returns
    -------
    list of DataFrame
        The chunks, each with a fresh ``0..n-1`` index.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise InvalidInputError(f"chunk size must be an integer >= 1, got {size!r}")
    chunks = []
    for start in range(0, len(jobs), size):
        block = jobs.iloc[start:start + size]
        if not by:
            chunks.append(block.reset_index(drop=True))
            continue
        for _, group in block.groupby(list(by), sort=False):
            chunks.append(group.reset_index(drop=True))
    return chunks


def pending_chunks(store: ResultsStore, chunks: Sequence[pd.DataFrame]) -> list[pd.DataFrame]:
    """The rows of each chunk that ``store`` lacks; chunks with nothing missing are left out.

    The store's table is read once. A chunk of the plan is normally stored whole or not at
    all; rows of a partly stored chunk (written by an older plan) are returned on their own.
    """
    if not chunks:
        return []
    keys = store.key_columns
    missing = store.missing(pd.concat(list(chunks), ignore_index=True))
    todo = set(missing[keys].itertuples(index=False, name=None))
    pending = []
    for chunk in chunks:
        wanted = [key in todo for key in chunk[keys].itertuples(index=False, name=None)]
        if any(wanted):
            pending.append(chunk[wanted].reset_index(drop=True))
    return pending
