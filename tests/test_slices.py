"""Slices against analytic values; filter normalisation; projection residuals; PCA directions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr

from landscape import io, problems
from landscape.jobs import CancelToken
from landscape.problems import Problem
from landscape.plane import FLOP_BUDGET, MAP_THRESHOLD
from landscape.slices import (
    GENERIC_CHUNK,
    evaluate_chunk,
    filter_normalize,
    iter_slice,
    make_directions,
    pca_directions,
    point_flops,
    project,
    slice_kernel,
    slice_loss,
)

A = np.array([[2.0, 0.3, 0.0, 0.1], [0.3, 1.0, -0.2, 0.0], [0.0, -0.2, 0.5, 0.0], [0.1, 0.0, 0.0, 4.0]])
B = np.array([0.5, -1.0, 0.0, 2.0])
CENTRE = np.array([0.2, -0.1, 0.4, 1.0])
D = np.array([[1.0, 0.5, 0.0, -0.3], [0.2, -1.0, 0.7, 0.0]])  # not orthogonal


def np_loss(theta):
    return 0.5 * np.einsum("...i,ij,...j->...", theta, A, theta) - theta @ B


QUADRATIC = Problem("quadratic-4", 4, lambda t: 0.5 * t @ jnp.asarray(A) @ t - jnp.asarray(B) @ t, lambda k: jnp.zeros(4))


def test_2d_slice_matches_analytic_values():
    alpha, beta = np.linspace(-1.0, 2.0, 7), np.linspace(-0.5, 0.5, 5)
    ds = slice_loss(QUADRATIC, CENTRE, D, alpha, beta, chunk=4)  # chunk does not divide 35: padding
    assert ds.loss.dims == ("beta", "alpha")
    points = CENTRE + alpha[None, :, None] * D[0] + beta[:, None, None] * D[1]
    np.testing.assert_allclose(ds.loss.values, np_loss(points), rtol=1e-13, atol=1e-13)
    np.testing.assert_array_equal(ds.directions.values, D)
    assert ds.centre_loss.item() == pytest.approx(np_loss(CENTRE), rel=1e-14)
    assert ds.attrs["kind"] == "slice-2d" and ds.attrs["status"] == "complete"


def _primitives(jaxpr) -> set[str]:
    """Names of the primitives in ``jaxpr`` and in the jaxprs nested in its equations (jit, scan, ...)."""
    names = set()
    for eqn in jaxpr.eqns:
        names.add(eqn.primitive.name)
        for value in eqn.params.values():
            inner = getattr(value, "jaxpr", value)
            if hasattr(inner, "eqns"):
                names |= _primitives(inner)
    return names


@pytest.mark.parametrize("samples", [4, 2000])
def test_generic_kernel_maps_costly_points_and_vmaps_cheap_ones(samples):
    """A loss of ≥ MAP_THRESHOLD FLOPs a point is evaluated one point at a time (``lax.map``: a scan),
    a cheap one as one batch; both agree with a Python loop to 1e-12, and the chunk holds ~FLOP_BUDGET."""
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(samples, 500)), rng.normal(size=(8, 500)) / 20

    def loss(theta):  # a tanh layer of 500 x 8 weights over `samples` inputs: 2·samples·4000 FLOPs and more
        return jnp.mean(jnp.tanh(jnp.asarray(x) @ (jnp.asarray(w) + theta.reshape(8, 500)).T) ** 2)

    costly = point_flops(loss, 4000, "float64") >= MAP_THRESHOLD
    assert costly == (samples == 2000)
    problem = Problem(f"tanh-layer-{samples}", 4000, loss, lambda k: jnp.zeros(4000))
    centre, directions = rng.normal(size=4000) / 10, rng.normal(size=(2, 4000)) / 10
    coefficients = rng.uniform(-1, 1, size=(5, 2))
    evaluate, _, chunk = slice_kernel(problem)
    args = [jnp.asarray(v) for v in (centre, directions, coefficients)]
    scans = "scan" in _primitives(jax.make_jaxpr(evaluate)(*args).jaxpr)
    assert scans == costly
    expected = [float(loss(jnp.asarray(centre + c @ directions))) for c in coefficients]
    np.testing.assert_allclose(evaluate_chunk(loss, centre, directions, coefficients), expected, rtol=1e-12)
    flops = point_flops(loss, 4000, str(jnp.result_type(float)))
    assert chunk == GENERIC_CHUNK if not costly else chunk * flops <= FLOP_BUDGET < 2 * chunk * flops


def test_1d_slice_matches_analytic_values():
    alpha = np.linspace(-2, 2, 9)
    path = CENTRE + np.linspace(0, 1, 4)[:, None] * D[0]
    ds = slice_loss(QUADRATIC, CENTRE, D[:1], alpha, trajectory=path)
    assert ds.loss.dims == ("alpha",)
    np.testing.assert_allclose(ds.loss.values, np_loss(CENTRE + alpha[:, None] * D[0]), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(ds.path_alpha, np.linspace(0, 1, 4), atol=1e-13)
    assert "path_beta" not in ds


def test_slice_streams_and_cancels():
    alpha = np.linspace(-1, 1, 6)
    token = CancelToken()
    stream = iter_slice(QUADRATIC, CENTRE, D, alpha, chunk=10, cancel=token)
    first = next(stream)
    assert (first.done, first.total) == (10, 36)
    first_values = first.partial.loss.values.ravel().copy()  # a view the sweep would fill in
    np.testing.assert_array_equal(np.flatnonzero(np.isfinite(first_values)), np.arange(10))
    token.cancel()
    with pytest.raises(StopIteration) as stop:
        next(stream)
    ds = stop.value.value
    assert ds.attrs["status"] == "cancelled" and ds.attrs["points_done"] == 10
    np.testing.assert_array_equal(ds.loss.values.ravel()[:10], first_values[:10])
    assert np.isnan(ds.loss.values.ravel()[10:]).all()


@pytest.fixture(scope="module")
def moons():
    return problems.get("mlp-moons")


@pytest.fixture(scope="module")
def moons_theta(moons):
    theta = moons.init(jax.random.PRNGKey(3))
    return theta + 0.3 * jax.random.normal(jax.random.PRNGKey(4), theta.shape)  # nonzero biases too


@pytest.mark.parametrize("include_bias", [False, True])
def test_filter_normalisation_matches_weight_rows(moons, moons_theta, include_bias):
    directions = make_directions(moons, "filter", moons_theta, key=jax.random.PRNGKey(5), include_bias=include_bias)
    assert directions.shape == (2, moons.dim)
    weights = moons.unravel(moons_theta)
    for direction in directions:
        layers = moons.unravel(jnp.asarray(direction))
        for d, w in zip(layers, weights):
            w_rows = np.linalg.norm(np.asarray(w["w"]), axis=1)
            np.testing.assert_allclose(np.linalg.norm(np.asarray(d["w"]), axis=1), w_rows, rtol=1e-12)
            expected_bias = np.asarray(w["b"]) if include_bias else np.zeros_like(w["b"])
            np.testing.assert_array_equal(np.asarray(d["b"]), expected_bias)
    assert not np.allclose(directions[0], directions[1])


def test_filter_normalisation_keeps_row_direction():
    theta = jnp.arange(1.0, 7.0)  # one layer: w = [[1,2,3],[4,5,6]]
    unravel = lambda t: [{"w": t.reshape(2, 3)}]  # noqa: E731
    direction = jnp.array([3.0, 0.0, 4.0, 0.0, -2.0, 0.0])
    out = np.asarray(filter_normalize(direction, theta, unravel)).reshape(2, 3)
    np.testing.assert_allclose(out[0], np.array([3.0, 0.0, 4.0]) / 5 * np.sqrt(14), rtol=1e-14)
    np.testing.assert_allclose(out[1], np.array([0.0, -1.0, 0.0]) * np.sqrt(77), rtol=1e-14)


def test_projection_of_in_plane_trajectory_has_zero_residual():
    coef = np.c_[np.linspace(-1, 1, 12), np.sin(np.arange(12.0))]
    path = CENTRE + coef @ D
    got, residual = project(path, CENTRE, D)
    np.testing.assert_allclose(got, coef, atol=1e-12)
    np.testing.assert_allclose(residual, 0.0, atol=1e-12)
    ds = slice_loss(QUADRATIC, CENTRE, D, np.linspace(-1, 1, 3), trajectory=path)
    np.testing.assert_allclose(ds.path_loss, ds.path_loss_in_plane, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ds.path_loss, np_loss(path), rtol=1e-12, atol=1e-12)


def test_projection_residual_of_off_plane_trajectory():
    normal = np.linalg.svd(D)[2][2]  # a unit vector orthogonal to both directions
    assert np.allclose(D @ normal, 0, atol=1e-14)
    coef = np.c_[np.linspace(-1, 1, 10), np.cos(np.arange(10.0))]
    height = np.linspace(-2.0, 3.0, 10)
    path = CENTRE + coef @ D + height[:, None] * normal
    got, residual = project(path, CENTRE, D)
    np.testing.assert_allclose(got, coef, atol=1e-12)
    np.testing.assert_allclose(residual, np.abs(height), atol=1e-12)
    ds = slice_loss(QUADRATIC, CENTRE, D, np.linspace(-1, 1, 3), trajectory=path)
    np.testing.assert_allclose(ds.path_residual, np.abs(height), atol=1e-12)
    np.testing.assert_allclose(ds.path_loss, np_loss(path), rtol=1e-12)
    np.testing.assert_allclose(ds.path_loss_in_plane, np_loss(CENTRE + coef @ D), rtol=1e-12)
    offsets = np.linalg.norm(path - CENTRE, axis=1)
    np.testing.assert_allclose(ds.path_relative_residual, np.abs(height) / offsets, rtol=1e-12)


def test_pca_directions_orthonormal_and_span_planar_path():
    rng = np.random.default_rng(0)
    basis = rng.normal(size=(2, 6))
    coef = np.c_[np.linspace(3, 0, 30) ** 2, np.sin(np.linspace(0, 3, 30))]
    final = rng.normal(size=6)
    path = final + (coef - coef[-1]) @ basis
    directions, explained = pca_directions(path)
    np.testing.assert_allclose(directions @ directions.T, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(explained.sum(), 1.0, atol=1e-12)
    assert explained[0] >= explained[1] > 0
    _, residual = project(path, final, directions)
    np.testing.assert_allclose(residual, 0.0, atol=1e-10)
    noisy = path + 0.01 * rng.normal(size=path.shape)
    directions, explained = pca_directions(noisy)
    np.testing.assert_allclose(directions @ directions.T, np.eye(2), atol=1e-12)
    assert 0.99 < explained.sum() < 1.0


def test_hessian_directions_are_top_eigenvectors():
    directions = make_directions(QUADRATIC, "hessian", CENTRE)
    evals, evecs = np.linalg.eigh(A)
    for got, want in zip(directions, evecs[:, ::-1].T):
        assert abs(got @ want) == pytest.approx(1.0, abs=1e-10)


def test_unknown_kind_and_filter_without_layers_are_refused():
    with pytest.raises(ValueError, match="unknown direction kind"):
        make_directions(QUADRATIC, "sideways", CENTRE)
    with pytest.raises(ValueError, match="layered network"):
        make_directions(QUADRATIC, "filter", CENTRE)


def test_slice_round_trips_through_netcdf(tmp_path):
    path = CENTRE + np.linspace(0, 1, 5)[:, None] * np.ones(4)
    ds = slice_loss(QUADRATIC, CENTRE, D, np.linspace(-1, 1, 4), trajectory=path, direction_kind="random")
    io.save(ds, tmp_path / "slice.nc")
    xr.testing.assert_identical(io.load(tmp_path / "slice.nc"), ds)
