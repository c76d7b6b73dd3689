"""landscape.limits: operator limits from the environment, enforced at the engine's entry points."""

import numpy as np
import pytest

from landscape import critical, games, limits, problems, slices, trajectories
from landscape.ridge_rider import Settings


def test_defaults_and_environment_overrides(monkeypatch):
    for limit in limits.LIMITS.values():
        monkeypatch.delenv(limit.env, raising=False)
        assert limits.get(limit.name) == limit.default >= 1
    monkeypatch.setenv("LANDSCAPE_MAX_STEPS", " 1_000 ")
    assert limits.get("steps") == 1000
    monkeypatch.setenv("LANDSCAPE_MAX_JOBS", "4")
    assert limits.get("jobs_per_server") == 4
    assert limits.LIMITS["jobs_per_session"].env == "LANDSCAPE_MAX_JOBS_PER_SESSION"


@pytest.mark.parametrize("text", ["0", "-5", "lots", "1e3", "2.5"])
def test_an_invalid_environment_value_is_named(monkeypatch, text):
    monkeypatch.setenv("LANDSCAPE_MAX_RUNS", text)
    with pytest.raises(ValueError, match=f"LANDSCAPE_MAX_RUNS='{text}' is not a valid limit"):
        limits.get("runs")


def test_check_names_the_limit_its_value_and_variable(monkeypatch):
    monkeypatch.setenv("LANDSCAPE_MAX_STEPS", "100")
    limits.check("steps", 100)
    limits.check("steps", np.int64(7))
    with pytest.raises(ValueError) as err:
        limits.check("steps", 101)
    assert str(err.value) == (
        "steps = 101 is over this server's limit of 100 (steps of one run; the operator sets it with LANDSCAPE_MAX_STEPS)"
    )
    with pytest.raises(ValueError, match=r"steps = 100000000000\.\.\. \(401 characters\) is over"):
        limits.check("steps", 10**400)
    for bad in (float("nan"), float("inf"), float("-inf")):
        with pytest.raises(ValueError, match="steps must be a finite number"):
            limits.check("steps", bad)
    with pytest.raises(ValueError, match="steps must be a number, got '5'"):
        limits.check("steps", "5")
    with pytest.raises(ValueError, match="unknown limit 'stepz'; the limits are grid_cells, "):
        limits.check("stepz", 1)


def test_check_grid_bounds_each_axis_and_the_cells(monkeypatch):
    monkeypatch.setenv("LANDSCAPE_MAX_HEATMAP_RESOLUTION", "50")
    monkeypatch.setenv("LANDSCAPE_MAX_GRID_CELLS", "1000")
    limits.check_grid(50, 20)
    with pytest.raises(ValueError, match="heatmap_resolution = 51 is over"):
        limits.check_grid(10, 51)
    with pytest.raises(ValueError, match="grid_cells = 1050 is over this server's limit of 1000"):
        limits.check_grid(50, 21)


@pytest.fixture
def tight(monkeypatch):
    for name, value in {"STEPS": 10, "RUNS": 4, "GRID_CELLS": 100, "HEATMAP_RESOLUTION": 20, "TREE_NODES": 5,
                        "EXPRESSION_LENGTH": 12}.items():
        monkeypatch.setenv(f"LANDSCAPE_MAX_{name}", str(value))


