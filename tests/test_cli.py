"""The `landscape` command: each subcommand on a small problem, resume, and bad arguments (exit 2)."""

import json

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from landscape import critical, problems
from landscape.cli import main
from landscape.games import lyapunov_map


@pytest.fixture
def run():
    runner = CliRunner()  # the command turns JAX's persistent cache on process-wide: not in the test process
    return lambda *args: runner.invoke(main, [str(a) for a in args], env={"LANDSCAPE_JAX_CACHE": "off"})


def test_slice_writes_a_plain_zarr_store_and_info_reports_it(run, tmp_path):
    out = tmp_path / "run.zarr"
    result = run("slice", "mlp-digits", "--option", "hidden=[4]", "--grid", 5, "--chunk", 10, "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    ds = xr.open_zarr(out).load()
    assert ds.loss.dims == ("beta", "alpha") and ds.attrs["status"] == "complete"
    assert json.loads(ds.attrs["config"])["options"]["hidden"] == [4]
    problem = problems.get("mlp-digits", hidden=[4])
    expected = problem.loss(ds.centre.values + 0.5 * ds.directions.values[0] - 1.0 * ds.directions.values[1])
    assert ds.attrs["dtype"] == "float32"  # the fast plane kernel of an MLP sweeps in float32
    np.testing.assert_allclose(ds.loss.sel(alpha=0.5, beta=-1.0).item(), float(expected), rtol=1e-5)

    again = run("slice", "mlp-digits", "--option", "hidden=[4]", "--grid", 5, "--chunk", 10, "--out", out, "--quiet")
    assert again.exit_code == 0 and "complete" in again.output  # seeded: same grid, nothing to recompute

    info = run("info", out)
    assert info.exit_code == 0
    assert "kind: slice" in info.output and "status: complete" in info.output
    assert "progress: 3/3 chunks, 25/25 cells (100%)" in info.output


def test_lyapunov_and_residuals_match_the_engine(run, tmp_path):
    out = tmp_path / "map.zarr"
    result = run("lyapunov", "matching-pennies", "--grid", 4, "--k", 3, "--chunk", 6, "--hyper", "alpha=0.5",
                 "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    xs = np.linspace(-4, 4, 4)
    expected = lyapunov_map("matching-pennies", "simgd", xs, xs, k=3, chunk=6, alpha=0.5)
    np.testing.assert_array_equal(xr.open_zarr(out).exponent.values, expected.values)

    out = tmp_path / "residuals.zarr"
    result = run("residuals", "frye-quartic", "--grid", 4, "--chunk", 8, "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    expected = critical.residual_map(problems.get("frye-quartic"), 4, chunk=8)
    np.testing.assert_allclose(xr.open_zarr(out).r.values, expected.r.values, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "args, message",
    [
        (["slice", "no-such-problem", "--out", "x.zarr"], "unknown problem 'no-such-problem'"),
        (["slice", "rosenbrock", "--out", "x.zarr"], "filter normalisation needs a layered network"),
        (["slice", "rosenbrock", "--grid", "1", "--out", "x.zarr"], "1 is not in the range x>=2"),
        (["slice", "rosenbrock", "--directions", "random"], "Missing option '--out'"),
        (["slice", "rosenbrock", "--option", "a", "--out", "x.zarr"], "expected NAME=VALUE"),
        (["slice", "rosenbrock", "--workers", "2", "--scheduler", "tcp://h:1", "--directions", "random",
          "--out", "x.zarr"], "not both"),
        (["lyapunov", "matching-pennies", "--rule", "nope", "--out", "x.zarr"], "unknown rule 'nope'"),
        (["info", "missing.zarr"], "does not exist"),
        (["frobnicate"], "No such command"),
    ],
)
def test_bad_arguments_exit_2_with_a_usage_message(run, args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert "Usage:" in result.output and message in result.output


def test_store_of_another_sweep_refused_with_exit_2(run, tmp_path):
    out = tmp_path / "run.zarr"
    assert run("slice", "rosenbrock", "--directions", "random", "--grid", 3, "--out", out, "--quiet").exit_code == 0
    result = run("slice", "rosenbrock", "--directions", "random", "--grid", 3, "--span", 2, "--out", out, "--quiet")
    assert result.exit_code == 2 and "alpha: stored [-1.0, 1.0, 3], requested [-2.0, 2.0, 3]" in result.output
    foreign = tmp_path / "foreign.zarr"
    xr.Dataset({"a": ("x", np.zeros(2))}).to_zarr(foreign, consolidated=False)
    result = run("info", foreign)
    assert result.exit_code == 2 and "not a landscape sweep store" in result.output


def test_critical_and_trajectories_write_the_engine_result_to_zarr(run, tmp_path):
    import jax

    from landscape.trajectories import run_trajectories

    out = tmp_path / "critical.zarr"
    result = run("critical", "frye-quartic", "--runs", 2, "--steps", 3, "--starts", "uniform", "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    expected = critical.experiment(problems.get("frye-quartic"), "newton-mr", num_runs=2, seed=0, starts="uniform",
                                   num_steps=3)
    np.testing.assert_allclose(xr.open_zarr(out).grad_norm_sq.values, expected.grad_norm_sq.values, rtol=0, atol=1e-12)

    out = tmp_path / "runs.zarr"
    result = run("trajectories", "himmelblau", "--optimizer", "gd", "--optimizer", "adam", "--runs", 2, "--steps", 10,
                 "--seed", 3, "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    problem = problems.get("himmelblau")
    starts = jax.vmap(problem.init)(jax.random.split(jax.random.PRNGKey(3), 2))
    expected = run_trajectories(problem, starts, [("gd", None), ("adam", None)], 10)
    np.testing.assert_allclose(xr.open_zarr(out).theta.values, expected.theta.values, rtol=0, atol=1e-12)
    info = run("info", out)
    assert "kind: optimizer-trajectories" in info.output and "progress: 2/2 chunks, 2/2 runs (100%)" in info.output

    again = run("trajectories", "himmelblau", "--steps", 12, "--out", out)  # another experiment: refused
    assert again.exit_code == 2 and "steps: stored 10, requested 12" in again.output


def test_interrupted_critical_experiment_resumes(run, tmp_path):
    from landscape import stores
    from landscape.jobs import CancelToken, drive

    out, problem = tmp_path / "critical.zarr", problems.get("frye-quartic")
    token = CancelToken()
    stream = critical.iter_experiment(problem, "newton-mr", num_runs=3, starts="uniform", num_steps=3, runs_per_task=1,
                                      store=out, cancel=token)
    next(stream)
    token.cancel()
    drive(stream)
    info = run("info", out)
    assert "status: cancelled" in info.output and "progress: 1/3 chunks, 1/3 runs (33%)" in info.output
    result = run("critical", "frye-quartic", "--runs", 3, "--steps", 3, "--starts", "uniform", "--per-task", 1,
                 "--out", out, "--quiet")  # the same experiment: resumed
    assert result.exit_code == 0, result.output
    assert "complete" in result.output and "(3/3 runs)" in result.output
    expected = critical.experiment(problem, "newton-mr", num_runs=3, starts="uniform", num_steps=3, runs_per_task=1)
    xr.testing.assert_identical(stores.load(out)[list(expected.variables)].drop_attrs(), expected.drop_attrs())


@pytest.mark.parametrize("args, message", [
    (["trajectories", "himmelblau", "--optimizer", "nope"], "unknown optimizer nope"),
    (["trajectories", "no-such-problem"], "unknown problem"),
    (["critical", "frye-quartic", "--method", "magic"], "Invalid value for '--method'"),
    (["critical", "frye-quartic", "--runs", "0"], "Invalid value for '--runs'"),
    (["trajectories", "himmelblau", "--workers", "2", "--scheduler", "tcp://h:1"], "not both"),
])  # fmt: skip
def test_critical_and_trajectories_bad_arguments_exit_2(run, args, message, tmp_path):
    result = run(*args, "--out", tmp_path / "x.zarr")
    assert result.exit_code == 2 and message in result.output and "Usage:" in result.output


def test_resume_continues_a_stored_sweep_from_the_store_alone(run, tmp_path):
    from landscape import stores
    from landscape.games import iter_lyapunov_map
    from landscape.jobs import CancelToken, drive

    out, xs = tmp_path / "map.zarr", np.linspace(-4, 4, 4)
    token = CancelToken()
    stream = iter_lyapunov_map("matching-pennies", "simgd", xs, xs, k=3, chunk=6, store=out, cancel=token, alpha=0.5)
    next(stream)
    token.cancel()
    drive(stream)
    assert stores.info(out)["chunks_done"] == 1
    result = run("resume", out, "--quiet")
    assert result.exit_code == 0, result.output
    expected = lyapunov_map("matching-pennies", "simgd", xs, xs, k=3, chunk=6, alpha=0.5)
    np.testing.assert_array_equal(stores.load(out).exponent.values, expected.values)
    foreign = tmp_path / "foreign.zarr"
    xr.Dataset({"a": ("x", np.zeros(2))}).to_zarr(foreign, consolidated=False)
    refused = run("resume", foreign)
    assert refused.exit_code == 2 and "not a landscape sweep store" in refused.output


def test_open_serves_the_dashboard_with_the_store(run, tmp_path, monkeypatch):
    import subprocess
    from pathlib import Path

    from landscape import cli

    out = tmp_path / "map.zarr"
    assert run("lyapunov", "matching-pennies", "--grid", 3, "--k", 2, "--out", out, "--quiet").exit_code == 0
    calls = []
    monkeypatch.setattr(subprocess, "call", lambda argv, env: calls.append((argv, env)) or 0)
    result = run("open", out, "--port", 5107, "--no-show")
    assert result.exit_code == 0, result.output
    (argv, env), = calls
    app = Path(cli.__file__).resolve().parents[1] / "app" / "main.py"
    assert argv[1:] == ["-m", "panel", "serve", str(app), "--port", "5107", "--address", "127.0.0.1",
                        "--allow-websocket-origin", "127.0.0.1:5107", "--args", "--open", str(out.resolve())]
    assert str(app.parents[1]) in env["PYTHONPATH"].split(":")
    assert "lyapunov-map (complete, 1/1 chunks)" in result.output

    residuals = tmp_path / "residuals.zarr"
    assert run("residuals", "frye-quartic", "--grid", 3, "--out", residuals, "--quiet").exit_code == 0
    assert run("open", residuals, "--no-show").exit_code == 0 and calls[-1][0][-1] == str(residuals.resolve())
    experiment = tmp_path / "critical.zarr"
    assert run("critical", "frye-quartic", "--runs", 1, "--steps", 1, "--starts", "uniform", "--out", experiment,
               "--quiet").exit_code == 0
    assert run("open", experiment, "--no-show").exit_code == 0 and calls[-1][0][-1] == str(experiment.resolve())
    runs = tmp_path / "runs.zarr"  # optimizer trajectories: no view opens those
    assert run("trajectories", "himmelblau", "--runs", 1, "--steps", 2, "--out", runs, "--quiet").exit_code == 0
    foreign = tmp_path / "foreign.zarr"
    xr.Dataset({"a": ("x", np.zeros(2))}).to_zarr(foreign, consolidated=False)
    for store, message in [(foreign, "not a landscape sweep store"), (runs, "the dashboard opens slice-2d")]:
        refused = run("open", store)
        assert refused.exit_code == 2 and message in refused.output and "Usage:" in refused.output
    assert len(calls) == 3
