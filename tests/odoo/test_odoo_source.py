"""Odoo as the source, on cassettes recorded against a real Odoo 18 (live with ``ODOO_*`` set).

A sale order confirmed in Odoo comes out of the change feed as ``order.confirmed``, its picking
as ``picking.ready`` carrying the canonical shipment; the booking flow books it with the fake
carrier and writes the tracking number and label back; cancelling the picking voids the label.

These tests keep their own run tag (``cassettes/source_run_tag.txt``), so recording them again
leaves the other Odoo cassettes' tag alone.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from shipsync.canonical import (
    Claim,
    ClaimStatus,
    Money,
    OrderConfirmed,
    PickingCancelled,
    PickingReady,
)
from shipsync.flows import BookingFlow, Outcome
from shipsync.idempotency import MemoryStore
from shipsync.odoo import (
    MemoryCursorStore,
    OdooLogistics,
    OdooSource,
    RpcGateway,
    version_facts,
)
from shipsync.testing.fake_carrier import FakeCarrier

LIVE = all(os.environ.get(k) for k in ("ODOO_URL", "ODOO_DB", "ODOO_USER", "ODOO_PASSWORD"))

TAG_FILE = Path(__file__).parent / "cassettes" / "source_run_tag.txt"


@pytest.fixture(scope="module")
def tag() -> str:
    """This module's run tag: new when recording, the recorded one in replay."""
    if LIVE:
        value = "src" + time.strftime("%m%d%H%M%S")
        TAG_FILE.write_text(value + "\n", encoding="utf-8")
        return value
    return TAG_FILE.read_text(encoding="utf-8").strip()


def _confirmed_order(gw: RpcGateway, tag: str) -> tuple[int, int]:
    """A confirmed sale order to a German customer with a delivery method: (order, picking)."""
    [germany] = gw.call("res.country", "search", [[["code", "=", "DE"]]], {"limit": 1})
    customer = gw.call(
        "res.partner",
        "create",
        [
            {
                "name": f"Erika Mustermann {tag}",
                "street": "Unter den Linden 1",
                "city": "Berlin",
                "zip": "10117",
                "country_id": germany,
                "email": "erika@example.com",
            }
        ],
    )
    product = gw.call(
        "product.product",
        "create",
        [{"name": f"Widget {tag}", "type": "consu", "list_price": 25, "weight": 1.25}],
    )
    [carrier] = gw.call("delivery.carrier", "search", [[]], {"limit": 1, "order": "id"})
    order = gw.call(
        "sale.order",
        "create",
        [
            {
                "partner_id": customer,
                "carrier_id": carrier,
                "order_line": [[0, 0, {"product_id": product, "product_uom_qty": 2}]],
            }
        ],
    )
    gw.call("sale.order", "action_confirm", [[order]])
    [row] = gw.call("sale.order", "read", [[order]], {"fields": ["picking_ids"]})
    [picking] = row["picking_ids"]
    return int(order), int(picking)


def _start_before(gw: RpcGateway, model: str, record_id: int) -> str:
    """A feed start a little before the record's write_date (read from Odoo, so replay agrees)."""
    [row] = gw.call(model, "read", [[record_id]], {"fields": ["write_date"]})
    stamp = datetime.strptime(row["write_date"], "%Y-%m-%d %H:%M:%S") - timedelta(seconds=5)
    return stamp.strftime("%Y-%m-%d %H:%M:%S")


def test_a_confirmed_order_is_booked_once_and_written_back_then_voided_on_cancel(
    gateway: RpcGateway, tag: str
) -> None:
    """Order -> feed -> picking.ready -> fake carrier booking -> Odoo; cancel -> void, noted."""
    order, picking = _confirmed_order(gateway, tag)
    start = _start_before(gateway, "sale.order", order)
    # Begin at this test's records, not at the database's past.
    source = OdooSource(
        gateway, MemoryCursorStore(), database="odoo-db", companies=[1], start=start
    )

    orders = source.poll("order.confirmed")
    mine = [e for e in orders.events if isinstance(e, OrderConfirmed)]
    assert order in [e.data.order.record_id for e in mine]

    ready = source.poll("picking.ready")
    [event] = [
        e
        for e in ready.events
        if isinstance(e, PickingReady) and e.data.picking.record_id == picking
    ]
    assert ready.round_trips <= 8  # pages, partners, lines, moves, sale lines, products
    shipment = event.data.shipment
    assert shipment.recipient.country == "DE"
    assert shipment.shipper.country == "US"
    assert shipment.customs is not None  # US -> DE crosses a border
    [commodity] = shipment.customs.commodities
    assert commodity.quantity == 2
    assert commodity.value.amount == Decimal("50")
    source.commit(ready)

    carrier = FakeCarrier(seed=21)
    try:
        flow = BookingFlow(OdooLogistics(gateway), {"fake": carrier.client()}, MemoryStore())
        booked = flow.handle(event)
        assert booked.outcome is Outcome.BOOKED, booked.detail
        assert flow.handle(event).outcome is Outcome.ALREADY_BOOKED
        assert carrier.service.shipment_count() == 1
        [record] = OdooLogistics(gateway).read_pickings([picking])
        assert booked.shipment is not None
        assert record.tracking_numbers == booked.shipment.tracking_numbers

        gateway.call("stock.picking", "action_cancel", [[picking]])
        cancelled = source.poll("picking.cancelled")
        [gone] = [
            e
            for e in cancelled.events
            if isinstance(e, PickingCancelled) and e.data.picking.record_id == picking
        ]
        voided = flow.handle(gone)
        assert voided.outcome is Outcome.VOIDED, voided.detail
        [record] = OdooLogistics(gateway).read_pickings([picking])
        assert len(record.message_ids) == 2  # booked, voided
    finally:
        carrier.close()


