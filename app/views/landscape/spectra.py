"""Hessian spectra for the Landscape view: at a clicked point and along a selected run.

Engine policy kept here until ``landscape.curvature.spectrum_summary`` lands:
all eigenvalues (dense ``eigh``) up to :data:`DENSE_LIMIT` parameters, else the
:data:`EXTREME` smallest and largest from ``curvature.lanczos`` (HVPs only).
These run in the runner's pool (``view.background``), never on the event loop.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from landscape import curvature
from landscape.problems import default_dtype

#: Above this many parameters spectra come from Lanczos (extreme eigenvalues) instead of a dense eigh.
DENSE_LIMIT = 200
#: Extreme eigenvalues shown at each end of a network's spectrum.
EXTREME = 3


def spectrum_at(loss, theta: np.ndarray) -> np.ndarray:
    """Hessian eigenvalues at ``theta`` (all, or the extreme ones above :data:`DENSE_LIMIT`)."""
    theta = jnp.asarray(theta, dtype=default_dtype())
    if theta.shape[0] <= DENSE_LIMIT:
        return np.asarray(curvature.spectrum(loss, theta)[0])
    low = np.asarray(curvature.lanczos(loss, theta, EXTREME, "smallest")[0])
    high = np.asarray(curvature.lanczos(loss, theta, EXTREME, "largest")[0])
    return np.sort(np.r_[low, high])


def extreme_eigenvalues_along(loss, path: np.ndarray) -> np.ndarray:
    """``(points, ≤ 2·EXTREME)``: the smallest and largest Hessian eigenvalues at each row of ``path``."""
    path = np.asarray(path)
    if path.shape[1] <= DENSE_LIMIT:
        evals = np.asarray(curvature.eigenvalues_along(loss, jnp.asarray(path, dtype=default_dtype())))
    else:
        evals = np.stack([spectrum_at(loss, theta) for theta in path])
    if evals.shape[1] <= 2 * EXTREME:
        return evals
    return np.concatenate([evals[:, :EXTREME], evals[:, -EXTREME:]], axis=1)
