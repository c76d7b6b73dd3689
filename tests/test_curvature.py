"""Curvature: HVPs, dense spectra, Lanczos, SLQ, Hutchinson, index, spectra along paths."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from landscape import curvature, problems

from .compile_count import count_lowerings

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


def test_paths_of_similar_lengths_share_one_compilation_of_their_spectra():
    assert [curvature.path_bucket(n) for n in (1, 8, 9, 10, 11, 16, 17, 33, 100)] == [8, 8, 10, 10, 12, 16, 20, 40, 112]
    assert all(n <= curvature.path_bucket(n) <= max(8, 1.25 * n) for n in range(1, 300))
    path = np.asarray(THETA) + 0.1 * RNG.standard_normal((12, N))
    curvature.eigenvalues_along(quartic, path[:11])  # compiles the bucket of 12
    with count_lowerings() as lowered:
        out = curvature.eigenvalues_along(quartic, path)
        summary = curvature.spectrum_summary_along(quartic, path[:11], k=2, extremes_only=True)
    assert lowered == [] and out.shape == (12, N) and summary.eigenvalues.shape == (11, 4)
    for row, theta in zip(out, path):
        np.testing.assert_allclose(row, np.linalg.eigvalsh(quartic_hessian(theta)), atol=1e-12)


@pytest.fixture(scope="module")
def digits():
    problem = problems.get("mlp-digits")
    theta = problem.init(jax.random.PRNGKey(0))
    hessian = np.asarray(jax.jit(curvature.hessian, static_argnums=0)(problem.loss, theta))
    return problem, theta, hessian, np.linalg.eigvalsh(hessian)


def test_lanczos_extremes_match_dense_eigh_on_mlp_digits(digits):
    problem, theta, _, evals = digits
    assert problem.dim == 398
    top, top_vecs = curvature.lanczos(problem.loss, theta, 5, "largest", tol=1e-5)
    bottom, _ = curvature.lanczos(problem.loss, theta, 5, "smallest", tol=1e-5)
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


def known_quadratic(eigenvalues, seed=1):
    """½θᵀAθ with A = Q diag(eigenvalues) Qᵀ for a random orthogonal Q: ``(loss, A)``."""
    q = np.linalg.qr(np.random.default_rng(seed).standard_normal((len(eigenvalues),) * 2))[0]
    a = (q * eigenvalues) @ q.T
    a = 0.5 * (a + a.T)
    return (lambda t: 0.5 * t @ jnp.asarray(a) @ t), a


# separated extremes, a dense bulk: one loss object for all tests below, so each k compiles once
QUAD, QUAD_A = known_quadratic(np.r_[np.linspace(-3.0, -1.5, 6), np.linspace(-1.0, 1.0, 188), np.linspace(1.5, 4.0, 6)])


@pytest.mark.parametrize("k", [1, 4])
@pytest.mark.parametrize("which", ["largest", "smallest"])
def test_lanczos_stops_on_residuals_below_the_old_fixed_budget(k, which):
    evals, evecs = np.linalg.eigh(QUAD_A)
    order = slice(None, None, -1) if which == "largest" else slice(None)
    result = curvature.lanczos_eigenpairs(QUAD, jnp.zeros(200), k, which, tol=1e-7)
    assert bool(result.converged) and k <= int(result.num_matvecs) < max(6 * k, 60)  # the old fixed budget
    np.testing.assert_allclose(result.values, evals[order][:k], rtol=1e-6)
    vectors = np.asarray(result.vectors)
    np.testing.assert_allclose(np.abs(np.sum(vectors * evecs[:, order][:, :k], axis=0)), 1.0, atol=1e-6)
    true_residuals = np.linalg.norm(QUAD_A @ vectors - vectors * np.asarray(result.values), axis=0)
    np.testing.assert_allclose(result.residuals, true_residuals, atol=1e-10)  # Paige's β|s| is the residual
    assert np.all(true_residuals <= 1e-7 * np.abs(evals).max())


def test_lanczos_default_tolerance_bounds_each_eigenvalue_error(digits):
    problem, theta, _, evals = digits
    for which, reference in (("largest", evals[::-1]), ("smallest", evals)):
        result = curvature.lanczos_eigenpairs(problem.loss, theta, 5, which)
        assert bool(result.converged) and int(result.num_matvecs) < 60
        errors = np.abs(np.asarray(result.values) - reference[:5])
        assert np.all(errors <= np.asarray(result.residuals))  # Ritz value within its residual
        assert np.all(errors <= curvature.LANCZOS_TOL * np.abs(result.values).max())


@pytest.mark.parametrize("k", [1, 4])
def test_lanczos_budget_is_what_an_unconverged_run_uses_and_bounds_the_summary_cost(k):
    result = curvature.lanczos_eigenpairs(QUAD, jnp.zeros(200), k, "largest", tol=0.0)  # never converges
    assert int(result.num_matvecs) == curvature.lanczos_budget(200, k) == 96  # the whole buffer
    # one Lanczos run per end above the dense limit; a dense Hessian (one HVP per column) below it
    assert curvature.spectrum_summary_cost(200, k=k, dense_limit=100) == 2 * 96
    assert curvature.spectrum_summary_cost(200, k=k, which="smallest", dense_limit=100) == 96
    assert curvature.spectrum_summary_cost(200, k=k) == 200


def test_lanczos_stops_at_an_invariant_subspace():
    loss, _ = known_quadratic(np.repeat([-1.0, 0.5, 2.0], [10, 20, 10]))  # a Krylov space of dimension 3
    result = curvature.lanczos_eigenpairs(loss, jnp.zeros(40), 2)
    assert int(result.num_matvecs) == 3
    np.testing.assert_allclose(result.values, [2.0, 0.5], rtol=1e-12)


def test_lanczos_compiles_once_for_every_budget_and_tolerance():
    theta = jnp.zeros(200)
    curvature.lanczos_eigenpairs(QUAD, theta, 4)
    with count_lowerings() as lowered:
        counts = [int(curvature.lanczos_eigenpairs(QUAD, theta, 4, which, tol=tol, num_matvecs=budget).num_matvecs)
                  for which, tol, budget in (("largest", 1e-2, None), ("smallest", 1e-10, 50), ("largest", 1e-12, 12))]
    assert lowered == [] and counts[0] < counts[1] and counts[2] == 12


def test_lanczos_warm_start_from_a_nearby_eigenvector_needs_fewer_hvps():
    nearby = np.linalg.eigh(QUAD_A + 0.01 * np.diag(np.r_[1.0, 1.0, 1.0, np.zeros(197)]))[1][:, -1]
    cold = curvature.lanczos_eigenpairs(QUAD, jnp.zeros(200), 1, tol=1e-8)
    warm = curvature.lanczos_eigenpairs(QUAD, jnp.zeros(200), 1, tol=1e-8, v0=nearby)
    np.testing.assert_allclose(warm.values, 4.0, rtol=1e-10)
    assert int(warm.num_matvecs) < int(cold.num_matvecs)
