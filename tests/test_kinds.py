"""Every generator's partial and final results follow their registered kind."""

import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr

from landscape import critical, games, kinds, slices, trajectories
from landscape import ridge_rider as rr
from landscape import teleport as tp
from landscape.jobs import Event
from landscape.ridge_rider import tree_mdp, zsc
from landscape.teleport import report
from landscape.problems import Problem, get
from landscape.results import result_attrs


def _saddle():
    a = jnp.diag(jnp.array([-1.0, 2.0, 0.5]))
    return Problem("diag-saddle", 3, lambda t: 0.5 * t @ a @ t + 0.1 * jnp.sum(t**4), lambda k: jnp.zeros(3))


def _stream(gen) -> tuple[list[Event], xr.Dataset]:
    events = []
    while True:
        try:
            events.append(next(gen))
        except StopIteration as stop:
            return events, stop.value


def _numpy_backed(ds: xr.Dataset) -> bool:
    return all(isinstance(var.data, np.ndarray) for var in ds.variables.values())


QUARTIC = get("frye-quartic")
TINY_MLP = get("mlp-digits", hidden=[4], activation="leaky_relu", bias=False, l2=0.0)
GENERATORS = {
    "optimizer-trajectories": lambda: trajectories.iter_trajectories(
        get("himmelblau"), [[0.0, 0.0], [1.0, -1.0]], [("gd", None), ("adam", {"lr": 0.1})], steps=12, chunk=5),
    "slice-2d": lambda: slices.iter_slice(
        get("booth"), np.zeros(2), np.eye(2), np.linspace(-1, 1, 4), chunk=5, trajectory=np.ones((3, 2))),
    "slice-1d": lambda: slices.iter_slice(get("booth"), np.zeros(2), np.eye(2)[:1], np.linspace(-1, 1, 7), chunk=3),
    "critical-points": lambda: critical.iter_find(
        QUARTIC, np.array([[0.5, 0.4], [-1.0, 0.3]]), "newton-mr", num_steps=8, chunk=4),
    "critical-points/experiment": lambda: critical.iter_experiment(
        QUARTIC, "newton-mr", num_runs=2, starts="uniform", num_steps=8, chunk=4),
    "residual-map": lambda: critical.iter_residual_map(QUARTIC, 4, chunk=6),
    "ridge-rider-tree": lambda: rr.iter_search(_saddle(), jnp.zeros(3), max_depth=1, n_ridges=1, max_steps=8),
    "tree-mdp-diversity": lambda: tree_mdp.iter_tree_mdp_table((3,), (0,), total_steps=30, max_steps=10, gd_steps=10),
    "sharpness-curvature": lambda: tp.iter_sharpness_curvature(
        TINY_MLP, np.ones((3, TINY_MLP.dim)) * 0.1, n_directions=2, displacements=(0.1,), n_curves=2, batch_size=8,
        models_per_task=2),
    "zero-shot-coordination": lambda: zsc.iter_zero_shot_coordination(
        get("lever-game", payoffs=[1.0, 0.8, 0.6]), 2, n_ridges=1, mis_steps=10, max_steps=3),
    "lyapunov-map": lambda: games.iter_lyapunov_map(
        "matching-pennies", "simgd", np.linspace(-1, 1, 3), np.linspace(-1, 1, 2), k=2, chunk=4, alpha=1.0),
    "exponent-ascent": lambda: games.iter_exponent_ascent(
        "matching-pennies", "simgd", [[0.5, -0.5]], k=2, lr=0.1, steps=4, chunk=2, alpha=1.0),
    "game-trajectories": lambda: games.iter_trajectories("dirac-gan", "simgd", [[1.0, 1.0]], steps=7, chunk=3, alpha=0.2),
    "grr-tree": lambda: games.iter_grr_search("matching-pennies", "simgd", [0.0, 0.0], step_size=0.1,
                                          optimize_steps=3, alpha=0.3),
    "teleport-training-surface": lambda: tp.iter_train(
        get("ellipse"), "gd", tp.Schedule(epochs=4, teleport_at=(1,), steps=5), lr=0.05, theta0=[2.0, 0.5]),
    "teleport-comparison-surface": lambda: tp.iter_compare(
        get("booth"), "gd", tp.Schedule(epochs=3, teleport_at=(0,), steps=5), lr=0.02, theta0=[5.0, -2.0]),
    "teleport-training": lambda: tp.iter_train(
        TINY_MLP, "gd",
        tp.Schedule(epochs=1, teleport_at=()),  # teleports on networks: tests/test_teleport.py
        lr=1e-2, seeds=(0, 1)),
    "teleport-comparison": lambda: tp.iter_compare(TINY_MLP, "gd", tp.Schedule(epochs=1, teleport_at=()), lr=1e-2),
    "teleport-report": lambda: report.iter_report(TINY_MLP, "gd", tp.Schedule(epochs=1, teleport_at=()), lr=1e-2),
}


