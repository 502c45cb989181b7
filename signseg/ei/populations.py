"""Silencing a principal cell's inputs from excitatory or from inhibitory cells.

The main paper removes a class unit's positive or negative input weights. In a network that
obeys Dale's law the sign of a weight is the type of the cell it comes from, so the same
question can be asked of cell populations: remove a fraction ``alpha`` of the input a
principal cell receives from **excitatory** cells, or from **inhibitory** cells, and see
what the class units then prefer. In *StandardEI* networks this is exactly sign ablation of
those connections; in *NoConstraint* networks (free signs) the two differ, which is where
the comparison is informative.

Which cells count as excitatory (**choice**, following each variant's definition): the
long-range input ``X`` (the lower area's principal cells) always; in *Standard* and
*StandardEI* the principal cells (PN, E); in *InhPN* the interneurons (their local
outputs are excitatory there); in *NoConstraint* the cell types keep their nominal roles.
The others are inhibitory (IG and OG act through the gates of their target).

The removal follows the paper's procedure (METHODS.md section 2) on connection strengths:
for each target principal channel, its incoming connections from the chosen population
(channel-to-channel, strength = the L1 norm of the composed 3 x 3 kernel) are sorted by
strength and the strongest are cut until a fraction ``alpha`` of the total strength is
removed (:func:`signseg.ablation.ablation_mask`); a cut connection is zeroed through the
connection's ``keep`` mask. By default only area 4 (read by the class units) is silenced.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import torch

from ..ablation import ablation_mask
from ..errors import InvalidInputError

__all__ = ["POPULATIONS", "source_population", "principal_inputs", "silenced", "silencer"]

#: The two source populations.
POPULATIONS = ("excitatory", "inhibitory")


def source_population(area: Any, source: str) -> str:
    """``"excitatory"`` or ``"inhibitory"``: the role of ``source`` (``"X"``, ``"PN"``, ``"IG"``,
    ``"OG"``, ``"E"``, ``"I"``) in a :class:`~signseg.ei.multicell.RecurrentArea`."""
    if source == "X":
        return "excitatory"
    if source not in (area.principal_type, *area.interneuron_types):
        raise InvalidInputError(f"no cell type {source!r} in this area")
    principal = source == area.principal_type
    return "inhibitory" if principal == area.inh_pn else "excitatory"


def principal_inputs(area: Any, population: str, long_range: bool = True) -> list[str]:
    """Names of the connections carrying ``population``'s input to the principal cells (or
    their input and output gates). ``long_range=False`` leaves out ``X->``."""
    if population not in POPULATIONS:
        raise InvalidInputError(f"population must be one of {POPULATIONS}, got {population!r}")
    targets = {area.principal_type, "i", "o"}
    return [name for name, (source, target) in area.paths.items()
            if target in targets and (long_range or source != "X")
            and source_population(area, source) == population]


@contextmanager
def silenced(network: Any, population: str, alpha: float, areas: Sequence[str] = ("area4",),
             long_range: bool = True) -> Iterator[dict[str, int]]:
    """Temporarily cut the strongest ``alpha`` of the principal cells' input from ``population``.

    Parameters
    ----------
    network:
        A :class:`~signseg.ei.multicell.MultiCellRNN`.
    population:
        ``"excitatory"`` or ``"inhibitory"``.
    alpha:
        Fraction of each principal channel's input strength from that population to remove.
    areas:
        Recurrent areas whose principal cells are silenced.
    long_range:
        Count the input from the area below as excitatory input.

    Yields
    ------
    dict
        Connection name (``"area4:PN->PN"``) -> number of channel-to-channel connections cut.
        On exit every ``keep`` mask is restored.
    """
    known = network.areas() if hasattr(network, "areas") else None
    if known is None:
        raise InvalidInputError(f"{type(network).__name__} is not a multi-cell network (no areas())")
    if not 0.0 <= alpha <= 1.0:
        raise InvalidInputError(f"alpha must lie in [0, 1], got {alpha}")
    saved, cut = [], {}
    try:
        for area_name in areas:
            if area_name not in known:
                raise InvalidInputError(f"no area {area_name!r}; the network has {list(known)}")
            area = known[area_name]
            names = principal_inputs(area, population, long_range)
            modules = [area.connection(name) for name in names]
            strengths = torch.cat([m.kernel().abs().sum(dim=(2, 3)) for m in modules], dim=1)
            mask = ablation_mask(strengths, "positive", alpha)
            start = 0
            for name, module in zip(names, modules):
                part = mask[:, start:start + module.in_channels]
                start += module.in_channels
                saved.append((module, module.keep.clone()))
                module.keep.masked_fill_(part, 0.0)
                cut[f"{area_name}:{name}"] = int(part.sum())
        yield cut
    finally:
        for module, keep in saved:
            module.keep.copy_(keep)


def silencer(model: Any, areas: Sequence[str] = ("area4",), long_range: bool = True):
    """``(population, alpha) -> silenced(model.model, population, alpha, ...)``: the ``ablate``
    argument of :func:`signseg.analysis.attribution_share_under_ablation` and
    :func:`signseg.analysis.accuracy_under_ablation`, with ``signs`` = :data:`POPULATIONS`."""
    return lambda population, alpha: silenced(model.model, population, alpha, areas, long_range)
