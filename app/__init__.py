"""app: the Panel dashboard over the ``landscape`` engine.

``app.main`` is what ``panel serve app/main.py`` serves; ``app.state`` holds a
session's shared state (the current problem), ``app.runner`` runs engine
generators off the event loop, ``app.views`` holds one module per dashboard
tab and ``app.components`` the plot pieces views share.

In a notebook, ``import app``, then ``pn.extension()``, then ``app.show(problem)``
displays the whole dashboard inline with your own problem selected; its jobs run in
the background (:mod:`app.runner`), so the kernel stays free while they stream.

Importing ``app`` sets ``pn.config.inline``: in a notebook Panel then puts its
JavaScript and stylesheets into the output instead of loading them from its CDN, so
the inline dashboard works offline, as the served one does (:mod:`app.offline`).
The setting only concerns notebook output; ``panel serve`` serves its own files.
"""

import warnings

import panel as pn
from panel.config import panel_extension

#: ``pn.extension()`` ran before ``import app``, loading Panel's JavaScript from its CDN (fails offline).
_LOADED_FROM_CDN = panel_extension._loaded and not pn.config.inline
pn.config.inline = True


def show(problem, state=None):
    """The whole dashboard inline with ``problem`` selected (see :func:`app.main.show`)."""
    from .main import show as show_dashboard
    from .runner import in_kernel

    if _LOADED_FROM_CDN and in_kernel():
        warnings.warn("pn.extension() ran before `import app`, so Panel's JavaScript comes from its CDN and the "
                      "dashboard stays blank offline: run pn.extension(inline=True) (or import app first) and "
                      "run this cell again", stacklevel=2)
    return show_dashboard(problem, state)
