"""The Critical Points view in headless Chromium: it renders on frye-quartic and a short run streams."""

from __future__ import annotations

import os
import re

from playwright.sync_api import expect

from .test_teleport import assert_data_in_view

from .widgets import field, set_value

LOAD_TIMEOUT_MS = 180_000
RUN_TIMEOUT_MS = 240_000


def test_critical_points_view_renders_and_a_short_run_streams(served_app, page, assert_no_console_errors, tmp_path):
    page.goto(served_app.url)
    page.wait_for_selector("canvas", timeout=LOAD_TIMEOUT_MS)
    field(page, "Problem", "select").select_option("frye-quartic")
    page.get_by_text("Critical Points", exact=True).first.click()
    expect(page.get_by_role("button", name="Run")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    # surface with the residual map, the two trace plots, the loss-index scatter, two spectra
    # (Bokeh draws in shadow roots, which Playwright's locators pierce)
    expect(page.locator("canvas").nth(5)).to_be_attached(timeout=LOAD_TIMEOUT_MS)
    assert_no_console_errors(page)

    set_value(page, "Runs", "6")
    set_value(page, "Iterations", "80")
    page.get_by_role("button", name="Run").click()
    status = page.locator("pre", has_text=re.compile(r"/|Done|Cancel|Error|Starting"))
    expect(status).to_have_text(re.compile(r"^(\d+ / 81( · ETA .*)?|Done)$"), timeout=RUN_TIMEOUT_MS)  # chunks stream in
    expect(status).to_have_text("Done", timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_text(re.compile(r"^6 runs of Newton-MR \(Alg\. 13\):"))).to_be_visible()
    options = field(page, "Run", "select").locator("option").all_inner_texts()
    assert options[0] == "(choose a run)"
    assert len(options) == 7 and all(re.match(r"run \d+: (critical|gradient-flat|neither)", o) for o in options[1:])
    page.screenshot(path=str(os.environ.get("LANDSCAPE_SCREENSHOT", tmp_path / "critical_points.png")),
                    full_page=True)
    assert_no_console_errors(page)
    assert_data_in_view(page)  # the ‖∇L‖² and r traces and the loss-against-index scatter follow the runs
