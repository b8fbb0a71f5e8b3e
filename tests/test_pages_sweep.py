"""The Sweep and Run history pages, run headless with ``streamlit.testing.v1.AppTest`` (each page on its own,
as ``AppTest.from_file("pages/…")``), plus the modules behind them (``gru_ui.sweep``), tested directly.

Every test uses a run store in a temporary folder (``GRU_LAB_STORE``), never the user's.  In AppTest the
progress fragment's timer does not tick: after clicking Run a test waits for the sweep (hosted by the engine's
runner, ``gru_core.runner.get_runner()``: a worker process by default) through ``session_state["sw.job"]`` and
runs the script again, as the timer would.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pandas as pd
import pytest
from _presentation import check_page_presentation
from streamlit.testing.v1 import AppTest

from gru_core.config import SETTINGS, Contestant, DataConfig, GRUConfig, RunConfig, TrainConfig, format_value
from gru_core.fmt import duration
from gru_core.stats import summarize, to_frame
from gru_core.store import RunStore
from gru_core.sweep import GRID_FIELDS, SweepSpec, cells, coerce_value
from gru_ui import shell
from gru_ui.sweep import data as D
from gru_ui.sweep import estimate as E
from gru_ui.sweep import form as F
from gru_ui.sweep import history as H
from gru_ui.sweep import job as J
from gru_ui.sweep import results as R

ROOT = Path(__file__).resolve().parents[1]
SWEEP = str(ROOT / "pages" / "sweep.py")
HISTORY = str(ROOT / "pages" / "history.py")
TIMEOUT = 60


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def chart_titles(at: AppTest) -> list[str]:
    return [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]


def run_tiny_sweep(at: AppTest) -> tuple[J.PageSweep, float]:
    """The tiny preset in this process (workers 0), launched from the page and waited for."""
    at.button(key="sw.preset.tiny").click().run()
    at.number_input(key="sw.w.workers").set_value(0).run()
    no_exception(at)
    t0 = time.perf_counter()
    at.button(key="sw.btn.run").click().run()
    no_exception(at)
    job = at.session_state["sw.job"]
    assert job is not None, texts(at.error)
    assert job.join(TIMEOUT), "the sweep did not finish in time"
    seconds = time.perf_counter() - t0
    at.run()  # what the progress fragment's timer would do
    no_exception(at)
    return job, seconds


@pytest.fixture
def store_env(tmp_path, monkeypatch):
    path = tmp_path / "runs.sqlite"
    monkeypatch.setenv("GRU_LAB_STORE", str(path))
    return path


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """One tiny sweep run from the page; its store is shared by the history tests that only read it."""
    path = tmp_path_factory.mktemp("store") / "runs.sqlite"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRU_LAB_STORE", str(path))
        at = AppTest.from_file(SWEEP, default_timeout=TIMEOUT).run()
        no_exception(at)
        job, seconds = run_tiny_sweep(at)
        print(f"tiny sweep (4 cells, 8 runs) launched from the page: {seconds:.2f} s until it ended")
        yield path, at, job


# ---- the Sweep page -------------------------------------------------------------------------------------------


def test_sweep_page_loads_with_limits_and_estimate(store_env):
    at = AppTest.from_file(SWEEP, default_timeout=TIMEOUT).run()
    no_exception(at)
    assert "Sweep" in at.title[0].value
    assert not at.error
    assert "Limits:" in texts(at.sidebar.caption) and "500" in texts(at.sidebar.caption)
    assert str(store_env) in texts(at.sidebar.caption)  # the store path is shown
    plan = texts(at.markdown)
    assert "4 configurations × 3 seeds = 12 cells" in plan and "Estimated time" in plan
    assert not at.button(key="sw.btn.run").disabled and at.button(key="sw.btn.stop").disabled
    assert "No sweep with finished runs" in texts(at.info)


def test_study_preset_sets_the_study_grid_on_the_default_dataset(store_env):
    at = AppTest.from_file(SWEEP, default_timeout=TIMEOUT).run()
    at.button(key="sw.preset.study").click().run()
    no_exception(at)
    ss = at.session_state
    assert ss["sw.w.grid.batch_size"] == "32, 64, 128" and ss["sw.w.grid.epochs"] == "50, 100"
    assert ss["sw.w.grid.lr"] == "0.01, 0.001, 0.0001" and ss["sw.w.grid.hidden_size"] == "16, 32, 64"
    assert (ss["sw.w.contestants.flavor"], ss["sw.w.init"], ss["sw.w.patience"], ss["sw.w.restore_best"]) == (
        "keras",
        "keras",
        3,
        False,
    )
    assert (ss["sw.w.split_by"], ss["sw.w.fit_scaler_on"], ss["sw.w.dropout"]) == ("series", "all", 0.3)
    assert (ss["sw.w.split.train_pct"], ss["sw.w.split.val_pct"], ss["sw.w.seeds.count"]) == (81, 9, 1)
    assert "No tin price CSV uploaded" in texts(at.info) and "default dataset" in texts(at.info)
    assert "54 configurations × 1 seed = 54 cells" in texts(at.markdown) and "108 runs" in texts(at.markdown)


def test_bad_values_and_huge_grids_are_refused_with_a_message(store_env):
    at = AppTest.from_file(SWEEP, default_timeout=TIMEOUT).run()
    at.text_input(key="sw.w.grid.lr").input("0.01, fast").run()
    no_exception(at)
    assert "lr must be a positive number" in texts(at.error)
    assert at.button(key="sw.btn.run").disabled
    at.text_input(key="sw.w.grid.lr").input("0.01").run()
    at.text_input(key="sw.w.grid.hidden_size").input("1000").run()
    assert "outside the page's limits" in texts(at.error) and at.button(key="sw.btn.run").disabled
    many = ", ".join(str(i) for i in range(1, 21))
    at.text_input(key="sw.w.grid.hidden_size").input(many)
    at.text_input(key="sw.w.grid.batch_size").input(many)
    at.number_input(key="sw.w.seeds.count").set_value(13).run()  # 400 configurations × 13 seeds = 5,200 cells
    assert "the limit is 5,000" in texts(at.error) and at.button(key="sw.btn.run").disabled
    no_exception(at)


def test_a_big_grid_needs_a_confirmation(store_env):
    at = AppTest.from_file(SWEEP, default_timeout=TIMEOUT).run()
    at.text_input(key="sw.w.grid.hidden_size").input("2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13")
    at.text_input(key="sw.w.grid.batch_size").input("8, 16, 32, 64, 128")
    at.text_input(key="sw.w.grid.lr").input("0.1, 0.01, 0.001, 0.0001")
    at.number_input(key="sw.w.seeds.count").set_value(3).run()  # 240 × 3 = 720 cells
    no_exception(at)
    assert "720 cells" in texts(at.warning)
    assert at.button(key="sw.btn.run").disabled
    at.checkbox(key="sw.w.confirm").check().run()
    assert not at.button(key="sw.btn.run").disabled


def test_tiny_sweep_from_the_page_shows_the_results(swept):
    path, at, job = swept
    snap = job.snapshot()
    assert snap.status == "finished" and snap.done == snap.total == 4 and snap.runs_stored == 8
    assert "Done in" in texts(at.success)
    table = next(df.value for df in at.dataframe if "MAPE % mean" in df.value.columns)
    assert len(table) == 4  # 2 configurations × 2 optimizers
    assert sorted(table["optimizer"]) == ["Adam", "Adam", "RMSprop", "RMSprop"]
    assert set(table["lr"]) == {0.01, 0.001} and (table["seeds"] == 2).all()
    for col in ("MAPE % std", "MAPE % CI low", "MAPE % CI high", "RMSE mean", "diverged"):
        assert col in table.columns
    assert table["MAPE % std"].notna().all()  # two seeds: a spread
    verdict = texts(at.success) + texts(at.warning) + texts(at.info)
    assert "Adam − RMSprop" in verdict and "persistence" in verdict
    titles = " | ".join(chart_titles(at))
    for expected in (
        "test MAPE (%) by learning rate (mean over seeds",  # the only setting that varies
        "Every configuration at a glance",
        "Paired comparison: Adam − RMSprop",
        "against the learning rate",
        "Best configuration",
    ):
        assert expected in titles
    best = next(df.value for df in at.dataframe if "validation MSE (chosen on)" in df.value.columns)
    assert any("tomorrow = today" in str(m) for m in best["model"])
    assert RunStore(path).count_runs(sweep_id=job.sweep_id) == 8
    check_page_presentation(at)


def test_running_the_same_grid_again_reuses_the_stored_cells(swept):
    path, at, job = swept
    at.button(key="sw.btn.run").click().run()
    again = at.session_state["sw.job"]
    assert again is not job and again.join(TIMEOUT)
    snap = again.snapshot()
    assert (snap.status, snap.skipped, snap.total) == ("finished", 4, 0)
    assert again.sweep_id == job.sweep_id and RunStore(path).count_runs() == 8


def test_stop_cancels_the_rest_and_keeps_finished_cells(store_env):
    form = F.tiny_form()
    form.grid["lr"] = "0.01, 0.003, 0.001, 0.0003"
    spec, cells, problems = F.build_spec(form)
    assert not problems and len(cells) == 8
    job = J.PageSweep(spec, store_env, workers=0)
    job.stop()  # asked before the sweep starts: no cell runs
    job.start()
    assert job.join(TIMEOUT)
    snap = job.snapshot()
    assert snap.status == "stopped" and snap.done == 0 and "Stopped" in snap.message
    store = RunStore(store_env)
    assert store.count_runs(sweep_id=job.sweep_id) == 0
    assert store.get_sweep(job.sweep_id)["status"] == "interrupted"
    resumed = J.PageSweep(spec, store_env, workers=0)
    resumed.start()
    assert resumed.join(TIMEOUT)
    snap = resumed.snapshot()
    assert (snap.status, snap.skipped, snap.done) == ("finished", 0, 8)
    assert resumed.sweep_id == job.sweep_id and store.count_runs(sweep_id=job.sweep_id) == 16


def test_stop_button_on_the_page(store_env):
    at = AppTest.from_file(SWEEP, default_timeout=TIMEOUT).run()
    at.button(key="sw.preset.tiny").click().run()
    at.number_input(key="sw.w.workers").set_value(0).run()
    at.text_input(key="sw.w.grid.epochs").input("300").run()  # seconds per cell: Stop comes first
    at.text_input(key="sw.w.grid.lr").input("0.01, 0.003, 0.001").run()
    at.button(key="sw.btn.run").click().run()
    job = at.session_state["sw.job"]
    assert job.running and not at.button(key="sw.btn.stop").disabled
    end = time.monotonic() + TIMEOUT  # Stop while the sweep trains (a Stop before its first cell stores nothing)
    while job.snapshot().status != "running" and time.monotonic() < end:
        time.sleep(0.05)
    at.button(key="sw.btn.stop").click().run()
    no_exception(at)
    assert job.join(TIMEOUT)
    at.run()
    no_exception(at)
    snap = job.snapshot()
    assert snap.status == "stopped" and 1 <= snap.done < 6
    assert "Stopped" in texts(at.info)
    assert RunStore(store_env).count_runs(sweep_id=job.sweep_id) == 2 * snap.done


def test_a_sweep_waits_in_the_runners_line_and_counts_against_the_page_limit(store_env, monkeypatch):
    """One registry for races and sweeps: with the runner's only worker busy with a race, the page's sweep waits
    in line (and says so), counts against the limit of sweeps, and Stop takes it out of the line."""
    from gru_core.runner import RaceJob, Runner
    from gru_core.runner import runner as runner_module

    runner = Runner("thread", workers=1)
    monkeypatch.setattr(runner_module, "_RUNNER", runner)  # the page's get_runner()
    try:
        cfg = RunConfig(data=DataConfig(params={"length": 200}), model=GRUConfig(hidden_size=4),
                        train=TrainConfig(epochs=2))  # fmt: skip
        race = runner.submit(RaceJob(cfg, controls=[("pause", ())]))  # holds the only slot
        assert race.join(0) is False and J.active_sweeps() == 0
        at = AppTest.from_file(SWEEP, default_timeout=TIMEOUT).run()
        at.button(key="sw.preset.tiny").click().run()
        at.button(key="sw.btn.run").click().run()
        no_exception(at)
        job = at.session_state["sw.job"]
        snap = job.snapshot()
        assert (snap.status, snap.queue_position, snap.live) == ("queued", 1, True) and job.running
        assert J.active_sweeps() == 1 and [h.kind for h in runner.queued()] == ["sweep"]
        assert "Waiting in line" in texts(at.markdown) and "number 1 in line" in texts(at.caption)
        assert not at.button(key="sw.btn.stop").disabled and at.button(key="sw.btn.run").disabled
        other = J.PageSweep(job.spec, store_env)
        with pytest.raises(RuntimeError, match="busy"):
            other.start(max_sweeps=1)  # the page's rule, from the runner's registry
        at.button(key="sw.btn.stop").click().run()
        no_exception(at)
        assert job.join(5) and job.snapshot().status == "cancelled" and J.active_sweeps() == 0
        assert "Cancelled" in texts(at.markdown) and not at.button(key="sw.btn.run").disabled
        assert RunStore(store_env).sweeps().empty  # it never ran: nothing was written
        race.stop()
        assert race.join(30)
    finally:
        runner.shutdown()


def test_the_ui_starts_no_process_and_patches_no_multiprocessing():
    """The sweep runs where the engine's runner hosts it: no multiprocessing anywhere in gru_ui or the pages."""
    for folder in (ROOT / "gru_ui", ROOT / "pages"):
        for path in folder.rglob("*.py"):
            assert "multiprocessing" not in path.read_text(encoding="utf-8"), path


