"""The Teleport view: level-set teleports on surfaces and teleporting optimizers on a small MLP.

What it shows (issue 6, "What a user gets"):

* **2-D surface** (the sidebar's problem when it is 2-D, else ``ellipse``):
  the level set through the start point (click the plot to move it), the
  teleport path along it towards the largest gradient norm
  (``landscape.teleport.level_set``) and two optimizer trajectories, without
  and with the teleport, beside their loss curves.
* **MLP**: the paper's 3-layer bias-free LeakyReLU(0.1) network on 4×4 digits
  (``mlp-digits`` with ``hidden=[16, 10]``, ``bias=False``, ``l2=0``) trained
  with SGD, momentum, AdaGrad, RMSProp or Adam, without and with teleports
  every ``teleport_every`` epochs; train (solid) and test (dashed) loss
  curves, the gradient norm with its jump at each teleport, the invariance
  error of the loss on the teleport batches, and at the end the sharpness φ
  and curvature ψ of both final points.  The objective (‖∇L‖², ‖∇L‖_A, φ,
  ψ) and the direction (raise or lower) of the teleport are inputs.

Both runs stream from ``landscape.teleport.iter_compare`` through a
:class:`app.runner.JobRunner`; exports are built from the stored Dataset.
"""

from __future__ import annotations

import html

import holoviews as hv
import jax.numpy as jnp
import numpy as np
import panel as pn
import param
import xarray as xr

from landscape import problems
from landscape import teleport as tp
from landscape.jobs import Event
from landscape.problems import Problem, default_dtype

from ..components.export import ExportBar
from ..components.styles import styled
from ..components.surface import surface_element, surface_grid
from ..runner import JobRunner, Throttle
from ..state import AppState
from . import ViewSpec

SETTINGS = ("2-D surface", "MLP (4×4 digits)")
ARM_COLORS = {"plain": "#1f77b4", "teleport": "#ff7f0e"}
ARM_LABELS = {"plain": "without teleport", "teleport": "with teleport"}
OBJECTIVE_LABELS = {"‖∇L‖²": "grad_norm", "‖∇L‖_A (AdaGrad)": "grad_norm_A", "sharpness φ": "sharpness",
                    "curvature ψ": "curvature"}
DIRECTION_LABELS = {"raise": 1, "lower": -1}


def paper_mlp() -> Problem:
    """The paper's 3-layer MLP (no biases, LeakyReLU 0.1) on the 4×4 digits."""
    return problems.get("mlp-digits", hidden=[16, 10], activation="leaky_relu", bias=False, l2=0.0)


def _curve(x, y, arm, dash="solid", label=None):
    return styled(hv.Curve((np.asarray(x), np.asarray(y)), "epoch", "value", label=label or ARM_LABELS[arm]),
                  color=ARM_COLORS[arm], framewise=True,
                  bokeh={"line_dash": dash, "line_width": 2}, matplotlib={"linewidth": 2})


def curves_element(records: dict, variable: str, title: str, logy: bool = True, dashed: str | None = None):
    """Curves of ``variable`` (and ``dashed``) against epoch for both arms from ``{arm: {var: [..]}}``.

    Every frame has the same layers (empty ones included), which streaming into Bokeh needs.
    """
    layers = []
    for arm in ARM_LABELS:
        rec = records.get(arm, {})
        epochs = rec.get("epoch", [])
        for var, dash in ((variable, "solid"), (dashed, "dashed")):
            if var is None:
                continue
            values = rec.get(var, [])
            x, y = (epochs, values) if len(values) == len(epochs) else ([], [])
            label = ARM_LABELS[arm] + (" (test)" if dash == "dashed" else "")
            layers.append(_curve(x, y, arm, dash, label))
    return hv.Overlay(layers).opts(title=title, logy=logy, show_legend=True)


def jumps_element(jumps: list[tuple[float, float, float]]):
    """Gradient-norm jump of each teleport: a vertical segment from before to after."""
    segments = [np.array([[e, b], [e, a]]) for e, b, a in jumps] or [np.zeros((0, 2))]
    return styled(hv.Path(segments, ["epoch", "value"]), color="red", framewise=True,
                  bokeh={"line_width": 3}, matplotlib={"linewidth": 3})


def surface_figure(grid: xr.Dataset, problem: Problem, result: xr.Dataset) -> hv.Layout:
    """Exported picture for a 2-D run: surface, level set, teleport path, both trajectories; loss curves."""
    start = result.theta.values[0, 0, 0]
    plot = surface_element(grid) * level_set_element(grid, float(problem.loss(jnp.asarray(start))))
    if "teleport_path" in result:
        plot = plot * teleport_path_element(result.teleport_path.values[0])
    for i, arm in enumerate(result.arm.values):
        plot = plot * trajectory_element(result.theta.values[i, 0], arm)
    records = {arm: {"epoch": list(result.epoch.values), "train_loss": list(result.train_loss.values[i, 0])}
               for i, arm in enumerate(result.arm.values)}
    curves = curves_element(records, "train_loss", "loss")
    return (plot.opts(title=f"{problem.name}: teleport then descend") + curves).cols(2)


