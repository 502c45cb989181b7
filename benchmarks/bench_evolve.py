"""Benchmark: lockstep CMA-ES vs one pycma run after another, at a fixed evaluation budget.

Task: feature visualization of several output units of one zoo model (each run maximizes
one unit's logit under one readout condition), same generator, same network, same number of
evaluations per run. Two ways to spend that budget:

* **lockstep** -- :func:`signseg.evolve.minimize` with ``backend="torch"``: every generation
  renders and evaluates the populations of *all* runs as one batch;
* **sequential pycma** -- one ``cma.CMAEvolutionStrategy`` run after another (through
  ``backend="pycma"`` with one run, which equals plain pycma), each calling the generator and
  the network on its own population.

Both use the same variant (``sep`` by default), population size, start codes and sigma0.
The readout conditions come from :func:`signseg.ablation.readout_conditions`: penultimate
features are computed once per image and each image is read out under its run's condition.

A second scenario, ``optimizer_only``, repeats the comparison with a cheap objective (a
quadratic in the codes: no generator, no network) to isolate the optimizers' own cost.

Usage::

    .venv/bin/python benchmarks/bench_evolve.py                 # defaults below
    .venv/bin/python benchmarks/bench_evolve.py --threads 1 --units 0 1 --iterations 50

Writes ``benchmarks/results/evolve.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Callable

import torch

from signseg import generators, zoo
from signseg.ablation import evaluate_conditions, readout_conditions
from signseg.cache import atomic_write_text
from signseg.evolve import EvolveResult, default_popsize, minimize, run_seeds

RESULTS = Path(__file__).resolve().parent / "results" / "evolve.json"

Score = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options of the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="cifar10_resnet8", help="zoo model name")
    parser.add_argument("--weights", choices=["auto", "trained", "untrained"], default="auto",
                        help="auto: trained weights if cached, else the seeded initialisation")
    parser.add_argument("--generator", default="fourier",
                        help="generator name (offline: fourier, pixel)")
    parser.add_argument("--size", type=int, default=32, help="image size of the offline generators")
    parser.add_argument("--units", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--signs", nargs="+", default=["positive"])
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.0])
    parser.add_argument("--runs-per-unit", type=int, default=4,
                        help="runs per (unit, sign, alpha) condition")
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--popsize", type=int, default=None, help="default 4 + floor(3 log2 dim)")
    parser.add_argument("--variant", choices=["sep", "full"], default="sep")
    parser.add_argument("--batch-size", type=int, default=64,
                        help="images per network forward pass (0: one batch per objective call)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--progress", action="store_true", help="show tqdm bars")
    return parser.parse_args(argv)


def load_model(name: str, weights: str) -> zoo.ZooModel:
    """The zoo model with the requested weights (``auto``: trained if cached)."""
    if weights == "untrained":
        return zoo.load(name, pretrained=False)
    try:
        return zoo.load(name, pretrained=True, download=False,
                        progress=False)
    except FileNotFoundError:
        if weights == "trained":
            raise
        return zoo.load(name, pretrained=False)


def network_score(model: zoo.ZooModel, generator: generators.Generator, w_cond: torch.Tensor,
                  b_cond: torch.Tensor, batch_size: int | None) -> Score:
    """Logit of every code's image under its run's readout condition."""

    def score(codes: torch.Tensor, conditions: torch.Tensor) -> torch.Tensor:
        images = generator(codes)
        features = model.features(images, batch_size=batch_size or len(codes))  # 0 or None: one batch
        return evaluate_conditions(features, w_cond, b_cond, conditions)

    return score


def quadratic_score(codes: torch.Tensor, conditions: torch.Tensor) -> torch.Tensor:
    """A cheap stand-in objective: ``-||codes - condition||^2`` (maximum at the condition)."""
    return -((codes - conditions[:, None].to(codes.dtype)) ** 2).sum(dim=1)


class TimedObjective:
    """Per-run-block objectives built on ``score``, accumulating their wall-clock time.

    Parameters
    ----------
    score : callable (codes [N, dim], conditions [N]) -> values [N]
    run_condition : Tensor [runs]
        Condition index of every run.
    popsize : int
        Candidates per run and generation (maps rows of a population to runs).
    """

    def __init__(self, score: Score, run_condition: torch.Tensor, popsize: int) -> None:
        self.score, self.run_condition, self.popsize = score, run_condition, popsize
        self.seconds = 0.0
        self.calls = 0

    def for_runs(self, runs: slice) -> Callable[[torch.Tensor], torch.Tensor]:
        """The objective of a contiguous block of runs (all runs: ``slice(None)``)."""
        conditions = self.run_condition[runs].repeat_interleave(self.popsize)

        def objective(codes: torch.Tensor) -> torch.Tensor:
            start = time.perf_counter()
            with torch.inference_mode():
                values = self.score(codes, conditions)
            self.seconds += time.perf_counter() - start
            self.calls += 1
            return values

        return objective


def summarize(results: list[EvolveResult], seconds: float, objective: TimedObjective) -> dict:
    """Timing and quality numbers of one method (``results``: one per block of runs)."""
    best = torch.cat([r.best_f for r in results])
    evaluations = sum(r.evaluations * r.best_x.shape[0] for r in results)
    return {
        "seconds": seconds,
        "objective_seconds": objective.seconds,
        "optimizer_seconds": seconds - objective.seconds,
        "objective_calls": objective.calls,
        "evaluations": evaluations,
        "evaluations_per_second": evaluations / seconds,
        "median_best_activation": float(best.median()),
        "mean_best_activation": float(best.mean()),
        "best_activation_per_run": best.tolist(),
    }


def compare(score: Score, run_condition: torch.Tensor, x0: torch.Tensor, sigma0: float,
            seeds: list[int], options: dict) -> dict:
    """Time the lockstep optimizer against sequential pycma runs on the same objective."""
    popsize = options["popsize"]
    warm_up = TimedObjective(score, run_condition, popsize)
    for block in (slice(None), slice(0, 1)):  # first calls allocate and pick kernels
        warm_up.for_runs(block)(x0[block].repeat_interleave(popsize, dim=0))

    lockstep = TimedObjective(score, run_condition, popsize)
    start = time.perf_counter()
    lockstep_results = [minimize(lockstep.for_runs(slice(None)), x0, sigma0, backend="torch",
                                 seed=seeds, **options)]
    lockstep_seconds = time.perf_counter() - start

    sequential = TimedObjective(score, run_condition, popsize)
    start = time.perf_counter()
    sequential_results = [
        minimize(sequential.for_runs(slice(r, r + 1)), x0[r : r + 1], sigma0, backend="pycma",
                 seed=[seeds[r]], **options)
        for r in range(len(seeds))
    ]
    sequential_seconds = time.perf_counter() - start

    report = {
        "lockstep_torch": summarize(lockstep_results, lockstep_seconds, lockstep),
        "sequential_pycma": summarize(sequential_results, sequential_seconds, sequential),
    }
    fast, slow = report["lockstep_torch"], report["sequential_pycma"]
    report["throughput_ratio"] = fast["evaluations_per_second"] / slow["evaluations_per_second"]
    report["optimizer_time_ratio"] = slow["optimizer_seconds"] / fast["optimizer_seconds"]
    report["median_activation_difference"] = (
        fast["median_best_activation"] - slow["median_best_activation"])
    return report


def main(argv: list[str] | None = None) -> dict:
    """Run both scenarios and write the JSON report; returns it."""
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    model = load_model(args.model, args.weights)
    generator = generators.load(args.generator, **(
        {"size": args.size} if args.generator in ("fourier", "pixel") else {})).eval()
    layer = model.readout_layer()
    w_cond, b_cond, conditions = readout_conditions(layer.weight, layer.bias, args.units,
                                                    args.signs, args.alphas)
    run_condition = torch.arange(len(conditions)).repeat_interleave(args.runs_per_unit)
    x0 = generator.init_codes(len(run_condition), args.seed)
    seeds = run_seeds(args.seed, len(run_condition))
    options = dict(iterations=args.iterations, variant=args.variant, maximize=True,
                   popsize=args.popsize or default_popsize(generator.code_dim),
                   progress=args.progress)
    sigma0 = generator.default_sigma

    report = {
        "task": "feature visualization of readout units at a fixed budget",
        "model": model.name, "pretrained": model.pretrained, "generator": generator.name,
        "code_dim": generator.code_dim, "image_size": args.size, "units": args.units,
        "signs": args.signs, "alphas": args.alphas, "conditions": len(conditions),
        "runs": len(run_condition), "iterations": args.iterations,
        "popsize": options["popsize"], "variant": args.variant, "sigma0": sigma0,
        "batch_size": args.batch_size, "seed": args.seed,
        "visualization": compare(network_score(model, generator, w_cond, b_cond, args.batch_size),
                                 run_condition, x0, sigma0, seeds, options),
        "optimizer_only": compare(quadratic_score, run_condition, x0, sigma0, seeds, options),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
                    "load_average_after": list(os.getloadavg())},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.output, json.dumps(report, indent=2) + "\n")
    print(json.dumps(_headline(report), indent=2))
    return report


def _headline(report: dict) -> dict:
    """The numbers worth printing: per scenario and method, time, throughput, activation."""
    keys = ("seconds", "objective_seconds", "optimizer_seconds", "evaluations_per_second",
            "median_best_activation")
    headline = {}
    for scenario in ("visualization", "optimizer_only"):
        part = report[scenario]
        headline[scenario] = {
            method: {k: round(part[method][k], 4) for k in keys}
            for method in ("lockstep_torch", "sequential_pycma")
        }
        for k in ("throughput_ratio", "optimizer_time_ratio", "median_activation_difference"):
            headline[scenario][k] = round(part[k], 4)
    headline["threads"] = report["machine"]["torch_threads"]
    return headline


if __name__ == "__main__":
    main()