# ---- the Run history page ---------------------------------------------------------------------------------------


def test_history_page_with_an_empty_store_is_friendly(store_env):
    at = AppTest.from_file(HISTORY, default_timeout=TIMEOUT).run()
    no_exception(at)
    assert not at.error
    assert "No runs yet" in texts(at.info) and str(store_env) in texts(at.info)


def test_history_lists_filters_and_compares_the_sweep_runs(swept, monkeypatch):
    path, _, job = swept
    monkeypatch.setenv("GRU_LAB_STORE", str(path))
    at = AppTest.from_file(HISTORY, default_timeout=TIMEOUT).run()
    no_exception(at)
    assert not at.error
    runs = next(df.value for df in at.dataframe if "optimizer" in df.value.columns)
    assert len(runs) == 8 and set(runs["optimizer"]) == {"Adam", "RMSprop"}
    sweeps = next(df.value for df in at.dataframe if "runs stored" in df.value.columns)
    assert list(sweeps["runs stored"]) == [8] and list(sweeps["name"]) == ["tiny demo"]
    at.multiselect(key="hist.w.optimizers").set_value(["RMSprop"]).run()
    runs = next(df.value for df in at.dataframe if "optimizer" in df.value.columns)
    assert len(runs) == 4 and set(runs["optimizer"]) == {"RMSprop"}
    assert "4 of 8 runs match" in texts(at.caption)
    at.radio(key="hist.w.diverged").set_value("yes").run()
    assert "No run matches" in texts(at.info)
    at.radio(key="hist.w.diverged").set_value("all").run()
    at.multiselect(key="hist.w.sweeps").set_value([job.sweep_id]).run()
    at.checkbox(key="hist.w.all").check().run()
    no_exception(at)
    assert "Loss curves of 4 stored runs" in chart_titles(at)
    assert [b.label for b in at.get("download_button")] == ["Download the 4 selected runs (CSV)"]
    check_page_presentation(at)


