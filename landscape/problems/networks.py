"""Small multilayer perceptrons on generated or package-bundled data.

Parameters are a list of layers ``[{"w": (out, in), "b": (out,)}, ...]``
(``"b"`` omitted when ``bias=False``), flattened with
``jax.flatten_util.ravel_pytree``; ``Problem.unravel`` maps the flat vector
back.  A layer computes ``h ↦ σ(W h + b)`` on column vectors (batched as
``X Wᵀ + b`` on rows); the last layer is affine.  The loss is the mean
softmax cross-entropy plus ``l2 · ‖θ‖²`` (Frye's r(θ) = ‖θ‖², thesis §3.5.2,
with a coefficient because the thesis prints none).

``extras`` of every MLP problem:

* ``"apply"``: ``(theta, X) -> logits`` for a flat ``theta``;
* ``"data"``: numpy ``x_train, y_train, x_test, y_test`` (int labels);
* ``"layer_sizes"``: ``(in, hidden..., out)``; ``"activation"``: its name;
* ``"batch_loss"``: ``(theta, X, y) -> loss`` on any batch (same regulariser);
* ``"plane"``: the fast slice kernel (:class:`landscape.plane.MLPPlane`).

Registered: ``mlp-moons`` (two-moons, generated) and ``mlp-digits``
(scikit-learn's bundled 8×8 digits averaged to 4×4 and z-scored: the
stand-in for Frye's 4×4 MNIST of §3.5; default hidden sizes (12, 8), Swish,
biases, as in §3.5.2).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from ..plane import MLPPlane
from .base import Problem, default_dtype
from .registry import register

ACTIVATIONS = {
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "leaky_relu": lambda x: jax.nn.leaky_relu(x, negative_slope=0.1),  # Zhao et al.'s slope 0.1
    "swish": jax.nn.swish,  # x·sigmoid(x), Frye §3.3 cites [70]
    "identity": lambda x: x,
}


def init_layers(key, layer_sizes: Sequence[int], bias: bool, dtype):
    """LeCun-normal weights (variance 1/fan_in) and zero biases."""
    layers = []
    for k, (n_in, n_out) in zip(jax.random.split(key, len(layer_sizes) - 1), zip(layer_sizes, layer_sizes[1:])):
        layer = {"w": jax.random.normal(k, (n_out, n_in), dtype) / np.sqrt(n_in)}
        if bias:
            layer["b"] = jnp.zeros(n_out, dtype)
        layers.append(layer)
    return layers


def forward(layers, x, activation: str):
    """Logits of the MLP on a batch ``x`` of row vectors."""
    sigma = ACTIVATIONS[activation]
    h = x
    for i, layer in enumerate(layers):
        h = h @ layer["w"].T + layer.get("b", 0.0)
        if i < len(layers) - 1:
            h = sigma(h)
    return h


def mlp_problem(
    name: str,
    data: dict[str, np.ndarray],
    hidden: Sequence[int],
    activation: str,
    bias: bool,
    l2: float,
    init_scale: float,
    seed: int,
    description: str,
    options: dict,
) -> Problem:
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose from {sorted(ACTIVATIONS)}")
    n_classes = int(data["y_train"].max()) + 1
    sizes = (data["x_train"].shape[1], *hidden, n_classes)
    dtype = default_dtype()
    template = init_layers(jax.random.PRNGKey(seed), sizes, bias, dtype)
    flat0, unravel = ravel_pytree(template)

    def apply(theta, x):
        return forward(unravel(theta), x, activation)

    def batch_loss(theta, x, y):
        logits = apply(theta, x)
        nll = -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))
        return nll + l2 * jnp.sum(theta**2)

    x_train = jnp.asarray(data["x_train"], dtype)
    y_train = jnp.asarray(data["y_train"])

    def loss(theta):
        return batch_loss(theta, x_train, y_train)

    def sampler(key):
        flat, _ = ravel_pytree(init_layers(key, sizes, bias, dtype))
        return init_scale * flat

    return Problem(
        name=name,
        dim=int(flat0.shape[0]),
        loss=loss,
        sampler=sampler,
        description=description,
        options=options,
        unravel=unravel,
        default_point=init_scale * flat0,
        extras={
            "apply": apply,
            "batch_loss": batch_loss,
            "data": data,
            "layer_sizes": sizes,
            "activation": activation,
            "bias": bias,
            "plane": MLPPlane(unravel, ACTIVATIONS[activation], data["x_train"], data["y_train"], l2, sizes),
        },
    )


def two_moons(n: int, noise: float, seed: int) -> dict[str, np.ndarray]:
    """Two interleaved half circles (generated here; no download)."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, np.pi, n)
    label = rng.integers(0, 2, n)
    x = np.where(label[:, None] == 0, np.c_[np.cos(t), np.sin(t)], np.c_[1 - np.cos(t), 0.5 - np.sin(t)])
    x = x + noise * rng.normal(size=x.shape)
    split = int(0.8 * n)
    return {"x_train": x[:split], "y_train": label[:split], "x_test": x[split:], "y_test": label[split:]}


