"""pycma (the ``cma`` package) behind the lockstep ask/tell interface -- the reference backend.

One ``cma.CMAEvolutionStrategy`` per run, asked and told in lockstep so the objective is
still called once per generation for all runs. pycma draws its samples from NumPy's
*global* random state, which it seeds from the ``seed`` option; to keep runs independent
(and each identical to a plain pycma run with the same seed, however many runs share the
batch) every run keeps its own copy of that state, swapped in around each of its calls and
swapped out afterwards, and the caller's global state is restored.

``cma`` is imported on first use: it imports SciPy's statistics and matplotlib, seconds of
start-up that every process importing :mod:`signseg.evolve` (a Dask worker, a notebook
kernel) would otherwise pay without ever using this backend.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np
import torch

from ..errors import InvalidInputError
from ._common import check_start, check_tell, run_seeds
from .parameters import STEP_SIZE_RULES, VARIANTS

if TYPE_CHECKING:
    import cma

__all__ = ["PycmaLockstep", "pycma_options"]


def pycma_options(seed: int, popsize: int, variant: str,
                  step_size: str = "auto") -> dict[str, Any]:
    """The pycma options used for one run: seeded, silent, ``CMA_diagonal`` for ``sep``.

    ``step_size`` ``"csa"`` / ``"tpa"`` select pycma's ``CMAAdaptSigmaCSA`` /
    ``CMAAdaptSigmaTPA``; ``"auto"`` keeps pycma's default (TPA from 300 dimensions on).
    pycma's termination criteria are left at their defaults but never consulted: every run
    is asked for exactly the number of generations the caller requests.
    """
    import cma

    if variant not in VARIANTS:
        raise InvalidInputError(f"variant must be one of {VARIANTS}, got {variant!r}")
    if step_size not in STEP_SIZE_RULES:
        raise InvalidInputError(f"step_size must be one of {STEP_SIZE_RULES}, got {step_size!r}")
    options: dict[str, Any] = {"seed": seed, "popsize": popsize, "verbose": -9,
                               "CMA_diagonal": variant == "sep"}
    if step_size != "auto":
        options["AdaptSigma"] = {"csa": cma.sigma_adaptation.CMAAdaptSigmaCSA,
                                 "tpa": cma.sigma_adaptation.CMAAdaptSigmaTPA}[step_size]
    return options


class PycmaLockstep:
    """Many pycma runs with the same ask/tell interface as :class:`LockstepCMA` (minimizing).

    Parameters
    ----------
    x0, sigma0, popsize, variant, step_size, seed, device, dtype :
        As for :class:`~signseg.evolve.LockstepCMA`. ``dtype`` is the precision of the
        tensors handed out; pycma itself computes in float64.
    """

    def __init__(
        self,
        x0: torch.Tensor,
        sigma0: float | torch.Tensor,
        popsize: int | None = None,
        *,
        variant: str = "sep",
        step_size: str = "auto",
        seed: int | Sequence[int] = 0,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        import cma

        x0, sigma, popsize = check_start(x0, sigma0, popsize)
        self.runs, self.dim = x0.shape
        self.popsize = popsize
        self.variant = variant
        self.seeds = run_seeds(seed, self.runs)
        self.device = torch.device(device) if device is not None else x0.device
        self.dtype = dtype
        self.generation = 0
        start = x0.detach().cpu().double().numpy()
        self._states: list[dict[str, Any]] = []
        self._strategies: list[cma.CMAEvolutionStrategy] = []
        for r, s in enumerate(self.seeds):
            self._states.append({})
            with self._random_state(r):
                self._strategies.append(cma.CMAEvolutionStrategy(
                    start[r], float(sigma[r]), pycma_options(s, popsize, variant, step_size)))
        self._asked: list[list[np.ndarray]] | None = None
        self._asked_tensor: torch.Tensor | None = None

    @property
    def evaluations(self) -> int:
        """Objective evaluations so far, per run."""
        return self.generation * self.popsize

    @property
    def mean(self) -> torch.Tensor:
        """Current mean of every run, ``[runs, dim]``."""
        return self._tensor(np.stack([es.mean for es in self._strategies]))

    @property
    def sigma(self) -> torch.Tensor:
        """Current step size of every run, ``[runs]``."""
        return self._tensor(np.array([es.sigma for es in self._strategies]))

    @property
    def best_x(self) -> torch.Tensor:
        """Best point of every run so far, ``[runs, dim]`` (the mean before any tell)."""
        return self._tensor(np.stack([
            es.mean if es.best.x is None else es.best.x for es in self._strategies]))

    @property
    def best_f(self) -> torch.Tensor:
        """Best fitness of every run so far, ``[runs]`` float64 on the CPU (``inf`` at first)."""
        return torch.tensor([np.inf if es.best.f is None else float(es.best.f)
                             for es in self._strategies], dtype=torch.float64)

    def ask(self) -> torch.Tensor:
        """Sample the next population of every run, ``[runs, popsize, dim]``."""
        asked = []
        for r, es in enumerate(self._strategies):
            with self._random_state(r):
                asked.append(es.ask())
        self._asked = asked
        self._asked_tensor = self._tensor(np.stack([np.stack(a) for a in asked]))
        return self._asked_tensor

    def tell(self, candidates: torch.Tensor, fitness: torch.Tensor) -> None:
        """Update every run from its evaluated population (lower fitness is better).

        When ``candidates`` equals what :meth:`ask` returned, pycma is told its own float64
        samples (so a run matches a plain pycma run exactly); otherwise the given candidates.
        """
        fitness = check_tell(candidates, fitness, self.runs, self.popsize, self.dim)
        if self._asked is not None and torch.equal(candidates, self._asked_tensor):
            solutions = self._asked
        else:
            array = candidates.detach().cpu().double().numpy()
            solutions = [list(run) for run in array]
        for r, es in enumerate(self._strategies):
            with self._random_state(r):
                es.tell(solutions[r], fitness[r].tolist())
        self._asked = self._asked_tensor = None
        self.generation += 1

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(array, dtype=self.dtype, device=self.device)

    @contextmanager
    def _random_state(self, run: int) -> Iterator[None]:
        """Swap run ``run``'s copy of NumPy's global random state in, and out again."""
        caller = np.random.get_state()
        state = self._states[run].get("numpy")
        if state is not None:
            np.random.set_state(state)
        try:
            yield
        finally:
            self._states[run]["numpy"] = np.random.get_state()
            np.random.set_state(caller)
