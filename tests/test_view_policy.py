"""Engine policy the views used to decide themselves: point analysis, the ride plane,
teleport schedules and metrics, game defaults; checked against closed forms."""

import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr

from landscape import analysis, kinds, problems
from landscape.games import explore
from landscape.problems.base import Problem
from landscape.ridge_rider.plane import ride_plane, ride_slice
from landscape.teleport import report

#: L(θ) = ½ θᵀ diag(−2, −1, 3) θ: ridges at 0 are e₀ (λ = −2) then e₁ (λ = −1).
DIAG = np.array([-2.0, -1.0, 3.0])
SADDLE = Problem(name="diag-saddle", dim=3, loss=lambda t: 0.5 * jnp.sum(jnp.asarray(DIAG) * t**2),
                 sampler=lambda key: jnp.zeros(3))


def test_analyse_point_on_the_ellipse_matches_its_hessian():
    ds = analysis.analyse_point(problems.get("ellipse"), [1.0, 0.5], source="test")
    np.testing.assert_allclose(ds.eigenvalue.values, [1.0, 10.0], rtol=1e-12)
    assert ds.attrs["loss"] == pytest.approx(0.5 * (1 + 10 * 0.25))
    assert ds.attrs["grad_norm_sq"] == pytest.approx(1 + 25.0)
    assert ds.attrs["index"] == 0.0 and ds.attrs["dense"] == 1 and ds.attrs["source"] == "test"
    assert kinds.check(ds).name == "point-analysis"
    assert ds.attrs["r"] == pytest.approx(0.0, abs=1e-8)  # invertible Hessian: the Newton step is exact


def test_analyse_point_counts_negative_curvature_and_refuses_a_wrong_size():
    ds = analysis.analyse_point(SADDLE, [0.1, 0.2, 0.3])
    np.testing.assert_allclose(ds.eigenvalue.values, np.sort(DIAG), atol=1e-12)
    assert ds.attrs["index"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="2 coordinates; diag-saddle has 3"):
        analysis.analyse_point(SADDLE, [0.0, 0.0])


def test_ride_plane_is_the_chord_and_the_next_ridge_orthogonal_to_it():
    plane = ride_plane(SADDLE, np.zeros(3), [2.0, 0.0, 0.0])  # chord along e₀, the first ridge
    np.testing.assert_allclose(plane @ plane.T, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(plane[0], [1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(np.abs(plane[1]), [0, 1, 0], atol=1e-12)  # e₀ ∥ chord: the next ridge, e₁
    with pytest.raises(ValueError, match="does not move"):
        ride_plane(SADDLE, np.zeros(3), np.zeros(3))


def test_ride_slice_contains_the_ride():
    path = np.outer(np.linspace(0, 1, 5), [1.0, 0.0, 0.0])
    ds = ride_slice(SADDLE, np.zeros(3), path, points=9)
    np.testing.assert_allclose(ds.path_alpha.values, np.linspace(0, 1, 5), atol=1e-12)
    np.testing.assert_allclose(ds.path_residual.values, 0.0, atol=1e-12)
    assert ds.loss.shape == (9, 9)


def test_schedule_for_surfaces_and_networks():
    s = report.schedule_for(True, 10, every=4, objective="sharpness", direction=-1, state="teleport")
    assert s.teleport_at == (0, 4, 8) and s.objective == "grad_norm" and s.state == "reset" and s.direction == -1
    n = report.schedule_for(False, 10, objective="sharpness", state="teleport")
    assert n.teleport_at == (0,) and n.objective == "sharpness" and n.state == "teleport"
    with pytest.raises(ValueError, match="unknown teleport objective 'speed'"):
        report.schedule_for(False, 10, objective="speed")


def test_teleport_report_on_the_ellipse_reaches_the_level_sets_largest_gradient():
    ellipse = problems.get("ellipse")
    schedule = report.schedule_for(True, 5)
    from landscape.jobs import drive
    result = drive(report.iter_report(ellipse, "gd", schedule, lr=0.02, theta0=jnp.asarray([2.0, 0.5])))
    rows = report.teleport_rows(result)
    # the level through (2, 0.5) is 3.25: ‖∇L‖² goes from 4 + 25 = 29 to its maximum 2·10·3.25 = 65
    assert rows[0]["epoch"] == 0 and rows[0]["grad_norm_sq"] == pytest.approx((29.0, 65.0), rel=1e-9)
    assert "sharpness" not in result  # metrics are for networks
    kinds.check(result)
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        drive(report.iter_report(ellipse, "lbfgs", schedule, lr=0.1))


def test_game_defaults_and_heatmap_peak():
    assert explore.default_step(problems.get("matching-pennies")) == 1.0
    assert explore.default_step(problems.get("bilinear")) == explore.DEFAULT_STEP
    suggested = explore.suggested_hypers(problems.get("mixed"))  # LOLA at α = η = 4 (thesis Fig. C.1)
    assert suggested["lola"] == {"alpha": 4.0, "lookahead": 4.0} and suggested["simcm"] == {"alpha": 4.0}
    assert explore.is_planar_game(problems.get("bilinear")) == (True, "")
    ok, why = explore.is_planar_game(problems.get("ipd"))
    assert not ok and "10 parameters" in why and "subspace" in why
    assert not explore.is_planar_game(problems.get("booth"))[0]
    xs, ys = explore.heatmap_axes(problems.get("bilinear"), 5)
    np.testing.assert_allclose(xs, np.linspace(-2, 2, 5))
    values = np.full((5, 5), np.nan)
    assert explore.heatmap_peak(xr.Dataset({"exponent": (("y", "x"), values)}, coords={"x": xs, "y": ys})) is None
    values[3, 1] = 2.0
    values[0, 0] = 1.0
    heat = xr.Dataset({"exponent": (("y", "x"), values)}, coords={"x": xs, "y": ys})
    np.testing.assert_allclose(explore.heatmap_peak(heat), [xs[1], ys[3]])
