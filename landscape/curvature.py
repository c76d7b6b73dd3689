"""Curvature of a loss: Hessian-vector products, spectra, Lanczos, SLQ, trace.

All functions take a scalar ``loss: R^n -> R`` and a flat ``theta`` and follow
the dtype of ``theta`` (use float64 for critical-point work).

* Hessian-vector products are forward-over-reverse (Pearlmutter 1994):
  ``Hv = d/dε ∇L(θ + εv)|₀`` via ``jax.jvp`` of ``jax.grad``; one HVP costs a
  small constant times a gradient.
* Dense spectra use ``jnp.linalg.eigh`` of the (symmetrised) Hessian.
* Extremal eigenpairs come from Lanczos with full reorthogonalisation in a
  fixed-size buffer, stopped by a ``while_loop`` on the Ritz residuals
  (:func:`lanczos_eigenpairs`); SLQ uses matfree's fixed-length
  tridiagonalisation (``matfree.decomp.tridiag_sym``).
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
from typing import NamedTuple

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


class LanczosResult(NamedTuple):
    """Extreme Hessian eigenpairs from :func:`lanczos_eigenpairs` and what they cost.

    ``values (k,)`` and ``vectors (dim, k)`` are ordered from the most extreme
    inwards; ``residuals (k,)`` are the Ritz residual norms ``‖H y − θ y‖``;
    ``num_matvecs`` is the number of Hessian-vector products used; ``converged``
    says whether every residual met the tolerance within the budget.
    """

    values: Array
    vectors: Array
    residuals: Array
    num_matvecs: Array
    converged: Array


#: Default relative tolerance on the Ritz residuals, ``‖H y_i − θ_i y_i‖ ≤ tol · max_j |θ_j|``: each
#: Ritz value is then within ``tol · max|θ|`` of an eigenvalue (and in practice within about
#: ``tol² · max|θ|² / gap``, Golub & Van Loan Thm. 8.1.13 and §10.1.4).
LANCZOS_TOL = 1e-3


def _padded_tridiagonal(alphas, betas, steps):
    """Diagonal and off-diagonal of the leading ``steps``-block of the buffer, the rows past it
    decoupled and pushed below the spectrum (so the buffer's size stays static)."""
    size = alphas.shape[0]
    active = jnp.arange(size) < steps
    floor = -(1 + 2 * jnp.max(jnp.abs(alphas)) + 2 * jnp.max(betas))
    diagonal = jnp.where(active, alphas, floor * (2 + jnp.arange(size)))
    return diagonal, jnp.where(jnp.arange(size - 1) < steps - 1, betas[:-1], 0.0)


def _ritz_residuals(alphas, betas, steps, k):
    """The ``k`` largest Ritz values of the first ``steps`` Lanczos steps, descending, and their
    residual norms ``β |s_last,i|`` (Paige), in O(size·k): the values by bisection
    (``eigh_tridiagonal``), the last eigenvector components by one inverse-iteration solve."""
    size = alphas.shape[0]
    diagonal, off = _padded_tridiagonal(alphas, betas, steps)
    values = jax.scipy.linalg.eigh_tridiagonal(
        diagonal, off, eigvals_only=True, select="i", select_range=(size - k, size - 1))[::-1]
    lower, upper = jnp.concatenate([jnp.zeros(1, off.dtype), off]), jnp.concatenate([off, jnp.zeros(1, off.dtype)])
    rhs = (jnp.arange(size) < steps).astype(off.dtype)[:, None]

    def last_component(theta):
        shift = theta + 1e3 * jnp.finfo(off.dtype).eps * (1 + jnp.abs(theta))
        x = jax.lax.linalg.tridiagonal_solve(lower, diagonal - shift, upper, rhs)[:, 0]
        return jnp.abs(x[steps - 1]) / jnp.linalg.norm(x)

    return values, betas[steps - 1] * jax.vmap(last_component)(values)


def _small_eigh(alphas, betas, steps, k):
    """The ``k`` largest eigenpairs of the leading ``steps``-block of the tridiagonal buffer, by
    ``eigh`` of the smallest power-of-two block that holds it (``lax.switch`` over static sizes:
    a 96² ``eigh`` costs far more than the few steps a small problem needs)."""
    size = alphas.shape[0]
    diagonal, off = _padded_tridiagonal(alphas, betas, steps)
    blocks = sorted({size} | {min(size, max(k, 1 << b)) for b in range(3, size.bit_length() + 1)})  # size < 8 too

    def block(m):
        def top():
            values, vectors = jnp.linalg.eigh(jnp.diag(diagonal[:m]) + jnp.diag(off[: m - 1], 1)
                                              + jnp.diag(off[: m - 1], -1))
            return values[::-1][:k], jnp.zeros((size, k), vectors.dtype).at[:m].set(vectors[:, ::-1][:, :k])
        return top

    which = jnp.searchsorted(jnp.asarray(blocks), steps)
    return jax.lax.switch(which, [block(m) for m in blocks])


#: Basis rows projected out together in Lanczos' reorthogonalisation (one matrix product per block).
REORTH_BLOCK = 16


@partial(jax.jit, static_argnums=(0, 3, 4))
def _lanczos_loop(loss: Loss, theta: Array, v0: Array, k: int, size: int, sign, budget, tol) -> LanczosResult:
    """Lanczos on ``sign·H`` with full reorthogonalisation in a fixed ``(size, dim)`` buffer,
    stopped by a ``while_loop`` once the ``k`` largest Ritz pairs have residuals
    ``≤ tol · max|θ|`` (or after ``budget`` steps, or on breakdown).  Compiled once per
    ``(loss, k, size)``: ``budget`` and ``tol`` are traced."""
    dtype = theta.dtype
    matvec = hvp_fn(loss, theta)  # the gradient linearised once; each step is one jvp
    tiny = 100 * jnp.finfo(dtype).eps
    rows = -(-size // REORTH_BLOCK) * REORTH_BLOCK  # the buffer, in whole blocks

    def orthogonalised(w, basis, filled):
        """``w`` minus its projection on the ``filled`` basis rows, block by block (block modified
        Gram-Schmidt): the work grows with the rows filled, not with the buffer (projecting on the
        whole zero-padded buffer every step cost more than the HVP on a 26k-parameter MLP)."""
        def block(i, w):
            rows_i = jax.lax.dynamic_slice_in_dim(basis, i * REORTH_BLOCK, REORTH_BLOCK)
            return w - rows_i.T @ (rows_i @ w)

        return jax.lax.fori_loop(0, -(-filled // REORTH_BLOCK), block, w)

    def step(state):
        j, basis, alphas, betas, q, _ = state
        basis = basis.at[j].set(q)
        w = sign * matvec(q)
        alpha = q @ w
        for _ in range(2):  # full reorthogonalisation, twice ("twice is enough", Parlett)
            w = orthogonalised(w, basis, j + 1)
        beta = jnp.linalg.norm(w)
        alphas, betas = alphas.at[j].set(alpha), betas.at[j].set(beta)
        values, residuals = _ritz_residuals(alphas, betas, j + 1, k)
        scale = jnp.max(jnp.abs(values))
        converged = (j + 1 >= k) & jnp.all(residuals <= tol * scale)
        stop = converged | (j + 1 >= budget) | (beta <= tiny * jnp.maximum(scale, 1.0))
        return j + 1, basis, alphas, betas, w / jnp.where(beta > 0, beta, 1.0), stop

    state = (0, jnp.zeros((rows, theta.shape[0]), dtype), jnp.zeros(size, dtype), jnp.zeros(size, dtype),
             v0 / jnp.linalg.norm(v0), False)
    steps, basis, alphas, betas, _, _ = jax.lax.while_loop(lambda s: ~s[-1], step, state)
    ritz, small = _small_eigh(alphas, betas, steps, k)
    residuals = betas[steps - 1] * jnp.abs(small[steps - 1])
    converged = jnp.all(residuals <= tol * jnp.max(jnp.abs(ritz)))
    return LanczosResult(sign * ritz, basis[:size].T @ small, residuals, steps, converged)


def lanczos_eigenpairs(
    loss: Loss,
    theta: Array,
    k: int,
    which: str = "largest",
    *,
    tol: float = LANCZOS_TOL,
    num_matvecs: int | None = None,
    key: Array | None = None,
    v0: Array | None = None,
) -> LanczosResult:
    """The ``k`` largest or smallest Hessian eigenpairs from HVPs only, with their cost.

    Lanczos (Golub & Van Loan, Alg. 10.1.1) with full reorthogonalisation on
    ``H`` (``"largest"``) or ``−H`` (``"smallest"``), hand-written because
    matfree's ``tridiag_sym`` runs a fixed number of steps: it stops as soon as
    every one of the ``k`` extreme Ritz pairs has residual
    ``‖H y − θ y‖ = β_j |s_{j,i}|`` at most ``tol · max|θ|`` (then each Ritz
    value is within that of an eigenvalue), after at most ``num_matvecs`` HVPs
    (default: the buffer size ``min(dim, max(8k, 96))``, which a larger
    ``num_matvecs`` grows).  The start is random (``key``) or a warm start
    ``v0`` (``(dim,)`` or ``(dim, j)``, e.g. the previous eigenvectors along a
    trajectory) plus a 1% random part, so the Krylov space never collapses.
    Compiled once per ``(loss, k, buffer size)`` whatever ``tol`` and budget.
    """
    if which not in ("largest", "smallest"):
        raise ValueError(f"which must be 'largest' or 'smallest', got {which!r}")
    n = theta.shape[0]
    if not 0 < k <= n:
        raise ValueError(f"k must be in 1..{n}, got {k}")
    if num_matvecs is not None and num_matvecs < k:
        raise ValueError(f"num_matvecs must be at least k={k}, got {num_matvecs}")
    size = lanczos_budget(n, k)
    if num_matvecs is not None and num_matvecs > size:
        size = min(n, 1 << (num_matvecs - 1).bit_length())
    budget = size if num_matvecs is None else min(num_matvecs, size)
    key = jax.random.PRNGKey(0) if key is None else key
    start = jax.random.normal(key, theta.shape, dtype=theta.dtype)
    if v0 is not None:
        v0 = jnp.asarray(v0, theta.dtype).reshape(n, -1)
        warm = jnp.sum(v0 / jnp.linalg.norm(v0, axis=0), axis=1)
        start = warm / jnp.linalg.norm(warm) + 0.01 * start / jnp.linalg.norm(start)
    sign = 1.0 if which == "largest" else -1.0
    return _lanczos_loop(loss, theta, start, k, size, jnp.asarray(sign, theta.dtype), budget,
                         jnp.asarray(tol, theta.dtype))


def lanczos_budget(dim: int, k: int) -> int:
    """The most HVPs :func:`lanczos_eigenpairs` uses by default for ``k`` eigenpairs of a ``dim``-parameter
    Hessian: its buffer, ``min(dim, max(8k, 96))`` (it stops earlier once the residuals meet ``tol``)."""
    return min(dim, max(8 * k, 96))


def lanczos(
    loss: Loss,
    theta: Array,
    k: int,
    which: str = "largest",
    *,
    num_matvecs: int | None = None,
    key: Array | None = None,
    tol: float = LANCZOS_TOL,
    v0: Array | None = None,
) -> tuple[Array, Array]:
    """The ``k`` largest or smallest Hessian eigenpairs from HVPs only:
    ``(eigenvalues, eigenvectors as columns)``, ordered from the most extreme
    inwards (descending for ``"largest"``, ascending for ``"smallest"``).

    :func:`lanczos_eigenpairs` without the cost report (its docstring says how
    ``tol``, ``num_matvecs`` (a cap now, not a fixed count) and ``v0`` act).
    """
    result = lanczos_eigenpairs(loss, theta, k, which, tol=tol, num_matvecs=num_matvecs, key=key, v0=v0)
    return result.values, result.vectors


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


def path_bucket(n: int) -> int:
    """``n`` rounded up to the next of 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, …  (quarter octaves): paths of
    similar lengths then share one compilation, at the cost of at most 25% padded rows."""
    if n <= 8:
        return 8
    octave = 1 << (n.bit_length() - 1)
    return next(size for size in (octave + quarter * octave // 4 for quarter in range(5)) if size >= n)


def eigenvalues_along(loss: Loss, thetas) -> np.ndarray:
    """Dense Hessian eigenvalues (ascending) at each row of ``thetas``; rows with a non-finite entry give
    NaN rows.  The rows are padded to :func:`path_bucket`'s length (copies of a finite row, which also
    stand in for the non-finite ones), so a path's length does not cost a compilation of its own: pass a
    run's whole path, NaN rows after it ended included, and every run of a setting shares one."""
    thetas = np.atleast_2d(np.asarray(thetas))
    n = thetas.shape[0]
    finite = np.isfinite(thetas).all(axis=1)
    filler = thetas[finite][-1] if finite.any() else np.zeros(thetas.shape[1], thetas.dtype)
    rows = np.where(finite[:, None], thetas, filler)
    padded = np.concatenate([rows, np.repeat(filler[None], path_bucket(n) - n, axis=0)])
    values = np.array(_spectra_along(loss, jnp.asarray(padded)))[:n]
    values[~finite] = np.nan
    return values


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


def _checked_k(which: str, k: int, dim: int) -> int:
    """``k`` capped at ``dim`` (a 2-parameter problem has 2 eigenvalues, whatever ``k`` asks)."""
    if which not in _WHICH:
        raise ValueError(f"which must be one of {', '.join(_WHICH)}, got {which!r}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    return min(k, dim)


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
    k = _checked_k(which, k, dim)
    if dim <= dense_limit:
        evals = np.asarray(spectrum(loss, theta)[0])
        return SpectrumSummary(_ends(evals, k, which) if extremes_only else evals, "dense", dim)
    return SpectrumSummary(_lanczos_ends(loss, theta, k, which), "lanczos", dim)


def spectrum_summary_cost(dim: int, *, k: int = EXTREMES, which: str = "both",
                          dense_limit: int = DENSE_LIMIT) -> int:
    """At most how many HVPs :func:`spectrum_summary` costs: a dense Hessian is ``dim`` of them (one
    per column), Lanczos :func:`lanczos_budget` per end asked for."""
    if dim <= dense_limit:
        return dim
    k = _checked_k(which, k, dim)
    return lanczos_budget(dim, k) * (2 if which == "both" else 1)


def spectrum_summary_along(loss: Loss, path, *, k: int = EXTREMES, which: str = "both",
                           dense_limit: int = DENSE_LIMIT, extremes_only: bool = False) -> SpectrumSummary:
    """:func:`spectrum_summary` at every row of ``path (points, dim)``: eigenvalues ``(points, m)``.

    Dense rows are one vmapped, compiled call (:func:`eigenvalues_along`);
    Lanczos runs per point.  Rows with non-finite parameters give NaN rows.
    """
    path = np.atleast_2d(np.asarray(path))
    dim = path.shape[1]
    k = _checked_k(which, k, dim)
    if dim <= dense_limit:
        evals = eigenvalues_along(loss, path)
        return SpectrumSummary(_ends(evals, k, which) if extremes_only else evals, "dense", dim)
    finite = np.all(np.isfinite(path), axis=1)
    width = k * (2 if which == "both" else 1)
    rows = [_lanczos_ends(loss, theta, k, which) if ok else np.full(width, np.nan) for theta, ok in zip(path, finite)]
    return SpectrumSummary(np.stack(rows), "lanczos", dim)
