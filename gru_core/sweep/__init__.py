"""Sweeps: a grid (or a random search) of configurations × optimizers × seeds, run in parallel, resumable.

    spec = SweepSpec.from_run(RunConfig(...), grid={"batch_size": [32, 64], "lr": [1e-2, 1e-3]})
    result = run_sweep(spec, store=RunStore())      # all cores; resumable
    result.frame()                                  # one row per (configuration, seed, optimizer)

* :mod:`~gru_core.sweep.spec`: what a sweep is (:class:`SweepSpec`), its cells, grids and random search.
* :mod:`~gru_core.sweep.run`: running the cells (process pool, Dask), storing and resuming them.

Statistics over the results are in :mod:`gru_core.stats`, the run store in :mod:`gru_core.store`.
"""

from gru_core.sweep.run import (
    LOCAL_DASK,
    SchedulerError,
    SweepCancelled,
    SweepProgress,
    SweepResult,
    library_versions,
    prepared_data,
    run_cell,
    run_sweep,
)  # fmt: skip
from gru_core.sweep.spec import (
    GRID_FIELDS,
    Cell,
    RandomSearch,
    SweepSpec,
    cells,
    coerce_value,
    parse_grid,
    parse_space,
    sample_space,
)  # fmt: skip

__all__ = ["GRID_FIELDS", "LOCAL_DASK", "Cell", "RandomSearch", "SchedulerError", "SweepCancelled", "SweepProgress",
           "SweepResult", "SweepSpec", "cells", "coerce_value", "library_versions", "parse_grid", "parse_space",
           "prepared_data", "run_cell", "run_sweep", "sample_space"]  # fmt: skip
