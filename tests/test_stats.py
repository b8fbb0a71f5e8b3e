"""Sweep statistics against numbers worked out by hand (or by closed forms independent of the code)."""

from __future__ import annotations

import itertools
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
    paired_seeds,
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


# ---- paired over the seeds of one race: order-statistic interval, sign-flip test -----------------------------


def brute_force_sign_flip_p(d):
    """Two-sided sign-flip p by a plain double loop: every sign pattern of |d|, |mean| against the observed."""
    n = len(d)
    observed = abs(sum(d) / n)
    tol = 1e-9 * sum(abs(x) for x in d) / n
    count = 0
    for signs in itertools.product((-1, 1), repeat=n):
        total = 0.0
        for s, x in zip(signs, d):
            total += s * abs(x)
        count += abs(total / n) >= observed - tol
    return count / 2**n


def binomial_coverage(n, k):
    """P(d_(k) <= median <= d_(n+1-k)) = 1 - 2 P(Binomial(n, 1/2) <= k - 1), summed term by term."""
    return 1 - 2 * sum(math.comb(n, i) * 0.5**n for i in range(k))


@pytest.mark.parametrize("n, seed", [(3, 1), (6, 2), (9, 3), (9, 4)])
def test_paired_seeds_sign_flip_p_against_brute_force(n, seed):
    rng = np.random.default_rng(seed)
    vb = rng.uniform(1.0, 3.0, n)
    va = vb + rng.normal(-0.3, 0.5, n)
    out = paired_seeds(va.tolist(), vb.tolist())
    d = [x - y for x, y in zip(va, vb)]
    assert out["n"] == n and out["diffs"] == pytest.approx(d, rel=1e-15)
    assert out["p_value"] == pytest.approx(brute_force_sign_flip_p(d), rel=1e-12)
    assert out["min_p"] == 2 / 2**n


def test_paired_seeds_sign_flip_counts_tied_patterns():
    # integer differences: several sign patterns reach exactly the observed |sum| = 3; all of them count.
    # By hand: ±1±1±1 is -3, -1, 1, 3 in 1, 3, 3, 1 of 8 ways; ±2±2 is -4, 0, 4 in 1, 2, 1 of 4 ways.
    # |sum| >= 3: with 0 only ±3 (2 x 2 = 4 patterns); with +4 all but -3 (7); with -4 all but +3 (7): 18 / 32
    d = [1.0, -1.0, 2.0, 2.0, -1.0]
    assert brute_force_sign_flip_p(d) == 18 / 32
    assert paired_seeds([x + 5 for x in d], [5.0] * 5)["p_value"] == 18 / 32
    assert paired_seeds([0.0] * 4, [0.0] * 4)["p_value"] == 1.0  # no difference at all


@pytest.mark.parametrize("n, seed", [(4, 11), (7, 12), (11, 13), (5, None)])
def test_paired_seeds_sign_flip_p_against_scipy_permutation_test(n, seed):
    stats = need("scipy.stats", "scipy")
    if seed is None:
        vb = np.full(n, 5.0)
        va = vb + np.array([1.0, -1.0, 2.0, 2.0, -1.0])  # tied patterns
    else:
        rng = np.random.default_rng(seed)
        vb = rng.uniform(0.5, 2.0, n)
        va = vb + rng.normal(0.2, 0.4, n)
    ref = stats.permutation_test(
        (va, vb), lambda x, y, axis: np.mean(x - y, axis=axis), permutation_type="samples",
        alternative="two-sided", n_resamples=np.inf,
    )  # fmt: skip
    assert paired_seeds(va, vb)["p_value"] == pytest.approx(ref.pvalue, rel=1e-12)


def test_paired_seeds_random_sign_flips_beyond_twenty_pairs():
    rng = np.random.default_rng(5)
    n = 22  # exact reference by numpy here: 2^22 signed sums, built pair by pair
    d = rng.normal(0.25, 1.0, n)
    sums = np.zeros(1)
    for x in np.abs(d):
        sums = np.concatenate((sums + x, sums - x))
    exact = np.mean(np.abs(sums) >= abs(d.sum()) * (1 - 1e-12))
    assert 0.05 < exact < 0.95  # a p where the sampling error shows
    out = paired_seeds(d + 1.0, np.ones(n))
    assert out["min_p"] == 1 / 200_001
    assert out["p_value"] == pytest.approx(exact, abs=0.006)  # 200,000 draws: standard error <= 0.0012
    assert paired_seeds(d + 1.0, np.ones(n))["p_value"] == out["p_value"]  # seeded: the same every time
    far = paired_seeds(np.zeros(25), np.arange(1.0, 26.0))  # exact p would be 2 / 2^25: no draw reaches it
    assert far["p_value"] == 1 / 200_001


