"""The Critical Points view: Newton-MR, damped Newton and GNM runs, flatness, loss-index.

What it shows (issue 4, "What a user gets"):

* Run launches a critical-point finder (``landscape.critical.iter_experiment``)
  from many starting points: sampled as in Frye §3.2.3.2 (an optimizer
  trajectory, uniform in loss, noise on half), uniformly over a 2-D box, or
  clicked on the surface;
* the squared gradient norm (log axis) and the gradient-flatness r of every
  run stream in, coloured by the run's current class: critical (blue,
  ‖∇L‖² < cutoff), gradient-flat (gold, r > 0.9 above the cutoff) or neither
  (black), the colours of Frye's figures;
* a loss-index scatter of the final points, over the analytic critical
  points in grey where the problem knows them (``dlae``);
* on 2-D problems, the gradient-flat residual map (r of the minimum-norm
  Newton step, ``landscape.critical.residual_map``) and the Newton direction
  field over the surface, with the runs' paths: on ``frye-quartic`` the lines
  x = ±√2 and the runs stalled there;
* picking a run highlights its path and shows the Hessian spectrum at its
  final point;
* export: the figure is rebuilt from the stored result Dataset, the data is
  that Dataset as netCDF.

From Python: ``view.run()`` (synchronous outside a server) and ``view.result``.
"""

from __future__ import annotations

import html

import holoviews as hv
import jax.numpy as jnp
import numpy as np
import panel as pn
import param
import xarray as xr

from landscape import critical, curvature, problems
from landscape.problems import Problem, default_dtype

from ..components.export import ExportBar
from ..components.spectrum import SpectrumPanel
from ..components.styles import styled
from ..components.surface import critical_points_element, surface_element, surface_grid
from ..runner import JobRunner, LatestCall
from ..state import AppState, default_problem_name
from . import ViewSpec

#: Frye's colours: blue candidate critical points, gold gradient-flat, black the rest.
CLASS_COLORS = {"critical": "#1f77b4", "gradient-flat": "#d4a017", "neither": "#222222"}
METHOD_LABELS = {
    "Newton-MR (Alg. 13)": "newton-mr",
    "damped Newton (Alg. 11)": "damped-newton",
    "BTLS-GNM (Alg. 2)": "gnm",
    "pseudo-inverse Newton (Alg. 5)": "pinv-newton",
}
#: Points per axis of the residual map.
FIELD_RESOLUTION = 81
#: Floor for ‖∇L‖² on the log axis (exact zeros happen at exact critical points).
GSQ_FLOOR = 1e-32


def current_classes(gsq: np.ndarray, r: np.ndarray, cutoff: float) -> np.ndarray:
    """Class of each run from its latest finite ‖∇L‖² and r (runs, steps)."""
    def last(values):
        finite = np.isfinite(values)
        idx = np.where(finite.any(axis=1), values.shape[1] - 1 - finite[:, ::-1].argmax(axis=1), 0)
        return values[np.arange(len(values)), idx]

    return critical.classify(last(gsq), np.nan_to_num(last(r)), cutoff)


def trace_rows(steps: np.ndarray, values: np.ndarray, classes: np.ndarray, floor: float | None = None) -> list[dict]:
    """``hv.Path`` rows: one polyline per run (NaN steps dropped), with its class."""
    rows = []
    for run, (trace, cls) in enumerate(zip(values, classes)):
        keep = np.isfinite(trace)
        y = np.maximum(trace[keep], floor) if floor is not None else trace[keep]
        rows.append({"step": steps[keep], "value": y, "class": str(cls), "run": run})
    return rows


