"""Many researchers at once: concurrent browser sessions in waves, server memory after each wave.

Starts ``panel serve app/main.py`` on a loopback port (sessions are dropped
15 s after their tab closes, Bokeh's default) and drives it with headless Chromium.
After a warm-up wave (every kernel the waves use compiled once) it measures
the server's resident memory (the baseline), then runs ``waves`` waves of
``sessions`` sessions, each on a different 2-D problem opened from the URL:
random starts, a short Landscape run to "Done" (the first session a long
run, cancelled once it shows progress), open the Critical Points tab, check
the page still shows its own problem (no cross-talk), close.  While the
wave's jobs run, one more session's page is loaded and timed.  Every awaited
page state (Run enabled, a status line, the tab's view built) has a bounded
timeout; one not reached is recorded as a failure and the wave goes on.
After each wave it waits for the sessions to be destroyed (``--settle`` seconds after
the wave's last tab closed; the issue asks for 60) and prints the server's RSS against
the baseline, then a census of the session objects still alive in the server
(:mod:`benchmarks._census`: Documents, AppStates, views; as left by the server's
own garbage collection, and after a full collection).

Issue 14 item 8: RSS within 20% of the baseline after every wave (no growth
across waves), the extra page loads during the load, no traceback in the
server log.  ``tests/load/test_sessions.py`` runs the reduced form (4
sessions, 2 waves) and asserts those; this script is the full form::

    python3 -m benchmarks.bench_load                 # 10 sessions, 3 waves
    python3 -m benchmarks.bench_load --sessions 4 --waves 2 --settle 60
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import os
import re
import signal
import tempfile
import time
from pathlib import Path

import psutil

from tests.browser.conftest import _answers, _free_port  # the browser tests' own helpers
from tests.serving import panel_serve

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
PROBLEMS = ("himmelblau", "booth", "rosenbrock", "six-hump-camel", "rastrigin", "ellipse", "monkey-saddle",
            "frye-quartic", "rr-demo", "himmelblau")
STATE_TIMEOUT_MS = 120_000  # bound on each awaited page state (a loaded 2-core machine)
EXTRA_TIMEOUT_MS = 60_000  # the extra session's page during the load
SHORT_STEPS, LONG_STEPS = 200, 1_000_000  # every session's job; the one that is cancelled (served with this limit)
# Bokeh's default: a session whose websocket has not connected (or has closed) for this long is
# destroyed, and its document's module globals cleared.  Much shorter (1 s) destroyed sessions of
# a loaded server before their page connected: their tab-building tasks then failed (NameError).
UNUSED_SESSION_MS = 15_000
SETTLE_S = 20.0  # after the last tab of a wave closed: sessions destroyed after 15 s, checked every 1 s
CENSUS = re.compile(r"CENSUS live (\{.*?\}) after-collect (\{.*?\})")
STATUS = re.compile(r"/|Done|Cancel|Error|Compiling|Queued")


@dataclasses.dataclass
class Figures:
    baseline_mb: float = 0.0
    after_wave_mb: list[float] = dataclasses.field(default_factory=list)
    page_load_s: list[float] = dataclasses.field(default_factory=list)
    extra_load_s: list[float] = dataclasses.field(default_factory=list)
    #: The extra session: seconds until its page showed (the sidebar names its problem), before its view is built.
    extra_shown_s: list[float] = dataclasses.field(default_factory=list)
    #: The extra session's navigation timing (seconds from the request): the server's first byte and
    #: last byte of the page, the browser's DOMContentLoaded and load events, the slowest script, when
    #: the websocket opened and when the document's frame arrived over it.
    extra_navigation: list[dict[str, float]] = dataclasses.field(default_factory=list)
    cross_talk: list[str] = dataclasses.field(default_factory=list)
    failures: list[str] = dataclasses.field(default_factory=list)  # a page state not reached in time
    tracebacks: list[str] = dataclasses.field(default_factory=list)
    #: After each wave (and the warm-up): the server's live session objects, as left and after a full collection.
    census: list[tuple[dict, dict]] = dataclasses.field(default_factory=list)


def tracebacks(log: str) -> list[str]:
    """Tracebacks in the server log, except a client that went away mid-write."""
    found = log.split("Traceback (most recent call last):")[1:]
    found = [re.split(r"(?m)^\d{4}-\d{2}-\d{2} ", text)[0] for text in found]
    return [text for text in found if not re.search(r"WebSocketClosedError|StreamClosedError", text)]


def _rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


def _census(pid: int, log_path: Path, timeout: float = 30.0) -> tuple[dict, dict]:
    """Ask the server for a census of its live session objects (:mod:`benchmarks._census`) and read it."""
    before = len(CENSUS.findall(log_path.read_text(errors="replace")))
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = CENSUS.findall(log_path.read_text(errors="replace"))
        if len(found) > before:
            live, collected = found[-1]
            return ast.literal_eval(live), ast.literal_eval(collected)
        time.sleep(0.5)
    return {}, {}


def _status(page):
    """The visible tab's job status line."""
    return page.locator("pre:visible", has_text=STATUS).first


