"""Page "Vanishing gradients, shown": a tanh RNN and a GRU race on the adding problem.

Layout only.  All numbers come from ``gru_core.classroom.gradflow.adding_problem_race``, run and cached by
``gru_ui.classroom.vanishing`` (with the page's limits and defaults); the charts are ``gru_ui.figures.classroom``.
The last result of this session stays on screen while the settings change.
"""

from __future__ import annotations

import streamlit as st

from gru_core.fmt import num
from gru_ui.classroom import vanishing as V
from gru_ui.figures import classroom as FC
from gru_ui.shell import app_frame, chart, display_toggles


def controls() -> bool:
    c1, c2, c3, c4 = st.columns([2, 1.4, 2, 1])
    c1.slider(
        "Sequence length T",
        *V.LIMITS["T"],
        step=10,
        key="van.T",
        help="How far back the two marked numbers can lie. Longer = harder to remember.",
    )
    c2.select_slider("Hidden units", V.LIMITS["hidden"], key="van.hidden")
    c3.slider(
        "Training steps",
        *V.LIMITS["steps"],
        step=50,
        key="van.steps",
        help="Adam updates on mini-batches of 32 sequences (the same batches for both models).",
    )
    c4.number_input("Seed", *V.LIMITS["seed"], step=1, key="van.seed", help="Data and initial weights.")
    with st.expander("Learning rate"):
        st.select_slider(
            "Adam learning rate (both models)", V.LR_CHOICES, key="van.lr", format_func=lambda v: num(v, "g")
        )
    p = V.params()
    b, info = st.columns([1, 4], vertical_alignment="center")
    clicked = b.button("▶ Train both models", type="primary", key="van.train", width="stretch")
    info.caption(
        f"Trains a GRU and a tanh RNN ({p['hidden']} units each) for {p['steps']} steps on sequences of "
        f"length {p['T']}: about {num(V.estimate_seconds(p['T'], p['steps'], p['hidden']), '.0f')} s the first time, "
        "instant when these settings ran before."
    )
    return clicked


def results(p: dict, result: dict) -> None:
    cfg = result["config"]
    mse, base = result["test_mse"], result["baseline_mse"]
    st.subheader(f"Results: T = {cfg['T']}, {cfg['hidden']} units, {cfg['steps']} steps, seed {cfg['seed']}")
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("GRU test MSE", num(mse["gru"], ".4f"), help="Mean squared error on 500 held-out sequences.")
    m2.metric("tanh RNN test MSE", num(mse["rnn"], ".4f"))
    m3.metric("“predict the mean” baseline", num(base, ".4f"), help="Always answering 1.0 (the average sum).")
    sec = result["seconds"]
    m4.metric(
        "training time",
        num(sec["gru"] + sec["rnn"], ".1f") + " s",
        help=f"GRU {num(sec['gru'], '.1f')} s, RNN {num(sec['rnn'], '.1f')} s of training steps.",
    )
    learned = {k: v < 0.5 * base for k, v in mse.items()}
    if learned["gru"] and not learned["rnn"]:
        st.success(
            "The GRU learned the task; the tanh RNN did not get below the baseline: it cannot carry "
            "the marked numbers across the sequence."
        )
    elif learned["gru"] and learned["rnn"]:
        st.info("Both models learned: at this length the plain RNN still manages. Try a longer T.")
    elif not learned["gru"]:
        st.warning(
            "The GRU has not learned yet either (still near the baseline). More training steps help: "
            "its loss usually drops suddenly once it has learned to hold the marked numbers."
        )
    fig = FC.adding_loss_chart(result["train_loss"], result["eval_steps"], result["test_curve"], base)
    chart(fig, key="chart.van.loss", name="adding-problem-loss")
    st.caption(
        "Thick lines: error on held-out sequences; thin: each training mini-batch. Look for the GRU's curve "
        "falling far below the dashed baseline while the RNN's stays on it (it learned nothing)."
    )
    st.toggle(
        "Relative to the last time step",
        key="van.relative",
        help="Divide each curve by its own value at t = T, so all end at 1 and the left end reads as "
        "“the fraction of the gradient that survives the trip back to t = 1”.",
    )
    fig = FC.vanishing_grad_chart(result["grad_norms"], relative=bool(st.session_state["van.relative"]))
    chart(fig, key="chart.van.grads", name="adding-problem-gradients")
    st.caption(
        "How much of the loss's gradient reaches the hidden state at each step (log scale: each grid line is "
        "10× less). Dashed, before training: both curves drop steeply to the left. Solid, after training: "
        "the GRU's stays high across the whole sequence, the RNN's still vanishes."
    )


def page() -> None:
    app_frame()  # inside app.py's frame, also on a fresh server's first visit to this page's URL
    with st.sidebar:
        display_toggles()  # presentation mode and explanations, shared by every page
    V.init_state()
    st.title("Vanishing gradients, shown")
    st.markdown(
        "**The adding problem** (Hochreiter & Schmidhuber 1997): each input is a sequence of T random "
        "numbers, two of them marked; the answer is the **sum of the two marked numbers**. The marks can be "
        "anywhere, so a model must remember a number for up to T steps. A plain tanh RNN and a GRU of the "
        "same size train side by side with the same optimizer (Adam) on the same mini-batches."
    )
    clicked = controls()
    p = V.params()
    if clicked:
        V.train(p)
    if st.session_state["van.error"]:
        st.error(st.session_state["van.error"])
    last = st.session_state["van.result"]
    if last is None:
        st.info("Press **▶ Train both models**. With the default settings it takes a few seconds.", icon="ℹ️")
        return
    last_p, result = last
    if last_p != p:
        st.info(
            "Settings changed since this run: the charts show the last run with its own settings. "
            "Press **▶ Train both models** to run the new ones.",
            icon="ℹ️",
        )
    results(last_p, result)


if __name__ == "__main__":
    page()
