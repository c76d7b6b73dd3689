"""Curvature: HVPs, dense spectra, Lanczos, SLQ, Hutchinson, index, spectra along paths."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from landscape import curvature, problems

RNG = np.random.default_rng(0)
N = 7
A = RNG.standard_normal((N, N))
A = A + A.T


def quartic(theta):
    """½θᵀAθ + Σθᵢ⁴/4: Hessian A + diag(3θ²)."""
    return 0.5 * theta @ jnp.asarray(A) @ theta + jnp.sum(theta**4) / 4


def quartic_hessian(theta):
    return A + np.diag(3 * np.asarray(theta) ** 2)


THETA = jnp.asarray(RNG.standard_normal(N))


def test_hvp_and_hessian_match_the_analytic_hessian():
    exact = quartic_hessian(THETA)
    np.testing.assert_allclose(jax.jit(curvature.hessian, static_argnums=0)(quartic, THETA), exact, atol=1e-12)
    vs = jnp.asarray(RNG.standard_normal((3, N)))
    hvps = jax.jit(jax.vmap(lambda v: curvature.hvp(quartic, THETA, v)))(vs)
    np.testing.assert_allclose(hvps, vs @ exact, atol=1e-12)
    np.testing.assert_allclose(jax.vmap(curvature.hvp_fn(quartic, THETA))(vs), vs @ exact, atol=1e-12)
    evals, evecs = curvature.spectrum(quartic, THETA)
    np.testing.assert_allclose(evals, np.linalg.eigvalsh(exact), atol=1e-12)
    np.testing.assert_allclose(exact @ evecs, evecs * evals, atol=1e-11)  # columns are eigenvectors


def test_index_is_the_fraction_below_minus_tol():
    evals = jnp.array([-2.0, -1e-6, 0.0, 3.0])
    assert float(curvature.index(evals)) == 0.25  # −1e-6 is within the default tolerance 1e-5
    assert float(curvature.index(evals, tol=1e-7)) == 0.5
    assert curvature.index(evals).dtype == jnp.float64


def test_eigenvalues_along_a_path_and_nan_rows():
    thetas = np.stack([np.asarray(THETA), np.zeros(N), np.full(N, np.nan)])
    out = np.asarray(curvature.eigenvalues_along(quartic, jnp.asarray(thetas)))
    for row, theta in zip(out[:2], thetas[:2]):
        np.testing.assert_allclose(row, np.linalg.eigvalsh(quartic_hessian(theta)), atol=1e-12)
    assert np.isnan(out[2]).all()


@pytest.fixture(scope="module")
def digits():
    problem = problems.get("mlp-digits")
    theta = problem.init(jax.random.PRNGKey(0))
    hessian = np.asarray(jax.jit(curvature.hessian, static_argnums=0)(problem.loss, theta))
    return problem, theta, hessian, np.linalg.eigvalsh(hessian)


def test_lanczos_extremes_match_dense_eigh_on_mlp_digits(digits):
    problem, theta, _, evals = digits
    assert problem.dim == 398
    top, top_vecs = curvature.lanczos(problem.loss, theta, 5, "largest")
    bottom, _ = curvature.lanczos(problem.loss, theta, 5, "smallest")
    np.testing.assert_allclose(top, evals[::-1][:5], rtol=1e-6)
    np.testing.assert_allclose(bottom, evals[:5], rtol=1e-6)
    assert evals[0] < 0  # a non-convex point: the bottom eigenvalues are negative
    hv = jax.jit(jax.vmap(lambda v: curvature.hvp(problem.loss, theta, v)))(top_vecs.T)
    np.testing.assert_allclose(hv, top_vecs.T * top[:, None], atol=1e-6 * float(top[0]))


def test_slq_density_integrates_to_one_and_its_negative_mass_matches_the_index(digits):
    problem, theta, _, evals = digits
    density = curvature.slq_density(problem.loss, theta, num_probes=16, num_matvecs=60)
    lam, dens = density["lam"].values, density["density"].values
    assert abs(np.trapezoid(dens, lam) - 1.0) < 1e-3
    np.testing.assert_allclose(density["weight"].sum("quad"), 1.0, atol=1e-10)
    per_probe = (density["weight"] * (density["node"] < 0)).sum("quad").values
    standard_error = per_probe.std(ddof=1) / np.sqrt(len(per_probe))
    exact = np.mean(evals < 0)
    assert 0.3 < exact < 0.6
    assert abs(per_probe.mean() - exact) < 4 * standard_error + 1e-3


def test_hutchinson_trace_within_its_standard_error(digits):
    problem, theta, hessian, _ = digits
    num_probes = 64
    estimate = float(curvature.hutchinson_trace(problem.loss, theta, num_probes=num_probes))
    # Rademacher probes: Var(vᵀHv) = 2 Σ_{i≠j} H_ij².
    variance = 2 * (np.sum(hessian**2) - np.sum(np.diag(hessian) ** 2))
    standard_error = np.sqrt(variance / num_probes)
    assert abs(estimate - np.trace(hessian)) < 4 * standard_error
    assert standard_error < 0.5 * abs(np.trace(hessian))  # the check has teeth
