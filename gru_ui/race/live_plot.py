"""Live elements that update in place: a Plotly chart (with its heading line) and a block of HTML.

Why not ``st.plotly_chart``?  In Streamlit 1.67 its element id is a hash of the figure's JSON, even with a
``key``, and the browser uses that id as the React key: every data update unmounts the chart and plots a
new one from scratch (``Plotly.newPlot``).  At two updates a second that flickers, and on a slow client
(a projector laptop also running the server) a chart can stay blank because every redraw is cancelled by
the next one.  (Upstream: streamlit/streamlit#8782, fix proposed in #16052.)

This small ``st.components.v2`` component keeps one DOM node per ``key`` and calls ``Plotly.react`` on
it with each new figure: the same figure JSON, the same config (PNG button included), redrawn in place.
It uses the plotly.js that Streamlit's own frontend loads (``window.Plotly``) — every page that shows a
live chart also shows an ordinary ``st.plotly_chart``, which loads it — so nothing is downloaded.

Where the server has the live route (:mod:`gru_ui.race.live_route`) each element also fetches its own newer
versions while the race trains, outside Streamlit's reruns; one that is out of sight (scrolled away, a hidden tab)
draws nothing until it is back.  The loss chart carries the race's stamp and, when the route's differs, asks the
fragment it lives in to run again (a component trigger): that is how the page notices a pause or the end.

:func:`preload_live_charts` loads the component's code before the first race (an instance that draws
nothing).  Set the environment variable ``GRU_LAB_LIVE_CHARTS=plotly_chart`` to fall back to
``st.plotly_chart`` and ``st.markdown``.
"""

from __future__ import annotations

import os
from typing import Any

import plotly.graph_objects as go
import streamlit as st

MODE = os.environ.get("GRU_LAB_LIVE_CHARTS", "component")