@pytest.mark.parametrize("n", [3, 5, 6, 10, 12])
@pytest.mark.parametrize("confidence", [0.95, 0.90])
def test_paired_seeds_interval_is_the_order_statistic_interval_with_binomial_coverage(n, confidence):
    k = 1
    while k + 1 <= n - k and binomial_coverage(n, k + 1) >= confidence:
        k += 1
    rng = np.random.default_rng(n)
    d = rng.permutation(np.arange(1.0, n + 1.0) * 0.1 - 0.35)  # distinct, shuffled: seed order != sorted order
    out = paired_seeds(d + 2.0, np.full(n, 2.0), confidence=confidence)
    s = sorted((x + 2.0) - 2.0 for x in d)  # the differences as the function sees them (a − b)
    assert out["ci_low"] == s[k - 1] and out["ci_high"] == s[n - k]  # d_(k) and d_(n+1-k), 1-based
    assert out["ci_level"] == pytest.approx(binomial_coverage(n, k), rel=1e-12)
    if binomial_coverage(n, 1) >= confidence:
        assert out["ci_level"] >= confidence and binomial_coverage(n, k + 1) < confidence  # k is the largest
    assert out["confidence"] == confidence


def test_paired_seeds_interval_levels_by_hand():
    # 1 - 2/2^n for [min, max]: n=3 -> 0.75, n=5 -> 0.9375, n=6 -> 0.96875; n=10: k=2 -> 1 - 2*11/1024
    levels = {n: paired_seeds(np.arange(n, dtype=float), np.zeros(n))["ci_level"] for n in (2, 3, 5, 6, 10, 12)}
    assert levels == {2: 0.5, 3: 0.75, 5: 0.9375, 6: 0.96875, 10: 1 - 22 / 1024, 12: 1 - 2 * 79 / 4096}
    ten = paired_seeds(np.arange(10, dtype=float), np.zeros(10))
    assert (ten["ci_low"], ten["ci_high"]) == (1.0, 8.0)
    # a confidence exactly at a coverage keeps that k (>=); a hair above it drops to k = 1
    at = paired_seeds(np.arange(10, dtype=float), np.zeros(10), confidence=1 - 22 / 1024)
    above = paired_seeds(np.arange(10, dtype=float), np.zeros(10), confidence=1 - 21.9 / 1024)
    assert (at["ci_low"], at["ci_high"], at["ci_level"]) == (1.0, 8.0, 1 - 22 / 1024)
    assert (above["ci_low"], above["ci_high"], above["ci_level"]) == (0.0, 9.0, 1 - 2 / 1024)


