"""The visualization protocol: units x signs x alphas x generators x restarts -> results store.

For each target unit of a model's readout layer and each ablation condition (METHODS.md
section 2), a CMA-ES run (:mod:`signseg.evolve`) searches a generator's latent space
(:mod:`signseg.generators`) for the image that maximises the unit's logit under the ablated
readout weights (METHODS.md section 3). Because only the readout changes, the penultimate
features of every candidate image are computed once and every run's ablated row is applied
with one batched product; many runs (of different conditions) evolve in lockstep, so each
generation is one generator batch and one network batch.

Conditions: ``alpha = 0`` is the shared control and is run once per unit with sign
``"control"``; every other alpha is run for each requested sign. Restart ``r`` of every
condition starts from the same initial code (``generator.init_codes(restarts, seed)[r]``),
so control and ablated runs are paired; each run's CMA-ES seed is derived from its key.

Results go to a :class:`~signseg.store.ResultsStore` keyed by the configuration, one chunk
per lockstep batch: an interrupted call resumes with the runs that are missing. The chunks
are independent tasks: ``visualize(..., scheduler="local")`` (or a Dask scheduler's
address) spreads them over worker processes or machines (:mod:`signseg.sweep`).
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from . import generators as generator_registry
from .ablation import SIGNS, readout_conditions
from .cache import canonical_json, config_hash, tensors_digest
from .errors import InvalidInputError
from .evolve import BACKENDS, VARIANTS, minimize
from .store import ResultsStore
from .sweep.cluster import Scheduler, worker_device
from .sweep.fanout import map_tasks
from .sweep.jobs import pending_chunks, plan_chunks
from .validation import check_indices

__all__ = ["VisualizationConfig", "StoredVisualizations", "Visualization", "job_table", "visualize"]

KEY_COLUMNS = ["unit", "sign", "alpha", "generator", "restart"]


@dataclass(frozen=True)
class VisualizationConfig:
    """Everything that determines a set of visualizations (and so the store's key).

    Attributes
    ----------
    units:
        Readout units (class indices) to visualize.
    alphas:
        Ablation strengths in ``[0, 1]``; 0 (the control) is always included.
    signs:
        ``"positive"`` and/or ``"negative"``.
    generators:
        Generator names (:func:`signseg.generators.names`).
    generator_options:
        Per-generator keyword arguments for :func:`signseg.generators.load` (e.g. the
        Fourier prior's ``size``).
    restarts:
        Runs per generator and condition (paper: 10).
    iterations:
        CMA-ES generations per run (paper: 100).
    popsize:
        Population per generation (default ``4 + floor(3 log2 dim)``, Wang & Ponce's).
    variant, backend:
        CMA-ES covariance model and implementation (:func:`signseg.evolve.minimize`).
    batch_runs:
        Runs evolved in lockstep per batch (memory vs speed; does not change results).
    seed:
        Base seed of initial codes and CMA-ES runs.
    """

    units: tuple[int, ...]
    alphas: tuple[float, ...]
    signs: tuple[str, ...] = ("positive", "negative")
    generators: tuple[str, ...] = ("fourier",)
    generator_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    restarts: int = 2
    iterations: int = 100
    popsize: int | None = None
    variant: str = "sep"
    backend: str = "torch"
    batch_runs: int = 64
    seed: int = 0

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "VisualizationConfig":
        """Build from profile YAML data; unknown keys are an error."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(values) - known)
        if unknown:
            raise InvalidInputError(
                f"unknown visualization settings {unknown}; expected some of {sorted(known)}")
        data = dict(values)
        for key in ("units", "alphas", "signs", "generators"):
            if key in data:
                data[key] = tuple(data[key])
        return cls(**data)

    def __post_init__(self) -> None:
        if isinstance(self.units, (list, tuple)) and not self.units:
            raise InvalidInputError("units is empty; name at least one readout unit")
        object.__setattr__(self, "units", check_indices(self.units, "VisualizationConfig.units"))
        _check_names("signs", self.signs, SIGNS)
        _check_names("generators", self.generators, tuple(generator_registry.names()))
        _check_names("variant", (self.variant,), VARIANTS)
        _check_names("backend", (self.backend,), BACKENDS)
        if any(not (0.0 <= a <= 1.0) for a in self.alphas):
            raise InvalidInputError(f"alphas must lie in [0, 1], got {list(self.alphas)}")
        if self.restarts < 1 or self.iterations < 1 or self.batch_runs < 1:
            raise InvalidInputError("restarts, iterations and batch_runs must be >= 1")

    def identity(self) -> dict[str, Any]:
        """The fields that change results (``batch_runs`` does not)."""
        data = asdict(self)
        data.pop("batch_runs")
        return data


def _check_names(field_name: str, values: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    """Raise unless ``values`` is a non-empty tuple of names from ``allowed``."""
    if isinstance(values, str) or not values:
        raise InvalidInputError(
            f"VisualizationConfig.{field_name} must be a non-empty list of names from "
            f"{list(allowed)}, got {values!r}")
    bad = [value for value in values if value not in allowed]
    if bad:
        raise InvalidInputError(
            f"VisualizationConfig.{field_name}: unknown {bad}; expected names from {list(allowed)}")


def job_table(config: VisualizationConfig) -> pd.DataFrame:
    """One row per run: ``unit, sign, alpha, generator, restart`` (control once per unit)."""
    alphas = sorted({0.0, *map(float, config.alphas)})
    conditions = [("control", 0.0)] + [(s, a) for s in config.signs for a in alphas if a > 0]
    rows = [
        (unit, sign, alpha, generator, restart)
        for unit, (sign, alpha), generator, restart in itertools.product(
            config.units, conditions, config.generators, range(config.restarts))
    ]
    return pd.DataFrame(rows, columns=KEY_COLUMNS)


class StoredVisualizations:
    """A results store of visualizations: a tidy table plus images and trajectories."""

    def __init__(self, store: ResultsStore) -> None:
        self.store = store

    def table(self) -> pd.DataFrame:
        """One row per visualization (for readout runs: ``best_activation``, ``final_sigma``,
        ``evaluations``)."""
        return self.store.table()

    def images(self, rows: pd.DataFrame | None = None) -> np.ndarray:
        """Best images ``[n, H, W, 3]`` (uint8) of ``rows`` (default: all)."""
        return self.store.arrays("image", rows)

    def trajectories(self, rows: pd.DataFrame | None = None) -> np.ndarray:
        """Objective of each generation or step, ``[n, iterations]``."""
        return self.store.arrays("trajectory", rows)


class Visualization(StoredVisualizations):
    """Stored readout visualizations of one model and configuration (images and codes)."""

    def best_per_condition(self, generator: str | None = None) -> pd.DataFrame:
        """For each (unit, sign, alpha) the run with the highest activation over restarts and
        generators (only ``generator``'s runs when given): the image a figure shows;
        statistics use every run."""
        table = self.table()
        if generator is not None:
            if generator not in set(table["generator"]):
                raise InvalidInputError(
                    f"no run used the generator {generator!r}; these did: {sorted(set(table['generator']))}")
            table = table[table["generator"] == generator]
        best = table.loc[table.groupby(["unit", "sign", "alpha"])["best_activation"].idxmax()]
        return best.reset_index(drop=True)


def _run_seed(seed: int, key: tuple) -> int:
    """A CMA-ES seed in [1, 2**31 - 1] derived from the run's key."""
    return int(config_hash([seed, *key], length=8), 16) % (2**31 - 2) + 1


def _to_uint8(images: torch.Tensor) -> np.ndarray:
    return (images.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def visualize(
    model: Any,
    config: VisualizationConfig,
    *,
    name: str | None = None,
    root: str | None = None,
    progress: bool = True,
    image_batch: int | None = None,
    scheduler: Scheduler = None,
) -> Visualization:
    """Run (or resume) every visualization of ``config`` for ``model``.

    Parameters
    ----------
    model:
        A :class:`signseg.zoo.ZooModel` (anything with ``features(images01, crop=...)``,
        ``readout_layer()`` and ``name``); generated images are scored with ``crop=False``.
    config:
        What to run.
    name:
        Label of the store folder (default ``model.name``).
    root:
        Store root (default: the signseg cache's ``results`` folder).
    progress:
        Show a progress bar over the runs (and the Dask dashboard's link).
    image_batch:
        Images per generator/network forward pass inside one generation. Default: 64 on
        the CPU (measured fastest for the small zoo models on 2 cores, about 1.6x faster than
        one batch of 448; see ``benchmarks/bench_evolve.py``), 512 on a GPU.
    scheduler:
        Where the chunks run: ``None`` (this process), ``"local"``, ``"local:N"``, a Dask
        scheduler address, a ``distributed.Client`` or a Dask cluster (see
        :mod:`signseg.sweep`). Results are the same wherever they ran (on the same kind of
        device); the store's folder must be visible to every worker.

    Notes
    -----
    The runs are cut into chunks of ``config.batch_runs`` consecutive jobs of
    :func:`job_table` (split by generator), fixed by the configuration alone; each chunk is
    one task and one lockstep batch, written to the store when it finishes. Chunks already
    stored are skipped, so an interrupted call, or one running beside another on the same
    store, resumes with what is missing.
    """
    network = getattr(model, "model", None)
    store_config = {"model": getattr(model, "name", name), "pretrained": getattr(model, "pretrained", None),
                    # the weights themselves: a retrained model never reuses stale results
                    "weights": tensors_digest(network.state_dict()) if network is not None else None,
                    **config.identity()}
    store = ResultsStore(f"visualize-{name or getattr(model, 'name', 'model')}", store_config,
                         KEY_COLUMNS, root=root)
    chunks = pending_chunks(store, plan_chunks(job_table(config), config.batch_runs, by=["generator"]))
    map_tasks(_visualize_chunk, chunks, scheduler=scheduler,
              shared={"model": model, "config": config, "store": store, "image_batch": image_batch},
              weights=[len(chunk) for chunk in chunks], desc=f"visualize {store_config['model']}",
              unit="run", progress=progress)
    return Visualization(store)


def _visualize_chunk(group: pd.DataFrame, *, model: Any, config: VisualizationConfig,
                     store: ResultsStore, image_batch: int | None) -> int:
    """Task: evolve one chunk of runs (one generator) in lockstep and store them; returns the
    number of runs stored (0 when a retried task finds its chunk stored already)."""
    if not store.path.is_dir():
        raise InvalidInputError(
            f"the results store {str(store.path)!r} is not visible here (a Dask worker on "
            "another machine?); put SIGNSEG_CACHE, or visualize(root=...), on a file system "
            "that every worker mounts")
    if store.has(group):
        return 0
    network = getattr(model, "model", None)
    home = next(network.parameters()).device if network is not None else torch.device("cpu")
    device = worker_device(default=home)
    model = _on_device(model, device)
    if image_batch is None:
        image_batch = 512 if device.type == "cuda" else 64
    readout = model.readout_layer()
    weights, biases, conditions = readout_conditions(
        readout.weight.detach().cpu(),
        readout.bias.detach().cpu() if readout.bias is not None else None,
        sorted({int(u) for u in group["unit"]}), list(config.signs),
        sorted({0.0, *map(float, config.alphas)}))
    row_of = {(int(u), s, float(a)): k for k, (u, s, a) in enumerate(
        conditions[["unit", "sign", "alpha"]].itertuples(index=False))}
    (generator_name,) = set(group["generator"])
    _run_group(model, config, store, group, generator_name, weights, biases, row_of,
               image_batch, device)
    return len(group)


_placed: dict[tuple[int, str], Any] = {}


def _on_device(model: Any, device: torch.device) -> Any:
    """``model``, or a copy of it on ``device`` (made once per process and device)."""
    network = getattr(model, "model", None)
    if network is None or next(network.parameters()).device == device:
        return model
    key = (id(model), str(device))
    if key not in _placed:
        _placed.clear()  # one model at a time: a new sweep frees the last one's copy
        placed = copy.deepcopy(model)
        placed.model.to(device)
        _placed[key] = placed
    return _placed[key]


@functools.lru_cache(maxsize=4)
def _generator(name: str, options: str, device: torch.device) -> Any:
    """The generator ``name`` with ``options`` (canonical JSON) on ``device``, loaded once."""
    return generator_registry.load(name, **json.loads(options)).to(device).eval()


def _run_group(model, config, store, group, generator_name, weights, biases, row_of, image_batch,
               device):
    generator = _generator(generator_name, canonical_json(config.generator_options.get(generator_name, {})),
                           device)
    starts = generator.init_codes(config.restarts, seed=config.seed)
    x0 = starts[torch.as_tensor(group["restart"].to_numpy(dtype=np.int64).copy())].to(device)
    # the control's weights are those of alpha = 0 of the first sign (identical for both)
    rows = [row_of[(int(u), config.signs[0] if s == "control" else s, float(a))]
            for u, s, a in group[["unit", "sign", "alpha"]].itertuples(index=False)]
    w, b = weights[rows], biases[rows]
    seeds = [_run_seed(config.seed, key) for key in group[KEY_COLUMNS].itertuples(index=False)]
    runs = len(group)

    @torch.no_grad()
    def objective(codes: torch.Tensor) -> torch.Tensor:
        features = torch.cat([
            # generated images are resized whole (no centre crop): every pixel is optimized
            model.features(generator(chunk), crop=False) for chunk in codes.split(image_batch)])
        features = features.view(runs, -1, features.shape[-1])
        return (torch.einsum("rpf,rf->rp", features, w) + b[:, None]).reshape(-1)

    result = minimize(objective, x0, generator.default_sigma, config.iterations,
                      popsize=config.popsize, variant=config.variant, backend=config.backend,
                      maximize=True, seed=seeds, progress=False)
    with torch.no_grad():
        best_images = _to_uint8(generator(result.best_x))
    finished = group.assign(
        best_activation=result.best_f.double().cpu().numpy(),
        final_sigma=result.final_sigma.double().cpu().numpy(),
        evaluations=result.evaluations,
    )
    store.write(finished, {
        "image": best_images,
        "code": result.best_x.float().cpu().numpy(),
        "trajectory": result.best_so_far().float().cpu().numpy(),
    })
