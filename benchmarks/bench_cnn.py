"""cnn-digits at size: a 51×51 filter-normalised slice and top-10 Lanczos, with peak memory.

Slice: the engine path (:func:`landscape.slices.slice_loss`: one jitted
kernel per chunk of grid points, mapped one point at a time since one loss
costs ~79 MFLOP, each loss an exact mean over data chunks) against a Python loop calling a jitted full-data loss once per grid
point.  Each path runs in its own child process of this run (started from the
same script), so each reports its own wall time (after compilation, which is
timed separately) and peak resident memory (``ru_maxrss``).  The two grids are
checked equal.  Lanczos: time and number of Hessian-vector products of the
top-10 eigenvalues at the trained point (after compilation), the HVP count the run
reports (it stops once the Ritz residuals meet the tolerance).  The machine's load average is
printed at the start and end: on a shared machine, compare same-run ratios.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import jax
import numpy as np

from benchmarks._common import header


def _setup(n):
    from landscape import problems
    from landscape.slices import make_directions

    problem = problems.get("cnn-digits")
    centre = problem.theta0
    directions = make_directions(problem, "filter", centre, key=jax.random.PRNGKey(1))
    return problem, centre, directions, np.linspace(-1.0, 1.0, n)


def child(path: str, n: int, chunk: int, out: str) -> None:
    """One slice path in this process: compile on a 2×2 grid, then time the full grid."""
    jax.config.update("jax_enable_x64", True)
    from landscape.slices import slice_loss

    problem, centre, directions, grid = _setup(n)
    if path == "engine":
        def run(g):
            return slice_loss(problem, centre, directions, g, chunk=chunk).loss.values
    else:
        point_loss = jax.jit(lambda a, b: problem.loss(centre + a * directions[0] + b * directions[1]))

        def run(g):
            return np.array([[float(point_loss(a, b)) for a in g] for b in g])
    start = time.perf_counter()
    run(grid[:2])  # compiles (the engine pads chunks, so one compile serves every chunk)
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    values = run(grid)
    seconds = time.perf_counter() - start
    np.save(out, values)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "compile_seconds": compile_s, "peak_rss_mib": peak_mib}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=51, help="grid points per axis")
    parser.add_argument("--chunk", type=int, default=32, help="grid points per vmapped chunk")
    parser.add_argument("--k", type=int, default=10, help="Lanczos eigenvalues")
    parser.add_argument("--repeats", type=int, default=3, help="Lanczos timings (the median is reported)")
    parser.add_argument("--child", choices=["engine", "loop"], help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.n, args.chunk, args.out)
    header("cnn-digits: 51x51 filter-normalised slice (engine vs Python loop, peak RSS) and top-10 Lanczos")
    from landscape import curvature

    print(f"load average (1, 5, 15 min) at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    start = time.perf_counter()
    problem, centre, _, _ = _setup(args.n)  # trains and caches the network on first use
    print(f"problem: cnn-digits dim={problem.dim} samples={len(problem.extras['data']['y_train'])} "
          f"data chunk={problem.options['chunk']} (build/load {time.perf_counter() - start:.1f} s, "
          f"test accuracy {problem.extras['test_accuracy']:.3f})")
    results = {}
    for path in ("engine", "loop"):
        out = f"/tmp/bench_cnn_{path}.npy"
        done = subprocess.run([sys.executable, "-m", "benchmarks.bench_cnn", "--child", path, "--n", str(args.n),
                               "--chunk", str(args.chunk), "--out", out], capture_output=True, text=True, check=True)
        results[path] = json.loads(done.stdout.strip().splitlines()[-1]) | {"grid": np.load(out)}
    np.testing.assert_allclose(results["engine"]["grid"], results["loop"]["grid"], rtol=1e-10)
    for path, label in (("engine", f"slice_loss (chunk {args.chunk} points)"), ("loop", "Python loop, jitted loss")):
        r = results[path]
        print(f"{label:36s} {r['seconds']:8.2f} s  (compile {r['compile_seconds']:.1f} s)  "
              f"peak RSS {r['peak_rss_mib']:7.1f} MiB")
    print(f"slice speed-up: {results['loop']['seconds'] / results['engine']['seconds']:.2f}x "
          f"(grid {args.n}x{args.n} = {args.n**2} points, grids equal to 1e-10)")

    curvature.lanczos_eigenpairs(problem.loss, centre, args.k)  # compile
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        result = curvature.lanczos_eigenpairs(problem.loss, centre, args.k)
        jax.block_until_ready(result.values)
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    hvps = int(result.num_matvecs)  # what this run used (it stops once the Ritz residuals meet tol)
    print(f"top-{args.k} Lanczos: median {seconds:.2f} s of {args.repeats}, {hvps} HVPs ({seconds / hvps * 1e3:.1f} ms per HVP, "
          f"at most {curvature.lanczos_budget(problem.dim, args.k)}; converged {bool(result.converged)}); "
          f"eigenvalues {np.array2string(np.asarray(result.values), precision=4)}")
    print(f"load average (1, 5, 15 min) at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

if __name__ == "__main__":
    main()
