"""JAX's persistent compilation cache, on by default for the dashboard and notebooks.

Compiling the engine's kernels dominates the first use of a problem (a game's
set-up took 81 s, mostly XLA compilation).  With the cache on, compiled
executables are written to disk and a second process (a restarted server, a
new kernel) loads them instead of recompiling.

:func:`enable_persistent_cache` picks the directory: its ``path`` argument,
else the environment variable ``LANDSCAPE_JAX_CACHE``, else
``<user cache dir>/landscape/jax`` (``$XDG_CACHE_HOME`` or ``~/.cache`` on
Linux, ``~/Library/Caches`` on macOS, ``%LOCALAPPDATA%`` on Windows).
``LANDSCAPE_JAX_CACHE=off`` (or ``0``, ``false``, ``none``) leaves it off,
e.g. for benchmarks that measure compilation.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import jax

ENV = "LANDSCAPE_JAX_CACHE"
OFF = ("off", "0", "false", "none", "no")


def user_cache_dir() -> Path:
    """The platform's per-user cache directory."""
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches"
    if os.name == "nt":
        return Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def cache_path(path: str | os.PathLike | None = None) -> Path | None:
    """The cache directory :func:`enable_persistent_cache` would use, or ``None`` when it is switched off."""
    if path is not None:
        return Path(path).expanduser()
    configured = os.environ.get(ENV, "").strip()
    if configured.lower() in OFF:
        return None
    return Path(configured).expanduser() if configured else user_cache_dir() / "landscape" / "jax"


def enable_persistent_cache(path: str | os.PathLike | None = None) -> Path | None:
    """Turn on JAX's persistent compilation cache in ``path`` (see the module doc); returns the directory.

    Every compiled function is cached (no minimum compile time or entry size),
    since the dashboard's kernels are many small ones.  Returns ``None`` and
    changes nothing when ``LANDSCAPE_JAX_CACHE`` is ``off``.
    """
    directory = cache_path(path)
    if directory is None:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return directory
