"""The live race's own addresses on the web server: what changes while a race trains, fetched by the page's live
elements (gru_ui.race.live_plot) outside Streamlit's reruns.

    GET /_gru/live/<token>?v=<version>           the loss chart, its heading line and the race's stamp
    GET /_gru/live/<token>/status?v=<version>    the status columns (HTML)
    GET /_gru/live/<token>/gates/<i>?v=<version> contestant i's gate heatmaps

Why.  A Streamlit fragment that redraws part of the page makes the browser re-render Streamlit's whole page:
profiled in Chromium while a race trained, 43 % of the page's main thread went to React and emotion re-rendering
Streamlit's element tree.  So every live element asks the server itself for a newer version (the chart every
:data:`~gru_ui.race.live.POLL_INTERVAL` s, the status columns every ``STATUS_POLL``, the heatmaps every
``GATES_POLL``) and redraws only itself; Streamlit runs the page again only when the race's stamp
(:func:`gru_ui.race.live_text.stamp`: its status, its learning-rate controls) differs from the one the page was
drawn with, which the chart notices and asks for.

An answer: ``{"v": version, "status": ..., "done": bool, ...}`` plus the content (``spec``: a figure, ``html``), left
out when the browser already has that version (``?v=``).  The content is the page's own, drawn as the page last
asked (``RaceHandle.view``, ``RaceHandle.gates_view``), built only when what it shows changed.  The token is the
race's (unguessable, ``secrets.token_urlsafe``); an unknown token or a session that ended gives 404, and the element
then keeps the updates the page's reruns bring.  Each request counts as the page watching the race (the watchdog).

Registered by ``app.py`` when ``streamlit run app.py`` starts the server (an ``st.App`` with these routes,
:data:`ROUTES`); :data:`enabled` says so to the page.  Under ``server.baseUrlPath`` (a lab behind a reverse proxy
at ``/lab/``) Streamlit mounts an app's own routes at the server's root, not under the base path, so
:func:`enable` adds the same routes under ``/<base>/_gru/live`` and the page asks there: a proxy that forwards only
``/lab/`` still reaches them.  No Streamlit calls here: the handlers run in the server's
thread pool, not in a script run.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .live import LIVE_STATUSES, gate_spec, loss_spec, text_version
from .live_text import heading, stamp, status_block
from .session import RaceHandle, handle_by_token, heartbeat

__all__ = [
    "PATH",
    "ROUTES",
    "enable",
    "enabled",
    "live_chart",
    "live_gates",
    "live_status",
    "prefix",
    "routes",
    "url_for",
]

PATH = "/_gru/live"
enabled = False  # True in a server process whose app has ROUTES (app.py)
prefix = ""  # "/<server.baseUrlPath>" where the server has one: the page's addresses start with it
NO_STORE = {"Cache-Control": "no-store"}


def enable(base_url_path: str | None = "") -> list[Any]:
    """Called by app.py as it builds the server's app with the server's ``server.baseUrlPath``: the routes to mount
    (at the root and, where there is a base path, under it too), and the page starts using them."""
    global enabled, prefix
    base = (base_url_path or "").strip("/")
    enabled, prefix = True, f"/{base}" if base else ""
    return ROUTES + (routes(prefix + PATH) if prefix else [])


def url_for(token: str, part: str = "") -> str | None:
    """The address of a race's live element (relative to the page): ``part`` "" (the chart), "status",
    "gates/<i>"; None where no server serves it (AppTest, tests)."""
    return (f"{prefix}{PATH}/{token}" + (f"/{part}" if part else "")) if enabled else None


def _answer(request: Request, handle: RaceHandle, snap, version: int, field: str, content: str,
            **extra: Any) -> Response:  # fmt: skip
    """The JSON answer: the small fields, and ``content`` (already JSON) unless the browser has ``version``."""
    small = {"v": version, "status": snap.status, "done": snap.status not in LIVE_STATUSES, **extra}
    text = json.dumps(small, ensure_ascii=False)
    if request.query_params.get("v") != str(version):
        text = text[:-1] + f', "{field}": {content}}}'
    return Response(text, media_type="application/json", headers=NO_STORE)


def _race(request: Request):
    handle = handle_by_token(request.path_params.get("token", ""))
    if handle is None:
        return None, None
    snap = handle.live.snapshot()
    heartbeat(handle.live)
    return handle, snap


def _gone() -> Response:
    return JSONResponse({"gone": True}, status_code=404, headers=NO_STORE)


def live_chart(request: Request) -> Response:
    """The newest live loss figure of the race with this token, its heading line and its stamp.  A plain
    function: Starlette runs it in its thread pool, so building a figure never blocks the server's event loop."""
    handle, snap = _race(request)
    if handle is None:
        return _gone()
    _, version, spec = loss_spec(handle, snap)
    return _answer(request, handle, snap, version, "spec", spec, head=heading(handle, snap),
                   stamp=stamp(handle, snap))  # fmt: skip


def live_status(request: Request) -> Response:
    """The status columns of the race with this token, as HTML."""
    handle, snap = _race(request)
    if handle is None:
        return _gone()
    text = status_block(handle, snap)
    return _answer(request, handle, snap, text_version(handle, "status", text), "html", json.dumps(text))


def live_gates(request: Request) -> Response:
    """Contestant ``i``'s gate heatmaps in the race with this token."""
    handle, snap = _race(request)
    if handle is None:
        return _gone()
    try:
        found = gate_spec(handle, snap, int(request.path_params.get("index", -1)))
    except ValueError:
        found = None
    if found is None:
        return _gone()
    _, version, spec = found
    return _answer(request, handle, snap, version, "spec", spec)


def routes(path: str = PATH) -> list[Route]:
    """The three addresses under ``path``."""
    return [
        Route(path + "/{token}", live_chart, methods=["GET"]),
        Route(path + "/{token}/status", live_status, methods=["GET"]),
        Route(path + "/{token}/gates/{index}", live_gates, methods=["GET"]),
    ]


ROUTES = routes()
