"""No click is lost (issue 10 item 1): several sessions at once repeat the flows that once went
unanswered (Ridge Rider Find MIS → Run → netCDF export, a Critical Points method/runs change then
Run, the Teleport setting toggle then Run), and every action shows its effect in each session."""

from __future__ import annotations

import re

import xarray as xr
from playwright.sync_api import expect

from landscape.results import config_of

from .test_landscape import LOAD_TIMEOUT_MS, RUN_TIMEOUT_MS, field, open_dashboard

SESSIONS = 3


def done(page):
    return page.locator("pre", has_text=re.compile(r"^(Done|Cancelled at \d+%|Error: .*)$"))


def set_value(page, label, value):
    box = field(page, label)
    box.fill(value)
    box.press("Tab")  # Bokeh commits the typed value on change
    expect(box).to_have_value(value)


def open_tab(page, title, ready_button):
    page.get_by_text(title, exact=True).first.click()
    expect(page.get_by_role("button", name=ready_button)).to_be_visible(timeout=LOAD_TIMEOUT_MS)


def test_every_action_takes_effect_in_several_sessions(served_app, new_page, assert_no_console_errors, tmp_path):
    pages = [new_page() for _ in range(SESSIONS)]
    for page in pages:
        open_dashboard(page, served_app.url)
        expect(page.locator("select").first).to_have_value("rr-demo")

    # Ridge Rider: Find MIS, a small tree, then its data downloads (each step in every session first)
    for page in pages:
        open_tab(page, "Ridge Rider", "Find MIS")
        page.get_by_role("button", name="Find MIS").click()
    for i, page in enumerate(pages):
        expect(page.get_by_text(re.compile(r"^MIS: loss "))).to_be_visible(timeout=RUN_TIMEOUT_MS)
        set_value(page, "Depth", "1")
        set_value(page, "Rides", str(1 + i))  # each session its own setting
        page.get_by_role("button", name="Run").click()
    for i, page in enumerate(pages):
        expect(done(page)).to_have_text("Done", timeout=RUN_TIMEOUT_MS)
        with page.expect_download(timeout=RUN_TIMEOUT_MS) as download:
            page.get_by_role("button", name="netCDF").click()
        assert download.value.suggested_filename == "rr-demo_ridge-rider_data.nc"
        path = tmp_path / f"session{i}.nc"
        download.value.save_as(path)
        with xr.open_dataset(path) as tree:
            config = config_of(tree)["ridge_rider"]
            assert tree.attrs["kind"] == "ridge-rider-tree" and (config["max_depth"], config["max_nodes"]) == (1, 1 + i)
            assert (tree.order.values[1:] >= 0).sum() == 1 + i  # below the root: 1 + i nodes ridden

    # Critical Points: a changed method and run count reach the result (its summary names both)
    for i, page in enumerate(pages):
        open_tab(page, "Critical Points", "Run")
        field(page, "Method", "select").select_option(label="damped Newton (Alg. 11)")
        set_value(page, "Runs", str(2 + i))
        set_value(page, "Iterations", "15")
        page.get_by_role("button", name="Run").click()
    for i, page in enumerate(pages):
        expect(done(page)).to_have_text("Done", timeout=RUN_TIMEOUT_MS)
        summary = re.compile(rf"^{2 + i} runs of damped Newton \(Alg\. 11\):")
        expect(page.get_by_text(summary)).to_be_visible(timeout=RUN_TIMEOUT_MS)

    # Teleport: the setting toggles there and back, then a run on the surface finishes and reports
    for page in pages:
        open_tab(page, "Teleport", "Run")
        page.get_by_role("button", name="MLP (4×4 digits)").click()
        expect(page.get_by_text("Objective", exact=True)).to_be_visible(timeout=RUN_TIMEOUT_MS)
        page.get_by_role("button", name="2-D surface").click()
        expect(page.get_by_text("Objective", exact=True)).to_be_hidden(timeout=RUN_TIMEOUT_MS)
        page.get_by_role("button", name="Run").click()
    for page in pages:
        expect(done(page)).to_have_text("Done", timeout=RUN_TIMEOUT_MS)
        expect(page.get_by_text(re.compile(r"^teleport at epoch 0: "))).to_be_visible()
        assert_no_console_errors(page)
    assert served_app.server_errors() == []
