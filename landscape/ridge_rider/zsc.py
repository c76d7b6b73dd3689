"""Zero-shot coordination by Ridge Rider: Algorithm 3 (§3 "RR for zero-shot coordination",
App. C.2), with the notes' corrections (the cross-play loop runs after all runs; line
10's ``θ^Ψ = −Ψ[k]`` is read as ``= Ψ[k]``).

For each of ``n_runs`` independent runs: when the problem offers
``extras["random_relabelling"]`` the run works on the game under a random symmetry
(independent agents share no labels of equivalent actions, and nothing can
coordinate through label order or the eigensolver's choice of basis inside a
degenerate eigenspace; the relabelling is undone before cross-play), then: draw ``θ ~ N(0, ε)`` (the problem's sampler),
find the MIS (min gradient norm, max entropy), ride every first-level ridge Ψ = [k]
in both signs (exact RR) and keep, per fingerprint index k, the sign with the higher
self-play return.  The cross-play score of k is the mean over all run pairs (i, j) of
``J(π₁ of solution_i[k], π₂ of solution_j[k])``; the selected fingerprint is the one
with the highest score.  Needs ``problem.extras["cross_play"]`` and ``["entropy"]``.

The runs are independent, so each is one task of the executor seam
(:func:`coordination_run`, :mod:`landscape.executor`): in-process by default, or on a
Dask cluster, identical either way.  :func:`iter_zero_shot_coordination` streams the
result as runs finish (cross-play over the runs finished so far).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from ..executor import Executor, ProblemRef, failure_attrs, run_chunks
from ..jobs import CancelToken, Event, Stream, drive
from ..problems.base import Problem
from ..results import result_attrs
from .mis import find_mis
from .search import search


def _relabelled(problem: Problem, perm: np.ndarray) -> Problem:
    """The problem seen through a relabelling: ``L'(φ) = L(φ[perm])``."""
    perm = jnp.asarray(perm)
    loss, entropy = problem.loss, problem.extras["entropy"]
    return dataclasses.replace(
        problem, loss=lambda phi: loss(phi[perm]),
        extras={**problem.extras, "entropy": lambda phi: entropy(phi[perm])},
    )


#: The lever game's setting of notebook 02 (§4, Fig. 6): MIS by minimum gradient norm from a
#: near-uniform start (entropy weight 0), Fixed-EV rides (at the MIS ridges 1 and 2 are ~5e-4
#: apart, so exact eigenvector following mixes the two 0.8 levers), δ_break = 0.5.
LEVER_SETTINGS: dict[str, Any] = dict(
    entropy_weight=0.0, mis_steps=600, mis_learning_rate=0.05, mode="fixed", alpha=0.5, alpha_min=1e-3,
    max_steps=300, end_rules=("overlap", "no-improvement"), delta_break=0.5,
)


def applies(problem: Problem) -> str:
    """Why Algorithm 3 cannot run on ``problem`` (it needs a cross-play score and a policy entropy),
    or ``""`` when it can."""
    missing = [name for name in ("cross_play", "entropy", "greedy") if name not in problem.extras]
    if not missing:
        return ""
    return (f"Zero-shot coordination needs a two-player coordination game with a cross-play score "
            f"(e.g. lever-game); {problem.name} has no {', '.join(missing)}.")


def coordination_run(problem_ref: ProblemRef, run: int, seed: int, n_ridges: int, entropy_weight: float,
                     mis_steps: int, mis_learning_rate: float, settings: dict[str, Any]) -> dict[str, np.ndarray]:
    """Lines 4-11 of Algorithm 3 for run ``run``: ``solution (ridge, param)`` (in the shared labels)
    and ``self_play (ridge)``, NaN for a fingerprint the tree did not reach.  A pure task."""
    problem = problem_ref.resolve()
    relabelling = problem.extras.get("random_relabelling")
    perm = relabelling(seed + run) if relabelling else np.arange(problem.dim)
    identity = np.array_equal(perm, np.arange(problem.dim))  # no symmetry: the problem's compiled kernels serve
    run_problem = problem if identity else _relabelled(problem, perm)
    theta0 = problem.init(jax.random.PRNGKey(seed + run))
    mis = find_mis(run_problem, theta0, entropy_weight=entropy_weight, steps=mis_steps,
                   learning_rate=mis_learning_rate)
    tree = search(run_problem, mis, n_ridges=n_ridges, **settings)
    solution, self_play = np.full((n_ridges, problem.dim), np.nan), np.full(n_ridges, np.nan)
    for k in range(n_ridges):
        rows = np.flatnonzero((tree.depth.values == 1) & (tree.eigen_index.values == k))
        if len(rows):
            best = rows[np.argmin(tree.loss.values[rows])]  # highest self-play return
            solution[k] = tree.theta.values[best][perm]  # back to the shared labels
            self_play[k] = -tree.loss.values[best]
    return {"solution": solution, "self_play": self_play}


