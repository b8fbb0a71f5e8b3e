"""The race on its own loss surface, end to end in the engine: the Race records each contestant's path (bounded),
the runner hands the paths over (while paused or once ended) and computes the surface off the caller's thread on
every backend, with the same numbers; the picture's numbers agree with the model's own losses.

Tiny races (a sine of 300 points, 4 hidden units) so the file runs in seconds.
"""

from __future__ import annotations

import numpy as np
import pytest
from _exact import bits
from test_runner import wait_for

from gru_core.config import RunConfig
from gru_core.data.source import load_source, prepare_run
from gru_core.model.gru import GRURegressor
from gru_core.runner import RaceJob, Runner
from gru_core.runner.surface import SurfaceJob
from gru_core.surface import SurfaceSettings, in_plane, race_surface
from gru_core.surface.race import SURFACE_QUERY_PREFIX
from gru_core.train import Race
from gru_core.train.race import TRAJECTORY_FLOATS, trajectory_points


def tiny_config(epochs: int = 5, **train) -> RunConfig:
    return RunConfig.from_dict({"data": {"source": "sine", "params": {"length": 300}, "lookback": 12},
                                "model": {"hidden_size": 4},
                                "train": {"epochs": epochs, "batch_size": 16, **train}})  # fmt: skip


def tiny_race(cfg: RunConfig) -> Race:
    prepared = prepare_run(load_source(cfg.data), cfg.data)
    return Race(prepared, cfg.model_config(), cfg.race_contestants(), cfg.train_config())


def windows(race: Race) -> dict:
    p = race.prepared
    return {"train": (p.X_train, p.y_train), "val": (p.X_val, p.y_val)}


def paths_of(race: Race) -> dict:
    first = next(iter(race.runs.values())).model
    out = {"origin": race.initial_flat.copy(), "epochs": {}, "params": {}, "shapes": dict(first.params.shapes),
           "status": {k: r.status for k, r in race.runs.items()}}  # fmt: skip
    for name in race.runs:
        out["epochs"][name], out["params"][name] = race.trajectory(name)
    return out


def mse(model_config, flat, X, y) -> float:
    """The model's own loss (its forward pass in evaluation mode) at parameters ``flat``."""
    m = GRURegressor.from_config(model_config)
    m.params.flat[:] = flat
    pred = m.predict(X)
    return float(np.mean((pred - y) ** 2))


# ---- recording -------------------------------------------------------------------------------------------------


def test_the_race_records_every_epoch_from_the_shared_start_to_the_final_weights():
    race = tiny_race(tiny_config(epochs=5, restore_best=False))
    seen = {name: [] for name in race.runs}
    for ev in race.run():
        if ev.kind == "epoch":
            for name, run in race.runs.items():
                seen[name].append(run.model.params.flat.copy())
    for name, run in race.runs.items():
        epochs, params = race.trajectory(name)
        assert epochs.tolist() == [0, 1, 2, 3, 4, 5]
        assert np.array_equal(params[0], race.initial_flat)  # one start for every contestant
        assert np.array_equal(params, np.stack(seen[name]))  # what the model held after each epoch, bit for bit
        assert np.array_equal(params[-1], run.model.params.flat)


