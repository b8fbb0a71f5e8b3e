"""The benchmark keeps running (a smoke test: it prints ratios; timing targets are judged by a person)."""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import ROOT, import_torch


def test_gru_benchmark_quick_mode_prints_ratios():
    import_torch()
    proc = subprocess.run([sys.executable, "bench/bench_gru.py", "--quick"], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    m = re.search(r"geometric mean ratio ours/torch: ([0-9.]+)", proc.stdout)
    assert m and float(m.group(1)) > 0, proc.stdout
    assert re.search(r"^float64\s+32\s+30\s+16\s", proc.stdout, re.M), proc.stdout


def test_golden_comparison_sees_a_changed_number_and_ignores_timings():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import golden
    finally:
        sys.path.remove(str(ROOT / "bench"))
    a = {"runs": [{"test": {"mse": 0.25}, "seconds": 1.0}], "spec": {"optimizers": [1]}, "wall_seconds": 3}
    b = {"runs": [{"test": {"mse": 0.25}, "seconds": 9.0}], "spec": {"contestants": [1]}, "wall_seconds": 4}
    assert golden.differences(golden.normalise(a), golden.normalise(b)) == []
    b["runs"][0]["test"]["mse"] = 0.25000000000000006
    assert golden.differences(golden.normalise(a), golden.normalise(b)) == [
        ".runs[0].test.mse: 0.25 != 0.25000000000000006"]


def test_class_benchmark_quick_mode_prints_its_ratios():
    proc = subprocess.run([sys.executable, "bench/bench_class.py", "--quick"], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    ratios = [float(x) for x in re.findall(r"ratio to one race ([0-9.]+)", proc.stdout)]
    assert len(ratios) == 2 and ratios[0] == 1.0 and ratios[1] > 0, proc.stdout
    assert re.search(r"redraw of one live loss chart: [0-9.]+ ms .* ratio [0-9.]+", proc.stdout), proc.stdout


def test_seeds_benchmark_quick_mode_prints_a_wall_time_per_seed_count():
    proc = subprocess.run([sys.executable, "bench/bench_seeds.py", "--quick"], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = re.findall(r"(\d+) seed\(s\): +([0-9.]+) s +\(([0-9.]+)× one seed", proc.stdout)
    assert [int(n) for n, _, _ in rows] == [1, 3], proc.stdout
    assert float(rows[0][2]) == 1.0 and float(rows[1][1]) > 0, proc.stdout


def test_optimizer_benchmark_quick_mode_times_every_registry_optimizer_against_adam():
    from gru_core.optim import OPTIMIZERS

    proc = subprocess.run([sys.executable, "bench/bench_optim.py", "--quick"], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = dict(re.findall(r"^\s+(\S+)\s+[0-9.]+ µs\s+ratio to Adam\s+([0-9.]+)$", proc.stdout, re.M))
    assert set(rows) == {spec.name for spec in OPTIMIZERS.values()}, proc.stdout
    assert 0.3 < float(rows["Adam"]) < 3, proc.stdout  # Adam against itself, on a noisy machine


def test_surface_benchmark_quick_mode_prints_its_grid_time_against_an_epoch():
    proc = subprocess.run([sys.executable, "bench/bench_surface.py", "--quick"], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"whole 7×7 grid, float64.*: [0-9.]+ s = [0-9.]+ × one epoch", proc.stdout), proc.stdout
    assert "checks: the plain way's row equals the grid's" in proc.stdout, proc.stdout
