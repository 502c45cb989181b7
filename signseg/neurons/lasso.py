"""Do neuron models need negative inputs? Positive-only vs unconstrained Lasso (paper Fig. 22).

The paper fits each neuron's responses with a Lasso regression from the backbone's
penultimate features, once with non-negative weights only (input from "excitatory"
artificial units alone) and once unconstrained, across a range of L1 penalties, with 5-fold
cross-validation; the unconstrained models predict held-out responses better at every
penalty. :func:`lasso_path_cv` does that for one neuron and :func:`lasso_comparison` for a
set of neurons, with scikit-learn's coordinate descent (``lasso_path``, the solver of
``Lasso``; ``positive=True`` for the constrained fit).

Per fold, features are centred and responses standardised with the training images' means
(and the responses' standard deviation), the path is fitted on the training images and
``r^2`` is computed on the training and the held-out images of that fold. The objective is
scikit-learn's: ``(1 / (2 n)) ||y - X w||^2 + alpha ||w||_1``. **Choices**: features are not
scaled (as for the PLS models: rarely active post-ReLU units would dominate); the penalties
are given as fractions of ``alpha_max = max_j |X_j . y| / n``, the smallest penalty at which
the unconstrained fit has no non-zero weight, computed per fold, so that one path means the
same for every neuron (and the positive fit shares it).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import InvalidInputError
from ..progress import tqdm
from .models import r_squared

__all__ = ["DEFAULT_ALPHAS", "CONSTRAINTS", "standardize", "alpha_max", "lasso_weights", "lasso_path_cv",
           "lasso_comparison"]

#: Default L1 path: 13 penalties from 1e-3 to 1 times ``alpha_max`` (module docstring).
DEFAULT_ALPHAS = tuple(float(a) for a in np.geomspace(1e-3, 1.0, 13))
#: The two fits compared.
CONSTRAINTS = ("positive", "unconstrained")


def standardize(train: np.ndarray, *others: np.ndarray, scale: bool = True) -> list[np.ndarray]:
    """``train`` and ``others`` centred by ``train``'s column means and, with ``scale``, divided
    by its standard deviations (columns constant on ``train`` are set to 0)."""
    mean = train.mean(axis=0)
    sd = train.std(axis=0) if scale else np.ones(train.shape[1:])
    safe = np.where(sd > 0, sd, 1.0)
    return [np.where(sd > 0, (x - mean) / safe, 0.0) for x in (train, *others)]


def alpha_max(x: np.ndarray, y: np.ndarray) -> float:
    """``max_j |x_j . y| / n`` for centred ``x`` ``[n, f]`` and ``y`` ``[n]``: the smallest L1
    penalty at which the unconstrained Lasso has only zero weights."""
    return float(np.abs(x.T @ y).max() / x.shape[0])


def _check_alphas(alphas: Sequence[float]) -> np.ndarray:
    values = np.asarray(list(alphas), dtype=np.float64)
    if values.ndim != 1 or values.size == 0 or not np.isfinite(values).all() or (values <= 0).any():
        raise InvalidInputError(f"alphas must be positive L1 penalties, got {list(alphas)!r}")
    return np.sort(values)[::-1]  # the path runs from the largest penalty down (warm starts)


def lasso_weights(x: np.ndarray, y: np.ndarray, alphas: Sequence[float], *, positive: bool,
                  max_iter: int = 5000, tol: float = 1e-6) -> np.ndarray:
    """Lasso weights ``[len(alphas), f]`` on centred data ``x`` ``[n, f]``, ``y`` ``[n]`` along the
    path ``alphas`` (largest first, as returned), by scikit-learn's ``lasso_path``.

    ``x`` and ``y`` must be centred (no intercept is fitted): :func:`standardize` them.
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import lasso_path

    path = _check_alphas(alphas)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # reported through r^2, not stderr
        _, coefs, _ = lasso_path(x, y, alphas=path, positive=positive, max_iter=max_iter, tol=tol)
    return coefs.T