def test_restored_best_weights_end_the_path_and_a_pause_ends_it_mid_epoch():
    race = tiny_race(tiny_config(epochs=4, restore_best=True))
    race.train()
    for name, run in race.runs.items():
        epochs, params = race.trajectory(name)
        assert np.array_equal(params[-1], run.model.params.flat)  # the model's end weights: the best epoch's
        assert epochs[-1] == run.best_epoch
    race = tiny_race(tiny_config(epochs=4))
    per_epoch = -(-len(race.prepared.X_train) // 16)
    race.pause_before(per_epoch + 5)  # halted mid-way through epoch 2
    events = race.run()
    for ev in events:
        if ev.kind == "paused":
            break
    epochs, params = race.trajectory("Adam")
    assert race.step == per_epoch + 4 and epochs[-1] == pytest.approx((per_epoch + 4) / per_epoch)
    assert epochs[:-1].tolist() == [0, 1]
    assert np.array_equal(params[-1], race.runs["Adam"].model.params.flat)
    race.stop()
    race.resume()
    list(events)


def test_the_record_is_bounded_by_the_float_budget():
    assert trajectory_points(3393, 2) == 88  # hidden 32: an 80-epoch race keeps every epoch but the last few
    assert trajectory_points(50_000, 6) == 12  # the floor: a path still has a shape
    assert trajectory_points(100, 1) == 101  # the ceiling
    race = tiny_race(tiny_config(epochs=300, batch_size=256))
    k = trajectory_points(race.initial_flat.size, len(race.runs))
    race.train()
    for rec in race.trajectories.values():
        assert len(rec) <= k and rec.nbytes <= k * race.initial_flat.size * 8
    held = sum(r.nbytes for r in race.trajectories.values())
    assert held <= max(TRAJECTORY_FLOATS, 2 * 101 * race.initial_flat.size) * 8


# ---- the picture's numbers ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def finished():
    cfg = tiny_config(epochs=6)
    race = tiny_race(cfg)
    race.train()
    return cfg, race, paths_of(race)


def test_the_surface_agrees_with_the_models_own_losses(finished):
    cfg, race, paths = finished
    win = windows(race)
    res = race_surface(cfg.model_config(), win, paths, SurfaceSettings(n=9, precision="exact"))
    X, y = win["train"]
    origin = paths["origin"]
    assert res["origin_loss"] == pytest.approx(mse(cfg.model_config(), origin, X, y), rel=1e-12)
    a, b, L = np.array(res["a"]), np.array(res["b"]), np.array(res["L"])
    plane_origin_on_grid = (np.abs(a).min(), np.abs(b).min())
    assert L.shape == (9, 9) and np.isfinite(L).all()
    for name, p in res["paths"].items():
        P = paths["params"][name]
        coords = np.array(p["coords"])
        # the projected coordinates give back the in-plane part of every stored point (to rounding)
        d = P - origin
        from gru_core.surface import pca_plane

        plane = pca_plane(origin, {k: v for k, v in paths["params"].items()})
        in_part = origin + (d @ plane.basis) @ plane.basis.T
        np.testing.assert_allclose(in_plane(plane, coords), in_part, rtol=0, atol=1e-12 * np.abs(P).max())
        np.testing.assert_allclose(np.linalg.norm(P - in_part, axis=1), p["off_plane"], atol=1e-12)
        # the real loss at each recorded point, the first one the shared start's
        assert p["loss"][-1] == pytest.approx(mse(cfg.model_config(), P[-1], X, y), rel=1e-12)
        assert p["loss"][0] == res["origin_loss"]
        # the cut from the start to this end point: its ends are the two losses
        t, Lc = np.array(res["cuts"]["start"][name]["t"]), np.array(res["cuts"]["start"][name]["L"])
        assert Lc[t == 0][0] == pytest.approx(res["origin_loss"], rel=1e-12)
        assert Lc[t == 1][0] == pytest.approx(p["loss"][-1], rel=1e-12)
    ends = res["cuts"]["ends"]
    first, second = ends["pair"]
    t, Le = np.array(ends["t"]), np.array(ends["L"])
    assert Le[t == 0][0] == pytest.approx(res["paths"][first]["loss"][-1], rel=1e-12)
    assert Le[t == 1][0] == pytest.approx(res["paths"][second]["loss"][-1], rel=1e-12)
    inside = Le[(t >= 0) & (t <= 1)]
    assert ends["barrier"] == pytest.approx(inside.max() - max(inside[0], inside[-1]))
    assert plane_origin_on_grid[0] >= 0  # (the grid need not pass through θ0; the origin loss is computed exactly)


def test_fast_grid_is_float32_close_and_the_validation_surface_differs(finished):
    cfg, race, paths = finished
    win = windows(race)
    exact = race_surface(cfg.model_config(), win, paths, SurfaceSettings(n=7, precision="exact"))
    fast = race_surface(cfg.model_config(), win, paths, SurfaceSettings(n=7))
    np.testing.assert_allclose(fast["L"], exact["L"], rtol=1e-4)
    assert fast["origin_loss"] == exact["origin_loss"]  # printed numbers stay float64
    val = race_surface(cfg.model_config(), win, paths, SurfaceSettings(n=7, loss="val", precision="exact"))
    Xv, yv = win["val"]
    assert val["origin_loss"] == pytest.approx(mse(cfg.model_config(), paths["origin"], Xv, yv), rel=1e-12)
    assert val["origin_loss"] != exact["origin_loss"]


def test_random_plane_zoom_progress_and_stop(finished):
    cfg, race, paths = finished
    win = windows(race)
    seen = []
    res = race_surface(cfg.model_config(), win, paths, SurfaceSettings(n=7, plane="random", zoom=2.0, seed=3),
                       progress=lambda d, t: seen.append((d, t)))  # fmt: skip
    assert res["plane"] == "random" and np.isnan(res["explained"]).all() and all(s > 0 for s in res["scales"])
    base = race_surface(cfg.model_config(), win, paths, SurfaceSettings(n=7, plane="random", seed=3))
    assert (res["extent"][1] - res["extent"][0]) == pytest.approx(2 * (base["extent"][1] - base["extent"][0]))
    assert seen[-1][0] == seen[-1][1] and all(d1 <= d2 for (d1, _), (d2, _) in zip(seen, seen[1:]))
    from gru_core.surface import SurfaceCancelled

    with pytest.raises(SurfaceCancelled):
        race_surface(cfg.model_config(), win, paths, SurfaceSettings(n=7), stop=lambda: True)


def test_a_diverged_contestant_is_drawn_up_to_its_last_finite_point(finished):
    cfg, race, paths = finished
    bad = {**paths, "epochs": dict(paths["epochs"]), "params": dict(paths["params"])}
    P = bad["params"]["RMSprop"].copy()
    P[-2:] = np.nan
    bad["params"]["RMSprop"] = P
    res = race_surface(cfg.model_config(), windows(race), bad, SurfaceSettings(n=7))
    assert len(res["paths"]["RMSprop"]["coords"]) == len(P) - 2
    assert any("RMSprop" in n and "NaN" in n for n in res["notes"])
    with pytest.raises(ValueError, match="no validation windows"):
        race_surface(cfg.model_config(), {"train": windows(race)["train"], "val": (np.zeros((0, 12, 1)), None)},
                     paths, SurfaceSettings(loss="val"))  # fmt: skip


def test_settings_travel_in_the_link_and_bad_values_are_reported():
    s = SurfaceSettings(plane="random", loss="val", n=41, zoom=1.5, seed=7, pair=("RMSprop", "Adam"))
    q = s.to_query()
    assert all(k.startswith(SURFACE_QUERY_PREFIX) for k in q)
    back, notes = SurfaceSettings.from_query({k: [v] for k, v in q.items()} | {"epochs": ["3"]})
    assert back == s and notes == []
    assert SurfaceSettings().to_query() == {}  # the defaults leave the link as it was
    back, notes = SurfaceSettings.from_query({"surf.n": "1000", "surf.plane": "hessian", "surf.zoom": "nan",
                                              "surf.loss": "val", "surf.colour": "red"})  # fmt: skip
    assert back == SurfaceSettings(loss="val")
    assert len(notes) == 4 and any("surf.n=1000" in n for n in notes) and any("unknown" in n for n in notes)
    with pytest.raises(ValueError):
        SurfaceJob(model=tiny_config().model_config(), windows={}, paths={"params": {}}, settings={"n": 3})


# ---- through the runner ---------------------------------------------------------------------------------------


def test_paths_and_surface_are_the_same_on_thread_process_and_dask(dask_client):
    cfg = tiny_config(epochs=4)
    settings = SurfaceSettings(n=7)
    out = {}
    for backend in ("thread", "process", "dask"):
        runner = Runner(backend, workers=1, scheduler=dask_client if backend == "dask" else None)
        try:
            race = runner.submit(RaceJob(cfg, controls=[("pause_before", (8,))]))
            wait_for(lambda race=race: race.snapshot().status == "paused", what=f"{backend}: the pause")
            paused = race.trajectories()
            race.resume()
            assert race.join(60) and race.snapshot().status == "finished"
            paths = race.trajectories()
            prepared = prepare_run(load_source(cfg.data), cfg.data)
            win = {"train": (prepared.X_train, prepared.y_train), "val": (prepared.X_val, prepared.y_val)}
            job = SurfaceJob(model=cfg.model_config(), windows=win, paths=paths, settings=settings)
            handle = runner.submit(job)
            assert handle.kind == "surface" and handle.labels == ["Adam", "RMSprop"]
            assert handle.join(60)
            snap = handle.snapshot()
            assert snap.status == "finished", snap.error
            assert snap.fraction == 1.0 and snap.backend == backend
            out[backend] = (paused, paths, snap.result)
        finally:
            runner.shutdown()
    ref_paused, ref_paths, ref = out["thread"]
    per_epoch = -(-len(prepare_run(load_source(cfg.data), cfg.data).X_train) // 16)
    assert ref_paused["epochs"]["Adam"][-1] == pytest.approx(7 / per_epoch)
    for backend, (paused, paths, res) in out.items():
        assert bits(paused["params"]) == bits(ref_paused["params"]), backend
        assert bits(paths["params"]) == bits(ref_paths["params"]), backend
        for key in ("L", "a", "b", "paths", "cuts", "origin_loss", "explained"):
            assert bits(res[key]) == bits(ref[key]), (backend, key)


def test_a_surface_waits_in_line_behind_a_race_and_can_be_stopped():
    cfg = tiny_config(epochs=3)
    runner = Runner("thread", workers=1)
    try:
        race = runner.submit(RaceJob(cfg))
        assert race.join(60)
        prepared = prepare_run(load_source(cfg.data), cfg.data)
        win = {"train": (prepared.X_train, prepared.y_train), "val": (prepared.X_val, prepared.y_val)}
        blocker = runner.submit(RaceJob(cfg, controls=[("pause", ())]))
        wait_for(lambda: blocker.snapshot().status == "paused", what="the blocking race")
        job = SurfaceJob(model=cfg.model_config(), windows=win, paths=race.trajectories(), settings={"n": 61})
        handle = runner.submit(job)
        snap = handle.snapshot()
        assert snap.status == "queued" and snap.queue_position == 1
        handle.stop()  # leaves the line
        assert handle.join(5) and handle.snapshot().status == "cancelled"
        blocker.stop()
        assert blocker.join(30)
        handle = runner.submit(SurfaceJob(model=cfg.model_config(), windows=win, paths=race.trajectories(),
                                          settings={"n": 61, "precision": "exact"}))  # fmt: skip
        wait_for(lambda: handle.snapshot().done > 0, what="the surface's first blocks")
        handle.stop()
        assert handle.join(10)
        snap = handle.snapshot()
        assert snap.status == "stopped" and snap.result is None and snap.done < snap.total
    finally:
        runner.shutdown()
