"""Page "Sweep": a grid of configurations × optimizers × seeds, run in the background, stored, and judged
against the seed noise.

Layout only: the settings (:mod:`gru_ui.sweep.widgets`, read into a :class:`gru_ui.sweep.form.SweepForm`:
a base RunConfig and a grid of setting names), the engine (a :class:`gru_ui.sweep.job.PageSweep` kept in
``st.session_state["sw.job"]``: a sweep submitted to the runner, ``gru_core.runner``, which trains it outside
the web server and stores every finished cell at once; ``gru_core.stats`` for the numbers), then the figures
(:mod:`gru_ui.figures.sweep`).  While a sweep runs, a fragment redraws the
progress every ``POLL`` seconds; when it has ended, the fragment asks for one full rerun, which draws the
results and stops the timer.
"""

from __future__ import annotations

import traceback

import pandas as pd
import streamlit as st

from gru_core.data.datasets import describe_dataset
from gru_core.optim import OPTIMIZERS
from gru_core.stats import group_stats
from gru_ui.figures import assign_colors
from gru_ui.figures import sweep as FS
from gru_ui.limits import TRAIN_PCT, VAL_PCT
from gru_ui.shell import STORE_KEY, app_frame, chart, display_toggles, open_store
from gru_ui.sweep import data as D
from gru_ui.sweep import form as F
from gru_ui.sweep import results as R
from gru_ui.sweep import widgets as W
from gru_ui.sweep.estimate import data_text, plan_text
from gru_ui.sweep.limits import LIMITS

POLL = 1.0  # seconds between progress redraws while a sweep runs
P = W.P


# ---- the form ----------------------------------------------------------------------------------------------


def data_section() -> None:
    ss = st.session_state
    st.subheader("1 · Data")
    names = D.series_datasets()
    st.selectbox("source", [*names, D.CSV], key=P + "source",
                 format_func=lambda k: "Upload a CSV file…" if k == D.CSV else names.get(k, k))  # fmt: skip
    source = ss[P + "source"]
    if source == D.CSV:
        W.upload_section()
    else:
        st.caption(describe_dataset(source))
        st.text_input("params (optional)", key=P + "params", placeholder="e.g. length=500, noise=0.1",
                      help="Override the generator's defaults: "
                      f"{D.dataset_params_text(source) or 'this dataset has none'}.")  # fmt: skip
    c = st.columns(4)
    W.setting_input("lookback", c[0])
    W.setting_input("horizon", c[1])
    c[2].number_input("split: train %", *TRAIN_PCT, key=P + "split.train_pct", step=1)
    c[3].number_input("split: validation %", *VAL_PCT, key=P + "split.val_pct", step=1)
    test = 100 - int(ss[P + "split.train_pct"]) - int(ss[P + "split.val_pct"])
    for col, name in zip(st.columns(3), ("split_by", "scaler", "fit_scaler_on")):
        W.setting_input(name, col)
    st.caption(f"Chronological split: train → validation → test ({test} % test, the end of the series).")


def grid_section() -> None:
    ss = st.session_state
    st.subheader("2 · What to sweep")
    st.caption("Type the values to try, separated by commas. Every combination is one configuration. An empty box "
               "keeps the default (batch_size 32, 100 epochs, each optimizer's own lr, hidden_size 32).")
    cols = st.columns(2)
    for i, name in enumerate(F.MAIN_FIELDS):
        W.grid_input(name, cols[i % 2])
    for name in list(ss[W.EXTRA_KEY]):
        c1, c2 = st.columns([6, 1], vertical_alignment="bottom")
        W.grid_input(name, c1)
        c2.button("Remove", key=f"sw.remove.{name}", on_click=W.remove_field, args=(name,))
    free = [f for f in F.EXTRA_FIELDS if f not in ss[W.EXTRA_KEY]]
    if free:
        if ss.get(P + "add_field") not in free:
            ss[P + "add_field"] = free[0]
        c1, c2 = st.columns([6, 1], vertical_alignment="bottom")
        c1.selectbox("Sweep another setting too", free, key=P + "add_field",
                     help="Any model, training or data setting can be swept.")  # fmt: skip
        c2.button("Add", key="sw.add", on_click=W.add_field)


