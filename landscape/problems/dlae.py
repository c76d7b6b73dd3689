"""``dlae``: the deep linear autoencoder of Frye's thesis §3.2, with its analytic critical points.

**Data** (§3.2.3.1).  ``n`` columns ``x_i ∈ R^k`` drawn from ``N(0, Σ)`` with
``Σ = diag(linspace(1, k, k))``; each row of ``X ∈ R^{k×n}`` is then centred
exactly.  Thesis values: ``k = 16``, ``n = 10⁴``, hidden size ``p = 4``.

**Network and loss** (eqs. 3.2-3.3, 3.14).  ``NN(θ)(x) = W₂W₁x`` with
``W₁ ∈ R^{p×k}``, ``W₂ ∈ R^{k×p}``, no biases, no regulariser, ``N = 2kp``
parameters (128), and the squared reconstruction error

    L(θ) = (1 / nk) ‖X − W₂W₁X‖²_F = (1 / k) tr[(I − W) C (I − W)ᵀ],
    W = W₂W₁,  C = XXᵀ / n.

Eq. 3.14 prints the unnormalised norm; the thesis's reported values (loss
≈ 8.5 at θ = 0, i.e. tr C / k) use the per-entry mean, which is what we use
(the critical points and the index do not depend on it).  The loss is
evaluated through the k×k covariance ``C``, which is the same function as
the data form (up to rounding) and costs nothing per point.  Parameters use
the MLP layout of :mod:`.networks`: ``[{"w": W₁}, {"w": W₂}]`` flattened.

**Analytic critical points** (Theorem 3.2, Baldi & Hornik).  Let
``λ₁ > … > λ_k`` be the eigenvalues of ``C`` with eigenvectors ``u_j``.
For every set ``S`` of ``m ≤ p`` components, ``W₁ = [u_S, 0]ᵀ`` (rows
``u_jᵀ``, ``j ∈ S``, then ``p − m`` zero rows) and ``W₂ = W₁ᵀ`` is a critical
point; each is a representative of a class invariant under
``W₁ → GW₁, W₂ → W₂G⁻¹`` (G invertible), and there are
``Σ_{m ≤ p} C(k, m)`` classes (2517 for the thesis values).  Loss and index
are closed-form (derived in the notes, "Closed-form loss and index"):

    L_S = (1/k) Σ_{j ∉ S} λ_j,
    #negative eigenvalues = #{(i, j): i ∈ S, j ∉ S, λ_j > λ_i} + (p − m)(k − m),
    index = #negative / 2kp                       (Frye Def. 1.6, a fraction).

The first term counts the 2×2 blocks ``(2/k)[[λ_j, −λ_j], [−λ_j, λ_i]]``
that couple ``W₁[u_i, j]`` with ``W₂[j, u_i]``; the second counts the
``±(2/k)λ_j`` pairs of each unused hidden unit.  The PCA class (the top
``p`` components) is the global minimum (index 0); θ = 0 has index 1/2.
"""

from __future__ import annotations

import dataclasses
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from jax.flatten_util import ravel_pytree

from ..results import result_attrs
from .base import Problem, default_dtype
from .networks import forward, init_layers
from .registry import register


def gaussian_data(k: int, n: int, seed: int) -> np.ndarray:
    """``X`` (k, n): columns from ``N(0, diag(1..k))`` with every row centred exactly."""
    rng = np.random.default_rng(seed)
    x = np.sqrt(np.linspace(1.0, k, k))[:, None] * rng.standard_normal((k, n))
    return x - x.mean(axis=1, keepdims=True)


