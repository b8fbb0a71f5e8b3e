"""Statistics over sweep results: spread over seeds, paired optimizer comparisons, lr sensitivity, model choice.

Every function takes the run records of :func:`gru_core.sweep.run_sweep` (a list of dicts, one per optimizer
run), or a pandas DataFrame with the flat columns of :func:`to_frame` / :meth:`gru_core.store.RunStore.runs`,
and returns plain numbers or a DataFrame.  Nothing here trains or reads files.

Words used below
    *configuration*: every setting of a cell except the seed (``config_key``; one grid point).
    *run*: one optimizer trained on one configuration with one seed (``label`` names the optimizer).
    *metric*: a flat column name, ``"test_mape"``, ``"val_mse"``, … (split + one of mse, rmse, mae, mape, r2).
    Lower is better for every metric except ``r2``.

Diverged runs have no metrics: they are left out of means and counted in ``n_diverged``; when choosing a
configuration, a configuration with a diverged seed ranks after every configuration without one.

The Student t distribution (confidence intervals, the paired t-test) is computed here from the regularized
incomplete beta function, so scipy is not needed; scipy is only used, lazily, for the optional Wilcoxon
signed-rank test (``None`` without scipy).  :func:`paired_seeds` (one race's seeds) is distribution-free and
exact: an order-statistic interval for the median difference and a sign-flip permutation test, NumPy only.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

METRICS = ("mse", "rmse", "mae", "mape", "r2")
SPLITS = ("test", "val")
RUN_COLUMNS = (
    "cell_key", "config_key", "cell_index", "config", "seed", "label", "optimizer", "flavor", "lr", "status",
    "diverged", "best_epoch", "stopped_epoch", "train_seconds",
)  # fmt: skip

__all__ = [
    "METRICS",
    "best_config",
    "describe",
    "group_stats",
    "lower_is_better",
    "lr_sensitivity",
    "paired_by_config",
    "paired_comparison",
    "paired_seeds",
    "seed_bands",
    "summarize",
    "t_ppf",
    "t_sf",
    "to_frame",
]


# --------------------------------------------------------------------------------------------------
# Student's t from the regularized incomplete beta function (Numerical Recipes' continued fraction)
# --------------------------------------------------------------------------------------------------


def _betacf(a: float, b: float, x: float) -> float:
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 1000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-16:
            break
    return h


def _betainc(a: float, b: float, x: float, y: float) -> float:
    """Regularized incomplete beta I_x(a, b); ``y`` = 1 − x, passed separately so it keeps its precision."""
    if x <= 0.0:
        return 0.0
    if y <= 0.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(y)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, y) / b


def _check_df(df: float) -> float:
    df = float(df)
    if not df > 0:
        raise ValueError(f"degrees of freedom must be positive, got {df!r}")
    return df


def t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with ``df`` degrees of freedom."""
    df = _check_df(df)
    t = float(t)
    if math.isnan(t):
        return math.nan
    if math.isinf(t):
        return 0.0 if t > 0 else 1.0
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t), t * t / (df + t * t))  # P(T > |t|)
    return tail if t >= 0 else 1.0 - tail


def t_ppf(q: float, df: float) -> float:
    """The ``q`` quantile of Student's t with ``df`` degrees of freedom (bisection on :func:`t_sf`)."""
    df = _check_df(df)
    q = float(q)
    if not 0.0 < q < 1.0:
        raise ValueError(f"q must be in (0, 1), got {q!r}")
    if q == 0.5:
        return 0.0
    if q < 0.5:
        return -t_ppf(1.0 - q, df)
    target = 1.0 - q  # find x > 0 with P(T > x) = target
    lo, hi = 0.0, 1.0
    while t_sf(hi, df) > target:
        lo, hi = hi, hi * 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_sf(mid, df) > target:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-15 * hi:
            break
    return 0.5 * (lo + hi)


# --------------------------------------------------------------------------------------------------
# one sample
# --------------------------------------------------------------------------------------------------


