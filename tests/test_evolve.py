"""Tests of signseg.evolve: convergence against pycma, independence, determinism, errors."""

from __future__ import annotations

import cma
import numpy as np
import pytest
import torch

from signseg.errors import InvalidInputError
from signseg.evolve import (
    CMAParameters,
    LockstepCMA,
    PycmaLockstep,
    default_popsize,
    make_optimizer,
    minimize,
    pycma_options,
    run_seeds,
)

DIM = 10


def sphere(x: torch.Tensor) -> torch.Tensor:
    return (x.double() ** 2).sum(dim=1)


def ellipsoid(x: torch.Tensor) -> torch.Tensor:
    """Axis-parallel ellipsoid with condition number 1e4."""
    scales = torch.logspace(0, 4, x.shape[1], dtype=torch.float64)
    return (scales * x.double() ** 2).sum(dim=1)


def rosenbrock(x: torch.Tensor) -> torch.Tensor:
    x = x.double()
    return (100 * (x[:, 1:] - x[:, :-1] ** 2) ** 2 + (1 - x[:, :-1]) ** 2).sum(dim=1)


def evaluations_to_target(optimizer, objective, target: float, max_generations: int) -> np.ndarray:
    """Ask/tell until every run's best value is <= target; evaluations each run needed."""
    runs, lam, dim = optimizer.runs, optimizer.popsize, optimizer.dim
    reached = np.full(runs, np.inf)
    for _ in range(max_generations):
        candidates = optimizer.ask()
        optimizer.tell(candidates, objective(candidates.reshape(-1, dim)).reshape(runs, lam))
        newly = (optimizer.best_f.numpy() <= target) & np.isinf(reached)
        reached[newly] = optimizer.evaluations
        if np.isfinite(reached).all():
            break
    return reached


# --------------------------------------------------------------------------- constants


def test_default_population_sizes_are_wang_and_ponces() -> None:
    # CholeskyCMAES (ActMax-Optimizer-Dev core/Optimizers.py): int(4 + floor(3 * log2(N)))
    assert default_popsize(4096) == 40  # 4 + 3 * 12
    assert default_popsize(256) == 28  # 4 + 3 * 8
    assert default_popsize(DIM) == 13  # 4 + floor(9.966)
    assert [default_popsize(n) for n in range(2, 3000)] == [
        int(4 + np.floor(3 * np.log2(n))) for n in range(2, 3000)]
    with pytest.raises(InvalidInputError, match="dim"):
        default_popsize(0)


def test_constants_agree_with_pycma() -> None:
    ours = CMAParameters.default(DIM, 10, "full")
    es = cma.CMAEvolutionStrategy(np.ones(DIM), 1.0, {"verbose": -9, "seed": 1})
    np.testing.assert_allclose(ours.weights, es.sp.weights[: ours.mu], rtol=1e-12)
    assert ours.mueff == pytest.approx(es.sp.weights.mueff, rel=1e-12)
    assert ours.cc == pytest.approx(es.sp.cc, rel=1e-12)
    assert ours.c1 == pytest.approx(es.sp.c1, rel=1e-12)
    assert sum(ours.weights) == pytest.approx(1.0)
    sep = CMAParameters.default(DIM, 10, "sep")
    assert sep.c1 == pytest.approx(ours.c1 * (DIM + 2) / 3)
    assert sep.cmu == pytest.approx(ours.cmu * (DIM + 2) / 3)
    # Ros & Hansen's separable rates, not pycma's CMA_diagonal ones (parameters docstring)
    es_sep = cma.CMAEvolutionStrategy(np.ones(DIM), 1.0, pycma_options(1, 10, "sep"))
    n, mueff = DIM, sep.mueff
    assert es_sep.sp.c1_sep == pytest.approx(1 / (n + 2 * n**0.5 + mueff / n), rel=1e-12)
    assert es_sep.sp.cmu_sep == pytest.approx(
        (mueff + 1 / mueff - 1.75) / (n + 4 * n**0.5 + mueff / 2), rel=1e-12)
    assert es_sep.sp.cc_sep == pytest.approx(
        (1 + 1 / n + mueff / n) / (n**0.5 + 1 / n + 2 * mueff / n), rel=1e-12)
    # at the DeePSiM code's 4096-d with 40 candidates (the numbers the docstring quotes)
    deepsim = CMAParameters.default(4096, 40, "sep")
    n, mueff = 4096, deepsim.mueff
    assert (deepsim.c1, deepsim.cmu, deepsim.cc) == pytest.approx((1.63e-4, 1.53e-3, 9.76e-4),
                                                                  rel=0.01)
    pycma_rates = (1 / (n + 2 * n**0.5 + mueff / n),
                   (mueff + 1 / mueff - 1.75) / (n + 4 * n**0.5 + mueff / 2),
                   (1 + 1 / n + mueff / n) / (n**0.5 + 1 / n + 2 * mueff / n))
    assert pycma_rates == pytest.approx((2.37e-4, 2.21e-3, 1.57e-2), rel=0.01)
    assert ours.step_size == "csa"
    high = CMAParameters.default(500, 22, "sep")
    es_high = cma.CMAEvolutionStrategy(np.ones(500), 1.0, pycma_options(1, 22, "sep"))
    assert high.step_size == "tpa" and type(es_high.adapt_sigma).__name__ == "CMAAdaptSigmaTPA"
    assert high.tpa_damp == pytest.approx(es_high.adapt_sigma.sp.damp, rel=1e-12)


