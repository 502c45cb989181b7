"""Representational similarity of two image sets over a readout ensemble.

Definition (paper 4.2 and A.1 "Feature analysis"; METHODS.md section 4): for each readout
network of an ensemble, embed the control set (alpha = 0) and the ablated set; the
network's similarity is the mean cosine similarity over *all* pairs ``(i, j)`` of a control
embedding ``i`` and an ablated embedding ``j``; the reported similarity is the mean over
the ensemble. The *ceiling* is the same quantity between the control set and itself over
all pairs ``i != j`` (how similar two control visualizations are to each other).

**Choice** (the paper says only "we computed their activations"): by default a zoo model is
read out at its penultimate layer (``ZooModel.features``: e.g. AlexNet fc7 after ReLU,
ResNet50's global-average-pooled 2048-d vector), the representation its classifier reads;
``readout="logits"`` uses the pre-softmax output layer instead. Embeddings of any shape are
flattened per image. An all-zero embedding has cosine similarity 0 with everything (torch's
convention, norms clamped at ``1e-8``).

An *embedder* is anything with ``embed(images01) -> Tensor [n, d]``, a plain callable with
the same signature, or a :class:`signseg.zoo.ZooModel` (wrapped by :func:`as_embedder`).
Images are float tensors ``[n, 3, H, W]`` in ``[0, 1]``; each embedder converts them to its
own input (``Preprocessing``). Preferred images are *generated* images: compare them with
``crop=False`` (a zoo model then resizes each image whole, as it scored it during the
evolution, instead of centre-cropping it like a natural photograph).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Hashable, Literal, Mapping, Protocol, Sequence, runtime_checkable

import pandas as pd
import torch
import torch.nn.functional as F
from ..progress import tqdm

from ..errors import InvalidInputError
from ._images import check_images
from .stats import mean_ci

__all__ = [
    "Embedder",
    "CallableEmbedder",
    "ZooEmbedder",
    "as_embedder",
    "named_embedders",
    "cosine_matrix",
    "mean_pairwise",
    "EnsembleSimilarity",
    "representational_similarity",
    "similarity_table",
]


@runtime_checkable
class Embedder(Protocol):
    """Anything that maps ``[n, 3, H, W]`` images in ``[0, 1]`` to embeddings ``[n, ...]``."""

    def embed(self, images: torch.Tensor) -> torch.Tensor:  # pragma: no cover - protocol
        ...


@dataclass
class CallableEmbedder:
    """Wrap a function ``images01 -> Tensor`` as an embedder, evaluated in batches."""

    function: Callable[[torch.Tensor], torch.Tensor]
    batch_size: int = 64
    name: str | None = None

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Embed ``images`` batch by batch without gradients; returns ``[n, d]`` float64."""
        return _embed_in_batches(self.function, images, self.batch_size)


