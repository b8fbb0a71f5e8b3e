"""The folders tell the architecture: imports only go downward, no cycles, every module says what it owns.

Three layers: the engine (``gru_core``), figures and shared widgets (``gru_ui``), the pages (``app.py``,
``pages/``).  Every import is read from the source, including imports inside functions (a lazy import
that closes a cycle is still a cycle), and resolved to the module it names.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules(package: str) -> dict[str, Path]:
    return {module_name(p): p for p in sorted((ROOT / package).rglob("*.py"))}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The modules ``path`` imports (absolute or relative, anywhere in the file), resolved to the most
    specific known module: ``from gru_core.data import prepare`` → ``gru_core.data`` (the package);
    ``from gru_core.model import gru`` → ``gru_core.model.gru``."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for name in names:
            while name and name not in known and "." in name:
                name = name.rpartition(".")[0]
            out.add(name)
    return out


def top_level_imports(path: Path) -> set[str]:
    return {n.split(".")[0] for n in imports_of(path, set())}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def internal_graph(package: str) -> dict[str, set[str]]:
    mods = modules(package)
    known = set(mods)
    graph = {}
    for name, path in mods.items():
        deps = {d for d in imports_of(path, known) if d in known and d != name}
        # a package's __init__ re-exporting its own modules is not a cycle with them
        graph[name] = {d for d in deps if not (path.name == "__init__.py" and d.startswith(name + "."))}
        graph[name] -= {p for p in _parents(name)}  # importing a submodule imports its parents first: no edge
    return graph


def _parents(name: str) -> set[str]:
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def test_cycle_finder_finds_a_cycle_and_accepts_a_tree():
    """The checker itself can fail (so a green result means something)."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_import_resolution_sees_lazy_and_relative_imports(tmp_path, monkeypatch):
    f = ROOT / "gru_core" / "_probe_for_test.py"
    f.write_text("def f():\n    from .config import RunConfig\n    import gru_core.cli.main\n", encoding="utf-8")
    try:
        got = imports_of(f, set(modules("gru_core")))
    finally:
        f.unlink()
    assert {"gru_core.config", "gru_core.cli.main"} <= got


def test_no_import_cycle_inside_the_engine():
    cycle = find_cycle(internal_graph("gru_core"))
    assert cycle is None, "import cycle in the engine: " + " → ".join(cycle)


def test_no_import_cycle_inside_the_ui():
    cycle = find_cycle(internal_graph("gru_ui"))
    assert cycle is None, "import cycle in gru_ui: " + " → ".join(cycle)


def test_engine_imports_no_ui_no_plotting_and_no_torch():
    banned = {"streamlit", "plotly", "torch", "gru_ui", "pages", "app"}
    files = sorted((ROOT / "gru_core").rglob("*.py"))
    assert len(files) > 20, "gru_core has too few modules?"
    for f in files:
        bad = top_level_imports(f) & banned
        assert not bad, f"{f.relative_to(ROOT)} imports {bad}"


def test_ui_imports_no_pages_no_torch_and_not_the_command_line():
    files = sorted((ROOT / "gru_ui").rglob("*.py"))
    assert files
    known = set(modules("gru_core"))
    for f in files:
        assert not top_level_imports(f) & {"pages", "app", "torch"}, f.relative_to(ROOT)
        cli = {m for m in imports_of(f, known) if m == "gru_core.cli" or m.startswith("gru_core.cli.")}
        assert not cli, f"{f.relative_to(ROOT)} imports the command line {cli}: use the engine instead"
    for f in sorted((ROOT / "pages").glob("*.py")) + [ROOT / "app.py"]:
        cli = {m for m in imports_of(f, known) if m.startswith("gru_core.cli")}
        assert not cli, f"{f.relative_to(ROOT)} imports the command line {cli}"


def test_figure_builders_do_not_import_streamlit():
    files = sorted((ROOT / "gru_ui" / "figures").glob("*.py"))
    assert len(files) >= 5, "gru_ui/figures/ should hold style, present, race, classroom and sweep"
    for f in files:
        assert "streamlit" not in top_level_imports(f), f.relative_to(ROOT)


def test_pages_are_layout_only_small_and_do_not_edit_sys_path():
    """A page file is settings → engine → figures: small, no sys.path tricks, no classes of its own."""
    for f in sorted((ROOT / "pages").glob("*.py")) + [ROOT / "app.py"]:
        text = f.read_text(encoding="utf-8")
        assert "sys.path" not in text, f"{f.relative_to(ROOT)} edits sys.path"
        n = len(text.splitlines())
        assert n <= 320, f"{f.relative_to(ROOT)} has {n} lines: move what is not layout into gru_ui/ or gru_core/"
        tree = ast.parse(text)
        classes = [c.name for c in ast.walk(tree) if isinstance(c, ast.ClassDef)]
        assert not classes, f"{f.relative_to(ROOT)} defines classes {classes}: they belong in gru_ui/ or gru_core/"


def test_tests_do_not_load_code_from_page_files():
    for f in sorted((ROOT / "tests").glob("*.py")):
        text = f.read_text(encoding="utf-8")
        assert "spec_from_file_location" not in text or f.name == "test_architecture.py", f.name


def test_every_module_opens_with_what_it_owns():
    for package in ("gru_core", "gru_ui"):
        for f in modules(package).values():
            if f.name == "__main__.py":
                continue
            doc = ast.get_docstring(ast.parse(f.read_text(encoding="utf-8")))
            assert doc and len(doc.split()) >= 8, f"{f.relative_to(ROOT)} has no opening comment saying what it owns"


def test_ruff_is_clean():
    ruff = shutil.which("ruff")
    cmd = [ruff] if ruff else [sys.executable, "-m", "ruff"]
    proc = subprocess.run([*cmd, "check", "."], cwd=ROOT, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0 and "No module named ruff" in proc.stderr:
        pytest.fail("ruff is not installed: pip install -r requirements-dev.txt")
    assert proc.returncode == 0, proc.stdout + proc.stderr
