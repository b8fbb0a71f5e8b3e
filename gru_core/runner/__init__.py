"""Everything that trains in the background, outside the web server's threads: live races and sweeps; one
runner, one queue, three backends.

* :mod:`~gru_core.runner.job`: :class:`RaceJob` (what to run, plain picklable data) and :class:`HostedRace`
  (a job's Race in a LiveRace, plus its model files): what every backend runs.
* :mod:`~gru_core.runner.sweep`: :class:`SweepJob` (a sweep to run: its spec, store, workers), :class:`HostedSweep`
  (:func:`gru_core.sweep.run_sweep` in a thread of the hosting process), :class:`SweepHandle` and
  :class:`SweepSnapshot` (its progress); where each backend hosts a sweep, and why.
* :mod:`~gru_core.runner.surface`: :class:`~gru_core.runner.surface.SurfaceJob` (a race's loss surface to
  compute), its host, handle and snapshot; :mod:`~gru_core.runner.queued` (what every queued handle shares) and
  :mod:`~gru_core.runner.threaded` (a job hosted in one thread: a sweep, a surface).
* :mod:`~gru_core.runner.runner`: :class:`Runner` (submit, first-come queue with place and estimated wait,
  cancel, shutdown) and :func:`get_runner`, configured by ``GRU_LAB_BACKEND``, ``GRU_LAB_WORKERS``,
  ``GRU_LAB_SCHEDULER`` (or the server's options ``--backend``, ``--workers``, ``--scheduler``:
  :func:`apply_server_args`).
* :mod:`~gru_core.runner.seeds`: :class:`SeedRaces`, a race over several seeds (one job per seed, in parallel),
  steered as one race.
* :mod:`~gru_core.runner.thread`: the ``thread`` backend (a LiveRace thread, or a sweep's driver thread, here).
* :mod:`~gru_core.runner.process`: the ``process`` backend (persistent worker processes, replaced when one dies).
* :mod:`~gru_core.runner.worker`: the worker process's program (``python -m gru_core.runner.worker``).
* :mod:`~gru_core.runner.dask_actor`: the ``dask`` backend (one Dask actor per race; a sweep's cells as Dask tasks).

Every race handle offers ``start``, ``snapshot``, ``pause``, ``resume``, ``step_epoch``, ``step_batches``,
``set_lr``, ``set_speed``, ``stop``, ``join``, ``running``, ``models``, ``labels`` and ``gate_input``.  The same job
gives the same numbers, bit for bit, on every backend.  A sweep handle offers ``snapshot``, ``stop``, ``cancel``,
``join``, ``running`` and ``sweep_id``; its stored records are those of run_sweep called directly.  No Streamlit,
no Plotly.
"""

from gru_core.runner.job import HostedRace, RaceJob
from gru_core.runner.runner import BACKENDS, SERVER_OPTIONS, JobHandle, Runner, apply_server_args, get_runner
from gru_core.runner.sweep import HostedSweep, SweepHandle, SweepJob, SweepSnapshot

__all__ = ["BACKENDS", "SERVER_OPTIONS", "HostedRace", "HostedSweep", "JobHandle", "RaceJob", "Runner",
           "SweepHandle", "SweepJob", "SweepSnapshot", "apply_server_args", "get_runner"]  # fmt: skip
