"""The executor seam: the same sweeps in-process and on a 2-process LocalCluster; faults and cancel."""

import os
import signal
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from landscape import critical, problems
from landscape.games import iter_lyapunov_map
from landscape.executor import (DaskExecutor, InProcess, ProblemRef, Sweep, chunk_ranges, make_executor,
                                run_chunks)
from landscape.jobs import CancelToken, drive
from landscape.problems import Problem
from landscape.slices import iter_slice, make_directions, slice_loss

distributed = pytest.importorskip("distributed")

A = np.diag([1.0, 3.0, 0.5])
QUADRATIC = Problem("user-quadratic", 3, lambda t: 0.5 * t @ jnp.asarray(A) @ t + jnp.sum(jnp.sin(t)),
                    lambda k: jnp.zeros(3))


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as c:
        yield c


def square(x):
    return {"v": np.array([x * x], dtype=float)}


def fails_on_two(x):
    if x == 2:
        raise FloatingPointError("NaN loss by design")
    return square(x)


def slow_square(x):
    time.sleep(0.4)
    return square(x)


def test_slice_same_in_process_and_on_two_workers(client):
    problem = problems.get("six-hump-camel")  # shipped by registry name (workers rebuild it)
    centre = problem.init(jax.random.PRNGKey(1))
    directions = make_directions(problem, "random", centre, key=jax.random.PRNGKey(2))
    alpha = np.linspace(-1, 1, 5)
    local = slice_loss(problem, centre, directions, alpha, chunk=6)
    seen = []

    def partial_grid_fills_where_chunks_arrive(event):
        filled = np.flatnonzero(np.isfinite(event.partial.loss.values.ravel())).tolist()
        assert set(seen) <= set(filled) and event.done == len(filled)  # cells only ever fill in
        seen[:] = filled

    remote = drive(iter_slice(problem, centre, directions, alpha, chunk=6, executor=DaskExecutor(client)),
                   partial_grid_fills_where_chunks_arrive)
    assert sorted(seen) == list(range(25))
    assert remote.attrs["status"] == "complete" and np.isfinite(remote.loss).all()
    np.testing.assert_allclose(remote.loss.values, local.loss.values, rtol=0, atol=1e-12)


def test_cloudpickled_user_problem_on_workers(client):
    alpha = np.linspace(-1, 1, 4)
    directions = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    remote = slice_loss(QUADRATIC, np.zeros(3), directions, alpha, chunk=5, executor=DaskExecutor(client))
    bb, aa = np.meshgrid(alpha, alpha, indexing="ij")
    points = aa[..., None] * directions[0] + bb[..., None] * directions[1]
    expected = 0.5 * np.einsum("...i,ij,...j->...", points, A, points) + np.sin(points).sum(-1)
    np.testing.assert_allclose(remote.loss.values, expected, rtol=0, atol=1e-12)  # float64 on the workers too


def test_lyapunov_map_same_in_process_and_on_two_workers(client):
    xs, ys = np.linspace(-1, 1, 4), np.linspace(-0.5, 0.5, 3)
    kwargs = dict(k=3, chunk=5, alpha=0.5)
    local = drive(iter_lyapunov_map("matching-pennies", "simgd", xs, ys, **kwargs))
    with make_executor(scheduler=client.scheduler.address) as executor:  # joining a cluster by its address
        remote = drive(iter_lyapunov_map("matching-pennies", "simgd", xs, ys, executor=executor, **kwargs))
    assert np.isfinite(local.exponent).all()
    np.testing.assert_allclose(remote.exponent.values, local.exponent.values, rtol=0, atol=1e-12)


def test_residual_map_same_in_process_and_on_two_workers(client):
    problem = problems.get("frye-quartic")
    grid = (np.linspace(-2, 2, 4), np.linspace(-1, 1, 3))
    local = critical.residual_map(problem, grid)  # one chunk, as before the executor seam
    remote = critical.residual_map(problem, grid, chunk=5, executor=DaskExecutor(client))
    for name in critical.RESIDUAL_MAP_VARIABLES:
        assert np.isfinite(local[name]).all()
        np.testing.assert_allclose(remote[name].values, local[name].values, rtol=0, atol=1e-12, err_msg=name)


