"""The real thing: ``streamlit run app.py`` in a subprocess, driven by Chromium through Playwright.

Needs the ``playwright`` Python package and a Chromium binary (Debian's ``/usr/bin/chromium``; never
``playwright install``).  When one is missing: as root, ``apt-get install -y chromium`` is tried once;
if still missing, the tests FAIL under CI (``CI`` set) and are skipped loudly elsewhere.  That harness is shared
with the other browser test modules: ``tests/_browser.py``.

Screenshots go to ``test-artifacts/`` (gitignored): look at them.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from _browser import ARTIFACTS, EXCEPTION, browser_page, chromium_browser, streamlit_server


@pytest.fixture(scope="module")
def server():
    """A real Streamlit server on a free port; always terminated at the end."""
    with streamlit_server("streamlit-server.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as b:
        yield b


@pytest.fixture
def page(browser):
    with browser_page(browser) as pg:
        yield pg


def _open(page, url: str):
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_role("button", name="▶ Train").wait_for(timeout=60_000)
    page.wait_for_timeout(1500)  # let the first charts draw


def _shot(page, name: str, tall: bool = False):
    page.mouse.move(2, 2)  # no tooltip of a hovered button over the picture
    if tall:
        page.set_viewport_size({"width": 1600, "height": 3400})
        page.wait_for_timeout(1500)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)
    if tall:
        page.set_viewport_size({"width": 1600, "height": 1000})


def _no_exception(page):
    assert page.locator(EXCEPTION).count() == 0, page.locator(EXCEPTION).first.inner_text()


def test_default_race_live_in_the_browser(server, page):
    _open(page, server + "/?epochs=25")  # the default race, shorter
    _no_exception(page)
    _shot(page, "01-start.png")
    t0 = time.time()
    page.get_by_role("button", name="▶ Train").click()
    # checked at every animation frame (not Playwright's slower polling): the first point of a training curve
    page.wait_for_function(
        "() => { const el = document.querySelector('.st-key-live-loss .gru-live-plot');"
        " return !!(el && el._fullData && el._fullData.some(t => t.name === 'Adam · train' && t.x && t.x.length)); }",
        polling="raf",
        timeout=60_000,
    )
    first_curves = time.time() - t0
    loss = page.locator(".st-key-live-loss .gru-live-plot")
    loss.get_by_text("Adam · train").first.wait_for(timeout=10_000)
    loss.get_by_text("RMSprop · train").first.wait_for(timeout=10_000)
    assert first_curves < 10, f"the first curve took {first_curves:.1f} s"  # ~1-1.5 s here; generous for busy CI
    assert not page.get_by_role("button", name="▶ Train").is_enabled()  # one race per tab
    # the live charts are redrawn in place: the same plot node keeps receiving new data (no remount)
    loss.evaluate("el => { el.__gruMark = 1; }")
    status = page.locator("h4").filter(has_text="epoch").first
    early = status.inner_text()
    page.wait_for_timeout(2500)
    assert status.inner_text() != early, "the live view did not update by itself"
    assert loss.evaluate("el => el.__gruMark === 1 && el.data.length > 0"), "the loss chart was remounted"
    _shot(page, "02-mid-training.png")
    page.get_by_text("Finished: epoch").wait_for(timeout=300_000)
    page.get_by_text("Results on the test part").wait_for(timeout=60_000)
    page.wait_for_timeout(2500)
    _no_exception(page)
    assert loss.get_by_text("Adam · validation").count() and loss.get_by_text("RMSprop · validation").count()
    assert page.get_by_text("tomorrow = today").count()
    _shot(page, "03-finished.png", tall=True)
    print(f"first curves on screen {first_curves:.1f} s after the click")


def test_diverging_learning_rate_is_marked(server, page):
    _open(page, server + "/?epochs=30&opt=adam&opt=rmsprop:lr=1.0")
    page.get_by_role("button", name="▶ Train").click()
    page.locator(".st-key-live-loss").get_by_text("RMSprop diverged").first.wait_for(timeout=60_000)
    page.get_by_text("DIVERGED").first.wait_for(timeout=10_000)
    page.get_by_text("Results on the test part").wait_for(timeout=300_000)
    page.wait_for_timeout(2000)
    _no_exception(page)
    _shot(page, "04-diverged.png", tall=True)


def test_bad_csv_upload_shows_a_message(server, page):
    _open(page, server + "/?data=csv")
    page.locator('[data-testid="stFileUploaderDropzoneInput"], input[type="file"]').first.set_input_files(
        files=[{"name": "prices.csv", "mimeType": "text/csv", "buffer": b"\x89PNG\r\n\x1a\n\x00\x00binary"}]
    )
    page.get_by_text("prices.csv looks like a PNG image").first.wait_for(timeout=30_000)
    _no_exception(page)
    assert not page.get_by_role("button", name="▶ Train").is_enabled()
    _shot(page, "05-bad-upload.png")


def test_hostile_link_falls_back_to_defaults(server, page):
    _open(page, server + "/?lookback=abc&hidden=99999&opt=evil&data=%3Cscript%3E&junk=" + "x" * 5000)
    page.get_by_text("Some settings in the link were ignored").wait_for(timeout=30_000)
    _no_exception(page)
    assert page.get_by_role("button", name="▶ Train").is_enabled()
    assert "lookback=20" in page.url and "hidden_size=32" in page.url and "junk" not in page.url
    _shot(page, "10-hostile-link.png")


def test_stop_keeps_everything_on_screen(server, page):
    _open(page, server + "/?epochs=2000&hidden_size=8")
    page.get_by_role("button", name="▶ Train").click()
    loss = page.locator(".st-key-live-loss .gru-live-plot")
    loss.get_by_text("Adam · train").first.wait_for(timeout=60_000)
    page.get_by_role("button", name="■ Stop").click()
    page.get_by_text("Stopped: epoch").wait_for(timeout=60_000)
    page.get_by_text("Results on the test part").wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    _no_exception(page)
    assert page.locator(".st-key-live-loss").get_by_text("RMSprop · validation").count()
    assert page.get_by_role("button", name="▶ Train").is_enabled()
    assert not page.get_by_role("button", name="■ Stop").is_enabled()
    _shot(page, "11-stopped.png")


def _points(loss) -> list[int]:
    """Points per trace of the live loss chart, as plotly.js holds them (``_fullData``: decoded arrays)."""
    return loss.evaluate("el => (el._fullData || []).map(t => (t.x || []).length)")


def _wait_points(page, more_than: int, timeout: int = 60_000) -> None:
    page.wait_for_function(
        "n => { const el = document.querySelector('.st-key-live-loss .gru-live-plot');"
        " return el && el._fullData && el._fullData.length && el._fullData[0].x.length > n; }",
        arg=more_than,
        timeout=timeout,
    )


def test_pause_freezes_the_curves_and_a_learning_rate_change_is_marked(server, page):
    _open(page, server + "/?epochs=2000&hidden_size=8")
    page.get_by_role("button", name="▶ Train").click()
    loss = page.locator(".st-key-live-loss .gru-live-plot")
    loss.get_by_text("Adam · train").first.wait_for(timeout=60_000)
    _wait_points(page, 3)
    page.get_by_role("button", name="‖ Pause").click()
    page.get_by_text("Paused at epoch").first.wait_for(timeout=30_000)
    page.wait_for_timeout(1500)
    _no_exception(page)
    paused = _points(loss)
    header = page.locator("h4").filter(has_text="Paused at epoch").first.inner_text()
    page.wait_for_timeout(4500)  # two slow (paused) refreshes later: nothing grew
    assert _points(loss) == paused, "the curves kept growing while paused"
    assert page.locator("h4").filter(has_text="Paused at epoch").first.inner_text() == header
    assert page.get_by_role("button", name="▶ Resume").is_enabled()
    assert not page.get_by_role("button", name="‖ Pause").is_enabled()
    # Adam's learning rate, four notches up the log grid: 0.001 → 0.002 → 0.003 → 0.005 → 0.01
    slider = page.locator('[class*="st-key-live-lr-"]').first.get_by_role("slider")
    for _ in range(4):
        slider.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(1200)
    assert slider.get_attribute("aria-valuetext") == "0.01"
    page.get_by_text("Adam: lr 0.001 → 0.01").first.wait_for(timeout=20_000)
    page.get_by_role("button", name="▷ Step 1 epoch").click()
    page.get_by_text("Paused at epoch").first.wait_for(timeout=30_000)
    page.wait_for_timeout(3000)  # the chart shows the change where it was applied and the pause
    loss.get_by_text("Adam: lr 0.001 → 0.01").first.wait_for(timeout=20_000)  # the ⚙ label on the chart
    loss.get_by_text("paused here").first.wait_for(timeout=20_000)
    _no_exception(page)
    stepped = _points(loss)
    assert stepped[0] == paused[0] + 1, (paused, stepped)  # one more epoch, then paused again
    page.locator("h1").first.scroll_into_view_if_needed()
    _shot(page, "12-paused-lr-change.png", tall=True)
    # save Adam's model while paused: the file is a model load_model accepts, at this very step
    with page.expect_download(timeout=60_000) as dl:
        page.get_by_role("button", name="Download Adam model (.npz)").click()
    from gru_core.model.files import load_model

    ck = load_model(Path(dl.value.path()).read_bytes())
    assert ck.info.label == "Adam" and ck.info.status == "paused"
    assert ck.info.interventions[0]["new"] == 0.01 and ck.model.config.hidden_size == 8
    page.get_by_role("button", name="▶ Resume").click()
    _wait_points(page, stepped[0] + 1)  # growing again
    assert page.get_by_role("button", name="‖ Pause").is_enabled()
    page.get_by_role("button", name="■ Stop").click()
    page.get_by_text("Stopped: epoch").wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    _no_exception(page)
    page.get_by_text("Adam: lr 0.001 → 0.01").first.wait_for(timeout=10_000)
    assert "iv=Adam" in page.url  # the link now replays the change
    # for the projector: explanations off, presentation mode on
    assert page.get_by_text("Solid: training loss").count()
    page.get_by_text("Show explanations", exact=True).click()
    page.get_by_text("Presentation mode", exact=True).click()
    page.wait_for_timeout(2500)
    _no_exception(page)
    assert page.get_by_text("Solid: training loss").count() == 0
    assert loss.evaluate("el => el._fullLayout.font.size") > 15
    page.locator("h1").first.scroll_into_view_if_needed()
    _shot(page, "13-presentation-mode.png", tall=True)
