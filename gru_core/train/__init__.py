"""Training: several optimizers in lockstep from identical weights, run in the foreground or a thread.

* :mod:`~gru_core.train.race`: :class:`Race`, the lockstep training loop and its events.
* :mod:`~gru_core.train.live`: :class:`LiveRace`, a race in a background thread, read by snapshots.
* :mod:`~gru_core.train.budget`: the memory a run will take, checked before anything is allocated.

A new training setting goes into :class:`gru_core.config.TrainConfig` and is used in ``race.py``.
"""

from gru_core.config import Contestant, TrainConfig
from gru_core.train.budget import MemoryBudgetError, check_memory, run_bytes
from gru_core.train.race import SCHEDULES, EpochRecord, Event, Race, RunState, recursive_forecast

__all__ = ["SCHEDULES", "Contestant", "EpochRecord", "Event", "MemoryBudgetError", "Race", "RunState",
           "TrainConfig", "check_memory", "recursive_forecast", "run_bytes"]  # fmt: skip