def test_run_seeds() -> None:
    assert run_seeds(7, 2) == run_seeds(7, 5)[:2]  # a run's seed does not depend on the batch
    seeds = run_seeds(7, 100)
    assert len(set(seeds)) == 100 and all(1 <= s < 2**31 for s in seeds)
    assert run_seeds(7, 3) != run_seeds(8, 3)
    assert run_seeds([5, 6], 2) == [5, 6]
    with pytest.raises(InvalidInputError, match="per-run seeds"):
        run_seeds([5], 2)
    with pytest.raises(InvalidInputError, match="must lie in"):
        run_seeds([0], 1)


# --------------------------------------------------------------------------- convergence


CASES = {
    # name: (objective, variant, start value, sigma0, target, max generations)
    "sphere-sep": (sphere, "sep", 1.0, 1.0, 1e-8, 400),
    "sphere-full": (sphere, "full", 1.0, 1.0, 1e-8, 400),
    "ellipsoid-sep": (ellipsoid, "sep", 1.0, 1.0, 1e-8, 600),
    "ellipsoid-full": (ellipsoid, "full", 1.0, 1.0, 1e-8, 900),
    "rosenbrock-full": (rosenbrock, "full", 0.0, 0.5, 1e-6, 1500),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_reaches_optimum_within_a_small_factor_of_pycma(case: str) -> None:
    objective, variant, start, sigma0, target, max_generations = CASES[case]
    x0 = torch.full((3, DIM), start)
    needed = {}
    for backend in ("torch", "pycma"):
        optimizer = make_optimizer(x0, sigma0, backend=backend, variant=variant, seed=11,
                                   dtype=torch.float64)
        needed[backend] = evaluations_to_target(optimizer, objective, target, max_generations)
        assert np.isfinite(needed[backend]).all(), f"{backend} did not reach {target}"
    ratio = np.median(needed["torch"]) / np.median(needed["pycma"])
    assert ratio <= 2.5, f"{case}: torch needed {needed['torch']}, pycma {needed['pycma']}"


def test_default_float32_reaches_sphere_optimum() -> None:
    result = minimize(sphere, torch.ones(2, DIM), 1.0, 250, seed=0, progress=False)
    assert result.best_x.dtype == torch.float32
    assert (result.best_f < 1e-8).all()
    assert (sphere(result.best_x) < 1e-8).all()


# --------------------------------------------------------------------------- independence, seeds


@pytest.mark.parametrize(("variant", "step_size"), [("sep", "csa"), ("full", "csa"),
                                                    ("sep", "tpa"), ("full", "tpa")])
def test_lockstep_run_equals_the_same_seed_run_alone(variant: str, step_size: str) -> None:
    x0 = torch.randn(4, 6, generator=torch.Generator().manual_seed(0))
    options = {"variant": variant, "step_size": step_size, "progress": False}
    batch = minimize(ellipsoid, x0, torch.tensor([0.5, 1.0, 1.5, 2.0]), 40, seed=3, **options)
    for r in range(4):
        alone = minimize(ellipsoid, x0[r : r + 1], [0.5, 1.0, 1.5, 2.0][r], 40,
                         seed=[batch.seeds[r]], **options)
        assert torch.equal(alone.best_x[0], batch.best_x[r])
        assert torch.equal(alone.best_f[0], batch.best_f[r])
        assert torch.equal(alone.final_mean[0], batch.final_mean[r])
        assert torch.equal(alone.final_sigma[0], batch.final_sigma[r])
        assert torch.equal(alone.best_per_generation[0], batch.best_per_generation[r])


def test_multithreaded_batch_equals_single_threaded_run_alone(monkeypatch) -> None:
    """A batch above the serial threshold (multi-threaded ops) still equals each run alone."""
    monkeypatch.setattr("signseg.evolve.lockstep.SERIAL_NUMEL", 200_000)
    x0 = torch.zeros(4, 4096)  # batch: 4 x 28 x 4096 = 458,752 elements; alone: 114,688

    def quadratic(x: torch.Tensor) -> torch.Tensor:
        return ((x.double() - 1) ** 2).sum(dim=1)

    batch = minimize(quadratic, x0, 0.5, 4, seed=5, progress=False)
    for r in (0, 3):
        alone = minimize(quadratic, x0[r : r + 1], 0.5, 4, seed=[batch.seeds[r]], progress=False)
        assert torch.equal(alone.final_mean[0], batch.final_mean[r])
        assert torch.equal(alone.final_sigma[0], batch.final_sigma[r])


@pytest.mark.parametrize("backend", ["torch", "pycma"])
def test_a_seed_reproduces_a_run_bit_exactly(backend: str) -> None:
    def run(seed: int):
        return minimize(rosenbrock, torch.zeros(2, 5), 0.3, 15, backend=backend, seed=seed,
                        progress=False)

    first, again, other = run(4), run(4), run(5)
    assert torch.equal(first.best_x, again.best_x)
    assert torch.equal(first.mean_per_generation, again.mean_per_generation)
    assert not torch.equal(first.best_x, other.best_x)


def test_pycma_backend_equals_plain_pycma_runs_and_keeps_numpy_state() -> None:
    np.random.seed(123)
    expected_draw = np.random.rand()
    np.random.seed(123)
    x0 = torch.ones(3, 8, dtype=torch.float64)
    result = minimize(ellipsoid, x0, 0.5, 30, variant="full", backend="pycma", seed=9,
                      dtype=torch.float64, progress=False)
    assert np.random.rand() == expected_draw  # the caller's global NumPy state is untouched
    for r in range(3):
        es = cma.CMAEvolutionStrategy(np.ones(8), 0.5,
                                      pycma_options(result.seeds[r], result.popsize, "full"))
        for _ in range(30):
            solutions = es.ask()
            es.tell(solutions, ellipsoid(torch.tensor(np.array(solutions))).tolist())
        assert result.best_f[r].item() == es.best.f
        np.testing.assert_array_equal(result.final_mean[r].numpy(), es.mean)


# --------------------------------------------------------------------------- driver


def test_minimize_with_maximize_reports_the_objective_sign() -> None:
    result = minimize(lambda x: -sphere(x - 2), torch.zeros(3, 4), 1.0, 60, maximize=True,
                      seed=2, progress=False)
    assert result.best_per_generation.shape == (3, 60)
    assert result.evaluations == 60 * default_popsize(4)
    assert (result.best_f <= 0).all() and (result.best_f > -1e-3).all()
    torch.testing.assert_close(result.best_x.double(), torch.full((3, 4), 2.0, dtype=torch.float64),
                               atol=0.05, rtol=0)
    best_so_far = result.best_so_far()
    assert (best_so_far[:, 1:] >= best_so_far[:, :-1]).all()
    assert torch.equal(best_so_far[:, -1], result.best_f)
    assert (result.mean_per_generation <= result.best_per_generation).all()
    reach = result.evaluations_to_reach(-1e-2)
    assert torch.isfinite(reach).all() and (reach <= result.evaluations).all()
    assert torch.isinf(result.evaluations_to_reach(1.0)).all()  # never above the maximum 0
    frame = result.trajectory_frame()
    assert list(frame.columns) == ["run", "generation", "best", "mean", "best_so_far"]
    assert len(frame) == 3 * 60


def test_objective_is_called_once_per_generation_with_all_runs() -> None:
    calls = []

    def objective(x: torch.Tensor) -> torch.Tensor:
        calls.append(tuple(x.shape))
        return sphere(x)

    minimize(objective, torch.zeros(5, 7), 1.0, 4, popsize=6, seed=0, progress=False)
    assert calls == [(30, 7)] * 4


# --------------------------------------------------------------------------- large dimension


def test_separable_variant_handles_4096_dimensions() -> None:
    def quadratic(x: torch.Tensor) -> torch.Tensor:
        return ((x - 3.0) ** 2).sum(dim=1)

    x0 = torch.zeros(2, 4096)
    optimizer = LockstepCMA(x0, 0.1, seed=0)
    assert optimizer.popsize == 40
    per_run = sum(t[0].nbytes for t in optimizer.state_tensors().values())
    assert per_run == 6 * 4096 * 4 + 4  # mean, paths, diagonal, best point, mean shift; sigma
    assert per_run - 4 + 2 * 40 * 4096 * 4 == LockstepCMA.memory_bytes(4096)
    start = quadratic(x0)[0].item()  # 9 * 4096
    history = []
    for _ in range(10):
        candidates = optimizer.ask()
        optimizer.tell(candidates, quadratic(candidates.reshape(-1, 4096)).reshape(2, 40))
        history.append(optimizer.best_f)
    assert (history[0] < start).all()
    assert (history[-1] < history[0]).all()
    assert (quadratic(optimizer.mean) < start - 100).all()
    assert torch.isfinite(optimizer.sigma).all()


def test_memory_formula() -> None:
    # 4 bytes * (5 d + t d + 2 d^2 [full] + 2 lam d), lam = 40 at 4096-d, 28 at 256-d
    assert LockstepCMA.memory_bytes(4096) == 4 * (6 * 4096 + 2 * 40 * 4096) == 1_409_024  # TPA
    assert LockstepCMA.memory_bytes(4096, step_size="csa") == 1_392_640
    assert LockstepCMA.memory_bytes(256) == 4 * (5 * 256 + 2 * 28 * 256) == 62_464
    assert LockstepCMA.memory_bytes(256, variant="full") == 586_752
    assert LockstepCMA.memory_bytes(4096, variant="full") == 135_626_752
    full = LockstepCMA(torch.zeros(1, 16), 1.0, variant="full")
    state = sum(t.nbytes for t in full.state_tensors().values()) - 4  # sigma not counted
    assert state + 2 * full.popsize * 16 * 4 == LockstepCMA.memory_bytes(16, variant="full")


def test_two_point_step_size_places_a_mirrored_pair_along_the_mean_shift() -> None:
    optimizer = LockstepCMA(torch.ones(2, 50), 0.5, step_size="tpa", seed=0, dtype=torch.float64)
    first = optimizer.ask()
    assert not torch.allclose(first[:, 0] + first[:, 1], 2 * optimizer.mean)  # no pair yet
    old_mean = optimizer.mean.clone()
    optimizer.tell(first, sphere(first.reshape(-1, 50)).reshape(2, -1))
    shift = optimizer.mean - old_mean
    second = optimizer.ask()
    torch.testing.assert_close((second[:, 0] + second[:, 1]) / 2, optimizer.mean)
    cosine = torch.nn.functional.cosine_similarity(second[:, 0] - optimizer.mean, shift, dim=1)
    torch.testing.assert_close(cosine, torch.ones(2, dtype=torch.float64))


def test_two_point_step_size_tracks_pycma_in_high_dimension() -> None:
    """From a far too small sigma, TPA (like pycma's) recovers; CSA barely moves in 500-d."""
    best = {}
    for backend, step_size in [("torch", "tpa"), ("pycma", "tpa"), ("torch", "csa")]:
        result = minimize(sphere, torch.ones(2, 500), 1e-3, 120, backend=backend,
                          step_size=step_size, seed=0, progress=False)
        best[backend, step_size] = float(result.best_f.median())
    start = 500.0
    assert best["torch", "tpa"] < 0.4 * start
    assert best["torch", "tpa"] < 1.5 * best["pycma", "tpa"]
    assert best["torch", "csa"] > 0.9 * start


# --------------------------------------------------------------------------- NaN and errors


@pytest.mark.parametrize("backend", ["torch", "pycma"])
def test_nan_fitness_ranks_last_with_a_warning(backend: str) -> None:
    optimizer = make_optimizer(torch.zeros(2, 3), 1.0, popsize=4, backend=backend, seed=0)
    candidates = optimizer.ask()
    fitness = torch.tensor([[float("nan"), 5.0, float("nan"), 7.0],
                            [float("nan")] * 4])
    with pytest.warns(RuntimeWarning, match="6 of 8 fitness values are NaN"):
        optimizer.tell(candidates, fitness)
    assert optimizer.best_f[0].item() == 5.0
    assert torch.equal(optimizer.best_x[0], candidates[0, 1])
    assert torch.isfinite(optimizer.mean).all() and torch.isfinite(optimizer.sigma).all()


def test_driver_ignores_nan_in_trajectories() -> None:
    def objective(x: torch.Tensor) -> torch.Tensor:
        values = sphere(x)
        values[::3] = float("nan")
        return values

    with pytest.warns(RuntimeWarning, match="NaN"):
        result = minimize(objective, torch.ones(2, 4), 1.0, 5, popsize=6, seed=0, progress=False)
    assert torch.isfinite(result.best_per_generation).all()
    assert torch.isfinite(result.mean_per_generation).all()
    assert torch.isfinite(result.best_f).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"x0": torch.zeros(5)}, r"\[runs, dim\]"),
        ({"x0": torch.full((1, 3), float("nan"))}, "NaN"),
        ({"sigma0": 0.0}, "sigma0 must be finite and > 0"),
        ({"sigma0": torch.ones(3)}, "one value per run"),
        ({"popsize": 1}, "popsize must be >= 2"),
        ({"variant": "diagonal"}, "variant must be one of"),
        ({"step_size": "msr"}, "step_size must be one of"),
        ({"backend": "nevergrad"}, "backend must be one of"),
    ],
)
def test_invalid_construction(kwargs: dict, message: str) -> None:
    arguments = {"x0": torch.zeros(2, 3), "sigma0": 1.0, "popsize": None, "variant": "sep",
                 "step_size": "auto", "backend": "torch"}
    arguments.update(kwargs)
    with pytest.raises(InvalidInputError, match=message):
        make_optimizer(arguments.pop("x0"), arguments.pop("sigma0"), **arguments)


