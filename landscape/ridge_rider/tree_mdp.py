"""The tree-MDP diversity experiment of Ridge Rider §4 (Fig. 2, App. B).

On a ``tree-mdp`` problem, count the positive leaves (reward 10) that each method
"finds", where a parameter vector finds the leaf its greedy policy reaches (the
paper does not define "found"; this is our reading):

``rr``           exact RR from the MIS (maximum entropy), BFS, N ridges, δ_break,
                 backtracking α, EndRide = overlap below δ_break or no improvement
                 (App. B); every node of the tree counts.
``rr-overlap``   the same with EndRide = overlap below δ_break only (rides of at most
                 100 steps): near the maximum-entropy MIS the gradient is not zero, so
                 one sign of every ridge starts uphill and "no improvement" ends it at
                 once; without that rule both signs are explored.
``gd-random``    one gradient-descent run (α = 0.1, App. B) from ``θ ~ N(0, 1)`` for the
                 whole budget, as the paper compares it ("GD with random initialization
                 ... run for the same number of timesteps as used by RR"): it ends in
                 one leaf, so it finds at most ``1/n_positive``.
``gd-saddle``    one gradient-descent run from the MIS plus ``N(0, saddle_noise²)``
                 (without noise every run would be the same, App. B Fig. 7).
``gd-random-restarts``, ``gd-saddle-restarts``
                 our stronger variant: the budget split into runs of ``gd_steps`` steps
                 (at least one run) from independent starts.
``random-dirs``  random unit vectors from the MIS, each followed along the straight
                 line to its lowest loss (step α = 0.1, at most ``gd_steps`` steps); the
                 sign is chosen so the line starts downhill.

The baselines get the budget of the larger of the two RR variants on that tree (its
ride steps); the random directions number its rides.
"""

from __future__ import annotations

import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
import xarray as xr

from ..executor import Executor, ProblemRef, failure_attrs, run_chunks
from ..jobs import CancelToken, Event, Stream, drive
from ..problems import get
from ..results import result_attrs
from .mis import find_mis
from .search import search

METHODS = ("rr", "rr-overlap", "gd-random", "gd-saddle", "gd-random-restarts", "gd-saddle-restarts", "random-dirs")

#: App. B's settings (δ_break = 0.95, top N = 6, BFS, exact, backtracking α); the
#: paper gives neither the initial nor the minimum α, nor its T beyond 1e5.
RR_SETTINGS = dict(
    mode="exact", order="bfs", n_ridges=6, delta_break=0.95, alpha=1.0, alpha_min=1e-3,
    end_rules=("overlap", "no-improvement"), improve_tol=1e-6, neg_tol=1e-4,
    max_depth=20, max_nodes=10_000, max_steps=500, total_steps=2000,
)
OVERLAP_ONLY = dict(end_rules=("overlap",), max_steps=100)


@partial(jax.jit, static_argnames=("loss", "steps"))
def gradient_descent(loss, steps, starts, learning_rate):
    """GD (optax.sgd) for ``steps`` steps from each row of ``starts`` (vmapped scan); the end points."""
    optimizer = optax.sgd(learning_rate)

    def run(theta):
        def body(carry, _):
            theta, state = carry
            updates, state = optimizer.update(jax.grad(loss)(theta), state, theta)
            return (optax.apply_updates(theta, updates), state), None

        return jax.lax.scan(body, (theta, optimizer.init(theta)), None, length=steps)[0][0]

    return jax.vmap(run)(starts)


@partial(jax.jit, static_argnames=("loss", "steps"))
def _best_on_lines(loss, steps, origin, directions, step_size):
    """For each unit direction u: the point θ₀ + t·u, t ∈ {0, α, …, steps·α}, of lowest loss,
    with u flipped to start downhill."""
    grad = jax.grad(loss)(origin)
    directions = directions * jnp.where(directions @ grad > 0, -1.0, 1.0)[:, None]
    ts = step_size * jnp.arange(steps + 1, dtype=origin.dtype)

    def best(u):
        points = origin[None] + ts[:, None] * u[None]
        return points[jnp.argmin(jax.vmap(loss)(points))]

    return jax.vmap(best)(directions)


def found_positive(problem, thetas) -> set[int]:
    """Positive leaves reached by the greedy policies of ``thetas``."""
    greedy, positive = problem.extras["greedy"], set(problem.extras["positive_leaves"].tolist())
    return {greedy(t) for t in np.asarray(thetas)} & positive


