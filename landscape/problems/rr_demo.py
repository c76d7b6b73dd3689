"""``rr-demo``: a 2-D surface with the properties of Ridge Rider's Fig. 1.

Parker-Holder et al. (NeurIPS 2020), Fig. 1, compare gradient descent and
Ridge Rider (RR) on a 2-D loss surface but give no formula for it (paper,
tweet thread and blog; see the notes, §3.1).  This module designs one with
the caption's properties out of isotropic/axis-aligned Gaussians and a quartic
wall, so it is smooth, cheap and analytic::

    f(x, y) =  A exp(−x²/2a² − y²/2b²)                         central bump
             − D₁ [G(x, y; 0, +y₁, s₁) + G(x, y; 0, −y₁, s₁)]    steep local minima
             − D₂ [G(x, y; x₂, +y₂, s₂) + G(x, y; x₂, −y₂, s₂)]  flanking local minima
             − D₃  G(x, y; x₃, 0, s₃)                           global minimum (+x)
             + M   G(x, y; x_M, 0, s_M)                         blocking local maximum
             − D₄ [G(x, y; x₄, +y₄, s₄) + G(x, y; x₄, −y₄, s₄)]  global minima (−x)
             + c ((x/X)² + (y/Y)²)²                             wall

with ``G(x, y; x₀, y₀, s) = exp(−((x − x₀)² + (y − y₀)²) / 2s²)`` and the
constants in :data:`PARAMS`.  ``f(x, −y) = f(x, y)`` exactly, so the x-axis
is invariant under eigenvector following.  Design, checked numerically by
``tests/test_surfaces.py`` (and by driving an exact ride by hand):

* **Start.** A local maximum at ``(−5.75e−4, 0)`` (the small offset comes from
  the x-asymmetric features) with Hessian eigenvalues ≈ −5.34 (along y) and
  −0.68 (along x): two distinct negative eigenvalues, hence four rides.
* **Steep ridge (blue, green).** The y eigen-direction leads to the two local
  minima ``(0, ±2.2156)`` (f ≈ −2.354).  GD started near the maximum is
  dominated by the most negative curvature and ends in one of these two.
* **Shallow ridge, +x (brown).** The ride runs along the x-axis *between*
  (around) the two local minima at ``(3.068, ±1.593)`` which trap GD started
  beside the ridge, its curvature turns positive at x ≈ 4.2, and GD finishes
  at the global minimum ``(5.446, 0)``.
* **Shallow ridge, −x (orange).** The ride is halted in front of the local
  maximum ``(−3.174, 0)`` that blocks the ridge: its followed curvature turns
  positive at x ≈ −1.65, on the slope up to the saddle ``(−2.482, 0)`` at the
  maximum's foot.  A descending ride cannot end *on* a maximum, so this is the
  nearest reading of the caption.  From there GD (nudged off the invariant
  x-axis; exactly on it GD stops at that saddle) slides past the maximum into
  the global minima ``(−4.942, ±1.738)``, while a second ride along y (dotted)
  curves back towards the steep local minima: "either a second ride or GD may
  find a minimum".
* **Global minima.** ``D₃`` is solved (brentq) so that the three global minima
  have equal loss (−3.5508) to float64 accuracy.

Exact Ridge Rider (``landscape.ridge_rider.search``, α = 0.05, default end
rules) from the maximum ends its four rides at (0, ±1.20), (4.25, 0) and
(−1.65, 0), as described above.

All 17 critical points (7 minima, 8 saddles, 2 maxima; Euler characteristic
7 − 8 + 2 = 1 as it must be for a coercive function on R²) were found by
Newton from a dense grid of starts over ``[−8, 8] × [−6, 6]`` and polished to
‖∇f‖ < 1e−13 in float64; they are hard-coded in :data:`CRITICAL_POINTS`.
"""

from __future__ import annotations

import jax.numpy as jnp

from .registry import register
from .surfaces import surface

