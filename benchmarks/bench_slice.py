"""2-D slices of MLPs: the fast plane kernel against the generic kernel, a Python loop,
and the machine's matmul rate, all in the same run.

Workloads: ``mlp-moons`` (2-10-10-2 tanh, 400 samples: dispatch-bound) at 41² and 81², and the
64-128-128-10 tanh MLP on the 8×8 digits (``mlp-digits`` with ``resolution=8``; 1437 training
samples; compute-bound) at 41².  For each: :func:`landscape.slices.slice_loss` (the fast
kernel of :mod:`landscape.plane`, float32 by default), the generic kernel of any other loss
(the per-point float32 loss in chunks of 256, ``vmap``ped, or ``lax.map``ped when one point
costs at least ``landscape.plane.MAP_THRESHOLD`` FLOPs: the strategy is printed), and for mlp-moons a
Python loop of a jitted per-point loss.  The achieved rate counts the FLOPs of one plain
forward pass per grid point (``2·samples·Σ in·out``; the fast kernel does fewer, since the
first layer is shared) against numpy's float32 matmul (2048², median) measured in this run just before each workload.
Medians of repeats after compilation; the first call (compile included) is printed too.
"""

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks._common import header, median_time

WORKLOADS = (
    ("mlp-moons", {}, 41),
    ("mlp-moons", {}, 81),
    ("mlp-digits", {"resolution": 8, "hidden": [128, 128], "activation": "tanh"}, 41),
)


def matmul_rate(dtype, size: int = 2048, repeats: int = 5) -> float:
    """numpy ``A @ A`` FLOP/s (median), the machine's practical matmul limit."""
    a = np.random.default_rng(0).standard_normal((size, size)).astype(dtype)
    a @ a
    return 2 * size**3 / median_time(lambda: a @ a, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="only the 41² mlp-moons slice")
    args = parser.parse_args()
    header("2-D slices of MLPs: fast plane kernel vs generic kernel vs Python loop, and the matmul limit")
    print(f"load average (1, 5, 15 min): {os.getloadavg()}")

    from landscape import problems
    from landscape.executor import chunk_ranges
    from landscape.plane import MAP_THRESHOLD
    from landscape.slices import _padded, make_directions, point_flops, slice_kernel, slice_loss

    for name, options, n in WORKLOADS[:1] if args.quick else WORKLOADS:
        problem = problems.get(name, **options)
        plane = problem.extras["plane"]
        centre = problem.init(jax.random.PRNGKey(0))
        directions = make_directions(problem, "filter", centre, key=jax.random.PRNGKey(1))
        grid = np.linspace(-1.0, 1.0, n)
        x32 = jnp.asarray(problem.extras["data"]["x_train"], jnp.float32)
        y = jnp.asarray(problem.extras["data"]["y_train"])
        batch_loss = problem.extras["batch_loss"]

        def loss32(theta):  # the same loss on float32 data: the generic kernel's float32 sweep
            return batch_loss(theta, x32, y)

        centre32, directions32 = centre.astype(jnp.float32), jnp.asarray(directions, jnp.float32)

        def fast():
            return slice_loss(problem, centre, directions, grid).loss.values

        def generic():
            return slice_loss(problem, centre32, directions32, grid, loss=loss32, chunk=256).loss.values

        start = time.perf_counter()
        fast_values = fast()
        first = time.perf_counter() - start
        generic_values = generic()
        peak32 = matmul_rate(np.float32)  # right before the timings: the load drifts
        t_fast = median_time(fast, args.repeats)
        t_generic = median_time(generic, max(1, args.repeats // 2))
        flops = n * n * plane.flops_per_point
        print(f"\n{name} {options or ''} dim={problem.dim} samples={len(y)} layers={plane.layer_sizes} "
              f"grid={n}x{n} kernel={plane.strategy} chunk={plane.chunk_size(4)} "
              f"({plane.flops_per_point / 1e6:.2f} MFLOP per point, {flops / 1e9:.2f} GFLOP per grid)")
        print(f"  numpy float32 matmul 2048² (median of 5): {peak32 / 1e9:.1f} GFLOP/s; load {os.getloadavg()[0]:.1f}")
        print(f"  fast plane kernel (float32):  {t_fast * 1e3:9.1f} ms  {flops / t_fast / 1e9:6.1f} GFLOP/s "
              f"= {flops / t_fast / peak32:.0%} of numpy f32 matmul   (first call {first * 1e3:.0f} ms)")
        kernel, _, chunk = slice_kernel(problem)
        aa, bb = np.meshgrid(grid, grid)
        points = np.c_[aa.ravel(), bb.ravel()]
        chunks = [jnp.asarray(_padded(points, start, stop, chunk), jnp.float32)
                  for start, stop in chunk_ranges(len(points), chunk)]

        def kernel_alone():  # the chunk calls of the fast sweep, without its Dataset and streamed partials
            return [np.asarray(kernel(centre32, directions32, c)) for c in chunks]

        t_kernel = median_time(kernel_alone, args.repeats)
        print(f"  its {len(chunks)} kernel calls alone: {t_kernel * 1e3:6.1f} ms  {flops / t_kernel / 1e9:6.1f} GFLOP/s; "
              f"the rest ({(t_fast - t_kernel) * 1e3:.1f} ms) assembles the Dataset and streams partial results")
        strategy = "map" if point_flops(loss32, problem.dim, "float32") >= MAP_THRESHOLD else "vmap"
        print(f"  generic kernel ({strategy}, float32): {t_generic * 1e3:6.1f} ms  {flops / t_generic / 1e9:6.1f} GFLOP/s "
              f"= {flops / t_generic / peak32:.0%}")
        print(f"  fast / generic speed-up: {t_generic / t_fast:.1f}x;  max relative difference "
              f"{np.max(np.abs(fast_values - generic_values) / np.abs(generic_values)):.1e}")
        if name == "mlp-moons" and n == WORKLOADS[0][2]:
            point = jax.jit(lambda a, b: loss32(centre32 + a * directions32[0] + b * directions32[1]))

            def python_loop():
                return np.array([[float(point(a, b)) for a in grid] for b in grid])

            loop_values = python_loop()
            t_loop = median_time(python_loop, max(1, args.repeats // 2))
            print(f"  Python loop of a jitted loss:  {t_loop * 1e3:9.1f} ms  -> fast kernel {t_loop / t_fast:.1f}x; "
                  f"max relative difference {np.max(np.abs(fast_values - loop_values) / np.abs(loop_values)):.1e}")
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
