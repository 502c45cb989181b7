"""Helpers shared by both CMA-ES backends: seeds, defaults and input checks."""

from __future__ import annotations

import math
import warnings
from typing import Sequence

import numpy as np
import torch

from ..errors import InvalidInputError

__all__ = ["run_seeds", "default_popsize", "check_start", "check_tell", "sanitize_fitness"]

_MAX_SEED = 2**31 - 1


def run_seeds(seed: int | Sequence[int], runs: int) -> list[int]:
    """Per-run seeds in ``[1, 2**31 - 1]``.

    Parameters
    ----------
    seed : int or sequence of int
        An int derives run ``r``'s seed from ``(seed, r)`` through ``numpy.random.SeedSequence``,
        so a run's seed does not depend on how many runs share the batch; a sequence gives every
        run its seed explicitly (it must have ``runs`` entries, each >= 1; use it to rerun one
        run of a batch alone, e.g. ``seed=[result.seeds[r]]``).
    runs : int
        Number of runs.

    Returns
    -------
    list of int
        One seed per run (never 0: pycma reads seed 0 as "seed from the clock").
    """
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return [
            int(np.random.SeedSequence([int(seed), r]).generate_state(1)[0]) % _MAX_SEED + 1
            for r in range(runs)
        ]
    seeds = [int(s) for s in seed]
    if len(seeds) != runs:
        raise InvalidInputError(
            f"got {len(seeds)} per-run seeds for {runs} runs; pass one seed per run or one int"
        )
    if any(not 1 <= s <= _MAX_SEED for s in seeds):
        raise InvalidInputError(f"explicit per-run seeds must lie in [1, {_MAX_SEED}], got {seeds}")
    return seeds


def default_popsize(dim: int) -> int:
    """Wang & Ponce's population size ``4 + floor(3 log2 dim)``: 40 for 4096, 28 for 256.

    The paper's optimizer is Wang & Ponce's (2022) ``CholeskyCMAES``, which sets
    ``lambda_ = int(4 + floor(3 * log2(N)))`` (``core/Optimizers.py`` of
    https://github.com/Animadversio/ActMax-Optimizer-Dev; the evolution scripts call it with
    ``population_size=None``). Hansen's default ``4 + floor(3 ln dim)`` would give 28 and 20.
    """
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
        raise InvalidInputError(f"dim must be a positive integer, got {dim!r}")
    return 4 + int(math.floor(3 * math.log2(int(dim))))


def check_start(
    x0: torch.Tensor, sigma0: float | torch.Tensor, popsize: int | None
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Validate the start point, step size and population size of a batch of runs.

    Returns
    -------
    x0 : Tensor [runs, dim] (detached)
    sigma0 : Tensor [runs] float64 on the CPU
    popsize : int
    """
    if not isinstance(x0, torch.Tensor) or x0.dim() != 2 or x0.shape[0] < 1 or x0.shape[1] < 2:
        shape = tuple(x0.shape) if isinstance(x0, torch.Tensor) else type(x0).__name__
        raise InvalidInputError(
            f"x0 must be a [runs, dim] tensor with runs >= 1 and dim >= 2, got {shape}; "
            "for a single run use x0[None]"
        )
    if not torch.isfinite(x0).all():
        raise InvalidInputError("x0 contains NaN or infinite values; expected a finite start point")
    runs, dim = x0.shape
    sigma = torch.as_tensor(sigma0, dtype=torch.float64).detach().cpu().reshape(-1)
    if sigma.numel() == 1:
        sigma = sigma.expand(runs).clone()
    if sigma.shape != (runs,):
        raise InvalidInputError(
            f"sigma0 must be a float or one value per run (shape [{runs}]), got "
            f"{tuple(sigma.shape)}"
        )
    if not (torch.isfinite(sigma).all() and (sigma > 0).all()):
        raise InvalidInputError(f"sigma0 must be finite and > 0, got {sigma.tolist()}")
    popsize = default_popsize(dim) if popsize is None else int(popsize)
    if popsize < 2:
        raise InvalidInputError(f"popsize must be >= 2 (mu = popsize // 2 parents), got {popsize}")
    return x0.detach(), sigma, popsize


def check_tell(
    candidates: torch.Tensor, fitness: torch.Tensor | np.ndarray, runs: int, popsize: int, dim: int
) -> np.ndarray:
    """Check the shapes passed to ``tell``; return the fitness via :func:`sanitize_fitness`.

    Raises
    ------
    InvalidInputError
        If ``candidates`` is not ``[runs, popsize, dim]`` or ``fitness`` not ``[runs, popsize]``.
    """
    expected = (runs, popsize, dim)
    if not isinstance(candidates, torch.Tensor) or tuple(candidates.shape) != expected:
        shape = tuple(candidates.shape) if isinstance(candidates, torch.Tensor) else candidates
        raise InvalidInputError(
            f"candidates must have shape [runs, popsize, dim] = {list(expected)} (as returned by "
            f"ask()), got {shape}"
        )
    if not isinstance(fitness, (torch.Tensor, np.ndarray)):
        fitness = np.asarray(fitness, dtype=np.float64)
    if tuple(fitness.shape) != (runs, popsize):
        raise InvalidInputError(
            f"fitness must have shape [runs, popsize] = [{runs}, {popsize}], got "
            f"{tuple(fitness.shape)}; reshape a flat [runs * popsize] vector with "
            ".reshape(runs, popsize)"
        )
    return sanitize_fitness(fitness)


def sanitize_fitness(fitness: torch.Tensor | np.ndarray) -> np.ndarray:
    """Fitness as a float64 NumPy array with NaN replaced by ``+inf`` (the worst value).

    A NaN candidate (e.g. a generator producing NaN images) thus ranks last and is never
    selected as a parent or as the best point; the run goes on, and a ``RuntimeWarning`` says
    how many values were NaN. Ranking and bookkeeping of a generation happen on these few
    numbers on the CPU: torch's tiny-tensor reductions (sort, min with indices) can cost a
    millisecond each on a busy CPU, NumPy's microseconds.
    """
    if isinstance(fitness, torch.Tensor):
        fitness = fitness.detach().cpu().double().numpy()
    values = np.array(fitness, dtype=np.float64)
    nan = np.isnan(values)
    if nan.any():
        warnings.warn(
            f"{int(nan.sum())} of {values.size} fitness values are NaN; they are treated as "
            "+inf (the worst value) and never selected",
            RuntimeWarning,
            stacklevel=4,
        )
        values[nan] = math.inf
    return values
