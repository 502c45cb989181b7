"""Sign-consistent channels of intermediate layers (paper Section 4.5, Appendix A.3, Fig. 19).

For every weighted layer ``L`` (conv or linear) of a network, the channels of ``L``'s *input*
are ranked by the sign consistency of their outgoing weights in ``L`` (METHODS.md sections 1
and 6): conv weights are averaged over their kernel first, then ``p+_j`` and ``p-_j`` are the
fractions of input channel ``j``'s outgoing weights that are positive and negative
(:func:`signseg.dale.sign_fractions`). The *top positive* Dale-like channels of ``L`` are those
with the largest ``p+``; the *top negative* ones those with the largest ``p-``.

**Choice** (the paper is silent): ties in ``p+`` (many channels share a fraction when ``L`` has
few output channels) are broken by the channel's mean outgoing weight (more positive first for
the positive ranking, more negative first for the negative one), then by channel index, so
rankings are deterministic.

The first weighted layer reads the image itself; its "channels" are colour planes and are left
out. A layer's channels are whatever tensor it receives (:func:`signseg.layers.layer_activations`
with ``site="input"``): in AlexNet, ``features.3`` (conv2) receives conv1's rectified, pooled
maps, which the paper calls "Features from Conv1 to Conv2".
"""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd
import torch
from torch import nn

from .dale import outgoing_weights, sign_fractions
from .errors import InvalidInputError

__all__ = ["SIGN_RANKS", "layer_labels", "next_layer", "channel_ranking", "top_channels"]

#: The two rankings: most positive and most negative outgoing weights.
SIGN_RANKS = ("positive", "negative")


def _ordered_layers(model: Any) -> list[tuple[str, nn.Module]]:
    """Weighted layers in execution order (a ZooModel) or registration order (an nn.Module)."""
    if hasattr(model, "weighted_layers") and hasattr(model, "model"):
        return model.weighted_layers()
    from .dale import weighted_layers

    return weighted_layers(model)


def layer_labels(model: Any) -> dict[str, str]:
    """Readable names ``"conv4 → conv5"`` for the input channels of every weighted layer.

    Convolutions are numbered ``conv1, conv2, ...`` and linear layers ``fc1, fc2, ...`` in
    execution order; the label of layer ``L`` names the layer before it (whose output, after
    any activation and pooling, is ``L``'s input) and ``L`` itself. The first layer, which reads
    the image, has no entry.
    """
    layers = _ordered_layers(model)
    counts = {"conv": 0, "fc": 0}
    names: list[str] = []
    for _, module in layers:
        kind = "conv" if isinstance(module, nn.Conv2d) else "fc"
        counts[kind] += 1
        names.append(f"{kind}{counts[kind]}")
    return {path: f"{names[i - 1]} → {names[i]}" for i, (path, _) in enumerate(layers) if i > 0}


def next_layer(model: Any, layer: str) -> str | None:
    """The weighted layer after ``layer`` in forward order (the one that reads its output,
    after any activation and pooling), or ``None`` for the last."""
    paths = [path for path, _ in _ordered_layers(model)]
    if layer not in paths:
        raise InvalidInputError(f"{layer!r} is not a conv or linear layer of the model; choose from {paths}")
    index = paths.index(layer)
    return paths[index + 1] if index + 1 < len(paths) else None


