"""Fast slice kernel for MLPs: a whole chunk of the plane ``c + α d₁ + β d₂`` as matmuls.

A generic slice (``landscape.slices``) evaluates ``L(c + Σ_j a_j d_j)`` as a
``vmap`` of the per-point loss, which XLA on CPU turns into batched
``dot_general``s that run far below the machine's matmul rate.  For an MLP
(layers ``h ↦ σ(h Wᵀ + b)``, last layer affine, mean softmax cross-entropy
plus ``l2 ‖θ‖²``, see :mod:`landscape.problems.networks`) the structure of the
plane gives a cheaper evaluation:

* **First layer, once per chunk.**  The weights of grid point ``p`` are
  ``W_p = W_c + Σ_j a_pj D_j``, so its pre-activations are
  ``X W_pᵀ = X W_cᵀ + Σ_j a_pj X D_jᵀ``: one matmul ``X [W_c; D_1; D_2]ᵀ``
  serves every point of the chunk, each point then being a broadcast
  (Li et al. 2018 evaluate each point by a separate forward pass).
* **Later layers.**  Either per point as plain 2-D matmuls ``h_p W_pᵀ`` in a
  ``lax.map`` (``"map"``: the GEMMs are big enough to run near the machine's
  matmul rate), or for the whole chunk as one ``(points, width, samples)``
  block (``"batched"``: many tiny layers, where per-point loop overhead
  would dominate; narrow contractions unrolled into fused elementwise loops).  :func:`MLPPlane.strategy` picks from the per-point FLOPs.
* **Regulariser.**  ``‖c + Σ_j a_j d_j‖² = aᵀ G a`` with the Gram matrix
  ``G`` of ``[c; d_1; d_2]`` and ``a = (1, a_1, a_2)``.

:meth:`MLPPlane.chunk_size` derives the number of grid points per chunk from
a cost model: the bytes a point holds live (samples × summed layer widths ×
itemsize, for the batched block) and its FLOPs, against fixed budgets, rounded
down to a power of two so that chunk shapes, and hence compilations, are few.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array

#: Live bytes one chunk of the batched kernel may hold (activations of all points × samples).
MEMORY_BUDGET = 64 * 2**20
#: FLOPs of one chunk: about 0.1–0.5 s on a 2-core CPU, the streaming/cancel granularity of DESIGN.md.
FLOP_BUDGET = 8e9
#: Per-point FLOPs of the later layers above which per-point 2-D GEMMs (``lax.map``) beat one batched block.
MAP_THRESHOLD = 4e6
#: Largest chunk (points).
MAX_CHUNK = 4096


def floor_pow2(n: float) -> int:
    """Largest power of two ``≤ n`` (at least 1)."""
    return 1 << max(0, int(np.floor(np.log2(max(n, 1)))))


@dataclasses.dataclass(frozen=True, eq=False)
class MLPPlane:
    """The slice kernel of one MLP problem (hashable by identity, so jit caches key on it).

    ``unravel`` maps a flat vector to ``[{"w": (out, in), "b": (out,)}, ...]``,
    ``activation`` is applied between layers, ``x (samples, in)`` and integer
    labels ``y (samples,)`` are the training data and ``l2`` the coefficient
    of ``‖θ‖²`` in the loss.
    """

    unravel: Callable
    activation: Callable[[Array], Array]
    x: np.ndarray
    y: np.ndarray
    l2: float
    layer_sizes: tuple[int, ...]

    @property
    def flops_per_point(self) -> float:
        """Multiply-adds × 2 of one forward pass over the training set."""
        return 2.0 * len(self.y) * sum(a * b for a, b in zip(self.layer_sizes, self.layer_sizes[1:]))

    @property
    def strategy(self) -> str:
        """``"map"`` (per-point 2-D GEMMs) or ``"batched"`` (one block for the chunk), by the
        FLOPs per point of the layers after the first."""
        sizes = self.layer_sizes
        later = 2.0 * len(self.y) * sum(a * b for a, b in zip(sizes[1:], sizes[2:]))
        return "map" if later >= MAP_THRESHOLD else "batched"

    def chunk_size(self, itemsize: int) -> int:
        """Grid points per chunk from the cost model (module docstring), a power of two."""
        flops = FLOP_BUDGET / self.flops_per_point
        if self.strategy == "map":  # one point's activations live at a time
            return int(min(MAX_CHUNK, floor_pow2(flops)))
        live = len(self.y) * (2 * sum(self.layer_sizes[1:]) + self.layer_sizes[-1]) * itemsize
        return int(min(MAX_CHUNK, floor_pow2(min(MEMORY_BUDGET / live, flops))))

    def losses(self, centre: Array, directions: Array, coefficients: Array) -> Array:
        """``L(c + Σ_j a_j d_j)`` for each row ``a`` of ``coefficients (m, k)``, in ``centre``'s dtype."""
        dtype = centre.dtype
        basis = jnp.concatenate([centre[None], directions.astype(dtype)])  # (k+1, dim)
        a = jnp.concatenate([jnp.ones((coefficients.shape[0], 1), dtype), coefficients.astype(dtype)], 1)
        stacked = [self.unravel(v) for v in basis]
        weights = [jnp.stack([layers[i]["w"] for layers in stacked]) for i in range(len(stacked[0]))]
        biases = [
            jnp.stack([layers[i]["b"] for layers in stacked]) if "b" in stacked[0][i]
            else jnp.zeros((len(stacked),) + weights[i].shape[1:2], dtype)
            for i in range(len(stacked[0]))
        ]
        x = jnp.asarray(self.x, dtype)
        k1, width, n_in = weights[0].shape
        planes = (x @ weights[0].reshape(k1 * width, n_in).T).reshape(x.shape[0], k1, width)  # X W_cᵀ, X D_1ᵀ, ...
        onehot = jax.nn.one_hot(jnp.asarray(self.y), self.layer_sizes[-1], dtype=dtype)
        if self.strategy == "map":
            planes = jnp.moveaxis(planes, 1, 0)  # (k+1, samples, width)
            nll = jax.lax.map(lambda ap: self._point(ap, planes, weights, biases, onehot), a)
        else:
            nll = self._block(a, jnp.transpose(planes, (1, 2, 0)), weights, biases, onehot.T)
        gram = basis @ basis.T
        return nll + self.l2 * jnp.einsum("pi,ij,pj->p", a, gram, a)

    def _point(self, ap, planes, weights, biases, onehot):
        """Mean cross-entropy of one grid point, its later layers as plain 2-D matmuls."""
        h = _combine(ap, planes) + ap @ biases[0]
        for w, b in zip(weights[1:], biases[1:]):
            h = self.activation(h) @ jnp.tensordot(ap, w, 1).T + ap @ b
        return _cross_entropy(h, onehot)

    def _block(self, a, planes, weights, biases, onehot_t):
        """Mean cross-entropy of every point of the chunk as one (points, width, samples) block.

        Samples last, so elementwise work vectorises over them; a narrow layer (≤ 32 inputs)
        is an unrolled sum of broadcast products, which XLA fuses into one loop (a batched
        ``dot_general`` over points runs far slower on CPU)."""
        h = _combine(a.T[:, :, None, None], planes[:, None]) + (a @ biases[0])[:, :, None]
        for w, b in zip(weights[1:], biases[1:]):
            w_points, h = jnp.einsum("pk,koi->poi", a, w), self.activation(h)
            if w.shape[2] <= 32:
                total = (a @ b)[:, :, None]
                for i in range(w.shape[2]):
                    total = total + w_points[:, :, i, None] * h[:, None, i, :]
                h = total
            else:
                h = jnp.einsum("poi,pin->pon", w_points, h) + (a @ b)[:, :, None]
        nll = jax.nn.logsumexp(h, axis=1) - jnp.sum(h * onehot_t, axis=1)
        return jnp.mean(nll, axis=1)


def _combine(a, planes):
    """``Σ_j a_j planes_j`` as an explicit sum (k+1 ≤ 3 terms; fuses into one elementwise loop)."""
    total = a[0] * planes[0]
    for j in range(1, planes.shape[0]):
        total = total + a[j] * planes[j]
    return total


def _cross_entropy(logits, onehot):
    """Mean softmax cross-entropy of ``logits (samples, classes)`` against one-hot labels."""
    return jnp.mean(jax.nn.logsumexp(logits, axis=-1) - jnp.sum(logits * onehot, axis=-1))
