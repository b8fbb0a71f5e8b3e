"""The live loss chart's own address (gru_ui.race.live_route, issue 13): it answers with the page's own figure of
the race, sends nothing new when the browser has that version, refuses unknown tokens, and the page hands the chart
its address only where the server serves it.  The browser side (the chart polling it while a race trains) is
tests/test_browser.py's; this file uses AppTest's thread backend (harness: tests/test_app.py).
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
from starlette.requests import Request
from test_app import _runner, make_app, no_exception, train_and_wait  # noqa: F401 - _runner: the autouse fixture

from gru_ui.race import live as L
from gru_ui.race import live_route
from gru_ui.race import live_text as T


def get(token: str, version: int | None = None, part: str = ""):
    """The route's answer for ``part`` ("", "status", "gates/<i>"), as Starlette would route the request."""
    query = b"" if version is None else f"v={version}".encode()
    params = {"token": token}
    handler = live_route.live_chart
    if part == "status":
        handler = live_route.live_status
    elif part.startswith("gates/"):
        handler, params["index"] = live_route.live_gates, part.split("/", 1)[1]
    path = f"{live_route.PATH}/{token}" + (f"/{part}" if part else "")
    scope = {"type": "http", "method": "GET", "path": path, "query_string": query, "headers": [],
             "path_params": params}  # fmt: skip
    return handler(Request(scope))


def live_elements(at) -> dict[str, dict]:
    """The page's live elements by their role: "loss" (the chart with its heading), "status", "gates-<i>"."""
    found = {}
    for el in at.get("bidi_component"):
        data = json.loads(el.proto.json or "{}")
        if data.get("kind") == "html":
            found["status"] = data
        elif "head" in data or (data.get("spec") and "Loss per epoch" in data["spec"]):
            found["loss"] = data
        elif data.get("poll", "") and "/gates/" in data["poll"] or data.get("spec") and "gate" in data["spec"]:
            found[f"gates-{len([k for k in found if k.startswith('gates')])}"] = data
    return found


def component_data(at) -> dict:
    data = live_elements(at).get("loss")
    assert data is not None, "no live chart on the page"
    return data


def test_the_route_serves_the_pages_own_figure_and_nothing_new_for_the_same_version():
    at = make_app(epochs="5", hidden_size="4")
    handle = train_and_wait(at)
    resp = get(handle.token)
    assert resp.status_code == 200 and resp.headers["cache-control"] == "no-store"
    msg = json.loads(resp.body)
    assert msg["status"] == "finished" and msg["done"] is True
    fig, version, spec = L.loss_spec(handle, handle.live.snapshot())
    assert msg["v"] == version and msg["spec"] == json.loads(spec)  # the figure the page draws, unchanged
    names = {t["name"] for t in msg["spec"]["data"]}
    assert {"Adam · train", "RMSprop · train"} <= names
    again = json.loads(get(handle.token, version).body)
    snap = handle.live.snapshot()
    assert again == {"v": version, "status": "finished", "done": True, "head": T.heading(handle, snap),
                     "stamp": T.stamp(handle, snap)}  # the browser has it: no spec; the heading and stamp always
    assert again["head"].startswith("Finished: epoch 5 / 5") and json.loads(again["stamp"])[0] == "finished"
    assert get("not-a-token").status_code == 404
    assert len(handle.token) >= 24  # unguessable: 18 random bytes


def test_the_page_gives_the_chart_its_address_only_where_the_server_serves_it(monkeypatch):
    at = make_app(epochs="300", hidden_size="4")
    at.session_state["ctl.speed"] = 30  # still training when the page is drawn
    at.button(key="btn.train").click().run()
    no_exception(at)
    handle = at.session_state["race"]
    assert handle.live.snapshot().status in ("running", "idle")
    assert component_data(at)["poll"] is None  # AppTest: no server, no address (the fragment redraws the chart)
    monkeypatch.setattr(live_route, "enabled", True)
    at.run()
    data = component_data(at)
    assert data["poll"] == f"{live_route.PATH}/{handle.token}" and data["every"] == L.POLL_INTERVAL
    assert data["version"] >= 1
    handle.live.stop()
    handle.live.join(10)


def test_the_status_columns_and_gate_heatmaps_have_their_own_addresses():
    at = make_app(epochs="5", hidden_size="4")
    handle = train_and_wait(at)
    snap = handle.live.snapshot()
    msg = json.loads(get(handle.token, part="status").body)
    assert msg["html"] == T.status_block(handle, snap) and msg["done"] is True
    for name in ("Adam", "RMSprop"):
        assert f">{name}</span>" in msg["html"]
    assert "validation loss" in msg["html"] and "epoch 5 / 5" not in msg["html"]  # (the columns say "5 / 5")
    assert "epoch: <strong>5 / 5</strong>" in msg["html"]
    assert "html" not in json.loads(get(handle.token, msg["v"], part="status").body)  # nothing new for that version
    for i, name in enumerate(handle.labels):
        msg = json.loads(get(handle.token, part=f"gates/{i}").body)
        fig, version, spec = L.gate_spec(handle, snap, i)
        assert msg["v"] == version and msg["spec"] == json.loads(spec)
        assert name in json.dumps(msg["spec"]["layout"])  # its own contestant's heatmaps
    for bad in ("gates/2", "gates/-1", "gates/x"):
        assert get(handle.token, part=bad).status_code == 404
    assert get("not-a-token", part="status").status_code == 404