def test_paired_seeds_excludes_nan_and_inf_pairs_and_counts_them():
    nan, inf = float("nan"), float("inf")
    va = [1.0, nan, 3.0, 2.0, None, 4.0, inf]
    vb = [2.0, 1.0, nan, 2.5, 1.0, 3.0, 1.0]
    out = paired_seeds(va, vb)
    assert out["n"] == 3 and out["n_excluded"] == 4
    assert out["diffs"] == [-1.0, -0.5, 1.0]  # seeds 0, 3, 5 in seed order
    assert out["wins_a"] == 2 and out["wins_b"] == 1 and out["ties"] == 0
    assert out["median_diff"] == -0.5
    with pytest.raises(ValueError, match="equal length"):
        paired_seeds([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="confidence"):
        paired_seeds([1.0], [1.0], confidence=1.0)


def test_paired_seeds_clear_when_a_wins_every_seed_by_far():
    vb = [10.0 + 0.1 * i for i in range(10)]
    va = [v - 3.0 - 0.2 * i for i, v in enumerate(vb)]  # a lower by 3.0 … 4.8 on every seed
    out = paired_seeds(va, vb)
    assert out["wins_a"] == 10 and out["wins_b"] == 0 and out["ties"] == 0
    assert out["clear"] is True and out["better"] == "a"
    assert out["p_value"] == pytest.approx(2 / 1024, rel=1e-12)  # only the observed pattern and its mirror
    assert out["ci_high"] < 0 and out["ci_high"] == pytest.approx(-3.2, rel=1e-12)  # d_(9) of -4.8 … -3.0
    assert out["median_diff"] == pytest.approx(-3.9, rel=1e-12)


def test_paired_seeds_unclear_when_differences_change_sign():
    d = [-0.4, 0.3, -0.1, 0.5, -0.2, 0.2, -0.3, 0.1]
    out = paired_seeds([1.0 + x for x in d], [1.0] * 8)
    assert out["ci_low"] < 0 < out["ci_high"] and out["clear"] is False
    assert out["wins_a"] == 4 and out["wins_b"] == 4
    assert out["p_value"] > 0.5


def test_paired_seeds_one_pair_and_no_pairs():
    one = paired_seeds([2.0, float("nan")], [3.0, 1.0])
    assert one["n"] == 1 and one["n_excluded"] == 1 and one["diffs"] == [-1.0]
    assert one["ci_low"] == one["ci_high"] == -1.0 and one["ci_level"] == 0.0
    assert one["p_value"] == 1.0 and one["min_p"] == 1.0 and one["clear"] is False and one["better"] == "a"
    none = paired_seeds([float("nan")], [1.0])
    assert none["n"] == 0 and none["n_excluded"] == 1 and none["diffs"] == []
    for key in ("median_diff", "ci_low", "ci_high", "ci_level", "p_value"):
        assert math.isnan(none[key]), key
    assert none["clear"] is False and none["better"] is None
    assert paired_seeds([], [])["n"] == 0


def test_paired_seeds_higher_is_better_flips_better_and_wins():
    va, vb = [0.9, 0.8, 0.95, 0.7], [0.8, 0.85, 0.5, 0.6]  # R²: a higher on 3 of 4 seeds
    up = paired_seeds(va, vb, lower=False)
    down = paired_seeds(va, vb, lower=True)
    assert up["lower"] is False and down["lower"] is True
    assert (up["wins_a"], up["wins_b"]) == (3, 1) and (down["wins_a"], down["wins_b"]) == (1, 3)
    assert up["better"] == "a" and down["better"] == "b"  # median difference +0.1: higher is a's win under R²
    assert up["p_value"] == down["p_value"] and up["ci_low"] == down["ci_low"]
    assert paired_seeds([1.0, 2.0], [1.0, 2.0], lower=False)["better"] is None  # median 0


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


def test_seed_bands_against_a_direct_computation():
    from gru_core.stats import seed_bands

    rng = np.random.default_rng(3)
    lengths = [6, 4, 6]  # the second seed stopped early (it ended)
    values = [rng.uniform(0.1, 2.0, size=(n, 2)) for n in lengths]
    histories = [{"A": [{"epoch": e + 1, "train_loss": v[e, 0], "val_loss": v[e, 1]} for e in range(len(v))]}
                 for v in values]  # fmt: skip
    bands = seed_bands(histories, ended=[True, True, True])["A"]
    for kind, col in (("train", 0), ("val", 1)):
        b = bands[kind]
        assert list(b["epoch"]) == [1, 2, 3, 4, 5, 6]
        for e in range(6):
            have = [v[e, col] for v in values if e < len(v)]
            assert b["n"][e] == len(have)
            assert b["median"][e] == sorted(have)[len(have) // 2] if len(have) % 2 else b["median"][e] == (
                sorted(have)[len(have) // 2 - 1] + sorted(have)[len(have) // 2]) / 2
            assert (b["low"][e], b["high"][e]) == (min(have), max(have))
    # while seeds still train, the band stops at the last epoch every one of them has reached
    live = seed_bands(histories, ended=[False, False, True])["A"]["train"]
    assert list(live["epoch"]) == [1, 2, 3, 4]
    # a diverged value (inf) is no value
    histories[0]["A"][0]["train_loss"] = float("inf")
    b = seed_bands(histories)["A"]["train"]
    assert b["n"][0] == 2 and b["high"][0] == max(values[1][0, 0], values[2][0, 0])


def test_paired_seeds_is_never_clear_below_its_confidence():
    from gru_core.stats import paired_seeds

    three = paired_seeds([1.0, 1.1, 1.2], [2.0, 2.1, 2.2])  # a better in every seed, but [min, max] covers 75 %
    assert three["ci_high"] < 0 and three["ci_level"] == 0.75 and not three["clear"]
    five = paired_seeds([1.0] * 5, [2.0, 2.1, 2.2, 2.3, 2.4], confidence=0.9)  # 93.75 % ≥ 90 %
    assert five["ci_level"] == 0.9375 and five["clear"] and five["better"] == "a"
