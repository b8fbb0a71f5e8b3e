"""The Streamlit app, run headless with ``streamlit.testing.v1.AppTest``, plus the pure helpers behind it
(settings <-> URL, upload handling, results table, verdict, model files).

In AppTest the live fragment's timer does not tick by itself: after clicking Train a test waits for the
race through ``session_state["race"]`` and runs the script again, as the timer would.

Races train in the server's runner (``gru_core.runner.get_runner``).  Each test gets a fresh runner on the
``thread`` backend (quick to start, and a test may look at the engine's own Race that trained:
:func:`engine_race`); the tests marked "process backend" train in worker processes, as the server does by
default.
"""

from __future__ import annotations

import json
import random
import string
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _exact import bits
from streamlit.testing.v1 import AppTest

from gru_core.config import (
    MAX_CONTESTANTS,
    SETTINGS,
    Contestant,
    RunConfig,
    contestant_labels,
    parse_interventions,
    to_query,
)
from gru_core.runner import runner as runner_module  # the process's runner, reset per test
from gru_ui.race import changes as C
from gru_ui.race import models as M
from gru_ui.race import panels as P
from gru_ui.race import results as Res
from gru_ui.race import session as R
from gru_ui.race import settings as S
from gru_ui.race.upload import read_upload

APP = str(Path(__file__).resolve().parents[1] / "app.py")
OLD_NAMES = ("data", "col", "date", "splitby", "fit", "hidden", "layers", "batch", "restore", "clip", "seed")
TIMEOUT = 60


def make_app(**query) -> AppTest:
    """The app with these link parameters; one seed unless the test says otherwise (the page's default races
    three: the features tested here are per seed, and the seed tests at the end set ``seeds``)."""
    if "seed" not in query and "seeds" not in query:
        query["seeds"] = "1"
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def chart_specs(at: AppTest) -> list[dict]:
    """Every Plotly figure on the page: ordinary charts and the live charts (gru_ui.live_plot)."""
    specs = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    for el in at.get("bidi_component"):
        data = json.loads(el.proto.json or "{}")
        if data.get("spec"):  # (a live chart waiting for its first figure has none)
            specs.append(json.loads(data["spec"]))
    return specs


def trace_names(at: AppTest) -> set[str]:
    return {t.get("name") for spec in chart_specs(at) for t in spec.get("data", [])}


def train_and_wait(at: AppTest, timeout: float = 120) -> R.RaceHandle:
    at.button(key="btn.train").click().run()
    no_exception(at)
    handle = at.session_state["race"]
    assert handle.live.join(timeout), "the race did not finish in time"
    at.run()  # what the fragment's timer would do
    no_exception(at)
    return handle


def engine_race(handle: R.RaceHandle):
    """The engine's Race that trained this handle's race (thread backend: it lives in this process)."""
    assert handle.live.backend == "thread", "only a thread-backend race can be looked at in this process"
    return handle.live._inner.race