def test_export_helper_gives_parseable_files(swept):
    path, _, job = swept
    ids = [int(i) for i in RunStore(path).runs(sweep_id=job.sweep_id)["id"]]
    csv = pd.read_csv(io.BytesIO(H.export_runs(path, ids, "csv")))
    assert len(csv) == 8 and {"test_mape", "label", "seed", "lr"} <= set(csv.columns)
    records = json.loads(H.export_runs(path, ids[:3], "json"))
    assert len(records) == 3 and all(len(r["history"]) == 2 for r in records)
    xlsx = H.export_runs(path, ids, "xlsx")
    assert xlsx[:2] == b"PK" and len(pd.read_excel(io.BytesIO(xlsx), sheet_name="history")) == 16
    assert H.export_name("csv", 8).endswith(".csv")


def test_history_delete_asks_first_then_removes(store_env):
    spec, _, _ = F.build_spec(F.tiny_form())
    job = J.PageSweep(spec, store_env, workers=0)
    job.start()
    assert job.join(TIMEOUT) and job.snapshot().status == "finished"
    at = AppTest.from_file(HISTORY, default_timeout=TIMEOUT).run()
    at.multiselect(key="hist.w.optimizers").set_value(["Adam"]).run()
    at.checkbox(key="hist.w.all").check().run()
    at.button(key="hist.btn.delete").click().run()
    no_exception(at)
    assert "Delete 4 runs permanently" in texts(at.warning)
    assert RunStore(store_env).count_runs() == 8  # nothing deleted before the confirmation
    at.button(key="hist.btn.no").click().run()
    assert not at.warning and RunStore(store_env).count_runs() == 8
    at.button(key="hist.btn.delete").click().run()
    at.button(key="hist.btn.yes").click().run()
    no_exception(at)
    assert "Deleted 4 runs" in texts(at.success)
    left = RunStore(store_env).runs()
    assert len(left) == 4 and set(left["label"]) == {"RMSprop"}
    assert not at.checkbox(key="hist.w.all").value  # the selection was cleared


