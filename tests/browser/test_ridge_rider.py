"""The Ridge Rider tab in headless Chromium: it renders, grows a tree on rr-demo, and
tapping a node updates the linked plots (ride on the surface, spectra)."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from app.components.tree import BORDER, FRAME, MARGIN

from .widgets import set_value

LOAD_TIMEOUT_MS = 180_000
RUN_TIMEOUT_MS = 240_000


def canvases_below(page, top):
    """Boxes of the drawn canvases (an unsized one, between layouts, is skipped) below ``top``."""
    boxes = (c.bounding_box() for c in page.locator("canvas").all())
    return [b for b in boxes if b and b["y"] > top and b["width"] > 0 and b["height"] > 0]


def region(page, boxes):
    """A screenshot of the part of the viewport the boxes cover."""
    size = page.viewport_size
    x0 = max(0, min(b["x"] for b in boxes))
    y0 = max(0, min(b["y"] for b in boxes))
    x1 = min(size["width"], max(b["x"] + b["width"] for b in boxes))
    y1 = min(size["height"], max(b["y"] + b["height"] for b in boxes))
    assert x1 > x0 and y1 > y0, f"the linked plots {boxes} are outside the {size} viewport"
    return page.screenshot(clip={"x": x0, "y": y0, "width": x1 - x0, "height": y1 - y0})


def test_ridge_rider_tab_grows_a_tree_and_a_node_tap_updates_the_linked_plots(
    served_app, page, assert_no_console_errors
):
    page.goto(served_app.url)
    page.wait_for_selector("canvas", timeout=LOAD_TIMEOUT_MS)
    page.get_by_text("Ridge Rider", exact=True).first.click()
    expect(page.get_by_role("button", name="Find MIS")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    # depth 1 with 2 ridges: root and its four rides 0+, 0-, 1+, 1- (layout x = 0..3, y = -1)
    for label, value in (("Depth", "1"), ("Rides", "4")):
        set_value(page, label, value)
    page.get_by_role("button", name="Run").click()
    expect(page.locator("pre", has_text=re.compile(r"^Done$"))).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_text(re.compile(r"Tree: 5 nodes, 4 rides"))).to_be_visible()
    assert_no_console_errors(page)

    tree = page.locator(".solution-tree canvas").first
    expect(tree).to_be_visible()
    box = tree.bounding_box()
    (x0, x1), (y0, y1) = (-MARGIN, 3 + MARGIN), (-1 - MARGIN, MARGIN)

    def pixel(x, y):  # the frame is FRAME pixels, BORDER from the canvas' left and bottom edges
        return (box["x"] + BORDER + (x - x0) / (x1 - x0) * FRAME[0],
                box["y"] + box["height"] - BORDER - (y - y0) / (y1 - y0) * FRAME[1])

    linked = canvases_below(page, box["y"] + box["height"])
    assert len(linked) >= 2  # the spectrum at the branch point and the eigenvalue along the ride
    surface = page.locator("canvas").first
    before_spectra, before_surface = region(page, linked), surface.screenshot()

    page.mouse.click(*pixel(2, -1))  # the node 1+
    expect(page.get_by_text(re.compile(r"Node 3, Ψ = "))).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_text("1+", exact=True).first).to_be_visible()
    deadline = time.monotonic() + RUN_TIMEOUT_MS / 1000
    while region(page, linked) == before_spectra and time.monotonic() < deadline:
        time.sleep(0.5)
    assert region(page, linked) != before_spectra  # the spectra were redrawn
    assert surface.screenshot() != before_surface  # the selected ride is highlighted
    assert_no_console_errors(page)
