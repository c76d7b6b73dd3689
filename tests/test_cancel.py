"""Cancel ends every job kind the dashboard runs (issue 14 item 5).

Each generator is started on a setting that would run for a long time,
cancelled right after its first progress event, and must then return its
partial result marked ``"cancelled"`` after at most one more event (a chunk
already in flight).  Small problems keep compilation short; the latencies on
the dashboard's long settings are measured by ``benchmarks/bench_cancel.py``.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from app.views.critical_points import steps_per_chunk
from landscape import critical, games, problems, slices, trajectories
from landscape import ridge_rider as rr
from landscape.jobs import CancelToken
from landscape.teleport import report

LONG = 100_000  # steps: the default server limit


def _jobs():
    quad = problems.from_expression("x**2 + 3*y**2")
    moons = problems.get("mlp-moons")
    theta = np.asarray(moons.init(__import__("jax").random.PRNGKey(0)))
    axis = np.linspace(-1, 1, 201)
    return {
        "trajectories": lambda c: trajectories.iter_trajectories(
            quad, jnp.ones((2, 2)), [("gd", {"lr": 1e-4})], LONG, 10, c),
        "slice": lambda c: slices.iter_slice(moons, theta, slices.make_directions(moons, "filter", theta, 2), axis,
                                             chunk=256, cancel=c),
        "lyapunov-map": lambda c: games.iter_lyapunov_map("matching-pennies", "simgd", axis, axis, k=3,
                                                             chunk=64, cancel=c, alpha=0.1),
        "game-trajectory": lambda c: games.iter_trajectories("matching-pennies", "simgd", [[0.5, 0.5]], LONG,
                                                                chunk=50, cancel=c, alpha=0.01),
        "grr": lambda c: games.iter_grr_search("matching-pennies", "lola", [0.3, -0.2], k=10, step_size=0.3,
                                                  optimize_steps=50, max_depth=3, cancel=c, alpha=4.0, lookahead=4.0),
        "critical-points": lambda c: critical.iter_experiment(quad, "gnm", num_runs=3, starts="uniform",
                                                              num_steps=LONG, chunk=5, cutoff=0.0, cancel=c),
        "residual-map": lambda c: critical.iter_residual_map(quad, 60, chunk=64, cancel=c),
        "ride": lambda c: rr.iter_search(problems.get("rr-demo"), np.zeros(2), cancel=c, max_nodes=1000,
                                         max_depth=10, max_steps=LONG),
        "teleport-training": lambda c: report.iter_report(quad, "gd", report.schedule_for(True, LONG, 1), lr=1e-4,
                                                          theta0=jnp.ones(2), cancel=c),
    }


JOBS = _jobs()


@pytest.mark.parametrize("kind", list(JOBS))
def test_cancel_after_the_first_event_ends_the_job(kind):
    token = CancelToken()
    stream = JOBS[kind](token)
    first = next(stream)
    assert first.total > first.done  # far from finished: only Cancel ends it
    token.cancel()
    after = 0
    try:
        while True:
            next(stream)
            after += 1
            assert after <= 1, f"{kind}: still yielding after the cancel"
    except StopIteration as stop:
        result = stop.value
    assert result.attrs["status"] == "cancelled"


def test_critical_points_view_checks_cancel_every_step_on_networks():
    assert steps_per_chunk(problems.get("mlp-moons"), 1000) == 1
    assert steps_per_chunk(problems.get("himmelblau"), 1000) == 25
    assert steps_per_chunk(problems.get("himmelblau"), 30) == 3
