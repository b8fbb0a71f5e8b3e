"""The results of a stored sweep as the page shows them: the table over seeds, the verdict in words, the best
configurations next to the baselines, and the choices behind the charts (which settings vary, which axes).

Every statistic is :mod:`gru_core.stats`'s (``group_stats``, ``summarize``, ``paired_by_config``); every
number is formatted by :mod:`gru_core.fmt`.  No Streamlit here.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from gru_core.fmt import DASH, num, signed
from gru_core.stats import group_stats, paired_by_config, to_frame
from gru_core.store import RunStore
from gru_ui.figures import BASELINE_STYLES

__all__ = ["METRIC_NAMES", "baseline_values", "best_table", "card_number", "config_label", "csv_bytes", "heatmap_axes",
           "load_records", "mape_explodes", "paired_rows", "results_table", "seeds_per_config", "shown_table",
           "swept_fields", "units_of", "varying_fields", "verdict"]  # fmt: skip

METRIC_NAMES = {"test_mape": "MAPE", "test_rmse": "RMSE", "test_mae": "MAE", "test_mse": "MSE", "val_mse": "MSE"}


def load_records(store_path: str | os.PathLike, sweep_id: int) -> list[dict]:
    """Every stored run record of one sweep (with histories), oldest first."""
    return RunStore(store_path).records(sweep_id=int(sweep_id))


def swept_fields(records: Sequence[dict]) -> list[str]:
    """The swept parameters of a sweep's run records, in grid order."""
    seen: list[str] = []
    for r in records:
        for k in r.get("params") or {}:
            if k not in seen:
                seen.append(k)
    return seen


def varying_fields(records: Sequence[dict]) -> list[str]:
    """The swept parameters that take at least two values in these runs, in grid order."""
    return [f for f in swept_fields(records) if len({repr((r.get("params") or {}).get(f)) for r in records}) > 1]


def config_label(row: Any, fields: Sequence[str]) -> str:
    """A configuration named by the settings that vary only, e.g. "lr=0.01, hidden_size=16"."""
    parts = [f"{f}={row[f]}" for f in fields if f in row and row[f] is not None]
    return ", ".join(parts) or "(one configuration)"


def units_of(records: Sequence[dict]) -> str:
    """The series' units (the first record that knows them), or ""."""
    for r in records:
        info = r.get("data_info") or {}
        if info.get("units"):
            return str(info["units"])
    return ""


def _metric_column(metric: str, units: str) -> str:
    name = METRIC_NAMES.get(metric, metric) + (" %" if metric.endswith("mape") else "")
    if metric.endswith(("rmse", "mae")) and units and units != "unitless":
        name += f" ({units})"
    return name


def results_table(records: Sequence[dict], metrics: Sequence[str] = ("test_mape", "test_rmse"),
                  units: str = "") -> pd.DataFrame:  # fmt: skip
    """The study's table, with the spread over seeds: one row per configuration × optimizer, the swept
    settings (by their names), the optimizer, ``seeds`` (runs), ``diverged`` (of them; left out of the
    statistics), then for each metric its mean, std and 95 % confidence interval over seeds (numbers, so the
    table sorts by any column; NaN where one finished seed leaves no spread)."""
    df = to_frame(records)
    if df.empty:
        return pd.DataFrame()
    fields_ = [f for f in swept_fields(records) if f in df.columns]
    out: pd.DataFrame | None = None
    for metric in metrics:
        g = group_stats(df, metric, by=("config_key", "label"))
        name = _metric_column(metric, units)
        cols = {"mean": f"{name} mean", "std": f"{name} std", "ci_low": f"{name} CI low", "ci_high": f"{name} CI high"}
        part = g[["config_key", "label", *[f for f in fields_ if f in g.columns], "n_runs", "n_diverged",
                  *cols]].rename(columns=cols)  # fmt: skip
        if out is None:
            out = part
        else:
            out = out.merge(part[["config_key", "label", *cols.values()]], on=["config_key", "label"], how="left")
    assert out is not None
    out = out.rename(columns={"label": "optimizer", "n_diverged": "diverged", "n_runs": "seeds"})
    return out.drop(columns=["config_key"]).reset_index(drop=True)


