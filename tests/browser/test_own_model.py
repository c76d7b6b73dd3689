"""The dashboard served on the operator's own model: ``panel serve app/main.py --args --problem mod:fn``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from ..serving import ROOT, panel_serve
from .conftest import SERVER_START_TIMEOUT, ServedApp, _answers, _free_port

LOAD_TIMEOUT_MS = 240_000


def serve(problem: str, port: int, log_path: Path):
    args = ["app/main.py", "--port", str(port), "--address", "127.0.0.1", "--allow-websocket-origin",
            f"127.0.0.1:{port}", "--args", "--problem", problem]
    return panel_serve(args, log_path, lambda: _answers(f"http://127.0.0.1:{port}/main"), SERVER_START_TIMEOUT)


@pytest.fixture(scope="module")
def equinox_app(browser):
    port = _free_port()
    app = ServedApp(f"http://127.0.0.1:{port}/main", None, Path(tempfile.mkdtemp(prefix="landscape-own-")) / "panel.log")
    with serve("tests.own_models:make_equinox", port, app.log_path) as process:
        app.process = process
        yield app


def test_served_with_an_equinox_model_selects_it_and_slices_it(equinox_app, page, assert_no_console_errors):
    page.goto(equinox_app.url)
    expect(page.locator("select").first).to_have_value("my-equinox-cnn", timeout=LOAD_TIMEOUT_MS)
    expect(page.get_by_text("my-equinox-cnn (350 parameters).").first).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    # the Landscape tab slices a network as soon as it opens: the status reaches Done
    expect(page.locator("pre", has_text=re.compile(r"^Done$")).first).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    assert page.locator("canvas").count() >= 1
    assert page.locator("select").first.locator("option", has_text="booth").count() == 1  # the registered ones too
    assert_no_console_errors(page)
    assert equinox_app.server_errors() == []


def test_a_bad_problem_path_stops_the_server_with_a_message_and_no_traceback(browser, tmp_path):
    port = _free_port()
    log_path = tmp_path / "panel.log"
    args = [sys.executable, "-m", "panel", "serve", "app/main.py", "--port", str(port), "--address", "127.0.0.1",
            "--args", "--problem", "tests.own_models:not_a_problem"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while process.poll() is None and time.monotonic() < deadline:
            try:  # the first session runs app/main.py, which checks the arguments
                urllib.request.urlopen(f"http://127.0.0.1:{port}/main", timeout=30)
            except OSError:
                time.sleep(0.5)
        assert process.wait(timeout=30) == 2
    finally:
        if process.poll() is None:
            process.kill()
    text = log_path.read_text()
    assert "must return a landscape.problems.Problem" in text and "Traceback" not in text
