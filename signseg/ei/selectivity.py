"""Stimulus selectivity of each cell type (ei-neurons-selectivity-connectivity.txt, Section 2,
Eqs. 3-4, Appendix B, Figs. 2, 5, 7).

* :func:`gosi` -- the global orientation selectivity index
  ``|sum_k r(theta_k) exp(2 i theta_k)| / sum_k r(theta_k)`` (1: responds to one
  orientation; 0: the same response at all equally spaced orientations);
* :func:`skewness` -- the sample skewness of a neuron's responses to many stimuli (their
  Eq. 4, population moments);
* :func:`cell_responses` -- every cell type's response: the channel's activity at the
  centre of its map, averaged over the time steps (their "centre of the convolutional
  layer", "averaged over time step");
* :func:`selectivity_table` -- per cell: gOSI at its preferred spatial frequency and phase
  (those of its largest response), orientation skewness over all gratings, image skewness
  over natural images.

Silent cells (every response 0) have no gOSI and no skewness (NaN) and are left out of the
means.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from ..errors import InvalidInputError

__all__ = ["gosi", "skewness", "cell_responses", "grating_selectivity", "selectivity_table"]


def _matrix(responses: Any, name: str = "responses") -> np.ndarray:
    array = np.asarray(responses.detach().cpu() if isinstance(responses, torch.Tensor) else responses,
                       dtype=np.float64)
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2 or array.shape[1] == 0 or not np.isfinite(array).all():
        raise InvalidInputError(f"{name} must be a finite [neurons, stimuli] array, got shape {array.shape}")
    return array


def gosi(responses: Any, orientations: Any) -> np.ndarray:
    """gOSI of each row of ``responses`` ``[neurons, M]`` to gratings at ``orientations`` (radians).

    Responses should be non-negative (rates); a row summing to 0 gives NaN.
    """
    r = _matrix(responses)
    theta = np.asarray(orientations, dtype=np.float64).reshape(-1)
    if theta.size != r.shape[1]:
        raise InvalidInputError(f"{r.shape[1]} responses per neuron but {theta.size} orientations")
    total = r.sum(axis=1)
    vector = np.abs(r @ np.exp(2j * theta))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total != 0, vector / np.where(total != 0, total, 1.0), np.nan)


def skewness(responses: Any) -> np.ndarray:
    """Sample skewness ``m3 / m2^(3/2)`` of each row (population moments; NaN for a constant row)."""
    r = _matrix(responses)
    centred = r - r.mean(axis=1, keepdims=True)
    m2 = np.mean(centred**2, axis=1)
    m3 = np.mean(centred**3, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(m2 > 0, m3 / np.where(m2 > 0, m2, 1.0) ** 1.5, np.nan)


def cell_responses(model: Any, images: torch.Tensor, batch_size: int = 128) -> dict[tuple[str, str], np.ndarray]:
    """Centre-position activity of every channel of every cell type, averaged over steps.

    Parameters
    ----------
    model:
        A :class:`signseg.zoo.ZooModel` of a multi-cell network (``model.model.responses``).
    images:
        ``[n, C, H, W]`` in ``[0, 1]`` or uint8; converted by the entry's preprocessing.

    Returns
    -------
    dict
        ``(area, cell type) -> [channels, n]`` responses, e.g. ``("area3", "PN")``.
    """
    from ..loops import to_unit

    network = model.model
    if not hasattr(network, "responses"):
        raise InvalidInputError(f"{type(network).__name__} is not a multi-cell network (no responses())")
    chunks: dict[tuple[str, str], list[np.ndarray]] = {}
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            batch = model.entry.preprocessing(to_unit(images[start:start + batch_size]))
            for area_name, states in network.responses(batch).items():
                area = getattr(network, area_name)
                for cell in (area.principal_type, *area.interneuron_types):
                    stacked = torch.stack([state[cell] for state in states]).mean(0)  # [B, C, H, W]
                    h, w = stacked.shape[-2:]
                    chunks.setdefault((area_name, cell), []).append(stacked[:, :, h // 2, w // 2].numpy().T)
    return {key: np.concatenate(parts, axis=1) for key, parts in chunks.items()}


def grating_selectivity(responses: np.ndarray, table: pd.DataFrame) -> pd.DataFrame:
    """gOSI at the preferred frequency and phase, and orientation skewness, of each neuron.

    Parameters
    ----------
    responses:
        ``[neurons, M]`` responses to the gratings of ``table`` (:func:`signseg.ei.gratings.grating_set`).
    table:
        ``orientation``, ``frequency``, ``phase`` of each grating.

    Returns
    -------
    DataFrame
        ``gosi``, ``orientation_skewness``, ``preferred_orientation`` (radians) per neuron.
    """
    r = _matrix(responses)
    if r.shape[1] != len(table):
        raise InvalidInputError(f"{r.shape[1]} responses per neuron but {len(table)} gratings")
    best = table.iloc[r.argmax(axis=1)]
    values = []
    for neuron, (frequency, phase) in enumerate(zip(best["frequency"], best["phase"])):
        index = np.flatnonzero((table["frequency"] == frequency).to_numpy() & (table["phase"] == phase).to_numpy())
        values.append(gosi(r[neuron, index], table["orientation"].to_numpy()[index])[0])
    return pd.DataFrame({"gosi": values, "orientation_skewness": skewness(r),
                         "preferred_orientation": best["orientation"].to_numpy()})


def selectivity_table(model: Any, gratings: torch.Tensor, table: pd.DataFrame,
                      natural: torch.Tensor) -> pd.DataFrame:
    """Selectivity of every cell of a multi-cell network (their Fig. 2).

    Returns
    -------
    DataFrame
        One row per (area, cell type, channel): ``area``, ``cell``, ``channel``, ``gosi``,
        ``orientation_skewness``, ``image_skewness``, ``silent`` (no response to any grating).
    """
    to_gratings = cell_responses(model, gratings)
    to_images = cell_responses(model, natural)
    frames = []
    for (area, cell), responses in to_gratings.items():
        frame = grating_selectivity(responses, table)
        frame.insert(0, "channel", np.arange(len(frame)))
        frame.insert(0, "cell", cell)
        frame.insert(0, "area", area)
        frame["image_skewness"] = skewness(to_images[(area, cell)])
        frame["silent"] = ~(responses > 0).any(axis=1)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
