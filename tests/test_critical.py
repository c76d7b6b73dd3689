"""Critical-point finders and gradient-flat residuals (Frye thesis ch. 2-3).

Analytic answers: r and r_H of constructed (H, g, p) against the formulas of
eqs. 3.36-3.37 evaluated in numpy; the minimum-norm step against numpy's
pseudo-inverse; Newton on quadratics (one step) and on a smooth strongly convex
function (quadratic convergence, minimiser checked with scipy); the quartic of
Example 3.1 (gradient-flat point (√2, 0) with ‖∇f‖² = 113 − 72√2).
"""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.optimize

from landscape import critical
from landscape.io import load, save
from landscape.executor import InProcess
from landscape.jobs import CancelToken, drive
from landscape.problems import registry

QUARTIC_FLAT_GSQ = 113 - 72 * math.sqrt(2)  # ‖∇f(√2, 0)‖² = (9 − 4√2)²
TIGHT = critical.Solver(rtol=1e-13)


@jax.jit
def dense_step(H, g):
    """Minimum-norm step for an explicit matrix (one compile per shape)."""
    return critical.min_norm_step(lambda v: H @ v, g, TIGHT)[0]


def numpy_flatness(H, g, p):
    res = H @ p + g
    fro = np.linalg.norm(H, "fro")
    r = np.linalg.norm(res) / (fro * np.linalg.norm(p) + np.linalg.norm(g))
    r_h = np.linalg.norm(H @ res) / (fro * np.linalg.norm(res))
    return r, r_h


def test_flatness_of_constructed_step_matches_formula():
    H = np.array([[2.0, 1.0, 0.0], [1.0, 3.0, -1.0], [0.0, -1.0, 0.5]])
    g = np.array([1.0, -1.0, 2.0])
    p = np.array([0.1, 0.2, -0.3])
    r, r_h = critical.flatness(lambda v: jnp.asarray(H) @ v, jnp.asarray(g), jnp.asarray(p),
                               jnp.linalg.norm(H))
    np.testing.assert_allclose([r, r_h], numpy_flatness(H, g, p), rtol=1e-12)


def test_flatness_known_values():
    # H = diag(2, 0), g = (1, 1): the min-norm step is (−½, 0), Hp + g = (0, 1) lies in
    # ker H, so r = 1 / (‖H‖_F ‖p‖ + ‖g‖) = 1 / (1 + √2) and r_H = 0.
    H, g = jnp.diag(jnp.array([2.0, 0.0])), jnp.array([1.0, 1.0])
    p = dense_step(H, g)
    np.testing.assert_allclose(p, [-0.5, 0.0], atol=1e-12)
    r, r_h = critical.flatness(lambda v: H @ v, g, p, jnp.linalg.norm(H))
    np.testing.assert_allclose(r, 1 / (1 + math.sqrt(2)), rtol=1e-10)
    assert abs(r_h) < 1e-12
    # g entirely in the kernel: the step is 0, r = 1 (a strict gradient-flat point).
    p0 = dense_step(H, jnp.array([0.0, 3.0]))
    r0, r0_h = critical.flatness(lambda v: H @ v, jnp.array([0.0, 3.0]), p0, jnp.linalg.norm(H))
    assert np.allclose(p0, 0.0) and r0 == pytest.approx(1.0) and r0_h == pytest.approx(0.0)


def test_min_norm_step_is_pseudo_inverse_solution_on_singular_incompatible_system():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    H = q @ np.diag([3.0, -2.0, 1.5, 0.7, 0.0, 0.0]) @ q.T  # rank 4, indefinite
    g = rng.normal(size=6)  # has a kernel component: H p = −g has no solution
    np.testing.assert_allclose(dense_step(H, g), -np.linalg.pinv(H) @ g, atol=1e-9)

    def loss(theta):  # a quadratic with Hessian H and gradient g at 0
        return 0.5 * theta @ jnp.asarray(H) @ theta + jnp.asarray(g) @ theta

    r, r_h = critical.residuals(loss, jnp.zeros(6), TIGHT)
    np.testing.assert_allclose([r, r_h], numpy_flatness(H, g, -np.linalg.pinv(H) @ g), atol=1e-9)
    assert 0.1 < r < 1  # part of g is in the kernel


