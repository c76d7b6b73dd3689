"""Layering (DESIGN.md): ``landscape/`` never imports panel, holoviews, bokeh or ``app``."""

import ast
import os
import pathlib
import subprocess
import sys

import landscape

FORBIDDEN = ("panel", "holoviews", "bokeh", "app")
ROOT = pathlib.Path(landscape.__file__).parent


def _imported_roots(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
            "import_module",
            "__import__",
        ):
            for arg in node.args[:1]:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    yield arg.value.split(".")[0]


def test_static_scan_of_landscape_imports():
    files = sorted(ROOT.rglob("*.py"))
    assert len(files) > 10
    offenders = [
        (str(path.relative_to(ROOT)), name)
        for path in files
        for name in _imported_roots(ast.parse(path.read_text(), str(path)))
        if name in FORBIDDEN
    ]
    assert offenders == []


def test_scan_would_catch_an_offender():
    tree = ast.parse("import panel as pn\nfrom holoviews import opts\nimportlib.import_module('bokeh.plotting')")
    assert sorted(_imported_roots(tree)) == ["bokeh", "holoviews", "panel"]


def test_importing_every_landscape_module_loads_no_dashboard_library():
    script = f"""
import importlib, pkgutil, sys
import landscape
names = [m.name for m in pkgutil.walk_packages(landscape.__path__, "landscape.")]
for name in names:
    importlib.import_module(name)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {FORBIDDEN!r})
print(len(names), loaded)
assert not loaded, loaded
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    count, loaded = result.stdout.strip().splitlines()[-1].split(" ", 1)
    assert int(count) > 10 and loaded == "[]"
