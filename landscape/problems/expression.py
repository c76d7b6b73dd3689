"""User-typed 2-D surfaces: a safe expression language in ``x`` and ``y``.

:func:`from_expression` parses the text with :mod:`ast` and accepts only a
whitelist: numbers, the operators ``+ - * / **`` (binary) and ``+ -``
(unary), parentheses, the names ``x``, ``y``, ``pi``, ``e`` and calls (with
positional arguments only) of the fixed set of :mod:`jax.numpy` functions in
:data:`FUNCTIONS`.  Everything else is refused (comments and any text after
the expression included, so nothing but the expression is ever kept) with a ``ValueError`` naming
what is not allowed, and so are absurd inputs (text length, node count,
nesting depth, huge literals and huge constant exponents).  The accepted tree
is compiled by walking it into nested closures over ``jax.numpy``, so the
result is a pure, differentiable, jit-able function; the text is never passed
to ``eval``, ``exec`` or ``compile``.  (Hand-written: no maintained library
offers a whitelisted ``ast`` → JAX compiler.)
"""

from __future__ import annotations

import ast
import math
import warnings

import jax.numpy as jnp
import numpy as np

from .. import limits
from .base import Bounds, Problem
from .surfaces import surface

#: Whitelisted functions: name -> (jax.numpy function, number of arguments).
FUNCTIONS = {
    **{
        name: (getattr(jnp, name), 1)
        for name in (
            "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
            "arcsinh", "arccosh", "arctanh", "exp", "expm1", "log", "log1p", "log2", "log10",
            "sqrt", "cbrt", "square", "abs", "sign",
        )
    },
    **{name: (getattr(jnp, name), 2) for name in ("arctan2", "hypot", "minimum", "maximum")},
}  # fmt: skip
CONSTANTS = {"pi": math.pi, "e": math.e}
VARIABLES = ("x", "y")
_BINARY = {ast.Add: jnp.add, ast.Sub: jnp.subtract, ast.Mult: jnp.multiply, ast.Div: jnp.divide, ast.Pow: jnp.power}
_UNARY = {ast.USub: jnp.negative, ast.UAdd: lambda a: a}

MAX_NODES = 200
MAX_DEPTH = 32
MAX_LITERAL = 1e10
MAX_EXPONENT = 64.0
DEFAULT_BOUNDS: Bounds = ((-3.0, 3.0), (-3.0, 3.0))

_OPERATOR_SYMBOLS = {
    ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>",
    ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&", ast.Invert: "~", ast.Not: "not",
}  # fmt: skip
_REFUSED = {
    ast.Attribute: "attribute access (a.b)",
    ast.Subscript: "subscripts / indexing (a[i])",
    ast.Lambda: "lambda functions",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions / generator expressions",
    ast.Compare: "comparisons",
    ast.BoolOp: "boolean operators (and / or)",
    ast.IfExp: "conditional expressions (a if c else b)",
    ast.NamedExpr: "assignment expressions (:=)",
    ast.Starred: "starred arguments (*a)",
    ast.List: "lists",
    ast.Tuple: "tuples",
    ast.Set: "sets",
    ast.Dict: "dictionaries",
    ast.JoinedStr: "strings",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Slice: "slices",
}
_STATEMENTS = {
    ast.Import: "imports", ast.ImportFrom: "imports", ast.Assign: "assignments",
    ast.AugAssign: "assignments", ast.AnnAssign: "assignments", ast.FunctionDef: "function definitions",
    ast.ClassDef: "class definitions", ast.Delete: "del statements",
}  # fmt: skip


def _refuse(what: str) -> ValueError:
    return ValueError(
        f"not allowed: {what}; an expression may use numbers, + - * / **, parentheses, "
        f"x, y, pi, e and the functions {', '.join(FUNCTIONS)}"
    )


def _parse(text: str) -> ast.expr:
    if not isinstance(text, str):
        raise ValueError(f"the expression must be a string, got {type(text).__name__}")
    if len(text) > limits.get("expression_length"):
        raise ValueError(
            f"expression too long: {len(text)} characters (at most {limits.get('expression_length')} are "
            f"allowed; the operator sets it with {limits.LIMITS['expression_length'].env})"
        )
    text = text.strip()  # surrounding blanks and newlines (a pasted line) are not an indent
    if not text:
        raise ValueError("the expression is empty")
    if "\x00" in text:
        raise _refuse("null characters")
    if "#" in text:  # Python would drop the comment, and its text could travel on to the page
        raise ValueError("comments (# ...) are not allowed: type only the expression")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = ast.parse(text, mode="exec")
    except SyntaxError as err:
        raise ValueError(f"invalid syntax: {err.msg}") from None
    except (RecursionError, MemoryError):
        raise ValueError(f"expression too deeply nested (at most {MAX_DEPTH} levels are allowed)") from None
    if len(module.body) != 1:
        raise _refuse("several statements")
    statement = module.body[0]
    if not isinstance(statement, ast.Expr):
        raise _refuse(_STATEMENTS.get(type(statement), "statements"))
    lines = text.encode("utf-8").splitlines(keepends=True)  # ast offsets count UTF-8 bytes
    end = sum(map(len, lines[: statement.end_lineno - 1])) + statement.end_col_offset
    if text.encode("utf-8")[end:].strip():
        raise ValueError("text after the expression (such as ';') is not allowed: type only the expression")
    return statement.value