def test_newton_mr_solves_a_strictly_convex_quadratic_in_one_step():
    rng = np.random.default_rng(1)
    m = rng.normal(size=(5, 5))
    A, b = m @ m.T + np.eye(5), rng.normal(size=5)

    def loss(theta):
        return 0.5 * theta @ jnp.asarray(A) @ theta - jnp.asarray(b) @ theta

    ds = critical.newton_mr(loss, jnp.zeros(5), num_steps=3, solver=TIGHT)
    assert ds.step_size.values[0] == 1.0  # the pure Newton step is accepted
    np.testing.assert_allclose(ds.path.values[1], np.linalg.solve(A, b), rtol=1e-10)
    assert ds.grad_norm_sq.values[1] < 1e-20
    assert str(ds["class"].values) == "critical" and ds.final_index == 0.0


def test_newton_mr_converges_quadratically_on_a_smooth_strongly_convex_function():
    rng = np.random.default_rng(2)
    M, c = rng.normal(size=(8, 4)), rng.normal(size=4)

    def loss(theta):
        return jax.nn.logsumexp(jnp.asarray(M) @ theta) + 0.5 * jnp.sum((theta - jnp.asarray(c)) ** 2)

    ds = critical.newton_mr(loss, jnp.zeros(4), num_steps=12, solver=TIGHT)
    gn = np.sqrt(ds.grad_norm_sq.values)
    gn = gn[np.isfinite(gn)]
    # In the local phase ‖g_{t+1}‖ ≤ C ‖g_t‖²; linear convergence would give a ratio
    # ‖g_{t+1}‖/‖g_t‖² that explodes as ‖g_t‖ → 0.
    local = [(a, b) for a, b in zip(gn, gn[1:]) if 1e-7 < a < 1e-1]
    assert len(local) >= 2
    assert all(b <= 10 * a**2 for a, b in local)
    value_and_grad = jax.jit(jax.value_and_grad(loss))
    reference = scipy.optimize.minimize(
        lambda t: tuple(np.asarray(v) for v in value_and_grad(jnp.asarray(t))), np.zeros(4),
        jac=True, method="BFGS", options={"gtol": 1e-11},
    )
    np.testing.assert_allclose(ds.theta.values, reference.x, atol=1e-7)


def test_residuals_at_the_quartic_gradient_flat_point():
    quartic = registry.get("frye-quartic")
    theta = jnp.array([math.sqrt(2.0), 0.0])
    g = jax.grad(quartic.loss)(theta)
    p = dense_step(jax.hessian(quartic.loss)(theta), g)
    assert np.linalg.norm(p) < 1e-12  # the min-norm Newton step vanishes (maxxnorm guard)
    r, r_h = critical.residuals(quartic.loss, theta)
    assert r == pytest.approx(1.0, abs=1e-12)
    assert abs(r_h) < 1e-12
    assert float(jnp.sum(g**2)) == pytest.approx(QUARTIC_FLAT_GSQ, rel=1e-12)


@pytest.fixture(scope="module")
def quartic_runs():
    quartic = registry.get("frye-quartic")
    starts = jnp.array([[-3.8, 1.5], [-2.0, -1.0], [1.0, 1.0], [2.5, -2.0]])
    return critical.find(quartic, starts, "newton-mr", num_steps=60)


def test_newton_mr_on_the_quartic_left_starts_reach_the_minimum(quartic_runs):
    left = quartic_runs.isel(run=[0, 1])
    np.testing.assert_allclose(left.theta.values, [[-3.0, 0.0]] * 2, atol=1e-10)
    assert list(left["class"].values) == ["critical", "critical"]
    assert np.all(left.final_index.values == 0.0)


