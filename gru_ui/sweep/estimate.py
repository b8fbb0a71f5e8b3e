"""How big and how long a sweep is before it runs: cells, runs, the cells already stored (resumed, not run
again) and an upper estimate of the wall time, timed on this machine; and the sentence the page shows.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from gru_core.fmt import duration
from gru_core.model.gru import GRUConfig, GRURegressor
from gru_core.store import RunStore
from gru_core.sweep import SweepSpec, prepared_data
from gru_ui.sweep.limits import LIMITS

__all__ = ["Estimate", "estimate", "plan_text", "step_seconds", "stored_cells"]

_STEP_COST: dict[tuple, float] = {}
_CALIBRATE_MAX = 16  # distinct model shapes timed per estimate; more borrow the nearest
OVERHEAD = 1.35  # optimizer update, norms and bookkeeping on top of forward + backward


def step_seconds(model: dict, batch: int, lookback: int) -> float:
    """Seconds for one forward + backward pass of this model on one mini-batch, timed here once per shape."""
    key = (
        int(model["hidden_size"]),
        int(model.get("num_layers", 1)),
        str(model.get("variant", "pytorch")),
        str(model.get("dtype", "float64")),
        int(model.get("output_size", 1)),
        int(batch),
        int(lookback),
    )
    hit = _STEP_COST.get(key)
    if hit is not None:
        return hit
    cfg = GRUConfig(input_size=1, hidden_size=key[0], num_layers=key[1], variant=key[2], dtype=key[3],
                    output_size=key[4])  # fmt: skip
    net = GRURegressor.from_config(cfg)
    rng = np.random.default_rng(0)
    X = rng.random((key[5], key[6], 1))
    y = rng.random((key[5], key[4]))
    net.loss_and_grads(X, y)  # warm-up (workspaces)
    reps = 3
    t0 = time.perf_counter()
    for _ in range(reps):
        net.loss_and_grads(X, y)
    cost = (time.perf_counter() - t0) / reps
    _STEP_COST[key] = cost
    return cost


@dataclass
class Estimate:
    """What a sweep will cost, before it runs."""

    n_configs: int
    n_seeds: int
    n_cells: int
    n_optimizers: int
    n_runs: int
    n_stored: int  # cells already in the store (resumed, not run again)
    steps: int  # mini-batch steps of every run, at most (every epoch run)
    seconds: float  # wall time, at most (every epoch run), on the workers used
    workers: int
    needs_confirm: bool
    refused: bool


def estimate(spec: SweepSpec, cell_list: Sequence, workers: int, stored: Iterable[str] = ()) -> Estimate:
    """Cell count and an upper estimate of the wall time: every epoch run (early stopping only shortens it),
    one mini-batch timed on this machine per model shape, cells spread over the workers."""
    stored = set(stored)
    todo = [c for c in cell_list if c.key not in stored]
    k = len(spec.contestants)
    total_steps, total_seconds = 0, 0.0
    timed: dict[tuple, float] = {}
    for c in todo:
        info = prepared_data(c.data)[1]
        n_train, n_val = int(info.get("n_train", 0)), int(info.get("n_val", 0))
        batch, epochs = int(c.train["batch_size"]), int(c.train["epochs"])
        lookback = int(c.data["lookback"])
        m = c.model
        shape = (m["hidden_size"], m["num_layers"], m["variant"], m["dtype"], m["output_size"], batch, lookback)
        if shape not in timed:
            if len(timed) < _CALIBRATE_MAX:
                timed[shape] = step_seconds(c.model, batch, lookback)
            else:  # borrow the closest timed shape, scaled by the work
                work = batch * lookback * (shape[0] + 1) ** 2 * shape[1]
                ref = min(timed, key=lambda s: abs(math.log((s[5] * s[6] * (s[0] + 1) ** 2 * s[1]) / work)))
                timed[shape] = timed[ref] * work / (ref[5] * ref[6] * (ref[0] + 1) ** 2 * ref[1])
        t_step = timed[shape]
        steps = math.ceil(n_train / batch) * epochs
        val_passes = epochs * (n_val / batch) * 0.4  # a forward pass only, per epoch
        total_steps += steps * k
        total_seconds += k * (steps * OVERHEAD + val_passes) * t_step + 0.02
    n_workers = max(1, min(int(workers) or 1, LIMITS["max_workers"], len(todo) or 1))
    wall = total_seconds / n_workers + (3.0 if workers and todo else 0.0)  # process start
    n_cells = len(cell_list)
    return Estimate(
        n_configs=len({c.config_key for c in cell_list}),
        n_seeds=len(spec.seeds),
        n_cells=n_cells,
        n_optimizers=k,
        n_runs=n_cells * k,
        n_stored=n_cells - len(todo),
        steps=total_steps,
        seconds=wall if todo else 0.0,
        workers=n_workers,
        needs_confirm=n_cells > LIMITS["confirm_cells"],
        refused=n_cells > LIMITS["max_cells"],
    )


def stored_cells(store_path: str | os.PathLike, spec: SweepSpec) -> tuple[int | None, set[str]]:
    """The stored sweep this spec resumes (its id, or None) and the keys of its stored cells."""
    store = RunStore(store_path)
    sweep_id = store.find_sweep(spec.key)
    return sweep_id, (store.cell_keys(sweep_id) if sweep_id is not None else set())


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _s(n: int, word: str, plural: str = "s") -> str:
    return f"{n:,} {word}{plural if n != 1 else ''}"


def plan_text(spec: SweepSpec, est: Estimate, workers: int) -> str:
    """The plan in words (markdown): configurations × seeds = cells, runs, the stored ones, the time."""
    labels = [c.name for c in spec.contestants]
    text = (f"**{_s(est.n_configs, 'configuration')} × {_s(est.n_seeds, 'seed')} = {_s(est.n_cells, 'cell')}**; "
            f"each cell trains {_and(labels)} in lockstep → **{est.n_runs:,} runs**.")  # fmt: skip
    if est.n_stored == est.n_cells:
        text += " All of them are in the store already: **Run sweep** only shows their results again."
    elif est.n_stored:
        text += f" {est.n_stored:,} cells are already in the store and will not be trained again."
    if est.n_stored < est.n_cells:
        where = ("one cell after another" if int(workers) == 0
                 else f"on {_s(est.workers, 'worker process', 'es')}")  # fmt: skip
        patience = spec.train.patience
        early = (f" — early stopping (patience {patience or 'swept'}) usually ends runs sooner"
                 if patience or "patience" in spec.grid else "")  # fmt: skip
        text += f" Estimated time: **at most about {duration(est.seconds)}** {where}{early}."
    return text


def data_text(info: dict) -> str:
    """The data of the first configuration in words: its name, length and windows per part."""
    return (f"Data: {info.get('name')} — {info.get('length', 0):,} values"
            + (f" ({info['units']})" if info.get("units") else "")
            + f" → {info.get('n_train', 0):,} training, {info.get('n_val', 0):,} validation and "
            f"{info.get('n_test', 0):,} test windows.")  # fmt: skip
