"""Execute every notebook in ``notebooks/`` end to end in the fast setting (LANDSCAPE_FAST=1).

Each notebook runs in its own kernel, a separate process, so the selected notebooks are started
together, two at a time (a kernel keeps about one core busy), when the first of these tests
runs; each test then waits for its own notebook and reports its errors.  The notebooks are the
suite's slowest part, and this halves their share on CI's two cores.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CONCURRENT_KERNELS = 2


def execute(path: Path, export_dir: Path) -> nbformat.NotebookNode:
    """Run ``path`` in a fresh kernel (fast setting, exports in ``export_dir``); the executed notebook.

    Raises ``CellExecutionError``, naming the cell, on the first failure.
    """
    env = dict(os.environ, LANDSCAPE_FAST="1", LANDSCAPE_EXPORT_DIR=str(export_dir),  # exports stay out of the checkout
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(ROOT)}})
    asyncio.run(client.async_execute(env=env))  # this thread's own event loop: kernels run side by side
    return notebook


@pytest.fixture(scope="module")
def executions(request, tmp_path_factory):
    """One future per notebook selected in this session, all started at once on a bounded pool."""
    selected = [item.callspec.params["path"] for item in request.session.items
                if item.module is request.module and hasattr(item, "callspec")]
    pool = ThreadPoolExecutor(max_workers=CONCURRENT_KERNELS, thread_name_prefix="notebook")
    futures = {path: pool.submit(execute, path, tmp_path_factory.mktemp(path.stem)) for path in sorted(selected)}
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path, executions: dict[Path, Future]):
    notebook = executions[path].result()
    errors = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs if o.output_type == "error"]
    assert not errors
