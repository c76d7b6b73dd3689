"""Curvature of a loss: Hessian-vector products, spectra, Lanczos, SLQ, trace.

All functions take a scalar ``loss: R^n -> R`` and a flat ``theta`` and follow
the dtype of ``theta`` (use float64 for critical-point work).

* Hessian-vector products are forward-over-reverse (Pearlmutter 1994):
  ``Hv = d/dε ∇L(θ + εv)|₀`` via ``jax.jvp`` of ``jax.grad``; one HVP costs a
  small constant times a gradient.
* Dense spectra use ``jnp.linalg.eigh`` of the (symmetrised) Hessian.
* Extremal eigenpairs come from matfree's Lanczos tridiagonalisation with full
  reorthogonalisation (``matfree.decomp.tridiag_sym``); Ritz pairs are read
  off the small tridiagonal matrix.
* The spectral density is stochastic Lanczos quadrature (Golub & Meurant;
  Ghorbani et al. 2019): for Rademacher probes v, Lanczos with v/‖v‖ gives
  nodes θ_j (Ritz values) and weights τ_j² (squared first components of the
  Ritz vectors of T); the density is the probe average of Σ_j τ_j² δ(λ − θ_j),
  optionally smoothed by a Gaussian.
* The trace is Hutchinson's estimator E[vᵀHv] through matfree.stochtrace.
* The index is Frye's fraction of eigenvalues below −tol (thesis Def. 1.6,
  numerical tolerance −1e-5 of §3.2.3.1).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from matfree import decomp, stochtrace

Array = jax.Array
Loss = Callable[[Array], Array]


def hvp(loss: Loss, theta: Array, v: Array) -> Array:
    """Hessian-vector product ``∇²L(θ) v`` by forward-over-reverse autodiff."""
    return jax.jvp(jax.grad(loss), (theta,), (v,))[1]


def hvp_fn(loss: Loss, theta: Array) -> Callable[[Array], Array]:
    """``v ↦ ∇²L(θ) v`` with the gradient's linearisation computed once."""
    _, lin = jax.linearize(jax.grad(loss), theta)
    return lin


def hessian(loss: Loss, theta: Array) -> Array:
    """Dense, exactly symmetric Hessian ``∇²L(θ)``."""
    h = jax.hessian(loss)(theta)
    return 0.5 * (h + h.T)


@partial(jax.jit, static_argnums=0)
def spectrum(loss: Loss, theta: Array) -> tuple[Array, Array]:
    """All eigenpairs of the Hessian: ``(eigenvalues ascending, eigenvectors as columns)``.

    Compiled once per ``loss`` function (pass the same function object, e.g.
    ``problem.loss``, to reuse the compiled code)."""
    return jnp.linalg.eigh(hessian(loss, theta))


def index(eigenvalues: Array, tol: float = 1e-5) -> Array:
    """Fraction of eigenvalues below ``-tol`` (Frye, Def. 1.6 with §3.2.3.1's tolerance)."""
    return jnp.mean((eigenvalues < -tol).astype(eigenvalues.dtype))


def _lanczos_ritz(matvec, v0, num_matvecs):
    """Ritz values (ascending), Ritz vectors (columns) and first-component weights."""
    result = decomp.tridiag_sym(num_matvecs, reortho="full")(matvec, v0)
    values, small_vecs = jnp.linalg.eigh(result.J_small)
    vectors = result.Q_tall.T @ small_vecs
    return values, vectors, small_vecs[0, :] ** 2


@partial(jax.jit, static_argnums=(0, 3))
def _lanczos_all(loss: Loss, theta: Array, key: Array, num_matvecs: int) -> tuple[Array, Array]:
    """All Ritz pairs of ``num_matvecs`` Lanczos steps from a random start (compiled once per loss)."""
    v0 = jax.random.normal(key, theta.shape, dtype=theta.dtype)
    values, vectors, _ = _lanczos_ritz(hvp_fn(loss, theta), v0, num_matvecs)
    return values, vectors