def test_critical_experiment_same_in_process_and_on_two_workers(client):
    problem = problems.get("frye-quartic")
    kwargs = dict(num_runs=4, starts="uniform", num_steps=6, runs_per_task=2)  # two batches of 2 runs: one compile
    local = drive(critical.iter_experiment(problem, "pinv-newton", executor=InProcess(), **kwargs))
    batches = []
    remote = drive(critical.iter_experiment(problem, "pinv-newton", executor=DaskExecutor(client), **kwargs),
                   lambda event: batches.append(sorted(event.partial.run.values.tolist())))
    assert batches[-1] == [0, 1, 2, 3] and batches[0] in ([0, 1], [2, 3])  # runs as their batch arrives
    assert remote.attrs["status"] == local.attrs["status"] == "done" and remote.attrs["kind"] == "critical-points"
    for name in ("start", "theta", "final_grad_norm_sq", "final_index", "r", "path"):
        np.testing.assert_allclose(remote[name].values, local[name].values, rtol=0, atol=1e-12, err_msg=name)
    assert list(remote["class"].values) == list(local["class"].values)
    expected_starts = jax.vmap(problem.init)(jax.random.split(jax.random.PRNGKey(0), 4))
    np.testing.assert_array_equal(local.start.values, expected_starts)  # the seeded starts, in run order


def test_trajectory_batch_same_in_process_and_on_two_workers(client):
    from landscape.trajectories import iter_trajectories, run_trajectories

    problem = problems.get("himmelblau")
    starts = jax.vmap(problem.init)(jax.random.split(jax.random.PRNGKey(3), 5))
    optimizers = [("gd", None), ("adam", None)]
    whole = run_trajectories(problem, starts, optimizers, 20, 10)
    local = drive(iter_trajectories(problem, starts, optimizers, 20, 10, executor=InProcess(), starts_per_task=2))
    remote = drive(iter_trajectories(problem, starts, optimizers, 20, 10, executor=DaskExecutor(client),
                                     starts_per_task=2))
    for ds in (local, remote):  # runs numbered optimizer-major, as the whole batch numbers them
        assert list(ds.optimizer.values) == list(whole.optimizer.values)
        assert list(ds.start.values) == list(whole.start.values) and ds.attrs["config"] == whole.attrs["config"]
    np.testing.assert_allclose(remote.theta.values, local.theta.values, rtol=0, atol=1e-12)
    np.testing.assert_allclose(local.theta.values, whole.theta.values, rtol=0, atol=1e-9)


def test_zero_shot_coordination_runs_same_in_process_and_on_two_workers(client):
    from landscape.ridge_rider.zsc import iter_zero_shot_coordination

    game = problems.get("lever-game", payoffs=[1.0, 0.8, 0.6])  # no equal payoffs: no relabelling, one compile
    kwargs = dict(n_ridges=2, mis_steps=10, max_steps=3)  # a run per worker
    local = drive(iter_zero_shot_coordination(game, 2, executor=InProcess(), **kwargs))
    remote = drive(iter_zero_shot_coordination(game, 2, executor=DaskExecutor(client), **kwargs))
    assert remote.attrs["status"] == local.attrs["status"] == "complete"
    for name in ("solution", "self_play", "cross_play", "greedy"):
        assert np.isfinite(local[name].values).all()
        np.testing.assert_allclose(remote[name].values, local[name].values, rtol=0, atol=1e-12, err_msg=name)


def test_tree_mdp_table_same_in_process_and_on_two_workers(client):
    from landscape.ridge_rider.tree_mdp import iter_tree_mdp_table

    kwargs = dict(total_steps=30, max_steps=10, gd_steps=10)  # one small tree: each tree compiles anew
    local = drive(iter_tree_mdp_table((3,), (0,), executor=InProcess(), **kwargs))
    remote = drive(iter_tree_mdp_table((3,), (0,), executor=DaskExecutor(client), **kwargs))
    assert remote.attrs["status"] == local.attrs["status"] == "complete" and remote.attrs["trees_done"] == 1
    for name in ("found", "rr_steps", "rr_rides", "n_positive", "dim"):
        assert np.isfinite(local[name].values).all() and (local[name].values >= 0).all()
        np.testing.assert_array_equal(remote[name].values, local[name].values, err_msg=name)


def test_sharpness_survey_same_in_one_batch_in_process_and_in_batches_on_two_workers(client):
    from landscape.teleport import iter_sharpness_curvature

    problem = problems.get("mlp-digits", hidden=[4], activation="leaky_relu", bias=False, l2=0.0)
    thetas = 0.3 * np.asarray(jax.vmap(problem.init)(jax.random.split(jax.random.PRNGKey(1), 5)))
    kwargs = dict(n_directions=3, displacements=(0.1,), n_curves=2, batch_size=8)
    whole = drive(iter_sharpness_curvature(problem, thetas, **kwargs))  # one task: the survey as it always ran
    events = []
    remote = drive(iter_sharpness_curvature(problem, thetas, executor=DaskExecutor(client), models_per_task=2,
                                            **kwargs), events.append)
    assert [e.done for e in events] != [] and events[-1].done == 5 and remote.attrs["status"] == "complete"
    for name in ("sharpness", "curvature", "train_loss", "test_loss"):
        assert np.isfinite(whole[name].values).all()
        np.testing.assert_allclose(remote[name].values, whole[name].values, rtol=0, atol=1e-12, err_msg=name)


