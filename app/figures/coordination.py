"""Figures of a zero-shot-coordination result (``landscape.ridge_rider.zsc``, Ridge Rider §4, Fig. 6).

Top: per first ridge (fingerprint), the average cross-play between independent
runs (bars) beside the mean self-play return (diamonds); the selected fingerprint
(highest cross-play, Algorithm 3) starred in red.  Self-play alone would pick a
ridge whose solution does not coordinate with other runs; cross-play picks the
one every run finds the same way.  Below: the greedy action of player 1 in each
run and ridge, coloured by that solution's self-play return: a column of one
action is a fingerprint all runs agree on (the paper's right panel).
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import xarray as xr

from ..components.styles import styled

CROSS, SELF, SELECTED = "#1f77b4", "#7f7f7f", "#d62728"


def payoff_bars(result: xr.Dataset) -> hv.Overlay:
    """Cross-play per ridge (bars), mean self-play (grey diamonds), the selected ridge (red star)."""
    finished = np.isfinite(result.self_play.values).any(axis=1)
    self_play = (result.self_play.values[finished].mean(axis=0) if finished.any()
                 else np.full(result.sizes["ridge"], np.nan))
    selected = int(result.attrs.get("selected", -1))
    ridges = [str(k) for k in result.ridge.values]
    ridge = hv.Dimension("ridge", label="first ridge (fingerprint)")

    def points(values, keep=lambda k: True):
        return [(r, float(v)) for k, (r, v) in enumerate(zip(ridges, values)) if np.isfinite(v) and keep(k)]

    bars = styled(hv.Bars(points(result.cross_play.values), ridge, "payoff", label="cross-play between runs"),
                  color=CROSS, bokeh={"tools": ["hover"]})
    own = styled(hv.Scatter(points(self_play), ridge, "payoff", label="self-play, mean over runs"), color=SELF,
                 marker="d", bokeh={"size": 14}, matplotlib={"s": 120})
    chosen = styled(hv.Scatter(points(result.cross_play.values, lambda k: k == selected), ridge, "payoff",
                               label="selected (highest cross-play)"), color=SELECTED,
                    bokeh={"size": 22, "marker": "star"}, matplotlib={"s": 300, "marker": "*"})
    score = f"ridge {selected} selected ({result.attrs['best_score']:.3f})" if selected >= 0 else "no score yet"
    return styled(bars * own * chosen, bokeh={"width": 560, "height": 380, "legend_position": "top_right"},
                  matplotlib={"fig_inches": (5, 4), "legend_position": "top_right"},
                  title=f"Cross-play per fingerprint: {score}", ylim=(0, 1.3))  # room for the legend


def greedy_actions(result: xr.Dataset) -> hv.Overlay:
    """Player 1's greedy action per (run, ridge) as text, on the solution's self-play return (colour)."""
    n_runs, n_ridges = result.sizes["run"], result.sizes["ridge"]
    returns = result.self_play.values
    image = hv.Image(np.flipud(returns), ["ridge", "run"], "self-play",  # an Image's first row is its top
                     bounds=(-0.5, -0.5, n_ridges - 0.5, n_runs - 0.5))
    runs, ridges = np.nonzero(np.isfinite(returns))
    labels = hv.Labels((ridges, runs, result.greedy.values[runs, ridges, 0]), ["ridge", "run"], "action")
    top = max(1.0, float(np.nanmax(returns, initial=0)))
    return (styled(image, cmap="viridis", colorbar=True, clim=(0, top),
                   title="Player 1's greedy action per run and ridge",
                   xticks=list(range(n_ridges)), yticks=list(range(n_runs)),
                   bokeh={"width": 460, "height": 380, "tools": ["hover"]}, matplotlib={"fig_inches": (5, 4)})
            * styled(labels, bokeh={"text_color": "black"}, matplotlib={"color": "black"}))


def coordination_figure(result: xr.Dataset) -> hv.Layout:
    """The exported (and live) figure: the payoff bars above the greedy actions."""
    return (payoff_bars(result) + greedy_actions(result)).opts(shared_axes=False).cols(1)
