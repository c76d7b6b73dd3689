"""Teleportation with parameter symmetries (Zhao et al., "Improving Convergence and
Generalization Using Parameter Symmetries"; digest in ``shared/notes/teleportation.md``).

* :func:`level_set` — move along the level set of a 2-D problem to the point of
  largest (or smallest) gradient norm (eq. 4); for quadratic bowls, whose
  level sets are orbits of a conjugated rotation group, the group action itself.
* :func:`mlp_teleport` — GL(h) actions on consecutive MLP layers (App. E.1,
  eqs. 78-79) optimised by gradient ascent over the Lie algebra for ‖∇L‖²,
  ‖∇L‖_A, sharpness φ (eq. 13) or curvature ψ (eqs. 14, 80).
* :func:`train` / :func:`iter_train` — any optax optimizer with teleports on a
  schedule, optimizer state kept, teleported or reset (App. G.1); seed studies
  (:func:`compare` over seeds) go in tasks of seed batches on the executor seam (:mod:`.seeds`).
* :func:`sharpness_curvature` (streamed: :func:`iter_sharpness_curvature`, on the executor seam) — φ and ψ of many trained models beside their
  validation loss (Table 1).
"""

from .groups import act, invariance_error, layers_of, weights_of
from .metrics import iter_sharpness_curvature, sharpness_curvature
from .mlp import TeleportReport, mlp_teleport
from .objectives import curvature, curvature_per_pair, curve_curvature, grad_norm_A, grad_norm_sq, make_probes, sharpness
from .surfaces import level_set, quadratic_symmetry
from .training import OPTIMIZERS, Schedule, compare, epochs_to_reach, iter_compare, iter_train, make_optimizer, train

__all__ = [
    "OPTIMIZERS",
    "Schedule",
    "TeleportReport",
    "act",
    "compare",
    "curvature",
    "curve_curvature",
    "epochs_to_reach",
    "grad_norm_A",
    "grad_norm_sq",
    "invariance_error",
    "iter_compare",
    "iter_train",
    "layers_of",
    "level_set",
    "make_optimizer",
    "make_probes",
    "curvature_per_pair",
    "mlp_teleport",
    "quadratic_symmetry",
    "sharpness",
    "iter_sharpness_curvature",
    "sharpness_curvature",
    "train",
    "weights_of",
]
