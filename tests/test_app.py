"""The Streamlit app, run headless with ``streamlit.testing.v1.AppTest``, plus the pure helpers behind it
(URL encoding, upload handling, results table, verdict).

In AppTest the live fragment's timer does not tick by itself: after clicking Train a test waits for the
race's thread through ``session_state["race"]`` and runs the script again, as the timer would.
"""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from gru_ui import runs as R
from gru_ui import state as S

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TIMEOUT = 60


def make_app(**query) -> AppTest:
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
        if "spec" in data:
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


@pytest.fixture(autouse=True)
def _stop_leftover_races():
    yield
    # a failed test must not leave a thread training into the next one
    for live in list(R._ACTIVE):
        live.stop()
        live.join(10)


# ---- the page ---------------------------------------------------------------------------------------------


def test_app_loads_with_defaults():
    at = make_app()
    no_exception(at)
    assert "Adam vs RMSprop" in at.title[0].value
    train = at.button(key="btn.train")
    assert not train.disabled
    assert at.button(key="btn.stop").disabled
    assert not at.error
    assert at.session_state[S.wkey("data")] == "noisy_sine"
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
    at.slider(key=S.wkey("hidden")).set_value(12).run()
    no_exception(at)
    assert "Settings changed since this run" in texts(at.info)
    assert "Adam · train" in trace_names(at)
    assert at.session_state["race"].cfg.hidden == 8
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
    race = handle.race
    assert race.model_config.num_layers == 2 and race.model_config.variant == "classic"
    assert race.model_config.output_size == 3 and race.model_config.dtype == "float32"
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
    assert at.selectbox(key=S.wkey("csv_value")).options
    at.selectbox(key=S.wkey("csv_value")).set_value("price").run()
    assert at.selectbox(key=S.wkey("csv_date")).value in ("", "date")
    at.text_input(key=S.wkey("units")).set_value("EUR per kg").run()
    assert not at.button(key="btn.train").disabled, texts(at.error)
    handle = train_and_wait(at)
    assert handle.series_name == "price" and handle.units == "EUR per kg"
    assert at.query_params.get("col") == "price" and at.query_params.get("units") == "EUR per kg"
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
    assert ss[S.wkey("data")] == "sunspots"
    assert ss[S.wkey("lookback")] == 30 and ss[S.wkey("hidden")] == 16 and ss[S.wkey("layers")] == 2
    assert ss[S.wkey("train_pct")] == 70 and ss[S.wkey("val_pct")] == 15
    assert ss[S.wkey("fit_on")] == "all" and ss[S.wkey("restore_best")] is False
    assert at.slider(key=S.wkey("hidden")).value == 16
    assert "SGD vs Adam (keras)" in at.title[0].value
    assert ss[S.okey(0, "hp.momentum")] == 0.9 and ss[S.okey(0, "hp.lr")] == 0.05
    assert ss[S.okey(1, "flavor")] == "keras" and ss[S.okey(1, "hp.lr")] == 0.001
    assert any("leaks" in w for w in [str(x.value) for x in at.warning])  # fit on all: leakage warning
    # the URL now holds the whole configuration, and reading it back gives the same configuration
    cfg, notes = S.decode_query(dict(at.query_params))
    assert notes == []
    assert S.encode_query(cfg) == S.encode_query(S.config_from_state(at.session_state.to_dict()))
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
    defaults = S.default_config()
    for name in (
        "lookback",
        "hidden",
        "layers",
        "epochs",
        "seed",
        "dropout",
        "data",
        "scaler",
        "restore_best",
    ):
        assert ss[S.wkey(name)] == getattr(defaults, name), name
    assert [ss[S.okey(i, "key")] for i in ss["opt_ids"]] == ["adam", "rmsprop"]
    assert ss[S.okey(0, "hp.lr")] == 0.001  # adam's bad lr ignored: registry default
    assert not at.button(key="btn.train").disabled


def test_decode_query_never_raises_on_garbage():
    rng = random.Random(0)
    alphabet = string.printable + "éß€\u202e\x00"
    for _ in range(300):
        params = {}
        for _ in range(rng.randint(0, 6)):
            name = rng.choice([*S.QUERY_NAMES, "x", ""])
            value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
            params[name] = [value, value[::-1]] if rng.random() < 0.2 else value
        cfg, notes = S.decode_query(params)
        assert isinstance(cfg, S.LabConfig) and isinstance(notes, list)
        assert (
            1 <= cfg.lookback <= S.LIMITS["lookback"] and 1 <= len(cfg.optimizers) <= S.LIMITS["optimizers"]
        )
        assert cfg.train_pct + cfg.val_pct <= 95