#: Constants of the formula in the module docstring.
PARAMS = {
    "A": 3.0, "a": 2.0, "b": 0.8,
    "D1": 2.5, "y1": 2.2, "s1": 0.7,
    "D2": 2.0, "x2": 3.0, "y2": 1.6, "s2": 0.6,
    "D3": 3.967779493238071, "x3": 5.5, "s3": 1.2,
    "M": 1.5, "xM": -3.5, "sM": 0.6,
    "D4": 4.0, "x4": -5.0, "y4": 1.8, "s4": 1.0,
    "c": 0.5, "X": 6.0, "Y": 3.5,
}  # fmt: skip


def _gauss(x, y, x0, y0, s):
    return jnp.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * s * s))


def _pair(x, y, x0, y0, s):
    """Two Gaussians mirrored in the x-axis (exactly symmetric in y)."""
    return _gauss(x, y, x0, y0, s) + _gauss(x, y, x0, -y0, s)


def rr_demo_fn(x, y):
    """The ``rr-demo`` surface ``f(x, y)`` of the module docstring."""
    p = PARAMS
    return (
        p["A"] * jnp.exp(-(x**2) / (2 * p["a"] ** 2) - y**2 / (2 * p["b"] ** 2))
        - p["D1"] * _pair(x, y, 0.0, p["y1"], p["s1"])
        - p["D2"] * _pair(x, y, p["x2"], p["y2"], p["s2"])
        - p["D3"] * _gauss(x, y, p["x3"], 0.0, p["s3"])
        + p["M"] * _gauss(x, y, p["xM"], 0.0, p["sM"])
        - p["D4"] * _pair(x, y, p["x4"], p["y4"], p["s4"])
        + p["c"] * ((x / p["X"]) ** 2 + (y / p["Y"]) ** 2) ** 2
    )


#: Every critical point, by kind (float64; see the module docstring).  The
#: comments give f and the Hessian eigenvalues.
CRITICAL_POINTS = {
    "minimum": [
        [5.4458098410401625, 0.0],  # global, f = -3.5508, eig (2.772, 3.001)
        [-4.9418091461378175, 1.7380056212431427],  # global, f = -3.5508, eig (4.039, 4.319)
        [-4.9418091461378175, -1.7380056212431427],  # global
        [8.605963430179015e-06, 2.215559530858603],  # steep ridge, f = -2.3543, eig (5.106, 5.970)
        [8.605963430179015e-06, -2.215559530858603],  # steep ridge
        [3.06756037740352, 1.5931662919662286],  # flanking, f = -1.9608, eig (4.748, 6.483)
        [3.06756037740352, -1.5931662919662286],  # flanking
    ],
    "saddle": [
        [3.897433133037339, 1.1338276004915977],  # f = -1.2208, eig (-3.702, 2.655)
        [3.897433133037339, -1.1338276004915977],
        [-5.090822394082483, 0.0],  # f = -1.1554, eig (-3.722, 2.592)
        [1.6663709929769035, 2.042742566381159],  # f = -0.1092, eig (-2.976, 1.505)
        [1.6663709929769035, -2.042742566381159],
        [-2.079310484826482, 2.111415016323749],  # f = 0.0874, eig (-0.864, 0.836)
        [-2.079310484826482, -2.111415016323749],
        [-2.481834635907354, 0.0],  # foot of the blocking maximum, f = 1.6927, eig (-3.280, 1.715)
    ],
    "maximum": [
        [-0.0005754727653122385, 0.0],  # the start, f = 2.9641, eig (-5.336, -0.679)
        [-3.1739296317828156, 0.0],  # blocking maximum, f = 1.8860, eig (-5.549, -2.861)
    ],
}


@register("rr-demo", "surface", "Ridge Rider Fig. 1 stand-in: a maximum, 4 rides, local and global minima")
def rr_demo():
    return surface(
        "rr-demo",
        rr_demo_fn,
        ((-8.0, 8.0), (-5.0, 5.0)),
        CRITICAL_POINTS,
        "A designed stand-in for Ridge Rider's Fig. 1 (Parker-Holder et al. 2020), whose "
        "surface has no published formula: a local maximum at the origin with two negative "
        "curvatures (four rides). The steep (y) ridge and GD from the origin reach two local "
        "minima; the shallow (x) ridge passes between two local minima to a global minimum on "
        "the right, and on the left is halted in front of a local maximum, from which a second "
        "ride or GD reaches two more global minima (all three global minima tie at −3.5508).",
    )
