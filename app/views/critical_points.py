"""The Critical Points view: Newton-MR, damped Newton and GNM runs, flatness, loss-index.

Engine call: ``landscape.critical.iter_experiment`` from sampled starts (Frye
§3.2.3.2 trajectory sampling, or the problem's own sampler), clicked starts
(2-D) or a point another view handed over (``AppState.hand_over``: a Ridge
Rider node, a teleported point, a trajectory end), which also gets
``landscape.analysis.analyse_point`` (spectrum, index, r, r_H).
Figures: :mod:`app.figures.critical_points`.  From Python: ``view.run()``,
``view.result``, ``view.select(run)``, ``view.analysis``, ``view.figure()``.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import panel as pn
import param
import xarray as xr

from landscape import analysis, critical, curvature
from landscape.problems import Problem, default_dtype

from ..components.spectrum import along_element
from ..components.surface import frame_size, surface_grid
from ..components.text import set_text, text_pane
from ..figures import critical_points as fig
from ..runner import LatestCall
from . import ViewSpec
from .base import BaseView

METHOD_LABELS = {"Newton-MR (Alg. 13)": "newton-mr", "damped Newton (Alg. 11)": "damped-newton",
                 "BTLS-GNM (Alg. 2)": "gnm", "pseudo-inverse Newton (Alg. 5)": "pinv-newton"}
#: The colour key of the surface (its title stays short enough for a 1280 px screen).
SURFACE_KEY = ("Colour: log(1 + L − min L); yellow-brown shading: r of the Newton step (0 to 1); red arrows: "
               "Newton directions; runs and their ends: blue critical, gold gradient-flat, black neither (the chosen "
               "run thick red); white dots: starts; crosses: the problem's known critical points.  "
               "Click the surface to add starts.")
#: Points per axis of the residual map.
FIELD_RESOLUTION = 81


def _pane(obj, **params) -> pn.pane.HoloViews:
    """A HoloViews pane whose axes are its own (Panel links equal axis names across panes by default)."""
    return pn.pane.HoloViews(obj, linked_axes=False, sizing_mode="stretch_width", **params)


def steps_per_chunk(problem, steps: int) -> int:
    """Finder steps between cancel checks: one on a network (a Newton-MR step of every run there
    takes seconds on 2 cores, issue 14's cancel within 5 s), up to 25 on a 2-D surface."""
    return 1 if problem.dim > 2 else max(1, min(25, steps // 10 or 1))


class CriticalPointsView(BaseView):
    """Critical-point finders from many starts, streamed traces, flatness and loss-index."""

    title = "Critical Points"
    glossary_terms = ("index", "r", "r_H")
    settings_params = ("method", "num_runs", "steps", "sampling", "cutoff", "seed")
    method = param.Selector(default="newton-mr", objects=list(METHOD_LABELS.values()), doc="Finder.")
    num_runs = param.Integer(default=12, bounds=(1, 500), doc="Runs (sampled starts).")
    steps = param.Integer(default=60, bounds=(1, 100_000), doc="Iterations per run.")
    sampling = param.Selector(default="auto", objects=["auto", "trajectory", "uniform"], doc=(
        "Starts: §3.2.3.2 trajectory sampling, the problem's own sampler, or auto (uniform on 2-D surfaces)."))
    cutoff = param.Number(default=critical.CRITICAL_CUTOFF, bounds=(0, None), doc="Critical if ‖∇L‖² < cutoff.")
    seed = param.Integer(default=0, doc="Seed of the starting points.")
    starts = param.Array(default=np.zeros((0, 2)), doc="Chosen starts (clicked or handed over); used instead of sampling.")
    selected = param.Integer(default=None, allow_None=True, doc="Run shown in detail (None: none).")
    analysis = param.ClassSelector(class_=xr.Dataset, constant=True, doc="Analysis of the selected or handed-over point.")

    def follow(self) -> None:
        """Also take points handed over (``state.focus``), the one made while a worker built the view included:
        only once built and from the loop, after the problem has caught up (a focus names its problem)."""
        super().follow()
        self.state.param.watch(lambda event: self._take_focus(event.new), "focus")
        self._take_focus(self.state.focus)

    def setup(self) -> None:
        self._setup = LatestCall(sync=self.runner.sync)
        self._setup.param.watch(self._show_background_message, "message")
        self.grid = self.field = self.analytic = None
        self._keep_analysis = self._field_given = False
        self._result_pipe, self._analysis_pipe = hv.streams.Pipe(data=None), hv.streams.Pipe(data=None)
        self._analytic_pipe = hv.streams.Pipe(data=None).rename(data="analytic")
        self._field_pipe, self._starts_pipe = hv.streams.Pipe(data=None), hv.streams.Pipe(data=np.zeros((0, 2)))
        self._selected_stream = hv.streams.Params(parameterized=self, parameters=["selected"])
        self._along = _pane(along_element(np.zeros(0), np.zeros((0, 0)), "Select a run: eigenvalues along it"))
        self._traces = [_pane(hv.DynamicMap(lambda data, v=v, t=t: fig.traces(data, v, t()).opts(
            responsive=True, height=260, backend="bokeh"), streams=[self._result_pipe]))
            for v, t in (("grad_norm_sq", lambda: self.cutoff), ("r", lambda: critical.FLAT_R))]
        self._scatter = _pane(hv.DynamicMap(lambda data, analytic: fig.loss_index(data, analytic).opts(
            responsive=True, height=320, backend="bokeh"), streams=[self._result_pipe, self._analytic_pipe]))
        self._spectrum = _pane(hv.DynamicMap(lambda data: fig.point_spectrum(data).opts(
            responsive=True, height=260, backend="bokeh"), streams=[self._analysis_pipe]))
        self.plot.param.update(linked_axes=False, min_height=460)
        self._summary = text_pane()
        self._flat_note = text_pane(visible=False, styles={"color": "#555"})
        self._picker = pn.widgets.Select(label="Run", options={"(run first)": -1}, width=290)
        self._picker.param.watch(lambda event: self.select(event.new), "value")

    # -- public API --------------------------------------------------------
    def add_start(self, *theta: float) -> None:
        """Add a start point (what a click on the surface does)."""
        self.starts = np.vstack([self.starts.reshape(-1, self.problem.dim), np.asarray(theta, float)])

    def clear_starts(self) -> None:
        self.starts = np.zeros((0, self.problem.dim))

    def show_field(self, field: xr.Dataset) -> None:
        """Draw ``field`` (a residual map of this problem, kind ``residual-map``, e.g. an opened store's,
        NaN where not computed) instead of the view's own, until the problem changes."""
        self._field_given = True
        self._show_field(self.problem, field, given=True)

    def stream(self, cancel):
        """``critical.iter_experiment`` from the chosen or sampled starts, on the session's Compute setting."""
        problem, sampling = self.problem, self.sampling
        if sampling == "auto":
            sampling = "uniform" if problem.is_2d else "trajectory"
        starts = np.asarray(self.starts, dtype=default_dtype()) if len(self.starts) else sampling
        return critical.iter_experiment(
            problem, critical.Method(self.method, index_every=10**9), num_runs=self.num_runs, seed=self.seed,
            starts=starts, num_steps=self.steps, chunk=steps_per_chunk(problem, self.steps), cutoff=self.cutoff,
            executor=self.executor, cancel=cancel)

    def draw(self, result: xr.Dataset) -> hv.Layout:
        """The picture of ``result`` rebuilt from stored data (what export saves)."""
        return fig.critical_figure(result, problem=self.problem, grid=self.grid, field=self.field,
                                   analytic=self.analytic, selected=-1 if self.selected is None else self.selected)

    def select(self, run: int) -> None:
        """Show run ``run`` in detail: its path, the eigenvalues along it, the analysis of its end."""
        run = None if run is None or run < 0 else int(run)
        if self.selected == run:
            self.param.trigger("selected")
        self.selected = run

    # -- rendering ---------------------------------------------------------
    def render(self, result: xr.Dataset | None) -> None:
        self._result_pipe.send(result)
        if result is None or result.attrs.get("status") == "running":
            set_text(self._summary, "")
            self._picker.options = {"(run first)": -1}
            return
        counts, runs = fig.summary(result), result.sizes["run"]
        status = " (cancelled)" if result.attrs.get("status") == "cancelled" else ""
        method = {name: label for label, name in METHOD_LABELS.items()}.get(result.attrs.get("method"), "?")
        set_text(self._summary, f"{runs} runs of {method}{status}: "  # what the result says it ran, not the widget
                 + ", ".join(f"{k}: {n} ({n / runs:.0%})" for k, n in counts.items()))
        self._picker.options = {"(choose a run)": -1} | {
            f"run {run}: {cls}, ‖∇L‖² = {gsq:.2e}, max r = {mr:.2f}": run for run, (cls, gsq, mr)
            in enumerate(zip(result["class"].values, result.final_grad_norm_sq.values, result.max_r.values))}
        if self._keep_analysis:  # a run from a handed-over point: keep that point's analysis in view
            self._keep_analysis = False
            return
        if self._picker.value == 0:
            self.select(0)
        self._picker.value = 0

    def on_problem(self) -> None:
        problem = self.problem
        with param.edit_constant(self):
            self.analysis = None
        self.grid = self.field = self.analytic = None
        self._field_given = False
        self.starts = np.zeros((0, problem.dim))
        for pipe in (self._analysis_pipe, self._field_pipe):
            pipe.send(None)
        self._analytic_pipe.send(None)
        self.plot.visible, self.plot.object = problem.is_2d, None
        self._flat_note.visible = not problem.is_2d
        set_text(self._flat_note, f"The surface and the residual map are drawn for 2-D problems only; {problem.name} "
                 f"has {problem.dim} parameters, so its runs show in the curves and the loss-index plot.")

        def setup():
            method = getattr(problem, "analytic_critical_points", None)
            return surface_grid(problem) if problem.is_2d else None, method() if callable(method) else None

        self._setup.submit(setup, lambda answer: self._show_setup(problem, *answer), "Computing the surface…")

    def _show_setup(self, problem: Problem, grid, analytic) -> None:
        if problem is not self.problem:  # a late answer for a previous problem
            return
        self.grid, self.analytic = grid, analytic
        self._analytic_pipe.send(analytic)
        if grid is None:
            return
        self.plot.object = self._surface_plot(problem, grid)
        if self._field_given:
            return
        self._setup.submit(lambda: critical.residual_map(problem, FIELD_RESOLUTION),
                           lambda field: self._show_field(problem, field), "Computing the residual map…")

    def _show_field(self, problem: Problem, field: xr.Dataset, given: bool = False) -> None:
        if problem is self.problem and (given or not self._field_given):  # a given map is not overwritten
            self.field = field
            self._field_pipe.send(field)

    def _surface_plot(self, problem: Problem, grid: xr.Dataset) -> hv.Overlay:
        base = fig.surface_base(problem, grid)
        plot = (base * hv.DynamicMap(lambda data: fig.residual_layer(data), streams=[self._field_pipe])
                * hv.DynamicMap(lambda data, selected: fig.run_paths(data, -1 if selected is None else selected),
                                streams=[self._result_pipe, self._selected_stream])
                * hv.DynamicMap(lambda data: fig.starts_layer(data), streams=[self._starts_pipe]))
        (x0, x1), (y0, y1) = problem.bounds
        tap = hv.streams.SingleTap(source=base.Image.I, transient=True)
        tap.add_subscriber(lambda x=None, y=None: None if x is None or y is None else self.add_start(x, y))
        return plot.opts(xlim=(x0, x1), ylim=(y0, y1), show_legend=False, **frame_size(problem.bounds),
                         title=f"{problem.name}: runs over r of the Newton step", backend="bokeh")

    @param.depends("starts", watch=True)
    def _send_starts(self) -> None:
        self._starts_pipe.send(self.starts[:, :2] if self.problem.is_2d else np.zeros((0, 2)))

    def _take_focus(self, focus) -> None:
        """A point handed over by another view: analyse it and run Newton-MR from it."""
        if not focus or focus.get("target") != "critical_points" or focus.get("problem") != self.problem.name:
            return
        self.starts = focus["theta"][None]
        self._analyse(focus["theta"], focus["source"])
        if not self.runner.running:
            self.method, self._keep_analysis = "newton-mr", True
            self.run()

    def _analyse(self, theta: np.ndarray, source: str) -> None:
        problem = self.problem

        def show(result: xr.Dataset) -> None:
            with param.edit_constant(self):
                self.analysis = result
            self._analysis_pipe.send(result)

        self.background.submit(lambda: analysis.analyse_point(problem, theta, source=source), show,
                               "Analysing the point…")

    @param.depends("selected", watch=True)
    def _show_selected(self) -> None:
        result, run = self.result, self.selected
        if result is None or run is None or not run < result.sizes["run"]:
            return
        self._analyse(result.theta.values[run], f"run {run}")
        if "path" not in result:  # not kept for networks: say so rather than leave "Select a run"
            self._along.object = along_element(np.zeros(0), np.zeros((0, 0)), (
                f"Eigenvalues along run {run}: paths are kept for ≤ {critical.PATH_MAX_DIM} parameters only"))
        else:
            # the whole path, NaN rows after the run ended included: every run then has one length (one compile)
            path, loss = result.path.values[run], self.problem.loss
            reached = np.isfinite(path).all(axis=1)
            steps = result.step.values[reached]
            self._setup.submit(lambda: curvature.spectrum_summary_along(loss, path).eigenvalues[reached],
                               lambda values: setattr(self._along, "object", along_element(
                                   steps, values, f"Hessian eigenvalues along run {run}").opts(
                                   responsive=True, height=260, backend="bokeh")))

    def body(self):
        clear = pn.widgets.Button(label="Clear chosen starts", width=170)
        clear.on_click(lambda _event: self.clear_starts())
        method = pn.widgets.Select(label="Method", options=METHOD_LABELS, value=self.method, width=290)
        method.link(self, value="method")
        self.param.watch(lambda event: setattr(method, "value", event.new), "method")
        p = self.param
        settings = pn.Column(
            method, pn.widgets.IntInput.from_param(p.num_runs, label="Runs", width=140),
            pn.widgets.IntInput.from_param(p.steps, label="Iterations", width=140),
            pn.widgets.Select.from_param(p.sampling, label="Starting points", width=290),
            pn.widgets.FloatInput.from_param(p.cutoff, label="Critical cutoff on ‖∇L‖²", width=200),
            pn.widgets.IntInput.from_param(p.seed, label="Seed", width=140), clear, self._picker, width=320)
        plots = pn.Column(self._flat_note, self.plot,
                          pn.pane.Markdown(SURFACE_KEY, visible=self.problem.is_2d, margin=(0, 10)),
                          sizing_mode="stretch_width")
        return pn.Column(
            self.runner.controls(on_run=self.run), self._summary,
            pn.Row(settings, plots, sizing_mode="stretch_width"),
            pn.Row(*self._traces, sizing_mode="stretch_width"),  # page-wide: beside the surface they were squeezed
            pn.Row(self._scatter, self._spectrum, sizing_mode="stretch_width"),  # two per row: none clipped at 1280 px
            self._along, self.export, sizing_mode="stretch_width")


VIEW = ViewSpec(key="critical_points", title="Critical Points", factory=CriticalPointsView, order=30)
