"""The engine's one kernel cache: bounded, precision-aware, no shared mutable arrays."""

import contextlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from landscape import games, trajectories
from landscape.games.portraits import fixed_points
from landscape.kernel_cache import KERNELS, KernelCache
from landscape.problems import Problem
from landscape.games.rules import as_arrays, fixed_point_map, hyperparameters


@contextlib.contextmanager
def x64(enabled: bool):
    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", enabled)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", before)


def test_a_precision_change_builds_a_new_kernel_and_switching_back_reuses_the_old():
    cache, built = KernelCache(maxsize=8), []

    def build():
        built.append(str(jnp.result_type(float)))
        return object()

    with x64(False):
        single = cache.get("k", ("a",), build)
    with x64(True):
        double = cache.get("k", ("a",), build)
        assert cache.get("k", ("a",), build) is double
    with x64(False):
        assert cache.get("k", ("a",), build) is single
    assert single is not double and built == ["float32", "float64"]


def test_engine_kernels_follow_x64_on_and_off():
    game = games.get("matching-pennies")
    problem = Problem("quad-x64", 2, lambda t: jnp.sum(t**2), lambda k: jnp.zeros(2))
    with x64(False):
        fmap32 = fixed_point_map(game, "simcm")
        h = as_arrays(hyperparameters("simcm"))
        assert fmap32.init(jnp.zeros(2), h).dtype == jnp.float32
        run32 = trajectories.run_trajectories(problem, [[1.0, 1.0]], [("gd", None)], steps=2)
    with x64(True):
        fmap64 = fixed_point_map(game, "simcm")
        h = as_arrays(hyperparameters("simcm"))
        assert fmap64 is not fmap32 and fmap64.init(jnp.zeros(2), h).dtype == jnp.float64
        assert fixed_point_map(game, "simcm") is fmap64  # cached within one precision
        run64 = trajectories.run_trajectories(problem, [[1.0, 1.0]], [("gd", None)], steps=2)
    assert run32.theta.dtype == np.float32 and run64.theta.dtype == np.float64
    np.testing.assert_allclose(run32.theta.values, run64.theta.values, rtol=1e-6)


def test_the_cache_is_bounded_least_recently_used_first():
    cache = KernelCache(maxsize=2)
    cache.get("k", (1,), lambda: "one")
    cache.get("k", (2,), lambda: "two")
    cache.get("k", (1,), lambda: "rebuilt")  # touch 1: 2 is now the oldest
    cache.get("k", (3,), lambda: "three")
    assert len(cache) == 2
    assert cache.get("k", (1,), lambda: "rebuilt") == "one"
    assert cache.get("k", (2,), lambda: "rebuilt") == "rebuilt"
    with pytest.raises(ValueError, match="maxsize must be at least 1"):
        KernelCache(maxsize=0)


def test_cached_arrays_are_read_only():
    cache = KernelCache()
    first = cache.get("arrays", (), lambda: (np.zeros(3), np.ones(2)))
    with pytest.raises(ValueError):
        first[0][0] = 1.0
    points = fixed_points(games.get("matching-pennies"))
    with pytest.raises(ValueError):
        points[...] = 7.0
    assert np.all(fixed_points(games.get("matching-pennies")) != 7.0)
    assert KERNELS.maxsize >= 64
