"""Resumable zarr sweep stores: SIGKILL and resume, refusal of other configs and foreign stores."""

import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr

from landscape import problems, stores
from landscape import critical
from landscape.critical import iter_residual_map
from landscape.games import iter_lyapunov_map
from landscape.executor import InProcess
from landscape.jobs import CancelToken, drive
from landscape.problems import Problem
from landscape.slices import iter_slice, make_directions
from landscape.trajectories import iter_trajectories

ROOT = Path(__file__).resolve().parents[1]
CHUNKS, KILL_AFTER = 9, 3


class Counting(InProcess):
    """In-process executor that counts the chunk tasks it actually runs."""

    def __init__(self):
        self.ran = 0

    def run(self, task, calls, cancel=None):
        for outcome in super().run(task, calls, cancel):
            self.ran += 1
            yield outcome


def sweep(store=None, span=1.0, seed=0, **kwargs):
    """A 6×6 slice of six-hump-camel in 9 chunks of 4 cells (used by the child process too)."""
    problem = problems.get("six-hump-camel")
    centre = np.array([0.1, -0.2])
    directions = make_directions(problem, "random", centre, key=jax.random.PRNGKey(seed))
    alpha = np.linspace(-span, span, 6)
    return iter_slice(problem, centre, directions, alpha, chunk=4, direction_kind="random", store=store, **kwargs)


def experiment(store=None, **kwargs):
    """A critical-point experiment on frye-quartic: 9 uniform starts in 9 batches of one run."""
    return critical.iter_experiment(problems.get("frye-quartic"), "newton-mr", num_runs=CHUNKS, starts="uniform",
                                    num_steps=3, runs_per_task=1, store=store, **kwargs)


def trajectories(store=None, steps=6, **kwargs):
    """gd and adam from 9 starts of himmelblau in 9 batches of one start."""
    problem = problems.get("himmelblau")
    starts = jax.vmap(problem.init)(jax.random.split(jax.random.PRNGKey(1), CHUNKS))
    return iter_trajectories(problem, starts, [("gd", None), ("adam", None)], steps, 3, starts_per_task=1,
                             store=store, **kwargs)


CHILD = """
import sys, time, jax
jax.config.update("jax_enable_x64", True)
import tests.test_stores as sweeps
stream = getattr(sweeps, sys.argv[2])(sys.argv[1])
for _ in range(sweeps.KILL_AFTER):
    event = next(stream)
    print("chunk", event.done, flush=True)
time.sleep(120)  # killed here, mid-sweep
"""


