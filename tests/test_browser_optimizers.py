"""Four of the newer optimizers racing at once in a real browser (issue 16): their sidebar boxes with their
one-line descriptions, their curves on the live chart, the finished race's results.  Shared harness:
``tests/_browser.py``; a screenshot in ``test-artifacts/``.
"""

from __future__ import annotations

import re

from _browser import ARTIFACTS, EXCEPTION, module_fixtures

from gru_core.optim import OPTIMIZERS

FOUR = ("nadam", "radam", "lion", "adafactor")
LOSS = ".st-key-live-loss .gru-live-plot"


server, browser, page = module_fixtures("streamlit-optimizers.log")


def test_four_new_optimizers_race_at_once(server, page):
    names = [OPTIMIZERS[k].name for k in FOUR]
    query = "&".join(f"opt={k}" for k in FOUR) + "&epochs=12&hidden_size=8&seeds=1"
    page.goto(f"{server}/?{query}", wait_until="domcontentloaded")
    page.get_by_role("button", name="▶ Train").wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    title = page.locator("h1").first.inner_text()
    assert all(n in title for n in names), title  # "Optimizer race: NAdam vs RAdam vs Lion vs Adafactor"
    for key in FOUR:  # each box says what its optimizer does
        assert page.get_by_text(OPTIMIZERS[key].description).count(), key
    page.get_by_role("button", name="▶ Train").click()
    page.get_by_text("Finished: epoch").first.wait_for(timeout=180_000)
    page.get_by_text("Results on the test part").first.wait_for(timeout=60_000)
    page.wait_for_timeout(2000)
    assert page.locator(EXCEPTION).count() == 0
    drawn = page.locator(LOSS).first.evaluate("el => el._fullData.map(t => t.name)")
    for n in names:
        assert f"{n} · train" in drawn and f"{n} · validation" in drawn, (n, drawn)
    assert page.get_by_text(re.compile(r"wins with test RMSE|No optimizer produced")).count()
    page.screenshot(path=str(ARTIFACTS / "optimizers-four-new.png"), full_page=True)
