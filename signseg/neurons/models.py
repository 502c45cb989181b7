"""Neuron models: one-component PLS from a backbone's penultimate layer (paper A.1, A.4, Fig. 10).

Each neuron's trial-averaged response to the stimuli is regressed on the backbone's
penultimate representation (AlexNet's fc7, 4096 units after their ReLU, in the paper) with
scikit-learn's ``PLSRegression(n_components=1)``, fitted on 80% of the images and scored
by ``r^2`` on the other 20% (:func:`fit_pls`). One model per neuron; the paper keeps the
best-fitting neuron of each session (:func:`best_per_session`; test ``r^2`` 0.27 +- 0.10).

A fitted model is a linear readout ``w . features + b`` of the backbone, so a set of them is
exactly what :func:`signseg.visualize.visualize` ablates and visualizes for a class unit:
:class:`NeuronReadout` wraps the backbone and an ``nn.Linear`` whose rows are the models'
weight vectors (unit ``j`` = model ``j``). Its penultimate features are the backbone's;
images of the neuron protocol reach it whole (``crop=False``), as the animal sees them.

**Choices**: PLS runs on centred, *unscaled* features (``scale=False``; the weights apply to
the raw features): post-ReLU units that fire for one or two training images have tiny
standard deviations, and standardising them (scikit-learn's default ``scale=True``) lets
them dominate the predictions of held-out images (test ``r^2`` far below 0 where the
unscaled fit generalises); the 80/20 split is one seeded random
split of the images, shared by all neurons of a recording; a neuron whose training
responses are constant gets zero weights, its mean as intercept and ``r^2 = NaN``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..ablation import sign_ratio
from ..errors import InvalidInputError
from ..layers import layer_activations
from ..progress import tqdm

__all__ = ["NeuronModels", "r_squared", "split_images", "fit_pls", "best_per_session", "NeuronReadout"]


@dataclass(frozen=True)
class NeuronModels:
    """Linear models of neurons: ``response ~ features @ weights[j] + intercepts[j]``.

    Attributes
    ----------
    weights:
        ``[m, f]`` one weight vector per model, on the raw (unscaled) features.
    intercepts:
        ``[m]``.
    table:
        One row per model: the neuron's metadata (``neuron``, ``area``, ``session``,
        ``monkey``, ...), ``column`` (its position in the recording), ``r2_train``,
        ``r2_test`` and ``ratio`` (sum of positive / sum of |negative| weights, Fig. 20).
    train, test:
        Positions of the training and held-out images.
    """

    weights: np.ndarray
    intercepts: np.ndarray
    table: pd.DataFrame
    train: np.ndarray
    test: np.ndarray

    def __len__(self) -> int:
        return int(self.weights.shape[0])

    def predict(self, features: np.ndarray | torch.Tensor) -> np.ndarray:
        """Predicted responses ``[n, m]`` of features ``[n, f]``."""
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or features.shape[1] != self.weights.shape[1]:
            raise InvalidInputError(
                f"features must be [n, {self.weights.shape[1]}] (the backbone's penultimate layer), "
                f"got {list(features.shape)}")
        return features @ self.weights.T + self.intercepts

    def subset(self, rows: Sequence[int] | np.ndarray) -> "NeuronModels":
        """The models at positions ``rows`` (in that order)."""
        rows = np.asarray(rows, dtype=np.int64)
        return NeuronModels(self.weights[rows], self.intercepts[rows],
                            self.table.iloc[rows].reset_index(drop=True), self.train, self.test)


def split_images(n: int, test_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random split of ``n`` images: ``(train, test)`` positions, each sorted; the test
    set has ``round(test_fraction * n)`` images (at least 2) and the training set at least 2."""
    if not 0.0 < float(test_fraction) < 1.0:
        raise InvalidInputError(f"test_fraction must lie in (0, 1), got {test_fraction!r}")
    n_test = max(2, int(round(float(test_fraction) * n)))
    if n - n_test < 2:
        raise InvalidInputError(f"{n} images are too few for a train/test split; record at least 4")
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def r_squared(y: np.ndarray, prediction: np.ndarray) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot`` (scikit-learn's ``r2_score``);
    ``NaN`` when ``y`` is constant."""
    from sklearn.metrics import r2_score

    return float(r2_score(y, prediction)) if np.ptp(y) > 0 else float("nan")


def _fit_one(x_train: np.ndarray, y_train: np.ndarray, scale: bool) -> tuple[np.ndarray, float]:
    from sklearn.cross_decomposition import PLSRegression

    if np.ptp(y_train) == 0:
        return np.zeros(x_train.shape[1]), float(y_train.mean())
    pls = PLSRegression(n_components=1, scale=scale).fit(x_train, y_train)
    weight = np.asarray(pls.coef_, dtype=np.float64).reshape(-1)
    # scikit-learn predicts (x - mean) @ coef + intercept_; on raw features the intercept is
    # the prediction at x = 0
    intercept = float(np.asarray(pls.predict(np.zeros((1, x_train.shape[1])))).reshape(-1)[0])
    return weight, intercept


def fit_pls(features: np.ndarray | torch.Tensor, responses: np.ndarray, neurons: pd.DataFrame, *,
            test_fraction: float = 0.2, seed: int = 0, scale: bool = False,
            progress: bool = True) -> NeuronModels:
    """One-component PLS model of every neuron (module docstring).

    Parameters
    ----------
    features:
        ``[n_images, f]`` penultimate features of the stimuli (post-ReLU).
    responses:
        ``[n_images, n_neurons]`` trial-averaged responses
        (:meth:`~signseg.neurons.recording.Recording.mean_responses`).
    neurons:
        The recording's neurons table (one row per column of ``responses``).
    test_fraction, seed:
        The held-out share of the images and the split's seed (:func:`split_images`).
    scale:
        ``PLSRegression``'s ``scale`` (standardise features and response inside the fit;
        default ``False``, see the module docstring).
    progress:
        Show a progress bar over the neurons.
    """
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(responses, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise InvalidInputError(
            f"features [n_images, f] and responses [n_images, n_neurons] must share n_images; got "
            f"{list(x.shape)} and {list(y.shape)}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise InvalidInputError("features and responses must be finite (average the trials first)")
    if len(neurons) != y.shape[1]:
        raise InvalidInputError(f"{len(neurons)} neuron rows for {y.shape[1]} response columns")
    train, test = split_images(x.shape[0], test_fraction, seed)
    weights = np.zeros((y.shape[1], x.shape[1]))
    intercepts = np.zeros(y.shape[1])
    r2_train, r2_test = np.empty(y.shape[1]), np.empty(y.shape[1])
    for j in tqdm(range(y.shape[1]), desc="PLS neuron models", unit="neuron", disable=not progress):
        weights[j], intercepts[j] = _fit_one(x[train], y[train, j], scale)
        r2_train[j] = r_squared(y[train, j], x[train] @ weights[j] + intercepts[j])
        r2_test[j] = r_squared(y[test, j], x[test] @ weights[j] + intercepts[j])
    table = neurons.reset_index(drop=True).assign(
        column=np.arange(y.shape[1]), r2_train=r2_train, r2_test=r2_test,
        ratio=sign_ratio(torch.from_numpy(weights)).numpy())
    return NeuronModels(weights, intercepts, table, train, test)


def best_per_session(models: NeuronModels) -> NeuronModels:
    """The model with the highest test ``r^2`` of each ``(monkey, session)``, sessions in order
    of first appearance (models without a finite ``r^2`` are never chosen)."""
    table = models.table
    finite = table[np.isfinite(table["r2_test"])]
    if finite.empty:
        raise InvalidInputError("no model has a finite test r^2 (are all responses constant?)")
    best = finite.groupby(["monkey", "session"], sort=False)["r2_test"].idxmax()
    return models.subset(best.to_numpy())


class _ReadoutNetwork(nn.Module):
    """The backbone with its readout replaced by the neuron models' ``nn.Linear``."""

    def __init__(self, backbone: nn.Module, penultimate: str, readout: nn.Linear) -> None:
        super().__init__()
        self.backbone = backbone
        self.penultimate = penultimate
        self.readout = readout

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        (features,) = layer_activations(self.backbone, inputs, [(self.penultimate, "input")])
        return self.readout(features.flatten(1))


