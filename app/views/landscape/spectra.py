"""Hessian spectra for the Landscape view: at a clicked point and along a selected run.

The dense-vs-Lanczos policy is the engine's (``curvature.spectrum_summary``):
all eigenvalues up to ``curvature.DENSE_LIMIT`` parameters, else the
:data:`EXTREME` smallest and largest.  These run in the runner's pool
(``view.background``), never on the event loop.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from landscape import curvature
from landscape.problems import default_dtype

#: Extreme eigenvalues shown at each end of a network's spectrum.
EXTREME = 3


def spectrum_at(loss, theta: np.ndarray) -> np.ndarray:
    """Hessian eigenvalues at ``theta`` by the engine's policy (all, or the :data:`EXTREME` at each end)."""
    theta = jnp.asarray(theta, dtype=default_dtype())
    return np.asarray(curvature.spectrum_summary(loss, theta, k=min(EXTREME, theta.shape[0])).eigenvalues)


def extreme_eigenvalues_along(loss, path: np.ndarray) -> np.ndarray:
    """``(points, ≤ 2·EXTREME)``: the smallest and largest Hessian eigenvalues at each row of ``path``."""
    path = jnp.asarray(path, dtype=default_dtype())
    k = min(EXTREME, path.shape[1])
    return np.asarray(curvature.spectrum_summary_along(loss, path, k=k, extremes_only=True).eigenvalues)
