"""The dashboard: ``panel serve app/main.py``.

One template per browser session: a sidebar with the problem picker (every
registered problem) and a box for a custom surface typed as an expression in
``x`` and ``y``; the main area holds every view of :mod:`app.views` as a tab
(the Landscape view first).  A refused expression shows the parser's message
and keeps the current problem.  ``jax_enable_x64`` is turned on before any
JAX array exists (DESIGN.md, "Precision").
"""

from __future__ import annotations

import logging

import jax

jax.config.update("jax_enable_x64", True)

import holoviews as hv  # noqa: E402
import panel as pn  # noqa: E402

from app.state import AppState  # noqa: E402
from app.views import ViewSpec, discover  # noqa: E402

log = logging.getLogger(__name__)

TITLE = "Loss-landscape explorer"
EXPRESSION_HELP = (
    "A 2-D surface in `x` and `y`, e.g. `(x**2 + y - 11)**2 + (x + y**2 - 7)**2` or "
    "`sin(3*x) * cos(2*y) + 0.1*(x**2 + y**2)`: numbers, `+ - * / **`, parentheses and "
    "a fixed set of `jax.numpy` functions."
)


def build_view(spec: ViewSpec, state: AppState):
    """The view's Viewer, or an error panel if it fails to build (other tabs keep working)."""
    try:
        return spec.factory(state=state)
    except Exception as error:
        log.exception("view %s failed to build", spec.key)
        return pn.pane.Alert(f"The {spec.title} view failed to start: {error}", alert_type="danger")


def sidebar(state: AppState) -> pn.Column:
    """Problem picker and the custom-expression box."""
    picker = pn.widgets.Select.from_param(state.param.problem_name, label="Problem", sizing_mode="stretch_width")
    expression = pn.widgets.TextAreaInput(
        label="Custom surface f(x, y)", placeholder="(1 - x)**2 + 100*(y - x**2)**2", height=90,
        sizing_mode="stretch_width",
    )  # fmt: skip
    use = pn.widgets.Button(label="Show this surface", color="primary", sizing_mode="stretch_width")
    message = pn.pane.Alert("", alert_type="danger", visible=False, sizing_mode="stretch_width")
    current = pn.pane.Markdown("", sizing_mode="stretch_width")

    def apply(_event) -> None:
        state.use_expression(expression.value)

    def sync(*_events) -> None:
        message.object = state.message
        message.visible = bool(state.message)
        current.object = f"Showing **{state.problem.name}** ({state.problem.dim} parameters)."

    use.on_click(apply)
    state.param.watch(sync, ["message", "problem"])
    sync()
    return pn.Column(
        picker, pn.layout.Divider(), expression, use, message, pn.pane.Markdown(EXPRESSION_HELP), current
    )


def view_tabs(state: AppState, specs: list[ViewSpec] | None = None) -> pn.Tabs:
    """One tab per view; a view is built when its tab is first opened.

    Only the first tab (Landscape) is built with the page, so a session's first
    paint does not wait for every view's set-up.
    """
    specs = discover() if specs is None else specs
    tabs = pn.Tabs(dynamic=True, sizing_mode="stretch_width")
    for i, spec in enumerate(specs):
        content = build_view(spec, state) if i == 0 else pn.pane.Markdown(f"Opening {spec.title}…")
        tabs.append((spec.title, content))
    built = {0}

    def open_tab(event) -> None:
        if event.new not in built:
            built.add(event.new)
            spec = specs[event.new]
            tabs[event.new] = (spec.title, build_view(spec, state))

    def show_tab(event) -> None:  # a view handed a point over: open the target's tab
        keys = [spec.key for spec in specs]
        if event.new in keys and tabs.active != keys.index(event.new):
            tabs.active = keys.index(event.new)

    tabs.param.watch(open_tab, "active")
    state.param.watch(show_tab, "tab")
    return tabs


def create_app(state: AppState | None = None) -> pn.template.BootstrapTemplate:
    """A fresh dashboard (one per session): sidebar plus one tab per view."""
    pn.extension(notifications=False)
    hv.extension("bokeh", logo=False)
    state = AppState() if state is None else state
    tabs = view_tabs(state)
    # Bootstrap's CSS/JS ship inside Panel; the Fast/Material templates fetch web
    # fonts from Google, which fails (with console errors) on offline machines.
    return pn.template.BootstrapTemplate(
        title=TITLE, sidebar=[sidebar(state)], main=[tabs], sidebar_width=320, header_background="#1f77b4"
    )


if __name__.startswith("bokeh"):
    create_app().servable()
