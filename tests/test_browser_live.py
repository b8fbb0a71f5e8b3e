"""The live race in a real browser without Streamlit's reruns (issue 13): while a race trains, its heading, its
status columns and its gate heatmaps fetch their own updates from the server (gru_ui.race.live_route), a part
scrolled out of sight waits until it is back, and the page notices the race's end by the chart's stamp alone.

The server here looks at the race by its own timer only every 600 s (``GRU_LAB_ROUTED_INTERVAL``): whatever changes
on the page within a test's minutes came through the live elements.  Shared harness: ``tests/_browser.py``.
"""

from __future__ import annotations

from _browser import EXCEPTION, module_fixtures

server, browser, page = module_fixtures("streamlit-live.log", extra_env={"GRU_LAB_ROUTED_INTERVAL": "600"})

HEAD = "h4.gru-live-head"
STATUS = ".st-key-live-status .gru-live-html"
GATES = ".st-key-live-gates-0 .gru-live-plot"
LOSS = ".st-key-live-loss .gru-live-plot"


def _text(page, selector: str) -> str:
    loc = page.locator(selector).first
    return loc.inner_text() if loc.count() else ""


def _train(page, server: str, query: str) -> None:
    page.goto(f"{server}/?{query}", wait_until="domcontentloaded")
    page.get_by_role("button", name="▶ Train").wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    page.get_by_role("button", name="▶ Train").click()
    page.locator(HEAD).filter(has_text="Training: epoch").first.wait_for(timeout=60_000)


def _changes(page, selector: str, timeout: float = 30) -> None:
    """Wait until the element's text differs from what it shows now."""
    before = _text(page, selector)
    page.wait_for_function(f"t => document.querySelector('{selector}').innerText !== t", arg=before,
                           timeout=timeout * 1000)  # fmt: skip


def _newer(page, selector: str, timeout: float = 30) -> None:
    """Wait until the live element has drawn a newer version than the one it shows now."""
    now = page.locator(selector).first.evaluate("b => b.__gruVersion || 0")
    page.wait_for_function(f"v => (document.querySelector('{selector}').__gruVersion || 0) > v", arg=now,
                           timeout=timeout * 1000)  # fmt: skip


def test_heading_status_and_gates_update_themselves_in_sight(server, page):
    _train(page, server, "epochs=2000&hidden_size=16&seeds=1")  # minutes of training: stopped below
    _changes(page, HEAD)
    page.locator(STATUS).first.scroll_into_view_if_needed()
    status = _text(page, STATUS)
    assert "Adam" in status and "RMSprop" in status and "validation loss" in status, status
    _changes(page, STATUS)
    # the gate heatmaps: first a line of text, then the figure, then newer versions of it
    page.locator(GATES).first.scroll_into_view_if_needed()
    page.wait_for_function(f"() => {{ const b = document.querySelector('{GATES}'); return b && b.__gruVersion >= 1 "
                           "&& b.classList.contains('js-plotly-plot'); }", timeout=30_000)  # fmt: skip
    _newer(page, GATES)
    # the loss chart, out of sight meanwhile, draws nothing; back in sight it catches up at once
    away = page.locator(LOSS).first.evaluate("b => b.__gruVersion")
    page.wait_for_timeout(1500)
    assert page.locator(LOSS).first.evaluate("b => b.__gruVersion") == away
    page.locator(LOSS).first.scroll_into_view_if_needed()
    _newer(page, LOSS, timeout=5)
    assert _text(page, HEAD).startswith("Training: epoch")
    page.get_by_role("button", name="■ Stop").click()
    page.get_by_text("Stopped: epoch").first.wait_for(timeout=60_000)
    assert page.locator(EXCEPTION).count() == 0


def test_the_end_of_a_race_comes_by_the_charts_stamp(server, page):
    """Nothing on a timer would redraw the buttons and the results for 600 s: the chart sees the race's stamp
    change and asks the page to run again."""
    _train(page, server, "epochs=40&hidden_size=16&seeds=1")
    page.get_by_text("Results on the test part").wait_for(timeout=240_000)
    assert _text(page, HEAD).startswith("Finished: epoch 40 / 40")
    assert page.get_by_role("button", name="▶ Train").is_enabled()
    assert page.locator(EXCEPTION).count() == 0
