"""No text from a user or a problem runs as script in any tab (issue 14, item 1).

A problem whose name and description carry ``<img onerror=...>``, ``<script>``
and a ``javascript:`` link is picked, every tab is opened, and a custom surface
with a hostile comment is typed (the parser refuses it: its message must show
as text).  Nothing may ever assign ``window.__xss`` (every assignment is
recorded, however late it happens), and the hostile description must be on
the page as literal text.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from ..serving import listening, panel_serve
from .conftest import ServedApp, _free_port
from .hostile_app import NAME

LOAD_TIMEOUT_MS = 240_000
TABS = ("Landscape", "Critical Points", "Ridge Rider", "Coordination", "Teleport", "Games")
TAB_SETTLE_MS = 2_000


@pytest.fixture(scope="module")
def hostile_app(browser, tmp_path_factory):
    port = _free_port()
    app = ServedApp(f"http://127.0.0.1:{port}/hostile_app", None, tmp_path_factory.mktemp("hostile") / "panel.log")
    args = ["tests/browser/hostile_app.py", "--port", str(port), "--address", "127.0.0.1",
            "--allow-websocket-origin", f"127.0.0.1:{port}"]  # fmt: skip
    with panel_serve(args, app.log_path, lambda: listening(port)) as process:
        app.process = process
        yield app


# Every assignment to window.__xss is recorded, whenever it happens (an onerror may fire long after
# the probe that would have looked); reading window.__xss still gives undefined.
RECORDER = """Object.defineProperty(window, '__xss', {configurable: true, get() { return undefined; },
  set(value) { (window.__xss_log = window.__xss_log || []).push(String(value)); }});"""


def _ran(page, wait_ms: int = 1000) -> list[str]:
    """What has assigned ``window.__xss`` so far, after ``wait_ms`` (a view renders its texts after
    its tab opens, while the server is busy; an ``<img src=data:,x>`` then fires at once)."""
    page.wait_for_timeout(wait_ms)
    return page.evaluate("() => window.__xss_log || []")


def test_hostile_texts_never_run_as_script(hostile_app, page):
    page.add_init_script(RECORDER)
    page.goto(hostile_app.url, timeout=LOAD_TIMEOUT_MS)
    page.wait_for_selector("canvas", timeout=LOAD_TIMEOUT_MS)
    page.locator(".bk-input-group:has(label:text-is('Problem')) select").select_option(NAME)
    ran_by = {}  # step -> what had run by the end of it (cumulative)
    for tab in TABS:
        page.get_by_text(tab, exact=True).first.click()
        expect(page.get_by_text(f"Opening {tab}…")).to_have_count(0, timeout=LOAD_TIMEOUT_MS)
        # the tab's view has rendered the hostile description (only the active tab is in the page)
        expect(page.get_by_text(re.compile(r"A quadratic bowl x\*\*2")).first).to_be_visible(timeout=LOAD_TIMEOUT_MS)
        ran_by[tab] = _ran(page, TAB_SETTLE_MS)
    page.get_by_text("Landscape", exact=True).first.click()
    expect(page.get_by_text(re.compile(r"<script>window.__xss=\"script\"</script>")).first).to_be_attached(
        timeout=LOAD_TIMEOUT_MS
    )  # shown literally
    expression = page.locator(".bk-input-group:has(label:text-is('Custom surface f(x, y)')) textarea")
    expression.fill("x**2 + y**2 # <img src=data:,x onerror=\"window.__xss='comment'\">")
    page.get_by_role("button", name="Show this surface").click()
    expect(page.get_by_text(re.compile(r"comments \(# \.\.\.\) are not allowed"))).to_be_visible(timeout=60_000)
    ran_by["expression refused"] = _ran(page)
    expression.fill("x**2 + y**2")
    page.get_by_role("button", name="Show this surface").click()
    expect(page.get_by_text(re.compile(r"comments \(# \.\.\.\) are not allowed"))).to_have_count(0, timeout=60_000)
    ran_by["expression accepted"] = _ran(page)
    page.wait_for_timeout(5000)
    ran_by["5 s later"] = _ran(page)
    page.screenshot(path=str(Path(hostile_app.log_path).parent / "xss.png"), full_page=True)
    assert ran_by["5 s later"] == [], f"hostile text ran as script; what had run by the end of each step: {ran_by}"
    assert hostile_app.server_errors() == []
