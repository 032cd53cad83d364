"""Reading the monitor's tables: every tile, the shipment lists and a shipment's timeline.

Every tile is one indexed query over the tables :mod:`._apply` keeps (``bench/monitor.py``
measures them); no query scans the events. A service level's condition is written once, in
:func:`sla_clause`, and serves the counts, the filtered lists and the breach search alike.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from shipsync.canonical import SlaKind, TrackingEvent, fold
from shipsync.errors import InvalidInputError

from ._apply import BOOKED, LAG_BUCKETS
from ._db import Db
from ._policy import SlaPolicy
from ._values import (
    DeadLetterSummary,
    Indicators,
    LagSummary,
    ShipmentRow,
    SlaCount,
    Timeline,
    TimelineEntry,
)

__all__ = [
    "dead_letter_summary",
    "disputes",
    "exceptions_by_age",
    "indicators",
    "invoices_pending",
    "lag",
    "new_breaches",
    "open_disputes",
    "shipment",
    "shipments",
    "sla",
    "sla_clause",
    "status_counts",
    "timeline",
]

_IN_FLIGHT = ("picked_up", "in_transit")
_AT_DOOR = ("out_for_delivery", "delivery_attempted")


def _ts(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


_SLA_ORDER = {
    SlaKind.LABEL_WAIT: "created_at",
    SlaKind.STALE_FEED: "last_event_at",
    SlaKind.LATE_DELIVERY: "out_for_delivery_at",
    SlaKind.MISSING_POD: "delivered_at",
}
"""Lists filtered by a service level come oldest first (by the time the level is measured from)."""

_SHIP_COLUMNS = (
    "shipment_id, carrier, status, reason, created_at, last_event_at, delivered_at, pod_at, "
    "promised_at, anomalies"
)


def _ship(row: Sequence[Any]) -> ShipmentRow:
    return ShipmentRow(
        shipment_id=row[0],
        carrier=row[1],
        status=row[2],
        reason=row[3],
        created_at=_ts(row[4]),
        last_event_at=_ts(row[5]),
        delivered_at=_ts(row[6]),
        pod_at=_ts(row[7]),
        promised_at=_ts(row[8]),
        anomalies=int(row[9]),
    )


def status_counts(db: Db) -> dict[str, int]:
    """Shipments per status (``booked`` for those with no tracking event yet)."""
    rows = db.rows("SELECT status, n FROM monitor_status_counts WHERE n > 0")
    return {str(s): int(n) for s, n in rows}


def sla_clause(kind: SlaKind, policy: SlaPolicy, now: float, risk: bool) -> tuple[str, list[Any]]:
    """The condition for breached (``risk`` False) or at risk but not breached shipments."""
    limit = policy.threshold(kind).total_seconds()
    early = now - limit * policy.at_risk
    late = now - limit
    statuses: tuple[str, ...]
    if kind is SlaKind.LABEL_WAIT:
        column, statuses = "created_at", (BOOKED,)
    elif kind is SlaKind.STALE_FEED:
        column, statuses = "last_event_at", _IN_FLIGHT
    elif kind is SlaKind.MISSING_POD:
        column, statuses = "delivered_at", ("delivered",)
    else:
        marks = ", ".join("?" * len(_AT_DOOR))
        if risk:
            return (
                f"status IN ({marks}) AND ((promised_at IS NOT NULL AND promised_at >= ? "
                "AND promised_at < ?) OR (promised_at IS NULL AND out_for_delivery_at >= ? "
                "AND out_for_delivery_at < ?))",
                [*_AT_DOOR, now, now + limit * (1 - policy.at_risk), late, early],
            )
        return (
            f"status IN ({marks}) AND ((promised_at IS NOT NULL AND promised_at < ?) OR "
            "(promised_at IS NULL AND out_for_delivery_at < ?))",
            [*_AT_DOOR, now, late],
        )
    marks = ", ".join("?" * len(statuses))
    pod = " AND pod_at IS NULL" if kind is SlaKind.MISSING_POD else ""
    if risk:
        return (
            f"status IN ({marks}){pod} AND {column} >= ? AND {column} < ?",
            [*statuses, late, early],
        )
    return f"status IN ({marks}){pod} AND {column} < ?", [*statuses, late]


def sla(db: Db, kind: SlaKind, policy: SlaPolicy, now: float | None = None) -> SlaCount:
    """Shipments breaching, and at risk of breaching, one kind of service level."""
    at = time.time() if now is None else now
    counts = []
    for risk in (False, True):
        clause, params = sla_clause(kind, policy, at, risk)
        rows = db.rows(f"SELECT count(*) FROM monitor_shipments WHERE {clause}", params)
        counts.append(int(rows[0][0]))
    return SlaCount(kind, counts[0], counts[1], policy.threshold(kind))


def exceptions_by_age(
    db: Db, policy: SlaPolicy, now: float | None = None
) -> tuple[tuple[str, int], ...]:
    """Shipments in exception, by how long they have been in it."""
    at = time.time() if now is None else now
    bounds = [b.total_seconds() for b in policy.exception_buckets]
    out: list[tuple[str, int]] = []
    lower = 0.0
    for upper in [*bounds, None]:
        if upper is None:
            clause, params = "exception_since <= ?", [at - lower]
            label = f">{_human(lower)}"
        else:
            clause, params = (
                "exception_since <= ? AND exception_since > ?",
                [at - lower, at - upper],
            )
            label = f"<{_human(upper)}"
        rows = db.rows(
            f"SELECT count(*) FROM monitor_shipments WHERE status = 'exception' AND {clause}",
            params,
        )
        out.append((label, int(rows[0][0])))
        lower = upper or lower
    return tuple(out)


def invoices_pending(db: Db) -> int:
    """Invoices received and not settled yet."""
    rows = db.rows("SELECT count(*) FROM monitor_invoices WHERE settled_at IS NULL")
    return int(rows[0][0])


def disputes(db: Db) -> tuple[int, dict[str, Decimal]]:
    """Open disputes (discrepancies and claims) and the amount at stake per currency."""
    rows = db.rows("SELECT amount, currency FROM monitor_disputes WHERE resolved_at IS NULL")
    amounts: dict[str, Decimal] = {}
    for amount, currency in rows:
        amounts[currency] = amounts.get(currency, Decimal(0)) + Decimal(amount)
    return len(rows), amounts


def open_disputes(db: Db, limit: int = 100) -> list[dict[str, Any]]:
    """Open disputes, oldest first."""
    rows = db.rows(
        "SELECT dispute_id, kind, shipment_id, invoice_number, amount, currency, opened_at "
        "FROM monitor_disputes WHERE resolved_at IS NULL ORDER BY opened_at LIMIT ?",
        [_limit(limit)],
    )
    return [
        {
            "dispute_id": r[0],
            "kind": r[1],
            "shipment_id": r[2],
            "invoice_number": r[3],
            "amount": r[4],
            "currency": r[5],
            "opened_at": _ts(r[6]),
        }
        for r in rows
    ]


def lag(db: Db) -> tuple[LagSummary, ...]:
    """Event lag (carrier time to handled) per source, p50 and p95 from the histogram."""
    per: dict[str, dict[int, int]] = {}
    for source, bucket, n in db.rows("SELECT source, bucket, n FROM monitor_lag"):
        per.setdefault(str(source), {})[int(bucket)] = int(n)
    out = []
    for source, buckets in sorted(per.items()):
        total = sum(buckets.values())
        out.append(
            LagSummary(
                source, total, _quantile(buckets, total, 0.5), _quantile(buckets, total, 0.95)
            )
        )
    return tuple(out)


def indicators(
    db: Db,
    policy: SlaPolicy | None = None,
    *,
    now: float | None = None,
    dead_letters: Any = None,
) -> Indicators:
    """Every tile; ``dead_letters`` is a dead letter store to count open letters in."""
    rules = policy or SlaPolicy()
    at = time.time() if now is None else now
    by_status = status_counts(db)
    count, amounts = disputes(db)
    return Indicators(
        at=datetime.fromtimestamp(at, UTC),
        shipments=sum(by_status.values()),
        by_status=by_status,
        sla=tuple(sla(db, kind, rules, at) for kind in SlaKind),
        exceptions_by_age=exceptions_by_age(db, rules, at),
        invoices_pending=invoices_pending(db),
        disputes_open=count,
        disputed_amounts=amounts,
        dead_letters=dead_letter_summary(dead_letters, at) if dead_letters is not None else None,
        lag=lag(db),
    )


def shipments(
    db: Db,
    *,
    status: str | None = None,
    sla: SlaKind | None = None,
    at_risk: bool = False,
    policy: SlaPolicy | None = None,
    now: float | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[ShipmentRow]:
    """Shipments, filtered by status or by a service level breached (or at risk).

    Unfiltered lists are in shipment id order; filtered ones oldest first (last carrier
    event, or the time the service level is measured from), so an index gives the order.
    """
    clauses: list[str] = []
    params: list[Any] = []
    order = "shipment_id"
    if status is not None:
        clauses.append("status = ?")
        params.append(status)
        order = "last_event_at"
    if sla is not None:
        at = time.time() if now is None else now
        clause, more = sla_clause(sla, policy or SlaPolicy(), at, at_risk)
        clauses.append(clause)
        params.extend(more)
        order = _SLA_ORDER[sla]
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = db.rows(
        f"SELECT {_SHIP_COLUMNS} FROM monitor_shipments {where} ORDER BY {order} LIMIT ? OFFSET ?",
        [*params, _limit(limit), max(0, int(offset))],
    )
    return [_ship(r) for r in rows]


def shipment(db: Db, shipment_id: str) -> ShipmentRow | None:
    """One shipment, or None."""
    rows = db.rows(
        f"SELECT {_SHIP_COLUMNS} FROM monitor_shipments WHERE shipment_id = ?", [shipment_id]
    )
    return _ship(rows[0]) if rows else None


def timeline(db: Db, shipment_id: str) -> Timeline | None:
    """A shipment's events in carrier time order and its folded state, or None."""
    row = shipment(db, shipment_id)
    if row is None:
        return None
    rows = db.rows(
        "SELECT event_id, type, source, occurred_at, handled_at, carrier_code, body "
        "FROM monitor_events WHERE shipment_id = ? ORDER BY occurred_at, event_id",
        [shipment_id],
    )
    entries = tuple(
        TimelineEntry(
            event_id=r[0],
            type=r[1],
            source=r[2],
            occurred_at=datetime.fromtimestamp(r[3], UTC),
            handled_at=datetime.fromtimestamp(r[4], UTC),
            carrier_code=r[5],
            tracking=TrackingEvent.model_validate_json(r[6]) if r[6] is not None else None,
        )
        for r in rows
    )
    tracking = [e.tracking for e in entries if e.tracking is not None]
    return Timeline(row, entries, fold(tracking, shipment_id=shipment_id))