def traces_element(rows: list[dict], ylabel: str, logy: bool, threshold: float) -> hv.Overlay:
    by_class = hv.Overlay(
        [
            styled(
                hv.Path(
                    [np.column_stack([row["step"], row["value"]]) for row in rows if row["class"] == cls],
                    kdims=["step", hv.Dimension("value", label=ylabel)],
                    label=cls,
                ),
                color=color,
                alpha=0.6,
                bokeh={"line_width": 1.5, "framewise": True},
            )
            for cls, color in CLASS_COLORS.items()
        ]
    )
    line = styled(hv.HLine(threshold), color="red", alpha=0.6, bokeh={"line_dash": "dashed", "framewise": True})
    return styled(by_class * line, logy=logy, show_legend=False,
                  bokeh={"responsive": True, "height": 260, "framewise": True})


def paths_element(data: list[dict]) -> hv.Overlay:
    """Run paths over a 2-D surface, one layer per class (fixed colours)."""
    layers = []
    for cls, color in CLASS_COLORS.items():
        mine = [row for row in data if row["class"] == cls and len(row["xy"])]
        paths = styled(
            hv.Path([row["xy"] for row in mine], kdims=["x", "y"]),
            color=color,
            bokeh={"line_width": 2, "apply_ranges": False},
            matplotlib={"linewidth": 1.5},
        )
        ends = styled(
            hv.Points([row["xy"][-1] for row in mine], kdims=["x", "y"]),
            color=color,
            bokeh={"size": 7, "line_color": "white", "apply_ranges": False},
            matplotlib={"s": 25, "edgecolors": "white"},
        )
        layers += [paths, ends]
    return hv.Overlay(layers)


def residual_elements(field: xr.Dataset, stride: int = 6) -> hv.Overlay:
    """r of the Newton step as a translucent image and the unit Newton directions."""
    image = styled(  # QuadMesh: the axes include the exact gradient-flat coordinates (uneven)
        hv.QuadMesh(
            (field.x.values, field.y.values, field.r.values), kdims=["x", "y"],
            vdims=[hv.Dimension("r", range=(0, 1))],
        ),
        cmap="YlOrBr",
        alpha=0.55,
        bokeh={"tools": ["hover"], "colorbar": True},
    )
    px, py = field.newton_x.values[::stride, ::stride], field.newton_y.values[::stride, ::stride]
    gx, gy = np.meshgrid(field.x.values[::stride], field.y.values[::stride])
    vectors = styled(
        hv.VectorField(
            (gx.ravel(), gy.ravel(), np.arctan2(py, px).ravel(), np.ones(px.size)),
            kdims=["x", "y"], vdims=["angle", "magnitude"],
        ),
        color="#d62728",
        alpha=0.7,
        pivot="tail",
        bokeh={"magnitude": "magnitude", "scale": 0.8, "line_width": 1},
    )
    return image * vectors


def loss_index_element(result: xr.Dataset | None, analytic: xr.Dataset | None) -> hv.Overlay:
    """Final (index, loss) of each run by class over the analytic points in grey."""
    layers = []
    if analytic is not None:
        layers.append(
            styled(
                hv.Points((analytic.index.values, analytic.loss.values), kdims=["index", "loss"], label="analytic"),
                color="#bbbbbb",
                bokeh={"size": 4},
                matplotlib={"s": 6},
            )
        )
    for cls, color in CLASS_COLORS.items():
        if result is None:
            xy = np.zeros((0, 2))
        else:
            mine = result["class"].values == cls
            xy = np.column_stack([result.final_index.values[mine], result.final_loss.values[mine]])
            xy = xy[np.isfinite(xy).all(axis=1)]
        layers.append(
            styled(
                hv.Points(xy, kdims=["index", "loss"], label=cls),
                color=color,
                bokeh={"size": 8, "line_color": "white", "tools": ["hover"]},
                matplotlib={"s": 30, "edgecolors": "white"},
            )
        )
    return styled(hv.Overlay(layers), title="Final points: loss against index", show_legend=True)