def fixed_section() -> None:
    with st.expander("Fixed settings of the model and training (used unless swept above)"):
        cols = st.columns(4)
        for i, name in enumerate(F.FIXED_SETTINGS):
            W.setting_input(name, cols[i % 4])


def optimizer_section() -> None:
    st.subheader("3 · Optimizers, seeds, workers")
    c1, c2 = st.columns([3, 2])
    c1.multiselect("Optimizers (each configuration trains all of them from the same weights, on the same batches)",
                   list(OPTIMIZERS), key=P + "contestants.optimizers", format_func=lambda o: OPTIMIZERS[o].name,
                   max_selections=LIMITS["max_optimizers"])  # fmt: skip
    c2.radio("Flavour of Adam and RMSprop", ["pytorch", "keras"], key=P + "contestants.flavor", horizontal=True,
             help="keras: tf.keras 2.15's update rules and defaults (eps inside the square root, RMSprop rho 0.9), "
             "as the study. SGD, Adagrad and AdamW have one flavour.")  # fmt: skip
    c1, c2, c3, c4 = st.columns(4)
    c1.number_input("Seeds per configuration", 1, LIMITS["max_seeds"], key=P + "seeds.count", step=1,
                    help="Each seed changes the initial weights, dropout masks and batch order. With one seed, "
                    "nobody can tell a real difference from luck; 3 or more let the page estimate the seed "
                    "noise.")  # fmt: skip
    c2.number_input("First seed", 0, LIMITS["max_seed"], key=P + "seeds.first", step=1)
    c3.number_input("Worker processes", 0, LIMITS["max_workers"], key=P + "workers", step=1,
                    help="Cells run in parallel, one per process (a few seconds to start). 0: one after another "
                    "in the runner's worker that hosts the sweep (no start-up cost; fine for tiny grids).")  # fmt: skip
    c4.text_input("Name of this sweep", key=P + "name", max_chars=80, placeholder="e.g. study grid, 3 seeds")
    st.checkbox("Reuse cells of this exact grid already in the store (resume a stopped sweep)", key=P + "resume",
                help="Cells are identified by every setting and the seed; the same cell is never trained twice.")


# ---- results ------------------------------------------------------------------------------------------------