def test_a_settled_claim_drafts_one_carrier_credit_note_in_odoo(
    gateway: RpcGateway, tag: str
) -> None:
    """create_credit_note makes a draft in_refund Odoo accepts, once per claim."""
    vendor = int(gateway.call("res.partner", "create", [{"name": f"Fake Carrier {tag}"}]))
    [company] = gateway.call(
        "res.company", "search_read", [[]], {"fields": ["currency_id"], "limit": 1}
    )
    currency = str(company["currency_id"][1])
    opened = datetime.fromisoformat("2026-12-01T09:00:00+00:00")
    claim = Claim(
        claim_id=f"claim:fake:{tag}",
        shipment_id=f"odoo:odoo-db:stock.picking:{tag}",
        carrier="fake",
        status=ClaimStatus.SETTLED,
        reason="lost",
        amount=Money.of(Decimal("80"), currency),
        opened_at=opened,
        settled_amount=Money.of(Decimal("75.50"), currency),
        settled_at=opened + timedelta(days=3),
        tracking_number=f"FK{tag}",
    )
    odoo = OdooLogistics(gateway)
    note = odoo.create_credit_note(claim, vendor_id=vendor)
    assert note.created
    assert note.total == Money.of(Decimal("75.50"), currency)
    assert note.state == "draft"
    again = odoo.create_credit_note(claim, vendor_id=vendor)
    assert (again.id, again.created) == (note.id, False)


def test_a_return_created_in_odoo_gets_a_return_label_on_its_return_picking(
    gateway: RpcGateway, tag: str
) -> None:
    """Book, deliver, create the return with Odoo's wizard: return.initiated -> return label."""
    order, picking = _confirmed_order(gateway, tag + "r")
    start = _start_before(gateway, "sale.order", order)
    source = OdooSource(
        gateway, MemoryCursorStore(), database="odoo-db", companies=[1], start=start
    )
    carrier = FakeCarrier(seed=22)
    try:
        flow = BookingFlow(OdooLogistics(gateway), {"fake": carrier.client()}, MemoryStore())
        ready = source.poll("picking.ready")
        [event] = [e for e in ready.events if e.subject and e.subject.endswith(f":{picking}")]
        booked = flow.handle(event)
        assert booked.outcome is Outcome.BOOKED, booked.detail
        gateway.call(
            "stock.picking", "button_validate", [[picking]], {"context": {"skip_sms": True}}
        )
        wizard = gateway.call("stock.return.picking", "create", [{"picking_id": picking}])
        [row] = gateway.call(
            "stock.return.picking", "read", [[wizard]], {"fields": ["product_return_moves"]}
        )
        gateway.call(
            "stock.return.picking.line", "write", [row["product_return_moves"], {"quantity": 1}]
        )
        method = version_facts(gateway.server_version).return_wizard_method
        action = gateway.call("stock.return.picking", method, [[wizard]])
        back = int(action["res_id"])

        returns = source.poll("return.initiated")
        [initiated] = [e for e in returns.events if e.data.return_picking.record_id == back]
        outcome = flow.handle(initiated)
        assert outcome.outcome is Outcome.RETURN_BOOKED, outcome.detail
        [record] = OdooLogistics(gateway).read_pickings([back])
        assert record.tracking_numbers == (outcome.detail,)
        assert len(record.message_ids) == 1
        attachments = gateway.call(
            "ir.attachment",
            "search_count",
            [[["res_model", "=", "stock.picking"], ["res_id", "=", back]]],
        )
        assert attachments == 1
    finally:
        carrier.close()
