"""Top-k Hessian eigenvalues: residual-stopped Lanczos vs the old fixed budget vs dense eigh.

Three ways to the top-k, all jitted and timed after compilation (medians of repeats, same run):

* ours: :func:`landscape.curvature.lanczos_eigenpairs` at its defaults (stops when every Ritz
  residual is ``≤ 1e-3 · max|θ|``; one compilation for every budget);
* the old fixed budget (kept here as the baseline, not in the library): matfree's
  ``tridiag_sym`` with ``max(6k, 60)`` matvecs and full reorthogonalisation, the engine's
  Lanczos before the residual stop (compiled once per budget);
* dense: ``jax.hessian`` + ``eigvalsh`` (only where the Hessian fits: mlp-digits, 398 parameters).

On the 64-128-128-10 digits MLP (26,122 parameters) the reference is ARPACK (scipy ``eigsh``,
tol 1e-10) on float64 HVPs.  Prints the HVP counts, times, ratios and the largest relative
error of the top-k against the reference.
"""

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse.linalg
from matfree import decomp

from benchmarks._common import float32_twin, header, median_time

PROBLEMS = (("mlp-digits", {}), ("mlp-digits", {"resolution": 8, "hidden": [128, 128], "activation": "tanh"}))


def fixed_budget(loss, k: int):
    """The engine's Lanczos before the residual stop: ``max(6k, 60)`` matvecs, matfree, jitted."""
    from landscape.curvature import hvp_fn

    steps = max(6 * k, 60)

    @jax.jit
    def top(theta, key):
        v0 = jax.random.normal(key, theta.shape, theta.dtype)
        result = decomp.tridiag_sym(steps, reortho="full")(hvp_fn(loss, theta), v0)
        return jnp.linalg.eigvalsh(result.J_small)[::-1][:k]

    return top, steps


def reference_top(loss, theta, k: int, dense: bool) -> np.ndarray:
    """Float64 top-k: dense ``eigvalsh`` or ARPACK on HVPs."""
    from landscape.curvature import hessian, hvp_fn

    theta = jnp.asarray(theta, jnp.float64)
    if dense:
        return np.linalg.eigvalsh(np.asarray(jax.jit(hessian, static_argnums=0)(loss, theta)))[::-1][:k]
    matvec = jax.jit(hvp_fn(loss, theta))
    n = theta.shape[0]
    operator = scipy.sparse.linalg.LinearOperator(
        (n, n), matvec=lambda v: np.asarray(matvec(jnp.asarray(v.ravel()))), dtype=np.float64)
    return np.sort(scipy.sparse.linalg.eigsh(operator, k=k, which="LA", tol=1e-10)[0])[::-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 5, 10])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--float64", action="store_true", help="time in float64 (default float32)")
    args = parser.parse_args()
    header("Top-k Hessian eigenvalues: residual-stopped Lanczos vs fixed budget vs dense eigh")
    print(f"load average (1, 5, 15 min): {os.getloadavg()}")
    dtype = jnp.float64 if args.float64 else jnp.float32

    from landscape import problems
    from landscape.curvature import hessian, lanczos_eigenpairs

    key = jax.random.PRNGKey(0)
    for name, options in PROBLEMS:
        problem = problems.get(name, **options)
        theta = problem.init(jax.random.PRNGKey(0))
        dense = problem.dim <= 2000
        reference = reference_top(problem.loss, theta, max(args.ks), dense)
        theta = theta.astype(dtype)
        if not args.float64:
            problem = float32_twin(problem)
        print(f"\n{name} {options or ''} dim={problem.dim} dtype={jnp.dtype(dtype).name} "
              f"reference={'dense eigvalsh' if dense else 'ARPACK float64'}")
        for k in args.ks:
            ours = jax.jit(lambda t, k=k: lanczos_eigenpairs(problem.loss, t, k))
            start = time.perf_counter()
            result = jax.block_until_ready(ours(theta))
            first = time.perf_counter() - start
            old, steps = fixed_budget(problem.loss, k)
            old_values = np.asarray(old(theta, key))
            t_ours = median_time(lambda: ours(theta), args.repeats)
            t_old = median_time(lambda: old(theta, key), args.repeats)

            def error(values):
                return np.max(np.abs(np.asarray(values, float) - reference[:k]) / np.abs(reference[:k]))

            print(f"  k={k:2d}  ours: {int(result.num_matvecs):3d} HVPs {t_ours * 1e3:8.1f} ms (first call "
                  f"{first * 1e3:.0f} ms) err {error(result.values):.1e} converged={bool(result.converged)}"
                  f" | fixed budget: {steps:3d} HVPs {t_old * 1e3:8.1f} ms err {error(old_values):.1e}"
                  f" | speed-up {t_old / t_ours:.1f}x")
        if dense:
            top_dense = jax.jit(lambda t: jnp.linalg.eigvalsh(hessian(problem.loss, t))[::-1][: max(args.ks)])
            top_dense(theta)
            t_dense = median_time(lambda: top_dense(theta), args.repeats)
            k = max(args.ks)
            t_ours = median_time(lambda: lanczos_eigenpairs(problem.loss, theta, k).values, args.repeats)
            print(f"  dense Hessian + eigvalsh: {t_dense * 1e3:8.1f} ms -> ours (k={k}) {t_dense / t_ours:.1f}x faster")
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
