"""Fixtures that drive the served dashboard in a real headless Chromium.

* ``served_app``: ``panel serve app/main.py`` on a free port in a subprocess
  (one per test session), waited for until it answers; killed at teardown.
  Its URL is ``served_app.url``; its log (stdout/stderr) is ``served_app.log()``.
* ``browser``: Debian's ``/usr/bin/chromium`` launched headless by Playwright.
* ``page``: a fresh browser context and page that records console errors and
  uncaught page errors in ``page.console_errors``.  Every request that leaves
  the loopback interface (a CDN, web fonts) is blocked, as on an offline
  machine, and recorded there too; the fixture
  ``assert_no_console_errors`` is a function ``(page) -> None`` that checks them.
* ``new_page``: a factory for more pages, each in its own context (= its own
  cookies, its own dashboard session).

Without Chromium or Playwright the browser tests skip, except under
``CI=true`` where they fail: CI must run them.
"""

from __future__ import annotations

import dataclasses
import re
import os
import shutil
import socket
import subprocess
import tempfile
import urllib.request
from pathlib import Path

import pytest

from ..serving import panel_serve

CHROMIUM = os.environ.get("LANDSCAPE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IN_CI = os.environ.get("CI", "").lower() == "true"
SERVER_START_TIMEOUT = 180.0


def pytest_collection_modifyitems(items):
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.browser)


def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"browser tests must run under CI=true, but {reason}")
    pytest.skip(reason)


@dataclasses.dataclass
class ServedApp:
    url: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def server_errors(self) -> list[str]:
        """Tracebacks in the server log, except a client that went away.

        Tornado logs ``WebSocketClosedError`` when a page closes (for instance
        at the end of an earlier test) while the server still writes to it;
        that is the browser leaving, not an error of the app."""
        tracebacks = self.log().split("Traceback (most recent call last):")[1:]
        # each traceback runs until the next timestamped log record
        tracebacks = [re.split(r"(?m)^\d{4}-\d{2}-\d{2} ", text)[0] for text in tracebacks]
        return [text for text in tracebacks if not re.search(r"WebSocketClosedError|StreamClosedError", text)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    # each request builds a whole session: a short timeout on a loaded machine only piles up more builds
    try:
        with urllib.request.urlopen(url, timeout=90) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def served_app(browser):  # needs the browser first: no server is started for a skipped test
    port = _free_port()
    app = ServedApp(f"http://127.0.0.1:{port}/main", None, Path(tempfile.mkdtemp(prefix="landscape-serve-")) / "panel.log")
    args = ["app/main.py", "--port", str(port), "--address", "127.0.0.1", "--allow-websocket-origin", f"127.0.0.1:{port}"]
    # runs long enough that only Cancel ends them (1e6 steps) are above the default server limit; a
    # persistent compilation cache of its own, empty as on a fresh machine (tests watch a job compile)
    env = {"LANDSCAPE_MAX_STEPS": "1000000", "LANDSCAPE_JAX_CACHE": str(app.log_path.parent / "jax-cache")}
    with panel_serve(args, app.log_path, lambda: _answers(app.url), SERVER_START_TIMEOUT, env=env) as process:
        app.process = process
        yield app


@pytest.fixture(scope="session")
def browser():
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        _unavailable(f"Chromium is not installed at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


#: Any address off this machine: the app must work offline, so such a request is blocked and an error.
OFF_MACHINE = re.compile(r"^(?!(https?|wss?)://(127\.0\.0\.1|localhost)[:/])(?!(data|blob|about|file):)")


def _recording_page(browser):
    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    page = context.new_page()
    page.console_errors = []

    def block(route) -> None:
        page.console_errors.append(f"blocked off-machine request: {route.request.url}")
        route.abort()

    context.route(OFF_MACHINE, block)
    page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
    page.on("pageerror", lambda error: page.console_errors.append(f"uncaught: {error}"))
    # a failed load's console line has no address; record which resource it was
    # (a request the browser aborted because the page navigated away, e.g. a reload, is no failure)
    page.on("requestfailed", lambda request: request.failure != "net::ERR_ABORTED"
            and page.console_errors.append(f"request failed: {request.url}"))
    return context, page


@pytest.fixture
def new_page(browser):
    contexts = []

    def make():
        context, page = _recording_page(browser)
        contexts.append(context)
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


def _assert_no_console_errors(page) -> None:
    """Fail with the messages if the page logged console errors, threw, or asked for anything off this machine."""
    assert page.console_errors == [], "browser console errors:\n" + "\n".join(page.console_errors)


@pytest.fixture
def assert_no_console_errors():
    return _assert_no_console_errors
