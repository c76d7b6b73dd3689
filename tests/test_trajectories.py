"""Trajectories against hand-written numpy updates on a quadratic; divergence; streaming; io."""

import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr

from landscape import io, kinds, problems
from landscape.jobs import CancelToken
from landscape.problems import Problem
from landscape.trajectories import OPTIMIZERS, iter_trajectories, run_summary, run_trajectories

A = np.array([[3.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 0.4]])
B = np.array([1.0, -2.0, 0.5])
STARTS = np.array([[1.0, 2.0, -1.0], [-0.5, 0.3, 2.0]])
STEPS = 40


def quadratic_problem(counter=None):
    """L(θ) = ½ θᵀAθ − bᵀθ; ``counter`` counts how often the loss is traced."""

    def loss(theta):
        if counter is not None:
            counter.append(1)
        return 0.5 * theta @ jnp.asarray(A) @ theta - jnp.asarray(B) @ theta

    return Problem("quadratic", 3, loss, lambda key: jnp.zeros(3))


def np_loss(theta):
    return 0.5 * theta @ A @ theta - B @ theta


HPARAMS = {
    "gd": {"lr": 0.1},
    "heavy-ball": {"lr": 0.05, "momentum": 0.8},
    "nesterov": {"lr": 0.05, "momentum": 0.7},
    "adam": {"lr": 0.05, "b1": 0.8, "b2": 0.99, "eps": 1e-6},
    "rmsprop": {"lr": 0.02, "decay": 0.8, "eps": 1e-6},
    "adagrad": {"lr": 0.3, "initial_accumulator_value": 0.2, "eps": 1e-6},
    "damped-newton": {"lr": 0.7, "damping": 0.3},
}


def numpy_trajectory(name, hp, theta0, steps):
    """The update rules written out by hand (see landscape.trajectories' docstring)."""
    theta = np.array(theta0, dtype=float)
    v = np.zeros_like(theta)  # momentum / first moment
    s = np.full_like(theta, hp.get("initial_accumulator_value", 0.0))  # second moment
    path = [theta.copy()]
    for t in range(1, steps + 1):
        g = A @ theta - B
        if name == "gd":
            step = g
        elif name == "heavy-ball":
            v = g + hp["momentum"] * v
            step = v
        elif name == "nesterov":
            v = g + hp["momentum"] * v
            step = g + hp["momentum"] * v
        elif name == "adam":
            v = hp["b1"] * v + (1 - hp["b1"]) * g
            s = hp["b2"] * s + (1 - hp["b2"]) * g**2
            step = (v / (1 - hp["b1"] ** t)) / (np.sqrt(s / (1 - hp["b2"] ** t)) + hp["eps"])
        elif name == "rmsprop":
            s = hp["decay"] * s + (1 - hp["decay"]) * g**2
            step = g / np.sqrt(s + hp["eps"])
        elif name == "adagrad":
            s = s + g**2
            step = g / np.sqrt(s + hp["eps"])
        elif name == "damped-newton":
            step = np.linalg.solve(A + hp["damping"] * np.eye(3), g)
        theta = theta - hp["lr"] * step
        path.append(theta.copy())
    return np.array(path)


@pytest.fixture(scope="module")
def all_runs():
    """Every optimizer × both starts in one call, in chunks that do not divide the steps."""
    return run_trajectories(quadratic_problem(), STARTS, list(HPARAMS.items()), steps=STEPS, chunk=15)


def test_covers_every_optimizer():
    assert set(HPARAMS) == set(OPTIMIZERS)
    for name, spec in OPTIMIZERS.items():
        assert set(HPARAMS[name]) <= set(spec.defaults), name


