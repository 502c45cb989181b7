"""Training the members of a model zoo as a sweep: one task per model missing from the cache."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from .cluster import Scheduler
from .fanout import map_tasks

__all__ = ["train_models"]


def train_models(
    names: Iterable[str],
    train: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    seed: int = 0,
    scheduler: Scheduler = None,
    progress: bool = True,
) -> list[str]:
    """Train the project models among ``names`` that are not in the cache, one task each.

    Afterwards :func:`signseg.profiles.load_models` (or :func:`signseg.train.load`) with the
    same ``train`` and ``seed`` loads every one of them without training. Published
    (torchvision) models and finished runs are skipped. Each task trains on its worker's
    CPU threads, with the caller's ``SIGNSEG_CACHE`` and ``SIGNSEG_DATA``; training is
    deterministic by seed, so a model trained anywhere is the model trained here.

    Parameters
    ----------
    names:
        Zoo names (repeats are trained once).
    train:
        A profile's ``train`` section: data set -> :class:`signseg.runs.TrainConfig` fields.
    seed:
        Training seed (as for :func:`signseg.train.load`).
    scheduler:
        ``None`` (this process) or a Dask scheduler (see :mod:`signseg.sweep.cluster`).
    progress:
        Show a progress bar over the models.

    Returns
    -------
    list of str
        The names that were trained (in the order given).
    """
    from .. import runs, zoo
    from ..train import resolve_config

    todo = []
    for name in dict.fromkeys(names):
        entry = zoo.info(name)
        if entry.source != "project":
            continue
        config = resolve_config(name, (train or {}).get(entry.dataset), seed=seed)
        if runs.finished_run(name, config) is None:
            todo.append((name, config))
    map_tasks(_train_one, todo, scheduler=scheduler, desc="train models", unit="model",
              progress=progress)
    return [name for name, _ in todo]


def _train_one(item: tuple[str, Any]) -> str:
    """Task: train one project model with its resolved configuration (resumes a partial run)."""
    from ..train import train

    name, config = item
    train(name, config, progress=False)
    return name
