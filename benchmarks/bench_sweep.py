"""Benchmark: sweeps on Dask, the lockstep engine against its floor, the cost per evaluation.

Three measurements, side by side in one run (issue 12); results in one JSON file:

* ``workers`` -- one visualization sweep (an untrained ``cifar10_resnet8``, the 32-px
  Fourier prior, 4 units x 3 conditions x 2 restarts = 24 runs in 8 chunks) in this process,
  then on a ``LocalCluster`` of 1 and of 2 single-threaded worker processes (warm workers,
  fresh stores): runs per second, the 2-vs-1 throughput ratio, and whether every result
  equals the in-process one bit for bit.
* ``lockstep`` -- ``benchmarks/bench_evolve.py``'s task (16 runs, 20 generations of 28
  images): the end-to-end time of :func:`signseg.evolve.minimize` against its floor, the
  generator + network evaluations of the same images alone, timed inside the run (as
  ``evolve.json``'s 1.14x was); the goal is a ratio of at most 1.15. As a cross-check the
  candidates of an identical seeded run are replayed through the objective alone
  (``replay_ratio``; taken minutes apart, so on a shared machine it moves with the load).
* ``per_evaluation`` -- seconds per image of DeePSiM fc6 and BigGAN-deep-256 (random
  weights: the cost does not depend on them) and of AlexNet, VGG16 and ResNet50 (penultimate
  features of generated 256-px images, resized whole), and of the sep-CMA-ES update per
  candidate at 4096-d / 40 and 256-d / 28; then the projected cost of the paper's full sweep
  (:func:`signseg.sweep.projected_cost`) and the seconds of one 100-generation DeePSiM +
  AlexNet visualization (GPU goal: 1.8 s; the paper: about 180 s on an RTX 4090).

Usage::

    .venv/bin/python benchmarks/bench_sweep.py                       # CPU, all three
    .venv/bin/python benchmarks/bench_sweep.py --only per_evaluation --device cuda \\
        --batch 256 --output benchmarks/results/sweep-gpu.json       # on a GPU machine

Writes ``benchmarks/results/sweep.json`` by default.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_evolve  # noqa: E402  (the evolve benchmark's model loading and scoring)

from signseg import generators, sweep, zoo  # noqa: E402
from signseg.ablation import readout_conditions  # noqa: E402
from signseg.cache import atomic_write_text  # noqa: E402
from signseg.evolve import LockstepCMA, minimize, run_seeds  # noqa: E402
from signseg.visualize import VisualizationConfig, job_table, visualize  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "sweep.json"
SECTIONS = ("workers", "lockstep", "per_evaluation")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options of the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--device", default="cpu", help="per_evaluation's device (cpu, cuda)")
    parser.add_argument("--batch", type=int, default=None,
                        help="images per forward pass in per_evaluation (default 8 on the CPU, "
                             "256 on a GPU)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed repetitions of the workers and lockstep measurements")
    parser.add_argument("--eval-repeats", type=int, default=2,
                        help="timed forward passes per generator and network (after a warm-up)")
    parser.add_argument("--sweep-iterations", type=int, default=10,
                        help="CMA-ES generations of the workers sweep")
    parser.add_argument("--note", default="", help="recorded with the results (the machine's state)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(function: Callable[[], Any], device: torch.device = torch.device("cpu")) -> float:
    """Wall-clock seconds of ``function()`` (the device synchronized before and after)."""
    _sync(device)
    start = time.perf_counter()
    function()
    _sync(device)
    return time.perf_counter() - start


# --------------------------------------------------------------------------- workers


def _sweep_config(iterations: int, units: tuple[int, ...] = (0, 1, 2, 3)) -> VisualizationConfig:
    return VisualizationConfig(units=units, alphas=(0.0, 1.0), signs=("positive", "negative"),
                               generators=("fourier",), generator_options={"fourier": {"size": 32}},
                               restarts=2, iterations=iterations, batch_runs=3, seed=0)


def _same(a: Any, b: Any) -> bool:
    """Whether two visualizations hold the same table and arrays, bit for bit."""
    ta, tb = a.table(), b.table()
    return ta.equals(tb) and all(np.array_equal(a.store.arrays(n), b.store.arrays(n))
                                 for n in ("image", "code", "trajectory"))


def workers_section(args: argparse.Namespace) -> dict[str, Any]:
    """One visualization sweep in this process and on LocalClusters of 1 and 2 workers."""
    model = zoo.load("cifar10_resnet8", pretrained=False, seed=0)
    config = _sweep_config(args.sweep_iterations)
    runs = len(job_table(config))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as a worker: one thread
    root = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    try:
        seconds = _timed(lambda: visualize(model, config, root=root / "inline", progress=False))
        reference = visualize(model, config, root=root / "inline", progress=False)
    finally:
        torch.set_num_threads(threads)
    report: dict[str, Any] = {"runs": runs, "chunks": -(-runs // config.batch_runs),
                              "iterations": config.iterations, "in_process": {
                                  "seconds": seconds, "runs_per_second": runs / seconds}}
    for workers in (1, 2):
        client = sweep.connect(f"local:{workers}")
        client.run(importlib.import_module, "signseg.visualize")
        visualize(model, _sweep_config(1, units=(5,)), root=root / f"warm-{workers}",
                  progress=False, scheduler=client)  # workers load the generator and model
        times = []
        for repeat in range(args.repeats):
            store = root / f"workers-{workers}-{repeat}"
            times.append(_timed(lambda: visualize(model, config, root=store, progress=False,
                                                  scheduler=client)))
        result = visualize(model, config, root=root / f"workers-{workers}-0", progress=False)
        sweep.disconnect()
        best = min(times)
        report[f"{workers}_workers"] = {"seconds": times, "best_seconds": best,
                                        "runs_per_second": runs / best,
                                        "identical_to_in_process": _same(result, reference)}
    report["throughput_ratio_2_vs_1"] = (report["2_workers"]["runs_per_second"]
                                         / report["1_workers"]["runs_per_second"])
    return report


# --------------------------------------------------------------------------- lockstep


def lockstep_section(args: argparse.Namespace) -> dict[str, Any]:
    """End-to-end time of lockstep CMA-ES against the evaluations of the same images alone."""
    options = bench_evolve.parse_args(["--popsize", "28"])  # the recorded evolve.json setting
    model = bench_evolve.load_model(options.model, options.weights)
    generator = generators.load(options.generator, size=options.size).eval()
    layer = model.readout_layer()
    w_cond, b_cond, conditions = readout_conditions(layer.weight, layer.bias, options.units,
                                                    options.signs, options.alphas)
    run_condition = torch.arange(len(conditions)).repeat_interleave(options.runs_per_unit)
    runs = len(run_condition)
    x0 = generator.init_codes(runs, options.seed)
    seeds = run_seeds(options.seed, runs)
    score = bench_evolve.network_score(model, generator, w_cond, b_cond, options.batch_size)
    timed = bench_evolve.TimedObjective(score, run_condition, options.popsize)

    def run(objective: Callable[[torch.Tensor], torch.Tensor]) -> Any:
        return minimize(objective, x0, generator.default_sigma, options.iterations,
                        popsize=options.popsize, maximize=True, seed=seeds, progress=False)

    plain = timed.for_runs(slice(None))
    plain(x0.repeat_interleave(options.popsize, dim=0))  # warm-up: allocations, kernels
    repetitions = []
    for _ in range(args.repeats):
        recorded: list[torch.Tensor] = []

        def recording(codes: torch.Tensor) -> torch.Tensor:
            recorded.append(codes.clone())
            return plain(codes)

        timed.seconds = 0.0
        start = time.perf_counter()
        result = run(plain)
        end_to_end = time.perf_counter() - start
        in_run = timed.seconds
        replay = run(recording)  # the same seeded run: the same candidates
        assert torch.equal(result.best_f, replay.best_f), "the lockstep run is not deterministic"
        timed.seconds = 0.0
        floor = _timed(lambda: [plain(codes) for codes in recorded])
        repetitions.append({"end_to_end_seconds": end_to_end, "floor_seconds": in_run,
                            "ratio": end_to_end / in_run, "replay_seconds": floor,
                            "replay_ratio": end_to_end / floor})
    ratios = [r["ratio"] for r in repetitions]
    return {"model": model.name, "generator": generator.name, "runs": runs,
            "iterations": options.iterations, "popsize": options.popsize,
            "image_batch": options.batch_size, "torch_threads": torch.get_num_threads(),
            "repetitions": repetitions, "median_ratio": statistics.median(ratios),
            "goal": 1.15, "previous_ratio": 1.14}


# --------------------------------------------------------------------------- per evaluation


def _paper_generators(device: torch.device) -> dict[str, generators.Generator]:
    """DeePSiM fc6 and BigGAN-deep-256 with random weights (same cost as the published ones)."""
    from signseg.generators.biggan import BigGANDeep, build_biggan
    from signseg.generators.deepsim import DeePSiMFc6
    from signseg.standins import BIGGAN_DEEP_256_CONFIG

    torch.manual_seed(0)
    return {"deepsim-fc6": DeePSiMFc6().to(device).eval(),
            "biggan-deep-256": BigGANDeep(build_biggan(BIGGAN_DEEP_256_CONFIG)).to(device).eval()}


def _per_image(function: Callable[[], Any], batch: int, repeats: int, device: torch.device) -> float:
    """Median seconds per image of ``function()`` on a batch (after one warm-up call)."""
    with torch.no_grad():
        function()
        return statistics.median(_timed(function, device) for _ in range(repeats)) / batch


def _optimizer_per_candidate(dim: int, popsize: int, device: torch.device, repeats: int) -> float:
    """Seconds per candidate of the sep-CMA-ES ask + tell (a quadratic fitness), 64 runs."""
    runs, generations = 64, 5
    optimizer = LockstepCMA(torch.zeros(runs, dim, device=device), 1.0, popsize, seed=0)

    def generations_() -> None:
        for _ in range(generations):
            candidates = optimizer.ask()
            optimizer.tell(candidates, (candidates ** 2).sum(dim=2))

    return _per_image(generations_, runs * popsize * generations, repeats, device)


def per_evaluation_section(args: argparse.Namespace) -> dict[str, Any]:
    """Seconds per image of the paper's generators and networks, per candidate of CMA-ES."""
    device = torch.device(args.device)
    batch = args.batch or (256 if device.type == "cuda" else 8)
    section: dict[str, Any] = {
        "device": (torch.cuda.get_device_name(device) if device.type == "cuda"
                   else f"CPU: {platform.processor() or platform.machine()}, "
                        f"{torch.get_num_threads()} torch threads"),
        "batch": batch, "generators": {}, "networks": {}, "optimizer": {}}
    images = torch.rand(batch, 3, 256, 256, device=device)
    for name, generator in _paper_generators(device).items():
        codes = generator.init_codes(batch, 0).to(device)
        section["generators"][name] = _per_image(lambda: generator(codes), batch, args.eval_repeats,
                                                 device)
    for name in ("alexnet", "vgg16", "resnet50"):
        model = zoo.load(name, pretrained=False, seed=0)
        model.model.to(device)
        section["networks"][name] = _per_image(
            lambda: model.features(images, batch_size=batch, crop=False), batch, args.eval_repeats,
            device)
    for name, dim in (("deepsim-fc6", 4096), ("biggan-deep-256", 256)):
        popsize = sweep.PAPER_SWEEP.popsize[name]
        section["optimizer"][name] = _optimizer_per_candidate(dim, popsize, device, args.eval_repeats)
    return section


