"""The Games view without a server, through its public API: it follows the session's
problem, says when that is not a 2-D game, and each engine call (portrait, trajectory with
its spectra, heatmap, GRR, rate map) fills its result; the figure functions follow the data."""

import math

import holoviews as hv
import numpy as np
import pytest

from app.figures import games as fig
from app.state import AppState
from app.views.games import GamesView


def test_a_problem_that_is_not_a_planar_game_is_explained():
    state = AppState(problem_name="booth")
    view = GamesView(state=state)
    assert "booth is not a game" in view.not_applicable(view.problem)
    with pytest.raises(ValueError, match="not a game"):
        view.run()
    state.problem_name = "ipd"
    assert "10 parameters" in view.not_applicable(view.problem)


@pytest.fixture(scope="module")
def view():
    state = AppState(problem_name="matching-pennies")
    view = GamesView(state=state, rule="simgd", steps=40, resolution=6, chunk=12, k=3, grr_steps=40)
    return view


def test_portrait_follows_the_game_and_finds_the_equilibrium(view):
    assert view.alpha == 1.0  # the game's default step
    fixed = view.portrait.fixed_point.values
    np.testing.assert_allclose(fixed, [[0.0, 0.0]], atol=1e-8)
    eig = view.portrait.hessian_eig_re.values[0] + 1j * view.portrait.hessian_eig_im.values[0]
    np.testing.assert_allclose(sorted(eig.imag), [-0.25, 0.25], atol=1e-8)  # Ĥ(0) = ±i/4
    assert "fixed point (0.000, 0.000)" in fig.fixed_point_lines(view.portrait)[0]


def test_a_launched_trajectory_streams_and_gets_its_spectra(view):
    view.launch([1.0, 0.5])
    assert view.result.attrs["kind"] == "game-trajectories" and view.result.attrs["status"] == "complete"
    np.testing.assert_allclose(view.result.path.values[0, 0], [1.0, 0.5])
    assert len(view.trajectories) == 1 and view.along is not None
    assert view.along.sizes["step"] >= 2


def test_heatmap_grr_and_rate_map(view):
    view.run()
    assert view.heatmap.exponent.shape == (6, 6) and np.isfinite(view.heatmap.exponent.values).all()
    peak = view.grr_start()
    assert view.heatmap.exponent.sel(x=peak[0], y=peak[1]) == np.nanmax(view.heatmap.exponent.values)
    view.run_grr()
    assert view.tree.attrs["kind"] == "grr-tree"
    view.rate_map()
    assert 0 < view.rates.attrs["best_rate"] < 1  # some momentum converges at the equilibrium
    hv.render(view.draw(), backend="bokeh")
    hv.renderer("matplotlib").get_plot(view.draw())


def test_figure_axes_follow_the_game_box_and_numbers_are_rounded():
    bounds = ((-4.0, 4.0), (-4.0, 4.0))
    opts = fig.portrait(None, bounds).opts.get(backend="bokeh").kwargs
    assert opts["xlim"] == (-4.0, 4.0) and opts["ylim"] == (-4.0, 4.0)
    assert fig.beta_text(0.9, math.pi / 8) == "0.9·e^{i·0.125π}"
    assert fig.spectra(None).opts.get(backend="bokeh").kwargs["framewise"]
