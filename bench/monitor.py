"""How fast the monitor's tiles answer on a large store, and how fast the handler applies events.

Run: ``python bench/monitor.py [--shipments 1000000] [--dsn postgresql://...]``.

1. *Apply*: ``--apply`` milestone events (default 20,000: label, pick-up, transit, out for
   delivery, delivered for 4,000 shipments) go through :meth:`MonitorStore.apply` one by one, as
   the dispatcher handler does (each in its own transaction, with the canonical fold); events/s.
2. *Tiles*: the store's shipment table is then filled in bulk to ``--shipments`` shipments with a
   realistic spread of statuses and times (1 % booked, 2 % exceptions, 60 % delivered, a third of
   those without proof of delivery, ...; shipments still under way were booked in the last four
   days, finished ones over the last thirty), with the status counts, a lag histogram, 10,000
   invoices and 20,000 disputes to match. The bulk rows are written straight into the store's
   tables (applying five million events one by one would take the better part of an hour here);
   the tiles read only these tables, never the event rows. Each tile query then runs ``--repeat``
   times; the table shows the median and the worst in milliseconds. Target: each tile < 200 ms
   on SQLite with 1,000,000 shipments.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from shipsync.canonical import Milestone, SlaKind, TrackingEvent, event_for_tracking
from shipsync.monitor import BOOKED, LAG_BUCKETS, MonitorStore, SlaPolicy

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC).timestamp()
STATUSES = [
    (BOOKED, 0.01),
    ("label_created", 0.04),
    ("picked_up", 0.05),
    ("in_transit", 0.15),
    ("out_for_delivery", 0.04),
    ("delivery_attempted", 0.01),
    ("available_for_pickup", 0.01),
    ("exception", 0.02),
    ("delivered", 0.60),
    ("returning_to_sender", 0.01),
    ("returned", 0.02),
    ("cancelled", 0.03),
    ("lost", 0.01),
]
_OPEN = {
    BOOKED,
    "label_created",
    "picked_up",
    "in_transit",
    "out_for_delivery",
    "delivery_attempted",
    "available_for_pickup",
    "exception",
    "returning_to_sender",
}

STORY = (
    Milestone.LABEL_CREATED,
    Milestone.PICKED_UP,
    Milestone.IN_TRANSIT,
    Milestone.OUT_FOR_DELIVERY,
    Milestone.DELIVERED,
)


def _apply(store: MonitorStore, shipments: int) -> tuple[int, float]:
    start = datetime.fromtimestamp(NOW - 10 * 86400, UTC)
    events = []
    for i in range(shipments):
        for step, milestone in enumerate(STORY):
            at = start + timedelta(hours=6 * step, minutes=i % 60)
            tracking = TrackingEvent(
                event_id=f"A{i}-{step}",
                shipment_id=f"APPLY-{i:07d}",
                tracking_number=f"TA{i:07d}",
                carrier="fake",
                milestone=milestone,
                occurred_at=at,
                recorded_at=at,
                carrier_code=milestone.value[:2].upper(),
            )
            events.append(event_for_tracking(tracking, source="shipsync/fake"))
    started = time.perf_counter()
    for n, event in enumerate(events):
        store.apply(event, handled_at=NOW - 9 * 86400 + n)
    return len(events), time.perf_counter() - started


def _rows(count: int, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    names = [s for s, _ in STATUSES]
    weights = [w for _, w in STATUSES]
    for i in range(count):
        status = rng.choices(names, weights)[0]
        if status in _OPEN:  # shipments still on their way were booked in the last few days
            created = NOW - rng.uniform(0, 4 * 86400)
            last = min(NOW, created + rng.uniform(0, 2 * 86400))
        else:
            created = NOW - rng.uniform(0, 30 * 86400)
            last = min(NOW, created + rng.uniform(0, 5 * 86400))
        delivered = last if status == "delivered" else None
        pod = delivered + rng.uniform(0, 7200) if delivered and rng.random() < 0.66 else None
        ofd = last if status in ("out_for_delivery", "delivery_attempted", "delivered") else None
        promised = created + 3 * 86400 if rng.random() < 0.5 else None
        since = last if status == "exception" else None
        yield (
            f"BULK-{i:08d}",
            "fake",
            status,
            None,
            created,
            created + 600 if status != BOOKED else None,
            created + 3600 if status not in (BOOKED, "label_created") else None,
            last,
            ofd,
            delivered,
            pod,
            since,
            promised,
            0,
        )


def _fill(store: MonitorStore, shipments: int) -> Counter[str]:
    rng = random.Random(7)
    counts: Counter[str] = Counter()
    batch: list[tuple[Any, ...]] = []
    sql = (
        "INSERT INTO monitor_shipments (shipment_id, carrier, status, reason, created_at, "
        "label_at, picked_up_at, last_event_at, out_for_delivery_at, delivered_at, pod_at, "
        "exception_since, promised_at, anomalies) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    db = store._db  # bulk loading is a benchmark's business, not an API

    def flush(rows: list[tuple[Any, ...]]) -> None:
        def write(execute: Callable[[str, Any], Any]) -> None:
            if db.postgres:
                with db._conn.cursor() as cur:
                    cur.executemany(db.sql(sql), rows)
            else:
                db._conn.executemany(sql, rows)

        db.tx(write)

    for row in _rows(shipments, rng):
        counts[row[2]] += 1
        batch.append(row)
        if len(batch) == 50_000:
            flush(batch)
            batch = []
    if batch:
        flush(batch)

    def extras(execute: Callable[[str, Any], Any]) -> None:
        for status, n in counts.items():
            execute(
                "INSERT INTO monitor_status_counts (status, n) VALUES (?, ?) ON CONFLICT (status) "
                "DO UPDATE SET n = monitor_status_counts.n + excluded.n",
                (status, n),
            )
        for source in ("shipsync/fake", "shipsync/ups", "shipsync/dhl"):
            for bucket in range(len(LAG_BUCKETS) + 1):
                execute(
                    "INSERT INTO monitor_lag (source, bucket, n) VALUES (?, ?, ?) "
                    "ON CONFLICT (source, bucket) DO UPDATE SET n = excluded.n",
                    (source, bucket, rng.randint(0, 400_000)),
                )
        for i in range(10_000):
            execute(
                "INSERT INTO monitor_invoices (invoice_number, carrier, received_at, total, "
                "currency, lines, settled_at) VALUES (?, 'fake', ?, '100.00', 'EUR', 100, ?)",
                (f"INV-{i}", NOW - i * 60, None if i % 10 == 0 else NOW),
            )
        for i in range(20_000):
            execute(
                "INSERT INTO monitor_disputes (dispute_id, kind, shipment_id, invoice_number, "
                "amount, currency, opened_at, resolved_at) VALUES (?, 'overcharge', ?, ?, ?, "
                "'EUR', ?, ?)",
                (
                    f"INV-{i % 10_000}:{i}",
                    f"BULK-{i:08d}",
                    f"INV-{i % 10_000}",
                    f"{rng.randint(1, 5000) / 100:.2f}",
                    NOW - i * 30,
                    None if i % 4 == 0 else NOW,
                ),
            )

    db.tx(extras)
    if not db.postgres:
        db._conn.execute("ANALYZE")
    return counts


def _time(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shipments", type=int, default=1_000_000)
    parser.add_argument("--apply", type=int, default=20_000, help="events applied one by one")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--dsn", default=None, help="a postgresql:// DSN instead of SQLite")
    args = parser.parse_args()
    policy = SlaPolicy()
    with tempfile.TemporaryDirectory(prefix="bench-monitor-") as work:
        target = args.dsn or str(Path(work) / "monitor.db")
        store = MonitorStore(target)
        if args.dsn:
            store._db.tx(
                lambda execute: [
                    execute(f"TRUNCATE {t}", ())
                    for t in (
                        "monitor_events",
                        "monitor_shipments",
                        "monitor_status_counts",
                        "monitor_lag",
                        "monitor_invoices",
                        "monitor_disputes",
                        "monitor_breaches",
                    )
                ]
            )
        applied, spent = _apply(store, args.apply // len(STORY))
        started = time.perf_counter()
        _fill(store, args.shipments)
        filled = time.perf_counter() - started
        tiles: list[tuple[str, Callable[[], Any]]] = [
            ("shipments by status", store.status_counts),
            *[
                (f"sla {kind.value}", lambda kind=kind: store.sla(kind, policy, NOW))
                for kind in SlaKind
            ],
            ("exceptions by age", lambda: store.exceptions_by_age(policy, NOW)),
            ("invoices pending", store.invoices_pending),
            ("disputes open + amount", store.disputes),
            ("event lag p50/p95", store.lag),
            ("all tiles (indicators)", lambda: store.indicators(policy, now=NOW)),
            (
                "list: stale feed, page 1",
                lambda: store.shipments(sla=SlaKind.STALE_FEED, policy=policy, now=NOW),
            ),
            ("timeline of one shipment", lambda: store.timeline("APPLY-0000042")),
        ]
        results = [(name, *_time(fn, args.repeat)) for name, fn in tiles]
        size = Path(target).stat().st_size if not args.dsn else None
        store.close()
    load = os.getloadavg()
    backend = "PostgreSQL" if args.dsn else "SQLite"
    print(f"shipsync monitor bench ({backend}): python {platform.python_version()},")
    print(f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    rate = applied / spent
    print(f"apply: {applied:,} events one by one in {spent:.1f} s = {rate:,.0f} events/s")
    print(f"bulk fill: {args.shipments:,} shipments in {filled:.1f} s", end="")
    print(f", database {size / 1e6:,.0f} MB" if size else "")
    print()
    print(f"{'tile':<28}{'median ms':>12}{'worst ms':>12}")
    for name, median, worst in results:
        print(f"{name:<28}{median:>12.1f}{worst:>12.1f}")


if __name__ == "__main__":
    main()
