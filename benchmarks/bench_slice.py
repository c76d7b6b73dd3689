"""2-D slice of mlp-moons on a 51×51 grid: chunked vmapped evaluation vs a Python loop.

The baseline calls a jitted ``loss(centre + α d₁ + β d₂)`` once per grid
point from Python; the engine path is :func:`landscape.slices.slice_loss`
(one jitted, vmapped kernel per chunk of points).  Both are timed after
compilation, medians of repeats, in the same run.  Target: ratio ≥ 20.
"""

import argparse

import jax
import numpy as np

from benchmarks._common import header, median_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=51, help="grid points per axis")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--chunk", type=int, default=256, help="points per chunk (the slices default)")
    parser.add_argument("--float32", action="store_true", help="run in float32 instead of float64")
    args = parser.parse_args()
    header("2-D slice of mlp-moons: vmapped/chunked vs Python loop of a jitted loss", x64=not args.float32)

    from landscape import problems
    from landscape.slices import make_directions, slice_loss

    problem = problems.get("mlp-moons")
    centre = problem.init(jax.random.PRNGKey(0))
    directions = make_directions(problem, "filter", centre, key=jax.random.PRNGKey(1))
    grid = np.linspace(-1.0, 1.0, args.n)

    def vmapped():
        return slice_loss(problem, centre, directions, grid, chunk=args.chunk).loss.values

    point_loss = jax.jit(lambda a, b: problem.loss(centre + a * directions[0] + b * directions[1]))

    def python_loop():
        return np.array([[float(point_loss(a, b)) for a in grid] for b in grid])

    fast, slow = vmapped(), python_loop()  # compile both
    np.testing.assert_allclose(fast, slow, rtol=1e-4 if args.float32 else 1e-10)
    t_fast = median_time(vmapped, args.repeats)
    t_slow = median_time(python_loop, max(1, args.repeats // 2))
    print(f"problem: mlp-moons dim={problem.dim} grid={args.n}x{args.n} ({args.n**2} points) chunk={args.chunk}")
    print(f"vmapped/chunked slice_loss: {t_fast * 1e3:9.2f} ms (median of {args.repeats})")
    print(f"Python loop, jitted loss:   {t_slow * 1e3:9.2f} ms (median of {max(1, args.repeats // 2)})")
    print(f"speed-up: {t_slow / t_fast:.1f}x (target >= 20x)")


if __name__ == "__main__":
    main()
