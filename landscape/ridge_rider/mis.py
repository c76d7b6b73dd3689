"""The maximally invariant saddle (MIS), Ridge Rider §3 and App. D.7.

``θ^MIS = argmin_θ |∇L(θ)|`` subject to invariance under the problem's
symmetries.  In practice (§3) the symmetric point is reached from a symmetric
start near zero, ``θ₀ ~ N(0, ε)``; for tabular policies the paper adds the
policy entropy, ``argmin_θ |∇J(θ)| − λ_H H(π_θ)`` (Theorems 6–7 show the
entropy maximiser is fixed by every symmetry).  :func:`find_mis` minimises the
smooth stand-in ``½‖∇L(θ)‖² − λ_H H(π_θ)`` with Adam (optax) in one ``lax.scan``;
with ``λ_H = 0`` its minimisers are exactly the critical points.  The paper
gives no value of ``λ_H``; the entropy comes from ``problem.extras["entropy"]``.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
import xarray as xr

from ..curvature import spectrum_summary
from ..problems.base import Problem, default_dtype
from ..results import result_attrs


@partial(jax.jit, static_argnames=("loss", "entropy", "steps"))
def _minimise_gradient_norm(loss, entropy, steps, theta0, entropy_weight, learning_rate):
    def objective(theta):
        g = jax.grad(loss)(theta)
        value = 0.5 * g @ g
        if entropy is not None:
            value = value - entropy_weight * entropy(theta)
        return value

    optimizer = optax.adam(learning_rate)

    def body(carry, _):
        theta, state = carry
        updates, state = optimizer.update(jax.grad(objective)(theta), state, theta)
        return (optax.apply_updates(theta, updates), state), None

    (theta, _), _ = jax.lax.scan(body, (theta0, optimizer.init(theta0)), None, length=steps)
    return theta


def find_mis(
    problem: Problem,
    start=None,
    *,
    entropy_weight: float = 0.0,
    steps: int = 300,
    learning_rate: float = 0.01,
    init_scale: float = 1e-3,
    seed: int = 0,
) -> jax.Array:
    """Approximate MIS of ``problem``: start at ``start`` (default ``N(0, init_scale²)``,
    a symmetric start near zero) and minimise ``½‖∇L‖² − entropy_weight·H`` for ``steps``
    Adam steps.  Returns the parameters; see :func:`describe_point` for ‖∇L‖ and the
    spectrum there."""
    dtype = default_dtype()
    if start is None:
        start = init_scale * jax.random.normal(jax.random.PRNGKey(seed), (problem.dim,), dtype)
    theta0 = jnp.asarray(start, dtype)
    entropy = problem.extras.get("entropy") if entropy_weight else None
    if entropy_weight and entropy is None:
        raise ValueError(f"problem {problem.name!r} has no policy entropy (extras['entropy'])")
    if steps == 0:
        return theta0
    return _minimise_gradient_norm(problem.loss, entropy, steps, theta0, entropy_weight, learning_rate)


@partial(jax.jit, static_argnums=0)
def _value_and_grad_norm(loss, theta):
    value, grad = jax.value_and_grad(loss)(theta)
    return value, jnp.linalg.norm(grad)


def value_and_grad_norm(loss, theta) -> tuple[float, float]:
    value, norm = _value_and_grad_norm(loss, jnp.asarray(theta))
    return float(value), float(norm)


def describe_point(problem: Problem, theta, *, k: int = 20) -> xr.Dataset:
    """Loss, gradient norm and Hessian spectrum at ``theta`` (all of it by ``eigh`` up to
    ``curvature.DENSE_LIMIT`` parameters, else the ``k`` most negative by Lanczos:
    :func:`landscape.curvature.spectrum_summary`)."""
    theta = jnp.asarray(theta)
    value, norm = value_and_grad_norm(problem.loss, theta)
    evals = spectrum_summary(problem.loss, theta, k=min(k, problem.dim), which="smallest").eigenvalues
    return xr.Dataset(
        {"eigenvalue": ("rank", evals), "theta": ("param", np.asarray(theta))},
        coords={"rank": np.arange(len(evals)), "param": np.arange(problem.dim)},
        attrs=result_attrs(
            "saddle-report", problem.config(), loss=value, grad_norm=norm,
            num_negative=int((evals < 0).sum()),
        ),
    )
