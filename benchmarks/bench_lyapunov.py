"""Lyapunov heatmap throughput: vectorised (vmap over cells, one jitted call per chunk)
against a Python loop over cells (one jitted call per cell), on a 2-D game.

Target (issue 5): the whole 256×256 heatmap with k = 10 in under 2 s after compilation.
Prints cells/s of both and their ratio, both timed in this run after a warm-up call.
``python benchmarks/bench_lyapunov.py [--resolution 256] [--loop-cells 512]``
"""

from __future__ import annotations

import argparse
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from landscape import games  # noqa: E402
from landscape.games.lyapunov import exponent_fn  # noqa: E402
from landscape.games.rules import as_arrays, fixed_point_map, hyperparameters  # noqa: E402
from landscape.grids import Grid  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--game", default="matching-pennies")
    parser.add_argument("--rule", default="simgd")
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--chunk", type=int, default=65536)
    parser.add_argument("--loop-cells", type=int, default=512, help="cells timed in the Python loop")
    args = parser.parse_args()
    game = games.get(args.game)
    (x0, x1), (y0, y1) = game.bounds
    xs, ys = np.linspace(x0, x1, args.resolution), np.linspace(y0, y1, args.resolution)
    cells = args.resolution**2
    settings = dict(k=args.k, chunk=args.chunk, alpha=1.0)

    games.lyapunov_map(game, args.rule, xs, ys, **settings)  # compile
    start = time.perf_counter()
    heat = games.lyapunov_map(game, args.rule, xs, ys, **settings)
    vector_s = time.perf_counter() - start

    fmap = fixed_point_map(game, args.rule)
    one = jax.jit(exponent_fn(fmap, args.k, 1, "max", "eigh"))
    h = as_arrays(hyperparameters(args.rule, alpha=1.0))
    key = jax.random.PRNGKey(0)
    points = jnp.asarray(Grid.of((xs, ys)).points()[: args.loop_cells])
    one(points[0], h, key).block_until_ready()  # compile
    start = time.perf_counter()
    loop = [float(one(p, h, key)) for p in points]
    loop_s = time.perf_counter() - start
    assert np.allclose(loop, heat.values.ravel()[: args.loop_cells], rtol=1e-10)

    vector_rate, loop_rate = cells / vector_s, args.loop_cells / loop_s
    print(f"game {args.game}, rule {args.rule}, k = {args.k}, grid {args.resolution}x{args.resolution}")
    print(f"vectorised: {cells} cells in {vector_s:.3f} s = {vector_rate:,.0f} cells/s")
    print(f"python loop: {args.loop_cells} cells in {loop_s:.3f} s = {loop_rate:,.0f} cells/s "
          f"(whole grid would take {cells / loop_rate:.1f} s)")
    print(f"speed-up (vectorised / loop): {vector_rate / loop_rate:.1f}x")


if __name__ == "__main__":
    main()
