"""Many researchers at once: concurrent browser sessions in waves, server memory after each wave.

Starts ``panel serve app/main.py`` on a loopback port (sessions are dropped
one second after their tab closes) and drives it with headless Chromium.
After a warm-up session (every kernel the waves use compiled once) it
measures the server's resident memory (the baseline), then runs ``waves``
waves of ``sessions`` sessions, each on a different 2-D problem opened from
the URL: drop random starts, run the Landscape optimizers, cancel, open the
Critical Points tab, check the page still shows its own problem (no
cross-talk), close.  While a wave's jobs run, one more session's page is
loaded and timed.  After each wave it waits for the sessions to be
destroyed and prints the server's RSS against the baseline.

Issue 14 item 8: RSS within 20% of the baseline after every wave (no growth
across waves), the extra page loads during the load, no traceback in the
server log.  ``tests/load/test_sessions.py`` runs the reduced form (4
sessions, 2 waves) and asserts those; this script is the full form::

    python3 -m benchmarks.bench_load                 # 10 sessions, 3 waves
    python3 -m benchmarks.bench_load --sessions 4 --waves 2
"""

from __future__ import annotations

import argparse
import dataclasses
import re
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
TIMEOUT_MS = 240_000
EXTRA_TIMEOUT_MS = 90_000  # the extra session's page during the load
SETTLE_S = 8.0  # after the last tab of a wave closed: sessions are destroyed after 1 s, checked every 1 s


@dataclasses.dataclass
class Figures:
    baseline_mb: float = 0.0
    after_wave_mb: list[float] = dataclasses.field(default_factory=list)
    page_load_s: list[float] = dataclasses.field(default_factory=list)
    extra_load_s: list[float] = dataclasses.field(default_factory=list)
    cross_talk: list[str] = dataclasses.field(default_factory=list)
    tracebacks: list[str] = dataclasses.field(default_factory=list)


def tracebacks(log: str) -> list[str]:
    """Tracebacks in the server log, except a client that went away mid-write."""
    found = log.split("Traceback (most recent call last):")[1:]
    found = [re.split(r"(?m)^\d{4}-\d{2}-\d{2} ", text)[0] for text in found]
    return [text for text in found if not re.search(r"WebSocketClosedError|StreamClosedError", text)]


def _rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


def _ready(page, problem: str, timeout_ms: float = TIMEOUT_MS) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_role("button", name="Run")).to_be_visible(timeout=timeout_ms)
    expect(page.get_by_text(f"{problem} (2 parameters).", exact=False).first).to_be_visible(timeout=timeout_ms)


def _open(browser, url: str, problem: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(f"{url}?problem={problem}", wait_until="commit", timeout=TIMEOUT_MS)
    return context, page


def _session_work(page) -> None:
    """Random starts, Run, wait for progress; (Cancel comes later, while the others run)."""
    from playwright.sync_api import expect

    page.get_by_role("button", name="Random starts").click()
    steps = page.locator(".bk-input-group:has(label:text-is('Steps')) input")
    steps.fill("3000")
    steps.press("Tab")
    expect(steps).to_have_value("3000")
    page.get_by_role("button", name="Run").click()
    started = page.locator("pre", has_text=re.compile(r"^(Compiling…|Queued.*|\d+ / 3000.*|Done)$"))
    expect(started.first).to_be_visible(timeout=TIMEOUT_MS)


def _cancel_and_switch(page) -> None:
    from playwright.sync_api import expect

    progress = page.locator("pre", has_text=re.compile(r"^(\d+ / 3000.*|Done)$"))
    expect(progress.first).to_be_visible(timeout=TIMEOUT_MS)
    if page.get_by_role("button", name="Cancel").count():
        page.get_by_role("button", name="Cancel").click()
    ended = page.locator("pre", has_text=re.compile(r"^(Cancelled at \d+%|Done)$"))
    expect(ended.first).to_be_visible(timeout=TIMEOUT_MS)
    page.get_by_text("Critical Points", exact=True).first.click()
    expect(page.get_by_text("Opening Critical Points", exact=False)).to_have_count(0, timeout=TIMEOUT_MS)
    expect(page.get_by_role("button", name="Run").first).to_be_visible(timeout=TIMEOUT_MS)


def _wave(browser, url: str, problems: list[str], figures: Figures, extra: str) -> None:
    opened = []
    for problem in problems:
        start = time.monotonic()
        opened.append((problem, start, *_open(browser, url, problem)))
    for problem, start, _context, page in opened:
        _ready(page, problem)
        figures.page_load_s.append(time.monotonic() - start)
    for _problem, _start, _context, page in opened:
        _session_work(page)
    # while every session's job runs: one more session's page
    start = time.monotonic()
    context, page = _open(browser, url, extra)
    try:
        _ready(page, extra, EXTRA_TIMEOUT_MS)
        figures.extra_load_s.append(time.monotonic() - start)
    except AssertionError:
        figures.extra_load_s.append(float("inf"))  # did not load within EXTRA_TIMEOUT_MS
    context.close()
    for problem, _start, _context, page in opened:
        _cancel_and_switch(page)
        shown = page.locator("select").first.input_value()
        if shown != problem or page.get_by_text(f"{problem} (2 parameters).", exact=False).count() == 0:
            figures.cross_talk.append(f"a session opened on {problem} shows {shown}")
    for _problem, _start, context, _page in opened:
        context.close()


def run_load(sessions: int, waves: int, report=print) -> Figures:
    """Serve the dashboard, run ``waves`` waves of ``sessions`` sessions, return the figures."""
    from playwright.sync_api import sync_playwright

    port = _free_port()
    url = f"http://127.0.0.1:{port}/main"
    log_path = Path(tempfile.mkdtemp(prefix="landscape-load-")) / "panel.log"
    args = ["app/main.py", "--port", str(port), "--address", "127.0.0.1", "--allow-websocket-origin",
            f"127.0.0.1:{port}", "--unused-session-lifetime", "1000", "--check-unused-sessions", "1000"]
    figures = Figures()
    names = [PROBLEMS[i % len(PROBLEMS)] for i in range(sessions)]
    with panel_serve(args, log_path, lambda: _answers(url), 240) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            _wave(browser, url, names[:1], Figures(), names[0])  # warm-up: compile what the waves use
            time.sleep(SETTLE_S)
            figures.baseline_mb = _rss_mb(server.pid)
            report(f"baseline (after warm-up): {figures.baseline_mb:.0f} MB")
            for wave in range(waves):
                loads = len(figures.page_load_s)
                _wave(browser, url, names, figures, "booth")
                time.sleep(SETTLE_S)
                figures.after_wave_mb.append(_rss_mb(server.pid))
                report(f"wave {wave + 1}: {sessions} sessions, page loads "
                       f"{min(figures.page_load_s[loads:]):.1f}-{max(figures.page_load_s[loads:]):.1f} s, "
                       f"extra session {figures.extra_load_s[-1]:.1f} s; RSS {figures.after_wave_mb[-1]:.0f} MB "
                       f"({figures.after_wave_mb[-1] / figures.baseline_mb:.2f} x baseline)")
        finally:
            browser.close()
    figures.tracebacks = tracebacks(log_path.read_text(errors="replace"))
    report(f"cross-talk: {figures.cross_talk or 'none'}; server tracebacks: {len(figures.tracebacks)}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--waves", type=int, default=3)
    args = parser.parse_args()
    print(f"# Load: {args.sessions} concurrent browser sessions x {args.waves} waves")
    run_load(args.sessions, args.waves)


if __name__ == "__main__":
    main()
