"""Scale-out: a 101×101 mlp-digits slice (and a Lyapunov map) in-process and on 1 and 2 Dask workers.

Measured in one run, after compilation on every worker (a warm-up sweep),
medians of repeats:

* ``t_in``: the slice in-process (the default executor);
* ``t_1``, ``t_2``: the same slice on a ``LocalCluster`` of 1 and 2 single-threaded
  worker processes; the scaling ratio is ``t_1 / t_2`` (ideal 2 on 2 free cores);
* the per-task overhead: the round trip of a no-op task (submit → result), one
  at a time (latency), and per task when 200 are in flight (throughput cost);
* the per-chunk cost ``t_in / chunks``, from which the chunk size that keeps
  the overhead under 5 % is ``chunk ≥ 20 · overhead / per-cell cost``.

The 2-worker result is checked equal to the in-process one (max |Δ| printed).
The projection for other grids and worker counts in ``benchmarks/README.md``
uses T(W) ≈ ⌈chunks / W⌉ · (chunk · per-cell cost + overhead).
"""

import argparse
import os
import statistics
import time

import jax
import numpy as np

from benchmarks._common import header, median_time


def noop(i):
    return i


def round_trips(client, repeats: int = 50) -> tuple[float, float]:
    """(median latency of one no-op task, amortised cost per task with 200 in flight), seconds."""
    latencies = []
    for i in range(repeats):
        start = time.perf_counter()
        client.submit(noop, i, pure=False).result()
        latencies.append(time.perf_counter() - start)
    start = time.perf_counter()
    client.gather(client.map(noop, range(200), pure=False))
    return statistics.median(latencies), (time.perf_counter() - start) / 200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=101, help="slice grid points per axis")
    parser.add_argument("--chunk", type=int, default=256, help="slice cells per chunk task")
    parser.add_argument("--map-n", type=int, default=128, help="Lyapunov map starts per axis (0: skip)")
    parser.add_argument("--map-chunk", type=int, default=1024, help="Lyapunov map cells per chunk task")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    header("scale-out: in-process vs LocalCluster of 1 and 2 worker processes")
    print(f"load average at start: {os.getloadavg()}")

    from distributed import Client, LocalCluster

    from landscape import problems
    from landscape.games import lyapunov_map
    from landscape.executor import DaskExecutor
    from landscape.slices import make_directions, slice_loss

    problem = problems.get("mlp-digits")
    centre = problem.init(jax.random.PRNGKey(0))
    directions = make_directions(problem, "filter", centre, key=jax.random.PRNGKey(1))
    grid = np.linspace(-1.0, 1.0, args.n)
    cells, chunks = args.n**2, -(-args.n**2 // args.chunk)
    xs = np.linspace(-4, 4, args.map_n)

    def sweep(executor=None):
        return slice_loss(problem, centre, directions, grid, chunk=args.chunk, executor=executor).loss.values

    def lyap(executor=None):
        return lyapunov_map("matching-pennies", "simgd", xs, xs, k=10, chunk=args.map_chunk, executor=executor,
                            alpha=0.5).values

    reference = sweep()
    t_in = median_time(sweep, args.repeats)
    print(f"slice {args.n}x{args.n} of mlp-digits (dim {problem.dim}), {chunks} chunks of {args.chunk} cells")
    print(f"  in-process:  {t_in:.3f} s  ({t_in / chunks * 1e3:.2f} ms per chunk, "
          f"{t_in / cells * 1e6:.1f} µs per cell)")
    if args.map_n:
        map_reference = lyap()
        m_in = median_time(lyap, args.repeats)
        print(f"Lyapunov map {args.map_n}x{args.map_n} matching-pennies simgd k=10: in-process {m_in:.3f} s")
    times, map_times, overheads = {}, {}, {}
    for workers in (1, 2):
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            executor = DaskExecutor(client)
            result = sweep(executor)  # warm-up: compiles on every worker that got a chunk
            times[workers] = median_time(lambda: sweep(executor), args.repeats)
            overheads[workers] = round_trips(client)
            print(f"  {workers} worker(s): {times[workers]:.3f} s  max|Δ| vs in-process "
                  f"{np.nanmax(np.abs(result - reference)):.1e}")
            print(f"    no-op task round trip: {overheads[workers][0] * 1e3:.2f} ms one at a time, "
                  f"{overheads[workers][1] * 1e3:.2f} ms per task with 200 in flight")
            if args.map_n:
                lyap_result = lyap(executor)
                map_times[workers] = median_time(lambda: lyap(executor), args.repeats)
                print(f"    Lyapunov map: {map_times[workers]:.3f} s  max|Δ| vs in-process "
                      f"{np.nanmax(np.abs(lyap_result - map_reference)):.1e}")
    print(f"slice scaling 1 -> 2 workers: t_1 / t_2 = {times[1] / times[2]:.2f} (ideal 2.0 on 2 free cores)")
    print(f"slice in-process / 1 worker: {t_in / times[1]:.2f} (executor overhead, same compute)")
    if args.map_n:
        print(f"Lyapunov map scaling 1 -> 2 workers: {map_times[1] / map_times[2]:.2f}")
    per_cell = t_in / cells
    overhead = overheads[2][0]
    print(f"chunk size keeping the round trip under 5% of a chunk: >= {20 * overhead / per_cell:.0f} cells "
          f"(overhead {overhead * 1e3:.2f} ms, per cell {per_cell * 1e6:.1f} µs)")
    n201 = 201**2
    for workers in (1, 8, 64):
        tasks = -(-n201 // args.chunk)
        projected = -(-tasks // workers) * (args.chunk * per_cell + overhead)
        print(f"projected 201x201 mlp-digits slice, chunk {args.chunk}, {workers} workers: {projected:.2f} s")


if __name__ == "__main__":
    main()
