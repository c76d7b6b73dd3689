"""Plot pieces shared by the dashboard views.

``surface`` (2-D loss surface as image + contours), ``spectrum`` (Hessian
eigenvalues at a point and along a path), ``export`` (figure and data
downloads built from stored results), ``styles`` (options set for both the
Bokeh and the matplotlib backend, so one element renders live and exports).
"""
