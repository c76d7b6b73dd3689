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

Problems without a 2-D view box (networks) show a 2-D slice
``L(c + α d₁ + β d₂)`` instead (``landscape.slices.iter_slice``, streamed
chunk by chunk through the runner, cancellable): centre ``c`` =
``problem.init(PRNGKey(0))`` or the end of the last run, directions
filter-normalised random (Li et al. 2018 §4), random, top Hessian
eigenvectors or trajectory PCA.  Runs start at the centre (plus sampled or
clicked starts) and are drawn *projected* onto the plane by least squares;
the caption under the plot reports the projection residual
``‖θ_t − c − α_t d₁ − β_t d₂‖`` of the selected run, which the picture
cannot show.  Spectra use a dense ``eigh`` up to 200 parameters and Lanczos
(extreme eigenvalues) above.  From Python the view is driven without a
server: ``view.add_start(x, y)``, ``view.run()`` (synchronous outside a
server), ``view.result``, ``view.slice_result`` and ``view.projection``.
"""

from __future__ import annotations

import html

import holoviews as hv
import jax.numpy as jnp
import numpy as np
import panel as pn
import param
import xarray as xr

import jax

from landscape import curvature, problems, slices, trajectories
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
#: The selected run's highlight (no optimizer uses it).
SELECTED_COLOR = "#ff00ff"
#: Most points per path sent to the browser while streaming (exports use all).
LIVE_POINTS = 500
#: Most steps of a selected run at which the Hessian spectrum is computed and drawn.
ALONG_POINTS = 1000
#: The same for networks (a dense Hessian per point, or Lanczos above curvature.DENSE_LIMIT parameters).
NETWORK_ALONG_POINTS = 30
#: Extreme eigenvalues shown at each end of a network's spectrum.
EXTREME = 3
#: Slice grid: SLICE_RESOLUTION² points (kept modest for a 2-core server), streamed in chunks.
SLICE_RESOLUTION = 31
SLICE_CHUNK = 64


def spectrum_at(loss, theta: np.ndarray) -> np.ndarray:
    """Hessian eigenvalues at ``theta`` by the engine's policy (``curvature.spectrum_summary``):
    all of them up to ``curvature.DENSE_LIMIT`` parameters, else the :data:`EXTREME` at each end."""
    return curvature.spectrum_summary(loss, jnp.asarray(theta, dtype=default_dtype()), k=EXTREME).eigenvalues


def extreme_eigenvalues_along(loss, path: np.ndarray) -> np.ndarray:
    """``(points, ≤ 2·EXTREME)``: the smallest and largest Hessian eigenvalues at each row of ``path``
    (``curvature.spectrum_summary_along``)."""
    path = jnp.asarray(path, dtype=default_dtype())
    return curvature.spectrum_summary_along(loss, path, k=EXTREME, extremes_only=True).eigenvalues


def thinned(n: int, max_points: int | None) -> np.ndarray:
    """Indices ``0, k, 2k, …`` and ``n − 1``: at most about ``max_points`` of ``n`` points."""
    if max_points is None or n <= max_points:
        return np.arange(n)
    stride = -(-n // max_points)
    return np.unique(np.r_[np.arange(0, n - 1, stride), n - 1])


def path_data(theta: np.ndarray, optimizer_of_run: list[str], max_points: int | None = None) -> list[dict]:
    """Rows of ``hv.Path`` data: one ``(x, y)`` polyline per run, NaN steps dropped.

    ``theta`` is ``(run, step, 2)``: the parameters of a 2-D surface, or a
    network's plane coordinates from :func:`landscape.slices.project`.

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


def _on_top(plot, element) -> None:
    """Bokeh hook: draw this glyph above the streamed paths (which a later hook adds at glyph level)."""
    plot.handles["glyph_renderer"].level = "overlay"


def selected_element(xy: np.ndarray) -> hv.Path:
    return styled(
        hv.Path([xy], kdims=["x", "y"]),
        color=SELECTED_COLOR,
        bokeh={"line_width": 6, "alpha": 0.75, "apply_ranges": False, "hooks": [_on_top]},
        matplotlib={"linewidth": 4, "alpha": 0.6},
    )


def slice_grid(values: np.ndarray, alpha: np.ndarray, beta: np.ndarray) -> xr.Dataset:
    """A slice's ``loss (beta, alpha)`` as the ``(y, x)`` grid that :func:`surface_element` draws."""
    return xr.Dataset({"loss": (("y", "x"), np.asarray(values, dtype=float))}, coords={"x": alpha, "y": beta})


