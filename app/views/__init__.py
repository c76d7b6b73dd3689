"""Dashboard views: one module per tab, found automatically.

How to add a view
-----------------
Create ``app/views/<name>.py``; nothing else changes (``app/main.py``
discovers every module here).  Subclass :class:`app.views.base.BaseView` and
give it three things: the engine call (:meth:`~app.views.base.BaseView.stream`),
a pure ``Dataset -> HoloViews`` figure function (module level, so tests and
exports call it without a server; :meth:`~app.views.base.BaseView.draw`
applies it), and its settings as ``param`` parameters listed in
``settings_params`` (widgets, the URL and saved explorations come from them).
The base view follows the session's problem, runs the job off the event loop
with queued/compiling/progress feedback and Cancel, renders every partial
result, exports PNG/SVG/PDF/HTML and netCDF, and resets on a new problem.
A complete view (a 2-D random slice through a network's initial point)::

    import numpy as np, param, jax
    from landscape import slices
    from ..components.surface import surface_element
    from .base import BaseView
    from . import ViewSpec

    def slice_figure(result):
        # the slice's loss as a heatmap with contours
        grid = result.loss.rename(alpha="x", beta="y").to_dataset(name="loss")
        return surface_element(grid).opts(title=result.attrs.get("kind", "slice"))

    class SliceView(BaseView):
        title = "Slice"
        settings_params = ("span", "resolution")
        span = param.Number(default=1.0, bounds=(0.01, 100), doc="Half-width of α, β.")
        resolution = param.Integer(default=21, bounds=(3, 101), doc="Grid points per axis.")

        def not_applicable(self, problem):
            return "" if problem.dim > 2 else "A 2-D surface is its own slice: see Landscape."

        def stream(self, cancel):
            theta = np.asarray(self.problem.init(jax.random.PRNGKey(0)), dtype=float)
            d = slices.make_directions(self.problem, "filter", theta, 2)
            grid = np.linspace(-self.span, self.span, self.resolution)
            return slices.iter_slice(self.problem, theta, d, grid, cancel=cancel)

        def draw(self, result):
            return slice_figure(result)

    VIEW = ViewSpec(key="slice", title="Slice", factory=SliceView, order=50)

Override :meth:`~app.views.base.BaseView.render` for a plot that streams into
Bokeh sources, :meth:`~app.views.base.BaseView.body` for another layout,
:meth:`~app.views.base.BaseView.check` to refuse bad settings with a
``ValueError``, and :meth:`~app.views.base.BaseView.setup` /
:meth:`~app.views.base.BaseView.on_problem` for extra panes and per-problem
set-up (heavy set-up goes through ``self.background.submit(fn, on_result)``,
never on the event loop).  Test it without a server through ``view.run()``,
``view.result`` and the figure function (``tests/test_app_<name>.py``), and in
the browser (``tests/browser/test_<name>.py``, fixtures ``served_app``,
``page`` and ``assert_no_console_errors``).

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

from ..components.text import escape

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
        factory=lambda state=None: pn.pane.Alert(escape(text), alert_type="danger"),
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
