"""The race on its own loss surface in a real browser (issue 17): after a short race the section draws the surface
with both paths and the two cuts, its settings travel in the address bar, a link with them opens the same
settings, and on a projector every label stays whole.  Shared harness: ``tests/_browser.py``; screenshots in
``test-artifacts/``.
"""

from __future__ import annotations

import re

from _browser import ARTIFACTS, CUT, EXCEPTION, module_fixtures

SURFACE = ".st-key-chart-surface .js-plotly-plot"
START = ".st-key-chart-surface-start .js-plotly-plot"
ENDS = ".st-key-chart-surface-ends .js-plotly-plot"
TRACES = "el => el._fullData.map(t => [t.type, t.name, (t.x || []).length])"

server, browser, page = module_fixtures("streamlit-surface.log")


def train_short_race(page, server, query: str) -> None:
    page.goto(server + "/?" + query, wait_until="domcontentloaded")
    page.get_by_role("button", name="▶ Train").wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    page.get_by_role("button", name="▶ Train").click()
    page.get_by_text("Finished: epoch").first.wait_for(timeout=180_000)


def test_a_short_race_draws_its_loss_surface_paths_and_cuts(server, page):
    train_short_race(page, server, "seeds=1&epochs=12&hidden_size=8")
    heading = page.get_by_text("Where did they go? The race on the GRU's own loss surface").first
    heading.scroll_into_view_if_needed()
    page.get_by_role("button", name=re.compile("Draw the loss surface")).click()
    page.locator(SURFACE).first.wait_for(timeout=120_000)
    traces = page.locator(SURFACE).first.evaluate(TRACES)
    kinds = {name: (kind, n) for kind, name, n in traces}
    assert kinds["training loss"][0] == "contour"
    assert kinds["Adam"][0] == "scatter" and kinds["Adam"][1] == 13  # epoch 0 … 12 (best epoch: the last or not)
    assert kinds["RMSprop"][1] >= 13 and "start θ0 (shared)" in kinds
    xtitle = page.locator(SURFACE).first.evaluate("el => el.layout.xaxis.title.text")
    assert re.search(r"PC1: [\d.]+ % of the movement", xtitle), xtitle
    for sel in (START, ENDS):
        page.locator(sel).first.wait_for(timeout=30_000)
    ends_title = page.locator(ENDS).first.evaluate("el => el.layout.title.text")
    assert "End point ↔ end point" in ends_title and "barrier" in ends_title, ends_title
    assert page.get_by_role("button", name="Download the grid (CSV)").is_visible()
    assert page.locator(EXCEPTION).count() == 0
    page.screenshot(path=str(ARTIFACTS / "surface-01-drawn.png"), full_page=True)
    # another setting: the button says the picture is of the old settings; the address bar carries the new one
    page.get_by_text("random directions (filter-normalised)").click()
    page.get_by_role("button", name="Draw again with these settings").wait_for(timeout=30_000)
    page.wait_for_function("() => location.search.includes('surf.plane=random')", timeout=30_000)
    page.get_by_role("button", name="Draw again with these settings").click()
    page.wait_for_function(
        f"() => {{ const el = document.querySelector('{SURFACE}');"
        " return el && el.layout.xaxis.title.text.startsWith('random direction 1'); }", timeout=120_000)
    assert page.locator(EXCEPTION).count() == 0


def test_a_link_with_surface_settings_opens_them_and_a_projector_keeps_labels_whole(server, page):
    page.set_viewport_size({"width": 1024, "height": 768})
    train_short_race(page, server, "present=1&seeds=1&epochs=6&hidden_size=8&surf.loss=val&surf.n=15")
    page.get_by_role("button", name=re.compile("Draw the loss surface")).click()
    page.locator(SURFACE).first.wait_for(timeout=120_000)
    colorbar = page.locator(SURFACE).first.evaluate("el => el._fullData[0].colorbar.title.text")
    assert colorbar.startswith("validation loss"), colorbar
    n = page.locator(SURFACE).first.evaluate("el => el._fullData[0].x.length")
    assert n == 15
    assert "surf.loss=val" in page.evaluate("location.search")
    page.wait_for_timeout(1000)
    widgets = page.locator("[data-testid='stMain'] button, [data-testid='stMain'] label")
    cut = widgets.evaluate_all(CUT)
    assert cut == [], f"labels cut at 1024×768 in presentation mode: {cut}"
    assert page.locator(EXCEPTION).count() == 0
    page.screenshot(path=str(ARTIFACTS / "surface-02-presentation-1024.png"), full_page=True)