def test_teleport_seed_study_same_in_process_and_on_two_workers(client):
    import dataclasses

    from landscape.teleport import Schedule, compare, iter_compare, train

    problem = problems.get("mlp-digits", hidden=[4], activation="leaky_relu", bias=False, l2=0.0)
    schedule = Schedule(epochs=2, teleport_at=(0,), teleport_batches=2, teleport_batch_size=16, steps=2,
                        n_directions=3, n_curves=2)
    kwargs = dict(lr=0.05, seeds=(3, 4), seeds_per_task=1)  # one task per seed and arm: 4 tasks
    local = compare(problem, "gd", schedule, executor=InProcess(), **kwargs)
    events = []
    remote = drive(iter_compare(problem, "gd", schedule, executor=DaskExecutor(client), **kwargs), events.append)
    assert [e.done for e in events] == [1, 2, 3, 4] and remote.attrs["status"] == "complete"
    assert list(remote.seed.values) == [3, 4] and list(remote.arm.values) == ["plain", "teleport"]
    assert remote.grad_norm_sq_after.shape == (2, 1) and np.isfinite(remote.train_loss).all()
    for name in set(local.data_vars) - {"wall_time"}:  # wall_time: the slowest task's clock
        np.testing.assert_allclose(remote[name].values, local[name].values, rtol=0, atol=1e-12, err_msg=name)
    alone = train(problem, "gd", dataclasses.replace(schedule, teleport_at=()), lr=0.05, seeds=(4,))
    np.testing.assert_array_equal(remote.train_loss.sel(arm="plain").values[1], alone.train_loss.values[0])
    with pytest.raises(ValueError, match="takes the optimizer by name"):
        compare(problem, __import__("optax").sgd(0.1), schedule, executor=DaskExecutor(client), seeds=(0, 1))


def test_lyapunov_subspace_maps_same_in_process_and_on_two_workers(client):
    from landscape.games import lyapunov_subspace_maps

    xs = np.linspace(-1, 1, 3)
    args = ("matching-pennies", "simgd", [0, 1], xs, xs)
    local = lyapunov_subspace_maps(*args, k=3, executor=InProcess())  # one subspace per task
    remote = lyapunov_subspace_maps(*args, k=3, executor=DaskExecutor(client))
    assert remote.dims == ("subspace", "y", "x") and list(remote.subspace.values) == [0, 1]
    assert remote.attrs["status"] == "complete" and np.isfinite(remote).all()
    np.testing.assert_allclose(remote.values, local.values, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(local.values[1], lyapunov_subspace_maps(*args[:2], [1], xs, xs, k=3).values[0])


def test_problem_ref_ships_registered_problem_by_name():
    import pickle

    problem = problems.get("rosenbrock")
    shipped = pickle.loads(pickle.dumps(ProblemRef(problem)))
    assert shipped._state["name"] == "rosenbrock" and shipped._state["payload"] is None
    assert shipped.resolve().config() == problem.config()  # rebuilt from the registry


@pytest.mark.parametrize("on_cluster", [False, True])
def test_raising_task_is_recorded_and_sweep_continues(client, on_cluster):
    executor = DaskExecutor(client) if on_cluster else InProcess()
    ranges = chunk_ranges(4, 1)
    sweep = Sweep({"v": np.full(4, np.nan)}, ranges)
    for outcome in run_chunks(fails_on_two, [(i, (i,)) for i in range(4)], executor=executor):
        sweep.apply(outcome)
    np.testing.assert_array_equal(sweep.arrays["v"], [0.0, 1.0, np.nan, 9.0])
    attrs = sweep.attrs()
    assert attrs["status"] == "complete"
    assert "FloatingPointError: NaN loss by design" in attrs["failed_chunks"]


def test_cancel_cancels_pending_futures(client):
    token = CancelToken()
    seen = []
    for outcome in run_chunks(slow_square, [(i, (i,)) for i in range(8)], executor=DaskExecutor(client),
                              cancel=token):
        seen.append(outcome.index)
        token.cancel()
    assert seen and len(seen) < 8
    deadline = time.time() + 10
    while client.processing() and any(client.processing().values()) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(client.processing().values())  # nothing left running or queued


def test_killed_worker_costs_only_in_flight_chunks(client):
    calls = [(i, (i,)) for i in range(6)]
    values = np.full(6, np.nan)
    pids = client.run(os.getpid)
    killed = False
    for outcome in run_chunks(slow_square, calls, executor=DaskExecutor(client)):
        values[outcome.index] = outcome.values["v"][0]
        if not killed:  # SIGKILL one worker process while chunks are in flight; its nanny restarts it
            os.kill(next(iter(pids.values())), signal.SIGKILL)
            killed = True
    np.testing.assert_array_equal(values, np.arange(6.0) ** 2)
