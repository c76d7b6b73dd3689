"""app: the Panel dashboard over the ``landscape`` engine.

``app.main`` is what ``panel serve app/main.py`` serves; ``app.state`` holds a
session's shared state (the current problem), ``app.runner`` runs engine
generators off the event loop, ``app.views`` holds one module per dashboard
tab and ``app.components`` the plot pieces views share.

In a notebook, ``app.show(problem)`` (after ``pn.extension()``) displays the
whole dashboard inline with your own problem selected.
"""


def show(problem, state=None):
    """The whole dashboard inline with ``problem`` selected (see :func:`app.main.show`)."""
    from .main import show as show_dashboard

    return show_dashboard(problem, state)