def _layer_rows(path: str, weight: torch.Tensor) -> pd.DataFrame:
    positive, negative = sign_fractions(weight)
    mean_outgoing = outgoing_weights(weight).mean(dim=0).double()
    frame = pd.DataFrame({
        "layer": path,
        "channel": range(weight.shape[1]),
        "n_outgoing": weight.shape[0],
        "p_positive": positive.numpy(),
        "p_negative": negative.numpy(),
        "mean_outgoing": mean_outgoing.numpy(),
    })
    frame["dale"] = frame[["p_positive", "p_negative"]].max(axis=1)
    frame["sign"] = "tie"
    frame.loc[frame["p_positive"] > frame["p_negative"], "sign"] = "positive"
    frame.loc[frame["p_negative"] > frame["p_positive"], "sign"] = "negative"
    by_positive = frame.sort_values(["p_positive", "mean_outgoing", "channel"],
                                    ascending=[False, False, True], kind="mergesort")
    by_negative = frame.sort_values(["p_negative", "mean_outgoing", "channel"],
                                    ascending=[False, True, True], kind="mergesort")
    frame.loc[by_positive.index, "rank_positive"] = range(1, len(frame) + 1)
    frame.loc[by_negative.index, "rank_negative"] = range(1, len(frame) + 1)
    return frame.astype({"rank_positive": int, "rank_negative": int})


def channel_ranking(model: Any, layers: Sequence[str] | None = None) -> pd.DataFrame:
    """Rank every layer's input channels by the sign consistency of their outgoing weights.

    Parameters
    ----------
    model:
        A :class:`signseg.zoo.ZooModel` (layers in execution order) or any ``nn.Module``
        (layers in registration order).
    layers:
        Module paths of the layers whose input channels to rank (default: every conv and
        linear layer but the first, which reads the image).

    Returns
    -------
    pandas.DataFrame
        One row per (layer, input channel): ``layer, label, channel, n_outgoing, p_positive,
        p_negative, mean_outgoing, dale, sign`` (``positive``, ``negative`` or ``tie``),
        ``rank_positive`` and ``rank_negative`` (1 = most positive / most negative).

    Raises
    ------
    InvalidInputError
        A named layer does not exist or is not a conv / linear layer.
    """
    ordered = _ordered_layers(model)
    available = dict(ordered)
    if layers is None:
        chosen = [path for path, _ in ordered[1:]]
    else:
        chosen = list(layers)
        unknown = [path for path in chosen if path not in available]
        if unknown:
            raise InvalidInputError(
                f"layers {unknown} are not conv or linear layers of the model; choose from "
                f"{list(available)}")
    if not chosen:
        raise InvalidInputError("the model has no weighted layer after its first; nothing to rank")
    labels = layer_labels(model)
    frames = [_layer_rows(path, available[path].weight.detach().cpu()) for path in chosen]
    ranking = pd.concat(frames, ignore_index=True)
    ranking.insert(1, "label", ranking["layer"].map(labels).fillna(ranking["layer"]))
    return ranking


def top_channels(ranking: pd.DataFrame, k: int) -> pd.DataFrame:
    """The ``k`` most positive and ``k`` most negative Dale-like channels of every layer.

    Parameters
    ----------
    ranking:
        The table of :func:`channel_ranking`.
    k:
        Channels per layer and sign (at most half a layer's channels, so that the two lists
        never share a channel).

    Returns
    -------
    pandas.DataFrame
        ``layer, label, sign`` (the list: ``positive`` or ``negative``), ``rank, channel,
        majority`` (the channel's majority sign), ``p_positive, p_negative, dale``, ordered by
        layer (as in ``ranking``), list (positive first) and rank.
    """
    if not isinstance(k, int) or k < 1:
        raise InvalidInputError(f"k must be a positive integer, got {k!r}")
    rows = []
    for layer, group in ranking.groupby("layer", sort=False):
        if 2 * k > len(group):
            raise InvalidInputError(
                f"k={k} is more than half of layer {layer!r}'s {len(group)} input channels; the "
                "top positive and top negative lists would overlap. Choose a smaller k.")
        for sign in SIGN_RANKS:
            best = group.nsmallest(k, f"rank_{sign}").rename(columns={"sign": "majority"})
            best = best.assign(sign=sign, rank=best[f"rank_{sign}"])
            rows.append(best)
    columns = ["layer", "label", "sign", "rank", "channel", "majority", "p_positive", "p_negative",
               "dale"]
    return pd.concat(rows, ignore_index=True)[columns]
