"""The notifier: from carrier events to notification events, each change once per channel.

Theory of operation. :meth:`Notifier.observe` runs as a dispatcher handler on shipment events
(one shipment's events in order, shipments in parallel). It keeps, in its own SQLite file
(:class:`NotifyState`), every tracking event of the shipment (deduplicated by event id), the
booked shipment (for its recipient and references) and the predicted delivery date, folds the
events with :func:`shipsync.canonical.fold` and projects the result onto the customer
vocabulary. For each recipient and each channel the rules route that status to, a *route* row
remembers the rank the customer was last told (``shown``) and a *pending* change waiting for its
time (``due_at``: the end of the coalescing window, pushed past the recipient's quiet hours). A
projected status becomes pending only when its rank is above both, so nothing goes backwards and
a later change inside the window replaces the pending one: a burst becomes one message.

:meth:`Notifier.flush` publishes a :class:`NotificationRequested` event for every due pending
change into the event log, then records it as shown. The event id hashes (shipment, recipient,
channel, status), so a crash between the publish and the record publishes the same event again,
and the dispatcher's idempotency store absorbs it: each channel handler sends each change at most
once (at least once only when a process dies between a send and the record of its completion;
the message id, the same every time, lets the receiver drop that repeat).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from os import PathLike
from typing import ClassVar

import attrs

from shipsync.canonical import (
    MILESTONE_EVENT_TYPES,
    Event,
    FreightRateQuoted,
    MilestoneEvent,
    Shipment,
    ShipmentCreated,
    TrackingEvent,
    fold,
)
from shipsync.errors import ConfigurationError

from ._model import Notification, NotificationRequested, Recipient, notification_id, requested
from ._rules import Rules
from ._sqlite import Connection, Database, PostgresDatabase, SQLiteDatabase
from ._status import CustomerStatus, CustomerView, StatusProjection

__all__ = ["Notifier", "NotifyState", "PostgresNotifyState", "default_recipients"]

_TABLE_PREFIX = "notify"


def default_recipients(shipment: Shipment | None, shipment_id: str) -> list[Recipient]:
    """The shipment's consignee, under the id ``shipment:<id>``, with the contact once booked.

    The id does not change when the booking arrives after the first scans (carriers send late),
    so what the customer was told stays attached to one recipient; it also carries no personal
    data into webhook payloads and keys. Preferences per customer need a host callable that
    names the customer by its own id.
    """
    contact = shipment.recipient.contact if shipment is not None else None
    email = contact.email if contact is not None else None
    name = (contact.name if contact is not None else None) or (
        shipment.recipient.name if shipment is not None else None
    )
    return [Recipient(id=f"shipment:{shipment_id}", email=email or None, name=name)]


_WHAT = "notify state"


def _schema(*, real: str, blob: str) -> tuple[str, ...]:
    """The tables, in the types of one engine."""
    p = _TABLE_PREFIX
    return (
        f"CREATE TABLE IF NOT EXISTS {p}_shipments (shipment_id TEXT PRIMARY KEY, "
        f"shipment {blob}, predicted TEXT)",
        f"CREATE TABLE IF NOT EXISTS {p}_tracking (shipment_id TEXT NOT NULL, "
        f"event_id TEXT NOT NULL, body {blob} NOT NULL, PRIMARY KEY (shipment_id, event_id))",
        f"CREATE TABLE IF NOT EXISTS {p}_routes (shipment_id TEXT NOT NULL, "
        "recipient_id TEXT NOT NULL, channel TEXT NOT NULL, "
        "shown_status TEXT, shown_rank INTEGER NOT NULL DEFAULT -1, "
        f"pending_rank INTEGER, pending {blob}, due_at {real}, "
        "PRIMARY KEY (shipment_id, recipient_id, channel))",
        f"CREATE INDEX IF NOT EXISTS {p}_routes_due ON {p}_routes (due_at) "
        "WHERE due_at IS NOT NULL",
        f"CREATE TABLE IF NOT EXISTS {p}_sent (key TEXT PRIMARY KEY, at {real} NOT NULL)",
    )


class NotifyState:
    """The notifier's memory in a SQLite file: tracking events, shipments and routes."""

    def __init__(self, path: str | PathLike[str]) -> None:
        self.db: Database = SQLiteDatabase(path, _schema(real="REAL", blob="BLOB"), what=_WHAT)

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    def record(self, event: Event) -> str | None:
        """Keep what ``event`` says about its shipment; return the shipment id (None: not ours)."""
        if isinstance(event, ShipmentCreated):
            sid = event.data.shipment_id
            body = event.data.model_dump_json().encode()

            def put_shipment(conn: Connection) -> None:
                conn.execute(
                    f"INSERT INTO {_TABLE_PREFIX}_shipments (shipment_id, shipment) VALUES (?, ?) "
                    "ON CONFLICT (shipment_id) DO UPDATE SET shipment = excluded.shipment",
                    (sid, body),
                )

            self.db.tx(put_shipment)
            return sid
        if isinstance(event, FreightRateQuoted):
            sid = event.data.shipment_id
            when = event.data.rate.estimated_delivery
            if when is None:
                return sid
            day = when.isoformat()

            def put_predicted(conn: Connection) -> None:
                conn.execute(
                    f"INSERT INTO {_TABLE_PREFIX}_shipments (shipment_id, predicted) VALUES (?, ?) "
                    "ON CONFLICT (shipment_id) DO UPDATE SET predicted = excluded.predicted",
                    (sid, day),
                )

            self.db.tx(put_predicted)
            return sid
        if isinstance(event, MilestoneEvent):
            tracking = event.data
            raw = tracking.model_dump_json().encode()

            def put_tracking(conn: Connection) -> None:
                conn.execute(
                    f"INSERT INTO {_TABLE_PREFIX}_tracking VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    (tracking.shipment_id, tracking.event_id, raw),
                )

            self.db.tx(put_tracking)
            return tracking.shipment_id
        return None

    def shipment(self, shipment_id: str) -> tuple[Shipment | None, date | None]:
        """The booked shipment (if seen) and its predicted delivery date (if quoted)."""

        def read(conn: Connection) -> tuple[bytes | None, str | None] | None:
            row = conn.execute(
                f"SELECT shipment, predicted FROM {_TABLE_PREFIX}_shipments WHERE shipment_id = ?",
                (shipment_id,),
            ).fetchone()
            return None if row is None else (row[0], row[1])

        row = self.db.tx(read)
        if row is None:
            return None, None
        body, predicted = row
        shipment = Shipment.model_validate_json(body) if body else None
        return shipment, date.fromisoformat(predicted) if predicted else None

    def tracking(self, shipment_id: str) -> list[TrackingEvent]:
        """Every tracking event of the shipment kept so far."""

        def read(conn: Connection) -> list[bytes]:
            rows = conn.execute(
                f"SELECT body FROM {_TABLE_PREFIX}_tracking WHERE shipment_id = ?", (shipment_id,)
            ).fetchall()
            return [r[0] for r in rows]

        return [TrackingEvent.model_validate_json(b) for b in self.db.tx(read)]

    def offer(self, notification: Notification, rank: int, due_at: float) -> bool:
        """Make ``notification`` its route's pending change when it ranks above what is known.

        A pending change keeps its due time (the coalescing window runs from the first change)
        unless the new one is due later (quiet hours). Returns whether it was taken.
        """
        n = notification
        key = (n.shipment_id, n.recipient.id, n.channel)
        body = n.model_dump_json().encode()

        def write(conn: Connection) -> bool:
            row = conn.execute(
                f"SELECT shown_rank, pending_rank, due_at FROM {_TABLE_PREFIX}_routes "
                "WHERE shipment_id = ? AND recipient_id = ? AND channel = ?",
                key,
            ).fetchone()
            if row is None:
                conn.execute(
                    f"INSERT INTO {_TABLE_PREFIX}_routes (shipment_id, recipient_id, channel, "
                    "pending_rank, pending, due_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (*key, rank, body, due_at),
                )
                return True
            shown_rank, pending_rank, current_due = row
            if rank <= max(shown_rank, pending_rank if pending_rank is not None else -1):
                return False
            # The coalescing window runs from the first pending change: a later one rides on it.
            due = due_at if current_due is None else current_due
            conn.execute(
                f"UPDATE {_TABLE_PREFIX}_routes SET pending_rank = ?, pending = ?, due_at = ? "
                "WHERE shipment_id = ? AND recipient_id = ? AND channel = ?",
                (rank, body, due, *key),
            )
            return True

        return self.db.tx(write)

    def due(
        self, now: float, limit: int = 1000, shipment_id: str | None = None
    ) -> list[tuple[Notification, int]]:
        """Pending changes whose time has come (of one shipment, if given), with their ranks."""

        def read(conn: Connection) -> list[tuple[bytes, int]]:
            sql = (
                f"SELECT pending, pending_rank FROM {_TABLE_PREFIX}_routes "
                "WHERE due_at IS NOT NULL AND due_at <= ?"
            )
            args: list[object] = [now]
            if shipment_id is not None:
                sql += " AND shipment_id = ?"
                args.append(shipment_id)
            return conn.execute(sql + " ORDER BY due_at LIMIT ?", [*args, limit]).fetchall()

        return [(Notification.model_validate_json(b), r) for b, r in self.db.tx(read)]

    def shown(self, items: Sequence[tuple[Notification, int]]) -> None:
        """Record published changes as shown (each only if it is still the pending one)."""

        def write(conn: Connection) -> None:
            for n, rank in items:
                conn.execute(
                    f"UPDATE {_TABLE_PREFIX}_routes SET shown_status = ?, shown_rank = ?, "
                    "pending = NULL, pending_rank = NULL, due_at = NULL "
                    "WHERE shipment_id = ? AND recipient_id = ? AND channel = ? "
                    "AND pending_rank = ?",
                    (n.status.value, rank, n.shipment_id, n.recipient.id, n.channel, rank),
                )

        self.db.tx(write)

    def was_sent(self, key: str) -> bool:
        """Whether a send under ``key`` (a dispatcher pair key) was recorded."""

        def read(conn: Connection) -> bool:
            row = conn.execute(f"SELECT 1 FROM {_TABLE_PREFIX}_sent WHERE key = ?", (key,))
            return row.fetchone() is not None

        return self.db.tx(read)

    def mark_sent(self, key: str, at: float) -> None:
        """Record that the send under ``key`` went out (right after the channel took it)."""
        self.db.tx(
            lambda conn: conn.execute(
                f"INSERT INTO {_TABLE_PREFIX}_sent VALUES (?, ?) ON CONFLICT DO NOTHING", (key, at)
            )
        )

    def last_shown(self, shipment_id: str, recipient_id: str, channel: str) -> str | None:
        """The status last shown on a route, if any."""

        def read(conn: Connection) -> str | None:
            row = conn.execute(
                f"SELECT shown_status FROM {_TABLE_PREFIX}_routes WHERE shipment_id = ? "
                "AND recipient_id = ? AND channel = ?",
                (shipment_id, recipient_id, channel),
            ).fetchone()
            return None if row is None else row[0]

        return self.db.tx(read)


