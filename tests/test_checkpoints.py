"""Parameters saved with save_params load back identically; mismatches are refused."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from landscape import problems
from landscape.checkpoints import load_params, save_params
from landscape.problems import from_function

jax.config.update("jax_enable_x64", True)


def test_problem_parameters_round_trip(tmp_path):
    problem = problems.get("mlp-moons")
    theta = problem.theta0 + 0.5
    save_params(tmp_path / "p.nc", problem, theta=theta)
    np.testing.assert_array_equal(load_params(tmp_path / "p.nc"), np.asarray(theta))
    loaded = load_params(tmp_path / "p.nc", like=problem)
    assert loaded.dtype == problem.theta0.dtype
    np.testing.assert_array_equal(loaded, theta)
    with pytest.raises(ValueError, match="holds 162 parameters; problem 'mlp-moons' has 22"):
        load_params(tmp_path / "p.nc", like=problems.get("mlp-moons", hidden=[4]))


def test_pytree_round_trip_into_a_user_problem(tmp_path):
    params = {"conv": {"kernel": jnp.arange(24.0).reshape(2, 3, 2, 2)}, "dense": [jnp.ones(3), jnp.zeros((3, 2))]}
    save_params(tmp_path / "tree.nc", params)
    back = load_params(tmp_path / "tree.nc", like=jax.tree.map(jnp.zeros_like, params))
    assert jax.tree.structure(back) == jax.tree.structure(params)
    for a, b in zip(jax.tree.leaves(back), jax.tree.leaves(params)):
        np.testing.assert_array_equal(a, b)
    # trained elsewhere, looked at here: the loaded weights become a problem's theta0
    problem = from_function(lambda p: sum(jnp.sum(x**2) for x in jax.tree.leaves(p)), back, name="mine")
    np.testing.assert_allclose(problem.loss(load_params(tmp_path / "tree.nc", like=problem)),
                               sum(float(np.sum(np.asarray(x) ** 2)) for x in jax.tree.leaves(params)))
    wrong = {"conv": {"kernel": jnp.zeros((2, 3, 2, 2))}, "dense": [jnp.ones(3), jnp.zeros((2, 3))]}
    with pytest.raises(ValueError, match=r"saved \(\"\['dense'\]\[1\]\", \(3, 2\)\)"):
        load_params(tmp_path / "tree.nc", like=wrong)


def test_not_a_parameter_file_is_refused(tmp_path):
    from landscape import io
    from landscape.results import result_attrs
    import xarray as xr

    xr.Dataset({"x": ("a", np.ones(2))}).to_netcdf(tmp_path / "other.nc", engine="h5netcdf")  # not ours
    with pytest.raises(ValueError, match="not a parameter file"):
        load_params(tmp_path / "other.nc")
    io.save(xr.Dataset({"loss": (("y", "x"), np.ones((2, 2)))}, coords={"x": [0.0, 1.0], "y": [0.0, 1.0]},
                       attrs=result_attrs("surface", {}, problem="x")), tmp_path / "other.nc")  # ours, another kind
    with pytest.raises(ValueError, match="not a parameter file"):
        load_params(tmp_path / "other.nc")
