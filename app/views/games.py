"""The Games view: phase portraits, Lyapunov heatmaps, generalized Ridge Rider, momentum rates.

It follows the session's problem: any 2-D game of the sidebar's picker (others
get a sentence saying why not).  Engine calls, all off the event loop, each
one a thin call into :mod:`landscape.games`:

* **Lyapunov map** (the Run button): ``iter_lyapunov_map`` over the game's box;
* a **click** on the portrait: ``iter_trajectories`` from there, then the
  spectra of Ĥ and J along it (``spectrum_along``) and at its end (``spectra_at``);
* **GRR**: ``iter_grr_search`` from the heatmap's peak (``explore.heatmap_peak``)
  or the last click;
* **Rate map**: ``momentum_rate_map`` at the first fixed point, for the rule's α;
  clicking a cell switches the rule to SimCM with that α and β;
* the phase portrait (``phase_portrait``) whenever the rule or its
  hyperparameters change.

The rule's inputs come from its catalogue specs (:mod:`landscape.optim`, via
:func:`app.components.hypers.hyper_rows`) and write ``hparams`` (per rule, overrides
of the defaults); unset α and η are the game's ``explore.suggested_hypers``.  Older
settings (one shared ``alpha``, ``beta``, …) open: :meth:`GamesView.restore` moves them.

Figures: :mod:`app.figures.games`.  From Python: ``view.run()`` (heatmap),
``view.launch([x, y])``, ``view.run_grr()``, ``view.rate_map()``; results in
``view.result`` (the latest job's), ``view.portrait``, ``view.heatmap``,
``view.trajectories``, ``view.tree``, ``view.along``, ``view.rates``.
"""

from __future__ import annotations

import math
from typing import Any

import holoviews as hv
import numpy as np
import panel as pn
import param
import xarray as xr

from landscape import games
from landscape.games import explore
from landscape.games.rules import RULES, resolve, rule_names
from landscape.results import config_of

from ..components.actions import action_button
from ..components.hypers import entry, hyper_rows
from ..components.text import set_text, text_pane
from ..components.tree import TreePlot
from ..figures import games as fig
from . import ViewSpec
from .base import BaseView

#: Settings of saved explorations and links made before ``hparams``: one value shared by every rule.
LEGACY_HYPER = ("alpha", "lookahead", "extrapolation", "beta", "beta_abs", "beta_arg")
JOBS = ("heatmap", "trajectory", "grr")


