"""Strategy constants of the (mu/mu_w, lambda)-CMA-ES (Hansen 2016 tutorial, positive weights).

The separable variant (Ros & Hansen 2008, "sep-CMA-ES") keeps only the diagonal of the
covariance matrix and multiplies both covariance learning rates by ``(dim + 2) / 3``; the
path rate ``cc`` is the full variant's. This is Ros & Hansen's rule, **not** pycma's:
pycma's ``CMA_diagonal`` (``CMAParameters.set`` in ``cma/options_parameters.py``, pycma
4.x) uses ``c1_sep = 1 / (n + 2 sqrt(n) + mueff / n)``,
``cmu_sep = min(1 - c1_sep, (mueff + 1 / mueff - 1.75) / (n + 4 sqrt(n) + mueff / 2))`` and
``cc_sep = (1 + 1 / n + mueff / n) / (sqrt(n) + 1 / n + 2 mueff / n)``, and it also updates
with negative (active) weights. At the DeePSiM code's n = 4096 with 40 candidates the rates
are c1 1.6e-4 / cmu 1.5e-3 / cc 9.8e-4 here and 2.4e-4 / 2.2e-3 / 1.6e-2 in pycma -- the
same order for the covariance, a 16x faster path. The ``pycma`` backend
(:mod:`signseg.evolve.pycma_backend`) runs pycma's own rates, so the two backends'
``sep`` runs are not identical (their ``full`` runs share the constants checked in the
tests, except pycma's active update).

Step-size control is either cumulative step-size adaptation (CSA, the tutorial's) or
two-point step-size adaptation (TPA; Hansen 2008, Hansen et al. 2014) with pycma's
constants. With CSA the path learning rate ``cs ~ mueff / dim`` is 0.0023 at 4096-d, so the
step size barely moves within the paper's 100 generations; TPA compares two candidates
placed along the last mean shift and adapts at a rate set by ``damp ~ 2 ln dim`` instead.
Like pycma, ``step_size="auto"`` picks TPA from :data:`TPA_DIMENSION` dimensions on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import InvalidInputError

__all__ = ["VARIANTS", "STEP_SIZE_RULES", "TPA_DIMENSION", "CMAParameters"]

VARIANTS: tuple[str, str] = ("sep", "full")
"""``"sep"``: diagonal covariance, O(dim) per run; ``"full"``: full covariance, O(dim**2)."""

STEP_SIZE_RULES: tuple[str, str, str] = ("auto", "csa", "tpa")
"""Step-size control: cumulative (CSA), two-point (TPA), or ``auto`` (as pycma)."""

TPA_DIMENSION: int = 300
"""``step_size="auto"`` uses TPA from this dimension on (pycma's ``TPA_dimension``)."""


@dataclass(frozen=True)
class CMAParameters:
    """Constants of one CMA-ES configuration (dimension, population size, variant, step size).

    Attributes
    ----------
    dim, popsize, mu : int
        Search-space dimension, offspring per generation (lambda), parents (``popsize // 2``).
    variant : {"sep", "full"}
    step_size : {"csa", "tpa"}
        The resolved step-size rule.
    weights : tuple of float
        Recombination weights ``ln((popsize + 1) / 2) - ln(i)``, ``i = 1..mu``, normalized to sum 1.
    mueff : float
        Variance-effective selection mass ``1 / sum(w**2)``.
    cc, cs : float
        Learning rates of the covariance and step-size evolution paths.
    c1, cmu : float
        Rank-one and rank-mu covariance learning rates (times ``(dim + 2) / 3`` for ``sep``,
        Ros & Hansen 2008; pycma's ``sep`` rates differ, see the module docstring).
    damps : float
        CSA step-size damping.
    chi_n : float
        Expected norm of a standard normal vector, ``E||N(0, I)||``.
    eigen_gap : int
        Generations between eigendecompositions of the full covariance (lazy update).
    tpa_damp, tpa_c, tpa_exponent : float
        TPA damping ``0.7 + 2 ln dim + 2 ln max(1, popsize - dim)``, smoothing 0.3 and rank
        exponent 0.5 (pycma's ``CMAAdaptSigmaTPA``).
    """

    dim: int
    popsize: int
    variant: str
    step_size: str
    mu: int
    weights: tuple[float, ...]
    mueff: float
    cc: float
    cs: float
    c1: float
    cmu: float
    damps: float
    chi_n: float
    eigen_gap: int
    tpa_damp: float
    tpa_c: float = 0.3
    tpa_exponent: float = 0.5

    @classmethod
    def default(cls, dim: int, popsize: int, variant: str,
                step_size: str = "auto") -> CMAParameters:
        """Hansen's default constants for ``dim``, ``popsize``, ``variant`` and ``step_size``."""
        if variant not in VARIANTS:
            raise InvalidInputError(
                f"variant must be one of {VARIANTS}, got {variant!r}: 'sep' (diagonal covariance, "
                "for large codes such as 4096-d) or 'full' (full covariance, small codes)"
            )
        if step_size not in STEP_SIZE_RULES:
            raise InvalidInputError(
                f"step_size must be one of {STEP_SIZE_RULES}, got {step_size!r}: 'csa' "
                "(cumulative), 'tpa' (two-point) or 'auto' (tpa from 300 dimensions on)"
            )
        if step_size == "auto":
            step_size = "tpa" if dim >= TPA_DIMENSION else "csa"
        n = float(dim)
        mu = popsize // 2
        raw = [math.log((popsize + 1) / 2) - math.log(i) for i in range(1, mu + 1)]
        weights = tuple(w / sum(raw) for w in raw)
        mueff = 1.0 / sum(w * w for w in weights)
        cc = (4 + mueff / n) / (n + 4 + 2 * mueff / n)
        cs = (mueff + 2) / (n + mueff + 5)
        c1 = 2 / ((n + 1.3) ** 2 + mueff)
        cmu = min(1 - c1, 2 * (mueff - 2 + 1 / mueff) / ((n + 2) ** 2 + mueff))
        if variant == "sep":
            c1 = c1 * (n + 2) / 3
            cmu = min(1 - c1, cmu * (n + 2) / 3)
        damps = 1 + 2 * max(0.0, math.sqrt((mueff - 1) / (n + 1)) - 1) + cs
        chi_n = math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n))
        eigen_gap = max(1, int(1 / ((c1 + cmu) * n * 10)))
        tpa_damp = 0.7 + 2 * math.log(n) + 2 * math.log(max(1, popsize - dim))
        return cls(dim, popsize, variant, step_size, mu, weights, mueff, cc, cs, c1, cmu, damps,
                   chi_n, eigen_gap, tpa_damp)
