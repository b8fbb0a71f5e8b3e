"""The Sweep and Run history pages in a real browser: ``streamlit run`` in a subprocess, driven by Chromium
through Playwright, with a run store in a temporary folder.

The app is ``$GRU_LAB_APP`` (default ``app.py``); it must list ``pages/sweep.py`` and ``pages/history.py``
(with ``url_path="sweep"`` and ``"history"``).  Chromium and Playwright are found, installed or reported
exactly as in ``tests/test_browser.py``, by the same harness (``tests/_browser.py``; missing: a failure under
CI, a loud skip elsewhere).

Screenshots go to ``test-artifacts/`` (gitignored): look at them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from _browser import ARTIFACTS, EXCEPTION, ROOT, browser_page, chromium_browser, streamlit_server, unavailable

from gru_ui.sweep.form import grid_label

APP = Path(os.environ.get("GRU_LAB_APP", "app.py"))
APP = APP if APP.is_absolute() else ROOT / APP


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real Streamlit server on a free port with an empty run store; always terminated at the end."""
    text = APP.read_text(encoding="utf-8") if APP.exists() else ""
    if "pages/sweep.py" not in text or "pages/history.py" not in text:
        unavailable(
            f"{APP} does not list pages/sweep.py and pages/history.py yet (set GRU_LAB_APP to an app that does)"
        )
    store = tmp_path_factory.mktemp("browser-store") / "runs.sqlite"
    with streamlit_server("streamlit-sweep-server.log", app=APP, extra_env={"GRU_LAB_STORE": str(store)}) as url:
        yield url, store


@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as b:
        yield b


@pytest.fixture
def page(browser):
    with browser_page(browser) as pg:
        yield pg


def _shot(page, name: str, height: int | None = None):
    """A screenshot; ``height``: grow the window first (Streamlit scrolls inside the page, so a full-page
    shot alone shows one screen)."""
    t0 = time.time()
    if height:
        page.set_viewport_size({"width": 1600, "height": height})
        page.wait_for_timeout(1000)  # charts resize to the new window
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)
    if height:
        page.set_viewport_size({"width": 1600, "height": 1000})
    print(f"  screenshot {name}: {time.time() - t0:.1f} s")


def _shot_at(page, text: str, name: str):
    """A one-screen screenshot with ``text`` at the top (cheaper than a tall one: nothing is re-laid out)."""
    t0 = time.time()
    page.get_by_text(text).first.evaluate("el => el.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(700)
    page.screenshot(path=str(ARTIFACTS / name))
    print(f"  screenshot {name}: {time.time() - t0:.1f} s")


def _no_exception(page):
    assert page.locator(EXCEPTION).count() == 0, page.locator(EXCEPTION).first.inner_text()


def _open_sweep(page, url: str):
    page.goto(url + "/sweep", wait_until="domcontentloaded")
    page.get_by_role("button", name="▶ Run sweep").wait_for(timeout=60_000)
    page.wait_for_timeout(1000)


def _set_text(page, label: str, value: str):
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Enter")
    page.wait_for_timeout(600)


def test_tiny_sweep_results_and_history_in_the_browser(server, page):
    url, store = server
    _open_sweep(page, url)
    _no_exception(page)
    _shot(page, "21-sweep-start.png", height=2200)
    page.get_by_role("button", name="Load the study's grid (54 configurations)").click()
    page.get_by_text("54 configurations × 1 seed = 54 cells").wait_for(timeout=60_000)
    page.get_by_text("No tin price CSV uploaded").wait_for(timeout=10_000)
    _no_exception(page)
    _shot(page, "22-sweep-study-preset.png", height=2200)
    page.get_by_role("button", name="Load a tiny demo grid (seconds)").click()
    page.get_by_text("2 configurations × 2 seeds = 4 cells").wait_for(timeout=30_000)
    t0 = time.time()
    page.get_by_role("button", name="▶ Run sweep").click()  # the preset: 0 workers, in the runner's worker process
    page.get_by_text("Every configuration: mean, spread and 95 % interval over seeds").wait_for(timeout=180_000)
    seconds = time.time() - t0
    page.get_by_text("Done in").first.wait_for(timeout=10_000)
    page.wait_for_timeout(1500)  # let the charts draw
    _no_exception(page)
    assert page.get_by_text("Paired comparison: same weights").count()
    assert page.get_by_text("tomorrow = today").count()
    _shot_at(page, "Results of the stored sweep", "23a-sweep-results-table.png")
    _shot_at(page, "Where in the grid is the error low?", "23b-sweep-results-grid.png")
    _shot_at(page, "Paired comparison: same weights", "23c-sweep-results-paired.png")
    _shot_at(page, "How sensitive is each optimizer", "23d-sweep-results-lr-best.png")
    print(f"tiny sweep in the browser (0 workers, in a runner worker): {seconds:.1f} s from the click to the results")

    page.goto(url + "/history", wait_until="domcontentloaded")
    page.get_by_text("8 of 8 runs match the filters").wait_for(timeout=60_000)
    _no_exception(page)
    page.get_by_text("Select all 8 runs shown").click()
    page.get_by_text("Loss curves of 8 stored runs").first.wait_for(timeout=30_000)
    page.wait_for_timeout(1500)
    _no_exception(page)
    assert page.get_by_role("button", name="Download the 8 selected runs (CSV)").is_enabled()
    _shot(page, "24-history.png", height=2400)


def test_stop_a_running_sweep_in_the_browser(server, page):
    url, store = server
    t_start = time.time()

    def lap(what: str) -> None:
        print(f"  {time.time() - t_start:5.1f} s  {what}")

    _open_sweep(page, url)
    lap("page open")
    page.get_by_role("button", name="Load a tiny demo grid (seconds)").click()
    page.get_by_text("2 configurations × 2 seeds = 4 cells").wait_for(timeout=30_000)
    _set_text(page, grid_label("epochs"), "300")  # the boxes are labelled with the settings' names; ~30 s in all
    _set_text(page, grid_label("lr"), "0.02, 0.01, 0.005, 0.002, 0.001, 0.0005")
    _set_text(page, "Worker processes", "2")  # the real thing: a process pool, started by the runner's worker process
    page.get_by_text("6 configurations × 2 seeds = 12 cells").wait_for(timeout=30_000)
    page.get_by_text("on 2 worker processes").wait_for(timeout=30_000)
    lap("grid set")
    page.get_by_role("button", name="▶ Run sweep").click()
    page.get_by_text("Running:").first.wait_for(timeout=60_000)
    lap("running")
    page.get_by_text("Last finished:").first.wait_for(timeout=120_000)
    lap("first cell finished")
    _no_exception(page)
    _shot(page, "25-sweep-running.png")
    page.get_by_role("button", name="■ Stop").click()
    t0 = time.time()
    page.get_by_text("Stopped:").first.wait_for(timeout=120_000)
    print(f"stop took effect {time.time() - t0:.1f} s after the click")
    page.wait_for_timeout(1000)
    _no_exception(page)
    assert page.get_by_role("button", name="▶ Run sweep").is_enabled()
    from gru_core.store import RunStore

    newest = RunStore(store).sweeps().iloc[0]  # newest first
    assert newest["status"] == "interrupted" and 0 < newest["n_runs"] < 24, newest.to_dict()
    log = (ARTIFACTS / "streamlit-sweep-server.log").read_text(encoding="utf-8", errors="replace")
    assert "ScriptRunContext" not in log, "a process of the sweep ran the app's script (bare-mode warnings in the log)"
    _shot_at(page, "Stopped:", "26-sweep-stopped.png")
