"""Critical-point and gradient-flat-point finders (Frye thesis, ch. 2-3).

Methods (one :class:`Method` each; all share one runner that vmaps a step over
runs, scans it over chunks of steps and streams the chunks):

* **Newton-MR** (thesis Algorithm 13): the step ``p`` is the minimum-norm
  least-squares solution of the Newton system ``H p = −g`` (eq. 2.28, Alg. 9)
  from a Krylov solver that only needs Hessian-vector products, followed by the
  back-tracking line search of Algorithm 12 on the merit ``s(θ) = ‖∇L(θ)‖²``.
* **Damped Newton** (Algorithm 11): minimum-norm solutions of
  ``(H + γI) p = −g`` for every γ in a set Γ; keep the candidate with the
  smallest ``‖∇L(θ + ηp)‖²``.  By default (``damping_rule="decrease"``, the
  behaviour of the thesis's Fig. 3.2, whose caption says many runs "terminate
  in a small number of iterations") the step ``η = 0.1`` is taken only if it
  lowers ``‖∇L‖²``, otherwise the run terminates; ``damping_rule="printed"``
  is Algorithm 11 as printed (unit step, always taken).
* **BTLS-GNM** (Algorithm 2 with the back-tracking line search and Wolfe
  conditions of §2.3 / Table 3.1): gradient descent on ``G = ½‖∇L‖²`` whose
  gradient is ``∇G = H g`` (Theorem 2.1).
* **Pseudo-inverse Newton** (Algorithm 5): ``θ ← θ − H⁺ g`` with a dense
  Hessian, for small problems.

The Krylov solver is matfree's LSMR (Fong & Saunders 2011) on the symmetric
operator ``v ↦ Hv`` (Hessian-vector products only).  MINRES-QLP, the thesis's solver, is in neither lineax nor
matfree; LSMR started at 0 has the same two properties the thesis relies on:
its iterates minimise ``‖Hp + g‖`` over a Krylov subspace (of ``H²`` with start
``Hg``) and they lie in ``range(H)``, so on singular, incompatible systems it
converges to the minimum-norm least-squares (pseudo-inverse) solution.  Its
stopping tests have the thesis's form (§3.4.3, §1.7 of the notes): with
``atol = btol = rtol``, LSMR stops when ``‖Hp+g‖ ≤ rtol (‖H‖‖p‖+‖g‖)``
(the relative residual ``r`` ≤ rtol) or ``‖H(Hp+g)‖ ≤ rtol ‖H‖‖Hp+g‖``
(``r_H`` ≤ rtol), with ``‖H‖`` its running Frobenius-norm estimate; ``acondlim``
enters as LSMR's ``ctol = 1/acondlim`` and ``maxit`` its ``maxiter``; ``maxxnorm``
is enforced by a guarded ``while_loop`` (matfree's LSMR takes the loop as an
argument) that stops with the previous iterate, as MINRES-QLP does.  LSMR
costs two Hessian-vector products per iteration where MINRES-QLP costs one,
and converges like CG on ``H²``; hence the defaults of :class:`Solver`
(``rtol = 1e-10``, ``maxit = 2N``), measured on ``dlae`` from §3.2.3.2
starting points (8 runs, 100 Newton-MR steps): with the thesis's ``rtol =
5e-4`` and ``maxit = N`` no run reached ‖∇L‖² < 1e-10 (LSMR stopped after
~15 iterations, r_H's denominator being its growing Frobenius estimate);
with ``rtol = 1e-10`` and ``maxit = 2N`` five of eight did.

Gradient-flatness (§3.4.3, eqs. 3.36-3.37) of a Newton step ``p`` at ``θ``::

    r   = ‖Hp + g‖ / (‖H‖_F ‖p‖ + ‖g‖)
    r_H = ‖H(Hp + g)‖ / (‖H‖_F ‖Hp + g‖)

``r = 1`` when the minimum-norm step is 0 with ``g ≠ 0`` (g in ker H: a strict
gradient-flat point, Def. 3.2); ``r = 0`` for an exact Newton solution.
r is a property of the *inexact* solve: the thesis measures it on MR-QLP's
solution at ``rtol = 5e-4`` (§3.4.3).  A solver run to ``rtol = 1e-10`` (which
the steps need, see :class:`Solver`) resolves near-kernel components of g and
gives r ≈ 1e-3 where the thesis's tolerance gives 0.05-0.9 (measured on
``mlp-digits``), so r and r_H are measured on a separate solve with
:data:`MEASURE_SOLVER` (``Method.measure_solver``; ``None`` measures the step's
own solve).
``‖H‖_F`` is exact (dense Hessian) for ``dim ≤ DENSE_MAX``; above that it is
Hutchinson's estimate ``sqrt(E‖Hz‖²)`` with 16 Rademacher probes ``z``.  The
index (fraction of eigenvalues below ``−1e-5``, Def. 1.6 and §3.2.3.1) needs a
dense eigen-decomposition: it is logged every ``index_every`` steps and at the
final point, for ``dim ≤ INDEX_MAX``.

A run is classified from its final point (§3.4.3 and the colours of §6 of the
notes): *critical* if ``‖∇L‖² < cutoff`` (1e-10, §4.2), else *gradient-flat* if
``r > 0.9``, else *neither*.  Starting points follow §3.2.3.2: iterates of an
optimizer trajectory drawn uniformly with respect to their loss, with Gaussian
noise of variance 1e-2 on half of them.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import xarray as xr
from matfree import lstsq

from . import limits
from .curvature import hessian
from .curvature import index as hessian_index
from .executor import Executor, InProcess, ProblemRef, Sweep, batches, chunk_ranges, iter_batches, run_chunks
from .grids import Grid, GridSpec, is_resolution
from .jobs import CancelToken, Event, Stream, drive, is_cancelled
from .problems.base import Problem
from .results import result_attrs
from .stores import BatchStore, SweepStore

Array = jax.Array
Loss = Callable[[Array], Array]

#: Largest dimension for which ‖H‖_F comes from the dense Hessian at every step (above,
#: Hutchinson's estimate; a dense Hessian of mlp-digits' 398 parameters costs ~20 LSMR solves).
DENSE_MAX = 200
#: Largest dimension for which the index (a dense eigen-decomposition) is computed.
INDEX_MAX = 2000
#: Eigenvalues below −INDEX_TOL count as negative (Frye §3.2.3.1).
INDEX_TOL = 1e-5
#: Success cutoff on the final ‖∇L‖² (Frye §4.2, Table 3.1).
CRITICAL_CUTOFF = 1e-10
#: A run above the cutoff whose final r exceeds this is gradient-flat (§3.4.3).
FLAT_R = 0.9
#: Most parameters for which an experiment keeps every run's path (run, step, param) by default.
PATH_MAX_DIM = 16
CLASSES = ("critical", "gradient-flat", "neither")
METHODS = ("newton-mr", "damped-newton", "gnm", "pinv-newton")


# --------------------------------------------------------------------------
# The minimum-norm Newton step and the flatness residuals
# --------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Solver:
    """Krylov settings, named after MR-QLP's (thesis §1.7 of the notes).

    ``acondlim = 1e7`` (largest condition-number estimate) and ``maxxnorm =
    1e4`` (largest ‖p‖) are the thesis values.  Two defaults differ, because
    LSMR is not MR-QLP (measured on ``dlae``, see the module docstring):

    * ``rtol = 1e-10`` (autocrit's default) instead of the thesis's 5e-4: LSMR's
      r_H test divides by its running Frobenius estimate ‖B_k‖_F, which grows
      with the iteration count k, so with 5e-4 it stops after ~15 iterations
      whenever part of g lies along small eigenvalues, and Newton-MR crawls;
    * ``maxit`` defaults to 2N instead of N: LSMR converges like CG on H²
      (condition number squared), so N iterations leave large residuals.
    """

    rtol: float = 1e-10
    acondlim: float = 1e7
    maxxnorm: float = 1e4
    maxit: int | None = None


#: The solver whose minimum-norm step r and r_H are measured on (the thesis's rtol, §3.4.3).
MEASURE_SOLVER = Solver(rtol=5e-4)
DAMPING_RULES = ("decrease", "printed")


def _guarded_while(maxxnorm: float):
    """A ``while_loop`` for matfree's LSMR that enforces MR-QLP's ``maxxnorm``:
    an iteration whose iterate would exceed it is discarded and the solve stops
    with the previous iterate (as MINRES-QLP does)."""

    def while_loop(cond, body, state):
        def guarded_body(carry):
            old, _ = carry
            new = body(old)
            over = jnp.linalg.norm(new.x) > maxxnorm
            kept = jax.tree_util.tree_map(lambda a, b: jnp.where(over, a, b), old, new)
            return kept, over

        def guarded_cond(carry):
            state, stopped = carry
            return cond(state) & ~stopped

        final, _ = jax.lax.while_loop(guarded_cond, guarded_body, (state, jnp.array(False)))
        return final

    return while_loop


def min_norm_step(matvec: Callable[[Array], Array], g: Array, solver: Solver = Solver()):
    """Minimum-norm least-squares solution of ``A p = −g`` for symmetric ``A``.

    ``matvec`` is ``v ↦ Av`` (a Hessian-vector product, possibly damped);
    matfree's LSMR (Fong & Saunders 2011) runs with ``atol = btol = rtol`` and
    ``ctol = 1/acondlim`` (see the module docstring for why those are the
    thesis's tests), and a guarded loop for ``maxxnorm``.  Returns
    ``(p, iterations)``; each LSMR iteration costs two products (``Av`` and the
    transpose, which JAX derives from ``matvec``).
    """
    lsmr = lstsq.lsmr(
        atol=solver.rtol, btol=solver.rtol, ctol=1.0 / solver.acondlim,
        maxiter=solver.maxit or 2 * g.shape[0], while_loop=_guarded_while(solver.maxxnorm),
        custom_vjp=False,
    )
    p, stats = lsmr(matvec, -g)
    return p, stats["iteration_count"]


def _safe_ratio(num: Array, den: Array) -> Array:
    return jnp.where(den > 0, num / jnp.where(den > 0, den, 1.0), 0.0)


def flatness(matvec: Callable[[Array], Array], g: Array, p: Array, h_fro: Array):
    """``(r, r_H)`` of a Newton step ``p`` (Frye eqs. 3.36 and 3.37).

    ``r = ‖Hp+g‖ / (‖H‖_F‖p‖ + ‖g‖)`` and ``r_H = ‖H(Hp+g)‖ / (‖H‖_F‖Hp+g‖)``;
    0/0 is read as 0 (an exact solution of a zero system).
    """
    residual = matvec(p) + g
    res_norm = jnp.linalg.norm(residual)
    r = _safe_ratio(res_norm, h_fro * jnp.linalg.norm(p) + jnp.linalg.norm(g))
    r_h = _safe_ratio(jnp.linalg.norm(matvec(residual)), h_fro * res_norm)
    return r, r_h


def _hutchinson_fro(matvec, theta: Array, probes: int = 16) -> Array:
    """Hutchinson's estimate of ‖H‖_F = sqrt(E‖Hz‖²), Rademacher z (fixed key)."""
    z = jax.random.rademacher(jax.random.PRNGKey(0), (probes, theta.shape[0]), dtype=theta.dtype)
    return jnp.sqrt(jnp.mean(jax.vmap(lambda v: jnp.sum(matvec(v) ** 2))(z)))


def _index(loss: Loss, theta: Array) -> Array:
    """Fraction of Hessian eigenvalues below −INDEX_TOL (dense; NaN above INDEX_MAX)."""
    if theta.shape[0] > INDEX_MAX:
        return jnp.full((), jnp.nan, theta.dtype)
    return hessian_index(jnp.linalg.eigvalsh(hessian(loss, theta)), INDEX_TOL).astype(theta.dtype)


def _describe(loss: Loss, theta: Array, g: Array, matvec, p: Array, iterations, with_index,
              p_measured: Array | None = None):
    """The logged quantities at ``θ`` for a Newton step ``p``: loss, ‖g‖², r and
    r_H of ``p_measured`` (default ``p``: the step measured by its own solve), the
    step solver's iteration count and, when ``with_index`` (a possibly traced,
    unbatched bool), the index; plus ``g``, ``p``, ``Hp``."""
    if theta.shape[0] <= DENSE_MAX:
        h_fro = jnp.linalg.norm(hessian(loss, theta))
    else:
        h_fro = _hutchinson_fro(matvec, theta)
    r, r_h = flatness(matvec, g, p if p_measured is None else p_measured, h_fro)
    idx = jax.lax.cond(
        with_index, lambda t: _index(loss, t), lambda t: jnp.full((), jnp.nan, t.dtype), theta
    )
    return {
        "loss": loss(theta),
        "grad_norm_sq": jnp.sum(g**2),
        "r": r,
        "r_h": r_h,
        "index": idx,
        "solver_steps": iterations,
        "g": g,
        "p": p,
        "hp": matvec(p),
    }


def _measured_step(matvec, g: Array, p: Array, solver: Solver, measure: Solver | None) -> Array:
    """The step r is measured on: ``p`` itself, or a separate solve with ``measure``."""
    if measure is None or measure == solver:
        return p
    return min_norm_step(matvec, g, measure)[0]


def _point(loss: Loss, theta: Array, solver: Solver, with_index=True,
           measure: Solver | None = None) -> dict[str, Array]:
    """:func:`_describe` for the minimum-norm Newton step from :func:`min_norm_step`
    (with ``solver``), r and r_H measured on the step of ``measure`` (default: the same)."""
    g, matvec = jax.linearize(jax.grad(loss), theta)
    p, iterations = min_norm_step(matvec, g, solver)
    return _describe(loss, theta, g, matvec, p, iterations, with_index,
                     _measured_step(matvec, g, p, solver, measure))


@partial(jax.jit, static_argnames=("loss", "solver"))
def _residuals(loss, theta, solver):
    q = _point(loss, theta, solver, with_index=False)
    return q["r"], q["r_h"]


def residuals(loss: Loss, theta: Array, solver: Solver = MEASURE_SOLVER) -> tuple[Array, Array]:
    """``(r, r_H)`` of the minimum-norm Newton step at ``θ`` (eqs. 3.36-3.37), solved
    with ``solver`` (default the thesis's measuring tolerance, :data:`MEASURE_SOLVER`)."""
    return _residuals(loss, jnp.asarray(theta), solver)


# --------------------------------------------------------------------------
# Methods: one step each, for a single run (the runner vmaps over runs)
# --------------------------------------------------------------------------
_LOGGED = ("loss", "grad_norm_sq", "r", "r_h", "index", "solver_steps")


def _logged(q: dict[str, Array], dtype) -> dict[str, Array]:
    return {k: jnp.asarray(q[k], dtype) for k in _LOGGED}


def _grad_norm_sq(loss: Loss, theta: Array) -> Array:
    return jnp.sum(jax.grad(loss)(theta) ** 2)


def _measure(loss: Loss, theta: Array, solver: Solver, due, with_index,
             measure: Solver | None = None) -> dict[str, Array]:
    """The logged quantities when ``due`` (an unbatched bool), else NaN (saves solves)."""

    def skip(t):
        return {k: jnp.full((), jnp.nan, t.dtype) for k in _LOGGED}

    return jax.lax.cond(
        due, lambda t: _logged(_point(loss, t, solver, with_index, measure), t.dtype), skip, theta
    )


def backtracking(merit, theta, p, s, slope, alpha, *, beta, rho, rho_pure):
    """Back-tracking line search of Frye Algorithm 12 (Roosta et al. 2018).

    Accepts ``α`` when ``merit(θ + αp) ≤ s + ρ α · slope`` (for Newton-MR
    ``merit = ‖∇L‖²`` and ``slope = 2 pᵀHg``, so this is the thesis's
    ``s' ≤ s + 2ραpᵀH∇f``).  The unit step is tried first with ``ρ′``; then,
    from the carried ``α``, ``α ← βα`` until the test passes.  The minimum step
    ("the largest value for which α = βα") is reached when ``βα == α`` in floating
    point or when ``θ + αp == θ`` (no smaller step can move θ); then 0 is
    returned.  Returns ``(α, merit evaluations)``.
    """

    def accepted(a, r):
        return merit(theta + a * p) <= s + r * a * slope

    def search(_):
        def cond(c):
            a, ok, _ = c
            return ~ok & (a > 0)

        def body(c):
            a, _, n = c
            ok = accepted(a, rho)
            smaller = a * beta
            floor = (smaller == a) | jnp.all(theta + smaller * p == theta)
            a = jnp.where(ok, a, jnp.where(floor, 0.0, smaller))
            return a, ok, n + 1

        a, _, n = jax.lax.while_loop(cond, body, (alpha, jnp.array(False), jnp.array(1)))
        return a, n

    pure = accepted(1.0, rho_pure)
    return jax.lax.cond(pure, lambda _: (jnp.ones_like(alpha), jnp.array(1)), search, None)


@dataclasses.dataclass(frozen=True)
class Method:
    """A critical-point finder: its name and hyper-parameters (hashable, so it is
    a static argument of the compiled runner).

    Args:
      name: one of ``METHODS``.
      solver: Krylov settings for the minimum-norm steps.
      measure_solver: Krylov settings of the solve r and r_H are measured on
        (default :data:`MEASURE_SOLVER`, the thesis's rtol 5e-4; ``None``: the
        step's own solve).  Pseudo-inverse Newton measures its exact step.
      alpha, beta, rho, rho_pure: line-search constants.  Newton-MR (Alg. 12-13)
        starts at ``alpha = 1`` with ``β = 0.5``, ``ρ = ρ′ = 1e-4`` (the thesis
        gives no values; ``β`` and ``ρ`` are autocrit's defaults); BTLS-GNM
        starts at autocrit's ``alpha = 0.1``.
      wolfe: the Wolfe curvature constant of BTLS-GNM (autocrit's 0.9); ``None``
        keeps only the Armijo condition.
      gammas: the damping set Γ of damped Newton (autocrit's 1e-1 … 1e-6).
      damping_rule: damped Newton's acceptance: ``"decrease"`` (default, the
        behaviour of the thesis's Fig. 3.2) takes the best candidate with step
        ``damped_step`` only if it lowers ‖∇L‖², else the run terminates;
        ``"printed"`` is Algorithm 11 as printed (unit step, always taken).
      damped_step: the step size η of the ``"decrease"`` rule (0.1).
      measure_every: BTLS-GNM computes r and r_H every this many steps (each
        costs a Krylov solve); the Newton methods measure every step because
        their step *is* (or comes with) that solve.
      index_every: the index (a dense eigen-decomposition) is logged every this
        many steps; the final point always gets one.
    """

    name: str = "newton-mr"
    solver: Solver = Solver()
    alpha: float | None = None
    beta: float = 0.5
    rho: float = 1e-4
    rho_pure: float = 1e-4
    wolfe: float | None = 0.9
    gammas: tuple[float, ...] = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6)
    damping_rule: str = "decrease"
    damped_step: float = 0.1
    measure_solver: Solver | None = MEASURE_SOLVER
    measure_every: int = 1
    index_every: int = 1

    def __post_init__(self):
        if self.name not in METHODS:
            raise ValueError(f"unknown method {self.name!r}; choose from {METHODS}")
        if self.damping_rule not in DAMPING_RULES:
            raise ValueError(f"damping_rule must be one of {DAMPING_RULES}, got {self.damping_rule!r}")

    @property
    def alpha0(self) -> float:
        return self.alpha if self.alpha is not None else (0.1 if self.name == "gnm" else 1.0)

    def config(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Method:
        """The method :meth:`config` describes (e.g. decoded from a store's JSON record)."""
        solvers = {k: None if config[k] is None else Solver(**config[k]) for k in ("solver", "measure_solver")}
        return cls(**{**config, **solvers, "gammas": tuple(config["gammas"])})

    def step(self, loss: Loss, theta: Array, alpha: Array, measure, with_index):
        """One update from ``θ``: ``(θ_next, α_next, logged dict)``; ``θ_next == θ``
        means the run has terminated.  ``measure``/``with_index`` (unbatched
        bools) say whether r, r_H and the index are due at this step."""
        return _STEPS[self.name](self, loss, theta, alpha, measure, with_index)


def _newton_mr_step(m: Method, loss, theta, alpha, measure, with_index):
    """Algorithm 13: MR step, Algorithm 12 line search, α ← min(1, α/β) after success."""
    q = _point(loss, theta, m.solver, with_index, m.measure_solver)
    slope = 2.0 * jnp.dot(q["hp"], q["g"])
    step, evals = backtracking(
        partial(_grad_norm_sq, loss), theta, q["p"], q["grad_norm_sq"], slope, alpha,
        beta=m.beta, rho=m.rho, rho_pure=m.rho_pure,
    )
    new_alpha = jnp.where(step > 0, jnp.minimum(1.0, step / m.beta), alpha)
    log = _logged(q, theta.dtype) | {"step_size": step, "merit_evals": evals}
    return theta + step * q["p"], new_alpha, log


def _damped_newton_step(m: Method, loss, theta, alpha, measure, with_index):
    """Algorithm 11: candidates ``p_γ = argmin-norm ‖(H+γI)p + g‖`` for γ ∈ Γ;
    keep the one with the smallest ``‖∇L(θ+ηp_γ)‖²``.

    ``damping_rule="decrease"`` (η = ``damped_step``): take it only if it lowers
    ``‖∇L‖²``; otherwise the step is 0 and the run terminates.  This is what the
    thesis's Fig. 3.2 shows (many runs "terminate in a small number of
    iterations", which the printed algorithm cannot do); on ``dlae`` it gives
    7/16 successes at 500 steps (Table 3.1: 45 ± 5 %).  ``"printed"``: η = 1
    and the candidate is always taken, as Algorithm 11 prints.  The undamped
    step (γ = 0) is solved in the same vmapped solve; r and r_H are measured on
    it (or on the ``measure_solver``'s solve); it is a candidate only when 0 ∈ Γ."""
    g, matvec = jax.linearize(jax.grad(loss), theta)
    gammas = jnp.asarray((0.0, *m.gammas), theta.dtype)
    steps, iterations = jax.vmap(
        lambda gam: min_norm_step(lambda v: matvec(v) + gam * v, g, m.solver)
    )(gammas)
    eta = 1.0 if m.damping_rule == "printed" else m.damped_step
    merits = jax.vmap(lambda p: _grad_norm_sq(loss, theta + eta * p))(steps[1:])
    best = jnp.argmin(merits)
    if m.damping_rule == "printed":
        step = jnp.ones((), theta.dtype)
    else:
        step = jnp.where(merits[best] < jnp.sum(g**2), eta, 0.0).astype(theta.dtype)
    p_measured = _measured_step(matvec, g, steps[0], m.solver, m.measure_solver)
    log = _logged(_describe(loss, theta, g, matvec, steps[0], iterations[0], with_index, p_measured),
                  theta.dtype)
    log |= {"step_size": step, "merit_evals": jnp.array(len(m.gammas))}
    return theta + step * steps[1:][best], alpha, log


def _gnm_step(m: Method, loss, theta, alpha, measure, with_index):
    """BTLS-GNM: ``d = −Hg = −∇G`` for ``G = ½‖∇L‖²`` (Thm 2.1); from the carried
    ``α``, ``α ← βα`` until the Armijo (``ρ``) and Wolfe curvature
    (``∇G(θ+αd)ᵀd ≥ c₂ ∇G(θ)ᵀd``) conditions hold, then ``α ← α/β``; reaching
    the floating-point minimum step ends the run (autocrit's rule)."""

    def half_gsq(x):
        return 0.5 * _grad_norm_sq(loss, x)

    g, matvec = jax.linearize(jax.grad(loss), theta)
    d = -matvec(g)
    merit0, slope = 0.5 * jnp.sum(g**2), -jnp.sum(d**2)

    def wolfe(a):
        value, grad_new = jax.value_and_grad(half_gsq)(theta + a * d)
        armijo = value <= merit0 + m.rho * a * slope
        if m.wolfe is None:
            return armijo
        return armijo & (jnp.dot(grad_new, d) >= m.wolfe * slope)

    def cond(c):
        a, ok, _ = c
        return ~ok & (a > 0)

    def body(c):
        a, _, n = c
        ok = wolfe(a)
        smaller = a * m.beta
        floor = (smaller == a) | jnp.all(theta + smaller * d == theta)
        return jnp.where(ok, a, jnp.where(floor, 0.0, smaller)), ok, n + 1

    flat = slope >= 0  # ∇G = 0: nothing to descend
    step, _, evals = jax.lax.while_loop(cond, body, (alpha, flat, jnp.array(0)))
    step = jnp.where(flat, 0.0, step)
    log = _measure(loss, theta, m.solver, measure, with_index, m.measure_solver)
    log |= {"step_size": step, "merit_evals": evals}
    return theta + step * d, jnp.where(step > 0, step / m.beta, alpha), log


def _pinv_newton_step(m: Method, loss, theta, alpha, measure, with_index):
    """Algorithm 5: ``θ ← θ − H⁺g`` with the dense Moore-Penrose pseudo-inverse
    (r and r_H are those of this exact minimum-norm step)."""
    g, matvec = jax.linearize(jax.grad(loss), theta)
    p = -jnp.linalg.pinv(hessian(loss, theta), hermitian=True) @ g
    log = _logged(_describe(loss, theta, g, matvec, p, 0, with_index), theta.dtype)
    log |= {"step_size": jnp.ones((), theta.dtype), "merit_evals": jnp.array(0)}
    return theta + p, alpha, log


_STEPS = {
    "newton-mr": _newton_mr_step,
    "damped-newton": _damped_newton_step,
    "gnm": _gnm_step,
    "pinv-newton": _pinv_newton_step,
}
_STEP_FIELDS = (*_LOGGED, "step_size", "merit_evals")


# --------------------------------------------------------------------------
# The batched runner
# --------------------------------------------------------------------------
@partial(jax.jit, static_argnames=("loss", "method", "length"))
def _run_chunk(loss, method: Method, thetas, alphas, active, t0, num_steps, *, length: int):
    """Steps ``t0 … t0+length−1`` of ``method`` for every run (vmapped), one ``lax.scan``.

    Row ``t`` is measured at θ_t.  At ``t == num_steps`` every run's point is
    only measured (the final row, index included); rows past it and rows of
    terminated runs are NaN, leave θ unchanged and, once no run is active,
    cost nothing (``lax.cond`` on an unbatched predicate).  ``length`` is the same for
    every chunk so the runner compiles once per (loss, method, batch shape).
    Returns the new carry, the logs ``(length, runs)`` and the path
    ``(length, runs, dim)``.
    """

    def one(theta, alpha, on, t):
        measure = (t % method.measure_every == 0) | (t == num_steps)
        with_index = (t % method.index_every == 0) | (t == num_steps)
        new_theta, new_alpha, log = method.step(loss, theta, alpha, measure, with_index)
        moving = on & (t < num_steps)
        moved = moving & jnp.any(new_theta != theta)
        log["step_size"] = jnp.where(moving, log["step_size"], jnp.nan)
        log = {k: jnp.where(moving | (t == num_steps), v, jnp.nan) for k, v in log.items()}
        return jnp.where(moved, new_theta, theta), jnp.where(moved, new_alpha, alpha), moved, log

    def body(carry, t):
        thetas, alphas, active = carry
        step_all = jax.vmap(one, in_axes=(0, 0, 0, None))

        def skip(_):
            shapes = jax.eval_shape(step_all, thetas, alphas, active, t)[3]
            nan = {k: jnp.full(v.shape, jnp.nan, v.dtype) for k, v in shapes.items()}
            return thetas, alphas, jnp.zeros_like(active), nan

        # Compute only while some run is active, and at the final row (all runs).
        due = (jnp.any(active) & (t < num_steps)) | (t == num_steps)
        new_thetas, new_alphas, moved, log = jax.lax.cond(
            due, lambda _: step_all(thetas, alphas, active, t), skip, None
        )
        # A run that did not move has terminated; after t == num_steps all have.
        return (new_thetas, new_alphas, moved), (log, thetas)

    carry, (logs, path) = jax.lax.scan(body, (thetas, alphas, active), t0 + jnp.arange(length))
    return carry, logs, path


def _loss_of(problem_or_loss: Problem | Loss) -> tuple[Loss, dict[str, Any]]:
    if isinstance(problem_or_loss, Problem):
        return problem_or_loss.loss, problem_or_loss.config()
    return problem_or_loss, {"problem": getattr(problem_or_loss, "__name__", "loss")}


def classify(final_grad_norm_sq, final_r, cutoff: float = CRITICAL_CUTOFF, flat_r: float = FLAT_R):
    """Class of each run: ``critical`` (‖∇L‖² < cutoff), ``gradient-flat``
    (above the cutoff with r > flat_r) or ``neither`` (thesis §3.4.3, Figs. 3.6-3.8)."""
    gsq, r = np.asarray(final_grad_norm_sq), np.asarray(final_r)
    return np.where(gsq < cutoff, CLASSES[0], np.where(r > flat_r, CLASSES[1], CLASSES[2]))


def iter_find(
    problem_or_loss: Problem | Loss,
    thetas0,
    method: Method | str = "newton-mr",
    *,
    num_steps: int = 100,
    chunk: int = 10,
    keep_path: bool | None = None,
    cutoff: float = CRITICAL_CUTOFF,
    flat_r: float = FLAT_R,
    cancel: CancelToken | None = None,
) -> Stream[xr.Dataset]:
    """Run a finder from each row of ``thetas0`` (``(runs, dim)``), streaming.

    Yields ``Event("chunk", steps done, num_steps, partial)`` after every
    ``chunk`` steps: ``partial`` is the Dataset below over the steps so far
    (``theta`` the current iterates, summaries of the latest rows).  Stops early
    once every run has terminated.  Returns a Dataset over ``(run, step)``:
    those fields plus ``solver_steps`` and ``merit_evals`` (row t is measured
    at θ_t, ``step_size`` is the α taking θ_t to θ_{t+1}; row ``num_steps`` is
    the final point; rows after a run terminated are NaN), ``start`` and the
    final ``theta`` (run, param), ``path`` (run, step, param) when kept
    (default for dim ≤ ``PATH_MAX_DIM``), and the per-run summary ``final_loss,
    final_grad_norm_sq, final_r, final_r_h, final_index, max_r, num_steps,
    class``.
    """
    method = Method(method) if isinstance(method, str) else method
    loss, config = _loss_of(problem_or_loss)
    thetas0 = jnp.atleast_2d(jnp.asarray(thetas0))
    runs, dim = thetas0.shape
    limits.check("steps", num_steps)
    limits.check("runs", runs)
    keep_path = dim <= PATH_MAX_DIM if keep_path is None else keep_path
    carry = (thetas0, jnp.full((runs,), method.alpha0, thetas0.dtype), jnp.ones((runs,), bool))
    logs: list[dict[str, np.ndarray]] = []
    paths: list[np.ndarray] = []
    step_ids: list[np.ndarray] = []
    done, status = 0, "done"
    total = num_steps + 1  # the last row only measures the final point
    while done < total:
        carry, log, path = _run_chunk(loss, method, *carry, done, num_steps, length=chunk)
        log = {k: np.asarray(v).T for k, v in log.items()}  # (runs, chunk)
        logs.append(log)
        step_ids.append(np.arange(done, done + chunk))
        if keep_path:
            paths.append(np.asarray(path).transpose(1, 0, 2))
        done += chunk
        partial = _dataset(method, config, thetas0, carry[0], logs, paths, np.concatenate(step_ids),
                           cutoff, flat_r, "running", num_steps)
        yield Event("chunk", min(done, total), total, partial)
        if not bool(jnp.any(carry[2])) and done < total:
            # every run terminated: jump to the final row (measures every run)
            carry, log, path = _run_chunk(loss, method, *carry, num_steps, num_steps, length=chunk)
            logs.append({k: np.asarray(v).T[:, :1] for k, v in log.items()})
            step_ids.append(np.array([num_steps]))
            if keep_path:
                paths.append(np.asarray(path).transpose(1, 0, 2)[:, :1])
            break
        if is_cancelled(cancel):  # checked between chunks; the partial result is returned
            status = "cancelled"
            break
    return _dataset(method, config, thetas0, carry[0], logs, paths, np.concatenate(step_ids),
                    cutoff, flat_r, status, num_steps)


def _dataset(method, config, starts, thetas, logs, paths, step_ids, cutoff, flat_r, status, num_steps):
    starts, thetas = np.asarray(starts), np.asarray(thetas)
    runs, dim = starts.shape
    fields = {k: np.concatenate([log[k] for log in logs], axis=1) for k in _STEP_FIELDS}
    # iterations taken: every row with a positive step, counted before the rows where
    # nothing was measured (BTLS-GNM between measure_every steps) are dropped
    taken = np.sum(np.nan_to_num(fields["step_size"]) > 0, axis=1)
    keep = ~np.all(np.isnan(fields["loss"]), axis=0)  # drop all-NaN rows (past the end)
    fields = {k: v[:, keep] for k, v in fields.items()}
    last = np.where(np.isnan(fields["loss"]), -1, np.arange(fields["loss"].shape[1])).max(axis=1)
    final = {k: fields[k][np.arange(runs), last] for k in _LOGGED}
    final_class = classify(final["grad_norm_sq"], final["r"], cutoff, flat_r)
    data_vars = {k: (("run", "step"), fields[k].astype(float)) for k in _STEP_FIELDS}
    data_vars |= {
        "start": (("run", "param"), starts),
        "theta": (("run", "param"), thetas),
        "final_loss": ("run", final["loss"]),
        "final_grad_norm_sq": ("run", final["grad_norm_sq"]),
        "final_r": ("run", final["r"]),
        "final_r_h": ("run", final["r_h"]),
        "final_index": ("run", final["index"]),
        "max_r": ("run", np.nanmax(np.where(np.isnan(fields["r"]), -np.inf, fields["r"]), axis=1)),
        "num_steps": ("run", taken),
        "class": ("run", final_class.astype(str)),
    }
    if paths:
        data_vars["path"] = (("run", "step", "param"), np.concatenate(paths, axis=1)[:, keep])
    cfg = {**config, "method": method.config(), "num_steps": num_steps, "cutoff": cutoff, "flat_r": flat_r}
    return xr.Dataset(
        data_vars,
        coords={"run": np.arange(runs), "step": step_ids[keep], "param": np.arange(dim)},
        attrs=result_attrs("critical-points", cfg, status=status, method=method.name),
    )


def find(problem_or_loss, thetas0, method: Method | str = "newton-mr", **kwargs) -> xr.Dataset:
    """Plain form of :func:`iter_find`."""
    return drive(iter_find(problem_or_loss, thetas0, method, **kwargs))


def _single(problem_or_loss, theta0, method: Method, **kwargs) -> xr.Dataset:
    theta0 = jnp.asarray(theta0)
    ds = find(problem_or_loss, theta0, method, **kwargs)
    return ds.isel(run=0) if theta0.ndim == 1 else ds


def newton_mr(problem_or_loss, theta0, *, num_steps: int = 100, solver: Solver = Solver(),
              alpha: float = 1.0, beta: float = 0.5, rho: float = 1e-4, rho_pure: float = 1e-4,
              index_every: int = 1, **kwargs) -> xr.Dataset:
    """Newton-MR (Algorithm 13) from ``theta0`` (``(dim,)`` or ``(runs, dim)``).

    Returns the Dataset of :func:`iter_find` (without the ``run`` dimension for
    a single start): ``loss, grad_norm_sq, r, r_h, index, step_size`` over
    ``step`` and the final ``theta``.
    """
    method = Method("newton-mr", solver=solver, alpha=alpha, beta=beta, rho=rho, rho_pure=rho_pure,
                    index_every=index_every)
    return _single(problem_or_loss, theta0, method, num_steps=num_steps, **kwargs)


def damped_newton(problem_or_loss, theta0, *, num_steps: int = 100, solver: Solver = Solver(),
                  gammas: Sequence[float] = Method.gammas, damping_rule: str = "decrease",
                  damped_step: float = 0.1, index_every: int = 1, **kwargs) -> xr.Dataset:
    """Damped Newton (Algorithm 11) over the damping set ``gammas`` with the
    acceptance ``damping_rule`` (see :class:`Method`); see :func:`newton_mr`."""
    method = Method("damped-newton", solver=solver, gammas=tuple(gammas), damping_rule=damping_rule,
                    damped_step=damped_step, index_every=index_every)
    return _single(problem_or_loss, theta0, method, num_steps=num_steps, **kwargs)


def gnm(problem_or_loss, theta0, *, num_steps: int = 1000, alpha: float = 0.1, beta: float = 0.5,
        rho: float = 1e-4, wolfe: float | None = 0.9, measure_every: int = 10, index_every: int = 10,
        solver: Solver = Solver(), **kwargs) -> xr.Dataset:
    """BTLS-GNM (Algorithm 2 + back-tracking Wolfe line search); see :func:`newton_mr`."""
    method = Method("gnm", solver=solver, alpha=alpha, beta=beta, rho=rho, wolfe=wolfe,
                    measure_every=measure_every, index_every=index_every)
    return _single(problem_or_loss, theta0, method, num_steps=num_steps, **kwargs)


def pinv_newton(problem_or_loss, theta0, *, num_steps: int = 50, **kwargs) -> xr.Dataset:
    """Pseudo-inverse Newton (Algorithm 5), dense; see :func:`newton_mr`."""
    return _single(problem_or_loss, theta0, Method("pinv-newton"), num_steps=num_steps, **kwargs)


# --------------------------------------------------------------------------
# Starting points (§3.2.3.2) and experiments
# --------------------------------------------------------------------------
def sample_starts(
    problem: Problem,
    num: int,
    key: Array,
    *,
    optimizer: optax.GradientTransformation | None = None,
    trajectory_steps: int = 1000,
    noise_var: float = 1e-2,
    noise_fraction: float = 0.5,
    init_scale: float = 1.0,
) -> Array:
    """Starting points as in Frye §3.2.3.2.

    Runs ``optimizer`` (default ``optax.sgd(0.01)``; the thesis does not name
    one) from ``init_scale · problem.init(key)`` (the thesis does not state the
    trajectory's initialisation either: 1 is the problem's own init; its
    BTLS-GNM successes mostly end at θ = 0, which trajectories started near
    0, e.g. ``init_scale=0.1``, reach far more often) for ``trajectory_steps`` steps, draws
    ``num`` target losses uniformly between the trajectory's smallest and
    largest loss and takes the iterate nearest each target (uniform *in loss*,
    not in iterations), then adds Gaussian noise of variance ``noise_var`` to
    the first ``noise_fraction`` of them.
    """
    optimizer = optimizer or optax.sgd(0.01)
    k_init, k_pick, k_noise = jax.random.split(key, 3)
    thetas, losses = _trajectory(problem.loss, optimizer, init_scale * problem.init(k_init), trajectory_steps)
    finite = jnp.isfinite(losses)
    lo, hi = jnp.min(jnp.where(finite, losses, jnp.inf)), jnp.max(jnp.where(finite, losses, -jnp.inf))
    targets = jax.random.uniform(k_pick, (num,), losses.dtype, lo, hi)
    gap = jnp.where(finite[None, :], jnp.abs(losses[None, :] - targets[:, None]), jnp.inf)
    starts = thetas[jnp.argmin(gap, axis=1)]
    noisy = jnp.arange(num) < int(round(noise_fraction * num))
    noise = jnp.sqrt(noise_var) * jax.random.normal(k_noise, starts.shape, starts.dtype)
    return starts + jnp.where(noisy[:, None], noise, 0.0)


@partial(jax.jit, static_argnames=("loss", "optimizer", "steps"))
def _trajectory(loss, optimizer, theta0, steps):
    def body(carry, _):
        theta, state = carry
        value, g = jax.value_and_grad(loss)(theta)
        updates, state = optimizer.update(g, state, theta)
        return (optax.apply_updates(theta, updates), state), (theta, value)

    _, (thetas, losses) = jax.lax.scan(body, (theta0, optimizer.init(theta0)), None, length=steps)
    return thetas, losses


def iter_experiment(
    problem: Problem,
    method: Method | str = "newton-mr",
    *,
    num_runs: int = 10,
    seed: int = 0,
    starts: str | Array = "trajectory",
    num_steps: int = 100,
    trajectory_steps: int = 1000,
    init_scale: float = 1.0,
    executor: Executor | None = None,
    runs_per_task: int | None = None,
    store=None,
    **kwargs,
) -> Stream[xr.Dataset]:
    """Sample starting points and run a finder from each (the thesis's experiments).

    ``starts`` is ``"trajectory"`` (§3.2.3.2, :func:`sample_starts` with
    ``trajectory_steps`` and ``init_scale``; both are in the result's ``attrs["starts"]``),
    ``"uniform"`` (the problem's own sampler, e.g. uniform over a 2-D box) or
    an explicit ``(runs, dim)`` array.  Returns the Dataset of :func:`iter_find`.

    With a Dask ``executor`` (:mod:`landscape.executor`), or ``runs_per_task``,
    the runs are cut into batches of ``runs_per_task`` (default: one batch per Dask worker), each a
    pure task
    (:func:`experiment_task`: :func:`find` from its starts); events come per finished batch
    (``partial``: the runs finished so far) and the result is the batches' runs in order, the
    same numbers in-process and on a cluster for the same batches.  The in-process executor without
    ``runs_per_task`` keeps :func:`iter_find`'s streaming (an event per chunk of steps), which the
    dashboard shows while the runs progress.

    With ``store`` (a zarr path) the runs always go in batches (in-process by default), each
    finished batch written to the store as it completes (:class:`landscape.stores.BatchStore`,
    with the starts); a rerun with the same store and settings computes only the missing batches,
    and ``landscape.stores.resume`` continues it from the store alone.
    """
    key = jax.random.PRNGKey(seed)
    described = {"kind": starts if isinstance(starts, str) else "given"}
    if isinstance(starts, str):
        if starts == "trajectory":
            thetas0 = sample_starts(problem, num_runs, key, trajectory_steps=trajectory_steps, init_scale=init_scale)
            described |= {"trajectory_steps": trajectory_steps, "init_scale": init_scale}
        elif starts == "uniform":
            thetas0 = jax.vmap(problem.init)(jax.random.split(key, num_runs))
        else:
            raise ValueError(f"starts must be 'trajectory', 'uniform' or an array, got {starts!r}")
    else:
        thetas0 = jnp.asarray(starts)
    if store is None and runs_per_task is None and (executor is None or isinstance(executor, InProcess)):
        ds = yield from iter_find(problem, thetas0, method, num_steps=num_steps, **kwargs)
    else:
        cancel = kwargs.pop("cancel", None)
        thetas0 = np.asarray(jnp.atleast_2d(thetas0))
        ranges = batches(len(thetas0), runs_per_task, executor)
        if store is not None:
            method = Method(method) if isinstance(method, str) else method
            request = {**problem.config(), "method": method.config(), "num_steps": num_steps, "seed": seed,
                       "options": kwargs}  # the starts themselves are pinned by the stored inputs
            inputs = xr.Dataset({"starts": (("run", "param"), thetas0)})
            store = BatchStore.open(store, result_attrs("critical-points", request), inputs, ranges)
        ref = ProblemRef(problem)
        calls = [(i, (ref, thetas0[start:stop], method, num_steps, kwargs)) for i, (start, stop) in enumerate(ranges)]
        ds = yield from iter_batches(
            experiment_task, calls, lambda done, status: combine_runs(done, ranges, status).assign_attrs(seed=seed),
            executor=executor, cancel=cancel, store=store)
    ds.attrs["seed"] = seed
    ds.attrs["starts"] = json.dumps(described)
    return ds


def experiment_task(problem: ProblemRef, thetas0: np.ndarray, method: Method | str, num_steps: int,
                    options: dict[str, Any]) -> xr.Dataset:
    """One batch of a critical-point experiment as a pure task (DESIGN.md "Scale-out"): :func:`find`
    from each row of ``thetas0`` (``options``: its keyword arguments)."""
    return find(problem.resolve(), thetas0, method, num_steps=num_steps, **options)


def combine_runs(done: dict[int, xr.Dataset], ranges, status: str) -> xr.Dataset:
    """The finished batches' runs as one experiment Dataset, numbered as in the whole experiment (a
    batch whose runs all stopped early has fewer ``step`` rows: NaN there)."""
    parts = [done[i].assign_coords(run=np.arange(*ranges[i])) for i in sorted(done)]
    ds = xr.concat(parts, dim="run", join="outer", data_vars="minimal", coords="minimal", compat="override",
                   combine_attrs="override")
    ds.attrs["status"] = "done" if status == "complete" else status  # iter_find's word for a finished run
    return ds


def experiment(problem: Problem, method: Method | str = "newton-mr", **kwargs) -> xr.Dataset:
    """Plain form of :func:`iter_experiment`."""
    return drive(iter_experiment(problem, method, **kwargs))


# --------------------------------------------------------------------------
# Residual maps on 2-D problems
# --------------------------------------------------------------------------
@partial(jax.jit, static_argnames=("loss", "solver"))
def _residual_field(loss, solver: Solver, points):
    def one(theta):
        q = _point(loss, theta, solver, with_index=False)
        return {k: jnp.asarray(q[k], theta.dtype) for k in ("loss", "grad_norm_sq", "r", "r_h")} | {
            "p": q["p"]
        }

    return jax.vmap(one)(points)


def iter_residual_map(problem: Problem, grid: GridSpec = 101,
                      solver: Solver = MEASURE_SOLVER, *, chunk: int | None = None,
                      executor: Executor | None = None, store=None,
                      cancel: CancelToken | None = None) -> Stream[xr.Dataset]:
    """Stream :func:`residual_map` in chunks of ``chunk`` cells (default: the whole grid in one
    chunk), each a pure task (:func:`residual_map_task`) run by ``executor``
    (:mod:`landscape.executor`); with ``store`` (a zarr path) finished chunks are written as they
    arrive and a rerun resumes (:mod:`landscape.stores`).  Each event's ``partial`` is a read-only
    view of the map (kind ``residual-map``), filled in place, NaN where not computed (also the
    cells of a chunk whose task raised; its reason lands in ``attrs["failed_chunks"]``)."""
    if problem.dim != 2:
        raise ValueError(f"residual_map needs a 2-D problem, {problem.name} has dim {problem.dim}")
    resolution = is_resolution(grid)
    if resolution and problem.bounds is None:
        raise ValueError("give the grid axes (xs, ys) for a problem without bounds")
    if resolution:
        limits.check_grid(grid, grid)
    grid = Grid.of(grid, problem.bounds)
    if resolution:
        grid = grid.including(problem.ground_truth.get("gradient-flat", np.zeros((0, 2))))
    limits.check_grid(*reversed(grid.shape))
    points = grid.points()
    shape = grid.shape
    chunk = len(points) if chunk is None else max(1, min(int(chunk), len(points)))
    ranges = chunk_ranges(len(points), chunk)
    cfg = {**problem.config(), "solver": dataclasses.asdict(solver), "shape": list(shape)}
    result = xr.Dataset({name: (("y", "x"), np.full(shape, np.nan)) for name in RESIDUAL_MAP_VARIABLES},
                        coords=grid.coords(),
                        attrs=result_attrs("residual-map", cfg, status="running", points_done=0))
    store = None if store is None else SweepStore.open(store, result, list(RESIDUAL_MAP_VARIABLES), ranges)
    sweep = Sweep({name: result[name].values.reshape(-1) for name in RESIDUAL_MAP_VARIABLES}, ranges)
    ref = ProblemRef(problem)
    calls = []
    for i, (start, stop) in enumerate(ranges):
        padded = np.resize(points[start:stop], (chunk, 2))  # one shape for every chunk: one compile
        calls.append((i, (ref, solver, padded, stop - start)))
    for outcome in run_chunks(residual_map_task, calls, executor=executor, store=store, cancel=cancel):
        sweep.apply(outcome)
        yield Event("chunk", sweep.done, len(points), sweep.partial(result))
    result.attrs.update(sweep.finish(store))
    return result


RESIDUAL_MAP_VARIABLES = ("loss", "grad_norm_sq", "r", "r_h", "newton_x", "newton_y")


def residual_map_task(problem: ProblemRef, solver: Solver, points: np.ndarray, count: int) -> dict[str, np.ndarray]:
    """One chunk of a residual map as a pure task (DESIGN.md "Scale-out"): the map's variables at
    the first ``count`` of ``points (m, 2)``."""
    out = _residual_field(problem.resolve().loss, solver, jnp.asarray(points))
    values = {k: np.asarray(out[k])[:count] for k in ("loss", "grad_norm_sq", "r", "r_h")}
    p = np.asarray(out["p"])[:count]
    return values | {"newton_x": p[:, 0], "newton_y": p[:, 1]}


def residual_map(problem: Problem, grid: GridSpec = 101, solver: Solver = MEASURE_SOLVER,
                 **kwargs) -> xr.Dataset:
    """``r``, ``r_h``, the Newton direction ``(newton_x, newton_y)``, loss and
    ‖∇L‖² on a grid over a 2-D problem (vmapped over the cells).

    ``grid`` is a grid spec (:class:`landscape.grids.Grid`, the axes ``(xs,
    ys)``, or a resolution over ``problem.bounds``).  With a resolution, the axes also contain the
    coordinates of the problem's known gradient-flat points: the exactly
    gradient-flat sets have measure zero (on ``frye-quartic`` r = 1 only on the
    lines x = ±√2, where the gradient lies in the Hessian's kernel, Frye
    Fig. 3.5), so a uniform grid would miss them.  ``kwargs`` (chunk,
    executor, store, cancel) go to :func:`iter_residual_map`.
    """
    return drive(iter_residual_map(problem, grid, solver, **kwargs))
