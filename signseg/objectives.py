"""Visualization objectives: what a preferred image maximises, for any unit of any layer.

An objective turns a batch of images into one score per image, differentiably, so that the
same objective serves gradient ascent (:mod:`signseg.featureviz`) and the gradient-free search
through a generator's code space (:func:`signseg.channel_visualize.visualize_channels`), as
Lucent keeps its objectives apart from parametrizations and optimizers.

* :class:`ChannelObjective` -- one channel of a module's output or input, averaged over space
  (Lucent's ``channel``) or read at one spatial position (Lucent's ``neuron``).
* :func:`channel_scores` -- score a batch of images, image ``i`` for objective ``i``, with one
  forward pass that stops at the last layer needed.
* :func:`as_objective` -- the callable ``images01 -> scores`` a renderer takes, from channel
  objectives or from any function of the images (for example a neuron model).
* :func:`activation_maps` -- the maps of some channels of one site on natural images.

Images are RGB in ``[0, 1]``; a :class:`signseg.zoo.ZooModel` converts them with its own
preprocessing (``crop=False``: generated images reach the network whole); a plain
``nn.Module`` receives them as they are.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

import torch
from torch import nn

from .errors import InvalidInputError
from .layers import check_layer, check_site, layer_activations

__all__ = ["ChannelObjective", "network_and_preprocessing", "channel_scores", "as_objective",
           "activation_maps"]

Scores = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class ChannelObjective:
    """The activation of one channel at a module's output or input.

    Attributes
    ----------
    layer:
        Module path (``network.named_modules()``), e.g. ``"features.10"``.
    channel:
        Channel index (dimension 1 of the activation).
    site:
        ``"input"`` (the channels whose outgoing weights ``layer`` holds; Section 4's ranked
        channels) or ``"output"`` (the channels ``layer`` computes).
    position:
        ``(y, x)`` on the activation map, or ``None`` for the spatial mean. Linear layers'
        activations have no space and take ``None``.
    """

    layer: str
    channel: int
    site: str = "input"
    position: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        check_site(self.site)
        if not isinstance(self.channel, int) or isinstance(self.channel, bool) or self.channel < 0:
            raise InvalidInputError(f"channel must be a non-negative integer, got {self.channel!r}")
        if self.position is not None:
            position = tuple(self.position)
            if len(position) != 2 or any(not isinstance(p, int) or p < 0 for p in position):
                raise InvalidInputError(
                    f"position must be (y, x) with non-negative integers or None, got {self.position!r}")
            object.__setattr__(self, "position", position)

    def identity(self) -> dict[str, Any]:
        """Plain data naming this objective (part of a results store's key)."""
        data = asdict(self)
        data["position"] = list(self.position) if self.position is not None else None
        return data

    def read(self, activation: torch.Tensor) -> torch.Tensor:
        """This objective's score of each image from its layer's activation ``[n, C, ...]``."""
        if activation.dim() < 2 or self.channel >= activation.shape[1]:
            raise InvalidInputError(
                f"{self.layer!r} ({self.site}) has {activation.shape[1] if activation.dim() > 1 else 0} "
                f"channels; channel {self.channel} does not exist")
        values = activation[:, self.channel]
        if self.position is None:
            return values.reshape(values.shape[0], -1).mean(dim=1)
        if values.dim() != 3:
            raise InvalidInputError(
                f"{self.layer!r} ({self.site}) has no spatial map; use position=None")
        y, x = self.position
        if y >= values.shape[1] or x >= values.shape[2]:
            raise InvalidInputError(
                f"position {self.position} is outside {self.layer!r}'s {tuple(values.shape[1:])} map")
        return values[:, y, x]


def network_and_preprocessing(model: Any) -> tuple[nn.Module, Callable[[torch.Tensor], torch.Tensor]]:
    """The ``nn.Module`` of ``model`` and the map from ``[0, 1]`` images to its input.

    A :class:`signseg.zoo.ZooModel` (anything with ``model`` and ``entry.preprocessing``) uses
    its preprocessing without cropping; a plain ``nn.Module`` takes the images unchanged.
    """
    if isinstance(model, nn.Module):
        return model, lambda images: images
    network = getattr(model, "model", None)
    entry = getattr(model, "entry", None)
    if not isinstance(network, nn.Module) or entry is None:
        raise InvalidInputError(
            f"model must be an nn.Module or a signseg.zoo.ZooModel, got {type(model).__name__}")
    return network, lambda images: entry.preprocessing(images, crop=False)


def channel_scores(model: Any, objectives: Sequence[ChannelObjective],
                   images01: torch.Tensor) -> torch.Tensor:
    """Score image ``i`` with objective ``i`` (or every image with a single objective).

    Parameters
    ----------
    model:
        A :class:`signseg.zoo.ZooModel` or an ``nn.Module`` (see the module docstring).
    objectives:
        One objective per image, or one for all.
    images01:
        ``[n, 3, H, W]`` float images in ``[0, 1]``; gradients flow back to them.

    Returns
    -------
    torch.Tensor
        ``[n]`` scores.
    """
    objectives = list(objectives)
    if not objectives:
        raise InvalidInputError("objectives is empty; give one objective per image (or one for all)")
    if not isinstance(images01, torch.Tensor) or images01.dim() != 4 or not images01.is_floating_point():
        raise InvalidInputError(
            f"images01 must be a float tensor [n, C, H, W] in [0, 1], got "
            f"{tuple(images01.shape) if isinstance(images01, torch.Tensor) else type(images01).__name__}")
    n = images01.shape[0]
    if len(objectives) == 1:
        objectives = objectives * n
    if len(objectives) != n:
        raise InvalidInputError(f"{len(objectives)} objectives for {n} images; give one per image or one")
    network, preprocess = network_and_preprocessing(model)
    device = next(network.parameters()).device
    sites = list(dict.fromkeys((o.layer, o.site) for o in objectives))
    activations = dict(zip(sites, layer_activations(network, preprocess(images01).to(device), sites)))
    scores = torch.empty(n, dtype=images01.dtype, device=device)
    for site in sites:
        members = [i for i, o in enumerate(objectives) if (o.layer, o.site) == site]
        for objective in {objectives[i] for i in members}:
            rows = [i for i in members if objectives[i] == objective]
            index = torch.as_tensor(rows, device=device)
            scores = scores.index_put((index,), objective.read(activations[site][index]).to(scores.dtype))
    return scores


def as_objective(model: Any, objectives: Sequence[ChannelObjective] | Scores) -> Scores:
    """The callable ``images01 [n, 3, H, W] -> scores [n]`` a renderer optimises.

    ``objectives`` is either channel objectives (one per image, or one for all) read from
    ``model``, or already such a callable (any function of the images: a neuron model, a
    logit, a sum of objectives), returned as it is.
    """
    if callable(objectives) and not isinstance(objectives, ChannelObjective):
        return objectives
    if isinstance(objectives, ChannelObjective):
        objectives = [objectives]
    chosen = list(objectives)
    if not all(isinstance(o, ChannelObjective) for o in chosen):
        raise InvalidInputError("objectives must be ChannelObjective instances or one callable")
    return lambda images01: channel_scores(model, chosen, images01)


@torch.no_grad()
def activation_maps(model: Any, layer: str, images01: torch.Tensor, *, site: str = "input",
                    channels: Sequence[int] | None = None, batch_size: int = 128,
                    crop: bool = True) -> torch.Tensor:
    """The activation maps of ``channels`` at ``layer``'s ``site`` for natural images.

    Parameters
    ----------
    model:
        A :class:`signseg.zoo.ZooModel` or an ``nn.Module``.
    layer, site:
        Where to read (see :class:`ChannelObjective`).
    images01:
        ``[n, 3, H, W]`` images in ``[0, 1]`` (uint8 ``0-255`` is divided by 255).
    channels:
        Channel indices (default: all).
    batch_size:
        Images per forward pass.
    crop:
        Natural images take the network's evaluation transform (``True``) as in
        :meth:`signseg.zoo.ZooModel.features`; a plain ``nn.Module`` ignores it.

    Returns
    -------
    torch.Tensor
        ``[n, len(channels), h, w]`` float32 maps on the CPU.
    """
    if images01.dtype == torch.uint8:
        images01 = images01.float() / 255
    if isinstance(model, nn.Module):
        network, preprocess = model, (lambda images: images)
    else:
        network, _ = network_and_preprocessing(model)
        preprocess = lambda images: model.entry.preprocessing(images, crop=crop)  # noqa: E731
    check_layer(network, layer)
    device = next(network.parameters()).device
    index = None if channels is None else torch.as_tensor(list(channels), dtype=torch.long)
    maps = []
    for start in range(0, images01.shape[0], batch_size):
        (activation,) = layer_activations(
            network, preprocess(images01[start:start + batch_size]).to(device), [(layer, site)])
        if activation.dim() != 4:
            raise InvalidInputError(f"{layer!r} ({site}) has no spatial maps (shape {tuple(activation.shape)})")
        maps.append((activation if index is None else activation[:, index.to(device)]).float().cpu())
    return torch.cat(maps)
