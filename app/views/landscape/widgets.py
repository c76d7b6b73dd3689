"""The Landscape view's widgets: optimizer choice with per-optimizer hyperparameters (default, bounds and
doc from the optimizer catalogue ``landscape.optim``), steps, starts, the slice settings (networks), the
trajectory picker."""

from __future__ import annotations

import panel as pn

from landscape import trajectories

from ...components.actions import action_button
from ...components.hypers import hyper_rows
from ...components.text import escape
from ...runner import describe
from .layers import OPTIMIZER_COLORS


def hyperparameter_rows(view) -> dict[str, pn.Column]:
    """One row of inputs per optimizer, generated from its catalogue specs (:mod:`app.components.hypers`),
    headed by its colour swatch; shown for the chosen optimizers.  The inputs write ``view.hparams`` and follow it."""
    def swatch(name: str) -> pn.pane.HTML:
        return pn.pane.HTML(f'<span style="color:{OPTIMIZER_COLORS[name]};font-size:18px">■</span> {escape(name)}',
                            margin=(4, 5, 0, 5))

    return hyper_rows(view, trajectories.OPTIMIZERS, lambda name: name in view.optimizers, ["optimizers"], swatch)


def slice_controls(view) -> pn.Column:
    """Directions, span, resolution and a Slice button (networks only)."""
    button = pn.widgets.Button(label="Slice", width=100)

    def click(_event) -> None:
        if view.runner.running:
            view.runner.message = "Error: cancel the running job first"
            return
        try:
            view.compute_slice()
        except Exception as error:
            view.runner.message = describe(error)

    button.on_click(click)
    return pn.Column(
        pn.pane.HTML("<b>Slice</b> through the centre (end of the last run, else the init)", margin=(4, 5, 0, 5)),
        pn.Row(
            pn.widgets.Select.from_param(view.param.direction, label="Directions", width=120),
            pn.widgets.FloatInput.from_param(view.param.span, label="Span", width=70),
            pn.widgets.IntInput.from_param(view.param.resolution, label="Points", width=70),
        ),
        button,
        margin=0,
    )


def fill_picker(view, result) -> None:
    """List the runs of the finished ``result`` in the trajectory picker (diverged ones say where) and pick the first."""
    if len(view.run_labels) != result.sizes["run"]:  # a reopened result: name runs from its coords
        names = result["label"].values if "label" in result.coords else result.optimizer.values
        view.run_labels = [f"{name} run {run}" for run, name in enumerate(names)]
    options = {}
    for run, text in enumerate(view.run_labels):
        stop = int(result.stop_step.values[run])
        options[f"{text}, diverged at step {stop}" if result.diverged.values[run] else text] = run
    view.picker.options = options or {"(run first)": -1}
    view.history.fill_partner(options)
    if view.picker.value == 0 and view.selected == 0:
        view.param.trigger("selected")  # the same run of a new result: show its spectra again
    view.picker.value = 0 if options else -1


def layout(view) -> pn.Column:
    """Run controls; settings beside the plot and its caption; spectra; export."""
    random_button = pn.widgets.Button(label="Random starts", width=130)
    clear_button = pn.widgets.Button(label="Clear starts", width=130)

    def random(_event) -> None:
        try:
            view.random_starts()
        except Exception as error:
            view.runner.message = describe(error)

    random_button.on_click(random)
    clear_button.on_click(lambda _event: view.clear_starts())
    slicing = slice_controls(view)
    view.param.watch(lambda event: setattr(slicing, "visible", not event.new.is_2d), "problem")
    slicing.visible = not view.problem.is_2d
    settings = pn.Column(
        slicing,
        pn.widgets.MultiChoice.from_param(view.param.optimizers, label="Optimizers", width=290),
        *hyperparameter_rows(view).values(),
        pn.widgets.IntInput.from_param(view.param.steps, width=140),
        pn.Row(random_button, clear_button),
        view.picker,
        pn.Row(action_button("Analyse this point", view.analyse_selected, view.runner, 140),
               action_button("Interpolate start → end", view.interpolate_selected, view.runner, 160)),
        view.history.partner,
        action_button("Interpolate end → end", lambda: view.history.interpolate_ends(view.result, view.selected),
                      view.runner, 160),
        view.legend,
        pn.Row(pn.widgets.IntInput.from_param(view.param.levels, name="Contour levels", width=100),
               pn.widgets.Select.from_param(view.param.color_scale, name="Colour scale", width=90),
               pn.Column(action_button("3-D view", view.show_3d, view.runner, 80), margin=(18, 0, 0, 0))),
        width=320,
    )
    # shown as a whole: toggling the HoloViews pane's own `visible` fails in Panel 1.9
    plot_area = pn.Column(view.plot, view.caption, view.surface3d_box, sizing_mode="stretch_width")
    return pn.Column(
        view.runner.controls(on_run=view.run),
        pn.Row(settings, plot_area, sizing_mode="stretch_width"),
        view.history,
        view.spectra,
        view.export,
        sizing_mode="stretch_width",
    )
