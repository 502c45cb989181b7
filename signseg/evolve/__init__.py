"""Gradient-free optimization for feature visualization: CMA-ES runs in lockstep.

Paper section 3 "Feature visualization" and A.1 (METHODS.md 3): a generator's latent code is
optimized by a CMA-ES variant for high dimensions (Wang & Ponce 2022; Loshchilov 2015) to
maximize a unit's logit, 100 iterations per visualization, 10 runs per generator.

Choice of variant
-----------------
Lockstep runs must fit together on one device (11 units x 21 conditions x 20 runs is 4620
runs in the paper's protocol), so the default is the **separable CMA-ES** (``variant="sep"``;
Ros & Hansen 2008): diagonal covariance, learning rates ``c1, cmu`` times ``(dim + 2) / 3``
(Ros & Hansen's rule; pycma's ``CMA_diagonal`` rates differ, see
:mod:`signseg.evolve.parameters`),
O(dim) memory per run -- about 1 MiB per run at the
DeePSiM fc6 code's 4096 dimensions (see :mod:`signseg.evolve.lockstep` for the formula).
Wang & Ponce (2022) found that in 4096-d, within ~100 generations, covariance learning
contributes little next to step-size control; their Cholesky-CMA-ES keeps a full 4096 x 4096
factor per run (64 MiB in float32), too much for thousands of lockstep runs. A **full**
covariance variant (``variant="full"``, batched lazy eigendecomposition) is offered for small
codes (up to a few hundred dimensions, e.g. BigGAN's 256).

Step-size control follows pycma (``step_size="auto"``): cumulative step-size adaptation
below 300 dimensions, two-point adaptation (TPA) from 300 on. CSA's path learning rate is
``~ mueff / dim`` (0.0023 at 4096-d), so within 100 generations the step size hardly moves;
TPA adapts it from the ranks of two candidates placed along the last mean shift (see
:mod:`signseg.evolve.parameters`).

Defaults
--------
* population ``4 + floor(3 log2 dim)``, Wang & Ponce's ``CholeskyCMAES`` default: 40 for
  DeePSiM's 4096-d code, 28 for BigGAN's 256-d code (:func:`default_popsize`);
* ``variant="sep"``, ``step_size="auto"`` (TPA for DeePSiM's 4096-d, CSA for BigGAN's 256-d);
* initial step size per generator, read from ``generator.default_sigma``: DeePSiM fc6 3.0,
  BigGAN 0.2 (paper A.1); the offline generators document theirs;
* 100 iterations (generations);
* start codes: small-norm vectors near the origin (``generator.init_codes``);
* NaN fitness counts as the worst value (``+inf`` when minimizing), with a warning.

Backends
--------
``backend="torch"`` (:class:`LockstepCMA`) and the reference ``backend="pycma"``
(:class:`PycmaLockstep`, one ``cma.CMAEvolutionStrategy`` per run) share the ask/tell
interface and :func:`minimize`; both are deterministic by seed.
"""

from ._common import default_popsize, run_seeds
from .driver import BACKENDS, EvolveResult, make_optimizer, minimize
from .lockstep import LockstepCMA
from .parameters import STEP_SIZE_RULES, TPA_DIMENSION, VARIANTS, CMAParameters
from .pycma_backend import PycmaLockstep, pycma_options

__all__ = [
    "BACKENDS",
    "STEP_SIZE_RULES",
    "TPA_DIMENSION",
    "VARIANTS",
    "CMAParameters",
    "EvolveResult",
    "LockstepCMA",
    "PycmaLockstep",
    "default_popsize",
    "make_optimizer",
    "minimize",
    "pycma_options",
    "run_seeds",
]