def shown_table(table: pd.DataFrame, fields: Sequence[str], varying: Sequence[str]) -> tuple[pd.DataFrame, str, bool]:
    """The results table as the page shows it: ``(table, fixed, one_seed)``.  The spread columns are left out
    when every configuration has one finished seed (``one_seed``); a swept setting with one value in the
    whole sweep is left out of the rows and said once in ``fixed`` ("epochs 2, batch_size 32")."""
    spread = [c for c in table.columns if c.endswith((" std", " CI low", " CI high"))]
    one_seed = bool(spread) and bool(table[spread].isna().all().all())
    if one_seed:
        table = table.drop(columns=spread)
    fixed = [f for f in fields if f not in varying and f in table.columns]
    fixed_txt = ", ".join(f"{f} {table[f].iloc[0]}" for f in fixed) if len(table) else ""
    return table.drop(columns=fixed), fixed_txt, one_seed


def seeds_per_config(records) -> int:
    """The most seeds any (configuration, optimizer) has: 1 means seed noise cannot be judged."""
    df = to_frame(records)
    if df.empty:
        return 0
    return int(df.groupby(["config_key", "label"]).size().max())


def verdict(summ: dict, n_seeds: int, metric: str = "test_mape", units: str = "") -> tuple[str, str]:
    """``(level, sentences)`` for the top of the results, from :func:`gru_core.stats.summarize`'s summary.

    The first two optimizers' paired comparison: a winner only when the 95 % confidence interval of the mean
    difference excludes 0; with one seed per configuration it says that seed noise cannot be judged.  Then
    the best configuration (chosen on validation, reported on test) against persistence and the linear
    baseline.  ``level``: "success" (a difference beyond the seed noise and a GRU that beats persistence),
    "warning" (anything a teacher should not read as a win), "info" otherwise.
    """
    mname = METRIC_NAMES.get(metric, metric)
    mape = metric.endswith("mape")
    lower = not metric.endswith("r2")
    val_unit = " %" if mape else (f" {units}" if units and units != "unitless" else "")
    diff_unit = " percentage points" if mape else val_unit
    key = metric.split("_", 1)[1]
    if not summ.get("groups"):
        return "warning", "No finished runs yet: nothing to compare."
    parts: list[str] = []
    level = "info"
    paired = summ.get("paired") or []
    if paired:
        pc = paired[0]
        a, b = pc["a"], pc["b"]
        if not pc["n"]:
            parts.append(f"{a} and {b} have no pair of finished runs to compare (diverged runs are left out).")
            level = "warning"
        else:
            diff, lo, hi = pc["mean_diff"], pc["ci_low"], pc["ci_high"]
            better = a if (diff < 0) == lower else b
            wins = pc["wins_a"] if better == a else pc["wins_b"]
            d_txt = f"{a} − {b} = {signed(diff)}{diff_unit} of test {mname}"
            if n_seeds < 2:
                parts.append(
                    "Only one seed per configuration: whether a difference at any single configuration (such as "
                    "the best one) is larger than the seed noise cannot be judged. Run 3 or more seeds."
                )
                parts.append(
                    f"Averaged over all {pc['n']} configurations, {d_txt} (95 % CI {num(lo, 3)} to {num(hi, 3)}); "
                    f"{better} is better in {wins:.0%} of them."
                )
                level = "warning"
            else:
                ci = f"95 % CI {num(lo, 3)} to {num(hi, 3)}, p = {num(pc['p_value'], 2)}"
                if lo > 0 or hi < 0:
                    parts.append(
                        f"{better} is better: {d_txt} on average over {pc['n']} paired runs ({ci}), more than "
                        f"the seed noise; {better} wins {wins:.0%} of the pairs."
                    )
                    level = "success"
                else:
                    parts.append(
                        f"No winner: {d_txt} on average over {pc['n']} paired runs, but the confidence interval "
                        f"({ci}) includes 0: the difference is within the seed noise."
                    )
                    level = "warning"
                tested, sig = pc.get("configs_tested", 0), pc.get("configs_significant", 0)
                if tested:
                    parts.append(
                        f"Configuration by configuration (over seeds), the difference exceeds the seed noise in "
                        f"{sig} of {tested}."
                    )
    best = [r for r in summ.get("best") or [] if math.isfinite(float(r.get("select_mean", math.nan)))]
    if best:
        b = min(best, key=lambda r: float(r["select_mean"]))  # chosen on validation, never on test
        base = b.get("baselines") or {}
        pers = (base.get("persistence") or {}).get(key)
        lin = (base.get("linear") or {}).get(key)
        val = b.get(f"{metric}_mean")
        if pers is not None and val is not None and math.isfinite(val):
            beats = val < pers if lower else val > pers
            seeds_txt = f"{b['n_seeds']} seed{'s' if b['n_seeds'] != 1 else ''}"
            parts.append(
                f"The best configuration, chosen on validation loss ({b['label']}, {b['config']}), has test "
                f"{mname} {num(val, 3)}{val_unit} ({seeds_txt}); persistence (tomorrow = today) has "
                f"{num(pers, 3)}{val_unit}"
                + (f" and the linear baseline {num(lin, 3)}{val_unit}" if lin is not None else "")
                + (": the GRU beats persistence." if beats else ": the GRU does NOT beat persistence.")
            )
            if not beats:
                level = "warning"
    return level, " ".join(parts)


