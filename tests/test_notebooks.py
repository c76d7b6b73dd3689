"""Execute every notebook in ``notebooks/`` end to end in the fast setting (LANDSCAPE_FAST=1).

Each notebook runs in its own kernel, a separate process.  The selected notebooks start in the
background as soon as the session's tests are collected (``tests/conftest.py`` calls
:func:`start`), one kernel at a time, so they execute while the rest of the suite runs on the
other core; each test then waits for its own notebook and reports its errors.  The notebooks
are the suite's slowest part (about 450 s of one core on CI's two), and this hides most of it.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CONCURRENT_KERNELS = 1  # the other core runs the rest of the suite


def execute(path: Path, export_dir: Path, environ: dict[str, str]) -> nbformat.NotebookNode:
    """Run ``path`` in a fresh kernel with the environment ``environ`` (plus the fast setting, and
    exports in ``export_dir``); the executed notebook.

    Raises ``CellExecutionError``, naming the cell, on the first failure.
    """
    env = dict(environ, LANDSCAPE_FAST="1", LANDSCAPE_EXPORT_DIR=str(export_dir),  # exports stay out of the checkout
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), environ.get("PYTHONPATH")])))
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(ROOT)}})
    asyncio.run(client.async_execute(env=env))  # this thread's own event loop: kernels run side by side
    return notebook


#: Where :func:`start` leaves the futures for this session's tests.
FUTURES = pytest.StashKey[dict]()


def start(config, paths) -> None:
    """Start executing ``paths`` in the background, ``CONCURRENT_KERNELS`` at a time (from a
    collection hook: the notebooks run while the other tests do).

    IPython is imported here first, in the main thread: the kernel manager imports it in the
    notebook thread (``IPython.paths``), and a test importing it at the same moment (``get_ipython``
    in ``app.runner.in_kernel``) then found it half-initialised (a clean-clone CI run failed nine
    tests with "cannot import name 'DummyMod' from partially initialized module").

    The kernels get the environment as it is now, before any test runs: a kernel started while a
    test had ``monkeypatch.setenv("LANDSCAPE_MAX_STEPS", "10")`` in force inherited that limit, and
    notebook 04 failed a clean-clone CI run with "steps = 100 is over this server's limit of 10"."""
    import IPython  # noqa: F401

    environ = dict(os.environ)
    pool = ThreadPoolExecutor(max_workers=CONCURRENT_KERNELS, thread_name_prefix="notebook")
    config.stash[FUTURES] = {path: pool.submit(execute, path, Path(tempfile.mkdtemp(prefix=f"{path.stem}-")), environ)
                             for path in sorted(paths)}
    config.add_cleanup(lambda: pool.shutdown(wait=True, cancel_futures=True))


@pytest.fixture
def executions(request) -> dict[Path, Future]:
    return request.config.stash[FUTURES]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path, executions: dict[Path, Future]):
    notebook = executions[path].result()
    errors = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs if o.output_type == "error"]
    assert not errors
