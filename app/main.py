"""The dashboard: ``panel serve app/main.py``.

One template per browser session: a sidebar with the problem picker (every
registered problem: surfaces, networks, games, RL toys; "custom" while a typed
surface is shown) and a box for a custom surface typed as an expression in
``x`` and ``y``; the main area holds every view of :mod:`app.views` as a tab
(the Landscape view first).  Every tab appears at once; a view is built the
first time its tab opens, in the runner's pool (its set-up may compile), with
a "Compiling…" placeholder meanwhile, so opening a tab never blocks the server.
A refused expression shows the parser's message and keeps the current problem.
``jax_enable_x64`` is turned on before any JAX array exists (DESIGN.md,
"Precision") and JAX's persistent compilation cache is on
(:mod:`landscape.compilation`; ``LANDSCAPE_JAX_CACHE=off`` disables it).
"""

from __future__ import annotations

import asyncio
import logging
import sys

import jax

jax.config.update("jax_enable_x64", True)

import holoviews as hv  # noqa: E402
import panel as pn  # noqa: E402
from panel.io.state import set_curdoc  # noqa: E402

from app import guard, launch, offline, runner  # noqa: E402
from app.components.text import escape, set_text, text_pane  # noqa: E402
from app.exploration import Session  # noqa: E402
from app.state import AppState  # noqa: E402
from app.views import ViewSpec, discover  # noqa: E402
from app.views.base import BaseView  # noqa: E402
from landscape.compilation import enable_persistent_cache  # noqa: E402

enable_persistent_cache()

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
        return pn.pane.Alert(escape(f"The {spec.title} view failed to start: {error}"), alert_type="danger")


def exploration_files(session: Session) -> pn.Column:
    """Save the session's exploration to a file, or open one (a refused file keeps the session)."""
    save = pn.widgets.FileDownload(
        callback=session.save_bytes, filename="exploration.nc", label="Save exploration", embed=False,
        button_type="light", sizing_mode="stretch_width",
    )  # fmt: skip
    upload = pn.widgets.FileInput(accept=".nc", multiple=False, sizing_mode="stretch_width")

    def opened(event) -> None:
        if event.new:
            session.open_bytes(event.new)

    upload.param.watch(opened, "value")
    return pn.Column(pn.pane.HTML("<b>Exploration</b>: save it, or open a saved one", margin=(4, 5, 0, 5)),
                     save, upload, sizing_mode="stretch_width")  # fmt: skip


def sidebar(state: AppState, session: Session | None = None) -> pn.Column:
    """Problem picker, the custom-expression box and (with a session) Save/Open exploration."""
    picker = pn.widgets.Select.from_param(state.param.problem_name, label="Problem", sizing_mode="stretch_width")
    expression = pn.widgets.TextAreaInput(
        label="Custom surface f(x, y)", placeholder="(1 - x)**2 + 100*(y - x**2)**2", height=90,
        sizing_mode="stretch_width",
    )  # fmt: skip
    use = pn.widgets.Button(label="Show this surface", color="primary", sizing_mode="stretch_width")
    message = text_pane(visible=False, styles={"color": "#842029", "background": "#f8d7da", "padding": "6px"})
    current = pn.pane.HTML("", sizing_mode="stretch_width")

    def apply(_event) -> None:
        state.use_expression(expression.value)

    def sync(*_events) -> None:
        set_text(message, state.message)
        message.visible = bool(state.message)
        shown = f"Showing <b>{escape(state.problem.name)}</b> ({state.problem.dim} parameters)."
        building = f" Building <b>{escape(state.loading)}</b> (compiling)…" if state.loading else ""
        current.object = shown + building

    use.on_click(apply)
    state.param.watch(sync, ["message", "problem", "loading"])
    sync()
    files = [pn.layout.Divider(), exploration_files(session)] if session is not None else []
    return pn.Column(
        picker, pn.layout.Divider(), expression, use, message, pn.pane.Markdown(EXPRESSION_HELP), current, *files,
        pn.layout.Divider(), state.compute.panel(),
    )


def placeholder(spec: ViewSpec) -> pn.Column:
    """What a tab shows while its view is built: a spinner and "Compiling…"."""
    return pn.Column(
        pn.Row(pn.indicators.LoadingSpinner(value=True, size=24, margin=(8, 10)),
               pn.pane.Str(f"Opening {spec.title}: compiling…", margin=(12, 5))),
        sizing_mode="stretch_width",
    )  # fmt: skip


