"""The base view without a server: the docstring's example view, end to end, through public API only."""

from __future__ import annotations

import re

import holoviews as hv
import jax
import jax.numpy as jnp
import numpy as np
import panel as pn
import pytest

import app.views as views_package
from app.state import AppState
from app.views.base import BaseView
from landscape import problems


def example_namespace():
    """Execute the "How to add a view" example from app/views/__init__.py as a module."""
    code = re.search(r"A complete view.*?::\n\n(.*?)\n\nOverride", views_package.__doc__, re.S).group(1)
    code = "\n".join(line[4:] for line in code.splitlines())
    code = code.replace("from ..components", "from app.components").replace("from .base", "from app.views.base")
    code = code.replace("from . import ViewSpec", "from app.views import ViewSpec")
    namespace = {}
    exec(compile(code, "<views docstring>", "exec"), namespace)  # our own docstring, not user input
    return namespace, code


def test_the_documented_view_is_short_and_runs_synchronously():
    namespace, code = example_namespace()
    assert len(code.splitlines()) < 60
    state = AppState(problem_name="mlp-moons")
    view = namespace["SliceView"](state=state, span=0.5, resolution=5)
    view.run()
    result = view.result
    assert result.attrs["status"] == "complete" and view.runner.message == "Done"
    problem = state.problem
    centre, (d1, d2) = result.centre.values, result.directions.values
    a, b = result.alpha.values[1], result.beta.values[3]
    expected = float(problem.loss(jnp.asarray(centre + a * d1 + b * d2)))
    assert result.attrs["dtype"] == "float32"  # network slices sweep in float32 (issue 15)
    np.testing.assert_allclose(result.loss.values[3, 1], expected, rtol=1e-5)
    figure = namespace["slice_figure"](result)
    assert isinstance(figure, hv.Overlay)
    assert view.export.available
    png = view.export.content("png").getvalue()  # what the PNG button downloads
    assert png.startswith(b"\x89PNG")
    assert pn.panel(view).get_root() is not None


def test_not_applicable_shows_the_reason_and_refuses_to_run():
    namespace, _ = example_namespace()
    state = AppState(problem_name="himmelblau")
    view = namespace["SliceView"](state=state)
    with pytest.raises(ValueError, match="its own slice"):
        view.run()
    assert view.result is None
    state.problem_name = "mlp-moons"
    view.run()
    assert view.result is not None
    state.problem_name = "booth"  # a new problem resets the result
    assert view.result is None and view.selected is None


def test_settings_round_trip_and_refuse_unknown_keys():
    namespace, _ = example_namespace()
    view = namespace["SliceView"](problem=problems.get("mlp-moons"), span=0.25, resolution=7)
    saved = view.settings()
    assert saved == {"span": 0.25, "resolution": 7}
    other = namespace["SliceView"](problem=problems.get("mlp-moons"))
    other.restore(saved)
    assert other.settings() == saved
    with pytest.raises(ValueError, match="no setting colour"):
        other.restore({"colour": "red"})


def test_a_failing_engine_call_is_a_message():
    class Broken(BaseView):
        title = "Broken"

        def stream(self, cancel):
            raise FloatingPointError("the loss is NaN at the start")

    view = Broken(problem=problems.get("himmelblau"))
    view.run()
    assert view.runner.message == "Error: the loss is NaN at the start" and view.result is None


def test_base_view_is_abstract_about_its_engine_call():
    assert issubclass(BaseView, pn.viewable.Viewer)
    view = BaseView(problem=problems.get("himmelblau"))
    view.run()
    assert view.runner.message.startswith("Error: NotImplementedError")
