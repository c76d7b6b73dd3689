"""cnn-digits: trained once and cached deterministically, Lanczos vs a dense Hessian, per-channel filter norms.

The tests use a smaller option of the same network (channels (2, 2), hidden 4:
240 parameters, on 128 training images) so that the dense Hessian, computed
column by column from 706 HVPs, stays affordable on a 2-core CI machine; the
default (18,346 parameters, 1,438 images) would need 18,346 HVPs of 11× the
data.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr

from landscape import curvature, io, problems, slices
from landscape.problems.cnn import cnn_digits, conv3x3

jax.config.update("jax_enable_x64", True)

SMALL = {"channels": (2, 2), "hidden": 4, "epochs": 40, "samples": 128, "chunk": 128, "lr": 0.03}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    path = tmp_path_factory.mktemp("cache")
    mp.setenv("LANDSCAPE_CACHE_DIR", str(path))
    yield path
    mp.undo()


@pytest.fixture(scope="module")
def small(cache):
    return cnn_digits(**SMALL)


def test_registered_trained_and_cached_deterministically(small, cache, tmp_path, monkeypatch):
    assert "cnn-digits" in problems.names("network")
    assert small.dim == 2 * 9 + 2 + 2 * 2 * 9 + 2 + 4 * 32 + 4 + 10 * 4 + 10
    files = list(cache.glob("cnn-digits-*.nc"))
    assert len(files) == 1
    path = small.extras["trajectory"]
    assert path.shape == (SMALL["epochs"] + 1, small.dim)
    np.testing.assert_array_equal(small.theta0, path[-1])
    assert float(small.loss(small.theta0)) < 0.9 * float(small.loss(jnp.asarray(path[0])))  # it trained
    monkeypatch.setenv("LANDSCAPE_CACHE_DIR", str(tmp_path))  # a fresh cache retrains to the same weights
    np.testing.assert_array_equal(cnn_digits(**SMALL).theta0, small.theta0)
    with pytest.raises(ValueError, match="channels=\\(c1, c2\\)"):
        cnn_digits(channels=(4,))


def test_a_cache_file_that_is_not_ours_is_retrained_and_replaced(small, cache, tmp_path, monkeypatch):
    """An older version's cache file (no ``kind``) at the same name once made cnn-digits unbuildable."""
    monkeypatch.setenv("LANDSCAPE_CACHE_DIR", str(tmp_path))
    (name,) = [path.name for path in cache.glob("cnn-digits-*.nc")]
    stale = tmp_path / name
    xr.Dataset({"trajectory": (("epoch", "param"), np.zeros((1, small.dim)))}).to_netcdf(stale)  # no 'kind'
    with pytest.raises(io.FormatError):
        io.load(stale)
    np.testing.assert_array_equal(cnn_digits(**SMALL).theta0, small.theta0)
    assert io.load(stale).attrs["kind"] == "training-path"


def test_conv3x3_is_lax_conv_same():
    rng = np.random.default_rng(0)
    h, w = jnp.asarray(rng.normal(size=(5, 3, 8, 8))), jnp.asarray(rng.normal(size=(4, 3, 3, 3)))
    np.testing.assert_allclose(conv3x3(h, w), jax.lax.conv_general_dilated(h, w, (1, 1), "SAME"), atol=1e-12)


def test_lanczos_top5_matches_dense_eigh_of_the_columnwise_hessian(small):
    theta = small.theta0
    matvec = jax.jit(jax.vmap(curvature.hvp_fn(small.loss, theta)))
    dense = np.asarray(matvec(jnp.eye(small.dim)))  # row i = H e_i, one HVP per column
    dense = 0.5 * (dense + dense.T)
    reference = np.linalg.eigh(dense)[0][::-1][:5]
    values, vectors = curvature.lanczos(small.loss, theta, 5, "largest", num_matvecs=80, tol=1e-10)
    np.testing.assert_allclose(np.asarray(values), reference, rtol=1e-6)
    residual = np.linalg.norm(dense @ np.asarray(vectors) - np.asarray(vectors) * np.asarray(values), axis=0)
    assert np.all(residual < 1e-5 * abs(reference[0]))


def test_filter_normalisation_per_conv_output_channel(small):
    theta = small.theta0
    direction = slices.make_directions(small, "filter", theta, k=1, key=jax.random.PRNGKey(3))[0]
    d, w = small.unravel(jnp.asarray(direction)), small.unravel(theta)
    for name in ("conv1", "conv2", "dense1", "dense2"):
        kernel, dk = np.asarray(w[name]["w"]), np.asarray(d[name]["w"])
        axes = tuple(range(1, kernel.ndim))
        np.testing.assert_allclose(np.sqrt((dk**2).sum(axes)), np.sqrt((kernel**2).sum(axes)), rtol=1e-12)
        assert not np.allclose(dk, kernel)  # a random direction, only rescaled
        np.testing.assert_array_equal(np.asarray(d[name]["b"]), 0.0)


def test_filter_normalisation_on_flax_conv_kernels_uses_the_last_axis():
    nnx = pytest.importorskip("flax.nnx")
    from landscape.problems import from_flax

    class Net(nnx.Module):
        def __init__(self, rngs):
            self.conv = nnx.Conv(1, 3, (3, 3), param_dtype=jnp.float64, rngs=rngs)  # kernel (3, 3, 1, 3)
            self.out = nnx.Linear(3 * 64, 10, param_dtype=jnp.float64, rngs=rngs)

        def __call__(self, x):
            return self.out(jax.nn.swish(self.conv(x)).reshape(x.shape[0], -1))

    rng = np.random.default_rng(0)
    problem = from_flax(Net(nnx.Rngs(0)), (rng.normal(size=(20, 8, 8, 1)), rng.integers(0, 10, 20)))
    direction = slices.make_directions(problem, "filter", problem.theta0, k=1)[0]
    d, w = problem.unravel(jnp.asarray(direction)), problem.unravel(problem.theta0)
    for dk, kernel in [(d["conv"]["kernel"], w["conv"]["kernel"]), (d["out"]["kernel"], w["out"]["kernel"])]:
        dk, kernel = np.asarray(dk), np.asarray(kernel)
        axes = tuple(range(kernel.ndim - 1))
        np.testing.assert_allclose(np.sqrt((dk**2).sum(axes)), np.sqrt((kernel**2).sum(axes)), rtol=1e-12)
