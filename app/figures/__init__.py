"""Pure figure functions: a result ``xarray.Dataset`` in, a HoloViews object out.

One module per view.  Each has a ``*_figure(...)`` that builds the exported
figure from stored results (DESIGN.md, "Export: ... built from the stored
data") and the panel functions it is made of; the live view draws the same
panel functions over the latest (partial) result, so what a user sees and
what they export cannot drift apart.  Nothing here computes with JAX, reads
a view's state or touches Panel: every function is testable without a
server.  Text from problems or users never enters a figure title unescaped
as HTML (Bokeh titles are plain text, so titles carry it verbatim).
"""
