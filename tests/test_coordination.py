"""Zero-shot coordination (Ridge Rider Algorithm 3) streamed, and the Coordination view through its public API."""

from __future__ import annotations

import dataclasses

import holoviews as hv
import numpy as np
import panel as pn
import pytest

from app.figures.coordination import coordination_figure, payoff_bars
from app.state import AppState
from app.views.coordination import CoordinationView
from landscape.jobs import drive
from landscape.problems import get
from landscape.ridge_rider import zsc

SMALL = dict(n_ridges=3, mis_steps=60, max_steps=20)  # a quick setting: the numbers are not the paper's


def _softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


@pytest.fixture(scope="module")
def streamed():
    """Three small runs on the lever game: (events, final result)."""
    events = []
    result = drive(zsc.iter_zero_shot_coordination(get("lever-game"), 3, **SMALL), events.append)
    return events, result


def test_streamed_runs_fill_in_and_cross_play_is_the_numpy_mean_over_run_pairs(streamed):
    game = get("lever-game")
    events, result = streamed
    assert [e.done for e in events] == [1, 2, 3] and all(e.partial.attrs["status"] == "running" for e in events)
    assert [e.partial.attrs["runs_done"] for e in events] == [1, 2, 3]
    first = events[0].partial
    assert np.isnan(first.self_play.values[1:]).all()  # runs not yet finished are NaN rows
    np.testing.assert_array_equal(first.solution.values[0], result.solution.values[0])
    assert result.attrs["status"] == "complete"
    k, payoffs = len(game.extras["payoffs"]), game.extras["payoffs"]
    for ridge in result.ridge.values:
        thetas = result.solution.values[:, ridge]
        expected = np.mean([_softmax(a[:k]) @ (_softmax(b[k:]) * payoffs) for a in thetas for b in thetas])
        np.testing.assert_allclose(result.cross_play.values[ridge], expected, rtol=1e-5)
        for run, theta in enumerate(thetas):  # self-play is the loss's negative at the kept solution
            np.testing.assert_allclose(result.self_play.values[run, ridge],
                                       _softmax(theta[:k]) @ (_softmax(theta[k:]) * payoffs), rtol=1e-5)
            assert tuple(result.greedy.values[run, ridge]) == (np.argmax(theta[:k]), np.argmax(theta[k:]))
    assert result.attrs["selected"] == int(np.argmax(result.cross_play.values))


def test_a_problem_without_cross_play_is_refused_by_name():
    with pytest.raises(ValueError, match="himmelblau has no cross_play"):
        next(zsc.iter_zero_shot_coordination(get("himmelblau"), 2))
    with pytest.raises(ValueError, match="1 ≤ n_ridges ≤ 20"):
        next(zsc.iter_zero_shot_coordination(get("lever-game"), 2, n_ridges=21))


def test_the_view_runs_the_papers_setting_draws_it_and_hands_the_selected_solution_over():
    state = AppState(problem_name="lever-game")
    view = CoordinationView(state=state, n_runs=2, n_ridges=2)
    view.run()
    result = view.result
    expected = zsc.zero_shot_coordination(state.problem, 2, n_ridges=2, **zsc.LEVER_SETTINGS)
    np.testing.assert_array_equal(result.solution.values, expected.solution.values)
    assert view.runner.message == "Done" and view.export.available
    assert view.export.content("png").getvalue().startswith(b"\x89PNG")
    assert (result.greedy.values[:, 0] == 9).all()  # ridge 0: both players of both runs pull the 0.6 lever
    view.analyse_selected()
    selected = result.attrs["selected"]
    assert state.tab == "critical_points"
    np.testing.assert_array_equal(state.focus["theta"], result.solution.values[0, selected])
    state.problem_name = "himmelblau"
    assert view.result is None
    with pytest.raises(ValueError, match="needs a two-player coordination game"):
        view.run()


def test_too_many_ridges_is_a_message_not_a_run():
    view = CoordinationView(problem=get("lever-game", payoffs=[1.0, 0.5]), n_ridges=5)
    with pytest.raises(ValueError, match="n_ridges = 5: lever-game has 4 ridges at most"):
        view.run()
    assert view.result is None


def test_a_hostile_problem_name_in_the_not_applicable_message_is_escaped():
    hostile = dataclasses.replace(get("booth"), name='<img src=x onerror="window.__xss=1">')
    view = CoordinationView(problem=hostile)
    alerts = [a.object for a in pn.panel(view).select(pn.pane.Alert) if "coordination game" in a.object]
    assert len(alerts) == 1 and "<img" not in alerts[0] and "&lt;img" in alerts[0]


def test_the_figure_draws_a_partial_result_with_no_run_finished_and_a_finished_one(streamed):
    result = streamed[1]
    empty = result.copy(deep=True)
    for name in ("self_play", "solution", "cross_play"):
        empty[name][:] = np.nan
    empty.attrs.update(selected=-1, best_score=float("nan"), status="running")
    for ds in (empty, result):
        hv.render(coordination_figure(ds), backend="bokeh")
        hv.render(coordination_figure(ds), backend="matplotlib")
    assert "no score yet" in payoff_bars(empty).opts.get().kwargs["title"]
    chosen = payoff_bars(result).get(2)  # the selected ridge's star sits on its cross-play bar
    assert chosen.data.iloc[0].tolist() == [str(result.attrs["selected"]), result.attrs["best_score"]]