def _run_button(page):
    return page.locator("button:visible", has_text=re.compile(r"^\s*Run\s*$")).first


def _ready(page, problem: str, timeout_ms: float = STATE_TIMEOUT_MS) -> None:
    """The Landscape view is built for ``problem`` and its Run button is enabled."""
    from playwright.sync_api import expect

    expect(_run_button(page)).to_be_enabled(timeout=timeout_ms)
    expect(page.get_by_text(f"{problem} (2 parameters).", exact=False).first).to_be_visible(timeout=timeout_ms)


def _shown(page, problem: str, timeout_ms: float) -> None:
    """The page is up: the sidebar names ``problem`` (the session's document arrived; its view may still be built)."""
    from playwright.sync_api import expect

    expect(page.get_by_text(re.compile(rf"Showing {re.escape(problem)} \(")).first).to_be_visible(timeout=timeout_ms)


NAVIGATION_JS = """() => {
  const n = performance.getEntriesByType("navigation")[0];
  const scripts = performance.getEntriesByType("resource").filter(r => r.initiatorType === "script");
  return {first_byte: n.responseStart / 1000, last_byte: n.responseEnd / 1000,
          dom_loaded: n.domContentLoadedEventEnd / 1000, loaded: n.loadEventEnd / 1000,
          slowest_script: Math.max(0, ...scripts.map(r => r.duration)) / 1000};
}"""


def _navigation(page) -> dict[str, float]:
    """Where the page's seconds went (Navigation Timing, relative to the request)."""
    return {key: round(value, 1) for key, value in page.evaluate(NAVIGATION_JS).items()}


def _watch_websocket(page, start: float, seen: dict[str, float]) -> None:
    """Record (seconds from ``start``) when the page's websocket opened, and when its first
    frame of over 10 kB arrived (the session's document, pulled by BokehJS)."""

    def frame(payload) -> None:
        if len(payload) > 10_000 and "document_frame" not in seen:
            seen["document_frame"] = round(time.monotonic() - start, 1)

    def opened(ws) -> None:
        seen.setdefault("websocket_open", round(time.monotonic() - start, 1))
        ws.on("framereceived", frame)

    page.on("websocket", opened)


def _open(browser, url: str, problem: str, watch=None):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    if watch is not None:
        watch(page)
    page.goto(f"{url}?problem={problem}", wait_until="commit", timeout=STATE_TIMEOUT_MS)
    return context, page


