"""Data-set losses evaluated in fixed-size chunks, so memory stays bounded.

A user model's loss is ``loss(params, batch) = (1/|B|) Σ_{i∈B} ℓ(params, x_i)
+ R(params)``: a mean over the samples of a batch plus an optional data-free
term.  For data of ``N`` samples split into chunks ``B_1 … B_m`` of size
``c`` (the last, remainder chunk of size ``N − (m−1)c``),

    L(params) = Σ_j (|B_j| / N) · loss(params, B_j)

is *exactly* the full-batch loss (the weights sum to one, so ``R`` is kept
once), and by linearity so are its gradient and Hessian-vector products.  The
full chunks run in one ``lax.scan`` whose body is ``jax.checkpoint``-ed (the
reverse pass recomputes a chunk's activations instead of storing all of them),
the remainder chunk is one more call with its own static shape; peak memory
follows ``c``, not ``N``.

``"minibatch"`` mode instead evaluates the loss on one fixed batch drawn once
without replacement from ``numpy.random.default_rng(seed)``: faster, not the
full-batch loss; the problem's options (and hence every result's ``attrs``)
say so.

``data`` is any pytree of arrays sharing the leading (sample) axis, e.g. a
tuple ``(x, y)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

DATA_MODES = ("full", "minibatch")


def num_samples(data: Any, name: str) -> int:
    """The common leading-axis length of the arrays in ``data`` (ValueError naming ``name`` otherwise)."""
    leaves = jax.tree.leaves(data)
    if not leaves:
        raise ValueError(f"problem {name!r}: data has no arrays")
    sizes = {np.shape(leaf)[0] if np.ndim(leaf) else None for leaf in leaves}
    if None in sizes or len(sizes) != 1:
        shapes = [np.shape(leaf) for leaf in leaves]
        raise ValueError(f"problem {name!r}: every data array needs the same leading (sample) axis, got shapes {shapes}")
    (n,) = sizes
    if n == 0:
        raise ValueError(f"problem {name!r}: data has no samples")
    return int(n)


def select_minibatch(data: Any, batch_size: int, seed: int, name: str) -> Any:
    """A fixed batch of ``batch_size`` samples drawn without replacement with ``seed``."""
    n = num_samples(data, name)
    if not 0 < batch_size <= n:
        raise ValueError(f"problem {name!r}: batch_size must be in 1..{n} (the data size), got {batch_size}")
    index = np.sort(np.random.default_rng(seed).choice(n, batch_size, replace=False))
    return jax.tree.map(lambda a: np.asarray(a)[index], data)


def chunked_mean(batch_loss: Callable[[Any, Any], jax.Array], data: Any, chunk: int | None,
                 name: str = "loss") -> Callable[[Any], jax.Array]:
    """``params -> Σ_j (|B_j|/N) batch_loss(params, B_j)`` over chunks of ``chunk`` samples.

    ``chunk=None`` (or ≥ N) evaluates the whole data in one call.
    """
    n = num_samples(data, name)
    data = jax.tree.map(jnp.asarray, data)
    if chunk is None or chunk >= n:
        return lambda params: batch_loss(params, data)
    if chunk < 1:
        raise ValueError(f"problem {name!r}: chunk must be a positive number of samples, got {chunk}")
    full, rest = divmod(n, chunk)
    blocks = jax.tree.map(lambda a: a[: full * chunk].reshape(full, chunk, *a.shape[1:]), data)
    remainder = jax.tree.map(lambda a: a[full * chunk:], data)
    chunk_loss = jax.checkpoint(batch_loss)

    def loss(params):
        def body(total, block):
            return total + chunk_loss(params, block), None

        first = jax.tree.map(lambda a: a[0], blocks)
        zero = jnp.zeros((), jax.eval_shape(batch_loss, params, first).dtype)
        total, _ = jax.lax.scan(body, zero, blocks)
        total = total * (chunk / n)
        if rest:
            total = total + chunk_loss(params, remainder) * (rest / n)
        return total

    return loss
