"""app: the Panel dashboard over the ``landscape`` engine.

``app.main`` is what ``panel serve app/main.py`` serves; ``app.state`` holds a
session's shared state (the current problem), ``app.runner`` runs engine
generators off the event loop, ``app.views`` holds one module per dashboard
tab and ``app.components`` the plot pieces views share.
"""
