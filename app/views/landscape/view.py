"""The Landscape view: a loss surface (or a network's slice), click-to-start optimizer runs, spectra.

* the surface ``L(x, y)`` over a 2-D problem's view box, or a network's 2-D
  slice (:mod:`.modes`), with contours and known critical points;
* clicking the plot drops a start point and shows the Hessian spectrum there;
* Run launches every chosen optimizer from every start
  (``landscape.trajectories.iter_trajectories``) through the base view's
  runner; each partial result streams into the plot (straight into Bokeh data
  sources through :class:`app.components.live.LivePaths`, keeping the zoom);
* picking a trajectory highlights it and plots the Hessian eigenvalues along it;
* export: the figure rebuilt from the stored grid and trajectories, the data
  as netCDF.

From Python, without a server: ``view.add_start(x, y)``, ``view.run()``
(returns when the runs are done), ``view.result``, ``view.slice_result``,
``view.projection``, ``view.figure()``.
"""

from __future__ import annotations

import holoviews as hv
import jax.numpy as jnp
import numpy as np
import panel as pn
import param
import xarray as xr

from landscape import slices, trajectories
from landscape.problems import Game, default_dtype

from ...components.live import LivePaths
from ...components.spectrum import SpectrumPanel
from ...components.text import escape
from ..base import BaseView
from ...components.export import figure_bytes
from ...components.surface import SCALES
from ...figures.landscape import surface_3d
from . import widgets
from .history import RunHistory
from .layers import LIVE_POINTS, OPTIMIZER_COLORS, path_data, selected_element, starts_element
from .modes import SLICE_RESOLUTION, SliceMode, mode_for
from . import spectra


