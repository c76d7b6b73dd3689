"""The Games tab in headless Chromium: it follows a game picked in the sidebar, a click launches a
trajectory on the phase portrait, and the Lyapunov heatmap fills in chunk by chunk (cancelled part-way)."""

from __future__ import annotations

import os
import re

from playwright.sync_api import expect

from .widgets import choose, set_value

LOAD_TIMEOUT_MS = 180_000
RUN_TIMEOUT_MS = 240_000
SHOTS = os.environ.get("LANDSCAPE_SCREENSHOTS")  # a folder: save the screenshots there


def shot(locator, name):
    if SHOTS:
        locator.screenshot(path=os.path.join(SHOTS, name))


def test_games_tab_portrait_trajectory_and_streamed_heatmap(served_app, page, assert_no_console_errors):
    page.goto(served_app.url)
    page.wait_for_selector("canvas", timeout=LOAD_TIMEOUT_MS)
    choose(page, "Problem", "matching-pennies")  # games come from the sidebar's picker
    page.get_by_text("Games", exact=True).first.click()
    expect(page.get_by_role("button", name="Lyapunov map")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    choose(page, "Rule", "simgd")
    info = page.locator(".games-info")
    expect(info).to_contain_text("fixed point (0.000, 0.000)", timeout=RUN_TIMEOUT_MS)
    expect(info).to_contain_text("0+0.25j")  # Ĥ eigenvalues ±i/4 at the origin

    portrait = page.locator(".games-portrait canvas").first
    expect(portrait).to_be_visible()
    before = portrait.screenshot()
    box = portrait.bounding_box()
    page.mouse.click(box["x"] + 0.62 * box["width"], box["y"] + 0.38 * box["height"])
    expect(page.locator("pre", has_text=re.compile(r"^Done$"))).to_be_visible(timeout=RUN_TIMEOUT_MS)
    page.wait_for_timeout(1000)
    assert portrait.screenshot() != before  # the trajectory is drawn
    shot(page.locator(".games-portrait").first, "games_portrait.png")

    # a fine grid in small chunks: cancel part-way and the map is partly filled
    set_value(page, "Resolution", "128")
    set_value(page, "Chunk", "8")
    heat = page.locator(".games-heatmap canvas").first
    empty = heat.screenshot()
    page.get_by_role("button", name="Lyapunov map").click()
    # progress "cells done / 16384" while the map streams: chunks reach the browser one by one
    expect(page.locator("pre", has_text=re.compile(r"^\d+ / 16384( · ETA .*)?$"))).to_be_visible(timeout=RUN_TIMEOUT_MS)
    cancel = page.get_by_role("button", name="Cancel")
    if cancel.is_visible():
        cancel.click()
    done = page.locator("pre", has_text=re.compile(r"^(Cancelled at \d+%|Done)$"))
    expect(done).to_be_visible(timeout=RUN_TIMEOUT_MS)
    page.wait_for_timeout(1000)
    assert heat.screenshot() != empty  # chunks arrived and were drawn
    shot(page.locator(".games-heatmap").first, "games_heatmap_partial.png")

    set_value(page, "Resolution", "40")
    set_value(page, "Chunk", "200")
    page.get_by_role("button", name="Lyapunov map").click()
    expect(page.locator("pre", has_text=re.compile(r"^Done$"))).to_be_visible(timeout=RUN_TIMEOUT_MS)
    page.wait_for_timeout(1000)
    shot(page.locator(".games-heatmap").first, "games_heatmap.png")
    assert_no_console_errors(page)
