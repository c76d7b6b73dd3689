"""The Landscape view without a server, through its public API: synchronous runs, slices, spectra, export."""

from __future__ import annotations

import asyncio
import re

import holoviews as hv
import jax
import jax.numpy as jnp
import numpy as np
import panel as pn
import pytest
from bokeh.models import GlyphRenderer

from app.components import export
from app.state import AppState
from app.views.landscape import SLICE_RESOLUTION, LandscapeView, path_data, selected_element, thinned
from landscape import io as landscape_io
from landscape import problems

from .drawn import curve_data


def himmelblau_grad(x, y):
    return np.array([4 * x * (x**2 + y - 11) + 2 * (x + y**2 - 7), 2 * (x**2 + y - 11) + 4 * y * (x + y**2 - 7)])


def himmelblau_hessian(x, y):
    return np.array([[12 * x**2 + 4 * y - 42, 4 * x + 4 * y], [4 * x + 4 * y, 12 * y**2 + 4 * x - 26]])


def messages_of(view):
    seen = []
    view.runner.param.watch(lambda event: seen.append(event.new), "message")
    return seen


@pytest.fixture(scope="module")
def ran():
    """A view after a synchronous run: GD (lr 0.005) and Adam from two clicked starts."""
    view = LandscapeView(problem=problems.get("himmelblau"), optimizers=["gd", "adam"], steps=30, chunk=10)
    view.add_start(0.5, 0.5)
    view.add_start(-1.0, 2.0)
    view.hparams = {"gd": {"lr": 0.005}}
    messages = messages_of(view)
    view.run()
    return view, messages


def test_view_renders_without_a_server():
    view = LandscapeView(problem=problems.get("himmelblau"))
    assert pn.panel(view).get_root() is not None
    assert view.mode.grid.loss.shape == (121, 121) and view.plot.object is not None
    view.show_3d()  # the surface in 3-D: a matplotlib PNG, rendered in the pool
    assert view.surface3d.object.startswith(b"\x89PNG\r\n\x1a\n") and view.surface3d_box.visible


def test_run_is_synchronous_and_fills_the_stored_dataset(ran):
    view, messages = ran
    result = view.result
    assert result.sizes == {"run": 4, "step": 31, "param": 2} and result.attrs["status"] == "complete"
    assert list(result.optimizer.values) == ["gd", "gd", "adam", "adam"]
    np.testing.assert_array_equal(result.theta.values[:, 0], np.tile(view.starts, (2, 1)))
    assert messages[0] == "Compiling…" and re.fullmatch(r"10 / 30( · ETA .*)?", messages[1])
    assert view.runner.message == "Done" and view.runner.progress == 1.0
    assert view.export.available and view.picker.value == 0 and view.selected == 0


def test_hyperparameters_reach_the_engine(ran):
    view, _ = ran
    theta = np.array([0.5, 0.5])
    for _ in range(30):  # hand-written GD with the lr typed in the view
        theta = theta - 0.005 * himmelblau_grad(*theta)
    np.testing.assert_allclose(view.result.theta.values[0, -1], theta, rtol=1e-10)


def test_drawn_paths_match_the_result(ran):
    view, _ = ran
    for row, theta in zip(view.live.rows, view.result.theta.values):
        np.testing.assert_array_equal(np.column_stack([row["x"], row["y"]]), theta)


def test_selected_trajectory_shows_eigenvalues_along_it(ran, monkeypatch):
    view, _ = ran
    monkeypatch.setattr(view.picker, "value", 2)  # adam from (0.5, 0.5); picked back after the test
    steps, along = view.spectra.along
    path = view.result.theta.values[2]
    expected = np.array([np.linalg.eigvalsh(himmelblau_hessian(*p)) for p in path])
    np.testing.assert_allclose(along, expected, rtol=1e-9)
    np.testing.assert_array_equal(steps, view.result.step.values)
    np.testing.assert_array_equal(view.selected_pipe.data, path)


def test_click_adds_a_start_and_shows_the_spectrum_there():
    view = LandscapeView(problem=problems.get("himmelblau"))
    view.tap(3.0, 2.0)
    np.testing.assert_array_equal(view.starts, [[3.0, 2.0]])
    theta, eigenvalues = view.spectra.point
    np.testing.assert_allclose(eigenvalues, np.linalg.eigvalsh(himmelblau_hessian(3.0, 2.0)))


