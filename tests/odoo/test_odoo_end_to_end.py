"""End to end on cassettes: the fake carrier books and tracks, Odoo's pickings follow."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shipsync.canonical import Milestone, TrackingEvent
from shipsync.odoo import OdooFieldMap, OdooLogistics
from shipsync.testing.fake_carrier import FakeCarrier


@pytest.fixture
def fake_carrier() -> Iterator[FakeCarrier]:
    """The in-process fake carrier (seed 0), as the testing plugin provides it."""
    carrier = FakeCarrier(seed=0)
    yield carrier
    carrier.close()


def _namespaced(events: list[TrackingEvent], tag: str) -> list[TrackingEvent]:
    """The fake carrier restarts its ids in every process; a real carrier's ids are unique.

    Prefixing the run tag keeps live re-recordings on one database from meeting the events of
    an earlier run (their notes would rightly be reported as duplicates).
    """
    return [e.model_copy(update={"event_id": f"{tag}:{e.event_id}"}) for e in events]


def test_fake_carrier_events_update_the_odoo_picking(
    fake_carrier: FakeCarrier, gateway: Any, odoo_data: Any
) -> None:
    """Book with the fake carrier, record it on a picking, apply its tracking: delivered, done."""
    domain = [["model", "=", "stock.picking"], ["name", "=", "x_shipsync_status"]]
    if not gateway.call("ir.model.fields", "search_count", [domain]):
        [model_id] = gateway.call("ir.model", "search", [[["model", "=", "stock.picking"]]])
        gateway.call(
            "ir.model.fields",
            "create",
            [
                {
                    "model_id": model_id,
                    "name": "x_shipsync_status",
                    "ttype": "char",
                    "field_description": "Shipment status",
                    "state": "manual",
                }
            ],
        )
    fields = OdooFieldMap(
        picking_status="x_shipsync_status",
        status_values={m: m.value for m in Milestone if m is not Milestone.UNKNOWN},
        validate_on_delivery=True,
    )
    odoo = OdooLogistics(gateway, fields)
    [picking_id] = odoo_data.pickings(1)

    client = fake_carrier.client()
    booked = client.create_shipment(fake_carrier.shipment(packages=2))
    recorded = odoo.record_shipment(picking_id, booked)
    assert len(recorded.attachment_ids) == 2

    fake_carrier.advance(hours=96)
    refs = [p.tracking_number for p in booked.packages if p.tracking_number]
    events = _namespaced([e for ref in refs for e in client.track(ref)], odoo_data.tag)
    assert events[-1].milestone is Milestone.DELIVERED

    report = odoo.apply_events(events)
    assert len(report.applied) == len(events)
    assert report.validated == (picking_id,)
    [picking] = odoo.read_pickings([picking_id])
    assert picking.state == "done"
    assert picking.status == "delivered"
    assert len(picking.message_ids) == len(events) + 1  # the booking note and one per event