def test_newton_mr_on_the_quartic_right_starts_stall_at_the_gradient_flat_point(quartic_runs):
    right = quartic_runs.isel(run=[2, 3])
    np.testing.assert_allclose(right.theta.values[:, 0], math.sqrt(2), atol=1e-4)  # oscillates (Fig. 3.5)
    np.testing.assert_allclose(right.final_grad_norm_sq.values, QUARTIC_FLAT_GSQ, rtol=1e-6)
    assert np.all(right.max_r.values > 0.99)
    assert "gradient-flat" in set(right["class"].values)
    assert np.all(right["class"].values != "critical")


def test_finder_dataset_round_trips_through_netcdf(quartic_runs, tmp_path):
    save(quartic_runs, tmp_path / "runs.nc")
    again = load(tmp_path / "runs.nc")
    np.testing.assert_array_equal(again["class"].values, quartic_runs["class"].values)
    np.testing.assert_array_equal(again.grad_norm_sq.values, quartic_runs.grad_norm_sq.values)


def test_stream_yields_chunks_and_cancel_returns_partial_result():
    quartic = registry.get("frye-quartic")
    starts = jnp.array([[-3.8, 1.5], [-2.0, -1.0], [1.0, 1.0], [2.5, -2.0]])
    token = CancelToken()
    stream = critical.iter_find(quartic, starts, "newton-mr", num_steps=60, cancel=token)
    event = next(stream)
    assert event.kind == "chunk" and event.partial.grad_norm_sq.shape == (4, 10)
    np.testing.assert_allclose(event.partial.grad_norm_sq.values[:, 0],
                               [float(jnp.sum(jax.grad(quartic.loss)(s) ** 2)) for s in starts])
    token.cancel()
    with pytest.raises(StopIteration) as stop:
        next(stream)
    assert stop.value.value.attrs["status"] == "cancelled"


def test_residual_map_shows_the_gradient_flat_lines_of_the_quartic():
    ds = critical.residual_map(registry.get("frye-quartic"), 21)
    on_line = ds.sel(x=math.sqrt(2), y=0.0)
    assert float(on_line.r) == pytest.approx(1.0) and abs(float(on_line.r_h)) < 1e-12
    assert float(ds.sel(x=-math.sqrt(2), y=0.0).r) == pytest.approx(1.0)
    away = ds.where(np.abs(np.abs(ds.x) - math.sqrt(2)) > 0.3)
    assert float(away.r.max()) < 1e-3  # elsewhere Newton steps solve the system
    np.testing.assert_allclose(ds.grad_norm_sq.sel(x=math.sqrt(2), y=0.0), QUARTIC_FLAT_GSQ, rtol=1e-12)


def test_damped_newton_gnm_and_pinv_newton_reach_the_quartic_minimum_from_the_left():
    quartic = registry.get("frye-quartic")
    start = jnp.array([[-3.3, 0.5]])
    for ds in (
        critical.damped_newton(quartic, start, num_steps=200),  # η = 0.1: linear rate 0.9
        critical.gnm(quartic, start, num_steps=300),
        critical.pinv_newton(quartic, start, num_steps=20),
    ):
        np.testing.assert_allclose(ds.theta.values[0], [-3.0, 0.0], atol=1e-6)
        assert ds["class"].values[0] == "critical"


def test_sample_starts_are_uniform_in_loss_with_noise_on_half():
    quartic = registry.get("frye-quartic")

    key, sgd = jax.random.PRNGKey(3), optax.sgd(1e-3)
    starts = critical.sample_starts(quartic, 8, key, optimizer=sgd, trajectory_steps=200)
    assert starts.shape == (8, 2)
    thetas, _ = critical._trajectory(quartic.loss, sgd, quartic.init(jax.random.split(key, 3)[0]), 200)
    dist = np.min(np.linalg.norm(np.asarray(thetas)[None] - np.asarray(starts)[:, None], axis=-1), axis=1)
    assert np.all(dist[4:] == 0.0)  # the second half are trajectory iterates
    assert np.all(dist[:4] > 0.0)  # the first half carry noise


