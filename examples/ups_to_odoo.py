"""UPS to Odoo, end to end: book a multi-package UPS shipment, record it on an Odoo picking,
apply UPS tracking to it, and reconcile UPS's invoice line into a draft vendor bill.

    python examples/ups_to_odoo.py            # replays the cassettes: no network, no Odoo

What runs for real: the ``ups`` driver and ``CarrierClient`` (over httpx, with vcrpy replaying
``examples/ups_to_odoo/ups.yaml``), ``OdooLogistics`` (shipsync's Odoo client), and the
settlement ``Reconciler``.

What is stood in, and why:

- UPS: the cassette was NOT recorded from UPS (the machines that built this cannot reach it). It
  was produced offline by ``tests/carriers/ups/make_cassettes.py`` from answers written after
  UPS's published response schemas. With ``UPS_CLIENT_ID``, ``UPS_CLIENT_SECRET`` and
  ``UPS_ACCOUNT_NUMBER`` set, ``--live`` talks to UPS's CIE instead (no cassette).
- Odoo: :class:`InMemoryOdoo` below, a small in-memory stand-in for the handful of model methods
  ``OdooLogistics`` calls (``search_read``, ``read``, ``write``, ``create``, ``fields_get``,
  ``button_validate``), holding one sale's outgoing picking. Point ``OdooLogistics`` at an
  ``RpcGateway(url, db, login, api_key)`` to run the same steps against a real Odoo 17/18 with
  the stock, delivery and account modules (tests/odoo records such runs as cassettes).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import vcr

from shipsync.canonical import (
    Address,
    ChargeType,
    Contact,
    FreightCharge,
    FreightInvoice,
    FreightInvoiceLine,
    LabelFormat,
    Money,
    Package,
    Parcel,
    Shipment,
    Weight,
)
from shipsync.carriers import CarrierClient
from shipsync.carriers.ups import UpsDriver
from shipsync.odoo import OdooFieldMap, OdooLogistics
from shipsync.settlement import Expectation, MemoryShipmentIndex, Reconciler, rows_of_invoice

CASSETTE = Path(__file__).parent / "ups_to_odoo" / "ups.yaml"
NOW = datetime(2026, 1, 5, 8, tzinfo=UTC)


class InMemoryOdoo:
    """An ``OdooGateway`` over in-memory tables: enough Odoo for this example, nothing more."""

    server_version = (18, 0)
    uid = 2

    def __init__(self) -> None:
        self.calls = 0
        self.tables: dict[str, dict[int, dict[str, Any]]] = {
            "stock.picking": {
                7: {
                    "id": 7,
                    "name": "WH/OUT/00007",
                    "state": "assigned",
                    "company_id": [1, "My Company"],
                    "carrier_tracking_ref": False,
                    "carrier_price": 0.0,
                    "sale_id": [3, "S00003"],
                    "origin": "S00003",
                    "picking_type_code": "outgoing",
                }
            },
            "stock.quant.package": {},
            "stock.move.line": {},
            "mail.message": {},
            "ir.attachment": {},
            "account.move": {},
            "res.users": {2: {"id": 2, "partner_id": [3, "Administrator"]}},
            "res.company": {1: {"id": 1, "currency_id": [1, "USD"]}},
            "res.currency": {1: {"id": 1, "name": "USD", "active": True}},
            "ir.model.data": {
                1: {
                    "id": 1,
                    "module": "mail",
                    "name": "mt_note",
                    "res_id": 2,
                    "model": "mail.message.subtype",
                }
            },
            "ir.module.module": {
                n: {"id": n, "name": name, "state": "installed"}
                for n, name in enumerate(("stock", "delivery", "account"), start=1)
            },
        }

    @property
    def round_trips(self) -> int:
        return self.calls

    @staticmethod
    def _matches(row: Mapping[str, Any], domain: Sequence[Any]) -> bool:
        for leaf in domain:
            if not isinstance(leaf, list | tuple):
                continue  # '&' is implicit; this example's domains use no '|'
            field, op, value = leaf
            if field.endswith(".name"):  # a many2one's display name: [id, name]
                linked = row.get(field[: -len(".name")])
                have = linked[1] if isinstance(linked, list) and len(linked) == 2 else None
            else:
                have = row.get(field)
                have = have[0] if isinstance(have, list) and have else have
            if op == "=" and have != value:
                return False
            if op == "!=" and have == value:
                return False
            if op == "in" and have not in value:
                return False
            if op == "not in" and have in value:
                return False
        return True

    def _compute_bill(self, bill: dict[str, Any]) -> None:
        """What Odoo computes on a new bill: lines from the commands, names, the total."""
        lines = self.tables.setdefault("account.move.line", {})
        total = Decimal(0)
        for command in bill.pop("invoice_line_ids", []):
            values = command[2]
            subtotal = Decimal(str(values.get("price_unit", 0))) * Decimal(
                str(values.get("quantity", 1))
            )
            total += subtotal
            line_id = max(lines, default=0) + 1
            lines[line_id] = {
                "id": line_id,
                "move_id": [bill["id"], bill.get("ref", "")],
                "display_type": "product",
                "name": values.get("name", ""),
                "price_subtotal": float(subtotal),
            }
        currency = self.tables["res.currency"][bill["currency_id"]]["name"]
        bill.update(
            currency_id=[bill["currency_id"], currency],
            partner_id=[bill["partner_id"], "UPS"],
            amount_total=float(total),
            state="draft",
        )

    def call(
        self,
        model: str,
        method: str,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
    ) -> Any:
        self.calls += 1
        kwargs = kwargs or {}
        table = self.tables.setdefault(model, {})
        if method == "fields_get":
            names = args[0] if args else []
            known = {name for row in table.values() for name in row} | {
                "name",
                "state",
                "company_id",
                "carrier_tracking_ref",
                "carrier_price",
            }
            return {name: {"type": "char"} for name in names if name in known}
        if method in ("search_read", "search", "search_count"):
            found = [r for r in table.values() if self._matches(r, args[0] if args else [])]
            if "limit" in kwargs:
                found = found[: kwargs["limit"]]
            if method == "search":
                return [r["id"] for r in found]
            if method == "search_count":
                return len(found)
            return [dict(r) for r in found]
        if method == "read":
            return [dict(table[i]) for i in args[0] if i in table]
        if method == "write":
            for i in args[0]:
                table[i].update(args[1])
            return True
        if method == "create":
            ids = []
            for values in args[0]:
                new_id = max(table, default=0) + 1
                table[new_id] = {"id": new_id, **values}
                if model == "account.move":
                    self._compute_bill(table[new_id])
                ids.append(new_id)
            return ids
        if method == "button_validate":
            for i in args[0]:
                table[i]["state"] = "done"
            return True
        raise NotImplementedError(f"InMemoryOdoo does not implement {model}.{method}")


def _shipment() -> Shipment:
    warehouse = Address(
        company="Acme Outdoor Supply",
        name="Dana Shipper",
        street=("12 Warehouse Way",),
        city="Atlanta",
        state="GA",
        postal_code="30301",
        country="US",
        contact=Contact(phone="4045550100"),
    )
    customer = Address(
        name="Zoë Ångström",
        street=("1600 Peachtree St NW", "Apt 4"),
        city="Atlanta",
        state="GA",
        postal_code="30309-1234",
        country="US",
        residential=True,
        contact=Contact(phone="4045550199"),
    )
    return Shipment(
        shipment_id="SHP-1",
        order_reference="S00003",
        picking_reference="WH/OUT/00007",
        carrier="ups",
        service="ground",
        shipper=warehouse,
        recipient=customer,
        packages=(
            Package(parcel=Parcel(weight=Weight.of("5", "lb"), reference="BOX-1")),
            Package(parcel=Parcel(weight=Weight.of("2.5", "lb"), reference="BOX-2")),
        ),
        created_at=NOW,
    )


def _ups_invoice(booked: Shipment) -> FreightInvoice:
    """UPS's invoice for the booking: base freight and the service options on each package."""
    lines = tuple(
        FreightInvoiceLine(
            line_number=n,
            tracking_number=number,
            carrier_shipment_id=booked.carrier_shipment_id,
            charges=(
                FreightCharge(
                    type=ChargeType.BASE_FREIGHT, amount=Money.of(base, "USD"), carrier_code="FRT"
                ),
                FreightCharge(
                    type=ChargeType.ACCESSORIAL,
                    amount=Money.of(options, "USD"),
                    carrier_code="ServiceOptionsCharges",
                ),
            ),
        )
        for n, (number, base, options) in enumerate(
            zip(booked.tracking_numbers, ("6.25", "6.25"), ("2.48", "2.47"), strict=True), start=1
        )
    )
    return FreightInvoice(
        invoice_number="0000A1B2C3016",
        carrier="ups",
        issued_at=NOW,
        currency="USD",
        lines=lines,
        total=Money.of("17.45", "USD"),
    )


