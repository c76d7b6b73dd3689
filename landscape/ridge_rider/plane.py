"""The plane a ride is drawn on when the problem has more than two parameters.

A ride from its branch point ``θ_b`` to its end ``θ_e`` is shown on the affine
slice ``θ_b + a·u + b·v`` (:func:`landscape.slices.slice_loss`) where

* ``u = (θ_e − θ_b) / ‖θ_e − θ_b‖`` is the unit chord of the ride, and
* ``v`` is the most negative ridge at ``θ_b`` (a Hessian eigenvector,
  Parker-Holder et al. 2020, §3 "GetRidges") made orthogonal to ``u`` by one
  Gram-Schmidt step; the next ridges in turn when one is (nearly) parallel to
  the chord, and a fixed random direction when all are.

The ridges are exact (dense ``eigh``) up to
:data:`landscape.curvature.DENSE_LIMIT` parameters and from Hessian-vector
products (Algorithm 2) above it.  The slice spans ``a ∈ [−½, 3/2]·‖chord‖``
and ``b ∈ [−1, 1]·‖chord‖``, so the whole ride and its surroundings show.
"""

from __future__ import annotations

import jax
import numpy as np
import xarray as xr

from .. import slices
from ..curvature import DENSE_LIMIT
from ..problems.base import Problem
from .ridges import get_ridges

#: Ridges tried for the second axis before the random fallback.
CANDIDATE_RIDGES = 3
#: A candidate whose component orthogonal to the chord is shorter than this is skipped.
PARALLEL_TOL = 1e-3


def ride_plane(problem: Problem, branch, end) -> np.ndarray:
    """Orthonormal rows ``(u, v)`` (shape ``(2, dim)``) of the plane through ``branch``."""
    branch, end = np.asarray(branch, float), np.asarray(end, float)
    chord = end - branch
    length = float(np.linalg.norm(chord))
    if not length > 0:
        raise ValueError("the ride does not move: its end is its branch point, so it has no plane")
    u = chord / length
    mode = "exact" if problem.dim <= DENSE_LIMIT else "approximate"
    ridges = get_ridges(problem.loss, branch, CANDIDATE_RIDGES, mode=mode)
    fallback = np.asarray(jax.random.normal(jax.random.PRNGKey(0), (problem.dim,)), float)
    for candidate in [np.asarray(r.direction, float) for r in ridges] + [fallback]:
        w = candidate - (candidate @ u) * u
        if np.linalg.norm(w) > PARALLEL_TOL:
            return np.stack([u, w / np.linalg.norm(w)])
    raise ValueError("no direction orthogonal to the ride's chord was found")


def ride_slice(problem: Problem, branch, path, points: int = 41) -> xr.Dataset:
    """The loss on :func:`ride_plane` around the ride ``path (T, dim)`` from ``branch``,
    with the ride projected onto it (``path_alpha``, ``path_beta``, ``path_residual``)."""
    path = np.asarray(path, float)
    directions = ride_plane(problem, branch, path[-1])
    length = float(np.linalg.norm(path[-1] - np.asarray(branch, float)))
    along = np.linspace(-0.5 * length, 1.5 * length, points)
    across = np.linspace(-length, length, points)
    return slices.slice_loss(problem, np.asarray(branch, float), directions, along, across,
                             trajectory=path, direction_kind="ridge")
