"""Activations at a network's hidden layers, named by module path, without the rest of the pass.

``layer_outputs(network, inputs, ["features.4", "features"])`` runs ``network(inputs)`` with
forward hooks on the named modules and stops the forward pass as soon as the last of them
has produced its output, so asking for an early layer costs only the layers before it.
``layer_activations(network, inputs, [("features.10", "input")])`` does the same for a
module's *input* (its first positional argument, through a forward pre-hook): the channels
whose outgoing weights that module holds, whatever module produced them.
Captured tensors keep their autograd graph (gradients flow back to ``inputs``); each is cloned
when captured, so an in-place activation that runs afterwards (``nn.ReLU(inplace=True)`` after
a captured convolution) cannot change it.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .errors import InvalidInputError

__all__ = ["SITES", "layer_outputs", "layer_activations", "check_layer", "check_site"]

#: Where on a module an activation is read: its output, or its (first) input.
SITES = ("output", "input")


class _Captured(Exception):
    """Raised by the last hook to leave the forward pass early."""


def check_layer(network: nn.Module, path: str, owner: str = "the network") -> nn.Module:
    """The submodule at ``path`` (``""`` is the network itself).

    Raises
    ------
    InvalidInputError
        No module has that path; the message lists the valid paths.
    """
    try:
        return network.get_submodule(path)
    except AttributeError:
        known = [name for name, _ in network.named_modules() if name]
        raise InvalidInputError(
            f"{owner} has no module {path!r}; module paths are: {', '.join(known)}"
        ) from None


def check_site(site: str) -> str:
    """``site`` if it is one of :data:`SITES`, else a clear error."""
    if site not in SITES:
        raise InvalidInputError(f"site must be one of {list(SITES)} (a module's output or input), got {site!r}")
    return site


def layer_outputs(
    network: nn.Module, inputs: torch.Tensor, paths: Sequence[str]
) -> list[torch.Tensor]:
    """The outputs of the modules at ``paths`` for one forward pass of ``inputs``.

    Parameters
    ----------
    network:
        Any ``nn.Module`` (its train/eval mode is used as it is).
    inputs:
        The network's input batch (already preprocessed).
    paths:
        Module paths as in ``network.named_modules()`` (e.g. ``"features.4"``), at least one.

    Returns
    -------
    list of torch.Tensor
        One output per path, in the order of ``paths``.

    Raises
    ------
    InvalidInputError
        ``paths`` is empty, names an unknown module, or a named module did not run (or
        returned something other than a tensor).
    """
    return layer_activations(network, inputs, [(path, "output") for path in paths])


def layer_activations(
    network: nn.Module, inputs: torch.Tensor, sites: Sequence[tuple[str, str]]
) -> list[torch.Tensor]:
    """The activations at ``(module path, "output" | "input")`` sites for one forward pass.

    A module's ``"input"`` is the first positional argument of its first call (for a conv or
    linear layer: the channels whose outgoing weights it holds); its ``"output"`` is what its
    first call returns. The pass stops as soon as every site has been captured.

    Parameters
    ----------
    network:
        Any ``nn.Module`` (its train/eval mode is used as it is).
    inputs:
        The network's input batch (already preprocessed).
    sites:
        ``(path, site)`` pairs, at least one; paths as in ``network.named_modules()``.

    Returns
    -------
    list of torch.Tensor
        One activation per site, in the order of ``sites``.

    Raises
    ------
    InvalidInputError
        ``sites`` is empty, names an unknown module or site, or a named module did not run
        (or did not take / return a tensor).
    """
    sites = [(path, check_site(site)) for path, site in sites]
    if not sites:
        raise InvalidInputError("layer_outputs / layer_activations need at least one module path")
    wanted = list(dict.fromkeys(sites))
    modules = {path: check_layer(network, path) for path, _ in wanted}
    captured: dict[tuple[str, str], torch.Tensor] = {}

    def keep(key: tuple[str, str], value: object) -> None:
        if key in captured or not isinstance(value, torch.Tensor):
            return
        captured[key] = value.clone()
        if len(captured) == len(wanted):
            raise _Captured

    def output_hook(path: str):  # noqa: ANN202 - a forward hook
        return lambda module, args, output: keep((path, "output"), output)

    def input_hook(path: str):  # noqa: ANN202 - a forward pre-hook
        return lambda module, args: keep((path, "input"), args[0] if args else None)

    handles = [
        modules[path].register_forward_hook(output_hook(path)) if site == "output"
        else modules[path].register_forward_pre_hook(input_hook(path))
        for path, site in wanted
    ]
    try:
        network(inputs)
    except _Captured:
        pass
    finally:
        for handle in handles:
            handle.remove()
    missing = [path if site == "output" else f"{path} ({site})"
               for path, site in wanted if (path, site) not in captured]
    if missing:
        raise InvalidInputError(
            f"the modules {missing} did not produce a tensor in the forward pass (they are not "
            "called by forward(), or take / return tuples); choose other layers"
        )
    return [captured[key] for key in sites]
