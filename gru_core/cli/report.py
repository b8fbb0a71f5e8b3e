"""What the command line prints: the compare table, the verdict, the forecast and the sweep summary.

Text tables are drawn by ``tabulate``; numbers are formatted by :mod:`gru_core.fmt` (the same as the
page's).  The numbers themselves come from the engine (:func:`gru_core.stats.summarize`): this module only
lays them out.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from tabulate import tabulate

from gru_core.fmt import num, plus_minus

__all__ = ["compare_table", "forecast_table", "summary_text", "verdict_line"]

_METRICS = (("mse", "MSE", ".4g"), ("rmse", "RMSE", ".4g"), ("mae", "MAE", ".4g"), ("mape", "MAPE %", ".3f"),
            ("r2", "R²", ".3f"))  # fmt: skip


def compare_table(result: dict, units: str = "") -> str:
    """Test metrics of every run and of the baselines, one row each, with stops and divergence."""
    rows = []
    for name, m, run in [(r["name"], r["test"], r) for r in result["runs"]] + [
        (f"baseline: {k}", v, None) for k, v in result["baselines"].items()
    ]:
        row: list[Any] = [name] + [num(m.get(k) if m else None, fmt) for k, _, fmt in _METRICS]
        stops, note = "", ""
        if run is not None:
            stops = f"{run['best_epoch'] or '-'}/{run['stopped_epoch'] or '-'}"
            if run["diverged"]:
                note = f"DIVERGED at epoch {run['diverged_epoch']}, step {run['diverged_step']}"
            else:
                note = run["status"]
        rows.append(row + [stops, note])
    head = ["model", *(h for _, h, _ in _METRICS), "best/stop", "note"]
    title = f"test metrics{' (' + units + ')' if units else ''}"
    return title + "\n" + tabulate(rows, headers=head, disable_numparse=True, colalign=("left",) + ("right",) * 6)


def verdict_line(result: dict) -> str:
    """Does the best optimizer beat "tomorrow = today"?  ("" when every run diverged.)"""
    best = min((r for r in result["runs"] if r["test"]), key=lambda r: r["test"]["mse"], default=None)
    pers = result["baselines"]["persistence"]
    if best is None:
        return ""
    verdict = "beats" if best["test"]["mse"] < pers["mse"] else "does NOT beat"
    return (f"verdict: the best optimizer ({best['name']}, MAPE {best['test']['mape']:.3f}%) {verdict} "
            f"the naive forecast 'tomorrow = today' (MAPE {pers['mape']:.3f}%) on test MSE")  # fmt: skip


def forecast_table(labels: list[str], values, units: str, dated: bool) -> str:
    head = ["date" if dated else "position", f"forecast{' (' + units + ')' if units else ''}"]
    return tabulate([[lab, f"{v:.6g}"] for lab, v in zip(labels, values)], headers=head, disable_numparse=True)


def summary_text(summary: dict) -> str:
    """The sweep summary of :func:`gru_core.stats.summarize` as text: per-configuration means, the paired
    comparisons, the learning-rate sensitivity and the best configuration chosen on validation."""
    metric, select = summary["metric"], summary["select"]
    mname = metric.split("_", 1)[1].upper() + (" %" if metric.endswith("mape") else "")
    lines: list[str] = []
    groups = pd.DataFrame(summary["groups"])
    if not groups.empty:
        labels = list(dict.fromkeys(groups["label"]))
        rows = []
        for _, g in groups.groupby("config_key", sort=False):
            cells = []
            for lab in labels:
                row = g[g["label"] == lab]
                if row.empty:
                    cells.append("")
                    continue
                r = row.iloc[0]
                text = plus_minus(r["mean"], r["std"], int(r["n"]))
                cells.append(text + (f" [{int(r['n_diverged'])} div]" if r["n_diverged"] else ""))
            rows.append([g["config"].iloc[0], *cells])
        lines.append(f"test {mname} per configuration: mean ± std over seeds (n)")
        lines.append(tabulate(rows, headers=["configuration", *labels], disable_numparse=True,
                              colalign=("left",) + ("right",) * len(labels)))  # fmt: skip
    for pc in summary["paired"]:
        lines.append("")
        lines.append(f"paired: {pc['a']} − {pc['b']}, test {mname}, {pc['n']} (configuration, seed) pairs"
                     + (f" ({pc['n_excluded']} left out: diverged)" if pc["n_excluded"] else ""))  # fmt: skip
        if pc["n"] >= 2:
            wil = "" if pc["wilcoxon_p"] is None else f", Wilcoxon p = {pc['wilcoxon_p']:.3g}"
            lines.append(f"  mean difference {num(pc['mean_diff'])} (95% CI {num(pc['ci_low'])} to "
                         f"{num(pc['ci_high'])}), paired t p = {num(pc['p_value'], '.3g')}{wil}")  # fmt: skip
        lines.append(f"  {pc['a']} better in {pc['wins_a']:.0%} of pairs, {pc['b']} in {pc['wins_b']:.0%}"
                     + (f", ties {pc['ties']:.0%}" if pc["ties"] else ""))  # fmt: skip
        if pc.get("configs"):
            if pc["configs_tested"]:
                lines.append(f"  within a configuration (over seeds) the 95% CI excludes 0 in "
                             f"{pc['configs_significant']} of {pc['configs_tested']} configurations "
                             f"({pc['configs_a_better']} for {pc['a']})")  # fmt: skip
            else:
                lines.append("  one seed per configuration: whether a difference exceeds seed noise cannot be "
                             "told (use --seeds 3 or more)")  # fmt: skip
    lr = pd.DataFrame(summary["lr"])
    if not lr.empty and lr["lr"].notna().any() and lr["lr"].nunique() > 1:
        lines.append("")
        lines.append(f"test {mname} against the learning rate (other settings and seeds pooled): mean [95% CI] (n)")
        for lab, g in lr.groupby("label", sort=False):
            parts = [f"lr {num(r['lr'])}: {num(r['mean'])} [{num(r['ci_low'])}, {num(r['ci_high'])}] ({r['n']})"
                     for _, r in g.iterrows()]  # fmt: skip
            lines.append(f"  {lab}: " + "; ".join(parts))
    if summary["best"]:
        sname = select.split("_", 1)[1].upper()
        key = metric.split("_", 1)[1]
        lines.append("")
        lines.append(f"best configuration per optimizer, chosen on validation {sname} (mean over seeds), "
                     f"reported on test:")  # fmt: skip
        for b in summary["best"]:
            ci = f" [{num(b.get(f'{metric}_ci_low'))}, {num(b.get(f'{metric}_ci_high'))}]" if b["n_seeds"] > 1 else ""
            div = f", {b['n_diverged']} diverged" if b["n_diverged"] else ""
            spread = f" ± {num(b.get(f'{metric}_std'), '.2g')}{ci}" if b["n_seeds"] > 1 else ""
            lines.append(f"  {b['label']}: {b['config']} (n={b['n_seeds']}{div}): val {sname} "
                         f"{num(b['select_mean'])}; test {mname} {num(b.get(f'{metric}_mean'))}{spread}, "
                         f"test RMSE {num(b.get('test_rmse_mean'))}")  # fmt: skip
            base = b.get("baselines") or {}
            if base:
                lines.append(f"    same test split: persistence {mname} {num(base['persistence'].get(key))}, "
                             f"linear {num(base['linear'].get(key))}")  # fmt: skip
    return "\n".join(lines)
