"""The custom-expression parser: whitelist, refusals with messages, numerics vs numpy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from landscape import limits
from landscape.problems import Problem, from_expression
from landscape.problems.expression import FUNCTIONS

MAX_LENGTH = limits.get("expression_length")

VALID = {
    "x**2 + 3*y**2": lambda x, y: x**2 + 3 * y**2,
    "(1 - x)**2 + 100*(y - x**2)**2": lambda x, y: (1 - x) ** 2 + 100 * (y - x**2) ** 2,
    "sin(x)*cos(y) - exp(-x**2/2)/sqrt(2*pi)": lambda x, y: np.sin(x) * np.cos(y) - np.exp(-(x**2) / 2) / np.sqrt(2 * np.pi),
    "-tanh(x*y) + log(1 + x**2) + abs(y)**1.5": lambda x, y: -np.tanh(x * y) + np.log(1 + x**2) + np.abs(y) ** 1.5,
    "arctan(y/(1+x**2)) + cosh(x/3) - sinh(y/4) + e": lambda x, y: np.arctan(y / (1 + x**2)) + np.cosh(x / 3) - np.sinh(y / 4) + np.e,
    "arctan2(y, x) + hypot(x, y) + maximum(x, 0.5) + tan(x/4)": lambda x, y: np.arctan2(y, x) + np.hypot(x, y) + np.maximum(x, 0.5) + np.tan(x / 4),
    "2**-x + x**-2 + +y": lambda x, y: 2.0**-x + x**-2.0 + y,
    "7": lambda x, y: 7.0 + 0 * x,
}  # fmt: skip


@pytest.mark.parametrize("text", sorted(VALID))
def test_valid_expressions_match_numpy(text):
    problem = from_expression(text)
    assert isinstance(problem, Problem) and problem.dim == 2 and problem.is_2d
    assert problem.bounds == ((-3.0, 3.0), (-3.0, 3.0))
    points = np.random.default_rng(0).uniform(-2.5, 2.5, (20, 2))
    got = np.asarray(jax.vmap(problem.loss)(jnp.asarray(points)))
    np.testing.assert_allclose(got, VALID[text](points[:, 0], points[:, 1]), rtol=1e-12)
    assert got.dtype == np.float64


def test_redundant_parentheses_are_harmless():
    problem = from_expression("(" * 60 + "x*y" + ")" * 60)
    assert float(problem.loss(jnp.array([2.0, 3.0]))) == 6.0


def test_gradient_and_custom_bounds():
    problem = from_expression("x**3*y - 2*y", bounds=((0, 2), (-1, 1)))
    assert problem.bounds == ((0.0, 2.0), (-1.0, 1.0))
    np.testing.assert_allclose(jax.grad(problem.loss)(jnp.array([1.5, 2.0])), [3 * 1.5**2 * 2.0, 1.5**3 - 2])
    assert problem.options["expression"] == "x**3*y - 2*y"


REFUSED = {
    "x.real": "attribute access",
    "__import__('os').system('ls')": "attribute access",
    "__import__('os')": "calling '__import__'",
    "import os": "imports",
    "from os import path": "imports",
    "lambda: 1": "lambda",
    "[x for x in range(3)]": "comprehensions",
    "sum(t for t in (x, y))": "calling 'sum'",
    "(t for t in x)": "comprehensions",
    "eval('1')": "calling 'eval'",
    "open": "the name 'open'",
    "foo": "the name 'foo'",
    "z + 1": "the name 'z'",
    "x[0]": "subscripts",
    "'abc'": "strings",
    "b'abc'": "strings",
    "f'{x}'": "strings",
    "sin(x=1)": "keyword arguments",
    "sin(*x)": "starred",
    "x // y": "operator //",
    "x % 2": "operator %",
    "x @ y": "operator @",
    "~x": "operator ~",
    "x < y": "comparisons",
    "x and y": "boolean operators",
    "x if y else 1": "conditional",
    "(z := 1)": "assignment expressions",
    "a = 1": "assignments",
    "x; y": "several statements",
    "[x, y]": "lists",
    "(x, y)": "tuples",
    "{x: 1}": "dictionaries",
    "True": "bool literals",
    "None": "NoneType literals",
    "1j": "complex literals",
    "x.__class__": "attribute access",
    "sin(x)(y)": "calling this expression",
    "x(1)": "calling 'x'",
    "x**2 + y**2 # <img src=nope onerror=alert(1)>": "comments (# ...)",
    "x**2 + y**2 #": "comments (# ...)",
    "(x # a comment inside\n + y)": "comments (# ...)",
    "x**2;": "text after the expression",
    "x**2 ;  ": "text after the expression",
    "x**2 \\\n;": "text after the expression",
}


@pytest.mark.parametrize("text", sorted(REFUSED))
def test_refusals_name_what_is_not_allowed(text):
    with pytest.raises(ValueError, match="not allowed") as err:
        from_expression(text)
    assert REFUSED[text] in str(err.value)


@pytest.mark.parametrize("text", ["x**2 + y**2  ", "\n  x**2 + y**2\n", "(x\n + y)", "x +\\\n y", "  (x)  "])
def test_whitespace_around_and_inside_the_expression_is_fine(text):
    assert float(from_expression(text).loss(jnp.array([1.0, 2.0]))) in (5.0, 3.0, 1.0)


ABSURD = {
    "x" + "+x" * 300: "too long",
    "+".join(["x"] * 120): "too large",
    "-" * 120 + "x": "too large",
    "(" * 210 + "x" + ")" * 210: "too many nested parentheses",
    "exp(" * 40 + "x" + ")" * 40: "nested",
    "sin(" * 40 + "x" + ")" * 40: "nested",
    "x**1000": "exponent too large",
    "9**9**9": "exponent too large",
    "x**(2*40)": "exponent too large",
    "1e400": "number too large",
    "123456789012345678901234567890 * x": "number too large",
    "sin": "must be called",
    "sin(x, y)": "takes 1 argument",
    "arctan2(x)": "takes 2 arguments",
    "": "empty",
    "x +": "invalid syntax",
    "x\x00": "null",
    "log(x - 100)": "not finite anywhere",
}


@pytest.mark.parametrize("text", sorted(ABSURD))
def test_absurd_or_broken_inputs_are_refused(text):
    with pytest.raises(ValueError) as err:
        from_expression(text)
    assert ABSURD[text] in str(err.value)


@pytest.mark.parametrize("bounds", [((1, 0), (0, 1)), ((0, float("inf")), (0, 1)), ("ab", (0, 1)), 3])
def test_bad_bounds_are_refused(bounds):
    with pytest.raises(ValueError, match="bounds"):
        from_expression("x + y", bounds=bounds)


def _outcome(text):
    try:
        result = from_expression(text)
    except ValueError:
        return None
    assert isinstance(result, Problem)
    return result


TOKENS = st.sampled_from(
    ["x", "y", "pi", "e", "1", "2.5", "1e9", "1e400", "+", "-", "*", "/", "**", "(", ")", ",", ".", "[", "]",
     "__import__", "'os'", "lambda", ":", "for", "in", "if", "else", "=", ";", "\n", " ", "import", "os",
     "__class__", "__globals__", "exec", "eval", "open", "getattr", "{", "}", "@", "%", "<", "not"]
    + list(FUNCTIONS)
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=60))
def test_hostile_random_text_gives_a_problem_or_a_value_error(text):
    _outcome(text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TOKENS, max_size=25).map("".join))
def test_hostile_token_soup_gives_a_problem_or_a_value_error(text):
    problem = _outcome(text)
    if problem is not None:
        assert np.ndim(problem.loss(jnp.array([0.3, -0.7]))) == 0


@settings(max_examples=30, deadline=None)
@given(st.integers(MAX_LENGTH + 1, 5 * MAX_LENGTH), st.sampled_from(["(", "x+", "-", "sin(", "1"]))
def test_oversized_inputs_are_refused_before_parsing(n, piece):
    with pytest.raises(ValueError, match="too long"):
        from_expression((piece * n)[:n])
