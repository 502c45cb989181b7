"""Issue 11 case 5: a damaged file names itself; caches signseg wrote are recomputed.

Hub checkpoints are covered in test_hub.py; here: training checkpoints and ``meta.json``,
data archives without ``SHA256SUMS``, an image in a tree, the decoded-data cache and the
results-store chunks.
"""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from signseg import data, train
from signseg.errors import DamagedFileError
from signseg.store import ResultsStore

TINY = {"epochs": 2, "batch_size": 10, "lr": 0.05, "width": 2, "n_train": None, "n_test": 20,
        "data": {"n": 40}}
NAME = "procedural_resnet8"
DIGITS = [str(digit) for digit in range(10)]


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SIGNSEG_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SIGNSEG_DATA", raising=False)
    return tmp_path / "cache"


def truncate(path: Path, keep: float = 0.5) -> None:
    content = path.read_bytes()
    path.write_bytes(content[: int(len(content) * keep)])


def states_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# --------------------------------------------------------------------------- training cache


@pytest.fixture
def trained() -> train.TrainResult:
    return train.train(NAME, TINY, progress=False)


@pytest.mark.parametrize("damage", ["truncate", "empty", "wrong keys"])
def test_damaged_meta_json_is_recomputed(trained, damage):
    meta = trained.directory / "meta.json"
    if damage == "truncate":
        truncate(meta)
    elif damage == "empty":
        meta.write_text("")
    else:
        meta.write_text('{"name": "x"}')
    with pytest.warns(RuntimeWarning, match="meta.json"):
        assert train.load_result(NAME, TINY) is None
    again = train.train(NAME, TINY, progress=False)  # resumes from the intact checkpoints
    assert again.history["test_acc"].tolist() == trained.history["test_acc"].tolist()
    assert train.load_result(NAME, TINY) is not None


def test_damaged_epoch_checkpoint_is_retrained_bitwise(trained):
    final = train.checkpoint_state_dict(trained.checkpoints[-1])
    truncate(trained.checkpoints[1])
    with pytest.raises(DamagedFileError) as info:
        train.checkpoint_state_dict(trained.checkpoints[1])
    assert str(trained.checkpoints[1]) in str(info.value) and "Delete it" in str(info.value)
    with pytest.warns(RuntimeWarning, match="epoch_001.pt"):
        assert train.load_result(NAME, TINY) is None
    assert not trained.checkpoints[2].exists()  # later epochs go too; epoch 0 stays
    again = train.train(NAME, TINY, progress=False)
    assert states_equal(train.checkpoint_state_dict(again.checkpoints[-1]), final)


def test_resume_steps_back_over_a_damaged_last_checkpoint(trained):
    final = train.checkpoint_state_dict(trained.checkpoints[-1])
    (trained.directory / "meta.json").unlink()  # an interrupted run: no record yet
    trained.checkpoints[2].write_bytes(b"")
    with pytest.warns(RuntimeWarning, match="epoch_002.pt"):
        again = train.train(NAME, TINY, progress=False)
    assert states_equal(train.checkpoint_state_dict(again.checkpoints[-1]), final)


# --------------------------------------------------------------------------- data


def mnist_tree(tree: Path) -> None:
    for split in ("train", "test"):
        for digit in DIGITS:
            (tree / split / digit).mkdir(parents=True)
            Image.new("L", (28, 28), 10 * int(digit)).save(tree / split / digit / "0.png")


def test_truncated_archive_without_sums_names_the_archive(tmp_path: Path):
    mnist_tree(tmp_path / "src" / "mnist-png")
    archive = tmp_path / "shared" / "mnist-png.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "src" / "mnist-png", arcname="mnist-png")
    truncate(archive, 0.6)
    with pytest.raises(DamagedFileError, match="cannot be read as a .tar.gz archive") as info:
        data.load("mnist", "test", root=archive.parent, progress=False)
    assert str(archive) in str(info.value) and "copy the archive again" in str(info.value)
    archive.write_bytes(b"")
    with pytest.raises(DamagedFileError, match="is empty"):
        data.load("mnist", "test", root=archive.parent, progress=False)


