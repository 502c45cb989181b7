"""In-silico stand-in neurons: units of a network that is not the encoding backbone.

The paper's recordings (V1, V4 and posterior IT of two monkeys) are not public. Offline, the
book "records" stand-ins instead, with the same protocol, and labels every result made from
them **in-silico**:

* :func:`standin_readouts` -- one neuron per chosen channel of an early, a middle and a late
  layer of a *source* network (standing for V1, V4 and IT): the channel's rectified
  activation averaged over a central window of its map (a receptive field at the image
  centre, where the paper placed its stimuli), scaled to a firing rate.
* :func:`planted_readouts` -- a population with a **planted answer**: excitation driven by
  the object region, inhibition by its surround. On Tiny ImageNet's validation images with
  their object boxes, the channels of one layer whose activation falls most inside the
  boxes (largest excess box share, :func:`signseg.metrics.box_activation.box_share_table`)
  are "object" channels, those whose activation falls most outside are "background"
  channels; the object region is where the boxes of at least half of the images lie. Each
  planted neuron sums a few object channels inside the object region (excitation) and
  subtracts a few background channels over the surround (inhibition). Whether the
  protocol finds this -- the relevant region at the object, a response rise when the
  background is cleared -- is the book's check of the method.

Both give :class:`Readouts` (the neurons' metadata and their signed spatial weights on a
layer's activation); :class:`InSilicoPopulation` evaluates any number of them together, as
an ``nn.Module`` that maps images in ``[0, 1]`` to expected rates (spikes/s) through its
``rates`` submodule, so that a stand-in neuron is also a channel objective
(``ChannelObjective("rates", j, site="output")``) for the closed-loop visualization of the
neuron itself (:func:`signseg.channel_visualize.visualize_channels`).

Responses
---------
Neuron ``j``'s expected rate is ``baseline_j + gain_j * relu(drive_j)``, with
``drive_j = sum_{c, y, x} W_j[c, y, x] E[c, y, x]`` on its layer's *evoked* activation
``E = relu(A - A_blank)``: what the stimulus adds to the activation ``A`` beyond that of a
blank mid-grey screen (**choice**: a blank screen leaves every stand-in at its spontaneous
rate ``baseline_j``, as it leaves visual neurons, and a cleared, grey background drives
neither excitation nor inhibition). Images are resized whole to the source network's input:
the animal sees the whole stimulus.
``gain_j`` is set so that the mean rate over the calibration images is the neuron's target
rate (log-normal around ``rate``). :func:`record` draws Poisson spike counts in the 100 ms
response window (70-170 ms, as the paper) for every trial, independently: responses are
``count / 0.1 s``, as a binned recording's are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..errors import InvalidInputError
from ..layers import check_layer, layer_activations
from ..metrics.box_activation import box_share_table
from ..validation import as_unit_images
from .localization import clear_background, resize_region
from .recording import Recording, area_order

__all__ = ["WINDOW", "BLANK", "Term", "Readouts", "InSilicoPopulation", "through_aperture",
           "central_window", "standin_readouts", "planted_readouts", "expected_rates", "record",
           "trial_means"]

#: Response window (s after onset) of the in-silico recordings: the paper's 70-170 ms.
WINDOW = (0.07, 0.17)


@dataclass(frozen=True)
class Term:
    """One input of a stand-in neuron: a signed spatial weight on a layer's evoked activation.

    Attributes
    ----------
    neuron:
        Row of the neuron in its :class:`Readouts`' ``neurons`` table.
    layer:
        Module path of the source network whose output is read.
    weights:
        ``[C, h, w]`` weight on that layer's evoked activation (positive: excitation,
        negative: inhibition).
    aperture:
        ``None`` (the whole image), or the name of one of the readouts' apertures: the
        network then sees the image only through it, mid-grey elsewhere.
    """

    neuron: int
    layer: str
    weights: torch.Tensor
    aperture: str | None = None


@dataclass
class Readouts:
    """Stand-in neurons as sums of :class:`Term` s, with gains and spontaneous rates.

    Attributes
    ----------
    neurons:
        One row per neuron: ``neuron``, ``area``, ``session``, ``monkey``, ``kind``
        (``"stand-in"`` or ``"planted"``), ``layer``, ...
    terms:
        Every input of every neuron (at least one per neuron).
    gain, baseline:
        ``[n]`` rate per unit of rectified drive, and the spontaneous rate (spikes/s).
    apertures:
        Name -> ``bool`` ``[H, W]`` mask (at the calibration images' size; resized to any
        image's size by nearest neighbour) that terms may look through. Planted readouts
        have ``"object"`` (the planted object region) and ``"surround"``.
    """

    neurons: pd.DataFrame
    terms: list[Term]
    gain: np.ndarray
    baseline: np.ndarray
    apertures: dict[str, torch.Tensor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.neurons)
        if not (len(self.gain) == len(self.baseline) == n) or n == 0:
            raise InvalidInputError(
                f"Readouts needs one gain and baseline per neuron (at least one neuron); got {n} "
                f"neurons, {len(self.gain)} gains, {len(self.baseline)} baselines")
        covered = {t.neuron for t in self.terms}
        if covered != set(range(n)):
            raise InvalidInputError(
                f"every neuron needs at least one term and terms must name neurons 0..{n - 1}; "
                f"neurons without a term: {sorted(set(range(n)) - covered)[:5]}, unknown: "
                f"{sorted(covered - set(range(n)))[:5]}")
        unknown = {t.aperture for t in self.terms} - {None, *self.apertures}
        if unknown:
            raise InvalidInputError(f"terms look through unknown apertures {sorted(unknown)}; "
                                    f"known: {sorted(self.apertures)}")


def _network(source: Any) -> tuple[nn.Module, Any]:
    network, entry = getattr(source, "model", None), getattr(source, "entry", None)
    if not isinstance(network, nn.Module) or entry is None:
        raise InvalidInputError(
            f"source must be a signseg.zoo.ZooModel (a network and its preprocessing), got "
            f"{type(source).__name__}")
    return network, entry.preprocessing


def through_aperture(images01: torch.Tensor, aperture: torch.Tensor) -> torch.Tensor:
    """Images seen through ``aperture`` (``bool`` ``[H', W']``, resized to the images' size by
    nearest neighbour): mid-grey (:data:`BLANK`) outside it."""
    mask = resize_region(aperture, tuple(images01.shape[-2:]))
    return clear_background(images01, mask[None].expand(images01.shape[0], -1, -1), BLANK)


BLANK = 0.5
"""Grey level of the blank screen that drives no neuron above its spontaneous rate."""


@torch.no_grad()
def _blank(network: nn.Module, preprocessing: Any, layers: Sequence[str], size: tuple[int, int]) -> list[torch.Tensor]:
    """Each layer's activation ``[C, h, w]`` for a uniform grey image of ``size``."""
    device = next(network.parameters()).device
    blank = torch.full((1, 3, *size), BLANK)
    inputs = preprocessing(blank, crop=False).to(device)
    return [a[0].float().cpu() for a in layer_activations(network, inputs, [(l, "output") for l in layers])]


def _evoked(activation: torch.Tensor, blank: torch.Tensor) -> torch.Tensor:
    """What a stimulus adds to a layer's activation beyond a blank screen: ``relu(A - A_blank)``."""
    return torch.relu(activation - blank.to(activation))


@torch.no_grad()
def _activations(network: nn.Module, preprocessing: Any, layers: Sequence[str], images01: torch.Tensor,
                 batch_size: int = 256) -> dict[str, torch.Tensor]:
    """Evoked activations ``[n, C, h, w]`` of ``layers`` (beyond a blank screen; images resized
    whole; float32 on the CPU)."""
    layers = list(dict.fromkeys(layers))
    for layer in layers:
        check_layer(network, layer, "the source network")
    device = next(network.parameters()).device
    blanks = _blank(network, preprocessing, layers, tuple(images01.shape[-2:]))
    parts: dict[str, list[torch.Tensor]] = {layer: [] for layer in layers}
    for start in range(0, images01.shape[0], batch_size):
        batch = preprocessing(images01[start:start + batch_size], crop=False).to(device)
        activations = layer_activations(network, batch, [(l, "output") for l in layers])
        for layer, activation, blank in zip(layers, activations, blanks):
            if activation.dim() != 4:
                raise InvalidInputError(
                    f"layer {layer!r} has no spatial maps (activation {tuple(activation.shape)}); "
                    "stand-in neurons read convolutional layers")
            parts[layer].append(_evoked(activation.float().cpu(), blank))
    return {layer: torch.cat(chunks) for layer, chunks in parts.items()}


def central_window(height: int, width: int, field: float) -> torch.Tensor:
    """``bool`` ``[h, w]``: the centred square window whose side is ``field`` of the map's
    smaller side (at least one cell), placed ``(side - length) // 2`` from the top and left."""
    if not 0.0 < float(field) <= 1.0:
        raise InvalidInputError(f"field must be a fraction of the map in (0, 1], got {field!r}")
    length = max(1, int(round(float(field) * min(height, width))))
    window = torch.zeros(height, width, dtype=torch.bool)
    top, left = (height - length) // 2, (width - length) // 2
    window[top:top + length, left:left + length] = True
    return window


def _target_rates(n: int, rate: float, spread: float, rng: np.random.Generator) -> np.ndarray:
    return rate * np.exp(spread * rng.standard_normal(n))


def _as_float_images(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    images = torch.as_tensor(np.asarray(images)) if isinstance(images, np.ndarray) else images
    return as_unit_images(images, "images")


def _calibrated(source: Any, readouts: Readouts, images01: torch.Tensor, target: np.ndarray) -> Readouts:
    """``readouts`` with gains giving each neuron its target mean rate on ``images01``."""
    unit = Readouts(readouts.neurons, readouts.terms, np.ones(len(target)), np.zeros(len(target)),
                    readouts.apertures)
    # with gain 1 and baseline 0 the expected rate is the rectified drive
    mean = expected_rates(InSilicoPopulation(source, unit), images01).mean(axis=0)
    if (mean <= 0).any():
        silent = np.flatnonzero(mean <= 0).tolist()
        raise InvalidInputError(
            f"stand-in neurons {silent[:5]} never respond to the calibration images (their drive "
            "is never positive); choose other channels or layers, or more calibration images")
    gain = np.maximum(target - readouts.baseline, 0.0) / mean
    return Readouts(readouts.neurons, readouts.terms, gain, readouts.baseline, readouts.apertures)


def standin_readouts(
    source: Any,
    layers: Mapping[str, str],
    images: torch.Tensor | np.ndarray,
    *,
    sessions: int,
    per_session: int | Mapping[str, int],
    field: float | Mapping[str, float] = 0.25,
    rate: float = 30.0,
    spread: float = 0.3,
    baseline: float = 2.0,
    monkey: str = "in-silico",
    seed: int = 0,
) -> Readouts:
    """Stand-in neurons of ``source``'s layers, one per area (early, middle, late).

    Parameters
    ----------
    source:
        A :class:`signseg.zoo.ZooModel`; must not be the encoding backbone.
    layers:
        Area name -> module path whose (post-ReLU) output the area's neurons read, e.g.
        ``{"V1": "features.6", "V4": "features.13", "IT": "features.27"}``.
    images:
        Calibration images (natural, ``[n, 3, H, W]`` uint8 or in ``[0, 1]``): gains and
        the choice of responsive channels come from them.
    sessions, per_session:
        Number of sessions, and neurons per area and session (one number, or per area).
        Channels are drawn without replacement within an area while there are enough
        responsive ones (channels evoked by at least a tenth of the images).
    field:
        Side of each neuron's central window as a fraction of its map (one, or per area).
    rate, spread, baseline:
        Target mean rate (spikes/s, log-normal with this log-sd across neurons) and the
        spontaneous rate.
    monkey:
        The ``monkey`` column (a label of the stand-in population).
    seed:
        Seed of the channel choice and the target rates.
    """
    network, preprocessing = _network(source)
    if not layers:
        raise InvalidInputError("layers is empty; map each area to a layer, e.g. {'V1': 'features.6'}")
    if int(sessions) < 1:
        raise InvalidInputError(f"sessions must be >= 1, got {sessions!r}")
    images01 = _as_float_images(images)
    activations = _activations(network, preprocessing, list(layers.values()), images01)
    rng = np.random.default_rng(seed)
    rows, terms = [], []
    for area in area_order(list(layers)):
        layer = layers[area]
        count = int(per_session[area] if isinstance(per_session, Mapping) else per_session)
        side = float(field[area] if isinstance(field, Mapping) else field)
        activation = activations[layer]
        window = central_window(activation.shape[2], activation.shape[3], side)
        local = activation[:, :, window].mean(dim=2)  # [n, C]
        responsive = np.flatnonzero(((local > 0).float().mean(dim=0) >= 0.1).numpy())
        if responsive.size == 0:
            raise InvalidInputError(f"no channel of {layer!r} ({area}) responds to the calibration images")
        total = count * int(sessions)
        chosen = rng.choice(responsive, size=total, replace=total > responsive.size)
        for k, channel in enumerate(chosen):
            session = k // count
            weights = torch.zeros(activation.shape[1:])
            weights[int(channel)] = window.float() / window.sum()
            terms.append(Term(len(rows), layer, weights))
            rows.append({"neuron": f"{area}-s{session}-c{int(channel)}-{k % count}", "area": area,
                         "session": f"session-{session}", "monkey": monkey, "kind": "stand-in",
                         "layer": layer, "channel": int(channel), "field": side})
    baseline = np.full(len(rows), float(baseline))
    readouts = Readouts(pd.DataFrame(rows), terms, np.ones(len(rows)), baseline)
    return _calibrated(source, readouts, images01, _target_rates(len(rows), rate, spread, rng))


def _object_region(masks: torch.Tensor, coverage: float) -> torch.Tensor:
    """Pixels covered by the object box in at least ``coverage`` of the images."""
    share = torch.as_tensor(masks).float().mean(dim=0)
    region = share >= float(coverage)
    if region.all() or not region.any():
        raise InvalidInputError(
            f"the object boxes cover {'every' if region.all() else 'no'} pixel in at least "
            f"{coverage:.0%} of the images; choose another coverage so that the object region "
            "has a surround")
    return region


def _channel_excess(activation: torch.Tensor, masks: torch.Tensor) -> np.ndarray:
    """Mean excess box share (share inside the box minus its area) of every channel."""
    excess = np.full(activation.shape[1], np.nan)
    for channel in range(activation.shape[1]):
        values = box_share_table(activation[:, channel], masks)["excess"].to_numpy()
        if np.isfinite(values).any():
            excess[channel] = np.nanmean(values)
    return excess


def planted_readouts(
    source: Any,
    layer: str,
    images: torch.Tensor | np.ndarray,
    masks: torch.Tensor,
    *,
    neurons: int,
    excitatory: int = 3,
    inhibitory: int = 3,
    pool: int = 8,
    inhibition: float = 0.8,
    coverage: float = 0.7,
    area: str = "V4",
    rate: float = 30.0,
    spread: float = 0.3,
    baseline: float = 2.0,
    monkey: str = "planted",
    seed: int = 0,
) -> Readouts:
    """Stand-in neurons with a planted answer: object-region excitation, surround inhibition.

    Neuron ``k``'s drive is ``E_k - I_k``: ``E_k`` is a weighted sum of ``excitatory`` object
    channels (their evoked activation averaged over the object region's cells of the map) for
    the image seen through the **object region** only (grey around it); ``I_k`` a weighted sum
    of ``inhibitory`` background channels (averaged over the whole map) for the image seen
    through the **surround** only (grey where the object region is). By construction, clearing
    the image outside the object region leaves ``E_k`` as it was and removes ``I_k``: the
    response rises (or stays) -- the answer the protocol should find.

    Parameters
    ----------
    source, layer:
        The source network and the (post-ReLU) layer the planted neurons read.
    images, masks:
        Natural calibration images with their object boxes (Tiny ImageNet validation:
        ``val.images``, ``val.masks``), at the same resolution.
    neurons:
        Number of planted neurons; each is its own session (``planted-<k>``), so each gets
        its own neuron model.
    excitatory, inhibitory, pool:
        Each neuron sums ``excitatory`` channels drawn from the ``pool`` channels with the
        largest excess box share and subtracts ``inhibitory`` drawn from the ``pool`` with
        the smallest (channel weights uniform in [0.5, 1.5]).
    inhibition:
        Each neuron's mean inhibitory drive as a share of its mean excitatory drive on the
        calibration images.
    coverage:
        The object region is where the boxes of at least this share of the images lie.
    area, rate, spread, baseline, monkey, seed:
        As for :func:`standin_readouts`.
    """
    network, preprocessing = _network(source)
    images01 = _as_float_images(images)
    masks = torch.as_tensor(masks).bool()
    if masks.shape != (images01.shape[0], *images01.shape[2:]):
        raise InvalidInputError(
            f"masks must be [n, H, W] = {[images01.shape[0], *images01.shape[2:]]} (one object box per "
            f"image at the images' size), got {list(masks.shape)}")
    if min(excitatory, inhibitory) < 1 or pool < max(excitatory, inhibitory):
        raise InvalidInputError(
            f"need excitatory, inhibitory >= 1 and pool >= both; got {excitatory}, {inhibitory}, {pool}")
    excess = _channel_excess(_activations(network, preprocessing, [layer], images01)[layer], masks)
    if 2 * pool > int(np.isfinite(excess).sum()):
        raise InvalidInputError(
            f"{layer!r} has {int(np.isfinite(excess).sum())} channels evoked by the images; pool "
            f"({pool}) must be at most half of them")
    ranked = np.argsort(np.where(np.isfinite(excess), excess, np.nan), kind="stable")
    ranked = ranked[np.isfinite(excess[ranked])]
    object_pool, background_pool = ranked[::-1][:pool], ranked[:pool]
    region = _object_region(masks, coverage)
    apertures = {"object": region, "surround": ~region}
    size = (preprocessing.size, preprocessing.size)
    (blank,) = _blank(network, preprocessing, [layer], size)
    cells = {"object": resize_region(region, tuple(blank.shape[1:])), "surround": torch.ones(blank.shape[1:], dtype=torch.bool)}
    if not cells["object"].any():
        cells["object"] = central_window(blank.shape[1], blank.shape[2], 0.25)
    # excitation: object channels on the object region's cells of the image seen through the
    # object region; inhibition: background channels on the whole map of the image seen
    # through the surround (grey where the object region is)
    spatial = {name: cells[name].float() / cells[name].sum() for name in cells}
    views = {name: torch.einsum("nchw,hw->nc", _activations(
        network, preprocessing, [layer], through_aperture(images01, apertures[name]))[layer], spatial[name])
        for name in apertures}
    rng = np.random.default_rng(seed)
    rows, terms = [], []
    for k in range(int(neurons)):
        excite = rng.choice(object_pool, size=excitatory, replace=False)
        inhibit = rng.choice(background_pool, size=inhibitory, replace=False)
        on, off = torch.zeros(blank.shape[0]), torch.zeros(blank.shape[0])
        on[torch.as_tensor(excite)] = torch.as_tensor(rng.uniform(0.5, 1.5, excitatory)).float()
        off[torch.as_tensor(inhibit)] = torch.as_tensor(rng.uniform(0.5, 1.5, inhibitory)).float()
        mean_on = float((views["object"] @ on).mean())
        mean_off = float((views["surround"] @ off).mean())
        off = off * float(inhibition) * mean_on / max(mean_off, 1e-12)
        terms.append(Term(k, layer, on[:, None, None] * spatial["object"], "object"))
        terms.append(Term(k, layer, -off[:, None, None] * spatial["surround"], "surround"))
        rows.append({"neuron": f"planted-{k}", "area": area, "session": f"planted-{k}",
                     "monkey": monkey, "kind": "planted", "layer": layer,
                     "channel": int(excite[0]), "field": float(region.float().mean()),
                     "excitatory": " ".join(map(str, sorted(map(int, excite)))),
                     "inhibitory": " ".join(map(str, sorted(map(int, inhibit))))})
    readouts = Readouts(pd.DataFrame(rows), terms, np.ones(len(rows)), np.full(len(rows), float(baseline)),
                        apertures)
    return _calibrated(source, readouts, images01, _target_rates(len(rows), rate, spread, rng))


class InSilicoPopulation(nn.Module):
    """Stand-in neurons evaluated together: images in ``[0, 1]`` -> expected rates ``[n, N]``.

    Parameters
    ----------
    source:
        The :class:`signseg.zoo.ZooModel` the readouts were built on.
    readouts:
        One or more :class:`Readouts` (stand-ins, planted), concatenated in order.
    name:
        A label (results stores of closed-loop visualizations use it).

    Attributes
    ----------
    neurons:
        The metadata of every neuron (the :class:`Readouts` ``neurons`` tables).
    region:
        The planted object region ``[H, W]`` (the ``"object"`` aperture), when a readout has
        one; ``None`` otherwise.
    rates:
        An ``nn.Identity`` whose output is the rates: ``ChannelObjective("rates", j,
        site="output")`` is neuron ``j``.
    """

    def __init__(self, source: Any, *readouts: Readouts, name: str = "insilico") -> None:
        super().__init__()
        if not readouts:
            raise InvalidInputError("give at least one Readouts (standin_readouts, planted_readouts)")
        network, preprocessing = _network(source)
        self.network = network
        self.preprocessing = preprocessing
        self.name = name
        self.neurons = pd.concat([r.neurons for r in readouts], ignore_index=True)
        if self.neurons["neuron"].duplicated().any():
            raise InvalidInputError("neuron names repeat across the readouts; give each population "
                                    "its own monkey or names")
        apertures: dict[str, torch.Tensor] = {}
        terms: list[Term] = []
        offset = 0
        for r in readouts:
            for key, mask in r.apertures.items():
                if key in apertures and not torch.equal(apertures[key], mask):
                    raise InvalidInputError(f"two readouts define different apertures named {key!r}")
                apertures[key] = mask.bool()
            terms += [Term(t.neuron + offset, t.layer, t.weights, t.aperture) for t in r.terms]
            offset += len(r.neurons)
        self.apertures = list(apertures)
        for k, (key, mask) in enumerate(apertures.items()):
            self.register_buffer(f"aperture_{k}", mask)
        groups = list(dict.fromkeys((t.aperture, t.layer) for t in terms))
        self.groups = groups
        size = (preprocessing.size, preprocessing.size)
        blanks = dict(zip(dict.fromkeys(t.layer for t in terms),
                          _blank(network, preprocessing, list(dict.fromkeys(t.layer for t in terms)), size)))
        for k, (aperture, layer) in enumerate(groups):
            members = [t for t in terms if (t.aperture, t.layer) == (aperture, layer)]
            self.register_buffer(f"weights_{k}", torch.stack([t.weights for t in members]).float())
            self.register_buffer(f"neurons_{k}", torch.as_tensor([t.neuron for t in members], dtype=torch.long))
            self.register_buffer(f"blank_{k}", blanks[layer])
        self.register_buffer("gain", torch.as_tensor(np.concatenate([r.gain for r in readouts])).float())
        self.register_buffer("baseline", torch.as_tensor(np.concatenate([r.baseline for r in readouts])).float())
        self.rates = nn.Identity()

    @property
    def region(self) -> torch.Tensor | None:
        """The planted object region (``bool`` ``[H, W]``), or ``None``."""
        if "object" not in self.apertures:
            return None
        return getattr(self, f"aperture_{self.apertures.index('object')}")

    def drives(self, images01: torch.Tensor) -> torch.Tensor:
        """Linear drive ``[n, neurons]`` (before rectification) of images in ``[0, 1]``."""
        device = self.gain.device
        drive = torch.zeros(images01.shape[0], len(self.neurons), device=device)
        for aperture in dict.fromkeys(a for a, _ in self.groups):
            seen = images01 if aperture is None else through_aperture(
                images01, getattr(self, f"aperture_{self.apertures.index(aperture)}").cpu())
            members = [k for k, (a, _) in enumerate(self.groups) if a == aperture]
            layers = list(dict.fromkeys(self.groups[k][1] for k in members))
            inputs = self.preprocessing(seen, crop=False).to(device)
            activations = dict(zip(layers, layer_activations(self.network, inputs, [(l, "output") for l in layers])))
            for k in members:
                evoked = _evoked(activations[self.groups[k][1]], getattr(self, f"blank_{k}"))
                values = torch.einsum("nchw,kchw->nk", evoked, getattr(self, f"weights_{k}"))
                drive = drive.index_add(1, getattr(self, f"neurons_{k}"), values.to(drive.dtype))
        return drive

    def forward(self, images01: torch.Tensor) -> torch.Tensor:
        """Expected rates ``[n, neurons]`` (spikes/s) of images ``[n, 3, H, W]`` in ``[0, 1]``."""
        return self.rates(self.baseline + self.gain * torch.relu(self.drives(images01)))


@torch.no_grad()
def expected_rates(population: InSilicoPopulation, images: torch.Tensor | np.ndarray,
                   batch_size: int = 256) -> np.ndarray:
    """Noise-free rates ``[n_images, neurons]`` (float64) of images (uint8 or in ``[0, 1]``)."""
    images01 = _as_float_images(images)
    parts = [population(images01[start:start + batch_size]).double().cpu()
             for start in range(0, images01.shape[0], batch_size)]
    return torch.cat(parts).numpy()


def _as_stimuli(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """The 8-bit stimuli actually shown: uint8 ``[n, 3, H, W]``."""
    images01 = _as_float_images(images)
    return (images01.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()


def _poisson_responses(rates: np.ndarray, trials: int, seed: int) -> np.ndarray:
    duration = WINDOW[1] - WINDOW[0]
    counts = np.random.default_rng(seed).poisson(rates[:, None, :] * duration,
                                                 size=(rates.shape[0], int(trials), rates.shape[1]))
    return counts / duration


def record(population: InSilicoPopulation, images: torch.Tensor | np.ndarray, *, trials: int,
           seed: int = 0, image_ids: Sequence[str] = ()) -> Recording:
    """Show ``images`` ``trials`` times each to the stand-ins and record them.

    The stimuli are quantised to 8 bits first (what a monitor shows); each presentation's
    response is a Poisson spike count in the 100 ms window divided by 0.1 s.

    Returns
    -------
    Recording
        ``source="in-silico"``, window 70-170 ms, the population's neuron table.
    """
    if int(trials) < 1:
        raise InvalidInputError(f"trials must be >= 1, got {trials!r}")
    stimuli = _as_stimuli(images)
    rates = expected_rates(population, stimuli)
    return Recording(stimuli, _poisson_responses(rates, trials, seed),
                     population.neurons, "in-silico", WINDOW,
                     tuple(image_ids))


def trial_means(population: InSilicoPopulation, images: torch.Tensor | np.ndarray, *, trials: int,
                seed: int = 0) -> np.ndarray:
    """Trial-averaged recorded responses ``[n_images, neurons]`` to ``images`` (as :func:`record`
    records them, without building a :class:`~signseg.neurons.recording.Recording`)."""
    if int(trials) < 1:
        raise InvalidInputError(f"trials must be >= 1, got {trials!r}")
    rates = expected_rates(population, _as_stimuli(images))
    return _poisson_responses(rates, trials, seed).mean(axis=1)
