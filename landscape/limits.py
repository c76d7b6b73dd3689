"""Limits a server operator can set on what one request may ask of the engine.

Each limit has a name, a default sized for a 2-core, few-GB machine serving a
handful of users, and an environment variable that overrides it (read on each
check, so it is set before ``panel serve`` starts, or changed in a notebook with
``os.environ``).  The engine's entry points call :func:`check` where they
validate their arguments, so the dashboard, notebooks and scripts meet the
same bound, and a request over it is refused up front with a ``ValueError``
naming the limit, its value and its variable (the dashboard shows that
message in the view).

=================== =================================== ========= ==========================================
name                environment variable                default   bounds
=================== =================================== ========= ==========================================
grid_cells          ``LANDSCAPE_MAX_GRID_CELLS``        250000    cells of a grid: slice, residual map, Lyapunov heatmap
heatmap_resolution  ``LANDSCAPE_MAX_HEATMAP_RESOLUTION`` 1000     points along one axis of such a grid
steps               ``LANDSCAPE_MAX_STEPS``             100000    steps of one run (optimizer, game, critical-point finder, ride)
runs                ``LANDSCAPE_MAX_RUNS``              4096      runs of one launch (starts × optimizers)
tree_nodes          ``LANDSCAPE_MAX_TREE_NODES``        10000     nodes of a Ridge Rider tree
expression_length   ``LANDSCAPE_MAX_EXPRESSION_LENGTH`` 500       characters of a custom-surface expression
jobs_per_session    ``LANDSCAPE_MAX_JOBS_PER_SESSION``  1         jobs one browser session runs at once
jobs_per_server     ``LANDSCAPE_MAX_JOBS``              2         engine chunks running at once in the server process
=================== =================================== ========= ==========================================

The two job limits are for the dashboard's runner (``app/runner.py``).
"""

from __future__ import annotations

import dataclasses
import math
import os


@dataclasses.dataclass(frozen=True)
class Limit:
    """One operator limit: its name, environment variable, default and what it bounds."""

    name: str
    env: str
    default: int
    bounds: str


LIMITS: dict[str, Limit] = {
    limit.name: limit
    for limit in (
        Limit("grid_cells", "LANDSCAPE_MAX_GRID_CELLS", 250_000, "cells of a grid (slice, residual map, heatmap)"),
        Limit("heatmap_resolution", "LANDSCAPE_MAX_HEATMAP_RESOLUTION", 1_000, "points along one axis of a grid"),
        Limit("steps", "LANDSCAPE_MAX_STEPS", 100_000, "steps of one run"),
        Limit("runs", "LANDSCAPE_MAX_RUNS", 4_096, "runs of one launch (starts × optimizers)"),
        Limit("tree_nodes", "LANDSCAPE_MAX_TREE_NODES", 10_000, "nodes of a Ridge Rider tree"),
        Limit("expression_length", "LANDSCAPE_MAX_EXPRESSION_LENGTH", 500, "characters of an expression"),
        Limit("jobs_per_session", "LANDSCAPE_MAX_JOBS_PER_SESSION", 1, "jobs one session runs at once"),
        Limit("jobs_per_server", "LANDSCAPE_MAX_JOBS", 2, "engine chunks running at once in the server"),
    )
}


def _limit(name: str) -> Limit:
    try:
        return LIMITS[name]
    except KeyError:
        raise ValueError(f"unknown limit {name!r}; the limits are {', '.join(LIMITS)}") from None


def get(name: str) -> int:
    """The limit ``name`` in force: its environment variable if set, else its default."""
    limit = _limit(name)
    text = os.environ.get(limit.env, "").strip()
    if not text:
        return limit.default
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{limit.env}={text!r} is not a valid limit: set a positive whole number")
    return value


def shown(value) -> str:
    """``value`` as text for a message, shortened (a huge integer cannot even be printed whole)."""
    try:
        text = str(value)
    except ValueError:  # an int past Python's printing limit
        return "a number too long to print"
    return text if len(text) <= 24 else f"{text[:12]}... ({len(text)} characters)"


def check(name: str, value) -> None:
    """Refuse ``value`` above the limit ``name`` with a ``ValueError`` naming both.

    ``value`` must be a finite real number; NaN and infinities are refused too.
    """
    limit, bound = _limit(name), get(name)
    try:
        over = not value <= bound  # NaN compares False
    except TypeError:
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    text = shown(value)
    if value != value or value in (math.inf, -math.inf):
        raise ValueError(f"{name} must be a finite number, got {text}")
    if over:
        raise ValueError(
            f"{name} = {text} is over this server's limit of {bound} ({limit.bounds}; "
            f"the operator sets it with {limit.env})"
        )


def check_grid(nx: int, ny: int = 1) -> None:
    """Check a ``ny × nx`` grid against ``heatmap_resolution`` (each axis) and ``grid_cells``."""
    check("heatmap_resolution", max(nx, ny))
    check("grid_cells", nx * ny)