def landscape_figure(
    grid: xr.Dataset, problem: Problem, result: xr.Dataset | None, plane_theta: np.ndarray | None = None
) -> hv.Overlay:
    """The exported figure: surface (or slice), critical points, starts and trajectories from stored data.

    ``plane_theta`` ``(run, step, 2)``: the runs' plane coordinates on a
    network slice (default: ``result.theta``, the parameters of a 2-D surface).
    """
    overlay = surface_element(grid)
    if problem.is_2d:
        overlay = overlay * critical_points_element(problem)
    if result is not None:
        theta = result.theta.values if plane_theta is None else plane_theta
        overlay = overlay * starts_element(theta[:, 0, :])
        rows = path_data(theta, list(result.optimizer.values))
        for name in dict.fromkeys(result.optimizer.values):
            overlay = overlay * optimizer_layer(rows, name)
    x, y = grid.x.values, grid.y.values
    what = "optimizer trajectories" if problem.is_2d else "2-D slice, trajectories projected onto it"
    return styled(
        overlay,
        title=f"{problem.name}: {what}",
        xlim=(x[0], x[-1]),
        ylim=(y[0], y[-1]),
        bokeh={"width": 700, "height": 600},
        matplotlib={"fig_inches": 6, "aspect": 1.15},
    )


