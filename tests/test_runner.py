"""Races in the background (gru_core.runner): the speed limit, and the same numbers on every backend.

Tiny races (a clean sine of 300 points, 4 hidden units, 3-6 epochs) so the file runs in well under a minute.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from gru_core.config import RunConfig
from gru_core.data.source import load_source, prepare_run
from gru_core.train import Race
from gru_core.train.live import LiveRace


def tiny_config(epochs: int = 4, **train) -> RunConfig:
    return RunConfig.from_dict({"data": {"source": "sine", "params": {"length": 300}, "lookback": 12},
                                "model": {"hidden_size": 4},
                                "train": {"epochs": epochs, "batch_size": 16, **train}})  # fmt: skip


def tiny_race(cfg: RunConfig, log_every: int = 0) -> Race:
    prepared = prepare_run(load_source(cfg.data), cfg.data)
    return Race(prepared, cfg.model_config(), cfg.race_contestants(), cfg.train_config(log_every=log_every))


def bits(o):
    """Every number exactly (float.hex), timings ("seconds", "elapsed") left out: bit-for-bit comparisons."""
    if isinstance(o, dict):
        return {k: bits(v) for k, v in o.items() if k not in ("seconds", "elapsed")}
    if isinstance(o, (list, tuple)):
        return [bits(v) for v in o]
    if isinstance(o, np.ndarray):
        return bits(o.tolist())
    if isinstance(o, (float, np.floating)):
        return float(o).hex()
    return o


def wait_for(pred, timeout: float = 30.0, what: str = "condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = pred()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


# ---- the speed limit (gru_core.train.live) -------------------------------------------------------------------


def test_the_after_batch_hook_runs_once_per_step_and_changes_no_number():
    cfg = tiny_config(epochs=3)
    plain = tiny_race(cfg).train()
    race = tiny_race(cfg)
    calls = []
    race.after_batch = lambda: calls.append(race.step)
    hooked = race.train()
    assert calls == list(range(1, race.step + 1))
    assert bits(hooked) == bits(plain)


def test_speed_limit_holds_the_rate_and_changes_no_number():
    cfg = tiny_config(epochs=40)
    live = LiveRace(tiny_race(cfg, log_every=1), speed=20)
    live.start()
    try:
        time.sleep(0.3)
        t1, s1 = time.perf_counter(), live.snapshot().step
        time.sleep(1.5)
        t2, s2 = time.perf_counter(), live.snapshot().step
        rate = (s2 - s1) / (t2 - t1)
        assert 16 <= rate <= 24, f"{rate:.1f} steps/s with a limit of 20"
        live.set_speed(None)  # lifted: it runs to the end at full speed
        assert live.join(60)
    finally:
        live.stop()
    limited = live.snapshot()
    assert limited.status == "finished"
    assert bits(limited.result) == bits(tiny_race(cfg, log_every=1).train())
    with pytest.raises(ValueError):
        live.set_speed(-1)
    with pytest.raises(ValueError):
        live.set_speed("fast")


def test_a_stop_ends_a_slow_race_at_once():
    live = LiveRace(tiny_race(tiny_config(epochs=5)), speed=0.2)  # one step every 5 s
    live.start()
    time.sleep(0.3)
    t0 = time.perf_counter()
    live.stop()
    assert live.join(2)
    assert time.perf_counter() - t0 < 1.0
    assert live.snapshot().status == "stopped"
