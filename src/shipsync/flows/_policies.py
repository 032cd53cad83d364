"""Policies a host adopts as handlers: invoice holds, proof of delivery, stale feeds.

Each policy is a dispatcher handler (``dispatcher.subscribe(None, policy, name=...)``) that keeps
its few facts in a SQLite table, so several worker processes on one machine share them, plus
queries the host asks before acting:

* :class:`InvoiceReleaseGate`: an exception holds invoice release for its shipment until a later
  progress event or a manual :meth:`~InvoiceReleaseGate.resolve`.
* :class:`ProofOfDeliveryCheck`: a delivery without proof of delivery is flagged and is not ready
  for revenue recognition.
* :class:`StaleFeedMonitor`: a shipment not in a final state whose carrier feed went silent
  longer than ``max_silence`` raises a flag; nothing about the shipment is changed.

``synchronous`` is SQLite's pragma for the policy's file: ``"FULL"`` (default) survives power
loss, ``"NORMAL"`` only process crashes, and is faster.

The fourth policy, *a notification failure never blocks execution*, is a subscription option:
``dispatcher.subscribe(..., blocking=False)`` gives a handler one bounded attempt and sends its
failure straight to a dead letter, while the other handlers of the event go on.

Times come from the events (``event.time``, the carrier's ``occurred_at``), so late or replayed
events are judged by when things happened, not when they arrived.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from os import PathLike
from typing import Any, Literal, TypeVar

import attrs

from shipsync.canonical import FINAL_MILESTONES, Event, Milestone, MilestoneEvent, PodCaptured
from shipsync.errors import ConfigurationError, EventLogUnavailableError

from ._dispatcher import HandlerContext
from ._sqlite import check_table

__all__ = [
    "PROGRESS_MILESTONES",
    "Flag",
    "InvoiceHold",
    "InvoiceReleaseGate",
    "ProofOfDeliveryCheck",
    "StaleFeedMonitor",
]

T = TypeVar("T")

PROGRESS_MILESTONES: frozenset[Milestone] = frozenset(
    {
        Milestone.PICKED_UP,
        Milestone.IN_TRANSIT,
        Milestone.OUT_FOR_DELIVERY,
        Milestone.AVAILABLE_FOR_PICKUP,
        Milestone.DELIVERED,
    }
)
"""Milestones that show a shipment moving again after an exception."""


def _epoch(value: datetime) -> float:
    if value.tzinfo is None:
        raise ConfigurationError("a naive datetime has no time zone", path="now")
    return value.timestamp()


def _dt(value: float) -> datetime:
    return datetime.fromtimestamp(value, tz=UTC)


def _shipment_of(event: Event) -> str:
    return event.subject or event.partitionkey or event.id


class _Table:
    """A SQLite connection shared by a policy's methods (and threads)."""

    def __init__(self, path: str | PathLike[str], schema: str, synchronous: str) -> None:
        if synchronous.upper() not in {"NORMAL", "FULL", "EXTRA"}:
            raise ConfigurationError("synchronous is NORMAL, FULL or EXTRA", path="synchronous")
        self._lock = threading.RLock()
        try:
            self.conn = sqlite3.connect(
                path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
            self.conn.execute(schema)
        except sqlite3.Error as exc:
            raise EventLogUnavailableError(f"cannot open the policy table: {exc}") from exc

    def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    out = fn(self.conn)
                except BaseException:
                    self.conn.execute("ROLLBACK")
                    raise
                self.conn.execute("COMMIT")
                return out
            except sqlite3.Error as exc:
                raise EventLogUnavailableError(f"policy table unavailable: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self.conn.close()


@attrs.frozen
class InvoiceHold:
    """Invoice release for ``shipment_id`` is held since ``since`` because of ``reason``."""

    shipment_id: str
    reason: str
    since: datetime
    event_id: str


@attrs.frozen
class Flag:
    """A condition a person should look at; raising it changed nothing else."""

    shipment_id: str
    kind: Literal["delivered_without_pod", "stale_feed"]
    since: datetime
    detail: str = ""


class InvoiceReleaseGate:
    """Holds invoice release while a shipment's latest news is an exception.

    A ``shipment.exception`` sets the hold; a progress milestone (:data:`PROGRESS_MILESTONES`)
    that happened *after* the exception clears it, as does :meth:`resolve`. An older progress
    event that arrives late does not clear a newer exception.
    """

    def __init__(
        self,
        path: str | PathLike[str] = ":memory:",
        *,
        table: str = "shipsync_invoice_holds",
        synchronous: str = "FULL",
    ) -> None:
        self.table = t = check_table(table)
        self._db = _Table(
            path,
            f"CREATE TABLE IF NOT EXISTS {t} (shipment_id TEXT PRIMARY KEY, exception_at REAL, "
            "reason TEXT, event_id TEXT, progress_at REAL, resolved_for REAL, resolved_by TEXT)",
            synchronous,
        )
        self._active = (
            "exception_at IS NOT NULL AND exception_at > coalesce(progress_at, -1) "
            "AND exception_at != coalesce(resolved_for, -1)"
        )

    def __call__(self, event: Event, ctx: HandlerContext | None = None) -> None:
        """Handle one event (subscribe the gate to milestone events or to all)."""
        if not isinstance(event, MilestoneEvent):
            return
        shipment, at, t = _shipment_of(event), _epoch(event.data.occurred_at), self.table
        if event.milestone is Milestone.EXCEPTION:
            reason = event.data.reason.value
            self._db.run(
                lambda c: c.execute(
                    f"INSERT INTO {t} (shipment_id, exception_at, reason, event_id) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (shipment_id) DO UPDATE SET "
                    "exception_at = excluded.exception_at, reason = excluded.reason, "
                    f"event_id = excluded.event_id WHERE {t}.exception_at IS NULL "
                    f"OR excluded.exception_at > {t}.exception_at",
                    (shipment, at, reason, event.id),
                )
            )
        elif event.milestone in PROGRESS_MILESTONES:
            self._db.run(
                lambda c: c.execute(
                    f"INSERT INTO {t} (shipment_id, progress_at) VALUES (?, ?) "
                    "ON CONFLICT (shipment_id) DO UPDATE SET progress_at = "
                    f"max(coalesce({t}.progress_at, -1), excluded.progress_at)",
                    (shipment, at),
                )
            )

    def hold_of(self, shipment_id: str) -> InvoiceHold | None:
        """The active hold of a shipment, if any."""
        row = self._db.run(
            lambda c: c.execute(
                f"SELECT shipment_id, reason, exception_at, event_id FROM {self.table} "
                f"WHERE shipment_id = ? AND {self._active}",
                (shipment_id,),
            ).fetchone()
        )
        return None if row is None else InvoiceHold(row[0], row[1], _dt(row[2]), row[3])

    def may_release(self, shipment_id: str) -> bool:
        """Whether the shipment's invoice may be released now."""
        return self.hold_of(shipment_id) is None

    def holds(self) -> list[InvoiceHold]:
        """Every active hold, oldest first."""
        rows = self._db.run(
            lambda c: c.execute(
                f"SELECT shipment_id, reason, exception_at, event_id FROM {self.table} "
                f"WHERE {self._active} ORDER BY exception_at"
            ).fetchall()
        )
        return [InvoiceHold(r[0], r[1], _dt(r[2]), r[3]) for r in rows]

    def resolve(self, shipment_id: str, *, by: str) -> bool:
        """Clear the current hold by hand (``by`` names who); False if there was none.

        A later exception holds release again.
        """
        count = self._db.run(
            lambda c: (
                c.execute(
                    f"UPDATE {self.table} SET resolved_for = exception_at, resolved_by = ? "
                    f"WHERE shipment_id = ? AND {self._active}",
                    (by, shipment_id),
                ).rowcount
            )
        )
        return bool(count)

    def close(self) -> None:
        """Close the table."""
        self._db.close()


class ProofOfDeliveryCheck:
    """Knows which delivered shipments have proof of delivery; flags those that do not."""

    def __init__(
        self,
        path: str | PathLike[str] = ":memory:",
        *,
        table: str = "shipsync_pod_check",
        synchronous: str = "FULL",
    ) -> None:
        self.table = t = check_table(table)
        self._db = _Table(
            path,
            f"CREATE TABLE IF NOT EXISTS {t} (shipment_id TEXT PRIMARY KEY, delivered_at REAL, "
            "pod_at REAL)",
            synchronous,
        )

    def __call__(self, event: Event, ctx: HandlerContext | None = None) -> None:
        """Handle ``shipment.delivered`` and ``pod.captured`` (others are ignored)."""
        shipment = _shipment_of(event)
        column: str
        if isinstance(event, MilestoneEvent) and event.milestone is Milestone.DELIVERED:
            column, at = "delivered_at", _epoch(event.data.occurred_at)
        elif isinstance(event, PodCaptured):
            column, at = "pod_at", _epoch(event.data.delivered_at)
            shipment = event.data.shipment_id
        else:
            return
        self._db.run(
            lambda c: c.execute(
                f"INSERT INTO {self.table} (shipment_id, {column}) VALUES (?, ?) "
                f"ON CONFLICT (shipment_id) DO UPDATE SET {column} = "
                f"coalesce(min({self.table}.{column}, excluded.{column}), excluded.{column})",
                (shipment, at),
            )
        )

    def ready_for_revenue(self, shipment_id: str) -> bool:
        """True only for a shipment that was delivered *and* has proof of delivery."""
        row = self._db.run(
            lambda c: c.execute(
                f"SELECT delivered_at, pod_at FROM {self.table} WHERE shipment_id = ?",
                (shipment_id,),
            ).fetchone()
        )
        return row is not None and row[0] is not None and row[1] is not None

    def flags(self, now: datetime, *, grace: timedelta = timedelta(0)) -> list[Flag]:
        """Shipments delivered more than ``grace`` before ``now`` with no proof of delivery."""
        cutoff = _epoch(now) - grace.total_seconds()
        rows = self._db.run(
            lambda c: c.execute(
                f"SELECT shipment_id, delivered_at FROM {self.table} "
                "WHERE delivered_at IS NOT NULL AND pod_at IS NULL AND delivered_at <= ? "
                "ORDER BY delivered_at",
                (cutoff,),
            ).fetchall()
        )
        return [
            Flag(r[0], "delivered_without_pod", _dt(r[1]), "delivered, no proof of delivery")
            for r in rows
        ]

    def close(self) -> None:
        """Close the table."""
        self._db.close()


class StaleFeedMonitor:
    """Flags shipments whose carrier feed went silent; never changes their state.

    Every milestone event updates the shipment's last-heard time (the newest ``occurred_at``
    seen) and whether it reached a final milestone. :meth:`check` returns a flag for each open
    shipment silent for longer than ``max_silence``.
    """

    def __init__(
        self,
        path: str | PathLike[str] = ":memory:",
        *,
        max_silence: timedelta = timedelta(hours=48),
        table: str = "shipsync_feed_watch",
        synchronous: str = "FULL",
    ) -> None:
        if max_silence <= timedelta(0):
            raise ConfigurationError("max_silence must be positive", path="max_silence")
        self.max_silence = max_silence
        self.table = t = check_table(table)
        self._db = _Table(
            path,
            f"CREATE TABLE IF NOT EXISTS {t} (shipment_id TEXT PRIMARY KEY, "
            "last_heard REAL NOT NULL, milestone TEXT NOT NULL, final INTEGER NOT NULL)",
            synchronous,
        )

    def __call__(self, event: Event, ctx: HandlerContext | None = None) -> None:
        """Record a milestone event's time (others are ignored)."""
        if not isinstance(event, MilestoneEvent):
            return
        final = event.milestone in FINAL_MILESTONES
        self._db.run(
            lambda c: c.execute(
                f"INSERT INTO {self.table} (shipment_id, last_heard, milestone, final) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (shipment_id) DO UPDATE SET "
                f"final = max({self.table}.final, excluded.final), "
                f"milestone = CASE WHEN excluded.last_heard > {self.table}.last_heard "
                f"THEN excluded.milestone ELSE {self.table}.milestone END, "
                f"last_heard = max({self.table}.last_heard, excluded.last_heard)",
                (_shipment_of(event), _epoch(event.data.occurred_at), event.milestone.value, final),
            )
        )

    def check(self, now: datetime) -> list[Flag]:
        """A flag for every open shipment not heard of for longer than ``max_silence``."""
        cutoff = _epoch(now) - self.max_silence.total_seconds()
        rows: Sequence[Any] = self._db.run(
            lambda c: c.execute(
                f"SELECT shipment_id, last_heard, milestone FROM {self.table} "
                "WHERE final = 0 AND last_heard < ? ORDER BY last_heard",
                (cutoff,),
            ).fetchall()
        )
        return [
            Flag(r[0], "stale_feed", _dt(r[1]), f"last milestone {r[2]!r}, then silence")
            for r in rows
        ]

    def close(self) -> None:
        """Close the table."""
        self._db.close()