def analytic_loss_and_count(eigenvalues: np.ndarray, selected: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form loss and number of negative Hessian eigenvalues of each class.

    ``eigenvalues`` (k,) of ``C``; ``selected`` (classes, k) boolean masks of ``S``.
    """
    k = eigenvalues.shape[0]
    m = selected.sum(axis=1)
    loss = np.where(selected, 0.0, eigenvalues).sum(axis=1) / k
    larger = eigenvalues[None, :] > eigenvalues[:, None]  # larger[i, j]: λ_j > λ_i
    pairs = np.einsum("ci,ij,cj->c", selected.astype(int), larger.astype(int), (~selected).astype(int))
    return loss, pairs + (p - m) * (k - m)


@dataclasses.dataclass(frozen=True, eq=False)
class DeepLinearAutoencoder(Problem):
    """A :class:`Problem` that also knows its analytic critical points."""

    def analytic_critical_points(self) -> xr.Dataset:
        """All ``Σ_{m≤p} C(k, m)`` classes: ``theta (point, param)``, ``loss``, ``index``, labels.

        Components are numbered by descending eigenvalue of ``C`` (0 = largest);
        ``selected (point, component)`` marks ``S``, ``label`` spells it out.
        """
        return self.extras["critical_points"].copy()


def _critical_points(eigenvalues, eigenvectors, p: int, config: dict) -> xr.Dataset:
    k = eigenvalues.shape[0]
    subsets = [s for m in range(p + 1) for s in itertools.combinations(range(k), m)]
    selected = np.zeros((len(subsets), k), dtype=bool)
    w1 = np.zeros((len(subsets), p, k))
    for c, s in enumerate(subsets):
        selected[c, list(s)] = True
        w1[c, : len(s)] = eigenvectors[:, list(s)].T
    theta = np.concatenate([w1.reshape(len(subsets), -1), w1.transpose(0, 2, 1).reshape(len(subsets), -1)], axis=1)
    loss, count = analytic_loss_and_count(eigenvalues, selected, p)
    return xr.Dataset(
        {
            "theta": (("point", "param"), theta),
            "loss": (("point",), loss),
            "index": (("point",), count / (2 * k * p)),
            "num_negative": (("point",), count),
            "num_components": (("point",), selected.sum(axis=1)),
            "selected": (("point", "component"), selected),
            "label": (("point",), np.array(["{" + ",".join(map(str, s)) + "}" for s in subsets])),
            "eigenvalue": (("component",), eigenvalues),
        },
        coords={"point": np.arange(len(subsets)), "component": np.arange(k)},
        attrs=result_attrs("dlae-critical-points", config),
    )


@register("dlae", "network", "Deep linear autoencoder (Frye §3.2) with 2517 analytic critical points")
def dlae(k: int = 16, p: int = 4, n: int = 10_000, seed: int = 0) -> DeepLinearAutoencoder:
    if not 0 < p <= k:
        raise ValueError(f"need 0 < p <= k, got k={k}, p={p}")
    dtype = default_dtype()
    data = gaussian_data(k, n, seed)
    cov_np = data @ data.T / n
    eigenvalues, eigenvectors = np.linalg.eigh(cov_np)
    eigenvalues, eigenvectors = eigenvalues[::-1], eigenvectors[:, ::-1]  # descending
    cov = jnp.asarray(cov_np, dtype)
    sizes = (k, p, k)
    _, unravel = ravel_pytree([{"w": np.zeros((p, k), dtype)}, {"w": np.zeros((k, p), dtype)}])

    def loss(theta):
        layers = unravel(theta)
        residual = jnp.eye(k, dtype=theta.dtype) - layers[1]["w"] @ layers[0]["w"]
        return jnp.trace(residual @ cov @ residual.T) / k

    def sampler(key):
        return ravel_pytree(init_layers(key, sizes, False, dtype))[0]

    options = {"k": k, "p": p, "n": n, "seed": seed}
    points = _critical_points(eigenvalues, eigenvectors, p, {"problem": "dlae", "options": options})
    is_min = points["index"].values == 0
    theta = points["theta"].values
    return DeepLinearAutoencoder(
        name="dlae",
        dim=2 * k * p,
        loss=loss,
        sampler=sampler,
        ground_truth={"minimum": theta[is_min], "saddle": theta[~is_min]},
        description=(
            f"Deep linear autoencoder x ↦ W₂W₁x (k = {k}, p = {p}) on n = {n} centred Gaussian "
            "samples with covariance diag(1..k), mean squared error (Frye thesis §3.2). Its "
            f"{len(theta)} analytic critical-point classes (Baldi & Hornik) have closed-form "
            "loss and index, and lie on a line in the loss-index plane."
        ),
        options=options,
        unravel=unravel,
        extras={
            "data": data,
            "covariance": cov_np,
            "apply": lambda theta, x: forward(unravel(theta), x, "identity"),
            "layer_sizes": sizes,
            "activation": "identity",
            "bias": False,
            "critical_points": points,
        },
    )
