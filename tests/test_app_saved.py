"""A sweep store opened in the dashboard (``landscape open``): shown in its view, resumed there, refused with a message."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from app import launch, main
from app.exploration import Session
from app.state import AppState
from app.views.critical_points import CriticalPointsView
from app.views.games import GamesView
from app.views.landscape import LandscapeView
from landscape import problems, stores
from landscape.critical import iter_experiment, iter_residual_map
from landscape.games import iter_lyapunov_map
from landscape.jobs import CancelToken, drive
from landscape.slices import iter_slice, make_directions

XS = np.linspace(-4, 4, 4)  # matching-pennies' box


def lyapunov(store=None, cancel=None):
    return iter_lyapunov_map("matching-pennies", "simgd", XS, XS, k=3, chunk=5, store=store, cancel=cancel, alpha=0.5)


def interrupted(make, path):
    """The sweep ``make(path, cancel=token)`` cancelled after its first chunk: an unfinished store."""
    token = CancelToken()
    stream = make(path, cancel=token)
    next(stream)
    token.cancel()
    drive(stream)
    return path


def tab_of(tabs, key):
    index = [spec.key for spec in main.discover()].index(key)
    return tabs.active, tabs[index]


def test_an_unfinished_lyapunov_store_opens_in_games_and_resumes_only_its_missing_chunks(tmp_path, monkeypatch):
    path = interrupted(lyapunov, tmp_path / "map.zarr")
    sessions = []
    monkeypatch.setattr(main, "Session", lambda state: sessions.append(Session(state)) or sessions[-1])
    state = AppState()
    _, tabs = main.dashboard(state, store=str(path))  # what `panel serve app/main.py --args --open` builds
    active, tab = tab_of(tabs, "games")
    assert state.problem.name == "matching-pennies" and tabs._names[active] == "Games"
    line, view = tab[0], sessions[0].views["games"]
    assert isinstance(view, GamesView) and sessions[0].opened.view is view
    assert "map.zarr: a lyapunov-map of matching-pennies, cancelled (1/4 chunks, 5/16 cells)" in line[0].object
    stored = stores.load(path, allow_partial=True).exponent.values
    np.testing.assert_array_equal(view.heatmap.exponent.values, stored)  # the partial map, NaN where missing
    assert np.isnan(stored).sum() == 11
    assert (view.rule, view.hparams["simgd"], view.k, view.resolution) == ("simgd", {"alpha": 0.5}, 3, 4)
    resume = line[1]
    assert resume.visible and resume.name == "Resume"

    resume.clicks += 1  # the sync runner computes the missing chunks here
    expected = drive(lyapunov()).exponent.values
    np.testing.assert_array_equal(view.heatmap.exponent.values, expected)
    assert stores.info(path)["status"] == "complete" and not resume.visible and view.runner.message == "Done"
    assert "complete (4/4 chunks" in line[0].object


def test_a_slice_store_with_problem_options_opens_as_the_landscape_plane(tmp_path):
    problem = problems.get("mlp-digits", hidden=[3])
    centre = np.asarray(problem.init(np.asarray([0, 1], dtype=np.uint32)))
    directions = make_directions(problem, "random", centre, 2)
    grid = np.linspace(-1, 1, 4)

    def make(path, cancel=None):
        return iter_slice(problem, centre, directions, grid, chunk=4, direction_kind="random", store=path,
                          cancel=cancel)

    path = interrupted(make, tmp_path / "slice.zarr")
    state = AppState()
    session = Session(state)
    assert session.open_store(path) and state.problem.config() == problem.config()  # the options, not the defaults
    opened = state.problem
    view = LandscapeView(state=state)
    session.attach("landscape", view)
    np.testing.assert_array_equal(view.slice_result.loss.values, stores.load(path, allow_partial=True).loss.values)
    np.testing.assert_array_equal(view.mode.plane[0], centre)  # the plane runs are drawn on
    assert (view.direction, view.span, view.resolution) == ("random", 1.0, 4)
    session.opened.resume()
    assert view.runner.message == "Done"  # not "Cancelled at 100%"
    xr.testing.assert_identical(view.slice_result.loss, drive(make(None)).loss)
    assert state.problem is opened and view.slice_result.attrs["status"] == "complete"


def test_an_unfinished_residual_map_store_opens_in_critical_points_and_resumes(tmp_path):
    problem = problems.get("frye-quartic")

    def make(path, cancel=None):
        return iter_residual_map(problem, 5, chunk=9, store=path, cancel=cancel)

    path = interrupted(make, tmp_path / "residuals.zarr")
    state = AppState()
    session = Session(state)
    assert session.open_store(path) and state.problem.name == "frye-quartic" and state.tab == "critical_points"
    view = CriticalPointsView(state=state)  # computes its own 81² map (sync runner), then shows the stored one
    session.attach("critical_points", view)
    partial = stores.load(path, allow_partial=True)
    assert view.field.r.shape == partial.r.shape != (81, 81)
    np.testing.assert_array_equal(view.field.r.values, partial.r.values)  # NaN where not computed
    assert np.isnan(partial.r.values).sum() == partial.r.size - 9
    assert "a residual-map of frye-quartic, cancelled (1/" in session.opened.describe()
    session.opened.resume()
    expected = drive(make(None))
    np.testing.assert_array_equal(view.field.r.values, expected.r.values)
    assert stores.info(path)["status"] == "complete" and view.runner.message == "Done"
    state.show(problems.get("six-hump-camel"), "six-hump-camel")  # another problem: the view draws its own map
    assert view.field is not None and view.field.r.shape == (81, 81)


def test_an_unfinished_critical_points_store_opens_with_its_runs_and_resumes(tmp_path):
    problem = problems.get("frye-quartic")

    def make(path, cancel=None):
        return iter_experiment(problem, "damped-newton", num_runs=3, starts="uniform", num_steps=4, runs_per_task=1,
                               store=path, cancel=cancel)

    path = interrupted(make, tmp_path / "critical.zarr")
    state = AppState()
    session = Session(state)
    assert session.open_store(path) and state.problem.name == "frye-quartic" and state.tab == "critical_points"
    view = CriticalPointsView(state=state)
    session.attach("critical_points", view)
    assert (view.method, view.num_runs, view.steps) == ("damped-newton", 3, 4)  # the stored experiment's settings
    assert view.result.sizes["run"] == 1  # the finished batch
    assert "a critical-points of frye-quartic, cancelled (1/3 chunks, 1/3 runs)" in session.opened.describe()
    session.opened.resume()
    expected = drive(make(None))
    assert view.result.sizes["run"] == 3 and view.runner.message == "Done"
    np.testing.assert_array_equal(view.result.theta.values, expected.theta.values)


def test_refused_stores_give_a_message_and_exit_status_2(tmp_path):
    foreign = tmp_path / "foreign.zarr"
    xr.Dataset({"loss": ("alpha", np.zeros(3))}).to_zarr(foreign, consolidated=False)
    corrupt = tmp_path / "corrupt.zarr"
    corrupt.mkdir()
    (corrupt / "zarr.json").write_text("{not json")
    state = AppState()
    shown = state.problem
    assert not Session(state).open_store(foreign)
    assert "not a landscape sweep store" in state.message and state.problem is shown
    with pytest.raises(launch.LaunchError, match="not a readable zarr store"):
        launch.parse(["--open", str(corrupt)])
    child = subprocess.run([sys.executable, "-c", "import sys; from app import launch; "
                            "launch.options_or_exit(sys.argv[1:])", "--open", str(foreign)],
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == 2 and "--open" in child.stderr and "not a landscape sweep store" in child.stderr
    assert "Traceback" not in child.stderr
