"""The served dashboard in headless Chromium: plots render, runs stream and cancel (and land in the run
history's curves and table), sessions are separate."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .widgets import field

LOAD_TIMEOUT_MS = 180_000
RUN_TIMEOUT_MS = 120_000
LONG_RUN = "1000000"  # steps: far more than a test waits for, so only Cancel ends it
PROGRESS = re.compile(r"^[1-9]\d* / 1000000( · ETA .+)?$")


def open_dashboard(page, url):
    page.goto(url)
    page.wait_for_selector("canvas", timeout=LOAD_TIMEOUT_MS)
    expect(page.get_by_role("button", name="Run")).to_be_visible(timeout=LOAD_TIMEOUT_MS)


def status(page):
    return page.locator("pre", has_text=re.compile(r"/|Done|Cancel|Error|Compiling|Queued"))


def start_long_run(page):
    page.get_by_role("button", name="Random starts").click()  # 4 starts: same shapes, no recompile
    steps = field(page, "Steps")
    steps.fill(LONG_RUN)
    steps.press("Tab")  # Bokeh commits the typed value on change
    expect(steps).to_have_value(LONG_RUN)
    page.get_by_role("button", name="Run").click()
    expect(page.get_by_role("button", name="Cancel")).to_be_visible(timeout=RUN_TIMEOUT_MS)


def wait_for_progress(page):
    expect(status(page)).to_have_text(PROGRESS, timeout=RUN_TIMEOUT_MS)


def cancel(page):
    page.get_by_role("button", name="Cancel").click()
    expect(status(page)).to_have_text(re.compile(r"^Cancelled at \d+%$"), timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_role("button", name="Run")).to_be_visible()


def trajectory_options(page):
    return field(page, "Trajectory", "select").locator("option").all_inner_texts()


def test_page_renders_plots_streams_a_run_and_cancels_it(served_app, page, assert_no_console_errors):
    open_dashboard(page, served_app.url)
    expect(page.get_by_text("Landscape", exact=True).first).to_be_visible()  # the tab
    # the surface and the two spectrum plots are Bokeh canvases
    canvases = page.locator(".bk-Canvas canvas, canvas").count()
    assert canvases >= 3
    assert_no_console_errors(page)

    start_long_run(page)
    wait_for_progress(page)
    cancel(page)
    # the partial result was stored: 3 optimizers x 4 starts selectable
    options = trajectory_options(page)
    assert len(options) == 12 and all(" from (" in option for option in options)
    # ... and kept in the run history: the loss and ‖∇L‖ curves (two more canvases) and one table row per run
    table = page.locator("table:has(th:text-is('final loss'))")
    expect(table.locator("tbody tr")).to_have_count(12, timeout=RUN_TIMEOUT_MS)
    assert table.locator("tbody tr").first.locator("td").nth(1).inner_text() == "gd"
    page.wait_for_function(  # shadow roots included: Bokeh renders each plot in its own
        """n => { const count = root => [...root.querySelectorAll('*')].reduce(
                   (k, el) => k + (el.tagName === 'CANVAS') + (el.shadowRoot ? count(el.shadowRoot) : 0), 0);
               return count(document) >= n; }""", arg=canvases + 2, timeout=RUN_TIMEOUT_MS)
    assert_no_console_errors(page)
    assert served_app.server_errors() == []  # nor on the server side


def test_two_sessions_run_at_once_without_seeing_each_other(served_app, new_page, assert_no_console_errors):
    first, second = new_page(), new_page()
    open_dashboard(first, served_app.url)
    open_dashboard(second, served_app.url)

    start_long_run(first)
    wait_for_progress(first)
    # the second session is idle: its button still says Run and it has no progress
    expect(second.get_by_role("button", name="Run")).to_be_visible()
    assert second.get_by_role("button", name="Cancel").count() == 0

    start_long_run(second)
    wait_for_progress(second)
    expect(first.get_by_role("button", name="Cancel")).to_be_visible()  # both run at once

    cancel(first)
    expect(second.get_by_role("button", name="Cancel")).to_be_visible()  # unaffected by the first's cancel
    cancel(second)

    # each session lists only its own runs: 3 optimizers x its own 4 random starts
    mine, theirs = trajectory_options(first), trajectory_options(second)
    assert len(mine) == len(theirs) == 12
    assert not set(mine) & set(theirs)
    assert_no_console_errors(first)
    assert_no_console_errors(second)
    assert served_app.server_errors() == []


#: Every Bokeh plot title in the page (all documents: each Panel root is one).
PLOT_TITLES_JS = """() => { const out = [];
  for (const doc of Bokeh.documents) for (const m of doc._all_models.values())
    if (m.title && m.title.text) out.push(m.title.text);
  return out; }"""


def test_a_new_problem_clears_the_old_problems_spectrum(served_app, page, assert_no_console_errors):
    """Issue 10 item 5: a spectrum clicked on one problem does not stay in view under the next one."""
    open_dashboard(page, served_app.url)
    box = page.locator("canvas").first.bounding_box()  # the surface
    page.mouse.click(box["x"] + 0.4 * box["width"], box["y"] + 0.4 * box["height"])
    page.wait_for_function(f"() => ({PLOT_TITLES_JS})().some(t => t.startsWith('θ = ('))", timeout=RUN_TIMEOUT_MS)
    field(page, "Problem", "select").select_option("himmelblau")
    expect(page.get_by_text(re.compile(r"Showing himmelblau \(")).first).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    page.wait_for_function(f"""() => {{ const titles = ({PLOT_TITLES_JS})();
        return !titles.some(t => t.startsWith('θ = (')) && titles.includes('Click the surface: spectrum there'); }}""",
                           timeout=RUN_TIMEOUT_MS)
    assert_no_console_errors(page)