def run(*, live: bool = False) -> dict[str, Any]:
    """Run the whole story; returns what happened, for the test that runs this example."""
    if live:
        config = {
            "client_id": os.environ["UPS_CLIENT_ID"],
            "client_secret": os.environ["UPS_CLIENT_SECRET"],
            "account_number": os.environ["UPS_ACCOUNT_NUMBER"],
        }
    else:
        config = {"client_id": "example", "client_secret": "example", "account_number": "A1B2C3"}
    ups = CarrierClient(UpsDriver(config), clock=lambda: NOW.timestamp())
    replay = vcr.VCR(record_mode="none", match_on=["method", "path", "query"])
    odoo = OdooLogistics(InMemoryOdoo(), OdooFieldMap(validate_on_delivery=True))
    shipment = _shipment()

    # 1. Quote and book with UPS (two packages: two tracking numbers, two labels).
    with replay.use_cassette(str(CASSETTE)) if not live else _nothing():
        rates = ups.quote_rates(shipment)
        ground = next(r for r in rates if r.service == "ground")
        booked = ups.create_shipment(
            shipment, label_format=LabelFormat.ZPL, idempotency_key="S00003-1"
        )
        # 2. Record it on the picking: tracking numbers, price, the labels as attachments.
        [picking] = odoo.find_outgoing_pickings("S00003")
        recorded = odoo.record_shipment(picking.id, booked, price=ground.total)
        # 3. Apply UPS's tracking to the picking (delivered: the picking is validated).
        events = [e for number in booked.tracking_numbers[:1] for e in ups.track(number)]
    ups.close()
    report = odoo.apply_events(events)
    [after] = odoo.read_pickings([picking.id])

    # 4. Reconcile UPS's invoice against what the rate promised, then bill it in Odoo.
    index = MemoryShipmentIndex()
    count = len(booked.packages)
    shares = {c.type: c.amount.allocate(count) for c in ground.charges}  # exact, to the cent
    for n, number in enumerate(booked.tracking_numbers):
        expected = {kind: parts[n].amount for kind, parts in shares.items()}
        index.add(Expectation(booked.shipment_id, number, "USD", expected))
    invoice = _ups_invoice(booked)
    reconciliation = Reconciler(index, carrier="ups", now=lambda: NOW).run(rows_of_invoice(invoice))
    bill = odoo.create_vendor_bill(invoice, vendor_id=11)
    return {
        "tracking_numbers": booked.tracking_numbers,
        "labels": len(recorded.attachment_ids),
        "picking_state": after.state,
        "events": [e.milestone for e in events],
        "applied": len(report.applied),
        "quoted": ground.total,
        "invoiced": invoice.total,
        "reconciliation": reconciliation,
        "bill": bill,
    }


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--live", action="store_true", help="talk to UPS CIE (UPS_* variables)")
    args = parser.parse_args(argv)
    result = run(live=args.live)
    print("UPS booked:", ", ".join(result["tracking_numbers"]))
    print("Odoo picking:", result["picking_state"], f"({result['labels']} labels attached)")
    print("Tracking:", " -> ".join(m.value for m in reversed(result["events"])))
    print(f"Quoted {result['quoted']}, invoiced {result['invoiced']}")
    [summary] = result["reconciliation"].invoices
    print(
        f"Reconciliation: {summary.status.value}, matched {summary.matched_total}, "
        f"disputed {summary.disputed_total}"
    )
    bill = result["bill"]
    print(f"Odoo vendor bill {bill.id} ({bill.state}): {bill.total}, {len(bill.lines)} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
