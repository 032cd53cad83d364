"""Applying canonical events to the monitor's tables: the schema and the one write path.

Theory of operation. :func:`apply` takes one canonical event. It first inserts the event's id into
``monitor_events``; when the id is there already the event was applied before and nothing else
happens, so applying is idempotent and a dispatcher may deliver an event any number of times. A
milestone event is kept (its tracking data, for the timeline) and the shipment's state is folded
again from all of its kept tracking events with the canonical fold, so late and out-of-order
events never regress a shipment. The shipment row keeps the times the service levels are measured
from (booked, label, picked up, last scan, out for delivery, delivered, proof of delivery,
exception since, promised date); ``monitor_status_counts`` keeps the number of shipments per
status, adjusted in the same transaction; ``monitor_lag`` keeps a histogram of event lag per
source. Finance events feed ``monitor_invoices`` and ``monitor_disputes``; ``sla.breached`` events
fill ``monitor_breaches``, which is what keeps a breach from being raised twice.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from shipsync.canonical import Event, MilestoneEvent, TrackingEvent, fold

from ._db import Db

__all__ = ["BOOKED", "LAG_BUCKETS", "apply", "create_tables"]

BOOKED = "booked"
"""The status of a shipment booked with no tracking event yet (not a canonical milestone)."""

LAG_BUCKETS: tuple[float, ...] = (1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 86400, 7 * 86400)
"""Upper bounds (seconds) of the lag histogram's buckets; one more bucket holds the rest."""

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS monitor_events (
        event_id TEXT PRIMARY KEY, shipment_id TEXT, type TEXT NOT NULL, source TEXT NOT NULL,
        carrier_code TEXT, occurred_at {real} NOT NULL, handled_at {real} NOT NULL, body TEXT)""",
    "CREATE INDEX IF NOT EXISTS monitor_events_shipment ON monitor_events (shipment_id)",
    """CREATE TABLE IF NOT EXISTS monitor_shipments (
        shipment_id TEXT PRIMARY KEY, carrier TEXT, status TEXT NOT NULL, reason TEXT,
        created_at {real}, label_at {real}, picked_up_at {real}, last_event_at {real},
        out_for_delivery_at {real}, delivered_at {real}, pod_at {real}, exception_since {real},
        promised_at {real}, anomalies {int} NOT NULL DEFAULT 0)""",
    "CREATE INDEX IF NOT EXISTS monitor_ship_created ON monitor_shipments (status, created_at)",
    "CREATE INDEX IF NOT EXISTS monitor_ship_last ON monitor_shipments (status, last_event_at)",
    "CREATE INDEX IF NOT EXISTS monitor_ship_ofd ON monitor_shipments "
    "(status, promised_at, out_for_delivery_at)",
    "CREATE INDEX IF NOT EXISTS monitor_ship_pod ON monitor_shipments "
    "(status, pod_at, delivered_at)",
    "CREATE INDEX IF NOT EXISTS monitor_ship_exc ON monitor_shipments (status, exception_since)",
    """CREATE TABLE IF NOT EXISTS monitor_status_counts (
        status TEXT PRIMARY KEY, n {int} NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS monitor_lag (
        source TEXT NOT NULL, bucket {int} NOT NULL, n {int} NOT NULL,
        PRIMARY KEY (source, bucket))""",
    """CREATE TABLE IF NOT EXISTS monitor_invoices (
        invoice_number TEXT PRIMARY KEY, carrier TEXT, received_at {real}, total TEXT,
        currency TEXT, lines {int} NOT NULL DEFAULT 0, matched {int} NOT NULL DEFAULT 0,
        settled_at {real})""",
    "CREATE INDEX IF NOT EXISTS monitor_invoices_open ON monitor_invoices (settled_at)",
    """CREATE TABLE IF NOT EXISTS monitor_disputes (
        dispute_id TEXT PRIMARY KEY, kind TEXT NOT NULL, shipment_id TEXT, invoice_number TEXT,
        amount TEXT NOT NULL, currency TEXT NOT NULL, opened_at {real} NOT NULL,
        resolved_at {real})""",
    "CREATE INDEX IF NOT EXISTS monitor_disputes_open ON monitor_disputes (resolved_at)",
    """CREATE TABLE IF NOT EXISTS monitor_breaches (
        shipment_id TEXT NOT NULL, kind TEXT NOT NULL, since {real} NOT NULL,
        raised_at {real} NOT NULL, PRIMARY KEY (shipment_id, kind))""",
)


def create_tables(db: Db) -> None:
    """Create the monitor's tables and indexes where missing."""
    real, integer = ("DOUBLE PRECISION", "BIGINT") if db.postgres else ("REAL", "INTEGER")

    def create(execute: Callable[[str, Sequence[Any]], Any]) -> None:
        for statement in _SCHEMA:
            execute(statement.format(real=real, int=integer), ())

    db.tx(create)


def apply(db: Db, event: Event, *, handled_at: float | None = None) -> bool:
    """Apply one event; False when it was applied before (nothing changes then)."""
    at = time.time() if handled_at is None else handled_at
    tracking = event.data if isinstance(event, MilestoneEvent) else None
    shipment_id = _shipment_of(event)
    occurred = (tracking.occurred_at if tracking is not None else event.time).timestamp()

    def work(execute: Callable[[str, Sequence[Any]], Any]) -> bool:
        cur = execute(
            "INSERT INTO monitor_events (event_id, shipment_id, type, source, carrier_code, "
            "occurred_at, handled_at, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (
                event.id,
                shipment_id,
                event.type,
                event.source,
                tracking.carrier_code if tracking is not None else None,
                occurred,
                at,
                tracking.model_dump_json() if tracking is not None else None,
            ),
        )
        if cur.rowcount == 0:
            return False
        _effect(db, execute, event, shipment_id, tracking, occurred, at)
        return True

    return db.tx(work)