def test_the_trajectory_init_scale_is_a_recorded_setting_that_scales_where_starts_come_from():
    quartic = registry.get("frye-quartic")
    key, sgd = jax.random.PRNGKey(3), optax.sgd(1e-3)
    init = quartic.init(jax.random.split(key, 3)[0])
    near_zero = critical.sample_starts(quartic, 8, key, optimizer=sgd, trajectory_steps=5, init_scale=0.01,
                                       noise_fraction=0.0)
    thetas, _ = critical._trajectory(quartic.loss, sgd, 0.01 * init, 5)  # the trajectory from 0.01 × init
    dist = np.min(np.linalg.norm(np.asarray(thetas)[None] - np.asarray(near_zero)[:, None], axis=-1), axis=1)
    assert np.all(dist == 0.0) and np.max(np.linalg.norm(near_zero, axis=1)) < 0.1 * np.linalg.norm(init)
    ds = critical.experiment(quartic, "gnm", num_runs=2, num_steps=3, trajectory_steps=5, init_scale=0.01)
    assert json.loads(ds.attrs["starts"]) == {"kind": "trajectory", "trajectory_steps": 5, "init_scale": 0.01}


def test_newton_mr_on_dlae_converges_to_a_nearby_analytic_saddle():
    dlae = registry.get("dlae")
    points = dlae.analytic_critical_points()
    saddle = points.isel(point=int(np.flatnonzero(points.label.values == "{0,5,9}")[0]))
    assert 0 < float(saddle.index) < 0.5
    start = saddle.theta.values + 1e-3 * np.random.default_rng(4).normal(size=dlae.dim)
    ds = critical.newton_mr(dlae, jnp.asarray(start), num_steps=20, index_every=1000)
    assert float(ds.final_grad_norm_sq) < 1e-20
    assert float(ds.final_index) == pytest.approx(float(saddle.index), abs=1e-12)
    assert float(ds.final_loss) == pytest.approx(float(saddle.loss), rel=1e-10)

    def product(theta):  # W₂W₁ is invariant along the class (W₁ → GW₁, W₂ → W₂G⁻¹)
        layers = dlae.unravel(jnp.asarray(theta))
        return np.asarray(layers[1]["w"] @ layers[0]["w"])

    np.testing.assert_allclose(product(ds.theta.values), product(saddle.theta.values), atol=1e-8)


def overshooting(theta):
    """f(x) = x + 5e-4 x² + x⁴ (summed over coordinates): at 0, g = 1 and h = 1e-3, so
    every damped Newton candidate (|p| ≥ 1/(h + 0.1) ≈ 9.9) overshoots and even the
    η = 0.1 step raises ‖∇f‖² (f′(−0.99) ≈ −2.9)."""
    return jnp.sum(theta + 5e-4 * theta**2 + theta**4)


def test_damped_newton_default_rule_terminates_where_the_step_raises_the_gradient_norm():
    start = jnp.zeros((1, 2))
    default = critical.damped_newton(overshooting, start, num_steps=5)
    assert default.num_steps.values[0] == 0  # terminated at its first step
    assert default.step_size.values[0, 0] == 0.0
    np.testing.assert_array_equal(default.theta.values, start)
    printed = critical.damped_newton(overshooting, start, num_steps=5, damping_rule="printed")
    assert printed.num_steps.values[0] == 5  # Algorithm 11 as printed always steps
    assert printed.step_size.values[0, 0] == 1.0
    assert float(printed.grad_norm_sq.values[0, 1]) > float(printed.grad_norm_sq.values[0, 0])
    with pytest.raises(ValueError, match="damping_rule"):
        critical.Method("damped-newton", damping_rule="trust-region")


def test_damped_newton_default_rule_takes_tenth_steps_that_lower_the_gradient_norm():
    rng = np.random.default_rng(5)
    m = rng.normal(size=(4, 4))
    A = m @ m.T + np.eye(4)

    def loss(theta):
        return 0.5 * theta @ jnp.asarray(A) @ theta + jnp.sum(jnp.cos(theta))

    ds = critical.damped_newton(loss, jnp.ones((1, 4)), num_steps=6)
    steps = ds.step_size.values[0, :6]
    np.testing.assert_allclose(steps, 0.1)
    assert np.all(np.diff(ds.grad_norm_sq.values[0, :7]) < 0)
    assert ds.num_steps.values[0] == 6


