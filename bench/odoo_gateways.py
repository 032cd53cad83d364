"""JSON-2 vs JSON-RPC on the same Odoo 19: connecting, single calls, and a batch of events.

Run against a live Odoo 19 (``stock`` and ``stock_delivery``; nothing is mocked)::

    ODOO_URL=http://127.0.0.1:8070 ODOO_DB=mydb ODOO_USER=admin ODOO_API_KEY=... \\
        python bench/odoo_gateways.py [--calls 300] [--events 500]

``RpcGateway`` logs in with the API key as password over ``/jsonrpc``; ``Json2Gateway`` sends it
as a bearer token to ``/json/2``. Both run the same work one after the other, JSON-2 first:
connecting (five times), ``--calls`` single-record ``read`` calls, and one
``OdooLogistics.apply_events`` of ``--events`` events (5 per picking) on pickings created for
each gateway. The table gives round trips and wall times side by side, with the machine load
before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import UTC, datetime, timedelta

from shipsync.canonical import Milestone, TrackingEvent
from shipsync.odoo import Json2Gateway, OdooGateway, OdooLogistics, RpcGateway, version_facts

MILESTONES = [Milestone.PICKED_UP, Milestone.IN_TRANSIT, Milestone.IN_TRANSIT]
MILESTONES += [Milestone.OUT_FOR_DELIVERY, Milestone.DELIVERED]


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _connect(kind: str) -> OdooGateway:
    url, db, key = os.environ["ODOO_URL"], os.environ["ODOO_DB"], os.environ["ODOO_API_KEY"]
    if kind == "json2":
        return Json2Gateway(url, db, key)
    return RpcGateway(url, db, os.environ.get("ODOO_USER", "admin"), key)


def _pickings(gw: OdooGateway, count: int, tag: str) -> list[int]:
    [row] = gw.call(
        "stock.picking.type",
        "search_read",
        [[["code", "=", "outgoing"]]],
        {"fields": ["default_location_src_id", "default_location_dest_id"], "limit": 1},
    )
    src, dest = row["default_location_src_id"][0], row["default_location_dest_id"][0]
    product = gw.call("product.product", "create", [{"name": f"Bench {tag}", "type": "consu"}])
    move = {"product_id": product, "product_uom_qty": 1, "location_id": src}
    move["location_dest_id"] = dest
    if version_facts(gw.server_version).move_has_name:
        move["name"] = "Bench"
    values = [
        {"picking_type_id": row["id"], "location_id": src, "location_dest_id": dest}
        | {"move_ids": [[0, 0, move]], "carrier_tracking_ref": f"B{tag}{i:04d}"}
        for i in range(count)
    ]
    ids = [int(i) for i in gw.call("stock.picking", "create", [values])]
    gw.call("stock.picking", "action_confirm", [ids])
    return ids


def _events(tag: str, count: int) -> list[TrackingEvent]:
    t0 = datetime(2026, 3, 2, 8, tzinfo=UTC)
    return [
        TrackingEvent(
            event_id=f"bench-{tag}-{n}",
            shipment_id=f"shp-{tag}-{n // 5}",
            tracking_number=f"B{tag}{n // 5:04d}",
            carrier="fakecarrier",
            milestone=MILESTONES[n % 5],
            occurred_at=t0 + timedelta(hours=n % 5),
            recorded_at=t0 + timedelta(hours=n % 5, minutes=1),
            carrier_code=MILESTONES[n % 5].value.upper(),
        )
        for n in range(count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--events", type=int, default=500)
    args = parser.parse_args()
    load_before = _load()
    rows: dict[str, dict[str, str]] = {"json2": {}, "jsonrpc": {}}
    for kind in ("json2", "jsonrpc"):
        walls, trips = [], 0
        for _ in range(5):
            start = time.perf_counter()
            gw = _connect(kind)
            walls.append(time.perf_counter() - start)
            trips = gw.round_trips
        rows[kind]["connect: requests"] = str(trips)
        rows[kind]["connect: median ms"] = f"{statistics.median(walls) * 1000:.1f}"
    gateways = {kind: _connect(kind) for kind in rows}
    partner = int(gateways["json2"].uid)
    for kind, gw in gateways.items():
        walls = []
        for _ in range(args.calls):
            start = time.perf_counter()
            gw.call("res.users", "read", [[partner]], {"fields": ["name"]})
            walls.append(time.perf_counter() - start)
        walls.sort()
        rows[kind]["read: median ms"] = f"{statistics.median(walls) * 1000:.2f}"
        rows[kind]["read: p95 ms"] = f"{walls[int(len(walls) * 0.95)] * 1000:.2f}"
    stamp = time.strftime("%H%M%S")
    for kind in rows:
        tag = f"{kind[-1]}{stamp}"
        _pickings(gateways[kind], args.events // 5, tag)
        gw = _connect(kind)
        before = gw.round_trips
        start = time.perf_counter()
        report = OdooLogistics(gw).apply_events(_events(tag, args.events))
        wall = time.perf_counter() - start
        assert len(report.applied) == args.events, report
        rows[kind][f"apply_events({args.events}): requests"] = str(gw.round_trips - before)
        rows[kind][f"apply_events({args.events}): s"] = f"{wall:.2f}"
    print(f"Odoo {gateways['json2'].server_version}, load average before: {load_before}")
    print("| measure | JSON-2 | JSON-RPC |\n| --- | ---: | ---: |")
    for measure in rows["json2"]:
        print(f"| {measure} | {rows['json2'][measure]} | {rows['jsonrpc'][measure]} |")
    print(f"load average after: {_load()}")


if __name__ == "__main__":
    main()
