"""The operator's own problem for the served dashboard: ``panel serve app/main.py --args --problem mod:fn``;
``--open STORE.zarr`` opens a sweep store in its view (what ``landscape open`` runs).

``--problem package.module:function`` is the operator's own problem: the
module is imported with :func:`importlib.import_module` (the working
directory on the path, as ``python -m`` has it), ``function()`` is called and
must return a :class:`landscape.problems.Problem`; it is shown alongside the
registered problems and selected.

The text is the operator's command line, never text typed in the browser; it
is parsed (a dotted name, a colon, a name), never evaluated.  A bad argument
is a :class:`LaunchError` with a message saying what is wrong;
:func:`options_or_exit` prints it and exits with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from typing import Any

from landscape.problems import Problem

IMPORT_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")
USAGE = "panel serve app/main.py --args [--problem package.module:function] [--open STORE.zarr]"

#: Problems already built, by import path: every session of one server shows the same object
#: (its compiled kernels are reused), and the operator's function runs once.
_BUILT: dict[str, Problem] = {}


class LaunchError(ValueError):
    """A ``--problem`` argument that cannot be used."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print and exit; the caller decides
        raise LaunchError(f"{message}; usage: {USAGE}")


def load_problem(spec: str) -> Problem:
    """The problem ``function()`` returns for ``spec = "package.module:function"``."""
    if not isinstance(spec, str) or not IMPORT_PATH.match(spec):
        raise LaunchError(f"--problem must look like package.module:function (a dotted module name, a colon, "
                          f"a function name), got {spec!r}")
    if spec in _BUILT:
        return _BUILT[spec]
    module_name, function_name = spec.split(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # ImportError, or the module's own code failing
        raise LaunchError(f"--problem {spec}: cannot import {module_name} ({type(error).__name__}: {error})") from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise LaunchError(f"--problem {spec}: {module_name} has no function {function_name}")
    try:
        problem = function()
    except Exception as error:
        raise LaunchError(f"--problem {spec}: {function_name}() failed ({type(error).__name__}: {error})") from None
    if not isinstance(problem, Problem):
        raise LaunchError(f"--problem {spec}: {function_name}() must return a landscape.problems.Problem "
                          f"(from_function, from_flax, from_equinox), got {type(problem).__name__}")
    _BUILT[spec] = problem
    return problem


def check_store(path: str) -> str:
    """``path`` if it is a sweep store the dashboard opens (``landscape open``; :mod:`app.components.saved`)."""
    from landscape import stores

    try:
        kind = stores.info(path)["kind"]
    except stores.StoreError as error:
        raise LaunchError(f"--open {path}: {error}") from None
    if kind not in stores.VIEWS:
        raise LaunchError(f"--open {path}: a {kind!r} store; the dashboard opens {', '.join(stores.VIEWS)} stores")
    return path


def parse(argv: list[str]) -> dict[str, Any]:
    """``{"problem": Problem | None, "store": str | None}`` from the script's arguments."""
    parser = _Parser(prog="app/main.py", usage=USAGE, add_help=False)
    parser.add_argument("--problem", default=None)
    parser.add_argument("--open", default=None)
    known, unknown = parser.parse_known_args(argv)
    if unknown:
        raise LaunchError(f"unknown argument(s) {' '.join(unknown)}; usage: {USAGE}")
    return {"problem": load_problem(known.problem) if known.problem is not None else None,
            "store": check_store(known.open) if known.open is not None else None}


def options_or_exit(argv: list[str]) -> dict[str, Any]:
    """:func:`parse`, or the message on stderr and exit status 2 (the server stops: it was misconfigured)."""
    try:
        return parse(argv)
    except LaunchError as error:
        print(f"app/main.py: error: {error}", file=sys.stderr, flush=True)
        os._exit(2)  # inside panel serve a SystemExit would only fail this session, with a traceback
