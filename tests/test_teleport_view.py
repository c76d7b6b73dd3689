"""The Teleport view without a server, through its public API: a surface comparison runs,
reports and exports; the figure functions follow the data; the teleported point is handed
to the Critical Points view."""

import dataclasses

import holoviews as hv
import numpy as np
import panel as pn
import pytest
import xarray as xr

from app.components.export import figure_bytes
from app.figures import teleport as fig
from app.state import AppState
from app.views.teleport import TeleportView
from landscape import optim, problems
from landscape.optim import Hyper
from landscape.teleport import report


def test_surface_comparison_runs_reports_the_teleport_and_exports():
    view = TeleportView(problem=problems.get("mlp-moons"))  # not 2-D: the ellipse ½(x² + 10y²)
    assert view.surface.name == "ellipse"
    assert "mlp-moons itself is not teleported: the network teleports here act on the paper" in view._intro.object
    view.start = np.array([2.0, 0.5])
    view.epochs = 20
    view.run()  # synchronous outside a server
    assert view.runner.message == "Done"
    result = view.result
    assert list(result.arm.values) == ["plain", "teleport"]
    # the level through (2, 0.5) is 3.25; its largest ‖∇L‖² is 2·10·3.25 = 65
    assert float(result.grad_norm_sq_after[0, 0]) == pytest.approx(65.0, rel=1e-10)
    assert fig.report_lines(result)[0].startswith("teleport at epoch 0: ‖∇L‖² 29 → 65")
    assert float(result.train_loss.sel(arm="teleport")[0, -1]) < 1e-3 * float(result.train_loss.sel(arm="plain")[0, -1])
    assert fig.start_level(result) == pytest.approx(3.25)
    assert figure_bytes(view.draw(result), "png").getbuffer().nbytes > 10_000


def test_loss_axis_is_logarithmic_only_for_positive_losses():
    epochs = np.arange(4)
    def comparison(values):
        return xr.Dataset({"train_loss": (("arm", "run", "epoch"), np.asarray(values, float)[:, None])},
                          coords={"arm": ["plain", "teleport"], "epoch": epochs})
    negative = fig.curves(comparison([[-0.4, -1, -2, -3.5], [-0.4, -2, -3, np.nan]]), "train_loss")
    positive = fig.curves(comparison([[4, 3, 2, 1], [4, 2, 1, np.nan]]), "train_loss")
    assert not negative.opts.get(backend="bokeh").kwargs.get("logy", False)
    assert positive.opts.get(backend="bokeh").kwargs["logy"]
    ys = [c.dimension_values(1) for c in negative if isinstance(c, hv.Curve)]
    np.testing.assert_allclose(np.concatenate(ys), [-0.4, -1, -2, -3.5, -0.4, -2, -3])  # NaN dropped


def test_the_teleported_point_is_handed_to_critical_points():
    state = AppState(problem_name="booth")
    view = TeleportView(state=state, epochs=5)
    assert view.surface is state.problem
    with pytest.raises(ValueError, match="Run a surface comparison first"):
        view.analyse_teleported()
    view.run()
    view.analyse_teleported()
    np.testing.assert_allclose(state.focus["theta"], view.result.teleport_path.values[0][-1])
    assert state.focus["problem"] == "booth" and state.tab == "critical_points"


def test_the_live_loss_plot_turns_logarithmic_when_the_streamed_losses_are_positive():
    view = TeleportView(state=AppState(problem_name="booth"), epochs=20)
    drawn = view._curves.object
    first = hv.renderer("bokeh").get_plot(drawn)  # drawn before any result, as a browser does: a linear axis
    view.run()
    live = first if view._curves.object is drawn else hv.renderer("bokeh").get_plot(view._curves.object)
    losses = view.result.train_loss.values
    assert type(live.state.y_scale).__name__ == "LogScale"  # booth's losses (90 … 1e-7) are all positive
    assert live.state.y_range.start <= np.nanmin(losses) and live.state.y_range.end >= np.nanmax(losses)


def _lr_input(view):
    return next(box for box in view.body().select(pn.widgets.FloatInput) if box.name == "Lr")


def test_the_learning_rate_input_follows_the_catalogue_spec_of_the_optimizer(monkeypatch):
    """Bounds and doc of the lr input are the chosen optimizer's catalogue spec (a changed spec shows up);
    its value is the engine's suggested run."""
    catalogue_get = optim.get

    def changed(name):
        algorithm = catalogue_get(name)
        if name != "adagrad":
            return algorithm
        return dataclasses.replace(algorithm, hypers=(Hyper("lr", 0.5, 1e-4, 3.0, "a changed lr spec", log=True),))

    monkeypatch.setattr(optim, "get", changed)
    view = TeleportView(state=AppState(problem_name="booth"))
    box = _lr_input(view)
    gd = catalogue_get("gd").hyper("lr")
    assert (box.start, box.end, view.param.lr.doc) == (gd.low, gd.high, gd.doc)
    assert box.value == report.suggested_run(view.surface)["lr"]
    view.optimizer = "adagrad"
    assert (box.start, box.end, view.param.lr.doc) == (1e-4, 3.0, "a changed lr spec")
