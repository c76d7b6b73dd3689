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

from landscape import analysis, critical, curvature, problems
from landscape.problems import Problem, default_dtype

from ..components.export import ExportBar
from ..components.spectrum import along_element
from ..components.surface import surface_grid
from ..components.text import set_text, text_pane
from ..figures import critical_points as fig
from ..runner import JobRunner, LatestCall
from ..state import AppState, default_problem_name
from . import ViewSpec

METHOD_LABELS = {"Newton-MR (Alg. 13)": "newton-mr", "damped Newton (Alg. 11)": "damped-newton",
                 "BTLS-GNM (Alg. 2)": "gnm", "pseudo-inverse Newton (Alg. 5)": "pinv-newton"}
#: Points per axis of the residual map.
FIELD_RESOLUTION = 81


def _pane(obj, **params) -> pn.pane.HoloViews:
    """A HoloViews pane whose axes are its own (Panel links equal axis names across panes by default)."""
    return pn.pane.HoloViews(obj, linked_axes=False, sizing_mode="stretch_width", **params)


class CriticalPointsView(pn.viewable.Viewer):
    """Critical-point finders from many starts, streamed traces, flatness and loss-index."""

    problem = param.ClassSelector(class_=Problem, doc="The problem (follows the sidebar).")
    method = param.Selector(default="newton-mr", objects=list(METHOD_LABELS.values()), doc="Finder.")
    num_runs = param.Integer(default=12, bounds=(1, 500), doc="Runs (sampled starts).")
    steps = param.Integer(default=60, bounds=(1, 100_000), doc="Iterations per run.")
    sampling = param.Selector(default="auto", objects=["auto", "trajectory", "uniform"], doc=(
        "Starts: §3.2.3.2 trajectory sampling, the problem's own sampler, or auto (uniform on 2-D surfaces)."))
    cutoff = param.Number(default=critical.CRITICAL_CUTOFF, bounds=(0, None), doc="Critical if ‖∇L‖² < cutoff.")
    seed = param.Integer(default=0, doc="Seed of the starting points.")
    starts = param.Array(default=np.zeros((0, 2)), doc="Chosen starts (clicked or handed over); used instead of sampling.")
    selected = param.Integer(default=-1, doc="Run shown in detail (-1: none).")
    result = param.ClassSelector(class_=xr.Dataset, constant=True, doc="Result of the last run.")
    analysis = param.ClassSelector(class_=xr.Dataset, constant=True, doc="Analysis of the selected or handed-over point.")

    def __init__(self, state: AppState | None = None, **params):
        if "problem" not in params:
            params["problem"] = state.problem if state is not None else problems.get(default_problem_name())
        super().__init__(**params)
        self.state = state
        self.runner, self.background, self._setup = JobRunner(), LatestCall(), LatestCall()
        self.grid = self.field = self.analytic = None
        self._result_pipe, self._analysis_pipe = hv.streams.Pipe(data=None), hv.streams.Pipe(data=None)
        self._analytic_pipe = hv.streams.Pipe(data=None).rename(data="analytic")
        self._along = _pane(along_element(np.zeros(0), np.zeros((0, 0)), "Select a run: eigenvalues along it"))
        self._field_pipe, self._starts_pipe = hv.streams.Pipe(data=None), hv.streams.Pipe(data=np.zeros((0, 2)))
        self._selected_stream = hv.streams.Params(parameterized=self, parameters=["selected"])
        self._traces = [_pane(hv.DynamicMap(lambda data, v=v, t=t: fig.traces(data, v, t()).opts(
            responsive=True, height=260, backend="bokeh"), streams=[self._result_pipe]))
            for v, t in (("grad_norm_sq", lambda: self.cutoff), ("r", lambda: critical.FLAT_R))]
        self._scatter = _pane(hv.DynamicMap(lambda data, analytic: fig.loss_index(data, analytic).opts(
            responsive=True, height=320, backend="bokeh"), streams=[self._result_pipe, self._analytic_pipe]))
        self._spectrum = _pane(hv.DynamicMap(lambda data: fig.point_spectrum(data).opts(
            responsive=True, height=260, backend="bokeh"), streams=[self._analysis_pipe]))
        self._surface = _pane(None, min_height=460)
        self._description, self._summary = text_pane(margin=(0, 10)), text_pane()
        self._notice = pn.pane.Alert("", alert_type="danger", visible=False, sizing_mode="stretch_width")
        self._picker = pn.widgets.Select(label="Run", options={"(run first)": -1}, width=290)
        self._picker.param.watch(lambda event: self.select(event.new), "value")
        self.export = ExportBar(figure=self.figure, dataset=lambda: self.result)
        for job in (self.background, self._setup):
            job.param.watch(self._show_error, "message")
        if state is not None:
            state.param.watch(lambda event: setattr(self, "problem", event.new), "problem")
            state.param.watch(lambda event: self._take_focus(event.new), "focus")
        self._load_problem()
        if state is not None:
            self._take_focus(state.focus)

    # -- public API --------------------------------------------------------
    def add_start(self, *theta: float) -> None:
        """Add a start point (what a click on the surface does)."""
        self.starts = np.vstack([self.starts.reshape(-1, self.problem.dim), np.asarray(theta, float)])

    def clear_starts(self) -> None:
        self.starts = np.zeros((0, self.problem.dim))

    def run(self) -> None:
        """Launch the finder from the chosen or sampled starts (streams into the plots)."""
        problem, sampling = self.problem, self.sampling
        if sampling == "auto":
            sampling = "uniform" if problem.is_2d else "trajectory"
        starts = np.asarray(self.starts, dtype=default_dtype()) if len(self.starts) else sampling
        method, cutoff = critical.Method(self.method, index_every=10**9), self.cutoff
        options = dict(num_runs=self.num_runs, seed=self.seed, starts=starts, num_steps=self.steps,
                       chunk=max(1, min(25, self.steps // 10 or 1)), cutoff=cutoff)
        self._result_pipe.send(None)
        self.runner.start(lambda cancel: critical.iter_experiment(problem, method, cancel=cancel, **options),
                          self._on_event, self._on_result)

    def select(self, run: int) -> None:
        """Show run ``run`` in detail: its path, the eigenvalues along it, the analysis of its end."""
        if self.selected == int(run):
            self.param.trigger("selected")
        self.selected = int(run)

    def figure(self) -> hv.Layout:
        """The current picture rebuilt from the stored result (what export saves)."""
        if self.result is None:
            raise ValueError("Run first: there is nothing to export yet")
        return fig.critical_figure(self.result, problem=self.problem, grid=self.grid, field=self.field,
                                   analytic=self.analytic, selected=self.selected)

    # -- streaming -----------------------------------------------------------
    def _on_event(self, event) -> None:
        if getattr(event, "partial", None) is not None:
            self._result_pipe.send(event.partial)

    def _on_result(self, result: xr.Dataset) -> None:
        with param.edit_constant(self):
            self.result = result
        self._result_pipe.send(result)
        counts, runs = fig.summary(result), result.sizes["run"]
        status = " (cancelled)" if result.attrs.get("status") == "cancelled" else ""
        set_text(self._summary, f"{runs} runs{status}: " + ", ".join(f"{k}: {n} ({n / runs:.0%})"
                                                                      for k, n in counts.items()))
        self._picker.options = {"(choose a run)": -1} | {
            f"run {run}: {cls}, ‖∇L‖² = {gsq:.2e}, max r = {mr:.2f}": run for run, (cls, gsq, mr)
            in enumerate(zip(result["class"].values, result.final_grad_norm_sq.values, result.max_r.values))}
        self.export.refresh(f"{self.problem.name}-{self.method}")
        self._picker.value = self.selected = -1

    # -- reactions -------------------------------------------------------------
    @param.depends("problem", watch=True)
    def _load_problem(self) -> None:
        self.runner.cancel()
        with param.edit_constant(self):
            self.result = self.analysis = None
        problem = self.problem
        self.grid = self.field = self.analytic = None
        self.starts, self.selected = np.zeros((0, problem.dim)), -1
        self._picker.options = {"(run first)": -1}
        self.export.available = False
        set_text(self._summary, "")
        set_text(self._description, f" ({problem.dim} parameters). {problem.description}", strong=problem.name)
        for pipe in (self._result_pipe, self._analysis_pipe, self._field_pipe):
            pipe.send(None)
        self._analytic_pipe.send(None)
        self._surface.visible = problem.is_2d
        self._surface.object = None

        def setup():
            method = getattr(problem, "analytic_critical_points", None)
            return surface_grid(problem) if problem.is_2d else None, method() if callable(method) else None

        set_text(self._summary, "Compiling the surface…" if problem.is_2d else "")
        self._setup.submit(setup, lambda answer: self._show_setup(problem, *answer))

    def _show_setup(self, problem: Problem, grid, analytic) -> None:
        if problem is not self.problem:  # a late answer for a previous problem
            return
        self.grid, self.analytic = grid, analytic
        self._analytic_pipe.send(analytic)
        set_text(self._summary, "")
        if grid is None:
            return
        self._surface.object = self._surface_plot(problem, grid)
        self._setup.submit(lambda: critical.residual_map(problem, FIELD_RESOLUTION),
                           lambda field: self._show_field(problem, field))

    def _show_field(self, problem: Problem, field: xr.Dataset) -> None:
        if problem is self.problem:
            self.field = field
            self._field_pipe.send(field)

    def _surface_plot(self, problem: Problem, grid: xr.Dataset) -> hv.Overlay:
        base = fig.surface_base(problem, grid)
        plot = (base * hv.DynamicMap(lambda data: fig.residual_layer(data), streams=[self._field_pipe])
                * hv.DynamicMap(lambda data, selected: fig.run_paths(data, selected),
                                streams=[self._result_pipe, self._selected_stream])
                * hv.DynamicMap(lambda data: fig.starts_layer(data), streams=[self._starts_pipe]))
        (x0, x1), (y0, y1) = problem.bounds
        tap = hv.streams.SingleTap(source=base.Image.I, transient=True)
        tap.add_subscriber(lambda x=None, y=None: None if x is None or y is None else self.add_start(x, y))
        return plot.opts(xlim=(x0, x1), ylim=(y0, y1), responsive=True, min_height=460, show_legend=False,
                         title="Runs over r of the Newton step (orange) and Newton directions (red); "
                               "click to add starts", backend="bokeh")

    @param.depends("starts", watch=True)
    def _send_starts(self) -> None:
        self._starts_pipe.send(self.starts[:, :2] if self.problem.is_2d else np.zeros((0, 2)))

    def _take_focus(self, focus) -> None:
        """A point handed over by another view: analyse it and run Newton-MR from it."""
        if not focus or focus.get("target") != "critical_points" or len(focus["theta"]) != self.problem.dim:
            return
        self.starts = focus["theta"][None]
        self._analyse(focus["theta"], focus["source"])
        if not self.runner.running:
            self.method = "newton-mr"
            self.run()

    def _analyse(self, theta: np.ndarray, source: str) -> None:
        problem = self.problem

        def show(result: xr.Dataset) -> None:
            with param.edit_constant(self):
                self.analysis = result
            self._analysis_pipe.send(result)

        self.background.submit(lambda: analysis.analyse_point(problem, theta, source=source), show)

    @param.depends("selected", watch=True)
    def _show_selected(self) -> None:
        result, run = self.result, self.selected
        if result is None or not 0 <= run < result.sizes["run"]:
            return
        theta, loss = result.theta.values[run], self.problem.loss
        self._analyse(theta, f"run {run}")
        if "path" in result:
            path = result.path.values[run]
            path = path[np.isfinite(path).all(axis=1)]
            steps = result.step.values[: len(path)]
            self._setup.submit(lambda: np.asarray(curvature.eigenvalues_along(loss, np.asarray(path))),
                               lambda values: setattr(self._along, "object", along_element(
                                   steps, values, f"Hessian eigenvalues along run {run}").opts(
                                   responsive=True, height=260, backend="bokeh")))

    def _show_error(self, event) -> None:
        self._notice.object = event.new
        self._notice.visible = bool(event.new)

    def __panel__(self):
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
        plots = pn.Column(self._surface, pn.Row(*self._traces, sizing_mode="stretch_width"),
                          sizing_mode="stretch_width")
        return pn.Column(
            self._description, self._notice, self.runner.controls(on_run=self.run), self._summary,
            pn.Row(settings, plots, sizing_mode="stretch_width"),
            pn.Row(self._scatter, self._spectrum, self._along, sizing_mode="stretch_width"),
            self.export, sizing_mode="stretch_width")


VIEW = ViewSpec(key="critical_points", title="Critical Points", factory=CriticalPointsView, order=30)
