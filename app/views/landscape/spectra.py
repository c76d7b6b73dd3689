"""Hessian spectra for the Landscape view: at a clicked point and along a selected run.

The dense-vs-Lanczos policy is the engine's (``curvature.spectrum_summary``):
all eigenvalues up to ``curvature.DENSE_LIMIT`` parameters, else the
:data:`EXTREME` smallest and largest.  For networks the
click also gets the spectral density by stochastic Lanczos quadrature and
Hutchinson's trace estimate (:func:`density_at`).  These run in the runner's
pool (``view.background``), never on the event loop; on a network the click
first says what it will cost (:func:`point_cost` HVPs at most, times the
measured time of one: issue 11, "progress and cost up front").
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from landscape import curvature
from landscape.problems import default_dtype

from ...components import cost
from ...components.text import escape
from .layers import LIVE_POINTS, thinned

#: Extreme eigenvalues shown at each end of a network's spectrum.
EXTREME = 3
#: SLQ probes and Lanczos steps per probe; Hutchinson probes (Rademacher).
SLQ_PROBES, SLQ_STEPS, TRACE_PROBES = 8, 40, 64
#: Most steps of a selected run at which the Hessian spectrum is computed (surfaces, networks).
ALONG_POINTS, NETWORK_ALONG_POINTS = 1000, 30


def spectrum_at(loss, theta: np.ndarray) -> np.ndarray:
    """Hessian eigenvalues at ``theta`` by the engine's policy (all, or the :data:`EXTREME` at each end)."""
    theta = jnp.asarray(theta, dtype=default_dtype())
    return np.asarray(curvature.spectrum_summary(loss, theta, k=min(EXTREME, theta.shape[0])).eigenvalues)


def extreme_eigenvalues_along(loss, path: np.ndarray) -> np.ndarray:
    """``(points, ≤ 2·EXTREME)``: the smallest and largest Hessian eigenvalues at each row of ``path``."""
    path = jnp.asarray(path, dtype=default_dtype())
    k = min(EXTREME, path.shape[1])
    return np.asarray(curvature.spectrum_summary_along(loss, path, k=k, extremes_only=True).eigenvalues)


def point_cost(dim: int) -> int:
    """At most how many HVPs a click on a network costs: its spectrum (the engine's dense-or-Lanczos
    policy, ``curvature.spectrum_summary_cost``), the SLQ density and Hutchinson's trace."""
    return curvature.spectrum_summary_cost(dim, k=min(EXTREME, dim)) + SLQ_PROBES * SLQ_STEPS + TRACE_PROBES


def density_at(loss, theta: np.ndarray):
    """``(slq Dataset, Hutchinson trace)`` of ``∇²L(θ)`` (``curvature.slq_density``, ``curvature.hutchinson_trace``)."""
    theta = jnp.asarray(theta, dtype=default_dtype())
    density = curvature.slq_density(loss, theta, num_probes=SLQ_PROBES, num_matvecs=SLQ_STEPS)
    return density, float(curvature.hutchinson_trace(loss, theta, num_probes=TRACE_PROBES))


def show_at(view, point: np.ndarray) -> None:
    """The spectrum at ``point`` (a click) in ``view.spectra``; for networks also the SLQ density and trace,
    after their cost (an upper bound, from the measured time of one HVP)."""
    problem, network = view.problem, not view.problem.is_2d
    where = None
    if network:  # the clicked point of the slice, not the network's first weights
        alpha, beta = view.mode.xy(np.asarray(point)[None])[0]
        where = f"(α, β) = ({alpha:.3g}, {beta:.3g})"

    def show(value) -> None:
        if view.problem is not problem:  # computed for the problem before a switch: not this one's
            return
        view.spectra.show_point(point, value[0], where)
        if network:
            view.spectra.show_density(*value[1])

    def compute(label: str) -> None:
        view.background.submit(
            lambda: (spectrum_at(problem.loss, point), density_at(problem.loss, point) if network else None),
            show, label=label)  # fmt: skip

    if not network:
        compute("Computing the spectrum…")
        return
    view.background.submit(lambda: cost.estimate(problem, point_cost(problem.dim), "hvp"),
                           lambda text: compute(f"Computing the spectrum: at most {text}…"),
                           label="Timing one Hessian-vector product…")  # fmt: skip


def show_along(view, result, run: int) -> None:
    """Highlight ``run`` of ``result`` in the view's plot; its eigenvalues along it and its caption (in the pool)."""
    mode = view.mode
    if result is None or not 0 <= run < result.sizes["run"]:
        view.selected_pipe.send(np.zeros((0, 2)))
        view.caption.object = ""
        return
    theta = result.theta.values[run]
    finite = np.flatnonzero(np.isfinite(theta).all(axis=1))
    view.selected_pipe.send(mode.xy(theta[finite[thinned(len(finite), LIVE_POINTS)]]))
    network = not view.problem.is_2d
    shown = finite[thinned(len(finite), NETWORK_ALONG_POINTS if network else ALONG_POINTS)]
    steps, path, loss = result.step.values[shown], theta[shown], view.problem.loss
    label = view.run_labels[run] if run < len(view.run_labels) else run
    title = f"λ(∇²L) along {label}"  # short enough for a third of a 1280-px page
    if network and view.problem.dim > 2 * EXTREME:
        title = "Extreme λ(∇²L) along the run"

    def show(value) -> None:
        if view.mode is not mode:  # the problem changed while this was computed: the run is not shown any more
            return
        view.caption.object, evals = value
        view.spectra.show_along(steps, evals, escape(title))

    view.background.submit(lambda: (mode.caption(result, run), extreme_eigenvalues_along(loss, path)), show,
                           label="Computing eigenvalues along the run…")  # fmt: skip
