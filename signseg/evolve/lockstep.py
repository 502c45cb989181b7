"""Many independent CMA-ES runs advanced in lockstep as one batch of torch tensors.

Every state tensor carries a leading ``runs`` axis; one :meth:`LockstepCMA.ask` returns the
populations of all runs as ``[runs, popsize, dim]`` so that the caller evaluates them in one
batch, and one :meth:`LockstepCMA.tell` updates every run. Runs never exchange information:
each has its own ``torch.Generator``, and every update is a per-run elementwise operation,
a reduction over that run's own rows, or a per-run matrix product, so run ``r`` of a batch
reproduces the same-seed run alone.

Memory per run (``b`` bytes per element: 4 for float32; ``d`` = dim; ``lam`` = popsize)
-------------------------------------------------------------------------------------
* ``sep``:  ``b * (5 d + t d + 2 lam d)`` -- state (mean, two paths, diagonal covariance, best
  point; ``t = 1`` more vector, the last mean shift, with TPA step-size control, else 0) plus
  the population and its normalized steps during a generation.
  d = 4096, lam = 40, TPA: 1,409,024 B (1.34 MiB); d = 256, lam = 28, CSA: 62,464 B (61 KiB).
* ``full``: ``b * (5 d + t d + 2 d**2 + 2 lam d)`` -- the diagonal is replaced by the
  covariance ``C``, its eigenbasis ``B`` and the square roots ``D`` of its eigenvalues;
  transient eigendecomposition workspace not counted. d = 256, lam = 28, CSA: 586,752 B
  (0.56 MiB); d = 4096, lam = 40, TPA: 135,626,752 B (129 MiB), which is why ``sep`` is the
  default for 4096-d codes (Wang & Ponce's Cholesky-CMA-ES also keeps a d x d factor per run).

:meth:`LockstepCMA.memory_bytes` evaluates the formula.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Sequence

import numpy as np
import torch

from ..errors import InvalidInputError
from ._common import check_start, check_tell, default_popsize, run_seeds
from .parameters import CMAParameters

__all__ = ["LockstepCMA", "SERIAL_NUMEL"]

SERIAL_NUMEL: int = 2**22
"""CPU generations whose largest tensor has at most this many elements run on one thread."""


class LockstepCMA:
    """Batched (mu/mu_w, lambda)-CMA-ES with cumulative step-size adaptation, minimizing.

    Parameters
    ----------
    x0 : Tensor [runs, dim]
        Start point (initial mean) of every run.
    sigma0 : float or Tensor [runs]
        Initial step size, shared or per run.
    popsize : int, optional
        Candidates per run and generation; default ``4 + floor(3 log2 dim)`` (Wang & Ponce).
    variant : {"sep", "full"}
        ``"sep"``: separable CMA-ES (diagonal covariance, Ros & Hansen 2008 learning rates,
        not pycma's ``CMA_diagonal`` rates: see :mod:`signseg.evolve.parameters`),
        O(dim) memory and time per candidate -- the choice for 4096-d codes. ``"full"``: the
        full covariance with a lazily updated batched eigendecomposition -- for small dims.
    step_size : {"auto", "csa", "tpa"}
        Step-size control: cumulative (CSA) or two-point (TPA: from the second generation on,
        candidates 0 and 1 of every run are ``mean +- sigma * r * (last mean shift)`` scaled
        to the Mahalanobis length ``r`` of a standard normal sample, and sigma follows their
        rank difference). ``"auto"``: TPA from 300 dimensions on, as pycma.
    seed : int or sequence of int
        Seeds the per-run generators (see :func:`signseg.evolve.run_seeds`).
    device, dtype :
        Where and in which precision the state lives; default: ``x0``'s device, float32.

    Attributes
    ----------
    mean : Tensor [runs, dim]
        Current mean of the search distribution of every run.
    sigma : Tensor [runs]
        Current step sizes.
    best_x : Tensor [runs, dim]
        Best candidate told so far (``x0`` before the first tell); ``best_f`` its fitness.
    seeds : list of int
        Per-run seeds; ``seed=[seeds[r]]`` reruns run ``r`` alone, bit for bit.
    generation : int
        Completed generations (tells).

    Notes
    -----
    Weights are the positive recombination weights of Hansen's tutorial (no active,
    negative-weight update), learning rates are its defaults, TPA constants are pycma's
    (its first generation, which has no mean shift yet, leaves sigma unchanged here);
    fitness is minimized (negate
    an activation to maximize it, or use :func:`signseg.evolve.minimize` with
    ``maximize=True``). NaN fitness is treated as ``+inf`` with a warning.
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
        x0, sigma, popsize = check_start(x0, sigma0, popsize)
        self.runs, self.dim = x0.shape
        self.params = CMAParameters.default(self.dim, popsize, variant, step_size)
        self.device = torch.device(device) if device is not None else x0.device
        self.dtype = dtype
        self.seeds = run_seeds(seed, self.runs)
        self._generators = [self._generator(s) for s in self.seeds]
        new = {"device": self.device, "dtype": dtype}

        self.mean = x0.to(**new).clone()
        self.sigma = sigma.to(**new)
        self.ps = torch.zeros(self.runs, self.dim, **new)
        self.pc = torch.zeros(self.runs, self.dim, **new)
        self.best_x = self.mean.clone()
        self._best_f = np.full(self.runs, np.inf)
        self.generation = 0
        self._weights = torch.tensor(self.params.weights, **new)
        if self.params.step_size == "tpa":
            self.mean_shift = torch.zeros(self.runs, self.dim, **new)
            self._tpa_s = np.zeros(self.runs)
        if variant == "sep":
            self.diag_c = torch.ones(self.runs, self.dim, **new)
        else:
            eye = torch.eye(self.dim, **new).expand(self.runs, -1, -1)
            self.cov = eye.clone()
            self.basis = eye.clone()
            self.scales = torch.ones(self.runs, self.dim, **new)
            self._eigen_generation = 0

    # ------------------------------------------------------------------ public API

    @property
    def popsize(self) -> int:
        """Candidates per run and generation (lambda)."""
        return self.params.popsize

    @property
    def variant(self) -> str:
        """``"sep"`` or ``"full"``."""
        return self.params.variant

    @property
    def best_f(self) -> torch.Tensor:
        """Best fitness of every run so far, ``[runs]`` float64 on the CPU (``inf`` at first)."""
        return torch.as_tensor(self._best_f.copy())

    @property
    def _pair_injected(self) -> bool:
        """Whether :meth:`ask` places the TPA pair in candidates 0 and 1 (TPA, generation >= 1)."""
        return self.params.step_size == "tpa" and self.generation >= 1

    @property
    def evaluations(self) -> int:
        """Objective evaluations so far, per run."""
        return self.generation * self.popsize

    def ask(self) -> torch.Tensor:
        """Sample the next population of every run.

        Returns
        -------
        Tensor [runs, popsize, dim]
            ``mean + sigma * C**0.5 z`` with ``z ~ N(0, I)`` drawn from each run's generator.
        """
        with self._threads():
            return self._ask()

    def _ask(self) -> torch.Tensor:
        """:meth:`ask` without the thread setting."""
        z = torch.empty(self.runs, self.popsize, self.dim, device=self.device, dtype=self.dtype)
        for run, generator in enumerate(self._generators):
            torch.randn(self.popsize, self.dim, generator=generator, out=z[run])
        if self._pair_injected:
            z = self._inject_mean_shift_pair(z)
        if self.variant == "sep":
            steps = z.mul_(self.diag_c.sqrt()[:, None, :])
        else:
            steps = torch.matmul(z * self.scales[:, None, :], self.basis.transpose(1, 2))
        # in place (the population is the largest tensor of a generation); a * b and a + b
        # are exact in either order, so this equals mean + sigma * steps bit for bit
        return steps.mul_(self.sigma[:, None, None]).add_(self.mean[:, None, :])

    def tell(self, candidates: torch.Tensor, fitness: torch.Tensor | np.ndarray) -> None:
        """Update every run from its evaluated population (lower fitness is better).

        Parameters
        ----------
        candidates : Tensor [runs, popsize, dim]
            The points evaluated (normally exactly what :meth:`ask` returned; with TPA,
            candidates 0 and 1 must stay the mean-shift pair :meth:`ask` put there).
        fitness : Tensor or ndarray [runs, popsize]
            Their objective values; NaN is treated as ``+inf`` (with a warning); ties rank
            the lower candidate index first.
        """
        with self._threads():
            self._tell(candidates, fitness)

    def _tell(self, candidates: torch.Tensor, fitness: torch.Tensor | np.ndarray) -> None:
        """:meth:`tell` without the thread setting."""
        fitness = check_tell(candidates, fitness, self.runs, self.popsize, self.dim)
        if not torch.isfinite(torch.stack(torch.aminmax(candidates))).all():  # NaN propagates
            raise InvalidInputError("candidates contain NaN or infinite values")
        candidates = candidates.to(device=self.device, dtype=self.dtype)
        ranking = np.argsort(fitness, axis=1, kind="stable")
        self._track_best(candidates, fitness, ranking[:, 0])
        order = torch.as_tensor(ranking, device=self.device)

        p = self.params
        # normalized steps of the mu parents only (elementwise, so equal to selecting them
        # from the steps of the whole population, at a fraction of the memory traffic)
        rows = order[:, : p.mu] + torch.arange(self.runs, device=self.device)[:, None] * self.popsize
        chosen = candidates.reshape(-1, self.dim).index_select(0, rows.reshape(-1))  # row copies
        parents = (chosen.view(self.runs, p.mu, self.dim) - self.mean[:, None, :]) / self.sigma[:, None, None]
        step = (self._weights[None, :, None] * parents).sum(dim=1)  # [runs, dim]

        self.mean = self.mean + self.sigma[:, None] * step
        self.ps = (1 - p.cs) * self.ps + (p.cs * (2 - p.cs) * p.mueff) ** 0.5 * self._whiten(step)
        ps_norm = self.ps.norm(dim=1)
        paired = self._pair_injected
        self.generation += 1
        correction = (1 - (1 - p.cs) ** (2 * self.generation)) ** 0.5
        hsig = (ps_norm / correction < (1.4 + 2 / (self.dim + 1)) * p.chi_n).to(self.dtype)
        self.pc = (1 - p.cc) * self.pc + hsig[:, None] * (p.cc * (2 - p.cc) * p.mueff) ** 0.5 * step
        decay = 1 - p.c1 - p.cmu + (1 - hsig) * p.c1 * p.cc * (2 - p.cc)  # [runs]
        self._update_covariance(decay, parents)
        if p.step_size == "csa":
            self.sigma = self.sigma * torch.exp((p.cs / p.damps) * (ps_norm / p.chi_n - 1))
        else:
            self._two_point_adaptation(fitness, self.sigma[:, None] * step, paired)

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """The persistent per-run state (every tensor has a leading ``runs`` axis)."""
        names = ["mean", "sigma", "ps", "pc", "best_x"]
        names += ["diag_c"] if self.variant == "sep" else ["cov", "basis", "scales"]
        names += ["mean_shift"] if self.params.step_size == "tpa" else []
        return {name: getattr(self, name) for name in names}

    @staticmethod
    def memory_bytes(
        dim: int, popsize: int | None = None, variant: str = "sep",
        dtype: torch.dtype = torch.float32, step_size: str = "auto",
    ) -> int:
        """Bytes per run: persistent state plus one generation's population and steps.

        ``b * (5 d + t d + 2 lam d)`` for ``sep``, plus ``b * 2 d**2`` for ``full``; ``t = 1``
        with TPA (the last mean shift), else 0. Scalars (sigma, best value) are not counted.
        """
        lam = default_popsize(dim) if popsize is None else popsize
        params = CMAParameters.default(dim, lam, variant, step_size)
        vectors = (6 if params.step_size == "tpa" else 5) * dim
        matrices = 2 * dim * dim if variant == "full" else 0
        return torch.finfo(dtype).bits // 8 * (vectors + matrices + 2 * lam * dim)

    # ------------------------------------------------------------------ internals

    @contextmanager
    def _threads(self) -> Iterator[None]:
        """Run small CPU updates on one intra-op thread (restored afterwards).

        The updates are memory-bound elementwise ops and small per-run reductions, which gain
        little from more threads, while on a busy CPU every parallel region of torch can wait
        milliseconds for a descheduled worker thread (measured on the project's 2-core
        machine: 20 generations of 16 runs x 28 x 3264 took 4.7 s with 2 threads, 0.8 s with
        one). When the largest tensor of a generation (population, or covariance matrices)
        has at most :data:`SERIAL_NUMEL` elements (16 MiB in float32), the update runs on one
        thread; results are bit-identical either way (tested: a run alone equals the same run
        in a batch, which crosses the threshold).
        """
        width = max(self.popsize, self.dim if self.variant == "full" else 1)
        largest = self.runs * self.dim * width
        if self.device.type != "cpu" or largest > SERIAL_NUMEL:
            yield
            return
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(threads)

    def _generator(self, seed: int) -> torch.Generator:
        generator = torch.Generator(device=self.device)
        generator.manual_seed(seed)
        return generator

    def _track_best(self, candidates: torch.Tensor, fitness: np.ndarray,
                    winner: np.ndarray) -> None:
        """Keep each run's best point so far (earlier points win ties)."""
        rows = np.arange(self.runs)
        generation_best = fitness[rows, winner]
        improved = generation_best < self._best_f
        self._best_f = np.where(improved, generation_best, self._best_f)
        if improved.any():
            runs = torch.as_tensor(rows[improved], device=self.device)
            winners = torch.as_tensor(winner[improved], device=self.device)
            self.best_x[runs] = candidates[runs, winners]

    def _inject_mean_shift_pair(self, z: torch.Tensor) -> torch.Tensor:
        """Replace samples 0 and 1 of every run by the TPA pair ``+-r u`` (whitened space).

        ``u`` is the unit vector along the whitened last mean shift and ``r = ||z_0||``, the
        length of the sample it replaces (chi-distributed, as pycma's fresh length). A run
        whose mean did not move keeps ``z_0`` and mirrors it.
        """
        direction = self._whiten(self.mean_shift)
        norm = direction.norm(dim=1, keepdim=True)
        length = z[:, 0].norm(dim=1, keepdim=True)
        scaled = direction * (length / torch.where(norm > 0, norm, torch.ones_like(norm)))
        first = torch.where(norm > 0, scaled, z[:, 0])
        return torch.cat([first[:, None], -first[:, None], z[:, 2:]], dim=1)

    def _two_point_adaptation(self, fitness: np.ndarray, shift: torch.Tensor,
                              paired: bool) -> None:
        """TPA: move sigma by the rank difference of the mean-shift pair; remember the shift.

        ``z = (#{f < f_1} - #{f < f_0}) / (lam - 1)`` is positive when the candidate along
        the last mean shift beat its mirror; ``s <- (1 - c) s + c sign(z) |z|**0.5`` and
        ``sigma <- sigma exp(s / damp)``.
        """
        p = self.params
        if paired:
            beats_second = (fitness < fitness[:, 1:2]).sum(axis=1)
            beats_first = (fitness < fitness[:, 0:1]).sum(axis=1)
            z = (beats_second - beats_first) / (self.popsize - 1)
            pull = np.sign(z) * np.abs(z) ** p.tpa_exponent
            self._tpa_s = (1 - p.tpa_c) * self._tpa_s + p.tpa_c * pull
            factor = torch.as_tensor(np.exp(self._tpa_s / p.tpa_damp), dtype=self.dtype,
                                     device=self.device)
            self.sigma = self.sigma * factor
        self.mean_shift = shift

    def _whiten(self, step: torch.Tensor) -> torch.Tensor:
        """``C**-0.5 step`` per run."""
        if self.variant == "sep":
            return step / self.diag_c.sqrt()
        rotated = torch.matmul(self.basis.transpose(1, 2), step[:, :, None])[:, :, 0]
        return torch.matmul(self.basis, (rotated / self.scales)[:, :, None])[:, :, 0]

    def _update_covariance(self, decay: torch.Tensor, parents: torch.Tensor) -> None:
        """Rank-one plus rank-mu update; refresh the eigenbasis lazily (full variant)."""
        p = self.params
        weighted = self._weights[None, :, None] * parents
        if self.variant == "sep":
            rank_mu = (weighted * parents).sum(dim=1)
            self.diag_c = decay[:, None] * self.diag_c + p.c1 * self.pc**2 + p.cmu * rank_mu
            return
        rank_one = self.pc[:, :, None] * self.pc[:, None, :]
        rank_mu = torch.matmul(weighted.transpose(1, 2), parents)
        self.cov = decay[:, None, None] * self.cov + p.c1 * rank_one + p.cmu * rank_mu
        if self.generation - self._eigen_generation >= p.eigen_gap:
            self._eigen_generation = self.generation
            symmetric = (self.cov + self.cov.transpose(1, 2)) / 2
            eigenvalues, self.basis = torch.linalg.eigh(symmetric)
            tiny = torch.finfo(self.dtype).tiny
            self.scales = eigenvalues.clamp(min=tiny).sqrt()
            self.cov = symmetric