# ---- the helpers ------------------------------------------------------------------------------------------------


def test_build_spec_matches_the_command_line_spec_for_the_study():
    spec, cells, problems = F.build_spec(F.study_form())
    assert (
        not problems and len(cells) == 54 and [c.name for c in spec.contestants] == ["Adam (keras)", "RMSprop (keras)"]
    )
    assert spec.data.split == (0.81, 0.09, 0.1) and spec.data.split_by == "series" and spec.data.fit_scaler_on == "all"
    assert spec.model.init == "keras" and spec.model.dropout == 0.3
    assert spec.train.patience == 3 and spec.train.restore_best is False
    assert spec.grid == {
        "batch_size": [32, 64, 128],
        "epochs": [50, 100],
        "lr": [0.01, 0.001, 0.0001],
        "hidden_size": [16, 32, 64],
    }


def _engine_spec(run: RunConfig, grid: dict, name: str) -> SweepSpec:
    return SweepSpec.from_run(run, grid=grid, name=name)


@pytest.mark.parametrize("which", ["default", "study", "tiny"])
def test_the_forms_make_exactly_the_engines_spec(which):
    """The page's three forms give the spec (same key, same cells) that the engine makes from the run they
    describe, so stored sweeps resume and the command line computes the same numbers."""
    adam_rms = [Contestant("adam"), Contestant("rmsprop")]
    expected = {
        "default": _engine_spec(
            RunConfig(contestants=adam_rms, seeds=[0, 1, 2]),
            {"batch_size": [32], "epochs": [30], "lr": [0.01, 0.001], "hidden_size": [16, 32]}, ""),
        "study": _engine_spec(
            RunConfig(data=DataConfig("noisy_sine", lookback=20, horizon=1, split=(81 / 100, 9 / 100, 10 / 100),
                                      split_by="series", scaler="minmax", fit_scaler_on="all"),
                      model=GRUConfig(init="keras", dropout=0.3), train=TrainConfig(patience=3, restore_best=False),
                      contestants=[Contestant("adam", "keras"), Contestant("rmsprop", "keras")], seeds=[1]),
            {"batch_size": [32, 64, 128], "epochs": [50, 100], "lr": [0.01, 0.001, 0.0001],
             "hidden_size": [16, 32, 64]}, "study grid"),
        "tiny": _engine_spec(
            RunConfig(data=DataConfig(params={"length": 200}), contestants=adam_rms, seeds=[0, 1]),
            {"batch_size": [32], "epochs": [2], "lr": [0.01, 0.001], "hidden_size": [4]}, "tiny demo"),
    }[which]  # fmt: skip
    form = {"default": F.SweepForm(), "study": F.study_form(), "tiny": F.tiny_form()}[which]
    spec, got, problems = F.build_spec(form)
    assert not problems
    assert spec.key == expected.key and spec.to_dict() == expected.to_dict()
    assert [c.key for c in got] == [c.key for c in cells(expected)]
    # the same form read back from its widgets (as the page does) gives the same spec
    again, _, problems = F.build_spec(F.from_widgets(F.to_widgets(form), grid_fields=list(form.grid)))
    assert not problems and again.key == expected.key