class GamesView(BaseView):
    """Phase portraits, Lyapunov heatmaps, GRR trees and momentum rate maps of 2-D games."""

    title = "Games"
    glossary_terms = ("lyapunov", "rho", "fingerprint")
    settings_params = ("rule", "hparams", "steps", "k", "n", "objective", "directions", "resolution", "chunk",
                       "grr_step", "grr_steps")
    rule = param.Selector(default="lola", objects=rule_names(), doc="Update rule F.")
    hparams = param.Dict(default={}, doc="Per update rule: hyperparameters that override the catalogue's defaults.")
    steps = param.Integer(default=300, bounds=(1, 100_000), doc="Steps per trajectory.")
    k = param.Integer(default=10, bounds=(1, 200), doc="Exponent horizon k.")
    n = param.Integer(default=1, bounds=(1, 2), doc="Directions n (top-n).")
    objective = param.Selector(default="max", objects=list(games.OBJECTIVES))
    directions = param.Selector(default="eigh", objects=list(games.DIRECTIONS), doc="Direction strategy (Fig C.2).")
    resolution = param.Integer(default=48, bounds=(4, 512), doc="Heatmap cells per axis.")
    chunk = param.Integer(default=256, bounds=(1, 65536), doc="Cells per streamed chunk.")
    grr_step = param.Number(default=0.3, bounds=(0, None), doc="GRR branch step length.")
    grr_steps = param.Integer(default=800, bounds=(1, 100_000), doc="Optimizer steps per GRR branch.")

    def setup(self) -> None:
        self.portrait = self.heatmap = self.tree = self.along = self.rates = None
        self.trajectories: list[xr.Dataset] = []
        self._job, self._start = "heatmap", np.zeros(2)
        self._field_pipe, self._paths_pipe, self._rides_pipe = (hv.streams.Pipe(data=None) for _ in range(3))
        self._heat_pipe, self._rate_pipe, self._along_pipe = (hv.streams.Pipe(data=None) for _ in range(3))
        self.tree_plot = TreePlot(title="GRR tree: tap a node")
        self.tree_plot.param.watch(lambda event: self._show_node(event.new), "selected")
        self._info = text_pane(margin=(0, 10), css_classes=["games-info"])
        self.param.watch(lambda *_events: self._refresh_portrait(), ["rule", "hparams"])

    # -- engine calls ----------------------------------------------------------
    def not_applicable(self, problem) -> str:
        return explore.is_planar_game(problem)[1]

    def suggested(self, rule: str) -> dict[str, float]:
        """The game's suggested hyperparameters of ``rule`` (α, η at its step), shown unless overridden."""
        return explore.suggested_hypers(self.problem)[rule] if not self.not_applicable(self.problem) else {}

    def hyper(self) -> dict[str, Any]:
        """The rule's hyperparameters: the game's suggestion, then the inputs' overrides (the engine validates)."""
        return {**self.suggested(self.rule), **entry(self, self.rule)}

    def check(self) -> None:
        for rule, values in self.hparams.items():
            if rule not in RULES or not isinstance(values, dict):
                raise ValueError(f"hparams: {rule!r}: {values!r} is not an update rule's hyperparameters; "
                                 f"expected {{rule: {{name: number}}}} with rules {', '.join(RULES)}")

    def run(self, job: str = "heatmap") -> None:
        """Start ``job``: the Lyapunov heatmap (default), a trajectory or a GRR search."""
        if job not in JOBS:
            raise ValueError(f"unknown Games job {job!r}; choose from {', '.join(JOBS)}")
        self._job = job
        super().run()

    def launch(self, start) -> None:
        """Stream a trajectory of the current rule from ``start`` onto the portrait."""
        self._start = np.asarray(start, float).reshape(2)
        self.run("trajectory")

    def grr_start(self) -> np.ndarray:
        """The heatmap's peak if there is one, else the last clicked point."""
        peak = explore.heatmap_peak(self.heatmap)
        return peak if peak is not None else self._start

    def run_grr(self) -> None:
        """Generalized Ridge Rider from :meth:`grr_start`; the tree and rides stream in."""
        self.run("grr")

    def stream(self, cancel):
        game, rule, hyper = self.problem, self.rule, self.hyper()
        if self._job == "trajectory":
            return games.iter_trajectories(game, rule, [self._start], self.steps, chunk=50, cancel=cancel, **hyper)
        if self._job == "grr":
            return games.iter_grr_search(game, rule, self.grr_start(), k=self.k, step_size=self.grr_step,
                                            optimize_steps=self.grr_steps, max_depth=2,
                                            record_every=max(1, self.grr_steps // 100), cancel=cancel, **hyper)
        xs, ys = explore.heatmap_axes(game, self.resolution)
        return games.iter_lyapunov_map(game, rule, xs, ys, k=self.k, n=self.n, objective=self.objective,
                                       directions=self.directions, chunk=self.chunk, cancel=cancel,
                                       executor=self.executor, **hyper)

    def rate_map(self) -> None:
        """ρ of SimCM over (|β|, arg β) at the game's first fixed point, for the current rule's α."""
        game, alpha = self.problem, games.hyperparameters(self.rule, **self.hyper())["alpha"]
        fixed = self.portrait.fixed_point.values if self.portrait is not None else np.zeros((0, 2))
        if len(fixed) == 0:
            raise ValueError("The rate map needs a finite fixed point of the game (wait for the portrait)")
        self.background.submit(lambda: games.momentum_rate_map(game, alpha, np.linspace(0, 0.99, 40),
                                                                  np.linspace(0, math.pi, 49), theta=fixed[0]),
                               self._show_rates, "Computing the rate map…")

    def draw(self, result: xr.Dataset | None = None) -> hv.Layout:
        """Portrait with trajectories and rides, heatmap and spectra, from the stored results."""
        return fig.games_figure(self.portrait, self.problem.bounds, trajectories=self._all_paths(),
                                tree=self.tree, heat=self.heatmap, along=self.along)

    # -- rendering -------------------------------------------------------------
    def render(self, result: xr.Dataset | None) -> None:
        if result is None:
            return
        kind, final = result.attrs.get("kind"), result.attrs.get("status") != "running"
        if kind == "lyapunov-map":
            self.heatmap = result
            self._heat_pipe.send(result)
        elif kind == "game-trajectories":
            self._paths_pipe.send(fig.trajectory_rows(self._all_paths(result)))
            if final:
                self.trajectories.append(result)
                self._spectra_at_end(result)
        elif kind == "grr-tree":
            self.tree = result
            self.tree_plot.show(result)
            self._rides_pipe.send(fig.ride_rows(result))
            if final:
                counts = {s: int((result.status.values == s).sum()) for s in ("solution", "not-converged", "branched")}
                start = self.grr_start()
                set_text(self._info, f"GRR from ({start[0]:.2f}, {start[1]:.2f}): {result.sizes['node']} nodes; "
                         + ", ".join(f"{v} {k}" for k, v in counts.items()))

    def _all_paths(self, current: xr.Dataset | None = None) -> xr.Dataset | None:
        """Every finished trajectory (and ``current``) as one Dataset over ``run``, NaN-padded."""
        parts = [*self.trajectories, *([current] if current is not None else [])]
        if not parts:
            return None
        return xr.concat([p[["path"]].drop_vars("run") for p in parts], dim="run", join="outer")

    def _spectra_at_end(self, result: xr.Dataset) -> None:
        game, rule, hyper, steps = self.problem, self.rule, self.hyper(), self.steps
        path = fig.trajectory_rows(result)[0]
        start, end = path[0], path[-1]

        def compute():
            along = games.spectrum_along(game, rule, start, steps, max(1, steps // 20), **hyper)
            hess, jac = games.spectra_at(game, rule, end[None], resolve(game, rule, hyper)[2])
            return along, hess[0], jac[0]

        def show(value):
            self.along, hess, jac = value
            self._along_pipe.send(self.along)
            set_text(self._info, f"trajectory end ({end[0]:.3f}, {end[1]:.3f}): eig Ĥ = "
                     f"{', '.join(f'{e:.3g}' for e in hess)}; max |eig J| = {np.max(np.abs(jac)):.4f}")

        self.background.submit(compute, show, "Computing the spectra along the trajectory…")

    def on_problem(self) -> None:
        self.portrait = self.heatmap = self.tree = self.along = self.rates = None
        self.trajectories, self._start = [], np.zeros(2)
        for pipe in (self._field_pipe, self._paths_pipe, self._rides_pipe, self._heat_pipe, self._rate_pipe,
                     self._along_pipe):
            pipe.send(None)
        self.tree_plot.show(None)
        self._refresh_portrait()  # hparams is left alone: a link's settings arrive while the game changes

    def _refresh_portrait(self) -> None:
        if self.not_applicable(self.problem):
            return
        game, rule, hyper = self.problem, self.rule, self.hyper()

        def show(portrait: xr.Dataset) -> None:
            if game is self.problem:
                self.portrait = portrait
                self._field_pipe.send(portrait)
                set_text(self._info, "\n".join(fig.fixed_point_lines(portrait)))

        set_text(self._info, f"Computing the phase portrait of {game.name} under {rule} (compiling…)")
        self.background.submit(lambda: games.phase_portrait(game, rule, grid=21, **hyper), show,
                               "Computing the phase portrait…")

    def _show_rates(self, rates: xr.DataArray) -> None:
        self.rates = rates
        self._rate_pipe.send(rates)
        beta = fig.beta_text(rates.attrs["best_abs_beta"], rates.attrs["best_arg_beta"])
        set_text(self._info, f"best ρ = {rates.attrs['best_rate']:.4f} at β = {beta} (α = {config_of(rates)['alpha']:.3g})")

    def _show_node(self, node: int) -> None:
        if self.tree is None or node < 0:
            return
        row = self.tree.isel(node=node)
        losses = ", ".join(f"{v:.3f}" for v in row.player_loss.values)
        set_text(self._info, f"Node {node}, Ψ = {str(row.fingerprint.values) or 'root'}: status "
                 f"{row.status.values}, player losses {losses}, ‖ĝ‖ = {float(row.grad_norm):.2e}")

    # -- layout ------------------------------------------------------------------
    def _plots(self) -> pn.Column:
        bounds = lambda: self.problem.bounds  # noqa: E731  (read when a frame is drawn)
        field = hv.DynamicMap(lambda data: fig.speed_image(data, bounds()), streams=[self._field_pipe])
        marks = hv.DynamicMap(lambda data: fig.field_marks(data, bounds()), streams=[self._field_pipe])
        orange = hv.DynamicMap(lambda data: fig.paths(data or [], "orange"), streams=[self._paths_pipe])
        magenta = hv.DynamicMap(lambda data: fig.paths(data or [], "magenta"), streams=[self._rides_pipe])
        tap = hv.streams.SingleTap(source=field, transient=True)  # a bare image: taps on overlays are lost
        tap.add_subscriber(lambda x=None, y=None: None if x is None or self.runner.running else self.launch([x, y]))
        heat = hv.DynamicMap(lambda data: fig.heatmap(data, bounds()), streams=[self._heat_pipe])
        rates = hv.DynamicMap(lambda data: fig.rates(data), streams=[self._rate_pipe])
        rate_tap = hv.streams.SingleTap(source=rates, transient=True)
        rate_tap.add_subscriber(self.use_beta)
        along = hv.DynamicMap(lambda data: fig.spectra(data), streams=[self._along_pipe])

        def pane(obj, css):
            return pn.pane.HoloViews(obj, linked_axes=False, css_classes=[css])

        # one fixed-size (460-px) panel a row: two side by side were clipped beside the settings at 1280 px
        return pn.Column(pane((field * marks * orange * magenta).opts(framewise=True), "games-portrait"),
                         pane(heat, "games-heatmap"), pane(along, "games-spectra"), pane(rates, "games-rates"))

    def use_beta(self, x=None, y=None) -> None:
        """A click on the rate map at (arg β, |β|) = (x, y): SimCM with the map's α and that β."""
        if x is None or y is None or self.rates is None:
            return
        chosen = {"alpha": config_of(self.rates)["alpha"], "beta_abs": float(np.clip(y, 0, 1)),
                  "beta_arg": float(np.clip(x, 0, math.pi))}
        self.param.update(rule="simcm", hparams={**self.hparams, "simcm": {**entry(self, "simcm"), **chosen}})

    def restore(self, settings: dict[str, Any], results=None) -> None:
        """:meth:`BaseView.restore`, with the shared hyperparameters of older settings moved into ``hparams``."""
        settings = dict(settings)
        legacy = {name: settings.pop(name) for name in LEGACY_HYPER if name in settings}
        if legacy:
            hparams = dict(settings.get("hparams") or self.hparams)
            for rule, algorithm in RULES.items():
                hparams[rule] = {**hparams.get(rule, {}), **{k: v for k, v in legacy.items() if k in algorithm.defaults}}
            settings["hparams"] = hparams
        super().restore(settings, results)

    def body(self):
        numbers = {"grr_step": pn.widgets.FloatInput}
        numbers.update({name: pn.widgets.IntInput for name in ("steps", "k", "n", "resolution", "chunk", "grr_steps")})
        # the column is as wide as Param's default 300 px widgets: narrower clips them
        rows = hyper_rows(self, RULES, lambda rule: rule == self.rule, ["rule", "problem"], width=125,
                          defaults=self.suggested)
        parameters = [name for name in self.settings_params if name not in ("rule", "hparams")]
        settings = pn.Column(pn.widgets.Select.from_param(self.param.rule, width=290), *rows.values(),
                             pn.Param(self.param, parameters=parameters, widgets=numbers, show_name=False, width=300),
                             width=310)
        return pn.Column(
            pn.Row(self.runner.controls(on_run=self.run, label="Lyapunov map"),
                   action_button("GRR", self.run_grr, self.runner, 100),
                   action_button("Rate map", self.rate_map, self.runner, 100), sizing_mode="stretch_width"),
            self._info, pn.Row(settings, self._plots(), sizing_mode="stretch_width"),
            self.tree_plot, self.export,  # the tree page-wide: beside the settings its 640-px frame ran off at 1280
            sizing_mode="stretch_width")


VIEW = ViewSpec(key="games", title="Games", factory=GamesView, order=40)
