"""Sweeps on Dask (signseg.sweep): the same results anywhere, through failures and restarts.

One 2-process LocalCluster serves the module. The visualization is tiny (an untrained
procedural ResNet-8, a 16-px Fourier prior, 4 CMA-ES generations of 8 images): 12 runs in
4 chunks of 3.
"""

import importlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import cloudpickle
import numpy as np
import pandas as pd
import pytest

import signseg.visualize as visualize_module
from signseg import sweep, zoo
from signseg.errors import InvalidInputError
from signseg.store import ResultsStore
from signseg.visualize import VisualizationConfig, job_table, visualize

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests/

CONFIG = VisualizationConfig(units=(0, 3), alphas=(0.0, 1.0), generators=("fourier",),
                             generator_options={"fourier": {"size": 16}}, restarts=2,
                             iterations=4, popsize=8, batch_runs=3, seed=1)
RUNS, CHUNKS = 12, 4  # 2 units x (control + 2 signs) x 2 restarts, in chunks of 3


@pytest.fixture(scope="module")
def model():
    return zoo.load("procedural_resnet8", pretrained=False, seed=0)


@pytest.fixture(scope="module")
def reference(model, tmp_path_factory):
    """The single-process result."""
    return visualize(model, CONFIG, root=tmp_path_factory.mktemp("reference"), progress=False)


@pytest.fixture(scope="module")
def client():
    client = sweep.connect("local:2")
    client.run(importlib.import_module, "signseg.visualize")  # workers import torch once, here
    yield client
    sweep.disconnect()


def assert_same_results(result, reference):
    """Tables and every array equal bit for bit, each job stored once."""
    table = result.table()
    assert len(table) == RUNS and not table.duplicated(visualize_module.KEY_COLUMNS).any()
    pd.testing.assert_frame_equal(table, reference.table(), check_exact=True)
    for name in ("image", "code", "trajectory"):
        assert np.array_equal(result.store.arrays(name), reference.store.arrays(name)), name


class KillOnce:
    """A model whose first evaluation on any Dask worker kills that worker's process (SIGKILL)."""

    def __init__(self, model, marker):
        self.inner, self.model, self.marker = model, model.model, str(marker)
        self.name, self.pretrained = model.name, model.pretrained

    def readout_layer(self):
        return self.inner.readout_layer()

    def features(self, images, **options):
        from distributed import get_worker

        try:
            get_worker()
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL))
        except (ValueError, FileExistsError):  # not on a worker, or killed one already
            return self.inner.features(images, **options)
        os.kill(os.getpid(), signal.SIGKILL)


def test_local_cluster_equals_single_process_bitwise(model, reference, client, tmp_path):
    result = visualize(model, CONFIG, root=tmp_path, progress=False, scheduler=client)
    assert_same_results(result, reference)
    assert len(list((result.store.path / "chunks").glob("*.parquet"))) == CHUNKS
    # text specs reach the same cluster; tasks carry the caller's signseg environment
    assert sweep.connect("local:2") is client
    os.environ["SIGNSEG_TEST_MARK"] = str(tmp_path)
    try:
        assert sweep.map_tasks(os.getenv, ["SIGNSEG_TEST_MARK"] * 2, scheduler="local:2",
                               progress=False) == [str(tmp_path)] * 2
    finally:
        del os.environ["SIGNSEG_TEST_MARK"]


def test_a_killed_worker_loses_nothing(model, reference, client, tmp_path):
    marker = tmp_path / "killed"
    result = visualize(KillOnce(model, marker), CONFIG, root=tmp_path / "store", progress=False,
                       scheduler=client)
    assert marker.exists()  # a worker did die in the middle of a chunk
    assert_same_results(result, reference)


