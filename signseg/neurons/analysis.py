"""The neuron models' images shown back to the neurons, and their Dale-like inputs (paper 4.6).

* :func:`shown_back` -- every visualization of every neuron model (each ablation condition,
  each restart) shown to the recorded population: the modeled neuron's response
  (``actual``: recorded from in-silico neurons, or, with a user's recordings, predicted by
  that neuron's model -- no animal is at hand), the model's prediction (``predicted``), both
  also as z-scores against the neuron's (the model's) responses to the natural stimuli (the
  diverseSet), and the **population response**: every recorded neuron's response z-scored
  with its mean and standard deviation over the diverseSet, averaged over neurons (Fig. 7).
  **Choice**: curves over neuron models are drawn in these z-scores, not as ratios to the
  control response, which explode for a neuron whose control images barely drive it.
* :func:`matched_similarity` -- whether a neuron's own closed-loop image looks more like its
  model's visualizations than like other models' (in a readout ensemble; Fig. 21 right).
* :func:`zscore` -- responses relative to each neuron's natural-image responses (also
  Fig. 21's "above the natural images" test).
* :func:`dale_like_features` -- input features whose weight has the same sign in most
  neuron models: per feature the count of positive and negative weights, the exact binomial
  test against 0.5 (``scipy.stats.binomtest``) and its Bonferroni correction over all
  features (Fig. 23). The paper's p = 5.09e-10 for 56 models is the one-sided
  ``P(X >= 50 | n = 56, p = 0.5)``: 50 of 56 models (89%) agreeing in sign.
  :func:`dale_like_null` asks whether there are more such features than expected if each
  model's weights were assigned to features at random (a permutation of each model's
  non-zero weights keeps its own share of positive weights).
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import torch
from scipy import stats

from ..analysis import run_images
from ..errors import InvalidInputError
from ..metrics.similarity import as_embedder, cosine_matrix
from ..visualize import Visualization

__all__ = ["zscore", "shown_back", "matched_similarity", "dale_like_features", "dale_like_null"]

Respond = Callable[[torch.Tensor], np.ndarray]


def zscore(responses: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``(responses - mean) / sd`` per neuron (column), with the mean and standard deviation
    (``ddof=1``) of ``reference`` ``[n_reference, neurons]``; a neuron constant on the
    reference gets ``NaN``."""
    responses = np.asarray(responses, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if reference.ndim != 2 or responses.shape[-1] != reference.shape[1] or reference.shape[0] < 2:
        raise InvalidInputError(
            f"reference must be [n >= 2, neurons] with the responses' {responses.shape[-1]} neurons; got "
            f"{list(reference.shape)}")
    sd = reference.std(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sd > 0, (responses - reference.mean(axis=0)) / np.where(sd > 0, sd, 1.0), np.nan)


def shown_back(vis: Visualization, respond: Respond, predict: Respond, columns: Sequence[int],
               reference: np.ndarray, predicted_reference: np.ndarray) -> pd.DataFrame:
    """Every visualization shown to the population (module docstring).

    Parameters
    ----------
    vis:
        Visualizations of a :class:`~signseg.neurons.models.NeuronReadout` (unit ``j`` =
        neuron model ``j``).
    respond:
        Images ``[n, 3, H, W]`` in ``[0, 1]`` -> responses ``[n, neurons]`` of the whole
        recorded population.
    predict:
        Images -> ``[n, models]`` the neuron models' predictions
        (:meth:`~signseg.neurons.models.NeuronReadout.predict`).
    columns:
        For each model, the column of its neuron in ``respond``'s output.
    reference:
        ``[n_natural, neurons]`` the population's trial-averaged responses to the natural
        stimuli (z-scoring).
    predicted_reference:
        ``[n_natural, models]`` the models' predictions for the natural stimuli.

    Returns
    -------
    pandas.DataFrame
        The visualization table's ``unit, sign, alpha, generator, restart`` and
        ``best_activation`` with ``actual``, ``predicted``, ``actual_z``, ``predicted_z``
        and ``population`` (mean z-score over all neurons, NaN-z neurons ignored).
    """
    table, images = run_images(vis)
    if table.empty:
        raise InvalidInputError("the visualization holds no runs; run visualize() first")
    columns = np.asarray(list(columns), dtype=np.int64)
    units = table["unit"].to_numpy(dtype=np.int64)
    if units.max() >= columns.size:
        raise InvalidInputError(f"visualized units go up to {units.max()} but only {columns.size} columns were given")
    responses = np.asarray(respond(images), dtype=np.float64)
    predictions = np.asarray(predict(images), dtype=np.float64)
    z = zscore(responses, reference)
    z_predicted = zscore(predictions, predicted_reference)
    rows = np.arange(len(table))
    out = table[["unit", "sign", "alpha", "generator", "restart", "best_activation"]].copy()
    out["actual"] = responses[rows, columns[units]]
    out["predicted"] = predictions[rows, units]
    out["actual_z"] = z[rows, columns[units]]
    out["predicted_z"] = z_predicted[rows, units]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a row of NaN z (constant neurons)
        out["population"] = np.nanmean(z, axis=1)
    return out


def matched_similarity(own: torch.Tensor, model_images: Sequence[torch.Tensor],
                       embedders: Sequence[Any]) -> pd.DataFrame:
    """Does a neuron's own preferred image resemble its model's images more than other models'?

    Parameters
    ----------
    own:
        ``[m, 3, H, W]`` each neuron's preferred image from its own closed loop.
    model_images:
        ``m`` sets ``[k, 3, H, W]``: each neuron model's (control) visualizations.
    embedders:
        A readout ensemble (zoo models; generated images are embedded whole, ``crop=False``).

    Returns
    -------
    pandas.DataFrame
        One row per neuron ``i``: ``matched`` (mean cosine similarity, over the ensemble's
        penultimate layers and model ``i``'s images, of neuron ``i``'s image to them) and
        ``unmatched`` (the same for every other model's images, averaged).
    """
    if len(model_images) != own.shape[0] or own.shape[0] < 2:
        raise InvalidInputError(
            f"give one image set per neuron (at least 2 neurons): {own.shape[0]} images, {len(model_images)} sets")
    embedders = [as_embedder(e, crop=False) for e in embedders]
    if not embedders:
        raise InvalidInputError("the readout ensemble is empty; give at least one network")
    sizes = [len(images) for images in model_images]
    stacked = torch.cat(list(model_images))
    similarity = np.zeros((own.shape[0], len(model_images)))
    for embedder in embedders:
        cosine = cosine_matrix(embedder.embed(own), embedder.embed(stacked)).numpy()
        starts = np.cumsum([0, *sizes])
        similarity += np.stack([cosine[:, a:b].mean(axis=1) for a, b in zip(starts[:-1], starts[1:])], 1)
    similarity /= len(embedders)
    off = ~np.eye(own.shape[0], dtype=bool)
    return pd.DataFrame({"neuron": np.arange(own.shape[0]), "matched": np.diag(similarity),
                         "unmatched": np.array([row[mask].mean() for row, mask in zip(similarity, off)])})


def _check_weights(weights: np.ndarray) -> np.ndarray:
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 2 or weights.shape[0] < 1 or not np.isfinite(weights).all():
        raise InvalidInputError(f"weights must be a finite [models, features] array, got shape {list(weights.shape)}")
    return weights


def dale_like_features(weights: np.ndarray, *, threshold: float = 0.9, alpha: float = 0.05,
                       alternative: str = "two-sided") -> pd.DataFrame:
    """Sign consistency of every input feature across neuron models (module docstring).

    Parameters
    ----------
    weights:
        ``[models, features]`` neuron models' weights (one model per session, say).
    threshold:
        Share of the models that must agree in sign for ``consistent``.
    alpha:
        Family-wise level: ``significant`` when the Bonferroni-corrected p is below it.
    alternative:
        Of ``scipy.stats.binomtest`` on the number of positive weights among the non-zero
        ones: ``"two-sided"`` (either sign) by default.

    Returns
    -------
    pandas.DataFrame
        One row per feature: ``feature``, ``positive``, ``negative`` (counts), ``n``
        (non-zero weights), ``sign`` (``"positive"`` / ``"negative"``, the majority;
        ties ``"mixed"``), ``share`` (majority share of ``n``), ``p``, ``p_bonferroni``
        (``min(1, p * features)``), ``consistent`` (``share >= threshold``),
        ``significant`` and ``dale_like`` (both).
    """
    weights = _check_weights(weights)
    if not 0.5 <= float(threshold) <= 1.0:
        raise InvalidInputError(f"threshold must be a majority share in [0.5, 1], got {threshold!r}")
    positive = (weights > 0).sum(axis=0)
    negative = (weights < 0).sum(axis=0)
    n = positive + negative
    p = np.array([stats.binomtest(int(k), int(m), 0.5, alternative=alternative).pvalue if m else 1.0
                  for k, m in zip(positive, n)])
    majority = np.maximum(positive, negative)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(n > 0, majority / np.maximum(n, 1), np.nan)
    sign = np.where(positive > negative, "positive", np.where(negative > positive, "negative", "mixed"))
    corrected = np.minimum(1.0, p * weights.shape[1])
    frame = pd.DataFrame({"feature": np.arange(weights.shape[1]), "positive": positive,
                          "negative": negative, "n": n, "sign": sign, "share": share, "p": p,
                          "p_bonferroni": corrected})
    frame["consistent"] = frame["share"] >= float(threshold)
    frame["significant"] = frame["p_bonferroni"] < float(alpha)
    frame["dale_like"] = frame["consistent"] & frame["significant"]
    return frame


def dale_like_null(weights: np.ndarray, *, threshold: float = 0.9, n_permutations: int = 1000,
                   seed: int = 0) -> dict[str, float]:
    """Are there more sign-consistent features than if features were matched at random?

    The statistic is the number of features whose majority sign is shared by at least
    ``threshold`` of the models. Null: each model's non-zero weights permuted over the features
    it uses, independently per model (keeping every model's share of positive weights and
    its zeros, e.g. units that never fire on the stimuli, where they are).

    Returns
    -------
    dict
        ``observed`` (count), ``share`` (of all features), ``null_mean``, ``null_high``
        (its 95th percentile) and ``p = (1 + #{null >= observed}) / (1 + n_permutations)``.
    """
    weights = _check_weights(weights)
    signs = np.sign(weights)

    def count(s: np.ndarray) -> int:
        positive, negative = (s > 0).sum(axis=0), (s < 0).sum(axis=0)
        n = positive + negative
        return int(((n > 0) & (np.maximum(positive, negative) >= float(threshold) * np.maximum(n, 1))).sum())

    rng = np.random.default_rng(seed)
    used = [np.flatnonzero(row) for row in signs]

    def shuffled() -> np.ndarray:
        out = np.zeros_like(signs)
        for row, (values, index) in enumerate(zip(signs, used)):
            out[row, index] = rng.permutation(values[index])
        return out

    observed = count(signs)
    null = np.array([count(shuffled()) for _ in range(int(n_permutations))])
    return {"observed": float(observed), "share": observed / weights.shape[1],
            "null_mean": float(null.mean()), "null_high": float(np.percentile(null, 95)),
            "p": float((1 + (null >= observed).sum()) / (1 + null.size))}
