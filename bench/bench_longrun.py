"""A long race through the page's own code path: does the server stay light after ten minutes?

What the race page does while a race trains, without a browser: ``gru_ui.race.session.start_race`` (a
``RaceHandle`` around the job the server's runner trains: a worker process by default, ``GRU_LAB_BACKEND``
chooses) for the page's default run (``settings.PAGE_DEFAULT``), then
at the page's cadence (``gru_ui.race.live.LIVE_INTERVAL``, ``GATES_INTERVAL``) a snapshot, the heartbeat,
the loss chart through ``live.cached_figure`` / ``live.loss_figure`` and the gate heatmaps through
``live.gate_figure``, each serialised with ``live.figure_json`` as the live chart component sends it.
Every ``--lr-every`` seconds it pauses, changes Adam's learning rate (``changes.set_lr``) and resumes, as
a teacher would, so markers and pauses are drawn too.

Reports the server's memory (RSS, from /proc/self/status; the race's own memory is its worker's) at 1 minute
and at the end, and its growth (target: under 20 %), the redraw time per update (mean and p95, and the same
for the last minute only: it must not grow with the history), the drawn points per curve (≤
``figures.MAX_POINTS``) and the training speed.

    python bench/bench_longrun.py                 # 10 minutes
    python bench/bench_longrun.py --minutes 0.05  # smoke test (tests/test_longrun.py)
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gru_core.config import SETTINGS  # noqa: E402
from gru_core.data.datasets import load_dataset  # noqa: E402
from gru_ui import figures as F  # noqa: E402
from gru_ui.race import changes as C  # noqa: E402
from gru_ui.race import live as L  # noqa: E402
from gru_ui.race import session as R  # noqa: E402
from gru_ui.race import settings as S  # noqa: E402


def rss_mb() -> float:
    """Resident memory of this process now (MB); the peak from getrusage where /proc is missing."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # pragma: no cover