def critical_figure(problem: Problem, result: xr.Dataset, field: xr.Dataset | None,
                    grid: xr.Dataset | None, analytic: xr.Dataset | None) -> hv.Layout:
    """The exported figure, from stored data: traces, loss-index and (2-D) the map."""
    classes = result["class"].values
    steps = result.step.values
    panels = [
        styled(traces_element(trace_rows(steps, result.grad_norm_sq.values, classes, GSQ_FLOOR), "‖∇L‖²", True,
                              result.attrs.get("cutoff", critical.CRITICAL_CUTOFF)),
               title="Squared gradient norm"),
        styled(traces_element(trace_rows(steps, result.r.values, classes), "r", False, critical.FLAT_R),
               title="Gradient-flatness r"),
        loss_index_element(result, analytic),
    ]
    if grid is not None and "path" in result:
        rows = [{"xy": p[np.isfinite(p).all(axis=1)], "class": c} for p, c in zip(result.path.values, classes)]
        surface = surface_element(grid) * critical_points_element(problem)
        if field is not None:
            surface = surface * residual_elements(field)
        panels.insert(0, styled(surface * paths_element(rows), title=f"{problem.name}: runs and r"))
    return styled(hv.Layout(panels).cols(2), bokeh={"shared_axes": False}, matplotlib={"fig_inches": 5})


def analytic_points(problem: Problem) -> xr.Dataset | None:
    """The problem's analytic critical points (loss, index), if it has any (``dlae``)."""
    method = getattr(problem, "analytic_critical_points", None)
    return method() if callable(method) else None


