"""``shipsync demo --parallel-run``: a legacy connector and shipsync side by side, in seconds.

A memory Odoo holds one picking per shipment; a carrier feed arrives late and twice now and then;
a legacy connector with the usual faults writes into Odoo while shipsync runs its unchanged Odoo
operations in shadow mode. The report shows where they disagree and why, and the demo checks it
found exactly what the faults injected.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

__all__ = ["run_parallel_demo"]


def run_parallel_demo(echo: Callable[[str], object], *, shipments: int = 300, seed: int = 5) -> int:
    """Run the demo; 0 when the report found exactly the injected divergences, else 1."""
    from shipsync.migration import Readiness, legacy_side_from_odoo, parallel_run, shipsync_side
    from shipsync.odoo import OdooLogistics, ShadowGateway, SQLiteShadowRecorder
    from shipsync.testing.legacy import FaultyLegacyConnector, feed, sample_invoices
    from shipsync.testing.odoo import MemoryOdoo

    odoo = MemoryOdoo(
        {"stock.picking": ["name", "state", "carrier_tracking_ref", "delivery_state"]}
    )
    vendor = odoo.insert("res.partner", {"name": "Swiftpost Ltd"})
    carrier = odoo.insert("delivery.carrier", {"name": "Swiftpost"})
    arrival, pickings = feed(seed, shipments)
    for number, name in sorted(pickings.items()):
        odoo.insert(
            "stock.picking",
            {"name": name, "carrier_tracking_ref": number, "carrier_id": carrier},
        )
    invoices = sample_invoices(pickings, random.Random(seed))
    since = datetime.now(UTC) - timedelta(minutes=1)
    echo(f"{len(pickings)} pickings, {len(arrival)} carrier deliveries, {len(invoices)} invoices")

    legacy = FaultyLegacyConnector(odoo)
    for event in arrival:
        legacy.receive(event)
    for invoice in invoices:
        legacy.bill(invoice, vendor_id=vendor, currency_id=1)
    echo("legacy connector: wrote statuses, notes and bills into Odoo (with its faults)")

    with tempfile.TemporaryDirectory() as folder:
        with SQLiteShadowRecorder(Path(folder) / "shadow.sqlite") as recorder:
            shadow = ShadowGateway(odoo, recorder)
            logistics = OdooLogistics(shadow)
            for start in range(0, len(arrival), 50):
                logistics.apply_events(arrival[start : start + 50])
            for invoice in invoices:
                logistics.create_vendor_bill(invoice, vendor_id=vendor)
            ours = shipsync_side(recorder.writes(), odoo)
        echo(f"shipsync in shadow mode: {shadow.intended} intended writes recorded, none sent")
    theirs = legacy_side_from_odoo(odoo, since=since, until=datetime.now(UTC) + timedelta(1))
    report = parallel_run(ours, theirs, readiness=Readiness(consecutive_days=1))
    echo(report.table(examples=8))
    found = {(d.category.value, d.key) for d in report.divergences if d.category != "timing"}
    injected = legacy.injected()
    if found != injected:
        echo(f"CHECK FAILED: {len(found ^ injected)} divergence(s) differ from the injected ones")
        return 1
    echo(f"check: the report found exactly the {len(injected)} injected divergences")
    return 0
