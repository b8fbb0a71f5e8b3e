"""The one run configuration: every setting reaches every interface, and its text forms round-trip.

The interfaces are enumerated from :data:`gru_core.config.SETTINGS`, never listed by hand here: a setting
added to a config dataclass is checked in the command line (compare and sweep), the URL, the sweep grid and
model files without a new line in this file.
"""

from __future__ import annotations

import argparse
import io
import math

import pytest

from gru_core.cli.main import build_parser
from gru_core.cli.options import run_config_from_args
from gru_core.config import (
    ALIASES,
    SETTINGS,
    SWEEP_SETTINGS,
    USER_SETTINGS,
    Contestant,
    DataConfig,
    GRUConfig,
    RunConfig,
    TrainConfig,
    canonical_name,
    format_seeds,
    format_value,
    from_query,
    parse_seeds,
    parse_value,
    to_query,
)  # fmt: skip
from gru_core.model.files import ModelInfo, load_model, save_model
from gru_core.sweep import GRID_FIELDS, SweepSpec, cells


def other_value(name: str):
    """A valid value of the setting that differs from its default (derived from its declaration)."""
    s = SETTINGS[name]
    d = s.default
    if s.kind == "choice":
        return next(c for c in s.choices if c != d)
    if s.kind == "bool":
        return not d
    if s.kind == "split":
        return (0.7, 0.2, 0.1)
    if s.kind == "params":
        return {"length": 300}
    if s.kind == "str":
        return "x_" + name
    if s.kind == "int":
        return (d or s.low or 1) + 1 if d is not None else (s.low or 1) + 2
    if s.kind == "float":
        base = d if d else (s.low if s.low and s.low > 1e-6 else 0.1)
        v = base * 0.5 if s.high is not None and base * 2 > s.high else base * 2 if base else 0.25
        return v if s.low is None or v >= s.low else s.low * 2
    raise AssertionError(f"no test value for kind {s.kind}")


def changed_config() -> RunConfig:
    """A configuration with every user setting away from its default."""
    values = {n: other_value(n) for n in USER_SETTINGS if n not in ("column", "date_column", "source")}
    return RunConfig(contestants=[Contestant("adam", "keras", {"lr": 0.02}), Contestant("sgd")], seeds=[7]).replace(
        **values
    )


def test_every_setting_is_declared_once_with_its_interface_metadata():
    assert len(USER_SETTINGS) >= 25
    for name, s in SETTINGS.items():
        assert s.help, f"{name} has no help text"
        assert s.section in ("data", "model", "train")
        if s.kind == "choice":
            assert s.default in s.choices
        if not s.internal and s.kind not in ("str", "params"):
            parse_value(name, s.default)  # the default is valid
    for alias, name in ALIASES.items():
        assert alias not in SETTINGS and (name in SETTINGS or name == "lr")
    assert canonical_name("hidden") == "hidden_size" and canonical_name("batch") == "batch_size"


def test_every_setting_has_a_command_line_option_in_compare_and_sweep():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    cfg = changed_config()
    for command in ("compare", "sweep"):
        dests = {a.dest for a in sub.choices[command]._actions}
        missing = set(USER_SETTINGS) - dests
        assert not missing, f"{command} lacks options for {missing}"
    # and a value given on the command line reaches the RunConfig
    argv = ["compare", "--optimizers", "adam", "--seed", "7"]
    for name in USER_SETTINGS:
        s = SETTINGS[name]
        v = cfg.get(name)
        if s.kind == "bool":
            argv.append(s.flag if v else "--no-" + s.flag[2:])
        elif s.kind == "params":
            argv += [f"{s.flag}={k}={format_value(x)}" for k, x in v.items()]
        elif v not in (None, ""):
            argv.append(f"{s.flag}={format_value(v)}")
    args = parser.parse_args(argv)
    got = run_config_from_args(args)
    for name in USER_SETTINGS:
        assert got.get(name) == cfg.get(name), name


def test_every_setting_round_trips_through_the_url():
    cfg = changed_config()
    cfg.data.column, cfg.data.date_column = "Close", "Date"
    q = to_query(cfg)
    for name in USER_SETTINGS:
        s = SETTINGS[name]
        assert name in q or (s.kind == "params" and any(k.startswith(name + ".") for k in q)), name
    back, notes = from_query(q)
    assert notes == []
    for name in USER_SETTINGS:
        assert back.get(name) == cfg.get(name), name
    assert back.seeds == [7]
    assert [c.optimizer for c in back.contestants] == ["adam", "sgd"]
    assert back.contestants[0].flavor == "keras" and back.contestants[0].hyper["lr"] == 0.02


def test_every_sweepable_setting_is_a_grid_field_and_reaches_the_cells():
    assert set(GRID_FIELDS) == {*SWEEP_SETTINGS, "lr"}
    base = RunConfig().replace(source="sine", epochs=1)
    for name in SWEEP_SETTINGS:
        v = other_value(name)
        spec = SweepSpec.from_run(base, grid={name: [format_value(v) if SETTINGS[name].kind != "split" else v]})
        (cell,) = cells(spec, validate=False)
        where = {"data": cell.data, "model": cell.model, "train": cell.train}[SETTINGS[name].section]
        want = list(v) if isinstance(v, tuple) else v
        assert where[name] == want, name