@pytest.mark.parametrize("name", list(HPARAMS))
def test_matches_numpy_update(all_runs, name):
    i_opt = list(HPARAMS).index(name)
    for i_start, start in enumerate(STARTS):
        run = i_opt * len(STARTS) + i_start
        ds = all_runs.isel(run=run)
        assert ds.optimizer.item() == name and ds.start.item() == i_start
        expected = numpy_trajectory(name, HPARAMS[name], start, STEPS)
        np.testing.assert_allclose(ds.theta.values, expected, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(ds.loss.values, [np_loss(t) for t in expected], rtol=1e-12, atol=1e-12)
        grads = expected @ A - B  # A is symmetric
        np.testing.assert_allclose(ds.grad_norm.values, np.linalg.norm(grads, axis=1), rtol=1e-12, atol=1e-12)
        assert not ds.diverged.item() and ds.stop_step.item() == STEPS + 1


def test_layout(all_runs):
    assert all_runs.theta.dims == ("run", "step", "param")
    assert all_runs.sizes == {"run": 14, "step": STEPS + 1, "param": 3}
    np.testing.assert_array_equal(all_runs.step, np.arange(STEPS + 1))
    np.testing.assert_array_equal(all_runs.theta[:, 0], np.tile(STARTS, (7, 1)))
    assert all_runs.attrs["kind"] == "optimizer-trajectories" and all_runs.attrs["status"] == "complete"


def test_divergence_is_flagged_frozen_and_isolated():
    steps = 300
    optimizers = [("gd", {"lr": 0.1}), ("gd", {"lr": 10.0})]  # lr·λ_max = 30: |1 − 30|ᵗ overflows
    ds = run_trajectories(quadratic_problem(), STARTS, optimizers, steps=steps, chunk=64)
    with np.errstate(over="ignore", invalid="ignore"):
        bad = numpy_trajectory("gd", {"lr": 10.0}, STARTS[0], steps)
        bad_loss = np.array([np_loss(t) for t in bad])
    first = int(np.argmax(~np.isfinite(bad_loss) | ~np.isfinite(bad).all(axis=1)))
    assert 0 < first < steps
    diverged = ds.isel(run=2)
    assert diverged.diverged.item() and diverged.stop_step.item() == first
    np.testing.assert_allclose(diverged.theta[:first], bad[:first], rtol=1e-12)
    assert np.isnan(diverged.theta[first:]).all() and np.isnan(diverged.loss[first:]).all()
    assert np.isnan(diverged.grad_norm[first:]).all()
    assert not ds.diverged[:2].any() and (ds.stop_step[:2] == steps + 1).all()
    alone = run_trajectories(quadratic_problem(), STARTS, optimizers[:1], steps=steps, chunk=64)
    np.testing.assert_array_equal(ds.theta[:2], alone.theta)


def test_generator_streams_chunks_and_matches_result():
    stream = iter_trajectories(quadratic_problem(), STARTS, [("adam", None), ("gd", None)], steps=25, chunk=10)
    events, steps_done = [], []
    while True:
        try:
            events.append(next(stream))
        except StopIteration as stop:
            result = stop.value
            break
        steps_done.append(int(np.isfinite(events[-1].partial.loss.values).all(axis=0).sum()))
    assert [e.kind for e in events] == ["chunk"] * 3
    assert [(e.done, e.total) for e in events] == [(10, 25), (20, 25), (25, 25)]
    assert steps_done == [11, 21, 26]  # step 0 and the steps done, NaN after
    for key in ("theta", "loss", "grad_norm"):
        assert isinstance(events[-1].partial[key].data, np.ndarray)
        np.testing.assert_array_equal(events[-1].partial[key].values, result[key].values)
    assert events[0].partial.theta.shape == (4, 26, 3) and events[0].partial.diverged.shape == (4,)


def test_cancel_stops_between_chunks():
    token = CancelToken()
    stream = iter_trajectories(quadratic_problem(), STARTS, [("gd", None)], steps=100, chunk=10, cancel=token)
    first = next(stream)
    token.cancel()
    with pytest.raises(StopIteration) as stop:
        next(stream)
    result = stop.value.value
    assert first.done == 10
    assert result.attrs["status"] == "cancelled" and result.attrs["steps_done"] == 10
    assert result.sizes["step"] == 11
    np.testing.assert_allclose(result.theta[0].values, numpy_trajectory("gd", {"lr": 0.01}, STARTS[0], 10), rtol=1e-12)


def test_new_hyperparameters_do_not_recompile():
    traces = []
    problem = quadratic_problem(traces)
    first = run_trajectories(problem, STARTS, [("adam", {"lr": 0.1}), ("nesterov", None)], steps=20, chunk=10)
    n = len(traces)
    second = run_trajectories(problem, STARTS, [("adam", {"lr": 0.02}), ("nesterov", {"momentum": 0.5})],
                              steps=20, chunk=10)
    assert n > 0 and len(traces) == n
    assert not np.allclose(first.theta.values, second.theta.values)


def test_netcdf_round_trip(all_runs, tmp_path):
    path = tmp_path / "traj.nc"
    io.save(all_runs, path)
    loaded = io.load(path)
    xr.testing.assert_identical(loaded, all_runs)
    assert loaded.diverged.dtype == bool


@pytest.mark.parametrize(
    "optimizers, message",
    [([("sgd", None)], "unknown optimizer"), ([("adam", {"momentum": 0.9})], "no hyperparameter")],
)
def test_bad_requests_are_refused(optimizers, message):
    with pytest.raises(ValueError, match=message):
        run_trajectories(quadratic_problem(), STARTS, optimizers, steps=2)


def test_summary_rows_match_the_recorded_curves(all_runs):
    tolerance = 1e-2
    summary = run_summary(all_runs, tolerance)
    kinds.check(summary)
    grad, loss = all_runs.grad_norm.values, all_runs.loss.values
    for run in range(all_runs.sizes["run"]):
        finite = np.flatnonzero(np.isfinite(loss[run]))
        assert summary.final_loss.values[run] == loss[run, finite[-1]]
        assert summary.final_grad_norm.values[run] == grad[run, finite[-1]]
        below = np.flatnonzero(grad[run] <= tolerance)
        assert summary.steps_to_tolerance.values[run] == (below[0] if below.size else -1)
    # one of the first optimizer's runs: its hyperparameters as configured
    assert summary.hyperparameters.values[0] == "lr=0.1"
    assert "momentum=0.8" in summary.hyperparameters.values[2]
    with pytest.raises(ValueError, match="tolerance must be a positive number"):
        run_summary(all_runs, 0.0)


def test_classifier_runs_record_accuracy_as_numpy_computes_it():
    problem = problems.get("mlp-moons", hidden=(4,), n=60)
    data = problem.extras["data"]
    start = np.asarray(problem.default_point)[None]
    result = run_trajectories(problem, start, [("gd", {"lr": 0.5})], steps=6, chunk=4)
    kinds.check(result)

    def numpy_accuracy(theta, x, y):  # the tanh MLP written out (layers of landscape.problems.networks)
        h = np.asarray(x, dtype=float)
        layers = problem.unravel(jnp.asarray(theta))
        for i, layer in enumerate(layers):
            h = h @ np.asarray(layer["w"]).T + np.asarray(layer["b"])
            h = np.tanh(h) if i < len(layers) - 1 else h
        return np.mean(h.argmax(axis=1) == y)

    for step in (0, 3, 6):
        theta = result.theta.values[0, step]
        assert result.train_accuracy.values[0, step] == pytest.approx(
            numpy_accuracy(theta, data["x_train"], data["y_train"]))
        assert result.test_accuracy.values[0, step] == pytest.approx(
            numpy_accuracy(theta, data["x_test"], data["y_test"]))
    assert "train_accuracy" not in run_trajectories(quadratic_problem(), STARTS[:1], [("gd", None)], steps=2)
