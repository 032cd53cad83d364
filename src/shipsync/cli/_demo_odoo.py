"""``shipsync demo --odoo``: the whole loop through a real Odoo, with the fake carrier.

With ``ODOO_URL``, ``ODOO_DB``, ``ODOO_USER`` and ``ODOO_PASSWORD`` set, the demo creates its own
customer and sale orders in that Odoo, confirms them, and runs shipsync as a host would: the
change feed hands out the ready pickings, the booking flow books them with the fake carrier
(labels and tracking numbers written back), tracking is applied until Odoo validates the
deliveries, proofs of delivery are attached, and the carrier's freight invoice becomes a draft
vendor bill. It prints what reached each stage. It writes real records: point it at a test
database.

:func:`run_odoo_demo` is the demo itself, on any gateway; :data:`demo_odoo` the click command.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import click

__all__ = ["OdooDemoReport", "odoo_demo_from_env", "run_odoo_demo"]

ODOO_VARIABLES = ("ODOO_URL", "ODOO_DB", "ODOO_USER", "ODOO_PASSWORD")


@dataclass
class OdooDemoReport:
    """How many records reached each stage, in order."""

    stages: dict[str, int] = field(default_factory=dict)
    pickings: list[int] = field(default_factory=list)
    vendor_bill: int | None = None


def run_odoo_demo(
    gateway: Any,
    *,
    orders: int = 3,
    tag: str,
    database: str = "demo",
    echo: Callable[[str], None] = print,
) -> OdooDemoReport:
    """Run the loop on ``gateway`` (an :class:`~shipsync.odoo.RpcGateway`); report each stage."""
    from shipsync.canonical import Milestone, ProofOfDelivery
    from shipsync.flows import BookingFlow, BookingWorker, Outcome
    from shipsync.idempotency import MemoryStore
    from shipsync.odoo import MemoryCursorStore, OdooFieldMap, OdooLogistics, OdooSource
    from shipsync.settlement import MemoryShipmentIndex, Reconciler
    from shipsync.testing.fake_carrier import FakeCarrier

    report = OdooDemoReport()

    def stage(name: str, count: int) -> None:
        report.stages[name] = count
        echo(f"{name:<40}{count:>5}")

    customer, order_ids, start = _orders(gateway, orders, tag)
    stage("sale orders confirmed in Odoo", len(order_ids))
    carrier = FakeCarrier(seed=21)
    try:
        client = carrier.client()
        notified: list[Any] = []
        odoo = OdooLogistics(gateway, OdooFieldMap(validate_on_delivery=True))
        source = OdooSource(
            gateway,
            MemoryCursorStore(),
            database=database,
            domain=[("partner_id", "=", customer)],
            start=start,
        )
        worker = BookingWorker(
            source, BookingFlow(odoo, {"fake": client}, MemoryStore(), sink=notified.append)
        )
        confirmed = source.poll("order.confirmed")
        source.commit(confirmed)
        stage("order.confirmed events", len(confirmed.events))
        booked: list[Any] = []
        for _ in range(10):
            run = worker.run_once()
            booked += [o for o in run.outcomes if o.outcome is Outcome.BOOKED]
            if len(booked) >= len(order_ids):
                break
        report.pickings = sorted(o.picking_id for o in booked)
        stage("pickings booked (label + tracking)", len(booked))
        stage("customers notified (shipment.created)", len(notified))
        carrier.advance(hours=96)
        shipments = [o.shipment for o in booked if o.shipment is not None]
        events = [e for s in shipments for ref in s.tracking_numbers for e in client.track(ref)]
        events = [e.model_copy(update={"event_id": f"{tag}:{e.event_id}"}) for e in events]
        applied = odoo.apply_events(events)
        stage("tracking events applied", len(applied.applied))
        stage("deliveries validated in Odoo", len(applied.validated))
        delivered = [e for e in events if e.milestone is Milestone.DELIVERED]
        for event in delivered:
            proof = ProofOfDelivery(
                shipment_id=event.shipment_id,
                tracking_number=event.tracking_number,
                delivered_at=event.occurred_at,
                signed_by="E. Mustermann",
            )
            picking = odoo.find_pickings_by_tracking([event.tracking_number])
            odoo.record_proof_of_delivery(picking[event.tracking_number].id, proof)
        stage("proofs of delivery attached", len(delivered))
        index = MemoryShipmentIndex()
        for shipment in shipments:
            quotes = client.quote_rates(shipment)
            index.add_shipment(
                shipment, next((q for q in quotes if q.service == shipment.service), None)
            )
        carrier.service.issue_invoices()
        invoices = client.fetch_invoices()
        settled: list[Any] = []
        reconciler = Reconciler(index, carrier="fake", on_event=settled.append)
        for invoice in invoices:
            if invoice.lines:
                reconciler.reconcile_invoice(invoice)
        stage("freight charges accrued", sum(e.type == "freight.charge_accrued" for e in settled))
        stage("invoice lines matched", sum(e.type == "freight.invoice_matched" for e in settled))
        vendor = int(gateway.call("res.partner", "create", [{"name": f"Fake Carrier {tag}"}]))
        bills = [
            odoo.create_vendor_bill(
                invoice.model_copy(update={"currency": _currency(gateway)}), vendor_id=vendor
            )
            for invoice in invoices
            if invoice.lines
        ]
        stage("draft vendor bills", len(bills))
        report.vendor_bill = bills[0].id if bills else None
    finally:
        carrier.close()
    return report


def _currency(gateway: Any) -> str:
    [company] = gateway.call(
        "res.company", "search_read", [[]], {"fields": ["currency_id"], "limit": 1}
    )
    return str(company["currency_id"][1])


def _orders(gateway: Any, count: int, tag: str) -> tuple[int, list[int], str]:
    """A German customer and ``count`` confirmed orders; the feed start just before them."""
    [germany] = gateway.call("res.country", "search", [[["code", "=", "DE"]]], {"limit": 1})
    customer = int(
        gateway.call(
            "res.partner",
            "create",
            [
                {
                    "name": f"Demo customer {tag}",
                    "street": "Unter den Linden 1",
                    "city": "Berlin",
                    "zip": "10117",
                    "country_id": germany,
                }
            ],
        )
    )
    product = gateway.call(
        "product.product",
        "create",
        [{"name": f"Demo widget {tag}", "type": "consu", "list_price": 20}],
    )
    [method] = gateway.call("delivery.carrier", "search", [[]], {"limit": 1, "order": "id"})
    line = {"product_id": product, "product_uom_qty": 1}
    values = [
        {"partner_id": customer, "carrier_id": method, "order_line": [[0, 0, line]]}
        for _ in range(count)
    ]
    ids = [int(i) for i in gateway.call("sale.order", "create", [values])]
    [first] = gateway.call("sale.order", "read", [[ids[0]]], {"fields": ["write_date"]})
    start = datetime.strptime(first["write_date"], "%Y-%m-%d %H:%M:%S") - timedelta(seconds=5)
    gateway.call("sale.order", "action_confirm", [ids])
    return customer, ids, start.strftime("%Y-%m-%d %H:%M:%S")


def odoo_demo_from_env(*, orders: int = 3, echo: Callable[[str], None] = click.echo) -> None:
    """Run the booking loop through the Odoo named by the ODOO_* variables (writes records).

    ``shipsync demo --odoo`` calls this. It creates its own customer, sale orders and pickings
    (named with a run tag) and touches only those.
    """
    missing = [name for name in ODOO_VARIABLES if not os.environ.get(name)]
    if missing:
        raise click.UsageError(f"set {', '.join(missing)} to run the demo against a real Odoo")
    from shipsync.odoo import RpcGateway

    gateway = RpcGateway(*(os.environ[name] for name in ODOO_VARIABLES))
    tag = datetime.now().strftime("%m%d%H%M%S")
    run_odoo_demo(gateway, orders=orders, tag=tag, database=os.environ["ODOO_DB"], echo=echo)