def _cross_play(problem: Problem, solutions: np.ndarray, self_play: np.ndarray) -> np.ndarray:
    """Lines 12-16: per fingerprint k, the mean over pairs of the given runs of J(π₁ of a, π₂ of b);
    NaN where some run has no solution for k (or no run is given)."""
    cross = jax.vmap(jax.vmap(problem.extras["cross_play"], (None, 0)), (0, None))
    scores = np.full(self_play.shape[1], np.nan)
    for k in range(len(scores)):
        if len(self_play) and not np.isnan(self_play[:, k]).any():
            pairs = cross(jnp.asarray(solutions[:, k]), jnp.asarray(solutions[:, k]))
            scores[k] = float(np.mean(np.asarray(pairs)))
    return scores


def iter_zero_shot_coordination(
    problem: Problem,
    n_runs: int = 10,
    *,
    n_ridges: int = 10,
    entropy_weight: float = 1.0,
    mis_steps: int = 300,
    mis_learning_rate: float = 0.01,
    seed: int = 0,
    executor: Executor | None = None,
    cancel: CancelToken | None = None,
    **settings,
) -> Stream[xr.Dataset]:
    """Algorithm 3, streamed: one :class:`~landscape.jobs.Event` per finished run (``done`` runs of
    ``n_runs``), its partial holding the finished runs (NaN rows for the others) and the cross-play
    over them.  Returns a Dataset over ``run`` and ``ridge`` (first-level eigen-index):
    ``cross_play (ridge)``, ``self_play (run, ridge)``, ``greedy (run, ridge, player)`` (the greedy
    action of each player, -1 where none), ``solution (run, ridge, param)``;
    ``attrs["selected"]`` is the chosen ridge (-1 while no fingerprint has a score) and
    ``attrs["best_score"]`` its cross-play.  A run whose task raised stays NaN, its reason in
    ``attrs["failed_chunks"]``; cancel returns the runs finished so far (``status="cancelled"``)."""
    reason = applies(problem)
    if reason:
        raise ValueError(reason)
    if n_runs < 1 or not 1 <= n_ridges <= problem.dim:
        raise ValueError(f"need n_runs ≥ 1 and 1 ≤ n_ridges ≤ {problem.dim} (the parameters of {problem.name}); "
                         f"got n_runs = {n_runs}, n_ridges = {n_ridges}")
    settings = {"mode": "exact", "order": "bfs", "max_depth": 1, "max_nodes": 2 * n_ridges, **settings}
    config = {**problem.config(), "n_runs": n_runs, "n_ridges": n_ridges, "entropy_weight": entropy_weight,
              "mis_steps": mis_steps, "mis_learning_rate": mis_learning_rate, "seed": seed, "settings": settings}
    solutions = np.full((n_runs, n_ridges, problem.dim), np.nan)
    self_play = np.full((n_runs, n_ridges), np.nan)
    finished, failures = [], {}
    ref = ProblemRef(problem)
    calls = [(i, (ref, i, seed, n_ridges, entropy_weight, mis_steps, mis_learning_rate, settings))
             for i in range(n_runs)]

    def result(status: str) -> xr.Dataset:
        done = sorted(finished)
        return _result(problem, solutions, self_play, done, config, status, failures)

    for outcome in run_chunks(coordination_run, calls, executor=executor, cancel=cancel):
        if outcome.error is not None:
            failures[outcome.index] = outcome.error
        else:
            solutions[outcome.index] = outcome.values["solution"]
            self_play[outcome.index] = outcome.values["self_play"]
            finished.append(outcome.index)
        yield Event("run", len(finished) + len(failures), n_runs, result("running"))
    return result("complete" if len(finished) + len(failures) == n_runs else "cancelled")


def _result(problem: Problem, solutions: np.ndarray, self_play: np.ndarray, done: list[int],
            config: dict[str, Any], status: str, failures: dict[int, str]) -> xr.Dataset:
    """The zero-shot-coordination Dataset of the runs ``done`` (the other rows NaN)."""
    n_runs, n_ridges = self_play.shape
    cross_play = _cross_play(problem, solutions[done], self_play[done])
    greedy = np.full((n_runs, n_ridges, 2), -1)
    for i in done:
        for k in np.flatnonzero(~np.isnan(self_play[i])):
            greedy[i, k] = problem.extras["greedy"](solutions[i, k])
    selected = int(np.nanargmax(cross_play)) if np.isfinite(cross_play).any() else -1
    extra = {"status": status, "runs_done": len(done), **failure_attrs(failures)}
    return xr.Dataset(
        {
            "cross_play": ("ridge", cross_play),
            "self_play": (("run", "ridge"), self_play.copy()),
            "greedy": (("run", "ridge", "player"), greedy),
            "solution": (("run", "ridge", "param"), solutions.copy()),
        },
        coords={"run": np.arange(n_runs), "ridge": np.arange(n_ridges), "player": [1, 2]},
        attrs=result_attrs("zero-shot-coordination", config, selected=selected,
                           best_score=float(cross_play[selected]) if selected >= 0 else float("nan"), **extra),
    )


def zero_shot_coordination(problem: Problem, n_runs: int = 10, **kwargs) -> xr.Dataset:
    """Algorithm 3 run to the end: :func:`iter_zero_shot_coordination`'s final result."""
    return drive(iter_zero_shot_coordination(problem, n_runs, **kwargs))
