"""The booking flow with the UPS driver: a ready picking becomes a UPS booking, from its cassette.

The UPS cassette (``tests/carriers/ups/cassettes/booking.yaml``, built from UPS's published
response schemas: no machine here reaches UPS) answers a two-package booking; the picking is packed
into two packages in the memory Odoo, so the flow books it once, writes both tracking numbers and
attaches both labels.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import vcr

from shipsync.canonical import ShipmentCreated
from shipsync.carriers import CarrierClient
from shipsync.carriers.ups import UpsDriver
from shipsync.flows import BookingFlow, Outcome
from shipsync.idempotency import MemoryStore
from shipsync.odoo import MemoryCursorStore, OdooLogistics, OdooSource
from shipsync.testing.odoo import MemoryOdoo

CASSETTES = Path(__file__).parents[1] / "carriers" / "ups" / "cassettes"
UPS = {
    "client_id": "test-client-id",
    "client_secret": "test-client-secret",
    "account_number": "A1B2C3",
}
NOW = datetime(2026, 1, 5, 8, tzinfo=UTC)


def _odoo() -> tuple[MemoryOdoo, int]:
    odoo = MemoryOdoo(
        {
            "stock.picking": ["name", "state", "company_id", "carrier_tracking_ref", "sale_id"],
            "stock.quant.package": ["name"],
        },
        now=lambda: NOW,
    )
    georgia = odoo.insert("res.country.state", {"name": "GA"})
    odoo.tables["res.partner"][1].update(
        {
            "name": "Acme Outdoor Supply",
            "street": "12 Warehouse Way",
            "city": "Atlanta",
            "zip": "30301",
            "state_id": georgia,
            "country_code": "US",
            "phone": "4045550100",
        }
    )
    customer = odoo.insert(
        "res.partner",
        {
            "name": "Dana Customer",
            "street": "1600 Peachtree St NW",
            "city": "Atlanta",
            "zip": "30309",
            "state_id": georgia,
            "country_code": "US",
            "phone": "4045550199",
        },
    )
    odoo.insert("delivery.carrier", {"id": 60, "name": "UPS Ground"})
    sale = odoo.insert("sale.order", {"name": "S00042", "state": "sale"})
    picking = odoo.insert(
        "stock.picking",
        {
            "name": "WH/OUT/00042",
            "state": "assigned",
            "picking_type_code": "outgoing",
            "carrier_id": 60,
            "carrier_tracking_ref": False,
            "partner_id": customer,
            "company_id": 1,
            "sale_id": sale,
            "shipping_weight": 4.5,
        },
    )
    for name, kg in (("PACK0001", 2.0), ("PACK0002", 2.5)):
        package = odoo.insert("stock.quant.package", {"name": name, "shipping_weight": kg})
        odoo.insert("stock.move.line", {"picking_id": picking, "result_package_id": package})
    return odoo, picking


def test_a_ready_picking_is_booked_with_ups_once_with_a_tracking_number_per_package() -> None:
    """picking.ready -> one UPS booking (cassette); both numbers on the picking, both labels."""
    odoo, picking = _odoo()
    source = OdooSource(
        odoo,
        MemoryCursorStore(),
        database="test",
        carriers={"UPS Ground": "ups"},
        services={"UPS Ground": "ground"},
    )
    batch = source.poll("picking.ready")
    assert not batch.rejected
    [event] = batch.events
    assert len(event.data.shipment.packages) == 2
    created: list[object] = []
    recorder = vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="none",
        match_on=["method", "path", "query"],
    )
    with recorder.use_cassette("booking.yaml"):
        client = CarrierClient(UpsDriver(UPS), clock=lambda: NOW.timestamp())
        flow = BookingFlow(
            OdooLogistics(odoo),
            {"ups": client},
            MemoryStore(),
            sink=created.append,
            clock=lambda: NOW,
        )
        outcome = flow.handle(event)
        again = flow.handle(event)
        client.close()
    assert outcome.outcome is Outcome.BOOKED
    assert again.outcome is Outcome.ALREADY_BOOKED
    assert outcome.shipment is not None
    numbers = outcome.shipment.tracking_numbers
    assert len(numbers) == 2
    assert all(n.startswith("1Z") for n in numbers)
    assert set(odoo.tables["stock.picking"][picking]["carrier_tracking_ref"].split(",")) == set(
        numbers
    )
    labels = list(odoo.tables["ir.attachment"].values())
    assert len(labels) == 2
    assert [type(e) for e in created] == [ShipmentCreated]
