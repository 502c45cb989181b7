"""Paper-scale sweeps: independent jobs fanned out on Dask, results in a shared store.

The work of the book splits into independent jobs: visualization chunks (networks x units
x conditions x generators x restarts, evolved in lockstep), the members of a model zoo to
train, and any other per-item computation. :func:`map_tasks` runs such jobs in this process
(the default) or on a Dask cluster, behind one progress bar; tasks write their results to a
:class:`~signseg.store.ResultsStore`, which many processes and machines may write at once
(atomic per-chunk files, idempotent, resumable). Results are the same wherever they ran:
chunks are fixed by the job table alone (:func:`plan_chunks`) and every run is seeded by its
key, so a chunk computed on a worker equals, bit for bit, the chunk computed here (on the same
kind of device, torch version and thread count).

Choosing where (the ``scheduler`` argument, and the notebooks' ``scheduler`` parameter)
--------------------------------------------------------------------------------------------
``None``
    This process, one task after another (no Dask needed).
``"local"`` / ``"local:N"``
    A ``LocalCluster`` of single-threaded worker processes on this machine: one per GPU
    when there are GPUs (each worker takes its own, :func:`worker_device`), else one per core.
``"tcp://host:8786"``
    A running scheduler; its workers must see the same ``SIGNSEG_CACHE`` (results store,
    trained models), ``SIGNSEG_DATA`` and ``TORCH_HOME`` folders, i.e. a shared file system
    (tasks get the caller's values of these variables).

From the command line::

    pip install -e '.[sweep]'
    dask scheduler --port 8786 &                                   # on one machine
    dask worker tcp://HOST:8786 --nworkers 1 --nthreads 1 --name gpu-0 &   # per GPU (or core)
    signseg book --profile paper --set scheduler=tcp://HOST:8786   # or: signseg run 02_ablation ...

On an HPC system with SLURM, dask-jobqueue (``pip install dask-jobqueue``) submits the
workers as batch jobs; start the cluster in a long-lived Python process and pass its address::

    from dask_jobqueue import SLURMCluster
    cluster = SLURMCluster(queue="gpu", cores=8, processes=1, memory="32GB",
                           walltime="12:00:00", job_extra_directives=["--gres=gpu:1"],
                           scheduler_options={"port": 8786})
    cluster.scale(jobs=16)                # 16 GPU workers
    print(cluster.scheduler_address)      # -> signseg book --set scheduler=<this address>

(or pass ``cluster`` itself as ``scheduler`` from Python). Progress: :func:`connect` prints
the Dask dashboard's link, and a tqdm bar counts finished runs in the notebook.

Modules: :mod:`~signseg.sweep.cluster` (where), :mod:`~signseg.sweep.fanout` (how tasks run),
:mod:`~signseg.sweep.jobs` (chunks), :mod:`~signseg.sweep.training` (zoo members),
:mod:`~signseg.sweep.cost` (the projected cost of the paper's full sweep).
"""

from .cluster import Scheduler, connect, disconnect, local_workers, worker_device
from .cost import PAPER_SWEEP, SweepDesign, per_evaluation, projected_cost, visualization_seconds
from .fanout import map_tasks, task_environment
from .jobs import pending_chunks, plan_chunks
from .training import train_models

__all__ = [
    "PAPER_SWEEP",
    "Scheduler",
    "SweepDesign",
    "connect",
    "disconnect",
    "local_workers",
    "map_tasks",
    "pending_chunks",
    "per_evaluation",
    "plan_chunks",
    "projected_cost",
    "task_environment",
    "train_models",
    "visualization_seconds",
    "worker_device",
]