def stats(ms: list[float]) -> str:
    if not ms:
        return "no updates"
    a = np.asarray(ms)
    return f"mean {a.mean():.2f} ms, p95 {np.percentile(a, 95):.2f} ms, max {a.max():.1f} ms over {len(a)} updates"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0, help="how long to train (default 10)")
    ap.add_argument("--baseline", type=float, default=1.0, help="minute of the reference RSS (default 1)")
    ap.add_argument("--data", default="noisy_sine")
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=SETTINGS["epochs"].limit)
    ap.add_argument("--lr-every", type=float, default=60.0, help="seconds between learning-rate changes")
    ap.add_argument("--check", action="store_true", help="exit 1 if memory grew by 20 %% or more")
    args = ap.parse_args(argv)

    total = args.minutes * 60.0
    baseline_at = min(args.baseline * 60.0, total / 2)
    cfg = S.PAGE_DEFAULT.replace(source=args.data, hidden_size=args.hidden, epochs=args.epochs)
    series = load_dataset(cfg.data.source)
    prepared, problems = R.check_config(cfg, series)
    if problems:
        print("configuration problems:", problems)
        return 2
    labels = cfg.labels
    key = S.config_key(cfg)
    rss_start = rss_mb()
    handle = R.start_race(prepared, cfg, key, series, F.assign_colors(labels), max_races=8)
    print(f"long run: {cfg.data.source}, hidden {cfg.model.hidden_size}, {', '.join(labels)}, {handle.n_batches} "
          f"mini-batches per epoch, {args.minutes:g} min, {handle.live.backend} backend; redraw every "
          f"{L.LIVE_INTERVAL:g} s (gates every {L.GATES_INTERVAL:g} s)", flush=True)  # fmt: skip

    loss_ms: list[float] = []
    gate_ms: list[float] = []
    tail_ms: list[float] = []  # loss redraws of the last minute
    rss_base = None
    t0 = time.monotonic()
    next_gates = t0
    next_lr = t0 + args.lr_every
    lrs = [0.002, 0.001]
    n_changes = 0
    max_points = 0
    snap = handle.live.snapshot()
    try:
        while True:
            now = time.monotonic()
            if now - t0 >= total or not handle.live.running:
                break
            if rss_base is None and now - t0 >= baseline_at:
                gc.collect()
                rss_base = (now - t0, rss_mb())
                print(f"  RSS at {rss_base[0] / 60:.2f} min: {rss_base[1]:.1f} MB", flush=True)
            if now >= next_lr and "Adam" in handle.labels:  # a teacher pauses, turns a knob, resumes
                handle.live.pause()
                for _ in range(200):
                    if handle.live.snapshot().status == "paused":
                        break
                    time.sleep(0.01)
                C.set_lr(handle, "Adam", lrs[n_changes % 2])
                handle.live.resume()
                n_changes += 1
                next_lr = now + args.lr_every
            # ---- one live redraw, as the page's curves fragment does it ----
            t = time.perf_counter()
            snap = handle.live.snapshot()
            R.heartbeat(handle.live)
            live = snap.status in L.LIVE_STATUSES
            fig = L.cached_figure(handle, "loss", L.loss_key(handle, snap, True, 0.0, False),
                                  lambda snap=snap: L.loss_figure(handle, snap, True, 0.0), live=live)  # fmt: skip
            L.figure_json(handle, "loss", fig)
            base = C.base_lrs(handle, snap)  # the live learning-rate controls
            for name in handle.labels:
                R.progress(handle, snap, name)
                _ = base.get(name)
            ms = (time.perf_counter() - t) * 1000
            loss_ms.append(ms)
            if now - t0 >= total - 60:
                tail_ms.append(ms)
            max_points = max([max_points, *(len(tr.x) for tr in fig.data if tr.x is not None)])
            if now >= next_gates:
                t = time.perf_counter()
                for name in handle.labels:
                    g = L.gate_figure(handle, snap, name, -1, False)
                    L.figure_json(handle, f"gates.{name}", g)
                gate_ms.append((time.perf_counter() - t) * 1000)
                next_gates = now + L.GATES_INTERVAL
            time.sleep(max(0.0, L.LIVE_INTERVAL - (time.monotonic() - now)))
        snap = handle.live.snapshot()
        elapsed = time.monotonic() - t0
        gc.collect()
        rss_end = rss_mb()
    finally:
        handle.live.stop()
        handle.live.join(30)
    if rss_base is None:
        rss_base = (elapsed, rss_end)
    growth = 100.0 * (rss_end - rss_base[1]) / rss_base[1]
    steps_s = snap.step / snap.elapsed if snap.elapsed else 0.0
    history = max((len(h) for h in snap.history.values()), default=0)
    print(f"trained {elapsed / 60:.2f} min: {snap.epoch} epochs, {snap.step:,} steps, {steps_s:,.0f} steps/s "
          f"({snap.status}); history kept in full: {history} records per optimizer; {n_changes} learning-rate "
          f"changes, {len(snap.pauses)} pauses")  # fmt: skip
    print(f"RSS: start {rss_start:.1f} MB, at {rss_base[0] / 60:.2f} min {rss_base[1]:.1f} MB, at end "
          f"{rss_end:.1f} MB; growth {growth:+.1f} % (target < 20 %)")  # fmt: skip
    print(f"redraw (loss chart + status) per update: {stats(loss_ms)}")
    print(f"redraw (loss chart), last minute only: {stats(tail_ms)}")
    print(f"redraw (gate heatmaps, all optimizers) per update: {stats(gate_ms)}")
    print(f"drawn points per curve: at most {max_points} (limit {F.MAX_POINTS})")
    summary = {
        "minutes": elapsed / 60,
        "rss_start_mb": rss_start,
        "rss_base_mb": rss_base[1],
        "rss_base_minutes": rss_base[0] / 60,
        "rss_end_mb": rss_end,
        "rss_growth_pct": growth,
        "redraw_mean_ms": float(np.mean(loss_ms)) if loss_ms else None,
        "redraw_p95_ms": float(np.percentile(loss_ms, 95)) if loss_ms else None,
        "gates_mean_ms": float(np.mean(gate_ms)) if gate_ms else None,
        "steps_per_s": steps_s,
        "epochs": snap.epoch,
        "max_points": max_points,
        "updates": len(loss_ms),
    }
    print("summary " + json.dumps(summary))
    if args.check and growth >= 20:
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