@pytest.mark.parametrize("name", GENERATORS)
def test_every_partial_and_the_final_result_follow_their_kind(name):
    events, final = _stream(GENERATORS[name]())
    kind = name.split("/")[0]
    assert events, "a generator streams at least one event"
    assert kinds.check(final).name == kind
    assert final.attrs["schema_version"] == kinds.SCHEMA_VERSION
    for event in events:
        assert isinstance(event.partial, xr.Dataset)
        assert kinds.check(event.partial).name == kind
        assert event.partial.attrs["status"] == "running"
        assert _numpy_backed(event.partial)
    # the last partial already holds what the final result holds for a shared variable
    shared = [v for v in final.data_vars if v in events[-1].partial.data_vars and final[v].dtype.kind == "f"]
    assert shared


def test_partial_trajectories_are_full_length_and_nan_ahead():
    stream = GENERATORS["optimizer-trajectories"]()
    first = next(stream).partial  # 5 steps done of 12
    assert first.sizes["step"] == 13 and np.isnan(first.loss.values[:, 6:]).all()
    assert np.isfinite(first.loss.values[:, :6]).all()
    with pytest.raises(ValueError):  # partials are read-only views: a view cannot corrupt the run
        first.loss.values[0, 0] = 1.0
    events, final = _stream(stream)
    np.testing.assert_array_equal(events[-1].partial.theta.values, final.theta.values)
    final.loss.values[0, 0] = 1.0  # the returned result is the caller's own


def test_check_names_what_is_wrong():
    good = xr.Dataset({"exponent": (("y", "x"), np.zeros((2, 3)))},
                      attrs=result_attrs("lyapunov-map", {}, status="complete"))
    assert kinds.check(good).name == "lyapunov-map"
    with pytest.raises(ValueError, match="'exponent' has dims \\('x', 'y'\\), expected \\('y', 'x'\\)"):
        kinds.check(good.transpose("x", "y"))
    with pytest.raises(ValueError, match="lacks variable\\(s\\) exponent"):
        kinds.check(good.drop_vars("exponent"))
    with pytest.raises(ValueError, match="unknown variable 'extra'"):
        kinds.check(good.assign(extra=("x", np.zeros(3))))
    with pytest.raises(ValueError, match="no attribute\\(s\\) status"):
        kinds.check(_without(good, "status"))
    with pytest.raises(ValueError, match="no attribute\\(s\\) schema_version"):
        kinds.check(_without(good, "schema_version"))
    with pytest.raises(ValueError, match="unknown result kind 'nope'"):
        kinds.check(good.assign_attrs(kind="nope"))


def _without(ds, attr):
    out = ds.copy()
    out.attrs = {k: v for k, v in ds.attrs.items() if k != attr}
    return out


def test_result_attrs_refuses_unregistered_kinds_and_a_kind_has_one_schema():
    with pytest.raises(ValueError, match="unknown result kind 'trajectories'"):
        result_attrs("trajectories", {})
    existing = kinds.get("lyapunov-map")
    assert kinds.register(existing) is existing  # the same schema again is fine
    with pytest.raises(ValueError, match="already registered with another schema"):
        kinds.register(kinds.Kind("lyapunov-map", "a different schema", {"exponent": ("x",)}))


def test_every_kind_uses_the_engine_wide_dimension_names():
    """One name per dimension: no start/seed/weight/iteration/time dims for runs, steps and parameters."""
    banned = {"start", "seed", "weight", "iteration", "time", "path_step"}
    for name in kinds.names():
        assert not kinds.get(name).dims & banned, name