def mape_explodes(summ: dict, metric: str) -> bool:
    """MAPE is the judge and even persistence has a MAPE above 50 %: the series comes close to zero."""
    pers = ((summ.get("best") or [{}])[0].get("baselines") or {}).get("persistence") or {}
    return metric == "test_mape" and (pers.get("mape") or 0) > 50


def heatmap_axes(df: pd.DataFrame, varying: Sequence[str]) -> tuple[list[str], str | None, str | None]:
    """The numeric settings that vary (the heatmap's candidate axes) and the default two: the learning rate
    across and the hidden size down where they vary, else the first ones."""
    numeric = [f for f in varying if f in df.columns and pd.api.types.is_numeric_dtype(df[f])]
    if not numeric:
        return [], None, None
    x0 = "lr" if "lr" in numeric else numeric[0]
    rest = [f for f in numeric if f != x0]
    y0 = "hidden_size" if "hidden_size" in rest else (rest[0] if rest else None)
    return numeric, x0, y0


def paired_rows(df: pd.DataFrame, a: str, b: str, metric: str, varying: Sequence[str]) -> pd.DataFrame:
    """:func:`gru_core.stats.paired_by_config` with each configuration named by the settings that vary
    (``lr`` included: in the runs' frame it is per optimizer)."""
    per = paired_by_config(df, a, b, metric)
    if not per.empty:
        names = {k: config_label(g.iloc[0], varying) for k, g in df.groupby("config_key", sort=False)}
        per["config"] = per["config_key"].map(names).fillna(per["config"])
    return per


def card_number(v: Any) -> str:
    """A number for a metric card: 3 significant digits, never in e-notation for everyday sizes."""
    try:
        f = abs(float(v))
    except (TypeError, ValueError):
        return DASH
    return num(v, ",.0f" if f >= 1000 else ".2g" if 0 < f < 0.001 else ".3g")


def best_table(best: list[dict], base: Mapping, units: str) -> pd.DataFrame:
    """The best configurations and the baselines, as text (mean ± std, the interval, "—" where none)."""
    u = f" ({units})" if units and units != "unitless" else ""

    def pm(b: dict, m: str) -> str:
        mean, std = b.get(f"{m}_mean"), b.get(f"{m}_std")
        return num(mean, 4) + (f" ± {num(std, 2)}" if num(std) != DASH else "")

    def ci(b: dict, m: str) -> str:
        lo, hi = b.get(f"{m}_ci_low"), b.get(f"{m}_ci_high")
        return f"{num(lo, 3)} to {num(hi, 3)}" if DASH not in (num(lo), num(hi)) else f"{DASH} (one seed)"

    rows = [{"model": f"{b['label']}: {b['config']}", "seeds": str(b["n_seeds"]), "diverged": str(b["n_diverged"]),
             "validation MSE (chosen on)": num(b["select_mean"], 4), "test MAPE %": pm(b, "test_mape"),
             "95 % interval (MAPE)": ci(b, "test_mape"), f"test RMSE{u}": pm(b, "test_rmse"),
             "95 % interval (RMSE)": ci(b, "test_rmse")} for b in best]  # fmt: skip
    for key in ("persistence", "linear"):
        m = base.get(key) or {}
        if m:
            rows.append({"model": BASELINE_STYLES[key]["label"], "seeds": DASH, "diverged": DASH,
                         "validation MSE (chosen on)": DASH, "test MAPE %": num(m.get("mape"), 4),
                         "95 % interval (MAPE)": DASH, f"test RMSE{u}": num(m.get("rmse"), 4),
                         "95 % interval (RMSE)": DASH})  # fmt: skip
    return pd.DataFrame(rows)


def baseline_values(best: list[dict], metric: str) -> tuple[dict, dict]:
    """``(baselines, {name: value of the metric})`` of the best configuration's test split."""
    base = (best[0].get("baselines") if best else None) or {}
    key = metric.split("_", 1)[1]
    return base, {k: (base.get(k) or {}).get(key) for k in ("persistence", "linear")}


def csv_bytes(df: pd.DataFrame) -> bytes:
    """A table as UTF-8 CSV bytes (a download)."""
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    return buf.getvalue().encode("utf-8")
