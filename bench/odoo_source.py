"""Odoo as the source: pickings booked per second end to end, Odoo requests per batch, feed lag.

Run against a live Odoo 18 with ``stock_delivery`` and ``sale_stock`` (nothing is mocked but the
carrier, which is shipsync's fake carrier)::

    ODOO_URL=http://127.0.0.1:8069 ODOO_DB=mydb ODOO_USER=admin ODOO_PASSWORD=... \\
        python bench/odoo_source.py [--orders 200] [--batch 100] [--outbox] [--kill]

Each part creates its own customer and ``--orders`` confirmed sale orders (one create and one
``action_confirm`` for all), so each order's picking is ready with Odoo's delivery method, and
its feeds read only that customer's records:

* **rpc feed**: a :class:`~shipsync.flows.BookingWorker` polls the change feeds (SQLite cursors)
  and books with the fake carrier in process until every picking carries its tracking number.
  Reported: pickings booked per second from the confirmation to the last tracking number written,
  Odoo requests per worker run and per picking, and the feed's lag: from the moment
  ``action_confirm`` returned (committed) to the first poll that handed the picking out.
* **outbox** (``--outbox``, needs the example addon ``shipsync_connector`` installed): the
  addon's outbox rows, written in the confirmation's transaction, are pushed by its cron
  (triggered at once with ``ir.cron.method_direct_trigger``) to a local receiver that verifies
  the Standard Webhooks signature and books them in batches.
* **SIGKILL** (``--kill``): a worker process is killed with SIGKILL in the middle of the bookings
  (the fake carrier runs over HTTP in this process, so it outlives the worker), a new worker
  takes over from the same SQLite cursor and booking store; the script then checks that every
  picking was booked exactly once (one carrier shipment per picking, one booking note each).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from shipsync.canonical import Event, PickingReady, parse_event
from shipsync.carriers import CarrierClient
from shipsync.carriers.fake import FakeConfig, FakeDriver
from shipsync.errors import UnavailableError
from shipsync.flows import BookingFlow, BookingWorker, Outcome
from shipsync.idempotency import SQLiteStore
from shipsync.odoo import OdooLogistics, OdooSource, RpcGateway, SQLiteCursorStore
from shipsync.testing.fake_carrier import FakeCarrier, FakeCarrierServer
from shipsync.webhooks import StandardWebhooksScheme, generate_secret


def gateway() -> RpcGateway:
    return RpcGateway(
        os.environ["ODOO_URL"],
        os.environ["ODOO_DB"],
        os.environ["ODOO_USER"],
        os.environ["ODOO_PASSWORD"],
    )


def create_orders(gw: RpcGateway, count: int, tag: str) -> tuple[int, list[int], str, float]:
    """A customer and ``count`` confirmed orders: (customer, picking ids, feed start, t_commit)."""
    [germany] = gw.call("res.country", "search", [[["code", "=", "DE"]]], {"limit": 1})
    customer = int(
        gw.call(
            "res.partner",
            "create",
            [{"name": f"Bench {tag}", "city": "Berlin", "zip": "10117", "country_id": germany}],
        )
    )
    product = gw.call("product.product", "create", [{"name": f"Bench {tag}", "type": "consu"}])
    [carrier] = gw.call("delivery.carrier", "search", [[]], {"limit": 1, "order": "id"})
    line = {"product_id": product, "product_uom_qty": 1}
    values = [
        {"partner_id": customer, "carrier_id": carrier, "order_line": [[0, 0, line]]}
        for _ in range(count)
    ]
    orders = [int(i) for i in gw.call("sale.order", "create", [values])]
    [first] = gw.call("sale.order", "read", [[orders[0]]], {"fields": ["write_date"]})
    start = datetime.strptime(first["write_date"], "%Y-%m-%d %H:%M:%S") - timedelta(seconds=5)
    gw.call("sale.order", "action_confirm", [orders])
    committed = time.perf_counter()
    rows = gw.call("sale.order", "read", [orders], {"fields": ["picking_ids"]})
    pickings = sorted(p for row in rows for p in row["picking_ids"])
    return customer, pickings, start.strftime("%Y-%m-%d %H:%M:%S"), committed


def booked(gw: RpcGateway, pickings: list[int]) -> int:
    rows = gw.call("stock.picking", "read", [pickings], {"fields": ["carrier_tracking_ref"]})
    return sum(1 for row in rows if row["carrier_tracking_ref"])


def worker_for(
    gw: RpcGateway, state: Path, customer: int, start: str, batch: int, client: CarrierClient
) -> BookingWorker:
    source = OdooSource(
        gw,
        SQLiteCursorStore(state / "cursors.sqlite"),
        database=os.environ["ODOO_DB"],
        domain=[("partner_id", "=", customer)],
        start=start,
        batch=batch,
        lookback=timedelta(seconds=30),
    )
    flow = BookingFlow(OdooLogistics(gw), {"fake": client}, SQLiteStore(state / "bookings.sqlite"))
    return BookingWorker(source, flow)


def rpc_feed(count: int, batch: int) -> dict[str, Any]:
    gw = gateway()
    tag = time.strftime("%H%M%S")
    carrier = FakeCarrier(seed=1)
    with tempfile.TemporaryDirectory() as folder:
        customer, pickings, start, committed = create_orders(gw, count, tag)
        # The feed's lag: polls (never committed) until the first picking comes out.
        probe = OdooSource(
            gw,
            SQLiteCursorStore(Path(folder) / "probe.sqlite"),
            database="bench",
            domain=[("partner_id", "=", customer)],
            start=start,
            batch=1,
        )
        while not probe.poll("picking.ready").events:
            time.sleep(0.05)
        first_seen = time.perf_counter()
        worker = worker_for(gw, Path(folder), customer, start, batch, carrier.client())
        runs: list[tuple[int, int]] = []
        done = 0
        while done < len(pickings):
            report = worker.run_once()
            runs.append((report.round_trips, len(report.outcomes)))
            done += report.count(Outcome.BOOKED)
            if not report.outcomes:
                time.sleep(0.2)
        finished = time.perf_counter()
        assert booked(gw, pickings) == len(pickings)
        assert carrier.service.shipment_count() == len(pickings)
    busy = [r for r in runs if r[1]]
    return {
        "path": "rpc feed",
        "pickings": len(pickings),
        "seconds": finished - committed,
        "per_second": len(pickings) / (finished - committed),
        "runs": len(busy),
        "requests_per_run": max(r[0] for r in busy),
        "requests_per_picking": sum(r[0] for r in busy) / len(pickings),
        "lag_s": first_seen - committed,
    }


class _Receiver(BaseHTTPRequestHandler):
    verifier: Any = None
    inbox: queue.Queue[Event] = queue.Queue()

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        try:
            self.verifier.verify(body, dict(self.headers))
            self.inbox.put(parse_event(body))
            status = 200
        except Exception:
            status = 400
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


def outbox(count: int, batch: int) -> dict[str, Any]:
    gw = gateway()
    secret = generate_secret()

    class handler(_Receiver):
        verifier = StandardWebhooksScheme().verifier([secret])
        inbox: queue.Queue[Event] = queue.Queue()

    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    params = [
        ("shipsync_connector.outbox_url", f"http://127.0.0.1:{server.server_port}/events"),
        ("shipsync_connector.outbox_secret", secret),
    ]
    [cron] = gw.call(
        "ir.model.data",
        "search_read",
        [[["module", "=", "shipsync_connector"], ["name", "=", "ir_cron_shipsync_outbox_push"]]],
        {"fields": ["res_id"]},
    )
    carrier = FakeCarrier(seed=2)
    try:
        for key, value in params:
            gw.call("ir.config_parameter", "set_param", [key, value])
        customer, pickings, _start, committed = create_orders(
            gw, count, "ob" + time.strftime("%H%M%S")
        )
        wanted = set(pickings)
        with tempfile.TemporaryDirectory() as folder:
            flow = BookingFlow(
                OdooLogistics(gw),
                {"fake": carrier.client()},
                SQLiteStore(Path(folder) / "bookings.sqlite"),
            )
            done, first_seen, pushes = 0, None, 0
            while done < len(wanted):
                gw.call("ir.cron", "method_direct_trigger", [[cron["res_id"]]])
                pushes += 1
                events: list[PickingReady] = []
                while not handler.inbox.empty():
                    event = handler.inbox.get()
                    if isinstance(event, PickingReady) and event.data.picking.record_id in wanted:
                        events.append(event)
                if events and first_seen is None:
                    first_seen = time.perf_counter()
                for start in range(0, len(events), batch):
                    outcomes = flow.book_many(events[start : start + batch])
                    done += sum(1 for o in outcomes if o.outcome is Outcome.BOOKED)
            finished = time.perf_counter()
        assert booked(gw, pickings) == len(pickings)
        assert carrier.service.shipment_count() == len(pickings)
        del customer
    finally:
        for key, _ in params:
            gw.call("ir.config_parameter", "set_param", [key, False])
        server.shutdown()
    return {
        "path": "addon outbox",
        "pickings": len(pickings),
        "seconds": finished - committed,
        "per_second": len(pickings) / (finished - committed),
        "runs": pushes,
        "requests_per_run": None,
        "requests_per_picking": None,
        "lag_s": (first_seen or finished) - committed,
    }


def run_worker(args: argparse.Namespace) -> None:
    """The worker process of ``--kill``: books until nothing is left, printing each run."""
    gw = gateway()
    client = CarrierClient(FakeDriver(FakeConfig(base_url=args.carrier_url)))
    worker = worker_for(gw, Path(args.state), args.customer, args.start, args.batch, client)
    idle = 0
    while idle < 3:
        try:
            report = worker.run_once()
        except UnavailableError as exc:  # Odoo restarting: wait, then go on from the cursor
            print(json.dumps({"waiting": str(exc)[:200]}))
            time.sleep(1.0)
            continue
        print(json.dumps({"booked": report.count(Outcome.BOOKED), "trips": report.round_trips}))
        sys.stdout.flush()
        idle = 0 if report.outcomes else idle + 1
        time.sleep(0.1 if report.outcomes else 0.5)


def kill_proof(count: int, batch: int, restart_odoo: str | None) -> dict[str, Any]:
    gw = gateway()
    servers = iter(FakeCarrierServer.started(seed=7))
    server = next(servers)
    try:
        customer, pickings, start, _ = create_orders(gw, count, "kill" + time.strftime("%H%M%S"))
        with tempfile.TemporaryDirectory() as folder:
            command = [
                sys.executable,
                __file__,
                "--worker",
                "--carrier-url",
                server.url,
                "--state",
                folder,
                "--customer",
                str(customer),
                "--start",
                start,
                "--batch",
                str(batch),
            ]
            first = subprocess.Popen(command, stdout=subprocess.DEVNULL)
            deadline = time.monotonic() + 120
            while server.service.shipment_count() < count // 3 and time.monotonic() < deadline:
                time.sleep(0.01)
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
            at_kill = server.service.shipment_count()
            in_odoo_at_kill = booked(gw, pickings)
            second = subprocess.Popen(command, stdout=subprocess.DEVNULL)
            restarted = "no"
            if restart_odoo:
                while server.service.shipment_count() < 2 * count // 3 and second.poll() is None:
                    time.sleep(0.01)
                subprocess.run(restart_odoo, shell=True, check=True, timeout=300)
                restarted = f"yes, at {server.service.shipment_count()} carrier shipments"
            assert second.wait(timeout=600) == 0
        shipments = [s for s in server.service.shipments.values() if s.reference]
        per_picking: dict[str, int] = {}
        for shipment in shipments:
            per_picking[shipment.reference] = per_picking.get(shipment.reference, 0) + 1
        mine = {f"odoo:{os.environ['ODOO_DB']}:stock.picking:{p}" for p in pickings}
        notes = gw.call(
            "mail.message",
            "search_count",
            [
                [
                    ["model", "=", "stock.picking"],
                    ["res_id", "in", pickings],
                    ["message_id", "=like", "<shipsync.shipment.%"],
                ]
            ],
        )
        return {
            "pickings": len(pickings),
            "carrier shipments at the kill": at_kill,
            "tracking in Odoo at the kill": in_odoo_at_kill,
            "booked in Odoo after restart": booked(gw, pickings),
            "carrier shipments for them": sum(per_picking.get(r, 0) for r in mine),
            "booked twice": sum(1 for r in mine if per_picking.get(r, 0) > 1),
            "left behind": sum(1 for r in mine if per_picking.get(r, 0) == 0),
            "booking notes": notes,
            "Odoo restarted meanwhile": restarted,
        }
    finally:
        next(servers, None)  # leaves the generator: the server stops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--outbox", action="store_true")
    parser.add_argument("--kill", action="store_true")
    parser.add_argument(
        "--restart-odoo",
        help="with --kill: a shell command that restarts Odoo (and returns once it serves),"
        " run while the second worker books",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--carrier-url", help=argparse.SUPPRESS)
    parser.add_argument("--state", help=argparse.SUPPRESS)
    parser.add_argument("--customer", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--start", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not all(os.environ.get(k) for k in ("ODOO_URL", "ODOO_DB", "ODOO_USER", "ODOO_PASSWORD")):
        sys.exit("set ODOO_URL, ODOO_DB, ODOO_USER and ODOO_PASSWORD (a live Odoo 18)")
    if args.worker:
        run_worker(args)
        return
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    results = [rpc_feed(args.orders, args.batch)]
    if args.outbox:
        results.append(outbox(args.orders, args.batch))
    header = f"{'path':<14}{'pickings':>9}{'seconds':>9}{'picks/s':>9}{'runs':>6}"
    print(header + f"{'req/run':>9}{'req/pick':>10}{'lag s':>8}")
    for r in results:
        per_run = "-" if r["requests_per_run"] is None else str(r["requests_per_run"])
        per_pick = "-" if r["requests_per_picking"] is None else f"{r['requests_per_picking']:.2f}"
        print(
            f"{r['path']:<14}{r['pickings']:>9}{r['seconds']:>9.2f}{r['per_second']:>9.1f}"
            f"{r['runs']:>6}{per_run:>9}{per_pick:>10}{r['lag_s']:>8.2f}"
        )
    if args.kill:
        for key, value in kill_proof(
            max(30, args.orders // 2), max(5, args.batch // 10), args.restart_odoo
        ).items():
            print(f"{key:<32}{value}")
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")


if __name__ == "__main__":
    main()
