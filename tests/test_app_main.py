"""The dashboard shell without a server: tabs, sidebar, custom expressions."""

from __future__ import annotations

import asyncio
import threading

import panel as pn
import pytest

from app import main, runner
from app.components.text import escape
from app.state import CUSTOM, AppState
from app.views import ViewSpec
from app.views.base import BaseView
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


class GameOnly(BaseView):
    """A view for games; its set-up can move the sidebar's picker (a switch made while a view is built)."""

    title = "Game only"
    switch_to = ""

    def setup(self) -> None:
        if self.switch_to:
            self.state.problem_name = self.switch_to

    def not_applicable(self, problem) -> str:
        return "" if isinstance(problem, problems.Game) else f"{problem.name} is not a game"


def test_a_problem_switched_while_a_view_is_built_reaches_it():
    # the walkthrough's lost Games step: the picker moved to matching-pennies while the Games tab was built,
    # and the tab stayed on "rr-demo is not a game"
    state = AppState(problem_name="rr-demo", sync=True)
    view = type("Switching", (GameOnly,), {"switch_to": "matching-pennies"})(state=state, sync=True)
    assert view.problem.name == "matching-pennies" and view._body[0] is view._content
    state.problem_name = "booth"
    assert view.problem.name == "booth" and "booth is not a game" in view._body[0].object


def test_a_view_built_in_a_worker_follows_the_session_only_once_built_from_the_loop():
    state, loop = AppState(problem_name="rr-demo", sync=True), asyncio.new_event_loop()
    views = []

    def build():
        with runner.building_on(loop):
            views.append(GameOnly(state=state, sync=True))

    worker = threading.Thread(target=build)
    worker.start()
    worker.join()
    view = views[0]
    state.problem_name = "matching-pennies"  # on the loop, before the builder hands the view over
    assert view.problem.name == "rr-demo"  # not changed under the building worker's feet
    view.follow()  # what the tab's builder does on the loop once the view is built
    assert view.problem.name == "matching-pennies" and view._body[0] is view._content
    state.problem_name = "booth"
    assert view.problem.name == "booth"
    loop.close()


def test_a_point_handed_over_while_critical_points_is_built_is_taken_once_built():
    """A hand-over (Coordination's "Analyse") that lands while a worker builds the Critical Points tab, after a
    problem switch: taken by follow(), not dropped because the half-built view still had the old problem."""
    from app.views.critical_points import CriticalPointsView

    state, loop = AppState(problem_name="rr-demo", sync=True), asyncio.new_event_loop()
    views = []

    def build():
        with runner.building_on(loop):
            views.append(CriticalPointsView(state=state, sync=True, steps=5))

    worker = threading.Thread(target=build)
    worker.start()
    worker.join()
    view = views[0]
    state.problem_name = "booth"  # on the loop, before the builder hands the view over
    state.hand_over([1.0, 3.0], "test: the minimum of booth")
    assert view.result is None and view.problem.name == "rr-demo"
    view.follow()  # what the tab's builder does on the loop once the view is built
    assert view.problem.name == "booth" and view.starts.tolist() == [[1.0, 3.0]]
    assert view.result.sizes["run"] == 1 and view.result.attrs["method"] == "newton-mr"
    loop.close()


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