def lanczos(
    loss: Loss,
    theta: Array,
    k: int,
    which: str = "largest",
    *,
    num_matvecs: int | None = None,
    key: Array | None = None,
) -> tuple[Array, Array]:
    """The ``k`` largest or smallest Hessian eigenpairs from HVPs only.

    Runs ``num_matvecs`` Lanczos steps (default ``min(n, max(6k, 60))``) with
    full reorthogonalisation from a random start and returns the extreme Ritz
    pairs: ``(eigenvalues, eigenvectors as columns)``, ordered from the most
    extreme inwards (descending for ``"largest"``, ascending for ``"smallest"``).
    """
    if which not in ("largest", "smallest"):
        raise ValueError(f"which must be 'largest' or 'smallest', got {which!r}")
    n = theta.shape[0]
    if not 0 < k <= n:
        raise ValueError(f"k must be in 1..{n}, got {k}")
    m = min(n, num_matvecs or max(6 * k, 60))
    key = jax.random.PRNGKey(0) if key is None else key
    values, vectors = _lanczos_all(loss, theta, key, m)
    if which == "largest":
        return values[::-1][:k], vectors[:, ::-1][:, :k]
    return values[:k], vectors[:, :k]


@partial(jax.jit, static_argnums=(0, 3, 4))
def _slq_quadrature(loss: Loss, theta: Array, key: Array, num_probes: int, num_matvecs: int):
    """Lanczos quadrature nodes and weights for each Rademacher probe (compiled once per loss)."""
    probes = jax.random.rademacher(key, (num_probes, theta.shape[0]), dtype=theta.dtype)
    matvec = hvp_fn(loss, theta)
    nodes, _, weights = jax.vmap(lambda v: _lanczos_ritz(matvec, v, num_matvecs))(probes)
    return nodes, weights


def slq_density(
    loss: Loss,
    theta: Array,
    *,
    num_probes: int = 8,
    num_matvecs: int = 40,
    grid: np.ndarray | None = None,
    sigma: float | None = None,
    key: Array | None = None,
) -> xr.Dataset:
    """Spectral density of the Hessian by stochastic Lanczos quadrature.

    Returns a Dataset with the quadrature ``node``/``weight`` per probe (the
    weights of each probe sum to 1) and, on ``lam``, the Gaussian-smoothed
    ``density`` (integrates to 1 over a wide enough grid).
    """
    m = min(theta.shape[0], num_matvecs)
    key = jax.random.PRNGKey(0) if key is None else key
    nodes, weights = _slq_quadrature(loss, theta, key, num_probes, m)
    nodes, weights = np.asarray(nodes), np.asarray(weights)
    lo, hi = nodes.min(), nodes.max()
    span = max(hi - lo, 1e-12)
    sigma = sigma if sigma is not None else span / 100
    if grid is None:
        grid = np.linspace(lo - 0.1 * span - 5 * sigma, hi + 0.1 * span + 5 * sigma, 512)
    kernel = np.exp(-0.5 * ((grid[:, None, None] - nodes[None]) / sigma) ** 2) / (
        sigma * np.sqrt(2 * np.pi)
    )
    density = (kernel * weights[None]).sum(axis=-1).mean(axis=-1)
    return xr.Dataset(
        {
            "node": (("probe", "quad"), nodes),
            "weight": (("probe", "quad"), weights),
            "density": (("lam",), density),
        },
        coords={"lam": grid},
        attrs={"sigma": float(sigma), "num_probes": num_probes, "num_matvecs": m},
    )


def hutchinson_trace(
    loss: Loss, theta: Array, *, num_probes: int = 64, key: Array | None = None
) -> Array:
    """Hutchinson's estimate of ``tr ∇²L(θ)`` with Rademacher probes (matfree)."""
    key = jax.random.PRNGKey(0) if key is None else key
    return _hutchinson(loss, theta, key, num_probes)


@partial(jax.jit, static_argnums=(0, 3))
def _hutchinson(loss: Loss, theta: Array, key: Array, num_probes: int) -> Array:
    estimate = stochtrace.estimator_monte_carlo(
        stochtrace.monte_carlo_trace(), stochtrace.sampler_signs(theta, num=num_probes)
    )
    return estimate(hvp_fn(loss, theta), key)


@partial(jax.jit, static_argnums=0)
def _spectra_along(loss: Loss, thetas: Array) -> Array:
    return jax.vmap(lambda t: jnp.linalg.eigvalsh(hessian(loss, t)))(thetas)


def eigenvalues_along(loss: Loss, thetas: Array) -> Array:
    """Dense Hessian eigenvalues (ascending) at each row of ``thetas``; NaN rows stay NaN."""
    return _spectra_along(loss, jnp.asarray(thetas))


# --------------------------------------------------------------------------- engine policy: dense or Lanczos

