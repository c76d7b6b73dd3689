"""Save → reopen an exploration from the dashboard's session, refused files, and a session opened from a link."""

from __future__ import annotations

import asyncio

import numpy as np
import xarray as xr

from app.exploration import Session
from app.state import CUSTOM, AppState
from app.views.landscape import LandscapeView
from tests.serving import discard, served_session, until_built


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


def test_a_link_builds_its_problem_first_and_then_its_view_once_on_it(monkeypatch):
    """A served session opened from ``/main?problem=booth&landscape.steps=57`` (a reload, a copied link)
    builds booth before its first view, and that view once, on booth, with the link's settings.

    Before, the URL was read only once the page had loaded: the Landscape view was built on the
    default problem, then its surface computed again for booth, doubling a first paint's work."""
    from app import main

    views: list[tuple[str, str, object]] = []  # (key, the session's problem when it was built, the view)
    build_view = main.build_view

    def counted(spec, state):
        problem = state.problem.name
        views.append((spec.key, problem, build_view(spec, state)))
        return views[-1][2]

    monkeypatch.setattr(main, "build_view", counted)

    async def open_link():
        made = {}
        context, session = await served_session(lambda: made.setdefault("app", main.create_app()),
                                                "/main?problem=booth&landscape.steps=57", sid="link-session")
        assert await until_built(session, made["app"].main[0], 0)  # the problem, then the view, build in the pool
        await discard(context, session)

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(open_link())
    finally:
        loop.close()
    assert [(key, problem) for key, problem, _view in views] == [("landscape", "booth")]
    view = views[0][2]
    assert isinstance(view, LandscapeView) and view.problem.name == "booth" and view.steps == 57
