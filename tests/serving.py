"""Start a ``panel serve`` subprocess for a test, wait until it is ready, stop it afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def listening(port: int) -> bool:
    """Whether something accepts TCP connections on the loopback ``port`` (a ``ready`` check that,
    unlike fetching an app's page, creates no dashboard session)."""
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


@contextlib.contextmanager
def panel_serve(
    args: list[str], log_path: Path, ready: Callable[[], bool], timeout: float = 180.0, env: dict | None = None,
    root: Path = ROOT,
) -> Iterator[subprocess.Popen]:
    """``python -m panel serve *args`` from the repository root (this checkout first on the path; ``root``:
    another checkout of the project, e.g. an older commit a benchmark compares with).

    Yields the process once ``ready()`` holds; raises ``AssertionError`` with
    the server's log if it exits or is not ready within ``timeout`` seconds.
    """
    path = os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])
    environment = {**os.environ, **(env or {}), "PYTHONPATH": path}
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "panel", "serve", *args], cwd=root, env=environment,
                                   stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            assert process.poll() is None, f"panel serve exited with {process.returncode}:\n{log_path.read_text()}"
            assert time.monotonic() < deadline, f"panel serve not ready within {timeout:.0f} s:\n{log_path.read_text()}"
            time.sleep(0.3)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def served_session(make: Callable[[], object], uri: str = "/main", sid: str = "test-session"):
    """``(context, session)``: a dashboard session made as Bokeh's server makes one for a browser's
    request of ``uri`` (``ApplicationContext.create_session_if_needed``, with Panel's ``Application``
    and the ``DocumentLifecycleHandler`` the Tornado server adds), without a socket or a browser.
    ``make()`` returns the session's servable (e.g. ``app.main.create_app``); call it on a running loop."""
    from bokeh.application.handlers.document_lifecycle import DocumentLifecycleHandler
    from bokeh.application.handlers.function import FunctionHandler
    from bokeh.server.contexts import ApplicationContext
    from bokeh.util.token import generate_jwt_token
    from panel.io.application import Application, _eval_panel
    from tornado.httputil import HTTPHeaders, HTTPServerRequest
    from tornado.ioloop import IOLoop

    application = Application(FunctionHandler(partial(_eval_panel, make, None, "test", True, False)))
    application.add(DocumentLifecycleHandler())
    context = ApplicationContext(application, io_loop=IOLoop.current(), url="/main")
    request = HTTPServerRequest(method="GET", uri=uri, headers=HTTPHeaders({"Host": "127.0.0.1"}), host="127.0.0.1")
    return context, await context.create_session_if_needed(sid, request, generate_jwt_token(sid))


async def until_built(session, tabs, index: int, polls: int = 600) -> bool:
    """Whether tab ``index`` of ``tabs`` shows its view (not ``app.main.placeholder``'s spinner) within
    ``polls`` tenths of a second, running the session's pending ``onload`` callbacks each time, as the
    server does once the page has loaded in the browser (a built view is installed then)."""
    import panel as pn
    from panel.io.state import set_curdoc, state

    def loaded():
        with set_curdoc(session.document):
            state._on_load(None)

    for _ in range(polls):  # a view builds in the runner's pool
        await session.with_document_locked(loaded)
        tab = tabs[index]
        if not (isinstance(tab, pn.Column) and isinstance(tab[0], pn.Row)
                and isinstance(tab[0][0], pn.indicators.LoadingSpinner)):
            return True
        await asyncio.sleep(0.1)
    return False


async def discard(context, session) -> None:
    """End ``session`` as the server ends one whose browser tab closed."""
    session._expiration_requested = True
    await context._discard_session(session, lambda _session: True)
