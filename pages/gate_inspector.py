"""Page "Gate inspector": what the gates of a trained GRU do, window by window, for two optimizers.

Layout only: the models come from ``gru_ui.classroom.inspector`` (this session's race, or uploaded ``.npz``
files), the numbers from ``gru_core.classroom.inspector`` (``GRURegressor.forward`` for z, r, n, h and
``hidden_state_grad_norms`` for the gradient reaching each step), the charts from ``gru_ui.figures.classroom``.
"""

from __future__ import annotations

import html

import streamlit as st

from gru_core.classroom.inspector import SPLITS, InspectedModel, inspect_window, split_windows
from gru_core.fmt import num
from gru_ui.classroom import inspector as I
from gru_ui.figures import classroom as FC
from gru_ui.shell import app_frame, chart, display_toggles, presenting


def panel(m: InspectedModel, color: str, slot: str, split: str, index: int, layer: int) -> dict | None:
    """One model's column: its name, the gates on the chosen window, saturation, the units as lines."""
    st.markdown(
        f"<div style='border-left:8px solid {color};padding-left:10px'><span style='font-size:1.5em;"
        f"font-weight:700;color:{color}'>{html.escape(m.label)}</span></div>",
        unsafe_allow_html=True,
    )
    cfg = m.model.config
    st.caption(
        f"{m.source} · {cfg.hidden_size} units × {cfg.num_layers} layer(s), {cfg.variant} variant · "
        f"lookback {m.prepared.lookback}" + "".join(f" · {n}" for n in m.notes)
    )
    k = min(layer, m.layers - 1)
    n_win = split_windows(m.prepared).get(split, 0)
    if n_win == 0:
        st.warning(f"{m.label} has no {SPLITS[split]} windows.")
        return None
    try:
        stats = I.cached_split(m.model, m.prepared, split, k)
        win = inspect_window(m.model, m.prepared, split, min(index, n_win - 1), k)
    except ValueError as exc:
        st.error(f"{m.label}: {exc}")
        return None
    if k != layer:
        st.caption(f"This model has {m.layers} layer(s): showing layer {k + 1}.")
    fig = FC.inspector_heatmaps(win["gates"], win["input"], stats["order"], name=m.label, color=color)
    chart(fig, key=f"chart.insp.heat.{slot}", name=f"gates-{m.label}")
    st.caption(
        f"Window {min(index, n_win - 1) + 1}: forecast {num(win['forecast'])} for {I.target_text(win['target'])} "
        f"(truth {num(win['truth'])}, series units). Units sorted by how often z is saturated (< 0.1 or > 0.9) over "
        f"{stats['windows']} {SPLITS[split]} windows: the top rows copy or overwrite, the bottom "
        "rows blend."
    )
    fig = FC.saturation_bars(stats["saturation"], stats["order"], name=m.label, color=color, windows=stats["windows"])
    chart(fig, key=f"chart.insp.sat.{slot}", name=f"saturation-{m.label}")
    st.caption(
        "Tall bars: units whose gates are nearly always shut or open (switch-like); short bars: units "
        "that blend old and new."
    )
    choice = st.selectbox(
        "Line plot shows", list(I.LINE_CHOICES), key=f"insp.lines.{slot}", format_func=I.LINE_CHOICES.get
    )
    units = I.line_units(stats["order"], choice)
    fig = FC.gate_lines(win["gates"], units, name=m.label, color=color)
    chart(fig, key=f"chart.insp.lines.{slot}", name=f"gate-lines-{m.label}")
    st.caption(
        "The same window as lines, one style per unit: a flat z near 1 holds the state; a z that dips "
        "lets new input in at that step."
    )
    return {"label": m.label, "color": color, "window": win["grad"], "mean": stats["grad"], "windows": stats["windows"]}


def page() -> None:
    app_frame()  # inside app.py's frame, also on a fresh server's first visit to this page's URL
    with st.sidebar:
        display_toggles()  # presentation mode and explanations, shared by every page
    I.init_state()
    ss = st.session_state
    st.title("Gate inspector")
    st.markdown(
        "Open a trained GRU and look inside: for any window of the series, what its **update gate z**, "
        "**reset gate r**, candidate **n** and state **h** did at every time step, which units act like "
        "switches, and how much gradient reaches each step. Two models side by side: two optimizers."
    )
    st.radio(
        "Models",
        ["race", "upload"],
        key="insp.source",
        horizontal=True,
        format_func={"race": "from this session's race", "upload": "upload model files (.npz)"}.get,
    )
    if ss["insp.source"] == "race":
        models, colors, why = I.race_models()
        if why:
            st.info(why, icon="ℹ️")
        if len(models) > 2:
            models = I.choose_two(models)
    else:
        models, colors = I.upload_models()
    if not models:
        return
    # the window and layer, shared by both panels
    splits = split_windows(models[0].prepared)
    if not splits:
        st.error("The series gives no validation or test windows for this model.")
        return
    if ss["insp.split"] not in splits:
        ss["insp.split"] = next(iter(splits))
    c1, c2, c3 = st.columns([1.2, 3, 1.2])
    c1.radio("Windows from", list(splits), key="insp.split", horizontal=True, format_func=SPLITS.get)
    n_win = splits[ss["insp.split"]]
    ss["insp.window"] = min(max(int(ss["insp.window"]), 1), n_win)
    if n_win > 1:
        c2.slider(f"Window (1 … {n_win} {SPLITS[ss['insp.split']]} windows, oldest first)", 1, n_win, key="insp.window")
    else:
        c2.caption("One window only.")
    n_layers = max(m.layers for m in models)
    ss["insp.layer"] = min(int(ss["insp.layer"]), n_layers - 1)
    if n_layers > 1:
        c3.radio("Layer", list(range(n_layers)), key="insp.layer", horizontal=True, format_func=lambda i: f"{i + 1}")
    index, layer, split = int(ss["insp.window"]) - 1, int(ss["insp.layer"]), str(ss["insp.split"])
    # side by side, or one under the other on a projector: the big letters of presentation mode cut the titles
    # of charts a third of the screen wide
    cols = [st.container() for _ in models] if presenting() else st.columns(len(models), gap="large")
    curves = []
    for col, m, slot in zip(cols, models, I.SLOTS):
        with col:
            got = panel(m, colors[m.label], slot, split, index, layer)
            if got:
                curves.append(got)
    if not curves:
        return
    st.subheader("Gradient flowing back through time")
    st.toggle(
        "Relative to the last step",
        key="insp.relative",
        help="Divide each curve by its value at the last step: all end at 1.",
    )
    lines = []
    for c in curves:
        lines.append(
            {
                "name": f"{c['label']} · mean over {c['windows']} windows",
                "values": c["mean"],
                "color": c["color"],
                "width": 4,
            }
        )
        lines.append(
            {
                "name": f"{c['label']} · this window",
                "values": c["window"],
                "color": c["color"],
                "dash": "dot",
                "width": 2.5,
            }
        )
    fig = FC.grad_norm_chart(
        lines,
        title="How much of the loss's gradient reaches each hidden state",
        x_title="time step t of the input window (1 = oldest)",
        y_title="‖∂L/∂h<sub>t</sub>‖ (scaled units; log)",
        relative=bool(ss["insp.relative"]),
    )
    chart(fig, key="chart.insp.grads", name="gradient-through-time")
    st.caption(
        "∂L/∂h_t: how much the forecast error would change if the state at step t changed (log scale: each grid "
        "line is 10× less). A curve that falls steeply to the left means the early inputs barely influence "
        "learning: vanishing gradients. Solid: mean over windows; dotted: this window."
    )


if __name__ == "__main__":
    page()
