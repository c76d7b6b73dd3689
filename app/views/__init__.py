"""Dashboard views: one module per tab, found automatically.

How to add a view
-----------------
1. Create ``app/views/<name>.py`` (no other file changes: ``app/main.py``
   discovers every module in this package).
2. Write a ``pn.viewable.Viewer`` whose inputs are ``param`` parameters and
   whose ``__panel__`` returns the layout; build widgets and plots once in
   ``__init__`` and update them reactively.  Accept the session's
   :class:`app.state.AppState` as ``state=`` (optional, so that
   ``MyView()`` also works alone in a notebook cell) and watch
   ``state.param.problem`` if the view follows the sidebar's problem.
3. Run long engine work through an :class:`app.runner.JobRunner`
   (``self.runner.start(lambda cancel: iter_x(..., cancel=cancel), on_event,
   on_done)``, and ``self.runner.controls(on_run=...)`` for the Run/Cancel
   button and progress bar): never compute on the event loop.  Push each
   event's numpy data into ``hv.streams.Pipe``/``Buffer`` in ``on_event``;
   keep the final ``xarray.Dataset`` in ``on_done``.
4. Export from that stored Dataset with :mod:`app.components.export`
   (``export_buttons(figure=..., dataset=..., basename=...)``) and reuse
   :mod:`app.components.surface` and :mod:`app.components.spectrum`.
5. End the module with::

       VIEW = ViewSpec(key="myview", title="My view", factory=MyView, order=50)

   ``factory(state=AppState)`` must return the Viewer; ``order`` sorts the
   tabs (Landscape is 0).
6. Test it without a server in ``tests/test_app_<name>.py`` and in the
   browser in ``tests/browser/test_<name>.py`` (fixtures ``served_app``,
   ``page`` and ``assert_no_console_errors`` from ``tests/browser/conftest.py``).

A module that fails to import does not take the dashboard down: its tab shows
the error instead (and its own tests fail).
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import pkgutil
from collections.abc import Callable

import panel as pn

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ViewSpec:
    """A dashboard tab: ``factory(state=AppState) -> pn.viewable.Viewer``."""

    key: str
    title: str
    factory: Callable[..., pn.viewable.Viewer]
    order: int = 100


def _broken(key: str, error: BaseException) -> ViewSpec:
    text = f"The view module `app.views.{key}` could not be loaded: {type(error).__name__}: {error}"
    return ViewSpec(
        key=key,
        title=key.replace("_", " ").title(),
        factory=lambda state=None: pn.pane.Alert(text, alert_type="danger"),
        order=1000,
    )


def discover() -> list[ViewSpec]:
    """Every module's ``VIEW`` in this package, sorted by ``(order, title)``."""
    specs = []
    for module_info in pkgutil.iter_modules(__path__):
        try:
            module = importlib.import_module(f"{__name__}.{module_info.name}")
        except Exception as error:  # a view under construction must not break the others
            log.exception("cannot import view %s", module_info.name)
            specs.append(_broken(module_info.name, error))
            continue
        spec = getattr(module, "VIEW", None)
        if isinstance(spec, ViewSpec):
            specs.append(spec)
    return sorted(specs, key=lambda spec: (spec.order, spec.title))
