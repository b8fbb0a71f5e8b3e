"""A Plotly chart that updates in place, for the live views.

Why not ``st.plotly_chart``?  In Streamlit 1.67 its element id is a hash of the figure's JSON, even with a
``key``, and the browser uses that id as the React key: every data update unmounts the chart and plots a
new one from scratch (``Plotly.newPlot``).  At two updates a second that flickers, and on a slow client
(a projector laptop also running the server) a chart can stay blank because every redraw is cancelled by
the next one.  (Upstream: streamlit/streamlit#8782, fix proposed in #16052.)

This small ``st.components.v2`` component keeps one DOM node per ``key`` and calls ``Plotly.react`` on
it with each new figure: the same figure JSON, the same config (PNG button included), redrawn in place.
It uses the plotly.js that Streamlit's own frontend loads (``window.Plotly``) — every page that shows a
live chart also shows an ordinary ``st.plotly_chart``, which loads it — so nothing is downloaded.

:func:`preload_live_charts` loads the component's code before the first race (an instance that draws
nothing).  Set the environment variable ``GRU_LAB_LIVE_CHARTS=plotly_chart`` to fall back to
``st.plotly_chart``.
"""

from __future__ import annotations

import os
from typing import Any

import plotly.graph_objects as go
import streamlit as st

MODE = os.environ.get("GRU_LAB_LIVE_CHARTS", "component")

_JS = """
export default function (component) {
  const { data, parentElement } = component;
  if (data && data.preload) return;  // preload_live_charts: only this module's code is loaded
  let box = parentElement.querySelector(":scope > .gru-live-plot");
  if (!box) {
    box = document.createElement("div");
    box.className = "gru-live-plot";
    box.style.width = "100%";
    parentElement.appendChild(box);
  }
  // the chart's own address (gru_ui.race.live_route): while the race trains it asks for a newer figure every
  // data.every s and redraws itself, outside Streamlit's reruns; a figure is drawn only if newer than the last one
  let cancelled = false;
  if (box.__gruPoll) { clearTimeout(box.__gruPoll); box.__gruPoll = null; }
  const gen = (box.__gruGen = (box.__gruGen || 0) + 1);  // one chain of requests per chart: the newest call's
  const poll = () => {
    box.__gruPoll = null;
    if (cancelled || !data.poll || gen !== box.__gruGen) return;
    const t0 = performance.now();
    fetch(data.poll + "?v=" + (box.__gruVersion || 0), { cache: "no-store" })
      .then((r) => (r.ok ? r.json() : null))
      .then((msg) => {
        if (cancelled || !msg || gen !== box.__gruGen) return;  // no such address (an older server, a session
        // that ended): stop asking; a newer call of this component has its own chain
        if (msg.spec && msg.v > (box.__gruVersion || 0) && window.Plotly && box.__gruConfig) {
          const layout = Object.assign({}, msg.spec.layout, { autosize: true });
          delete layout.width;
          window.Plotly.react(box, msg.spec.data || [], layout, box.__gruConfig);
          box.__gruVersion = msg.v;
        }
        if (!msg.done) box.__gruPoll = setTimeout(poll, Math.max(20, 1000 * data.every - (performance.now() - t0)));
      })
      .catch(() => {});
  };
  // the same figure again, or an older one than the chart fetched itself: nothing to redraw
  const drawn = data.spec + JSON.stringify(data.config || {});
  const stale = data.version && box.__gruVersion && data.version <= box.__gruVersion;
  if ((stale || box.__gruDrawn === drawn) && box.classList.contains("js-plotly-plot")) {
    if (data.poll) box.__gruPoll = setTimeout(poll, 1000 * data.every);
    return () => { cancelled = true; if (box.__gruPoll) clearTimeout(box.__gruPoll); };
  }
  const spec = JSON.parse(data.spec);
  const height = (spec.layout && spec.layout.height) || 450;
  box.style.height = height + "px";
  const draw = (tries) => {
    if (cancelled) return;
    const Plotly = window.Plotly;
    if (!Plotly || !Plotly.react) {
      if (tries === 50) box.textContent = "Loading the chart library…";
      if (tries < 600) setTimeout(() => draw(tries + 1), 100);
      else box.textContent = "The chart library did not load: reload the page.";
      return;
    }
    if (box.firstChild && !box.classList.contains("js-plotly-plot")) box.textContent = "";
    const layout = Object.assign({}, spec.layout, { autosize: true });
    delete layout.width;
    // the same config object while the config is the same: Plotly.react compares configs, and a new one (a new
    // button with a new click function) makes it a full newPlot of the whole chart at every update (2,500 DOM
    // changes per redraw of a 6-trace loss chart, measured; in place: the traces and axes only)
    const configText = JSON.stringify(data.config || {});
    if (box.__gruConfigText !== configText) {
      const config = Object.assign({ responsive: true }, data.config || {});
      // a full-screen button, as st.plotly_chart's charts have one (its toolbar is not drawn for this element)
      const full = {
        name: "fullscreen", title: "Full screen (Esc to leave)",
        icon: { width: 24, height: 24,
                path: "M3 3h7v2H5v5H3V3zm11 0h7v7h-2V5h-5V3zM3 14h2v5h5v2H3v-7zm16 5v-5h2v7h-7v-2h5z" },
        click: () => {
          if (document.fullscreenElement) document.exitFullscreen();
          else if (box.requestFullscreen) box.requestFullscreen();
        },
      };
      config.modeBarButtonsToAdd = [...(config.modeBarButtonsToAdd || []), full];
      box.__gruConfig = config;
      box.__gruConfigText = configText;
    }
    const config = box.__gruConfig;
    if (!box.__gruFullscreen) {
      box.__gruFullscreen = true;
      box.addEventListener("fullscreenchange", () => {
        box.style.height = document.fullscreenElement === box ? "100vh" : box.__gruHeight;
        box.style.background = document.fullscreenElement === box ? "white" : "";
        if (Plotly.Plots && Plotly.Plots.resize) Plotly.Plots.resize(box);
      });
    }
    box.__gruHeight = height + "px";
    if (document.fullscreenElement === box) box.style.height = "100vh";
    Plotly.react(box, spec.data || [], layout, config);
    box.__gruDrawn = drawn;
    if (data.version) box.__gruVersion = data.version;
    if (data.poll) box.__gruPoll = setTimeout(poll, 1000 * data.every);
  };
  draw(0);
  return () => { cancelled = true; if (box.__gruPoll) clearTimeout(box.__gruPoll); };
}
"""

