"""The classroom pages in a real browser: ``streamlit run app.py`` in a subprocess, driven by Chromium.

Same set-up as tests/test_browser.py: the ``playwright`` package and Debian's ``/usr/bin/chromium`` (never
``playwright install``); when Chromium is missing, as root ``apt-get install -y chromium`` is tried once,
then the tests FAIL under CI (``CI`` set) and are skipped loudly elsewhere.

``GRU_LAB_APP`` (default ``app.py``) names the entry point, e.g. a copy of app.py with extra pages.  The
pages are opened at their URL paths (``/gru_explained``, ``/gate_inspector``, ``/vanishing``,
``/optimizer_lab``).  Screenshots go to ``test-artifacts/classroom-*.png`` (gitignored): look at them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _browser import ARTIFACTS, EXCEPTION, ROOT, browser_page, chromium_browser, streamlit_server

APP = os.environ.get("GRU_LAB_APP", "app.py")
PAGE_FILES = ("pages/gru_explained.py", "pages/gate_inspector.py", "pages/vanishing.py", "pages/optimizer_lab.py")


@pytest.fixture(scope="module")
def server():
    """A real Streamlit server with the classroom pages on a free port; always terminated at the end."""
    app = Path(APP) if Path(APP).is_absolute() else ROOT / APP
    text = app.read_text(encoding="utf-8")
    missing = [p for p in PAGE_FILES if p not in text]
    assert not missing, f"{app} does not list {missing} in its PAGES (or set GRU_LAB_APP to an app that does)"
    with streamlit_server("streamlit-server-classroom.log", app=app) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as b:
        yield b


@pytest.fixture
def page(browser):
    with browser_page(browser) as pg:
        yield pg


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    """Two trained models, saved the way a teacher makes them: ``compare --save-model``."""
    folder = tmp_path_factory.mktemp("models")
    prefix = folder / "lab"
    cmd = [sys.executable, "-m", "gru_core", "compare", "--data", "noisy_sine", "--optimizers", "adam,rmsprop",
           "--epochs", "15", "--hidden", "16", "--seed", "1", "--save-model", str(prefix)]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    files = {"adam": folder / "lab_adam.npz", "rmsprop": folder / "lab_rmsprop.npz"}
    assert all(f.exists() for f in files.values()), proc.stdout
    return files


def _open(page, url: str, heading: str):
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_role("heading", name=heading).first.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)  # let the charts draw


def _wait_charts(page, n: int, timeout: float = 60_000):
    page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot').length >= {n}", timeout=timeout)
    page.wait_for_timeout(1200)


def _shot(page, name: str, height: int = 1000):
    if height != 1000:
        page.set_viewport_size({"width": 1600, "height": height})
        page.wait_for_timeout(1500)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)
    if height != 1000:
        page.set_viewport_size({"width": 1600, "height": 1000})


def _no_exception(page):
    assert page.locator(EXCEPTION).count() == 0, page.locator(EXCEPTION).first.inner_text()


def _trace_len(page, title_start: str, trace_name: str) -> int:
    """Points in a trace of the Plotly chart whose title starts with ``title_start`` (from the live DOM)."""
    return page.evaluate(
        """([title, name]) => {
            for (const gd of document.querySelectorAll('.js-plotly-plot')) {
                const t = (gd.layout && gd.layout.title && gd.layout.title.text) || '';
                if (!t.startsWith(title)) continue;
                const tr = (gd._fullData || []).find(d => d.name === name);
                return tr && tr.x ? tr.x.length : -1;
            }
            return -2;
        }""",
        [title_start, trace_name],
    )


def test_gru_explained_page(server, page):
    # The module's first visit to its fresh server, straight to a page's own URL (a link a teacher shared):
    # the page must come inside the app (top navigation, wide layout), not as Streamlit's bare pages/ file.
    _open(page, server + "/gru_explained", "How a GRU works")
    _wait_charts(page, 3)
    _no_exception(page)
    assert page.get_by_role("link", name="Optimizer race").count() >= 1, "the app's navigation is missing"
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0, "Streamlit's pages/ folder list is shown"
    assert page.locator(".katex").count() >= 2, "the equations are not typeset"
    _shot(page, "classroom-01-gru-explained.png", height=2600)
    page.get_by_role("button", name="z → 1: copy").click()
    page.get_by_text("copies the past").first.wait_for(timeout=30_000)
    page.wait_for_timeout(1000)
    _no_exception(page)
    _shot(page, "classroom-02-gru-cell-copy.png", height=1500)


def test_optimizer_lab_page_animates(server, page):
    _open(page, server + "/optimizer_lab", "Optimizer lab: Rosenbrock")
    _wait_charts(page, 3)
    _no_exception(page)
    full = _trace_len(page, "Rosenbrock: paths", "Adam")
    assert full > 10, full
    _shot(page, "classroom-03-optimizer-lab.png", height=1900)
    page.locator(".updatemenu-button").first.click()  # ▶ Play
    page.wait_for_timeout(1200)
    mid = _trace_len(page, "Rosenbrock: paths", "Adam")
    assert 0 < mid < full, f"the animation did not start: {mid} of {full} points"
    still = page.evaluate(
        "() => [...document.querySelectorAll('.js-plotly-plot')].filter(gd => (gd.layout.title.text || '')"
        ".startsWith('Rosenbrock: paths')).map(gd => gd.querySelectorAll('.imagelayer image').length)[0]"
    )
    assert still == 1, "the landscape vanished while animating"
    page.screenshot(path=str(ARTIFACTS / "classroom-04-optimizer-lab-playing.png"))
    _no_exception(page)


def _font_size(page, title_start: str) -> float:
    """The layout font size of the Plotly chart whose title starts with ``title_start`` (live DOM)."""
    return page.evaluate(
        """(title) => {
            for (const gd of document.querySelectorAll('.js-plotly-plot')) {
                const t = (gd.layout && gd.layout.title && gd.layout.title.text) || '';
                if (t.startsWith(title)) return gd._fullLayout.font.size;
            }
            return -1;
        }""",
        title_start,
    )


def test_presentation_mode_carries_across_pages_and_keeps_the_animation(server, page):
    _open(page, server + "/optimizer_lab", "Optimizer lab: Rosenbrock")
    _wait_charts(page, 3)
    normal = _font_size(page, "Rosenbrock: paths")
    assert normal > 0
    page.get_by_text("Presentation mode", exact=True).click()
    page.wait_for_function(
        "(n) => [...document.querySelectorAll('.js-plotly-plot')].some(gd => (gd.layout.title.text || '')"
        ".startsWith('Rosenbrock: paths') && gd._fullLayout.font.size > n)",
        arg=normal,
        timeout=60_000,
    )
    _wait_charts(page, 3)
    _no_exception(page)
    full = _trace_len(page, "Rosenbrock: paths", "Adam")
    page.locator(".updatemenu-button").first.click()  # ▶ Play: the frames survived presentation mode
    page.wait_for_timeout(1200)
    mid = _trace_len(page, "Rosenbrock: paths", "Adam")
    assert 0 < mid < full, f"no animation in presentation mode: {mid} of {full} points"
    _shot(page, "classroom-09-optimizer-lab-presentation.png", height=2100)
    # another page of the same session: still in presentation mode, same colours
    page.get_by_role("link", name="GRU", exact=True).first.click()  # presentation mode: the short page titles
    page.get_by_role("heading", name="How a GRU works").first.wait_for(timeout=60_000)
    _wait_charts(page, 3)
    _no_exception(page)
    assert _font_size(page, "One GRU unit") > 15 * 1.3, "presentation mode was lost on the next page"
    _shot(page, "classroom-10-gru-explained-presentation.png", height=2800)


def test_vanishing_page_trains(server, page):
    _open(page, server + "/vanishing", "Vanishing gradients, shown")
    _no_exception(page)
    t0 = time.time()
    page.get_by_role("button", name="▶ Train both models").click()
    page.get_by_text("GRU test MSE").first.wait_for(timeout=180_000)
    seconds = time.time() - t0
    _wait_charts(page, 2)
    _no_exception(page)
    assert page.get_by_text("tanh RNN test MSE").count()
    _shot(page, "classroom-05-vanishing.png", height=2000)
    print(f"vanishing page, default settings: results on screen {seconds:.1f} s after the click")


def test_gate_inspector_uploads_and_a_hostile_file(server, page, model_files):
    _open(page, server + "/gate_inspector", "Gate inspector")
    page.get_by_text("upload model files (.npz)").click()
    inputs = page.locator('[data-testid="stFileUploaderDropzoneInput"], input[type="file"]')
    inputs.first.wait_for(state="attached", timeout=30_000)
    inputs.nth(0).set_input_files(str(model_files["adam"]))
    page.get_by_text("Line plot shows").first.wait_for(timeout=60_000)
    inputs.nth(1).set_input_files(str(model_files["rmsprop"]))
    page.wait_for_function(
        "[...document.querySelectorAll('.js-plotly-plot')].filter(gd => (gd.layout.title.text || '')"
        ".includes('gates on this window')).length >= 2",
        timeout=60_000,
    )
    _wait_charts(page, 7)
    _no_exception(page)
    _shot(page, "classroom-06-gate-inspector-uploads.png", height=3300)
    junk = np.random.default_rng(0).bytes(3000)
    inputs.nth(1).set_input_files(files=[{"name": "evil.npz", "mimeType": "application/zip", "buffer": junk}])
    page.get_by_text("evil.npz could not be opened").first.wait_for(timeout=30_000)
    page.wait_for_timeout(1500)
    _no_exception(page)
    assert _trace_len(page, "Adam: gates on this window", "input window") == 20  # model A still shown
    _shot(page, "classroom-07-gate-inspector-hostile.png")


def test_gate_inspector_reads_the_sessions_race(server, page):
    _open(page, server + "/?epochs=4&hidden=16", "Optimizer race: Adam vs RMSprop")
    page.get_by_role("button", name="▶ Train").click()
    page.get_by_text("Finished: epoch").wait_for(timeout=300_000)
    page.get_by_role("link", name="Gate inspector").click()  # same session: the race comes along
    page.get_by_role("heading", name="Gate inspector").first.wait_for(timeout=60_000)
    page.wait_for_function(
        "[...document.querySelectorAll('.js-plotly-plot')].filter(gd => (gd.layout.title.text || '')"
        ".includes('gates on this window')).length >= 2",
        timeout=60_000,
    )
    _wait_charts(page, 7)
    _no_exception(page)
    _shot(page, "classroom-08-gate-inspector-race.png", height=3300)
