"""diverseSet: a small stimulus set that spans a network's output space (paper A.1, Fig. 9).

The paper's 160 stimuli were chosen so that a single session can show all of them and still
cover what ImageNet-trained AlexNet represents: embed candidate images with the network's
output layer (the 1000 logits before the softmax), keep the principal components holding
about 95% of the variance (300 of 1000), partition that space with batched k-means into
``k = 160`` clusters, and take the candidate image nearest each cluster centre.

:func:`embed` gives the output-layer embedding, :func:`diverse_set` the selection (with
scikit-learn's ``PCA`` and ``MiniBatchKMeans``), :func:`coverage` a number for how well a
subset covers the candidates (the mean distance from every candidate to its nearest member,
against random subsets of the same size).

**Choice**: two centres can share their nearest candidate; centres are then served in order
of their distance to it, and a later centre takes its nearest *unused* candidate, so the set
always has ``k`` distinct images.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.spatial.distance import cdist

from ..errors import InvalidInputError

__all__ = ["DiverseSet", "embed", "diverse_set", "coverage"]


@dataclass(frozen=True)
class DiverseSet:
    """The chosen stimuli and the space they were chosen in.

    Attributes
    ----------
    indices:
        ``[k]`` positions of the chosen candidates (distinct), one per cluster centre.
    coordinates:
        ``[n, p]`` every candidate in the kept principal components.
    centres:
        ``[k, p]`` the k-means cluster centres.
    components:
        Number ``p`` of principal components kept.
    explained:
        Share of the embedding's variance those components hold.
    """

    indices: np.ndarray
    coordinates: np.ndarray
    centres: np.ndarray
    components: int
    explained: float


def embed(model: Any, images: torch.Tensor, batch_size: int = 256) -> np.ndarray:
    """Output-layer embedding (logits, before the softmax) ``[n, classes]`` of natural images.

    ``model`` is a :class:`signseg.zoo.ZooModel`; images (uint8 or in ``[0, 1]``) take its
    evaluation transform, as the paper embedded ImageNet's validation images.
    """
    return model.logits(images, batch_size=batch_size).double().numpy()


def diverse_set(embeddings: np.ndarray, k: int = 160, variance: float = 0.95, *,
                batch_size: int = 1024, seed: int = 0) -> DiverseSet:
    """Choose ``k`` candidates spanning ``embeddings`` (PCA, batched k-means, nearest images).

    Parameters
    ----------
    embeddings:
        ``[n, d]`` finite embeddings of the candidate images (:func:`embed`), ``n >= k``.
    k:
        Number of images (paper: 160).
    variance:
        Share of the variance the kept principal components must hold, in ``(0, 1]``
        (paper: about 95%, 300 of AlexNet's 1000 dimensions).
    batch_size:
        Mini-batch size of ``MiniBatchKMeans``.
    seed:
        Seed of k-means (initialisation and batches).

    Returns
    -------
    DiverseSet
    """
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.decomposition import PCA

    embeddings = np.asarray(embeddings, dtype=np.float64)
    if embeddings.ndim != 2 or not np.isfinite(embeddings).all():
        raise InvalidInputError(
            f"embeddings must be a finite [n, d] array, got shape {list(embeddings.shape)}"
            + ("" if embeddings.ndim != 2 or np.isfinite(embeddings).all() else " with NaN or inf"))
    if isinstance(k, bool) or int(k) != k or not 1 <= int(k) <= embeddings.shape[0]:
        raise InvalidInputError(f"k must be an integer in [1, {embeddings.shape[0]}] (the candidates), got {k!r}")
    if not 0.0 < float(variance) <= 1.0:
        raise InvalidInputError(f"variance must be a share in (0, 1], got {variance!r}")
    k = int(k)
    pca = PCA(random_state=seed).fit(embeddings)
    cumulative = np.cumsum(pca.explained_variance_ratio_)
    components = int(min(np.searchsorted(cumulative, float(variance) - 1e-12) + 1, len(cumulative)))
    coordinates = pca.transform(embeddings)[:, :components]
    kmeans = MiniBatchKMeans(n_clusters=k, batch_size=int(batch_size), random_state=seed, n_init=3)
    centres = kmeans.fit(coordinates).cluster_centers_
    distances = cdist(centres, coordinates, "sqeuclidean")  # [k, n]
    indices = np.empty(k, dtype=np.int64)
    used = np.zeros(coordinates.shape[0], dtype=bool)
    for centre in np.argsort(distances.min(axis=1), kind="stable"):
        order = np.argsort(distances[centre], kind="stable")
        indices[centre] = order[~used[order]][0]
        used[indices[centre]] = True
    return DiverseSet(indices, coordinates, centres, components, float(cumulative[components - 1]))


def coverage(coordinates: np.ndarray, indices: np.ndarray, *, random_sets: int = 20,
             seed: int = 0) -> dict[str, float]:
    """How close every candidate lies to its nearest chosen image, vs random subsets.

    Returns
    -------
    dict
        ``chosen``: mean Euclidean distance from each candidate to the nearest member of
        ``indices``; ``random``: the same for ``random_sets`` uniformly drawn subsets of
        the same size (their mean), and ``random_sd`` their standard deviation; smaller
        means better coverage.
    """
    coordinates = np.asarray(coordinates, dtype=np.float64)
    indices = np.asarray(indices, dtype=np.int64)
    if indices.size == 0 or indices.size > coordinates.shape[0]:
        raise InvalidInputError(f"indices must select 1..{coordinates.shape[0]} candidates, got {indices.size}")

    def mean_nearest(subset: np.ndarray) -> float:
        return float(cdist(coordinates, coordinates[subset]).min(axis=1).mean())

    rng = np.random.default_rng(seed)
    random = [mean_nearest(rng.choice(coordinates.shape[0], indices.size, replace=False))
              for _ in range(int(random_sets))]
    return {"chosen": mean_nearest(indices), "random": float(np.mean(random)),
            "random_sd": float(np.std(random, ddof=1)) if len(random) > 1 else float("nan")}
