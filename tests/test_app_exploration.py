"""Save → reopen an exploration from the dashboard's session, refused files, and URL-ready settings."""

from __future__ import annotations

import numpy as np
import xarray as xr

from app.exploration import Session
from app.state import CUSTOM, AppState
from app.views.landscape import LandscapeView


def ran_session(problem_name="himmelblau"):
    state = AppState(problem_name=problem_name)
    session = Session(state)
    view = LandscapeView(state=state, optimizers=["gd", "adam"], steps=15, chunk=5)
    session.attach("landscape", view)
    view.add_start(0.5, 0.5)
    view.hparams = {"adam": {"lr": 0.05}}
    view.run()
    return state, session, view


def test_save_and_reopen_give_identical_settings_and_results(tmp_path):
    state, session, view = ran_session()
    path = tmp_path / "exploration.nc"
    session.save(path)

    fresh_state = AppState(problem_name="booth")
    fresh = Session(fresh_state)
    other = LandscapeView(state=fresh_state)
    fresh.attach("landscape", other)
    assert fresh.open(path) and fresh_state.message == ""
    assert fresh_state.problem_name == "himmelblau" and other.problem.name == "himmelblau"
    assert other.settings() == view.settings()
    xr.testing.assert_identical(other.result, view.result)
    assert other.export.available and len(other.picker.options) == 2


def test_a_view_opened_later_gets_its_saved_state(tmp_path):
    _, session, view = ran_session()
    path = tmp_path / "exploration.nc"
    session.save(path)
    state = AppState()
    later = Session(state)
    assert later.open(path)
    built = LandscapeView(state=state)
    later.attach("landscape", built)
    assert built.settings() == view.settings()
    np.testing.assert_array_equal(built.result.theta.values, view.result.theta.values)


def test_refused_files_leave_the_session_unchanged(tmp_path):
    state, session, view = ran_session()
    before = (state.problem_name, view.settings(), view.result)
    foreign = tmp_path / "foreign.nc"
    foreign.write_bytes(b"this is not an exploration at all" * 10)
    good = tmp_path / "good.nc"
    session.save(good)
    truncated = tmp_path / "truncated.nc"
    truncated.write_bytes(good.read_bytes()[:200])
    for path in (foreign, truncated, tmp_path / "missing.nc"):
        assert not session.open(path)
        assert state.message.startswith("Error: ")
        assert (state.problem_name, view.settings(), view.result) == before


def test_a_custom_surface_reopens_as_custom(tmp_path):
    state = AppState()
    session = Session(state)
    assert state.use_expression("(x - 1)**2 + 3*(y + 2)**2")
    path = tmp_path / "custom.nc"
    session.save(path)
    other = AppState(problem_name="booth")
    assert Session(other).open(path)
    assert other.problem_name == CUSTOM and other.expression == "(x - 1)**2 + 3*(y + 2)**2"
    assert float(other.problem.loss(np.array([1.0, -2.0]))) == 0.0
