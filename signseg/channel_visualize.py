"""Stored, resumable visualizations of any channel objective, by gradient or without one.

Section 4 visualizes intermediate channels (:class:`signseg.objectives.ChannelObjective`) two
ways, with the same objective:

* ``method="gradient"`` -- gradient ascent on a decorrelated Fourier image with
  transformation robustness, as the paper did with Lucent (:mod:`signseg.featureviz`;
  ``backend="lucent"`` runs torch-lucent itself);
* ``method="cmaes"`` -- the closed-loop route of Sections 2-3 and of in-vivo work: CMA-ES in a
  generator's code space (:mod:`signseg.evolve`, :mod:`signseg.generators`), scored by the
  objective alone.

Targets at a module's ``"output"`` can also be visualized with the module's input weights
of that channel sign-ablated (METHODS.md section 2, whole kernels: **choice** as in
:func:`signseg.ablation.ablated`): the extension the paper names in its discussion.

Results go to a :class:`~signseg.store.ResultsStore` keyed by the model's weights and the
method's settings; a row per ``layer, channel, site, position, sign, alpha, restart``.
Targets are not part of the key, so asking for more channels later computes only those. The
work is cut into chunks fixed by the job table (one ablation condition and layer per chunk)
that run here or on Dask workers (:mod:`signseg.sweep`), and an interrupted call resumes.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch

from . import featureviz
from . import generators as generator_registry
from .ablation import SIGNS, ablated
from .cache import canonical_json, config_hash, tensors_digest
from .errors import InvalidInputError
from .evolve import VARIANTS, minimize
from .objectives import ChannelObjective, channel_scores, network_and_preprocessing
from .store import ResultsStore
from .sweep.cluster import Scheduler
from .sweep.fanout import map_tasks
from .sweep.jobs import pending_chunks, plan_chunks
from .visualize import StoredVisualizations

__all__ = ["METHODS", "ChannelVisualizationConfig", "ChannelVisualization", "channel_jobs",
           "visualize_channels"]

METHODS = ("gradient", "cmaes")
KEY_COLUMNS = ["layer", "channel", "site", "position", "sign", "alpha", "restart"]


@dataclass(frozen=True)
class ChannelVisualizationConfig:
    """How channel objectives are visualized (everything but the targets).

    Attributes
    ----------
    method:
        ``"gradient"`` or ``"cmaes"``.
    backend:
        Gradient renderer: ``"signseg"`` (the project's Lucent equivalent) or ``"lucent"``.
    size, steps, lr:
        Gradient ascent: image side (px), Adam steps and learning rate (Lucent: 128 px,
        512 steps, 0.05).
    generator, generator_options:
        CMA-ES: the generator searched (:func:`signseg.generators.names`) and its options.
    iterations, popsize, variant:
        CMA-ES generations, population and covariance model (:func:`signseg.evolve.minimize`).
    restarts:
        Visualizations per target and condition.
    signs, alphas:
        Ablation conditions for ``"output"`` targets (their layer's input weights of that
        channel); ``alpha = 0`` (the control) is always run, ``"input"`` targets only get it.
    batch:
        Images (gradient) or runs (CMA-ES) per chunk.
    seed:
        Base seed; each visualization's seed is derived from it and its key.
    """

    method: str = "gradient"
    backend: str = "signseg"
    size: int = 64
    steps: int = 256
    lr: float = 0.05
    generator: str = "fourier"
    generator_options: dict[str, Any] = field(default_factory=dict)
    iterations: int = 100
    popsize: int | None = None
    variant: str = "sep"
    restarts: int = 1
    signs: tuple[str, ...] = ()
    alphas: tuple[float, ...] = ()
    batch: int = 16
    seed: int = 0

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ChannelVisualizationConfig":
        """Build from profile YAML data; unknown keys are an error."""
        unknown = sorted(set(values) - set(cls.__dataclass_fields__))
        if unknown:
            raise InvalidInputError(
                f"unknown channel visualization settings {unknown}; expected some of "
                f"{sorted(cls.__dataclass_fields__)}")
        data = dict(values)
        for key in ("signs", "alphas"):
            if key in data:
                data[key] = tuple(data[key])
        return cls(**data)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise InvalidInputError(f"method must be one of {list(METHODS)}, got {self.method!r}")
        if self.backend not in featureviz.BACKENDS:
            raise InvalidInputError(
                f"backend must be one of {list(featureviz.BACKENDS)}, got {self.backend!r}")
        if self.method == "cmaes" and self.generator not in generator_registry.names():
            raise InvalidInputError(
                f"unknown generator {self.generator!r}; expected one of {generator_registry.names()}")
        if self.variant not in VARIANTS:
            raise InvalidInputError(f"variant must be one of {list(VARIANTS)}, got {self.variant!r}")
        bad = [s for s in self.signs if s not in SIGNS]
        if bad or isinstance(self.signs, str):
            raise InvalidInputError(f"signs must be names from {list(SIGNS)}, got {self.signs!r}")
        if any(not (0.0 <= float(a) <= 1.0) for a in self.alphas):
            raise InvalidInputError(f"alphas must lie in [0, 1], got {list(self.alphas)}")
        for name in ("size", "steps", "iterations", "restarts", "batch"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInputError(f"{name} must be an integer >= 1, got {value!r}")
        if not self.lr > 0:
            raise InvalidInputError(f"lr must be positive, got {self.lr!r}")

    def identity(self) -> dict[str, Any]:
        """The settings that change results, for the store's key (only the method's own)."""
        data = asdict(self)
        for name in ("signs", "alphas"):
            data.pop(name)  # conditions are rows of the store, not part of its key
        unused = (("generator", "generator_options", "iterations", "popsize", "variant")
                  if self.method == "gradient" else ("backend", "size", "steps", "lr"))
        for name in unused:
            data.pop(name)
        return data


def _position_key(objective: ChannelObjective) -> str:
    return "mean" if objective.position is None else f"{objective.position[0]},{objective.position[1]}"


def _objective_of(row: Any) -> ChannelObjective:
    position = None if row.position == "mean" else tuple(int(v) for v in row.position.split(","))
    return ChannelObjective(str(row.layer), int(row.channel), str(row.site), position)


def channel_jobs(targets: Sequence[ChannelObjective], config: ChannelVisualizationConfig) -> pd.DataFrame:
    """One row per visualization: every target's control, and its ablations when it is an
    ``"output"`` target, times ``config.restarts``."""
    targets = list(dict.fromkeys(targets))
    if not targets:
        raise InvalidInputError("targets is empty; name at least one ChannelObjective")
    if not all(isinstance(t, ChannelObjective) for t in targets):
        raise InvalidInputError("targets must be ChannelObjective instances")
    alphas = sorted({float(a) for a in config.alphas} - {0.0})
    rows = []
    for target in targets:
        conditions = [("control", 0.0)]
        if target.site == "output":
            conditions += [(sign, alpha) for sign in config.signs for alpha in alphas]
        for (sign, alpha), restart in itertools.product(conditions, range(config.restarts)):
            rows.append((target.layer, target.channel, target.site, _position_key(target),
                         sign, alpha, restart))
    return pd.DataFrame(rows, columns=KEY_COLUMNS)


class ChannelVisualization(StoredVisualizations):
    """Stored channel visualizations: a table (``score``: the objective of the final image;
    ``initial_score``) plus images and per-step (or per-generation) trajectories."""

    def best(self) -> pd.DataFrame:
        """For each target and condition the restart with the highest score."""
        table = self.table()
        groups = ["layer", "channel", "site", "position", "sign", "alpha"]
        return table.loc[table.groupby(groups)["score"].idxmax()].reset_index(drop=True)


def visualize_channels(
    model: Any,
    targets: Sequence[ChannelObjective],
    config: ChannelVisualizationConfig,
    *,
    name: str | None = None,
    root: str | None = None,
    progress: bool = True,
    scheduler: Scheduler = None,
) -> ChannelVisualization:
    """Run (or resume) the visualizations of ``targets`` under ``config`` for ``model``.

    Parameters
    ----------
    model:
        A :class:`signseg.zoo.ZooModel` or an ``nn.Module`` (images in ``[0, 1]`` reach a
        plain module unchanged).
    targets:
        The channel objectives to visualize.
    config:
        How (:class:`ChannelVisualizationConfig`).
    name:
        Label of the store folder (default ``model.name``).
    root:
        Store root (default: the signseg cache's ``results`` folder).
    progress:
        Show a progress bar over the images.
    scheduler:
        Where chunks run (see :func:`signseg.visualize.visualize`).

    Returns
    -------
    ChannelVisualization
        Every stored visualization of this model and configuration (also of earlier targets).
    """
    network, _ = network_and_preprocessing(model)
    label = name or getattr(model, "name", None) or type(network).__name__
    store_config = {"model": label, "weights": tensors_digest(network.state_dict()),
                    "visualization": "channels", **config.identity()}
    store = ResultsStore(f"channels-{label}", store_config, KEY_COLUMNS, root=root)
    jobs = channel_jobs(targets, config)
    chunks = pending_chunks(store, plan_chunks(jobs, config.batch, by=["layer", "sign", "alpha"]))
    map_tasks(_visualize_chunk, chunks, scheduler=scheduler,
              shared={"model": model, "config": config, "store": store},
              weights=[len(chunk) for chunk in chunks], desc=f"visualize channels of {label}",
              unit="image", progress=progress)
    return ChannelVisualization(store)


def _row_seeds(seed: int, chunk: pd.DataFrame) -> list[int]:
    """A seed in [1, 2**31 - 1] per row, derived from its key alone (not from its chunk)."""
    return [int(config_hash([seed, *map(str, key)], length=8), 16) % (2**31 - 2) + 1
            for key in chunk[KEY_COLUMNS].itertuples(index=False, name=None)]


def _visualize_chunk(chunk: pd.DataFrame, *, model: Any, config: ChannelVisualizationConfig,
                     store: ResultsStore) -> int:
    """Task: visualize one chunk (one layer and condition) and store it."""
    if store.has(chunk):
        return 0
    network, _ = network_and_preprocessing(model)
    objectives = [_objective_of(row) for row in chunk.itertuples(index=False)]
    sign, alpha, layer = chunk["sign"].iloc[0], float(chunk["alpha"].iloc[0]), chunk["layer"].iloc[0]
    seeds = _row_seeds(config.seed, chunk)
    restarts = chunk["restart"].astype(int).tolist()
    if sign == "control":
        images, trajectory, initial = _render(model, objectives, config, seeds, restarts)
    else:
        channels = sorted({o.channel for o in objectives})
        with ablated(network, layer, channels, sign, alpha):
            images, trajectory, initial = _render(model, objectives, config, seeds, restarts)
    with torch.no_grad():
        if sign == "control":
            final = channel_scores(model, objectives, _as_float(images))
        else:
            with ablated(network, layer, sorted({o.channel for o in objectives}), sign, alpha):
                final = channel_scores(model, objectives, _as_float(images))
    store.write(chunk.assign(score=final.double().cpu().numpy(), initial_score=initial),
                {"image": images, "trajectory": trajectory})
    return len(chunk)


def _as_float(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255


def _render(model: Any, objectives: list[ChannelObjective], config: ChannelVisualizationConfig,
            seeds: list[int], restarts: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images (uint8 ``[n, H, W, 3]``), trajectories and each run's starting score."""
    if config.method == "gradient":
        # the project's renderer seeds every image on its own (a chunk's images equal separate
        # renders); torch-lucent seeds a whole batch at once, from the chunk's first key
        seed = seeds if config.backend == "signseg" else seeds[0]
        result = featureviz.render_by(
            config.backend, lambda images: channel_scores(model, objectives, images), len(objectives),
            size=config.size, steps=config.steps, lr=config.lr, seed=seed, progress=False)
        return result.images, result.trajectory.astype(np.float32), result.trajectory[:, 0].astype(np.float64)
    return _evolve(model, objectives, config, seeds, restarts)


def _evolve(model: Any, objectives: list[ChannelObjective], config: ChannelVisualizationConfig,
            seeds: list[int], restarts: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    network, _ = network_and_preprocessing(model)
    device = next(network.parameters()).device
    generator = generator_registry.load(config.generator, **config.generator_options).to(device).eval()
    runs = len(objectives)
    starts = generator.init_codes(config.restarts, seed=config.seed)
    x0 = starts[torch.as_tensor(restarts)].to(device)  # restart r of every target starts alike

    @torch.no_grad()
    def objective(codes: torch.Tensor) -> torch.Tensor:
        per_run = codes.shape[0] // runs
        expanded = [o for o in objectives for _ in range(per_run)]
        return channel_scores(model, expanded, generator(codes).float())

    with torch.no_grad():
        initial = channel_scores(model, objectives, generator(x0).float()).double().cpu().numpy()
    result = minimize(objective, x0, generator.default_sigma, config.iterations,
                      popsize=config.popsize, variant=config.variant, maximize=True,
                      seed=seeds, progress=False)
    with torch.no_grad():
        images = (generator(result.best_x).clamp(0, 1) * 255).round().to(torch.uint8)
    return (images.permute(0, 2, 3, 1).cpu().numpy(), result.best_so_far().float().cpu().numpy(),
            initial)
