"""The registry of result kinds: one schema per ``attrs["kind"]``.

Every engine result is an ``xarray.Dataset`` whose ``attrs["kind"]`` names its
schema here: which variables it has and over which dimensions, and which
attributes it must carry.  A streamed result's partial Datasets
(``landscape.jobs.Event.partial``) have the same kind and schema as the final
one.  :func:`check` validates a Dataset against its kind; a test runs it on
every generator's partial and final output.

Conventions.

* **One schema per kind.**  Results that differ in variables or dimensions get
  different kinds (``optimizer-trajectories`` vs ``game-trajectories``,
  ``slice-1d`` vs ``slice-2d``).  ``optional`` variables are those a caller can
  switch on (a slice's projected path, a critical-point run's kept path); when
  present they have the listed dimensions.
* **One name per dimension** across the engine: ``run`` (independent runs:
  starts × optimizers, seeds, ...), ``step`` (iterations of a run), ``param``
  (the flat parameter vector); ``node``/``point`` for trees, ``x``/``y`` for
  grids over a 2-D parameter plane, ``alpha``/``beta`` for slice coefficients
  along directions.
* **Common attributes**: ``kind``, ``config`` (JSON), ``versions`` (JSON) and
  ``schema_version`` (:data:`SCHEMA_VERSION` when the result was made), all
  written by :func:`landscape.results.result_attrs`.

Sizes are not part of a schema: a partial result may be shorter along its
streamed dimension, or full-size with NaN where nothing is computed yet.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import xarray as xr

#: Version of the schemas below; bump when a kind's variables or dims change.
SCHEMA_VERSION = 1

#: Attributes every result carries (see :func:`landscape.results.result_attrs`).
COMMON_ATTRS = ("kind", "config", "versions", "schema_version")

Dims = tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Kind:
    """The schema of one result kind.

    name: the ``attrs["kind"]`` value.
    doc: one line saying what the result is and which function makes it.
    variables: data variable -> its dims, all required.
    optional: data variable -> its dims, present only with some options.
    coords: non-index coordinate -> its dims, all required.
    attrs: required attributes beyond :data:`COMMON_ATTRS`.
    """

    name: str
    doc: str
    variables: Mapping[str, Dims]
    optional: Mapping[str, Dims] = dataclasses.field(default_factory=dict)
    coords: Mapping[str, Dims] = dataclasses.field(default_factory=dict)
    attrs: tuple[str, ...] = ()

    @property
    def dims(self) -> frozenset[str]:
        """Every dimension a result of this kind may have."""
        specs = (*self.variables.values(), *self.optional.values(), *self.coords.values())
        return frozenset(d for dims in specs for d in dims)


_REGISTRY: dict[str, Kind] = {}


def register(kind: Kind, *, replace: bool = False) -> Kind:
    """Add a kind; a second, different schema under the same name is refused."""
    old = _REGISTRY.get(kind.name)
    if old is not None and old != kind and not replace:
        raise ValueError(f"result kind {kind.name!r} is already registered with another schema")
    _REGISTRY[kind.name] = kind
    return kind


def get(name: str) -> Kind:
    """The registered kind ``name`` (ValueError listing the known kinds otherwise)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown result kind {name!r}; registered kinds: {', '.join(sorted(_REGISTRY))}") from None


def names() -> list[str]:
    return sorted(_REGISTRY)


