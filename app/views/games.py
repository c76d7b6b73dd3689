"""The Games view: phase portraits, Lyapunov heatmaps, generalized Ridge Rider, momentum rates.

What it shows (issue 5, "What a user gets"), each a thin view over :mod:`landscape.dynamics`:

* the **phase portrait** of the chosen 2-D game under the chosen update rule: arrows of the
  one-step displacement F(ω) − ω over the log-speed, the fixed points (hover: eigenvalues
  of the game Hessian and of the map's Jacobian there); **click** to launch a trajectory,
  which streams in (``iter_trajectories``);
* the **Lyapunov heatmap** of the k-step exponent (k, n, objective, direction strategy),
  filled in chunk by chunk (``iter_lyapunov_map``);
* **GRR** from the heatmap's maximum (or the last click): the tree grows live in the shared
  solution-tree plot (:class:`app.components.tree.TreePlot`) and its rides are drawn on the
  portrait (``iter_grr_search``);
* the **spectra** of Ĥ and J along the last trajectory in log-polar form (``spectrum_along``);
* the **complex-momentum rate map** ρ over (arg β, |β|) at the game's equilibrium
  (``momentum_rate_map``); clicking a cell switches the rule to SimCM with that β.

From Python without a server: ``view.run_heatmap()``, ``view.launch([x, y])``,
``view.run_grr()``, ``view.rate_map()``; results in ``view.heatmap``, ``view.paths``,
``view.tree``.
"""

from __future__ import annotations

import math

import holoviews as hv
import numpy as np
import panel as pn
import param
import xarray as xr

from landscape import dynamics, games
from landscape.update_rules import RULES, rule_names

from ..components.export import ExportBar
from ..components.styles import styled
from ..components.tree import TreePlot
from ..runner import JobRunner, LatestCall, Throttle
from . import ViewSpec

#: Two-dimensional games offered in the picker (others through the "subspace" wrapper).
GAMES = ("matching-pennies", "mixed", "small-ipd", "dirac-gan", "bilinear", "interpolated", "subspace")
#: Hyperparameters the view exposes (a rule uses the subset it defines).
HYPER = ("alpha", "lookahead", "extrapolation", "beta", "beta_abs", "beta_arg")
#: Default step size and look-ahead per game: LOLA at 4 shows the mixed game's Hopf ring.
GAME_ALPHA = {"mixed": 4.0, "small-ipd": 1.0, "matching-pennies": 1.0, "subspace": 0.5}


def _empty_image(bounds) -> hv.Image:
    (x0, x1), (y0, y1) = bounds
    return hv.Image(np.full((2, 2), np.nan), bounds=(x0, y0, x1, y1), kdims=["x", "y"], vdims=["exponent"])


