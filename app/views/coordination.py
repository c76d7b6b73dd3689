"""The Coordination view: zero-shot coordination by Ridge Rider (Algorithm 3, §4 Fig. 6).

Engine call: ``landscape.ridge_rider.zsc.iter_zero_shot_coordination`` with the
lever game's setting (``zsc.LEVER_SETTINGS``): independent runs, each on a random
relabelling of the game, find the maximally invariant saddle, ride every first
ridge and keep per fingerprint its best self-play solution; the fingerprint with
the highest cross-play between runs is selected.  Runs go to the session's
"Compute" executor and stream in as they finish.  Figures:
:mod:`app.figures.coordination`.  "Analyse" hands the selected fingerprint's
solution (of the first run that has one) to the Critical Points view.

From Python: ``view.run()``, ``view.result``, ``view.draw(view.result)``.
"""

from __future__ import annotations

import numpy as np
import panel as pn
import param

from landscape.ridge_rider import zsc

from ..components.actions import action_button
from ..components.text import text_pane
from ..figures.coordination import coordination_figure
from . import ViewSpec
from .base import BaseView

INTRO = ("Zero-shot coordination (Ridge Rider, Algorithm 3): agents that train independently agree beforehand only "
         "on a fingerprint (which ridge of the Hessian at the maximally invariant saddle to follow). Each run sees "
         "the game under a random relabelling of equivalent actions. The fingerprint with the best cross-play "
         "between runs is deployed, even when another has a higher self-play payoff.")


class CoordinationView(BaseView):
    """Algorithm 3 on a coordination game: payoff per fingerprint and the runs' greedy actions."""

    title = "Coordination"
    settings_params = ("n_runs", "n_ridges", "mode", "seed")
    glossary_terms = ("mis", "fingerprint", "cross_play")
    n_runs = param.Integer(default=10, bounds=(2, 100), label="Runs",
                           doc="Independent runs; cross-play averages over their pairs.")
    n_ridges = param.Integer(default=5, bounds=(1, 100), label="First ridges",
                             doc="First ridges (fingerprints) each run rides.")
    mode = param.Selector(default="fixed", objects=["fixed", "exact"], label="Rides",
                          doc="Rides along the starting eigenvector (Fixed-EV, the paper's lever game) or exact.")
    seed = param.Integer(default=0, bounds=(0, 2**31 - 1),
                         doc="Seed of run 0's start and relabelling (run i: seed + i).")

    def not_applicable(self, problem) -> str:
        return zsc.applies(problem)

    def check(self) -> None:
        if self.n_ridges > self.problem.dim:
            raise ValueError(f"n_ridges = {self.n_ridges}: {self.problem.name} has {self.problem.dim} ridges at most")

    def stream(self, cancel):
        return zsc.iter_zero_shot_coordination(
            self.problem, self.n_runs, n_ridges=self.n_ridges, seed=self.seed, executor=self.executor,
            cancel=cancel, **{**zsc.LEVER_SETTINGS, "mode": self.mode})

    def draw(self, result):
        return coordination_figure(result)

    def analyse_selected(self) -> None:
        """Hand the selected fingerprint's solution (the first finished run's) to the Critical Points view."""
        result = self.result
        selected = -1 if result is None else int(result.attrs["selected"])
        if selected < 0 or self.state is None:
            raise ValueError("Run first: the selected fingerprint's solution is analysed")
        run = int(np.flatnonzero(np.isfinite(result.self_play.values[:, selected]))[0])
        self.state.hand_over(result.solution.values[run, selected], f"Coordination: ridge {selected}, run {run}")

    def widgets(self) -> list:
        inputs = {name: pn.widgets.IntInput for name in ("n_runs", "n_ridges", "seed")}
        return [pn.Param(self.param, parameters=list(self.settings_params), widgets=inputs, show_name=False, width=300)]

    def body(self):
        analyse = action_button("Analyse the selected solution", self.analyse_selected, self.runner, 240)
        return pn.Column(text_pane(INTRO), self.runner.controls(on_run=self.run),
                         pn.Row(pn.Column(*self.widgets(), analyse, width=320), self.plot, sizing_mode="stretch_width"),
                         self.export, sizing_mode="stretch_width")


VIEW = ViewSpec(key="coordination", title="Coordination", factory=CoordinationView, order=25)