def test_export_builds_files_from_the_stored_result(ran, tmp_path):
    view, _ = ran
    assert view.export.content("png").getvalue().startswith(b"\x89PNG\r\n\x1a\n")
    path = tmp_path / "trajectories.nc"
    path.write_bytes(view.export.content("nc").getvalue())
    loaded = landscape_io.load(path)
    np.testing.assert_array_equal(loaded.theta.values, view.result.theta.values)
    assert loaded.attrs["config"] == view.result.attrs["config"]
    svg = tmp_path / "figure.svg"
    export.save_figure(view.figure(), svg)
    assert b"<svg" in svg.read_bytes()[:1000]


def test_cancel_keeps_the_partial_result():
    view = LandscapeView(problem=problems.get("himmelblau"), optimizers=["gd"], steps=100, chunk=10)
    view.add_start(1.0, 1.0)
    view.runner.param.watch(lambda event: view.runner.cancel() if " / " in event.new else None, "message")
    view.run()
    assert view.result.attrs["status"] == "cancelled"
    assert np.isfinite(view.result.theta.values[0]).all(axis=1).sum() == 11  # steps 0..10
    assert view.runner.message == "Cancelled at 10%"


def test_refusals_are_messages():
    view = LandscapeView(problem=problems.get("himmelblau"))
    with pytest.raises(ValueError, match="start points"):
        view.run()
    view.add_start(0.0, 0.0)
    view.hparams = {"gd": {"momentum": 0.9}}
    with pytest.raises(ValueError, match="no hyperparameter"):
        view.run()
    assert not view.runner.running


def test_runs_are_kept_for_comparison_until_cleared():
    view = LandscapeView(problem=problems.get("himmelblau"), optimizers=["gd"], steps=12, chunk=6)
    view.add_start(0.5, 0.5)
    view.run()
    view.hparams = {"gd": {"lr": 0.002}}
    view.optimizers = ["gd", "adam"]
    view.run()
    first, second = view.history.runs
    assert second is view.result and first.sizes["run"] == 1 and second.sizes["run"] == 2
    # the loss and gradient-norm panels overlay all three runs, the newest launch last
    for name in ("loss", "grad_norm"):
        drawn = [values for _, values in curve_data(view.history.panes[name].object)]
        assert len(drawn) == 3
        for values, expected in zip(drawn, [first[name].values[0], *second[name].values]):
            np.testing.assert_array_equal(values, expected)
    assert not view.history.boxes["accuracy"].visible  # himmelblau is no classifier
    table = view.history.table.object
    assert list(table["#"]) == [2, 2, 1] and list(table["optimizer"]) == ["gd", "adam", "gd"]  # newest first
    assert list(table["hyperparameters"])[::2] == ["lr=0.002", "lr=0.01"]
    np.testing.assert_array_equal(table["final loss"], [*second.loss.values[:, -1], first.loss.values[0, -1]])
    view.picker.value = 1  # adam: the loss on the line from its start to its end
    view.interpolate_selected()
    line, end = view.history.line, second.theta.values[1, -1]
    np.testing.assert_allclose(line.centre.values + line.directions.values[0], end)
    at = {round(float(a), 6): float(v) for a, v in zip(line.alpha.values, line.loss.values)}
    assert at[0.0] == pytest.approx(second.loss.values[1, 0]) and at[1.0] == pytest.approx(second.loss.values[1, -1])
    assert view.history.boxes["interpolation"].visible
    # minimum to minimum (Li et al. §3): from the selected run's end to another run's end
    assert view.history.partner.value == 1  # the last run by default
    with pytest.raises(ValueError, match="other than the selected trajectory"):
        view.history.interpolate_ends(view.result, 1)
    view.history.partner.value = 0
    view.history.interpolate_ends(view.result, 1)
    line = view.history.line
    np.testing.assert_allclose(line.centre.values, second.theta.values[1, -1])
    np.testing.assert_allclose(line.centre.values + line.directions.values[0], second.theta.values[0, -1])
    at = {round(float(a), 6): float(v) for a, v in zip(line.alpha.values, line.loss.values)}
    assert at[0.0] == pytest.approx(second.loss.values[1, -1]) and at[1.0] == pytest.approx(second.loss.values[0, -1])
    assert (line.attrs["run_label"], line.attrs["title"]) == ("adam, start 0 → gd, start 0", "End → end line")
    view.log_scale = True  # the curves follow the toggle
    assert view.history.panes["loss"].object.opts.get("plot").kwargs["logy"]
    assert view.history.export.content("nc").getvalue()[:3] in (b"CDF", b"\x89HD")
    view.history.clear()
    assert view.history.runs == [] and view.history.table.object is None