def check(result: xr.Dataset | xr.DataArray) -> Kind:
    """Validate ``result`` against the schema of its ``attrs["kind"]`` and return the kind.

    A named DataArray is checked as the one-variable Dataset it converts to.
    Raises ValueError naming the first missing attribute, missing or unknown
    variable, or variable with the wrong dimensions.
    """
    if isinstance(result, xr.DataArray):
        if result.name is None:
            raise ValueError("a result DataArray needs a name to be checked against its kind")
        result = result.to_dataset().assign_attrs(result.attrs)
    missing = [a for a in COMMON_ATTRS if a not in result.attrs]
    if missing:
        raise ValueError(f"result has no attribute(s) {', '.join(missing)}; every result needs {COMMON_ATTRS}")
    kind = get(result.attrs["kind"])
    label = f"{kind.name!r} result"
    missing = [a for a in kind.attrs if a not in result.attrs]
    if missing:
        raise ValueError(f"{label} has no attribute(s) {', '.join(missing)}; it needs {', '.join(kind.attrs)}")
    allowed = {**kind.variables, **kind.optional}
    for name, var in result.data_vars.items():
        if name not in allowed:
            raise ValueError(f"{label} has an unknown variable {name!r}; allowed: {', '.join(sorted(allowed))}")
        if tuple(var.dims) != tuple(allowed[name]):
            raise ValueError(f"{label}: variable {name!r} has dims {tuple(var.dims)}, expected {tuple(allowed[name])}")
    absent = [v for v in kind.variables if v not in result.data_vars]
    if absent:
        raise ValueError(f"{label} lacks variable(s) {', '.join(absent)}")
    for name, dims in kind.coords.items():
        if name not in result.coords:
            raise ValueError(f"{label} lacks coordinate {name!r}")
        if tuple(result.coords[name].dims) != tuple(dims):
            raise ValueError(f"{label}: coordinate {name!r} has dims {tuple(result.coords[name].dims)}, "
                             f"expected {tuple(dims)}")
    extra = set(result.dims) - kind.dims
    if extra:
        raise ValueError(f"{label} has unknown dimension(s) {', '.join(sorted(extra))}; "
                         f"allowed: {', '.join(sorted(kind.dims))}")
    return kind


# --------------------------------------------------------------------------- built-in kinds

_RUN, _STEP, _PARAM = "run", "step", "param"
_TREE_NODE = {
    "parent": ("node",), "depth": ("node",), "fingerprint": ("node",), "eigen_index": ("node",),
    "sign": ("node",), "eigenvalue": ("node",), "loss": ("node",), "grad_norm": ("node",),
    "status": ("node",), "order": ("node",), "theta": ("node", _PARAM),
    "point_node": ("point",), "point_theta": ("point", _PARAM), "point_loss": ("point",),
    "point_eigenvalue": ("point",), "point_overlap": ("point",),
}
_SLICE_COMMON = {"directions": ("direction", _PARAM), "centre": (_PARAM,), "centre_loss": ()}
_SLICE_PATH = {name: (_STEP,) for name in (
    "path_alpha", "path_beta", "path_residual", "path_relative_residual", "path_loss", "path_loss_in_plane")}
_CRITICAL_STEP = ("loss", "grad_norm_sq", "r", "r_h", "index", "step_size", "solver_steps", "merit_evals")
_TELEPORT_RECORDS = {"teleport_epoch": ("teleport",), **{name: (_RUN, "teleport") for name in (
    "loss_before", "loss_after", "grad_norm_sq_before", "grad_norm_sq_after", "invariance_error",
    "objective_before", "objective_after")}}
_TELEPORT_NETWORK = {name: (_RUN, "epoch") for name in (
    "train_loss", "test_loss", "grad_norm_sq", "train_accuracy", "test_accuracy")}
_TELEPORT_SURFACE = {"theta": (_RUN, "epoch", _PARAM), "train_loss": (_RUN, "epoch"), "grad_norm_sq": (_RUN, "epoch")}
_GAME_SPECTRA = {f"{m}_{part}": ("fixed", f"{m}_eig") for m in ("hessian", "jacobian") for part in ("eig_re", "eig_im")}
_TELEPORT_COMPARISON = Kind(
    "teleport-comparison", "a network run without and with teleports (teleport.iter_compare)",
    {**{name: ("arm", *dims) for name, dims in _TELEPORT_NETWORK.items()}, "wall_time": ("arm", "epoch"),
     "final_theta": ("arm", _RUN, _PARAM)},
    optional=_TELEPORT_RECORDS, coords={"seed": (_RUN,)}, attrs=("status",))