class LandscapeView(BaseView):
    """Surface (or a network's 2-D slice), click-to-start optimizer runs with live trajectories, and spectra."""

    title = "Landscape"
    settings_params = ("optimizers", "hparams", "steps", "direction", "span", "resolution", "log_scale", "tolerance",
                       "levels", "color_scale")  # fmt: skip

    optimizers = param.ListSelector(
        default=["gd", "heavy-ball", "adam"], objects=list(trajectories.OPTIMIZERS), doc="Optimizers to run."
    )
    hparams = param.Dict(default={}, doc="Per optimizer: hyperparameters that override the defaults.")
    steps = param.Integer(default=300, bounds=(1, 1_000_000), doc="Optimizer steps per run.")
    chunk = param.Integer(default=25, bounds=(1, 1000), doc="Steps per streamed chunk.")
    starts = param.Array(default=np.zeros((0, 2)), doc="Start points (n, dim), added by clicking.")
    selected = param.Integer(default=-1, doc="Run whose eigenvalues are shown (-1: none).")
    direction = param.Selector(default="filter", objects=list(slices.DIRECTION_KINDS), doc="Slice directions.")
    span = param.Number(default=1.0, bounds=(0, None), inclusive_bounds=(False, True),
                        doc="Slice half-width: α, β ∈ [−span, span] (networks).")  # fmt: skip
    resolution = param.Integer(default=SLICE_RESOLUTION, bounds=(3, None),
                               doc="Slice grid points per axis (up to the server's limit, landscape.limits).")
    log_scale = param.Boolean(default=False, doc="Logarithmic loss and ‖∇L‖ axes in the run curves.")
    tolerance = param.Number(default=1e-3, bounds=(0, None), inclusive_bounds=(False, True),
                             doc="The run table counts the steps until ‖∇L‖ ≤ tolerance.")
    levels = param.Integer(default=18, bounds=(0, 60), doc="Contour lines over the surface or slice (0: none).")
    color_scale = param.Selector(default="log", objects=list(SCALES), doc="Colour of the surface: " + "; ".join(
        f"{name}: {what}" for name, what in SCALES.items()))
    slice_result = param.ClassSelector(class_=xr.Dataset, constant=True, doc="The network slice shown.")

    # -- set-up ----------------------------------------------------------------
    def setup(self) -> None:
        self.mode = None
        self.projection: xr.Dataset | None = None  # runs on the slice plane: alpha, beta, residual
        self.run_labels: list[str] = []
        self.spectra = SpectrumPanel()  # shown by .spectra.show_at / show_along
        self.live = LivePaths()
        self.starts_pipe = hv.streams.Pipe(data=np.zeros((0, 2)))
        self.selected_pipe = hv.streams.Pipe(data=np.zeros((0, 2)))
        self.caption = pn.pane.HTML("", sizing_mode="stretch_width", margin=(0, 10))
        self.legend = pn.pane.HTML("", margin=(0, 10))
        self.picker = pn.widgets.Select(label="Trajectory", options={"(run first)": -1}, width=290)
        self.picker.param.watch(lambda event: setattr(self, "selected", event.new), "value")
        self.runner.param.watch(self._slice_when_idle, "running")
        self.history = RunHistory(self)
        self.surface3d = pn.pane.PNG(None, sizing_mode="scale_width", max_width=640)  # show_3d
        self.surface3d_box = pn.Column(self.surface3d, visible=False, margin=0)
        self.param.watch(lambda _event: self.mode is not None and self.show_plot(), ["levels", "color_scale"])

    def on_problem(self) -> None:
        self.mode = None  # the old mode's slice plane has the old problem's dimension: no watcher below may use it
        with param.edit_constant(self):
            self.slice_result = None
        self.projection, self.run_labels = None, []
        self.starts = np.zeros((0, self.problem.dim))
        self.picker.options = {"(run first)": -1}
        self.history.fill_partner({})
        self.legend.object = self.caption.object = ""
        self.selected_pipe.send(np.zeros((0, 2)))
        self.history.clear()
        self.spectra.clear()
        self.surface3d_box.visible = False
        self.mode = mode_for(self.problem)(self)
        self.plot.object = None
        try:
            self.mode.load()
        except ValueError as error:
            self.runner.message = f"Error: {error}"

    # -- public API --------------------------------------------------------
    def add_start(self, x: float, y: float) -> None:
        """Add a start (what a click does): ``(x, y)`` on a surface, ``c + α d₁ + β d₂`` for ``(α, β)`` on a slice."""
        self.starts = np.vstack([self.starts.reshape(-1, self.problem.dim), self.mode.point(x, y)[None]])

    def clear_starts(self) -> None:
        self.starts = np.zeros((0, self.problem.dim))

    def random_starts(self, n: int = 4, seed: int | None = None) -> None:
        """Add ``n`` starts: uniform over a surface's view box, from a network's sampler (in the pool)."""
        problem = self.problem

        def add(points):
            if problem is self.problem:
                self.starts = np.vstack([self.starts.reshape(-1, problem.dim), points])

        self.mode.random_points(n, np.random.default_rng(seed), add)

    def plane_point(self, alpha: float, beta: float) -> np.ndarray:
        """``c + α d₁ + β d₂``: the parameters at a point of the network slice."""
        return self.mode.point(alpha, beta)

    def tap(self, x: float, y: float) -> None:
        """A click on the plot at ``(x, y)``: a start there and the Hessian spectrum at it."""
        if isinstance(self.mode, SliceMode) and self.mode.plane is None:
            return
        self.add_start(x, y)
        spectra.show_at(self, self.starts[-1].copy())

    def requested_optimizers(self) -> list[tuple[str, dict[str, float]]]:
        """``(name, hparams)`` for each chosen optimizer, validated by the engine."""
        return trajectories.resolve([(name, self.hparams.get(name, {})) for name in self.optimizers])

    def compute_slice(self) -> None:
        """Recompute a network's slice (directions, span, resolution) around the current centre."""
        if not isinstance(self.mode, SliceMode):
            raise ValueError(f"{self.problem.name} is a 2-D surface: it needs no slice")
        self.mode.compute()

    def analyse_selected(self) -> None:
        """Hand the selected run's last computed point to the Critical Points view (``AppState.hand_over``)."""
        result, run = self.result, self.selected
        if result is None or result.attrs.get("status") == "running" or not 0 <= run < result.sizes["run"]:
            raise ValueError("Pick a trajectory of a finished run first: its end point is analysed")
        if self.state is None:
            raise ValueError("Analysing a point needs the dashboard's session state (AppState)")
        theta = result.theta.values[run]
        finite = np.flatnonzero(np.isfinite(theta).all(axis=1))
        label = self.run_labels[run] if run < len(self.run_labels) else f"run {run}"
        self.state.hand_over(theta[finite[-1]], f"Landscape: end of {label} (step {int(result.step.values[finite[-1]])})")

    def interpolate_selected(self) -> None:
        """The loss on the line from the selected run's start to its end (shown with the run curves)."""
        result, run = self.result, self.selected
        if result is None or result.attrs.get("status") == "running" or not 0 <= run < result.sizes["run"]:
            raise ValueError("Pick a trajectory of a finished run first: its start and end are interpolated")
        self.history.interpolate(result, run, f"{result.label.values[run]}, start {int(result.start.values[run])}")

    def show_3d(self) -> None:
        """Render the surface (or slice) in 3-D (matplotlib, in the pool) into :attr:`surface3d`."""
        grid = self.mode.grid_data() if self.mode is not None else None
        if grid is None:
            raise ValueError("Wait for the surface (or slice) to be computed first")
        surface = surface_3d(grid, self.color_scale, f"{self.problem.name}: {SCALES[self.color_scale]}")
        self.background.submit(lambda: figure_bytes(surface, "png").getvalue(), self._show_png, label="Drawing in 3-D…")

    def _show_png(self, png: bytes) -> None:
        self.surface3d.object, self.surface3d_box.visible = png, True

    def figure(self) -> hv.Overlay:
        """The current picture rebuilt from stored data (what the export buttons save)."""
        return self.draw(self.result)

    def saved_results(self) -> dict[str, xr.Dataset]:
        saved = super().saved_results()
        if self.slice_result is not None:
            saved["slice"] = self.slice_result
        return saved

    def restore(self, settings: dict, results: dict[str, xr.Dataset] | None = None) -> None:
        """Saved settings, then the saved slice (a network's plane) and trajectories."""
        results = dict(results or {})
        if results.get("slice") is not None and isinstance(self.mode, SliceMode):
            self.runner.cancel()
            self.mode = SliceMode(self)  # a slice job still running belongs to the old mode: dropped
            self.mode.adopt(results["slice"])
            self.show_plot()
        if results.get("result") is not None:
            self.run_labels = []
        super().restore(settings, results)

    def set_slice(self, ds: xr.Dataset) -> None:
        with param.edit_constant(self):
            self.slice_result = ds

    # -- the base view's contract ----------------------------------------------
    def not_applicable(self, problem) -> str:
        if isinstance(problem, Game):
            return (f"{problem.name} is a game: each player has its own loss, so there is no single surface "
                    "to descend. The Games tab shows its dynamics; this view is for single-objective problems.")
        return ""

    def check(self) -> None:
        if len(self.starts) == 0:
            raise ValueError("Click the plot (or press 'Random starts') to drop start points first")
        if isinstance(self.mode, SliceMode) and self.mode.plane is None:
            raise ValueError("Wait for the slice to finish (it is the plane the runs are drawn on)")
        if not self.requested_optimizers():
            raise ValueError("Pick at least one optimizer")

    def run(self) -> None:
        """Run every chosen optimizer from every start (returns when done outside a server)."""
        self.validate()
        requested = self.requested_optimizers()
        names = self.mode.start_names(self.starts.reshape(-1, self.problem.dim))
        self.run_labels = [f"{trajectories.label(name, hp)} from {where}" for name, hp in requested for where in names]
        self._job = (self.problem, np.array(self.starts), requested, self.steps, self.chunk)
        self.live.show([])
        self.selected_pipe.send(np.zeros((0, 2)))
        self.caption.object = ""
        self.legend.object = "<br>".join(
            f'<span style="color:{OPTIMIZER_COLORS[name]};font-size:18px">■</span> {escape(trajectories.label(name, hp))}'
            for name, hp in requested
        )
        super().run()

    def stream(self, cancel):
        problem, starts, requested, steps, chunk = self._job
        starts = jnp.asarray(starts, dtype=default_dtype())
        return trajectories.iter_trajectories(problem, starts, requested, steps, chunk, cancel)

    def draw(self, result: xr.Dataset | None) -> hv.Overlay:
        return self.mode.figure(result)

    def render(self, result: xr.Dataset | None) -> None:
        """Stream the runs of ``result`` into the live plot; a finished result fills the picker."""
        if self.mode is None:
            return
        if result is None:
            self.projection = None
            self.live.show([])
            return
        theta = result.theta.values
        running = result.attrs.get("status") == "running"
        if running and "steps_done" in result.attrs:  # a partial: only its computed steps (not 10⁶ NaN rows)
            theta = theta[:, : int(result.attrs["steps_done"]) + 1]
        self.live.show(path_data(self.mode.xy(theta), list(result.optimizer.values), LIVE_POINTS))
        if running:
            return
        self.history.add(result)
        self.projection = self.mode.projected(result)
        self._send_starts()
        widgets.fill_picker(self, result)

    def body(self) -> pn.Column:
        return widgets.layout(self)

    # -- reactions -------------------------------------------------------------
    def show_plot(self) -> None:
        """(Re)build the live plot of the current mode (the surface, or the slice's DynamicMap)."""
        element, opts = self.mode.plot(lambda x=None, y=None: None if x is None or y is None else self.tap(x, y))
        if element is None:
            self.plot.object = None
            return
        starts = hv.DynamicMap(lambda data: starts_element(data), streams=[self.starts_pipe])
        chosen = hv.DynamicMap(lambda data: selected_element(data), streams=[self.selected_pipe])
        self.live.forget_figures()
        self.plot.object = (element * chosen * starts).opts(
            active_tools=["wheel_zoom"], show_legend=False,
            hooks=[self.live.hook], backend="bokeh", **opts,
        )  # fmt: skip
        self._send_starts()

    def _slice_when_idle(self, event) -> None:
        """A network picked while another job was winding down gets its slice once the runner is free."""
        mode = self.mode
        if not event.new and isinstance(mode, SliceMode) and mode.plane is None and self.slice_result is None:
            if mode.problem is self.problem:
                mode.compute()

    @param.depends("starts", watch=True)
    def _send_starts(self) -> None:
        if self.mode is None:
            return
        starts = self.starts.reshape(-1, self.problem.dim)
        ready = not isinstance(self.mode, SliceMode) or self.mode.plane is not None
        self.starts_pipe.send(self.mode.xy(starts) if ready else np.zeros((0, 2)))

    @param.depends("selected", watch=True)
    def _show_selected(self) -> None:
        spectra.show_along(self, self.result, self.selected)
