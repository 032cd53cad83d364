"""The monitor's store: indicators kept up to date event by event, on SQLite or PostgreSQL.

Theory of operation. :meth:`MonitorStore.apply` takes one canonical event. It first inserts the
event's id into ``monitor_events``; when the id is there already the event was applied before
and nothing else happens, so applying is idempotent and a dispatcher may deliver an event any
number of times. A milestone event is kept (its tracking data, for the timeline) and the
shipment's state is folded again from all of its kept tracking events with the canonical fold, so
late and out-of-order events never regress a shipment. The shipment row keeps the times the
service levels are measured from (booked, label, picked up, last scan, out for delivery,
delivered, proof of delivery, exception since, promised date); ``monitor_status_counts`` keeps the
number of shipments per status, adjusted in the same transaction; ``monitor_lag`` keeps a
histogram of event lag per source. Finance events feed ``monitor_invoices`` and
``monitor_disputes``; ``sla.breached`` events fill ``monitor_breaches``, which is what keeps a
breach from being raised twice.

Every tile is one indexed query over these tables (``bench/monitor.py`` measures them); no query
scans the events.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from os import PathLike
from typing import Any

from shipsync.canonical import (
    Event,
    MilestoneEvent,
    SlaKind,
    TrackingEvent,
    fold,
)
from shipsync.errors import InvalidInputError

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

__all__ = ["BOOKED", "LAG_BUCKETS", "MonitorStore", "dead_letter_summary"]

BOOKED = "booked"
"""The status of a shipment booked with no tracking event yet (not a canonical milestone)."""

LAG_BUCKETS: tuple[float, ...] = (1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 86400, 7 * 86400)
"""Upper bounds (seconds) of the lag histogram's buckets; one more bucket holds the rest."""

_IN_FLIGHT = ("picked_up", "in_transit")
_AT_DOOR = ("out_for_delivery", "delivery_attempted")

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