for _kind in (
    Kind("optimizer-trajectories", "optimizers × starts on a problem (trajectories.iter_trajectories)",
         {"theta": (_RUN, _STEP, _PARAM), "loss": (_RUN, _STEP), "grad_norm": (_RUN, _STEP),
          "diverged": (_RUN,), "stop_step": (_RUN,)},
         optional={"train_accuracy": (_RUN, _STEP), "test_accuracy": (_RUN, _STEP)},  # classifiers
         coords={"optimizer": (_RUN,), "label": (_RUN,), "start": (_RUN,)}, attrs=("status", "steps_done")),
    Kind("run-summary", "one row per optimizer run: final values, steps to a tolerance (trajectories.run_summary)",
         {name: (_RUN,) for name in ("final_step", "final_loss", "final_grad_norm", "steps_to_tolerance", "diverged",
                                     "hyperparameters")},
         coords={"optimizer": (_RUN,), "label": (_RUN,), "start": (_RUN,)}, attrs=("tolerance",)),
    Kind("game-trajectories", "an update rule from starts on a game (games.iter_trajectories)",
         {"path": (_RUN, _STEP, _PARAM), "player_loss": (_RUN, _STEP, "player")}, attrs=("status",)),
    Kind("slice-1d", "the loss along one direction (slices.iter_slice)",
         {"loss": ("alpha",), **_SLICE_COMMON}, optional=_SLICE_PATH, attrs=("status", "points_done")),
    Kind("slice-2d", "the loss over a plane of two directions (slices.iter_slice)",
         {"loss": ("beta", "alpha"), **_SLICE_COMMON}, optional=_SLICE_PATH, attrs=("status", "points_done")),
    Kind("critical-points", "critical-point finder runs (critical.iter_find)",
         {**{name: (_RUN, _STEP) for name in _CRITICAL_STEP}, "start": (_RUN, _PARAM), "theta": (_RUN, _PARAM),
          **{name: (_RUN,) for name in ("final_loss", "final_grad_norm_sq", "final_r", "final_r_h",
                                        "final_index", "max_r", "num_steps", "class")}},
         optional={"path": (_RUN, _STEP, _PARAM)}, attrs=("status", "method")),
    Kind("surface", "the loss of a 2-D problem on a grid (grids.surface)", {"loss": ("y", "x")}, attrs=("problem",)),
    Kind("residual-map", "gradient-flat residuals on a 2-D grid (critical.residual_map)",
         {name: ("y", "x") for name in ("loss", "grad_norm_sq", "r", "r_h", "newton_x", "newton_y")}),
    Kind("dlae-critical-points", "analytic critical points of the deep linear autoencoder",
         {"theta": ("point", _PARAM), "loss": ("point",), "index": ("point",), "num_negative": ("point",),
          "num_components": ("point",), "selected": ("point", "component"), "label": ("point",),
          "eigenvalue": ("component",)}),
    Kind("ridge-rider-tree", "a Ridge Rider solution tree (ridge_rider.iter_search)", _TREE_NODE,
         optional={"solution_theta": ("node", _PARAM), "solution_loss": ("node",), "solution_point": ("node",),
                   "finish_path": ("node", "finish_step", _PARAM)},
         attrs=("status", "steps", "problem")),
    Kind("grr-tree", "a generalized Ridge Rider tree on a game (games.iter_grr_search)",
         {**_TREE_NODE, "player_loss": ("node", "player")}, attrs=("status",)),
    Kind("model-parameters", "a model's flat parameters with their pytree layout (checkpoints.save_params)",
         {"theta": (_PARAM,)}, attrs=("treedef", "leaves")),
    Kind("training-path", "parameters after each training epoch (the cached cnn-digits training run)",
         {"trajectory": ("epoch", _PARAM)}, attrs=("options",)),
    Kind("point-analysis", "loss, ‖∇L‖², Hessian spectrum, index, r and r_H at one point (analysis.analyse_point)",
         {"eigenvalue": ("rank",), "theta": (_PARAM,)},
         attrs=("loss", "grad_norm_sq", "index", "r", "r_h", "dense", "source")),
    Kind("saddle-report", "loss, gradient norm and Hessian spectrum at a point (ridge_rider.describe_point)",
         {"eigenvalue": ("rank",), "theta": (_PARAM,)}, attrs=("loss", "grad_norm", "num_negative")),
    Kind("zero-shot-coordination", "Ridge Rider zero-shot coordination (ridge_rider.zsc)",
         {"cross_play": ("ridge",), "self_play": (_RUN, "ridge"), "greedy": (_RUN, "ridge", "player"),
          "solution": (_RUN, "ridge", _PARAM)}, attrs=("selected", "best_score")),
    Kind("tree-mdp-diversity", "solutions found per method on random tree MDPs (ridge_rider.tree_mdp.iter_tree_mdp_table)",
         {"found": ("method", "depth", "tree"),
          **{name: ("depth", "tree") for name in ("rr_steps", "rr_rides", "n_positive", "dim", "rr_seconds")}}),
    Kind("lyapunov", "k-step Lyapunov exponents at one start (games.lyapunov)",
         {"exponent": ("direction",), "direction_vector": ("state", "direction"), "benettin": ("direction",),
          "objective": (), "trajectory": (_STEP, "state")}),
    Kind("lyapunov-map", "the k-step exponent over a 2-D grid of starts (games.iter_lyapunov_map)",
         {"exponent": ("y", "x")}, attrs=("status",)),
    Kind("lyapunov-subspace-maps", "exponent heatmaps on random 2-D subspaces (games.lyapunov_subspace_maps)",
         {"exponent": ("subspace", "y", "x")}),
    Kind("exponent-ascent", "gradient ascent on the k-step exponent (games.iter_exponent_ascent)",
         {"path": (_RUN, _STEP, _PARAM), "objective": (_RUN, _STEP)}, attrs=("status",)),
    Kind("phase-portrait", "vector field, trajectories and fixed points of a rule (games.phase_portrait)",
         {"u": ("y", "x"), "v": ("y", "x"), "speed": ("y", "x"), "fixed_point": ("fixed", _PARAM),
          **_GAME_SPECTRA},
         optional={"path": (_RUN, _STEP, _PARAM), "player_loss": (_RUN, _STEP, "player")}),
    Kind("spectrum-along", "game Hessian and Jacobian eigenvalues along a run (games.spectrum_along)",
         {f"{m}_{part}": (_STEP, f"{m}_eig") for m in ("hessian", "jacobian")
          for part in ("eig_re", "eig_im", "logabs", "arg")}),
    Kind("momentum-rate-map", "convergence rate over the complex momentum coefficient (games.momentum)",
         {"spectral_radius": ("abs_beta", "arg_beta")}, attrs=("best_abs_beta", "best_arg_beta", "best_rate")),
    Kind("teleport-training", "training a network with teleports (teleport.iter_train)",
         {**_TELEPORT_NETWORK, "wall_time": ("epoch",), "final_theta": (_RUN, _PARAM), **_TELEPORT_RECORDS},
         coords={"seed": (_RUN,)}, attrs=("status",)),
    Kind("teleport-training-surface", "optimizing a 2-D surface with level-set teleports (teleport.iter_train)",
         {**_TELEPORT_SURFACE, "wall_time": ("epoch",), **_TELEPORT_RECORDS},
         optional={"teleport_path": ("teleport", _STEP, _PARAM)}, coords={"seed": (_RUN,)}, attrs=("status",)),
    _TELEPORT_COMPARISON,
    Kind("teleport-report", "a network run without and with teleports and φ, ψ of both final points "
         "(teleport.report)", {**_TELEPORT_COMPARISON.variables, "sharpness": ("arm",), "curvature": ("arm",)},
         optional=_TELEPORT_COMPARISON.optional, coords=_TELEPORT_COMPARISON.coords,
         attrs=_TELEPORT_COMPARISON.attrs),
    Kind("teleport-comparison-surface", "a 2-D run without and with teleports (teleport.iter_compare)",
         {**{name: ("arm", *dims) for name, dims in _TELEPORT_SURFACE.items()}, "wall_time": ("arm", "epoch")},
         optional={**_TELEPORT_RECORDS, "teleport_path": ("teleport", _STEP, _PARAM)},
         coords={"seed": (_RUN,)}, attrs=("status",)),
    Kind("level-set-teleport", "a level-set teleport on a 2-D surface (teleport.level_set)",
         {"path": (_STEP, _PARAM), "loss": (_STEP,), "grad_norm_sq": (_STEP,), "theta": (_PARAM,)},
         attrs=("method",)),
    Kind("sharpness-curvature", "sharpness φ and curvature ψ per model (teleport.sharpness_curvature)",
         {name: ("model",) for name in ("sharpness", "curvature", "train_loss", "test_loss")}),
):
    register(_kind)
