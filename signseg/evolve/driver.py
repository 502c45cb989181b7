"""The functional driver: run many CMA-ES runs against one batched objective."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from ..progress import tqdm

from ..errors import InvalidInputError
from .lockstep import LockstepCMA
from .pycma_backend import PycmaLockstep

__all__ = ["BACKENDS", "EvolveResult", "make_optimizer", "minimize"]

BACKENDS: tuple[str, str] = ("torch", "pycma")
"""``"torch"``: :class:`LockstepCMA`; ``"pycma"``: :class:`PycmaLockstep` (reference)."""

Optimizer = LockstepCMA | PycmaLockstep
Objective = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class EvolveResult:
    """Outcome of a batch of CMA-ES runs; values are in the objective's own sign.

    Attributes
    ----------
    best_x : Tensor [runs, dim]
        Best candidate of each run.
    best_f : Tensor [runs]
        Its objective value (the lowest, or the highest when ``maximize``).
    best_per_generation, mean_per_generation : Tensor [runs, generations] (float64, CPU)
        Best and mean objective value of each generation's population (NaN values ignored).
    final_mean : Tensor [runs, dim]
        The search distribution's mean after the last generation.
    final_sigma : Tensor [runs]
        The step size after the last generation.
    evaluations : int
        Objective evaluations per run (``generations * popsize``).
    popsize : int
    seeds : tuple of int
        Per-run seeds; ``seed=[seeds[r]]`` reruns run ``r`` alone.
    backend, variant : str
    maximize : bool
    """

    best_x: torch.Tensor
    best_f: torch.Tensor
    best_per_generation: torch.Tensor
    mean_per_generation: torch.Tensor
    final_mean: torch.Tensor
    final_sigma: torch.Tensor
    evaluations: int
    popsize: int
    seeds: tuple[int, ...]
    backend: str
    variant: str
    maximize: bool

    def best_so_far(self) -> torch.Tensor:
        """Best objective value up to and including each generation, ``[runs, generations]``."""
        values = _fill_nan(self.best_per_generation, -torch.inf if self.maximize else torch.inf)
        return values.cummax(dim=1).values if self.maximize else values.cummin(dim=1).values

    def evaluations_to_reach(self, target: float) -> torch.Tensor:
        """Evaluations each run needed before its best value reached ``target``.

        Returns
        -------
        Tensor [runs] (float64)
            ``popsize * (first generation index + 1)`` at which the best so far is ``<= target``
            (``>= target`` when maximizing); ``inf`` for runs that never got there.
        """
        best = self.best_so_far()
        reached = best >= target if self.maximize else best <= target
        first = torch.where(reached.any(dim=1), reached.double().argmax(dim=1).double(),
                            torch.full((best.shape[0],), torch.inf, dtype=torch.float64))
        return (first + 1) * self.popsize

    def trajectory_frame(self) -> pd.DataFrame:
        """Tidy table with columns ``run, generation, best, mean, best_so_far``."""
        runs, generations = self.best_per_generation.shape
        return pd.DataFrame({
            "run": torch.arange(runs).repeat_interleave(generations).numpy(),
            "generation": torch.arange(generations).repeat(runs).numpy(),
            "best": self.best_per_generation.reshape(-1).numpy(),
            "mean": self.mean_per_generation.reshape(-1).numpy(),
            "best_so_far": self.best_so_far().reshape(-1).numpy(),
        })


def make_optimizer(
    x0: torch.Tensor,
    sigma0: float | torch.Tensor,
    popsize: int | None = None,
    *,
    backend: str = "torch",
    variant: str = "sep",
    step_size: str = "auto",
    seed: int | Sequence[int] = 0,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Optimizer:
    """Create the ask/tell optimizer of ``backend`` (arguments as for :class:`LockstepCMA`)."""
    if backend not in BACKENDS:
        raise InvalidInputError(f"backend must be one of {BACKENDS}, got {backend!r}")
    cls = LockstepCMA if backend == "torch" else PycmaLockstep
    return cls(x0, sigma0, popsize, variant=variant, step_size=step_size, seed=seed,
               device=device, dtype=dtype)


def minimize(
    objective: Objective,
    x0: torch.Tensor,
    sigma0: float | torch.Tensor,
    iterations: int = 100,
    *,
    popsize: int | None = None,
    variant: str = "sep",
    step_size: str = "auto",
    backend: str = "torch",
    maximize: bool = False,
    seed: int | Sequence[int] = 0,
    progress: bool = True,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> EvolveResult:
    """Run ``x0.shape[0]`` independent CMA-ES runs in lockstep on a batched objective.

    Parameters
    ----------
    objective : callable, Tensor [N, dim] -> Tensor [N]
        Called once per generation with every run's population stacked
        (``N = runs * popsize``, run-major: rows ``r * popsize .. (r + 1) * popsize - 1``
        belong to run ``r``).
    x0 : Tensor [runs, dim]
        Start point of every run (e.g. ``generator.init_codes(runs, seed)``).
    sigma0 : float or Tensor [runs]
        Initial step size (e.g. ``generator.default_sigma``: 3.0 for DeePSiM fc6, 0.2 for
        BigGAN in the paper).
    iterations : int
        Generations per run (paper: 100).
    popsize : int, optional
        Default ``4 + floor(3 log2 dim)`` (Wang & Ponce's; :func:`default_popsize`).
    variant : {"sep", "full"}
        Covariance model (see :class:`LockstepCMA`).
    step_size : {"auto", "csa", "tpa"}
        Step-size control (see :class:`LockstepCMA`); ``auto``: TPA from 300 dimensions on.
    backend : {"torch", "pycma"}
        :class:`LockstepCMA` or the pycma reference :class:`PycmaLockstep`.
    maximize : bool
        Maximize the objective instead (an activation); results keep the objective's sign.
    seed : int or sequence of int
        Per-run seeds (see :func:`run_seeds`).
    progress : bool
        Show a tqdm bar over generations.
    device, dtype :
        Where the optimizer state lives and the candidates' precision.

    Returns
    -------
    EvolveResult
    """
    if int(iterations) < 1:
        raise InvalidInputError(f"iterations must be >= 1, got {iterations}")
    optimizer = make_optimizer(x0, sigma0, popsize, backend=backend, variant=variant,
                               step_size=step_size, seed=seed, device=device, dtype=dtype)
    runs, lam, dim = optimizer.runs, optimizer.popsize, optimizer.dim
    sign = -1.0 if maximize else 1.0
    best_rows: list[torch.Tensor] = []
    mean_rows: list[torch.Tensor] = []
    for _ in tqdm(range(int(iterations)), desc=f"CMA-ES ({backend}, {runs} runs)",
                  disable=not progress):
        candidates = optimizer.ask()
        values = _evaluate(objective, candidates.reshape(runs * lam, dim)).reshape(runs, lam)
        optimizer.tell(candidates, sign * values)
        best_rows.append((np.fmax if maximize else np.fmin).reduce(values, axis=1))
        mean_rows.append(_nan_mean(values))
    return EvolveResult(
        best_x=optimizer.best_x,
        best_f=sign * optimizer.best_f,
        best_per_generation=torch.as_tensor(np.stack(best_rows, axis=1)),
        mean_per_generation=torch.as_tensor(np.stack(mean_rows, axis=1)),
        final_mean=optimizer.mean,
        final_sigma=optimizer.sigma,
        evaluations=optimizer.evaluations,
        popsize=lam,
        seeds=tuple(optimizer.seeds),
        backend=backend,
        variant=variant,
        maximize=maximize,
    )


def _evaluate(objective: Objective, candidates: torch.Tensor) -> np.ndarray:
    """Call the objective; return its values as float64 NumPy, one per candidate."""
    values = objective(candidates)
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().double().numpy()
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (candidates.shape[0],):
        raise InvalidInputError(
            f"the objective must return one value per candidate, shape [{candidates.shape[0]}], "
            f"got {tuple(values.shape)}"
        )
    return values


def _nan_mean(values: np.ndarray) -> np.ndarray:
    """Per-row mean ignoring NaN (NaN for an all-NaN row), without NumPy's warning."""
    finite = ~np.isnan(values)
    count = finite.sum(axis=1)
    total = np.where(finite, values, 0.0).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _fill_nan(values: torch.Tensor, fill: float) -> torch.Tensor:
    """``values`` with NaN replaced by ``fill`` (infinities kept, unlike ``nan_to_num``)."""
    return torch.where(torch.isnan(values), torch.full_like(values, fill), values)
