"""The folders tell the architecture: imports only go downward, and the code is lint-clean."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def test_engine_imports_no_ui_and_no_torch():
    banned = {"streamlit", "plotly", "torch", "gru_ui", "pages", "app"}
    files = sorted((ROOT / "gru_core").glob("*.py"))
    assert files, "gru_core has no modules?"
    for f in files:
        assert not imported_modules(f) & banned, f"{f.name} imports {imported_modules(f) & banned}"


def test_ui_package_does_not_import_pages():
    files = sorted((ROOT / "gru_ui").glob("*.py")) if (ROOT / "gru_ui").is_dir() else []
    for f in files:
        assert not imported_modules(f) & {"pages", "app", "torch"}, f.name


def test_figure_builders_do_not_import_streamlit():
    f = ROOT / "gru_ui" / "figures.py"
    if not f.exists():
        pytest.skip("SKIPPED: gru_ui/figures.py does not exist yet")
    assert "streamlit" not in imported_modules(f)


def test_ruff_is_clean():
    ruff = shutil.which("ruff")
    cmd = [ruff] if ruff else [sys.executable, "-m", "ruff"]
    proc = subprocess.run([*cmd, "check", "."], cwd=ROOT, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0 and "No module named ruff" in proc.stderr:
        pytest.fail("ruff is not installed: pip install -r requirements-dev.txt")
    assert proc.returncode == 0, proc.stdout + proc.stderr
