"""A full classroom race, timed: ~1,000 windows, lookback 20, H = 64, batch 32, 100 epochs, Adam and RMSprop.

Prints the wall time of the race, and as a reference measured in the same run the time of the bare
training steps it contains (the same number of ``loss_and_grads`` + ``opt.step`` calls on the same
batches, with no evaluation, gate snapshots or events): their ratio is the engine's overhead.  Also the
peak memory traced while racing (``tracemalloc``), against the size of one step's buffers, to show memory
stays O(B·T·H) and does not grow with epochs.

    python bench/bench_race.py            # the classroom run (100 epochs)
    python bench/bench_race.py --epochs 5 # quicker
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gru_core.config import Contestant, GRUConfig, RunConfig, TrainConfig  # noqa: E402
from gru_core.data import prepare_run  # noqa: E402
from gru_core.data.datasets import load_dataset  # noqa: E402
from gru_core.model.gru import GRURegressor  # noqa: E402
from gru_core.optim import make_optimizer  # noqa: E402
from gru_core.train import Race  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--hidden", type=int, default=64)
    args = ap.parse_args(argv)

    # the run as the race page hands it to the engine (gru_ui.race.session.build_race): one RunConfig
    run = RunConfig(model=GRUConfig(hidden_size=args.hidden), train=TrainConfig(epochs=args.epochs, batch_size=32),
                    contestants=[Contestant("adam", hyper={"lr": 0.01}), Contestant("rmsprop", hyper={"lr": 0.001})],
                    seeds=[0])  # fmt: skip
    series = load_dataset("noisy_sine", length=1270, seed=0)
    prepared = prepare_run(series, run.data)  # lookback 20, split 0.8/0.1/0.1
    n_train = len(prepared.X_train)
    model_cfg = run.model_config()
    contestants = run.race_contestants()
    cfg = run.train_config()

    race = Race(prepared, model_cfg, contestants, cfg)
    t0 = time.perf_counter()
    events = 0
    for _ in race.run():
        events += 1
    t_race = time.perf_counter() - t0
    steps = race.step

    # memory: traced peak of a short race and of one three times as long (tracemalloc slows allocation,
    # so it is kept out of the timed run); flat memory means the two peaks agree
    peaks = []
    for epochs in (2, 6):
        tracemalloc.start()
        Race(prepared, model_cfg, contestants, replace(cfg, epochs=epochs)).train()
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    peak = peaks[-1]

    # reference: the bare steps, same batches, no evaluation or events
    models = [GRURegressor.from_config(model_cfg) for _ in contestants]
    opts = [make_optimizer(c.optimizer, **c.hyper) for c in contestants]
    rng = np.random.default_rng(0)
    X, y = prepared.X_train, prepared.y_train
    t0 = time.perf_counter()
    for _ in range(args.epochs):
        order = rng.permutation(n_train)
        for s in range(0, n_train, 32):
            idx = order[s : s + 32]
            for m, o in zip(models, opts):
                _, g = m.loss_and_grads(X[idx], y[idx])
                o.step(m.params, g)
    t_bare = time.perf_counter() - t0

    B, T, H = 32, 20, args.hidden
    one_step = 8 * (T * (3 * H * 4 + 4 * H + (H + 1) * 2) * B)  # the workspace's main buffers, bytes
    print(f"classroom race: {n_train} training windows, lookback 20, H={H}, batch 32, {args.epochs} epochs, "
          "Adam + RMSprop in lockstep")  # fmt: skip
    print(f"  race wall time      {t_race:7.2f} s  ({steps} lockstep steps, "
          f"{2 * steps / t_race:,.0f} optimizer steps/s, "
          f"{events} events)")  # fmt: skip
    print(f"  bare steps (ref.)   {t_bare:7.2f} s")
    print(f"  ratio race / bare   {t_race / t_bare:7.2f}  (engine overhead: validation, gate snapshots, events)")
    print(f"  peak traced memory  {peaks[0] / 2**20:7.1f} MiB after 2 epochs, {peak / 2**20:.1f} MiB after 6 "
          f"(ratio {peak / peaks[0]:.2f}); {peak / one_step:.1f} x one training step's buffers "
          f"({one_step / 2**20:.2f} MiB): the validation and test sets' buffers dominate")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
