"""Watch the control tower fill while a sample flow runs: ``python examples/control_tower/app.py``.

The fake carrier books shipments and sends its webhooks through the receiver into a SQLite event
log; a dispatcher hands every event to a monitor, which keeps the indicators the page shows. Open
the printed URL: the numbers refresh on their own while the carrier's clock runs for a simulated
week, and the dead letters the notifier leaves can be replayed from the page. Ctrl-C ends it.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from shipsync.monitor import MonitorStore
from shipsync.monitor.web import control_tower_for
from shipsync.testing.sample_flow import SampleFlow


def main(shipments: int = 60, pause: float = 1.0) -> None:
    with tempfile.TemporaryDirectory(prefix="shipsync-tower-") as tmp:
        work = Path(tmp)
        flow = SampleFlow(work, shipments=shipments)
        store = MonitorStore(work / "monitor.db")
        with control_tower_for(
            flow.dispatcher,
            store=store,
            dead_letters=flow.dead_letters,
            sink=flow.log,
            clock=flow.now,
        ) as (monitor, tower):
            print(f"control tower: {tower.url}/  (Ctrl-C to stop)")
            flow.book()
            try:
                for _ in range(26):  # 26 steps of 8 hours: every scenario plays out
                    flow.step(8)
                    monitor.check()
                    time.sleep(pause)
                print("the flow is done; the page stays up until Ctrl-C")
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
        flow.close()
        store.close()


if __name__ == "__main__":
    main()
