"""Named problems: 2-D surfaces, small networks, RL toys, games, user expressions.

``names()`` lists them, ``get(name, **options)`` builds one.  Importing this
package imports every module beside it, and each module registers the
problems it defines with :func:`register`, so a new problem family is one new
module here.  Games are defined with the rest of the game maths, in
:mod:`landscape.games.definitions`, which registers them the same way; the
registry imports it at the first look-up (:data:`registry.FAMILIES`).
"""

import importlib
import pkgutil

from .base import Bounds, Game, Problem, default_dtype
from .registry import entry, get, names, register

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in ("base", "registry"):
        importlib.import_module(f"{__name__}.{_module.name}")

from .custom import from_equinox, from_flax, from_function  # noqa: E402  (the user's own model)
from .expression import from_expression  # noqa: E402  (user-typed surfaces)

__all__ = ["Bounds", "Game", "Problem", "default_dtype", "entry", "from_equinox", "from_expression", "from_flax", "from_function", "get", "names", "register"]
