"""2-D surfaces: recorded critical points, analytic Hessian spectra, rr-demo's design."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from landscape import curvature, problems
from landscape.problems.rr_demo import CRITICAL_POINTS

SURFACES = problems.names("surface")
RR_DEMO_KINDS = ("minimum", "saddle", "maximum")


def test_rr_demo_is_registered_with_a_view_box():
    assert "rr-demo" in SURFACES
    assert problems.get("rr-demo").is_2d


@pytest.mark.parametrize("name", SURFACES)
def test_every_recorded_critical_point_is_critical_with_its_signature(name):
    problem = problems.get(name)
    points = problem.critical_points
    if points is None:
        pytest.skip(f"{name} records no critical points")
    thetas = jnp.asarray(points)
    grads = np.asarray(jax.jit(jax.vmap(jax.grad(problem.loss)))(thetas))
    np.testing.assert_array_less(np.linalg.norm(grads, axis=1), 1e-10)
    evals = np.asarray(curvature.eigenvalues_along(problem.loss, thetas))
    for kind, ev in zip(problem.critical_kinds, evals):
        if name == "monkey-saddle":
            continue  # a degenerate saddle (zero Hessian), checked analytically below
        if kind == "minimum":
            assert ev[0] >= -1e-12, (name, ev)
        elif kind == "maximum":
            assert ev[1] < 0, (name, ev)
        elif kind == "saddle":
            assert ev[0] < 0 < ev[1], (name, ev)
        else:
            raise AssertionError(f"unexpected kind {kind}")


def test_rr_demo_records_all_critical_points_with_strict_signatures():
    # Euler characteristic of a coercive Morse function on R²: #min − #saddle + #max = 1.
    counts = {kind: len(CRITICAL_POINTS[kind]) for kind in RR_DEMO_KINDS}
    assert counts == {"minimum": 7, "saddle": 8, "maximum": 2}
    assert counts["minimum"] - counts["saddle"] + counts["maximum"] == 1
    problem = problems.get("rr-demo")
    evals = np.asarray(curvature.eigenvalues_along(problem.loss, jnp.asarray(problem.critical_points)))
    assert np.abs(evals).min() > 0.5  # non-degenerate (Morse)
    # No further critical point: Newton from a grid of starts lands only on recorded ones.
    grad, hess = jax.grad(problem.loss), jax.hessian(problem.loss)

    def newton(theta):
        def step(t, _):
            return t - jnp.linalg.solve(hess(t), grad(t)), None

        return jax.lax.scan(step, theta, None, length=60)[0]

    gx, gy = np.meshgrid(np.linspace(-8, 8, 33), np.linspace(-5, 5, 21))
    ends = np.asarray(jax.jit(jax.vmap(newton))(jnp.asarray(np.c_[gx.ravel(), gy.ravel()])))
    converged = np.linalg.norm(np.asarray(jax.vmap(grad)(jnp.asarray(ends))), axis=1) < 1e-10
    converged &= np.all(np.isfinite(ends), axis=1)
    assert converged.sum() > 200
    distance = np.linalg.norm(ends[converged, None, :] - problem.critical_points[None], axis=2).min(axis=1)
    np.testing.assert_array_less(distance, 1e-8)


def test_rr_demo_design():
    problem = problems.get("rr-demo")
    points, kinds = problem.critical_points, np.array(problem.critical_kinds)
    loss = jax.vmap(problem.loss)(jnp.asarray(points))
    minima = np.asarray(loss)[kinds == "minimum"]
    # Three global minima tie to float64 accuracy and are below every other minimum.
    assert np.ptp(minima[:3]) < 1e-12
    assert minima[:3].max() < minima[3:].min() - 1.0
    # The start: a maximum near the origin with two distinct negative curvatures, steep along y.
    start = jnp.asarray(CRITICAL_POINTS["maximum"][0])
    assert np.linalg.norm(start) < 1e-3
    evals, evecs = curvature.spectrum(problem.loss, start)
    assert evals[0] < 5 * evals[1] < 0
    assert abs(evecs[1, 0]) > 0.999  # steepest eigenvector is the y-axis
    # GD started near the maximum follows the steep ridge to the two local minima (0, ±2.2156).
    starts = start + 0.05 * jax.random.normal(jax.random.PRNGKey(0), (16, 2))

    def gd(theta):
        return jax.lax.scan(lambda t, _: (t - 0.02 * jax.grad(problem.loss)(t), None), theta, None, length=3000)[0]

    ends = np.asarray(jax.vmap(gd)(starts))
    np.testing.assert_allclose(np.abs(ends), np.tile(np.abs(CRITICAL_POINTS["minimum"][3]), (16, 1)), atol=1e-6)
    assert {np.sign(e[1]) for e in ends} == {-1.0, 1.0}
    # The x-axis is invariant (f is even in y); along it the +x ride descends monotonically to the
    # global minimum at x = 5.4458 with the flanking local minima beside it, and the −x ride meets
    # the saddle at the foot of the blocking maximum (−3.174, 0).
    xs = np.linspace(0.0, 5.4458, 200)
    f_axis = np.asarray(jax.vmap(lambda x: problem.loss(jnp.array([x, 0.0])))(jnp.asarray(xs)))
    assert np.all(np.diff(f_axis) < 0)
    xs = np.linspace(-2.4818, 0.0, 200)
    f_axis = np.asarray(jax.vmap(lambda x: problem.loss(jnp.array([x, 0.0])))(jnp.asarray(xs)))
    assert np.all(np.diff(f_axis) > 0)
    gy = jax.grad(problem.loss)(jnp.array([2.0, 0.0]))[1]
    assert gy == 0.0
    # After the rides end (curvature turns positive near x = 4.25 and x = −1.65), GD reaches
    # global minima: directly on the right, past the blocking maximum once nudged off the axis.
    ride_ends = jnp.array([[4.25, 0.0], [-1.65, 1e-7]])
    np.testing.assert_allclose(jax.vmap(gd)(ride_ends), np.array(CRITICAL_POINTS["minimum"][:2]), atol=1e-6)


ANALYTIC_HESSIANS = {
    # name: (theta, exact Hessian)
    "booth": ([0.3, -2.0], [[10.0, 8.0], [8.0, 10.0]]),
    "ellipse": ([1.0, 2.0], [[1.0, 0.0], [0.0, 10.0]]),
    # monkey saddle x³ − 3xy²: [[6x, −6y], [−6y, −6x]]
    "monkey-saddle": ([0.5, -0.25], [[3.0, 1.5], [1.5, -3.0]]),
    # linear-1d (yx − 1)²: [[2y², 4xy − 2], [4xy − 2, 2x²]]
    "linear-1d": ([0.5, 2.0], [[8.0, 2.0], [2.0, 0.5]]),
    # frye-quartic: diag(3x² − 6, 10.8y² + 10)
    "frye-quartic": ([np.sqrt(2.0), 1.0], [[0.0, 0.0], [0.0, 20.8]]),
}


@pytest.mark.parametrize("name", sorted(ANALYTIC_HESSIANS))
def test_spectrum_matches_analytic_hessian(name):
    theta, exact = ANALYTIC_HESSIANS[name]
    problem = problems.get(name)
    evals, evecs = curvature.spectrum(problem.loss, jnp.asarray(theta))
    ref_evals, ref_evecs = np.linalg.eigh(np.asarray(exact))
    np.testing.assert_allclose(evals, ref_evals, rtol=0, atol=1e-10)
    # eigenvectors agree up to sign (all these spectra are simple)
    np.testing.assert_allclose(np.abs(np.sum(np.asarray(evecs) * ref_evecs, axis=0)), 1.0, atol=1e-10)


def test_frye_quartic_gradient_flat_points():
    # Frye §3.3: at (±√2, 0) the gradient is nonzero but lies in the Hessian's kernel.
    problem = problems.get("frye-quartic")
    for theta in problem.ground_truth["gradient-flat"]:
        g = jax.grad(problem.loss)(jnp.asarray(theta))
        assert np.linalg.norm(g) > 1.0
        np.testing.assert_allclose(curvature.hvp(problem.loss, jnp.asarray(theta), g), 0.0, atol=1e-12)


def test_degenerate_saddles_analytically():
    monkey = problems.get("monkey-saddle")
    np.testing.assert_allclose(curvature.hessian(monkey.loss, jnp.zeros(2)), np.zeros((2, 2)), atol=1e-14)
    linear = problems.get("linear-1d")
    np.testing.assert_allclose(curvature.spectrum(linear.loss, jnp.zeros(2))[0], [-2.0, 2.0], atol=1e-12)
