"""Apply tracking events to Odoo pickings: shipsync's batched operations vs the plain loop.

Run against a live Odoo (16-18 with ``stock`` and ``delivery``; nothing is mocked)::

    ODOO_URL=http://127.0.0.1:8069 ODOO_DB=mydb ODOO_USER=admin ODOO_PASSWORD=... \\
        python bench/odoo.py [--events 1000] [--per-picking 5]

It creates two identical sets of outgoing pickings (200 for 1,000 events at 5 per picking) with
distinct tracking numbers, then applies the same canonical events to each set:

* **loop** — the straightforward odoorpc code: per event ``search`` the picking by tracking
  number, ``browse`` it, ``message_post`` a note and ``write`` the status;
* **shipsync** — one ``OdooLogistics.apply_events`` call on a fresh connection (so its one-off
  lookups of fields, subtype and author are counted too).

Both write the same visible result: one chatter note per event with the Note subtype (no e-mail
to followers) and the latest status in the custom char field ``x_shipsync_status`` (created if
missing; shipsync's is the canonical fold of each picking's events). The table reports HTTP
round trips (counted at the urllib opener, connection and login excluded) and wall time, and
the script checks the notes and that no notification was queued.
The targets are at most 10 round trips and at least 30x less wall time than the loop.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from http.cookiejar import CookieJar
from urllib.parse import urlsplit

import odoorpc

from shipsync.canonical import Milestone, ShipmentStatus, TrackingEvent
from shipsync.odoo import OdooFieldMap, OdooLogistics, RpcGateway

MILESTONES = [
    Milestone.PICKED_UP,
    Milestone.IN_TRANSIT,
    Milestone.IN_TRANSIT,
    Milestone.OUT_FOR_DELIVERY,
    Milestone.DELIVERED,
]
STATUS_FIELD = "x_shipsync_status"


class Counter(urllib.request.BaseHandler):
    """Counts HTTP requests leaving an opener."""

    handler_order = 100

    def __init__(self) -> None:
        self.count = 0

    def http_request(self, request: urllib.request.Request) -> urllib.request.Request:
        self.count += 1
        return request

    https_request = http_request


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("ODOO_URL", "http://127.0.0.1:8069"))
    parser.add_argument("--db", default=os.environ.get("ODOO_DB"))
    parser.add_argument("--user", default=os.environ.get("ODOO_USER", "admin"))
    parser.add_argument("--password", default=os.environ.get("ODOO_PASSWORD"))
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--per-picking", type=int, default=5)
    args = parser.parse_args()
    if not args.db or not args.password:
        parser.error("set ODOO_DB and ODOO_PASSWORD (or --db/--password)")
    return args


def _ensure_status_field(gw: RpcGateway) -> None:
    domain = [["model", "=", "stock.picking"], ["name", "=", STATUS_FIELD]]
    if gw.call("ir.model.fields", "search_count", [domain]):
        return
    [model_id] = gw.call("ir.model", "search", [[["model", "=", "stock.picking"]]])
    gw.call(
        "ir.model.fields",
        "create",
        [
            {
                "model_id": model_id,
                "name": STATUS_FIELD,
                "ttype": "char",
                "field_description": "Shipment status",
                "state": "manual",
            }
        ],
    )


def _pickings(gw: RpcGateway, count: int, tag: str, label: str) -> list[str]:
    """Create ``count`` confirmed outgoing pickings; return their tracking numbers."""
    [kind] = gw.call(
        "stock.picking.type",
        "search_read",
        [[["code", "=", "outgoing"]]],
        {"fields": ["default_location_src_id", "default_location_dest_id"], "limit": 1},
    )
    src, dest = kind["default_location_src_id"][0], kind["default_location_dest_id"][0]
    product = gw.call("product.product", "create", [{"name": f"Bench {tag}", "type": "consu"}])
    refs = [f"BENCH-{tag}-{label}-{i:04d}" for i in range(count)]
    values = [
        {
            "picking_type_id": kind["id"],
            "location_id": src,
            "location_dest_id": dest,
            "carrier_tracking_ref": ref,
            "move_ids": [
                [
                    0,
                    0,
                    {
                        "name": "Bench",
                        "product_id": product,
                        "product_uom_qty": 1,
                        "location_id": src,
                        "location_dest_id": dest,
                    },
                ]
            ],
        }
        for ref in refs
    ]
    ids = gw.call("stock.picking", "create", [values])
    gw.call("stock.picking", "action_confirm", [ids])
    return refs


def _events(refs: list[str], per_picking: int, tag: str) -> list[TrackingEvent]:
    start = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    events = []
    for n in range(per_picking):
        milestone = MILESTONES[n % len(MILESTONES)]
        for ref in refs:
            at = start + timedelta(hours=n)
            events.append(
                TrackingEvent(
                    event_id=f"{tag}-{ref}-{n}",
                    shipment_id=ref,
                    tracking_number=ref,
                    carrier="benchcarrier",
                    milestone=milestone,
                    occurred_at=at,
                    recorded_at=at,
                    carrier_code=milestone.value.upper(),
                    carrier_description=f"scan {n}",
                )
            )
    return events


def run_loop(args: argparse.Namespace, events: list[TrackingEvent]) -> tuple[int, float]:
    """The plain odoorpc loop: search, browse, message_post, write per event."""
    parts = urlsplit(args.url)
    counter = Counter()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()), counter)
    odoo = odoorpc.ODOO(parts.hostname, port=parts.port or 80, opener=opener, timeout=600)
    odoo.login(args.db, args.user, args.password)
    pickings = odoo.env["stock.picking"]
    counter.count = 0
    started = time.perf_counter()
    for event in events:
        ids = pickings.search([("carrier_tracking_ref", "=", event.tracking_number)])
        picking = pickings.browse(ids)
        # message_post escapes a plain str body itself (HTML would show as text).
        body = f"{event.milestone.value} · {event.tracking_number} · {event.carrier_description}"
        picking.message_post(body=body, subtype_xmlid="mail.mt_note", message_type="comment")
        picking.write({STATUS_FIELD: event.milestone.value})
    return counter.count, time.perf_counter() - started


def run_shipsync(args: argparse.Namespace, events: list[TrackingEvent]) -> tuple[int, float]:
    """One apply_events call on a fresh gateway."""
    gateway = RpcGateway(args.url, args.db, args.user, args.password, timeout=600)
    fields = OdooFieldMap(
        picking_status=STATUS_FIELD,
        status_values={s: s.value for s in ShipmentStatus if s is not ShipmentStatus.UNKNOWN},
    )
    logistics = OdooLogistics(gateway, fields)
    before = gateway.round_trips
    started = time.perf_counter()
    report = logistics.apply_events(events)
    elapsed = time.perf_counter() - started
    if len(report.applied) != len(events):
        sys.exit(f"shipsync applied {len(report.applied)} of {len(events)} events")
    return gateway.round_trips - before, elapsed


def _check(gw: RpcGateway, refs: list[str], expected: int) -> tuple[int, int, list[str]]:
    rows = gw.call(
        "stock.picking",
        "search_read",
        [[["carrier_tracking_ref", "in", refs]]],
        {"fields": [STATUS_FIELD]},
    )
    ids = [r["id"] for r in rows]
    domain = [
        ["model", "=", "stock.picking"],
        ["res_id", "in", ids],
        ["message_type", "=", "comment"],
        ["subtype_id.internal", "=", True],
    ]
    notes = gw.call("mail.message", "search", [domain])
    notified = gw.call("mail.notification", "search_count", [[["mail_message_id", "in", notes]]])
    if len(notes) != expected:
        sys.exit(f"expected {expected} notes, found {len(notes)}")
    return len(notes), notified, sorted({str(r[STATUS_FIELD]) for r in rows})


def main() -> None:
    """Set up both picking sets, run both approaches, print the table."""
    args = _args()
    count = args.events // args.per_picking
    tag = time.strftime("%H%M%S")
    gw = RpcGateway(args.url, args.db, args.user, args.password, timeout=600)
    _ensure_status_field(gw)
    loop_refs = _pickings(gw, count, tag, "L")
    ship_refs = _pickings(gw, count, tag, "S")
    print(f"Odoo {'.'.join(map(str, gw.server_version))} at {args.url}, db {args.db}")
    print(f"{args.events} events, {args.per_picking} per picking, {count} pickings per approach\n")

    ship_trips, ship_time = run_shipsync(args, _events(ship_refs, args.per_picking, tag))
    loop_trips, loop_time = run_loop(args, _events(loop_refs, args.per_picking, tag))
    ship_notes, ship_notified, ship_status = _check(gw, ship_refs, args.events)
    loop_notes, loop_notified, loop_status = _check(gw, loop_refs, args.events)

    print(f"{'approach':<10} {'round trips':>12} {'wall time s':>12} {'notes':>7} {'e-mails':>8}")
    print(f"{'loop':<10} {loop_trips:>12} {loop_time:>12.2f} {loop_notes:>7} {loop_notified:>8}")
    print(
        f"{'shipsync':<10} {ship_trips:>12} {ship_time:>12.2f} {ship_notes:>7} {ship_notified:>8}"
    )
    speedup = loop_time / ship_time
    print(f"\nspeed-up: {speedup:.1f}x wall time, {loop_trips / ship_trips:.0f}x fewer requests")
    print(f"final statuses: loop {loop_status}, shipsync {ship_status}")


if __name__ == "__main__":
    main()
