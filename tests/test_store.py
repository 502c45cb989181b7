"""The results store: content-addressed, atomic chunks, resumable."""

import numpy as np
import pandas as pd
import pytest

from signseg.errors import InvalidInputError
from signseg.store import ResultsStore

KEYS = ["unit", "sign", "restart"]


def _jobs():
    return pd.DataFrame([(u, s, r) for u in (0, 5) for s in ("positive", "negative") for r in (0, 1)],
                        columns=KEYS)


def test_round_trip_and_resume(tmp_path):
    store = ResultsStore("vis", {"model": "m", "alphas": [0.0, 0.5]}, KEYS, root=tmp_path)
    jobs = _jobs()
    assert len(store.missing(jobs)) == 8
    first = jobs.iloc[:3].assign(best=[1.0, 2.0, 3.0])
    store.write(first, {"image": np.arange(3 * 4).reshape(3, 2, 2).astype(np.uint8)})
    # a new object on the same config sees the stored work: only 5 jobs remain
    again = ResultsStore("vis", {"alphas": [0.0, 0.5], "model": "m"}, KEYS, root=tmp_path)
    assert again.path == store.path
    remaining = again.missing(jobs)
    assert len(remaining) == 5
    assert remaining.iloc[0].tolist() == [0, "negative", 1]
    again.write(remaining.assign(best=0.0), {"image": np.zeros((5, 2, 2), np.uint8)})
    table = again.table()
    assert len(table) == 8 and again.missing(jobs).empty
    chosen = table[(table["unit"] == 0) & (table["sign"] == "positive") & (table["restart"] == 1)]
    assert chosen["best"].item() == 2.0
    assert again.arrays("image", chosen)[0].tolist() == [[4, 5], [6, 7]]


def test_different_config_is_a_different_store(tmp_path):
    a = ResultsStore("vis", {"model": "m"}, KEYS, root=tmp_path)
    b = ResultsStore("vis", {"model": "n"}, KEYS, root=tmp_path)
    assert a.path != b.path


def test_errors(tmp_path):
    store = ResultsStore("vis", {"model": "m"}, KEYS, root=tmp_path)
    jobs = _jobs().iloc[:2]
    with pytest.raises(InvalidInputError, match="2 rows"):
        store.write(jobs, {"image": np.zeros((3, 1))})
    with pytest.raises(InvalidInputError, match="key columns"):
        store.write(jobs.drop(columns="sign"))
    store.write(jobs)
    with pytest.raises(InvalidInputError, match="already stored"):
        store.write(jobs)


def test_interrupted_write_leaves_no_chunk(tmp_path, monkeypatch):
    store = ResultsStore("vis", {"model": "m"}, KEYS, root=tmp_path)

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_parquet", boom)
    with pytest.raises(KeyboardInterrupt):
        store.write(_jobs().iloc[:2], {"image": np.zeros((2, 1))})
    monkeypatch.undo()
    assert store.table().empty and len(store.missing(_jobs())) == 8
    assert not list((store.path / "chunks").glob("*.parquet"))