def describe(values: Iterable[float], confidence: float = 0.95) -> dict[str, float]:
    """``n, mean, std`` (sample, ddof=1), ``sem``, and the t confidence interval ``ci_low, ci_high``.

    Non-finite values are dropped.  With one value std and the interval are nan; with none, everything is.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    x = np.asarray([float(v) for v in values if v is not None], dtype=np.float64)
    x = x[np.isfinite(x)]
    n = int(x.size)
    out = {"n": n, "mean": math.nan, "std": math.nan, "sem": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    if n == 0:
        return out
    mean = float(x.mean())
    out["mean"] = mean
    if n >= 2:
        std = float(x.std(ddof=1))
        sem = std / math.sqrt(n)
        half = t_ppf(0.5 + confidence / 2.0, n - 1) * sem
        out.update(std=std, sem=sem, ci_low=mean - half, ci_high=mean + half)
    return out


def lower_is_better(metric: str) -> bool:
    """Every metric is an error (lower is better) except R²."""
    return not metric.endswith("r2")


# --------------------------------------------------------------------------------------------------
# records -> flat frame
# --------------------------------------------------------------------------------------------------


def _config_label(params: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items()) if params else "(base)"


def flatten_record(record: dict) -> dict[str, Any]:
    """One run record as one flat row: identity columns, ``test_*``/``val_*`` metrics, then the swept params."""
    params = dict(record.get("params") or {})
    hyper = record.get("hyperparams") or {}
    timings = record.get("timings") or {}
    row: dict[str, Any] = {
        "cell_key": record.get("cell_key"),
        "config_key": record.get("config_key"),
        "cell_index": record.get("cell_index"),
        "config": _config_label(params),
        "seed": record.get("seed"),
        "label": record.get("label") or record.get("name"),
        "optimizer": record.get("optimizer"),
        "flavor": record.get("flavor"),
        "lr": hyper.get("lr", params.get("lr")),
        "status": record.get("status"),
        "diverged": bool(record.get("diverged")),
        "best_epoch": record.get("best_epoch"),
        "stopped_epoch": record.get("stopped_epoch"),
        "train_seconds": timings.get("train_seconds"),
    }
    for split in SPLITS:
        m = record.get(split) or {}
        for name in METRICS:
            v = m.get(name)
            row[f"{split}_{name}"] = math.nan if v is None else float(v)
    for k, v in params.items():
        if k not in row:
            row[k] = v
    return row


def to_frame(data) -> pd.DataFrame:
    """A DataFrame with one flat row per run (a DataFrame is returned as it is)."""
    if isinstance(data, pd.DataFrame):
        return data
    rows = [flatten_record(r) for r in data]
    if not rows:
        return pd.DataFrame(columns=[*RUN_COLUMNS, *(f"{s}_{m}" for s in SPLITS for m in METRICS)])
    return pd.DataFrame(rows)


def _param_columns(df: pd.DataFrame, lr: bool = True) -> list[str]:
    """The swept params' columns; with ``lr`` (per optimizer, so only where rows are per optimizer)."""
    fixed = set(RUN_COLUMNS) | {f"{s}_{m}" for s in SPLITS for m in METRICS}
    fixed |= {"id", "sweep_id", "created", "dataset", "cell_seconds", "history"}
    return (["lr"] if lr and "lr" in df.columns else []) + [c for c in df.columns if c not in fixed]


def _need(df: pd.DataFrame, *cols: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"the results have no column(s) {missing}; columns: {list(df.columns)}")


# --------------------------------------------------------------------------------------------------
# per configuration and optimizer, over seeds
# --------------------------------------------------------------------------------------------------


