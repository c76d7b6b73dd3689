"""GetRidges and UpdateRidge of Ridge Rider (Parker-Holder et al. 2020, §3, App. C.1, D.2, D.3).

Direction convention.  Algorithm 1 steps ``θ_t = θ_{t−1} − α e_i``.  Here a ride
carries its *travel direction* ``d`` and steps ``θ_t = θ_{t−1} + α d``; a ridge
``(i, s)`` travels along ``d = s·v_i`` where ``v_i`` is the eigenvector of the
i-th most negative Hessian eigenvalue with its largest-magnitude entry made
positive (so fingerprints are reproducible).  Both signs are explored, so this
is Algorithm 1 with ``e = −d``.

Exact mode (Algorithm 1, §3 "UpdateRidge"): after a step the full spectrum is
recomputed (``jnp.linalg.eigh`` of the dense Hessian), the continued ridge is the
eigenvector with the largest ``|⟨v_j, d_prev⟩|`` and its sign is fixed so that
``⟨d, d_prev⟩ > 0`` (the intended reading of App. D.2's canonical path, see the
notes); the step size is halved from ``α`` until that overlap is at least
``δ_break`` or ``α`` falls below ``α_min`` (App. B's backtracking rule).  The
default ``"warm"`` UpdateRidge takes the same decisions without the full spectrum
at most trials: Rayleigh-quotient iteration from the previous direction, certified
by orthonormality of the eigenvectors (:func:`exact_step`); ``"dense"`` is the
printed algorithm's reference.

Approximate mode (Algorithm 2, App. C.1, with the typos fixed: line 13 is
``θ^Ψ ← θ^Ψ − lr_θ e`` and line 19 is the §3 loss): GetRidges is Lanczos on
Hessian-vector products (matfree, via :func:`landscape.curvature.lanczos`), and
UpdateRidge warm-starts ``λ ← λ + dᵀ(H(θ_t) − H(θ_{t−1}))d`` and then takes ``S``
gradient steps on ``L(e, λ) = ‖(1/λ) H ẽ − ẽ‖²``, ``ẽ = e/‖e‖``, with the analytic
gradients of App. D.3 eq. (11) (hand-written because they let one inner step cost
exactly two HVPs, ``Hẽ`` and ``H(Hẽ)``), then normalises ``e``.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..curvature import hessian, hvp, lanczos, spectrum


def canonical_signs(vectors):
    """Flip each column so that its largest-magnitude entry is positive."""
    idx = jnp.argmax(jnp.abs(vectors), axis=0)
    signs = jnp.sign(vectors[idx, jnp.arange(vectors.shape[1])])
    return vectors * jnp.where(signs == 0, 1.0, signs)


@partial(jax.jit, static_argnums=0)
def _dense_ridges(loss, theta):
    evals, vecs = spectrum(loss, theta)
    return evals, canonical_signs(vecs), jax.grad(loss)(theta)


@partial(jax.jit, static_argnums=(0, 2, 3))
def _lanczos_ridges(loss, theta, n, num_matvecs, key):
    evals, vecs = lanczos(loss, theta, n, "smallest", num_matvecs=num_matvecs, key=key)
    return evals, canonical_signs(vecs), jax.grad(loss)(theta)


class Ridge(NamedTuple):
    """One branch: eigen-index (0 = most negative), sign, travel direction, eigenvalue."""

    index: int
    sign: int
    direction: np.ndarray
    eigenvalue: float


def get_ridges(
    loss, theta, n: int, *, mode: str = "exact", signs: str = "both", neg_tol: float = 1e-8,
    num_matvecs: int | None = None, key=None,
) -> list[Ridge]:
    """GetRidges (§3): the ``n`` most negative eigenpairs with ``λ < −neg_tol``, as ridges.

    ``signs="both"`` gives ``(i, +)`` and ``(i, −)`` for each eigenvector (§3: "one can
    explore in opposite directions along any negative EVec"); ``signs="descent"`` keeps
    the one sign with ``⟨∇L, d⟩ ≤ 0`` (Algorithm 2, line 6).  ``mode="exact"`` uses the
    dense spectrum, ``"approximate"`` Lanczos with ``num_matvecs`` HVPs.
    """
    theta = jnp.asarray(theta)
    n = min(n, theta.shape[0])
    if mode == "exact":
        evals, vecs, grad = map(np.asarray, _dense_ridges(loss, theta))
        evals, vecs = evals[:n], vecs[:, :n]
    elif mode == "approximate":
        m = min(theta.shape[0], num_matvecs or max(6 * n, 60))
        key = jax.random.PRNGKey(0) if key is None else key
        evals, vecs, grad = map(np.asarray, _lanczos_ridges(loss, theta, n, m, key))
    else:
        raise ValueError(f"mode must be 'exact' or 'approximate', got {mode!r}")
    ridges = []
    for i in np.flatnonzero(evals < -neg_tol):
        v = vecs[:, i]
        if signs == "both":
            chosen = (1, -1)
        elif signs == "descent":
            chosen = (-1 if np.dot(grad, v) > 0 else 1,)
        else:
            raise ValueError(f"signs must be 'both' or 'descent', got {signs!r}")
        ridges.extend(Ridge(int(i), s, s * v, float(evals[i])) for s in chosen)
    return ridges


def continue_ridge(evals, vecs, d_prev):
    """Exact UpdateRidge: the eigenvector of largest |overlap| with ``d_prev``, signed
    so the overlap is positive.  Returns ``(d, λ, overlap)``."""
    overlaps = vecs.T @ d_prev
    j = jnp.argmax(jnp.abs(overlaps))
    sign = jnp.where(overlaps[j] < 0, -1.0, 1.0)
    return sign * vecs[:, j], evals[j], jnp.abs(overlaps[j])


class Step(NamedTuple):
    theta: jax.Array
    direction: jax.Array
    eigenvalue: jax.Array
    overlap: jax.Array
    alpha: jax.Array


#: Exact UpdateRidge implementations: ``"warm"`` (default) certifies the continued ridge
#: by Rayleigh-quotient iteration and falls back to ``"dense"``, the printed
#: algorithm's reference (one full ``eigh`` per backtracking trial).
EXACT_STEPS = ("warm", "dense")


def rayleigh_quotient_iteration(h, d, iterations: int = 8, rtol: float = 64.0):
    """Rayleigh-quotient iteration on the dense symmetric ``h`` from the unit vector ``d``:
    ``x ← (H − ρ(x) I)⁻¹ x / ‖·‖``, ``ρ(x) = xᵀHx`` (cubically convergent near an
    eigenvector), stopped once ``‖Hx − ρx‖ ≤ rtol·ε·‖H‖_F`` (rounding level, so ``x``
    agrees with ``eigh``'s eigenvector to ``ε‖H‖/gap`` and long rides do not drift
    apart).  Returns ``(x, ρ, converged)``; ``converged`` is False if the residual is
    still larger after ``iterations`` solves or the iterate is not finite."""
    eye = jnp.eye(h.shape[0], dtype=h.dtype)
    tol = rtol * jnp.finfo(h.dtype).eps * jnp.linalg.norm(h)

    def residual(x):
        hx = h @ x
        rho = x @ hx
        return rho, jnp.linalg.norm(hx - rho * x)

    def unconverged(carry):
        k, x, rho, res = carry
        return (k < iterations) & ~(res <= tol)

    def iterate(carry):
        k, x, rho, _ = carry
        y = jnp.linalg.solve(h - rho * eye, x)
        y = y / jnp.linalg.norm(y)
        return (k + 1, y, *residual(y))

    _, x, rho, res = jax.lax.while_loop(unconverged, iterate, (0, d, *residual(d)))
    return x, rho, (res <= tol) & jnp.all(jnp.isfinite(x))


def _dense_trial(h, new, d, a) -> Step:
    evals, vecs = jnp.linalg.eigh(h)
    d_new, lam, overlap = continue_ridge(evals, vecs, d)
    return Step(new, d_new, lam, overlap, a)


def exact_step(loss, theta, d, alpha, alpha_min, delta_break, method: str = "warm") -> Step:
    """One exact ride step with backtracking: try ``α``, halve while the continued
    ridge's overlap is below ``δ_break`` and ``α/2 ≥ α_min`` (App. B).

    ``method="dense"`` decides every trial with the full spectrum (``eigh`` of the
    Hessian) and :func:`continue_ridge`.  ``method="warm"`` takes the same decisions
    with one dense Hessian and a few linear solves per trial: Rayleigh-quotient
    iteration from ``d`` gives an eigenpair ``(x, μ)`` (residual-certified), and since
    the eigenvectors are orthonormal, ``Σ_j ⟨v_j, d⟩² = 1``, so

    * ``|⟨x, d⟩| > 1/√2``: no other eigenvector can overlap more, so ``x`` is the
      continued ridge (accepted if ``|⟨x, d⟩| ≥ δ_break`` or ``α`` cannot be halved);
    * ``|⟨x, d⟩| < δ_break`` and ``⟨x, d⟩² > 1 − δ_break²``: no eigenvector reaches
      ``δ_break``, so the trial is rejected (when a halved ``α`` is still allowed);

    otherwise (not converged, or converged to a weakly overlapping eigenvector) that
    trial falls back to ``eigh``.  Both methods follow the same ride up to the
    eigensolvers' rounding (tested); ``"warm"`` calls ``eigh`` only when a trial is
    not certified.
    """
    if method not in EXACT_STEPS:
        raise ValueError(f"method must be one of {EXACT_STEPS}, got {method!r}")

    def trial(a):
        new = theta + a * d
        h = hessian(loss, new)
        if method == "dense":
            return _dense_trial(h, new, d, a)
        x, mu, converged = rayleigh_quotient_iteration(h, d)
        c = x @ d
        overlap = jnp.abs(c)
        last = a / 2 < alpha_min  # the trial is kept whatever its overlap
        accept = ((overlap >= delta_break) | last) & (overlap ** 2 > 0.5)
        reject = (overlap < delta_break) & (overlap ** 2 > 1 - delta_break ** 2) & ~last
        warm = Step(new, jnp.where(c < 0, -x, x), mu, overlap, a)
        return jax.lax.cond(converged & (accept | reject), lambda: warm, lambda: _dense_trial(h, new, d, a))

    def retry(step):
        return trial(step.alpha / 2)

    def too_low(step):
        return (step.overlap < delta_break) & (step.alpha / 2 >= alpha_min)

    return jax.lax.while_loop(too_low, retry, trial(alpha))


def ridge_loss_and_grads(hvp_at, e, lam):
    """``L(e, λ) = ‖(1/λ) H ẽ − ẽ‖²`` and its analytic gradients (App. D.3, eq. 11):

    ``∇_e L = (1/‖e‖)(I − ẽẽᵀ)(2H²ẽ/λ² − 4Hẽ/λ)``,
    ``∂_λ L = −2 ẽᵀH²ẽ/λ³ + 2 ẽᵀHẽ/λ²``  (two HVPs)."""
    norm = jnp.linalg.norm(e)
    et = e / norm
    u = hvp_at(et)
    w = hvp_at(u)
    eu, ew = et @ u, et @ w
    value = ew / lam**2 - 2 * eu / lam + 1
    g = 2 * w / lam**2 - 4 * u / lam
    grad_e = (g - et * (et @ g)) / norm
    grad_lam = -2 * ew / lam**3 + 2 * eu / lam**2
    return value, grad_e, grad_lam


def update_ridge_optimizer(lr_e, lr_lambda) -> optax.GradientTransformation:
    """Plain gradient descent with separate rates for ``e`` and ``λ`` (Algorithm 2, lines 20–21)."""
    return optax.multi_transform(
        {"e": optax.sgd(lr_e), "lam": optax.sgd(lr_lambda)}, {"e": "e", "lam": "lam"}
    )


def approximate_step(loss, theta, d, lam, alpha, lr_e, lr_lambda, inner_steps) -> Step:
    """One approximate ride step (Algorithm 2, lines 12–22, typos fixed): move, warm-start
    λ to first order, then ``inner_steps`` GD steps on the ridge loss; HVPs only."""
    new = theta + alpha * d
    lam = lam + d @ (hvp(loss, new, d) - hvp(loss, theta, d))
    optimizer = update_ridge_optimizer(lr_e, lr_lambda)

    def inner(_, carry):
        params, state = carry
        _, grad_e, grad_lam = ridge_loss_and_grads(lambda v: hvp(loss, new, v), params["e"], params["lam"])
        updates, state = optimizer.update({"e": grad_e, "lam": grad_lam}, state, params)
        return optax.apply_updates(params, updates), state

    params = {"e": d, "lam": lam}
    params, _ = jax.lax.fori_loop(0, inner_steps, inner, (params, optimizer.init(params)))
    e = params["e"] / jnp.linalg.norm(params["e"])
    overlap = e @ d
    e = jnp.where(overlap < 0, -e, e)  # keep the direction of travel (sign rule of D.2)
    return Step(new, e, params["lam"], jnp.abs(overlap), jnp.asarray(alpha, theta.dtype))


def fixed_step(loss, theta, d, alpha) -> Step:
    """The Fixed-EV ablation of §4 (Fig. 3): move along ``d`` without updating it; the
    reported eigenvalue is the Rayleigh quotient ``dᵀH d``."""
    new = theta + alpha * d
    return Step(new, d, d @ hvp(loss, new, d), jnp.ones((), theta.dtype), jnp.asarray(alpha, theta.dtype))