def network_figure(result: xr.Dataset) -> hv.Layout:
    records = {}
    for i, arm in enumerate(result.arm.values):
        records[arm] = {"epoch": list(result.epoch.values),
                        **{v: list(result[v].values[i].mean(0)) for v in ("train_loss", "test_loss", "grad_norm_sq")}}
    losses = curves_element(records, "train_loss", "loss (solid: train, dashed: test)", dashed="test_loss")
    grads = curves_element(records, "grad_norm_sq", "‖∇L‖² (training set); red: teleport jumps")
    if result.sizes.get("teleport", 0):
        jumps = [(float(e), float(b), float(a)) for e, b, a in zip(
            result.teleport_epoch.values, result.grad_norm_sq_before.values.mean(0),
            result.grad_norm_sq_after.values.mean(0))]
        grads = (grads * jumps_element(jumps)).opts(title="‖∇L‖² (training set); red: teleport jumps")
    return (losses + grads).cols(2)


def level_set_element(grid: xr.Dataset, level: float):
    image = hv.Image((grid.x.values, grid.y.values, grid.loss.values), ["x", "y"], "loss")
    contour = hv.operation.contours(image, levels=[level], filled=False)
    return styled(contour, color="white", bokeh={"line_width": 3, "line_dash": "dotted"}, matplotlib={"linewidth": 2})


def teleport_path_element(path: np.ndarray):
    return styled(hv.Path([path], ["x", "y"], label="teleport path"), color="red",
                  bokeh={"line_width": 4, "apply_ranges": False}, matplotlib={"linewidth": 3})


def trajectory_element(theta: np.ndarray, arm: str):
    return styled(hv.Path([theta], ["x", "y"], label=ARM_LABELS[arm]), color=ARM_COLORS[arm],
                  bokeh={"line_width": 2.5, "apply_ranges": False}, matplotlib={"linewidth": 2})


