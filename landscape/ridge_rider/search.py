"""The Ridge Rider tree search (Algorithm 1), streaming and resumable.

The archive ``A`` of Algorithm 1 is the set of *open* nodes of the solution tree
(``landscape.tree`` format): each open node sits at its parent's end point and
names the ridge ``(eigen_index, sign)`` it will ride.  ChooseFromArchive picks
one by a key over open nodes (§3, "ChooseFromArchive"):

``"bfs"``  the oldest open node (a FIFO queue: breadth first);
``"dfs"``  the deepest open node, oldest first among equals (LIFO: depth first);
``"best"`` the open node with the lowest loss ("ranking the archive by the
           current loss achieved").

Because the order is a function of the open nodes only and the ridges of an
open node are recomputed deterministically from its parent's end point, a
search stopped at any point (cancelled, or out of ``max_nodes``/``total_steps``)
resumes exactly by passing its tree back: ``iter_search(problem, tree=partial)``.

Each node's ride is advanced in compiled chunks (:func:`.ride.ride_chunk`); the
generator yields an ``Event("chunk")`` after each chunk and an ``Event("node")``
after each finished ride, and checks ``cancel`` between chunks (a cancelled
ride is discarded, its node stays open).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from .. import limits
from ..jobs import CancelToken, Event, drive, is_cancelled
from ..problems.base import Problem
from ..results import config_of
from ..tree import TreeBuilder
from .finish import FINISHERS, finish_leaves
from .mis import find_mis, value_and_grad_norm
from .ride import END_RULES, MODES, REASONS, RideHyper, ride_chunk, start_ride
from .ridges import EXACT_STEPS, Ridge, get_ridges

TREE_KIND = "ridge-rider-tree"
ORDERS = ("bfs", "dfs", "best")


@dataclasses.dataclass(frozen=True)
class Settings:
    """Ridge Rider settings.

    mode: ``"exact"`` (Algorithm 1), ``"approximate"`` (Algorithm 2) or ``"fixed"``
      (ridges never updated: the Fixed-EV ablation).
    step: exact mode's UpdateRidge, ``"warm"`` (Rayleigh-quotient iteration certified
      against the whole spectrum, ``eigh`` only where it cannot certify) or ``"dense"``
      (the printed algorithm's reference: ``eigh`` at every backtracking trial); both
      take the same decisions (:func:`.ridges.exact_step`).
    order: ChooseFromArchive, ``"bfs"``, ``"dfs"`` or ``"best"``.
    n_ridges: GetRidges' N most negative eigenvalues per branch point.
    signs: ``"both"`` (±) or ``"descent"`` (Algorithm 2, line 6).
    max_depth: rides deeper than this are not branched again.
    max_nodes: rides to run in total (the root's branching is free).
    alpha, alpha_min: step size and the backtracking floor (exact mode; ``alpha_min =
      alpha`` disables backtracking).
    delta_break: overlap threshold δ_break.
    end_rules: the EndRide rules (see :mod:`.ride`; ``"budget"`` is always on).
    max_steps: step budget of one ride; total_steps: of the whole search (T).
    neg_tol: eigenvalues below −neg_tol count as negative curvature.
    improve_tol: a step must lower the loss by more than this ("no-improvement").
    lr_e, lr_lambda, inner_steps, num_matvecs: approximate mode (Algorithm 2's LR_e,
      LR_λ, S and the Lanczos HVP budget).  UpdateRidge multiplies the component of e
      along e_j by about ``1 + LR_e(4λ_j/λ − 2λ_j²/λ²)`` (App. D.3), so it is stable only
      for ``LR_e ≲ λ²/λ_j²`` over the spectrum: small defaults, raise them for
      well-conditioned problems.
    chunk: ride steps per compiled chunk (one event and one cancel check each).
    seed: seeds the Lanczos start vectors.
    finish: ``"gd"``, ``"adam"`` or ``None``: the local optimizer run from every leaf
      once the search ends (§3: "at that point gradient descent can be used to reach a
      local optimum"; :mod:`.finish`), for ``finish_steps`` steps at ``finish_lr``.
    """

    mode: str = "exact"
    step: str = "warm"
    order: str = "bfs"
    n_ridges: int = 4
    signs: str = "both"
    max_depth: int = 3
    max_nodes: int = 50
    alpha: float = 0.1
    alpha_min: float = 1e-4
    delta_break: float = 0.95
    end_rules: tuple[str, ...] = END_RULES
    max_steps: int = 500
    total_steps: int | None = None
    neg_tol: float = 1e-8
    improve_tol: float = 0.0
    lr_e: float = 0.003
    lr_lambda: float = 0.003
    inner_steps: int = 10
    num_matvecs: int | None = None
    chunk: int = 25
    seed: int = 0
    finish: str | None = None
    finish_steps: int = 500
    finish_lr: float = 0.05

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.step not in EXACT_STEPS:
            raise ValueError(f"step must be one of {EXACT_STEPS}, got {self.step!r}")
        if self.order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, got {self.order!r}")
        limits.check("tree_nodes", self.max_nodes)
        limits.check("steps", self.max_steps if self.total_steps is None else max(self.max_steps, self.total_steps))
        unknown = set(self.end_rules) - set(END_RULES)
        if unknown:
            raise ValueError(f"unknown end rules {sorted(unknown)}; choose from {END_RULES}")
        if self.finish is not None and self.finish not in FINISHERS:
            raise ValueError(f"finish must be one of {FINISHERS} or None, got {self.finish!r}")
        object.__setattr__(self, "end_rules", tuple(r for r in END_RULES if r in self.end_rules))

    def hyper(self, dtype, max_steps: int) -> RideHyper:
        def f(value):  # numpy scalars: no eager JAX dispatch per ride
            return np.asarray(value, dtype)

        return RideHyper(
            f(self.alpha), f(min(self.alpha_min, self.alpha)), f(self.delta_break), f(self.neg_tol),
            f(self.improve_tol), np.asarray(max_steps, np.int32), f(self.lr_e), f(self.lr_lambda),
            np.asarray(self.inner_steps, np.int32),
        )


def choose_from_archive(order: str, archive: dict[int, tuple[int, float]]) -> int:
    """ChooseFromArchive over open nodes ``{node: (depth, loss)}`` (node ids grow with
    creation time)."""
    if order == "bfs":
        return min(archive)
    if order == "dfs":
        return min(archive, key=lambda n: (-archive[n][0], n))
    return min(archive, key=lambda n: (archive[n][1], n))


def _ridge_key(settings: Settings, node: int):
    return jax.random.fold_in(jax.random.PRNGKey(settings.seed), node)


def _ridges_at(problem: Problem, settings: Settings, theta, node: int) -> list[Ridge]:
    """GetRidges at the end point of ``node`` (deterministic, so resuming can redo it)."""
    return get_ridges(
        problem.loss, theta, settings.n_ridges,
        mode="approximate" if settings.mode == "approximate" else "exact",
        signs=settings.signs, neg_tol=settings.neg_tol, num_matvecs=settings.num_matvecs,
        key=_ridge_key(settings, node),
    )


def _builder_from_tree(tree: xr.Dataset) -> TreeBuilder:
    """Rebuild a :class:`TreeBuilder` from a (partial) tree Dataset."""
    builder = TreeBuilder(tree.sizes["param"])
    for i in range(tree.sizes["node"]):
        row = {name: tree[name].values[i] for name in ("parent", "eigen_index", "sign", "eigenvalue", "loss", "grad_norm")}
        theta = tree.theta.values[i]
        if row["parent"] < 0:
            builder.add_root(theta, float(row["loss"]), float(row["grad_norm"]))
        else:
            builder.add_child(
                int(row["parent"]), int(row["eigen_index"]), int(row["sign"]), float(row["eigenvalue"]),
                theta, float(row["loss"]), float(row["grad_norm"]), str(tree.status.values[i]),
            )
    for i in np.argsort(np.where(tree.order.values < 0, np.iinfo(int).max, tree.order.values), kind="stable"):
        if tree.order.values[i] >= 0:
            builder.mark_expanded(int(i))
    for i in range(tree.sizes["node"]):
        sel = tree.point_node.values == i
        if sel.any():
            builder.add_ride(
                i, tree.point_theta.values[sel], tree.point_loss.values[sel],
                tree.point_eigenvalue.values[sel], tree.point_overlap.values[sel],
            )
    return builder


def _branch(builder, problem, settings, node: int, depth: int, theta, loss: float, ridges_of, archive) -> list[int]:
    """GetRidges at ``node``'s end point and queue one open child per ridge."""
    if depth >= settings.max_depth:
        return []
    children = []
    for r in ridges_of(node, theta):
        child = builder.add_child(node, r.index, r.sign, r.eigenvalue, theta, loss)
        archive[child] = (depth + 1, loss)
        children.append(child)
    return children


def iter_search(
    problem: Problem,
    start=None,
    *,
    tree: xr.Dataset | None = None,
    cancel: CancelToken | None = None,
    **settings: Any,
) -> Iterator[Event]:
    """Ridge Rider (Algorithm 1) as a stream of events; returns the tree Dataset.

    ``start`` is the root (default :func:`find_mis` of the problem).  Passing a
    previous ``tree`` (e.g. a cancelled one) resumes its search; its stored
    settings are the defaults, ``settings`` override them (e.g. a larger
    ``max_nodes``).  Every event's ``partial`` is the tree so far (the returned
    Dataset's schema, ``status="running"``; a ride in progress is not in it).
    Events: ``"root"`` once, ``"chunk"`` per compiled chunk of a ride (the
    partial is unchanged: it shows that the ride is alive), ``"node"`` per
    finished ride.  ``done``/``total`` count rides.
    """
    stored: dict[str, Any] = {}
    if tree is not None:
        stored = dict(config_of(tree)["ridge_rider"])
        stored["end_rules"] = tuple(stored["end_rules"])
    config = Settings(**{**stored, **settings})
    loss_fn = problem.loss
    ridge_cache: dict[int, list[Ridge]] = {}

    def ridges_of(node: int, theta) -> list[Ridge]:
        if node not in ridge_cache:
            ridge_cache[node] = _ridges_at(problem, config, theta, node)
        return ridge_cache[node]

    archive: dict[int, tuple[int, float]] = {}  # open node -> (depth, loss)
    tree_config = {**problem.config(), "ridge_rider": dataclasses.asdict(config)}

    def tree_so_far(status: str) -> xr.Dataset:
        return builder.to_dataset(TREE_KIND, tree_config, status=status, steps=steps_used, problem=problem.name)

    if tree is None:
        theta0 = np.asarray(find_mis(problem) if start is None else start, dtype=float)
        builder = TreeBuilder(problem.dim)
        value, norm = value_and_grad_norm(loss_fn, theta0)
        root = builder.add_root(theta0, value, norm)
        builder.mark_expanded(root)
        _branch(builder, problem, config, root, 0, theta0, value, ridges_of, archive)
        steps_used = 0
        partial = tree_so_far("running")
        yield Event("root", 0, config.max_nodes, partial)
    else:
        builder = _builder_from_tree(tree)
        steps_used = int(tree.attrs.get("steps", 0))
        for i in np.flatnonzero(tree.status.values == "open"):
            archive[int(i)] = (int(tree.depth.values[i]), float(tree.loss.values[i]))
        partial = tree_so_far("running")
    rides_done = sum(1 for i in range(1, len(builder)) if builder.node_record(i)["order"] >= 0)

    status = "complete"
    while archive:
        if rides_done >= config.max_nodes or (config.total_steps is not None and steps_used >= config.total_steps):
            status = "budget"
            break
        if is_cancelled(cancel):
            status = "cancelled"
            break
        node = choose_from_archive(config.order, archive)
        depth = archive[node][0]
        parent = int(builder.node_record(node)["parent"])
        parent_record = builder.node_record(parent)
        parent_theta = parent_record["theta"]
        record = builder.node_record(node)
        ridge = next(
            r for r in ridges_of(parent, parent_theta) if (r.index, r.sign) == (record["eigen_index"], record["sign"])
        )
        budget = config.max_steps
        if config.total_steps is not None:
            budget = min(budget, config.total_steps - steps_used)
        state = start_ride(loss_fn, parent_theta, ridge.direction, ridge.eigenvalue, parent_record["loss"])
        hyper = config.hyper(state.theta.dtype, budget)
        points = {
            "theta": [parent_theta[None]], "loss": [np.asarray([float(state.loss)])],
            "eigenvalue": [np.asarray([ridge.eigenvalue])], "overlap": [np.ones(1)],
        }
        while int(state.reason) == 0:
            if is_cancelled(cancel):
                break
            state, trace = ride_chunk(loss_fn, config.mode, config.end_rules, config.chunk, state, hyper, config.step)
            kept = np.asarray(trace.kept)
            for name in points:
                points[name].append(np.asarray(getattr(trace, name))[kept])
            yield Event("chunk", rides_done, config.max_nodes, partial)
        if int(state.reason) == 0:  # cancelled mid-ride: the node stays open
            status = "cancelled"
            break
        del archive[node]
        steps_used += int(state.steps)
        ride = {name: np.concatenate(parts) for name, parts in points.items()}
        end_theta = np.asarray(state.theta)
        value, norm = value_and_grad_norm(loss_fn, end_theta)
        builder.update(
            node, theta=end_theta, loss=value, grad_norm=norm, eigenvalue=float(state.eigenvalue),
            status=REASONS[int(state.reason)],
        )
        builder.add_ride(node, ride["theta"], ride["loss"], ride["eigenvalue"], ride["overlap"])
        moved = len(ride["loss"]) > 1  # a ride whose first step was rejected is a dead end
        children = _branch(builder, problem, config, node, depth, end_theta, value, ridges_of, archive) if moved else []
        if children:
            builder.update(node, status="branched")
        builder.mark_expanded(node)
        rides_done += 1
        partial = tree_so_far("running")
        yield Event("node", rides_done, config.max_nodes, partial)

    result = tree_so_far(status)
    if config.finish is not None and status != "cancelled":
        result = finish_leaves(problem, result, config.finish, steps=config.finish_steps, lr=config.finish_lr)
    return result


def search(problem: Problem, start=None, *, tree: xr.Dataset | None = None, **settings: Any) -> xr.Dataset:
    """Run :func:`iter_search` to the end and return the tree Dataset: per node
    ``fingerprint``, ``parent``, ``loss``, ``eigenvalue``, ``theta``, ... (see
    :mod:`landscape.tree`), with ``attrs["status"]`` and ``attrs["steps"]``; with
    ``finish="gd"``/``"adam"`` also ``solution_theta``, ``solution_loss``,
    ``solution_point`` (and ``finish_path``) of :func:`.finish.finish_leaves`."""
    return drive(iter_search(problem, start, tree=tree, **settings))