def _two_values(name: str) -> tuple[str, list]:
    """Two valid values of a grid field as the box's text, and as the engine holds them."""
    if name == "lr":
        return "0.01, 0.001", [0.01, 0.001]
    s = SETTINGS[name]
    if s.kind == "choice":
        values = list(s.choices[:2])
    elif s.kind == "bool":
        values = [True, False]
    elif s.kind == "split":
        return "0.8,0.1,0.1; 0.7,0.15,0.15", [[0.8, 0.1, 0.1], [0.7, 0.15, 0.15]]
    else:
        high = s.limit if s.limit is not None else s.high
        first = s.default if s.default is not None else s.low
        second = high if high is not None and high != first else first + 1 if s.kind == "int" else first * 2
        values = [first, second]
    return ", ".join(format_value(v) for v in values), [coerce_value(name, v) for v in values]


def test_every_grid_field_can_be_swept_from_the_form():
    form = F.tiny_form()
    assert set(F.MAIN_FIELDS) | set(F.EXTRA_FIELDS) == set(GRID_FIELDS)  # every one is offered
    for name in GRID_FIELDS:
        text, values = _two_values(name)
        form.grid = {**F.tiny_form().grid, name: text}
        spec, got, problems = F.build_spec(form)
        assert not problems, (name, text, problems)
        assert spec.grid[name] == values, name
        assert {repr(c.params[name]) for c in got} == {repr(v) for v in values}, name
        assert F.grid_label(name).startswith(f"{name}: "), name  # the box is labelled with the setting's name