_JS = """
export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  if (data && data.preload) return;  // preload_live_charts: only this module's code is loaded
  const kind = data.kind === "html" ? "html" : "plot";
  // the live heading above a chart ("Training: epoch 12 / 80 · …"): drawn here, and kept current by the chart's
  // own requests below
  let head = null;
  if (typeof data.head === "string") {
    head = parentElement.querySelector(":scope > .gru-live-head");
    if (!head) {
      head = document.createElement("h4");
      head.className = "gru-live-head";
      head.style.cssText = "margin:0;padding:0.4rem 0 0.6rem;font-size:1.5rem;font-weight:600;line-height:1.25;";
      parentElement.insertBefore(head, parentElement.firstChild);
    }
    if (head.textContent !== data.head) head.textContent = data.head;
  }
  let box = parentElement.querySelector(":scope > .gru-live-" + kind);
  if (!box) {
    box = document.createElement("div");
    box.className = "gru-live-" + kind;
    box.style.width = "100%";
    parentElement.appendChild(box);
  }
  let cancelled = false;
  if (box.__gruPoll) { clearTimeout(box.__gruPoll); box.__gruPoll = null; }
  const gen = (box.__gruGen = (box.__gruGen || 0) + 1);  // one chain of requests per element: the newest call's
  const config = () => {
    // the same config object while the config is the same: Plotly.react compares configs, and a new one (a new
    // button with a new click function) makes it a full newPlot of the whole chart at every update (2,500 DOM
    // changes per redraw of a 6-trace loss chart, measured; in place: the traces and axes only)
    const configText = JSON.stringify(data.config || {});
    if (box.__gruConfigText !== configText) {
      const cfg = Object.assign({ responsive: true }, data.config || {});
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
      cfg.modeBarButtonsToAdd = [...(cfg.modeBarButtonsToAdd || []), full];
      box.__gruConfig = cfg;
      box.__gruConfigText = configText;
    }
    return box.__gruConfig;
  };
  const plot = (spec) => {
    const Plotly = window.Plotly;
    const height = (spec.layout && spec.layout.height) || 450;
    box.__gruHeight = height + "px";
    box.style.height = document.fullscreenElement === box ? "100vh" : box.__gruHeight;
    if (box.firstChild && !box.classList.contains("js-plotly-plot")) box.textContent = "";
    if (!box.__gruFullscreen) {
      box.__gruFullscreen = true;
      box.addEventListener("fullscreenchange", () => {
        box.style.height = document.fullscreenElement === box ? "100vh" : box.__gruHeight;
        box.style.background = document.fullscreenElement === box ? "white" : "";
        if (Plotly.Plots && Plotly.Plots.resize) Plotly.Plots.resize(box);
      });
    }
    const layout = Object.assign({}, spec.layout, { autosize: true });
    delete layout.width;
    Plotly.react(box, spec.data || [], layout, config());
  };
  // the element's own address (gru_ui.race.live_route): while the race trains it asks for a newer version every
  // data.every s and redraws itself, outside Streamlit's reruns; only a version newer than the one shown is drawn
  // out of sight (scrolled away, another tab) an element draws nothing: the chart still asks (its heading, its
  // stamp) but does not redraw, the others do not ask; back in sight they catch up at once
  if (!box.__gruWatched) {
    box.__gruWatched = true;
    if (window.IntersectionObserver) {
      new IntersectionObserver((entries) => {
        const was = box.__gruVisible !== false;
        box.__gruVisible = entries[entries.length - 1].isIntersecting;
        if (box.__gruVisible && !was && box.__gruPoll && box.__gruWake) {
          clearTimeout(box.__gruPoll);
          box.__gruWake();
        }
      }, { rootMargin: "100px" }).observe(box);
    }
  }
  const seen = () => (box.__gruVisible !== false && !document.hidden) || document.fullscreenElement === box;
  const poll = () => {
    box.__gruPoll = null;
    if (cancelled || !data.poll || gen !== box.__gruGen) return;
    if (!data.stamp && !seen()) {
      box.__gruPoll = setTimeout(poll, 1000 * data.every);
      return;
    }
    const t0 = performance.now();
    fetch(data.poll + "?v=" + (box.__gruVersion || 0), { cache: "no-store" })
      .then((r) => (r.ok ? r.json() : null))
      .then((msg) => {
        if (cancelled || !msg || gen !== box.__gruGen) return;  // no such address (an older server, a session
        // that ended): stop asking; a newer call of this component has its own chain
        // the heading once a second while the race goes on (its seconds and steps/s; each change lays out the page
        // again); the end's heading comes with the page's own run, together with the results (a test, a teacher
        // reading "Finished" must find the page drawn for it)
        if (head && typeof msg.head === "string" && head.textContent !== msg.head && !msg.done
            && !(performance.now() - (head.__gruAt || 0) < 950)) {
          head.textContent = msg.head;
          head.__gruAt = performance.now();
        }
        if (msg.v > (box.__gruVersion || 0) && seen()) {
          if (kind === "html" && typeof msg.html === "string") {
            box.innerHTML = msg.html;
            box.__gruVersion = msg.v;
          } else if (kind === "plot" && msg.spec && window.Plotly && window.Plotly.react) {
            plot(msg.spec);
            box.__gruVersion = msg.v;
          }
        }
        // the race changed what the page's full run draws (paused, ended, a contestant diverged): ask Streamlit to
        // run the page's fragment again, once per change
        if (data.stamp && msg.stamp && msg.stamp !== data.stamp && box.__gruAsked !== msg.stamp && setTriggerValue) {
          box.__gruAsked = msg.stamp;
          setTriggerValue("changed", msg.stamp);
        }
        if (!msg.done) box.__gruPoll = setTimeout(poll, Math.max(20, 1000 * data.every - (performance.now() - t0)));
      })
      .catch(() => {});
  };
  box.__gruWake = poll;
  const stop = () => { cancelled = true; if (box.__gruPoll) clearTimeout(box.__gruPoll); };
  // the first request at once when what is drawn is about to change (a race's first epoch), else after data.every
  const later = () => { if (data.poll) box.__gruPoll = setTimeout(poll, data.soon ? 30 : 1000 * data.every); };
  // the same content again, or an older one than the element fetched itself: nothing to redraw
  const stale = data.version && box.__gruVersion && data.version <= box.__gruVersion;
  if (kind === "html") {
    if (!stale && typeof data.html === "string") {
      box.innerHTML = data.html;
      box.__gruVersion = data.version || 0;
    }
    later();
    return stop;
  }
  if (typeof data.spec !== "string") {  // nothing yet: a line of text until the first version arrives
    if (!box.classList.contains("js-plotly-plot")) {
      box.textContent = data.placeholder || "";
      if (data.height) box.style.height = data.height + "px";
    }
    later();
    return stop;
  }
  const drawn = data.spec + JSON.stringify(data.config || {});
  if ((stale || box.__gruDrawn === drawn) && box.classList.contains("js-plotly-plot")) {
    later();
    return stop;
  }
  const spec = JSON.parse(data.spec);
  box.style.height = ((spec.layout && spec.layout.height) || 450) + "px";
  const draw = (tries) => {
    if (cancelled) return;
    const Plotly = window.Plotly;
    if (!Plotly || !Plotly.react) {
      if (tries === 50) box.textContent = "Loading the chart library…";
      if (tries < 600) setTimeout(() => draw(tries + 1), 100);
      else box.textContent = "The chart library did not load: reload the page.";
      return;
    }
    plot(spec);
    box.__gruDrawn = drawn;
    if (data.version) box.__gruVersion = data.version;
    later();
  };
  draw(0);
  return stop;
}
"""

