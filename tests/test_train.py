"""The training engine: lockstep fairness, determinism, divergence, early stopping, stopping, schedules."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from gru_core.data import prepare
from gru_core.data.datasets import load_dataset
from gru_core.model.gru import GRUConfig, GRURegressor
from gru_core.train import Contestant, Race, TrainConfig, recursive_forecast
from gru_core.train.live import LiveRace


@pytest.fixture(scope="module")
def prepared():
    return prepare(load_dataset("noisy_sine", length=300, seed=1), lookback=12, split=(0.7, 0.15, 0.15))


def small_race(prepared, contestants=None, model=None, **train):
    model = model or GRUConfig(hidden_size=8, seed=3, dropout=0.2)
    contestants = contestants or [Contestant("adam", hyper={"lr": 0.01}), Contestant("rmsprop")]
    cfg = TrainConfig(**{"epochs": 4, "batch_size": 16, "seed": 5, **train})
    return Race(prepared, model, contestants, cfg)


def histories(result):
    return {r["name"]: [(h["train_loss"], h["val_loss"], h["grad_norm"]) for h in r["history"]] for r in result["runs"]}


def test_identical_contestants_get_identical_numbers(prepared):
    # Same weights, same batches, same dropout masks: two copies of one optimizer must agree bit for bit.
    race = small_race(prepared, [Contestant("adam", label="A"), Contestant("adam", label="B")])
    result = race.train()
    h = histories(result)
    assert h["A"] == h["B"]
    assert len(h["A"]) == 4
    np.testing.assert_array_equal(race.runs["A"].model.params.flat, race.runs["B"].model.params.flat)


def test_contestants_start_from_the_same_weights(prepared):
    race = small_race(prepared)
    flats = [run.model.params.flat.copy() for run in race.runs.values()]
    np.testing.assert_array_equal(flats[0], flats[1])
    np.testing.assert_array_equal(flats[0], GRURegressor.from_config(race.model_config).params.flat)
    race.train()
    a, b = (run.model.params.flat for run in race.runs.values())
    assert not np.array_equal(a, b)  # different optimizers really did different things


def test_same_seed_same_numbers_different_seed_differs(prepared):
    r1 = small_race(prepared).train()
    r2 = small_race(prepared).train()
    r3 = small_race(prepared, seed=6).train()
    assert histories(r1) == histories(r2)
    assert [r["test"] for r in r1["runs"]] == [r["test"] for r in r2["runs"]]
    assert histories(r1) != histories(r3)


def test_divergence_is_marked_and_others_carry_on(prepared):
    race = small_race(
        prepared,
        [Contestant("sgd", hyper={"lr": 1e6}, label="SGD wild"), Contestant("adam", hyper={"lr": 0.01})],
        epochs=3,
    )
    result = race.train()
    wild, adam = result["runs"]
    assert wild["diverged"] is True and wild["status"] == "diverged"
    assert wild["diverged_step"] >= 1 and wild["diverged_epoch"] == 1
    assert wild["test"] is None
    assert adam["diverged"] is False and adam["status"] == "finished"
    assert len(adam["history"]) == 3 and math.isfinite(adam["test"]["mse"])


def test_early_stopping_restores_best_weights(prepared):
    race = small_race(prepared, [Contestant("sgd", hyper={"lr": 0.5, "momentum": 0.9})], epochs=40, patience=2)
    result = race.train()
    run = result["runs"][0]
    assert run["status"] == "early_stopped"
    assert run["stopped_epoch"] == run["best_epoch"] + 2
    vals = [h["val_loss"] for h in run["history"]]
    assert min(vals) == vals[run["best_epoch"] - 1]
    m = race.runs[run["name"]].model
    assert race._val_loss(m) == pytest.approx(min(vals), rel=1e-12)  # the best weights are back


def test_without_restore_the_last_weights_stay(prepared):
    race = small_race(
        prepared, [Contestant("sgd", hyper={"lr": 0.5, "momentum": 0.9})], epochs=40, patience=2, restore_best=False
    )
    run = race.train()["runs"][0]
    last_val = run["history"][-1]["val_loss"]
    assert last_val > min(h["val_loss"] for h in run["history"])
    assert race._val_loss(race.runs[run["name"]].model) == pytest.approx(last_val, rel=1e-12)


def test_stop_keeps_what_was_trained(prepared):
    race = small_race(prepared, epochs=50)
    for ev in race.run():
        if ev.kind == "epoch" and ev.epoch == 2:
            race.stop()
    result = race.result()
    assert result["epochs_run"] == 2
    for run in result["runs"]:
        assert run["status"] == "stopped" and len(run["history"]) == 2
        assert math.isfinite(run["test"]["rmse"])


def test_events_carry_numbers_and_gates_not_models(prepared):
    race = small_race(prepared, epochs=2, log_every=5)
    events = list(race.run())
    kinds = [e.kind for e in events]
    assert kinds[0] == "epoch" and kinds[-1] == "end" and "step" in kinds
    ev = [e for e in events if e.kind == "epoch"][-1]
    T, H = prepared.X_val.shape[1], 8
    for name, layers in ev.gates.items():
        g = layers[0]
        assert set(g) == {"z", "r", "n", "h"}
        assert all(v.shape == (T, H) for v in g.values())
        assert 0 <= g["z"].min() and g["z"].max() <= 1 and -1 <= g["n"].min() and g["n"].max() <= 1
        assert all(isinstance(v, (int, float, str, type(None))) for v in ev.runs[name].values())


def test_schedules_change_the_learning_rate(prepared):
    race = small_race(prepared, [Contestant("sgd", hyper={"lr": 0.1})], epochs=4, schedule="step", step_every=2,
                      step_gamma=0.5)  # fmt: skip
    lrs = [h["lr"] for h in race.train()["runs"][0]["history"]]
    assert lrs == [0.1, 0.1, 0.05, 0.05]
    race = small_race(prepared, [Contestant("sgd", hyper={"lr": 0.1})], epochs=4, schedule="cosine")
    lrs = [h["lr"] for h in race.train()["runs"][0]["history"]]
    expected = [0.1 * 0.5 * (1 + math.cos(math.pi * e / 4)) for e in range(4)]
    assert lrs == pytest.approx(expected)


def test_result_has_baselines_and_metrics_in_series_units(prepared):
    result = small_race(prepared, epochs=2).train()
    assert set(result["baselines"]) == {"persistence", "linear"}
    for r in result["runs"]:
        assert set(r["test"]) >= {"mse", "rmse", "mae", "mape", "r2"}
        pred = np.asarray(r["test_pred"])
        assert pred.shape == prepared.y_test_raw.shape
        mse = float(np.mean((pred - prepared.y_test_raw) ** 2))  # computed here, not by the engine
        assert r["test"]["mse"] == pytest.approx(mse, rel=1e-10)


def test_bad_configs_are_refused(prepared):
    with pytest.raises(ValueError, match="epochs"):
        small_race(prepared, epochs=0)
    with pytest.raises(ValueError, match="batch_size"):
        small_race(prepared, batch_size=-1)
    with pytest.raises(ValueError, match="schedule"):
        small_race(prepared, schedule="warp")
    with pytest.raises(ValueError, match="contestants"):
        Race(prepared, GRUConfig(), [], TrainConfig())
    with pytest.raises(ValueError, match="distinct"):
        small_race(prepared, [Contestant("adam"), Contestant("adam")])
    with pytest.raises(ValueError, match="unknown|Unknown"):
        small_race(prepared, [Contestant("adamz")])  # no such optimizer
    with pytest.raises(ValueError, match="output_size"):
        Race(prepared, GRUConfig(output_size=3), [Contestant("adam")], TrainConfig())


class _Last:
    """A stand-in model that predicts the last value of its window (persistence), or two steps."""

    def __init__(self, horizon=1):
        self.horizon = horizon

    def predict(self, X):
        return np.repeat(X[:, -1, :1], self.horizon, axis=1) + np.arange(1, self.horizon + 1)


class _Identity:
    def transform(self, x):
        return np.asarray(x, dtype=float)

    def inverse_transform(self, x):
        return np.asarray(x, dtype=float)


def test_recursive_forecast_feeds_predictions_back():
    out = recursive_forecast(_Last(), _Identity(), [1.0, 2.0, 3.0], steps=4)
    np.testing.assert_array_equal(out, [4.0, 5.0, 6.0, 7.0])  # last + 1, fed back each time
    out = recursive_forecast(_Last(horizon=2), _Identity(), [0.0, 0.0, 10.0], steps=3)
    np.testing.assert_array_equal(out, [11.0, 12.0, 13.0])  # two per call: 11, 12; then last=12 → 13
    with pytest.raises(ValueError, match="steps"):
        recursive_forecast(_Last(), _Identity(), [1.0], steps=0)


def test_live_race_runs_in_a_thread_and_stops(prepared):
    live = LiveRace(small_race(prepared, epochs=500))
    live.start()
    for _ in range(200):
        if live.snapshot().epoch >= 2:
            break
        live.join(0.05)
    live.stop()
    assert live.join(10)
    snap = live.snapshot()
    assert snap.status == "stopped" and 2 <= snap.epoch < 500
    assert snap.result is not None and len(snap.result["runs"]) == 2
    assert all(len(h) == snap.result["epochs_run"] for h in snap.history.values())
    assert snap.gates is not None


def test_live_race_reports_errors_instead_of_dying_silently(prepared):
    race = small_race(prepared, epochs=2)

    def broken():
        raise RuntimeError("boom")
        yield  # pragma: no cover

    race.run = broken
    live = LiveRace(race)
    live.start()
    assert live.join(10)
    snap = live.snapshot()
    assert snap.status == "error" and "boom" in snap.error


# ---- classroom control: pause, resume, step, learning-rate interventions ------------------------------


def _numbers(result):
    return histories(result), [r["test"] for r in result["runs"]]


def test_pause_and_resume_give_the_same_numbers_as_an_uninterrupted_run(prepared):
    reference = small_race(prepared, epochs=5).train()
    race = small_race(prepared, epochs=5)
    gen = race.run()
    paused_events = 0
    for ev in gen:
        if ev.kind == "epoch" and ev.epoch == 1:
            race.pause()
        if ev.kind == "paused":
            paused_events += 1
            assert race.paused
            if paused_events == 1:
                race.step_batches(3)  # three more mini-batches, then halt again
            elif paused_events == 2:
                assert race.step == race.pauses[0]["step"] + 3
                race.step_epoch()  # to the end of the epoch, then halt
            else:
                race.resume()
    assert paused_events == 3
    assert [p["changed"] for p in race.pauses] == [False, False, False]
    assert _numbers(race.result()) == _numbers(reference)


def test_step_one_epoch_trains_a_whole_epoch_and_pause_before_halts_at_that_step(prepared):
    race = small_race(prepared, epochs=6)
    n = math.ceil(len(prepared.X_train) / 16)  # mini-batches per epoch
    race.pause_before(n + 3)  # inside epoch 2
    halts = []
    for ev in race.run():
        if ev.kind != "paused":
            continue
        halts.append((race.step, race.epoch))
        if len(halts) == 1:
            assert race.step == n + 2  # step n + 3 has not trained yet
            race.step_epoch()  # halted inside an epoch: one epoch's worth of mini-batches from here
        elif len(halts) == 2:
            race.step_epoch()
        else:
            race.resume()
    assert halts == [(n + 2, 1), (2 * n + 2, 2), (3 * n + 2, 3)]
    assert _numbers(race.result()) == _numbers(small_race(prepared, epochs=6).train())  # halting changes nothing
    late = small_race(prepared, epochs=2)
    late.step = 5
    late.pause_before(3)  # already past: ignored
    assert late._pause_step is None
    with pytest.raises(ValueError):
        late.pause_before(0)


def test_elapsed_time_leaves_pauses_out(prepared):
    live = LiveRace(small_race(prepared, epochs=3))
    live.race.pause_before(2)
    live.start()
    end = time.monotonic() + 30
    while live.snapshot().status != "paused" and time.monotonic() < end:
        time.sleep(0.01)
    first = live.snapshot().elapsed
    time.sleep(0.6)
    assert live.snapshot().elapsed == pytest.approx(first, abs=0.05)  # halted: the clock stands still
    live.resume()
    assert live.join(60)
    snap = live.snapshot()
    assert snap.status == "finished" and live.race.paused_seconds >= 0.55
    assert snap.elapsed < (live._t_end - live._t0) - 0.5


def test_learning_rate_change_applies_from_the_next_step_and_replays_exactly(prepared):
    race = small_race(prepared, epochs=4)
    for ev in race.run():
        if ev.kind == "epoch" and ev.epoch == 1:
            race.pause()
        if ev.kind == "paused":
            race.set_lr("Adam", 0.05)
            race.resume()
    live = race.result()
    (iv,) = live["interventions"]
    assert iv["optimizer"] == "Adam" and iv["field"] == "lr" and iv["old"] == 0.01 and iv["new"] == 0.05
    assert iv["step"] == race.pauses[0]["step"] + 1
    assert race.pauses[0]["changed"] is True
    adam = next(r for r in live["runs"] if r["name"] == "Adam")
    assert [h["lr"] for h in adam["history"]] == [0.01, 0.05, 0.05, 0.05]
    # replaying the recorded intervention, without pausing, gives the same numbers bit for bit
    replay = Race(race.prepared, race.model_config, [r.contestant for r in race.runs.values()], race.train_config,
                  interventions=live["interventions"]).train()  # fmt: skip
    assert _numbers(replay) == _numbers(live)
    # and it differs from the run without the change
    assert _numbers(small_race(prepared, epochs=4).train()) != _numbers(live)


def test_bad_interventions_are_refused(prepared):
    race = small_race(prepared)
    with pytest.raises(ValueError, match="unknown contestant"):
        race.set_lr("Lion", 0.1)
    with pytest.raises(ValueError, match="positive"):
        race.set_lr("Adam", -1)
    with pytest.raises(ValueError, match="only the learning rate"):
        Race(prepared, GRUConfig(hidden_size=4), [Contestant("adam")], TrainConfig(),
             interventions=[{"step": 1, "optimizer": "Adam", "field": "eps", "new": 1}])
    with pytest.raises(ValueError, match="k must be a positive integer"):
        race.step_batches(0)


def test_live_race_pauses_and_resumes(prepared):
    live = LiveRace(small_race(prepared, epochs=300))
    live.start()
    for _ in range(400):
        if live.snapshot().epoch >= 1:
            break
        live.join(0.02)
    live.pause()
    for _ in range(400):
        if live.snapshot().status == "paused":
            break
        live.join(0.02)
    snap = live.snapshot()
    assert snap.status == "paused"
    live.join(0.3)
    assert live.snapshot().step == snap.step  # nothing moves while paused
    live.set_lr("RMSprop", 0.002)
    live.resume()
    for _ in range(400):
        if live.snapshot().step > snap.step:
            break
        live.join(0.02)
    assert live.snapshot().step > snap.step
    live.stop()
    assert live.join(10)
    final = live.snapshot()
    assert final.interventions and final.interventions[0]["new"] == 0.002
    assert final.pauses[0]["changed"] is True


def test_epoch_events_carry_test_forecasts_in_series_units(prepared):
    """Each event's forecasts are those of the models as they are when it is handed out (checked then, not
    after the race: restore_best changes the weights at the end), and the end event's are the best epoch's."""
    sgd, adam = Contestant("sgd", hyper={"lr": 0.5, "momentum": 0.9}), Contestant("adam", hyper={"lr": 0.01})
    race = small_race(prepared, [sgd, adam], epochs=40, patience=2)
    seen: dict[str, dict[int, np.ndarray]] = {name: {} for name in race.runs}
    end = None
    for ev in race.run():
        if ev.kind not in ("epoch", "end"):
            continue
        assert set(ev.forecasts) == set(race.runs)
        for name, pred in ev.forecasts.items():
            assert pred.shape == prepared.y_test_raw.shape
            y = race.runs[name].model.predict(prepared.X_test)  # this contestant's weights right now
            np.testing.assert_allclose(pred, prepared.scaler.inverse_transform(y), rtol=1e-12)
            if ev.kind == "epoch" and len(race.runs[name].history) == ev.epoch:  # it trained in this epoch
                seen[name][ev.epoch] = pred.copy()
        if ev.kind == "epoch" and ev.epoch == 1:
            assert ev.runs["SGD"]["stopped_epoch"] is None and "diverged_reason" in ev.runs["SGD"]
        end = ev if ev.kind == "end" else end
    runs = {r["name"]: r for r in race.result()["runs"]}
    sgd_run = runs["SGD"]
    assert sgd_run["status"] == "early_stopped" and sgd_run["best_epoch"] < sgd_run["stopped_epoch"]
    best, last = seen["SGD"][sgd_run["best_epoch"]], seen["SGD"][sgd_run["stopped_epoch"]]
    assert not np.allclose(best, last)  # so the end event can tell the best epoch from the last one
    for name, run in runs.items():  # restore_best: the end event forecasts with the best epoch's weights
        np.testing.assert_array_equal(end.forecasts[name], seen[name][run["best_epoch"]], err_msg=name)


def test_continuing_from_saved_weights_and_optimizer_state_is_exact(prepared):
    # epochs 1-2, then 3-4 started from the saved weights and Adam state = epochs 1-4 in one go
    # (no shuffling and no dropout, so the second race sees the same batches as the tail of the first)
    cfg = GRUConfig(hidden_size=6, seed=2)

    def race(epochs, **kw):
        return Race(prepared, cfg, [Contestant("adam", hyper={"lr": 0.01})],
                    TrainConfig(epochs=epochs, batch_size=16, shuffle=False, restore_best=False), **kw)

    full = race(4)
    full.train()
    first = race(2)
    first.train()
    run = first.runs["Adam"]
    second = race(2, initial_params=run.model.params.flat, initial_optimizer_states={"Adam": run.opt.state_dict()})
    second.train()
    np.testing.assert_array_equal(second.runs["Adam"].model.params.flat, full.runs["Adam"].model.params.flat)
    with pytest.raises(ValueError, match="initial_params"):
        race(1, initial_params=np.zeros(3))
    with pytest.raises(ValueError):
        Race(prepared, cfg, [Contestant("rmsprop", label="Adam")], TrainConfig(epochs=1),
             initial_optimizer_states={"Adam": run.opt.state_dict()})


def test_paused_right_after_a_resume_reads_paused_only_where_training_halted(prepared):
    """Resume, then Pause again at once: the snapshot must not call the race paused (at the step of the pause before)
    while the worker still finishes the mini-batch it took after the Resume.  A teacher's "step to the epoch's end"
    counts from that step; it failed CI once when it was stale."""
    live = LiveRace(small_race(prepared, epochs=2000, batch_size=1))  # ~200 mini-batches between two events
    live.start()
    live.pause()
    for _ in range(500):
        if live.snapshot().status == "paused":
            break
        live.join(0.01)
    stale = 0
    for _ in range(20):
        live.resume()
        time.sleep(0.02)  # the worker takes a few mini-batches
        live.pause()
        snap = live.snapshot()
        if snap.status == "paused":  # paused must mean halted at the snapshot's step
            time.sleep(0.05)
            stale += live.snapshot().step != snap.step
        for _ in range(500):
            if live.snapshot().status == "paused":
                break
            live.join(0.01)
        halted = live.snapshot()
        assert halted.status == "paused" and live.race.step == halted.step
    live.stop()
    assert live.join(10)
    assert stale == 0
