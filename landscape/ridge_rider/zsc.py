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
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

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


def zero_shot_coordination(
    problem: Problem,
    n_runs: int = 10,
    *,
    n_ridges: int = 10,
    entropy_weight: float = 1.0,
    mis_steps: int = 300,
    mis_learning_rate: float = 0.01,
    seed: int = 0,
    **settings,
) -> xr.Dataset:
    """Algorithm 3.  Returns a Dataset over ``run`` and ``ridge`` (first-level eigen-index):
    ``cross_play (ridge)``, ``self_play (run, ridge)``, ``greedy (run, ridge, player)`` (the
    greedy action of each player), ``solution (run, ridge, param)``; ``attrs["selected"]``
    is the chosen ridge index and ``attrs["best_score"]`` its cross-play score."""
    cross = problem.extras["cross_play"]
    settings = {"mode": "exact", "order": "bfs", "max_depth": 1, "max_nodes": 2 * n_ridges, **settings}
    solutions = np.full((n_runs, n_ridges, problem.dim), np.nan)
    self_play = np.full((n_runs, n_ridges), np.nan)
    relabelling = problem.extras.get("random_relabelling")
    for i in range(n_runs):
        perm = relabelling(seed + i) if relabelling else np.arange(problem.dim)
        run_problem = _relabelled(problem, perm) if relabelling else problem
        theta0 = problem.init(jax.random.PRNGKey(seed + i))
        mis = find_mis(run_problem, theta0, entropy_weight=entropy_weight, steps=mis_steps,
                       learning_rate=mis_learning_rate)
        tree = search(run_problem, mis, n_ridges=n_ridges, **settings)
        for k in range(n_ridges):
            rows = np.flatnonzero((tree.depth.values == 1) & (tree.eigen_index.values == k))
            if len(rows) == 0:
                continue
            best = rows[np.argmin(tree.loss.values[rows])]  # highest self-play return
            solutions[i, k] = tree.theta.values[best][perm]  # back to the shared labels
            self_play[i, k] = -tree.loss.values[best]
    cross_play = np.full(n_ridges, np.nan)
    for k in range(n_ridges):
        if np.isnan(self_play[:, k]).any():
            continue
        cross_play[k] = np.mean([float(cross(a, b)) for a in solutions[:, k] for b in solutions[:, k]])
    greedy = np.full((n_runs, n_ridges, 2), -1)
    for i in range(n_runs):
        for k in range(n_ridges):
            if not np.isnan(self_play[i, k]):
                greedy[i, k] = problem.extras["greedy"](solutions[i, k])
    selected = int(np.nanargmax(cross_play))
    return xr.Dataset(
        {
            "cross_play": ("ridge", cross_play),
            "self_play": (("run", "ridge"), self_play),
            "greedy": (("run", "ridge", "player"), greedy),
            "solution": (("run", "ridge", "param"), solutions),
        },
        coords={"run": np.arange(n_runs), "ridge": np.arange(n_ridges), "player": [1, 2]},
        attrs=result_attrs(
            "zero-shot-coordination",
            {**problem.config(), "n_runs": n_runs, "n_ridges": n_ridges, "entropy_weight": entropy_weight,
             "mis_steps": mis_steps, "mis_learning_rate": mis_learning_rate, "seed": seed,
             "settings": settings},
            selected=selected, best_score=float(cross_play[selected]),
        ),
    )
