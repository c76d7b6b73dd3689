"""The catalogue of optimizers and game update rules, each declared once.

Every algorithm the engine runs is an :class:`Algorithm`: a name, a summary
stating its update rule and source, its hyperparameters as :class:`Hyper`
specs (name, default, bounds, doc, log scale), and ``build(hypers, loss)``
returning an ``optax.GradientTransformation``.  Two families share one
namespace of names:

``"optimizer"``  one loss over θ, used by :mod:`landscape.trajectories` and
    teleport training (:mod:`landscape.teleport.training`);
``"rule"``  an update rule on a differentiable game, used by
    :mod:`landscape.games.rules` to build its fixed-point map: the
    transformation is fed the gradient ``field`` under a ``scheme``
    (simultaneous or alternating).

:func:`validate` is the one check for every caller (dashboard, CLI, Python):
it refuses unknown names and hyperparameters, non-numbers, NaN/inf and values
outside the bounds with a message naming the algorithm, the hyperparameter and
the allowed range, and fills in the defaults.  Hyperparameters passed to
``build`` may be traced JAX scalars, so a compiled kernel is reused across
values.

The transformations are optax's own where optax has them; complex momentum,
complex Adam and the damped Newton step are hand-written here as
``optax.GradientTransformation``s because optax has no equivalent.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from .curvature import hessian

Array = jax.Array
Loss = Callable[[Array], Array]
FAMILIES = ("optimizer", "rule")


@dataclasses.dataclass(frozen=True)
class Hyper:
    """One hyperparameter: allowed values are ``low ≤ value ≤ high`` (finite).

    ``log`` says a widget should use a log scale (learning rates, eps);
    ``integer`` that only whole numbers are allowed.
    """

    name: str
    default: float
    low: float
    high: float
    doc: str
    log: bool = False
    integer: bool = False

    def __post_init__(self):
        if not self.low <= self.default <= self.high:
            raise ValueError(f"default {self.name}={self.default} outside [{self.low}, {self.high}]")

    def check(self, owner: str, value: Any) -> float:
        """``value`` as a float, or a ValueError naming ``owner``, the hyperparameter and its range."""
        allowed = f"allowed: {'whole numbers ' if self.integer else ''}{self.low:g} ≤ {self.name} ≤ {self.high:g}"
        if isinstance(value, (bool, str)) or not hasattr(value, "__float__"):
            raise ValueError(f"{owner}: {self.name} must be a number, got {value!r}; {allowed}")
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{owner}: {self.name} must be finite, got {number}; {allowed}")
        if not self.low <= number <= self.high or (self.integer and number != round(number)):
            raise ValueError(f"{owner}: {self.name}={number:g} is out of range; {allowed}")
        return number


@dataclasses.dataclass(frozen=True)
class Algorithm:
    """An optimizer or a game update rule (see the module docstring)."""

    name: str
    family: str
    summary: str
    hypers: tuple[Hyper, ...]
    build: Callable[[Mapping[str, Any], Loss | None], optax.GradientTransformation] = dataclasses.field(
        repr=False, compare=False)
    field: str | None = None  # rules: "gradient", "lola", "lola-shaping" or "extragradient"
    scheme: str | None = None  # rules: "simultaneous" or "alternating"
    needs_loss: bool = False  # build() needs the loss (second-order methods)

    @property
    def defaults(self) -> dict[str, float]:
        return {h.name: h.default for h in self.hypers}

    def hyper(self, name: str) -> Hyper:
        return next(h for h in self.hypers if h.name == name)

    def transform(self, hypers: Mapping[str, Any], loss: Loss | None = None) -> optax.GradientTransformation:
        """The optax transformation for (validated, possibly traced) ``hypers``."""
        if self.needs_loss and loss is None:
            raise ValueError(f"{self.name} needs the loss to build its update")
        return self.build(hypers, loss)


_CATALOGUE: dict[str, Algorithm] = {}


def get(name: str) -> Algorithm:
    try:
        return _CATALOGUE[name]
    except KeyError:
        raise ValueError(f"unknown optimizer or update rule {name!r}; choose from {', '.join(_CATALOGUE)}") from None


def names(family: str | None = None, *, needs_loss: bool | None = None) -> list[str]:
    """Names in the catalogue, optionally of one family and with/without ``needs_loss``."""
    return [a.name for a in _CATALOGUE.values()
            if (family is None or a.family == family) and (needs_loss is None or a.needs_loss == needs_loss)]


def validate(name: str, hypers: Mapping[str, Any] | None = None) -> dict[str, float]:
    """The full hyperparameter dict of ``name``: defaults overridden by ``hypers``, each checked.

    Raises ValueError for an unknown name or hyperparameter, a non-number,
    NaN/inf or a value outside the hyperparameter's bounds.
    """
    algorithm = get(name)
    if hypers is not None and not isinstance(hypers, Mapping):
        raise ValueError(f"the hyperparameters of {name} must be a mapping of name to number "
                         f"({', '.join(algorithm.defaults) or 'none'}), got {type(hypers).__name__}")
    hypers = dict(hypers or {})
    unknown = sorted(set(hypers) - set(algorithm.defaults))
    if unknown:
        raise ValueError(f"{name} has no hyperparameter(s) {', '.join(unknown)}; it takes "
                         f"{', '.join(algorithm.defaults) or 'none'}")
    return {h.name: h.check(name, hypers[h.name]) if h.name in hypers else float(h.default)
            for h in algorithm.hypers}


def build(name: str, hypers: Mapping[str, Any] | None = None, loss: Loss | None = None) -> optax.GradientTransformation:
    """``validate`` then build: the optax transformation of ``name`` (plain Python numbers)."""
    return get(name).transform(validate(name, hypers), loss)


#: Counts of a streamed run, validated like hyperparameters (:func:`validate_settings`).
RUN_SETTINGS = {h.name: h for h in (
    Hyper("steps", 500, 1, 1_000_000, "optimizer steps per run", integer=True),
    Hyper("chunk", 50, 1, 100_000, "steps per streamed chunk", integer=True),
)}


def validate_settings(owner: str, **values: Any) -> dict[str, int]:
    """Check run counts (``steps``, ``chunk``) against :data:`RUN_SETTINGS`; ``owner`` names the caller."""
    unknown = sorted(set(values) - set(RUN_SETTINGS))
    if unknown:
        raise ValueError(f"{owner}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(RUN_SETTINGS)}")
    return {name: int(RUN_SETTINGS[name].check(owner, value)) for name, value in values.items()}


def _add(algorithm: Algorithm) -> None:
    if algorithm.name in _CATALOGUE:
        raise ValueError(f"{algorithm.name!r} is declared twice")
    if algorithm.family not in FAMILIES:
        raise ValueError(f"unknown family {algorithm.family!r}")
    _CATALOGUE[algorithm.name] = algorithm


# --------------------------------------------------------------------------- hand-written transformations


def scale_by_damped_newton(loss: Loss, damping) -> optax.GradientTransformation:
    """Precondition the gradient by ``(∇²L(θ) + γI)⁻¹`` (dense Hessian, dense solve).

    Hand-written (optax has no Newton step); the update needs ``params``.
    Frye thesis §2.6.1, Algorithm 11, with one fixed damping γ and no merit search.
    """

    def init(params):
        del params
        return optax.EmptyState()

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("scale_by_damped_newton needs params")
        h = hessian(loss, params)
        eye = jnp.eye(params.shape[0], dtype=params.dtype)
        return jnp.linalg.solve(h + damping * eye, updates), state

    return optax.GradientTransformation(init, update)


class ComplexMomentumState(NamedTuple):
    mu: Any  # complex buffer pytree


def _complex_zeros(params):
    return jax.tree.map(lambda p: jnp.zeros(p.shape, jnp.result_type(p.dtype, jnp.complex64)), params)


def complex_momentum(learning_rate, beta) -> optax.GradientTransformation:
    """Complex momentum (Lorraine Algorithm 7, SimCM; Algorithm 11 when alternated).

        μ^{j+1} = β μ^j − g^j,        update = ℜ(α μ^{j+1}),

    with β ∈ ℂ, α ∈ ℝ and a real parameter update.  For real β this is
    heavy-ball momentum (eq. 4.6-4.7).  Hand-written: optax has no complex
    momentum.
    """

    def init(params):
        return ComplexMomentumState(_complex_zeros(params))

    def update(updates, state, params=None):
        del params
        mu = jax.tree.map(lambda m, g: beta * m - g, state.mu, updates)
        out = jax.tree.map(lambda m, g: jnp.real(learning_rate * m).astype(g.dtype), mu, updates)
        return out, ComplexMomentumState(mu)

    return optax.GradientTransformation(init, update)


def _safe_sqrt(x):
    """√x with a finite derivative at 0 (√ is clamped below 1e-30; Jacobians stay finite)."""
    return jnp.sqrt(jnp.maximum(x, 1e-30))


class ComplexAdamState(NamedTuple):
    count: Array
    mu: Any  # complex first moment
    nu: Any  # real second moment


def complex_adam(learning_rate, beta1, beta2: float = 0.999, eps: float = 1e-8) -> optax.GradientTransformation:
    """Complex Adam (Lorraine Algorithm 8) with the printed typos fixed.

        μ^{j+1} = β₁μ^j − g^j,   v^{j+1} = β₂v^j + (1 − β₂)(g^j)²,
        v̂^{j+1} = v^{j+1} / (1 − β₂^{j+1}),
        update = α ℜ(μ^{j+1}) / (√v̂^{j+1} + ε).

    Fixes (see the notes): the update uses the *new* buffer μ^{j+1} (printed:
    μ^j) and ε sits outside the square root (printed: √(v̂ + ε)); as printed,
    the first moment has no bias correction.  Only β₁ is complex.
    Hand-written: optax's Adam has real moments only.
    """

    def init(params):
        return ComplexAdamState(jnp.zeros((), jnp.int32), _complex_zeros(params), jax.tree.map(jnp.zeros_like, params))

    def update(updates, state, params=None):
        del params
        count = state.count + 1
        mu = jax.tree.map(lambda m, g: beta1 * m - g, state.mu, updates)
        nu = jax.tree.map(lambda v, g: beta2 * v + (1 - beta2) * g**2, state.nu, updates)
        correction = 1 - beta2 ** count.astype(jnp.result_type(float))
        out = jax.tree.map(
            lambda m, v, g: (learning_rate * jnp.real(m) / (_safe_sqrt(v / correction) + eps)).astype(g.dtype),
            mu, nu, updates,
        )
        return out, ComplexAdamState(count, mu, nu)

    return optax.GradientTransformation(init, update)


# --------------------------------------------------------------------------- hyperparameter specs

_LR_DOC = "learning rate (step size)"


def _lr(default: float, name: str = "lr") -> Hyper:
    return Hyper(name, default, 1e-8, 100.0, _LR_DOC, log=True)


def _momentum(default: float) -> Hyper:
    return Hyper("momentum", default, 0.0, 0.9999, "momentum coefficient μ (heavy ball)")


def _eps(default: float) -> Hyper:
    return Hyper("eps", default, 1e-16, 1.0, "numerical stabiliser ε", log=True)


_B2 = Hyper("b2", 0.999, 0.0, 0.999999, "second-moment decay β₂")
_BETA_ARG = Hyper("beta_arg", math.pi / 8, -math.pi, math.pi, "arg β, phase of the complex momentum coefficient (rad)")
_EXTRAPOLATION = Hyper("extrapolation", 0.1, 0.0, 10.0, "extrapolation step α′ (App. B.3.3)")


def _alpha(default: float) -> Hyper:
    return Hyper("alpha", default, 1e-8, 100.0, "step size α", log=True)


def _beta_abs(default: float) -> Hyper:
    return Hyper("beta_abs", default, 0.0, 1.5, "|β|, modulus of the complex momentum coefficient")


def _beta(h):
    return h["beta_abs"] * jnp.exp(1j * h["beta_arg"])


# --------------------------------------------------------------------------- optimizers (one loss)

for _algorithm in (
    Algorithm("gd", "optimizer", "Gradient descent: θ ← θ − lr·∇L (optax.sgd).", (_lr(0.01),),
              lambda h, loss: optax.sgd(h["lr"])),
    Algorithm("heavy-ball", "optimizer",
              "Polyak heavy ball: v ← ∇L + μv, θ ← θ − lr·v (optax.sgd with momentum).",
              (_lr(0.01), _momentum(0.9)), lambda h, loss: optax.sgd(h["lr"], momentum=h["momentum"])),
    Algorithm("nesterov", "optimizer",
              "Nesterov momentum: v ← ∇L + μv, θ ← θ − lr·(∇L + μv) (Sutskever et al. 2013; optax.sgd).",
              (_lr(0.01), _momentum(0.9)),
              lambda h, loss: optax.sgd(h["lr"], momentum=h["momentum"], nesterov=True)),
    Algorithm("adam", "optimizer",
              "Adam (Kingma & Ba 2015) with bias correction: θ ← θ − lr·m̂/(√ŝ + eps) (optax.adam).",
              (_lr(0.01), Hyper("b1", 0.9, 0.0, 0.9999, "first-moment decay β₁"), _B2, _eps(1e-8)),
              lambda h, loss: optax.adam(h["lr"], b1=h["b1"], b2=h["b2"], eps=h["eps"])),
    Algorithm("rmsprop", "optimizer",
              "RMSProp (Hinton 2012): s ← decay·s + (1−decay)∇L², θ ← θ − lr·∇L/√(s + eps) (optax.rmsprop).",
              (_lr(0.01), Hyper("decay", 0.9, 0.0, 0.9999, "second-moment decay"), _eps(1e-8)),
              lambda h, loss: optax.rmsprop(h["lr"], decay=h["decay"], eps=h["eps"])),
    Algorithm("adagrad", "optimizer",
              "AdaGrad (Duchi et al. 2011): s ← s + ∇L², θ ← θ − lr·∇L/√(s + eps) (optax.adagrad).",
              (_lr(0.1), Hyper("initial_accumulator_value", 0.1, 0.0, 100.0, "initial value of s"), _eps(1e-7)),
              lambda h, loss: optax.adagrad(h["lr"], initial_accumulator_value=h["initial_accumulator_value"],
                                            eps=h["eps"])),
    Algorithm("damped-newton", "optimizer",
              "Damped Newton (Frye Alg. 11, fixed γ): θ ← θ − lr·(∇²L + γI)⁻¹∇L; dense Hessian, small problems only.",
              (_lr(1.0), Hyper("damping", 0.1, 0.0, 1e6, "damping γ added to the Hessian's diagonal")),
              lambda h, loss: optax.chain(scale_by_damped_newton(loss, h["damping"]),
                                          optax.scale_by_learning_rate(h["lr"])),
              needs_loss=True),
):
    _add(_algorithm)

# --------------------------------------------------------------------------- game update rules

_CM = (_alpha(0.1), _beta_abs(0.9), _BETA_ARG)

for _algorithm in (
    Algorithm("simgd", "rule", "simultaneous gradient descent ω ← ω − αĝ (Lorraine eq. 5.5)", (_alpha(0.1),),
              lambda h, loss: optax.sgd(h["alpha"]), "gradient", "simultaneous"),
    Algorithm("altgd", "rule", "alternating gradient descent (Gauss-Seidel)", (_alpha(0.1),),
              lambda h, loss: optax.sgd(h["alpha"]), "gradient", "alternating"),
    Algorithm("lola", "rule", "LOLA (Foerster et al. 2018) with look-ahead η",
              (_alpha(0.1), Hyper("lookahead", 0.1, 0.0, 10.0, "LOLA look-ahead η")),
              lambda h, loss: optax.sgd(h["alpha"]), "lola", "simultaneous"),
    Algorithm("lola-shaping", "rule", "LOLA as Foerster et al. (2018) wrote it: the shaping term only",
              (_alpha(0.1), Hyper("lookahead", 0.1, 0.0, 10.0, "LOLA look-ahead η")),
              lambda h, loss: optax.sgd(h["alpha"]), "lola-shaping", "simultaneous"),
    Algorithm("extragradient", "rule", "extragradient (Lorraine App. B.3.3)", (_alpha(0.1), _EXTRAPOLATION),
              lambda h, loss: optax.sgd(h["alpha"]), "extragradient", "simultaneous"),
    Algorithm("optimistic", "rule", "optimistic GD ω ← ω − 2αĝ^j + α′ĝ^{j−1} (Lorraine App. B.3.3)",
              (_alpha(0.1), _EXTRAPOLATION),
              lambda h, loss: optax.optimistic_gradient_descent(1.0, 2 * h["alpha"] - h["extrapolation"],
                                                                h["extrapolation"]),
              "gradient", "simultaneous"),
    Algorithm("momentum", "rule", "simultaneous heavy-ball momentum (Lorraine eq. 4.2)",
              (_alpha(0.1), Hyper("beta", 0.5, -1.0, 1.0, "momentum coefficient β (negative allowed)")),
              lambda h, loss: optax.sgd(h["alpha"], momentum=h["beta"]), "gradient", "simultaneous"),
    Algorithm("simcm", "rule", "simultaneous complex momentum (Lorraine Algorithm 7)", _CM,
              lambda h, loss: complex_momentum(h["alpha"], _beta(h)), "gradient", "simultaneous"),
    Algorithm("altcm", "rule", "alternating complex momentum (Lorraine Algorithm 11)", _CM,
              lambda h, loss: complex_momentum(h["alpha"], _beta(h)), "gradient", "alternating"),
    Algorithm("complex-adam", "rule", "complex Adam (Lorraine Algorithm 8, typos fixed)",
              (_alpha(0.01), _beta_abs(0.8), _BETA_ARG,
               Hyper("beta2", 0.999, 0.0, 0.999999, "second-moment decay β₂"), _eps(1e-8)),
              lambda h, loss: complex_adam(h["alpha"], _beta(h), h["beta2"], h["eps"]), "gradient", "simultaneous"),
):
    _add(_algorithm)