@dataclass
class ZooEmbedder:
    """Read a :class:`signseg.zoo.ZooModel` out at its penultimate layer or its logits.

    Parameters
    ----------
    model:
        A zoo model: has ``features(images01)`` and ``logits(images01)``, each applying the
        model's own preprocessing.
    readout:
        ``"features"`` (default, penultimate layer) or ``"logits"`` (pre-softmax outputs).
    batch_size:
        Images per forward pass.
    crop:
        ``True``: natural images, the model's evaluation transform (resize, centre crop);
        ``False``: generated images, resized whole (``ZooModel.features(..., crop=False)``).
    """

    model: Any
    readout: Literal["features", "logits"] = "features"
    batch_size: int = 64
    crop: bool = True

    def __post_init__(self) -> None:
        if self.readout not in ("features", "logits"):
            raise InvalidInputError(
                f"readout must be 'features' (penultimate layer) or 'logits'; got {self.readout!r}"
            )

    @property
    def name(self) -> str:
        """The zoo entry's name when it has one, else the network's class name."""
        entry_name = getattr(getattr(self.model, "entry", None), "name", None)
        return str(entry_name or type(getattr(self.model, "model", self.model)).__name__)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Embed ``images`` with the chosen readout; returns ``[n, d]`` float64."""
        readout = getattr(self.model, self.readout)
        return _embed_in_batches(lambda x: readout(x, crop=self.crop), images, self.batch_size)


def _embed_in_batches(
    function: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, batch_size: int
) -> torch.Tensor:
    """Apply ``function`` to ``images`` in batches without gradients; flatten to ``[n, d]``."""
    if batch_size < 1:
        raise InvalidInputError(f"batch_size must be positive; got {batch_size}")
    outputs = []
    with torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            out = function(images[start : start + batch_size])
            outputs.append(torch.as_tensor(out).detach().reshape(out.shape[0], -1).double().cpu())
    return torch.cat(outputs)


def as_embedder(
    obj: Any, readout: Literal["features", "logits"] = "features", *, crop: bool = True
) -> Embedder:
    """Return ``obj`` as an :class:`Embedder`.

    ``obj`` may already be one (has ``embed``), be a zoo model (has ``features`` and
    ``logits``; wrapped in :class:`ZooEmbedder` with ``readout`` and ``crop``), or be a plain
    callable (wrapped in :class:`CallableEmbedder`).
    """
    if isinstance(obj, Embedder):
        return obj
    if callable(getattr(obj, "features", None)) and callable(getattr(obj, "logits", None)):
        return ZooEmbedder(obj, readout=readout, crop=crop)
    if callable(obj):
        return CallableEmbedder(obj)
    raise InvalidInputError(
        f"cannot use a {type(obj).__name__} as an embedder: expected an object with "
        "embed(images01), a zoo model (features/logits), or a callable images01 -> Tensor"
    )


def _name_of(obj: Any, index: int) -> str:
    name = getattr(obj, "name", None)
    if isinstance(name, str) and name:
        return name
    return getattr(obj, "__name__", None) or f"embedder{index}"


def named_embedders(
    embedders: Mapping[str, Any] | Sequence[Any] | Any,
    readout: Literal["features", "logits"],
    crop: bool = True,
) -> dict[str, Embedder]:
    """Normalise an ensemble to a dict name -> :class:`Embedder`.

    Parameters
    ----------
    embedders:
        A mapping name -> embedder, a sequence of embedders (named by their ``name`` or
        ``__name__``, else ``embedder<i>``), or a single embedder; each as in
        :func:`as_embedder`.
    readout, crop:
        Passed to :func:`as_embedder` for zoo models.

    Raises
    ------
    InvalidInputError
        An empty ensemble, or two embedders with the same name.
    """
    if isinstance(embedders, Mapping):
        items = [(str(k), v) for k, v in embedders.items()]
    else:
        if not isinstance(embedders, Sequence) or isinstance(embedders, str):
            embedders = [embedders]
        items = [(_name_of(e, i), e) for i, e in enumerate(embedders)]
    names = [name for name, _ in items]
    if not items:
        raise InvalidInputError("the readout ensemble is empty; give at least one embedder")
    if len(set(names)) != len(names):
        raise InvalidInputError(
            f"embedder names must be unique; got {names}. Pass a dict name -> embedder."
        )
    return {name: as_embedder(e, readout=readout, crop=crop) for name, e in items}


def cosine_matrix(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of every row of ``a`` ``[n, d]`` with every row of ``b`` ``[m, d]``.

    Computed in float64; zero rows give 0 (norms are clamped at ``1e-8``).
    """
    a = F.normalize(torch.as_tensor(a).double().reshape(a.shape[0], -1), dim=1, eps=1e-8)
    b = F.normalize(torch.as_tensor(b).double().reshape(b.shape[0], -1), dim=1, eps=1e-8)
    if a.shape[1] != b.shape[1]:
        raise InvalidInputError(
            f"embeddings have different sizes ({a.shape[1]} vs {b.shape[1]}); both sets must "
            "be embedded by the same network"
        )
    return a @ b.T


def mean_pairwise(matrix: torch.Tensor, exclude_diagonal: bool = False) -> float:
    """Mean of a pairwise (similarity or distance) matrix.

    ``exclude_diagonal=True`` averages over ``i != j`` only (a set compared with itself);
    it needs a square matrix of at least 2 x 2.
    """
    matrix = torch.as_tensor(matrix).double()
    if not exclude_diagonal:
        return float(matrix.mean())
    n = matrix.shape[0]
    if matrix.dim() != 2 or matrix.shape[1] != n or n < 2:
        raise InvalidInputError(
            "a within-set mean over pairs i != j needs a square matrix of at least 2 x 2 "
            f"(at least two images); got shape {tuple(matrix.shape)}"
        )
    off_diagonal = ~torch.eye(n, dtype=torch.bool)
    return float(matrix[off_diagonal].mean())


@dataclass(frozen=True)
class EnsembleSimilarity:
    """Control-vs-ablated similarity and control-vs-control ceiling over an ensemble.

    Attributes
    ----------
    per_embedder, ceiling:
        Name -> mean pairwise cosine similarity (control vs ablated; control vs control,
        ``i != j``).
    mean, low, high, ceiling_mean, ceiling_low, ceiling_high:
        Ensemble means with their t confidence interval over embedders (``NaN`` bounds for a
        single embedder).
    """

    per_embedder: dict[str, float]
    ceiling: dict[str, float]
    mean: float
    low: float
    high: float
    ceiling_mean: float
    ceiling_low: float
    ceiling_high: float

    def to_frame(self) -> pd.DataFrame:
        """One row per embedder: ``embedder``, ``similarity``, ``ceiling``."""
        return pd.DataFrame(
            {"embedder": list(self.per_embedder), "similarity": list(self.per_embedder.values()),
             "ceiling": [self.ceiling[k] for k in self.per_embedder]}
        )