class NeuronReadout:
    """Neuron models as the readout of their backbone: what :func:`signseg.visualize.visualize`
    ablates and visualizes (unit ``j`` = model ``j``).

    Parameters
    ----------
    backbone:
        The :class:`signseg.zoo.ZooModel` whose penultimate features the models read.
    models:
        Fitted :class:`NeuronModels`.
    name:
        Label of result stores (default ``"<backbone>-neurons"``); the stores' key also
        holds every weight, so refitted models never reuse stale results.

    Attributes
    ----------
    model:
        An ``nn.Module``: the backbone network with the models' ``nn.Linear`` as ``readout``.
    neurons:
        The models' table (row ``j`` describes unit ``j``).
    """

    def __init__(self, backbone: Any, models: NeuronModels, name: str | None = None) -> None:
        if models.weights.shape[1] != backbone.readout_layer().in_features:
            raise InvalidInputError(
                f"the models have {models.weights.shape[1]} weights but {backbone.name}'s penultimate "
                f"layer has {backbone.readout_layer().in_features} units; fit them on this backbone")
        linear = nn.Linear(models.weights.shape[1], models.weights.shape[0])
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(models.weights))
            linear.bias.copy_(torch.from_numpy(models.intercepts))
        self.backbone = backbone
        self.entry = backbone.entry
        self.model = _ReadoutNetwork(backbone.model, backbone.entry.readout, linear).eval()
        self.neurons = models.table
        self.pretrained = backbone.pretrained
        self.name = name or f"{backbone.name}-neurons"

    def readout_layer(self) -> nn.Linear:
        """The ``nn.Linear`` of the neuron models."""
        return self.model.readout

    def features(self, images01: torch.Tensor, batch_size: int = 256, *, crop: bool = True) -> torch.Tensor:
        """The backbone's penultimate features ``[n, f]`` (see :meth:`signseg.zoo.ZooModel.features`)."""
        return self.backbone.features(images01, batch_size, crop=crop)

    def predict(self, images01: torch.Tensor, batch_size: int = 256, *, crop: bool = False) -> np.ndarray:
        """Predicted responses ``[n, models]`` (float64) of images, resized whole by default."""
        features = self.features(images01, batch_size, crop=crop).double()
        layer = self.readout_layer()
        return (features @ layer.weight.detach().double().T.cpu() + layer.bias.detach().double().cpu()).numpy()