def _launch(page, steps: int) -> None:
    """Random starts, ``steps`` steps, Run; until the job is accepted (a status other than an error).

    Run is pressed again (at most three times) if the starts had not arrived
    when it was first pressed ("Error: Click the plot …").
    """
    from playwright.sync_api import expect

    field = page.locator(".bk-input-group:has(label:text-is('Steps')) input")
    field.fill(str(steps))
    field.press("Tab")  # Bokeh commits the typed value on change
    expect(field).to_have_value(str(steps))
    for _attempt in range(3):
        page.get_by_role("button", name="Random starts").click()
        _run_button(page).click()
        expect(_status(page)).to_have_text(re.compile(r"Compiling|Queued|/|Done|Error"), timeout=STATE_TIMEOUT_MS)
        if not _status(page).inner_text().startswith("Error"):
            return
    raise AssertionError(f"Run refused three times: {_status(page).inner_text()}")


def _finish(page, cancel: bool) -> None:
    """Wait for "Done"; or, for the long job, for progress, then Cancel and wait for "Cancelled at p%"."""
    from playwright.sync_api import expect

    if cancel:
        expect(_status(page)).to_have_text(re.compile(rf"^\d+ / {LONG_STEPS}"), timeout=STATE_TIMEOUT_MS)
        page.get_by_role("button", name="Cancel").click()
        expect(_status(page)).to_have_text(re.compile(r"^Cancelled at \d+%$"), timeout=STATE_TIMEOUT_MS)
    else:
        expect(_status(page)).to_have_text("Done", timeout=STATE_TIMEOUT_MS)
    expect(_run_button(page)).to_be_enabled(timeout=STATE_TIMEOUT_MS)


def _switch_tab(page) -> None:
    """Open the Critical Points tab and wait until its view replaced the placeholder."""
    from playwright.sync_api import expect

    page.locator(".bk-tab", has_text="Critical Points").first.click()
    expect(page.get_by_text("Opening Critical Points", exact=False)).to_have_count(0, timeout=STATE_TIMEOUT_MS)
    expect(_run_button(page)).to_be_enabled(timeout=STATE_TIMEOUT_MS)


def _step(figures: Figures, what: str, action) -> bool:
    """Run one driver step; a page state not reached in time is recorded as a failure, not raised."""
    from playwright.sync_api import Error as PlaywrightError

    try:
        action()
        return True
    except (AssertionError, PlaywrightError) as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        figures.failures.append(f"{what}: {' | '.join(lines[:1] + lines[-2:])[:300]}")
        print(f"failure: {figures.failures[-1]}", flush=True)
        return False


def _wave(browser, url: str, problems: list[str], figures: Figures, extra: str) -> None:
    """Open one session per problem, run a job in each (cancel the first), switch tabs, check, close."""
    opened = []
    for problem in problems:
        opened.append((problem, time.monotonic(), *_open(browser, url, problem)))
    live = []
    for problem, start, context, page in opened:
        if _step(figures, f"{problem}: page load", lambda: _ready(page, problem)):
            figures.page_load_s.append(time.monotonic() - start)
            live.append((problem, page))
    running = [(i, problem, page) for i, (problem, page) in enumerate(live)
               if _step(figures, f"{problem}: run", lambda: _launch(page, LONG_STEPS if i == 0 else SHORT_STEPS))]
    # while the jobs run: one more session's page
    start, seen = time.monotonic(), {}
    context, page = _open(browser, url, extra, lambda page: _watch_websocket(page, start, seen))
    shown = _step(figures, f"extra session ({extra}): page shown", lambda: _shown(page, extra, EXTRA_TIMEOUT_MS))
    figures.extra_shown_s.append(time.monotonic() - start if shown else float("inf"))
    figures.extra_navigation.append((_navigation(page) if shown else {}) | seen)
    loaded = _step(figures, f"extra session ({extra}): page load", lambda: _ready(page, extra, EXTRA_TIMEOUT_MS))
    figures.extra_load_s.append(time.monotonic() - start if loaded else float("inf"))
    context.close()
    for i, problem, page in running:
        if not _step(figures, f"{problem}: {'cancel' if i == 0 else 'finish'}", lambda: _finish(page, i == 0)):
            continue
        _step(figures, f"{problem}: Critical Points tab", lambda: _switch_tab(page))
        shown = page.locator("select").first.input_value()
        if shown != problem or page.get_by_text(f"{problem} (2 parameters).", exact=False).count() == 0:
            figures.cross_talk.append(f"a session opened on {problem} shows {shown}")
    for _problem, _opened_at, context, _page in opened:
        context.close()


