"""Sweep statistics against numbers worked out by hand (or by closed forms independent of the code)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from gru_core.stats import (
    best_config,
    describe,
    group_stats,
    lr_sensitivity,
    paired_by_config,
    paired_comparison,
    t_ppf,
    t_sf,
    to_frame,
)


def need(module: str, pip: str):
    """Import an optional dependency: missing, it FAILS under CI (``CI`` set) and skips loudly elsewhere."""
    import importlib
    import os

    try:
        return importlib.import_module(module)
    except ImportError:
        hint = f"{module} is needed for this test: pip install {pip} (see requirements.txt)"
        if os.environ.get("CI"):
            pytest.fail(f"{hint}; under CI a missing dependency is a failure, not a skip")
        pytest.skip(f"SKIPPED, NOT PASSED: {hint}")


def rec(config, seed, label, test_mape, val_mse=1.0, lr=0.01, diverged=False, test_rmse=None, **params):
    """A minimal run record as run_cell writes them."""
    params = {"lr": lr, **params}
    return {
        "cell_key": f"{config}-{seed}", "config_key": config, "seed": seed, "params": params, "label": label,
        "optimizer": label.lower(), "flavor": "pytorch", "hyperparams": {"lr": lr}, "diverged": diverged,
        "status": "diverged" if diverged else "finished",
        "test": None if diverged else {"mape": test_mape, "rmse": test_rmse if test_rmse is not None else test_mape,
                                       "mse": 1.0, "mae": 1.0, "r2": 0.5},
        "val": None if diverged else {"mse": val_mse, "mape": 1.0, "rmse": 1.0, "mae": 1.0, "r2": 0.5},
    }  # fmt: skip


# ---- Student's t -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "df, q, table",
    [  # printed two-sided 95% / 99% critical values (e.g. NIST/SEMATECH e-Handbook, table 1.3.6.7.2)
        (1, 0.975, 12.7062047361747),
        (2, 0.975, 4.30265272974946),
        (4, 0.975, 2.77644510519779),
        (9, 0.975, 2.26215716279820),
        (30, 0.975, 2.04227245630124),
        (10, 0.995, 3.16927267261695),
    ],
)
def test_t_quantiles_match_the_printed_table(df, q, table):
    assert t_ppf(q, df) == pytest.approx(table, rel=1e-10)
    assert t_ppf(1 - q, df) == pytest.approx(-table, rel=1e-10)
    assert t_sf(table, df) == pytest.approx(1 - q, rel=1e-9)


def test_t_tails_match_closed_forms():
    # df = 1 is the Cauchy distribution: P(T > t) = 1/2 - atan(t)/pi
    # df = 2: P(T > t) = 1/2 - t / (2 sqrt(2 + t^2))
    for t in (0.0, 0.3, 1.0, 2.5, 10.0, 300.0):
        assert t_sf(t, 1) == pytest.approx(0.5 - math.atan(t) / math.pi, rel=1e-11, abs=1e-300)
        assert t_sf(t, 2) == pytest.approx(0.5 - t / (2 * math.sqrt(2 + t * t)), rel=1e-9, abs=1e-300)
        assert t_sf(-t, 2) == pytest.approx(0.5 + t / (2 * math.sqrt(2 + t * t)), rel=1e-11)
    assert t_ppf(0.5, 7) == 0.0
    with pytest.raises(ValueError):
        t_ppf(1.0, 3)
    with pytest.raises(ValueError):
        t_sf(1.0, 0)


def test_t_agrees_with_scipy_where_scipy_is_installed():
    stats = need("scipy.stats", "scipy")
    for df in (1, 3, 7.5, 29, 200):
        for q in (0.6, 0.9, 0.975, 0.999):
            assert t_ppf(q, df) == pytest.approx(stats.t.ppf(q, df), rel=1e-10)
        for t in (0.1, 1.7, 4.0, 25.0):
            assert t_sf(t, df) == pytest.approx(stats.t.sf(t, df), rel=1e-9)


# ---- one sample ------------------------------------------------------------------------------------


def test_describe_mean_std_and_t_interval_by_hand():
    d = describe([1.0, 2.0, 3.0, 4.0, 5.0])
    # mean 3; squared deviations 4+1+0+1+4 = 10 over n-1 = 4 -> variance 2.5; sem = sqrt(2.5/5) = sqrt(0.5)
    assert d["n"] == 5 and d["mean"] == 3.0
    assert d["std"] == pytest.approx(math.sqrt(2.5), rel=1e-15)
    assert d["sem"] == pytest.approx(math.sqrt(0.5), rel=1e-15)
    half = 2.77644510519779 * math.sqrt(0.5)  # t(0.975, 4) from the table
    assert d["ci_low"] == pytest.approx(3 - half, rel=1e-12)
    assert d["ci_high"] == pytest.approx(3 + half, rel=1e-12)
    d90 = describe([1.0, 2.0, 3.0, 4.0, 5.0], confidence=0.90)
    assert d90["ci_high"] - 3 == pytest.approx(2.13184678632665 * math.sqrt(0.5), rel=1e-10)  # t(0.95, 4)


def test_describe_small_and_dirty_samples():
    one = describe([7.0])
    assert one["n"] == 1 and one["mean"] == 7.0 and math.isnan(one["std"]) and math.isnan(one["ci_low"])
    none = describe([])
    assert none["n"] == 0 and math.isnan(none["mean"])
    dirty = describe([1.0, None, float("nan"), 3.0, float("inf")])  # non-finite and None dropped
    assert dirty["n"] == 2 and dirty["mean"] == 2.0 and dirty["std"] == pytest.approx(math.sqrt(2))
    assert describe([4.0, 4.0, 4.0])["ci_low"] == 4.0  # zero spread: a zero-width interval


# ---- per configuration over seeds --------------------------------------------------------------------


def test_group_stats_per_configuration_and_optimizer():
    records = [rec("c1", s, "Adam", v) for s, v in enumerate([1.0, 2.0, 6.0])]
    records += [rec("c1", s, "RMSprop", v) for s, v in enumerate([3.0, 3.0, 3.0])]
    records += [rec("c2", 0, "Adam", 10.0), rec("c2", 1, "Adam", None, diverged=True)]
    g = group_stats(records, "test_mape")
    assert list(zip(g["config_key"], g["label"])) == [("c1", "Adam"), ("c1", "RMSprop"), ("c2", "Adam")]
    a = g.iloc[0]
    # mean 3, deviations -2, -1, 3 -> 4+1+9 = 14 / 2 = 7
    assert a["n"] == 3 and a["mean"] == 3.0 and a["std"] == pytest.approx(math.sqrt(7))
    assert a["ci_high"] == pytest.approx(3 + 4.30265272974946 * math.sqrt(7 / 3), rel=1e-10)
    assert g.iloc[1]["std"] == 0.0
    c2 = g.iloc[2]
    assert c2["n"] == 1 and c2["n_runs"] == 2 and c2["n_diverged"] == 1 and c2["mean"] == 10.0
    assert a["config"] == "lr=0.01" and a["lr"] == 0.01  # the swept params come along


def test_lr_sensitivity_pools_everything_but_the_optimizer_and_lr():
    records = [rec("a", 0, "Adam", 1.0, lr=0.1), rec("b", 0, "Adam", 3.0, lr=0.1, units=8),
               rec("c", 0, "Adam", 10.0, lr=0.01), rec("c", 1, "Adam", 14.0, lr=0.01),
               rec("a", 0, "SGD", 5.0, lr=0.1)]  # fmt: skip
    out = lr_sensitivity(records)
    assert list(zip(out["label"], out["lr"])) == [("Adam", 0.01), ("Adam", 0.1), ("SGD", 0.1)]
    assert list(out["mean"]) == [12.0, 2.0, 5.0]
    assert list(out["n"]) == [2, 2, 1]
    # lr 0.01: values 10, 14: std sqrt(8), sem 2, t(0.975, 1) = 12.706…
    assert out.iloc[0]["ci_low"] == pytest.approx(12 - 12.7062047361747 * 2, rel=1e-10)


# ---- paired comparison -------------------------------------------------------------------------------


def paired_records(diffs, base=10.0):
    """Adam = base + d, RMSprop = base, over (config, seed) pairs: two configs, len(diffs)/2 seeds each."""
    half = len(diffs) // 2
    out = []
    for i, d in enumerate(diffs):
        config, seed = ("x" if i < half else "y"), i % half
        out += [rec(config, seed, "Adam", base + d), rec(config, seed, "RMSprop", base)]
    return out


def test_paired_t_test_against_the_closed_form_for_two_degrees_of_freedom():
    records = [rec("x", s, "Adam", v) for s, v in enumerate([11.0, 12.0, 13.0])]
    records += [rec("x", s, "RMSprop", 10.0) for s in range(3)]
    pc = paired_comparison(records, "Adam", "RMSprop", "test_mape")
    # d = 1, 2, 3: mean 2, sd 1, t = 2 / (1/sqrt 3) = 2 sqrt 3, df 2;
    # two-sided p with df = 2: 1 - t / sqrt(2 + t^2) = 1 - 2 sqrt3 / sqrt 14
    t = 2 * math.sqrt(3)
    assert pc["n"] == 3 and pc["mean_diff"] == 2.0 and pc["std_diff"] == 1.0
    assert pc["t"] == pytest.approx(t, rel=1e-14) and pc["df"] == 2
    assert pc["p_value"] == pytest.approx(1 - t / math.sqrt(2 + t * t), rel=1e-9)
    assert pc["ci_low"] == pytest.approx(2 - 4.30265272974946 / math.sqrt(3), rel=1e-10)
    assert pc["mean_a"] == 12.0 and pc["mean_b"] == 10.0
    assert pc["wins_a"] == 0.0 and pc["wins_b"] == 1.0  # lower MAPE wins: RMSprop every time
    assert pc["wilcoxon_p"] is None  # fewer than 6 pairs


def test_paired_win_fractions_exclusions_and_wilcoxon():
    diffs = [-0.5, -0.2, 0.1, -0.4, -0.3, 0.0, -0.6, -0.1]
    records = paired_records(diffs)
    records.append(rec("y", 9, "Adam", None, diverged=True))  # a diverged pair is left out, and counted
    records.append(rec("y", 9, "RMSprop", 10.0))
    pc = paired_comparison(records, "adam", "rmsprop")  # optimizer names work as well as labels
    assert pc["a"] == "Adam" and pc["b"] == "RMSprop"
    assert pc["n"] == 8 and pc["n_excluded"] == 1
    assert pc["wins_a"] == 6 / 8 and pc["wins_b"] == 1 / 8 and pc["ties"] == 1 / 8
    mean = sum(diffs) / 8
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / 7)
    assert pc["mean_diff"] == pytest.approx(mean, rel=1e-12)
    assert pc["std_diff"] == pytest.approx(sd, rel=1e-12)
    assert pc["t"] == pytest.approx(mean / (sd / math.sqrt(8)), rel=1e-12)
    stats = need("scipy.stats", "scipy")
    a = np.array([10.0 + d for d in diffs])
    assert pc["p_value"] == pytest.approx(stats.ttest_rel(a, np.full(8, 10.0)).pvalue, rel=1e-9)
    assert pc["wilcoxon_p"] is not None and 0 < pc["wilcoxon_p"] < 0.1


def test_wilcoxon_exact_value_when_one_optimizer_wins_every_pair():
    need("scipy.stats", "scipy")
    pc = paired_comparison(paired_records([-1.0, -2.0, -3.0, -4.0, -5.0, -6.0]), "Adam", "RMSprop")
    # all six signs negative: the exact two-sided signed-rank p is 2 / 2^6
    assert pc["wilcoxon_p"] == pytest.approx(2 / 64, rel=1e-12)
    assert pc["wins_a"] == 1.0


def test_paired_degenerate_cases():
    same = paired_comparison(paired_records([0.0, 0.0, 0.0, 0.0]), "Adam", "RMSprop")
    assert same["mean_diff"] == 0 and math.isnan(same["p_value"]) and same["ties"] == 1.0
    shift = paired_comparison(paired_records([1.0, 1.0, 1.0, 1.0]), "Adam", "RMSprop")
    assert shift["t"] == math.inf and shift["p_value"] == 0.0
    with pytest.raises(ValueError, match="different"):
        paired_comparison(paired_records([1.0, 2.0]), "Adam", "adam")
    with pytest.raises(ValueError, match="SGD"):
        paired_comparison(paired_records([1.0, 2.0]), "Adam", "SGD")


def test_r2_is_higher_is_better():
    records = []
    for s, (ra, rb) in enumerate([(0.9, 0.8), (0.7, 0.8), (0.95, 0.5)]):
        records += [rec("x", s, "Adam", 1.0), rec("x", s, "RMSprop", 1.0)]
        records[-2]["test"]["r2"], records[-1]["test"]["r2"] = ra, rb
    pc = paired_comparison(records, "Adam", "RMSprop", "test_r2")
    assert pc["wins_a"] == pytest.approx(2 / 3) and pc["wins_b"] == pytest.approx(1 / 3)


def test_paired_by_config_tests_each_configuration_over_its_seeds():
    records = paired_records([1.0, 2.0, 3.0, -1.0, -1.0, -4.0])  # x: d = 1, 2, 3; y: d = -1, -1, -4
    per = paired_by_config(records, "Adam", "RMSprop")
    assert list(per["config_key"]) == ["x", "y"]
    x, y = per.iloc[0], per.iloc[1]
    assert x["n"] == 3 and x["mean_diff"] == 2.0
    t = 2 * math.sqrt(3)
    assert x["p_value"] == pytest.approx(1 - t / math.sqrt(2 + t * t), rel=1e-9)
    assert y["mean_diff"] == -2.0 and y["wins_a"] == 1.0


# ---- model choice: on validation, reported on test ----------------------------------------------------------


def test_best_config_is_chosen_on_validation_and_reported_on_test():
    records = []
    for s in range(3):  # "valwin" is best on validation, "testwin" is best on test
        records.append(rec("valwin", s, "Adam", test_mape=5.0 + s, val_mse=1.0 + 0.01 * s, lr=0.01))
        records.append(rec("testwin", s, "Adam", test_mape=1.0, val_mse=2.0, lr=0.001))
        records.append(rec("valwin", s, "RMSprop", test_mape=9.0, val_mse=3.0, lr=0.01))
        records.append(rec("testwin", s, "RMSprop", test_mape=2.0, val_mse=2.5, lr=0.001))
    best = best_config(records, select="val_mse")
    assert list(best["label"]) == ["Adam", "RMSprop"]
    adam, rms = best.iloc[0], best.iloc[1]
    assert adam["config_key"] == "valwin" and rms["config_key"] == "testwin"
    assert adam["test_mape_mean"] == 6.0  # the chosen configuration's test score, however bad
    assert adam["test_mape_std"] == 1.0 and adam["n_seeds"] == 3 and adam["n_candidates"] == 2
    assert adam["select_mean"] == pytest.approx(1.01)
    assert adam["test_mape_ci_high"] == pytest.approx(6 + 4.30265272974946 / math.sqrt(3), rel=1e-10)
    overall = best_config(records, per_optimizer=False)
    assert len(overall) == 1 and overall.iloc[0]["config_key"] == "valwin" and overall.iloc[0]["label"] == "Adam"
    with pytest.raises(ValueError, match="validation"):
        best_config(records, select="test_mape")


def test_best_config_ranks_a_configuration_with_a_diverged_seed_last():
    records = [rec("fragile", 0, "Adam", 1.0, val_mse=0.1), rec("fragile", 1, "Adam", None, diverged=True),
               rec("steady", 0, "Adam", 3.0, val_mse=0.5), rec("steady", 1, "Adam", 3.0, val_mse=0.5)]  # fmt: skip
    assert best_config(records).iloc[0]["config_key"] == "steady"
    assert best_config(records[:2]).iloc[0]["n_diverged"] == 1  # only choice left: reported, with its divergence


def test_functions_take_a_dataframe_as_well():
    records = paired_records([1.0, 2.0, 3.0, -1.0])
    df = to_frame(records)
    assert isinstance(df, pd.DataFrame) and {"test_mape", "val_mse", "label", "config_key", "seed"} <= set(df)
    assert paired_comparison(df, "Adam", "RMSprop") == paired_comparison(records, "Adam", "RMSprop")
    with pytest.raises(ValueError, match="no column"):
        group_stats(df, "test_nonsense")
