"""The Teleport view without a server: a surface comparison runs, reports and exports."""

import numpy as np
import pytest

pn = pytest.importorskip("panel")

from app.components.export import figure_bytes  # noqa: E402
from app.views.teleport import TeleportView  # noqa: E402


def test_surface_comparison_runs_reports_the_teleport_and_exports():
    view = TeleportView()  # ellipse ½(x² + 10y²) when no 2-D problem is chosen
    view.start = np.array([2.0, 0.5])
    view.epochs = 20
    view.run()  # synchronous outside a server
    assert view.runner.message == "Done"
    result = view.result
    assert list(result.arm.values) == ["plain", "teleport"]
    # the level through (2, 0.5) is 3.25; its largest ‖∇L‖² is 2·10·3.25 = 65
    assert float(result.grad_norm_sq_after[0, 0]) == pytest.approx(65.0, rel=1e-10)
    assert "teleport at epoch 0: ‖∇L‖² 29 → 65" in view._report.object
    assert float(result.train_loss.sel(arm="teleport")[0, -1]) < 1e-3 * float(result.train_loss.sel(arm="plain")[0, -1])
    assert figure_bytes(view.figure(), "png").getbuffer().nbytes > 10_000
