"""Live races trained outside the web server's threads: one runner, three backends, LiveRace's handle API.

* :mod:`~gru_core.runner.job`: :class:`RaceJob` (what to run, plain picklable data) and :class:`HostedRace`
  (a job's Race in a LiveRace, plus its model files): what every backend runs.
* :mod:`~gru_core.runner.runner`: :class:`Runner` (submit, first-come queue with place and estimated wait,
  cancel, shutdown) and :func:`get_runner`, configured by ``GRU_LAB_BACKEND``, ``GRU_LAB_WORKERS``,
  ``GRU_LAB_SCHEDULER``.
* :mod:`~gru_core.runner.thread`: the ``thread`` backend (a LiveRace thread in this process).
* :mod:`~gru_core.runner.process`: the ``process`` backend (persistent worker processes, replaced when one dies).
* :mod:`~gru_core.runner.worker`: the worker process's program (``python -m gru_core.runner.worker``).
* :mod:`~gru_core.runner.dask_actor`: the ``dask`` backend (one Dask actor per race).

Every handle offers ``start``, ``snapshot``, ``pause``, ``resume``, ``step_epoch``, ``step_batches``, ``set_lr``,
``set_speed``, ``stop``, ``join``, ``running``, ``models``, ``labels`` and ``gate_input``.  The same job gives
the same numbers, bit for bit, on every backend.  No Streamlit, no Plotly.
"""

from gru_core.runner.job import HostedRace, RaceJob
from gru_core.runner.runner import BACKENDS, JobHandle, Runner, get_runner

__all__ = ["BACKENDS", "HostedRace", "JobHandle", "RaceJob", "Runner", "get_runner"]