@pytest.mark.parametrize("cls", [LockstepCMA, PycmaLockstep])
def test_tell_rejects_wrong_shapes(cls) -> None:
    optimizer = cls(torch.zeros(2, 3), 1.0, 4)
    candidates = optimizer.ask()
    with pytest.raises(InvalidInputError, match="reshape a flat"):
        optimizer.tell(candidates, torch.zeros(8))
    with pytest.raises(InvalidInputError, match="candidates must have shape"):
        optimizer.tell(candidates[:, :3], torch.zeros(2, 3))


def test_objective_returning_the_wrong_shape_is_reported() -> None:
    with pytest.raises(InvalidInputError, match="one value per candidate"):
        minimize(lambda x: x.sum(), torch.zeros(2, 3), 1.0, 2, progress=False)
    with pytest.raises(InvalidInputError, match="iterations"):
        minimize(sphere, torch.zeros(2, 3), 1.0, 0, progress=False)


def test_full_variant_learns_a_rotated_ellipsoid_where_sep_cannot() -> None:
    rotation, _ = torch.linalg.qr(torch.randn(6, 6, generator=torch.Generator().manual_seed(0),
                                              dtype=torch.float64))

    def rotated(x: torch.Tensor) -> torch.Tensor:
        return ellipsoid((x.double()[:, None, :] * rotation[None]).sum(dim=2))

    best = {
        variant: minimize(rotated, torch.ones(2, 6, dtype=torch.float64), 1.0, 250,
                          variant=variant, seed=1, dtype=torch.float64, progress=False).best_f
        for variant in ("sep", "full")
    }
    assert (best["full"] < 1e-8).all()
    assert (best["sep"] > 1e-3).all()  # a diagonal covariance cannot align with the rotation