_component = st.components.v2.component("gru_lab_live_plot", js=_JS, isolate_styles=False)


def preload_live_charts() -> None:
    """An invisible instance of the live chart (it draws nothing), shown before a race starts: the browser
    loads this component's code then, not after Train, so the first curve is drawn as soon as it exists
    (the first mount of the component cost about 0.6 s after the click before)."""
    if MODE != "plotly_chart":
        _component(key="live-preload", data={"preload": True})


def live_plotly_chart(
    fig: go.Figure, key: str, config: dict[str, Any] | None = None, spec: str | None = None, version: int = 0,
    poll: str | None = None, every: float = 0.2,
) -> None:
    """Show ``fig`` under a stable ``key``; later calls with the same key redraw the chart in place.

    ``spec``: ``fig.to_json()`` if the caller has it already (an unchanged live figure is not serialised
    again at every redraw; see ``gru_ui.race.live.figure_json``).  ``poll``: an address that answers with newer
    versions of the figure (``gru_ui.race.live_route``), asked every ``every`` seconds; ``version``: this
    figure's (a figure the chart already fetched is not drawn again)."""
    if MODE == "plotly_chart":
        st.plotly_chart(fig, key=key, config=config, theme=None)
        return
    height = int(fig.layout.height or 450)
    data = {"spec": spec if spec is not None else fig.to_json(), "config": config or {}, "version": int(version),
            "poll": poll, "every": float(every)}  # fmt: skip
    _component(key=key, data=data, height=height)