def _check_size(tree: ast.expr) -> None:
    count = sum(1 for _ in ast.walk(tree))
    if count > MAX_NODES:
        raise ValueError(f"expression too large: {count} syntax nodes (at most {MAX_NODES} are allowed)")
    depth, stack = 0, [(tree, 1)]
    while stack:
        node, d = stack.pop()
        depth = max(depth, d)
        stack.extend((child, d + 1) for child in ast.iter_child_nodes(node))
    if depth > MAX_DEPTH:
        raise ValueError(f"expression too deeply nested: depth {depth} (at most {MAX_DEPTH} levels are allowed)")


def _is_constant(node: ast.expr) -> bool:
    """True when the sub-expression uses neither ``x`` nor ``y``."""
    return not any(isinstance(n, ast.Name) and n.id in VARIABLES for n in ast.walk(node))


def _compile(node: ast.expr):
    """Walk the (size-checked) tree into a closure ``(x, y) -> value``."""
    if isinstance(node, ast.Constant):
        if type(node.value) not in (int, float):
            kind = "strings" if isinstance(node.value, (str, bytes)) else f"{type(node.value).__name__} literals"
            raise _refuse(kind)
        if not abs(node.value) <= MAX_LITERAL:  # also catches inf/nan and huge ints
            raise ValueError(f"number too large: literals are limited to ±{MAX_LITERAL:g}")
        value = float(node.value)
        return lambda x, y: value
    if isinstance(node, ast.Name):
        if node.id in VARIABLES:
            position = VARIABLES.index(node.id)
            return lambda x, y: (x, y)[position]
        if node.id in CONSTANTS:
            value = CONSTANTS[node.id]
            return lambda x, y: value
        if node.id in FUNCTIONS:
            raise ValueError(f"function {node.id!r} must be called with arguments, e.g. {node.id}(x)")
        raise _refuse(f"the name {node.id!r}")
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINARY:
            raise _refuse(f"the operator {_OPERATOR_SYMBOLS.get(type(node.op), type(node.op).__name__)}")
        op, left, right = _BINARY[type(node.op)], _compile(node.left), _compile(node.right)
        if isinstance(node.op, ast.Pow) and _is_constant(node.right):
            exponent = float(right(0.0, 0.0))  # a constant sub-expression, already whitelisted
            if not abs(exponent) <= MAX_EXPONENT:
                raise ValueError(f"exponent too large: constant exponents are limited to ±{MAX_EXPONENT:g}")
        return lambda x, y: op(left(x, y), right(x, y))
    if isinstance(node, ast.UnaryOp):
        if type(node.op) not in _UNARY:
            raise _refuse(f"the operator {_OPERATOR_SYMBOLS.get(type(node.op), type(node.op).__name__)}")
        op, operand = _UNARY[type(node.op)], _compile(node.operand)
        return lambda x, y: op(operand(x, y))
    if isinstance(node, ast.Call):
        return _compile_call(node)
    raise _refuse(_REFUSED.get(type(node), type(node).__name__))


def _compile_call(node: ast.Call):
    if not isinstance(node.func, ast.Name):
        what = "attribute access (a.b)" if isinstance(node.func, ast.Attribute) else "calling this expression"
        raise _refuse(what)
    name = node.func.id
    if name not in FUNCTIONS:
        raise _refuse(f"calling {name!r}")
    if node.keywords:
        raise _refuse("keyword arguments")
    if any(isinstance(arg, ast.Starred) for arg in node.args):
        raise _refuse("starred arguments (*a)")
    fn, arity = FUNCTIONS[name]
    if len(node.args) != arity:
        raise ValueError(f"{name}() takes {arity} argument{'s' * (arity > 1)}, got {len(node.args)}")
    args = [_compile(arg) for arg in node.args]
    return lambda x, y: fn(*(arg(x, y) for arg in args))


def _check_bounds(bounds) -> Bounds:
    try:
        (x0, x1), (y0, y1) = ((float(a), float(b)) for a, b in bounds)
    except (TypeError, ValueError):
        raise ValueError(f"bounds must be ((xmin, xmax), (ymin, ymax)), got {bounds!r}") from None
    if not all(math.isfinite(v) for v in (x0, x1, y0, y1)) or not (x0 < x1 and y0 < y1):
        raise ValueError(f"bounds must be finite with min < max, got {bounds!r}")
    return (x0, x1), (y0, y1)


def parse_expression(text: str):
    """Validate ``text`` and compile it into ``f(x, y)`` over ``jax.numpy`` (or raise ``ValueError``)."""
    tree = _parse(text)
    _check_size(tree)
    body = _compile(tree)
    return lambda x, y: body(x, y) + jnp.zeros_like(x)  # constants follow x's dtype and shape


def from_expression(text: str, bounds: Bounds | None = None) -> Problem:
    """A 2-D :class:`Problem` whose loss is the user's expression in ``x`` and ``y``.

    ``bounds`` defaults to the box ``[−3, 3]²``; the expression must be finite
    somewhere on a 9 × 9 grid over it.  Raises ``ValueError`` naming what is not
    allowed for anything outside the whitelist of the module docstring.
    """
    fn = parse_expression(text)
    box = DEFAULT_BOUNDS if bounds is None else _check_bounds(bounds)
    (x0, x1), (y0, y1) = box
    gx, gy = np.meshgrid(np.linspace(x0, x1, 9), np.linspace(y0, y1, 9))
    with np.errstate(all="ignore"):
        values = np.asarray(fn(jnp.asarray(gx), jnp.asarray(gy)))
    if not np.isfinite(values).any():
        raise ValueError("the expression is not finite anywhere in the view box")
    return surface(
        "expression",
        fn,
        box,
        {},
        f"User expression f(x, y) = {text.strip()}",
        {"expression": text.strip(), "bounds": [list(box[0]), list(box[1])]},
    )
