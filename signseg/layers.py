"""Outputs of a network's hidden layers, named by module path, without the rest of the pass.

``layer_outputs(network, inputs, ["features.4", "features"])`` runs ``network(inputs)`` with
forward hooks on the named modules and stops the forward pass as soon as the last of them
has produced its output, so asking for an early layer costs only the layers before it.
Outputs keep their autograd graph (gradients flow back to ``inputs``); each is cloned when
captured, so an in-place activation that runs afterwards (``nn.ReLU(inplace=True)`` after a
captured convolution) cannot change it.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .errors import InvalidInputError

__all__ = ["layer_outputs", "check_layer"]


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
    paths = list(paths)
    if not paths:
        raise InvalidInputError("layer_outputs needs at least one module path")
    modules = {path: check_layer(network, path) for path in paths}
    captured: dict[str, torch.Tensor] = {}

    def hook_for(path: str):  # noqa: ANN202 - a forward hook
        def hook(module: nn.Module, args: object, output: object) -> None:
            if path in captured or not isinstance(output, torch.Tensor):
                return
            captured[path] = output.clone()
            if len(captured) == len(modules):
                raise _Captured

        return hook

    handles = [module.register_forward_hook(hook_for(path)) for path, module in modules.items()]
    try:
        network(inputs)
    except _Captured:
        pass
    finally:
        for handle in handles:
            handle.remove()
    missing = [path for path in paths if path not in captured]
    if missing:
        raise InvalidInputError(
            f"the modules {missing} did not produce a tensor in the forward pass (they are not "
            "called by forward(), or return tuples); choose other layers"
        )
    return [captured[path] for path in paths]
