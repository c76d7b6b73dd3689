"""Finishing Ridge Rider's leaves with a local optimizer (Parker-Holder et al. 2020, §3).

A ride ends where its followed curvature is no longer negative (or the loss stops
improving), which is not yet a minimum; the paper: "at that point gradient descent
can be used to reach a local optimum".  :func:`finish_leaves` runs one optimizer of
the catalogue (``"gd"`` or ``"adam"``, :mod:`landscape.trajectories`) from every
leaf of a tree and adds to the tree Dataset

``solution_theta (node, param)``, ``solution_loss (node)``
    the optimizer's end point and its loss (NaN for inner and open nodes);
``solution_point (node)``
    the known critical point reached, ``"<kind> <k>"`` (row ``k`` of
    ``problem.ground_truth[kind]``) when the end point lies within ``tol`` of it,
    ``""`` otherwise or when the problem has no ground truth;
``finish_path (node, finish_step, param)``
    the optimizer's path, for problems with ``dim ≤ PATH_MAX`` (drawing).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..problems.base import Problem
from ..trajectories import run_trajectories

FINISHERS = ("gd", "adam")
#: Largest dimension for which the finishing paths are stored.
PATH_MAX = 16


def leaves(tree: xr.Dataset) -> np.ndarray:
    """Nodes with no children whose ride has ended (the root too, if it never branched)."""
    parents = set(tree.parent.values.tolist())
    status = tree.status.values
    return np.asarray([n for n in range(tree.sizes["node"]) if n not in parents and status[n] != "open"], int)


def nearest_known(problem: Problem, thetas: np.ndarray, tol: float) -> list[str]:
    """For each row of ``thetas``: ``"<kind> <k>"`` of the ground-truth point within
    ``tol`` (Euclidean), nearest first, or ``""``."""
    labels = []
    for theta in np.asarray(thetas, float):
        best, label = tol, ""
        for kind, points in problem.ground_truth.items():
            points = np.asarray(points, float).reshape(-1, problem.dim)
            if len(points) == 0:
                continue
            dist = np.linalg.norm(points - theta, axis=1)
            k = int(np.argmin(dist))
            if dist[k] <= best:
                best, label = dist[k], f"{kind} {k}"
        labels.append(label)
    return labels


def finish_leaves(problem: Problem, tree: xr.Dataset, finish: str, *, steps: int = 500, lr: float = 0.05,
                  tol: float = 1e-3) -> xr.Dataset:
    """Run ``finish`` (``"gd"``/``"adam"``, learning rate ``lr``) for ``steps`` steps from
    every leaf of ``tree``; returns the tree with the solution variables (module docstring)."""
    if finish not in FINISHERS:
        raise ValueError(f"finish must be one of {FINISHERS} or None, got {finish!r}")
    n, dim = tree.sizes["node"], tree.sizes["param"]
    solution_theta = np.full((n, dim), np.nan)
    solution_loss = np.full(n, np.nan)
    solution_point = np.full(n, "", dtype=object)
    ids = leaves(tree)
    out = tree.copy()
    path = None
    if len(ids):
        runs = run_trajectories(problem, tree.theta.values[ids], [(finish, {"lr": lr})], steps=steps)
        ends = runs.theta.values[:, -1]
        solution_theta[ids] = ends
        solution_loss[ids] = runs.loss.values[:, -1]
        solution_point[ids] = nearest_known(problem, ends, tol)
        if dim <= PATH_MAX:
            path = np.full((n, steps + 1, dim), np.nan)
            path[ids] = runs.theta.values
    out["solution_theta"] = (("node", "param"), solution_theta)
    out["solution_loss"] = ("node", solution_loss)
    out["solution_point"] = ("node", solution_point.astype(str))
    if path is not None:
        out["finish_path"] = (("node", "finish_step", "param"), path)
    return out
