"""The state one dashboard session shares between its views.

A small store (Panel's "Structure with a DataStore" pattern): the sidebar
writes it, the views watch :attr:`AppState.problem` and render it.  Every
session (browser tab) gets its own :class:`AppState`; nothing here is global.

Building a problem can take a while (a game's set-up compiles; ``mixed`` took
81 s): :attr:`AppState.problem_name` changes build it in the runner's pool
(:class:`app.runner.LatestCall`), with ``loading`` set meanwhile, and only
then replace :attr:`AppState.problem`.  Outside a server (notebooks, tests)
the build is synchronous.
"""

from __future__ import annotations

import numpy as np
import param

from landscape import problems

from .components.compute import ComputeSetting
from .runner import JobGroup, LatestCall

#: The picker's entry while a typed expression is shown.
CUSTOM = "custom"
KIND_ORDER = ("surface", "network", "game", "rl")


def default_problem_name() -> str:
    """The problem the dashboard opens on: Ridge Rider's demo surface when present."""
    available = problems.names()
    return "rr-demo" if "rr-demo" in available else "himmelblau"


def problem_choices() -> list[str]:
    """Registered problem names: 2-D surfaces, then networks, games, RL toys, the rest."""
    rank = {kind: i for i, kind in enumerate(KIND_ORDER)}
    return sorted(problems.names(), key=lambda name: rank.get(problems.entry(name).kind, len(rank)))


class AppState(param.Parameterized):
    """Which problem a session looks at.

    ``problem_name`` picks a registered problem (``"custom"`` while a typed
    expression is shown); :meth:`use_expression` swaps in a custom surface.
    ``problem`` is always a valid :class:`landscape.problems.Problem`; a
    refused expression or a failed build only sets ``message``.
    """

    problem_name = param.Selector(
        default=default_problem_name(), objects=[*problem_choices(), CUSTOM], doc="Problem shown by the views."
    )
    expression = param.String(default="", doc="Last custom expression that was accepted.")
    problem = param.Parameter(constant=True, doc="The current Problem object.")
    loading = param.String(default="", doc="The problem being built (empty when none).")
    message = param.String(default="", doc="Why the last expression or problem was refused.")
    focus = param.Dict(default=None, allow_None=True, doc=(
        "A point of the current problem one view hands to another (linked exploration): {'theta': array, "
        "'source': str, 'target': view key, 'problem': name}; set by hand_over, cleared on a problem change."))
    tab = param.String(default="", doc="Key of the view shown; a view sets it to open another tab.")

    def __init__(self, sync: bool | None = None, **params):
        super().__init__(**params)
        #: The runner mode of the session's views (``None``: served in ``panel serve``, else synchronous).
        self.sync = sync
        #: The session's runners: one job at a time across all its views (DESIGN.md).
        self.jobs = JobGroup()
        self.builder = LatestCall(sync=sync)
        #: Where the session's sweeps run (the sidebar's "Compute" setting).
        self.compute = ComputeSetting(sync=sync)
        self.builder.param.watch(self._build_failed, "message")
        self._custom = None
        self._shown = None  # a problem shown by show(): its name in the picker does not rebuild it
        self._own: dict[str, problems.Problem] = {}  # the user's own problems (app.show, --problem)
        self._set_problem(problems.get(self.problem_name))

    def add_problem(self, problem: problems.Problem, select: bool = True) -> None:
        """Offer the user's own ``problem`` in the picker beside the registered ones (and show it)."""
        if not isinstance(problem, problems.Problem):
            raise ValueError(f"add_problem needs a landscape.problems.Problem, got {type(problem).__name__}")
        if problem.name in problems.names() or problem.name == CUSTOM:
            raise ValueError(f"a registered problem is already called {problem.name!r}; give yours another name=")
        self._own[problem.name] = problem
        picker = self.param.problem_name
        if problem.name not in picker.objects:
            picker.objects = [problem.name, *picker.objects]
        if select:
            self.show(problem, problem.name)

    def _set_problem(self, problem) -> None:
        self.focus = None
        with param.edit_constant(self):
            self.problem = problem

    def hand_over(self, theta, source: str, target: str = "critical_points") -> None:
        """Show the point ``theta`` of the current problem in the view ``target`` (and open its tab)."""
        self.focus = {"theta": np.asarray(theta, dtype=float).reshape(-1), "source": str(source), "target": target,
                      "problem": self.problem.name}
        self.tab = target
        self.param.trigger("tab")  # open the tab again even if an earlier hand-over named it

    @param.depends("problem_name", watch=True)
    def _load_named(self) -> None:
        name = self.problem_name
        self.message = ""
        if name == CUSTOM:
            if self._custom is None and self.expression:  # a reloaded URL: the expression came first
                self.use_expression(self.expression)
            elif self._custom is None:
                self.message = "Type a surface in the box below and press 'Show this surface' first"
            elif self.problem is not self._custom:
                self._set_problem(self._custom)
            return
        if name in self._own:
            if self.problem is not self._own[name]:
                self._set_problem(self._own[name])
            return
        if self.problem is self._shown and self.problem.name == name:  # shown with its own options
            return
        self.loading = name

        def built(problem) -> None:
            if self.problem_name == name:
                self._set_problem(problem)
                self.loading = ""

        self.builder.submit(lambda: problems.get(name), built, label=f"Building {name}…")

    def _build_failed(self, event) -> None:
        if event.new.startswith("Error"):
            self.message, self.loading = event.new, ""

    def show(self, problem, name: str) -> None:
        """Show an already built ``problem`` under the picker entry ``name`` (a reopened exploration)."""
        if name == CUSTOM:
            self.expression = problem.options.get("expression", "")
            self._custom = problem
        self.loading, self._shown = "", problem
        self._set_problem(problem)
        with param.discard_events(self):
            self.problem_name = name
        self.param.trigger("problem_name")

    def use_expression(self, text: str) -> bool:
        """Show the surface ``text`` (in x and y); on refusal keep the current problem.

        Returns whether the expression was accepted; the refusal's reason (the
        parser's ``ValueError`` message) goes to :attr:`message`.  The picker
        then shows ``"custom"``; picking a problem again returns to it.
        """
        try:
            problem = problems.from_expression(text)
        except ValueError as error:
            self.message = str(error)
            return False
        self.message = ""
        self.expression = text
        self._custom = problem
        self._set_problem(problem)
        with param.discard_events(self):
            self.problem_name = CUSTOM
        self.param.trigger("problem_name")  # the picker follows; _load_named sees the expression shown
        return True
