"""Where a sweep runs: this process, a local Dask cluster, or a Dask scheduler anywhere.

A *scheduler* (the ``scheduler`` argument of :func:`signseg.sweep.map_tasks`,
:func:`signseg.visualize.visualize` and :func:`signseg.sweep.train_models`, and the
``scheduler`` parameter of the notebooks) is one of

* ``None`` or ``"inline"`` — every task in this process, one after another (the default;
  Dask is not imported);
* ``"local"`` or ``"local:N"`` — a :class:`distributed.LocalCluster` on this machine with
  ``N`` single-threaded worker processes (default :func:`local_workers`: one per GPU when
  GPUs exist, else one per CPU core), started once and reused;
* ``"tcp://host:8786"`` — the address of a running scheduler (``dask scheduler`` with
  ``dask worker`` processes, or a dask-jobqueue cluster; see :mod:`signseg.sweep`);
* a path ending in ``.json`` — a scheduler file (``dask scheduler --scheduler-file``,
  dask-mpi);
* a :class:`distributed.Client`, or a cluster object (``LocalCluster``,
  ``dask_jobqueue.SLURMCluster``, ...).

:func:`connect` prints the cluster's dashboard link once per connection.
"""

from __future__ import annotations

import os
import re
from typing import Any

from ..errors import InvalidInputError, SchedulerError
from ..optional import import_optional

__all__ = ["Scheduler", "connect", "disconnect", "local_workers", "worker_device"]

Scheduler = Any
"""``None``, ``"inline"``, ``"local"``, ``"local:N"``, an address, a scheduler file, a
``distributed.Client`` or a Dask cluster object (see the module notes)."""

_INLINE = ("", "inline", "none")
_clients: dict[str, Any] = {}
_owned: dict[str, Any] = {}  # clusters started here (closed by disconnect)


def _distributed() -> Any:
    return import_optional("distributed", "sweeps on Dask (signseg.sweep)", "dask[distributed]",
                           extra="sweep")


def local_workers() -> int:
    """Workers of a ``"local"`` cluster: one per GPU when there are GPUs, else one per CPU core."""
    import torch

    if torch.cuda.is_available() and torch.cuda.device_count() > 0:
        return torch.cuda.device_count()
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else
               os.cpu_count() or 1)


def connect(scheduler: Scheduler = None) -> Any:
    """The ``distributed.Client`` of ``scheduler``, or ``None`` to run in this process.

    Parameters
    ----------
    scheduler:
        See the module notes. Clients opened from text are cached: the same text gives the
        same client (and ``"local"`` the same cluster) for the life of the process.

    Raises
    ------
    SchedulerError
        No scheduler answers at the address or file, or a local cluster cannot start.
    InvalidInputError
        ``scheduler`` is of none of the accepted kinds, or ``"local:N"`` has a bad ``N``.
    """
    if scheduler is None or (isinstance(scheduler, str) and scheduler.strip().lower() in _INLINE):
        return None
    distributed = _distributed()
    if isinstance(scheduler, distributed.Client):
        return scheduler
    if isinstance(scheduler, str):
        spec = scheduler.strip()
    elif hasattr(scheduler, "scheduler_address"):  # a cluster object
        spec = f"cluster-{id(scheduler)}"
    else:
        raise InvalidInputError(
            f"scheduler must be None, 'inline', 'local', 'local:N', a scheduler address "
            f"('tcp://host:8786'), a scheduler file (.json), a distributed.Client or a Dask "
            f"cluster; got {scheduler!r} ({type(scheduler).__name__})")
    client = _clients.get(spec)
    if client is not None and client.status == "running":
        return client
    client = _open(distributed, spec, scheduler)
    _clients[spec] = client
    workers = len(client.nthreads())
    print(f"signseg: Dask scheduler {client.scheduler.address} with {workers} workers; "
          f"dashboard: {client.dashboard_link}", flush=True)
    return client


def _open(distributed: Any, spec: str, scheduler: Scheduler) -> Any:
    """A new client for ``spec`` (text) or the cluster object ``scheduler``."""
    if not isinstance(scheduler, str):
        return distributed.Client(scheduler)
    if spec == "local" or spec.startswith("local:"):
        workers = _local_count(spec)
        try:
            cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                               processes=True)
        except Exception as error:  # ports, spawn, memory: say what failed and what to do
            raise SchedulerError(
                f"could not start a local Dask cluster of {workers} workers ({error}); run "
                "without one (scheduler=None) or start 'dask scheduler' and 'dask worker' "
                "yourself and pass the address") from error
        _owned[spec] = cluster
        return distributed.Client(cluster)
    try:
        if spec.endswith(".json"):
            return distributed.Client(scheduler_file=spec, timeout="30s")
        return distributed.Client(spec, timeout="30s")
    except (OSError, TimeoutError, ValueError) as error:
        raise SchedulerError(
            f"no Dask scheduler answers at {spec!r} ({error}). Start one ('dask scheduler' "
            "and 'dask worker ADDRESS' on each machine, or a dask-jobqueue cluster; see "
            "signseg.sweep), pass scheduler='local' for this machine, or None to run in "
            "this process") from error


def _local_count(spec: str) -> int:
    """``N`` of ``"local:N"`` (:func:`local_workers` for ``"local"``)."""
    if spec == "local":
        return local_workers()
    text = spec.partition(":")[2]
    if not text.isdigit() or int(text) < 1:
        raise InvalidInputError(
            f"scheduler {spec!r}: expected 'local:N' with N >= 1 worker processes, e.g. 'local:2'")
    return int(text)


def disconnect() -> None:
    """Close every client :func:`connect` opened and every local cluster it started."""
    for client in _clients.values():
        client.close()
    for cluster in _owned.values():
        cluster.close()
    _clients.clear()
    _owned.clear()


def worker_device(default: Any = "cpu") -> Any:
    """The ``torch.device`` a task uses: a GPU of its Dask worker, else ``default``.

    In a Dask worker that sees GPUs, the worker named ``k`` (or whose name ends in ``k``, as
    the workers of a ``LocalCluster`` and of ``dask worker --name node-3`` are) takes GPU
    ``k`` modulo the GPUs it sees; a worker that sees one GPU (``CUDA_VISIBLE_DEVICES`` set
    per worker, as ``dask cuda worker`` does) takes that one. Outside a worker, or without
    GPUs: ``torch.device(default)``.
    """
    import torch

    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return torch.device(default)
    if not torch.cuda.is_available() or torch.cuda.device_count() == 0:
        return torch.device(default)
    match = re.search(r"(\d+)$", str(worker.name))
    index = int(match.group(1)) % torch.cuda.device_count() if match else 0
    return torch.device("cuda", index)