def test_analyse_this_point_hands_the_run_end_to_critical_points():
    from app.views.critical_points import CriticalPointsView

    state = AppState(problem_name="himmelblau")
    view = LandscapeView(state=state, optimizers=["gd"], steps=10, chunk=10)
    critical = CriticalPointsView(state=state, steps=3)
    with pytest.raises(ValueError, match="Pick a trajectory of a finished run first"):
        view.analyse_selected()
    view.add_start(0.5, 0.5)
    view.add_start(-1.0, 2.0)
    view.run()
    view.picker.value = 1
    view.analyse_selected()
    end = view.result.theta.values[1, -1]
    assert state.tab == "critical_points"
    np.testing.assert_array_equal(state.focus["theta"], end)
    assert state.focus["source"] == "Landscape: end of gd lr=0.01 from (-1.00, 2.00) (step 10)"
    np.testing.assert_array_equal(critical.starts, end[None])  # the Critical Points view took it
    np.testing.assert_array_equal(critical.result.start.values[0], end)


def dense_eigenvalues(problem, theta):
    return np.linalg.eigvalsh(np.asarray(jax.hessian(problem.loss)(jnp.asarray(theta))))


@pytest.fixture(scope="module")
def moons():
    """mlp-moons picked in the sidebar after a surface: its slice is computed before the pick returns."""
    state = AppState(problem_name="himmelblau")
    view = LandscapeView(state=state, optimizers=["gd", "adam"], steps=20, chunk=10)
    messages = messages_of(view)
    state.problem_name = "mlp-moons"
    return view, messages


def test_network_shows_a_slice_through_its_init(moons):
    view, messages = moons
    problem = view.problem
    ds = view.slice_result
    assert ds.loss.dims == ("beta", "alpha") and ds.loss.shape == (SLICE_RESOLUTION, SLICE_RESOLUTION)
    assert ds.sizes["direction"] == 2 and ds.sizes["param"] == problem.dim == 162
    assert ds.attrs["status"] == "complete" and view.runner.message == "Done"
    assert "Compiling…" in messages and any(re.match(rf"\d+ / {SLICE_RESOLUTION**2}", m) for m in messages)
    np.testing.assert_array_equal(view.mode.pipe.data.loss.values, ds.loss.values)  # the plot shows it
    centre = np.asarray(problem.init(jax.random.PRNGKey(0)))
    np.testing.assert_array_equal(ds.centre.values, centre)
    np.testing.assert_array_equal(view.starts, centre[None])  # runs start at the centre
    # grid values are the loss at c + a d1 + b d2 (checked at a corner and at the centre), network
    # sweeps in float32
    assert ds.attrs["dtype"] == "float32"
    d1, d2 = ds.directions.values
    a, b = ds.alpha.values[3], ds.beta.values[-1]
    np.testing.assert_allclose(ds.loss.values[-1, 3], float(problem.loss(jnp.asarray(centre + a * d1 + b * d2))),
                               rtol=1e-5)
    middle = SLICE_RESOLUTION // 2
    np.testing.assert_allclose(ds.loss.values[middle, middle], float(problem.loss(jnp.asarray(centre))), rtol=1e-5)


def test_a_click_on_a_network_says_what_its_spectrum_costs_before_computing_it():
    """Served (asynchronous), the click shows "at most N Hessian-vector products × t ≈ T" while it computes."""
    from app.views.landscape import spectra

    async def scenario():
        view = LandscapeView(problem=problems.get("mlp-digits", hidden=[4]), sync=False)
        labels = []
        view.background.param.watch(lambda event: labels.append(event.new), "message")
        spectra.show_at(view, np.asarray(view.problem.theta0))
        while view.background.busy:
            await asyncio.sleep(0.05)
        return view, labels

    view, labels = asyncio.run(scenario())
    count = spectra.point_cost(view.problem.dim)
    assert count == view.problem.dim + spectra.SLQ_PROBES * spectra.SLQ_STEPS + spectra.TRACE_PROBES  # dense below 600
    estimates = [label for label in labels if label.startswith("Computing the spectrum: at most")]
    assert len(estimates) == 1 and re.fullmatch(
        rf"Computing the spectrum: at most {count} Hessian-vector products × [\d.]+ (µs|ms|s) ≈ [\d.]+ (µs|ms|s|min)…",
        estimates[0]), labels  # fmt: skip
    assert view.spectra.point is not None and view.spectra.density is not None  # then computed and shown


