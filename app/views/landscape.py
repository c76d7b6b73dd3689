"""The Landscape view: a 2-D loss surface, click-to-start optimizer runs, spectra.

What it shows (issue 2, "What a user gets"):

* the surface ``L(x, y)`` over the problem's view box as a heatmap with
  contours and the known critical points (:mod:`app.components.surface`);
* clicking the plot drops a start point *and* shows the Hessian spectrum
  there (``landscape.curvature.spectrum``);
* Run launches every chosen optimizer from every start
  (``landscape.trajectories.iter_trajectories``, one compiled scan per chunk)
  through a :class:`app.runner.JobRunner`; chunks stream into the plot (a
  few redraws a second, straight into Bokeh data sources through
  :class:`app.components.live.LivePaths`) while the axes keep their range and
  the user's zoom;
* picking a trajectory highlights it and plots the Hessian eigenvalues along
  it (``landscape.curvature.eigenvalues_along``);
* export: the figure (PNG/SVG/PDF via matplotlib, standalone HTML via Bokeh)
  is rebuilt from the stored surface grid and trajectory Dataset, the data is
  the trajectory Dataset as netCDF.

Problems without a 2-D view box (networks) get a message pointing to the
2-D slice tools instead of a plot.  From Python the view is driven without a
server: ``view.add_start(x, y)``, ``view.run()`` (synchronous outside a
server) and ``view.result``.
"""

from __future__ import annotations

import html

import holoviews as hv
import jax.numpy as jnp
import numpy as np
import panel as pn
import param
import xarray as xr

from landscape import curvature, problems, trajectories
from landscape.problems import Problem, default_dtype

from ..components.export import ExportBar
from ..components.live import LivePaths
from ..components.spectrum import SpectrumPanel
from ..components.styles import color_map, styled
from ..components.surface import critical_points_element, surface_element, surface_grid
from ..runner import JobRunner, LatestCall, Throttle
from ..state import AppState, default_problem_name
from . import ViewSpec

#: One stable colour per optimizer, shared by the live plot, the legend and exports.
OPTIMIZER_COLORS = color_map(trajectories.OPTIMIZERS)
#: Most points per path sent to the browser while streaming (exports use all).
LIVE_POINTS = 500
#: Most steps of a selected run at which the Hessian spectrum is computed and drawn.
ALONG_POINTS = 1000


