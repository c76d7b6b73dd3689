"""Game dynamics: phase portraits, Lyapunov exponents, exponent ascent, generalized
Ridge Rider and complex-momentum rate maps (Lorraine thesis ch. 4-5).

Update rules live in :mod:`landscape.update_rules`; games in
:mod:`landscape.problems.games`.
"""

from .grr import grr_search, iter_grr_search
from .lyapunov import (
    DIRECTIONS,
    OBJECTIVES,
    benettin_exponents,
    exponent_ascent,
    exponents_from_jacobians,
    iter_exponent_ascent,
    iter_lyapunov_map,
    lyapunov,
    lyapunov_map,
    lyapunov_subspace_maps,
    objective_value,
    trajectory_jacobians,
)
from .momentum import augmented_jacobian, bilinear_rate, eigen_block, momentum_rate_map
from .portraits import (
    fixed_points,
    iter_trajectories,
    log_polar,
    phase_portrait,
    spectra_at,
    spectrum_along,
    trajectories,
)

__all__ = [
    "DIRECTIONS", "OBJECTIVES", "augmented_jacobian", "benettin_exponents", "bilinear_rate", "eigen_block",
    "exponent_ascent", "exponents_from_jacobians", "fixed_points", "grr_search", "iter_exponent_ascent",
    "iter_grr_search", "iter_lyapunov_map", "iter_trajectories", "log_polar", "lyapunov", "lyapunov_map",
    "lyapunov_subspace_maps", "momentum_rate_map", "objective_value", "phase_portrait", "spectra_at",
    "spectrum_along", "trajectories", "trajectory_jacobians",
]