def _effect(
    db: Db,
    execute: Callable[[str, Sequence[Any]], Any],
    event: Event,
    shipment_id: str | None,
    tracking: TrackingEvent | None,
    occurred: float,
    at: float,
) -> None:
    kind = event.type
    data: Any = event.data
    if tracking is not None and shipment_id is not None:
        _milestone(db, execute, shipment_id, tracking, occurred)
        bucket = bisect.bisect_left(LAG_BUCKETS, max(0.0, at - occurred))
        execute(
            "INSERT INTO monitor_lag (source, bucket, n) VALUES (?, ?, 1) "
            "ON CONFLICT (source, bucket) DO UPDATE SET n = monitor_lag.n + 1",
            (event.source, bucket),
        )
    elif kind == "shipment.created" and shipment_id is not None:
        _ensure(execute, shipment_id, data.carrier)
        execute(
            "UPDATE monitor_shipments SET created_at = ? WHERE shipment_id = ?",
            (occurred, shipment_id),
        )
    elif kind == "pod.captured" and shipment_id is not None:
        _ensure(execute, shipment_id, None)
        execute(
            "UPDATE monitor_shipments SET pod_at = ? WHERE shipment_id = ?",
            (data.delivered_at.timestamp(), shipment_id),
        )
    elif kind == "freight.rate_quoted" and shipment_id is not None:
        estimated = data.rate.estimated_delivery
        if estimated is not None:
            end = datetime(estimated.year, estimated.month, estimated.day, tzinfo=UTC)
            _ensure(execute, shipment_id, None)
            execute(
                "UPDATE monitor_shipments SET promised_at = ? WHERE shipment_id = ?",
                ((end + timedelta(days=1)).timestamp(), shipment_id),
            )
    elif kind == "freight.invoice_received":
        execute(
            "INSERT INTO monitor_invoices (invoice_number, carrier, received_at, total, "
            "currency, lines) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                data.invoice_number,
                data.carrier,
                occurred,
                str(data.total.amount),
                data.currency,
                len(data.lines),
            ),
        )
    elif kind == "freight.invoice_matched":
        execute(
            "UPDATE monitor_invoices SET matched = matched + 1 WHERE invoice_number = ?",
            (data.invoice_number,),
        )
    elif kind == "settlement.completed":
        execute(
            "INSERT INTO monitor_invoices (invoice_number, carrier, received_at, total, "
            "currency, settled_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (invoice_number) "
            "DO UPDATE SET settled_at = excluded.settled_at",
            (
                data.invoice_number,
                data.carrier,
                occurred,
                str(data.invoice_total.amount),
                data.invoice_total.currency,
                data.settled_at.timestamp(),
            ),
        )
    elif kind == "freight.discrepancy_found":
        amount = data.difference or data.billed
        execute(
            "INSERT INTO monitor_disputes (dispute_id, kind, shipment_id, invoice_number, "
            "amount, currency, opened_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                f"{data.invoice_number}:{data.line_number}",
                data.kind.value,
                data.shipment_id,
                data.invoice_number,
                str(abs(amount.amount)),
                amount.currency,
                occurred,
            ),
        )
    elif kind == "claim.opened":
        execute(
            "INSERT INTO monitor_disputes (dispute_id, kind, shipment_id, amount, currency, "
            "opened_at) VALUES (?, 'claim', ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                f"claim:{data.claim_id}",
                data.shipment_id,
                str(data.amount.amount),
                data.amount.currency,
                data.opened_at.timestamp(),
            ),
        )
    elif kind == "claim.settled":
        settled = (data.settled_at or event.time).timestamp()
        execute(
            "INSERT INTO monitor_disputes (dispute_id, kind, shipment_id, amount, currency, "
            "opened_at, resolved_at) VALUES (?, 'claim', ?, ?, ?, ?, ?) "
            "ON CONFLICT (dispute_id) DO UPDATE SET resolved_at = excluded.resolved_at",
            (
                f"claim:{data.claim_id}",
                data.shipment_id,
                str(data.amount.amount),
                data.amount.currency,
                data.opened_at.timestamp(),
                settled,
            ),
        )
    elif kind == "sla.breached":
        execute(
            "INSERT INTO monitor_breaches (shipment_id, kind, since, raised_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (data.shipment_id, data.kind.value, data.since.timestamp(), occurred),
        )