class PostgresNotifyState(NotifyState):
    """:class:`NotifyState` in a PostgreSQL database (psycopg 3, the ``postgres`` extra).

    ``conninfo`` is a ``postgresql://`` URL or libpq ``key=value`` string; the tables are made
    when missing. Several notifier processes may share it: every change runs in one transaction
    under the store's advisory lock.
    """

    def __init__(self, conninfo: str) -> None:
        self.db = PostgresDatabase(
            conninfo, _schema(real="DOUBLE PRECISION", blob="BYTEA"), what=_WHAT
        )


Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@attrs.define
class Notifier:
    """Turns shipment events into notification events, per the rules.

    Args:
        state: the notifier's SQLite memory.
        rules: which status goes to which channel, when, and preferences.
        projection: the customer vocabulary and its ranks.
        recipients: who to tell about a shipment (default: its consignee).
        promised: the delivery date promised to the customer, by shipment id (host data).
        reachable: channel -> whether a recipient can be reached on it (an e-mail channel
            needs an address); channels not named reach everyone.
        clock: the current time (UTC-aware).
        sweep_interval: at most this often (seconds), :meth:`handle` also publishes every
            other shipment's held changes that came due (quiet hours over, a coalescing window
            closed), so a busy dispatcher releases them without a flusher.
    """

    state: NotifyState
    rules: Rules
    projection: StatusProjection = attrs.Factory(StatusProjection)
    recipients: Callable[[Shipment | None, str], Sequence[Recipient]] = default_recipients
    promised: Callable[[str], date | None] = lambda _sid: None
    reachable: dict[str, Callable[[Recipient], bool]] = attrs.Factory(dict)
    clock: Clock = _utcnow
    sweep_interval: float = 1.0
    _flushing: asyncio.Lock = attrs.field(init=False, factory=asyncio.Lock)
    _swept: float = attrs.field(init=False, default=float("-inf"))

    EVENT_TYPES: ClassVar[tuple[str, ...]] = (
        ShipmentCreated.event_type(),
        FreightRateQuoted.event_type(),
        *(cls.event_type() for cls in MILESTONE_EVENT_TYPES.values()),
    )
    """The event types :meth:`observe` reads."""

    def view(self, shipment_id: str) -> CustomerView | None:
        """What the customer should see about ``shipment_id`` now (None: nothing yet)."""
        shipment, predicted = self.state.shipment(shipment_id)
        events = self.state.tracking(shipment_id)
        tracking_numbers = shipment.tracking_numbers if shipment is not None else ()
        state = fold(events, shipment_id=shipment_id, tracking_numbers=tracking_numbers)
        return self.projection.project(
            state, promised=self.promised(shipment_id), predicted=predicted
        )

    def decide(self, shipment_id: str) -> list[Notification]:
        """Offer the shipment's current customer status to every route; return those taken."""
        view = self.view(shipment_id)
        if view is None:
            return []
        shipment, _ = self.state.shipment(shipment_id)
        now = self.clock()
        if now.tzinfo is None:
            raise ConfigurationError("the notifier's clock must be timezone-aware", path="clock")
        taken = []
        for recipient in self.recipients(shipment, shipment_id):
            for channel, rule in self.rules.routes(view.status, recipient).items():
                check = self.reachable.get(channel)
                if check is not None and not check(recipient):
                    continue
                previous = self.state.last_shown(shipment_id, recipient.id, channel)
                n = Notification(
                    notification_id=notification_id(
                        shipment_id, recipient.id, channel, view.status.value
                    ),
                    channel=channel,
                    shipment_id=shipment_id,
                    recipient=recipient,
                    status=view.status,
                    previous=CustomerStatus(previous) if previous else None,
                    reason=view.reason,
                    promised=view.promised,
                    predicted=view.predicted,
                    changed_at=view.changed_at,
                    requested_at=now,
                    order_reference=shipment.order_reference if shipment else None,
                    carrier=shipment.carrier if shipment else None,
                    tracking_numbers=shipment.tracking_numbers if shipment else (),
                )
                due = rule.due_at(now, recipient).timestamp()
                if self.state.offer(n, view.rank, due):
                    taken.append(n)
        return taken

    async def observe(self, event: Event) -> list[Notification]:
        """Record ``event`` and schedule the changes it makes (run as a dispatcher handler)."""
        shipment_id = await asyncio.to_thread(self.state.record, event)
        if shipment_id is None:
            return []
        return await asyncio.to_thread(self.decide, shipment_id)

    async def handle(self, event: Event, publish: Callable[[Sequence[Event]], object]) -> int:
        """Observe ``event``, then publish its shipment's due changes (the dispatcher handler).

        The flush runs even when this event changed nothing: a change recorded by a process
        that died before publishing it goes out with the shipment's next event. Every
        ``sweep_interval`` seconds the flush takes every shipment's due changes, so changes held
        by quiet hours or a coalescing window go out with whatever event comes next (a host's
        quiet spell is covered by :meth:`NotificationService.run`, which also flushes on a timer).
        """
        shipment_id = await asyncio.to_thread(self.state.record, event)
        if shipment_id is None:
            return 0
        await asyncio.to_thread(self.decide, shipment_id)
        sent = await self.flush(publish, shipment_id=shipment_id)
        now = time.monotonic()
        if now - self._swept >= self.sweep_interval:
            self._swept = now
            sent += await self.flush(publish)
        return sent

    def due(self, now: datetime | None = None) -> list[NotificationRequested]:
        """The notification events due now (not yet recorded as published)."""
        at = now or self.clock()
        return [requested(n, at=at) for n, _ in self.state.due(at.timestamp())]

    async def flush(
        self, publish: Callable[[Sequence[Event]], object], *, shipment_id: str | None = None
    ) -> int:
        """Publish every due notification event with ``publish``, then record them as shown.

        ``publish`` is an event log's ``publish`` (sync or async); ``shipment_id`` limits the
        flush to one shipment. Flushes of one notifier run one at a time (two at once would
        publish the same events twice: harmless, the ids are equal, but wasted). Returns how
        many went out.
        """
        async with self._flushing:
            at = self.clock()
            items = await asyncio.to_thread(self.state.due, at.timestamp(), 1000, shipment_id)
            if not items:
                return 0
            events = [requested(n, at=at) for n, _ in items]
            result = publish(events)
            if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                await result
            await asyncio.to_thread(self.state.shown, items)
            return len(items)


def notification_of(event: Event) -> Notification | None:
    """The notification an event carries (None for any other event)."""
    if isinstance(event, NotificationRequested):
        return event.data
    if event.type == NotificationRequested.event_type() and isinstance(event.data, dict):
        return Notification.model_validate(event.data)
    return None
