"""Cancel latency per job kind: how long after Cancel each engine generator stops.

Every long computation is a generator that checks its ``CancelToken`` between
chunks (DESIGN.md, "Long work is a generator"), so the latency of a Cancel is
at most the rest of the chunk in flight.  For each job kind the dashboard runs
(:data:`JOBS`, on a setting far too long to finish), this script takes the
first event (compilation included), times the next chunk, then cancels from
another thread half-way through the following chunk, as a click on Cancel
does, and prints:

* ``first``: seconds to the first event (compile + one chunk),
* ``chunk``: seconds of one chunk after compilation,
* ``latency``: seconds from the cancel to the generator's return,
* ``after``: events the generator still yielded after the cancel.

The issue-14 target is a latency under 5 s for every kind on a 2-core server.
``tests/test_cancel.py`` checks the same jobs by counting events after a
cancel (no wall-clock assertion).  ``python3 -m benchmarks.bench_cancel``
(``--only NAME`` for one kind).
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks._common import header
from landscape import critical, games, problems, slices, trajectories
from landscape import ridge_rider as rr
from landscape.jobs import CancelToken, Stream
from landscape.teleport import report

Job = Callable[[CancelToken], Stream]


def _trajectories(cancel: CancelToken) -> Stream:
    p = problems.get("himmelblau")
    starts = jnp.asarray(np.random.default_rng(0).uniform(-4, 4, (16, 2)))
    return trajectories.iter_trajectories(p, starts, [("gd", {"lr": 1e-3}), ("adam", None)], 100_000, 25, cancel)


def _slice(cancel: CancelToken) -> Stream:
    p = problems.get("mlp-digits")
    theta = np.asarray(p.init(jax.random.PRNGKey(0)))
    directions = slices.make_directions(p, "filter", theta, 2)
    grid = np.linspace(-1, 1, 401)  # 160,801 cells, under the default grid limit
    return slices.iter_slice(p, theta, directions, grid, cancel=cancel)


def _lyapunov_map(cancel: CancelToken) -> Stream:
    xs = np.linspace(-2, 2, 400)
    return games.iter_lyapunov_map("matching-pennies", "lola", xs, xs, k=200, n=2, chunk=65536, cancel=cancel,
                                      alpha=1.0, lookahead=1.0)


def _game_trajectory(cancel: CancelToken) -> Stream:
    return games.iter_trajectories("matching-pennies", "lola", [[0.5, 0.5]], 100_000, chunk=50, cancel=cancel,
                                      alpha=0.1, lookahead=1.0)


def _grr(cancel: CancelToken) -> Stream:
    return games.iter_grr_search("matching-pennies", "lola", [0.3, -0.2], k=10, step_size=0.3,
                                    optimize_steps=100_000, max_depth=2, record_every=1000, cancel=cancel,
                                    alpha=4.0, lookahead=4.0)


def _critical(cancel: CancelToken) -> Stream:
    p = problems.get("mlp-digits")
    # the Critical Points view's setting on a network: one step per chunk (steps_per_chunk)
    return critical.iter_experiment(p, critical.Method("newton-mr", index_every=10**9), num_runs=4, seed=0,
                                    starts="uniform", num_steps=100_000, chunk=1, cancel=cancel)


def _ride(cancel: CancelToken) -> Stream:
    p = problems.get("rr-demo")
    start = rr.find_mis(p)
    return rr.iter_search(p, start, cancel=cancel, max_nodes=10_000, max_depth=20, n_ridges=4, max_steps=100_000)


def _teleport(cancel: CancelToken) -> Stream:
    schedule = report.schedule_for(False, 100_000, 10)
    return report.iter_report(report.paper_mlp(), "heavy-ball", schedule, lr=0.01, cancel=cancel, seeds=tuple(range(10)))


#: The dashboard's job kinds on settings that would run for a long time (at or under the default limits).
JOBS: dict[str, Job] = {
    "trajectories": _trajectories,
    "slice": _slice,
    "lyapunov-map": _lyapunov_map,
    "game-trajectory": _game_trajectory,
    "grr": _grr,
    "critical-points": _critical,
    "ride": _ride,
    "teleport-training": _teleport,
}


def measure(job: Job) -> dict[str, float]:
    """First-event and chunk seconds, cancel latency (cancelled mid-chunk) and events after the cancel."""
    token = CancelToken()
    begin = time.perf_counter()
    stream = job(token)
    next(stream)
    first = time.perf_counter() - begin
    begin = time.perf_counter()
    next(stream)
    chunk = time.perf_counter() - begin
    cancelled_at = []

    def cancel() -> None:
        cancelled_at.append(time.perf_counter())
        token.cancel()

    timer = threading.Timer(chunk / 2, cancel)
    timer.start()
    after = 0
    for _event in stream:
        if cancelled_at:
            after += 1
    timer.join()
    return {"first": first, "chunk": chunk, "latency": time.perf_counter() - cancelled_at[0], "after": after}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", choices=list(JOBS), help="measure one job kind")
    args = parser.parse_args()
    header("Cancel latency per job kind")
    print(f"{'job':<18} {'first [s]':>10} {'chunk [s]':>10} {'latency [s]':>12} {'after':>6}")
    for name, job in JOBS.items():
        if args.only and name != args.only:
            continue
        m = measure(job)
        print(f"{name:<18} {m['first']:>10.2f} {m['chunk']:>10.3f} {m['latency']:>12.3f} {m['after']:>6d}", flush=True)


if __name__ == "__main__":
    main()