def projection(report: dict[str, Any]) -> dict[str, Any]:
    """The paper's full sweep at the measured cost (one device), and one visualization."""
    table = sweep.projected_cost(report)
    seconds = float(table["seconds"].sum())
    return {"design": "1000 classes x 8 networks x 21 conditions x 20 visualizations, "
                      "100 generations of 40 (DeePSiM) or 28 (BigGAN) images",
            "evaluations": int(table["evaluations"].sum()), "seconds": seconds,
            "days": seconds / 86400, "years": seconds / 86400 / 365.25,
            "deepsim_alexnet_visualization_seconds": sweep.visualization_seconds(report),
            "per_part": table.round(6).to_dict(orient="records")}


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the chosen sections and write the JSON report; returns it."""
    args = parse_args(argv)
    report: dict[str, Any] = {"note": args.note, "machine": {
        "platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "load_average_before": os.getloadavg()}}
    runners = {"workers": workers_section, "lockstep": lockstep_section,
               "per_evaluation": per_evaluation_section}
    for name in SECTIONS:
        if name in args.only:
            start = time.perf_counter()
            report[name] = runners[name](args)
            report[name]["section_seconds"] = time.perf_counter() - start
            report[name]["load_average_after"] = os.getloadavg()
            print(f"{name}: done in {report[name]['section_seconds']:.0f} s", flush=True)
    if "per_evaluation" in report:
        report["projection"] = projection(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.output, json.dumps(report, indent=2) + "\n")
    print(json.dumps(_headline(report), indent=2))
    return report


def _headline(report: dict[str, Any]) -> dict[str, Any]:
    """The numbers worth printing."""
    headline: dict[str, Any] = {}
    if "workers" in report:
        part = report["workers"]
        headline["workers"] = {
            "runs_per_second": {k: round(part[k]["runs_per_second"], 3)
                                for k in ("in_process", "1_workers", "2_workers")},
            "throughput_ratio_2_vs_1": round(part["throughput_ratio_2_vs_1"], 3),
            "identical": [part[k]["identical_to_in_process"] for k in ("1_workers", "2_workers")]}
    if "lockstep" in report:
        headline["lockstep"] = {key: [round(r[key], 3) for r in report["lockstep"]["repetitions"]]
                                for key in ("ratio", "replay_ratio")}
    if "projection" in report:
        part = report["projection"]
        headline["projection"] = {k: part[k] for k in (
            "evaluations", "days", "years", "deepsim_alexnet_visualization_seconds")}
        headline["per_evaluation"] = {k: report["per_evaluation"][k]
                                      for k in ("generators", "networks", "optimizer")}
    return headline


if __name__ == "__main__":
    main()
