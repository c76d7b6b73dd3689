"""The Teleport view in headless Chromium: it renders on a surface and a teleported run streams."""

from __future__ import annotations

import os
import re

from playwright.sync_api import expect

from .widgets import field

LOAD_TIMEOUT_MS = 180_000
RUN_TIMEOUT_MS = 240_000


def test_teleport_view_renders_and_a_teleported_run_streams(served_app, page, assert_no_console_errors, tmp_path):
    page.goto(served_app.url)
    page.wait_for_selector("canvas", timeout=LOAD_TIMEOUT_MS)
    field(page, "Problem", "select").select_option("booth")
    page.get_by_text("Teleport", exact=True).first.click()
    expect(page.get_by_role("button", name="Run")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    expect(page.get_by_text(re.compile(r"Surface: booth"))).to_be_visible()
    expect(page.locator("canvas").nth(1)).to_be_attached(timeout=LOAD_TIMEOUT_MS)  # surface and loss curves
    assert_no_console_errors(page)

    page.get_by_role("button", name="Run").click()
    status = page.locator("pre", has_text=re.compile(r"/|Done|Cancel|Error|Starting"))
    # both runs (2 × 60 steps) stream their progress, then finish
    expect(status).to_have_text(re.compile(r"^(\d+ / 120( · ETA .*)?|Done)$"), timeout=RUN_TIMEOUT_MS)
    expect(status).to_have_text("Done", timeout=RUN_TIMEOUT_MS)
    # Booth's level set through the start: the teleport raises ‖∇L‖² and keeps the loss to round-off
    report = page.get_by_text(re.compile(r"teleport at epoch 0: ‖∇L‖² [\d.e+]+ → [\d.e+]+"))
    expect(report).to_be_visible()
    error = float(re.search(r"batches ([\d.e+-]+)", report.inner_text()).group(1))
    assert error < 1e-12
    page.screenshot(path=str(os.environ.get("LANDSCAPE_SCREENSHOT", tmp_path / "teleport.png")), full_page=True)
    assert_no_console_errors(page)
    assert_data_in_view(page)


# Per glyph renderer of every Bokeh plot on the page: (points with finite x and y, points inside the plot's ranges).
IN_VIEW_JS = """() => {
  const out = [];
  for (const doc of Bokeh.documents) for (const m of doc._all_models.values()) {
    if (!(m.renderers && m.x_range && m.y_range && m.x_range.start !== undefined)) continue;
    const [x0, x1] = [Math.min(m.x_range.start, m.x_range.end), Math.max(m.x_range.start, m.x_range.end)];
    const [y0, y1] = [Math.min(m.y_range.start, m.y_range.end), Math.max(m.y_range.start, m.y_range.end)];
    for (const r of m.renderers) {
      const g = r.glyph, data = r.data_source && r.data_source.data;
      if (!g || !data || !g.x || !g.y || !g.x.field || !g.y.field) continue;
      const xs = data.get ? data.get(g.x.field) : data[g.x.field], ys = data.get ? data.get(g.y.field) : data[g.y.field];
      if (!xs || !ys) continue;
      let finite = 0, inside = 0;
      for (let i = 0; i < xs.length; i++) {
        const x = Number(xs[i]), y = Number(ys[i]);
        if (!isFinite(x) || !isFinite(y)) continue;
        finite += 1;
        if (x >= x0 && x <= x1 && y >= y0 && y <= y1) inside += 1;
      }
      if (finite >= 2) out.push([m.title ? m.title.text : "", finite, inside, [x0, x1, y0, y1]]);
    }
  }
  return out;
}"""


def assert_data_in_view(page):
    """Every plotted line or scatter (two points or more) has most of its points inside its plot's ranges."""
    glyphs = page.evaluate(IN_VIEW_JS)
    assert glyphs, "no plotted data found"
    for title, finite, inside, ranges in glyphs:
        assert inside >= finite / 2, f"{title!r}: {inside} of {finite} points inside the ranges {ranges}"
