"""The cost of a sweep before it starts: how many evaluations, and the measured time of one.

Shown by the runner while a job is being set up (``JobRunner.start(..., estimate=...)``), so a
51×51 slice of a large model says "2601 loss evaluations × 38 ms ≈ 99 s" before its first chunk.
The time is measured, not modelled: one jitted evaluation at ``problem.theta0`` after a warm-up
call (which compiles), so it includes the chunked-data loop of a user model with real-size data.
The estimate ignores batching across cells (a vmapped chunk is usually cheaper per cell), so it
is an upper bound; the progress line's ETA then takes over from the measured chunk rate.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp

from landscape.problems import Problem

KINDS = ("loss", "hvp")


def _evaluation(problem: Problem, kind: str):
    if kind == "loss":
        return jax.jit(problem.loss), (problem.theta0,)
    grad = jax.grad(problem.loss)
    return jax.jit(lambda theta, v: jax.jvp(grad, (theta,), (v,))[1]), (problem.theta0, jnp.ones_like(problem.theta0))


def seconds_per_evaluation(problem: Problem, kind: str = "loss") -> float:
    """Wall time of one ``kind`` evaluation (``"loss"``, or ``"hvp"``: a Hessian-vector product) at θ0."""
    if kind not in KINDS:
        raise ValueError(f"cost kind must be one of {', '.join(KINDS)}, got {kind!r}")
    fn, args = _evaluation(problem, kind)
    jax.block_until_ready(fn(*args))  # compiles
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    return time.perf_counter() - start


def _duration(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def estimate(problem: Problem, count: int, kind: str = "loss") -> str:
    """``"961 loss evaluations × 2.1 ms ≈ 2 s"`` for ``count`` evaluations of ``problem``."""
    each = seconds_per_evaluation(problem, kind)
    unit = "loss evaluations" if kind == "loss" else "Hessian-vector products"
    return f"{count} {unit} × {_duration(each)} ≈ {_duration(count * each)}"
