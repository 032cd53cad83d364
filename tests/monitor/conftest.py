"""A populated monitor store: a sample flow run with the monitor subscribed, dead letters open."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from shipsync.monitor import Monitor, MonitorStore
from shipsync.testing.sample_flow import SampleFlow


@attrs.frozen
class Populated:
    """Where a finished sample flow left its files, and the fake carrier's clock at the end."""

    workdir: Path
    store: Path
    events: Path
    now: float
    shipments: int


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Populated:
    work = tmp_path_factory.mktemp("populated")
    flow = SampleFlow(work, shipments=40)
    store = MonitorStore(work / "monitor.db")
    monitor = Monitor(store, clock=flow.now, sink=flow.log)
    flow.dispatcher.subscribe(None, monitor, name="monitor")
    flow.run(hours=96)
    monitor.check()
    flow.drain()
    now = flow.now()
    flow.close()
    store.close()
    return Populated(work, work / "monitor.db", work / "events.db", now, flow.shipments)
