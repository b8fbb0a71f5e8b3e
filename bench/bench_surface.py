"""Time the race's loss surface (gru_core.surface) on the race page's default run, against one training epoch.

Everything is measured in the same run, on the race page's default (noisy sine, lookback 20: 784 training
windows; H = 32; its two contestants and batch size).  In each of several rounds, one after the other so that
a change of load slows all of them alike, it times: one epoch of the default race; the plain way (the model's
own forward pass at each grid point) on one row of the grid; and :func:`gru_core.surface.loss_grid` on a
quarter of the grid's points in float64 on one thread, float64 on the default threads, and float32.  The best
round of each, scaled to the whole grid (the work per point is the same), is printed with its ratio to one
epoch and to the plain way.  Then the whole 31 × 31 grid is computed once (float64, default threads) and
timed as it comes, with the load average, as the page would meet it.

What bounds the grid: per point, window and step a (3H × (H+2)) product and 3H tanh.  The benchmark times
that product and NumPy's tanh here, in the same run, and prints the floor they set for one core.

    python bench/bench_surface.py           # the 31 × 31 grid (target: <= 5 s)
    python bench/bench_surface.py --quick   # a 7 × 7 grid, one round: a smoke test
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gru_core import surface  # noqa: E402
from gru_core.data.source import load_source, prepare_run  # noqa: E402
from gru_core.model.gru import GRURegressor  # noqa: E402
from gru_core.train import Race  # noqa: E402
from gru_core.train.race import TRAJECTORY_FLOATS  # noqa: E402
from gru_ui.race.settings import PAGE_DEFAULT  # noqa: E402

VARIANTS = (("float64, 1 thread", np.float64, 1), ("float64, default threads", np.float64, None),
            ("float32, default threads", np.float32, None))  # fmt: skip


def load() -> str:
    try:
        return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "load average unknown"


def timed(f):
    t = time.perf_counter()
    out = f()
    return time.perf_counter() - t, out


def best_of(f, repeat: int, number: int) -> float:
    f()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(number):
            f()
        best = min(best, (time.perf_counter() - t) / number)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a 7 x 7 grid, one round (smoke test)")
    ap.add_argument("--rounds", type=int, default=None, help="timing rounds (default 3, quick 1)")
    args = ap.parse_args()
    n = 7 if args.quick else 31
    rounds = args.rounds or (1 if args.quick else 3)
    cfg = PAGE_DEFAULT
    prepared = prepare_run(load_source(cfg.data), cfg.data)
    X, y = prepared.X_train, prepared.y_train
    B, T, _ = X.shape
    H = cfg.model.hidden_size
    workers = min(os.cpu_count() or 1, 4)
    print(f"data {cfg.data.source}, lookback {cfg.data.lookback}: {B} training windows of T = {T}; H = {H}; "
          f"{os.cpu_count()} cores, default threads {workers}; {load()}")  # fmt: skip

    # a short default race, recording the trajectories the plane is made from
    epochs = 2 if args.quick else 4
    race = Race(prepared, cfg.model, cfg.contestants, dataclasses.replace(cfg.train, epochs=epochs))
    race.train()  # the race records every contestant's path (gru_core.train.race.TRAJECTORY_FLOATS)
    theta0 = race.initial_flat
    trajs = {name: race.trajectory(name)[1] for name in race.runs}
    t_pca, plane = timed(lambda: surface.pca_plane(theta0, trajs))
    extent = surface.default_extent({name: surface.project(plane, p) for name, p in trajs.items()})
    print(f"PCA plane of {sum(len(p) for p in trajs.values())} points × {len(theta0)} parameters: "
          f"{t_pca * 1e3:.1f} ms; explained {plane.explained[0]:.3f}, {plane.explained[1]:.3f}")  # fmt: skip
    template = GRURegressor.from_config(cfg.model)
    model = GRURegressor.from_config(cfg.model)
    model.predict(X)  # its buffers for this batch, allocated once
    a_all, b_all = np.linspace(*extent[:2], n), np.linspace(*extent[2:], n)

    def one_epoch():
        r = Race(prepared, cfg.model, cfg.contestants, dataclasses.replace(cfg.train, epochs=1))
        it = r.run()
        next(it)  # epoch 0: the starting point
        t = time.perf_counter()
        for _ in it:
            pass
        return time.perf_counter() - t

    def plain():  # one row of the grid (the middle one), the model's own forward pass at each point
        out = []
        for j in range(n):
            model.params.flat[:] = theta0 + a_all[j] * plane.d1 + b_all[n // 2] * plane.d2
            diff = model.predict(X) - y
            out.append(float(np.mean(diff * diff)))
        return out

    sub = max(3, n // 2)  # a quarter of the grid's points, on the same extent
    best = {"epoch": np.inf, "plain": np.inf, **{label: np.inf for label, _, _ in VARIANTS}}
    for _ in range(rounds):
        best["epoch"] = min(best["epoch"], one_epoch())
        sec, plain_row = timed(plain)
        best["plain"] = min(best["plain"], sec / n * n * n)
        for label, dtype, w in VARIANTS:
            sec, _ = timed(lambda: surface.loss_grid(template, X, y, plane, extent, sub, dtype=dtype, workers=w))  # noqa: B023
            best[label] = min(best[label], sec / (sub * sub) * n * n)
    epoch_s, plain_s = best["epoch"], best["plain"]
    print(f"best of {rounds} round(s), scaled to {n}×{n} = {n * n} points:")
    print(f"  one epoch of the default race ({len(race.runs)} contestants):  {epoch_s:.3f} s")
    print(f"  plain way (the model's forward, point by point): {plain_s:6.2f} s = {plain_s / epoch_s:6.1f} × one epoch")
    for label, _, _ in VARIANTS:
        s = best[label]
        print(f"  loss_grid {label:24s}:  {s:6.2f} s = {s / epoch_s:6.1f} × one epoch = {s / plain_s:.2f} × plain")

    sec, (a, b, L) = timed(lambda: surface.loss_grid(template, X, y, plane, extent, n))
    print(f"the whole {n}×{n} grid, float64, default threads, timed once: {sec:.2f} s = {sec / epoch_s:.1f} × one "
          f"epoch   [{load()}]")  # fmt: skip
    sec32, (_, _, L32) = timed(lambda: surface.loss_grid(template, X, y, plane, extent, n, dtype=np.float32))
    print(f"the whole {n}×{n} grid, float32, default threads, timed once: {sec32:.2f} s = {sec32 / epoch_s:.1f} × one "
          f"epoch   [{load()}]")  # fmt: skip
    row_err = np.max(np.abs(np.array(plain_row) / L[n // 2] - 1))
    print(f"checks: the plain way's row equals the grid's to {row_err:.1e} relative; "
          f"float32 against float64: at most {np.max(np.abs(L32 / L - 1)):.1e} relative")

    end = trajs[next(iter(trajs))][-1]
    t_line, (t, _) = timed(lambda: surface.line_losses(template, X, y, theta0, end))
    print(f"line θ0 → end point, {len(t)} points: {t_line:.2f} s = {t_line / epoch_s:.1f} × one epoch")

    # what the page asks for: the whole picture (grid in float32, paths' and cuts' losses in float64), computed
    # in one of the runner's worker processes, from Train's default race of cfg.train.epochs epochs
    from gru_core.runner import RaceJob, Runner
    from gru_core.runner.surface import SurfaceJob

    runner = Runner("process", workers=1)
    try:
        full = runner.submit(RaceJob(cfg if not args.quick else cfg.replace(epochs=epochs)))
        full.join(300)
        paths = full.trajectories()
        held = sum(p.nbytes for p in paths["params"].values())
        k = {name: len(p) for name, p in paths["params"].items()}
        print(f"paths recorded by a {full.snapshot().epoch}-epoch race: {k} points, {held / 1e6:.2f} MB "
              f"(budget {TRAJECTORY_FLOATS * 8 / 1e6:.1f} MB)")  # fmt: skip
        win = {"train": (X, y), "val": (prepared.X_val, prepared.y_val)}
        settings = surface.SurfaceSettings(n=n)
        t = time.perf_counter()
        h = runner.submit(SurfaceJob(model=cfg.model, windows=win, paths=paths, settings=settings))
        h.join(300)
        page_s = time.perf_counter() - t
        snap = h.snapshot()
        print(f"the page's request ({n}×{n} float32 grid + {sum(k.values())} path points + 3 cuts, "
              f"{snap.total:,} forward passes) in a worker process, submit → result: {page_s:.2f} s = "
              f"{page_s / epoch_s:.1f} × one epoch [{snap.status}; {load()}]")  # fmt: skip
    finally:
        runner.shutdown()

    # what bounds it: the step's product and the tanh, timed here on one block's shapes
    cols = min(B, surface.BLOCK_COLUMNS)
    rng = np.random.default_rng(0)
    K = H + 2  # [h; x; 1]
    W, h, o = rng.standard_normal((3 * H, K)), rng.standard_normal((K, cols)), np.empty((3 * H, cols))
    gflops = 2 * 3 * H * K * cols / best_of(lambda: np.matmul(W, h, out=o), 5, 200) / 1e9
    xs, out = rng.standard_normal((3 * H, cols)), np.empty((3 * H, cols))
    tanh_ns = best_of(lambda: np.tanh(xs, out=out), 5, 200) / xs.size * 1e9
    flops = n * n * B * T * 2 * 3 * H * K
    gates = n * n * B * T * 3 * H
    floor = flops / (gflops * 1e9) + gates * tanh_ns * 1e-9
    s1 = best["float64, 1 thread"]
    print(f"bound (float64, one core): {flops / 1e9:.1f} GFLOP of products at {gflops:.1f} GFLOP/s + "
          f"{gates / 1e9:.2f}·10⁹ tanh at {tanh_ns:.2f} ns = {floor:.2f} s; loss_grid on one thread {s1:.2f} s = "
          f"{s1 / floor:.2f} × that floor (the rest: 8 cheap passes over (H, columns) a step, and Python)")


if __name__ == "__main__":
    main()
