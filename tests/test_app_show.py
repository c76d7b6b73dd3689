"""Your own model in the dashboard without a server: ``app.show(problem)`` and ``--args --problem mod:fn``."""

from __future__ import annotations

import numpy as np
import panel as pn
import pytest

import app
from app import launch, main
from app.state import AppState
from app.views.base import BaseView
from landscape import problems
from landscape.problems import Problem

from . import own_models


@pytest.fixture(scope="module")
def quadratic():
    return own_models.make_problem()


@pytest.fixture
def built(monkeypatch):
    """The views the dashboard builds, in the order their tabs open."""
    views = []

    def build_view(spec, state):
        views.append(build(spec, state))
        return views[-1]

    build = main.build_view
    monkeypatch.setattr(main, "build_view", build_view)
    return views


def test_show_builds_the_whole_dashboard_with_the_problem_selected_beside_the_registered(quadratic, built):
    layout = app.show(quadratic)
    assert isinstance(layout, pn.Row)
    side, tabs = layout[0][0], layout[1]
    picker = side[0]
    assert picker.value == "my-quadratic-fit"
    assert set(problems.names()) <= set(picker.options) and "my-quadratic-fit" in picker.options
    for index in range(len(tabs)):
        tabs.active = index  # not served: each view is built on the spot
    views = built
    assert len(views) == len(tabs)
    assert all(isinstance(view, BaseView) for view in views), [type(v).__name__ for v in views]  # none failed
    for view in views:
        assert view.problem is quadratic
        body = view._body[0]
        # a view that does not apply says why in a short info alert instead of its controls
        if isinstance(body, pn.pane.Alert):
            assert body.alert_type == "info" and 10 < len(body.object) < 400
    picker.value = "booth"  # the registered problems stay available, and the user's comes back
    assert views[0].problem.name == "booth"
    picker.value = "my-quadratic-fit"
    assert views[0].problem is quadratic


@pytest.mark.parametrize("make", [own_models.make_flax, own_models.make_equinox], ids=["flax-nnx", "equinox"])
def test_show_with_a_flax_or_equinox_network_slices_its_loss(make, built):
    problem = make()
    layout = app.show(problem)
    landscape = built[0]
    assert layout[0][0][0].value == problem.name and landscape.problem is problem
    landscape.mode.compute()  # synchronous outside a server: the whole slice
    ds = landscape.slice_result
    assert ds is not None and ds.attrs["status"] == "complete"
    centre = np.asarray(ds.centre.values)
    # the slice's centre cell is the loss at the centre, as the problem computes it
    middle = ds.sizes["alpha"] // 2
    assert ds.loss.values[middle, middle] == pytest.approx(float(problem.loss(centre)), rel=1e-12)
    assert np.isfinite(ds.loss.values).all()


def test_a_problem_named_like_a_registered_one_is_refused(quadratic):
    clash = Problem(name="booth", dim=1, loss=quadratic.loss, sampler=quadratic.sampler)
    with pytest.raises(ValueError, match="already called 'booth'"):
        AppState().add_problem(clash)


def test_launch_imports_the_operators_function_once():
    options = launch.parse(["--problem", "tests.own_models:make_problem"])
    assert options["problem"].name == "my-quadratic-fit"
    assert launch.parse(["--problem", "tests.own_models:make_problem"])["problem"] is options["problem"]


@pytest.mark.parametrize("argv, message", [
    (["--problem", "os.system('x')"], "must look like package.module:function"),
    (["--problem", "tests.own_models"], "must look like package.module:function"),
    (["--problem", "tests.no_such_module:f"], "cannot import tests.no_such_module"),
    (["--problem", "tests.own_models:nothing"], "has no function nothing"),
    (["--problem", "tests.own_models:not_a_problem"], "must return a landscape.problems.Problem"),
    (["--problem"], "expected one argument"),
    (["--frobnicate", "1"], "unknown argument"),
])  # fmt: skip
def test_launch_refuses_bad_arguments_with_a_message(argv, message):
    with pytest.raises(launch.LaunchError, match=message):
        launch.parse(argv)


def test_switching_between_two_networks_after_a_slice_slices_the_new_one(built):
    """The Flax model shown, its slice done, then the Equinox one picked (another dimension): the old
    slice's plane is not applied to the new problem's starts (a broadcast error did, in the picker's callback)."""
    flax, equinox = own_models.make_flax(), own_models.make_equinox()
    state = AppState()
    state.add_problem(equinox, select=False)
    layout = app.show(flax, state)
    landscape = built[0]
    assert landscape.slice_result is not None and landscape.slice_result.centre.size == flax.dim
    layout[0][0][0].value = equinox.name  # the Problem picker
    assert landscape.problem is equinox
    ds = landscape.slice_result  # synchronous outside a server: the new slice is done
    assert ds is not None and ds.attrs["status"] == "complete" and ds.centre.size == equinox.dim
    assert landscape.starts.shape == (1, equinox.dim)


def test_eigenvalues_along_a_run_of_the_previous_problem_are_not_shown_after_a_switch(built, monkeypatch):
    """A run's caption and eigenvalues are computed in the background; if the user picks another problem
    meanwhile (seen inline: the Flax model picked while the Equinox run's were computed), they are dropped."""
    flax, equinox = own_models.make_flax(), own_models.make_equinox()
    state = AppState()
    state.add_problem(flax, select=False)
    layout = app.show(equinox, state)
    landscape = built[0]
    landscape.steps = 3
    landscape.run()  # synchronous outside a server
    assert landscape.result is not None and landscape.caption.object  # the selected run's caption
    pending = []
    monkeypatch.setattr(landscape.background, "submit", lambda fn, on_result, label="": pending.append((fn, on_result)))
    landscape.param.trigger("selected")  # its eigenvalues along the run: computing…
    layout[0][0][0].value = flax.name  # …when the Flax model is picked
    assert landscape.caption.object == ""
    for fn, on_result in pending:  # the old computation finishes
        on_result(fn())
    assert landscape.problem is flax and landscape.caption.object == ""