def test_click_on_a_slice_starts_there_and_shows_the_dense_spectrum(moons):
    view, _ = moons
    view.tap(0.3, -0.2)
    d1, d2 = view.slice_result.directions.values
    point = view.slice_result.centre.values + 0.3 * d1 - 0.2 * d2
    np.testing.assert_allclose(view.starts[-1], point, rtol=1e-12)
    np.testing.assert_allclose(view.spectra.point[1], dense_eigenvalues(view.problem, point), rtol=1e-7, atol=1e-9)
    # a network's click also gives the SLQ density and Hutchinson's trace estimate (64 sign probes:
    # standard deviation √(2 Σ_{i≠j} Hᵢⱼ² / 64) ≤ ‖H‖_F / 5.6)
    hessian = np.asarray(jax.hessian(view.problem.loss)(jnp.asarray(point)))
    density, trace = view.spectra.density
    assert abs(trace - np.trace(hessian)) < 4 * np.linalg.norm(hessian) / 5.6
    assert np.trapezoid(density.density.values, density.lam.values) == pytest.approx(1.0, abs=1e-2)
    view.starts = view.starts[:1]


def test_run_on_a_network_draws_projected_paths_with_residuals(moons, monkeypatch):
    view, _ = moons
    monkeypatch.setattr(view, "starts", view.starts[:1])  # the slice's centre; the shared view gets it back after
    view.random_starts(1, seed=3)  # one extra start from the sampler
    view.run()
    result, projection = view.result, view.projection
    assert result.sizes == {"run": 4, "step": 21, "param": 162}
    centre, directions = view.slice_result.centre.values, view.slice_result.directions.values
    np.testing.assert_array_equal(result.theta.values[0, 0], centre)
    # least squares: the residual vector is orthogonal to both directions, and its norm is reported
    theta = result.theta.values
    coef = np.stack([projection.alpha.values, projection.beta.values], axis=-1)
    residual = theta - centre - coef @ directions
    np.testing.assert_allclose(residual @ directions.T, 0.0, atol=1e-9)
    np.testing.assert_allclose(projection.residual.values, np.linalg.norm(residual, axis=-1), rtol=1e-9)
    assert projection.residual.values[:, 1:].min() > 0  # the runs leave the plane
    for row, run_coef in zip(view.live.rows, coef):
        np.testing.assert_allclose(np.column_stack([row["x"], row["y"]]), run_coef)
    np.testing.assert_allclose(view.selected_pipe.data, coef[0])
    assert "projection residual" in view.caption.object
    assert f"{projection.residual.values[0].max():.3g}" in view.caption.object
    # eigenvalues along the selected run: 3 smallest and 3 largest of the dense spectrum
    _, along = view.spectra.along
    last = dense_eigenvalues(view.problem, theta[0, -1])
    np.testing.assert_allclose(along[-1], np.r_[last[:3], last[-3:]], rtol=1e-6, atol=1e-9)
    assert view.export.content("png").getvalue().startswith(b"\x89PNG\r\n\x1a\n")


def test_network_runs_plot_accuracy_and_the_slice_resolution_meets_the_server_limit(moons, monkeypatch):
    view, _ = moons
    view.starts = view.slice_result.centre.values[None]  # its own run: the suite runs in random order
    view.run()
    result = view.result
    drawn = curve_data(view.history.panes["accuracy"].object)
    total = sum(kept.sizes["run"] for kept in view.history.runs)  # every launch kept: train curves, then test
    assert view.history.boxes["accuracy"].visible and len(drawn) == 2 * total and view.history.runs[-1] is result
    newest = total - result.sizes["run"]
    np.testing.assert_array_equal(drawn[newest][1], result.train_accuracy.values[0])
    np.testing.assert_array_equal(drawn[total + newest][1], result.test_accuracy.values[0])
    monkeypatch.setenv("LANDSCAPE_MAX_HEATMAP_RESOLUTION", "40")
    view.resolution = 41
    with pytest.raises(ValueError, match="heatmap_resolution = 41 is over this server's limit of 40"):
        view.compute_slice()
    view.resolution = SLICE_RESOLUTION


def test_pca_directions_need_a_run_first():
    view = LandscapeView(problem=problems.get("mlp-moons"), direction="pca")
    assert view.runner.message.startswith("Error: PCA directions need a run")
    assert view.slice_result is None


