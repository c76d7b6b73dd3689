"""Newton-MR cost per iteration (dlae, mlp-digits) and residual-map throughput (frye-quartic).

Run from the repository root: ``python3 -m benchmarks.bench_critical``.

1. Newton-MR (:func:`landscape.critical.find`, one jitted, vmapped ``lax.scan``
   per chunk) from §3.2.3.2 starting points: Hessian-vector products per
   iteration (LSMR: two per solver iteration, plus one for ``Hp``), gradient
   evaluations of the line search, and the wall time per iteration.  Baseline,
   timed in the same run: one jitted, vmapped Hessian-vector product for the
   same batch of runs; the ratio "iteration / HVP" says how many HVP-times an
   iteration costs (the HVP count plus the dense ‖H‖_F / line-search overhead).
2. :func:`landscape.critical.residual_map` on ``frye-quartic``: grid cells per
   second (each cell solves a Newton system with LSMR), against the jitted,
   vmapped loss on the same grid (the surface the map is drawn over).

All timings are medians of repeats after compilation, in float64.
"""

import argparse

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks._common import header, median_time


def newton_mr_cost(name: str, runs: int, steps: int, repeats: int) -> None:
    from landscape import critical, problems
    from landscape.curvature import hvp

    problem = problems.get(name)
    starts = critical.sample_starts(problem, runs, jax.random.PRNGKey(0), trajectory_steps=200)
    method = critical.Method("newton-mr", index_every=10**9)

    def run():
        return critical.find(problem, starts, method, num_steps=steps, chunk=steps + 1)

    ds = run()  # compile
    t_run = median_time(lambda: run().grad_norm_sq.values, repeats)
    batched_hvp = jax.jit(jax.vmap(lambda t: hvp(problem.loss, t, t)))
    batched_hvp(starts)
    t_hvp = median_time(lambda: batched_hvp(starts), max(repeats, 20))

    moving = ds.step_size.notnull().values  # rows where an update was computed
    solver = ds.solver_steps.values[moving]
    hvps = 2 * solver + 1
    per_iteration = t_run / (steps + 1)  # steps updates + the final measurement
    print(f"\n{name}: dim={problem.dim}, {runs} runs x {steps} Newton-MR iterations (vmapped over runs)")
    print(f"  LSMR iterations per step: mean {solver.mean():.1f}, max {solver.max():.0f} (cap 2N = {2 * problem.dim})")
    print(f"  Hessian-vector products per iteration: mean {hvps.mean():.1f}; "
          f"line-search gradient evaluations: mean {np.nanmean(ds.merit_evals.values[moving]):.2f}")
    print(f"  wall time per iteration (all {runs} runs): {per_iteration * 1e3:9.2f} ms")
    print(f"  baseline, one HVP (all {runs} runs):      {t_hvp * 1e3:9.3f} ms")
    print(f"  ratio iteration / HVP: {per_iteration / t_hvp:.0f} (HVPs counted per iteration: {hvps.mean():.0f})")


def residual_map_throughput(n: int, repeats: int) -> None:
    from landscape import critical, problems

    problem = problems.get("frye-quartic")
    critical.residual_map(problem, n)  # compile
    t_map = median_time(lambda: critical.residual_map(problem, n).r.values, repeats)
    (x0, x1), (y0, y1) = problem.bounds
    gx, gy = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))
    points = jnp.asarray(np.stack([gx.ravel(), gy.ravel()], axis=1))
    loss_grid = jax.jit(jax.vmap(problem.loss))
    loss_grid(points)
    t_loss = median_time(lambda: loss_grid(points), repeats)
    cells = critical.residual_map(problem, n).r.size
    print(f"\nresidual map of frye-quartic, {cells} cells ({n} per axis plus the x = ±√2 columns)")
    print(f"  residual map (LSMR per cell): {cells / t_map:12,.0f} cells/s ({t_map * 1e3:.1f} ms)")
    print(f"  baseline, loss on the grid:   {n * n / t_loss:12,.0f} cells/s ({t_loss * 1e3:.2f} ms)")
    print(f"  ratio loss / residual map throughput: {(n * n / t_loss) / (cells / t_map):.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--grid", type=int, default=101)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    header("Critical points: Newton-MR cost per iteration and residual-map throughput")
    newton_mr_cost("dlae", args.runs, args.steps, args.repeats)
    newton_mr_cost("mlp-digits", max(1, args.runs // 2), max(1, args.steps // 2), args.repeats)
    residual_map_throughput(args.grid, args.repeats)


if __name__ == "__main__":
    main()
