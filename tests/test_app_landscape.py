"""The Landscape view without a server: build, synchronous runs, spectra, export."""

from __future__ import annotations

import numpy as np
import panel as pn
import pytest

from app.components import export
from app.views.landscape import OPTIMIZER_COLORS, LandscapeView, path_data, thinned
from landscape import io as landscape_io
from landscape import problems


def himmelblau_grad(x, y):
    return np.array([4 * x * (x**2 + y - 11) + 2 * (x + y**2 - 7), 2 * (x**2 + y - 11) + 4 * y * (x + y**2 - 7)])


def himmelblau_hessian(x, y):
    return np.array([[12 * x**2 + 4 * y - 42, 4 * x + 4 * y], [4 * x + 4 * y, 12 * y**2 + 4 * x - 26]])


@pytest.fixture(scope="module")
def ran():
    """A view after a synchronous run: GD (lr 0.005) and Adam from two clicked starts."""
    view = LandscapeView(problem=problems.get("himmelblau"), optimizers=["gd", "adam"], steps=30, chunk=10)
    view.add_start(0.5, 0.5)
    view.add_start(-1.0, 2.0)
    view.hparams = {"gd": {"lr": 0.005}}
    chunks = []
    original = view._on_chunk
    view._on_chunk = lambda event: (chunks.append(event.done), original(event))
    view.run()
    return view, chunks


def test_view_renders_without_a_server():
    view = LandscapeView(problem=problems.get("himmelblau"))
    root = pn.panel(view).get_root()
    assert root is not None
    assert view._plot_area.visible and not view._notice.visible
    assert view._grid.loss.shape == (121, 121)


def test_synchronous_run_fills_the_stored_dataset(ran):
    view, chunks = ran
    result = view.result
    assert chunks == [10, 20, 30]
    assert result.sizes == {"run": 4, "step": 31, "param": 2}
    assert list(result.optimizer.values) == ["gd", "gd", "adam", "adam"]
    np.testing.assert_array_equal(result.theta.values[:, 0], np.tile(view.starts, (2, 1)))
    assert view.runner.message == "Done" and view.runner.progress == 1.0
    assert view.export.available and view._picker.value == 0


def test_hyperparameters_reach_the_engine(ran):
    view, _ = ran
    theta = np.array([0.5, 0.5])
    for _ in range(30):  # hand-written GD with the lr typed in the view
        theta = theta - 0.005 * himmelblau_grad(*theta)
    np.testing.assert_allclose(view.result.theta.values[0, -1], theta, rtol=1e-10)


def test_streamed_paths_match_the_result(ran):
    view, _ = ran
    rows = view._live.rows
    assert len(rows) == 4
    assert [row["color"] for row in rows[::2]] == [OPTIMIZER_COLORS["gd"], OPTIMIZER_COLORS["adam"]]
    for row, theta in zip(rows, view.result.theta.values):
        np.testing.assert_array_equal(np.column_stack([row["x"], row["y"]]), theta)


def test_selected_trajectory_shows_eigenvalues_along_it(ran):
    view, _ = ran
    view._picker.value = 2  # adam from (0.5, 0.5)
    along = view.spectra._along.object
    path = view.result.theta.values[2]
    expected = np.array([np.linalg.eigvalsh(himmelblau_hessian(*p)) for p in path])
    for i, curve in enumerate(along.Curve):
        np.testing.assert_allclose(curve.dimension_values(1), expected[:, i], rtol=1e-9)
    np.testing.assert_array_equal(view._selected_pipe.data, path)


def test_click_adds_a_start_and_shows_the_spectrum_there():
    view = LandscapeView(problem=problems.get("himmelblau"))
    view._on_tap(x=3.0, y=2.0)
    np.testing.assert_array_equal(view.starts, [[3.0, 2.0]])
    spikes = view.spectra._point.object.Spikes.I
    np.testing.assert_allclose(spikes.dimension_values(0), np.linalg.eigvalsh(himmelblau_hessian(3.0, 2.0)))


def test_export_buttons_build_files_from_the_stored_result(ran, tmp_path):
    view, _ = ran
    png = view.export._buttons["png"].callback().getvalue()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    path = tmp_path / "trajectories.nc"
    path.write_bytes(view.export._buttons["nc"].callback().getvalue())
    loaded = landscape_io.load(path)
    np.testing.assert_array_equal(loaded.theta.values, view.result.theta.values)
    assert loaded.attrs["config"] == view.result.attrs["config"]
    svg = tmp_path / "figure.svg"
    export.save_figure(view.figure(), svg)
    assert b"<svg" in svg.read_bytes()[:1000]


def test_cancel_keeps_the_partial_result():
    view = LandscapeView(problem=problems.get("himmelblau"), optimizers=["gd"], steps=100, chunk=10)
    view.add_start(1.0, 1.0)
    original = view._on_chunk
    view._on_chunk = lambda event: (original(event), view.runner.cancel())
    view.run()
    assert view.result.attrs["status"] == "cancelled"
    assert view.result.sizes["step"] == 11
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


def test_network_problems_get_a_message_instead_of_a_plot():
    view = LandscapeView(problem=problems.get("himmelblau"))
    view.add_start(0.0, 0.0)
    view.problem = problems.get("mlp-moons")
    assert not view._plot_area.visible and view._notice.visible
    assert "mlp-moons" in view._notice.object and "slices" in view._notice.object
    assert len(view.starts) == 0
    with pytest.raises(ValueError, match="not a 2-D surface"):
        view.run()
    view._on_random_starts(None)  # the button: a message, no exception
    assert view.runner.message.startswith("Error: mlp-moons is not a 2-D surface")


def test_live_paths_are_thinned_but_keep_their_end():
    theta = np.cumsum(np.ones((1, 5001, 2)), axis=1)
    (row,) = path_data(theta, ["gd"], max_points=2000)
    assert len(row["x"]) <= 2000 + 1
    np.testing.assert_array_equal(row["x"][[0, -1]], theta[0, [0, -1], 0])
    np.testing.assert_array_equal(row["x"][:-1], theta[0, :-1:3, 0])
    np.testing.assert_array_equal(thinned(10, 20), np.arange(10))