def test_switching_to_a_network_mid_run_drops_the_old_run_and_slices_afterwards():
    state = AppState(problem_name="himmelblau")
    view = LandscapeView(state=state, optimizers=["gd"], steps=100, chunk=10)
    view.add_start(1.0, 1.0)

    def switch(event):
        if " / 100" in event.new and state.problem_name != "mlp-moons":
            state.problem_name = "mlp-moons"

    view.runner.param.watch(switch, "message")
    view.run()  # synchronous: the cancelled run ends, then the slice runs, before run() returns
    assert view.result is None and view.live.rows == []  # the himmelblau run never lands on the slice
    assert view.slice_result.attrs["status"] == "complete" and view.runner.message == "Done"
    assert view.starts.shape == (1, 162)


def test_selected_path_is_drawn_above_the_streamed_paths():
    figure = hv.render(selected_element(np.array([[0.0, 0.0], [1.0, 1.0]])), backend="bokeh")
    (renderer,) = figure.select({"type": GlyphRenderer})
    assert renderer.level == "overlay"  # the streamed paths are added later at "glyph" level


def test_live_paths_are_thinned_but_keep_their_end():
    theta = np.cumsum(np.ones((1, 5001, 2)), axis=1)
    (row,) = path_data(theta, ["gd"], max_points=2000)
    assert len(row["x"]) <= 2000 + 1
    np.testing.assert_array_equal(row["x"][[0, -1]], theta[0, [0, -1], 0])
    np.testing.assert_array_equal(row["x"][:-1], theta[0, :-1:3, 0])
    np.testing.assert_array_equal(thinned(10, 20), np.arange(10))


def test_readme_notebook_snippet_runs_verbatim():
    """The README's notebook cell, executed as written: view.result is there right after view.run()."""
    readme = open("README.md", encoding="utf-8").read()
    (snippet,) = [block for block in re.findall(r"```python\n(.*?)```", readme, re.S) if "LandscapeView" in block]
    namespace = {}
    exec(compile(snippet, "README.md", "exec"), namespace)  # the project's own README, not user input
    view = next(v for v in namespace.values() if isinstance(v, LandscapeView))
    assert view.result is not None and view.result.attrs["status"] == "complete"


def test_a_slice_says_compiling_before_its_plot_is_rebuilt_and_a_click_does_not_redraw_it(monkeypatch):
    """First feedback first: the slice's status is set before its plot is rebuilt (served, the rebuild runs in
    a later tick, after the status went out), and a click on the slice redraws an empty tap layer, not the
    slice's image and contours (whose patch reached the browser before the click's "Timing…")."""
    from app.views.landscape import modes, spectra

    monkeypatch.setattr(spectra, "show_at", lambda view, point: None)  # the click's spectrum: tested above
    view = LandscapeView(problem=problems.get("mlp-moons"), resolution=5)
    rebuilt, rebuild = [], view.show_plot
    monkeypatch.setattr(view, "show_plot", lambda: (rebuilt.append((view.runner.running, view.runner.message)),
                                                    rebuild())[1])
    view.compute_slice()
    assert rebuilt[0] == (True, "Compiling…") and view.runner.message == "Done"
    hv.renderer("bokeh").get_plot(view.plot.object)  # a live plot: its DynamicMaps redraw when their streams fire
    drawn, draw = [], modes.surface_element
    monkeypatch.setattr(modes, "surface_element", lambda *args, **kwargs: drawn.append(1) or draw(*args, **kwargs))
    view.mode.tap.event(x=0.1, y=-0.2)
    assert drawn == [] and len(view.starts) == 2  # the slice's centre, then the click
    np.testing.assert_allclose(view.mode.xy(view.starts[-1:]), [[0.1, -0.2]], atol=1e-5)


def test_a_new_problem_clears_the_old_problems_spectra():
    state = AppState(problem_name="himmelblau", sync=True)
    view = LandscapeView(state)
    view.tap(1.0, 1.0)
    assert view.spectra.point is not None
    state.problem_name = "booth"
    assert view.spectra.point is None and view.spectra.along is None and view.spectra.density is None
    titles = [pane.object.opts.get("plot").kwargs.get("title") for pane in pn.panel(view.spectra).select(pn.pane.HoloViews)
              if pane.object is not None]
    assert titles == [view.spectra.point_hint, view.spectra.along_hint]