def test_every_setting_is_recorded_in_a_model_file(tmp_path):
    from gru_core.model.gru import GRURegressor

    cfg = changed_config()
    model = GRURegressor.from_config(cfg.model_config())
    path = tmp_path / "m.npz"
    save_model(path, model, run=cfg, info=ModelInfo(label="Adam (keras)", seed=7))
    ck = load_model(path)
    assert ck.info.label == "Adam (keras)" and ck.info.seed == 7
    for name in USER_SETTINGS:
        assert ck.run.get(name) == cfg.get(name), name


def test_old_links_and_old_names_mean_the_same_run():
    old, notes_old = from_query({"hidden": "16", "batch": "8", "split": "70,15,15", "patience": "0", "clip": "0",
                                 "fit": "all", "splitby": "series", "restore": "0", "data": "sine", "seed": "3",
                                 "opt": "adam:lr=0.01"})  # fmt: skip
    new, notes_new = from_query({"hidden_size": "16", "batch_size": "8", "split": "0.7,0.15,0.15",
                                 "patience": "none", "clip_norm": "none", "fit_scaler_on": "all",
                                 "split_by": "series", "restore_best": "0", "source": "sine", "seeds": "3,",
                                 "opt": "adam:lr=0.01"})  # fmt: skip
    assert notes_old == [] and notes_new == []
    assert old.to_dict() == new.to_dict()
    assert old.model.hidden_size == 16 and old.train.patience is None and old.data.split == (0.7, 0.15, 0.15)


def test_bad_url_values_are_dropped_with_a_reason_and_limits_apply():
    cfg, notes = from_query({"hidden_size": "100000", "epochs": "ten", "scaler": "magic", "colour": "red",
                             "opt": ["adam", "nosuch"], "iv": "Adam@x:1"})  # fmt: skip
    assert cfg.model.hidden_size == GRUConfig().hidden_size and cfg.train.epochs == TrainConfig().epochs
    text = " ".join(notes)
    for word in ("hidden_size", "epochs", "scaler", "colour", "nosuch", "iv="):
        assert word in text, word
    assert cfg.interventions == []


@pytest.mark.parametrize(("name", "text", "want"), [
    ("hidden_size", "32.0", 32), ("dropout", "0.25", 0.25), ("patience", "0", None), ("patience", "none", None),
    ("clip_norm", "off", None), ("restore_best", "false", False), ("split", "80,10,10", (0.8, 0.1, 0.1)),
    ("scaler", "Standard", "standard"),
])  # fmt: skip
def test_parse_value_reads_text(name, text, want):
    assert parse_value(name, text) == want


@pytest.mark.parametrize(("name", "text", "words"), [
    ("hidden_size", "0", "hidden_size must be ≥ 1"), ("hidden_size", "3.5", "whole number"),
    ("dropout", "nan", "a number"), ("split", "0.5,0.5", "three fractions"), ("split", "0.9,0.2,-0.1", "three"),
    ("scaler", "magic", "one of minmax/standard/none"), ("dropout", "0.95", "dropout must be in"),
])  # fmt: skip
def test_parse_value_says_what_is_wrong(name, text, words):
    with pytest.raises(ValueError, match=words):
        parse_value(name, text)


def test_seeds_text_round_trips():
    for seeds in ([0], [0, 1, 2], [1, 2, 3, 4, 5], [1, 7, 9], [5]):
        assert parse_seeds(format_seeds(seeds)) == seeds
    with pytest.raises(ValueError, match="seeds"):
        parse_seeds("1,1")


def test_run_config_builds_the_engine_configs_per_seed():
    cfg = RunConfig(data=DataConfig(horizon=3), seeds=[4, 9])
    m, t = cfg.model_config(seed=9), cfg.train_config(seed=9, log_every=5)
    assert (m.output_size, m.seed, t.seed, t.log_every) == (3, 9, 9, 5)
    assert cfg.model_config().seed == 4
    assert [c.name for c in RunConfig(contestants=["adam", "adam", "rmsprop"]).race_contestants()] == [
        "Adam", "Adam #2", "RMSprop"]


def test_validation_names_the_setting():
    with pytest.raises(ValueError, match="epochs"):
        RunConfig().replace(epochs=0)
    with pytest.raises(ValueError, match="unknown setting 'colour'"):
        RunConfig().replace(colour="red")
    with pytest.raises(ValueError, match="hidden_size"):
        RunConfig(model=GRUConfig(hidden_size=1000)).validate(limit=True)
    RunConfig(model=GRUConfig(hidden_size=1000)).validate()  # no page limit on the command line
    with pytest.raises(ValueError, match="clip_norm"):
        TrainConfig(clip_norm=0).validate()
    assert not math.isnan(TrainConfig().divergence_factor)


def test_model_file_text_is_json_without_pickles(tmp_path):
    from gru_core.model.gru import GRURegressor

    buf = io.BytesIO()
    save_model(buf, GRURegressor.from_config(GRUConfig(hidden_size=3)), run=RunConfig(seeds=[2]))
    assert load_model(buf.getvalue()).run.seeds == [2]
