"""The race page's loss-surface section driven by Streamlit's AppTest (issue 17): it draws what the engine computes
for the shown race (no arithmetic of its own), its settings travel in the link, a bad link value is reported, and
it waits for the race to be paused or to end.  Harness: ``tests/test_app.py`` (thread backend, one seed).
"""

from __future__ import annotations

import json
import time

import numpy as np
from test_app import _runner, make_app, no_exception, train_and_wait  # noqa: F401 - _runner: the autouse fixture
from test_pages_classroom import arr

from gru_core.surface import SurfaceSettings, race_surface


def surface_specs(at) -> dict[str, dict]:
    """The section's charts by key."""
    out = {}
    for el in at.get("plotly_chart"):
        key = str(el.proto.id)
        spec = json.loads(el.proto.spec)
        title = ((spec.get("layout") or {}).get("title") or {}).get("text", "")
        out[title] = spec
        out.setdefault("_ids", []).append(key)
    return out


def draw(at, timeout: float = 60.0):
    at.button(key="surface.draw").click().run()
    no_exception(at)
    run = at.session_state["surface.run"]
    assert run.handle.join(timeout), "the surface was not computed in time"
    at.run()
    no_exception(at)
    return run


def test_the_section_draws_the_engines_surface_of_the_race_with_cuts_and_downloads():
    at = make_app(epochs="8", hidden_size="8")
    handle = train_and_wait(at)
    assert at.button(key="surface.draw").label == "Draw the loss surface"
    run = draw(at)
    specs = surface_specs(at)
    surface = next(s for t, s in specs.items() if t.startswith("Where they went"))
    contour = surface["data"][0]
    assert contour["type"] == "contour"
    # the same numbers as the engine's, for this race's recorded paths
    race = handle.live._inner.race
    p = race.prepared
    paths = {"origin": race.initial_flat, "epochs": {}, "params": {}, "status": {}}
    for name in race.runs:
        paths["epochs"][name], paths["params"][name] = race.trajectory(name)
        paths["status"][name] = race.runs[name].status
    ref = race_surface(handle.cfg.model_config(), {"train": (p.X_train, p.y_train), "val": (p.X_val, p.y_val)},
                       paths, SurfaceSettings())  # fmt: skip
    np.testing.assert_array_equal(arr(contour["customdata"]), np.array(ref["L"]))
    adam = next(t for t in surface["data"] if t.get("name") == "Adam")
    np.testing.assert_array_equal(np.c_[arr(adam["x"]), arr(adam["y"])], np.array(ref["paths"]["Adam"]["coords"]))
    assert any(t.startswith("Start → each end point") for t in specs)
    assert any(t.startswith("End point ↔ end point") for t in specs)
    labels = [b.label for b in at.get("download_button")]
    assert "Download the grid (CSV)" in labels and "Download everything (JSON)" in labels
    assert run.meta["link"].startswith("?") and "epochs=8" in run.meta["link"]
    assert at.button(key="surface.draw").label == "Redraw"


def test_surface_settings_go_into_the_link_and_come_back_from_it():
    at = make_app(epochs="4", hidden_size="4")
    train_and_wait(at)
    at.radio(key="surf.plane").set_value("random").run()
    no_exception(at)
    assert at.query_params["surf.plane"] == "random"
    assert at.number_input(key="surf.seed").value == 0  # shown for random directions only
    at2 = make_app(**{"epochs": "4", "surf.loss": "val", "surf.n": "15", "surf.zoom": "2"})
    no_exception(at2)
    assert at2.session_state["surf.loss"] == "val" and at2.session_state["surf.n"] == 15
    assert at2.session_state["surf.zoom"] == 2.0
    assert at2.query_params["surf.n"] == "15" and at2.query_params["epochs"] == "4"
    assert not at2.warning  # the surface's parameters are not mistaken for unknown run settings
    at3 = make_app(**{"epochs": "4", "surf.n": "5000", "surf.plane": "sideways"})
    warned = "\n".join(str(w.value) for w in at3.warning)
    assert "surf.n=5000" in warned and "surf.plane=sideways" in warned
    assert at3.session_state["surf.n"] == 31


def test_the_section_waits_for_a_pause_or_the_end():
    at = make_app(epochs="400", hidden_size="4")
    at.session_state["ctl.speed"] = 20  # steps per second: still running when the page is drawn again
    at.button(key="btn.train").click().run()
    handle = at.session_state["race"]
    time.sleep(0.3)
    at.run()
    no_exception(at)
    assert handle.live.snapshot().status == "running"
    caps = "\n".join(str(c.value) for c in at.caption)
    assert "Appears when the race is paused or has ended" in caps
    assert not [b for b in at.button if b.key == "surface.draw"]
    handle.live.stop()
    handle.live.join(10)


def test_with_several_seeds_the_surface_is_the_shown_seeds():
    at = make_app(seeds="3", epochs="4", hidden_size="4")
    handle = train_and_wait(at)
    for h in handle.live.handles:
        assert h.join(30)
    at.run()
    at.selectbox(key="view.seed").set_value(2).run()
    no_exception(at)
    run = draw(at)
    assert run.meta["seed"] == handle.cfg.seeds[2]
    assert any("seed 2, 3 of 3" in str(s.value) for s in at.subheader if "loss surface" in str(s.value))
    p = handle.prepared
    windows = {"train": (p.X_train, p.y_train), "val": (p.X_val, p.y_val)}
    res = run.handle.snapshot().result
    shown, first = (race_surface(handle.cfg.model_config(), windows, handle.live.seed_trajectories(i),
                                 SurfaceSettings()) for i in (2, 0))  # fmt: skip
    np.testing.assert_array_equal(np.array(res["L"]), np.array(shown["L"]))
    assert res["origin_loss"] == shown["origin_loss"] != first["origin_loss"]  # seed 2's own start, not seed 0's
