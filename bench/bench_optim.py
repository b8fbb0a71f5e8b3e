"""The cost of each optimizer's update against Adam's, on the GRU's own parameters.

    python bench/bench_optim.py           # hidden sizes 32 and 128, one layer
    python bench/bench_optim.py --quick   # hidden size 16, fewer repeats (a smoke run)

For every optimizer of the registry (``gru_core.optim.OPTIMIZERS``: a new entry is timed without a line here),
its ``step(params, grads)`` on the parameters of ``nn.GRU(1, H) + nn.Linear(H, 1)`` (PyTorch's names and shapes,
one flat ParamDict), timed interleaved with Adam's (Adam, X, Adam, X, …) so a noisy machine slows both alike.
Prints the median time of one update and the ratio to Adam's, measured in the same run.  Muon's Newton–Schulz
iterations (five quintic steps per weight matrix: about ten matrix products) are expected to cost the most.
Context: a whole training step (forward + BPTT + update) at H = 32, batch 32, lookback 20 takes several
milliseconds, so the update is a small part of it for every optimizer but Muon.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gru_core.model.gru import param_shapes  # noqa: E402
from gru_core.model.params import ParamDict  # noqa: E402
from gru_core.optim import OPTIMIZERS, make_optimizer  # noqa: E402


def _params(hidden: int, rng) -> tuple[ParamDict, list[ParamDict]]:
    params = ParamDict(param_shapes(1, hidden, 1, 1))
    params.flat[:] = rng.standard_normal(params.flat.shape) * 0.1
    grads = []
    for _ in range(8):
        g = params.zeros_like()
        g.flat[:] = rng.standard_normal(g.flat.shape) * 10.0 ** rng.uniform(-3, 0)
        grads.append(g)
    return params, grads


def time_step(key: str, hidden: int, repeats: int) -> float:
    """Median seconds of one update of optimizer ``key`` (fresh parameters, warm state)."""
    rng = np.random.default_rng(0)
    params, grads = _params(hidden, rng)
    opt = make_optimizer(key)
    for g in grads[:3]:  # state created, first-step branches behind us
        opt.step(params, g)
    times = []
    for i in range(repeats):
        g = grads[i % len(grads)]
        t0 = time.perf_counter()
        opt.step(params, g)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    sizes, repeats = ((16,), 30) if args.quick else ((32, 128), 300)
    for hidden in sizes:
        n = sum(int(np.prod(s)) for s in param_shapes(1, hidden, 1, 1).values())
        print(f"GRU hidden {hidden} ({n:,} parameters): one update, median of {repeats}")
        for key, spec in OPTIMIZERS.items():
            ours, adam = [], []
            for _ in range(3):  # interleaved: Adam, this one, Adam, this one, …
                adam.append(time_step("adam", hidden, repeats // 3))
                ours.append(time_step(key, hidden, repeats // 3))
            t, a = statistics.median(ours), statistics.median(adam)
            print(f"  {spec.name:10s} {t * 1e6:9.1f} µs   ratio to Adam {t / a:6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