def test_a_gate_figure_updated_in_place_is_sent_again_as_a_new_version():
    """The gate heatmaps are refreshed in place (the same figure object, new values): their JSON must follow (it
    was cached by the object and kept the first epoch's values)."""
    at = make_app(epochs="5", hidden_size="4")
    handle = train_and_wait(at)
    snap = handle.live.snapshot()
    _, v1, spec1 = L.gate_spec(handle, snap, 0)
    name = handle.labels[0]
    gates = [{k: (np.asarray(v) * 0.5 if k in ("z", "r", "n", "h") else v) for k, v in layer.items()}
             for layer in snap.gates[name]]  # fmt: skip
    later = dataclasses.replace(snap, status="stopped", gates={**snap.gates, name: gates},
                                history={n: [*h, h[-1]] for n, h in snap.history.items()})  # fmt: skip
    fig2, v2, spec2 = L.gate_spec(handle, later, 0)
    assert v2 == v1 + 1 and spec2 != spec1
    z = np.asarray(fig2.data[1].z, dtype=float)
    assert z.size and np.allclose(json_z(spec2), z)


def json_z(spec: str) -> np.ndarray:
    """The first heatmap's z as the browser decodes it (plotly.py writes arrays as base64 {dtype, bdata, shape})."""
    import base64

    z = json.loads(spec)["data"][1]["z"]
    if isinstance(z, dict):
        arr = np.frombuffer(base64.b64decode(z["bdata"]), dtype=np.dtype(z["dtype"]))
        return arr.reshape([int(n) for n in str(z.get("shape", len(arr))).split(",")])
    return np.asarray(z, dtype=float)


def test_with_the_route_every_live_part_fetches_its_own_updates(monkeypatch):
    """Where the server has the route, the page draws the heading into the chart, the status columns as one live
    element and the gate heatmaps (a moment later, the first time), each with its own address; the chart carries
    the race's stamp, and the status and gates fragments have no timer of their own."""
    monkeypatch.setattr(live_route, "enabled", True)
    at = make_app(epochs="300", hidden_size="4")
    at.session_state["ctl.speed"] = 30  # still training when the page is drawn
    at.button(key="btn.train").click().run()
    no_exception(at)
    handle = at.session_state["race"]
    live = live_elements(at)
    loss, status = live["loss"], live["status"]
    assert loss["head"].startswith(("Training: epoch", "Starting: epoch")) and loss["stamp"]
    assert json.loads(loss["stamp"])[0] in ("running", "idle")
    assert not [m for m in at.markdown if str(m.value).startswith("#### ")]  # the heading is the chart's
    assert status["poll"] == f"{live_route.PATH}/{handle.token}/status" and status["every"] == L.STATUS_POLL
    assert "Adam" in status["html"] and "RMSprop" in status["html"]
    gates = [live[k] for k in sorted(live) if k.startswith("gates")]
    assert len(gates) == 2 and all(g["spec"] is None and g["placeholder"] for g in gates)  # the curves first
    assert [g["poll"] for g in gates] == [f"{live_route.PATH}/{handle.token}/gates/{i}" for i in range(2)]
    assert L.status_interval("running", routed=True) is None and L.gates_interval("running", routed=True) is None
    assert L.interval("running", routed=True) == L.ROUTED_INTERVAL  # the fallback look
    at.run()
    gates = [v for k, v in sorted(live_elements(at).items()) if k.startswith("gates")]
    assert len(gates) == 2 and all(g.get("spec") for g in gates)  # drawn from then on
    handle.live.stop()
    handle.live.join(10)


def test_under_a_base_url_path_the_page_asks_under_it_and_the_routes_answer_there(monkeypatch):
    """A lab behind a proxy at /lab/ (``server.baseUrlPath``): Streamlit mounts an app's own routes at the root, so
    enable() adds them under /lab/ too and the page's addresses start with it (checked in a real server by hand:
    the page's requests went to /lab/_gru/live/<token>, 200)."""
    from starlette.routing import Match

    monkeypatch.setattr(live_route, "enabled", False)
    monkeypatch.setattr(live_route, "prefix", "")
    mounted = live_route.enable("/lab/")
    assert live_route.url_for("tok") == "/lab/_gru/live/tok"
    assert live_route.url_for("tok", "gates/1") == "/lab/_gru/live/tok/gates/1"

    def handler(path: str):
        scope = {"type": "http", "method": "GET", "path": path, "query_string": b"", "headers": []}
        found = [r for r in mounted if r.matches(scope)[0] is Match.FULL]
        return found[0].endpoint if found else None

    assert handler("/lab/_gru/live/tok") is live_route.live_chart
    assert handler("/lab/_gru/live/tok/status") is live_route.live_status
    assert handler("/lab/_gru/live/tok/gates/0") is live_route.live_gates
    assert handler("/_gru/live/tok") is live_route.live_chart  # the root ones stay
    assert handler("/other/_gru/live/tok") is None
    assert live_route.enable(None) == live_route.ROUTES and live_route.url_for("tok") == "/_gru/live/tok"