def test_an_interrupted_sweep_recomputes_only_the_missing_chunks(model, reference, tmp_path,
                                                                   monkeypatch):
    stored = []
    write = ResultsStore.write

    def interrupted(self, rows, arrays=None):
        if len(stored) == 2:
            raise KeyboardInterrupt  # the third chunk is computed, its results never land
        stored.append(tuple(rows["unit"]))
        return write(self, rows, arrays)

    monkeypatch.setattr(ResultsStore, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        visualize(model, CONFIG, root=tmp_path, progress=False)
    monkeypatch.setattr(ResultsStore, "write", write)
    ran = []
    run_group = visualize_module._run_group

    def counted(model, config, store, group, *args):
        ran.append(tuple(group["unit"]))
        return run_group(model, config, store, group, *args)

    monkeypatch.setattr(visualize_module, "_run_group", counted)
    result = visualize(model, CONFIG, root=tmp_path, progress=False)
    assert len(ran) == CHUNKS - 2  # the two stored chunks are not run again
    assert_same_results(result, reference)
    ran.clear()
    visualize(model, CONFIG, root=tmp_path, progress=False)
    assert ran == []


WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import numpy as np, pandas as pd
    from signseg.store import ResultsStore

    root, reverse, go = sys.argv[1], sys.argv[2] == "1", Path(sys.argv[3])
    store = ResultsStore("race", {"jobs": 60}, ["job"], root=root)
    Path(root, f"ready-{sys.argv[2]}").touch()
    jobs = pd.DataFrame({"job": range(60)})
    for size in (4, 6):  # the same chunks as the other writer, then overlapping ones
        chunks = [jobs.iloc[i:i + size] for i in range(0, 60, size)]
        while not go.exists():
            time.sleep(0.002)
        for chunk in (chunks[::-1] if reverse else chunks):
            job = chunk["job"].to_numpy()
            store.write(chunk.assign(value=2.0 * job), {"x": np.repeat(job[:, None], 3, axis=1)})
""")


def test_two_processes_writing_one_store_lose_nothing(tmp_path):
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(Path(visualize_module.__file__).parents[1])}
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), reverse, str(go)],
                                env=env, stderr=subprocess.PIPE, text=True)
               for reverse in ("0", "1")]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready-{reverse}").exists() for reverse in ("0", "1")):
        failed = [writer.stderr.read() for writer in writers if writer.poll() is not None]
        assert not failed and time.monotonic() < deadline, failed
        time.sleep(0.01)  # both have imported: start them together
    go.touch()
    for writer in writers:
        assert writer.wait(timeout=60) == 0, writer.stderr.read()
    store = ResultsStore("race", {"jobs": 60}, ["job"], root=tmp_path)
    table = store.table()
    assert sorted(table["job"]) == list(range(60))  # nothing lost, nothing twice
    assert (table["value"] == 2.0 * table["job"]).all()
    assert (store.arrays("x", table) == table["job"].to_numpy()[:, None]).all()
    assert not list(store.path.glob("chunks/.*.tmp"))


def test_plan_and_pending_chunks_by_hand(tmp_path):
    jobs = pd.DataFrame({"job": range(7), "generator": list("ffpfppf")})
    chunks = sweep.plan_chunks(jobs, 3, by=["generator"])
    assert [c["job"].tolist() for c in chunks] == [[0, 1], [2], [3], [4, 5], [6]]
    store = ResultsStore("plan", {}, ["job", "generator"], root=tmp_path)
    store.write(chunks[0])
    store.write(chunks[3].iloc[:1])  # job 4 alone (a chunk of an older plan)
    assert [c["job"].tolist() for c in sweep.pending_chunks(store, chunks)] == [[2], [3], [5], [6]]
    with pytest.raises(InvalidInputError, match="chunk size"):
        sweep.plan_chunks(jobs, 0)


def test_scheduler_specs():
    assert sweep.connect(None) is None and sweep.connect("inline") is None
    with pytest.raises(InvalidInputError, match="local:N"):
        sweep.connect("local:0")
    with pytest.raises(InvalidInputError, match="scheduler must be"):
        sweep.connect(3)
    assert str(sweep.worker_device()) == "cpu"  # not on a worker
    assert sweep.map_tasks(int, ["ff", "17"], shared={"base": 16}, progress=False) == [255, 23]


def test_train_models_trains_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("SIGNSEG_CACHE", str(tmp_path))
    train = {"procedural": {"epochs": 1, "width": 4, "n_train": 200, "n_test": 100,
                            "batch_size": 50, "data": {"n": 300}}}
    assert sweep.train_models(["procedural_resnet8", "alexnet"], train, progress=False) == [
        "procedural_resnet8"]
    assert sweep.train_models(["procedural_resnet8"], train, progress=False) == []
    model = zoo.load("procedural_resnet8", train_config=train["procedural"])  # never trains
    assert model.pretrained and len(model.checkpoints) == 2


def test_projected_cost_by_hand(tmp_path):
    measured = {"per_evaluation": {
        "generators": {"deepsim-fc6": 0.003, "biggan-deep-256": 0.01},
        "networks": {"alexnet": 0.001, "vgg16": 0.004, "resnet50": 0.002},
        "optimizer": {"deepsim-fc6": 0.001, "biggan-deep-256": 0.00275}}}
    table = sweep.projected_cost(measured)
    assert len(table) == 16 and set(table["architecture"]) == {"alexnet", "vgg16", "resnet50"}
    first = table.iloc[0]  # AlexNet + DeePSiM: 1000 x 21 x 10 runs x 100 x 40 images
    assert (first["network"], first["generator"]) == ("alexnet", "deepsim-fc6")
    assert first["evaluations"] == 840_000_000
    assert first["seconds"] == pytest.approx(840e6 * (0.003 + 0.001 + 0.001))
    assert table.iloc[1]["evaluations"] == 588_000_000  # BigGAN: 28 images per generation
    # AlexNet 12,285,000 s + VGG16 16,569,000 s + 6 ResNet50s x 13,713,000 s
    assert table["seconds"].sum() == pytest.approx(111_132_000)
    assert sweep.projected_cost(measured, devices=10)["seconds"].sum() == pytest.approx(11_113_200)
    assert sweep.visualization_seconds(measured) == pytest.approx(100 * 40 * 0.005)
    path = tmp_path / "measured.json"
    path.write_text(__import__("json").dumps(measured))
    assert sweep.projected_cost(path)["seconds"].sum() == pytest.approx(111_132_000)
    del measured["per_evaluation"]["networks"]["vgg16"]
    with pytest.raises(InvalidInputError, match="network 'vgg16'"):
        sweep.projected_cost(measured)


def test_tune_malloc_sets_glibc_thresholds_once():
    assert sweep.fanout.tune_malloc() is sweep.fanout.tune_malloc()
    assert sweep.fanout.tune_malloc() == (sys.platform == "linux")