_component = st.components.v2.component("gru_lab_live_plot", js=_JS, isolate_styles=False)


def preload_live_charts() -> None:
    """An invisible instance of the live chart (it draws nothing), shown before a race starts: the browser
    loads this component's code then, not after Train, so the first curve is drawn as soon as it exists
    (the first mount of the component cost about 0.6 s after the click before)."""
    if MODE != "plotly_chart":
        _component(key="live-preload", data={"preload": True})


def _noop() -> None:
    """The live chart's trigger needs no callback: the fragment it lives in runs again, and that run looks."""


def live_plotly_chart(
    fig: go.Figure, key: str, config: dict[str, Any] | None = None, spec: str | None = None, version: int = 0,
    poll: str | None = None, every: float = 0.2, head: str | None = None, stamp: str | None = None,
    placeholder: str | None = None, soon: bool = False,
) -> None:
    """Show ``fig`` under a stable ``key``; later calls with the same key redraw the chart in place.

    ``spec``: ``fig.to_json()`` if the caller has it already (an unchanged live figure is not serialised
    again at every redraw; see ``gru_ui.race.live.figure_json``).  ``poll``: an address that answers with newer
    versions of the figure (``gru_ui.race.live_route``), asked every ``every`` seconds; ``version``: this
    figure's (a figure the chart already fetched is not drawn again).  ``head``: a heading line above the chart,
    kept current by the same requests.  ``stamp``: what the page was drawn for (``live_text.stamp``): when the
    address answers with another, the chart asks the fragment it lives in to run again.  ``placeholder``: with
    ``poll``, draw only this text now and the figure when the first request brings it (``fig`` gives the height).
    ``soon``: ask at once the first time (a race's first epoch is due any moment)."""
    if MODE == "plotly_chart":
        if head is not None:
            st.markdown(f"#### {head}")
        if placeholder is None:
            st.plotly_chart(fig, key=key, config=config, theme=None)
        else:
            st.caption(placeholder)
        return
    height = int(fig.layout.height or 450)
    data = {"config": config or {}, "version": int(version), "poll": poll, "every": float(every), "soon": soon}
    if placeholder is not None and poll:
        data.update(spec=None, placeholder=placeholder, height=height, version=0)
    else:
        data["spec"] = spec if spec is not None else fig.to_json()
    if head is not None:
        data["head"] = head
    if stamp is not None:
        data["stamp"] = stamp
    callbacks = {"on_changed_change": _noop} if stamp is not None else {}
    _component(key=key, data=data, height="content" if head is not None else height, **callbacks)


def live_html(text: str, key: str, version: int = 0, poll: str | None = None, every: float = 1.0) -> None:
    """A block of HTML under a stable ``key`` that keeps itself current: with ``poll`` it asks that address
    (``gru_ui.race.live_route``) for a newer version every ``every`` seconds and swaps it in, outside Streamlit's
    reruns.  Where live charts fall back to ``st.plotly_chart`` this is ``st.markdown``."""
    if MODE == "plotly_chart":
        st.markdown(text, unsafe_allow_html=True)
        return
    _component(key=key, data={"kind": "html", "html": text, "version": int(version), "poll": poll,
                              "every": float(every)}, height="content")  # fmt: skip
