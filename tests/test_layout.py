"""Layout rules testable without a browser: surfaces keep their aspect, spectrum titles fit their panel."""

import numpy as np
import pytest

from app.components.spectrum import point_title
from app.components.surface import FRAME_HEIGHT, MAX_FRAME_WIDTH, frame_size


@pytest.mark.parametrize("bounds", [((-10, 10), (-10, 10)), ((-8, 8), (-5, 5)), ((-2, 2), (-1, 3)), ((0, 1), (0, 9))])
def test_a_surface_frame_has_the_same_pixels_per_unit_on_both_axes(bounds):
    size = frame_size(bounds)
    (x0, x1), (y0, y1) = bounds
    assert size["frame_width"] / (x1 - x0) == pytest.approx(size["frame_height"] / (y1 - y0), rel=0.01)
    assert size["frame_width"] <= MAX_FRAME_WIDTH and size["frame_height"] <= FRAME_HEIGHT


def test_a_wide_box_is_shrunk_as_a_whole_not_stretched():
    size = frame_size(((-30, 30), (-1, 1)))  # 30:1
    assert size["frame_width"] == MAX_FRAME_WIDTH
    assert size["frame_height"] == round(MAX_FRAME_WIDTH / 30)


def test_a_degenerate_box_is_refused_with_a_message():
    with pytest.raises(ValueError, match="min < max"):
        frame_size(((0, 1), (2, 2)))


def test_the_spectrum_title_names_a_2d_point_by_its_coordinates():
    assert point_title(np.array([1.0, -3.25])) == "θ = (1, -3.25)"


def test_the_spectrum_title_of_a_network_point_is_no_list_of_weights():
    theta = np.zeros(162)
    theta[0] = 3.0
    title = point_title(theta)
    assert "(0, 0" not in title and title == "‖θ‖ = 3 (162 weights)"
    assert point_title(theta, "(α, β) = (0.5, -1)") == "(α, β) = (0.5, -1)"
    assert len(point_title(np.full(398, 1e-3))) < 40  # one line in a third of a 1280-px page


def test_the_streamed_point_spectrum_follows_the_eigenvalues_and_has_a_one_line_title():
    import holoviews as hv
    import xarray as xr

    from app.figures import critical_points as fig

    pipe = hv.streams.Pipe(data=None)
    live = hv.DynamicMap(lambda data: fig.point_spectrum(data).opts(responsive=True, height=260, backend="bokeh"),
                         streams=[pipe])
    plot = hv.renderer("bokeh").get_plot(live)
    analysis = xr.Dataset({"eigenvalue": ("k", [2.0, 18.0]), "theta": ("param", [1.0, 3.0])},
                          attrs={"loss": 0.0, "grad_norm_sq": 0.0, "r": 0.0, "r_h": 0.0})
    pipe.send(analysis)
    x = plot.state.x_range
    assert x.start < 2.0 and x.end > 18.0  # was stuck at the empty first frame's 0..1
    assert "\n" not in plot.state.title.text and plot.state.title.text.startswith("θ = (1, 3): L = 0")


@pytest.mark.parametrize("name", ["rr-demo", "booth", "rosenbrock", "six-hump-camel", "frye-quartic"])
def test_every_surface_fits_beside_the_settings_at_1280_px(name):
    from landscape import problems

    size = frame_size(problems.get(name).bounds)
    assert size["frame_width"] + 110 <= 560  # axes, colour bar and toolbar take ~110 px; ~560 px are left
    assert size["frame_height"] >= 250  # and it is no thin band


def _legends(figure):
    """Where the Bokeh plot of ``figure`` puts its legends: ``(inside the frame, beside it)``."""
    import holoviews as hv
    from bokeh.models import Legend

    hv.extension("bokeh")
    state = hv.renderer("bokeh").get_plot(figure).state
    return ([m for m in state.center if isinstance(m, Legend)],
            [m for m in state.right + state.left + state.above + state.below if isinstance(m, Legend)])


def test_the_loss_index_legend_is_beside_the_points_not_over_them():
    import xarray as xr

    from app.figures import critical_points as fig

    result = xr.Dataset({"final_index": ("run", [0.0, 1.0]), "final_loss": ("run", [0.1, 3.0]),
                         "grad_norm_sq": (("run", "step"), [[1.0, 1e-20], [1.0, 1e-20]]),
                         "r": (("run", "step"), [[0.0, 0.0], [0.0, 0.0]])})
    inside, beside = _legends(fig.loss_index(result))
    assert inside == [] and len(beside) == 1  # inside, it covered the run at (1, 3) in the top-right corner


def test_the_analysed_point_spectrum_title_of_a_network_fits_half_a_1280_px_page():
    import holoviews as hv
    import xarray as xr

    from app.figures import critical_points as fig

    hv.extension("bokeh")
    analysis = xr.Dataset({"eigenvalue": ("k", [-0.5, 2.0, 12.7]), "theta": ("param", np.full(162, 0.5))},
                          attrs={"loss": 0.248312, "grad_norm_sq": 4e-5, "r": 0.0123, "r_h": 0.004})
    state = hv.renderer("bokeh").get_plot(fig.point_spectrum(analysis)).state
    # about 6.5 px a character: a half-page panel at 1280 px has about 360 px for its title (it clipped at 63)
    assert len(state.title.text) <= 52, state.title.text
    assert state.title.text.startswith("‖θ‖ = 6.36 (162 weights): L = 0.2483") and "index = 0.333" in state.title.text
    assert state.xaxis[0].axis_label == "λ   (r = 0.01, r_H = 0.00)"


def test_the_games_spectra_show_an_eigenvalue_at_arg_pi_inside_the_frame_and_the_legend_beside_it():
    import holoviews as hv
    import xarray as xr

    from app.figures import games as fig

    hv.extension("bokeh")
    along = xr.Dataset({name: (("t", "k"), values) for name, values in {
        "jacobian_arg": [[0.0, np.pi]], "jacobian_logabs": [[-0.1, -3.9]],
        "hessian_arg": [[-np.pi / 2, np.pi / 2]], "hessian_logabs": [[-1.4, -1.4]]}.items()}, coords={"t": [0]})
    figure = fig.spectra(along)
    state = hv.renderer("bokeh").get_plot(figure).state
    assert state.x_range.start < -np.pi / 2 and state.x_range.end > np.pi  # was exactly π: half a marker cut
    assert state.y_range.start < -3.9 and state.y_range.end > -0.1
    inside, beside = _legends(figure)
    assert inside == [] and len(beside) == 1