class TeleportView(pn.viewable.Viewer):
    """Teleport along level sets (2-D) or with GL(h) actions (MLP), with and without, side by side."""

    setting = param.Selector(default=SETTINGS[0], objects=list(SETTINGS), doc="Surface or network.")
    problem = param.ClassSelector(class_=Problem, doc="The 2-D surface (follows the sidebar when 2-D).")
    optimizer = param.Selector(default="gd", objects=list(tp.OPTIMIZERS), doc="optax optimizer.")
    lr = param.Number(default=0.02, bounds=(0, None), doc="Optimizer learning rate.")
    epochs = param.Integer(default=60, bounds=(1, 100_000), doc="Epochs (2-D: steps).")
    teleport_every = param.Integer(default=0, bounds=(0, None), doc="Teleport every k epochs (0: once, at the start).")
    objective = param.Selector(default="‖∇L‖²", objects=list(OBJECTIVE_LABELS), doc="What the teleport changes.")
    direction = param.Selector(default="raise", objects=list(DIRECTION_LABELS), doc="Raise or lower it.")
    state_mode = param.Selector(default="reset", objects=list(tp.training.STATE_MODES),
                                doc="Optimizer state at a teleport (App. G.1).")
    seeds = param.Integer(default=3, bounds=(1, 10), doc="Seeds (MLP).")
    start = param.Array(default=None, doc="Start point on the surface (click the plot).")
    result = param.ClassSelector(class_=xr.Dataset, constant=True, doc="The last comparison.")

    def __init__(self, state: AppState | None = None, **params):
        if "problem" not in params:
            chosen = state.problem if state is not None else None
            params["problem"] = chosen if chosen is not None and chosen.is_2d else problems.get("ellipse")
        super().__init__(**params)
        self.runner = JobRunner()
        self._grid: xr.Dataset | None = None
        self._records: dict = {}
        self._jumps: list = []
        self._redraw = Throttle(0.25)
        self._surface_pipe = hv.streams.Pipe(data={})
        self._curves_pipe = hv.streams.Pipe(data={})
        self._plot = pn.pane.HoloViews(None, sizing_mode="stretch_width", min_height=420)
        self._curves = pn.pane.HoloViews(None, sizing_mode="stretch_width", min_height=420)
        self._report = pn.pane.Markdown("", sizing_mode="stretch_width")
        self._controls = self.runner.controls(on_run=self.run)
        self.export = ExportBar(figure=self.figure, dataset=lambda: self.result)
        if state is not None:
            state.param.watch(self._follow_state, "problem")
        self._load()

    # -- public API --------------------------------------------------------
    def schedule(self) -> tp.Schedule:
        at = (0,) if self.teleport_every <= 0 else tuple(range(0, self.epochs, self.teleport_every))
        surface = self.setting == SETTINGS[0]
        return tp.Schedule(
            epochs=self.epochs, teleport_at=at,
            objective="grad_norm" if surface else OBJECTIVE_LABELS[self.objective],
            direction=DIRECTION_LABELS[self.direction],
            state="reset" if surface and self.state_mode == "teleport" else self.state_mode,
            cap=100.0 if surface else 2.0, n_directions=50, n_curves=5,
        )

    def target(self) -> Problem:
        return self.problem if self.setting == SETTINGS[0] else paper_mlp()

    def run(self) -> None:
        """Run without and with teleports (streams into the plots)."""
        problem, schedule = self.target(), self.schedule()
        optimizer, lr = self.optimizer, float(self.lr)
        if problem.is_2d:
            kwargs = {"theta0": jnp.asarray(self.start, default_dtype())}
        else:
            kwargs = {"seeds": tuple(range(self.seeds))}
        self._records = {arm: {"epoch": [], "train_loss": [], "test_loss": [], "grad_norm_sq": [], "theta": []}
                         for arm in ARM_LABELS}
        self._jumps = []
        self._redraw = Throttle(0.25)
        self._report.object = ""

        def stream(cancel):
            result = yield from tp.iter_compare(problem, optimizer, schedule, lr=lr, cancel=cancel, **kwargs)
            if "final_theta" in result and result.attrs["status"] == "complete":
                metrics = [tp.sharpness_curvature(problem, result.final_theta.values[i], n_directions=50, n_curves=5)
                           for i in range(result.sizes["arm"])]
                yield Event("metrics", 1, 1, {arm: {k: float(m[k].mean()) for k in ("sharpness", "curvature")}
                                             for arm, m in zip(result.arm.values, metrics)})
            return result

        self.runner.start(stream, self._on_event, self._on_done)

    def figure(self):
        """The current picture rebuilt from the stored result (what the export buttons save)."""
        if self.result is None:
            raise ValueError("run first")
        if "theta" in self.result:
            return surface_figure(self._grid, self.problem, self.result)
        return network_figure(self.result)

    # -- streaming -----------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        data = event.data
        if event.kind == "metrics":
            rows = "".join(f"| {ARM_LABELS[a]} | {m['sharpness']:.4g} | {m['curvature']:.4g} |\n" for a, m in data.items())
            self._report.object += ("\n\n**Final point** (mean over seeds)\n\n| run | sharpness φ | curvature ψ |\n"
                                    "|---|---|---|\n" + rows)
            return
        arm = data["arm"]
        if event.kind == "teleport":
            before, after = np.mean(data["grad_norm_sq_before"]), np.mean(data["grad_norm_sq_after"])
            self._jumps.append((float(data["epoch"]), float(before), float(after)))
            self._report.object += (
                f"- teleport at epoch {data['epoch']}: ‖∇L‖² {before:.4g} → {after:.4g}, objective "
                f"{np.mean(data['objective_before']):.4g} → {np.mean(data['objective_after']):.4g}, "
                f"invariance error on the teleport batches {np.max(data['invariance_error']):.2e}\n")
            if "path" in data:
                self._surface_pipe.send({**self._surface_pipe.data, "path": data["path"]})
            return
        rec = self._records[arm]
        for key in ("train_loss", "test_loss", "grad_norm_sq"):
            if key in data:
                value = np.atleast_1d(data[key])
                rec[key].extend(value.tolist() if "theta" in data else [float(np.mean(value))])
        rec["epoch"].extend(np.atleast_1d(data["epoch"]).tolist())
        if "theta" in data:
            rec["theta"].append(data["theta"])
        if self._redraw.ready():
            self._push()

    def _push(self) -> None:
        self._curves_pipe.send({arm: dict(rec) for arm, rec in self._records.items()})
        if self.setting == SETTINGS[0]:
            paths = {arm: np.concatenate([self.start[None], *rec["theta"]]) for arm, rec in self._records.items()
                     if rec["theta"]}
            self._surface_pipe.send({**self._surface_pipe.data, "paths": paths})

    def _on_done(self, result: xr.Dataset) -> None:
        with param.edit_constant(self):
            self.result = result
        self._push()
        self.export.refresh(f"teleport-{self.target().name}")

    # -- reactions -------------------------------------------------------------
    def _follow_state(self, event) -> None:
        if event.new is not None and event.new.is_2d:
            self.problem = event.new

    @param.depends("setting", "problem", watch=True)
    def _load(self) -> None:
        self.runner.cancel()
        with param.edit_constant(self):
            self.result = None
        self.export.available = False
        self._report.object = ""
        self._records, self._jumps = {}, []
        self._surface_pipe.send({})
        self._curves_pipe.send({})
        surface = self.setting == SETTINGS[0]
        if surface:
            self.lr, self.epochs, self.optimizer = 0.02, 60, "gd"
            if self.problem.name == "rosenbrock":
                self.lr, self.epochs = 1e-3, 2000
            self._grid = surface_grid(self.problem)
            (x0, x1), (y0, y1) = self.problem.bounds
            self.start = np.array([x0 + 0.8 * (x1 - x0), y0 + 0.3 * (y1 - y0)])
            self._plot.object = self._live_surface()
        else:
            self.lr, self.epochs, self.optimizer = 1e-2, 20, "heavy-ball"
            self._grid = None
            self._plot.object = hv.DynamicMap(self._grad_plot, streams=[self._curves_pipe])
        self._plot.visible = True
        self._curves.object = hv.DynamicMap(self._loss_plot, streams=[self._curves_pipe])

    def _loss_plot(self, data):
        dashed = None if self.setting == SETTINGS[0] else "test_loss"
        title = "loss" if dashed is None else "loss (solid: train, dashed: test; mean over seeds)"
        return curves_element(data or {}, "train_loss", title, dashed=dashed).opts(
            responsive=True, min_height=400, framewise=True, backend="bokeh")

    def _grad_plot(self, data):
        plot = curves_element(data or {}, "grad_norm_sq", "")
        return (plot * jumps_element(self._jumps)).opts(
            title="‖∇L‖² (training set); red: jump at each teleport", responsive=True, min_height=400,
            framewise=True, backend="bokeh")

    def _live_surface(self):
        problem, grid = self.problem, self._grid
        base = surface_element(grid)

        def overlay(data):
            start = np.asarray(self.start, dtype=float)
            layers = [level_set_element(grid, float(problem.loss(jnp.asarray(start, default_dtype())))),
                      teleport_path_element(data.get("path", np.zeros((0, 2))))]
            paths = data.get("paths", {})
            layers += [trajectory_element(paths.get(arm, np.zeros((0, 2))), arm) for arm in ARM_LABELS]
            layers.append(styled(hv.Points([tuple(start)], ["x", "y"]), color="white",
                                 bokeh={"size": 11, "line_color": "black", "apply_ranges": False}))
            return hv.Overlay(layers)

        (x0, x1), (y0, y1) = problem.bounds
        plot = (base * hv.DynamicMap(overlay, streams=[self._surface_pipe])).opts(
            xlim=(x0, x1), ylim=(y0, y1), responsive=True, min_height=400,
            title="Dotted: level set; red: teleport path", backend="bokeh")
        tap = hv.streams.SingleTap(source=base.Image.I, transient=True)
        tap.add_subscriber(self._on_tap)
        return plot

    def _on_tap(self, x=None, y=None) -> None:
        if x is None or y is None or self.runner.running:
            return
        self.start = np.array([float(x), float(y)])
        self._records = {}
        self._surface_pipe.send({})
        self._curves_pipe.send({})

    def __panel__(self):
        network_only = [
            pn.widgets.Select.from_param(self.param.objective, width=200),
            pn.widgets.IntInput.from_param(self.param.seeds, width=90),
        ]
        settings = pn.Column(
            pn.widgets.RadioButtonGroup.from_param(self.param.setting, width=290),
            pn.widgets.Select.from_param(self.param.optimizer, width=140),
            pn.widgets.FloatInput.from_param(self.param.lr, width=120),
            pn.widgets.IntInput.from_param(self.param.epochs, width=120),
            pn.widgets.IntInput.from_param(self.param.teleport_every, name="Teleport every (0: once)", width=160),
            pn.widgets.Select.from_param(self.param.direction, width=120),
            pn.widgets.Select.from_param(self.param.state_mode, name="Optimizer state", width=140),
            *network_only,
            width=310,
        )

        def show_network_inputs(*_):
            for widget in network_only:
                widget.visible = self.setting != SETTINGS[0]

        self.param.watch(show_network_inputs, "setting")
        show_network_inputs()
        intro = pn.pane.Markdown(
            "Teleportation with parameter symmetries (Zhao et al.): move within a level set of the loss to a point "
            "of larger gradient norm (or changed sharpness/curvature), then keep optimizing. "
            f"Surface: **{html.escape(self.problem.name)}** follows the sidebar when it is 2-D; click it to move "
            "the start.",
            sizing_mode="stretch_width")
        return pn.Column(
            intro, self._controls,
            pn.Row(settings, self._plot, self._curves, sizing_mode="stretch_width"),
            self._report, self.export, sizing_mode="stretch_width",
        )


VIEW = ViewSpec(key="teleport", title="Teleport", factory=TeleportView, order=60)