def test_widget_keys_are_the_setting_names():
    widgets = F.to_widgets(F.study_form())
    for key in widgets:
        head, _, part = key.partition(".")
        if head == "grid":
            assert part in GRID_FIELDS, key
        else:
            assert head in SETTINGS or head in ("contestants", "seeds", "name"), key
    assert widgets["fit_scaler_on"] == "all" and widgets["grid.hidden_size"] == "16, 32, 64"
    assert not {"fit_on", "layers", "clip", "hidden", "batch", "train_pct", "n_seeds", "flavor"} & set(widgets)


def test_grid_values_keep_to_the_page_limits():
    assert F.grid_values("hidden_size", "16, 32, 16") == [16, 32]  # repeated values once
    with pytest.raises(ValueError, match="outside the page's limits"):
        F.grid_values("hidden_size", f"{SETTINGS['hidden_size'].limit + 1}")
    with pytest.raises(ValueError, match="outside the page's limits"):
        F.grid_values("lr", "5", [Contestant("adam")])  # the registry's learning-rate range
    with pytest.raises(ValueError, match="at most 20"):
        F.grid_values("epochs", ", ".join(str(i) for i in range(1, 22)))
    with pytest.raises(ValueError, match="variant"):
        F.grid_values("variant", "pytorch, lstm")


def test_extra_fields_and_data_params_reach_the_spec():
    form = F.tiny_form()
    form.grid["dropout"] = "0, 0.3"
    form.grid["split"] = "0.8,0.1,0.1; 0.7,0.15,0.15"
    widgets = {**F.to_widgets(form), "params": "length=300, noise=0.1"}
    form = F.from_widgets(widgets, grid_fields=list(form.grid))
    spec, cells, problems = F.build_spec(form)
    assert not problems
    assert spec.grid["dropout"] == [0.0, 0.3] and spec.grid["split"] == [[0.8, 0.1, 0.1], [0.7, 0.15, 0.15]]
    assert spec.data.params == {"length": 300, "noise": 0.1}
    assert len(cells) == 2 * 2 * 2 * 2
    form = F.from_widgets({**widgets, "params": "lenght=300"}, grid_fields=list(form.grid))
    _, _, problems = F.build_spec(form)
    assert not problems  # a typo in a parameter name is caught when the data are prepared:
    spec, cells, _ = F.build_spec(form)
    _, data_problems = F.check_data(cells)
    assert data_problems and "lenght" in data_problems[0]
    bad = F.from_widgets({**widgets, "params": "length"}, grid_fields=list(form.grid))
    assert "Dataset parameters" in F.build_spec(bad)[2][0]
    short = F.from_widgets({**widgets, "split.train_pct": 90, "split.val_pct": 8}, grid_fields=list(form.grid))
    assert "at least 5 %" in F.build_spec(short)[2][0]