def representational_similarity(
    control: torch.Tensor,
    ablated: torch.Tensor,
    embedders: Mapping[str, Any] | Sequence[Any] | Any,
    readout: Literal["features", "logits"] = "features",
    confidence: float = 0.95,
    *,
    crop: bool = True,
) -> EnsembleSimilarity:
    """Mean pairwise cosine similarity of control vs ablated images over a readout ensemble.

    Parameters
    ----------
    control, ablated:
        Image sets ``[n, 3, H, W]`` and ``[m, 3, H', W']`` in ``[0, 1]``; the control set
        needs at least two images for the ceiling.
    embedders:
        The readout ensemble: a mapping name -> embedder, a sequence, or one embedder (see
        :func:`as_embedder`).
    readout:
        Layer used for zoo models (module docstring: penultimate ``"features"`` by default).
    confidence:
        Coverage of the interval over embedders.
    crop:
        How zoo models see the images: ``True`` natural images (resize and centre crop),
        ``False`` generated images (resized whole).

    Returns
    -------
    EnsembleSimilarity
    """
    table = similarity_table(control, {"ablated": ablated}, embedders, readout=readout,
                             progress=False, crop=crop)
    similarity = table[table["condition"] == "ablated"].set_index("embedder")["similarity"]
    ceiling = table[table["condition"] == "ceiling"].set_index("embedder")["similarity"]
    mean, low, high = mean_ci(similarity.to_numpy(), confidence=confidence)
    c_mean, c_low, c_high = mean_ci(ceiling.to_numpy(), confidence=confidence)
    return EnsembleSimilarity(
        per_embedder={str(k): float(v) for k, v in similarity.items()},
        ceiling={str(k): float(v) for k, v in ceiling.items()},
        mean=mean, low=low, high=high, ceiling_mean=c_mean, ceiling_low=c_low,
        ceiling_high=c_high,
    )


def similarity_table(
    control: torch.Tensor,
    conditions: Mapping[Hashable, torch.Tensor],
    embedders: Mapping[str, Any] | Sequence[Any] | Any,
    readout: Literal["features", "logits"] = "features",
    ceiling_label: Hashable = "ceiling",
    progress: bool = True,
    *,
    crop: bool = True,
) -> pd.DataFrame:
    """Similarity of many ablation conditions to one control set, embedding the control once.

    Parameters
    ----------
    control:
        Control images ``[n, 3, H, W]`` in ``[0, 1]``, ``n >= 2``.
    conditions:
        Condition label (e.g. ``("positive", 0.7)``) -> ablated images in ``[0, 1]``.
    embedders:
        The readout ensemble (see :func:`representational_similarity`).
    ceiling_label:
        Condition label of the control-vs-control rows.
    progress:
        Show a tqdm bar over embedders.
    crop:
        How zoo models see the images (see :func:`representational_similarity`).

    Returns
    -------
    pandas.DataFrame
        Tidy rows ``condition``, ``embedder``, ``similarity``: one per embedder and
        condition plus the ceiling rows. Average over ``embedder`` for the ensemble value.
    """
    control = check_images(control, "control images")
    if control.shape[0] < 2:
        raise InvalidInputError(
            "the control set needs at least two images (the ceiling averages pairs i != j); "
            f"got {control.shape[0]}"
        )
    if ceiling_label in conditions:
        raise InvalidInputError(
            f"condition label {ceiling_label!r} is reserved for the control-vs-control ceiling; "
            "rename the condition or pass another ceiling_label"
        )
    checked = {label: check_images(images, f"images of condition {label!r}")
               for label, images in conditions.items()}
    ensemble = named_embedders(embedders, readout, crop)
    rows = []
    for name, embedder in tqdm(ensemble.items(), desc="readout ensemble", disable=not progress):
        reference = embedder.embed(control)
        ceiling = mean_pairwise(cosine_matrix(reference, reference), exclude_diagonal=True)
        rows.append({"condition": ceiling_label, "embedder": name, "similarity": ceiling})
        for label, images in checked.items():
            value = mean_pairwise(cosine_matrix(reference, embedder.embed(images)))
            rows.append({"condition": label, "embedder": name, "similarity": value})
    return pd.DataFrame(rows, columns=["condition", "embedder", "similarity"])
