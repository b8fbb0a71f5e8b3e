"""The live loss chart's own address on the web server: ``GET /_gru/live/<token>?v=<version>``.

Why.  A Streamlit fragment that redraws the chart five times a second makes the browser re-render Streamlit's
page five times a second: profiled in Chromium while a race trained, 43 % of the page's main thread went to
React and emotion re-rendering Streamlit's element tree, 9 % to Plotly drawing the chart.  So the chart asks the
server itself for a newer figure (:data:`~gru_ui.race.live.POLL_INTERVAL`), outside Streamlit's rerun cycle, and
redraws only itself; the fragment around it runs at :data:`~gru_ui.race.live.ROUTED_INTERVAL` for the heading
and to notice a new status.

The answer: ``{"v": version, "status": ..., "done": bool, "spec": <the figure>}``, the spec left out when the
browser already has that version (``?v=``).  The figure is the page's own (:func:`gru_ui.race.live.loss_spec`,
built only when what it shows changed, drawn as the page last asked: ``RaceHandle.view``).  The token is the
race's (unguessable, ``secrets.token_urlsafe``); an unknown token or a session that ended gives 404, and the chart
then keeps the updates the fragment brings.  Each request counts as the page watching the race (the watchdog).

Registered by ``app.py`` when ``streamlit run app.py`` starts the server (an ``st.App`` with this route,
:data:`ROUTES`); :data:`enabled` says so to the page.  No Streamlit calls here: the handler runs in the
server's thread pool, not in a script run.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .live import LIVE_STATUSES, loss_spec
from .session import handle_by_token, heartbeat

__all__ = ["PATH", "ROUTES", "enable", "enabled", "live_chart", "url_for"]

PATH = "/_gru/live"
enabled = False  # True in a server process whose app has ROUTES (app.py)


def enable() -> list[Any]:
    """Called by app.py as it builds the server's app: the routes to mount, and the page starts using them."""
    global enabled
    enabled = True
    return ROUTES


def url_for(token: str) -> str | None:
    """The chart's address (relative to the page), or None where no server serves it (AppTest, tests)."""
    return f"{PATH}/{token}" if enabled else None


def live_chart(request: Request) -> Response:
    """The newest live loss figure of the race with this token (see the module docstring).  A plain function:
    Starlette runs it in its thread pool, so building a figure never blocks the server's event loop."""
    handle = handle_by_token(request.path_params.get("token", ""))
    if handle is None:
        return JSONResponse({"gone": True}, status_code=404)
    snap = handle.live.snapshot()
    heartbeat(handle.live)
    _, version, spec = loss_spec(handle, snap)
    done = snap.status not in LIVE_STATUSES
    head = f'{{"v": {version}, "status": "{snap.status}", "done": {"true" if done else "false"}'
    if request.query_params.get("v") == str(version):
        return Response(head + "}", media_type="application/json", headers={"Cache-Control": "no-store"})
    return Response(head + f', "spec": {spec}}}', media_type="application/json", headers={"Cache-Control": "no-store"})


ROUTES = [Route(PATH + "/{token}", live_chart, methods=["GET"])]
