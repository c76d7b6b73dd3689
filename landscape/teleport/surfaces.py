"""Level-set teleportation on 2-D problems (Zhao et al., eq. 4 and App. D).

``level_set`` moves a point ``w₀`` of a 2-D problem along its level set
``S(L(w₀)) = {w : L(w) = L(w₀)}`` to a local maximiser (``direction=+1``) or
minimiser (``-1``) of ``f(w) = ‖∇L(w)‖²`` (eq. 4).  Two methods:

* ``"group"`` — for a positive-definite quadratic
  ``L(w) = L(c) + ½ (w − c)ᵀ A (w − c)`` (``ellipse``, ``booth``), each level
  set is one orbit of the rotation group conjugated by ``A^{1/2}``::

      g_α · w = c + A^{-1/2} R(α) A^{1/2} (w − c),

  which leaves ``L`` invariant exactly (``R(α)`` is a rotation by α; for
  ``A = λI`` this is the plain rotational symmetry).  The teleport is ascent
  on the Lie-algebra coordinate α of ``f(g_α·w₀)`` (the 1-D group is abelian,
  so the accumulated α is the group element), finished by a few 1-D Newton
  steps on α so that the extremum is met to round-off.  :func:`quadratic_symmetry`
  detects the case: it fits the quadratic from the Hessian and gradient at
  ``w₀`` and checks the fit at sample points of the problem.
* ``"tangent"`` — any 2-D problem: ascent in the arc-length coordinate along
  the unit tangent ``t̂ = (−∂₂L, ∂₁L)/‖∇L‖``, each move followed by Newton
  retraction ``w ← w − (L(w) − L(w₀)) ∇L/‖∇L‖²`` back onto the level set.

The step sizes come from optax (Adam with a cosine-decayed learning rate, so
the ascent settles at the maximiser rather than oscillating around it); the
retraction and the conjugated rotation are hand-written (no library has
them).  Each method is one ``lax.scan``.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import xarray as xr

from ..curvature import hessian
from ..problems.base import Problem
from ..results import result_attrs

METHODS = ("auto", "group", "tangent")
_NEWTON_ITERATIONS = 4


@dataclasses.dataclass(frozen=True)
class QuadraticSymmetry:
    """The conjugated rotation group of a positive-definite quadratic (see module docstring)."""

    center: np.ndarray
    hessian: np.ndarray

    def roots(self) -> tuple[np.ndarray, np.ndarray]:
        """``(A^{1/2}, A^{-1/2})``."""
        evals, evecs = np.linalg.eigh(self.hessian)
        return evecs @ np.diag(np.sqrt(evals)) @ evecs.T, evecs @ np.diag(1 / np.sqrt(evals)) @ evecs.T

    def act(self, alpha, w) -> jax.Array:
        """``g_α · w = c + A^{-1/2} R(α) A^{1/2} (w − c)``."""
        sqrt, inv_sqrt = (jnp.asarray(m, w.dtype) for m in self.roots())
        return _rotate(alpha, w, jnp.asarray(self.center, w.dtype), sqrt, inv_sqrt)


def _rotate(alpha, w, center, sqrt, inv_sqrt):
    """``c + exp(αJ)(w − c)`` with ``J = A^{-1/2} [[0, −1], [1, 0]] A^{1/2}``, in closed form
    ``exp(αJ) = A^{-1/2} R(α) A^{1/2}``."""
    c, s = jnp.cos(alpha), jnp.sin(alpha)
    rotation = jnp.stack([jnp.stack([c, -s]), jnp.stack([s, c])])
    return center + inv_sqrt @ (rotation @ (sqrt @ (w - center)))


def quadratic_symmetry(problem: Problem, theta, n_checks: int = 8, rtol: float = 1e-9) -> QuadraticSymmetry | None:
    """The rotation symmetry of ``problem`` if it is a positive-definite quadratic, else ``None``.

    Fits ``L(c) + ½(w − c)ᵀA(w − c)`` from ``A = ∇²L(θ)``, ``c = θ − A⁻¹∇L(θ)``
    and accepts it when it reproduces ``L`` at ``n_checks`` sampled points to
    ``rtol`` (relative to the loss range seen).
    """
    if problem.dim != 2:
        return None
    theta = jnp.asarray(theta)
    a = np.asarray(hessian(problem.loss, theta))
    if not np.all(np.linalg.eigvalsh(a) > 0):
        return None
    c = np.asarray(theta) - np.linalg.solve(a, np.asarray(jax.grad(problem.loss)(theta)))
    l_c = float(problem.loss(jnp.asarray(c, theta.dtype)))
    points = jax.vmap(problem.sampler)(jax.random.split(jax.random.PRNGKey(0), n_checks))
    actual = np.asarray(jax.vmap(problem.loss)(points))
    d = np.asarray(points) - c
    model = l_c + 0.5 * np.einsum("ni,ij,nj->n", d, a, d)
    scale = np.max(np.abs(actual)) + abs(l_c) + 1.0
    return QuadraticSymmetry(c, a) if np.max(np.abs(actual - model)) <= rtol * scale else None


def _ascent_optimizer(lr: float, steps: int):
    return optax.adam(optax.cosine_decay_schedule(lr, steps))


def _grad_norm_sq_fn(loss):
    return lambda w: jnp.sum(jax.grad(loss)(w) ** 2)


def _group_path(problem: Problem, center, sqrt, inv_sqrt, theta, steps, lr, direction):
    f = _grad_norm_sq_fn(problem.loss)
    opt = _ascent_optimizer(lr, steps)

    def objective(alpha):
        return -direction * f(_rotate(alpha, theta, center, sqrt, inv_sqrt))

    def step(state, _):
        alpha, opt_state = state
        updates, opt_state = opt.update(jax.grad(objective)(alpha), opt_state)
        alpha = alpha + updates
        return (alpha, opt_state), _rotate(alpha, theta, center, sqrt, inv_sqrt)

    alpha0 = jnp.zeros((), theta.dtype)
    (alpha, _), path = jax.lax.scan(step, (alpha0, opt.init(alpha0)), None, steps)

    def newton(a, _):  # polish the 1-D extremum: a ← a − F'(a)/F''(a) where F is locally concave
        d1, d2 = jax.grad(objective)(a), jax.grad(jax.grad(objective))(a)
        return jnp.where(d2 > 0, a - d1 / d2, a), None

    alpha = jax.lax.scan(newton, alpha, None, _NEWTON_ITERATIONS)[0]
    return path.at[-1].set(_rotate(alpha, theta, center, sqrt, inv_sqrt))


def _retract(loss, w, level):
    def newton(w, _):
        g = jax.grad(loss)(w)
        return w - (loss(w) - level) * g / jnp.sum(g**2), None

    return jax.lax.scan(newton, w, None, _NEWTON_ITERATIONS)[0]


def _tangent_path(problem: Problem, theta, steps, lr, direction):
    loss = problem.loss
    f = _grad_norm_sq_fn(loss)
    level = loss(theta)
    opt = _ascent_optimizer(lr, steps)

    def step(state, _):
        w, opt_state = state
        g = jax.grad(loss)(w)
        tangent = jnp.stack([-g[1], g[0]]) / jnp.linalg.norm(g)
        slope = jax.grad(f)(w) @ tangent  # d f / d s along the arc
        updates, opt_state = opt.update(-direction * slope, opt_state)
        w = _retract(loss, w + updates * tangent, level)
        return (w, opt_state), w

    s0 = jnp.zeros((), theta.dtype)
    _, path = jax.lax.scan(step, (theta, opt.init(s0)), None, steps)
    return path


_group_path_jit = jax.jit(_group_path, static_argnums=(0, 5))
_tangent_path_jit = jax.jit(_tangent_path, static_argnums=(0, 2))


def level_set(
    problem: Problem,
    theta,
    *,
    direction: int = 1,
    steps: int = 200,
    lr: float | None = None,
    method: str = "auto",
) -> xr.Dataset:
    """Teleport ``theta`` along its level set to extremise ``‖∇L‖²`` (eq. 4).

    Args:
      problem: a 2-D problem.
      theta: the starting point (2,).
      direction: ``+1`` for the largest gradient norm, ``-1`` for the smallest.
      steps: ascent steps.
      lr: initial step (radians of α for ``"group"``, arc length for
        ``"tangent"``); default 0.1 rad, or 1 % of the view box's diagonal.
      method: ``"group"``, ``"tangent"`` or ``"auto"`` (group when
        :func:`quadratic_symmetry` finds one).

    Returns:
      Dataset with ``path (step, param)`` (row 0 is ``theta``, the last row the
      teleported point), ``loss (step)``, ``grad_norm_sq (step)`` and
      ``theta (param)``, the teleported point; ``attrs["method"]``.
    """
    if problem.dim != 2:
        raise ValueError(f"level_set needs a 2-D problem; {problem.name} has dim {problem.dim}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}")
    if direction not in (1, -1):
        raise ValueError("direction must be +1 or -1")
    theta = jnp.asarray(theta)
    if not jnp.issubdtype(theta.dtype, jnp.floating):
        theta = theta.astype(jnp.result_type(float))
    symmetry = quadratic_symmetry(problem, theta) if method in ("auto", "group") else None
    if method == "group" and symmetry is None:
        raise ValueError(f"{problem.name} is not a positive-definite quadratic; use method='tangent'")
    if symmetry is not None:
        lr = 0.1 if lr is None else lr
        center, sqrt, inv_sqrt = (jnp.asarray(m, theta.dtype) for m in (symmetry.center, *symmetry.roots()))
        path = _group_path_jit(problem, center, sqrt, inv_sqrt, theta, steps, lr, direction)
        used = "group"
    else:
        if lr is None:
            (x0, x1), (y0, y1) = problem.bounds if problem.bounds else ((0.0, 1.0), (0.0, 1.0))
            lr = 0.01 * float(np.hypot(x1 - x0, y1 - y0))
        path = _tangent_path_jit(problem, theta, steps, lr, direction)
        used = "tangent"
    path = jnp.concatenate([theta[None], path])
    losses = jax.vmap(problem.loss)(path)
    gn = jax.vmap(_grad_norm_sq_fn(problem.loss))(path)
    config = {**problem.config(), "theta": np.asarray(theta), "direction": direction, "steps": steps,
              "lr": lr, "method": method}
    return xr.Dataset(
        {
            "path": (("step", "param"), np.asarray(path)),
            "loss": ("step", np.asarray(losses)),
            "grad_norm_sq": ("step", np.asarray(gn)),
            "theta": ("param", np.asarray(path[-1])),
        },
        coords={"step": np.arange(steps + 1), "param": ["x", "y"]},
        attrs=result_attrs("level-set-teleport", config, method=used),
    )