def thinned(n: int, max_points: int | None) -> np.ndarray:
    """Indices ``0, k, 2k, …`` and ``n − 1``: at most about ``max_points`` of ``n`` points."""
    if max_points is None or n <= max_points:
        return np.arange(n)
    stride = -(-n // max_points)
    return np.unique(np.r_[np.arange(0, n - 1, stride), n - 1])


def path_data(theta: np.ndarray, optimizer_of_run: list[str], max_points: int | None = None) -> list[dict]:
    """Rows of ``hv.Path`` data: one ``(x, y)`` polyline per run, NaN steps dropped.

    With ``max_points``, longer paths keep every k-th point (and the last), so
    what a streamed update sends to the browser stays bounded.
    """
    rows = []
    for run, name in enumerate(optimizer_of_run):
        xy = theta[run, :, :2]
        xy = xy[np.isfinite(xy).all(axis=1)]
        xy = xy[thinned(len(xy), max_points)]
        rows.append({"x": xy[:, 0], "y": xy[:, 1], "optimizer": name, "run": run, "color": OPTIMIZER_COLORS[name]})
    return rows


def optimizer_layer(rows: list[dict], name: str) -> hv.Overlay:
    """The paths of optimizer ``name`` and their end points, in its colour (exported figures)."""
    mine = [row for row in rows if row["optimizer"] == name]
    color = OPTIMIZER_COLORS[name]
    paths = styled(
        hv.Path([np.column_stack([row["x"], row["y"]]) for row in mine], kdims=["x", "y"], label=name),
        color=color,
        bokeh={"line_width": 2.5, "apply_ranges": False},
        matplotlib={"linewidth": 2},
    )
    heads = styled(
        hv.Points([(row["x"][-1], row["y"][-1]) for row in mine if len(row["x"])], kdims=["x", "y"]),
        color=color,
        bokeh={"size": 8, "line_color": "white", "apply_ranges": False},
        matplotlib={"s": 30, "edgecolors": "white"},
    )
    return paths * heads


def starts_element(starts: np.ndarray) -> hv.Points:
    return styled(
        hv.Points(np.asarray(starts).reshape(-1, 2), kdims=["x", "y"]),
        color="white",
        bokeh={"size": 10, "line_color": "black", "marker": "circle", "apply_ranges": False},
        matplotlib={"s": 50, "edgecolors": "black", "marker": "o"},
    )


def selected_element(xy: np.ndarray) -> hv.Path:
    return styled(
        hv.Path([xy], kdims=["x", "y"]),
        color="red",
        bokeh={"line_width": 5, "alpha": 0.6, "apply_ranges": False},
        matplotlib={"linewidth": 4, "alpha": 0.6},
    )


def landscape_figure(grid: xr.Dataset, problem: Problem, result: xr.Dataset | None) -> hv.Overlay:
    """The exported figure: surface, critical points, starts and trajectories from stored data."""
    overlay = surface_element(grid) * critical_points_element(problem)
    if result is not None:
        theta = result.theta.values
        overlay = overlay * starts_element(theta[:, 0, :])
        rows = path_data(theta, list(result.optimizer.values))
        for name in dict.fromkeys(result.optimizer.values):
            overlay = overlay * optimizer_layer(rows, name)
    (x0, x1), (y0, y1) = problem.bounds
    return styled(
        overlay,
        title=f"{problem.name}: optimizer trajectories",
        xlim=(x0, x1),
        ylim=(y0, y1),
        bokeh={"width": 700, "height": 600},
        matplotlib={"fig_inches": 6, "aspect": 1.15},
    )


class LandscapeView(pn.viewable.Viewer):
    """Surface, click-to-start optimizer runs with live trajectories, and spectra."""

    problem = param.ClassSelector(class_=Problem, doc="The surface shown (follows the sidebar).")
    optimizers = param.ListSelector(
        default=["gd", "heavy-ball", "adam"], objects=list(trajectories.OPTIMIZERS), doc="Optimizers to run."
    )
    hparams = param.Dict(default={}, doc="Per optimizer: hyperparameters that override the defaults.")
    steps = param.Integer(default=300, bounds=(1, 1_000_000), doc="Optimizer steps per run.")
    chunk = param.Integer(default=25, bounds=(1, 1000), doc="Steps per streamed chunk.")
    starts = param.Array(default=np.zeros((0, 2)), doc="Start points (n, 2), added by clicking.")
    selected = param.Integer(default=-1, doc="Run whose eigenvalues are shown (-1: none).")
    result = param.ClassSelector(class_=xr.Dataset, constant=True, doc="Trajectories of the last run.")

    def __init__(self, state: AppState | None = None, **params):
        if "problem" not in params:
            params["problem"] = state.problem if state is not None else problems.get(default_problem_name())
        super().__init__(**params)
        self.runner = JobRunner()
        self._background = LatestCall()
        self._grid: xr.Dataset | None = None
        self._theta_chunks: list[np.ndarray] = []
        self._redraw = Throttle(0.5)
        self._run_optimizers: list[str] = []
        self._run_labels: list[str] = []

        self._starts_pipe = hv.streams.Pipe(data=np.zeros((0, 2)))
        self._live = LivePaths()
        self._selected_pipe = hv.streams.Pipe(data=np.zeros((0, 2)))
        self._tap: hv.streams.SingleTap | None = None

        self.spectra = SpectrumPanel()
        self.export = ExportBar(figure=self.figure, dataset=lambda: self.result)
        self._plot = pn.pane.HoloViews(None, sizing_mode="stretch_width", min_height=480)
        # shown/hidden as a whole: toggling the HoloViews pane's own `visible`
        # fails in Panel 1.9 (TypeError on the Bokeh model's stylesheets)
        self._plot_area = pn.Column(self._plot, sizing_mode="stretch_width")
        self._notice = pn.pane.Alert("", alert_type="info", visible=False, sizing_mode="stretch_width")
        self._description = pn.pane.HTML("", sizing_mode="stretch_width", margin=(0, 10))
        self._legend = pn.pane.HTML("", margin=(0, 10))
        self._picker = pn.widgets.Select(label="Trajectory", options={"(run first)": -1}, width=290)
        self._picker.param.watch(lambda event: setattr(self, "selected", event.new), "value")
        self._hp_rows = self._hyperparameter_rows()
        self._controls = self.runner.controls(on_run=self.run)
        self._background.param.watch(self._show_error, "message")
        if state is not None:
            state.param.watch(lambda event: setattr(self, "problem", event.new), "problem")
        self._load_problem()
        self._show_hyperparameters()

    # -- public API --------------------------------------------------------
    def add_start(self, x: float, y: float) -> None:
        """Add a start point (what a click on the plot does)."""
        self.starts = np.vstack([self.starts.reshape(-1, 2), [[float(x), float(y)]]])

    def clear_starts(self) -> None:
        self.starts = np.zeros((0, 2))

    def random_starts(self, n: int = 4, seed: int | None = None) -> None:
        """Add ``n`` start points drawn uniformly from the problem's view box."""
        if not self.problem.is_2d:
            raise ValueError(f"{self.problem.name} is not a 2-D surface; pick one in the sidebar")
        rng = np.random.default_rng(seed)
        box = np.asarray(self.problem.bounds, dtype=float)
        points = rng.uniform(box[:, 0], box[:, 1], size=(n, 2))
        self.starts = np.vstack([self.starts.reshape(-1, 2), points])

    def requested_optimizers(self) -> list[tuple[str, dict[str, float]]]:
        """``(name, hparams)`` for each chosen optimizer, validated by the engine."""
        return trajectories.resolve([(name, self.hparams.get(name, {})) for name in self.optimizers])

    def run(self) -> None:
        """Start the optimizer runs from all start points (streams into the plot)."""
        if not self.problem.is_2d:
            raise ValueError(f"{self.problem.name} is not a 2-D surface; the Landscape view cannot run it")
        if len(self.starts) == 0:
            raise ValueError("Click the surface (or press 'Random starts') to drop start points first")
        requested = self.requested_optimizers()
        if not requested:
            raise ValueError("Pick at least one optimizer")
        problem, starts = self.problem, jnp.asarray(self.starts, dtype=default_dtype())
        steps, chunk = self.steps, self.chunk
        self._theta_chunks = []
        self._redraw = Throttle(0.5)
        self._run_optimizers = [name for name, _ in requested for _ in range(len(starts))]
        self._run_labels = [
            f"{trajectories.label(name, hp)} from ({x:.2f}, {y:.2f})" for name, hp in requested for x, y in self.starts
        ]
        self._live.show([])
        self._selected_pipe.send(np.zeros((0, 2)))
        self._legend.object = self._legend_html(requested)
        self.runner.start(
            lambda cancel: trajectories.iter_trajectories(problem, starts, requested, steps, chunk, cancel),
            self._on_chunk,
            self._on_result,
        )

    def figure(self) -> hv.Overlay:
        """The current picture rebuilt from stored data (what the export buttons save)."""
        if self._grid is None:
            raise ValueError(f"{self.problem.name} has no 2-D picture to export")
        return landscape_figure(self._grid, self.problem, self.result)

    # -- streaming -----------------------------------------------------------
    def _on_chunk(self, event) -> None:
        self._theta_chunks.append(event.data["theta"])
        if self._redraw.ready():
            theta = np.concatenate(self._theta_chunks, axis=1)
            self._theta_chunks = [theta]
            self._live.show(path_data(theta, self._run_optimizers, LIVE_POINTS))

    def _on_result(self, result: xr.Dataset) -> None:
        with param.edit_constant(self):
            self.result = result
        self._live.show(path_data(result.theta.values, list(result.optimizer.values), LIVE_POINTS))
        options = {}
        for run, text in enumerate(self._run_labels):
            stop = int(result.stop_step.values[run])
            options[f"{text}, diverged at step {stop}" if result.diverged.values[run] else text] = run
        self._picker.options = options
        self.export.refresh(f"{self.problem.name}-trajectories")
        if self._picker.value == 0:
            self._show_selected()
        self._picker.value = 0

    # -- reactions -------------------------------------------------------------
    @param.depends("problem", watch=True)
    def _load_problem(self) -> None:
        self.runner.cancel()
        with param.edit_constant(self):
            self.result = None
        self.starts = np.zeros((0, 2))
        self._picker.options = {"(run first)": -1}
        self.export.available = False
        self._legend.object = ""
        problem = self.problem
        # plain text in HTML: descriptions hold formulas whose * and ** Markdown would eat
        self._description.object = (
            f"<b>{html.escape(problem.name)}</b> ({problem.dim} parameters). {html.escape(problem.description)}"
        )
        if not problem.is_2d:
            self._grid = None
            self._plot_area.visible = False
            self._notice.object = (
                f"**{problem.name}** has {problem.dim} parameters, so it has no 2-D picture here. "
                "Pick a 2-D surface in the sidebar, or look at it through 2-D slices "
                "(filter-normalised, Hessian or PCA directions; `landscape.slices`)."
            )
            self._notice.visible = True
            return
        self._notice.visible = False
        self._plot_area.visible = True
        self._grid = surface_grid(problem)
        self._plot.object = self._live_plot(problem, self._grid)

    def _live_plot(self, problem: Problem, grid: xr.Dataset) -> hv.Overlay:
        base = surface_element(grid) * critical_points_element(problem)
        starts = hv.DynamicMap(lambda data: starts_element(data), streams=[self._starts_pipe])
        chosen = hv.DynamicMap(lambda data: selected_element(data), streams=[self._selected_pipe])
        (x0, x1), (y0, y1) = problem.bounds
        self._live.forget_figures()
        plot = (base * chosen * starts).opts(
            xlim=(x0, x1),
            ylim=(y0, y1),
            responsive=True,
            min_height=480,
            active_tools=["wheel_zoom"],
            show_legend=False,
            hooks=[self._live.hook],
            title="Click to drop start points; the spectrum at the click appears below",
            backend="bokeh",
        )
        self._tap = hv.streams.SingleTap(source=base.Image.I, transient=True)
        self._tap.add_subscriber(self._on_tap)
        return plot

    @param.depends("starts", watch=True)
    def _send_starts(self) -> None:
        self._starts_pipe.send(self.starts.reshape(-1, 2))

    def _on_tap(self, x=None, y=None) -> None:
        if x is None or y is None or not self.problem.is_2d:
            return
        self.add_start(x, y)
        loss, point = self.problem.loss, np.array([x, y])
        self._background.submit(
            lambda: np.asarray(curvature.spectrum(loss, jnp.asarray(point, dtype=default_dtype()))[0]),
            lambda evals: self.spectra.show_point(point, evals),
        )

    @param.depends("selected", watch=True)
    def _show_selected(self) -> None:
        result, run = self.result, self.selected
        if result is None or not 0 <= run < result.sizes["run"]:
            self._selected_pipe.send(np.zeros((0, 2)))
            return
        theta = result.theta.values[run]
        finite = np.flatnonzero(np.isfinite(theta).all(axis=1))
        shown = finite[thinned(len(finite), ALONG_POINTS)]
        self._selected_pipe.send(theta[shown, :2])
        steps, path, loss = result.step.values[shown], theta[shown], self.problem.loss
        title = f"Hessian eigenvalues along {self._run_labels[run] if run < len(self._run_labels) else run}"
        self._background.submit(
            lambda: np.asarray(curvature.eigenvalues_along(loss, jnp.asarray(path))),
            lambda evals: self.spectra.show_along(steps, evals, title),
        )

    def _show_error(self, event) -> None:
        """Failures of the spectrum computations (the runner shows its own)."""
        self._notice.object = event.new
        self._notice.alert_type = "danger" if event.new else "info"
        self._notice.visible = bool(event.new)

    # -- widgets ---------------------------------------------------------------
    def _hyperparameter_rows(self) -> dict[str, pn.Row]:
        rows = {}
        for name, spec in trajectories.OPTIMIZERS.items():
            inputs = []
            for hp, default in spec.defaults.items():
                box = pn.widgets.FloatInput(label=hp, value=default, width=80)
                box.param.watch(lambda event, name=name, hp=hp: self._set_hparam(name, hp, event.new), "value")
                inputs.append(box)
            swatch = f'<span style="color:{OPTIMIZER_COLORS[name]};font-size:18px">■</span> {name}'
            rows[name] = pn.Column(
                pn.pane.HTML(swatch, margin=(4, 5, 0, 5)), pn.FlexBox(*inputs, margin=0), margin=0, visible=False
            )
        return rows

    def _set_hparam(self, name: str, hp: str, value: float | None) -> None:
        if value is None:
            return
        self.hparams = {**self.hparams, name: {**self.hparams.get(name, {}), hp: float(value)}}

    @param.depends("optimizers", watch=True)
    def _show_hyperparameters(self) -> None:
        for name, row in self._hp_rows.items():
            row.visible = name in self.optimizers

    def _on_random_starts(self, _event) -> None:
        try:
            self.random_starts()
        except ValueError as error:
            self.runner.message = f"Error: {error}"

    @staticmethod
    def _legend_html(requested) -> str:
        items = [
            f'<span style="color:{OPTIMIZER_COLORS[name]};font-size:18px">■</span> '
            f"{html.escape(trajectories.label(name, hp))}"
            for name, hp in requested
        ]
        return "<br>".join(items)

    def __panel__(self):
        random_button = pn.widgets.Button(label="Random starts", width=130)
        random_button.on_click(self._on_random_starts)
        clear_button = pn.widgets.Button(label="Clear starts", width=130)
        clear_button.on_click(lambda _event: self.clear_starts())
        settings = pn.Column(
            pn.widgets.MultiChoice.from_param(self.param.optimizers, label="Optimizers", width=290),
            *self._hp_rows.values(),
            pn.widgets.IntInput.from_param(self.param.steps, width=140),
            pn.Row(random_button, clear_button),
            self._picker,
            self._legend,
            width=320,
        )
        return pn.Column(
            self._description,
            self._notice,
            self._controls,
            pn.Row(settings, self._plot_area, sizing_mode="stretch_width"),
            self.spectra,
            self.export,
            sizing_mode="stretch_width",
        )


VIEW = ViewSpec(key="landscape", title="Landscape", factory=LandscapeView, order=0)
