"""Test-wide set-up: float64 everywhere (DESIGN.md, "Precision"), browser tests last, notebooks in the background."""

from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

_BROWSER_DIR = Path(__file__).parent / "browser"


def pytest_collection_modifyitems(config, items):
    """Run the headless-browser tests after every other test, and the notebooks' just before them.

    Playwright's sync API installs a running asyncio loop in the main thread
    for the rest of the session; app unit tests that run after it would see a
    loop and schedule their jobs as tasks on it instead of running them to the
    end (JobRunner's synchronous path outside a server)."""
    items.sort(key=lambda item: (_BROWSER_DIR in Path(item.fspath).parents, _is_notebook(item)))


def _is_notebook(item) -> bool:
    """A test that waits for a notebook started in the background: last before the browser tests, so
    the notebooks have run beside everything else by then."""
    return item.module.__name__.endswith("test_notebooks")


def pytest_collection_finish(session):
    """Start the selected notebooks (after every deselection) in the background: see tests/test_notebooks.py."""
    notebooks = [item.callspec.params["path"] for item in session.items if _is_notebook(item)]
    if notebooks and not session.config.option.collectonly:
        from tests.test_notebooks import start

        start(session.config, notebooks)