def new_breaches(
    db: Db, policy: SlaPolicy, now: float | None = None, *, limit: int = 1000
) -> list[tuple[ShipmentRow, SlaKind, float]]:
    """Breaching shipments not raised yet: (shipment, kind, since) up to ``limit``."""
    at = time.time() if now is None else now
    out: list[tuple[ShipmentRow, SlaKind, float]] = []
    columns = {
        SlaKind.LABEL_WAIT: "created_at",
        SlaKind.STALE_FEED: "last_event_at",
        SlaKind.LATE_DELIVERY: "coalesce(promised_at, out_for_delivery_at)",
        SlaKind.MISSING_POD: "delivered_at",
    }
    for kind in SlaKind:
        clause, params = sla_clause(kind, policy, at, False)
        rows = db.rows(
            f"SELECT {_SHIP_COLUMNS}, {columns[kind]} FROM monitor_shipments s WHERE {clause} "
            "AND NOT EXISTS (SELECT 1 FROM monitor_breaches b WHERE "
            "b.shipment_id = s.shipment_id AND b.kind = ?) ORDER BY shipment_id LIMIT ?",
            [*params, kind.value, _limit(limit - len(out))],
        )
        out.extend((_ship(r), kind, float(r[10])) for r in rows)
        if len(out) >= limit:
            break
    return out


def dead_letter_summary(store: Any, now: float | None = None) -> DeadLetterSummary:
    """Open letters of a dead letter store and the age of the oldest."""
    at = time.time() if now is None else now
    letters = store.list(limit=100_000)
    oldest = min((letter.first_failed_at.timestamp() for letter in letters), default=None)
    return DeadLetterSummary(len(letters), None if oldest is None else max(0.0, at - oldest))


def _quantile(buckets: dict[int, int], total: int, q: float) -> float:
    if total == 0:
        return 0.0
    need = q * total
    seen = 0
    for bucket in sorted(buckets):
        seen += buckets[bucket]
        if seen >= need:
            return float(LAG_BUCKETS[bucket]) if bucket < len(LAG_BUCKETS) else float("inf")
    return float("inf")


def _limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
        raise InvalidInputError("a limit is an integer from 1 to 10000", path="limit")
    return limit


def _human(seconds: float) -> str:
    if seconds >= 86400 and seconds % 86400 == 0:
        return f"{int(seconds // 86400)}d"
    if seconds >= 3600:
        return f"{seconds / 3600:g}h"
    return f"{seconds / 60:g}m"
