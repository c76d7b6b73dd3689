"""Top-10 Hessian eigenvalues of mlp-digits: Lanczos (HVPs only) vs dense ``eigh``.

Both paths are jitted and timed after compilation (medians of repeats, same
run): :func:`landscape.curvature.lanczos` (matfree tridiagonalisation with
full reorthogonalisation, HVPs by forward-over-reverse) against the dense
Hessian ``jax.hessian`` + ``jnp.linalg.eigvalsh``.  Prints both times, the
dimension, the ratio and the relative error of the Lanczos eigenvalues.
"""

import argparse

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks._common import header, median_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    header("Top-k Hessian eigenvalues of mlp-digits: Lanczos vs dense eigh")

    from landscape import problems
    from landscape.curvature import hessian, lanczos

    problem = problems.get("mlp-digits")
    theta = problem.init(jax.random.PRNGKey(0))
    top_lanczos = jax.jit(lambda t: lanczos(problem.loss, t, args.k, "largest")[0])
    top_dense = jax.jit(lambda t: jnp.linalg.eigvalsh(hessian(problem.loss, t))[::-1][: args.k])

    approx, exact = np.asarray(top_lanczos(theta)), np.asarray(top_dense(theta))  # compile both
    t_lanczos = median_time(lambda: top_lanczos(theta), args.repeats)
    t_dense = median_time(lambda: top_dense(theta), args.repeats)
    print(f"problem: mlp-digits dim={problem.dim} train samples={len(problem.extras['data']['y_train'])} k={args.k}")
    print(f"Lanczos (matfree, HVPs):  {t_lanczos * 1e3:9.2f} ms (median of {args.repeats})")
    print(f"dense Hessian + eigvalsh: {t_dense * 1e3:9.2f} ms (median of {args.repeats})")
    print(f"speed-up of Lanczos over dense: {t_dense / t_lanczos:.1f}x")
    print(f"max relative error of the top-{args.k} Lanczos eigenvalues: {np.max(np.abs(approx - exact) / np.abs(exact)):.2e}")


if __name__ == "__main__":
    main()
