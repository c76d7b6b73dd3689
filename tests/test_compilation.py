"""landscape.compilation: where the persistent cache goes, and that compiled code lands there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from landscape import compilation


def test_directory_from_argument_environment_or_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv(compilation.ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert compilation.cache_path() == tmp_path / "xdg" / "landscape" / "jax"
    monkeypatch.setenv(compilation.ENV, str(tmp_path / "mine"))
    assert compilation.cache_path() == tmp_path / "mine"
    assert compilation.cache_path(tmp_path / "arg") == tmp_path / "arg"
    for off in ("off", "OFF", "0", "false"):
        monkeypatch.setenv(compilation.ENV, off)
        assert compilation.cache_path() is None
        assert compilation.enable_persistent_cache() is None


@pytest.mark.skipif(sys.platform == "win32", reason="subprocess environment handling")
def test_a_compiled_function_is_written_to_the_cache(tmp_path):
    """In a fresh process (the cache is process-wide), enabling it makes a jit write cache entries."""
    code = (
        "import jax, jax.numpy as jnp\n"
        "from landscape.compilation import enable_persistent_cache\n"
        f"print(enable_persistent_cache({str(tmp_path)!r}))\n"
        "jax.jit(lambda x: jnp.sin(x) * 3 + x ** 2)(jnp.arange(5.0)).block_until_ready()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.strip() == str(tmp_path)
    assert any(tmp_path.rglob("*")), "no cache entry was written"


@pytest.mark.skipif(sys.platform == "win32", reason="subprocess environment handling")
def test_the_cli_caches_its_compiled_kernels(tmp_path):
    """The `landscape` command turns the persistent cache on (LANDSCAPE_JAX_CACHE says where)."""
    cache = tmp_path / "cache"
    command = [sys.executable, "-c", "from landscape.cli import main; main()", "slice", "booth", "--directions", "random", "--grid", "3",
               "--out", str(tmp_path / "slice.zarr"), "--quiet"]
    subprocess.run(command, capture_output=True, text=True, timeout=300, check=True,
                   env={**os.environ, compilation.ENV: str(cache)})
    assert any(path.is_file() for path in cache.rglob("*")), "the CLI wrote no cache entry"


def test_every_notebook_turns_the_persistent_cache_on_in_its_first_code_cell():
    for path in sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb")):
        first = next(cell for cell in json.loads(path.read_text())["cells"] if cell["cell_type"] == "code")
        assert any(line.startswith("enable_persistent_cache()") for line in first["source"]), path.name
