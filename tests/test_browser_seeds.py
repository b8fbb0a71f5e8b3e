"""A race over three seeds in a real browser (issue 15): the bands of the loss chart grow while it trains, the
verdict names the number of seeds, and the seed picker changes what the sections below show.  Shared harness:
``tests/_browser.py``; screenshots in ``test-artifacts/``.
"""

from __future__ import annotations

import re

from _browser import ARTIFACTS, CUT, EXCEPTION, module_fixtures

LOSS = ".st-key-live-loss .gru-live-plot"
# epochs covered by the Adam training band as plotly.js holds it (decoded arrays in _fullData)
BAND = (f"() => {{ const el = document.querySelector('{LOSS}'); if (!el || !el._fullData) return 0;"
        " const t = el._fullData.find(t => /^Adam · train: min–max over seeds$/.test(t.name || ''));"
        " return t && t.x ? t.x.length : 0; }")  # fmt: skip


server, browser, page = module_fixtures("streamlit-seeds.log")


def test_three_seeds_show_growing_bands_and_a_verdict_over_the_seeds(server, page):
    page.goto(server + "/?seeds=3&epochs=60&hidden_size=16", wait_until="domcontentloaded")
    page.get_by_role("button", name="▶ Train").wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    page.get_by_role("button", name="▶ Train").click()
    page.wait_for_function(f"({BAND})() >= 2", timeout=60_000)
    early = page.evaluate(BAND)
    page.wait_for_function(f"({BAND})() > {early}", timeout=60_000)  # the band grows while the seeds train
    title = page.locator(LOSS).first.evaluate("el => el.layout.title.text")
    assert "median of 3 seeds" in title and "min–max over seeds" in title, title
    heading = page.locator("h4").filter(has_text="3 seeds").first.inner_text()
    assert re.search(r"epoch \d+(–\d+)? / 60 · 3 seeds", heading), heading
    page.screenshot(path=str(ARTIFACTS / "seeds-01-live-bands.png"), full_page=True)
    page.get_by_text("Finished: epoch").first.wait_for(timeout=180_000)
    verdict = page.get_by_text(re.compile(r"^Over 3 seeds")).first
    verdict.wait_for(timeout=60_000)
    text = verdict.inner_text()
    assert "Tomorrow = today" in text and "interval" in text, text
    assert page.locator(EXCEPTION).count() == 0
    # the seed picker: the sections below show another seed, and say so
    assert page.get_by_text(re.compile(r"Forecasts on the test part \(seed 0, 1 of 3")).count()
    box = page.get_by_role("combobox", name="seed shown below")
    box.click()
    page.keyboard.type("seed 2")
    page.keyboard.press("Enter")
    page.get_by_text(re.compile(r"Forecasts on the test part \(seed 2, 3 of 3")).first.wait_for(timeout=30_000)
    assert page.locator(EXCEPTION).count() == 0
    page.screenshot(path=str(ARTIFACTS / "seeds-02-finished.png"), full_page=True)


def test_a_race_over_seeds_on_a_projector_keeps_every_label_whole(server, page):
    page.set_viewport_size({"width": 1024, "height": 768})
    page.goto(server + "/?present=1&seeds=3&epochs=8&hidden_size=8", wait_until="domcontentloaded")
    page.get_by_role("button", name="▶ Train").wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    page.get_by_role("button", name="▶ Train").click()
    page.get_by_text("Finished: epoch").first.wait_for(timeout=180_000)
    page.get_by_text(re.compile(r"^Over 3 seeds")).first.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    assert page.locator(EXCEPTION).count() == 0
    widgets = page.locator("[data-testid='stMain'] button, [data-testid='stMain'] label")
    cut = widgets.evaluate_all(CUT)
    assert cut == [], f"labels cut at 1024×768 in presentation mode: {cut}"
    assert page.get_by_role("combobox", name="seed shown below").is_visible()
    # the loss chart's legend sits below its axis title, not on it
    boxes = page.locator(LOSS).first.evaluate(
        "el => [el.querySelector('.xtitle').getBoundingClientRect().bottom,"
        " Math.min(...[...el.querySelectorAll('.legend .legendtext')].map(t => t.getBoundingClientRect().top))]")
    assert boxes[1] >= boxes[0] - 1, boxes
    page.screenshot(path=str(ARTIFACTS / "seeds-03-presentation-1024.png"), full_page=True)
