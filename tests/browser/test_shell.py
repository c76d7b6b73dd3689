"""The shell in headless Chromium: settings survive a reload and travel in a link, opening a tab never
stalls other sessions, and a job says what it is doing from the first second."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .test_landscape import LOAD_TIMEOUT_MS, RUN_TIMEOUT_MS, cancel, field, open_dashboard, start_long_run, status

#: Liveness bound for "the other session still answers a click" (generous for a loaded 2-core machine).
ANSWER_TIMEOUT_MS = 20_000


def set_steps(page, value: str) -> None:
    steps = field(page, "Steps")
    steps.fill(value)
    steps.press("Tab")  # Bokeh commits the typed value on change
    expect(steps).to_have_value(value)
    expect(page).to_have_url(re.compile(rf"landscape\.steps={value}\b"), timeout=LOAD_TIMEOUT_MS)


def test_reload_keeps_problem_and_settings(served_app, page, assert_no_console_errors):
    open_dashboard(page, served_app.url)
    page.locator("select").first.select_option("booth")
    expect(page).to_have_url(re.compile(r"problem=booth\b"), timeout=LOAD_TIMEOUT_MS)
    set_steps(page, "57")
    page.reload()
    open_dashboard(page, page.url)
    expect(field(page, "Steps")).to_have_value("57", timeout=LOAD_TIMEOUT_MS)
    expect(page.locator("select").first).to_have_value("booth")
    expect(page.get_by_text("booth (2 parameters).", exact=False).first).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    assert_no_console_errors(page)


def test_a_copied_link_opens_the_same_view_in_a_fresh_context(served_app, new_page, assert_no_console_errors):
    first = new_page()
    open_dashboard(first, served_app.url)
    first.locator("select").first.select_option("rosenbrock")
    expect(first).to_have_url(re.compile(r"problem=rosenbrock\b"), timeout=LOAD_TIMEOUT_MS)
    set_steps(first, "42")
    link = first.url

    second = new_page()  # its own context: no shared cookies or session
    open_dashboard(second, link)
    expect(field(second, "Steps")).to_have_value("42", timeout=LOAD_TIMEOUT_MS)
    expect(second.locator("select").first).to_have_value("rosenbrock")
    assert_no_console_errors(first)
    assert_no_console_errors(second)
    assert served_app.server_errors() == []


def test_a_job_says_compiling_then_shows_progress(served_app, page, assert_no_console_errors):
    open_dashboard(page, served_app.url)
    page.locator("select").first.select_option("six-hump-camel")
    expect(page.get_by_text("six-hump-camel (2 parameters).", exact=False).first).to_be_visible(
        timeout=LOAD_TIMEOUT_MS
    )
    start_long_run(page)  # a fresh problem and step count: the first chunk compiles
    # "Compiling…" is replaced by the cost estimate's "Estimated …; compiling…" within milliseconds
    compiling = r"^(Compiling…|Estimated .+; compiling…|Queued \(\d+ ahead\))$"
    expect(status(page)).to_have_text(re.compile(compiling), timeout=RUN_TIMEOUT_MS)
    expect(status(page)).to_have_text(re.compile(r"^\d+ / 1000000 · ETA \d+ s$"), timeout=RUN_TIMEOUT_MS)
    cancel(page)
    assert_no_console_errors(page)


def test_opening_games_does_not_stall_another_session(served_app, new_page, assert_no_console_errors):
    busy, other = new_page(), new_page()
    open_dashboard(busy, served_app.url)
    open_dashboard(other, served_app.url)
    start_long_run(other)
    expect(status(other)).to_have_text(re.compile(r" / 1000000"), timeout=RUN_TIMEOUT_MS)

    busy.get_by_text("Games", exact=True).first.click()  # its set-up compiles for a long time
    # the placeholder, or the built view when a warm compilation cache made the set-up quick
    opening = busy.get_by_text(re.compile(r"Opening Games: compiling…|is not a game"))
    expect(opening.first).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    # meanwhile the other session answers a click at once: Cancel takes effect
    other.get_by_role("button", name="Cancel").click()
    expect(status(other)).to_have_text(re.compile(r"^Cancelled at \d+%$"), timeout=ANSWER_TIMEOUT_MS)
    expect(other.get_by_role("button", name="Run")).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    # and the Games tab arrives in the end
    expect(busy.get_by_text("Opening Games: compiling…")).to_have_count(0, timeout=LOAD_TIMEOUT_MS)
    assert_no_console_errors(other)


def test_every_tab_works_offline(served_app, page, assert_no_console_errors):
    """Each tab's view is built in the runner's pool and installed into the live page; with every
    off-machine request blocked (the page fixture), none is asked for and no console error appears."""
    open_dashboard(page, served_app.url)
    for title in ("Ridge Rider", "Critical Points", "Games", "Teleport", "Landscape"):
        page.get_by_text(title, exact=True).first.click()
        expect(page.get_by_text(f"Opening {title}: compiling…")).to_have_count(0, timeout=LOAD_TIMEOUT_MS)
    page.wait_for_timeout(1000)  # stylesheets of the last installed view load
    assert_no_console_errors(page)
