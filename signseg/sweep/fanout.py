"""Fan independent tasks out, in this process or on Dask workers, behind one progress bar.

:func:`map_tasks` is ``[function(item, **shared) for item in items]``: computed in this
process when the scheduler is ``None``, else one Dask task per item. Large objects every
task needs (a model) go in ``shared``: they are sent to the workers once (replicated, so a
worker that dies takes no copy with it), not once per task. Tasks run with the caller's
``SIGNSEG_*`` and ``TORCH_HOME`` environment variables, so workers read and write the same
caches, data and checkpoints (which must therefore lie on a file system every worker sees).

A task that dies with its worker is run again on another (Dask retries it up to
``distributed.scheduler.allowed-failures`` times, 3 by default): tasks must be idempotent,
as the visualization and training tasks are (they write to content-addressed stores).
Interrupting the caller cancels the tasks not finished yet; what finished is kept.

Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which (in glibc) also
freezes the mmap threshold at 128 KiB: every tensor above that is a fresh ``mmap``,
zero-filled page by page, and a visualization chunk ran 2x slower (measured on 2 cores).
Tasks therefore set glibc's thresholds once per worker process (:func:`tune_malloc`).
"""

from __future__ import annotations

import ctypes
import os
import uuid
from typing import Any, Callable, Mapping, Sequence, TypeVar

from ..errors import InvalidInputError
from ..progress import PROGRESS_ENV, tqdm
from .cluster import Scheduler, connect

__all__ = ["map_tasks", "task_environment", "tune_malloc"]

T = TypeVar("T")


def task_environment() -> dict[str, str]:
    """The environment variables tasks get: ``SIGNSEG_*`` (but the progress file), ``TORCH_HOME``."""
    return {key: value for key, value in os.environ.items()
            if (key.startswith("SIGNSEG_") and key != PROGRESS_ENV) or key == "TORCH_HOME"}


def map_tasks(
    function: Callable[..., T],
    items: Sequence[Any],
    *,
    scheduler: Scheduler = None,
    shared: Mapping[str, Any] | None = None,
    weights: Sequence[int] | None = None,
    desc: str = "sweep",
    unit: str = "task",
    progress: bool = True,
) -> list[T]:
    """``[function(item, **shared) for item in items]``, in this process or on Dask workers.

    Parameters
    ----------
    function:
        A module-level function (Dask pickles it by reference), ``function(item, **shared)``.
    items:
        One task per item; results come back in this order.
    scheduler:
        ``None`` (this process) or a Dask scheduler (see :mod:`signseg.sweep.cluster`).
    shared:
        Keyword arguments every task gets, sent to the workers once.
    weights:
        Progress units per item (e.g. the runs of a chunk); default 1 each.
    desc, unit:
        Label and unit of the progress bar.
    progress:
        Show the progress bar (:func:`signseg.progress.tqdm`).

    Returns
    -------
    list
        The tasks' results, in the order of ``items``.
    """
    items = list(items)
    weights = [1] * len(items) if weights is None else [int(w) for w in weights]
    if len(weights) != len(items):
        raise InvalidInputError(f"got {len(weights)} weights for {len(items)} items; give one per item")
    shared = dict(shared or {})
    client = connect(scheduler) if items else None
    bar = tqdm(total=sum(weights), desc=desc, unit=unit, disable=not progress)
    try:
        if client is None:
            results = []
            for item, weight in zip(items, weights):
                results.append(function(item, **shared))
                bar.update(weight)
            return results
        return _map_on_dask(client, function, items, shared, weights, bar)
    finally:
        bar.close()


def _map_on_dask(client: Any, function: Callable[..., T], items: list[Any],
                 shared: dict[str, Any], weights: list[int], bar: Any) -> list[T]:
    """Submit one task per item, update ``bar`` as they finish, cancel the rest on an error."""
    from distributed import as_completed

    handles = {name: client.scatter(value, broadcast=True, hash=False)
               for name, value in shared.items()}
    prefix = f"signseg-{getattr(function, '__name__', 'task').strip('_')}-{uuid.uuid4().hex[:8]}"
    futures = client.map(_run_task, items, key=[f"{prefix}-{i}" for i in range(len(items))],
                         _function=function, _environment=task_environment(), **handles)
    position = {future.key: i for i, future in enumerate(futures)}
    results: list[Any] = [None] * len(items)
    try:
        for future in as_completed(futures):
            i = position[future.key]
            results[i] = future.result()  # raises the task's own exception
            bar.update(weights[i])
    finally:
        client.cancel([future for future in futures if not future.done()])
    return results


def _run_task(item: Any, *, _function: Callable[..., T], _environment: dict[str, str],
              **shared: Any) -> T:
    """On a worker: take the caller's signseg environment, then run ``_function(item, **shared)``."""
    os.environ.update(_environment)
    tune_malloc()
    return _function(item, **shared)


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
_tuned: list[bool] = []


def tune_malloc(mmap_threshold: int = 32 << 20, trim_threshold: int = 64 << 20) -> bool:
    """Let glibc serve tensors up to ``mmap_threshold`` bytes from its heap and keep up to
    ``trim_threshold`` bytes of freed memory for reuse; once per process.

    Undoes the effect of Dask's ``MALLOC_TRIM_THRESHOLD_=65536`` on worker processes (see
    the module notes). Returns whether the thresholds are set (``False`` off glibc).
    """
    if not _tuned:
        try:
            libc = ctypes.CDLL("libc.so.6")
            _tuned.append(bool(libc.mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold)))
                          and bool(libc.mallopt(_M_TRIM_THRESHOLD, int(trim_threshold))))
        except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to undo
            _tuned.append(False)
    return _tuned[0]
