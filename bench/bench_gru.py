"""Time one training step (forward + BPTT + Adam) of our NumPy GRU against PyTorch's on the CPU.

Both run in this process, interleaved (ours, theirs, ours, theirs, ...), with the same dtype, sizes,
weights and batch, so a noisy machine slows both alike; the figure that matters is the *ratio*
ours / PyTorch (below 1 means we are faster).  Also prints the GFLOP/s our step achieves on its
matrix products against a plain NumPy matmul of the same shape (``(3H, H+1) @ (H+1, B)``, the
recurrent product of one step, one BLAS thread) timed in the same run, interleaved with the steps.

    python bench/bench_gru.py            # the issue's sizes, float64 and float32
    python bench/bench_gru.py --quick    # one small size, a smoke test (CI runs this)

Targets (issue 2): geometric mean of the ratios <= 0.35, no size above 0.7; >= 50% of the matmul
GFLOP/s at H = 128.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gru_core import GRURegressor, _blas  # noqa: E402
from gru_core.optim import Adam  # noqa: E402

SIZES = [(32, 30, 16), (32, 30, 32), (32, 60, 64), (64, 30, 128)]  # (B, T, H)


def step_flops(B: int, T: int, H: int, D: int = 1) -> float:
    """Multiply-adds ×2 of the matrix products in one forward + backward of a one-layer GRU."""
    TB = T * B
    forward = 2 * 3 * H * (D + 1) * TB + 2 * 3 * H * (H + 1) * TB  # input and recurrent projections
    backward = 2 * H * 3 * H * TB + 2 * 3 * H * (D + 1) * TB + 2 * 3 * H * (H + 1) * TB  # ∂h, ∂W_ih, ∂W_hh
    return float(forward + backward)


def make_torch_step(torch, model: GRURegressor, X: np.ndarray, y: np.ndarray, tdtype):
    gru = torch.nn.GRU(model.input_size, model.hidden_size, model.num_layers, batch_first=True, dtype=tdtype)
    head = torch.nn.Linear(model.hidden_size, model.output_size, dtype=tdtype)
    net = torch.nn.ModuleDict({"gru": gru, "head": head})
    net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in model.params.items()})
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    loss_fn = torch.nn.MSELoss()

    def step():
        opt.zero_grad(set_to_none=True)
        out, _ = gru(Xt)
        loss = loss_fn(head(out[:, -1]), yt)
        loss.backward()
        opt.step()

    return step


def make_our_step(model: GRURegressor, X: np.ndarray, y: np.ndarray):
    opt = Adam(lr=1e-3)

    def step():
        _, grads = model.loss_and_grads(X, y)
        opt.step(model.params, grads)

    return step


def time_chunk(fn, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def interleaved(fns, rounds: int, ns) -> list[float]:
    """Median seconds per call of each function, timed in alternating chunks (fns[0] × ns[0] calls,
    fns[1] × ns[1], …, then again), so a noisy machine slows every one of them alike."""
    for fn in fns:  # warm up: buffers, caches, thread pools
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        for fn, n, ts in zip(fns, ns, times):
            ts.append(time_chunk(fn, n))
    return [statistics.median(ts) for ts in times]


def make_matmul(B: int, H: int, dtype):
    """A plain NumPy ``(3H, H+1) @ (H+1, B)`` matmul (one step's recurrent product) with the BLAS threads
    gru_core set (one), and its flop count: the reference for the GFLOP/s column."""
    rng = np.random.default_rng(0)
    W = rng.standard_normal((3 * H, H + 1)).astype(dtype)
    h = rng.standard_normal((H + 1, B)).astype(dtype)
    out = np.empty((3 * H, B), dtype)
    return (lambda: np.matmul(W, h, out=out)), 2.0 * 3 * H * (H + 1) * B


def _load() -> str:
    """The machine's state, printed with the figures: a second BLAS thread is only used for the big
    products while the load average leaves a core idle (gru_core/_blas.py)."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        return "load average unknown"
    cores = os.cpu_count() or 1
    idle = "a core idle: big products may use 2 BLAS threads" if not _blas._busy() else "no core idle: 1 BLAS thread"
    return f"load average {load:.2f} on {cores} cores ({idle})"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one small size and few rounds (a smoke test)")
    ap.add_argument("--rounds", type=int, default=7, help="alternating timing chunks per size")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    args = ap.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: pip install torch==2.13.0 (CPU build on disk)", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = SIZES[:1] if args.quick else SIZES
    rounds = 2 if args.quick else args.rounds
    print(f"numpy {np.__version__}, torch {torch.__version__}, torch threads {torch.get_num_threads()}, "
          f"{_load()}")  # fmt: skip
    print(f"{'dtype':8} {'B':>3} {'T':>3} {'H':>4} {'ours ms':>8} {'torch ms':>9} {'ratio':>6} "
          f"{'GFLOP/s':>8} {'matmul':>7} {'% mm':>5}")  # fmt: skip
    ratios = []
    for dtype, tdtype_name in ((np.float64, "float64"), (np.float32, "float32")):
        tdtype = getattr(torch, tdtype_name)
        for B, T, H in sizes:
            rng = np.random.default_rng(1)
            X = rng.standard_normal((B, T, 1)).astype(dtype)
            y = rng.standard_normal((B, 1)).astype(dtype)
            model = GRURegressor(1, H, dtype=dtype, seed=0)
            ours = make_our_step(model, X, y)
            theirs = make_torch_step(torch, model, X, y, tdtype)
            mm_fn, mm_flops = make_matmul(B, H, dtype)
            n = max(2, int(0.15 / max(1e-5, time_chunk(ours, 1))))  # ~0.15 s per chunk
            n_mm = max(10, int(0.05 / max(1e-7, time_chunk(mm_fn, 20))))  # ~0.05 s per chunk
            t_ours, t_torch, t_mm = interleaved([ours, theirs, mm_fn], rounds, [n, n, n_mm])
            ratio = t_ours / t_torch
            ratios.append(ratio)
            gf = step_flops(B, T, H) / t_ours / 1e9
            mm = mm_flops / t_mm / 1e9
            print(f"{tdtype_name:8} {B:3d} {T:3d} {H:4d} {t_ours * 1e3:8.2f} {t_torch * 1e3:9.2f} {ratio:6.2f} "
                  f"{gf:8.1f} {mm:7.1f} {100 * gf / mm:5.0f}")  # fmt: skip
    geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    worst = max(ratios)
    print(f"geometric mean ratio ours/torch: {geo:.3f} (target <= 0.35); worst: {worst:.3f} (target <= 0.7)")
    print(f"at the end: {_load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