@register("mlp-moons", "network", "MLP classifier on a generated two-moons set")
def mlp_moons(
    hidden: Sequence[int] = (10, 10),
    activation: str = "tanh",
    n: int = 500,
    noise: float = 0.1,
    l2: float = 0.0,
    seed: int = 0,
) -> Problem:
    options = {"hidden": list(hidden), "activation": activation, "n": n, "noise": noise, "l2": l2, "seed": seed}
    return mlp_problem(
        "mlp-moons", two_moons(n, noise, seed), hidden, activation, True, l2, 1.0, seed,
        "A small MLP classifier (2 → hidden → 2, cross-entropy) on a generated two-moons data set.",
        options,
    )


def digits_4x4(test_fraction: float = 0.2, seed: int = 0, resolution: int = 4) -> dict[str, np.ndarray]:
    """scikit-learn's 8×8 digits, 2×2-average-pooled to 4×4 (``resolution=4``; 8 keeps the
    original pixels) and z-scored per pixel with training statistics (Frye §3.5.1 z-scores
    its 4×4 MNIST)."""
    from sklearn.datasets import load_digits

    if resolution not in (4, 8):
        raise ValueError(f"digits resolution must be 4 or 8 (pixels per side), got {resolution!r}")
    digits = load_digits()
    pool = 8 // resolution
    x = digits.images.reshape(-1, resolution, pool, resolution, pool).mean(axis=(2, 4)).reshape(-1, resolution**2)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(test_fraction * len(y))
    test, train = order[:n_test], order[n_test:]
    mean, std = x[train].mean(0), x[train].std(0) + 1e-8
    z = (x - mean) / std
    return {"x_train": z[train], "y_train": y[train], "x_test": z[test], "y_test": y[test]}


@register("mlp-digits", "network", "MLP on scikit-learn digits at 4×4 (Frye §3.5 stand-in)")
def mlp_digits(
    hidden: Sequence[int] = (12, 8),
    activation: str = "swish",
    bias: bool = True,
    l2: float = 1e-4,
    init_scale: float = 1.0,
    seed: int = 0,
    resolution: int = 4,
) -> Problem:
    """``resolution=8, hidden=(128, 128), activation="tanh"`` is the 64-128-128-10 MLP of the
    speed benchmarks (26,122 parameters)."""
    options = {
        "hidden": list(hidden), "activation": activation, "bias": bias, "l2": l2,
        "init_scale": init_scale, "seed": seed, "resolution": resolution,
    }
    return mlp_problem(
        "mlp-digits", digits_4x4(seed=seed, resolution=resolution), hidden, activation, bias, l2, init_scale, seed,
        "MLP classifier (16 → hidden → 10) on scikit-learn's digits downsampled to 4×4 and "
        "z-scored, the stand-in for the 4×4 MNIST of Frye thesis §3.5.2 (hidden 12 and 8, "
        "Swish, biases, cross-entropy + l2‖θ‖²).",
        options,
    )