class MonitorStore:
    """The indicators' store, on SQLite (a path) or PostgreSQL (a ``postgresql://`` DSN).

    Apply events with :meth:`apply` (the :class:`~shipsync.monitor.Monitor` handler does it for
    a dispatcher); read tiles with :meth:`indicators` and the other queries.
    """

    def __init__(self, target: str | PathLike[str]) -> None:
        self._db = Db(target)
        self._db_target = target
        real, integer = ("DOUBLE PRECISION", "BIGINT") if self._db.postgres else ("REAL", "INTEGER")

        def create(execute: Callable[[str, Sequence[Any]], Any]) -> None:
            for statement in _SCHEMA:
                execute(statement.format(real=real, int=integer), ())

        self._db.tx(create)

    @property
    def postgres(self) -> bool:
        """Whether this store is on PostgreSQL."""
        return self._db.postgres

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    # -- writing ---------------------------------------------------------------------------------

    def apply(self, event: Event, *, handled_at: float | None = None) -> bool:
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
            self._effect(execute, event, shipment_id, tracking, occurred, at)
            return True

        return self._db.tx(work)

    def _effect(
        self,
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
            self._milestone(execute, shipment_id, tracking, occurred)
            bucket = bisect.bisect_left(LAG_BUCKETS, max(0.0, at - occurred))
            execute(
                "INSERT INTO monitor_lag (source, bucket, n) VALUES (?, ?, 1) "
                "ON CONFLICT (source, bucket) DO UPDATE SET n = monitor_lag.n + 1",
                (event.source, bucket),
            )
        elif kind == "shipment.created" and shipment_id is not None:
            self._ensure(execute, shipment_id, data.carrier)
            execute(
                "UPDATE monitor_shipments SET created_at = ? WHERE shipment_id = ?",
                (occurred, shipment_id),
            )
        elif kind == "pod.captured" and shipment_id is not None:
            self._ensure(execute, shipment_id, None)
            execute(
                "UPDATE monitor_shipments SET pod_at = ? WHERE shipment_id = ?",
                (data.delivered_at.timestamp(), shipment_id),
            )
        elif kind == "freight.rate_quoted" and shipment_id is not None:
            estimated = data.rate.estimated_delivery
            if estimated is not None:
                end = datetime(estimated.year, estimated.month, estimated.day, tzinfo=UTC)
                self._ensure(execute, shipment_id, None)
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
        self, execute: Callable[[str, Sequence[Any]], Any], shipment_id: str, carrier: str | None
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
                "UPDATE monitor_shipments SET carrier = ? "
                "WHERE shipment_id = ? AND carrier IS NULL",
                (carrier, shipment_id),
            )

    def _milestone(
        self,
        execute: Callable[[str, Sequence[Any]], Any],
        shipment_id: str,
        tracking: TrackingEvent,
        occurred: float,
    ) -> None:
        self._ensure(execute, shipment_id, tracking.carrier)
        # Lock the shipment's row first (PostgreSQL; SQLite's write lock covers the database), so
        # two workers applying events of one shipment fold one after the other, each seeing the
        # other's events.
        lock = " FOR UPDATE" if self._db.postgres else ""
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

    # -- reading ---------------------------------------------------------------------------------

    def status_counts(self) -> dict[str, int]:
        """Shipments per status (``booked`` for those with no tracking event yet)."""
        rows = self._db.rows("SELECT status, n FROM monitor_status_counts WHERE n > 0")
        return {str(s): int(n) for s, n in rows}

    def _where(
        self, kind: SlaKind, policy: SlaPolicy, now: float, risk: bool
    ) -> tuple[str, list[Any]]:
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

    def sla(self, kind: SlaKind, policy: SlaPolicy, now: float | None = None) -> SlaCount:
        """Shipments breaching, and at risk of breaching, one kind of service level."""
        at = time.time() if now is None else now
        counts = []
        for risk in (False, True):
            clause, params = self._where(kind, policy, at, risk)
            rows = self._db.rows(f"SELECT count(*) FROM monitor_shipments WHERE {clause}", params)
            counts.append(int(rows[0][0]))
        return SlaCount(kind, counts[0], counts[1], policy.threshold(kind))

    def exceptions_by_age(
        self, policy: SlaPolicy, now: float | None = None
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
            rows = self._db.rows(
                f"SELECT count(*) FROM monitor_shipments WHERE status = 'exception' AND {clause}",
                params,
            )
            out.append((label, int(rows[0][0])))
            lower = upper or lower
        return tuple(out)

    def invoices_pending(self) -> int:
        """Invoices received and not settled yet."""
        rows = self._db.rows("SELECT count(*) FROM monitor_invoices WHERE settled_at IS NULL")
        return int(rows[0][0])

    def disputes(self) -> tuple[int, dict[str, Decimal]]:
        """Open disputes (discrepancies and claims) and the amount at stake per currency."""
        rows = self._db.rows(
            "SELECT amount, currency FROM monitor_disputes WHERE resolved_at IS NULL"
        )
        amounts: dict[str, Decimal] = {}
        for amount, currency in rows:
            amounts[currency] = amounts.get(currency, Decimal(0)) + Decimal(amount)
        return len(rows), amounts

    def open_disputes(self, limit: int = 100) -> list[dict[str, Any]]:
        """Open disputes, oldest first."""
        rows = self._db.rows(
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

    def lag(self) -> tuple[LagSummary, ...]:
        """Event lag (carrier time to handled) per source, p50 and p95 from the histogram."""
        per: dict[str, dict[int, int]] = {}
        for source, bucket, n in self._db.rows("SELECT source, bucket, n FROM monitor_lag"):
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
        self,
        policy: SlaPolicy | None = None,
        *,
        now: float | None = None,
        dead_letters: Any = None,
    ) -> Indicators:
        """Every tile; ``dead_letters`` is a dead letter store to count open letters in."""
        rules = policy or SlaPolicy()
        at = time.time() if now is None else now
        by_status = self.status_counts()
        count, amounts = self.disputes()
        return Indicators(
            at=datetime.fromtimestamp(at, UTC),
            shipments=sum(by_status.values()),
            by_status=by_status,
            sla=tuple(self.sla(kind, rules, at) for kind in SlaKind),
            exceptions_by_age=self.exceptions_by_age(rules, at),
            invoices_pending=self.invoices_pending(),
            disputes_open=count,
            disputed_amounts=amounts,
            dead_letters=dead_letter_summary(dead_letters, at)
            if dead_letters is not None
            else None,
            lag=self.lag(),
        )

    def shipments(
        self,
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
            clause, more = self._where(sla, policy or SlaPolicy(), at, at_risk)
            clauses.append(clause)
            params.extend(more)
            order = _SLA_ORDER[sla]
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._db.rows(
            f"SELECT {_SHIP_COLUMNS} FROM monitor_shipments {where} "
            f"ORDER BY {order} LIMIT ? OFFSET ?",
            [*params, _limit(limit), max(0, int(offset))],
        )
        return [_ship(r) for r in rows]

    def shipment(self, shipment_id: str) -> ShipmentRow | None:
        """One shipment, or None."""
        rows = self._db.rows(
            f"SELECT {_SHIP_COLUMNS} FROM monitor_shipments WHERE shipment_id = ?", [shipment_id]
        )
        return _ship(rows[0]) if rows else None

    def timeline(self, shipment_id: str) -> Timeline | None:
        """A shipment's events in carrier time order and its folded state, or None."""
        row = self.shipment(shipment_id)
        if row is None:
            return None
        rows = self._db.rows(
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
        self, policy: SlaPolicy, now: float | None = None, *, limit: int = 1000
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
            clause, params = self._where(kind, policy, at, False)
            rows = self._db.rows(
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
