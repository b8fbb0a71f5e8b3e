"""Every optimizer of the registry, everywhere optimizers are offered (issue 16): one registry entry
(``gru_core.optim.OPTIMIZERS``) is all it takes, so these tests enumerate the registry and carry no line per
optimizer.  For each optimizer and flavour: the race page offers it (its one-line description and its
hyperparameters as widgets) and races it; the command line trains it (``--optimizers``); a sweep cell trains it;
its model file keeps the optimizer state so that training continues exactly; the optimizer lab draws its path.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from _exact import bits
from conftest import ROOT
from streamlit.testing.v1 import AppTest

from gru_core.config import Contestant, DataConfig, RunConfig
from gru_core.data.source import load_source, prepare_run
from gru_core.model.files import load_model, save_model_bytes
from gru_core.optim import OPTIMIZERS, make_optimizer
from gru_core.runner import runner as runner_module
from gru_core.train import Race

CASES = [(key, flavor) for key, spec in OPTIMIZERS.items() for flavor in spec.flavors]
IDS = [f"{key}-{flavor}" for key, flavor in CASES]


def _contestant(key: str, flavor: str) -> Contestant:
    return Contestant(key, flavor, dict(OPTIMIZERS[key].defaults(flavor)))


@pytest.fixture(autouse=True)
def _thread_runner(monkeypatch):
    monkeypatch.setenv("GRU_LAB_BACKEND", "thread")
    monkeypatch.setattr(runner_module, "_RUNNER", None)
    yield
    if runner_module._RUNNER is not None:
        runner_module._RUNNER.shutdown()
        runner_module._RUNNER = None


@pytest.mark.parametrize("key,flavor", CASES, ids=IDS)
def test_the_race_page_offers_and_races_it(key, flavor):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update({"opt": [f"{key}:{flavor}" if flavor != "pytorch" else key, "adam"], "epochs": "2",
                            "hidden_size": "4", "source": "sine", "seeds": "1"})  # fmt: skip
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    from gru_ui.race import settings as S

    assert at.selectbox(key=S.okey(0, "optimizer")).value == key
    assert at.selectbox(key=S.okey(0, "flavor")).value == flavor
    assert OPTIMIZERS[key].description in "\n".join(str(c.value) for c in at.caption)
    widgets = {w.key for kind in ("checkbox", "number_input", "select_slider") for w in at.get(kind)}
    for name in OPTIMIZERS[key].defaults(flavor):  # every hyperparameter is a widget
        assert S.okey(0, f"hyper.{name}") in widgets, name
    at.button(key="btn.train").click().run()
    handle = at.session_state["race"]
    assert handle.live.join(120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    snap = handle.live.snapshot()
    assert snap.status == "finished" and len(snap.history[handle.labels[0]]) == 2, snap.error


@pytest.mark.parametrize("key,flavor", CASES, ids=IDS)
def test_the_command_line_trains_it(key, flavor, tmp_path, capsys):
    from gru_core.cli.main import main

    out = tmp_path / "out.json"
    args = ["compare", "--data", "sine", "--optimizers", key, "--epochs", "2", "--hidden-size", "4",
            "--json", str(out)]  # fmt: skip
    if flavor != "pytorch":
        args += ["--flavor", flavor]
    assert main(args) == 0, capsys.readouterr().err
    report = json.loads(out.read_text())
    runs = report["runs"] if "runs" in report else report["result"]["runs"]
    assert [r["optimizer"] for r in runs] == [key] and runs[0]["flavor"] == flavor


@pytest.mark.parametrize("key", list(OPTIMIZERS))
def test_a_sweep_cell_trains_it(key, tmp_path):
    from gru_core.store import RunStore
    from gru_core.sweep import SweepSpec, run_sweep

    spec = SweepSpec(data=DataConfig("sine", params={"length": 160}, lookback=6, split=(0.7, 0.15, 0.15)),
                     model={"hidden_size": 4}, train={"epochs": 2, "batch_size": 16},
                     contestants=[Contestant(key)], grid={}, seeds=[0])  # fmt: skip
    result = run_sweep(spec, workers=0, store=tmp_path / "runs.sqlite")
    runs = RunStore(tmp_path / "runs.sqlite").runs()
    assert list(runs["optimizer"]) == [key] and result is not None


@pytest.mark.parametrize("key,flavor", CASES, ids=IDS)
def test_its_model_file_keeps_the_optimizer_state_and_training_continues_exactly(key, flavor):
    cfg = RunConfig(contestants=[_contestant(key, flavor)]).replace(source="sine", hidden_size=4, epochs=3,
                                                                      batch_size=32, lookback=8)  # fmt: skip
    prepared = prepare_run(load_source(cfg.data), cfg.data)
    race = Race(prepared, cfg.model_config(), cfg.race_contestants(), cfg.train_config())
    race.train()
    run = next(iter(race.runs.values()))
    data = save_model_bytes(run.model, optimizer=run.opt, run=cfg, scaler=prepared.scaler)
    ck = load_model(data)
    assert type(ck.optimizer) is OPTIMIZERS[key].cls and ck.optimizer.flavor == flavor
    assert ck.optimizer.hyperparams() == run.opt.hyperparams()
    # one more update from the file and from the live optimizer: the same numbers, bit for bit
    rng = np.random.default_rng(5)
    grads = run.model.params.zeros_like()
    grads.flat[:] = rng.standard_normal(grads.flat.shape)
    live, restored = run.model.params, ck.model.params
    assert bits(live.flat) == bits(restored.flat)
    run.opt.step(live, grads)
    ck.optimizer.step(restored, grads)
    assert bits(live.flat) == bits(restored.flat), key


@pytest.mark.parametrize("key", list(OPTIMIZERS))
def test_the_optimizer_lab_draws_its_path(key):
    from gru_core.classroom.landscapes import LANDSCAPES, trajectory

    for landscape in list(LANDSCAPES)[:2]:
        r = trajectory(landscape, key, steps=40)
        n = len(r["points"])
        assert np.isfinite(r["points"][: r["diverged_at"] or n]).all() and r["step_sizes"].shape[1] == 2, landscape
    assert make_optimizer(key).hyperparams()


def test_the_readme_table_names_every_optimizer_with_its_paper():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text[text.index("## The optimizers"):text.index("## Sweeps, statistics")]
    for spec in OPTIMIZERS.values():
        row = next((line for line in table.splitlines() if line.startswith(f"| **{spec.name}** |")), None)
        assert row is not None, spec.name
        assert spec.paper in row and spec.idea in row, spec.name