def test_unreadable_image_in_a_tree_names_the_image(tmp_path: Path):
    mnist_tree(tmp_path / "mnist-png")
    bad = tmp_path / "mnist-png" / "train" / "7" / "1.png"
    bad.write_bytes(b"\x89PNG\r\n")  # a cut-off PNG
    with pytest.raises(DamagedFileError, match="is not a readable image") as info:
        data.load("mnist", "train", root=tmp_path, progress=False)
    assert str(bad) in str(info.value)


@pytest.mark.parametrize("damage", ["truncate", "empty", "wrong keys"])
def test_damaged_decoded_cache_is_decoded_again(tmp_path: Path, isolated: Path, damage):
    mnist_tree(tmp_path / "mnist-png")
    first = data.load("mnist", "train", root=tmp_path, progress=False)
    (cached,) = (isolated / "data" / "decoded").glob("mnist-train-*.npz")
    if damage == "truncate":
        truncate(cached)
    elif damage == "empty":
        cached.write_bytes(b"")
    else:
        np.savez(cached.open("wb"), images=np.zeros(1))
    with pytest.warns(RuntimeWarning, match=str(cached.name)):
        again = data.load("mnist", "train", root=tmp_path, progress=False)
    assert torch.equal(again.images, first.images) and again.classes == first.classes
    assert torch.equal(data.load("mnist", "train", root=tmp_path, progress=False).images,
                       first.images)  # the cache was rewritten


# --------------------------------------------------------------------------- results store


def store_with_two_chunks(root: Path) -> tuple[ResultsStore, pd.DataFrame]:
    store = ResultsStore("t", {"a": 1}, ["job"], root=root)
    jobs = pd.DataFrame({"job": [0, 1, 2, 3]})
    for part in (jobs.iloc[:2], jobs.iloc[2:]):
        store.write(part.assign(value=part["job"] * 10.0),
                    {"x": np.arange(len(part), dtype=float)[:, None] + part["job"].to_numpy()[:, None]})
    return store, jobs


@pytest.mark.parametrize("which, damage", [
    ("parquet", "truncate"), ("parquet", "empty"), ("npz", "truncate"), ("npz", "delete"),
])
def test_a_damaged_store_chunk_counts_as_missing(tmp_path: Path, which, damage):
    store, jobs = store_with_two_chunks(tmp_path)
    first = sorted((store.path / "chunks").glob("*.parquet"))[0].stem
    table, arrays = store.chunk_files(first)
    chunk = table if which == "parquet" else arrays
    rows = pd.read_parquet(table)["job"].tolist()
    if damage == "truncate":
        truncate(chunk)
    elif damage == "empty":
        chunk.write_bytes(b"")
    else:
        chunk.unlink()
    with pytest.warns(RuntimeWarning, match=chunk.stem):
        missing = store.missing(jobs)
    assert missing["job"].tolist() == rows  # its jobs are to be run again, not taken as done
    assert sorted(store.table()["job"]) == sorted(set(range(4)) - set(rows))
    redone = jobs[jobs["job"].isin(rows)]
    store.write(redone.assign(value=redone["job"] * 10.0), {"x": np.zeros((len(redone), 1))})
    assert sorted(store.table()["job"]) == [0, 1, 2, 3]


def test_damaged_chunk_arrays_name_the_file_when_read(tmp_path: Path):
    store, _ = store_with_two_chunks(tmp_path)
    rows = store.table()
    npz = sorted((store.path / "chunks").glob("*.npz"))[0]
    with zipfile.ZipFile(npz) as archive:  # overwrite the array's data, keep the zip index
        info = archive.infolist()[0]
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    content = bytearray(npz.read_bytes())
    content[start:start + info.compress_size] = b"\xff" * info.compress_size
    npz.write_bytes(bytes(content))
    assert zipfile.is_zipfile(npz)  # so table() still lists the chunk
    with pytest.raises(DamagedFileError) as info:
        store.arrays("x", rows)
    assert str(npz) in str(info.value) and "recomputes" in str(info.value)
