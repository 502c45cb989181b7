"""Weight dynamics across training checkpoints (paper Fig. 25, METHODS.md section 5).

For every input channel ``j`` of a layer, its outgoing weights at epoch ``e`` are the
column ``W_e[:, j]`` (for conv layers the whole ``[out, kh, kw]`` slice, flattened —
**choice**: the full kernels carry the learning dynamics that spatial averaging would hide).
Their cosine similarity to the final weights, ``s_e = cos(w_e, w_E)``, rises to
``s_E = 1``; the channel's *convergence epoch* is the first epoch at which ``s_e`` reaches
``fraction`` (0.9) of that final similarity. The paper plots it against the channel's Dale
index and colours by the fraction of negative weights; it reports no correlation but a
narrower spread of convergence epochs for high-Dale channels.
"""

from __future__ import annotations

import os
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from .dale import dale_index, layer_dale_index, sign_fractions
from .errors import InvalidInputError
from .files import load_torch

__all__ = [
    "load_states",
    "outgoing_columns",
    "cosine_to_final",
    "convergence_epochs",
    "dale_over_epochs",
    "convergence_table",
    "spread_by_dale",
]

StateDict = Mapping[str, torch.Tensor]


def load_states(paths: Sequence[str | os.PathLike[str]]) -> list[dict[str, torch.Tensor]]:
    """Load the model state dicts of per-epoch checkpoints (in the order given).

    A checkpoint is either a plain state dict or a dict holding it under ``"model"`` or
    ``"state_dict"`` (as :mod:`signseg.train` writes it, beside optimizer state).
    """
    states = []
    for path in paths:
        obj = load_torch(path, "a checkpoint", "Pass a good checkpoint file (or delete a "
                         "damaged training checkpoint so that signseg trains it again).")
        for key in ("model", "state_dict"):
            if isinstance(obj, dict) and isinstance(obj.get(key), dict):
                obj = obj[key]
                break
        states.append(obj)
    return states


def outgoing_columns(weight: torch.Tensor) -> torch.Tensor:
    """``[in, out * kh * kw]``: row ``j`` holds all outgoing weights of input channel ``j``."""
    if weight.dim() not in (2, 4):
        raise InvalidInputError(
            f"expected a 2-D or 4-D weight, got shape {tuple(weight.shape)}"
        )
    return weight.detach().double().transpose(0, 1).reshape(weight.shape[1], -1)


def cosine_to_final(weights: Sequence[torch.Tensor]) -> torch.Tensor:
    """``[epochs, in]`` cosine similarity of each channel's outgoing weights to the last epoch's."""
    if len(weights) < 2:
        raise InvalidInputError("weight dynamics need at least two checkpoints (epochs)")
    final = outgoing_columns(weights[-1])
    rows = [torch.nn.functional.cosine_similarity(outgoing_columns(w), final, dim=1, eps=1e-12)
            for w in weights]
    return torch.stack(rows)


def convergence_epochs(similarity: torch.Tensor, fraction: float = 0.9) -> torch.Tensor:
    """First epoch index at which each column of ``similarity`` reaches ``fraction`` of its final value.

    Parameters
    ----------
    similarity:
        ``[epochs, channels]`` as returned by :func:`cosine_to_final` (row 0 = epoch 0).
    fraction:
        Threshold as a fraction of the final similarity, in ``(0, 1]``.
    """
    if not 0.0 < fraction <= 1.0:
        raise InvalidInputError(f"fraction must be in (0, 1], got {fraction}")
    threshold = fraction * similarity[-1]
    reached = similarity >= threshold.unsqueeze(0) - 1e-12
    # argmax returns the first True; the final row is always True by construction.
    return reached.int().argmax(dim=0)


def dale_over_epochs(states: Sequence[StateDict], layers: Iterable[str]) -> pd.DataFrame:
    """Layer Dale index at every checkpoint: columns ``epoch``, ``layer``, ``dale_index``."""
    rows = []
    for epoch, state in enumerate(states):
        for layer in layers:
            rows.append(
                {"epoch": epoch, "layer": layer,
                 "dale_index": layer_dale_index(_weight(state, layer))}
            )
    return pd.DataFrame(rows)


def convergence_table(
    states: Sequence[StateDict], layers: Iterable[str], fraction: float = 0.9
) -> pd.DataFrame:
    """Per channel of each layer: convergence epoch, final Dale index and negative fraction.

    Columns: ``layer``, ``channel``, ``convergence_epoch``, ``dale_index``, ``frac_negative``
    (all from the final checkpoint except the convergence epoch).
    """
    frames = []
    for layer in layers:
        weights = [_weight(state, layer) for state in states]
        epochs = convergence_epochs(cosine_to_final(weights), fraction)
        _, negative = sign_fractions(weights[-1])
        frames.append(
            pd.DataFrame(
                {
                    "layer": layer,
                    "channel": np.arange(epochs.numel()),
                    "convergence_epoch": epochs.numpy(),
                    "dale_index": dale_index(weights[-1]).numpy(),
                    "frac_negative": negative.numpy(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def spread_by_dale(table: pd.DataFrame, quantile: float = 0.5) -> pd.DataFrame:
    """Spread of convergence epochs for channels above vs below a Dale-index quantile.

    Returns one row per group (``high`` / ``low``) with ``n``, ``mean``, ``std`` and
    ``iqr`` of the convergence epoch: the paper's "high Dale index channels mature within
    narrower time windows" is ``std(high) < std(low)``.
    """
    cut = table["dale_index"].quantile(quantile)
    groups = {"high": table[table["dale_index"] > cut], "low": table[table["dale_index"] <= cut]}
    rows = []
    for name, group in groups.items():
        epochs = group["convergence_epoch"].to_numpy(dtype=float)
        q75, q25 = (np.percentile(epochs, [75, 25]) if len(epochs) else (np.nan, np.nan))
        rows.append({"group": name, "n": len(epochs), "mean": epochs.mean() if len(epochs) else np.nan,
                     "std": epochs.std(ddof=1) if len(epochs) > 1 else np.nan, "iqr": q75 - q25})
    return pd.DataFrame(rows)


def _weight(state: StateDict, layer: str) -> torch.Tensor:
    key = f"{layer}.weight"
    if key not in state:
        raise InvalidInputError(
            f"checkpoint has no weight {key!r}; layers with weights: "
            f"{sorted(k[:-7] for k in state if k.endswith('.weight'))[:8]}"
        )
    return state[key]
