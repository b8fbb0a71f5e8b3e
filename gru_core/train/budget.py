"""How much memory a run will take, estimated before anything is allocated, and the check against it.

A race holds, per contestant, a model, its gradients, the optimizer's state and the best weights, plus the
forward/backward buffers of one mini-batch and of the validation and test windows, plus the windows
themselves.  :func:`run_bytes` adds these up from the configuration alone (a generous estimate: it may
overstate, it must not understate by much), and :func:`check_memory` refuses a run that would not fit in
the memory this machine has free, with one sentence naming the setting that makes it big: a typo such as
``--hidden-size 100000`` (240 GB of weights) becomes an error message, not a MemoryError after minutes.
"""

from __future__ import annotations

import os

from gru_core.config import RunConfig

__all__ = ["MemoryBudgetError", "available_bytes", "check_memory", "run_bytes"]


class MemoryBudgetError(ValueError):
    """The run would not fit in memory (the message says how big it is and why)."""


def param_count(input_size: int, hidden_size: int, output_size: int, num_layers: int) -> int:
    """Weights of a stacked GRU with a dense head (PyTorch's layout: 3H × (D + H + 2) per layer)."""
    n, d = 0, input_size
    for _ in range(num_layers):
        n += 3 * hidden_size * (d + hidden_size + 2)
        d = hidden_size
    return n + hidden_size * output_size + output_size


def run_bytes(cfg: RunConfig, n_values: int) -> dict[str, int]:
    """Estimated bytes of a run on a series of ``n_values`` values: ``{"weights", "buffers", "windows", "total"}``."""
    m, d, t = cfg.model, cfg.data, cfg.train
    item = 4 if m.dtype == "float32" else 8
    p = param_count(1, m.hidden_size, d.horizon, m.num_layers)
    k = len(cfg.contestants)
    weights = item * p * (1 + 7 * k)  # the start, and per contestant: weights, grads, best, ≤ 3 states, update
    n_windows = max(1, n_values - d.lookback - d.horizon + 1)
    evaluated = max(t.batch_size, int(n_windows * (1 - d.split[0])) + 1)  # validation and test at once
    buffers = item * d.lookback * 12 * m.hidden_size * m.num_layers * (t.batch_size + evaluated) * max(k, 1)
    windows = 8 * n_windows * (d.lookback + d.horizon) * 4  # raw and scaled, inputs and targets
    total = weights + buffers + windows
    return {"weights": weights, "buffers": buffers, "windows": windows, "total": total}


def available_bytes() -> int | None:
    """Memory this machine has free now (Linux: MemAvailable), or None where it cannot be told."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _gb(b: float) -> str:
    return f"{b / 2**30:.1f} GB" if b >= 2**30 else f"{b / 2**20:.0f} MB"


def check_memory(cfg: RunConfig, n_values: int, available: int | None = None) -> dict[str, int]:
    """Raise :class:`MemoryBudgetError` if the run would need more than the free memory; else its estimate."""
    need = run_bytes(cfg, n_values)
    free = available_bytes() if available is None else available
    if free is None or need["total"] <= free:
        return need
    part = max(("weights", "buffers", "windows"), key=need.get)
    why = {
        "weights": f"hidden_size {cfg.model.hidden_size} × num_layers {cfg.model.num_layers} makes "
                   f"{_gb(need['weights'])} of weights, gradients and optimizer states",
        "buffers": f"lookback {cfg.data.lookback} × hidden_size {cfg.model.hidden_size} × batch_size "
                   f"{cfg.train.batch_size} (and the validation and test windows) make {_gb(need['buffers'])} "
                   f"of training buffers",
        "windows": f"{n_values:,} values × lookback {cfg.data.lookback} make {_gb(need['windows'])} of windows",
    }[part]  # fmt: skip
    raise MemoryBudgetError(f"this run needs about {_gb(need['total'])} of memory but {_gb(free)} is free: {why}")
