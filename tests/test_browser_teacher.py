"""What a teacher does in front of a class, in a real browser (issue 14): the race settings survive a tour of
every page through the navigation, and presentation mode (from the link) keeps every button label whole on a
projector's 1024×768 and 1280×720.  Shared harness: ``tests/_browser.py``; screenshots in ``test-artifacts/``.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urljoin, urlparse

import pytest
from _browser import ARTIFACTS, CUT, EXCEPTION, chromium_browser, streamlit_server

PAGES = ("How a GRU works", "Gate inspector", "Vanishing gradients", "Optimizer lab", "Sweep", "Run history")
@pytest.fixture(scope="module")
def server(tmp_path_factory):
    env = {"GRU_LAB_STORE": str(tmp_path_factory.mktemp("store") / "runs.sqlite")}
    with streamlit_server("streamlit-teacher.log", extra_env=env) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as b:
        yield b


def _open(browser, url: str, width: int, height: int):
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_role("button", name="▶ Train").wait_for(timeout=90_000)
    page.wait_for_timeout(1500)
    return page


def _query(page) -> dict:
    return parse_qs(urlparse(page.url).query)


def test_the_race_settings_survive_a_tour_of_every_page(server, browser):
    link = "/?source=sine&hidden_size=12&epochs=7&lookback=9&opt=sgd:lr%3D0.05&opt=adam:keras:lr%3D0.003"
    page = _open(browser, server + link, 1400, 1000)
    try:
        before, title = _query(page), page.locator("h1").first.inner_text()
        assert before["hidden_size"] == ["12"] and "SGD vs Adam" in title, (before, title)
        for name in PAGES:
            page.get_by_role("link", name=name).first.click()
            page.locator("h1").filter(has_text=name.split()[0]).first.wait_for(timeout=60_000)
            page.wait_for_timeout(1000)
            assert page.locator(EXCEPTION).count() == 0, name
            page.get_by_role("link", name="Optimizer race").first.click()
            page.get_by_role("button", name="▶ Train").wait_for(timeout=60_000)
            page.wait_for_timeout(1500)
            assert page.locator("h1").first.inner_text() == title, name
            assert _query(page) == before, name
    finally:
        page.context.close()


@pytest.mark.parametrize("width,height", [(1024, 768), (1280, 720)])
def test_presentation_mode_from_the_link_keeps_every_button_label_whole(server, browser, width, height):
    page = _open(browser, server + "/?epochs=5&present=1", width, height)
    try:
        assert page.get_by_label("Presentation mode").first.is_checked()  # it travelled with the link
        main = page.locator("[data-testid='stMain'] button, [data-testid='stMain'] [data-testid='stCheckbox']")
        cut = main.evaluate_all(CUT)
        train = page.get_by_role("button", name="▶ Train").bounding_box()
        links = [li.inner_text() for li in page.locator("[data-testid='stTopNavLink']").all() if li.is_visible()]
        folded = page.get_by_text(re.compile(r"^\d+ more$"))
        page.get_by_role("button", name="▶ Train").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / f"teacher-presentation-{width}x{height}.png"))
        assert cut == [], f"labels cut at {width}×{height}: {cut}"
        assert "present" in _query(page)
        assert train["y"] + train["height"] <= height, f"Train is below the first screen ({train})"
        assert len(links) == 7 and not (folded.count() and folded.first.is_visible()), links  # no "3 more"
    finally:
        page.context.close()


def test_presentation_mode_can_hide_the_sidebar(server, browser):
    page = _open(browser, server + "/?epochs=5&present=1", 1280, 720)
    try:
        right = "() => document.querySelector('[data-testid=stSidebar]').getBoundingClientRect().right"
        assert page.evaluate(right) > 200  # open
        page.get_by_role("button", name="⇤ Hide this sidebar").click()
        page.wait_for_function(f"({right})() <= 1", timeout=15_000)  # off the screen
        page.wait_for_timeout(1000)
        assert page.locator(EXCEPTION).count() == 0
        assert page.get_by_role("button", name="▶ Train").is_visible()
        page.screenshot(path=str(ARTIFACTS / "teacher-presentation-no-sidebar.png"))
    finally:
        page.context.close()


def test_the_divergence_scenario_halts_before_its_jump_and_the_race_is_kept_and_its_link_replays_it(server, browser):
    page = _open(browser, server + "/", 1400, 1000)
    try:
        page.get_by_role("button", name="Load").nth(1).click()  # the second scenario: learning rate too high
        page.get_by_text("Learning rate too high: watch RMSprop diverge").nth(1).wait_for(timeout=30_000)
        page.wait_for_timeout(1500)
        page.get_by_role("button", name="▶ Train").click()
        page.get_by_text("Halted by the scenario at step 250").wait_for(timeout=90_000)
        assert "Paused at epoch 10" in page.locator("h4").filter(has_text="Paused").first.inner_text()
        assert page.locator(EXCEPTION).count() == 0
        page.get_by_role("button", name="▶ Resume").click()
        page.get_by_text("Finished: epoch").first.wait_for(timeout=120_000)
        page.get_by_text("DIVERGED").first.wait_for(timeout=30_000)  # RMSprop, after the jump it was halted before
        page.get_by_text("Kept in Run history as runs").wait_for(timeout=30_000)
        assert page.locator(EXCEPTION).count() == 0
        verdict = page.get_by_text(re.compile(r"wins with test RMSE")).first.inner_text()
        diverged = page.get_by_text(re.compile(r"DIVERGED at step \d+")).first.inner_text()
        # Run history lists it with its link; the link reproduces it (the recorded jump replayed, no halt)
        page.get_by_role("link", name="Run history").first.click()
        page.get_by_text("Races kept from the Optimizer race page").wait_for(timeout=60_000)
        item = page.locator("li").filter(has_text="Adam vs RMSprop").first
        assert "RMSprop diverged" in item.inner_text(), item.inner_text()
        href = item.get_by_role("link", name="open its link").get_attribute("href")
        page.screenshot(path=str(ARTIFACTS / "teacher-run-history-race.png"))
        page.goto(urljoin(page.url, href), wait_until="domcontentloaded")
        page.get_by_role("button", name="▶ Train").wait_for(timeout=90_000)
        page.wait_for_timeout(1500)
        page.get_by_role("button", name="▶ Train").click()
        page.get_by_text("Finished: epoch").first.wait_for(timeout=120_000)
        assert page.get_by_text(re.compile(r"wins with test RMSE")).first.inner_text() == verdict
        assert page.get_by_text(re.compile(r"DIVERGED at step \d+")).first.inner_text() == diverged
        assert page.locator(EXCEPTION).count() == 0
    finally:
        page.context.close()