def results_section(store) -> None:
    ss = st.session_state
    st.header("Results")
    sweep_id = W.sweep_choice(store)
    if sweep_id is None:
        st.info("No sweep with finished runs in this store yet: set up a grid above and press **Run sweep**.")
        return
    metric = st.columns([2, 3])[0].radio(
        "Judge by", ["test_mape", "test_rmse"], key=P + "metric", horizontal=True,
        format_func={"test_mape": "test MAPE (%)", "test_rmse": "test RMSE"}.get,
        help="Both are errors on the test part (lower is better). MAPE is relative; RMSE is in the series' units.",
    )  # fmt: skip
    records, df, summ = W.load_results(ss[STORE_KEY], sweep_id, store.count_runs(sweep_id=sweep_id), metric)
    if not records:
        st.info("This sweep has no stored runs.")
        return
    units, n_seeds = R.units_of(records), R.seeds_per_config(records)
    colors = assign_colors(list(dict.fromkeys(df["label"])))
    fields, varying = R.swept_fields(records), R.varying_fields(records)
    level, text = R.verdict(summ, n_seeds, metric, units)
    {"success": st.success, "warning": st.warning}.get(level, st.info)(text)
    if R.mape_explodes(summ, metric):
        st.caption("⚠️ MAPE is huge here even for persistence: the series comes close to zero, where a relative "
                   "error explodes. Judge by RMSE instead.")  # fmt: skip
    mname = FS.metric_title(metric, units)

    st.subheader("Every configuration: mean, spread and 95 % interval over seeds")
    table, fixed, one_seed = R.shown_table(R.results_table(records, units=units), fields, varying)
    num = {c: st.column_config.NumberColumn(format="%.4g") for c in table.columns if table[c].dtype.kind == "f"}
    st.dataframe(table, hide_index=True, width="stretch", column_config=num, key="sw.table")
    st.caption(
        (f"Same in every row: {fixed}. " if fixed else "")
        + f"One row per configuration and optimizer, {n_seeds} seed(s) each. Click a column header to sort, e.g. "
        "by “MAPE % mean” for the study's ranking. Two rows whose confidence intervals overlap cannot be told "
        "apart with these seeds. No std and no interval (“None”) means one finished seed: no spread to measure."
        + (" With 2 or 3 seeds the intervals are very wide (they may even reach below 0, an impossible error): "
           "that is how little a few runs tell." if 2 <= n_seeds <= 3 else "")
        + (" With one seed per configuration the spread columns are left out: nothing here tells luck from a "
           "real difference." if one_seed else "")
    )  # fmt: skip
    st.download_button("Download this table (CSV)", R.csv_bytes(table), file_name=f"sweep-{sweep_id}-table.csv",
                       mime="text/csv", on_click="ignore", key="sw.dl.table")  # fmt: skip

    numeric, x_field, y_field = R.heatmap_axes(df, varying)
    if not varying:
        st.caption("One configuration only: no grid to map. Add values to a setting above to compare configurations.")
    if numeric:
        st.subheader("Where in the grid is the error low?")
        if len(numeric) > 2:
            c1, c2, _ = st.columns([1, 1, 2])
            if ss.get(P + "hx") not in numeric:
                ss[P + "hx"] = x_field
            x_field = c1.selectbox("Across", numeric, key=P + "hx", format_func=FS.field_title)
            ys = [f for f in numeric if f != x_field]
            if ss.get(P + "hy") not in ys:
                ss[P + "hy"] = y_field if y_field in ys else ys[0]
            y_field = c2.selectbox("Down", ys, key=P + "hy", format_func=FS.field_title)
        by = ("label", x_field) + ((y_field,) if y_field else ())
        chart(FS.metric_heatmaps(group_stats(df, metric, by=by), x_field, y_field, metric, units, colors),
              key="sw.chart.heat", name="sweep-heatmap")  # fmt: skip
        st.caption("Each square: the mean error over every seed and every other setting with these values. Bright = "
                   "low error. Look for a bright corner the optimizers share, and for dark columns (a learning rate "
                   "that fails).")  # fmt: skip
        groups = group_stats(df, metric, by=("config_key", "label"))
        chart(FS.parallel_coordinates(groups, numeric, metric, units, colors), key="sw.chart.parcoords",
              name="sweep-parallel")  # fmt: skip
        st.caption("One line per configuration and optimizer, from its settings to its mean error on the right. "
                   "Drag along the error axis to keep only the best lines and see which settings they share.")

    paired = summ.get("paired") or []
    if paired:
        st.subheader("Paired comparison: same weights, same batches, only the optimizer differs")
        idx = 0
        if len(paired) > 1:
            if ss.get(P + "pair") not in range(len(paired)):  # another sweep was shown before
                ss[P + "pair"] = 0
            idx = st.selectbox("Pair", list(range(len(paired))), key=P + "pair",
                               format_func=lambda i: f"{paired[i]['a']} vs {paired[i]['b']}")  # fmt: skip
        pc = paired[idx]
        a, b = pc["a"], pc["b"]
        W.paired_cards(pc, mname, points=metric.endswith("mape"))
        if pc.get("n_excluded"):
            st.caption(f"{pc['n_excluded']} pair(s) left out: one of the two diverged.")
        per = R.paired_rows(df, a, b, metric, varying)
        chart(FS.paired_forest(per, pc, metric, units, colors), key="sw.chart.forest", name="sweep-paired")
        noise = ("With one seed there is no interval per configuration: each dot could be luck." if n_seeds < 2
                 else "Grey rows: the interval crosses 0, so that configuration's difference is within the seed "
                 "noise.")  # fmt: skip
        st.caption(f"Each row: {a}'s error minus {b}'s with the same configuration and seed; bars are 95 % "
                   f"confidence intervals over seeds, the diamond is all pairs together. Left of 0: {a} better. "
                   f"{noise}")  # fmt: skip

    lr = pd.DataFrame(summ.get("lr") or [])
    if not lr.empty and "lr" in fields and lr["lr"].nunique() > 1:
        st.subheader("How sensitive is each optimizer to the learning rate?")
        chart(FS.lr_curves(lr, metric, units, colors), key="sw.chart.lr", name="sweep-lr")
        st.caption("Mean error at each learning rate, every other setting and seed pooled, with 95 % intervals. A "
                   "flat curve is a forgiving optimizer; a steep one needs its learning rate tuned.")

    best = summ.get("best") or []
    if best:
        st.subheader("Best configuration, chosen on validation loss and reported on test")
        base, base_vals = R.baseline_values(best, metric)
        chart(FS.best_vs_baselines(best, base_vals, metric, units, colors), key="sw.chart.best", name="sweep-best")
        st.dataframe(R.best_table(best, base, units), hide_index=True, width="stretch", key="sw.best")
        st.caption("Each optimizer's configuration with the lowest mean validation MSE — the test part played no role "
                   "in the choice — then its test error (bars: 95 % interval over seeds). Dashed lines: forecasting "
                   "tomorrow = today, and a linear model on the same windows. A GRU below them has learned "
                   "something.")  # fmt: skip
    sweep = store.get_sweep(sweep_id)
    st.caption(
        f"Sweep #{sweep_id}{' “' + sweep['name'] + '”' if sweep.get('name') else ''}: {sweep['status']}"
        + (f" — {sweep['message']}" if sweep.get("message") else "")
        + f". {len(records)} runs stored in `{ss[STORE_KEY]}`; see them on the Run history page."
    )