def lasso_path_cv(features: np.ndarray, responses: np.ndarray, alphas: Sequence[float] = DEFAULT_ALPHAS,
                  *, folds: int = 5, seed: int = 0) -> pd.DataFrame:
    """Positive-only and unconstrained Lasso of one neuron over an L1 path, ``folds``-fold CV.

    Parameters
    ----------
    features:
        ``[n_images, f]`` penultimate features.
    responses:
        ``[n_images]`` trial-averaged responses of one neuron.
    alphas:
        L1 penalties as fractions of each fold's :func:`alpha_max`.
    folds, seed:
        Number of folds (paper: 5) and the seed of the shuffled ``KFold``.

    Returns
    -------
    pandas.DataFrame
        One row per constraint, alpha and fold: ``constraint`` (``"positive"`` /
        ``"unconstrained"``), ``alpha`` (the fraction of ``alpha_max``), ``fold``, ``r2_train``, ``r2_test``, ``nonzero``
        (number of non-zero weights), ``negative`` (number of negative weights).
    """
    from sklearn.model_selection import KFold

    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(responses, dtype=np.float64).reshape(-1)
    if x.ndim != 2 or x.shape[0] != y.shape[0] or not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise InvalidInputError(
            f"features [n, f] and responses [n] must be finite with the same n; got {list(x.shape)} "
            f"and {list(y.shape)}")
    if isinstance(folds, bool) or int(folds) != folds or not 2 <= int(folds) <= x.shape[0] // 2:
        raise InvalidInputError(f"folds must be an integer in [2, {x.shape[0] // 2}], got {folds!r}")
    path = _check_alphas(alphas)
    rows = []
    splitter = KFold(n_splits=int(folds), shuffle=True, random_state=seed)
    for fold, (train, test) in enumerate(splitter.split(x)):
        x_train, x_test = standardize(x[train], x[test], scale=False)
        y_train, y_test = (v[:, 0] for v in standardize(y[train, None], y[test, None]))
        largest = alpha_max(x_train, y_train)
        if largest == 0:  # constant responses or features on this fold: nothing to fit
            continue
        for constraint in CONSTRAINTS:
            weights = lasso_weights(x_train, y_train, path * largest, positive=constraint == "positive")
            for alpha, w in zip(path, weights):
                rows.append({"constraint": constraint, "alpha": float(alpha), "fold": fold,
                             "r2_train": r_squared(y_train, x_train @ w), "r2_test": r_squared(y_test, x_test @ w),
                             "nonzero": int((w != 0).sum()), "negative": int((w < 0).sum())})
    return pd.DataFrame(rows)


def lasso_comparison(features: np.ndarray, responses: np.ndarray, neurons: pd.DataFrame,
                     alphas: Sequence[float] = DEFAULT_ALPHAS, *, folds: int = 5, seed: int = 0,
                     progress: bool = True) -> pd.DataFrame:
    """:func:`lasso_path_cv` for every neuron (column of ``responses``), averaged over folds.

    Returns
    -------
    pandas.DataFrame
        One row per neuron, constraint and alpha: ``neuron`` and the other columns of
        ``neurons``' row ``neuron``, ``constraint``, ``alpha``, mean ``r2_train``,
        ``r2_test``, ``nonzero`` and ``negative`` over the folds.
    """
    y = np.asarray(responses, dtype=np.float64)
    if y.ndim != 2 or len(neurons) != y.shape[1]:
        raise InvalidInputError(
            f"responses must be [n_images, n_neurons] with one neurons row per column; got "
            f"{list(y.shape)} and {len(neurons)} rows")
    frames = []
    for j in tqdm(range(y.shape[1]), desc="Lasso paths", unit="neuron", disable=not progress):
        path = lasso_path_cv(features, y[:, j], alphas, folds=folds, seed=seed)
        mean = path.groupby(["constraint", "alpha"], as_index=False, sort=False)[
            ["r2_train", "r2_test", "nonzero", "negative"]].mean()
        frames.append(mean.assign(neuron=str(neurons["neuron"].iloc[j])))
    return pd.concat(frames, ignore_index=True)