def view_tabs(
    state: AppState, specs: list[ViewSpec] | None = None, sync: bool | None = None, session: Session | None = None
) -> pn.Tabs:
    """One tab per view, all at once; a view is built when its tab is first opened (while a problem
    is being built, a link's or a pick's, only once it is shown: the view is built once, on it).

    Served (``sync`` None inside ``panel serve``, or False), the build runs in
    the runner's global pool and replaces the tab's "compiling…" placeholder
    when done, so a slow set-up (a game's compilation) never stalls the event
    loop or other sessions; synchronous, it is built on the spot.
    """
    specs = discover() if specs is None else specs
    sync = (not runner.served()) if sync is None else sync
    tabs = offline.Tabs(*[(spec.title, placeholder(spec)) for spec in specs], sizing_mode="stretch_width")
    built: set[int] = set()

    def install(index: int, view) -> None:
        if session is not None:
            try:
                session.attach(specs[index].key, view)
            except ValueError as error:  # a saved or linked setting the view refuses
                state.message = runner.describe(error)
        tabs[index] = (specs[index].title, view if session is None else session.frame(specs[index].key, view))

    def open_tab(index: int) -> None:
        if index in built or not 0 <= index < len(specs):
            return
        if state.loading:  # a problem is being built (a link's, a pick): build the view once, on that problem
            return
        built.add(index)
        spec = specs[index]
        if sync:
            install(index, build_view(spec, state))
            return
        doc, loop = pn.state.curdoc, asyncio.get_running_loop()

        def build():
            with set_curdoc(doc), runner.building_on(loop):
                return build_view(spec, state)

        async def build_then_install() -> None:
            try:
                view = await runner.in_pool(build)
                if isinstance(view, BaseView):  # on the loop, once built: the problem may have changed meanwhile
                    with set_curdoc(doc):
                        view.follow()
            except Exception as error:  # shown in the tab, never a placeholder left "compiling…" for ever
                runner.report(f"Opening {spec.title}", error)
                tabs[index] = (spec.title, text_pane(f"Opening {spec.title} failed. {runner.describe(error)}"))
                return
            # installed once the page has loaded (at once if it has): a model replaced while the
            # session's websocket is not yet connected, or while its first document is sent, is
            # never patched into the browser
            pn.state.onload(lambda: install(index, view))

        pn.state.execute(build_then_install)

    tabs.param.watch(lambda event: open_tab(event.new), "active")
    state.param.watch(lambda event: event.new or open_tab(tabs.active), "loading")
    open_tab(tabs.active)

    def show_tab(event) -> None:  # a view handed a point over: open the target's tab
        keys = [spec.key for spec in specs]
        if event.new in keys and tabs.active != keys.index(event.new):
            tabs.active = keys.index(event.new)

    state.param.watch(show_tab, "tab")
    return tabs


def dashboard(state: AppState | None = None, problem=None, store=None) -> tuple[pn.Column, pn.Tabs]:
    """The sidebar and the tabs of one session; ``problem`` (the user's own) is offered and selected;
    ``store`` (a sweep store's path, ``landscape open``) is shown in its view."""
    if runner.served():
        offline.serve_locally(pn.state.curdoc)
    pn.extension(notifications=False)
    hv.extension("bokeh", logo=False)
    state = AppState() if state is None else state
    if problem is not None:
        state.add_problem(problem)
    guard.install(state)  # a widget value forged over the websocket: a message, not a traceback
    session = Session(state)
    opened = store is not None and session.open_store(store)  # its problem first: the tabs build with it
    session.sync_problem_with_url()  # a link's problem too
    tabs = view_tabs(state, session=session)
    if opened:
        state.param.trigger("tab")  # open the store's view
    session.sync_tab_with_url(tabs)
    return sidebar(state, session), tabs


def create_app(state: AppState | None = None, problem=None, store=None) -> pn.template.BootstrapTemplate:
    """A fresh dashboard (one per session): sidebar plus one tab per view (``store``: see :func:`dashboard`)."""
    side, tabs = dashboard(state, problem, store)
    # Bootstrap's CSS/JS ship inside Panel; the Fast/Material templates fetch web
    # fonts from Google, which fails (with console errors) on offline machines.
    return pn.template.BootstrapTemplate(
        title=TITLE, sidebar=[side], main=[tabs], sidebar_width=320, header_background="#1f77b4"
    )


def show(problem, state: AppState | None = None) -> pn.Row:
    """The whole dashboard inline (a notebook cell), with the user's ``problem`` selected beside the
    registered ones; the layout is returned (displayed when it ends a cell).  In a live Jupyter kernel
    its jobs run in the background (the kernel stays free while they stream)."""
    if state is None:
        state = AppState(sync=False if runner.in_kernel() else None)
    side, tabs = dashboard(state, problem)
    return pn.Row(pn.Column(side, width=320), tabs, sizing_mode="stretch_width")


if __name__.startswith("bokeh"):
    create_app(**launch.options_or_exit(sys.argv[1:])).servable()
