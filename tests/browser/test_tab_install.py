"""A tab built in the runner's pool always reaches the browser (issue 10 item 1: no lost update).

Served on a user's Equinox model, three sessions opened at once each build their Landscape view
in the pool while their pages load; every page must leave "Opening Landscape: compiling…" and show
the view (its Run button), never stay on the placeholder.
"""

from __future__ import annotations

from playwright.sync_api import expect

from .test_own_model import LOAD_TIMEOUT_MS, equinox_app  # noqa: F401  (the served Equinox app, a fixture)

SESSIONS = 3


def test_the_landscape_tab_appears_in_every_session_opened_at_once(equinox_app, new_page):
    pages = [new_page() for _ in range(SESSIONS)]
    for page in pages:  # all requested before any has loaded: their builds overlap their page loads
        page.goto(equinox_app.url, wait_until="commit")
    for index, page in enumerate(pages):
        expect(page.locator("select").first, f"session {index}").to_have_value("my-equinox-cnn", timeout=LOAD_TIMEOUT_MS)
        expect(page.get_by_role("button", name="Run"), f"session {index}").to_be_visible(timeout=LOAD_TIMEOUT_MS)
        expect(page.get_by_text("Opening Landscape: compiling…")).to_have_count(0)
    assert equinox_app.server_errors() == []
