"""The harness the browser tests share: a real ``streamlit run`` in a subprocess, Chromium through Playwright.

Needs the ``playwright`` Python package and a Chromium binary (Debian's ``/usr/bin/chromium``, or ``$CHROMIUM``;
never ``playwright install``).  When one is missing: as root, ``apt-get install -y chromium`` is tried once;
if still missing, the tests FAIL under CI (``CI`` set) and are skipped loudly elsewhere (:func:`unavailable`).

Each browser test module keeps its own thin fixtures (``server``, module-scoped ``browser``, ``page``) that wrap
the context managers here: :func:`streamlit_server` (its log file, app, extra environment), :func:`chromium_browser`
and :func:`browser_page`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
EXCEPTION = '[data-testid="stException"]'
VIEWPORT = {"width": 1600, "height": 1000}
HEALTH_TIMEOUT = 90  # seconds for a fresh server to answer /_stcore/health


def unavailable(reason: str):
    """Something the browser tests need is missing: a failure under CI, a loud skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; under CI a missing browser is a failure, not a skip")
    pytest.skip(f"SKIPPED, NOT PASSED: {reason}")


def find_chromium() -> str | None:
    for candidate in (CHROMIUM, shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def ensure_chromium() -> str:
    """The Chromium binary; as root with apt-get, ``apt-get install -y chromium`` is tried if it is missing,
    and again after ``apt-get update`` (a fresh machine's package lists are often empty)."""
    path = find_chromium()
    if path is None and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        install = ["apt-get", "install", "-y", "chromium"]
        for cmd in (install, ["apt-get", "update"], install):
            if find_chromium():  # the first install was enough
                break
            try:
                subprocess.run(cmd, check=False, timeout=600, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            except (OSError, subprocess.TimeoutExpired):
                pass
        path = find_chromium()
    if path is None:
        unavailable(f"Chromium not found at {CHROMIUM} (install Debian's chromium: apt-get install -y chromium)")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(proc: subprocess.Popen, url: str, log_path: Path, timeout: float) -> None:
    deadline = time.time() + timeout
    while True:
        if proc.poll() is not None:
            pytest.fail(f"streamlit exited with {proc.returncode}; see {log_path}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.time() > deadline:
            pytest.fail(f"streamlit did not answer /_stcore/health within {timeout} s")
        time.sleep(0.5)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=15)


@contextmanager
def streamlit_server(
    log_name: str,
    app: str | Path = "app.py",
    extra_env: Mapping[str, str] | None = None,
    health_timeout: float = HEALTH_TIMEOUT,
) -> Iterator[str]:
    """A real Streamlit server for ``app`` on a free port; yields its URL, always terminated at the end.

    ``app``: as given to ``streamlit run`` (relative to the project root, or absolute).  The server's output goes
    to ``test-artifacts/<log_name>``.  ``extra_env``: variables added to the inherited environment (e.g. a
    temporary ``GRU_LAB_STORE``); ``None`` inherits it unchanged.  Fails the test when the server exits early
    or does not answer ``/_stcore/health`` within ``health_timeout`` seconds.
    """
    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    log_path = ARTIFACTS / log_name
    cmd = [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true", "--server.port",
           str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
           "--browser.gatherUsageStats", "false"]  # fmt: skip
    env = None if extra_env is None else {**os.environ, **extra_env}
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_healthy(proc, url, log_path, health_timeout)
            yield url
        finally:
            _stop(proc)


# Several visitors in one browser: pages that are not in front must keep their timers (Streamlit's live views
# redraw on a timer in the page), as each student's own browser would.
SEVERAL_VISITORS_ARGS = ["--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                         "--disable-backgrounding-occluded-windows"]  # fmt: skip


@contextmanager
def chromium_browser(extra_args: list[str] | None = None) -> Iterator:
    """A headless Chromium (``CHROMIUM_ARGS`` + ``extra_args``) through Playwright; missing pieces go to
    :func:`unavailable`."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is missing (pip install playwright; never `playwright install`)")
    path = ensure_chromium()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=[*CHROMIUM_ARGS, *(extra_args or [])])
        try:
            yield b
        finally:
            b.close()


@contextmanager
def browser_page(browser, viewport: Mapping[str, int] | None = None) -> Iterator:
    """A fresh page in its own browser context (``VIEWPORT`` unless ``viewport``), closed at the end."""
    ctx = browser.new_context(viewport=dict(viewport or VIEWPORT))
    pg = ctx.new_page()
    try:
        yield pg
    finally:
        ctx.close()


def module_fixtures(log_name: str, extra_env: Mapping[str, str] | None = None):
    """The three fixtures most browser test modules need, as ``server, browser, page = module_fixtures(log)``:
    a Streamlit server and a Chromium for the module, and a fresh page per test."""

    @pytest.fixture(scope="module")
    def server():
        with streamlit_server(log_name, extra_env=extra_env) as url:
            yield url

    @pytest.fixture(scope="module")
    def browser():
        with chromium_browser() as b:
            yield b

    @pytest.fixture
    def page(browser):
        with browser_page(browser) as pg:
            yield pg

    return server, browser, page


# for ``locator.evaluate_all``: the labels (text) of the given elements that are cut (an element with text whose
# content is wider than its box), once each
CUT = """els => els.filter(b => b.offsetParent !== null).flatMap(b =>
    [b, ...b.querySelectorAll('*')].filter(e => e.scrollWidth > e.clientWidth + 1 && e.clientWidth > 0
                                                    && e.innerText.trim() !== '')
      .map(() => b.innerText.trim())).filter((t, i, a) => a.indexOf(t) === i)"""