def group_stats(data, metric: str = "test_mape", by: Sequence[str] = ("config_key", "label"),
                confidence: float = 0.95) -> pd.DataFrame:  # fmt: skip
    """Mean ± std and the t confidence interval of ``metric`` over seeds, one row per group of ``by``.

    Columns: ``by``…, ``config`` and the swept params (when grouping by config), ``n`` (finite values),
    ``n_runs``, ``n_diverged``, ``mean``, ``std``, ``sem``, ``ci_low``, ``ci_high``.  Groups keep the order
    in which they first appear.
    """
    df = to_frame(data)
    by = list(by)
    _need(df, metric, *by)
    extra = ["config", *_param_columns(df)] if "config_key" in by else []
    extra = [c for c in extra if c in df.columns and c not in by]
    rows = []
    for keys, g in df.groupby(by, sort=False, dropna=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        row = dict(zip(by, keys))
        for c in extra:
            row[c] = g[c].iloc[0]
        vals = g.loc[~g["diverged"].astype(bool), metric] if "diverged" in g else g[metric]
        d = describe(vals.tolist(), confidence)
        row.update(n=d["n"], n_runs=len(g), n_diverged=int(g["diverged"].astype(bool).sum()) if "diverged" in g
                   else 0)  # fmt: skip
        row.update({k: d[k] for k in ("mean", "std", "sem", "ci_low", "ci_high")})
        rows.append(row)
    return pd.DataFrame(rows)


def lr_sensitivity(data, metric: str = "test_mape", confidence: float = 0.95) -> pd.DataFrame:
    """``metric`` against the learning rate, per optimizer: every run with that lr (all other settings and
    seeds pooled), mean, std and confidence interval.  Rows sorted by optimizer, then lr."""
    out = group_stats(data, metric, by=("label", "lr"), confidence=confidence)
    return out.sort_values(["label", "lr"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------------------------------
# paired comparison of two optimizers
# --------------------------------------------------------------------------------------------------


def _resolve_label(df: pd.DataFrame, name: str) -> str:
    labels = list(dict.fromkeys(df["label"]))
    if name in labels:
        return name
    low = name.lower()
    hits = [lab for lab in labels if str(lab).lower() == low]
    if not hits and "optimizer" in df:
        hits = list(dict.fromkeys(df.loc[df["optimizer"].str.lower() == low, "label"]))
    if len(hits) == 1:
        return hits[0]
    raise ValueError(f"optimizer {name!r} matches {len(hits)} runs' labels; labels: {labels}")


def _wilcoxon_p(d: np.ndarray) -> float | None:
    if len(d) < 6 or not np.any(d != 0):
        return None
    try:
        from scipy.stats import wilcoxon
    except ImportError:  # optional
        return None
    try:
        return float(wilcoxon(d).pvalue)
    except ValueError:
        return None


def _paired_numbers(va: np.ndarray, vb: np.ndarray, lower: bool, confidence: float) -> dict[str, Any]:
    d = va - vb
    n = len(d)
    out: dict[str, Any] = {"n": n}
    desc = describe(d, confidence)
    out.update(mean_a=float(va.mean()) if n else math.nan, mean_b=float(vb.mean()) if n else math.nan)
    out.update(mean_diff=desc["mean"], std_diff=desc["std"], ci_low=desc["ci_low"], ci_high=desc["ci_high"])
    t = p = math.nan
    if n >= 2:
        sd = desc["std"]
        if sd > 0:
            t = desc["mean"] / (sd / math.sqrt(n))
            p = min(1.0, 2.0 * t_sf(abs(t), n - 1))
        elif desc["mean"] != 0:
            t, p = math.copysign(math.inf, desc["mean"]), 0.0
    out.update(t=t, df=n - 1 if n >= 2 else math.nan, p_value=p, wilcoxon_p=_wilcoxon_p(d))
    better_a = d < 0 if lower else d > 0
    better_b = d > 0 if lower else d < 0
    out.update(wins_a=float(better_a.mean()) if n else math.nan, wins_b=float(better_b.mean()) if n else math.nan,
               ties=float((d == 0).mean()) if n else math.nan)  # fmt: skip
    return out


def _pairs(df: pd.DataFrame, a: str, b: str, metric: str) -> tuple[pd.DataFrame, int]:
    _need(df, metric, "label", "config_key", "seed")
    la, lb = _resolve_label(df, a), _resolve_label(df, b)
    if la == lb:
        raise ValueError(f"compare two different optimizers, got {a!r} and {b!r}")
    cols = ["config_key", "seed", metric] + (["diverged"] if "diverged" in df else [])
    A = df.loc[df["label"] == la, cols]
    B = df.loc[df["label"] == lb, cols]
    m = A.merge(B, on=["config_key", "seed"], suffixes=("_a", "_b"), sort=False)
    ok = np.isfinite(m[f"{metric}_a"].astype(float)) & np.isfinite(m[f"{metric}_b"].astype(float))
    if "diverged_a" in m:
        ok &= ~(m["diverged_a"].astype(bool) | m["diverged_b"].astype(bool))
    return m[ok], int((~ok).sum())


def paired_comparison(data, a: str, b: str, metric: str = "test_mape", confidence: float = 0.95) -> dict[str, Any]:
    """Optimizer ``a`` against ``b`` on runs paired by (configuration, seed): same weights, same batches.

    Returns ``a, b, metric, n`` (pairs), ``n_excluded`` (pairs where either diverged), ``mean_a, mean_b``,
    ``mean_diff`` (a − b) with ``std_diff`` and its t confidence interval, the paired t-test ``t, df,
    p_value`` (two-sided), ``wilcoxon_p`` (signed-rank, n ≥ 6 and scipy present, else None), and the
    fractions of pairs ``wins_a`` / ``wins_b`` / ``ties`` (better = lower error, higher R²).
    ``a`` and ``b`` are run labels ("Adam (keras)") or optimizer names ("adam").
    """
    df = to_frame(data)
    m, excluded = _pairs(df, a, b, metric)
    out: dict[str, Any] = {"a": _resolve_label(df, a), "b": _resolve_label(df, b), "metric": metric}
    va = m[f"{metric}_a"].to_numpy(dtype=np.float64)
    vb = m[f"{metric}_b"].to_numpy(dtype=np.float64)
    out.update(_paired_numbers(va, vb, lower_is_better(metric), confidence))
    out["n_excluded"] = excluded
    return out


def paired_by_config(data, a: str, b: str, metric: str = "test_mape", confidence: float = 0.95) -> pd.DataFrame:
    """:func:`paired_comparison` within each configuration (pairs = seeds): is the difference larger than
    seed noise there?  One row per configuration with its ``config`` label and swept params."""
    df = to_frame(data)
    m, _ = _pairs(df, a, b, metric)
    meta_cols = ["config", *_param_columns(df, lr=False)]
    meta = df.drop_duplicates("config_key").set_index("config_key")
    rows = []
    lower = lower_is_better(metric)
    for key, g in m.groupby("config_key", sort=False):
        row = {"config_key": key}
        for c in meta_cols:
            if c in meta.columns:
                row[c] = meta.at[key, c]
        row.update(_paired_numbers(g[f"{metric}_a"].to_numpy(float), g[f"{metric}_b"].to_numpy(float), lower,
                                   confidence))  # fmt: skip
        rows.append(row)
    return pd.DataFrame(rows)


SIGN_FLIP_EXACT_MAX = 20  # enumerate all 2^n sign patterns up to this many pairs
SIGN_FLIP_DRAWS = 200_000  # random sign patterns beyond it


def _median_interval(d_sorted: np.ndarray, confidence: float) -> tuple[float, float, float]:
    """``(low, high, level)``: [d_(k), d_(n+1-k)] with the largest k ≥ 1 whose exact coverage
    1 − 2·P(Binomial(n, 1/2) ≤ k−1) is ≥ ``confidence`` (k = 1 when none is), and that coverage."""
    n = len(d_sorted)
    if n == 0:
        return math.nan, math.nan, math.nan
    total = 2**n
    target = Fraction(confidence)

    def coverage(k: int) -> Fraction:  # exact, in integers: 1 − 2·Σ_{i<k} C(n, i) / 2^n
        return Fraction(total - 2 * sum(math.comb(n, i) for i in range(k)), total)

    k = 1
    while k + 1 <= n + 1 - (k + 1) and coverage(k + 1) >= target:
        k += 1
    return float(d_sorted[k - 1]), float(d_sorted[n - k]), float(coverage(k))


def _sign_flip_p(d: np.ndarray) -> tuple[float, float]:
    """``(p, min_p)`` of the two-sided sign-flip permutation test of the mean of ``d`` (see :func:`paired_seeds`)."""
    n = len(d)
    if n == 0:
        return math.nan, math.nan
    absd = np.abs(d)
    # |sum| compared instead of |mean| (same order); the tolerance is relative to the scale of the differences so
    # that sign patterns equal to the observed one up to rounding count as well
    tol = 1e-12 * float(absd.sum())
    if n <= SIGN_FLIP_EXACT_MAX:
        min_p = 2.0 / 2**n
        if not np.any(d != 0):
            return 1.0, min_p
        # every signed sum, built one pair at a time (2^n values in all); adding left to right in seed order makes
        # the observed sum bit-for-bit one of them
        sums = np.zeros(1)
        observed = 0.0
        for a, x in zip(absd, d):
            sums = np.concatenate((sums + a, sums - a))
            observed += float(x)
        count = int(np.count_nonzero(np.abs(sums) >= abs(observed) - tol))
        return count / 2**n, min_p
    min_p = 1.0 / (SIGN_FLIP_DRAWS + 1)
    if not np.any(d != 0):
        return 1.0, min_p
    observed = abs(float(d.sum()))
    rng = np.random.default_rng(0)
    count, left, chunk = 0, SIGN_FLIP_DRAWS, max(1, 2_000_000 // n)
    while left > 0:
        m = min(chunk, left)
        signs = np.where(rng.random((m, n)) < 0.5, -1.0, 1.0)
        count += int(np.count_nonzero(np.abs(signs @ absd) >= observed - tol))
        left -= m
    return (count + 1) / (SIGN_FLIP_DRAWS + 1), min_p


def paired_seeds(va, vb, lower: bool = True, confidence: float = 0.95) -> dict:
    """Optimizer a against optimizer b over the seeds of one race, paired by seed (same initial weights, same
    mini-batches): ``va[i]`` and ``vb[i]`` are the test metric of a and b with seed i.

    Returns ``n`` (pairs with both values finite; a NaN/inf value is a diverged run) and ``n_excluded``,
    ``diffs`` (a − b, seed order), the counts ``wins_a`` / ``wins_b`` / ``ties`` (better = lower when ``lower``,
    higher otherwise, e.g. R²), ``median_diff`` with the interval ``ci_low, ci_high`` and its exact coverage
    ``ci_level``, the two-sided sign-flip ``p_value`` and the smallest p the test can give, ``min_p``, ``clear``
    (n ≥ 2 and the interval excludes 0 at a level of at least ``confidence``),
    ``better`` ("a", "b", or None when the median difference is 0 or nan),
    and ``lower`` and ``confidence`` as given.

    Why not the t-interval of :func:`paired_comparison`: with 3–10 seeds its normality assumption cannot be
    checked, and one odd seed moves mean and std alike.  Both choices here are exact for any n:

    * the interval [d_(k), d_(n+1−k)] of the sorted differences covers the median difference with probability
      1 − 2·P(Binomial(n, ½) ≤ k−1) whatever the distribution; k is the largest with coverage ≥ ``confidence``.
      With n ≤ 5 even [min, max] covers less than 95 % (n = 5: 93.75 %, n = 3: 75 %): it is reported anyway with
      its true level in ``ci_level``, and ``clear`` stays False (too few seeds to call a winner at that level);
    * the sign-flip test: under the null hypothesis that each difference is symmetric about 0, every pattern of
      signs of |d| is equally likely, so p = the fraction of the 2^n patterns whose |mean| is ≥ the observed one.
      All patterns are counted for n ≤ 20; beyond, 200,000 random ones (seeded: the same p every time) plus the
      observed one, p = (count + 1) / (draws + 1).
      With few seeds no test can reach 5 %: the smallest possible p is 2 / 2^n (0.25 with 3 seeds, 0.0625 with
      5), given as ``min_p``: a p above 5 % says something only when ``min_p`` is well below 5 %.

    ``n == 0`` gives nan for every number; with ``n == 1`` the interval is the one difference at level 0 and
    p = 1.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    a = np.asarray([math.nan if v is None else float(v) for v in va], dtype=np.float64)
    b = np.asarray([math.nan if v is None else float(v) for v in vb], dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"va and vb must be paired by seed (equal length), got {len(a)} and {len(b)} values")
    ok = np.isfinite(a) & np.isfinite(b)
    d = a[ok] - b[ok]
    n = int(d.size)
    better_a = d < 0 if lower else d > 0
    better_b = d > 0 if lower else d < 0
    median = float(np.median(d)) if n else math.nan
    low, high, level = _median_interval(np.sort(d), confidence)
    p, min_p = _sign_flip_p(d)
    if math.isnan(median) or median == 0:
        better = None
    else:
        better = "a" if (median < 0) == lower else "b"
    return {
        "n": n,
        "n_excluded": int((~ok).sum()),
        "diffs": [float(x) for x in d],
        "wins_a": int(better_a.sum()),
        "wins_b": int(better_b.sum()),
        "ties": int((d == 0).sum()),
        "median_diff": median,
        "ci_low": low,
        "ci_high": high,
        "ci_level": level,
        "p_value": p,
        "min_p": min_p,
        "clear": bool(n >= 2 and (low > 0 or high < 0) and level >= confidence),
        "better": better,
        "lower": lower,
        "confidence": confidence,
    }


def seed_bands(histories: Sequence[Mapping[str, Sequence[Mapping[str, Any]]]], ended: Sequence[bool] | None = None,
               keys: Mapping[str, str] | None = None) -> dict[str, dict[str, dict[str, np.ndarray]]]:  # fmt: skip
    """The loss curves of a race over several seeds, summarised per epoch: ``name -> kind -> {"epoch", "median",
    "low", "high", "n"}`` (arrays; ``low``/``high`` = min and max over the seeds, ``n`` = how many seeds have a
    finite value at that epoch; NaN where none has).

    ``histories``: each seed's ``Snapshot.history`` (name -> per-epoch records with ``epoch`` and the ``keys``'
    values; default ``{"train": "train_loss", "val": "val_loss"}``).  ``ended``: per seed, True once its race
    has ended.  While some seeds still train, the epochs shown stop at the last one every such seed has reached
    (the live edge would otherwise be summarised over whichever seeds happen to be fastest); seeds that ended
    early (early stopping, divergence) count where they have values."""
    keys = dict(keys or {"train": "train_loss", "val": "val_loss"})
    ended = list(ended) if ended is not None else [True] * len(histories)
    names = list(dict.fromkeys(name for h in histories for name in h))
    out: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    for name in names:
        per_seed = [{int(r["epoch"]): r for r in h.get(name) or [] if r.get("epoch") is not None} for h in histories]
        reached = [max(recs, default=0) for recs in per_seed]
        going = [r for r, done in zip(reached, ended) if not done]
        last = min(going) if going else max(reached, default=0)
        epochs = np.arange(1, last + 1)
        out[name] = {}
        for kind, key in keys.items():
            vals = np.full((len(histories), len(epochs)), np.nan)
            for i, recs in enumerate(per_seed):
                for j, e in enumerate(epochs):
                    v = recs.get(int(e), {}).get(key)
                    if v is not None and math.isfinite(float(v)):
                        vals[i, j] = float(v)
            n = np.isfinite(vals).sum(axis=0)
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: NaN, said by n = 0
                out[name][kind] = {"epoch": epochs.astype(np.float64), "median": np.nanmedian(vals, axis=0),
                                   "low": np.nanmin(vals, axis=0), "high": np.nanmax(vals, axis=0), "n": n}  # fmt: skip
    return out


# --------------------------------------------------------------------------------------------------
# model selection: chosen on validation, reported on test
# --------------------------------------------------------------------------------------------------


REPORT_METRICS = ("test_mape", "test_rmse", "test_mae", "test_mse", "test_r2")


def best_config(data, select: str = "val_mse", report: Sequence[str] = REPORT_METRICS, per_optimizer: bool = True,
                confidence: float = 0.95) -> pd.DataFrame:  # fmt: skip
    """The configuration with the best mean ``select`` (a VALIDATION metric) over seeds, reported on test.

    One row per optimizer (or one overall row, over every (configuration, optimizer), when
    ``per_optimizer`` is False): ``label``, ``config_key``, ``config`` and the swept params, ``n_seeds``,
    ``n_diverged``, ``select``, ``select_mean``, then ``<metric>_mean``, ``_std``, ``_ci_low``, ``_ci_high``
    for each ``report`` metric, and ``n_candidates``.  A configuration with any diverged seed ranks after every
    configuration without one; ties keep grid order.  Choosing on a test metric raises ValueError: the test
    split must stay untouched until the choice is made.
    """
    if not select.startswith("val_"):
        raise ValueError(f"choose on a validation metric (val_mse, val_mape, …), not {select!r}: "
                         "a configuration picked on test has an optimistic test score")  # fmt: skip
    df = to_frame(data)
    _need(df, select, *report)
    groups = group_stats(df, select, by=("config_key", "label"), confidence=confidence)
    if groups.empty:
        return pd.DataFrame()
    sign = 1.0 if lower_is_better(select) else -1.0
    groups["_rank"] = [
        math.inf if (nd > 0 or not math.isfinite(mu)) else sign * mu
        for nd, mu in zip(groups["n_diverged"], groups["mean"])
    ]
    groups["_order"] = range(len(groups))
    partitions = groups.groupby("label", sort=False) if per_optimizer else [(None, groups)]
    rows = []
    for _, part in partitions:
        best = part.sort_values(["_rank", "_order"], kind="stable").iloc[0]
        sel = df[(df["config_key"] == best["config_key"]) & (df["label"] == best["label"])]
        row: dict[str, Any] = {"label": best["label"], "config_key": best["config_key"]}
        for c in ["config", *_param_columns(df)]:
            if c in best.index:
                row[c] = best[c]
        row.update(n_seeds=int(best["n_runs"]), n_diverged=int(best["n_diverged"]), select=select,
                   select_mean=float(best["mean"]), n_candidates=len(part))  # fmt: skip
        ok = sel.loc[~sel["diverged"].astype(bool)] if "diverged" in sel else sel
        for metric in report:
            d = describe(ok[metric].tolist(), confidence)
            for k in ("mean", "std", "ci_low", "ci_high"):
                row[f"{metric}_{k}"] = d[k]
        rows.append(row)
    return pd.DataFrame(rows)


def summarize(records, metric: str = "test_mape", select: str = "val_mse") -> dict:
    """The summary of a sweep as JSON-ready lists of dicts: ``groups`` (mean ± std per configuration and
    optimizer), ``paired`` (every two optimizers, same configuration and seed), ``lr`` (the metric against the
    learning rate) and ``best`` (the best configuration per optimizer chosen on ``select``, with its baselines).
    The command line prints it, the sweep page draws it."""
    from gru_core.stats import best_config, group_stats, lr_sensitivity, paired_by_config, paired_comparison, to_frame

    df = to_frame(records)
    out: dict = {"metric": metric, "select": select, "groups": [], "paired": [], "lr": [], "best": []}
    if df.empty:
        return out
    labels = list(dict.fromkeys(df["label"]))
    out["groups"] = group_stats(df, metric).to_dict("records")
    for i, a in enumerate(labels):
        for b in labels[i + 1 :]:
            pc = paired_comparison(df, a, b, metric)
            per = paired_by_config(df, a, b, metric)
            if len(per):
                sig = per[(per["n"] >= 2) & ((per["ci_high"] < 0) | (per["ci_low"] > 0))]
                pc["configs"] = int(len(per))
                pc["configs_tested"] = int((per["n"] >= 2).sum())
                pc["configs_significant"] = int(len(sig))
                pc["configs_a_better"] = int((sig["mean_diff"] < 0).sum() if metric[-2:] != "r2"
                                             else (sig["mean_diff"] > 0).sum())  # fmt: skip
            out["paired"].append(pc)
    out["lr"] = lr_sensitivity(df, metric).to_dict("records")
    best = best_config(df, select=select)
    rows = best.to_dict("records")
    for row in rows:  # the baselines on that configuration's test split
        rec = next((r for r in records if r.get("config_key") == row["config_key"] and r.get("baselines")), None)
        row["baselines"] = rec["baselines"] if rec else None
    out["best"] = rows
    return out
