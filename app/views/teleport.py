"""The Teleport view: level-set teleports on surfaces and teleporting optimizers on a small MLP.

Engine call: ``landscape.teleport.report.iter_report`` (the same optimizer
without and with teleports, then φ and ψ of both final points on networks).
On the **2-D surface** (the sidebar's problem when it is 2-D, else
``ellipse``; click to move the start) the teleport climbs the level set to the
largest ‖∇L‖²; on the **MLP** (the paper's 3-layer bias-free network,
``report.paper_mlp``) it applies GL(h) actions for the chosen objective.
Figures: :mod:`app.figures.teleport`.  "Analyse this point" hands the
teleported point to the Critical Points view.

On the MLP the seeds run as tasks where the Compute setting says (``landscape.teleport.seeds``).

From Python: ``view.run()``, ``view.result``, ``view.draw(view.result)``.
"""

from __future__ import annotations

import holoviews as hv
import jax.numpy as jnp
import numpy as np
import panel as pn
import param
import xarray as xr

from landscape import optim, problems
from landscape import teleport as tp
from landscape.problems import Problem, default_dtype
from landscape.teleport import report

from ..components.actions import action_button
from ..components.hypers import hyper_param, spec_bounds
from ..components.surface import frame_size, surface_element, surface_grid
from ..components.text import set_text, text_pane
from ..figures import teleport as fig
from ..runner import LatestCall
from . import ViewSpec
from .base import BaseView

SETTINGS = ("2-D surface", "MLP (4×4 digits)")
OBJECTIVE_LABELS = {"‖∇L‖²": "grad_norm", "‖∇L‖_A (AdaGrad)": "grad_norm_A", "sharpness φ": "sharpness",
                    "curvature ψ": "curvature"}
DIRECTION_LABELS = {"raise": 1, "lower": -1}