def test_entry_points_refuse_requests_over_the_limits(tight):
    quad = problems.from_expression("x**2 + y**2")
    zeros = np.zeros((2, 2))
    cases = [
        ("steps = 11 is over", lambda: trajectories.run_trajectories(quad, zeros, [("gd", None)], steps=11)),
        ("runs = 6 is over", lambda: trajectories.run_trajectories(quad, np.zeros((3, 2)), [("gd", None), ("adam", None)], steps=5)),
        ("steps = 11 is over", lambda: critical.find(quad, zeros, num_steps=11)),
        ("runs = 5 is over", lambda: critical.find(quad, np.zeros((5, 2)), num_steps=2)),
        ("heatmap_resolution = 21 is over", lambda: critical.residual_map(quad, 21)),
        ("grid_cells = 110 is over", lambda: critical.residual_map(quad, (np.zeros(11), np.zeros(10)))),
        ("grid_cells = 121 is over", lambda: slices.slice_loss(quad, np.zeros(2), np.eye(2), np.linspace(-1, 1, 11))),
        ("heatmap_resolution = 21 is over", lambda: slices.slice_loss(quad, np.zeros(2), np.eye(2)[:1], np.zeros(21))),
        ("grid_cells = 110 is over", lambda: games.lyapunov_map("matching-pennies", "simgd", np.zeros(11), np.zeros(10), k=3)),
        ("steps = 11 is over", lambda: games.lyapunov_map("matching-pennies", "simgd", np.zeros(2), np.zeros(2), k=11)),
        ("steps = 11 is over", lambda: games.trajectories("matching-pennies", "simgd", np.zeros((1, 2)), steps=11)),
        ("tree_nodes = 6 is over", lambda: Settings(max_nodes=6)),
        ("steps = 11 is over", lambda: Settings(max_nodes=5, max_steps=11)),
        ("steps = 12 is over", lambda: Settings(max_nodes=5, max_steps=5, total_steps=12)),
        ("expression too long: 13 characters .at most 12 are allowed; the operator sets it with "
         "LANDSCAPE_MAX_EXPRESSION_LENGTH", lambda: problems.from_expression("x**2 + y**2  ")),
    ]  # fmt: skip
    for match, call in cases:
        with pytest.raises(ValueError, match=match):
            call()
            pytest.fail(f"not refused: {match}")
    # at the limits, the same calls run
    assert trajectories.run_trajectories(quad, zeros, [("gd", None), ("adam", None)], steps=10).sizes["step"] == 11
    assert critical.residual_map(quad, (np.linspace(-1, 1, 10), np.linspace(-1, 1, 10)))["r"].shape == (10, 10)
    assert Settings(max_nodes=5, max_steps=10).max_nodes == 5
    assert problems.from_expression("x**2 + y**2").dim == 2


def test_teleport_training_and_grr_meet_the_limits(tight):
    from landscape.teleport import training

    quad = problems.from_expression("x**2 + y**2")
    with pytest.raises(ValueError, match="steps = 11 is over"):
        next(training.iter_train(quad, "gd", training.Schedule(epochs=11), theta0=np.ones(2)))
    with pytest.raises(ValueError, match="runs = 5 is over"):
        next(training.iter_train(quad, "gd", training.Schedule(epochs=2), seeds=range(5), theta0=np.ones(2)))
    with pytest.raises(ValueError, match="steps = 11 is over"):
        next(games.iter_grr_search("matching-pennies", "simgd", [0.1, 0.2], optimize_steps=11))


def test_jobs_per_session_refusal_names_the_limit(monkeypatch):
    from app.runner import JobGroup, JobRunner
    from landscape.jobs import Event

    group = JobGroup()
    first = JobRunner(sync=True, group=group, name="Games")
    second = JobRunner(sync=True, group=group)
    seen = []

    def during_first(cancel):
        try:
            second.start(lambda c: iter(()), lambda e: None)
        except RuntimeError as error:
            seen.append(str(error))
        yield Event("chunk", 1, 1)

    first.start(during_first, lambda e: None)
    assert seen == ["the Games job of this session is running; cancel it first (jobs_per_session = 1: jobs one "
                    "session runs at once; the operator sets it with LANDSCAPE_MAX_JOBS_PER_SESSION)"]
    monkeypatch.setenv("LANDSCAPE_MAX_JOBS_PER_SESSION", "2")  # two at once allowed: no refusal
    seen.clear()
    first.start(during_first, lambda e: None)
    assert seen == [] and second.message == "Done"
