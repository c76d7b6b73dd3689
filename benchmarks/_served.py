"""Shared helpers of the browser benchmarks: serve the dashboard on loopback, drive it with headless Chromium,
and time what the page shows (in the page itself, so a status shown for a fraction of a second is caught)."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.browser import widgets
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, _answers, _free_port
from tests.serving import ROOT, panel_serve

LOAD_TIMEOUT_MS = 300_000  # a page state on a loaded 2-core machine
#: A job's first visible feedback: the runner's status line (its cost estimate included: "Estimated 961 loss
#: evaluations × …; compiling…" replaces "Compiling…" within milliseconds) or a view's set-up notice.
FEEDBACK = r"^(Compiling|Queued|Estimated|Starting|Timing|Computing|Evaluating|Sampling|Interpolating|\d+ / \d+)"
#: A job's first partial result: its progress line (a chunk arrived and was drawn) or its end.
PARTIAL = r"^(\d+ / \d+|Done$|Cancelled at)"

# Polls the page every 50 ms (shadow roots included) and records, per pattern, when a visible status line
# (<pre>) or notice (.alert) first matched it after the previous pattern did; ``titles`` also records when
# the set of Bokeh plot titles containing that text first changed.
WATCH_JS = """([patterns, titles]) => {
  const t0 = performance.now(), seen = [], rx = patterns.map(p => new RegExp(p));
  const shown = el => (el.shadowRoot  // a pane's text is in its shadow root, after its stylesheets
    ? [...el.shadowRoot.children].filter(c => !['STYLE', 'LINK'].includes(c.tagName)).map(c => c.innerText).join(' ')
    : el.innerText).trim();
  const texts = () => { const out = [];
    const walk = root => { for (const el of root.querySelectorAll('*')) {
      if ((el.tagName === 'PRE' || el.classList.contains('alert')) && el.checkVisibility())
        out.push(shown(el));
      if (el.shadowRoot) walk(el.shadowRoot); } };
    walk(document); return out; };
  const plotTitles = () => { const out = [];
    for (const doc of Bokeh.documents) for (const m of doc._all_models.values())
      if (m.title && m.title.text && m.title.text.includes(titles)) out.push(m.title.text);
    return out.sort().join('|'); };
  const before = titles ? plotTitles() : null;
  window.__seen = seen; window.__titleAt = null;
  const tick = () => { const now = performance.now() - t0, visible = texts();
    if (seen.length < rx.length && visible.some(t => rx[seen.length].test(t))) seen.push(now);
    if (titles && window.__titleAt === null && plotTitles() !== before) window.__titleAt = now; };
  window.__watch = setInterval(tick, 50);
}"""


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


@contextlib.contextmanager
def served(cache: str | None, root: Path = ROOT, extra_env: dict | None = None) -> Iterator[str]:
    """``panel serve app/main.py`` of ``root`` on a free loopback port; JAX's compilation cache in ``cache``
    (``None``: off); yields the app's URL.  Prints the server start time."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/main"
    args = ["app/main.py", "--port", str(port), "--address", "127.0.0.1", "--allow-websocket-origin",
            f"127.0.0.1:{port}"]  # fmt: skip
    env = {"LANDSCAPE_JAX_CACHE": cache or "off", "LANDSCAPE_MAX_STEPS": "1000000", **(extra_env or {})}
    log = Path(tempfile.mkdtemp(prefix="landscape-bench-")) / "panel.log"
    start = time.monotonic()
    with panel_serve(args, log, lambda: _answers(url), 600, env=env, root=root):
        print(f"  server ready in {time.monotonic() - start:.1f} s ({load_average()}), log {log}", flush=True)
        yield url


@contextlib.contextmanager
def chromium() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser, url: str, problem: str | None = None, width: int = 1400, height: int = 1000):
    """A new context (= a new dashboard session) on ``problem``; returns the page once the sidebar shows it."""
    from playwright.sync_api import expect

    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.goto(url + (f"?problem={problem}" if problem else ""), timeout=LOAD_TIMEOUT_MS)
    if problem:
        expect(page.get_by_text(re.compile(rf"Showing {re.escape(problem)} \(")).first).to_be_visible(
            timeout=LOAD_TIMEOUT_MS)
    return page


def run_enabled(page) -> None:
    """Wait until the visible tab's Run button is enabled (its set-up done)."""
    from playwright.sync_api import expect

    expect(page.get_by_role("button", name="Run")).to_be_enabled(timeout=LOAD_TIMEOUT_MS)


def open_tab(page, title: str, ready) -> float:
    """Click the tab ``title``; seconds until ``ready`` (a locator) is visible."""
    from playwright.sync_api import expect

    start = time.monotonic()
    page.locator(".bk-tab", has_text=title).first.click()
    expect(ready).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    return time.monotonic() - start


field = functools.partial(widgets.field, visible=True)  # the visible tab's input
set_value = functools.partial(widgets.set_value, visible=True)


def status(page):
    """The visible tab's job status line."""
    return page.locator("pre:visible", has_text=re.compile(r"/|Done|Cancel|Error|Compiling|Queued")).first


def idle(page, timeout_ms: float = LOAD_TIMEOUT_MS) -> None:
    """Wait until no job or set-up work of the visible tab is running (its Run-side button is not Cancel)."""
    page.wait_for_function(
        """() => { let busy = false;
          const walk = root => { for (const el of root.querySelectorAll('*')) {
            if (el.checkVisibility && el.checkVisibility() && ((el.tagName === 'BUTTON' && el.innerText.trim() === 'Cancel')
                || (el.classList.contains('alert-info') && /…$/.test((el.shadowRoot || el).textContent.trim())))) busy = true;
            if (el.shadowRoot) walk(el.shadowRoot); } };
          walk(document); return !busy; }""", timeout=timeout_ms)  # fmt: skip


def timed(page, action, patterns=(FEEDBACK, PARTIAL), titles: str = "", timeout_s: float = 300) -> list[float | None]:
    """Run ``action()`` (a click) and return the seconds until each of ``patterns`` was first shown, in order
    (``None``: not within ``timeout_s``); with ``titles``, one more figure: when a Bokeh plot title containing
    it changed."""
    page.evaluate(WATCH_JS, [list(patterns), titles])
    action()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        seen, title_at = page.evaluate("[window.__seen, window.__titleAt]")
        if len(seen) == len(patterns) and (not titles or title_at is not None):
            break
        time.sleep(0.2)
    page.evaluate("clearInterval(window.__watch)")
    figures = [seen[i] / 1000 if i < len(seen) else None for i in range(len(patterns))]
    return figures + ([title_at / 1000 if title_at is not None else None] if titles else [])
