"""Convergence-rate maps of complex momentum (Lorraine §4.3, App. B).

For SimCM on a game with Jacobian ∇_ω ĝ at a fixed point, the augmented state
[ℜμ, ℑμ, ω] evolves with (eq. 4.12)

    J = [[ℜβ I,    −ℑβ I,    −∇ĝ     ],
         [ℑβ I,     ℜβ I,     0       ],
         [ℜ(αβ) I, −ℑ(αβ) I,  I − α∇ĝ ]]

and converges locally at the linear rate ρ(J) (Theorem 3).  Per eigenvalue
λ_k of ∇ĝ the 3×3 block is (B.21)

    J_k = [[ℜβ, −ℑβ, −λ_k], [ℑβ, ℜβ, 0], [ℜ(αβ), −ℑ(αβ), 1 − αλ_k]]

whose spectra give Corollary 1 for bilinear games (λ_k = i c_k, α = α′/c_k).
For alternating updates (AltCM) and other rules the rate is the spectral
radius of the autodiff Jacobian of the rule's map (:mod:`landscape.games.rules`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from ..kernel_cache import KERNELS
from ..problems import Game, get
from ..results import result_attrs
from .jacobian import game_hessian
from .rules import as_arrays, fixed_point_map, hyperparameters

Array = jax.Array


def augmented_jacobian(game_jacobian: Array, alpha, beta) -> Array:
    """Eq. 4.12 for real α and complex β (3d × 3d, real)."""
    h = jnp.asarray(game_jacobian)
    d = h.shape[0]
    eye = jnp.eye(d, dtype=h.dtype)
    re, im = jnp.real(beta), jnp.imag(beta)
    zero = jnp.zeros_like(h)
    return jnp.block([
        [re * eye, -im * eye, -h],
        [im * eye, re * eye, zero],
        [alpha * re * eye, -alpha * im * eye, eye - alpha * h],
    ])


def eigen_block(lam, alpha, beta) -> Array:
    """The per-eigenvalue 3×3 block J_k of eq. B.21 (complex)."""
    lam = jnp.asarray(lam, complex)
    ab = alpha * beta
    return jnp.array([
        [jnp.real(beta), -jnp.imag(beta), -lam],
        [jnp.imag(beta), jnp.real(beta), 0.0],
        [jnp.real(ab), -jnp.imag(ab), 1.0 - alpha * lam],
    ], dtype=complex)


def bilinear_rate(abs_beta, arg_beta, alpha_prime) -> float:
    """Spectral radius of B.21 for λ = i with α = α′ (by the invariance α_k = α′/c_k this is the
    rate of every eigenspace of a bilinear game; Corollary 1)."""
    beta = abs_beta * np.exp(1j * arg_beta)
    return float(np.max(np.abs(np.linalg.eigvals(np.asarray(eigen_block(1j, alpha_prime, beta))))))


def _spectral_radius(m: Array) -> Array:
    # jnp.linalg.eigvals runs on CPU (this engine's platform) and is not differentiated here.
    return jnp.max(jnp.abs(jnp.linalg.eigvals(m)))


@jax.jit
def _simultaneous_rates(h, alpha, mags, args):
    def rho(m, a):
        return _spectral_radius(augmented_jacobian(h, alpha, m * jnp.exp(1j * a)))

    return jax.vmap(jax.vmap(rho))(mags, args)


@KERNELS("games.momentum._alternating_rates")
def _alternating_rates(game: Game):
    fmap = fixed_point_map(game, "altcm")
    base = as_arrays(hyperparameters("altcm"))

    @jax.jit
    def rates(theta, alpha, mags, args):
        def rho(m, a):
            hyp = {**base, "alpha": alpha, "beta_abs": m, "beta_arg": a}
            return _spectral_radius(jax.jacfwd(fmap.step)(fmap.init(theta, hyp), hyp))

        return jax.vmap(jax.vmap(rho))(mags, args)

    return rates


def momentum_rate_map(game_or_jacobian, alpha: float, abs_beta, arg_beta, theta=None,
                      scheme: str = "simultaneous") -> xr.DataArray:
    """ρ of complex momentum over a (|β|, arg β) grid (Fig 4.3).

    ``game_or_jacobian`` is a game (or its name), whose game Hessian is taken at
    ``theta`` (default: its first listed equilibrium), or a (d, d) matrix ∇ĝ.
    ``scheme="simultaneous"`` uses eq. 4.12; ``"alternating"`` the autodiff
    Jacobian of AltCM at (θ, μ = 0) (needs a game).  Cells with ρ < 1
    converge; ``attrs["best"]`` holds the best cell.
    """
    abs_beta = np.asarray(abs_beta, float)
    arg_beta = np.asarray(arg_beta, float)
    mags, args = (jnp.asarray(a) for a in np.meshgrid(abs_beta, arg_beta, indexing="ij"))
    if isinstance(game_or_jacobian, str):
        game_or_jacobian = get(game_or_jacobian)
    if isinstance(game_or_jacobian, Game):
        game = game_or_jacobian
        if theta is None:
            theta = game.ground_truth["equilibrium"][0]
        theta = jnp.asarray(theta, jnp.result_type(float))
        config = {**game.config(), "theta": np.asarray(theta).tolist()}
    else:
        game, config = None, {"game_jacobian": np.asarray(game_or_jacobian).tolist()}
    if scheme == "simultaneous":
        h = game_hessian(game, theta) if game is not None else jnp.asarray(game_or_jacobian, jnp.result_type(float))
        radii = np.asarray(_simultaneous_rates(h, alpha, mags, args))
    elif scheme == "alternating":
        if game is None:
            raise ValueError("the alternating rate needs a game, not a bare Jacobian")
        radii = np.asarray(_alternating_rates(game)(theta, alpha, mags, args))
    else:
        raise ValueError(f"unknown scheme {scheme!r}")
    best = np.unravel_index(np.argmin(radii), radii.shape)
    return xr.DataArray(
        radii, dims=("abs_beta", "arg_beta"), coords={"abs_beta": abs_beta, "arg_beta": arg_beta},
        name="spectral_radius",
        attrs=result_attrs("momentum-rate-map", {**config, "alpha": alpha, "scheme": scheme},
                           best_abs_beta=float(abs_beta[best[0]]), best_arg_beta=float(arg_beta[best[1]]),
                           best_rate=float(radii[best])),
    )