def _sigkilled(path, factory: str) -> None:
    """Run ``factory(path)`` (a function of this module) in a subprocess; SIGKILL it after KILL_AFTER chunks."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path), factory], cwd=ROOT, stdout=subprocess.PIPE,
                             text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        lines = [child.stdout.readline() for _ in range(KILL_AFTER)]
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    assert all(line.startswith("chunk") for line in lines), lines


def test_sigkilled_sweep_resumes_computing_only_missing_chunks(tmp_path):
    path = tmp_path / "run.zarr"
    _sigkilled(path, "sweep")
    summary = stores.info(path)
    assert (summary["status"], summary["chunks_done"], summary["chunks"]) == ("partial", KILL_AFTER, CHUNKS)
    with pytest.raises(stores.StoreError, match="partial"):
        stores.load(path)  # a partial store is never loaded as complete

    counting = Counting()
    resumed = drive(sweep(path, executor=counting))
    assert counting.ran == CHUNKS - KILL_AFTER
    uninterrupted = drive(sweep())
    np.testing.assert_array_equal(resumed.loss.values, uninterrupted.loss.values)
    assert np.isfinite(uninterrupted.loss).all()
    stored = stores.load(path)
    np.testing.assert_array_equal(stored.loss.values, uninterrupted.loss.values)
    assert stored.attrs["status"] == "complete" and stored.attrs["kind"] == "slice-2d"

    again = Counting()
    drive(sweep(path, executor=again))
    assert again.ran == 0  # a complete store is not recomputed


@pytest.mark.parametrize("factory, kind", [(experiment, "critical-points"), (trajectories, "optimizer-trajectories")])
def test_sigkilled_experiment_resumes_computing_only_missing_batches(tmp_path, factory, kind):
    path = tmp_path / "runs.zarr"
    _sigkilled(path, factory.__name__)
    summary = stores.info(path)
    assert (summary["kind"], summary["status"], summary["unit"]) == (kind, "partial", "runs")
    assert (summary["chunks_done"], summary["chunks"], summary["cells_done"]) == (KILL_AFTER, CHUNKS, KILL_AFTER)
    with pytest.raises(stores.StoreError, match="partial"):
        stores.load(path)
    runs_per_start = 2 if kind == "optimizer-trajectories" else 1
    assert stores.load(path, allow_partial=True).sizes["run"] == KILL_AFTER * runs_per_start
    counting = Counting()
    resumed = drive(factory(path, executor=counting))
    assert counting.ran == CHUNKS - KILL_AFTER
    uninterrupted = drive(factory())
    xr.testing.assert_identical(resumed.drop_attrs(), uninterrupted.drop_attrs())
    with warnings.catch_warnings():  # zarr v3: "no Zarr V3 specification" for the text coordinates yet
        warnings.simplefilter("ignore")
        stored = xr.open_zarr(path).load()  # a plain zarr store with the combined result at its root
    xr.testing.assert_identical(stored[list(uninterrupted.variables)].drop_attrs(), uninterrupted.drop_attrs())
    assert stored.attrs["status"] == "complete" and stored.attrs["kind"] == kind
    again = Counting()
    drive(factory(path, executor=again))
    assert again.ran == 0


def test_experiment_store_of_other_settings_refused_with_the_difference(tmp_path):
    path = tmp_path / "runs.zarr"
    drive(trajectories(path))
    with pytest.raises(stores.StoreError, match="steps: stored 6, requested 8"):
        drive(trajectories(path, steps=8))
    problem = problems.get("himmelblau")
    with pytest.raises(stores.StoreError, match="starts: the stored values differ"):
        drive(iter_trajectories(problem, np.zeros((CHUNKS, 2)), [("gd", None), ("adam", None)], 6, 3,
                                starts_per_task=1, store=path))
def test_store_is_plain_zarr_with_result_schema(tmp_path):
    path = tmp_path / "run.zarr"
    ds = drive(sweep(path))
    opened = xr.open_zarr(path)
    assert opened.loss.dims == ("beta", "alpha")
    np.testing.assert_array_equal(opened.loss.values, ds.loss.values)
    np.testing.assert_array_equal(opened.directions.values, ds.directions.values)
    assert {"kind", "config", "versions", "status"} <= set(opened.attrs)
    assert opened.attrs["config"] == ds.attrs["config"]


def test_cancelled_sweep_is_marked_and_resumes(tmp_path):
    path = tmp_path / "run.zarr"
    token = CancelToken()
    stream = sweep(path, cancel=token)
    next(stream)
    token.cancel()
    partial = drive(stream)
    assert partial.attrs["status"] == "cancelled" and stores.info(path)["status"] == "cancelled"
    with pytest.raises(stores.StoreError, match="cancelled"):
        stores.load(path)
    counting = Counting()
    assert drive(sweep(path, executor=counting)).attrs["status"] == "complete"
    assert counting.ran == CHUNKS - 1


def test_other_config_or_directions_refused_with_the_difference(tmp_path):
    path = tmp_path / "run.zarr"
    drive(sweep(path))
    with pytest.raises(stores.StoreError, match=r"alpha: stored \[-1.0, 1.0, 6\], requested \[-2.0, 2.0, 6\]"):
        drive(sweep(path, span=2.0))
    with pytest.raises(stores.StoreError, match="directions: the stored values differ"):
        drive(sweep(path, seed=1))


def test_foreign_and_corrupt_stores_refused(tmp_path):
    foreign = tmp_path / "foreign.zarr"
    xr.Dataset({"loss": ("alpha", np.zeros(6))}).to_zarr(foreign, consolidated=False)
    with pytest.raises(stores.StoreError, match="not a landscape sweep store"):
        drive(sweep(foreign))
    corrupt = tmp_path / "corrupt.zarr"
    corrupt.mkdir()
    (corrupt / "zarr.json").write_text("{not json")
    with pytest.raises(stores.StoreError, match="not a readable zarr store"):
        drive(sweep(corrupt))
    with pytest.raises(stores.StoreError, match="no store"):
        stores.info(tmp_path / "missing.zarr")


def _check(theta):
    if np.any(np.asarray(theta)[..., 0] > 0.75):
        raise FloatingPointError("NaN loss by design")
    return np.zeros(np.shape(theta)[:-1])


@jax.custom_jvp
def _guard(theta):
    return jax.pure_callback(_check, jax.ShapeDtypeStruct((), theta.dtype), theta, vmap_method="sequential")


@_guard.defjvp
def _guard_jvp(primals, tangents):  # a callback has no derivative of its own: the guard adds 0
    return _guard(primals[0]), jnp.zeros((), primals[0].dtype)


def _guarded_loss(theta):
    return jnp.sum(theta**2) + _guard(theta)


#: A bowl whose loss raises where x > 0.75 (a task that raises by design).
FAILING = Problem("fails-beyond-0.75", 2, _guarded_loss, lambda key: jnp.zeros(2))


def test_failing_tasks_recorded_in_the_store(tmp_path):
    problem = FAILING
    path = tmp_path / "run.zarr"
    alpha = np.linspace(-1, 1, 5)  # chunks of 2: [-1, -0.5], [0, 0.5], [1]; only the last fails
    ds = drive(iter_slice(problem, np.zeros(2), np.eye(2)[:1], alpha, chunk=2, store=path))
    assert ds.attrs["status"] == "complete"
    np.testing.assert_array_equal(ds.loss.values, [1.0, 0.25, 0.0, 0.25, np.nan])
    summary = stores.info(path)
    assert summary["status"] == "complete" and summary["chunks_done"] == 3
    assert list(summary["failed_chunks"]) == ["2"] and "NaN loss by design" in summary["failed_chunks"]["2"]


def test_failing_batches_recorded_in_an_experiment_store(tmp_path):
    path = tmp_path / "runs.zarr"
    starts = np.array([[0.5, 0.0], [1.0, 0.0], [-0.5, 0.2]])  # the second start's batch raises

    def make(executor=None):
        return iter_trajectories(FAILING, starts, [("gd", None)], 4, 2, starts_per_task=1, store=path,
                                 executor=executor)

    ds = drive(make())
    assert ds.attrs["status"] == "complete" and list(ds.start.values) == [0, 2]
    summary = stores.info(path)
    assert summary["status"] == "complete" and summary["chunks_done"] == 3
    assert list(summary["failed_chunks"]) == ["1"] and "NaN loss by design" in summary["failed_chunks"]["1"]
    np.testing.assert_allclose(stores.load(path).loss.values[:, 0], [0.25, 0.29])
    again = Counting()
    drive(make(again))
    assert again.ran == 0  # a recorded failure is an outcome: not retried by a rerun


def test_lyapunov_map_store_resumes(tmp_path):
    path = tmp_path / "map.zarr"
    xs, ys = np.linspace(-1, 1, 4), np.linspace(-0.5, 0.5, 3)
    token = CancelToken()
    stream = iter_lyapunov_map("matching-pennies", "simgd", xs, ys, k=3, chunk=5, cancel=token, store=path,
                               alpha=0.5)
    next(stream)
    token.cancel()
    drive(stream)
    counting = Counting()
    resumed = drive(iter_lyapunov_map("matching-pennies", "simgd", xs, ys, k=3, chunk=5, store=path,
                                      executor=counting, alpha=0.5))
    assert counting.ran == 2
    plain = drive(iter_lyapunov_map("matching-pennies", "simgd", xs, ys, k=3, chunk=5, alpha=0.5))
    np.testing.assert_array_equal(resumed.exponent.values, plain.exponent.values)
    np.testing.assert_array_equal(stores.load(path).exponent.values, plain.exponent.values)


def _interrupted(make, path):
    """The sweep ``make(path, cancel=token)`` cancelled after its first chunk."""
    token = CancelToken()
    stream = make(path, cancel=token)
    next(stream)
    token.cancel()
    return drive(stream)


SWEEPS = {  # each cut into 3 or more chunks, so one chunk done leaves work to resume
    "slice-2d": lambda path, cancel=None: sweep(path, cancel=cancel),
    "lyapunov-map": lambda path, cancel=None: iter_lyapunov_map(
        "matching-pennies", "simgd", np.linspace(-1, 1, 4), np.linspace(-0.5, 0.5, 3), k=3, chunk=5, seed=2,
        store=path, cancel=cancel, alpha=0.5),
    "residual-map": lambda path, cancel=None: iter_residual_map(problems.get("frye-quartic"), 5, chunk=9, store=path,
                                                                cancel=cancel),
    "critical-points": lambda path, cancel=None: experiment(path, cancel=cancel),
    "optimizer-trajectories": lambda path, cancel=None: trajectories(path, cancel=cancel),
}


@pytest.mark.parametrize("kind", list(SWEEPS))
def test_resume_rebuilds_the_sweep_from_the_store_alone(tmp_path, kind):
    path = tmp_path / "run.zarr"
    interrupted = _interrupted(SWEEPS[kind], path)
    assert interrupted.attrs["status"] == "cancelled" and stores.info(path)["kind"] == kind
    chunks = stores.info(path)["chunks"]
    counting = Counting()
    resumed = drive(stores.resume(path, executor=counting))
    assert counting.ran == chunks - 1  # only the missing chunks
    plain = drive(SWEEPS[kind](None))
    xr.testing.assert_identical(resumed[list(plain.data_vars)].drop_attrs(), plain.drop_attrs())
    assert stores.info(path)["status"] == "complete"
    again = Counting()
    drive(stores.resume(path, executor=again))
    assert again.ran == 0


def test_resume_refuses_what_it_cannot_rebuild(tmp_path):
    foreign = tmp_path / "foreign.zarr"
    xr.Dataset({"loss": ("alpha", np.zeros(6))}).to_zarr(foreign, consolidated=False)
    with pytest.raises(stores.StoreError, match="not a landscape sweep store"):
        stores.resume(foreign)
    with_path = tmp_path / "path.zarr"
    problem = problems.get("six-hump-camel")
    drive(iter_slice(problem, np.zeros(2), np.eye(2), np.linspace(-1, 1, 3), trajectory=np.ones((3, 2)),
                     store=with_path))
    with pytest.raises(stores.StoreError, match="path is not stored"):
        stores.resume(with_path)
