"""The Games view without a server, through its public API: it follows the session's
problem, says when that is not a 2-D game, and each engine call (portrait, trajectory with
its spectra, heatmap, GRR, rate map) fills its result; the figure functions follow the data.
Its hyperparameter inputs are generated from the catalogue's specs (:mod:`landscape.optim`)."""

import dataclasses
import math

import holoviews as hv
import numpy as np
import panel as pn
import pytest

from app.figures import games as fig
from app.state import AppState
from app.views.games import GamesView
from landscape.games import explore, rules
from landscape.optim import Hyper
from landscape.problems import get
from landscape.results import config_of


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
    assert view.hyper() == {"alpha": 1.0}  # the game's suggested step (simgd: α only)
    assert view.hparams == {} and explore.suggested_hypers(get("matching-pennies"))["lola"] == {"alpha": 1.0,
                                                                                               "lookahead": 1.0}
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
    assert config_of(view.rates)["alpha"] == 1.0  # simgd's α
    hv.render(view.draw(), backend="bokeh")
    hv.renderer("matplotlib").get_plot(view.draw())


def test_figure_axes_follow_the_game_box_and_numbers_are_rounded():
    bounds = ((-4.0, 4.0), (-4.0, 4.0))
    opts = fig.portrait(None, bounds).opts.get(backend="bokeh").kwargs
    assert opts["xlim"] == (-4.0, 4.0) and opts["ylim"] == (-4.0, 4.0)
    assert fig.beta_text(0.9, math.pi / 8) == "0.9·e^{i·0.125π}"
    assert fig.spectra(None).opts.get(backend="bokeh").kwargs["framewise"]


def _inputs(view) -> dict[str, pn.widgets.FloatInput]:
    """The view's number inputs by label (a label shared by several rules: the last one)."""
    return {box.label: box for box in view.body().select(pn.widgets.FloatInput)}


def test_inputs_come_from_the_catalogue_specs(monkeypatch):
    """A changed spec (default, bounds, doc) shows up in the generated input: the view declares none."""
    spec = Hyper("beta", 0.25, -0.5, 0.75, "a changed β spec")
    monkeypatch.setitem(rules.RULES, "momentum", dataclasses.replace(rules.RULES["momentum"], hypers=(
        rules.RULES["momentum"].hyper("alpha"), spec)))
    view = GamesView(state=AppState(problem_name="matching-pennies"), rule="momentum")
    box = _inputs(view)["beta"]
    assert (box.value, box.start, box.end, box.description) == (0.25, -0.5, 0.75, "a changed β spec")
    arg = rules.RULES["complex-adam"].hyper("beta_arg")  # the last rule with a beta_arg
    box = _inputs(view)["beta_arg"]
    assert (box.value, box.start, box.end) == (arg.default, arg.low, arg.high)
    _inputs(view)["beta"].value = 0.5  # typed in the widget: written to hparams, the rule's runs use it
    assert view.hparams["momentum"] == {"beta": 0.5} and view.hyper() == {"alpha": 1.0, "beta": 0.5}
    assert _inputs(view)["alpha"].value == 1.0  # unset: the game's suggested step

def test_rate_map_click_settings_round_trip_and_older_settings():
    view = GamesView(state=AppState(problem_name="matching-pennies"), rule="simgd")
    view.param.update(rule="lola", hparams={**view.hparams, "lola": {"alpha": 0.5, "lookahead": 2.0}})
    assert view.hyper() == {"alpha": 0.5, "lookahead": 2.0}
    view.rate_map()
    view.use_beta(1.0, 0.5)  # a click on the rate map at arg β = 1, |β| = 0.5
    assert view.rule == "simcm" and view.hyper() == {"alpha": 0.5, "beta_abs": 0.5, "beta_arg": 1.0}
    reopened = GamesView(state=AppState(problem_name="matching-pennies"))
    reopened.restore(view.settings())
    assert (reopened.rule, reopened.hparams) == (view.rule, view.hparams)
    reopened.restore({"rule": "momentum", "alpha": 2.0, "beta": -0.3})  # saved before hparams: moved into it
    assert reopened.hyper() == {"alpha": 2.0, "beta": -0.3} and reopened.hparams["lola"]["alpha"] == 2.0
    with pytest.raises(ValueError, match="lola: alpha=1000 is out of range"):
        reopened.param.update(rule="lola", hparams={"lola": {"alpha": 1000}})
        reopened.rate_map()
