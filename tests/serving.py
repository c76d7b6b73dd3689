"""Start a ``panel serve`` subprocess for a test, wait until it is ready, stop it afterwards."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
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
