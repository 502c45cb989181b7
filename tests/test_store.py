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
    with pytest.raises(InvalidInputError, match="repeat the keys"):
        store.write(pd.concat([jobs, jobs.iloc[:1]]))


def test_writing_a_stored_chunk_again_changes_nothing(tmp_path):
    store = ResultsStore("vis", {"model": "m"}, KEYS, root=tmp_path)
    jobs = _jobs().iloc[:2].assign(best=[1.0, 2.0])
    first = store.write(jobs, {"x": np.array([[1.0], [2.0]])})
    files = sorted(p.name for p in (store.path / "chunks").iterdir())
    # a retried job (another value, e.g. from another device): the first commit stays
    again = store.write(jobs.assign(best=[9.0, 9.0]), {"x": np.array([[9.0], [9.0]])})
    assert again == first and store.has(jobs)
    assert sorted(p.name for p in (store.path / "chunks").iterdir()) == files
    assert store.table()["best"].tolist() == [1.0, 2.0]
    assert store.arrays("x").ravel().tolist() == [1.0, 2.0]


def test_racing_writers_one_commit_wins_whole(tmp_path, monkeypatch):
    """Writer B finds the chunk unstored, but writer A commits while B writes its arrays:
    B's table is not published and B's (different) arrays file is removed."""
    import signseg.store as store_module

    store = ResultsStore("vis", {"model": "m"}, KEYS, root=tmp_path)
    jobs = _jobs().iloc[:3]
    original = store_module.atomic_write_bytes

    def a_commits_first(path, data):
        original(path, data)
        monkeypatch.setattr(store_module, "atomic_write_bytes", original)
        store.write(jobs.assign(best=1.0), {"x": np.ones((3, 2))})  # writer A

    monkeypatch.setattr(store_module, "atomic_write_bytes", a_commits_first)
    store.write(jobs.assign(best=2.0), {"x": np.full((3, 2), 2.0)})  # writer B
    assert store.table()["best"].tolist() == [1.0, 1.0, 1.0]
    assert (store.arrays("x") == 1.0).all()
    assert len(list((store.path / "chunks").glob("*.npz"))) == 1


def test_a_job_in_two_chunks_is_read_once(tmp_path):
    store = ResultsStore("vis", {"model": "m"}, KEYS, root=tmp_path)
    jobs = _jobs().assign(best=np.arange(8.0))
    store.write(jobs.iloc[:5], {"x": np.arange(5.0)})
    store.write(jobs.iloc[3:], {"x": np.arange(3.0, 8.0)})  # jobs 3 and 4 twice
    table = store.table()
    assert len(table) == 8 and not table.duplicated(KEYS).any()
    assert sorted(table["best"]) == list(np.arange(8.0))
    assert (store.arrays("x", table) == table["best"].to_numpy()).all()
    assert store.missing(_jobs()).empty


def test_reads_chunks_written_before_content_named_arrays(tmp_path):
    store = ResultsStore("vis", {"model": "m"}, KEYS, root=tmp_path)
    jobs = _jobs().iloc[:2].assign(best=[3.0, 4.0])
    chunk = store.chunk_id(jobs)
    np.savez_compressed(store.path / "chunks" / f"{chunk}.npz", x=np.array([3.0, 4.0]))
    jobs.to_parquet(store.path / "chunks" / f"{chunk}.parquet", index=False)
    assert store.chunk_files(chunk)[1].name == f"{chunk}.npz"
    assert store.arrays("x").tolist() == [3.0, 4.0] and store.has(jobs)


def test_interrupted_write_leaves_no_chunk(tmp_path, monkeypatch):
    store = ResultsStore("vis", {"model": "m"}, KEYS, root=tmp_path)

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("pyarrow.parquet.write_table", boom)
    with pytest.raises(KeyboardInterrupt):
        store.write(_jobs().iloc[:2], {"image": np.zeros((2, 1))})
    monkeypatch.undo()
    assert store.table().empty and len(store.missing(_jobs())) == 8
    assert not list((store.path / "chunks").glob("*.parquet"))