def _ensure(
    execute: Callable[[str, Sequence[Any]], Any], shipment_id: str, carrier: str | None
) -> None:
    cur = execute(
        "INSERT INTO monitor_shipments (shipment_id, carrier, status) VALUES (?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        (shipment_id, carrier, BOOKED),
    )
    if cur.rowcount:
        _count(execute, BOOKED, 1)
    elif carrier is not None:
        execute(
            "UPDATE monitor_shipments SET carrier = ? WHERE shipment_id = ? AND carrier IS NULL",
            (carrier, shipment_id),
        )


def _milestone(
    db: Db,
    execute: Callable[[str, Sequence[Any]], Any],
    shipment_id: str,
    tracking: TrackingEvent,
    occurred: float,
) -> None:
    _ensure(execute, shipment_id, tracking.carrier)
    # Lock the shipment's row first (PostgreSQL; SQLite's write lock covers the database), so
    # two workers applying events of one shipment fold one after the other, each seeing the
    # other's events.
    lock = " FOR UPDATE" if db.postgres else ""
    old = execute(
        f"SELECT status, exception_since FROM monitor_shipments WHERE shipment_id = ?{lock}",
        (shipment_id,),
    ).fetchone()
    bodies = execute(
        "SELECT body FROM monitor_events WHERE shipment_id = ? AND body IS NOT NULL",
        (shipment_id,),
    ).fetchall()
    events = [TrackingEvent.model_validate_json(b[0]) for b in bodies]
    state = fold(events, shipment_id=shipment_id)
    status = state.status.value
    since = old[1]
    if status == "exception":
        exceptions = [
            e.occurred_at.timestamp() for e in state.applied if e.milestone.value == "exception"
        ]
        since = since if old[0] == "exception" and since is not None else max(exceptions)
    else:
        since = None
    firsts: dict[str, float] = {}
    for e in state.applied:
        name = e.milestone.value
        stamp = e.occurred_at.timestamp()
        if name not in firsts or stamp < firsts[name]:
            firsts[name] = stamp
    delivered = [
        e.occurred_at.timestamp() for e in state.applied if e.milestone.value == "delivered"
    ]
    execute(
        "UPDATE monitor_shipments SET status = ?, reason = ?, label_at = ?, picked_up_at = ?, "
        "last_event_at = ?, out_for_delivery_at = ?, delivered_at = ?, exception_since = ?, "
        "anomalies = ? WHERE shipment_id = ?",
        (
            status,
            state.reason.value if state.reason is not None else None,
            firsts.get("label_created"),
            firsts.get("picked_up"),
            state.last_event_at.timestamp() if state.last_event_at is not None else occurred,
            max(
                (
                    e.occurred_at.timestamp()
                    for e in state.applied
                    if e.milestone.value == "out_for_delivery"
                ),
                default=None,
            ),
            max(delivered) if delivered else None,
            since,
            len(state.anomalies),
            shipment_id,
        ),
    )
    if old[0] != status:
        _count(execute, old[0], -1)
        _count(execute, status, 1)


def _count(execute: Callable[[str, Sequence[Any]], Any], status: str, delta: int) -> None:
    execute(
        "INSERT INTO monitor_status_counts (status, n) VALUES (?, ?) "
        "ON CONFLICT (status) DO UPDATE SET n = monitor_status_counts.n + excluded.n",
        (status, delta),
    )


def _shipment_of(event: Event) -> str | None:
    data = event.data
    value = getattr(data, "shipment_id", None)
    if isinstance(value, str):
        return value
    return event.subject