class TeleportView(BaseView):
    """Teleport along level sets (2-D) or with GL(h) actions (MLP), with and without, side by side."""

    title = "Teleport"
    settings_params = ("setting", "optimizer", "lr", "epochs", "teleport_every", "direction", "state_mode",
                       "objective", "seeds")
    setting = param.Selector(default=SETTINGS[0], objects=list(SETTINGS), doc="Surface or network.")
    optimizer = param.Selector(default="gd", objects=list(tp.OPTIMIZERS), doc="optax optimizer.")
    lr = hyper_param(optim.get(tp.OPTIMIZERS[0]).hyper("lr"))  # bounds follow the optimizer's spec
    epochs = param.Integer(default=60, bounds=(1, 100_000), doc="Epochs (2-D: steps).")
    teleport_every = param.Integer(default=0, bounds=(0, None), doc="Teleport every k epochs (0: once, at the start).")
    objective = param.Selector(default="‖∇L‖²", objects=list(OBJECTIVE_LABELS), doc="What the teleport changes.")
    direction = param.Selector(default="raise", objects=list(DIRECTION_LABELS), doc="Raise or lower it.")
    state_mode = param.Selector(default="reset", objects=list(tp.training.STATE_MODES),
                                doc="Optimizer state at a teleport (App. G.1).")
    seeds = param.Integer(default=3, bounds=(1, 10), doc="Seeds (MLP).")
    start = param.Array(default=None, allow_None=True, doc="Start point on the surface (click the plot).")

    def setup(self) -> None:
        self._setup = LatestCall(sync=self.runner.sync)
        self._logs = (False, False)  # log axes of the drawn curves (loss, ‖∇L‖²)
        self._setup.param.watch(self._show_background_message, "message")
        self.grid, self.surface, self.level = None, None, None
        self._result_pipe, self._start_pipe = hv.streams.Pipe(data=None), hv.streams.Pipe(data=None)
        self._curves = pn.pane.HoloViews(None, linked_axes=False, sizing_mode="stretch_width", min_height=420)
        self.plot.linked_axes = False
        self._intro, self._report = text_pane(), text_pane()

    @param.depends("optimizer", watch=True, on_init=True)
    def _follow_optimizer(self) -> None:
        spec_bounds(self.param.lr, optim.get(self.optimizer).hyper("lr"))

    # -- engine call -----------------------------------------------------------
    @property
    def on_surface(self) -> bool:
        return self.setting == SETTINGS[0]

    def target(self) -> Problem:
        """The problem the next run trains: the surface, or the paper's MLP."""
        return self.surface if self.on_surface else report.paper_mlp()

    def stream(self, cancel):
        schedule = report.schedule_for(self.on_surface, self.epochs, self.teleport_every,
                                       OBJECTIVE_LABELS[self.objective], DIRECTION_LABELS[self.direction],
                                       self.state_mode)
        if self.on_surface:
            kwargs = {"theta0": jnp.asarray(self.start, default_dtype())}
            return report.iter_report(self.surface, self.optimizer, schedule, lr=self.lr, cancel=cancel, **kwargs)
        return report.iter_report(report.paper_mlp(), self.optimizer, schedule, lr=self.lr, cancel=cancel,
                                  seeds=tuple(range(self.seeds)), executor=self.executor)  # seeds as tasks on Dask

    def draw(self, result: xr.Dataset) -> hv.Layout:
        """The exported figure, from the stored comparison."""
        return fig.teleport_figure(result, self.grid if "theta" in result else None, self.target().name)

    def analyse_teleported(self) -> None:
        """Hand the teleported point (surface runs) to the Critical Points view."""
        result = self.result
        if result is None or "teleport_path" not in result or not result.sizes.get("teleport", 0):
            raise ValueError("Run a surface comparison first: its teleported point is analysed")
        if self.state is None or self.surface is not self.state.problem:
            raise ValueError("Analysing needs the surface to be the sidebar's problem")
        self.state.hand_over(result.teleport_path.values[0][-1], "Teleport: the teleported start")

    # -- rendering -------------------------------------------------------------
    def render(self, result: xr.Dataset | None) -> None:
        self._result_pipe.send(result)
        if self._log_axes(result) != self._logs:  # a drawn Bokeh axis never turns logarithmic: draw anew
            self._show_curves()
        set_text(self._report, "\n".join(fig.report_lines(result)) if result is not None else "")

    def on_problem(self) -> None:
        self._load()

    @param.depends("setting", watch=True)
    def _reload(self) -> None:
        self.reset()
        self._load()

    def _load(self) -> None:
        problem = self.problem
        self.surface = problem if problem.is_2d else problems.get("ellipse")
        self.param.update(**report.suggested_run(self.surface if self.on_surface else None))
        set_text(self._intro, "Teleportation with parameter symmetries (Zhao et al.): move within a level set of "
                 "the loss to a point of larger gradient norm (or changed sharpness/curvature), then keep "
                 f"optimizing. Surface: {self.surface.name} (follows the sidebar when it is 2-D); click it to move "
                 "the start." + ("" if problem.is_2d else f" {problem.name} itself is not teleported: the network "
                                 "teleports here act on the paper's bias-free MLP only (its GL(h) symmetry)."))
        if not self.on_surface:
            self.grid = None
            self._show_curves()
            return
        surface = self.surface
        self.start = report.default_start(surface)
        self.plot.object = None
        self._show_curves()
        self._setup.submit(lambda: surface_grid(surface), lambda grid: self._show_surface(surface, grid),
                           "Computing the surface…")

    @staticmethod
    def _log_axes(result: xr.Dataset | None) -> tuple[bool, bool]:
        return fig.log_axis(result, "train_loss", "test_loss"), fig.log_axis(result, "grad_norm_sq")

    def _show_curves(self) -> None:
        """The live curves (and on networks the ‖∇L‖² panel), log axes as the shown result needs."""
        self._logs = self._log_axes(self._result_pipe.data)

        def live(figure):
            return hv.DynamicMap(lambda data: figure(data).opts(responsive=True, min_height=400, backend="bokeh"),
                                 streams=[self._result_pipe])

        if self.on_surface:
            self._curves.object = live(lambda data: fig.curves(data, "train_loss"))
            return
        self.plot.object = live(fig.gradient_panel)
        self._curves.object = live(lambda data: fig.curves(data, "train_loss", "test_loss"))

    def _show_surface(self, surface: Problem, grid: xr.Dataset) -> None:
        if surface is not self.surface:
            return
        self.grid = grid
        base = surface_element(grid)
        self._start_pipe.send((self.start, None))
        layers = hv.DynamicMap(lambda data, start: fig.level_set(grid, start[1]) * fig.surface_layers(data, start[0]),
                               streams=[self._result_pipe, self._start_pipe.rename(data="start")])
        tap = hv.streams.SingleTap(source=base.Image.I, transient=True)
        tap.add_subscriber(self._on_tap)
        (x0, x1), (y0, y1) = surface.bounds
        self.plot.object = (base * layers).opts(
            xlim=(x0, x1), ylim=(y0, y1), **frame_size(surface.bounds), backend="bokeh",
            title=f"{surface.name}: level set (dotted), teleport path (red), both runs")
        self._send_start()

    @param.depends("start", watch=True)
    def _send_start(self) -> None:
        surface, start = self.surface, self.start
        if start is None or surface is None:
            return
        self._setup.submit(lambda: float(surface.loss(jnp.asarray(start, default_dtype()))),
                           lambda level: self._start_pipe.send((start, level)) if surface is self.surface else None,
                           "Computing the level…")

    def _on_tap(self, x=None, y=None) -> None:
        if x is None or y is None or self.runner.running:
            return
        self.show(None)
        self.start = np.array([float(x), float(y)])

    def body(self):
        p = self.param
        network_only = [pn.widgets.Select.from_param(p.objective, width=200),
                        pn.widgets.IntInput.from_param(p.seeds, width=90)]
        analyse = action_button("Analyse the teleported point", self.analyse_teleported, self.runner, 220)
        settings = pn.Column(
            pn.widgets.RadioButtonGroup.from_param(p.setting, width=290),
            pn.widgets.Select.from_param(p.optimizer, width=140), pn.widgets.FloatInput.from_param(p.lr, width=120),
            pn.widgets.IntInput.from_param(p.epochs, width=120),
            pn.widgets.IntInput.from_param(p.teleport_every, label="Teleport every (0: once)", width=160),
            pn.widgets.Select.from_param(p.direction, width=120),
            pn.widgets.Select.from_param(p.state_mode, label="Optimizer state", width=140),
            *network_only, analyse, width=310)

        def show_network_inputs(*_):
            for widget in network_only:
                widget.visible = not self.on_surface

        self.param.watch(show_network_inputs, "setting")
        show_network_inputs()
        return pn.Column(self._intro, self.runner.controls(on_run=self.run),
                         pn.Row(settings, pn.Column(self.plot, self._curves, sizing_mode="stretch_width"),
                                sizing_mode="stretch_width"),  # one plot per row: the surface keeps its aspect
                         self._report, self.export, sizing_mode="stretch_width")


VIEW = ViewSpec(key="teleport", title="Teleport", factory=TeleportView, order=60)
