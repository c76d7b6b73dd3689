"""The dashboard shell without a server: tabs, sidebar, custom expressions."""

from __future__ import annotations

import panel as pn
import pytest

from app import main
from app.components.text import escape
from app.state import CUSTOM, AppState
from app.views import ViewSpec
from app.views.landscape import LandscapeView
from landscape import problems


@pytest.fixture(scope="module")
def app():
    return main.create_app()


def test_template_has_the_views_as_tabs_landscape_first(app):
    tabs = app.main[0]
    assert isinstance(tabs, pn.Tabs)
    assert tabs._names[0] == "Landscape"
    assert len(tabs) == len(main.discover())


def test_tabs_build_views_when_first_opened_and_share_the_state():
    built = []

    def factory(state=None):
        built.append(state)
        return pn.pane.Markdown(state.problem.name)

    state = AppState()
    specs = [main.discover()[0], ViewSpec(key="probe", title="Probe", factory=factory)]
    tabs = main.view_tabs(state, specs)
    assert tabs._names == ["Landscape", "Probe"] and built == []  # both tabs at once; Landscape built, Probe not
    tabs.active = 1
    tabs.active = 0
    tabs.active = 1
    assert built == [state]  # built once, on first opening, with the session's state
    landscape = tabs[0]
    state.problem_name = "booth"
    assert "booth" in landscape[0].object  # the Landscape view's description follows the picker


def test_picker_offers_every_registered_problem_by_kind(app):
    picker = app.sidebar[0][0]
    offered = list(picker.options)
    assert offered[-1] == CUSTOM and sorted(offered[:-1]) == sorted(problems.names())
    kinds = [problems.entry(name).kind for name in offered[:-1]]
    order = ["surface", "network", "game", "rl"]
    assert "game" in kinds and sorted(kinds, key=order.index) == kinds
    assert picker.value in ("rr-demo", "himmelblau")


def test_a_game_picked_in_the_sidebar_reaches_the_views_which_say_if_they_do_not_apply():
    state = AppState(problem_name="himmelblau")
    view = LandscapeView(state=state)
    state.problem_name = "matching-pennies"
    assert view.problem.name == "matching-pennies" and view.result is None
    with pytest.raises(ValueError, match="is a game"):
        view.run()


@pytest.mark.parametrize("text", ["__import__('os').system('true')", "x.real + y", "lambda x: x"])
def test_refused_expression_shows_a_message_and_keeps_the_session(text):
    state = AppState(problem_name="himmelblau")
    view = LandscapeView(state=state)
    view.add_start(1.0, 1.0)
    bar = main.sidebar(state)
    box, button, alert = bar[2], bar[3], bar[4]
    box.value = text
    button.clicks += 1
    assert alert.visible and escape(state.message) in alert.object
    with pytest.raises(ValueError) as refused:
        problems.from_expression(text)
    assert state.message == str(refused.value)
    assert state.problem.name == "himmelblau" and view.problem.name == "himmelblau"
    assert view.starts.tolist() == [[1.0, 1.0]]


def test_accepted_expression_replaces_the_surface():
    state = AppState(problem_name="himmelblau")
    view = LandscapeView(state=state)
    assert state.use_expression("(x - 1)**2 + 3*(y + 2)**2")
    assert state.message == "" and view.problem is state.problem and view.problem.is_2d
    view.add_start(0.0, 0.0)
    view.tap(0.5, 0.5)  # the Hessian of the typed quadratic is diag(2, 6)
    assert view.spectra.point[1] == pytest.approx([2.0, 6.0])
    assert state.problem_name == CUSTOM  # the picker says so
    state.problem_name = "himmelblau"  # re-selecting the previous problem works
    assert view.problem.name == "himmelblau"
    state.problem_name = CUSTOM  # and the typed surface comes back
    assert view.problem.is_2d and view.problem is not problems.get("himmelblau")