@pytest.fixture(autouse=True)
def _runner(monkeypatch):
    """A fresh runner per test, on the thread backend unless the test sets ``GRU_LAB_BACKEND`` first."""
    monkeypatch.setenv("GRU_LAB_BACKEND", "thread")
    for name in ("GRU_LAB_WORKERS", "GRU_LAB_MAX_RACES", "GRU_LAB_SCHEDULER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(runner_module, "_RUNNER", None)
    yield
    # a failed test must not leave a race training into the next one
    for live in R.all_races():
        live.stop()
        live.join(10)
    if runner_module._RUNNER is not None:
        runner_module._RUNNER.shutdown()


# ---- the page ---------------------------------------------------------------------------------------------


def test_app_loads_with_defaults():
    at = make_app()
    no_exception(at)
    assert "Adam vs RMSprop" in at.title[0].value
    train = at.button(key="btn.train")
    assert not train.disabled
    assert at.button(key="btn.stop").disabled
    assert not at.error
    assert at.session_state[S.wkey("source")] == "noisy_sine"
    assert at.session_state[S.wkey("epochs")] == 60
    assert "Limits:" in texts(at.sidebar.caption)
    assert "series" in str(chart_specs(at)[0]["layout"]["title"]["text"]).lower() or chart_specs(at)


def test_default_train_gives_results_for_both_optimizers():
    at = make_app(epochs="3")
    handle = train_and_wait(at)
    snap = handle.live.snapshot()
    assert snap.status == "finished"
    runs = {r["name"]: r for r in snap.result["runs"]}
    assert set(runs) == {"Adam", "RMSprop"}
    for r in runs.values():
        assert r["test"] is not None and r["test"]["rmse"] > 0
        assert len(r["history"]) == 3
    names = trace_names(at)
    for expected in (
        "Adam · train",
        "Adam · validation",
        "RMSprop · train",
        "RMSprop · validation",
        "Adam (GRU forecast)",
        "persistence (tomorrow = today)",
        "update gate z",
    ):
        assert expected in names
    assert "Finished: epoch 3 / 3" in texts(at.markdown)
    verdict = texts(at.success) + texts(at.warning)
    assert "tomorrow = today" in verdict
    tables = [df.value for df in at.dataframe]
    assert any("winner" in getattr(t, "columns", []) or "winner" in str(t) for t in tables)
    labels = [b.label for b in at.get("download_button")]
    assert any("CSV" in lbl for lbl in labels) and any("JSON" in lbl for lbl in labels)
    assert not at.error


def test_same_link_same_numbers():
    first = train_and_wait(make_app(epochs="2", hidden="8", seed="7")).live.snapshot().result
    second = train_and_wait(make_app(epochs="2", hidden="8", seed="7")).live.snapshot().result

    def numbers(run):  # everything but the wall-clock seconds
        return [{k: v for k, v in h.items() if k != "seconds"} for h in run["history"]], run["test"]

    assert [numbers(r) for r in first["runs"]] == [numbers(r) for r in second["runs"]]


def test_stop_keeps_what_was_trained():
    at = make_app(epochs="2000", hidden="4")
    at.button(key="btn.train").click().run()
    handle = at.session_state["race"]
    assert at.button(key="btn.train").disabled  # one race at a time in a session
    assert not at.button(key="btn.stop").disabled
    for _ in range(600):
        if handle.live.snapshot().history["Adam"]:
            break
        handle.live.join(0.05)
    at.button(key="btn.stop").click().run()
    assert handle.live.join(10)
    at.run()
    no_exception(at)
    snap = handle.live.snapshot()
    assert snap.status == "stopped"
    assert snap.result is not None and snap.result["runs"][0]["history"]
    assert "Stopped" in texts(at.markdown)
    assert "Adam · train" in trace_names(at)


def test_changing_a_setting_keeps_the_last_run_on_screen():
    at = make_app(epochs="2", hidden="8")
    train_and_wait(at)
    at.slider(key=S.wkey("hidden_size")).set_value(12).run()
    no_exception(at)
    assert "Settings changed since this run" in texts(at.info)
    assert "Adam · train" in trace_names(at)
    assert at.session_state["race"].cfg.model.hidden_size == 8
    assert not at.button(key="btn.train").disabled


def test_diverging_optimizer_is_marked():
    at = make_app(epochs="4", opt=["adam", "rmsprop:lr=1.0"])
    handle = train_and_wait(at)
    run = {r["name"]: r for r in handle.live.snapshot().result["runs"]}["RMSprop"]
    assert run["diverged"]
    assert "RMSprop · diverged" in trace_names(at)
    assert "DIVERGED" in texts(at.markdown)
    assert f"step {run['diverged_step']}" in texts(at.markdown)


def test_every_setting_reaches_the_engine():
    at = make_app(
        epochs="2",
        hidden="4",
        horizon="3",
        layers="2",
        variant="classic",
        init="keras",
        dtype="float32",
        dropout="0.2",
        clip="1.0",
        patience="3",
        schedule="cosine",
        batch="16",
        data="sunspots",
        opt=["sgd:lr=0.05,momentum=0.9,nesterov=1", "adagrad", "adamw:weight_decay=0.05"],
    )
    handle = train_and_wait(at)
    race = engine_race(handle)
    assert race.model_config.num_layers == 2 and race.model_config.variant == "classic"
    assert race.model_config.output_size == 3 and race.model_config.dtype == "float32"
    assert race.model_config.hidden_size == 4 and race.model_config.init == "keras"
    assert race.model_config.dropout == 0.2
    for run in race.runs.values():  # the models that trained, not only the configuration
        m = run.model
        assert (m.hidden_size, m.num_layers, m.variant, m.init, m.dropout) == (4, 2, "classic", "keras", 0.2)
    assert race.train_config.epochs == 2 and race.epoch == 2
    assert race.train_config.clip_norm == 1.0 and race.train_config.patience == 3
    assert race.train_config.schedule == "cosine" and race.train_config.batch_size == 16
    assert race.runs["SGD"].opt.hyperparams()["nesterov"] is True
    assert race.runs["AdamW"].opt.hyperparams()["weight_decay"] == 0.05
    assert at.radio(key="view.layer").options == ["layer 1", "layer 2"]
    assert at.slider(key="view.hstep").value == 1
    at.slider(key="view.hstep").set_value(3).run()
    no_exception(at)
    titles = [s["layout"]["title"]["text"] for s in chart_specs(at)]
    assert any("3 steps ahead" in t for t in titles)


# ---- validation before training ---------------------------------------------------------------------------


def test_series_too_short_is_explained_and_train_disabled():
    at = make_app(data="nile", lookback="150")
    no_exception(at)
    assert at.error, "expected an explanation"
    assert "rows" in texts(at.error) or "windows" in texts(at.error)
    assert at.button(key="btn.train").disabled


def test_bad_csv_upload_shows_the_message_not_a_traceback():
    at = make_app(data="csv")
    no_exception(at)
    assert at.button(key="btn.train").disabled
    at.file_uploader(key="upload").set_value(("prices.csv", b"\x89PNG\r\n\x1a\n\x00\x00binary", "text/csv"))
    at.run()
    no_exception(at)
    assert "prices.csv looks like a PNG image" in texts(at.error)
    assert at.button(key="btn.train").disabled


def test_good_csv_upload_gives_column_pickers_and_trains():
    rows = "\n".join(
        f"2020-01-{(i % 28) + 1:02d}T{i % 24:02d}:00,{10 + (i % 7) * 0.5},{i}" for i in range(300)
    )
    data = ("date,price,counter\n" + rows).encode()
    at = make_app(data="csv", epochs="2", hidden="4")
    at.file_uploader(key="upload").set_value(("prices.csv", data, "text/csv")).run()
    no_exception(at)
    assert at.selectbox(key=S.wkey("column")).options
    at.selectbox(key=S.wkey("column")).set_value("price").run()
    assert at.selectbox(key=S.wkey("date_column")).value in ("", "date")
    at.text_input(key=S.wkey("units")).set_value("EUR per kg").run()
    assert not at.button(key="btn.train").disabled, texts(at.error)
    handle = train_and_wait(at)
    assert handle.series_name == "price" and handle.units == "EUR per kg"
    assert at.query_params.get("column") == "price" and at.query_params.get("units") == "EUR per kg"
    forecast = [s for s in chart_specs(at) if "Forecast" in s["layout"]["title"]["text"]][0]
    assert "EUR per kg" in forecast["layout"]["yaxis"]["title"]["text"]


# ---- URL query parameters ---------------------------------------------------------------------------------


def test_query_params_set_the_widgets_and_round_trip():
    query = {
        "data": "sunspots",
        "lookback": "30",
        "hidden": "16",
        "layers": "2",
        "epochs": "15",
        "seed": "42",
        "split": "70,15,15",
        "scaler": "standard",
        "fit": "all",
        "restore": "0",
        "patience": "5",
        "opt": ["sgd:lr=0.05,momentum=0.9", "adam:keras"],
    }
    at = make_app(**query)
    no_exception(at)
    assert not at.warning or "link" not in texts(at.warning)
    ss = at.session_state
    assert ss[S.wkey("source")] == "sunspots"
    assert ss[S.wkey("lookback")] == 30 and ss[S.wkey("hidden_size")] == 16 and ss[S.wkey("num_layers")] == 2
    assert ss[S.SPLIT_KEYS[0]] == 70 and ss[S.SPLIT_KEYS[1]] == 15
    assert ss[S.wkey("fit_scaler_on")] == "all" and ss[S.wkey("restore_best")] is False
    assert at.slider(key=S.wkey("hidden_size")).value == 16
    assert "SGD vs Adam (keras)" in at.title[0].value
    assert ss[S.okey(0, "hyper.momentum")] == 0.9 and ss[S.okey(0, "hyper.lr")] == 0.05
    assert ss[S.okey(1, "flavor")] == "keras" and ss[S.okey(1, "hyper.lr")] == 0.001
    assert any("leaks" in w for w in [str(x.value) for x in at.warning])  # fit on all: leakage warning
    # the URL now holds the whole configuration, and reading it back gives the same configuration
    cfg, notes = S.page_query(dict(at.query_params))
    assert notes == []
    assert to_query(cfg) == to_query(S.config_from_state(at.session_state.to_dict()))
    assert at.query_params["opt"] == ["sgd:lr=0.05,momentum=0.9", "adam:keras:lr=0.001"]


def test_hostile_query_params_fall_back_to_defaults_with_a_warning():
    at = make_app(
        lookback="abc",
        hidden="99999",
        layers="-1",
        epochs="1e9",
        seed="1.5",
        dropout="nan",
        data="../../etc/passwd",
        scaler="<script>alert(1)</script>",
        split="90,90,90",
        opt=["evil", "adam:lr=5", "rmsprop:bogus=1"],
        restore="maybe",
        junk="1",
        clip="x" * 100_000,
    )
    no_exception(at)
    warning = texts(at.warning)
    assert "ignored" in warning
    for bad in (
        "lookback=abc",
        "hidden=99999",
        "layers=-1",
        "epochs=1e9",
        "seed=1.5",
        "dropout=nan",
        "data=../../etc/passwd",
        "split=90,90,90",
        "opt=evil",
        "lr=5",
        "bogus",
        "junk",
        "restore=maybe",
    ):
        assert bad in warning, bad
    assert "x" * 100 not in warning  # huge values are shortened in the notice
    assert "too long" in warning
    ss = at.session_state
    defaults = S.PAGE_DEFAULT
    for name in ("lookback", "hidden_size", "num_layers", "epochs", "dropout", "source", "scaler", "restore_best"):
        assert ss[S.wkey(name)] == defaults.get(name), name
    assert ss[S.wkey("seed")] == defaults.seed
    assert [ss[S.okey(i, "optimizer")] for i in ss["opt_ids"]] == ["adam", "rmsprop"]
    assert ss[S.okey(0, "hyper.lr")] == 0.001  # adam's bad lr ignored: registry default
    assert not at.button(key="btn.train").disabled


def test_decode_query_never_raises_on_garbage():
    rng = random.Random(0)
    alphabet = string.printable + "éß€\u202e\x00"
    for _ in range(300):
        params = {}
        for _ in range(rng.randint(0, 6)):
            name = rng.choice([*to_query(S.PAGE_DEFAULT), *OLD_NAMES, "x", ""])
            value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
            params[name] = [value, value[::-1]] if rng.random() < 0.2 else value
        cfg, notes = S.page_query(params)
        assert isinstance(cfg, RunConfig) and isinstance(notes, list)
        assert (
            1 <= cfg.data.lookback <= SETTINGS["lookback"].limit and 1 <= len(cfg.contestants) <= MAX_CONTESTANTS
        )
        assert S.split_percent(cfg.data.split) is not None and cfg.data.split[0] + cfg.data.split[1] <= 0.95
        S.widget_state(cfg)  # the widgets can show it


def test_encode_decode_round_trip():
    cfg = S.PAGE_DEFAULT.replace(lookback=33, dropout=0.25, clip_norm=2.5, schedule="cosine")
    cfg.seeds = [123]
    cfg.contestants = [
        Contestant("adam", "pytorch", {"lr": 3e-4, "amsgrad": True}),
        Contestant("rmsprop", "keras", {"lr": 0.002}),
        Contestant("adam"),
    ]
    back, notes = S.page_query(to_query(cfg))
    assert notes == []
    assert to_query(back) == to_query(cfg)
    assert back.contestants[0].hyper["lr"] == 3e-4 and back.contestants[0].hyper["amsgrad"] is True
    assert contestant_labels(back.contestants) == ["Adam", "RMSprop (keras)", "Adam #2"]
    too_many, notes = S.page_query({"opt": ["adam"] * 9})
    assert len(too_many.contestants) == MAX_CONTESTANTS and notes


OLD_LINK = "hidden=16&batch=8&split=70,15,15&patience=0&clip=0&fit=all&opt=adam:lr=0.01&seed=3"
NEW_LINK = ("hidden_size=16&batch_size=8&split=0.7,0.15,0.15&patience=none&clip_norm=none&fit_scaler_on=all"
            "&opt=adam:lr=0.01&seeds=3,")  # fmt: skip


def _params(link: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in link.split("&"):
        k, _, v = item.partition("=")
        out.setdefault(k, []).append(v)
    return out


def test_a_link_made_before_the_one_run_configuration_opens_the_same_run():
    old, old_notes = S.page_query(_params(OLD_LINK))
    new, new_notes = S.page_query(_params(NEW_LINK))
    assert old_notes == [] and new_notes == []
    assert old.to_dict() == new.to_dict()
    want = S.PAGE_DEFAULT.replace(hidden_size=16, batch_size=8, split=(0.7, 0.15, 0.15), patience=None,
                                  clip_norm=None, fit_scaler_on="all")  # fmt: skip
    want.contestants, want.seeds = [Contestant("adam", hyper={"lr": 0.01})], [3]
    assert to_query(old) == to_query(want) and old.seed == 3
    assert old.model_config() == want.model_config() and old.train_config() == want.train_config()
    # … and on the page: the widgets show it, and the URL is rewritten with the one names
    at = make_app(**_params(OLD_LINK))
    no_exception(at)
    assert not at.warning or "ignored" not in texts(at.warning)
    ss = at.session_state
    assert ss[S.wkey("hidden_size")] == 16 and ss[S.wkey("batch_size")] == 8 and ss[S.wkey("seed")] == 3
    assert (ss[S.SPLIT_KEYS[0]], ss[S.SPLIT_KEYS[1]]) == (70, 15)
    assert ss[S.wkey("patience")] == 0 and ss[S.wkey("clip_norm")] == 0 and ss[S.wkey("fit_scaler_on")] == "all"
    assert to_query(S.config_from_state(ss.to_dict())) == to_query(want)
    assert at.query_params["hidden_size"] == "16" and "hidden" not in at.query_params
    assert at.query_params["seeds"] == "3," and at.query_params["opt"] == "adam:lr=0.01"


def test_settings_round_trip_widgets_run_config_url_run_config():
    cfg = S.PAGE_DEFAULT.replace(
        source="sunspots", lookback=31, horizon=3, split=(0.75, 0.05, 0.2), split_by="series", scaler="standard",
        fit_scaler_on="all", hidden_size=12, num_layers=2, variant="classic", init="keras", dropout=0.15,
        dtype="float32", epochs=7, batch_size=16, patience=4, restore_best=False, clip_norm=0.5, schedule="step",
        step_every=3, step_gamma=0.25, shuffle=False,
    )  # fmt: skip
    cfg.seeds = [99]
    cfg.contestants = [Contestant("sgd", hyper={"lr": 0.05, "momentum": 0.9}), Contestant("rmsprop", "keras"),
                       Contestant("sgd", hyper={"lr": 0.01})]  # fmt: skip
    cfg.interventions = [{"step": 5, "optimizer": "SGD #2", "field": "lr", "new": 0.02}]
    state = S.widget_state(cfg)
    assert state[S.wkey("hidden_size")] == 12 and state[S.SPLIT_KEYS[0]] == 75 and state[S.wkey("seed")] == 99
    from_widgets = S.config_from_state(state)
    assert from_widgets.to_dict() == cfg.replace().to_dict() | {"contestants": from_widgets.to_dict()["contestants"]}
    assert to_query(from_widgets) == to_query(cfg)
    back, notes = S.page_query(to_query(from_widgets))
    assert notes == [] and back.to_dict() == from_widgets.to_dict()
    # 0 = off at the widget boundary, None in the run
    off = S.config_from_state({**state, S.wkey("patience"): 0, S.wkey("clip_norm"): 0.0})
    assert off.train.patience is None and off.train.clip_norm is None
    assert S.widget_state(off)[S.wkey("patience")] == 0 and S.widget_state(off)[S.wkey("clip_norm")] == 0.0
    # through the page: the widgets it draws write the same URL
    at = make_app(**to_query(cfg))
    no_exception(at)
    assert not at.warning or "ignored" not in texts(at.warning)
    assert dict(at.query_params) == {k: v if isinstance(v, str) or len(v) > 1 else v[0] for k, v in
                                     to_query(cfg).items()}  # fmt: skip


def _old_build(prepared, hidden, layers, horizon, variant, init, dropout, dtype, epochs, batch, patience, restore,
               clip, schedule, seed, entries):  # fmt: skip
    """The race page's hand-over before the one run configuration (gru_ui/runs.py build_race, verbatim)."""
    import math

    from gru_core.model.gru import GRUConfig
    from gru_core.train import TrainConfig

    labels = contestant_labels(entries)
    contestants = [Contestant(e.optimizer, flavor=e.flavor, hyper=e.full_hyper(), label=label)
                   for e, label in zip(entries, labels)]  # fmt: skip
    model = GRUConfig(input_size=1, hidden_size=hidden, output_size=horizon, num_layers=layers, variant=variant,
                      init=init, dropout=dropout, dtype=dtype, seed=seed)  # fmt: skip
    n_batches = math.ceil(len(prepared.X_train) / batch)
    log_every = max(1, n_batches // 8) if n_batches >= 40 else 0
    train = TrainConfig(epochs=epochs, batch_size=batch, patience=patience or None, restore_best=restore,
                        clip_norm=clip or None, shuffle=True, seed=seed, schedule=schedule,
                        log_every=log_every)  # fmt: skip
    return model, train, contestants


@pytest.mark.parametrize("batch", [8, 64])  # 8: more than 40 mini-batches an epoch, so log_every > 0
def test_the_race_the_page_starts_gets_the_same_configuration_as_before(batch):
    from gru_core.data.datasets import load_dataset

    entries = [Contestant("adam", hyper={"lr": 0.01}), Contestant("rmsprop", "keras"), Contestant("adam")]
    at = make_app(hidden="12", layers="2", horizon="2", variant="classic", init="keras", dropout="0.2",
                  dtype="float32", epochs="9", batch=str(batch), patience="4", restore="0", clip="1.5",
                  schedule="cosine", seed="17", lookback="15",
                  opt=["adam:lr=0.01", "rmsprop:keras", "adam"])  # fmt: skip
    no_exception(at)
    cfg = S.config_from_state(at.session_state.to_dict())
    prepared, problems = R.check_config(cfg, load_dataset("noisy_sine"))
    assert problems == []
    race = R.build_race(prepared, cfg)
    model, train, contestants = _old_build(prepared, 12, 2, 2, "classic", "keras", 0.2, "float32", 9, batch, 4,
                                           False, 1.5, "cosine", 17, entries)  # fmt: skip
    assert race.model_config == model and race.train_config == train
    assert (train.log_every > 0) == (batch == 8)
    got = [(r.contestant.optimizer, r.contestant.flavor, r.contestant.hyper, r.contestant.name)
           for r in race.runs.values()]  # fmt: skip
    assert got == [(c.optimizer, c.flavor, c.hyper, c.label) for c in contestants]
    assert list(race.runs) == ["Adam", "RMSprop (keras)", "Adam #2"]


def test_a_race_page_model_file_opens_under_its_own_label():
    """The gate inspector names a model file by ``load_model(...).info.label``: the contestant's label."""
    from gru_core.data.datasets import load_dataset
    from gru_core.model.files import load_model

    cfg = S.PAGE_DEFAULT.replace(epochs=1, hidden_size=4)
    cfg.contestants = [Contestant("adam"), Contestant("adam", hyper={"lr": 0.01}), Contestant("rmsprop", "keras")]
    series = load_dataset("noisy_sine")
    prepared, problems = R.check_config(cfg, series)
    assert problems == []
    handle = R.start_race(prepared, cfg, None, series, {}, max_races=8)
    assert handle.live.join(60)
    models = M.snapshot_models(handle, handle.live.snapshot())
    for name in ("Adam", "Adam #2", "RMSprop (keras)"):
        ck = load_model(M.model_file(handle, name, models))
        assert ck.info.label == name
        assert np.array_equal(ck.model.params.flat, engine_race(handle).runs[name].model.params.flat)
        assert ck.run.labels == handle.labels


def test_duplicate_optimizers_race_under_distinct_labels():
    at = make_app(epochs="2", hidden="4", opt=["adam", "adam:lr=0.01"])
    assert "Adam vs Adam #2" in at.title[0].value
    handle = train_and_wait(at)
    assert handle.labels == ["Adam", "Adam #2"]
    assert len(set(handle.colors.values())) == 2


def test_add_and_remove_optimizer_buttons():
    at = make_app()
    for _ in range(4):
        at.button(key="opt.add").click().run()
    assert len(at.session_state["opt_ids"]) == MAX_CONTESTANTS
    assert at.button(key="opt.add").disabled
    at.button(key="opt.0.remove").click().run()
    assert len(at.session_state["opt_ids"]) == 5
    no_exception(at)


# ---- helpers behind the page ------------------------------------------------------------------------------


def test_read_upload_turns_every_problem_into_a_message():
    for data, fragment in [
        (b"", "empty"),
        (b"%PDF-1.4 ...", "PDF"),
        (b"date,price\n2020-01-01,1\n", "usable row"),
        (b"a;b\nx;y\nz;w\n", "numbers"),
        (b"x" * (S.PAGE_LIMITS["upload_mb"] * 1024 * 1024 + 1), "limit"),
    ]:
        up = read_upload(data, "f.csv")
        assert up.series is None and up.error and fragment.lower() in up.error.lower(), (fragment, up.error)
        assert "f.csv" in up.error
    ok = read_upload(
        ("t,v\n" + "\n".join(f"{i},{i * 0.5}" for i in range(50))).encode(), "ok.csv", date_column=""
    )
    assert ok.error is None and len(ok.series) == 50 and ok.columns.numeric_columns


def test_results_table_and_verdict():
    result = {
        "runs": [
            {
                "name": "Adam",
                "test": {"mse": 1.0, "rmse": 1.0, "mae": 0.8, "mape": 5.0, "r2": 0.9},
                "status": "finished",
                "best_epoch": 9,
                "stopped_epoch": 10,
                "seconds": 1.5,
                "diverged": False,
            },
            {
                "name": "RMSprop",
                "test": None,
                "status": "diverged",
                "best_epoch": None,
                "stopped_epoch": 1,
                "diverged": True,
                "diverged_step": 3,
                "diverged_epoch": 1,
                "seconds": 0.1,
            },
        ],
        "baselines": {
            "persistence": {"mse": 4.0, "rmse": 2.0, "mae": 1.5, "mape": 9.0, "r2": 0.5},
            "linear": {"mse": 2.0, "rmse": 1.41, "mae": 1.0, "mape": 7.0, "r2": 0.7},
        },
    }
    table = Res.results_table(result)
    assert list(table["model"])[:2] == ["Adam", "RMSprop"]
    assert table.loc[table["model"] == "Adam", "winner"].item() == "★ best"
    assert "diverged at step 3" in table.loc[table["model"] == "RMSprop", "status"].item()
    assert {"MSE", "RMSE", "MAE", "MAPE %", "R²", "train time (s)"} <= set(table.columns)
    shown = Res.format_table(table)
    assert shown.loc[shown["model"] == "RMSprop", "MSE"].item() == "—"
    assert shown.loc[shown["model"] == "Adam", "train time (s)"].item() == "1.50"
    assert shown.loc[shown["model"] == "Adam", "best epoch"].item() == "9"
    assert "beats" in Res.verdict(result) and "NOT" not in Res.verdict(result)
    result["baselines"]["persistence"].update(mse=0.5, rmse=0.7)
    assert "does NOT beat" in Res.verdict(result, "USD")
    assert "tomorrow = today" in Res.verdict(result)


def _prepared_noisy_sine(cfg):
    from gru_core.data.datasets import load_dataset

    series = load_dataset("noisy_sine")
    prepared, problems = R.check_config(cfg, series)
    assert problems == [] and prepared is not None
    return prepared, series


def test_orphaned_race_is_stopped_and_server_limit_holds():
    cfg = S.PAGE_DEFAULT.replace(epochs=2000, hidden_size=4)
    prepared, series = _prepared_noisy_sine(cfg)
    handle = R.start_race(prepared, cfg, "k", series, {}, max_races=8)
    try:
        R.heartbeat(handle.live)
        assert R.stop_orphans(max_silence=60) == 0  # watched: keeps training
        assert handle.live.running
        with pytest.raises(RuntimeError, match="The server is full"):
            R.start_race(prepared, cfg, "k2", series, {}, max_races=R.active_races())
        assert R.stop_orphans(max_silence=0) >= 1  # nobody watching: stopped
        assert handle.live.join(10)
        assert handle.live.snapshot().status == "stopped"
    finally:
        handle.live.stop()
        handle.live.join(10)


def test_dropped_session_stops_its_race():
    import gc

    cfg = S.PAGE_DEFAULT.replace(epochs=2000, hidden_size=4)
    prepared, series = _prepared_noisy_sine(cfg)
    handle = R.start_race(prepared, cfg, "k", series, {}, max_races=8)
    live = handle.live
    del handle  # what happens to session_state when Streamlit drops a closed session
    gc.collect()
    assert live.join(10), "the worker kept training for a session that no longer exists"
    assert live.snapshot().status == "stopped"


# ---- classroom control: pause, step, live learning rate, replay -------------------------------------------


def _wait_until(cond, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError("timed out")


def _history_numbers(history: dict) -> dict:
    return {n: [{k: v for k, v in rec.items() if k != "seconds"} for rec in recs] for n, recs in history.items()}


def _chart(at: AppTest, title_part: str) -> dict:
    found = [s for s in chart_specs(at) if title_part in str(s["layout"].get("title", {}).get("text", ""))]
    assert found, [s["layout"].get("title") for s in chart_specs(at)]
    return found[0]


def test_pause_step_change_learning_rate_resume_and_replay_exactly():
    at = make_app(epochs="2000", hidden="4")
    at.button(key="btn.train").click().run()
    handle = at.session_state["race"]
    _wait_until(lambda: len(handle.live.snapshot().history["Adam"]) >= 1)
    assert at.button(key="btn.resume").disabled and at.button(key="btn.step_epoch").disabled
    # Pause: training halts after the current mini-batch, everything stays on screen
    at.button(key="btn.pause").click().run()
    no_exception(at)
    snap = handle.live.snapshot()
    assert snap.status == "paused"
    assert "Paused at epoch" in texts(at.markdown)
    assert at.button(key="btn.pause").disabled and not at.button(key="btn.resume").disabled
    assert not at.button(key="btn.step_epoch").disabled and not at.button(key="btn.stop").disabled
    assert at.button(key="btn.train").disabled
    time.sleep(0.4)
    frozen = handle.live.snapshot()
    assert (frozen.step, frozen.version) == (snap.step, snap.version)
    assert len(frozen.history["Adam"]) == len(snap.history["Adam"])
    assert "Adam · train" in trace_names(at)
    # Step k mini-batches, then pause again
    at.number_input(key="ctl.step_k").set_value(3).run()
    at.button(key="btn.step_batches").click().run()
    stepped = handle.live.snapshot()
    assert stepped.status == "paused" and stepped.step == snap.step + 3
    # a new learning rate for Adam: applies from the next step, shown as pending until then
    lr = at.select_slider(key=P.lr_key(handle, 0))
    assert lr.value == 0.001 and not lr.disabled
    lr.set_value(0.05).run()
    no_exception(at)
    assert "from the next step" in texts(at.markdown)
    assert handle.live.snapshot().pauses[-1]["step"] == stepped.step
    # Step one epoch: the change is applied at the first step after the pause and marked on the chart
    at.button(key="btn.step_epoch").click().run()
    no_exception(at)
    done = handle.live.snapshot()
    assert done.status == "paused" and done.step == stepped.step + handle.n_batches  # one epoch's worth
    change = {"step": stepped.step + 1, "optimizer": "Adam", "field": "lr", "old": 0.001, "new": 0.05}
    assert done.interventions == [change]
    assert any(p["changed"] and p["step"] == stepped.step for p in done.pauses)
    loss = _chart(at, "Loss per epoch")
    assert "Adam · lr change" in {t["name"] for t in loss["data"]}
    assert any("Adam: lr 0.001 → 0.05" in a["text"] for a in loss["layout"]["annotations"])
    assert any(s.get("name") == "pause (changed)" for s in loss["layout"]["shapes"])
    # Resume: training goes on; then halt at an epoch boundary and stop
    at.button(key="btn.resume").click().run()
    assert handle.live.snapshot().status == "running"
    at.button(key="btn.pause").click().run()
    here = handle.live.snapshot().step
    at.number_input(key="ctl.step_k").set_value((-here) % handle.n_batches or handle.n_batches).run()
    at.button(key="btn.step_batches").click().run()  # to the epoch's end
    assert handle.live.snapshot().status == "paused" and handle.live.snapshot().step % handle.n_batches == 0
    at.button(key="btn.stop").click().run()
    assert handle.live.join(10)
    at.run()
    no_exception(at)
    final = handle.live.snapshot()
    assert final.status == "stopped"
    assert final.result["interventions"] == done.interventions
    assert any(p["changed"] for p in final.result["pauses"])
    epochs = final.epoch
    # the URL and the JSON export carry the change; both replay the run exactly
    assert at.query_params["iv"] == f"Adam@{stepped.step + 1}:0.05"
    exported = json.loads(Res.run_json(handle, final))
    assert exported["interventions"] == final.interventions and exported["pauses"] == final.pauses
    cfg, notes = Res.config_from_run_json(Res.run_json(handle, final))
    assert notes == [] and cfg.interventions[0]["new"] == 0.05
    query = {k: v for k, v in dict(at.query_params).items()}
    query["epochs"] = str(epochs)
    replay = make_app(**query)
    assert "This link replays 1 learning-rate change" in texts(replay.info)
    replayed = train_and_wait(replay).live.snapshot()
    assert replayed.status == "finished"
    assert replayed.interventions == final.interventions
    assert _history_numbers(replayed.history) == _history_numbers(final.history)
    assert [r["test"] for r in replayed.result["runs"]] == [r["test"] for r in final.result["runs"]]
    from_json = to_query(cfg)
    from_json["epochs"] = str(epochs)
    assert from_json == to_query(S.page_query(query)[0])  # the JSON export replays the same run


def test_interventions_round_trip_through_the_url():
    cfg = S.PAGE_DEFAULT.replace()
    cfg.contestants = [Contestant("adam"), Contestant("rmsprop", "keras", {"lr": 0.001}), Contestant("adam")]
    cfg.interventions = [
        {"step": 123, "optimizer": "Adam", "field": "lr", "new": 0.1 + 0.2},  # not a short decimal: exact
        {"step": 400, "optimizer": "RMSprop (keras)", "field": "lr", "new": 0.002},
        {"step": 401, "optimizer": "Adam #2", "field": "lr", "new": 1e-5},
    ]
    q = to_query(cfg)
    assert q["iv"] == "Adam@123:0.30000000000000004;RMSprop (keras)@400:0.002;Adam #2@401:1e-05"
    back, notes = S.page_query(q)
    assert notes == []
    assert back.interventions == cfg.interventions
    assert to_query(back) == q
    assert "iv" not in to_query(S.PAGE_DEFAULT)  # no changes: no parameter
    assert S.config_key(back) == S.config_key(S.page_query({**q, "iv": ""})[0])  # compared on their own


def test_the_link_of_a_run_keeps_changes_it_made_and_replayed_ones_it_has_not_reached():
    from types import SimpleNamespace

    cfg = S.PAGE_DEFAULT.replace()
    cfg.interventions = [
        {"step": 30, "optimizer": "Adam", "field": "lr", "new": 0.01},
        {"step": 80, "optimizer": "RMSprop", "field": "lr", "new": 0.002},
    ]
    handle = SimpleNamespace(cfg=cfg)
    applied = [
        {"step": 30, "optimizer": "Adam", "field": "lr", "old": 0.001, "new": 0.01},
        {"step": 42, "optimizer": "Adam", "field": "lr", "old": 0.01, "new": 0.02},  # live, during a pause
        {"step": 42, "optimizer": "Adam", "field": "lr", "old": 0.02, "new": 0.05},  # … slid further
    ]
    snap = SimpleNamespace(step=50, interventions=applied)
    assert to_query(C.share_config(handle, snap))["iv"] == "Adam@30:0.01;Adam@42:0.05;RMSprop@80:0.002"
    later = SimpleNamespace(step=90, interventions=[*applied, {**cfg.interventions[1], "old": 0.01}])
    assert to_query(C.share_config(handle, later))["iv"] == "Adam@30:0.01;Adam@42:0.05;RMSprop@80:0.002"
    start = SimpleNamespace(step=0, interventions=[])
    assert C.share_config(handle, start).interventions == cfg.interventions
    merged = C.merge_changes(applied)
    assert merged[1] == {"step": 42, "optimizer": "Adam", "field": "lr", "old": 0.01, "new": 0.05}


def test_hostile_interventions_in_the_link_are_ignored_with_a_warning():
    bad = [
        "Adam@abc:0.1",
        "Ghost@5:0.1",
        "Adam@10:5",
        "Adam@-3:0.01",
        "Adam@10:nan",
        "garbage",
        "Adam@10:0.01<script>",
    ]
    at = make_app(iv=";".join([*bad, "RMSprop@7:0.02"]))
    no_exception(at)
    warning = texts(at.warning)
    for b in bad:
        assert b in warning, b
    assert at.session_state[S.REPLAY_KEY] == [{"step": 7, "optimizer": "RMSprop", "field": "lr", "new": 0.02}]
    assert "This link replays 1 learning-rate change" in texts(at.info)
    assert not at.button(key="btn.train").disabled
    huge = make_app(iv="Adam@1:0.1;" * 2000)
    assert "too long" in texts(huge.warning) and huge.session_state[S.REPLAY_KEY] == []
    at.button(key="btn.forget_iv").click().run()
    assert at.session_state[S.REPLAY_KEY] == [] and "iv" not in at.query_params
    for _ in range(200):
        rng = random.Random(_)
        text = "".join(rng.choice("Adam@RMSprop:;0123456789.e-#( )") for _ in range(rng.randint(0, 60)))
        ivs, notes = parse_interventions(text, S.PAGE_DEFAULT.contestants)
        assert all(iv["step"] >= 1 and 1e-5 <= iv["new"] <= 1.0 for iv in ivs)


# ---- saving and reloading models --------------------------------------------------------------------------


def _finished_race(at: AppTest) -> R.RaceHandle:
    handle = train_and_wait(at)
    assert handle.live.snapshot().status == "finished"
    return handle


def test_model_download_round_trips_through_load_model():
    from gru_core.model.files import load_model

    at = make_app(epochs="2", hidden="6", lookback="12")
    handle = _finished_race(at)
    labels = [b.label for b in at.get("download_button")]
    assert "Download Adam model (.npz)" in labels and "Download RMSprop model (.npz)" in labels
    models = M.snapshot_models(handle, handle.live.snapshot())
    for name in ("Adam", "RMSprop"):
        ck = load_model(M.model_file(handle, name, models))
        run = engine_race(handle).runs[name]
        assert np.array_equal(ck.model.params.flat, run.model.params.flat)
        assert ck.model.config == run.model.config
        assert type(ck.optimizer) is type(run.opt) and ck.optimizer.steps == run.opt.steps
        for pname, st in run.opt.state_dict()["state"].items():
            for key, value in st.items():
                if isinstance(value, np.ndarray):
                    assert np.array_equal(ck.optimizer.state[pname][key], value)
        assert ck.data_config["lookback"] == 12 and ck.run.data.source == "noisy_sine"
        assert ck.data_config["split"] == [0.8, 0.1, 0.1] and ck.data_config["scaler"] == "minmax"
        assert ck.info.label == name and ck.info.epochs_trained == 2
        assert ck.scaler == handle.prepared.scaler.to_dict()
        # the file records the run that trained it, and the keys the command line writes
        assert to_query(ck.run) == to_query(handle.cfg) and ck.run.seed == handle.cfg.seed
        assert (ck.info.optimizer, ck.info.flavor, ck.info.seed, ck.info.status) == (
            run.contestant.optimizer, "pytorch", handle.cfg.seed, "finished")  # fmt: skip
        assert ck.info.metrics["test"]["rmse"] > 0 and ck.info.series["name"] == handle.series_name
        assert ck.info.query == handle.query


def _hostile_models() -> dict[str, bytes]:
    import io as _io

    from gru_core.model.files import save_model_bytes
    from gru_core.model.gru import GRUConfig, GRURegressor

    good = save_model_bytes(GRURegressor.from_config(GRUConfig(hidden_size=5)), data_config={"lookback": 9})
    data = dict(np.load(_io.BytesIO(good)))
    wrong = dict(data)
    wrong["param/gru.weight_ih_l0"] = np.zeros((7, 1))
    buf = _io.BytesIO()
    np.savez(buf, **wrong)
    pickled = _io.BytesIO()
    np.savez(pickled, format_version=np.asarray(1), meta=np.array([{"evil": "pickle"}], dtype=object))
    rng = random.Random(3)
    return {  # neutral names: a word of the expected error must come from the loader, not from the file name
        "a.npz": bytes(rng.getrandbits(8) for _ in range(2000)),  # random bytes
        "b.npz": good[: len(good) // 2],  # truncated
        "c.npz": pickled.getvalue(),  # a pickled object in 'meta'
        "d.npz": buf.getvalue(),  # wrong shapes
        "e.npz": b"",  # empty
        "f.npz": b"PK",  # tiny
        "good.npz": good,
    }


def test_hostile_model_upload_shows_an_error_and_keeps_the_session():
    files = _hostile_models()
    ss = {S.wkey("hidden_size"): 32, S.wkey("lookback"): 20, "race": "keep me", M.MODEL_KEY: "the previous model"}
    expected = {  # words of the model-file loader's own messages (load_model)
        "a.npz": "it is not a zip archive (wrong file type?)",
        "b.npz": "(truncated or not a zip archive)",
        "c.npz": "entry 'meta' holds pickled python objects, which are never loaded here",
        "d.npz": "parameter gru.weight_ih_l0 has shape (7, 1), expected (15, 1)",
        "e.npz": "it is not a zip archive (wrong file type?)",
        # 'PK' without the rest of a zip header: np.load takes it for a pickle, and the loader refuses that
        "f.npz": "not a readable .npz model file: it is not a zip archive",
    }
    for name, fragment in expected.items():
        before = dict(ss)
        up = M.handle_model_upload(ss, files[name], name)
        assert up.error and up.error.startswith(f"{name} cannot be used: "), (name, up.error)
        assert fragment in up.error.lower(), (name, up.error)
        assert ss[M.MODEL_ERROR_KEY] == up.error
        assert {k: v for k, v in ss.items() if k != M.MODEL_ERROR_KEY} == {
            k: v for k, v in before.items() if k != M.MODEL_ERROR_KEY
        }, name
    up = M.handle_model_upload(ss, files["good.npz"], "good.npz")
    assert up.error is None and ss[M.MODEL_KEY] is up and M.MODEL_ERROR_KEY not in ss
    assert ss[S.wkey("hidden_size")] == 5 and ss[S.wkey("lookback")] == 9 and ss["race"] == "keep me"


def test_uploaded_model_sets_the_widgets_and_the_next_train_continues_from_it():
    from gru_core.model.files import load_model

    at = make_app(epochs="2", hidden="6", lookback="12")
    handle = _finished_race(at)
    data = M.model_file(handle, "Adam", M.snapshot_models(handle, handle.live.snapshot()))
    fresh = make_app(epochs="1")
    fresh.file_uploader(key="model_upload").set_value(("bad.npz", b"junk bytes", "application/octet-stream")).run()
    no_exception(fresh)
    assert "bad.npz" in texts(fresh.error) and fresh.session_state[S.wkey("hidden_size")] == 32
    fresh.file_uploader(key="model_upload").set_value(("adam.npz", data, "application/octet-stream")).run()
    no_exception(fresh)
    assert fresh.session_state[S.wkey("hidden_size")] == 6 and fresh.session_state[S.wkey("lookback")] == 12
    assert fresh.slider(key=S.wkey("hidden_size")).value == 6
    assert "The next Train continues from adam.npz" in texts(fresh.success)
    continued = train_and_wait(fresh)
    assert continued.initial_from == "adam.npz"
    assert np.array_equal(engine_race(continued).initial_flat, load_model(data).model.params.flat)
    assert engine_race(continued).runs["Adam"].opt.steps > engine_race(handle).runs["Adam"].opt.steps  # went on
    assert "continued from the uploaded model adam.npz" in texts(fresh.caption)


# ---- presets, explanations, presentation mode -------------------------------------------------------------


def test_every_preset_round_trips_through_the_url_and_prepares():
    from gru_core.data.datasets import load_dataset

    assert len(S.PRESETS) >= 5
    for key, preset in S.PRESETS.items():
        assert preset.title and preset.watch.count(".") >= 1, key
        cfg = preset.fresh_config()
        if cfg is None:
            assert preset.page, key
            continue
        back, notes = S.page_query(to_query(cfg))
        assert notes == [], (key, notes)
        assert to_query(back) == to_query(cfg) and back.interventions == cfg.interventions
        prepared, problems = R.check_config(cfg, load_dataset(cfg.data.source))
        assert problems == [] and prepared is not None, (key, problems)
        R.build_race(prepared, cfg)  # the engine accepts it (interventions included)
    tin = S.PRESETS["tin_study"].config
    assert (tin.data.lookback, tin.model.hidden_size, tin.model.dropout, tin.train.batch_size) == (20, 64, 0.3, 64)
    assert (tin.train.patience, tin.train.restore_best, tin.data.split, tin.data.split_by) == (
        3, False, (0.81, 0.09, 0.1), "series")  # fmt: skip
    assert (tin.data.scaler, tin.data.fit_scaler_on, tin.model.init) == ("minmax", "all", "keras")
    assert all(c.flavor == "keras" and c.hyper["lr"] == 0.01 for c in tin.contestants)
    assert tin.data.source == "tin" and tin.seeds == list(range(10))  # the study's own data, 10 seeds
    assert "beats tomorrow = today" in S.PRESETS["tin_study"].watch


def test_preset_button_sets_every_widget_and_the_url():
    at = make_app(hidden="8", epochs="5")
    at.button(key="preset.lr_too_high").click().run()
    no_exception(at)
    preset = S.PRESETS["lr_too_high"]
    cfg = S.config_from_state(at.session_state.to_dict())
    assert to_query(cfg) == to_query(preset.config)
    assert at.query_params["iv"] == "RMSprop@251:1" and at.query_params["epochs"] == "30"
    assert preset.watch in texts(at.info)
    assert "replays 1 learning-rate change" not in texts(at.info) and "Train will replay 1" in texts(at.info)
    at.button(key="preset.tin_study").click().run()
    no_exception(at)
    assert at.session_state[S.wkey("split_by")] == "series" and at.session_state[S.SPLIT_KEYS[0]] == 81
    assert at.session_state[S.okey(0, "flavor")] == "keras" and at.session_state[S.REPLAY_KEY] == []
    assert at.session_state[S.wkey("source")] == "tin" and at.session_state[S.wkey("n_seeds")] == 10
    assert at.query_params["seeds"] == "10" and "1.29 %" in texts(at.info)


def test_explanations_can_be_hidden_and_presentation_mode_enlarges_charts():
    at = make_app(epochs="1", hidden="4")
    assert "The whole series, oldest on the left" in texts(at.caption)
    font = _chart(at, "values")["layout"]["font"]["size"]
    at.toggle(key="_w.show_explanations").set_value(False).run()
    no_exception(at)
    assert at.session_state["show_explanations"] is False
    assert "The whole series, oldest on the left" not in texts(at.caption)
    train_and_wait(at)
    assert "Solid: training loss" not in texts(at.caption) and "Each optimizer's GRU" not in texts(at.caption)
    assert "Adam · train" in trace_names(at)
    at.toggle(key="_w.show_explanations").set_value(True).run()
    assert "Solid: training loss" in texts(at.caption) and "Each optimizer's GRU" in texts(at.caption)
    loss_font = _chart(at, "Loss per epoch")["layout"]["font"]["size"]
    gate_title = _chart(at, "Adam: gates")["layout"]["title"]["font"]["size"]
    at.toggle(key="_w.presentation").set_value(True).run()
    no_exception(at)
    assert at.session_state["presentation"] is True
    assert _chart(at, "Loss per epoch")["layout"]["font"]["size"] > loss_font
    assert _chart(at, "Forecast vs truth")["layout"]["font"]["size"] > font
    # the live gate heatmaps too (they were refreshed in place, keeping the old size, before the fix)
    assert _chart(at, "Adam: gates")["layout"]["title"]["font"]["size"] > gate_title


# ---- the runner: races train outside the web server -------------------------------------------------------


def _first_curve(at: AppTest, handle: R.RaceHandle, timeout: float = 30.0) -> float:
    """Seconds from now until a page run draws Adam's first training-loss point (the fragment's timer)."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        at.run()
        no_exception(at)
        if "Adam · train" in trace_names(at) and handle.live.snapshot().history["Adam"]:
            return time.perf_counter() - t0
        time.sleep(0.05)
    raise AssertionError("no curve on the page in time")


@pytest.mark.parametrize("backend", ["thread", "process"])
def test_a_race_through_the_page_equals_a_direct_race_on_every_backend(backend, monkeypatch):
    """Same RunConfig, log_every rule, interventions, and a continued model's weights and optimizer state:
    the runner's race (thread backend; process backend: worker processes) gives a direct Race's numbers."""
    from gru_core.model.files import load_model

    monkeypatch.setenv("GRU_LAB_BACKEND", backend)
    first = _finished_race(make_app(epochs="2", hidden="6", lookback="12", batch="8"))
    data = M.model_file(first, "Adam", M.snapshot_models(first, first.live.snapshot()))
    at = make_app(epochs="3", batch="8", iv="Adam@50:0.005;RMSprop@70:0.002")
    at.file_uploader(key="model_upload").set_value(("adam.npz", data, "application/octet-stream")).run()
    no_exception(at)
    t0 = time.perf_counter()
    handle = train_and_wait(at)
    took = time.perf_counter() - t0
    assert handle.live.backend == backend and handle.initial_from == "adam.npz"
    snap = handle.live.snapshot()
    assert snap.status == "finished" and len(snap.interventions) == 2
    assert R.log_every(handle.prepared, handle.cfg) > 0  # 8-value batches: the within-epoch reports are on
    direct = R.build_race(handle.prepared, handle.cfg, load_model(data)).train()
    assert bits({k: v for k, v in snap.result.items() if k != "stored"}) == bits(direct)  # "stored": run ids
    assert "Finished: epoch 3 / 3" in texts(at.markdown) and "Adam · train" in trace_names(at)
    # the model files come from the worker: the same weights as the direct race's
    models = M.snapshot_models(handle, snap)
    ck = load_model(M.model_file(handle, "RMSprop", models))
    assert ck.info.label == "RMSprop" and ck.info.continued_from == "adam.npz"
    assert ck.info.interventions == [iv for iv in snap.interventions if iv["optimizer"] == "RMSprop"]
    print(f"{backend}: Train to finished 3 epochs {took:.2f} s")


def test_process_backend_first_curve_within_a_second_and_a_dead_worker_is_shown(monkeypatch):
    """Process backend (the server's default): the first curve is drawn about a second after Train; a
    worker killed mid-race shows the runner's message on the page, and Train works again."""
    import os
    import signal

    from gru_core.runner.process import WORKER_DIED

    monkeypatch.setenv("GRU_LAB_BACKEND", "process")
    at = make_app(epochs="2000", hidden="8")
    assert runner_module.get_runner().wait_ready(30)  # the page started the pool: workers are up before Train
    at.button(key="btn.train").click().run()
    no_exception(at)
    handle = at.session_state["race"]
    assert handle.live.backend == "process"
    first = _first_curve(at, handle)
    print(f"process backend: first curve {first:.2f} s after the Train run")
    assert first < 3.0
    assert "in a worker of this server" in texts(at.caption)
    pid = handle.live.pid
    os.kill(pid, signal.SIGKILL)
    assert handle.live.join(15)
    at.run()
    no_exception(at)
    assert handle.live.snapshot().status == "error"
    assert WORKER_DIED in texts(at.error)
    assert not at.button(key="btn.train").disabled and at.button(key="btn.stop").disabled
    again = make_app(epochs="2", hidden="8")
    new = train_and_wait(again)  # a fresh worker took the dead one's place
    assert new.live.snapshot().status == "finished" and new.live.pid != pid
    at.button(key="btn.train").click().run()  # and the tab whose race failed trains again
    no_exception(at)
    assert at.session_state["race"] is not handle
    at.button(key="btn.stop").click().run()
    no_exception(at)


def test_a_race_beyond_the_free_workers_waits_in_line_and_starts_by_itself(monkeypatch):
    import re

    monkeypatch.setenv("GRU_LAB_WORKERS", "1")
    cfg = S.PAGE_DEFAULT.replace(epochs=2000, hidden_size=4)
    cfg.seeds = [0]  # one job each
    prepared, series = _prepared_noisy_sine(cfg)
    ahead = R.start_race(prepared, cfg, "a", series, {})  # another tab's race takes the one worker
    second = R.start_race(prepared, cfg, "b", series, {})  # … and another one waits in line
    assert second.live.snapshot().status == "queued"
    at = make_app(epochs="2", hidden="4")
    at.button(key="btn.train").click().run()
    no_exception(at)
    handle = at.session_state["race"]
    snap = handle.live.snapshot()
    assert snap.status == "queued" and snap.queue_position == 2
    assert "Waiting for a free worker: you are 2nd in line" in texts(at.markdown)
    assert at.button(key="btn.train").disabled and at.button(key="btn.pause").disabled
    assert not at.button(key="btn.stop").disabled and not at.button(key="btn.cancel").disabled
    _wait_until(lambda: len(ahead.live.snapshot().history["Adam"]) >= 1)
    at.run()  # the fragment's timer: the wait is estimated from the running race's progress
    assert re.search(r"you are 2nd in line, about \d+ (s|min)", texts(at.markdown)), texts(at.markdown)
    second.live.cancel()
    at.run()
    assert "you are 1st in line" in texts(at.markdown)
    ahead.live.stop()
    _wait_until(lambda: handle.live.snapshot().status != "queued", timeout=10)
    assert handle.live.join(60)
    at.run()  # the timer's rerun sees it started (and here ended): the page draws it without a click
    no_exception(at)
    assert "Finished: epoch 2 / 2" in texts(at.markdown) and "Adam · train" in trace_names(at)
    assert "Waiting for a free worker" not in texts(at.markdown)


def test_cancel_leaves_the_line_and_the_cap_refuses_with_a_message(monkeypatch):
    monkeypatch.setenv("GRU_LAB_WORKERS", "1")
    cfg = S.PAGE_DEFAULT.replace(epochs=2000, hidden_size=4)
    prepared, series = _prepared_noisy_sine(cfg)
    ahead = R.start_race(prepared, cfg, "a", series, {})
    at = make_app(epochs="2", hidden="4")
    assert "4 training or waiting on the whole server" in texts(at.sidebar.caption)  # 1 worker × 4
    at.button(key="btn.train").click().run()
    handle = at.session_state["race"]
    assert handle.live.snapshot().status == "queued"
    at.button(key="btn.cancel").click().run()
    no_exception(at)
    assert handle.live.snapshot().status == "cancelled" and "race" not in at.session_state
    assert "left the line" in texts(at.info) and not at.button(key="btn.train").disabled
    # Stop cancels a waiting race too
    at.button(key="btn.train").click().run()
    waiting = at.session_state["race"]
    assert waiting.live.snapshot().status == "queued"
    at.button(key="btn.stop").click().run()
    no_exception(at)
    assert waiting.live.snapshot().status == "cancelled" and "race" not in at.session_state
    # the server's cap: beyond it the visitor is told why, nothing is queued
    monkeypatch.setenv(R.MAX_RACES_ENV, "1")
    at.run()
    assert "1 training or waiting on the whole server" in texts(at.sidebar.caption)
    at.button(key="btn.train").click().run()
    no_exception(at)
    assert "race" not in at.session_state
    assert "The server is full: 1 races are training or waiting in line" in texts(at.error)
    assert "GRU_LAB_MAX_RACES=1" in texts(at.error)
    assert ahead.live.running


def test_the_watchdog_cancels_an_orphaned_queued_race_and_frees_its_place(monkeypatch):
    monkeypatch.setenv("GRU_LAB_WORKERS", "1")
    cfg = S.PAGE_DEFAULT.replace(epochs=2000, hidden_size=4)
    prepared, series = _prepared_noisy_sine(cfg)
    ahead = R.start_race(prepared, cfg, "a", series, {})
    queued = R.start_race(prepared, cfg, "b", series, {})
    assert R.active_races() == 2 and R.queued_races() == 1
    R.heartbeat(ahead.live)
    assert R.stop_orphans(max_silence=0) == 2  # nobody watches either: stopped, and cancelled
    assert queued.live.join(5) and queued.live.snapshot().status == "cancelled"
    assert ahead.live.join(10) and ahead.live.snapshot().status == "stopped"
    assert R.active_races() == 0
    follow = R.start_race(prepared, S.PAGE_DEFAULT.replace(epochs=1, hidden_size=4), "c", series, {})
    assert follow.live.join(60) and follow.live.snapshot().status == "finished"  # the worker is free again


# ---- settings that outlive the page (issue 14) -------------------------------------------------------------


OTHER_PAGES = ("pages/gru_explained.py", "pages/gate_inspector.py", "pages/vanishing.py", "pages/optimizer_lab.py",
               "pages/sweep.py", "pages/history.py")  # fmt: skip


def race_settings(at: AppTest) -> dict:
    """Every race setting the session holds (the widgets' keys) and the run they describe."""
    cfg = S.config_from_state(at.session_state)
    keys = [*S.widget_state(cfg)]
    return {"cfg": to_query(cfg), **{k: at.session_state[k] for k in keys if k in at.session_state}}


def test_the_race_settings_survive_a_visit_to_every_other_page(tmp_path, monkeypatch):
    monkeypatch.setenv("GRU_LAB_STORE", str(tmp_path / "runs.sqlite"))
    at = make_app(opt=["sgd:lr=0.05,momentum=0.9", "adam:keras:lr=0.003"], hidden_size="12", epochs="7",
                  lookback="9", batch_size="16", source="noisy_sine")  # fmt: skip
    no_exception(at)
    at.slider(key=S.wkey("hidden_size")).set_value(10).run()
    before, url = race_settings(at), dict(at.query_params)
    assert before["cfg"]["hidden_size"] == "10" and at.session_state[S.wkey("epochs")] == 7
    for page in OTHER_PAGES:
        at.switch_page(page).run()
        no_exception(at)
        at.run()  # a second run on the other page: Streamlit has dropped the race page's widgets by now
        no_exception(at)
        at.switch_page("pages/race.py").run()
        no_exception(at)
        assert race_settings(at) == before, page
        assert dict(at.query_params) == url, page
        assert "SGD vs Adam" in at.title[0].value, (page, at.title[0].value)


def test_an_uploaded_csv_is_still_used_after_a_visit_to_another_page(tmp_path, monkeypatch):
    """Streamlit empties a file box whose page is left; the session keeps the file until it is removed."""
    monkeypatch.setenv("GRU_LAB_STORE", str(tmp_path / "runs.sqlite"))
    days = pd.date_range("2020-01-01", periods=200, freq="D").strftime("%Y-%m-%d")
    data = ("date,price\n" + "\n".join(f"{d},{10 + i % 7}" for i, d in enumerate(days))).encode()
    at = make_app(data="csv", epochs="2", hidden="4")
    at.file_uploader(key="upload").set_value(("prices.csv", data, "text/csv")).run()
    at.selectbox(key=S.wkey("column")).set_value("price").run()
    assert not at.button(key="btn.train").disabled, texts(at.error)
    at.switch_page("pages/gru_explained.py").run()
    at.run()
    at.switch_page("pages/race.py").run()
    no_exception(at)
    assert not at.file_uploader(key="upload").value  # the box itself is empty again ...
    assert "Using **prices.csv**" in texts(at.caption), texts(at.caption)  # ... the session kept the file
    assert at.selectbox(key=S.wkey("column")).value == "price"
    assert not at.button(key="btn.train").disabled, texts(at.error)
    assert train_and_wait(at).series_name == "price"
    at.button(key="upload.forget").click().run()  # ✕: forgotten, the page asks for a file again
    assert "Using **prices.csv**" not in texts(at.caption)
    assert at.button(key="btn.train").disabled


# ---- a race a class can steer (issue 14) ---------------------------------------------------------------------


def test_start_paused_and_speed_reach_the_race_and_change_no_number():
    from gru_ui.race import steer

    at = make_app(epochs="3", hidden_size="4", source="sine")
    reference = train_and_wait(at)
    at.checkbox(key=steer.START_PAUSED_KEY).check().run()
    at.select_slider(key=steer.SPEED_KEY).set_value(200).run()
    at.button(key="btn.train").click().run()
    no_exception(at)
    handle = at.session_state["race"]
    R.wait_for(handle, lambda s: s.status == "paused", timeout=10)
    snap = handle.live.snapshot()
    assert snap.status == "paused" and snap.step == 0  # halted before its first step
    assert engine_race(handle) is not None and handle.live._inner.live.speed == 200
    at.run()
    assert not at.button(key="btn.resume").disabled
    at.select_slider(key=steer.SPEED_KEY).set_value(0).run()  # as fast as possible, applied to the running race
    assert handle.live._inner.live.speed is None
    at.button(key="btn.resume").click().run()
    assert handle.live.join(60)
    def numbers(h):
        return [[{k: v for k, v in rec.items() if k != "seconds"} for rec in run["history"]]
                for run in engine_race(h).result()["runs"]]  # fmt: skip

    assert numbers(handle) == numbers(reference)


def test_the_divergence_scenario_halts_just_before_its_jump():
    at = make_app()
    at.button(key="preset.lr_too_high").click().run()
    no_exception(at)
    at.button(key="btn.train").click().run()
    handle = at.session_state["race"]
    R.wait_for(handle, lambda s: s.status == "paused", timeout=60)
    snap = handle.live.snapshot()
    assert snap.status == "paused" and snap.step == 250 and snap.epoch == 10
    assert not snap.interventions  # the jump is still to come
    at.run()
    assert any("just before what it shows (step 251)" in str(i.value) for i in at.info), texts(at.info)
    at.button(key="btn.resume").click().run()
    assert handle.live.join(120)
    done = handle.live.snapshot()
    assert [iv["step"] for iv in done.interventions] == [251]


def test_a_link_made_with_an_uploaded_csv_greets_with_information_not_an_error():
    at = make_app(source="csv", column="price")
    no_exception(at)
    assert any("made with an uploaded CSV" in str(i.value) for i in at.info), texts(at.info)
    assert not any("uploaded CSV" in str(e.value) for e in at.error), texts(at.error)
    assert at.button(key="btn.train").disabled  # Train waits for the file


def test_no_debug_timings_under_the_live_curves(monkeypatch):
    from gru_ui.race import live as L

    at = make_app(epochs="400", hidden_size="4", source="sine")
    at.button(key="btn.train").click().run()
    handle = at.session_state["race"]
    try:
        at.run()
        assert handle.live.running
        assert not any(str(c.value).startswith("redraw:") for c in at.caption)
        monkeypatch.setattr(L, "SHOW_TIMINGS", True)  # for developers only
        at.run()
        assert any(str(c.value).startswith("redraw:") for c in at.caption)
    finally:
        handle.live.stop()


def test_reset_to_defaults_puts_every_setting_back():
    at = make_app(opt=["sgd:lr=0.05"], hidden_size="12", epochs="7", source="sine")
    at.button(key="preset.lr_too_high").click().run()
    at.slider(key=S.wkey("hidden_size")).set_value(5).run()
    at.button(key="btn.reset").click().run()
    no_exception(at)
    assert to_query(S.config_from_state(at.session_state)) == to_query(S.PAGE_DEFAULT)
    assert at.session_state.get(S.PRESET_KEY) is None and at.session_state[S.REPLAY_KEY] == []


def test_a_finished_race_is_kept_in_run_history_with_a_link_that_reproduces_it(tmp_path, monkeypatch):
    from gru_core.store import RunStore

    store = tmp_path / "runs.sqlite"
    monkeypatch.setenv("GRU_LAB_STORE", str(store))
    at = make_app(epochs="3", hidden_size="4", source="sine", opt=["adam:lr=0.01", "sgd:lr=0.05"])
    handle = train_and_wait(at)
    ids = handle.live.snapshot().result["stored"]
    assert any("Kept in Run history as runs" in str(c.value) for c in at.caption)
    runs = RunStore(store).runs()
    assert sorted(runs["id"]) == sorted(ids) and set(runs["label"]) == {"Adam", "SGD"}
    record = RunStore(store).get_run(ids[0])
    assert record["kind"] == "race" and record["sweep_id"] is None
    ours = {r["name"]: r for r in engine_race(handle).result()["runs"]}
    assert record["test"]["rmse"] == pytest.approx(ours[record["label"]]["test"]["rmse"], rel=1e-12)
    # the stored link reproduces the race
    from urllib.parse import parse_qs

    again = make_app(**{k: v if len(v) > 1 else v[0] for k, v in parse_qs(record["link"].lstrip("?")).items()})
    replay = train_and_wait(again)
    theirs = {r["name"]: r for r in engine_race(replay).result()["runs"]}
    assert theirs[record["label"]]["test"]["rmse"] == ours[record["label"]]["test"]["rmse"]
    # Run history lists the race's runs
    hist = at.switch_page("pages/history.py").run()
    no_exception(hist)
    shown = "\n".join(str(df.value.to_csv()) for df in hist.dataframe)
    assert all(f"{i}" in shown for i in ids) and "Adam" in shown and ",race," in shown
    races = "\n".join(m.value for m in hist.markdown if "open its link" in m.value).splitlines()
    assert len(races) == 2, races  # the race and its replay, newest first, each with its link
    assert all("**Adam vs SGD** on Sine wave" in r and f"(./{record['link']})" in r for r in races), races
    assert f"runs #{ids[0]}, #{ids[1]}" in races[1], races
    # switched off: nothing more is kept
    kept = RunStore(store).count_runs()
    assert kept == 2 * len(ids)  # the replay was kept too
    at.switch_page("pages/race.py").run()
    at.checkbox(key="ctl.keep_runs").uncheck().run()
    off = train_and_wait(at)
    assert RunStore(store).count_runs() == kept and not off.live.snapshot().result.get("stored")


def test_a_slow_motion_race_runs_at_the_speed_set_on_the_page():
    from gru_ui.race import steer

    at = make_app(epochs="200", hidden_size="4", source="sine")
    at.select_slider(key=steer.SPEED_KEY).set_value(20).run()
    at.button(key="btn.train").click().run()
    handle = at.session_state["race"]
    try:
        # the page's snapshot moves once per epoch here: time the moments the step count changes
        seen: list[tuple[float, int]] = []
        end = time.perf_counter() + 6.0
        while time.perf_counter() < end:
            step = handle.live.snapshot().step
            if step and (not seen or step != seen[-1][1]):
                seen.append((time.perf_counter(), step))
            time.sleep(0.005)
        (t1, s1), (t2, s2) = seen[1], seen[-1]  # from the second change on: the first may be the start
        rate = (s2 - s1) / (t2 - t1)
        assert 16 <= rate <= 24, f"{rate:.1f} steps/s at a speed of 20 ({seen})"  # within 20 %
        snap = handle.live.snapshot()
        assert snap.step / snap.elapsed == pytest.approx(20, rel=0.2)  # the page's own steps/s agrees
    finally:
        handle.live.stop()


# ---- seeds on the race page (issue 15) ----------------------------------------------------------------------


def test_each_seed_of_a_three_seed_race_is_exactly_the_one_seed_race_with_that_seed():
    at = make_app(epochs="3", hidden_size="4", source="sine", seeds="4-6", opt=["adam:lr=0.01", "rmsprop:lr=0.01"])
    no_exception(at)
    assert at.session_state[S.wkey("n_seeds")] == 3 and at.session_state[S.wkey("seed")] == 4
    handle = train_and_wait(at)
    snap = handle.live.snapshot()
    assert snap.seeds == [4, 5, 6] and len(snap.per_seed) == 3 and snap.status == "finished"
    assert at.query_params.get("seeds") == "4-6"  # the link carries the seeds
    for seed, seed_snap in zip(snap.seeds, snap.per_seed):
        one = train_and_wait(make_app(epochs="3", hidden_size="4", source="sine", seeds=f"{seed},",
                                      opt=["adam:lr=0.01", "rmsprop:lr=0.01"]))  # fmt: skip
        alone = one.live.snapshot()
        assert alone.per_seed is None and one.cfg.seeds == [seed]
        for name in ("Adam", "RMSprop"):
            assert bits([r["train_loss"] for r in seed_snap.history[name]]) == bits(
                [r["train_loss"] for r in alone.history[name]]), (seed, name)
            assert bits([r["val_loss"] for r in seed_snap.history[name]]) == bits(
                [r["val_loss"] for r in alone.history[name]]), (seed, name)
    # the page: bands on the chart, the verdict over 3 seeds, the table of medians and ranges
    loss = [s for s in chart_specs(at) if "median of 3 seeds" in s["layout"]["title"]["text"]]
    assert loss, [s["layout"]["title"]["text"] for s in chart_specs(at)]
    verdict = texts(at.success) + texts(at.warning)
    assert "Over 3 seeds" in verdict and "interval" in verdict and "Tomorrow = today" in verdict, verdict
    table = next(df.value for df in at.dataframe if "seeds" in getattr(df.value, "columns", []))
    assert "(" in str(table.loc[table["model"] == "Adam", "RMSE"].iloc[0])  # "median (min–max)"
    assert str(table.loc[table["model"] == "Adam", "seeds"].iloc[0]).endswith("of 3")


def test_the_seed_picker_chooses_what_the_columns_and_forecasts_show():
    at = make_app(epochs="2", hidden_size="4", source="sine", seeds="2")
    handle = train_and_wait(at)
    assert handle.live.shown == 0
    at.selectbox(key=P.VIEW_KEYS["seed"]).set_value(1).run()
    no_exception(at)
    assert handle.live.shown == 1 and handle.live.snapshot().history == handle.live.handles[1].snapshot().history
    assert "seed 1, 2 of 2" in "\n".join(str(h.value) for h in at.subheader)


def test_a_one_seed_race_says_it_is_one_draw_and_repeats_over_five_seeds_in_one_click():
    at = make_app(epochs="2", hidden_size="4", source="sine")
    train_and_wait(at)
    assert "one seed, one draw" in texts(at.success) + texts(at.warning)
    at.button(key="btn.repeat_seeds").click().run()
    no_exception(at)
    handle = at.session_state["race"]
    assert handle.cfg.seeds == [0, 1, 2, 3, 4]
    assert handle.live.join(120)
    at.run()
    assert "Over 5 seeds" in texts(at.success) + texts(at.warning)
    assert at.query_params.get("seeds") == "5"


def _seed_result(rmse: dict[str, float | None], persistence: float = 1.0) -> dict:
    """A race result as the engine gives it, with these test RMSEs (None: that optimizer diverged)."""
    def metrics(v):
        return {"mse": v * v, "rmse": v, "mae": v, "mape": 10 * v, "r2": 1 - v}

    runs = [{"name": k, "test": None if v is None else metrics(v), "diverged": v is None, "status": "finished"}
            for k, v in rmse.items()]  # fmt: skip
    return {"runs": runs, "baselines": {"persistence": metrics(persistence), "linear": metrics(persistence * 1.1)}}


def test_the_seeds_verdict_for_a_clear_an_unclear_and_a_too_small_case():
    seeds = list(range(10))
    clear = [_seed_result({"Adam": 0.5 + 0.01 * s, "RMSprop": 0.9 + 0.01 * s}) for s in seeds]
    level, text = Res.seeds_verdict(clear, seeds, "USD")
    assert level == "success", text
    assert "Adam had the lower test RMSE in 10 of 10 seeds, RMSprop in 0" in text, text
    assert "Adam wins: median difference Adam − RMSprop: -0.4 USD" in text and "excludes 0" in text, text
    assert "p = 0.002" in text, text  # 2 / 2**10, the smallest the sign-flip test can give with 10 seeds
    assert "beats it in 10 of 10 seeds" in text, text
    # mixed signs: the interval covers 0
    mixed = [_seed_result({"Adam": 0.5 + (0.1 if s % 2 else -0.1), "RMSprop": 0.5}) for s in seeds]
    level, text = Res.seeds_verdict(mixed, seeds)
    assert level == "warning" and "No clear winner" in text and "covers 0" in text, text
    # three seeds, all won by Adam: still too few for a 90 % interval
    three = clear[:3]
    level, text = Res.seeds_verdict(three, [0, 1, 2])
    assert level == "warning" and "No clear winner yet" in text and "75% interval" in text, text
    # a diverged seed is left out of the pairs, and said
    with_div = [*clear[:9], _seed_result({"Adam": 0.5, "RMSprop": None})]
    _, text = Res.seeds_verdict(with_div, seeds)
    assert "1 seed(s) where one of them diverged are left out" in text, text
    # the persistence baseline is beside the numbers: a GRU that does not beat it is no success
    worse = [_seed_result({"Adam": 1.5 + 0.01 * s, "RMSprop": 1.9}, persistence=1.0) for s in seeds]
    level, text = Res.seeds_verdict(worse, seeds)
    assert level == "warning" and "beats it in 0 of 10 seeds" in text, text


def test_the_seeds_table_shows_median_and_range_of_every_metric():
    seeds = [0, 1, 2]
    results = [_seed_result({"Adam": v, "RMSprop": None if s == 2 else 0.9}) for s, v in zip(seeds, (0.3, 0.1, 0.2))]
    table = Res.seed_results_table(results, seeds).set_index("model")
    assert table.loc["Adam", "RMSE"] == "0.2 (0.1–0.3)" and table.loc["Adam", "MAPE %"] == "2 (1–3)"
    assert table.loc["Adam", "winner"] == "★ best median" and table.loc["Adam", "seeds"] == "3 of 3"
    assert table.loc["RMSprop", "seeds"] == "2 of 3" and "1 diverged" in table.loc["RMSprop", "status"]
    assert table.loc["baseline: persistence (tomorrow = today)", "RMSE"] == "1"


def test_a_model_file_of_a_race_over_seeds_is_the_picked_seeds_and_says_so():
    from gru_core.model.files import load_model

    at = make_app(epochs="2", hidden_size="4", source="sine", seeds="3-4")
    handle = train_and_wait(at)
    files = {}
    for index, seed in enumerate((3, 4)):
        at.selectbox(key=P.VIEW_KEYS["seed"]).set_value(index).run()
        models = M.snapshot_models(handle, handle.live.snapshot())
        assert models["seed"] == seed
        ck = load_model(M.model_file(handle, "Adam", models))
        assert ck.info.seed == seed and ck.run.seeds == [seed]
        assert f"-seed{seed}-" in M.model_file_name(handle, "Adam", models["epoch"])
        files[seed] = ck.model.params.flat.copy()
    assert not np.array_equal(files[3], files[4])  # two seeds, two different models
    # each seed's file holds exactly that seed's trained weights (the worker's own file)
    own = load_model(handle.live.seed_models(1)["Adam"])
    assert bits(own.model.params.flat) == bits(files[4])


def test_an_ended_race_is_freed_when_the_next_one_starts():
    """The page keeps no earlier race: Streamlit keeps a keyed widget's callback arguments for as long as its key is
    in the session, and the learning-rate controls once passed the race's handle there, so every race of a session
    stayed in the server's memory (bench_browser.py --soak: +80 % in 10 minutes)."""
    import gc
    import weakref

    at = make_app(epochs="3", hidden_size="4")
    at.session_state["ctl.speed"] = 30  # still training when the page is drawn: its live controls are drawn
    at.button(key="btn.train").click().run()
    no_exception(at)
    first = at.session_state["race"]
    assert any(str(k).startswith(f"live.lr.{first.rid}.") for k in at.session_state), "no live controls drawn"
    first.live.set_speed(None)  # then as fast as it can
    assert first.live.join(60)
    gone = weakref.ref(first)
    del first
    at.session_state["ctl.speed"] = 0
    at.run()  # the ended race drawn (what the fragment's timer would do): Train enabled again
    train_and_wait(at)  # the next race
    gc.collect()
    assert gone() is None, [type(r).__name__ for r in gc.get_referrers(gone())]
