"""The long-run benchmark keeps working (a smoke test of a few seconds; the real run is 10 minutes:
``python bench/bench_longrun.py``).  Its figures are judged by a person; here only that it runs through the
page's code path and reports them, and that the drawn curves stay thinned."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from conftest import ROOT

from gru_ui import figures as F


def test_longrun_bench_smoke_reports_memory_and_redraw_times():
    proc = subprocess.run(
        [sys.executable, "bench/bench_longrun.py", "--minutes", "0.08", "--lr-every", "2", "--hidden", "8"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert re.search(r"RSS: start [0-9.]+ MB, at [0-9.]+ min [0-9.]+ MB, at end [0-9.]+ MB; growth [-+][0-9.]+ %", out)
    assert re.search(r"redraw \(loss chart \+ status\) per update: mean [0-9.]+ ms, p95 [0-9.]+ ms", out), out
    summary = json.loads(out.split("summary ", 1)[1])
    assert summary["updates"] >= 5 and summary["steps_per_s"] > 0 and summary["epochs"] >= 1
    assert 0 < summary["max_points"] <= F.MAX_POINTS
    assert summary["rss_end_mb"] > 0 and summary["redraw_mean_ms"] > 0
    assert "learning-rate changes" in out and re.search(r"[1-9]\d* learning-rate changes", out), out
