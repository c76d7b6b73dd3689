"""A registry of named problem factories.

Each module that defines problems registers a factory ``(**options) -> Problem``
under a name.  ``get`` builds (and caches) the problem for a given set of
options so that its jitted functions compile once per session.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from collections.abc import Callable

from ..kernel_cache import KERNELS
from .base import Problem


@dataclasses.dataclass(frozen=True)
class Entry:
    name: str
    factory: Callable[..., Problem]
    kind: str  # "surface", "network", "game", "rl"
    summary: str


_REGISTRY: dict[str, Entry] = {}

#: Modules outside this package that register problems, imported at the first look-up: the games
#: are defined with the rest of the game maths in :mod:`landscape.games`, a package that itself
#: builds on this one (so importing it here, at import time, would be circular).
FAMILIES = ("landscape.games.definitions",)
_families_loaded = False


def _load_families() -> None:
    global _families_loaded
    if not _families_loaded:
        _families_loaded = True
        for module in FAMILIES:
            importlib.import_module(module)


def register(name: str, kind: str, summary: str):
    """Decorator: register ``factory`` under ``name``."""

    def wrap(factory: Callable[..., Problem]) -> Callable[..., Problem]:
        if name in _REGISTRY:
            raise ValueError(f"problem {name!r} is already registered")
        _REGISTRY[name] = Entry(name, factory, kind, summary)
        return factory

    return wrap


def names(kind: str | None = None) -> list[str]:
    """Registered problem names, optionally only those of one kind."""
    _load_families()
    return [n for n, e in _REGISTRY.items() if kind is None or e.kind == kind]


def entry(name: str) -> Entry:
    _load_families()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"unknown problem {name!r}; known problems: {', '.join(sorted(_REGISTRY))}"
        ) from None


def get(name: str, **options) -> Problem:
    """Build the problem ``name`` with ``options`` (cached per option set and precision,
    so kernels keyed on the problem are reused and an x64 switch rebuilds its data)."""
    return _cached(name, json.dumps(options, sort_keys=True))


@KERNELS("problems.registry")
def _cached(name: str, options_json: str) -> Problem:
    return entry(name).factory(**json.loads(options_json))
