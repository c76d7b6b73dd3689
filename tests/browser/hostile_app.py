"""The dashboard with a problem whose name and description are hostile HTML (served by test_xss.py).

Served with ``panel serve tests/browser/hostile_app.py``; importing it only
defines the texts.  The problem is registered before ``app.main`` is
imported, so the sidebar's picker lists it.
"""

# ``src=data:,x`` fails to decode at once, with no request to the (busy) server, so onerror fires fast
PROBES = {
    "name": "<img src=data:,x onerror=window.__xss='name'>",
    "description": '<img src=data:,x onerror="window.__xss=\'description\'"> <script>window.__xss="script"</script>',
}
NAME = f"bowl{PROBES['name']}"
DESCRIPTION = f"A quadratic bowl x**2 + y**2. {PROBES['description']} [link](javascript:window.__xss='link')"

if __name__.startswith("bokeh"):
    from landscape import problems
    from landscape.problems.surfaces import surface

    def _hostile_bowl():
        bounds = ((-2.0, 2.0), (-2.0, 2.0))
        return surface(NAME, lambda x, y: x**2 + y**2, bounds, {"minimum": [[0.0, 0.0]]}, DESCRIPTION)

    if NAME not in problems.names():  # the script runs once per session, the registry once per server
        problems.register(NAME, "surface", PROBES["description"])(_hostile_bowl)

    from app.main import create_app

    create_app().servable()
