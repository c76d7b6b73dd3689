"""``cnn-digits``: a small convolutional network on scikit-learn's 8×8 digits, trained once and cached.

Architecture (inputs ``(N, 1, 8, 8)``, pixels scaled to [0, 1]; kernels in
``lax.conv``'s ``(out, in, kh, kw)`` layout, so filter normalisation works per
output channel, Li et al. 2018 §4):

    conv 3×3 (1 → c₁, SAME) · swish · 2×2 average pool · conv 3×3 (c₁ → c₂,
    SAME) · swish · flatten (16 c₂) · dense → hidden · swish · dense → 10

With the defaults ``channels=(8, 16)``, ``hidden=64`` it has 18,346
parameters.  The loss is the mean softmax cross-entropy over the training set
plus ``l2 · ‖θ‖²`` (on the first ``samples`` training images, default all
1,438), evaluated as an exact mean over chunks of ``chunk``
samples (:mod:`landscape.problems.data`).

On first use the network is trained with Adam (learning rate ``lr``, batches
of 64, ``epochs`` passes over the data in an order drawn from ``seed``) from
the LeCun-normal initialisation of ``seed``; the weights after every epoch
(the training path, for PCA directions, Li et al. §7; its last row is the
trained network) are cached as one netCDF file per option set under the
user's cache directory (``LANDSCAPE_CACHE_DIR`` or platformdirs'
``user_cache_dir``).  Nothing is downloaded; the result is rebuilt from the seed.

``theta0`` is the trained point; ``extras["trajectory"]`` is the
``(epochs + 1, dim)`` training path; ``extras["apply"]``,
``extras["batch_loss"]`` and ``extras["data"]`` are as for the MLPs, plus
``extras["test_accuracy"]`` of the trained network.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import xarray as xr
from jax.flatten_util import ravel_pytree

from .. import io
from ..results import result_attrs
from .base import Problem, default_dtype
from .data import chunked_mean
from .registry import register

BATCH = 64
#: Bump when the architecture or the training changes: cached weights of another version are retrained.
VERSION = 2


def digits_8x8(test_fraction: float = 0.2, seed: int = 0) -> dict[str, np.ndarray]:
    """scikit-learn's bundled 8×8 digits as ``(N, 1, 8, 8)`` images in [0, 1], split with ``seed``."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0)[:, None]
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(test_fraction * len(y))
    test, train = order[:n_test], order[n_test:]
    return {"x_train": x[train], "y_train": y[train], "x_test": x[test], "y_test": y[test]}


def init_params(key, channels: Sequence[int], hidden: int, dtype) -> dict:
    """LeCun-normal kernels (variance 1/fan_in) and zero biases."""
    c1, c2 = channels
    shapes = {"conv1": (c1, 1, 3, 3), "conv2": (c2, c1, 3, 3), "dense1": (hidden, 16 * c2), "dense2": (10, hidden)}
    params = {}
    for k, (name, shape) in zip(jax.random.split(key, len(shapes)), shapes.items()):
        fan_in = int(np.prod(shape[1:]))
        params[name] = {"w": jax.random.normal(k, shape, dtype) / np.sqrt(fan_in), "b": jnp.zeros(shape[0], dtype)}
    return params


def conv3x3(h, w):
    """SAME 3×3 convolution (cross-correlation, as ``lax.conv``) of ``h (N, C, H, W)`` with ``w (O, C, 3, 3)``.

    Written as one matrix product over the nine shifted copies of ``h``
    (im2col): XLA's CPU convolution is slow in float64 under the ``vmap`` of
    slices.
    """
    n, c, height, width = h.shape
    padded = jnp.pad(h, ((0, 0), (0, 0), (1, 1), (1, 1)))
    patches = jnp.stack([padded[:, :, i:i + height, j:j + width] for i in range(3) for j in range(3)], axis=2)
    return jnp.einsum("nckhw,ock->nohw", patches, w.reshape(*w.shape[:2], 9))


