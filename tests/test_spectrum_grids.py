"""Engine policy: dense-vs-Lanczos spectra against numpy, and the one grid API."""

import jax.numpy as jnp
import numpy as np
import pytest

from landscape import critical, curvature, games, grids, slices
from landscape.grids import Grid
from landscape.problems import get

RNG = np.random.default_rng(3)
M = RNG.normal(size=(9, 9))
A = M + M.T
QUARTIC_WEIGHT = 0.25


def loss(t):
    """½ tᵀAt + ¼ Σ tᵢ⁴: Hessian A + diag(3 tᵢ²)."""
    return 0.5 * t @ jnp.asarray(A) @ t + QUARTIC_WEIGHT * jnp.sum(t**4)


def numpy_spectrum(t):
    return np.linalg.eigvalsh(A + np.diag(12 * QUARTIC_WEIGHT * np.asarray(t) ** 2))


THETA = RNG.normal(size=9)


def test_dense_below_the_limit_is_the_whole_spectrum():
    summary = curvature.spectrum_summary(loss, jnp.asarray(THETA))
    assert summary.method == "dense" and summary.complete and summary.dim == 9
    np.testing.assert_allclose(summary.eigenvalues, numpy_spectrum(THETA), rtol=1e-10, atol=1e-10)
    ends = curvature.spectrum_summary(loss, jnp.asarray(THETA), k=2, extremes_only=True).eigenvalues
    np.testing.assert_allclose(ends, numpy_spectrum(THETA)[[0, 1, -2, -1]], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(("which", "picked"), [("both", [0, 1, -2, -1]), ("smallest", [0, 1]), ("largest", [-2, -1])])
def test_lanczos_above_the_limit_gives_the_extremes(which, picked):
    summary = curvature.spectrum_summary(loss, jnp.asarray(THETA), k=2, which=which, dense_limit=5)
    assert summary.method == "lanczos" and not summary.complete
    np.testing.assert_allclose(summary.eigenvalues, numpy_spectrum(THETA)[picked], rtol=1e-8, atol=1e-8)


def test_the_along_form_matches_numpy_at_every_point_and_keeps_nan_rows():
    path = np.stack([THETA, 0.5 * THETA, np.full(9, np.nan)])
    expected = np.stack([numpy_spectrum(THETA), numpy_spectrum(0.5 * THETA)])
    dense = curvature.spectrum_summary_along(loss, path)
    np.testing.assert_allclose(dense.eigenvalues[:2], expected, rtol=1e-10, atol=1e-10)
    assert np.isnan(dense.eigenvalues[2]).all()
    sparse = curvature.spectrum_summary_along(loss, path, k=1, dense_limit=5)
    assert sparse.method == "lanczos" and sparse.eigenvalues.shape == (3, 2)
    # Lanczos stops once every Ritz residual is below curvature.LANCZOS_TOL (1e-3) times the largest
    # |Ritz value|; an eigenvalue's error is then of order residual² / gap, well inside 1e-5 here
    np.testing.assert_allclose(sparse.eigenvalues[:2], expected[:, [0, -1]], rtol=1e-5, atol=1e-8)
    assert np.isnan(sparse.eigenvalues[2]).all()


def test_spectrum_summary_refuses_bad_requests():
    with pytest.raises(ValueError, match="which must be one of both, smallest, largest"):
        curvature.spectrum_summary(loss, jnp.asarray(THETA), which="middle")
    with pytest.raises(ValueError, match="k must be at least 1, got 0"):
        curvature.spectrum_summary(loss, jnp.asarray(THETA), k=0)
    capped = curvature.spectrum_summary(loss, jnp.asarray(THETA), k=20, extremes_only=True)  # k > dim: all
    np.testing.assert_allclose(capped.eigenvalues, numpy_spectrum(THETA), rtol=1e-10, atol=1e-10)


# ----------------------------------------------------------------------------- grids


def test_grid_specs_resolve_to_the_same_grid_and_points_are_row_major():
    box = ((-1.0, 1.0), (0.0, 2.0))
    by_resolution = Grid.of((3, 2), box)
    by_axes = Grid.of(([-1.0, 0.0, 1.0], [0.0, 2.0]))
    assert Grid.of(by_axes) is by_axes and by_resolution.shape == (2, 3)
    np.testing.assert_array_equal(by_resolution.points(), by_axes.points())
    np.testing.assert_array_equal(by_axes.points()[:4], [[-1, 0], [0, 0], [1, 0], [-1, 2]])
    with pytest.raises(ValueError):  # axes are read-only copies
        by_axes.xs[0] = 5.0
    with pytest.raises(ValueError, match="needs a box"):
        Grid.of(5)
    with pytest.raises(ValueError, match="finite numbers"):
        Grid([0.0, np.nan], [1.0])
    with pytest.raises(ValueError, match="whole numbers ≥ 2"):
        Grid.over(box, 1)
    grown = Grid.over(box, 3).including([[0.5, 1.0], [7.0, 7.0]])
    assert 0.5 in grown.xs and 1.0 in grown.ys and 7.0 not in grown.xs


def test_surface_grid_is_the_loss_at_each_cell():
    problem = get("himmelblau")
    ds = grids.surface(problem, Grid(np.linspace(-2, 2, 5), np.linspace(-1, 1, 3)))
    gx, gy = np.meshgrid(ds.x.values, ds.y.values)
    np.testing.assert_allclose(ds.loss.values, (gx**2 + gy - 11) ** 2 + (gx + gy**2 - 7) ** 2, rtol=1e-12)
    with pytest.raises(ValueError, match="not a 2-D surface"):
        grids.surface(get("mlp-moons"))


def test_every_grid_user_takes_the_same_spec():
    grid = Grid(np.linspace(-1, 1, 3), np.linspace(-0.5, 0.5, 2))
    quartic = get("frye-quartic")
    by_grid = critical.residual_map(quartic, grid)
    by_axes = critical.residual_map(quartic, (grid.xs, grid.ys))
    assert by_grid.identical(by_axes) and by_grid.r.shape == grid.shape
    plane = slices.slice_loss(quartic, np.zeros(2), np.eye(2), grid)
    np.testing.assert_allclose(plane.loss.values, by_grid.loss.values, rtol=1e-12)
    heat = games.lyapunov_map("matching-pennies", "simgd", grid, k=2, alpha=1.0)
    np.testing.assert_array_equal(heat.values, games.lyapunov_map("matching-pennies", "simgd", grid.xs, grid.ys, k=2,
                                                                alpha=1.0).values)