def tree_mdp_trial(
    depth: int, seed: int, *, entropy_weight: float = 10.0, gd_steps: int = 200, gd_lr: float = 0.1,
    saddle_noise: float = 1e-3, problem=None, **rr_settings,
) -> dict[str, float]:
    """Fraction of positive leaves found by each method on ``tree-mdp(depth, seed)`` (``problem``:
    that tree, already built); also ``rr_steps`` and ``rr_rides`` (the budget shared with the
    baselines) and ``rr_seconds`` (wall time of the two RR searches)."""
    problem = get("tree-mdp", depth=depth, seed=seed) if problem is None else problem
    settings = {**RR_SETTINGS, **rr_settings}
    mis = find_mis(problem, jnp.zeros(problem.dim), entropy_weight=entropy_weight)
    started = time.perf_counter()
    trees = {"rr": search(problem, mis, **settings), "rr-overlap": search(problem, mis, **{**settings, **OVERLAP_ONLY})}
    seconds = time.perf_counter() - started
    steps = max(int(t.attrs["steps"]) for t in trees.values())
    rides = max(int((t.order.values > 0).sum()) for t in trees.values())
    runs = max(1, steps // gd_steps)
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(seed), 3)
    random_starts = jax.random.normal(k1, (runs, problem.dim), mis.dtype)
    saddle_starts = mis[None] + saddle_noise * jax.random.normal(k2, (runs, problem.dim), mis.dtype)
    ends = {
        "gd-random": gradient_descent(problem.loss, max(steps, 1), random_starts[:1], gd_lr),
        "gd-saddle": gradient_descent(problem.loss, max(steps, 1), saddle_starts[:1], gd_lr),
        "gd-random-restarts": gradient_descent(problem.loss, gd_steps, random_starts, gd_lr),
        "gd-saddle-restarts": gradient_descent(problem.loss, gd_steps, saddle_starts, gd_lr),
    }
    u = jax.random.normal(k3, (max(rides, 1), problem.dim), mis.dtype)
    ends["random-dirs"] = _best_on_lines(problem.loss, gd_steps, mis, u / jnp.linalg.norm(u, axis=1, keepdims=True), gd_lr)
    n_positive = len(problem.extras["positive_leaves"])
    found = {
        **{name: found_positive(problem, tree.theta.values) for name, tree in trees.items()},
        **{name: found_positive(problem, thetas) for name, thetas in ends.items()},
    }
    return {**{m: len(found[m]) / n_positive for m in METHODS}, "rr_steps": steps, "rr_rides": rides,
            "n_positive": n_positive, "dim": problem.dim, "rr_seconds": seconds}


def trial_task(problem_ref: ProblemRef, depth: int, seed: int, kwargs: dict) -> dict[str, float]:
    """One tree of the table as a pure task of the executor seam (:mod:`landscape.executor`): the
    problem travels by registry name with this process's precision, so a worker computes what
    this process would."""
    return tree_mdp_trial(depth, seed, problem=problem_ref.resolve(), **kwargs)


def iter_tree_mdp_table(depths=(4, 6, 8), seeds=range(10), *, executor: Executor | None = None,
                        cancel: CancelToken | None = None, **kwargs) -> Stream[xr.Dataset]:
    """:func:`tree_mdp_trial` over depths × trees, one task per tree, streamed as trees finish:
    ``found (method, depth, tree)`` in [0, 1] plus RR's ``steps``/``rides``/``seconds`` and each
    tree's ``n_positive``/``dim`` (NaN, or -1 for the integer counts, until its tree is done).
    A tree whose task raised keeps those values, its reason in ``attrs["failed_chunks"]``."""
    depths, seeds = list(depths), list(seeds)
    found = np.full((len(METHODS), len(depths), len(seeds)), np.nan)
    extra = {name: np.full((len(depths), len(seeds)), -1) for name in ("rr_steps", "rr_rides", "n_positive", "dim")}
    extra["rr_seconds"] = np.full((len(depths), len(seeds)), np.nan)
    cells = [(a, b) for a in range(len(depths)) for b in range(len(seeds))]
    calls = [(i, (ProblemRef(get("tree-mdp", depth=depths[a], seed=seeds[b])), depths[a], seeds[b], kwargs))
             for i, (a, b) in enumerate(cells)]
    failures: dict[int, str] = {}
    done = 0

    def result(status: str) -> xr.Dataset:
        attrs = {"status": status, "trees_done": done, **failure_attrs(failures)}
        return xr.Dataset(
            {"found": (("method", "depth", "tree"), found.copy()),
             **{name: (("depth", "tree"), values.copy()) for name, values in extra.items()}},
            coords={"method": list(METHODS), "depth": depths, "tree": seeds},
            attrs=result_attrs("tree-mdp-diversity", {"depths": depths, "seeds": seeds, "rr": RR_SETTINGS,
                                                      "overrides": kwargs}, **attrs),
        )

    for outcome in run_chunks(trial_task, calls, executor=executor, cancel=cancel):
        a, b = cells[outcome.index]
        if outcome.error is not None:
            failures[outcome.index] = outcome.error
        else:
            found[:, a, b] = [outcome.values[m] for m in METHODS]
            for name in extra:
                extra[name][a, b] = outcome.values[name]
        done += 1
        yield Event("tree", done, len(calls), result("running"))
    return result("complete" if done == len(calls) else "cancelled")


def tree_mdp_table(depths=(4, 6, 8), seeds=range(10), **kwargs) -> xr.Dataset:
    """:func:`iter_tree_mdp_table` run to the end (in-process unless ``executor`` is given)."""
    return drive(iter_tree_mdp_table(depths, seeds, **kwargs))