@pytest.mark.parametrize("measure_every", [1, 4])
def test_num_steps_counts_the_iterations_taken(measure_every):
    A = jnp.diag(jnp.array([1.0, 10.0, 100.0]))

    def loss(theta):  # GNM converges linearly here: every one of the 23 steps moves
        return 0.5 * theta @ A @ theta

    start = jnp.ones((2, 3))
    gnm = critical.find(loss, start, critical.Method("gnm", measure_every=measure_every), num_steps=23)
    np.testing.assert_array_equal(gnm.num_steps.values, [23, 23])
    for name in ("newton-mr", "damped-newton", "pinv-newton"):
        ds = critical.find(overshooting, jnp.array([[0.3, -0.2]]),
                           critical.Method(name, measure_every=measure_every, damping_rule="printed"),
                           num_steps=7)
        moved = int(np.sum(np.nan_to_num(ds.step_size.values[0]) > 0))
        path = ds.path.values[0]
        distinct = int(np.sum(np.any(np.diff(path[np.isfinite(path[:, 0])], axis=0) != 0, axis=1)))
        assert ds.num_steps.values[0] == moved == distinct, name


def test_flatness_is_measured_with_the_measuring_tolerance_not_the_step_solver():
    # H has a near-kernel eigenvalue 1e-5 along which g has a component: a tight solve
    # resolves it (r ≈ 0), the thesis's rtol = 5e-4 stops before and r stays large.
    rng = np.random.default_rng(6)
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    H = q @ np.diag([4.0, 3.0, 2.0, 1.5, 1.0, 1e-5]) @ q.T
    g = q @ np.array([1.0, 1.0, 1.0, 1.0, 1.0, 3.0])

    def loss(theta):
        return 0.5 * theta @ jnp.asarray(H) @ theta + jnp.asarray(g) @ theta

    tight = critical.Solver(rtol=1e-12, maxxnorm=1e12)
    r_tight, _ = critical.residuals(loss, jnp.zeros(6), tight)
    r_thesis, _ = critical.residuals(loss, jnp.zeros(6))  # default: MEASURE_SOLVER, 5e-4
    assert r_tight < 1e-6
    # at 5e-4 the solve ignores the near-kernel direction: r is that of the truncated
    # pseudo-inverse step (numpy, eigenvalues below 1e-3·max dropped)
    truncated = -np.linalg.pinv(H, rcond=1e-3) @ g
    np.testing.assert_allclose(r_thesis, numpy_flatness(H, g, truncated)[0], rtol=1e-6)
    assert r_thesis > 0.2
    start = jnp.zeros((1, 6))
    measured = critical.find(loss, start, critical.Method("newton-mr", solver=tight), num_steps=1)
    own = critical.find(loss, start, critical.Method("newton-mr", solver=tight, measure_solver=None),
                        num_steps=1)
    np.testing.assert_allclose(measured.r.values[0, 0], r_thesis, rtol=1e-10)
    np.testing.assert_allclose(own.r.values[0, 0], r_tight, rtol=1e-6, atol=1e-12)
    # the step itself is the tight solve's either way
    np.testing.assert_allclose(measured.theta.values, own.theta.values, rtol=1e-12)


def test_an_in_process_executor_keeps_streaming_per_chunk_of_steps():
    """The dashboard hands its Compute setting's executor to every experiment: in-process, the runs
    still stream a partial result per chunk of steps (batches of runs are for Dask workers)."""
    problem = registry.get("frye-quartic")
    kwargs = dict(num_runs=3, starts="uniform", num_steps=8, chunk=2)
    events = []
    streamed = drive(critical.iter_experiment(problem, "newton-mr", executor=InProcess(), **kwargs), events.append)
    plain = critical.experiment(problem, "newton-mr", **kwargs)
    assert len(events) >= 4 and all(event.partial.sizes["run"] == 3 for event in events)  # not one batch event
    np.testing.assert_array_equal(streamed.theta.values, plain.theta.values)
