"""One bounded cache for the engine's compiled kernels.

Engine modules build their jitted kernels once per (problem or game, options)
and reuse them: a learning-rate change must not recompile.  Instead of one
``functools.lru_cache`` per module, every kernel factory goes through
:data:`KERNELS`, a :class:`KernelCache`:

* **bounded**: least-recently-used entries beyond ``maxsize`` are dropped
  (their compiled code with them);
* **precision-aware**: the key always includes the precision the kernel is
  built for (``jax_enable_x64`` and the default float dtype), so switching
  x64 on or off never returns a kernel built, or constants captured, for the
  other precision;
* **no shared mutable arrays**: a cached numpy array is stored read-only, so
  no caller can change what the next caller receives (copy it to modify it).

Keys hold the objects they name (problems, games, loss functions): those are
compared by identity, as jit's own ``static_argnums`` does, so pass the same
``problem.loss`` object to reuse a kernel.  ``KERNELS.clear()`` drops all.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import jax
import jax.numpy as jnp
import numpy as np

T = TypeVar("T")


def precision() -> tuple[bool, str]:
    """The precision kernels are built for now: ``(x64 enabled, default float dtype)``."""
    return bool(jax.config.jax_enable_x64), str(jnp.result_type(float))


def _frozen(value):
    if isinstance(value, np.ndarray):
        value = value.view()
        value.flags.writeable = False
    elif isinstance(value, tuple):
        value = type(value)(*map(_frozen, value)) if hasattr(value, "_fields") else tuple(map(_frozen, value))
    return value


class KernelCache:
    """A thread-safe LRU map ``(name, key parts, precision) -> built value`` (see the module docstring)."""

    def __init__(self, maxsize: int = 256) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        self.maxsize = maxsize
        self._entries: collections.OrderedDict[Hashable, Any] = collections.OrderedDict()
        self._lock = threading.RLock()
        self.hits = self.misses = 0

    def get(self, name: str, key: tuple, build: Callable[[], T]) -> T:
        """The cached value for ``(name, key)`` at the current precision, built by ``build()`` if missing."""
        full = (name, key, precision())
        with self._lock:
            if full in self._entries:
                self.hits += 1
                self._entries.move_to_end(full)
                return self._entries[full]
        value = _frozen(build())  # outside the lock: building may compile, and may use the cache
        with self._lock:
            self.misses += 1
            self._entries[full] = value
            self._entries.move_to_end(full)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)
        return value

    def __call__(self, name: str):
        """Decorator: cache ``factory(*args, **kwargs)`` under ``(name, args, kwargs)``; arguments
        must be hashable."""

        def decorate(factory: Callable[..., T]) -> Callable[..., T]:
            def cached(*args, **kwargs):
                return self.get(name, (args, tuple(sorted(kwargs.items()))), lambda: factory(*args, **kwargs))

            cached.__name__ = factory.__name__
            cached.__doc__ = factory.__doc__
            cached.__wrapped__ = factory
            return cached

        return decorate

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


#: The engine's kernel cache.
KERNELS = KernelCache()
