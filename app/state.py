"""The state one dashboard session shares between its views.

A small store (Panel's "Structure with a DataStore" pattern): the sidebar
writes it, the views watch :attr:`AppState.problem` and render it.  Every
session (browser tab) gets its own :class:`AppState`; nothing here is global.
"""

from __future__ import annotations

import numpy as np
import param

from landscape import problems

from .runner import JobGroup


def default_problem_name() -> str:
    """The problem the dashboard opens on: Ridge Rider's demo surface when present."""
    available = problems.names()
    return "rr-demo" if "rr-demo" in available else "himmelblau"


KIND_ORDER = ("surface", "network", "game", "rl")


def problem_choices() -> list[str]:
    """Registered problem names, 2-D surfaces first, then networks, games, RL toys, the rest."""
    rank = {kind: i for i, kind in enumerate(KIND_ORDER)}
    return sorted(problems.names(), key=lambda name: rank.get(problems.entry(name).kind, len(rank)))


class AppState(param.Parameterized):
    """Which problem a session looks at.

    ``problem_name`` picks a registered problem; :meth:`use_expression` swaps
    in a custom surface typed by the user.  ``problem`` is always a valid
    :class:`landscape.problems.Problem`; a refused expression only sets
    ``message`` and leaves it untouched.
    """

    problem_name = param.Selector(
        default=default_problem_name(), objects=problem_choices(), doc="Registered problem shown by the views."
    )
    expression = param.String(default="", doc="Last custom expression that was accepted.")
    problem = param.Parameter(constant=True, doc="The current Problem object.")
    message = param.String(default="", doc="Why the last custom expression was refused.")
    focus = param.Dict(default=None, allow_None=True, doc=(
        "A point of the current problem one view hands to another (linked exploration): {'theta': array, "
        "'source': str, 'target': view key, 'problem': name}; set by hand_over, cleared on a problem change."))
    tab = param.String(default="", doc="Key of the view shown; a view sets it to open another tab.")

    def __init__(self, **params):
        super().__init__(**params)
        #: The session's runners: one job at a time across all its views (DESIGN.md).
        self.jobs = JobGroup()
        self._set_problem(problems.get(self.problem_name))

    def _set_problem(self, problem) -> None:
        self.focus = None
        with param.edit_constant(self):
            self.problem = problem

    def hand_over(self, theta, source: str, target: str = "critical_points") -> None:
        """Show the point ``theta`` of the current problem in the view ``target`` (and open its tab)."""
        self.focus = {"theta": np.asarray(theta, dtype=float).reshape(-1), "source": str(source), "target": target,
                      "problem": self.problem.name}
        self.tab = target

    @param.depends("problem_name", watch=True)
    def _load_named(self) -> None:
        self.message = ""
        self._set_problem(problems.get(self.problem_name))

    def use_expression(self, text: str) -> bool:
        """Show the surface ``text`` (in x and y); on refusal keep the current problem.

        Returns whether the expression was accepted; the refusal's reason (the
        parser's ``ValueError`` message) goes to :attr:`message`.
        """
        try:
            problem = problems.from_expression(text)
        except ValueError as error:
            self.message = str(error)
            return False
        self.message = ""
        self.expression = text
        self._set_problem(problem)
        return True
