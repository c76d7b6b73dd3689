"""The optimizer catalogue: specs build, defaults validate, hostile values are refused,
and a hyperparameter set through the spec is the one optax uses."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from landscape import optim, trajectories
from landscape import teleport as tp
from landscape.problems import Problem
from landscape.games.rules import RULES, hyperparameters

QUADRATIC = Problem("quad-2", 2, lambda t: 0.5 * (t[0] ** 2 + 3.0 * t[1] ** 2), lambda k: jnp.zeros(2))


@pytest.mark.parametrize("name", optim.names())
def test_every_spec_builds_from_its_validated_defaults(name):
    algorithm = optim.get(name)
    assert optim.validate(name) == algorithm.defaults
    for hyper in algorithm.hypers:
        assert hyper.low <= hyper.default <= hyper.high and hyper.doc
    tx = optim.build(name, loss=QUADRATIC.loss)
    theta = jnp.array([1.0, -2.0])
    updates, _ = tx.update(jax.grad(QUADRATIC.loss)(theta), tx.init(theta), theta)
    assert updates.shape == (2,) and bool(jnp.all(jnp.isfinite(updates)))
    assert float(jnp.dot(updates, jax.grad(QUADRATIC.loss)(theta))) < 0  # every default first step descends


@pytest.mark.parametrize(
    ("name", "hypers", "message"),
    [
        ("gd", {"lr": 1e308}, "gd: lr=1e\\+308 is out of range; allowed: 1e-08 ≤ lr ≤ 100"),
        ("gd", {"lr": 0.0}, "gd: lr=0 is out of range"),
        ("adam", {"lr": float("nan")}, "adam: lr must be finite"),
        ("adam", {"b2": float("inf")}, "adam: b2 must be finite"),
        ("heavy-ball", {"momentum": 1.5}, "heavy-ball: momentum=1.5 is out of range; allowed: 0 ≤ momentum ≤ 0.9999"),
        ("adagrad", {"initial_accumulator_value": -1}, "initial_accumulator_value=-1 is out of range"),
        ("rmsprop", {"lr": "0.1"}, "rmsprop: lr must be a number"),
        ("rmsprop", {"lr": True}, "rmsprop: lr must be a number"),
        ("simcm", {"beta_abs": -0.1}, "simcm: beta_abs=-0.1 is out of range"),
        ("adam", {"momentum": 0.9}, "adam has no hyperparameter\\(s\\) momentum; it takes lr, b1, b2, eps"),
        ("sgd", {}, "unknown optimizer or update rule 'sgd'"),
    ],
)
def test_hostile_values_are_refused_with_a_specific_message(name, hypers, message):
    with pytest.raises(ValueError, match=message):
        optim.validate(name, hypers)


def test_every_caller_gets_the_same_validation():
    with pytest.raises(ValueError, match="gd: lr=1e\\+308 is out of range"):
        trajectories.run_trajectories(QUADRATIC, [[1.0, 1.0]], [("gd", {"lr": 1e308})], steps=2)
    with pytest.raises(ValueError, match="gd: lr=1e\\+308 is out of range"):
        tp.make_optimizer("gd", 1e308)
    with pytest.raises(ValueError, match="simgd: alpha must be finite"):
        hyperparameters("simgd", alpha=math.nan)
    with pytest.raises(ValueError, match="trajectories: steps=0 is out of range; allowed: whole numbers 1 ≤ steps"):
        trajectories.run_trajectories(QUADRATIC, [[1.0, 1.0]], [("gd", None)], steps=0)
    with pytest.raises(ValueError, match="trajectories: chunk=-3 is out of range"):
        trajectories.run_trajectories(QUADRATIC, [[1.0, 1.0]], [("gd", None)], steps=2, chunk=-3)
    with pytest.raises(ValueError, match="unknown optimizer 'simgd'"):  # a game rule is not an optimizer
        trajectories.resolve([("simgd", None)])


def test_a_learning_rate_set_through_the_spec_reaches_optax_exactly():
    theta0 = np.array([0.7, -1.3])
    lr = 0.123
    grad = np.array([theta0[0], 3.0 * theta0[1]])
    ds = trajectories.run_trajectories(QUADRATIC, theta0[None], [("gd", {"lr": lr})], steps=1)
    np.testing.assert_array_equal(ds.theta.values[0, 1], theta0 - lr * grad)
    tx = tp.make_optimizer("gd", lr)
    updates, _ = tx.update(jnp.asarray(grad), tx.init(jnp.asarray(theta0)))
    np.testing.assert_array_equal(np.asarray(updates), -lr * grad)
    tx = tp.make_optimizer("gd")  # no lr: the catalogue's default, declared once
    updates, _ = tx.update(jnp.asarray(grad), tx.init(jnp.asarray(theta0)))
    np.testing.assert_array_equal(np.asarray(updates), -optim.get("gd").defaults["lr"] * grad)


def test_catalogue_views_are_the_catalogue():
    assert set(trajectories.OPTIMIZERS) == set(optim.names("optimizer"))
    assert set(RULES) == set(optim.names("rule"))
    assert "damped-newton" not in tp.OPTIMIZERS and "heavy-ball" in tp.OPTIMIZERS
    assert not set(optim.names("optimizer")) & set(optim.names("rule"))
    assert optim.get("heavy-ball").hyper("lr").log and not optim.get("heavy-ball").hyper("momentum").log
    with pytest.raises(ValueError, match="damped-newton needs the loss"):
        optim.build("damped-newton")