def test_a_sweep_that_cannot_start_reports_and_marks_it_failed(store_env):
    form = F.tiny_form()
    form.run.data.params = {"lenght": 300}
    spec, _, _ = F.build_spec(form)
    job = J.PageSweep(spec, store_env, workers=0)
    job.start()
    assert job.join(TIMEOUT)
    snap = job.snapshot()
    assert snap.status == "error" and "lenght" in snap.message
    assert RunStore(store_env).get_sweep(job.sweep_id)["status"] == "failed"


def test_estimate_counts_cells_and_scales_with_workers():
    spec, cells, _ = F.build_spec(F.tiny_form())
    one = E.estimate(spec, cells, workers=0)
    assert (one.n_configs, one.n_seeds, one.n_cells, one.n_runs) == (2, 2, 4, 8)
    assert one.steps == 4 * 2 * 2 * 5  # cells × optimizers × epochs × ceil(160 training windows / 32)
    assert 0 < one.seconds < 30 and not one.needs_confirm and not one.refused
    stored = E.estimate(spec, cells, workers=0, stored={cells[0].key, cells[1].key})
    assert stored.n_stored == 2 and stored.seconds < one.seconds
    assert duration(75) == "1 min 15 s" and duration(7300) == "2 h 01 min"
    text = E.plan_text(spec, stored, workers=0)
    assert "2 configurations × 2 seeds = 4 cells" in text and "8 runs" in text and "2 cells are already" in text


def test_verdict_says_when_seed_noise_cannot_be_judged(store_env):
    form = F.tiny_form()
    form.run.seeds = [0]
    spec, _, _ = F.build_spec(form)
    job = J.PageSweep(spec, store_env, workers=0)
    job.start()
    assert job.join(TIMEOUT)
    records = R.load_records(store_env, job.sweep_id)
    assert R.seeds_per_config(records) == 1
    level, text = R.verdict(summarize(records), 1)
    assert level == "warning" and "cannot be judged" in text and "3 or more seeds" in text
    assert "chosen on validation loss" in text and "persistence" in text
    table = R.results_table(records)
    assert len(table) == 4 and table["MAPE % std"].isna().all()  # one seed: no spread, no interval
    shown, fixed, one_seed = R.shown_table(table, R.swept_fields(records), R.varying_fields(records))
    assert one_seed and not any(c.endswith(" std") for c in shown.columns)
    assert "epochs 2" in fixed and "epochs" not in shown.columns and "lr" in shown.columns


def test_results_helpers_on_a_stored_sweep(swept):
    path, _, job = swept
    records = R.load_records(path, job.sweep_id)
    df = to_frame(records)
    assert R.swept_fields(records) == ["batch_size", "epochs", "lr", "hidden_size"]
    assert R.varying_fields(records) == ["lr"]
    assert R.heatmap_axes(df, ["lr"]) == (["lr"], "lr", None)
    per = R.paired_rows(df, "Adam", "RMSprop", "test_mape", ["lr"])
    assert len(per) == 2 and set(per["config"]) == {"lr=0.01", "lr=0.001"}
    summ = summarize(records)
    base, values = R.baseline_values(summ["best"], "test_mape")
    assert values["persistence"] == base["persistence"]["mape"]
    best = R.best_table(summ["best"], base, "")
    assert len(best) == 4 and best["seeds"].tolist()[:2] == ["2", "2"] and "±" in best["test MAPE %"].iloc[0]
    assert (R.card_number(12345.6), R.card_number(0.00012345), R.card_number(0.5), R.card_number(None)) == (
        "12,346", "0.00012", "0.5", "—")  # fmt: skip
    assert pd.read_csv(io.BytesIO(R.csv_bytes(R.results_table(records)))).shape[0] == 4


def test_history_tables_and_overlay(swept):
    path, _, job = swept
    store = RunStore(path)
    runs = store.runs()
    table = H.runs_frame(runs)
    assert len(table) == 8 and table["dataset"].iloc[0] == D.series_datasets()["noisy_sine"]
    assert H.sweeps_frame(store.sweeps())["name"].tolist() == ["tiny demo"]
    assert H.sweep_names(store.sweeps())[job.sweep_id] == f"#{job.sweep_id} tiny demo"
    overlay = H.overlay_runs(store, [int(i) for i in runs["id"][:3]])
    assert len(overlay) == 3 and all(o["name"].startswith("#") and len(o["history"]) == 2 for o in overlay)
    assert H.local_time("2024-05-01T14:03:00+00:00") == "2024-05-01 14:03 UTC"


