"""What is known about one point of a problem: the dashboard's "analyse this point".

Any view can hand a point to the Critical Points view (issue 9, "linked
exploration"); this is the engine call behind it.  At ``θ`` it reports the
loss, ``‖∇L‖²``, the Hessian spectrum, the index (fraction of eigenvalues
below ``−tol``, Frye Def. 1.6) and the gradient-flatness residuals ``r`` and
``r_H`` of the minimum-norm Newton step (Frye eqs. 3.36-3.37,
:func:`landscape.critical.residuals`).

The spectrum comes from :func:`landscape.curvature.spectrum_summary`: exact
(``eigh`` of the dense Hessian) up to :data:`landscape.curvature.DENSE_LIMIT`
parameters and otherwise the ``k`` smallest Ritz values of Lanczos on
Hessian-vector products: one documented limit for the whole engine.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from . import critical, curvature
from .problems import Problem, default_dtype
from .results import result_attrs

#: Ritz values kept above :data:`landscape.curvature.DENSE_LIMIT` (the most negative ones).
LANCZOS_K = 20


def spectrum_at(problem: Problem, theta, k: int = LANCZOS_K) -> np.ndarray:
    """Hessian eigenvalues at ``theta``, ascending: all of them (dense) up to
    :data:`landscape.curvature.DENSE_LIMIT` parameters, else the ``k`` smallest by Lanczos."""
    theta = jnp.asarray(theta, dtype=default_dtype())
    summary = curvature.spectrum_summary(problem.loss, theta, k=min(k, problem.dim), which="smallest")
    return np.asarray(summary.eigenvalues, dtype=float)


def analyse_point(problem: Problem, theta, *, source: str = "") -> xr.Dataset:
    """Loss, ``‖∇L‖²``, spectrum, index, ``r`` and ``r_H`` at ``theta``.

    Dataset (kind ``"point-analysis"``): ``eigenvalue (rank)``, ``theta
    (param)``; attrs ``loss``, ``grad_norm_sq``, ``index``, ``r``, ``r_h``,
    ``dense`` (whether the spectrum is complete) and ``source`` (which view
    handed the point over).
    """
    theta = np.asarray(theta, dtype=float).reshape(-1)
    if theta.shape != (problem.dim,):
        raise ValueError(f"the point has {theta.size} coordinates; {problem.name} has {problem.dim} parameters")
    point = jnp.asarray(theta, dtype=default_dtype())
    values = spectrum_at(problem, point)
    grad = np.asarray(jax.grad(problem.loss)(point))
    r, r_h = (float(v) for v in critical.residuals(problem.loss, point))
    return xr.Dataset(
        {"eigenvalue": ("rank", values), "theta": ("param", theta)},
        coords={"rank": np.arange(values.size), "param": np.arange(problem.dim)},
        attrs=result_attrs(
            "point-analysis", problem.config(), loss=float(problem.loss(point)),
            grad_norm_sq=float(grad @ grad), index=float(curvature.index(values)), r=r, r_h=r_h,
            dense=int(problem.dim <= curvature.DENSE_LIMIT), source=source,
        ),
    )
