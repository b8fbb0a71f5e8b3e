"""The live loss chart's own address (gru_ui.race.live_route, issue 13): it answers with the page's own figure of
the race, sends nothing new when the browser has that version, refuses unknown tokens, and the page hands the chart
its address only where the server serves it.  The browser side (the chart polling it while a race trains) is
tests/test_browser.py's; this file uses AppTest's thread backend (harness: tests/test_app.py).
"""

from __future__ import annotations

import json

from starlette.requests import Request
from test_app import _runner, make_app, no_exception, train_and_wait  # noqa: F401 - _runner: the autouse fixture

from gru_ui.race import live as L
from gru_ui.race import live_route


def get(token: str, version: int | None = None):
    query = b"" if version is None else f"v={version}".encode()
    scope = {"type": "http", "method": "GET", "path": f"{live_route.PATH}/{token}", "query_string": query,
             "headers": [], "path_params": {"token": token}}  # fmt: skip
    return live_route.live_chart(Request(scope))


def component_data(at) -> dict:
    for el in at.get("bidi_component"):
        data = json.loads(el.proto.json or "{}")
        if "spec" in data:
            return data
    raise AssertionError("no live chart on the page")


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
    assert again == {"v": version, "status": "finished", "done": True}  # the browser has it: no spec
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
