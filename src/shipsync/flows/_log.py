"""The event log contract every backend (SQLite, PostgreSQL, RabbitMQ) keeps.

Theory of operation. ``publish(events)`` returns only once the events are durable: a webhook
receiver may acknowledge its sender then. Each event belongs to one *partition*, its
``partitionkey`` (the shipment id by default). Consumers call ``receive`` and get
:class:`Delivery` values; while a consumer holds a partition's deliveries, no other consumer
receives that partition, and a partition's events always come in the order they were published.
So one shipment's events are handled in order while shipments run in parallel.

Delivery is *at least once*: a delivery that is not acknowledged (the consumer crashed, its lease
ran out, or it called ``release``) comes again, with ``attempt`` raised. ``ack`` is idempotent and
never goes backwards. Handling an event twice is therefore normal, and the dispatcher absorbs it
through the idempotency store.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import attrs

from shipsync.canonical import Event, EventCatalogue
from shipsync.errors import ShipsyncError

__all__ = [
    "AsyncEventLog",
    "Delivery",
    "EventLog",
    "decode_delivery",
    "partition_of",
    "partition_slot",
]


def partition_of(event: Event) -> str:
    """The partition an event belongs to: its ``partitionkey``, else its subject, else its id."""
    return event.partitionkey or event.subject or event.id


def partition_slot(partition: str, slots: int) -> int:
    """A stable slot in ``range(slots)`` for a partition (CRC-32, the same on every machine)."""
    return zlib.crc32(partition.encode()) % slots


@attrs.frozen
class Delivery:
    """One event handed to one consumer.

    ``event`` is None when the stored body no longer parses with the consumer's catalogue (an
    unknown type, say); ``error`` then says why, and the dispatcher dead-letters it. ``position``
    orders the deliveries of one partition; ``attempt`` is 1 on the first delivery. ``receipt`` is
    the backend's handle for ``ack``/``release`` and means nothing to callers.
    """

    partition: str
    position: int
    body: bytes = attrs.field(repr=False)
    event: Event | None
    attempt: int = 1
    error: str | None = None
    receipt: object = attrs.field(default=None, eq=False, repr=False)


def decode_delivery(
    catalogue: EventCatalogue,
    partition: str,
    position: int,
    body: bytes,
    attempt: int,
    receipt: object,
) -> Delivery:
    """Parse ``body`` into a :class:`Delivery`; a body that does not parse keeps its error."""
    try:
        event: Event | None = catalogue.parse(body)
        error = None
    except ShipsyncError as exc:
        event, error = None, f"{type(exc).__name__}: {exc}"
    return Delivery(
        partition=partition,
        position=position,
        body=body,
        event=event,
        attempt=attempt,
        error=error,
        receipt=receipt,
    )


@runtime_checkable
class AsyncEventLog(Protocol):
    """An event log used from asyncio; the shape the dispatcher and the conformance suite use.

    It is also a webhook ``AsyncEventSink``: ``publish`` is durable when it returns.
    """

    async def publish(self, events: Sequence[Event]) -> None:
        """Append ``events`` durably; each goes to the partition :func:`partition_of` names."""
        ...

    async def receive(self, max_events: int = 100, timeout: float = 1.0) -> list[Delivery]:
        """Up to ``max_events`` deliveries, waiting up to ``timeout`` seconds for the first one.

        Deliveries of one partition come in publish order; an empty list means nothing arrived.
        """
        ...

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Mark deliveries done; they are not delivered again."""
        ...

    async def release(self, deliveries: Sequence[Delivery], delay: float = 0.0) -> None:
        """Give deliveries back unprocessed; their partitions come again after ``delay`` s."""
        ...

    async def close(self) -> None:
        """Close connections; unacknowledged deliveries come again to another consumer."""
        ...


@runtime_checkable
class EventLog(Protocol):
    """The synchronous twin of :class:`AsyncEventLog` (SQLite and PostgreSQL offer it).

    It is also a webhook ``EventSink``: ``publish`` is durable when it returns.
    """

    def publish(self, events: Sequence[Event]) -> None:
        """Append ``events`` durably."""
        ...

    def receive(self, max_events: int = 100, timeout: float = 0.0) -> list[Delivery]:
        """Up to ``max_events`` deliveries, polling up to ``timeout`` seconds."""
        ...

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Mark deliveries done."""
        ...

    def release(self, deliveries: Sequence[Delivery], delay: float = 0.0) -> None:
        """Give deliveries back unprocessed."""
        ...

    def close(self) -> None:
        """Close the connection."""
        ...