def test_pages_are_layout_only():
    for page in (SWEEP, HISTORY):
        text = Path(page).read_text(encoding="utf-8")
        assert "sys.path" not in text, page
        assert len(text.splitlines()) <= 320, page


def test_filter_runs_by_every_field():
    df = pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "sweep_id": [1, 1, 2, None],
            "label": ["Adam", "RMSprop", "Adam", "SGD"],
            "dataset": ["noisy_sine", "noisy_sine", "co2", "co2"],
            "diverged": [False, True, False, False],
            "created": [
                "2024-05-01T10:00:00+00:00",
                "2024-05-02T10:00:00+00:00",
                "2024-06-01T10:00:00+00:00",
                "2024-06-02T23:59:00+00:00",
            ],
        }
    )
    ids = lambda d: list(d["id"])  # noqa: E731
    assert ids(H.filter_runs(df, sweeps=[1])) == [1, 2]
    assert ids(H.filter_runs(df, sweeps=[None])) == [4] == ids(H.filter_runs(df, sweeps=[H.NO_SWEEP]))
    assert ids(H.filter_runs(df, optimizers=["Adam"])) == [1, 3]
    assert ids(H.filter_runs(df, datasets=["co2"])) == [3, 4]
    assert ids(H.filter_runs(df, diverged="yes")) == [2] and ids(H.filter_runs(df, diverged="no")) == [1, 3, 4]
    since, until = pd.Timestamp("2024-05-02").date(), pd.Timestamp("2024-06-02").date()
    assert ids(H.filter_runs(df, since=since, until=until)) == [2, 3, 4]
    assert ids(H.filter_runs(df, sweeps=[1, 2], optimizers=["Adam"], diverged="no")) == [1, 3]


# ---- the run store a visitor may open ---------------------------------------------------------------------------


def test_store_choice_stays_in_the_servers_store_folder(store_env, tmp_path, monkeypatch):
    monkeypatch.delenv(shell.STORE_ANY_PATH_ENV, raising=False)
    folder = store_env.parent.resolve()
    assert shell.store_folder() == folder
    assert shell.resolve_store_choice("class-2026.sqlite") == (str(folder / "class-2026.sqlite"), None)
    assert shell.resolve_store_choice(str(store_env)) == (str(folder / "runs.sqlite"), None)  # the default, typed
    for bad in ("/etc/passwd", "../outside.sqlite", str(tmp_path.parent / "x.sqlite"), "~/x.sqlite",
                "sub/inner.sqlite", "notes.txt", ".hidden.sqlite", "   "):  # fmt: skip
        path, error = shell.resolve_store_choice(bad)
        assert path is None and error, bad
    monkeypatch.setenv(shell.STORE_ANY_PATH_ENV, "1")  # a single-user machine may allow anything
    assert shell.resolve_store_choice(str(tmp_path.parent / "x.sqlite")) == (str(tmp_path.parent / "x.sqlite"), None)


@pytest.mark.parametrize("page", [SWEEP, HISTORY])
def test_a_store_outside_the_folder_is_refused_on_the_page_and_nothing_is_created(store_env, tmp_path, page):
    outside = tmp_path.parent / f"evil-{tmp_path.name}" / "x.sqlite"
    at = AppTest.from_file(page, default_timeout=TIMEOUT).run()
    no_exception(at)
    at.text_input(key="store.w.path").input(str(outside)).run()
    no_exception(at)
    assert "can only be opened in" in texts(at.sidebar.error)
    assert at.session_state["store_path"] == str(store_env)  # the store in use is kept
    assert not outside.parent.exists(), "a refused path must not be created"
    at.text_input(key="store.w.path").input("second.sqlite").run()  # a name in the same folder is fine
    no_exception(at)
    assert not at.sidebar.error
    assert at.session_state["store_path"] == str(store_env.parent.resolve() / "second.sqlite")