def forward(params, x):
    """Logits ``(N, 10)`` for images ``x (N, 1, 8, 8)``."""

    def conv(h, layer):
        return jax.nn.swish(conv3x3(h, layer["w"]) + layer["b"][:, None, None])

    h = conv(x, params["conv1"])
    n, c, height, width = h.shape
    h = h.reshape(n, c, height // 2, 2, width // 2, 2).mean(axis=(3, 5))
    h = conv(h, params["conv2"]).reshape(n, -1)
    h = jax.nn.swish(h @ params["dense1"]["w"].T + params["dense1"]["b"])
    return h @ params["dense2"]["w"].T + params["dense2"]["b"]


def cache_dir() -> Path:
    """Where trained networks are cached: ``$LANDSCAPE_CACHE_DIR`` or the user's cache directory."""
    if os.environ.get("LANDSCAPE_CACHE_DIR"):
        return Path(os.environ["LANDSCAPE_CACHE_DIR"])
    import platformdirs

    return Path(platformdirs.user_cache_dir("landscape-explorer"))


def _train(batch_loss, params0, x, y, epochs: int, lr: float, seed: int):
    """Adam over shuffled batches of 64; returns the weights after every epoch (flat, ``(epochs+1, dim)``)."""
    flat0, unravel = ravel_pytree(params0)
    optimizer = optax.adam(lr)
    steps = len(y) // BATCH

    def loss_flat(theta, xb, yb):
        return batch_loss(unravel(theta), xb, yb)

    @jax.jit
    def epoch(state, key):
        order = jax.random.permutation(key, len(y))[: steps * BATCH].reshape(steps, BATCH)

        def step(carry, index):
            theta, opt = carry
            grad = jax.grad(loss_flat)(theta, x[index], y[index])
            updates, opt = optimizer.update(grad, opt, theta)
            return (optax.apply_updates(theta, updates), opt), None

        state, _ = jax.lax.scan(step, state, order)
        return state, state[0]

    keys = jax.random.split(jax.random.PRNGKey(seed + 1), epochs)
    _, path = jax.lax.scan(epoch, (flat0, optimizer.init(flat0)), keys)
    return jnp.concatenate([flat0[None], path])


@register("cnn-digits", "network", "Two-conv-layer CNN on scikit-learn's 8×8 digits, trained once and cached")
def cnn_digits(
    channels: Sequence[int] = (8, 16),
    hidden: int = 64,
    l2: float = 1e-4,
    epochs: int = 20,
    lr: float = 3e-3,
    chunk: int = 512,
    samples: int | None = None,
    seed: int = 0,
) -> Problem:
    channels = [int(c) for c in channels]
    if len(channels) != 2 or min(channels) < 1 or hidden < 1 or epochs < 0 or chunk < 1:
        raise ValueError("cnn-digits needs channels=(c1, c2) ≥ 1, hidden ≥ 1, epochs ≥ 0 and chunk ≥ 1; got "
                         f"channels={channels}, hidden={hidden}, epochs={epochs}, chunk={chunk}")
    data = digits_8x8(seed=seed)
    n_train = len(data["y_train"])
    samples = n_train if samples is None else int(samples)
    if not BATCH <= samples <= n_train:
        raise ValueError(f"cnn-digits: samples must be in {BATCH}..{n_train}, got {samples}")
    data.update(x_train=data["x_train"][:samples], y_train=data["y_train"][:samples])
    options = {"channels": channels, "hidden": hidden, "l2": l2, "epochs": epochs, "lr": lr, "chunk": chunk,
               "samples": samples, "seed": seed}
    dtype = default_dtype()
    template = init_params(jax.random.PRNGKey(seed), channels, hidden, dtype)
    flat0, unravel = ravel_pytree(template)

    def batch_loss(params, x, y):
        logits = forward(params, x)
        nll = -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))
        return nll + l2 * sum(jnp.sum(leaf**2) for leaf in jax.tree.leaves(params))

    trajectory = _trained_path(options, dtype, lambda: _train(
        batch_loss, template, jnp.asarray(data["x_train"], dtype), jnp.asarray(data["y_train"]), epochs, lr, seed))
    theta0 = jnp.asarray(trajectory[-1], dtype)
    train = (data["x_train"].astype(dtype), data["y_train"])
    params_loss = chunked_mean(lambda p, batch: batch_loss(p, *batch), train, chunk, "cnn-digits")

    def loss(theta):
        return params_loss(unravel(theta))

    def apply(theta, x):
        return forward(unravel(theta), x)

    accuracy = float(np.mean(np.argmax(apply(theta0, jnp.asarray(data["x_test"], dtype)), axis=1) == data["y_test"]))
    c1, c2 = channels
    return Problem(
        name="cnn-digits",
        dim=int(flat0.shape[0]),
        loss=loss,
        sampler=lambda key: ravel_pytree(init_params(key, channels, hidden, dtype))[0],
        description=(
            f"A small CNN (conv 3×3 1→{c1}, 2×2 pool, conv 3×3 {c1}→{c2}, dense {16 * c2}→{hidden}→10, swish) on "
            f"{samples} of scikit-learn's 8×8 digits, trained with Adam for {epochs} epochs (test accuracy {accuracy:.1%}); "
            "the start point is the trained network."
        ),
        options=options,
        unravel=unravel,
        default_point=theta0,
        extras={"apply": apply, "batch_loss": lambda theta, x, y: batch_loss(unravel(theta), x, y), "data": data,
                "trajectory": np.asarray(trajectory), "test_accuracy": accuracy},
    )


def _trained_path(options: dict, dtype, train) -> np.ndarray:
    """The training path for ``options``: read from the cache, else trained (``train()``) and cached.

    A cache file that is not a readable training path of these options (written by an
    older version, truncated by a killed save) is replaced, never an error."""
    key = json.dumps({**options, "dtype": str(jnp.dtype(dtype)), "version": VERSION}, sort_keys=True)
    path = cache_dir() / f"cnn-digits-{hashlib.sha256(key.encode()).hexdigest()[:16]}.nc"
    if path.exists():
        try:
            cached = io.load(path)
        except io.FormatError:  # an older version's file, or a truncated one: trained anew and replaced
            cached = None
        if cached is not None and cached.attrs.get("options") == key:
            return cached["trajectory"].values
    trajectory = np.asarray(train())
    path.parent.mkdir(parents=True, exist_ok=True)
    io.save(xr.Dataset({"trajectory": (("epoch", "param"), trajectory)},
                       attrs=result_attrs("training-path", json.loads(key), options=key)), path)
    return trajectory
