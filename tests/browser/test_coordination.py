"""The Coordination tab in headless Chromium: on the lever game, two runs stream in and the
selected fingerprint's solution opens in the Critical Points tab."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .widgets import choose, set_value

LOAD_TIMEOUT_MS = 180_000
RUN_TIMEOUT_MS = 240_000


def test_coordination_runs_on_the_lever_game_and_hands_the_selected_solution_over(
    served_app, page, assert_no_console_errors
):
    page.goto(served_app.url)
    page.wait_for_selector("canvas", timeout=LOAD_TIMEOUT_MS)
    page.get_by_text("Coordination", exact=True).first.click()
    expect(page.get_by_text(re.compile(r"needs a two-player coordination game"))).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    choose(page, "Problem", "lever-game")
    expect(page.get_by_role("button", name="Run")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    for label, value in (("Runs", "2"), ("First ridges", "2")):
        set_value(page, label, value)
    page.get_by_role("button", name="Run").click()
    status = page.locator("pre", has_text=re.compile(r"/|Done|Cancel|Error|Starting|Compiling|Queued"))
    expect(status).to_have_text("Done", timeout=RUN_TIMEOUT_MS)
    assert page.locator("canvas").count() >= 2  # payoff bars and greedy actions
    assert_no_console_errors(page)
    page.get_by_role("button", name="Analyse the selected solution").click()
    # the Critical Points tab opens on that point and runs Newton-MR from it
    expect(page.get_by_text(re.compile(r"^1 runs of Newton-MR"))).to_be_visible(timeout=RUN_TIMEOUT_MS)
    assert_no_console_errors(page)