class CriticalPointsView(pn.viewable.Viewer):
    """Critical-point finders from many starts, streamed traces, flatness and loss-index."""

    problem = param.ClassSelector(class_=Problem, doc="The problem (follows the sidebar).")
    method = param.Selector(default="newton-mr", objects=list(METHOD_LABELS.values()), doc="Finder.")
    num_runs = param.Integer(default=12, bounds=(1, 500), doc="Runs (sampled starts).")
    steps = param.Integer(default=60, bounds=(1, 100_000), doc="Iterations per run.")
    sampling = param.Selector(default="auto", objects=["auto", "trajectory", "uniform"],
                              doc="Starts: §3.2.3.2 trajectory sampling, the problem's own sampler "
                                  "('uniform', over the box on 2-D surfaces), or auto (uniform on 2-D "
                                  "surfaces, trajectory otherwise).")
    cutoff = param.Number(default=critical.CRITICAL_CUTOFF, bounds=(0, None), doc="Critical if ‖∇L‖² < cutoff.")
    seed = param.Integer(default=0, doc="Seed of the starting points.")
    starts = param.Array(default=np.zeros((0, 2)), doc="Clicked start points (2-D); used instead of sampling.")
    selected = param.Integer(default=-1, doc="Run shown in detail (-1: none).")
    result = param.ClassSelector(class_=xr.Dataset, constant=True, doc="Result of the last run.")

    def __init__(self, state: AppState | None = None, **params):
        if "problem" not in params:
            params["problem"] = state.problem if state is not None else problems.get(default_problem_name())
        super().__init__(**params)
        self.runner = JobRunner()
        self._background = LatestCall()
        self._field_job = LatestCall()
        self._grid: xr.Dataset | None = None
        self._field: xr.Dataset | None = None
        self._chunks: list[dict] = []

        self._gsq_pipe = hv.streams.Pipe(data=[])
        self._r_pipe = hv.streams.Pipe(data=[])
        self._paths_pipe = hv.streams.Pipe(data=[])
        self._starts_pipe = hv.streams.Pipe(data=np.zeros((0, 2)))
        self._selected_pipe = hv.streams.Pipe(data=np.zeros((0, 2)))
        self._field_pipe = hv.streams.Pipe(data=None)

        self.spectra = SpectrumPanel()
        self.export = ExportBar(figure=self.figure, dataset=lambda: self.result)
        self._gsq_plot = pn.pane.HoloViews(
            hv.DynamicMap(self._gsq_element, streams=[self._gsq_pipe]), sizing_mode="stretch_width"
        )
        self._r_plot = pn.pane.HoloViews(
            hv.DynamicMap(self._r_element, streams=[self._r_pipe]), sizing_mode="stretch_width"
        )
        self._scatter = pn.pane.HoloViews(None, sizing_mode="stretch_width")
        self._surface = pn.pane.HoloViews(None, sizing_mode="stretch_width", min_height=460)
        self._summary = pn.pane.Markdown("", sizing_mode="stretch_width")
        self._description = pn.pane.Markdown("", sizing_mode="stretch_width", margin=(0, 10))
        self._notice = pn.pane.Alert("", alert_type="danger", visible=False, sizing_mode="stretch_width")
        self._picker = pn.widgets.Select(label="Run", options={"(run first)": -1}, width=290)
        self._picker.param.watch(lambda event: setattr(self, "selected", event.new), "value")
        self._controls = self.runner.controls(on_run=self.run)
        for job in (self._background, self._field_job):
            job.param.watch(self._show_error, "message")
        if state is not None:
            state.param.watch(lambda event: setattr(self, "problem", event.new), "problem")
        self._load_problem()

    # -- public API --------------------------------------------------------
    def add_start(self, x: float, y: float) -> None:
        """Add a start point on a 2-D surface (what a click does)."""
        self.starts = np.vstack([self.starts.reshape(-1, 2), [[float(x), float(y)]]])

    def clear_starts(self) -> None:
        self.starts = np.zeros((0, 2))

    def run(self) -> None:
        """Launch the finder from the clicked or sampled starts (streams into the plots)."""
        problem, method = self.problem, critical.Method(self.method, index_every=10**9)
        sampling = self.sampling
        if sampling == "auto":
            sampling = "uniform" if problem.is_2d else "trajectory"
        starts = (
            jnp.asarray(self.starts, dtype=default_dtype()) if problem.is_2d and len(self.starts) else sampling
        )
        steps, runs, seed, cutoff = self.steps, self.num_runs, self.seed, self.cutoff
        chunk = max(1, min(25, steps // 10 or 1))
        self._chunks = []
        for pipe in (self._gsq_pipe, self._r_pipe, self._paths_pipe):
            pipe.send([])
        self._selected_pipe.send(np.zeros((0, 2)))
        self._scatter.object = loss_index_element(None, analytic_points(problem)).opts(
            responsive=True, height=320, backend="bokeh"
        )
        self.runner.start(
            lambda cancel: critical.iter_experiment(
                problem, method, num_runs=runs, seed=seed, starts=starts, num_steps=steps, chunk=chunk,
                cutoff=cutoff, cancel=cancel,
            ),
            self._on_chunk,
            self._on_result,
        )

    def figure(self) -> hv.Layout:
        """The current picture rebuilt from the stored result (what export saves)."""
        if self.result is None:
            raise ValueError("Run first: there is nothing to export yet")
        return critical_figure(self.problem, self.result, self._field, self._grid, analytic_points(self.problem))

    # -- streaming -----------------------------------------------------------
    def _on_chunk(self, event) -> None:
        self._chunks.append(event.data)
        steps = np.concatenate([c["step"] for c in self._chunks])
        gsq = np.concatenate([c["grad_norm_sq"] for c in self._chunks], axis=1)
        r = np.concatenate([c["r"] for c in self._chunks], axis=1)
        classes = current_classes(gsq, r, self.cutoff)
        self._gsq_pipe.send(trace_rows(steps, gsq, classes, GSQ_FLOOR))
        self._r_pipe.send(trace_rows(steps, r, classes))
        if "path" in self._chunks[0] and self.problem.is_2d:
            path = np.concatenate([c["path"] for c in self._chunks], axis=1)
            self._paths_pipe.send(
                [{"xy": p[np.isfinite(p).all(axis=1)], "class": c} for p, c in zip(path, classes)]
            )

    def _on_result(self, result: xr.Dataset) -> None:
        with param.edit_constant(self):
            self.result = result
        classes = result["class"].values
        steps = result.step.values
        self._gsq_pipe.send(trace_rows(steps, result.grad_norm_sq.values, classes, GSQ_FLOOR))
        self._r_pipe.send(trace_rows(steps, result.r.values, classes))
        if "path" in result and self.problem.is_2d:
            self._paths_pipe.send(
                [{"xy": p[np.isfinite(p).all(axis=1)], "class": c} for p, c in zip(result.path.values, classes)]
            )
        self._scatter.object = loss_index_element(result, analytic_points(self.problem)).opts(
            responsive=True, height=320, backend="bokeh"
        )
        self._summary.object = self._summary_markdown(result)
        self._picker.options = {
            f"run {run}: {cls}, ‖∇L‖² = {gsq:.2e}, max r = {mr:.2f}": run
            for run, (cls, gsq, mr) in enumerate(
                zip(classes, result.final_grad_norm_sq.values, result.max_r.values)
            )
        }
        self.export.refresh(f"{self.problem.name}-{self.method}")
        if self._picker.value == 0:
            self._show_selected()
        self._picker.value = 0

    @staticmethod
    def _summary_markdown(result: xr.Dataset) -> str:
        counts = {cls: int((result["class"].values == cls).sum()) for cls in critical.CLASSES}
        runs = result.sizes["run"]
        met_flat = int((result.max_r.values > critical.FLAT_R).sum())
        cells = " | ".join(
            f'<span style="color:{CLASS_COLORS[c]}">■</span> {c}: **{n}** ({n / runs:.0%})' for c, n in counts.items()
        )
        status = " (cancelled)" if result.attrs.get("status") == "cancelled" else ""
        return f"{runs} runs{status}: {cells} | met r > 0.9: **{met_flat}** ({met_flat / runs:.0%})"

    # -- plots ----------------------------------------------------------------
    def _gsq_element(self, data):
        return styled(traces_element(data, "‖∇L‖²", True, self.cutoff), title="Squared gradient norm (log)")

    def _r_element(self, data):
        return styled(traces_element(data, "r", False, critical.FLAT_R), title="Gradient-flatness r",
                      ylim=(-0.02, 1.02))

    def _surface_plot(self, problem: Problem, grid: xr.Dataset):
        base = surface_element(grid) * critical_points_element(problem)

        def field_layer(data):
            if data is None:
                return hv.Overlay([hv.QuadMesh((np.arange(2.0), np.arange(2.0), np.full((2, 2), np.nan)))])
            return residual_elements(data)

        def starts_layer(data):
            return styled(hv.Points(np.asarray(data).reshape(-1, 2), kdims=["x", "y"]), color="white",
                          bokeh={"size": 9, "line_color": "black", "apply_ranges": False})

        def selected_layer(data):
            return styled(hv.Path([data], kdims=["x", "y"]), color="red",
                          bokeh={"line_width": 5, "alpha": 0.6, "apply_ranges": False})

        plot = (
            base
            * hv.DynamicMap(field_layer, streams=[self._field_pipe])
            * hv.DynamicMap(selected_layer, streams=[self._selected_pipe])
            * hv.DynamicMap(paths_element, streams=[self._paths_pipe])
            * hv.DynamicMap(starts_layer, streams=[self._starts_pipe])
        )
        (x0, x1), (y0, y1) = problem.bounds
        plot = plot.opts(xlim=(x0, x1), ylim=(y0, y1), responsive=True, min_height=460, show_legend=False,
                         title="r of the Newton step (orange), Newton directions (red), runs; click to add starts",
                         backend="bokeh")
        tap = hv.streams.SingleTap(source=base.Image.I, transient=True)
        tap.add_subscriber(lambda x=None, y=None: None if x is None or y is None else self.add_start(x, y))
        return plot

    # -- reactions -------------------------------------------------------------
    @param.depends("problem", watch=True)
    def _load_problem(self) -> None:
        self.runner.cancel()
        with param.edit_constant(self):
            self.result = None
        self.starts = np.zeros((0, 2))
        self._picker.options = {"(run first)": -1}
        self.export.available = False
        self._summary.object = ""
        for pipe in (self._gsq_pipe, self._r_pipe, self._paths_pipe):
            pipe.send([])
        problem = self.problem
        self._description.object = (
            f"**{html.escape(problem.name)}** ({problem.dim} parameters). {problem.description}"
        )
        self._scatter.object = loss_index_element(None, analytic_points(problem)).opts(
            responsive=True, height=320, backend="bokeh"
        )
        self._field = None
        self._field_pipe.send(None)
        if not problem.is_2d:
            self._grid = None
            self._surface.visible = False
            return
        self._grid = surface_grid(problem)
        self._surface.object = self._surface_plot(problem, self._grid)
        self._surface.visible = True
        self._field_job.submit(
            lambda: (problem, critical.residual_map(problem, FIELD_RESOLUTION)),
            lambda answer: self._show_field(*answer),
        )

    def _show_field(self, problem: Problem, field: xr.Dataset) -> None:
        if problem is self.problem:  # not a late answer for a previous problem
            self._field = field
            self._field_pipe.send(field)

    @param.depends("starts", watch=True)
    def _send_starts(self) -> None:
        self._starts_pipe.send(self.starts.reshape(-1, 2))

    @param.depends("selected", watch=True)
    def _show_selected(self) -> None:
        result, run = self.result, self.selected
        if result is None or not 0 <= run < result.sizes["run"]:
            self._selected_pipe.send(np.zeros((0, 2)))
            return
        theta, loss = result.theta.values[run], self.problem.loss
        if "path" in result:  # small problems: the path and the eigenvalues along it
            finite = np.isfinite(result.path.values[run]).all(axis=1)
            path, steps = result.path.values[run][finite], result.step.values[finite]
            if self.problem.is_2d:
                self._selected_pipe.send(path)
            self._background.submit(
                lambda: (np.asarray(curvature.eigenvalues_along(loss, jnp.asarray(path, dtype=default_dtype()))),
                         np.asarray(curvature.spectrum(loss, jnp.asarray(theta, dtype=default_dtype()))[0])),
                lambda out: (self.spectra.show_along(steps, out[0], f"Hessian eigenvalues along run {run}"),
                             self.spectra.show_point(theta, out[1])),
            )
            return
        self._background.submit(
            lambda: np.asarray(curvature.spectrum(loss, jnp.asarray(theta, dtype=default_dtype()))[0]),
            lambda evals: self.spectra.show_point(theta, evals),
        )

    def _show_error(self, event) -> None:
        self._notice.object = event.new
        self._notice.visible = bool(event.new)

    def __panel__(self):
        clear_button = pn.widgets.Button(label="Clear clicked starts", width=170)
        clear_button.on_click(lambda _event: self.clear_starts())
        method = pn.widgets.Select(label="Method", options=METHOD_LABELS, value=self.method, width=290)
        method.link(self, value="method")
        settings = pn.Column(
            method,
            pn.widgets.IntInput.from_param(self.param.num_runs, label="Runs", width=140),
            pn.widgets.IntInput.from_param(self.param.steps, label="Iterations", width=140),
            pn.widgets.Select.from_param(self.param.sampling, label="Starting points", width=290),
            pn.widgets.FloatInput.from_param(self.param.cutoff, label="Critical cutoff on ‖∇L‖²", width=200),
            pn.widgets.IntInput.from_param(self.param.seed, label="Seed", width=140),
            clear_button,
            self._picker,
            width=320,
        )
        plots = pn.Column(
            self._surface,
            pn.Row(self._gsq_plot, self._r_plot, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
        return pn.Column(
            self._description,
            self._notice,
            self._controls,
            self._summary,
            pn.Row(settings, plots, sizing_mode="stretch_width"),
            pn.Row(self._scatter, self.spectra, sizing_mode="stretch_width"),
            self.export,
            sizing_mode="stretch_width",
        )


VIEW = ViewSpec(key="critical_points", title="Critical Points", factory=CriticalPointsView, order=30)