class GamesView(pn.viewable.Viewer):
    """Phase portraits, Lyapunov heatmaps, GRR trees and momentum rate maps of 2-D games."""

    game = param.Selector(default="mixed", objects=list(GAMES), doc="Two-player game (2-D).")
    rule = param.Selector(default="lola", objects=rule_names(), doc="Update rule F.")
    alpha = param.Number(default=4.0, bounds=(0, None), doc="Step size α.")
    lookahead = param.Number(default=4.0, bounds=(0, None), doc="LOLA look-ahead η.")
    extrapolation = param.Number(default=0.1, bounds=(0, None), doc="EG/OG extrapolation α′.")
    beta = param.Number(default=0.5, bounds=(-1, 1), doc="Heavy-ball β (real).")
    beta_abs = param.Number(default=0.9, bounds=(0, 1), doc="|β| of complex momentum.")
    beta_arg = param.Number(default=math.pi / 8, bounds=(0, math.pi), doc="arg β of complex momentum.")
    steps = param.Integer(default=300, bounds=(1, 100_000), doc="Steps per trajectory.")
    k = param.Integer(default=10, bounds=(1, 200), doc="Exponent horizon k.")
    n = param.Integer(default=1, bounds=(1, 2), doc="Directions n (top-n).")
    objective = param.Selector(default="max", objects=list(dynamics.OBJECTIVES))
    directions = param.Selector(default="eigh", objects=list(dynamics.DIRECTIONS), doc="Direction strategy (Fig C.2).")
    resolution = param.Integer(default=48, bounds=(4, 512), doc="Heatmap cells per axis.")
    chunk = param.Integer(default=256, bounds=(1, 65536), doc="Cells per streamed chunk.")
    grr_step = param.Number(default=0.3, bounds=(0, None), doc="GRR branch step length.")
    grr_steps = param.Integer(default=800, bounds=(1, 100_000), doc="Optimizer steps per GRR branch.")
    heatmap = param.ClassSelector(class_=xr.Dataset, constant=True, doc="The last heatmap.")
    tree = param.ClassSelector(class_=xr.Dataset, constant=True, doc="The last GRR tree.")

    def __init__(self, state=None, **params):
        super().__init__(**params)
        self.runner = JobRunner()
        self._background = LatestCall()
        self._redraw = Throttle(0.25)
        self.paths: list[np.ndarray] = []
        self.portrait: xr.Dataset | None = None
        self.rates: xr.DataArray | None = None
        self._last_click: np.ndarray | None = None
        self._heat = np.zeros(0)
        self._field_pipe = hv.streams.Pipe(data=None)
        self._paths_pipe = hv.streams.Pipe(data=[])
        self._grr_pipe = hv.streams.Pipe(data=[])
        self._heat_pipe = hv.streams.Pipe(data=None)
        self._rate_pipe = hv.streams.Pipe(data=None)
        self._spectrum_pipe = hv.streams.Pipe(data=None)
        self.tree_plot = TreePlot(title="GRR tree: tap a node")
        self.tree_plot.param.watch(self._select_node, "selected")
        self.export = ExportBar(figure=self.figure, dataset=self.result)
        self._info = pn.pane.Markdown("", sizing_mode="stretch_width", margin=(0, 10), css_classes=["games-info"])
        self._controls = self.runner.controls(on_run=self.run_heatmap, label="Lyapunov map")
        self._background.param.watch(lambda e: self._note(e.new), "message")
        self._build_plots()
        self._load_game()

    # -- engine calls ----------------------------------------------------------
    @property
    def game_obj(self):
        return games.get(self.game)

    @property
    def bounds(self):
        return self.game_obj.bounds

    def hyper(self) -> dict[str, float]:
        """The rule's hyperparameters from the view's inputs."""
        return {name: getattr(self, name) for name in HYPER if name in RULES[self.rule].defaults}

    def _note(self, text: str) -> None:
        if text:
            self._info.object = text

    @param.depends("game", watch=True)
    def _load_game(self) -> None:
        alpha = GAME_ALPHA.get(self.game, 0.1)
        self.param.update(alpha=alpha, lookahead=alpha)
        self.paths = []
        self._paths_pipe.send([])
        self._grr_pipe.send([])
        self._heat_pipe.send(None)
        self.tree_plot.show(None)
        self._refresh_portrait()

    @param.depends("rule", *HYPER, watch=True)
    def _refresh_portrait(self) -> None:
        game, rule, hyper = self.game_obj, self.rule, self.hyper()

        def compute():
            return dynamics.phase_portrait(game, rule, grid=21, **hyper)

        self._info.object = f"Computing the phase portrait of **{self.game}** under **{rule}**…"
        self._background.submit(compute, self._show_portrait)

    def _show_portrait(self, ds: xr.Dataset) -> None:
        self.portrait = ds
        self._field_pipe.send(ds)
        lines = []
        for i in range(ds.sizes["fixed"]):
            h = ds.hessian_eig_re.values[i] + 1j * ds.hessian_eig_im.values[i]
            j = ds.jacobian_eig_re.values[i] + 1j * ds.jacobian_eig_im.values[i]
            p = ds.fixed_point.values[i]
            lines.append(f"fixed point ({p[0]:.3f}, {p[1]:.3f}): eig Ĥ = {', '.join(f'{e:.3g}' for e in h)}; "
                         f"max |eig J| = {np.max(np.abs(j)):.4f}")
        self._info.object = "  \n".join(lines) or "No finite fixed point in view."
        self.export.refresh(f"games-{self.game}-{self.rule}")

    def launch(self, start) -> None:
        """Stream a trajectory of the current rule from ``start`` onto the portrait."""
        start = np.asarray(start, float).reshape(2)
        self._last_click = start
        index = len(self.paths)
        self.paths.append(start[None])
        game, rule, hyper, steps = self.game_obj, self.rule, self.hyper(), self.steps

        def on_event(event):
            self.paths[index] = np.concatenate([self.paths[index], event.data["points"][0]])
            if self._redraw.ready():
                self._paths_pipe.send(list(self.paths))

        def on_done(ds):
            self._paths_pipe.send(list(self.paths))
            self._spectra_along(start)

        self.runner.start(lambda cancel: dynamics.iter_trajectories(game, rule, [start], steps, chunk=50,
                                                                    cancel=cancel, **hyper), on_event, on_done)

    def _spectra_along(self, start) -> None:
        game, rule, hyper, steps = self.game_obj, self.rule, self.hyper(), self.steps
        every = max(1, steps // 20)
        self._background.submit(lambda: dynamics.spectrum_along(game, rule, start, steps, every, **hyper),
                                self._spectrum_pipe.send)

    def run_heatmap(self) -> None:
        """Stream the k-step exponent heatmap over the view box, chunk by chunk."""
        (x0, x1), (y0, y1) = self.bounds
        xs, ys = np.linspace(x0, x1, self.resolution), np.linspace(y0, y1, self.resolution)
        self._heat = np.full(len(xs) * len(ys), np.nan)
        game, rule, hyper = self.game_obj, self.rule, self.hyper()
        settings = dict(k=self.k, n=self.n, objective=self.objective, directions=self.directions, chunk=self.chunk)
        self._redraw = Throttle(0.25)

        def on_event(event):
            self._heat[event.data["start"]:event.data["stop"]] = event.data["values"]
            if self._redraw.ready() or event.done == event.total:
                self._heat_pipe.send((xs, ys, self._heat.reshape(len(ys), len(xs)).copy()))

        def on_done(ds):
            with param.edit_constant(self):
                self.heatmap = ds
            self._heat_pipe.send((xs, ys, ds.exponent.values))

        self.runner.start(lambda cancel: dynamics.iter_lyapunov_map(game, rule, xs, ys, cancel=cancel,
                                                                    **settings, **hyper), on_event, on_done)

    def grr_start(self) -> np.ndarray:
        """The heatmap's arg-max if there is one, else the last clicked point, else the origin."""
        if self.heatmap is not None and np.isfinite(self.heatmap.exponent.values).any():
            ex = self.heatmap.exponent
            iy, ix = np.unravel_index(np.nanargmax(ex.values), ex.shape)
            return np.array([ex.x.values[ix], ex.y.values[iy]])
        return self._last_click if self._last_click is not None else np.zeros(2)

    def run_grr(self) -> None:
        """Generalized Ridge Rider from :meth:`grr_start`; the tree and rides stream in."""
        start = self.grr_start()
        game, rule, hyper = self.game_obj, self.rule, self.hyper()
        rides: list[np.ndarray] = []
        settings = dict(k=self.k, step_size=self.grr_step, optimize_steps=self.grr_steps, max_depth=2,
                        record_every=max(1, self.grr_steps // 100))

        def on_event(event):
            rides.append(np.asarray(event.data["ride"]))
            self._grr_pipe.send(list(rides))

        def on_done(tree):
            with param.edit_constant(self):
                self.tree = tree
            self.tree_plot.show(tree)
            counts = {s: int((tree.status.values == s).sum()) for s in ("solution", "not-converged", "branched")}
            self._info.object = (f"GRR from ({start[0]:.2f}, {start[1]:.2f}): {tree.sizes['node']} nodes; "
                                 + ", ".join(f"{v} {k}" for k, v in counts.items()))

        self.runner.start(lambda cancel: dynamics.iter_grr_search(game, rule, start, cancel=cancel,
                                                                  **settings, **hyper), on_event, on_done)

    def rate_map(self) -> None:
        """ρ of SimCM over (|β|, arg β) at the game's first fixed point, for the current α."""
        game, alpha = self.game_obj, self.alpha
        fixed = self.portrait.fixed_point.values if self.portrait is not None else np.zeros((0, 2))
        if len(fixed) == 0:
            self._info.object = "The rate map needs a finite fixed point of the game."
            return

        def compute():
            return dynamics.momentum_rate_map(game, alpha, np.linspace(0, 0.99, 40), np.linspace(0, math.pi, 49),
                                              theta=fixed[0])

        self._background.submit(compute, self._show_rates)

    def _show_rates(self, rates: xr.DataArray) -> None:
        self.rates = rates
        self._rate_pipe.send(rates)
        self._info.object = (f"best ρ = {rates.attrs['best_rate']:.4f} at |β| = {rates.attrs['best_abs_beta']:.3f}, "
                             f"arg β = {rates.attrs['best_arg_beta'] / math.pi:.3f}π (α = {self.alpha})")

    def _select_node(self, event) -> None:
        if self.tree is None or event.new < 0:
            return
        node = self.tree.isel(node=event.new)
        losses = ", ".join(f"{v:.3f}" for v in node.player_loss.values)
        self._info.object = (f"Node {event.new}, Ψ = {str(node.fingerprint.values) or 'root'}: status "
                             f"{node.status.values}, player losses {losses}, ‖ĝ‖ = {float(node.grad_norm):.2e}")

    # -- plots ------------------------------------------------------------------
    def _field_arrays(self, data):
        (x0, x1), (y0, y1) = self.bounds
        if data is None:
            xs, ys = np.linspace(x0, x1, 3), np.linspace(y0, y1, 3)
            return xs, ys, np.zeros((3, 3)), np.zeros((3, 3)), np.full((3, 3), np.nan), np.zeros((0, 2))
        return data.x.values, data.y.values, data.u.values, data.v.values, data.speed.values, data.fixed_point.values

    def _field_image(self, data) -> hv.Image:
        """Log-speed of the one-step displacement (the click target)."""
        xs, ys, _, _, speed, _ = self._field_arrays(data)
        bounds = self.bounds
        image = hv.Image((xs, ys, np.log10(np.maximum(speed, 1e-12))), kdims=["x", "y"],
                         vdims=["log10 |F(ω) − ω|"])
        return styled(image, cmap="Blues", title="Phase portrait: click to launch", xlim=bounds[0],
                      ylim=bounds[1], bokeh={"width": 460, "height": 420})

    def _field_marks(self, data) -> hv.Overlay:
        """Arrows of F(ω) − ω and the fixed points."""
        xs, ys, u, v, speed, fixed = self._field_arrays(data)
        gx, gy = np.meshgrid(xs, ys)
        top = np.nanmax(speed) if np.isfinite(speed).any() else 1.0
        mag = np.sqrt(np.nan_to_num(speed) / max(top, 1e-300))
        arrows = hv.VectorField((gx, gy, np.arctan2(v, u), mag), kdims=["x", "y"], vdims=["angle", "magnitude"])
        return (styled(arrows, color="black", bokeh={"magnitude": "magnitude", "pivot": "tail"},
                       matplotlib={"magnitude": "magnitude"})
                * styled(hv.Points(fixed, kdims=["x", "y"]), color="red",
                         bokeh={"size": 12, "marker": "x", "line_width": 3}, matplotlib={"s": 80, "marker": "x"}))

    def _field(self, data) -> hv.Overlay:
        return self._field_image(data) * self._field_marks(data)

    def _paths(self, data, color) -> hv.Path:
        return styled(hv.Path([p for p in data if len(p) > 1], kdims=["x", "y"]), color=color,
                      bokeh={"line_width": 2, "apply_ranges": False}, matplotlib={"linewidth": 1.5})

    def _heat_image(self, data) -> hv.Image:
        if data is None:
            image = _empty_image(self.bounds)
        else:
            xs, ys, values = data
            image = hv.Image((xs, ys, values), kdims=["x", "y"], vdims=["exponent"])
        return styled(image, cmap="magma", colorbar=True, title="Max k-step Lyapunov exponent",
                      bokeh={"width": 460, "height": 420, "clipping_colors": {"NaN": "#eeeeee"}, "tools": ["hover"]})

    def _rate_image(self, data) -> hv.Image:
        if data is None:
            image = hv.Image(np.full((2, 2), np.nan), bounds=(0, 0, math.pi, 1), kdims=["arg β", "|β|"],
                             vdims=["ρ"])
        else:
            image = hv.Image((data.arg_beta.values, data.abs_beta.values, np.minimum(data.values, 1.1)),
                             kdims=["arg β", "|β|"], vdims=["ρ"])
        return styled(image, cmap="viridis_r", colorbar=True, title="Complex momentum: ρ over β (click: use it)",
                      bokeh={"width": 460, "height": 320, "tools": ["hover", "tap"]})

    def _spectrum(self, data) -> hv.Overlay:
        def frame(prefix):
            if data is None:
                return {"arg λ": [], "log |λ|": [], "time": []}
            t = np.repeat(data.step.values, data[f"{prefix}_arg"].shape[1])
            return {"arg λ": data[f"{prefix}_arg"].values.ravel(), "log |λ|": data[f"{prefix}_logabs"].values.ravel(),
                    "time": t}
        opts = {"size": 5, "alpha": 0.6, "width": 460, "height": 320, "tools": ["hover"]}
        return (styled(hv.Scatter(frame("jacobian"), "arg λ", ["log |λ|", "time"]).relabel("J"), color="blue",
                       title="Spectra along the trajectory (log-polar)", bokeh=opts)
                * styled(hv.Scatter(frame("hessian"), "arg λ", ["log |λ|", "time"]).relabel("Ĥ"), color="green",
                         bokeh=opts))

    def _build_plots(self) -> None:
        field = hv.DynamicMap(self._field_image, streams=[self._field_pipe])
        marks = hv.DynamicMap(self._field_marks, streams=[self._field_pipe])
        trajectories = hv.DynamicMap(lambda data: self._paths(data, "orange"), streams=[self._paths_pipe])
        rides = hv.DynamicMap(lambda data: self._paths(data, "magenta"), streams=[self._grr_pipe])
        portrait = field * marks * trajectories * rides
        self._tap = hv.streams.SingleTap(source=field, transient=True)
        self._tap.add_subscriber(self._on_tap)
        heat = hv.DynamicMap(self._heat_image, streams=[self._heat_pipe])
        rate = hv.DynamicMap(self._rate_image, streams=[self._rate_pipe])
        self._rate_tap = hv.streams.SingleTap(source=rate, transient=True)
        self._rate_tap.add_subscriber(self._use_beta)
        spectrum = hv.DynamicMap(self._spectrum, streams=[self._spectrum_pipe])
        self._plots = pn.Column(
            pn.Row(pn.pane.HoloViews(portrait, css_classes=["games-portrait"]),
                   pn.pane.HoloViews(heat, css_classes=["games-heatmap"])),
            pn.Row(pn.pane.HoloViews(spectrum), pn.pane.HoloViews(rate, css_classes=["games-rates"])),
        )

    def _on_tap(self, x=None, y=None) -> None:
        if x is not None and y is not None and not self.runner.running:
            self.launch([x, y])

    def _use_beta(self, x=None, y=None) -> None:
        if x is None or y is None:
            return
        self.param.update(rule="simcm", beta_abs=float(np.clip(y, 0, 1)), beta_arg=float(np.clip(x, 0, math.pi)))

    # -- export -----------------------------------------------------------------
    def figure(self) -> hv.Layout:
        """Portrait with trajectories and rides, and the heatmap, from the stored results."""
        portrait = self._field(self.portrait) * self._paths(self.paths, "orange")
        if self.tree is not None:
            portrait = portrait * self._paths(self._tree_rides(), "magenta")
        heat = self._heat_image(None if self.heatmap is None else
                                (self.heatmap.x.values, self.heatmap.y.values, self.heatmap.exponent.values))
        return (portrait + heat).cols(2)

    def _tree_rides(self) -> list[np.ndarray]:
        nodes = self.tree.point_node.values
        return [self.tree.point_theta.values[nodes == n] for n in np.unique(nodes)]

    def result(self) -> xr.Dataset:
        """Portrait, trajectories (padded with NaN) and heatmap merged into one Dataset."""
        ds = self.portrait.copy() if self.portrait is not None else xr.Dataset()
        if self.paths:
            length = max(len(p) for p in self.paths)
            padded = np.full((len(self.paths), length, 2), np.nan)
            for i, p in enumerate(self.paths):
                padded[i, : len(p)] = p
            ds = ds.assign(launched=(("launch", "launch_step", "param"), padded))
        if self.heatmap is not None:
            ds = ds.assign(exponent=(("heat_y", "heat_x"), self.heatmap.exponent.values)).assign_coords(
                heat_x=self.heatmap.x.values, heat_y=self.heatmap.y.values)
        return ds

    def __panel__(self):
        numbers = {name: pn.widgets.FloatInput for name in (*HYPER, "grr_step")}
        numbers.update({name: pn.widgets.IntInput for name in ("steps", "k", "n", "resolution", "chunk", "grr_steps")})
        # the column is as wide as Param's default 300 px widgets: narrower clips them
        settings = pn.Param(
            self.param, parameters=["game", "rule", *HYPER, "steps", "k", "n", "objective", "directions",
                                    "resolution", "chunk", "grr_step", "grr_steps"],
            widgets=numbers, show_name=False, width=300,
        )
        grr = pn.widgets.Button(label="GRR", width=100)
        grr.on_click(lambda _e: self._guarded(self.run_grr))
        rates = pn.widgets.Button(label="Rate map", width=100)
        rates.on_click(lambda _e: self.rate_map())
        return pn.Column(
            pn.Row(self._controls, grr, rates, sizing_mode="stretch_width"),
            self._info,
            pn.Row(settings, pn.Column(self._plots, self.tree_plot)),
            self.export,
            sizing_mode="stretch_width",
        )

    def _guarded(self, action) -> None:
        if self.runner.running:
            self.runner.message = "A job is running: cancel it first."
            return
        action()


VIEW = ViewSpec(key="games", title="Games", factory=lambda state=None: GamesView(state=state), order=40)