#: Up to this many parameters spectra are dense (``eigh`` of the full Hessian: n HVPs to form
#: it, O(n³) to diagonalise, well under a second at 600 on one core, and every eigenvalue);
#: above it, only the extremes, by Lanczos from HVPs (memory O(n·m) instead of O(n²)).
#: The one limit every engine function and view uses (``spectrum_summary`` and its ``_along`` form).
DENSE_LIMIT = 600
#: Eigenvalues reported at each end of the spectrum when it is not dense.
EXTREMES = 3
_WHICH = ("both", "smallest", "largest")


@dataclasses.dataclass(frozen=True)
class SpectrumSummary:
    """Hessian eigenvalues at one point (``(m,)``) or along a path (``(points, m)``), ascending.

    method: ``"dense"`` (every eigenvalue, ``eigh``) or ``"lanczos"`` (the
      ``k`` most extreme at the requested end(s), from HVPs).
    dim: the number of parameters (so ``m < dim`` tells a partial spectrum).
    """

    eigenvalues: np.ndarray
    method: str
    dim: int

    @property
    def complete(self) -> bool:
        return self.method == "dense"


def _check_which(which: str, k: int, dim: int) -> None:
    if which not in _WHICH:
        raise ValueError(f"which must be one of {', '.join(_WHICH)}, got {which!r}")
    if not 0 < k <= dim:
        raise ValueError(f"k must be in 1..{dim}, got {k}")


def _ends(evals: np.ndarray, k: int, which: str) -> np.ndarray:
    """The k smallest and/or k largest of ascending rows (all of them when 2k ≥ m)."""
    m = evals.shape[-1]
    if which == "smallest":
        return evals[..., :k]
    if which == "largest":
        return evals[..., max(m - k, 0):]
    return evals if 2 * k >= m else np.concatenate([evals[..., :k], evals[..., -k:]], axis=-1)


def _lanczos_ends(loss: Loss, theta: Array, k: int, which: str) -> np.ndarray:
    parts = []
    if which in ("both", "smallest"):
        parts.append(np.asarray(lanczos(loss, theta, k, "smallest")[0]))
    if which in ("both", "largest"):
        parts.append(np.asarray(lanczos(loss, theta, k, "largest")[0]))
    return np.sort(np.concatenate(parts))


def spectrum_summary(loss: Loss, theta, *, k: int = EXTREMES, which: str = "both",
                     dense_limit: int = DENSE_LIMIT, extremes_only: bool = False) -> SpectrumSummary:
    """Hessian eigenvalues at ``theta``, choosing the method by :data:`DENSE_LIMIT`.

    Up to ``dense_limit`` parameters: all eigenvalues by ``eigh`` (only the
    ``k`` at each requested end when ``extremes_only``).  Above: the ``k``
    smallest and/or largest (``which`` = ``"both"``, ``"smallest"`` or
    ``"largest"``) by :func:`lanczos` (HVPs only).  Ascending either way.
    """
    theta = jnp.asarray(theta)
    dim = theta.shape[0]
    _check_which(which, k, dim)
    if dim <= dense_limit:
        evals = np.asarray(spectrum(loss, theta)[0])
        return SpectrumSummary(_ends(evals, k, which) if extremes_only else evals, "dense", dim)
    return SpectrumSummary(_lanczos_ends(loss, theta, k, which), "lanczos", dim)


def spectrum_summary_along(loss: Loss, path, *, k: int = EXTREMES, which: str = "both",
                           dense_limit: int = DENSE_LIMIT, extremes_only: bool = False) -> SpectrumSummary:
    """:func:`spectrum_summary` at every row of ``path (points, dim)``: eigenvalues ``(points, m)``.

    Dense rows are one vmapped, compiled call (:func:`eigenvalues_along`);
    Lanczos runs per point.  Rows with non-finite parameters give NaN rows.
    """
    path = jnp.atleast_2d(jnp.asarray(path))
    dim = path.shape[1]
    _check_which(which, k, dim)
    if dim <= dense_limit:
        evals = np.asarray(eigenvalues_along(loss, path))
        return SpectrumSummary(_ends(evals, k, which) if extremes_only else evals, "dense", dim)
    finite = np.asarray(jnp.all(jnp.isfinite(path), axis=1))
    width = k * (2 if which == "both" else 1)
    rows = [_lanczos_ends(loss, theta, k, which) if ok else np.full(width, np.nan) for theta, ok in zip(path, finite)]
    return SpectrumSummary(np.stack(rows), "lanczos", dim)