class LandscapeView(pn.viewable.Viewer):
    """Surface (or a network's 2-D slice), click-to-start optimizer runs with live trajectories, and spectra."""

    problem = param.ClassSelector(class_=Problem, doc="The surface shown (follows the sidebar).")
    optimizers = param.ListSelector(
        default=["gd", "heavy-ball", "adam"], objects=list(trajectories.OPTIMIZERS), doc="Optimizers to run."
    )
    hparams = param.Dict(default={}, doc="Per optimizer: hyperparameters that override the defaults.")
    steps = param.Integer(default=300, bounds=(1, 1_000_000), doc="Optimizer steps per run.")
    chunk = param.Integer(default=25, bounds=(1, 1000), doc="Steps per streamed chunk.")
    starts = param.Array(default=np.zeros((0, 2)), doc="Start points (n, dim), added by clicking.")
    selected = param.Integer(default=-1, doc="Run whose eigenvalues are shown (-1: none).")
    result = param.ClassSelector(class_=xr.Dataset, constant=True, doc="Trajectories of the last run.")
    direction = param.Selector(
        default="filter", objects=list(slices.DIRECTION_KINDS), doc="Slice directions (networks)."
    )
    span = param.Number(default=1.0, bounds=(0, None), inclusive_bounds=(False, True),
                        doc="Slice half-width: α, β ∈ [−span, span] (networks).")
    slice_result = param.ClassSelector(class_=xr.Dataset, constant=True, doc="The network slice shown.")

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
        self._plane: tuple[np.ndarray, np.ndarray] | None = None  # network slice: (centre, directions (2, dim))
        self.projection: xr.Dataset | None = None  # runs on the slice plane: alpha, beta, residual

        self._starts_pipe = hv.streams.Pipe(data=np.zeros((0, 2)))
        self._slice_pipe = hv.streams.Pipe(data=slice_grid(np.full((2, 2), np.nan), np.r_[-1.0, 1.0], np.r_[-1.0, 1.0]))
        self._live = LivePaths()
        self._selected_pipe = hv.streams.Pipe(data=np.zeros((0, 2)))
        self._tap: hv.streams.SingleTap | None = None

        self.spectra = SpectrumPanel()
        self.export = ExportBar(figure=self.figure, dataset=lambda: self.result)
        self._plot = pn.pane.HoloViews(None, sizing_mode="stretch_width", min_height=480)
        self._caption = pn.pane.HTML("", sizing_mode="stretch_width", margin=(0, 10))
        # shown/hidden as a whole: toggling the HoloViews pane's own `visible`
        # fails in Panel 1.9 (TypeError on the Bokeh model's stylesheets)
        self._plot_area = pn.Column(self._plot, self._caption, sizing_mode="stretch_width")
        self._notice = pn.pane.Alert("", alert_type="info", visible=False, sizing_mode="stretch_width")
        self._description = pn.pane.HTML("", sizing_mode="stretch_width", margin=(0, 10))
        self._legend = pn.pane.HTML("", margin=(0, 10))
        self._picker = pn.widgets.Select(label="Trajectory", options={"(run first)": -1}, width=290)
        self._picker.param.watch(lambda event: setattr(self, "selected", event.new), "value")
        self._hp_rows = self._hyperparameter_rows()
        self._controls = self.runner.controls(on_run=self.run)
        self._slice_controls = self._slice_widgets()
        self._background.param.watch(self._show_error, "message")
        self.runner.param.watch(self._slice_when_idle, "running")
        if state is not None:
            state.param.watch(lambda event: setattr(self, "problem", event.new), "problem")
        self._load_problem()
        self._show_hyperparameters()

    # -- public API --------------------------------------------------------
    def add_start(self, x: float, y: float) -> None:
        """Add a start point (what a click on the plot does): ``(x, y)`` on a surface, plane coordinates
        ``(α, β)`` on a network slice (the start is ``c + α d₁ + β d₂``)."""
        point = self.plane_point(x, y) if not self.problem.is_2d else np.array([float(x), float(y)])
        self.starts = np.vstack([self.starts.reshape(-1, self.problem.dim), point[None]])

    def clear_starts(self) -> None:
        self.starts = np.zeros((0, self.problem.dim))

    def random_starts(self, n: int = 4, seed: int | None = None) -> None:
        """Add ``n`` start points: uniform over a surface's view box, from a network's sampler."""
        rng = np.random.default_rng(seed)
        if self.problem.is_2d:
            box = np.asarray(self.problem.bounds, dtype=float)
            points = rng.uniform(box[:, 0], box[:, 1], size=(n, 2))
        else:
            keys = rng.integers(1, 2**31 - 1, size=n)
            points = np.stack([np.asarray(self.problem.init(jax.random.PRNGKey(int(k)))) for k in keys])
        self.starts = np.vstack([self.starts.reshape(-1, self.problem.dim), points])

    def plane_point(self, alpha: float, beta: float) -> np.ndarray:
        """``c + α d₁ + β d₂``: the parameters at a point of the network slice."""
        if self._plane is None:
            raise ValueError("the slice is not computed yet")
        centre, directions = self._plane
        return centre + np.array([alpha, beta]) @ directions

    def requested_optimizers(self) -> list[tuple[str, dict[str, float]]]:
        """``(name, hparams)`` for each chosen optimizer, validated by the engine."""
        return trajectories.resolve([(name, self.hparams.get(name, {})) for name in self.optimizers])

    def run(self) -> None:
        """Start the optimizer runs from all start points (streams into the plot)."""
        if len(self.starts) == 0:
            raise ValueError("Click the plot (or press 'Random starts') to drop start points first")
        if not self.problem.is_2d and self._plane is None:
            raise ValueError("Wait for the slice to finish (it is the plane the runs are drawn on)")
        requested = self.requested_optimizers()
        if not requested:
            raise ValueError("Pick at least one optimizer")
        problem, starts = self.problem, jnp.asarray(self.starts, dtype=default_dtype())
        steps, chunk = self.steps, self.chunk
        self._theta_chunks = []
        self._redraw = Throttle(0.5)
        self._run_optimizers = [name for name, _ in requested for _ in range(len(starts))]
        names = self._start_names()
        self._run_labels = [f"{trajectories.label(name, hp)} from {where}" for name, hp in requested for where in names]
        self._live.show([])
        self._selected_pipe.send(np.zeros((0, 2)))
        self._caption.object = ""
        self._legend.object = self._legend_html(requested)
        self.runner.start(
            lambda cancel: trajectories.iter_trajectories(problem, starts, requested, steps, chunk, cancel),
            self._while_showing(problem, lambda event: self._on_chunk(event)),
            self._while_showing(problem, lambda result: self._on_result(result)),
        )

    def compute_slice(self) -> None:
        """Recompute the network slice with the chosen directions around the current centre.

        Centre: the end of the selected (else first) run of the last result,
        else ``problem.init(PRNGKey(0))``; the starts are reset to it.
        """
        problem = self.problem
        if problem.is_2d:
            raise ValueError(f"{problem.name} is a 2-D surface: it needs no slice")
        centre, trajectory = self._slice_centre()
        kind = self.direction
        if kind == "pca" and trajectory is None:
            raise ValueError("PCA directions need a run first (they are the principal directions of its path)")
        grid = np.linspace(-self.span, self.span, SLICE_RESOLUTION)
        self._plane = None
        self.starts = centre[None]
        self._slice_pipe.send(slice_grid(np.full((len(grid), len(grid)), np.nan), grid, grid))

        def stream(cancel):
            directions = slices.make_directions(problem, kind, centre, 2, trajectory=trajectory)
            return slices.iter_slice(
                problem, centre, directions, grid, chunk=SLICE_CHUNK, direction_kind=kind, cancel=cancel
            )

        self.runner.start(
            stream,
            self._while_showing(problem, lambda event: self._slice_pipe.send(slice_grid(event.data["grid"], grid, grid))),
            self._while_showing(problem, self._on_slice),
        )

    def _while_showing(self, problem: Problem, callback):
        """``callback``, ignored once the user has switched to another problem (the old job winds down)."""
        return lambda value: callback(value) if self.problem is problem else None

    def _slice_when_idle(self, event) -> None:
        """A network picked while another job was still winding down gets its slice once the runner is free."""
        if not event.new and not self.problem.is_2d and self.slice_result is None:
            self.compute_slice()

    def figure(self) -> hv.Overlay:
        """The current picture rebuilt from stored data (what the export buttons save)."""
        if self.problem.is_2d and self._grid is not None:
            return landscape_figure(self._grid, self.problem, self.result)
        if self.slice_result is None:
            raise ValueError(f"{self.problem.name} has no 2-D picture to export yet")
        ds = self.slice_result
        grid = slice_grid(ds.loss.values, ds.alpha.values, ds.beta.values)
        plane = None
        if self.result is not None and self.projection is not None:
            plane = np.stack([self.projection.alpha.values, self.projection.beta.values], axis=-1)
        return landscape_figure(grid, self.problem, self.result, plane)

    # -- streaming -----------------------------------------------------------
    def _plane_xy(self, theta: np.ndarray) -> np.ndarray:
        """``(..., 2)``: a surface's parameters, or a network's least-squares plane coordinates."""
        if self.problem.is_2d:
            return theta[..., :2]
        if self._plane is None:
            return np.zeros(theta.shape[:-1] + (2,))
        return slices.project(theta, *self._plane)[0]

    def _on_chunk(self, event) -> None:
        self._theta_chunks.append(event.data["theta"])
        if self._redraw.ready():
            theta = np.concatenate(self._theta_chunks, axis=1)
            self._theta_chunks = [theta]
            self._live.show(path_data(self._plane_xy(theta), self._run_optimizers, LIVE_POINTS))

    def _on_result(self, result: xr.Dataset) -> None:
        with param.edit_constant(self):
            self.result = result
        self._project_result()
        self._live.show(path_data(self._plane_xy(result.theta.values), list(result.optimizer.values), LIVE_POINTS))
        options = {}
        for run, text in enumerate(self._run_labels):
            stop = int(result.stop_step.values[run])
            options[f"{text}, diverged at step {stop}" if result.diverged.values[run] else text] = run
        self._picker.options = options
        self.export.refresh(f"{self.problem.name}-trajectories")
        if self._picker.value == 0:
            self._show_selected()
        self._picker.value = 0

    def _project_result(self) -> None:
        """Plane coordinates and projection residuals of every run (networks), kept in :attr:`projection`."""
        if self.problem.is_2d or self.result is None or self._plane is None:
            self.projection = None
            return
        theta = self.result.theta.values
        coef, residual = slices.project(theta, *self._plane)
        distance = np.linalg.norm(theta - self._plane[0], axis=-1)
        self.projection = xr.Dataset(
            {
                "alpha": (("run", "step"), coef[..., 0]),
                "beta": (("run", "step"), coef[..., 1]),
                "residual": (("run", "step"), residual,
                             {"description": "‖θ_t − c − α d₁ − β d₂‖: distance to the plane, not visible"}),
                "relative_residual": (("run", "step"), residual / np.where(distance > 0, distance, 1.0)),
            },
            coords={"step": self.result.step.values},
        )

    def _on_slice(self, ds: xr.Dataset) -> None:
        with param.edit_constant(self):
            self.slice_result = ds
        if ds.attrs.get("status") == "cancelled":
            return
        self._plane = (ds.centre.values, ds.directions.values)
        self._slice_pipe.send(slice_grid(ds.loss.values, ds.alpha.values, ds.beta.values))
        self._send_starts()
        if self.result is not None:
            self._project_result()
            self._live.show(path_data(self._plane_xy(self.result.theta.values), list(self.result.optimizer.values),
                                      LIVE_POINTS))
            self._show_selected()

    # -- reactions -------------------------------------------------------------
    @param.depends("problem", watch=True)
    def _load_problem(self) -> None:
        self.runner.cancel()
        with param.edit_constant(self):
            self.result = None
            self.slice_result = None
        self._plane, self.projection = None, None
        self.starts = np.zeros((0, self.problem.dim))
        self._picker.options = {"(run first)": -1}
        self.export.available = False
        self._legend.object = ""
        self._caption.object = ""
        problem = self.problem
        # plain text in HTML: descriptions hold formulas whose * and ** Markdown would eat
        self._description.object = (
            f"<b>{html.escape(problem.name)}</b> ({problem.dim} parameters). {html.escape(problem.description)}"
        )
        self._slice_controls.visible = not problem.is_2d
        self._notice.visible = False
        self._plot_area.visible = True
        self._live.show([])
        self._selected_pipe.send(np.zeros((0, 2)))
        if problem.is_2d:
            self._grid = surface_grid(problem)
            self._plot.object = self._live_plot(problem, self._grid)
            return
        self._grid = None
        self._plot.object = self._slice_plot()
        if self.runner.running:  # the previous job stops after its chunk; then _slice_when_idle slices
            return
        try:
            self.compute_slice()
        except ValueError as error:
            self.runner.message = f"Error: {error}"

    def _decorate(self, plot, title: str, **opts) -> hv.Overlay:
        self._live.forget_figures()
        return plot.opts(
            responsive=True,
            min_height=480,
            active_tools=["wheel_zoom"],
            show_legend=False,
            hooks=[self._live.hook],
            title=title,
            backend="bokeh",
            **opts,
        )

    def _overlays(self) -> hv.Overlay:
        starts = hv.DynamicMap(lambda data: starts_element(data), streams=[self._starts_pipe])
        chosen = hv.DynamicMap(lambda data: selected_element(data), streams=[self._selected_pipe])
        return chosen * starts

    def _live_plot(self, problem: Problem, grid: xr.Dataset) -> hv.Overlay:
        base = surface_element(grid) * critical_points_element(problem)
        (x0, x1), (y0, y1) = problem.bounds
        plot = self._decorate(
            base * self._overlays(),
            "Click to drop start points; the spectrum at the click appears below",
            xlim=(x0, x1),
            ylim=(y0, y1),
        )
        self._tap = hv.streams.SingleTap(source=base.Image.I, transient=True)
        self._tap.add_subscriber(self._on_tap)
        return plot

    def _slice_plot(self) -> hv.Overlay:
        """The network slice, filled in chunk by chunk from ``_slice_pipe`` (axes fixed to the slice box)."""
        # the tap is one of the DynamicMap's own streams (a DynamicMap as a stream's `source` never gets taps)
        self._tap = hv.streams.SingleTap(transient=True)
        self._tap.add_subscriber(self._on_tap)
        base = hv.DynamicMap(lambda data, x, y: surface_element(data), streams=[self._slice_pipe, self._tap])
        plot = self._decorate(
            base * self._overlays(),
            f"2-D slice L(c + α d₁ + β d₂), {self.direction} directions; paths are projections (see below)",
            xlim=(-self.span, self.span),
            ylim=(-self.span, self.span),
            xlabel="α",
            ylabel="β",
            framewise=False,
        )
        return plot

    @param.depends("starts", watch=True)
    def _send_starts(self) -> None:
        starts = self.starts.reshape(-1, self.problem.dim)
        self._starts_pipe.send(self._plane_xy(starts) if self.problem.is_2d or self._plane else np.zeros((0, 2)))

    def _on_tap(self, x=None, y=None) -> None:
        if x is None or y is None or (not self.problem.is_2d and self._plane is None):
            return
        self.add_start(x, y)
        loss, point = self.problem.loss, self.starts[-1].copy()
        self._background.submit(lambda: spectrum_at(loss, point), lambda evals: self.spectra.show_point(point, evals))

    @param.depends("selected", watch=True)
    def _show_selected(self) -> None:
        result, run = self.result, self.selected
        if result is None or not 0 <= run < result.sizes["run"]:
            self._selected_pipe.send(np.zeros((0, 2)))
            self._caption.object = ""
            return
        theta = result.theta.values[run]
        finite = np.flatnonzero(np.isfinite(theta).all(axis=1))
        self._selected_pipe.send(self._plane_xy(theta[finite[thinned(len(finite), LIVE_POINTS)]]))
        self._caption.object = self._residual_caption(run, finite)
        network = not self.problem.is_2d
        shown = finite[thinned(len(finite), NETWORK_ALONG_POINTS if network else ALONG_POINTS)]
        steps, path, loss = result.step.values[shown], theta[shown], self.problem.loss
        label = self._run_labels[run] if run < len(self._run_labels) else run
        title = f"Hessian eigenvalues along {label}"
        if network and self.problem.dim > 2 * EXTREME:
            title = f"{EXTREME} smallest and largest Hessian eigenvalues along {label}"
        self._background.submit(
            lambda: extreme_eigenvalues_along(loss, path),
            lambda evals: self.spectra.show_along(steps, evals, title),
        )

    def _residual_caption(self, run: int, finite: np.ndarray) -> str:
        """What the drawn (projected) path hides: its distance to the slice plane (networks)."""
        if self.projection is None or not len(finite):
            return ""
        residual = self.projection.residual.values[run, finite]
        relative = self.projection.relative_residual.values[run, finite]
        last = self.result.theta.values[run, finite[-1]]
        centre, directions = self._plane
        coef = self.projection[["alpha", "beta"]].isel(run=run, step=finite[-1]).to_array().values
        under = float(slices.evaluate_chunk(self.problem.loss, centre, directions, coef[None])[0])
        at = float(self.result.loss.values[run, finite[-1]])
        return (
            "<b>The highlighted (magenta) path is a projection, not a walk on this surface.</b> "
            f"Distance from θ<sub>t</sub> to the slice plane (projection residual): up to {residual.max():.3g} "
            f"({relative.max():.0%} of ‖θ<sub>t</sub> − c‖), {residual[-1]:.3g} at the end. "
            f"Loss at the end: L(θ<sub>T</sub>) = {at:.4g}; the surface under the drawn end point: {under:.4g}. "
            f"‖θ<sub>T</sub> − c‖ = {np.linalg.norm(last - centre):.3g}."
        )

    def _slice_centre(self) -> tuple[np.ndarray, np.ndarray | None]:
        """The slice centre and the trajectory it ends (for PCA directions), see :meth:`compute_slice`."""
        if self.result is not None:
            run = self.selected if 0 <= self.selected < self.result.sizes["run"] else 0
            theta = self.result.theta.values[run]
            theta = theta[np.isfinite(theta).all(axis=1)]
            if len(theta) >= 2:
                return theta[-1].copy(), theta
        return np.asarray(self.problem.init(jax.random.PRNGKey(0)), dtype=float), None

    def _start_names(self) -> list[str]:
        if self.problem.is_2d:
            return [f"({x:.2f}, {y:.2f})" for x, y in self.starts]
        coords = self._plane_xy(self.starts.reshape(-1, self.problem.dim))
        return [f"start {i} (α {a:.2f}, β {b:.2f})" for i, (a, b) in enumerate(coords)]

    def _show_error(self, event) -> None:
        """Failures of the spectrum computations (the runner shows its own)."""
        self._notice.object = event.new
        self._notice.alert_type = "danger" if event.new else "info"
        self._notice.visible = bool(event.new)

    # -- widgets ---------------------------------------------------------------
    def _slice_widgets(self) -> pn.Column:
        button = pn.widgets.Button(label="Slice", width=100)

        def click(_event) -> None:
            if self.runner.running:
                self.runner.message = "Error: cancel the running job first"
                return
            try:
                self._plot.object = self._slice_plot()
                self.compute_slice()
            except (ValueError, RuntimeError) as error:
                self.runner.message = f"Error: {error}"

        button.on_click(click)
        return pn.Column(
            pn.pane.HTML("<b>Slice</b> through the centre (end of the last run, else the init)", margin=(4, 5, 0, 5)),
            pn.Row(
                pn.widgets.Select.from_param(self.param.direction, label="Directions", width=120),
                pn.widgets.FloatInput.from_param(self.param.span, label="Span", width=70),
                button,
            ),
            margin=0,
            visible=False,
        )

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
            self._slice_controls,
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