# ---- the page -------------------------------------------------------------------------------------------------


def page() -> None:
    app_frame()  # inside app.py's frame, also on a fresh server's first visit to this page's URL
    with st.sidebar:
        display_toggles()  # presentation mode and explanations, shared by every page
    ss = st.session_state
    W.store_sidebar()
    st.title("Sweep: many configurations × optimizers × seeds")
    st.markdown(
        "The original study trained 54 configurations once each for Adam and RMSprop and named a winner from "
        "single runs whose errors differed in the second decimal. Here every configuration can be trained with "
        "**several seeds**, so you can see whether a difference is **larger than the seed noise** — and every "
        "run is kept in the run store."
    )
    c1, c2, _ = st.columns([2, 2, 3])
    c1.button("Load the study's grid (54 configurations)", key="sw.preset.study", on_click=W.apply_study_preset,
              help="batch_size 32/64/128 × epochs 50/100 × lr 0.01/0.001/0.0001 × hidden_size 16/32/64, Adam and "
              "RMSprop (Keras), lookback 20, split 81/9/10 by series rows, MinMax fitted on all, dropout 0.3, "
              "patience 3 without restoring weights.")  # fmt: skip
    c2.button("Load a tiny demo grid (seconds)", key="sw.preset.tiny", on_click=W.apply_tiny_preset)
    note = ss.get("sw.preset_note")
    if note:
        (st.success if note[0] == "success" else st.info)(note[1])

    store, store_error = open_store(ss[STORE_KEY])
    with st.container(border=True):
        data_section()
    with st.container(border=True):
        grid_section()
        fixed_section()
    with st.container(border=True):
        optimizer_section()
    workers = int(ss[P + "workers"])
    try:
        spec, est, info, problems = W.plan(W.state_to_form(), workers)
    except Exception as exc:  # noqa: BLE001 - an engine error is a message, not a traceback
        traceback.print_exc()
        spec, est, info, problems = None, None, None, [f"{type(exc).__name__}: {exc}"]
    if store_error:
        problems = [store_error, *problems]
    if spec is not None and est is not None:
        st.markdown(plan_text(spec, est, workers))
        if info:
            st.caption(data_text(info))
    W.controls(spec, est, problems)
    job = ss.get(W.JOB_KEY)
    live = job is not None and job.snapshot().live
    st.fragment(W.progress_panel, run_every=POLL if live else None)()
    if not live:  # the `live` the timer was set with: an end seen only now gets its own full run
        W.show_finished()
    if live:
        st.info("Results appear here when the sweep ends (press **Stop** to see the cells finished so far).")
        return
    if store is None:
        return
    try:
        results_section(store)
    except Exception as exc:  # noqa: BLE001 - never a traceback on the page; the log has it
        traceback.print_exc()
        st.error(f"The results could not be drawn: {type(exc).__name__}: {exc}")


W.init_state()
st.session_state[W.IN_FULL_RUN] = True
try:
    page()
except Exception as exc:  # noqa: BLE001 - never a traceback on the page; the server log has it
    traceback.print_exc()
    st.error(f"Something went wrong on this page: {type(exc).__name__}: {exc}")
finally:  # also when Streamlit interrupts this run: the fragment must not think it goes on
    st.session_state[W.IN_FULL_RUN] = False
    W.save_widgets()
