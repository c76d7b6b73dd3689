"""Classic 2-D test surfaces with their known critical points.

Each surface is registered with a view box and ground truth.  Critical points
are the analytic ones where a closed form exists; where it does not, they are
recorded to float64 accuracy and the test suite checks ``‖∇f‖ ≈ 0`` and the
Hessian signature at each of them.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from .base import Problem, default_dtype
from .registry import register


def _uniform_sampler(bounds):
    (x0, x1), (y0, y1) = bounds

    def sample(key):
        lo = jnp.array([x0, y0], dtype=default_dtype())
        hi = jnp.array([x1, y1], dtype=default_dtype())
        return jax.random.uniform(key, (2,), dtype=lo.dtype, minval=lo, maxval=hi)

    return sample


def surface(name, fn, bounds, ground_truth, description, options=None) -> Problem:
    """A 2-D problem from ``fn(x, y)``; the loss takes a flat ``theta = (x, y)``."""

    def loss(theta):
        return fn(theta[0], theta[1])

    return Problem(
        name=name,
        dim=2,
        loss=loss,
        sampler=_uniform_sampler(bounds),
        bounds=bounds,
        ground_truth={k: np.asarray(v, dtype=float).reshape(-1, 2) for k, v in ground_truth.items()},
        description=description,
        options=options or {},
    )


# --------------------------------------------------------------------------
# Frye thesis §3.3 (eq. 3.27): the quartic with strict gradient-flat points.
# f = x⁴/4 − 3x² + 9x + 0.9y⁴ + 5y² + 40.  ∂f/∂x = x³ − 6x + 9 has the single
# real root x = −3 (x³ − 6x + 9 = (x + 3)(x² − 3x + 3)), so the only critical
# point is the minimum (−3, 0).  ∂²f/∂x² = 3x² − 6 vanishes at x = ±√2, where
# the gradient lies in the Hessian's kernel direction: the gradient-flat
# points (±√2, 0), with ‖∇f‖² = (x³ − 6x + 9)² ≈ 11.18 at x = √2.
@register("frye-quartic", "surface", "Frye's quartic: one minimum, gradient-flat lines x = ±√2")
def frye_quartic() -> Problem:
    r2 = math.sqrt(2.0)
    return surface(
        "frye-quartic",
        lambda x, y: x**4 / 4 - 3 * x**2 + 9 * x + 0.9 * y**4 + 5 * y**2 + 40,
        ((-4.0, 4.0), (-3.0, 3.0)),
        {"minimum": [[-3.0, 0.0]], "gradient-flat": [[r2, 0.0], [-r2, 0.0]]},
        "f = x⁴/4 − 3x² + 9x + 0.9y⁴ + 5y² + 40 (Frye thesis §3.3). One minimum at "
        "(−3, 0); strict gradient-flat points at (±√2, 0) where Newton methods stall.",
    )


# Frye thesis §3.3: the two-parameter linear network ("linear-1d"),
# L = (θ₂θ₁ − 1)².  Critical points: the saddle at the origin and the
# hyperbola of global minima θ₁θ₂ = 1 (two points of it recorded).
@register("linear-1d", "surface", "(θ₂θ₁ − 1)²: a saddle at 0 and a hyperbola of minima")
def linear_1d() -> Problem:
    return surface(
        "linear-1d",
        lambda x, y: (y * x - 1.0) ** 2,
        ((-2.0, 2.0), (-2.0, 2.0)),
        {"saddle": [[0.0, 0.0]], "minimum": [[1.0, 1.0], [-1.0, -1.0]]},
        "L = (θ₂θ₁ − 1)², the 1-D deep linear network (Frye thesis §3.3): a strict saddle "
        "at the origin and a continuum of global minima on θ₁θ₂ = 1.",
    )


@register("rosenbrock", "surface", "Rosenbrock's banana valley")
def rosenbrock(a: float = 1.0, b: float = 100.0) -> Problem:
    return surface(
        "rosenbrock",
        lambda x, y: (a - x) ** 2 + b * (y - x**2) ** 2,
        ((-2.0, 2.0), (-1.0, 3.0)),
        {"minimum": [[a, a**2]]},
        f"(a − x)² + b(y − x²)² with a = {a}, b = {b}; one minimum at (a, a²).",
        {"a": a, "b": b},
    )


# Himmelblau: four minima (one exact at (3, 2)), one maximum, four saddles.
_HIMMELBLAU = {
    "minimum": [
        [3.0, 2.0],
        [-2.805118086952745, 3.131312518250573],
        [-3.779310253377747, -3.283185991286170],
        [3.584428340330492, -1.848126526964404],
    ],
    "maximum": [[-0.2708445906673476, -0.9230385564799813]],
    "saddle": [
        [0.08667750455539634, 2.884254701174776],
        [-3.0730257507643897, -0.08135304428796751],
        [3.385154183607021, 0.07385187983774928],
        [-0.12796134673068008, -1.9537149802445766],
    ],
}


@register("himmelblau", "surface", "Himmelblau: four minima, four saddles, one maximum")
def himmelblau() -> Problem:
    return surface(
        "himmelblau",
        lambda x, y: (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2,
        ((-5.0, 5.0), (-5.0, 5.0)),
        _HIMMELBLAU,
        "(x² + y − 11)² + (x + y² − 7)²: four global minima of value 0, one local "
        "maximum and four saddles.",
    )


@register("booth", "surface", "Booth: a tilted quadratic bowl")
def booth() -> Problem:
    return surface(
        "booth",
        lambda x, y: (x + 2 * y - 7) ** 2 + (2 * x + y - 5) ** 2,
        ((-10.0, 10.0), (-10.0, 10.0)),
        {"minimum": [[1.0, 3.0]]},
        "(x + 2y − 7)² + (2x + y − 5)²: a quadratic with Hessian [[10, 8], [8, 10]] "
        "and its minimum at (1, 3). Used by Zhao et al. (App. D) for teleportation.",
    )


@register("ellipse", "surface", "An ill-conditioned quadratic bowl")
def ellipse(a: float = 1.0, b: float = 10.0) -> Problem:
    return surface(
        "ellipse",
        lambda x, y: 0.5 * (a * x**2 + b * y**2),
        ((-3.0, 3.0), (-3.0, 3.0)),
        {"minimum": [[0.0, 0.0]]},
        f"½(a x² + b y²) with a = {a}, b = {b}: Hessian diag(a, b), condition number b/a.",
        {"a": a, "b": b},
    )


@register("monkey-saddle", "surface", "x³ − 3xy²: a degenerate saddle")
def monkey_saddle() -> Problem:
    return surface(
        "monkey-saddle",
        lambda x, y: x**3 - 3 * x * y**2,
        ((-1.5, 1.5), (-1.5, 1.5)),
        {"saddle": [[0.0, 0.0]]},
        "x³ − 3xy²: a degenerate (monkey) saddle at the origin with a zero Hessian.",
    )


# Six-hump camel: of its 15 critical points we record the six minima (two
# global of value −1.0316, four local), solved to float64 accuracy.
_CAMEL_MINIMA = [
    [0.08984201310031807, -0.7126564030207396],
    [-0.08984201310031807, 0.7126564030207396],
    [-1.7036067149699807, 0.7960835686726251],
    [1.7036067149699807, -0.7960835686726251],
    [-1.6071047529201976, -0.5686514548841313],
    [1.6071047529201976, 0.5686514548841313],
]


@register("six-hump-camel", "surface", "Six-hump camel: two global and four local minima")
def six_hump_camel() -> Problem:
    return surface(
        "six-hump-camel",
        lambda x, y: (4 - 2.1 * x**2 + x**4 / 3) * x**2 + x * y + (-4 + 4 * y**2) * y**2,
        ((-2.0, 2.0), (-1.2, 1.2)),
        {"minimum": _CAMEL_MINIMA},
        "(4 − 2.1x² + x⁴/3)x² + xy + (−4 + 4y²)y²: global minima −1.0316 at "
        "(±0.0898, ∓0.7127) and four local minima.",
    )


@register("rastrigin", "surface", "Rastrigin: a lattice of local minima")
def rastrigin(a: float = 10.0) -> Problem:
    return surface(
        "rastrigin",
        lambda x, y: 2 * a + x**2 - a * jnp.cos(2 * jnp.pi * x) + y**2 - a * jnp.cos(2 * jnp.pi * y),
        ((-5.12, 5.12), (-5.12, 5.12)),
        {"minimum": [[0.0, 0.0]]},
        f"2A + Σ (xᵢ² − A cos 2πxᵢ) with A = {a}: global minimum 0 at the origin and "
        "a lattice of local minima near the integers.",
        {"a": a},
    )
