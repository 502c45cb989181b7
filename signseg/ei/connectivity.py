"""Connection density per connection type (ei-neurons-selectivity-connectivity.txt, Section 2,
Appendix A, Figs. 3, 5c, 7).

Each recurrent connection is a depth-separable convolution; its channel-to-channel weight
matrix is the composed ``[out, in, 3, 3]`` kernel (pointwise x depthwise) averaged over the
two spatial dimensions (their Appendix A), ``in x out`` connection weights. The density of a
connection type is the share of those weights whose magnitude exceeds a threshold,
``exp(-10)`` in the paper (chosen to separate the strongest mode of the distribution of all
recurrent weights from the weaker ones; their Fig. 3a). In Dale's-law networks the weights
out of a cell type all have one sign, so the magnitude is the weight up to that sign; in
*NoConstraint* networks it is the absolute value.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from ..errors import InvalidInputError

__all__ = ["DENSITY_THRESHOLD", "connection_matrix", "connection_density", "density_table",
           "weight_magnitudes"]

#: The paper's threshold on connection weight magnitudes.
DENSITY_THRESHOLD = float(np.exp(-10.0))


def connection_matrix(connection: Any) -> torch.Tensor:
    """``[out, in]`` channel-to-channel weights of a :class:`~signseg.ei.multicell.SignedSeparableConv`
    (signed, spatial mean of the composed kernel)."""
    if not hasattr(connection, "kernel"):
        raise InvalidInputError(f"expected a SignedSeparableConv, got {type(connection).__name__}")
    return connection.kernel().mean(dim=(2, 3))


def connection_density(matrix: torch.Tensor, threshold: float = DENSITY_THRESHOLD) -> float:
    """Share of entries of ``matrix`` with ``|w| > threshold``."""
    if matrix.numel() == 0:
        raise InvalidInputError("the connection matrix is empty")
    if not threshold >= 0:
        raise InvalidInputError(f"threshold must be >= 0, got {threshold}")
    return float((matrix.abs() > threshold).double().mean())


def _areas(network: Any) -> dict[str, Any]:
    if not hasattr(network, "areas"):
        raise InvalidInputError(f"{type(network).__name__} is not a multi-cell network (no areas())")
    return network.areas()


def density_table(network: Any, threshold: float = DENSITY_THRESHOLD) -> pd.DataFrame:
    """Density of every connection type of every recurrent area.

    Parameters
    ----------
    network:
        A :class:`~signseg.ei.multicell.MultiCellRNN` (``zoo_model.model``).
    threshold:
        Magnitude threshold (:data:`DENSITY_THRESHOLD`).

    Returns
    -------
    DataFrame
        ``area``, ``connection`` (``"PN->PN"``, ``"IG->PN"``, ... ``"X->PN"``: long-range),
        ``source``, ``target`` (cell types; gates count as their principal cells), ``density``,
        ``n`` (weights).
    """
    rows = []
    for area_name, area in _areas(network).items():
        for name, (source, target) in area.paths.items():
            matrix = connection_matrix(area.connection(name))
            target_cell = area.principal_type if target in ("f", "i", "o") else target
            rows.append({"area": area_name, "connection": name, "source": source,
                         "target": target_cell, "density": connection_density(matrix, threshold),
                         "n": matrix.numel()})
    return pd.DataFrame(rows)


def weight_magnitudes(network: Any, area: str, local_only: bool = True) -> pd.DataFrame:
    """``connection``, ``log_magnitude`` (natural log of ``|w|``) of every channel-to-channel
    weight of one area (their Fig. 3a-d); ``local_only`` leaves out the long-range ``X->``."""
    areas = _areas(network)
    if area not in areas:
        raise InvalidInputError(f"no area {area!r}; the network has {list(areas)}")
    frames = []
    for name, (source, _) in areas[area].paths.items():
        if local_only and source == "X":
            continue
        magnitude = connection_matrix(areas[area].connection(name)).abs().double().reshape(-1)
        frames.append(pd.DataFrame({"connection": name,
                                    "log_magnitude": torch.log(magnitude.clamp(min=1e-300)).numpy()}))
    return pd.concat(frames, ignore_index=True)