def test_encode_decode_round_trip():
    cfg = S.default_config()
    cfg.lookback, cfg.dropout, cfg.clip, cfg.seed, cfg.schedule = 33, 0.25, 2.5, 123, "cosine"
    cfg.optimizers = [
        S.OptEntry("adam", "pytorch", {"lr": 3e-4, "amsgrad": True}),
        S.OptEntry("rmsprop", "keras", {"lr": 0.002}),
        S.OptEntry("adam"),
    ]
    back, notes = S.decode_query(S.encode_query(cfg))
    assert notes == []
    assert S.encode_query(back) == S.encode_query(cfg)
    assert back.optimizers[0].hyper["lr"] == 3e-4 and back.optimizers[0].hyper["amsgrad"] is True
    assert S.contestant_labels(back.optimizers) == ["Adam", "RMSprop (keras)", "Adam #2"]
    too_many, notes = S.decode_query({"opt": ["adam"] * 9})
    assert len(too_many.optimizers) == S.LIMITS["optimizers"] and notes


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
    assert len(at.session_state["opt_ids"]) == S.LIMITS["optimizers"]
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
        (b"x" * (S.LIMITS["upload_mb"] * 1024 * 1024 + 1), "limit"),
    ]:
        up = R.read_upload(data, "f.csv")
        assert up.series is None and up.error and fragment.lower() in up.error.lower(), (fragment, up.error)
        assert "f.csv" in up.error
    ok = R.read_upload(
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
    table = R.results_table(result)
    assert list(table["model"])[:2] == ["Adam", "RMSprop"]
    assert table.loc[table["model"] == "Adam", "winner"].item() == "★ best"
    assert "diverged at step 3" in table.loc[table["model"] == "RMSprop", "status"].item()
    assert {"MSE", "RMSE", "MAE", "MAPE %", "R²", "train time (s)"} <= set(table.columns)
    shown = R.format_table(table)
    assert shown.loc[shown["model"] == "RMSprop", "MSE"].item() == "—"
    assert shown.loc[shown["model"] == "Adam", "train time (s)"].item() == "1.50"
    assert shown.loc[shown["model"] == "Adam", "best epoch"].item() == "9"
    assert "beats" in R.verdict(result) and "NOT" not in R.verdict(result)
    result["baselines"]["persistence"].update(mse=0.5, rmse=0.7)
    assert "does NOT beat" in R.verdict(result, "USD")
    assert "tomorrow = today" in R.verdict(result)


def _prepared_noisy_sine(cfg):
    from gru_core.datasets import load_dataset

    series = load_dataset("noisy_sine")
    prepared, problems = R.check_config(cfg, series)
    assert problems == [] and prepared is not None
    return prepared, series


def test_orphaned_race_is_stopped_and_server_limit_holds():
    cfg = S.default_config()
    cfg.epochs, cfg.hidden = 2000, 4
    prepared, series = _prepared_noisy_sine(cfg)
    handle = R.start_race(prepared, cfg, "k", series, {}, max_races=8)
    try:
        R.heartbeat(handle.live)
        assert R.stop_orphans(max_silence=60) == 0  # watched: keeps training
        assert handle.live.running
        with pytest.raises(RuntimeError, match="busy"):
            R.start_race(prepared, cfg, "k2", series, {}, max_races=R.active_races())
        assert R.stop_orphans(max_silence=0) >= 1  # nobody watching: stopped
        assert handle.live.join(10)
        assert handle.live.snapshot().status == "stopped"
    finally:
        handle.live.stop()
        handle.live.join(10)


def test_dropped_session_stops_its_race():
    import gc

    cfg = S.default_config()
    cfg.epochs, cfg.hidden = 2000, 4
    prepared, series = _prepared_noisy_sine(cfg)
    handle = R.start_race(prepared, cfg, "k", series, {}, max_races=8)
    live = handle.live
    del handle  # what happens to session_state when Streamlit drops a closed session
    gc.collect()
    assert live.join(10), "the worker kept training for a session that no longer exists"
    assert live.snapshot().status == "stopped"