def _span(seconds: list[float]) -> str:
    return f"{min(seconds):.1f}-{max(seconds):.1f} s" if seconds else "none loaded"


def run_load(sessions: int, waves: int, report=print, settle_s: float = SETTLE_S) -> Figures:
    """Serve the dashboard, run ``waves`` waves of ``sessions`` sessions, return the figures.

    The server's RSS is read ``settle_s`` seconds after each wave's last tab closed."""
    from playwright.sync_api import sync_playwright

    port = _free_port()
    url = f"http://127.0.0.1:{port}/main"
    log_path = Path(tempfile.mkdtemp(prefix="landscape-load-")) / "panel.log"
    args = ["app/main.py", "--port", str(port), "--address", "127.0.0.1", "--allow-websocket-origin",
            f"127.0.0.1:{port}", "--unused-session-lifetime", str(UNUSED_SESSION_MS), "--check-unused-sessions", "1000",
            "--setup", str(Path(__file__).with_name("_census.py"))]
    figures = Figures()
    names = [PROBLEMS[i % len(PROBLEMS)] for i in range(sessions)]
    env = {"LANDSCAPE_MAX_STEPS": str(LONG_STEPS)}  # as the browser tests: a run that only Cancel ends
    with panel_serve(args, log_path, lambda: _answers(url), 240, env) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            warm = Figures()
            _wave(browser, url, names, warm, "booth")  # warm-up: every kernel the waves use compiled once
            figures.failures += [f"warm-up: {failure}" for failure in warm.failures]
            time.sleep(settle_s)
            figures.baseline_mb = _rss_mb(server.pid)
            figures.census.append(_census(server.pid, log_path))
            report(f"baseline (after a warm-up wave): {figures.baseline_mb:.0f} MB; warm-up page loads "
                   f"{_span(warm.page_load_s)}; live {figures.census[-1][0]}, after a collection "
                   f"{figures.census[-1][1]}")
            for wave in range(waves):
                loads, failures = len(figures.page_load_s), len(figures.failures)
                _wave(browser, url, names, figures, "booth")
                time.sleep(settle_s)
                figures.after_wave_mb.append(_rss_mb(server.pid))
                figures.census.append(_census(server.pid, log_path))
                report(f"wave {wave + 1}: {sessions} sessions, page loads {_span(figures.page_load_s[loads:])}, "
                       f"extra session {figures.extra_load_s[-1]:.1f} s (page shown at {figures.extra_shown_s[-1]:.1f} s; "
                       f"navigation {figures.extra_navigation[-1]}); RSS {figures.after_wave_mb[-1]:.0f} MB "
                       f"({figures.after_wave_mb[-1] / figures.baseline_mb:.2f} x baseline); "
                       f"failures {figures.failures[failures:] or 'none'}; live {figures.census[-1][0]}, after a "
                       f"collection {figures.census[-1][1]}")
        finally:
            browser.close()
    figures.tracebacks = tracebacks(log_path.read_text(errors="replace"))
    report(f"cross-talk: {figures.cross_talk or 'none'}; failures: {len(figures.failures)}; "
           f"server tracebacks: {len(figures.tracebacks)}")
    for text in figures.tracebacks:
        report(f"traceback:{text.rstrip()}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--waves", type=int, default=3)
    parser.add_argument("--settle", type=float, default=60.0, help="seconds after a wave closed before RSS is read")
    args = parser.parse_args()
    print(f"# Load: {args.sessions} concurrent browser sessions x {args.waves} waves, "
          f"RSS {args.settle:.0f} s after each")
    run_load(args.sessions, args.waves, settle_s=args.settle)


if __name__ == "__main__":
    main()
