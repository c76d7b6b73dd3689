"""The sidebar's "Compute" setting: where a session's sweeps run.

* **in-process** (the default): chunk tasks run one after another in the
  server's job pool, as before;
* **local cluster**: a ``dask.distributed`` ``LocalCluster`` of N single-threaded
  worker processes, started for this session when applied and closed with it;
* **scheduler**: an existing Dask cluster by address (``tcp://host:8786``).

Views pass :attr:`ComputeSetting.executor` to the engine's sweeps (slices,
Lyapunov maps, residual maps: ``executor=`` of the ``iter_*`` generators,
:mod:`landscape.executor`); chunks arrive in completion order and the partial
result fills in wherever they land, so a heatmap fills as workers report.
Results equal the in-process ones (same chunks, same dtype).  Starting or
joining a cluster runs in the runner's pool, never on the event loop; the Dask
dashboard link is shown escaped.
"""

from __future__ import annotations

import re

import panel as pn
import param

from landscape.executor import DaskExecutor, InProcess

from ..runner import LatestCall, served
from .text import escape

MODES = ("in-process", "local cluster", "scheduler")
ADDRESS = re.compile(r"^(tcp|tls|inproc|ucx)://[\w.\-\[\]:]+$")


class ComputeSetting(param.Parameterized):
    """Where the session's sweeps run; :attr:`executor` is what views hand to the engine."""

    mode = param.Selector(default=MODES[0], objects=list(MODES), doc="Where sweeps run.")
    workers = param.Integer(default=2, bounds=(1, 64), doc="Worker processes of the local cluster.")
    address = param.String(default="", doc="Scheduler address of an existing Dask cluster (tcp://host:8786).")
    status = param.String(default="Sweeps run in-process.", doc="What is in use, or why applying failed.")
    link = param.String(default="", doc="The active Dask dashboard's address (empty in-process).")

    def __init__(self, sync: bool | None = None, **params):
        super().__init__(**params)
        self.executor: InProcess | DaskExecutor = InProcess()
        self._cluster = self._client = None
        self._connect = LatestCall(sync=sync)
        self._connect.param.watch(self._failed, "message")
        if served():
            pn.state.on_session_destroyed(lambda _context: self.close())

    def check(self) -> None:
        """Refuse a scheduler address that is not ``protocol://host:port``."""
        if self.mode == "scheduler" and not ADDRESS.match(self.address.strip()):
            raise ValueError(f"a scheduler address looks like tcp://host:8786, got {self.address!r}")

    def apply(self) -> None:
        """Switch to the chosen mode (starting or joining a cluster off the event loop)."""
        self.check()
        mode, workers, address = self.mode, self.workers, self.address.strip()
        self.status = "Connecting…" if mode != MODES[0] else self.status
        self._connect.submit(lambda: self._start(mode, workers, address), self._use, label="Connecting…")

    def close(self) -> None:
        """Back to in-process; the session's own cluster (if any) is shut down."""
        client, cluster = self._client, self._cluster
        self.executor, self._client, self._cluster = InProcess(), None, None
        for thing in (client, cluster):
            if thing is not None:
                thing.close()

    def _start(self, mode: str, workers: int, address: str):
        if mode == MODES[0]:
            return None, None
        from distributed import Client, LocalCluster

        if mode == MODES[1]:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
            return cluster, Client(cluster)
        return None, Client(address, timeout="10s")

    def _use(self, started) -> None:
        self.close()
        self._cluster, self._client = started
        if self._client is None:
            self.status, self.link = "Sweeps run in-process.", ""
            return
        self.executor = DaskExecutor(self._client)
        self.status = f"Sweeps run on {self.executor.description}."
        self.link = self._client.dashboard_link or ""

    def _failed(self, event) -> None:
        if event.new.startswith("Error"):
            self.status = f"{event.new} (sweeps stay {self.executor.description})"

    def panel(self) -> pn.Column:
        """The sidebar block: mode, workers or address, Apply, status and the dashboard link."""
        mode = pn.widgets.RadioButtonGroup.from_param(self.param.mode, sizing_mode="stretch_width")
        workers = pn.widgets.IntInput.from_param(self.param.workers, name="Workers", sizing_mode="stretch_width")
        address = pn.widgets.TextInput.from_param(self.param.address, name="Scheduler address",
                                                  placeholder="tcp://host:8786", sizing_mode="stretch_width")
        apply = pn.widgets.Button(label="Apply", sizing_mode="stretch_width")
        status = pn.pane.HTML("", sizing_mode="stretch_width")

        def click(_event) -> None:
            try:
                self.apply()
            except ValueError as error:
                self.status = f"Error: {error}"

        def sync(*_events) -> None:
            workers.visible, address.visible = self.mode == MODES[1], self.mode == MODES[2]
            link = f' <a href="{escape(self.link)}" target="_blank">Dask dashboard</a>' if self.link else ""
            status.object = escape(self.status) + link

        apply.on_click(click)
        self.param.watch(sync, ["mode", "status", "link"])
        sync()
        return pn.Column(pn.pane.HTML("<b>Compute</b>: where sweeps run", margin=(4, 5, 0, 5)), mode, workers,
                         address, apply, status, sizing_mode="stretch_width")
