"""Where a receiver hands verified, parsed, deduplicated events: the sink contract.

A sink's ``publish`` is durable when it returns: the events are stored (an event log, an outbox
table, a queue with publisher confirms) and will be processed even if this process dies the next
instant. The receiver answers 2xx only after ``publish`` returned. A sink that cannot take the
events raises a ``shipsync.errors`` error (``UnavailableError`` when it is down); the receiver
then releases the delivery so the sender's retry is processed, and answers 503.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from shipsync.canonical import Event

__all__ = ["AsyncEventSink", "EventSink"]


@runtime_checkable
class EventSink(Protocol):
    """Takes canonical events durably (synchronous)."""

    def publish(self, events: Sequence[Event]) -> None:
        """Store ``events`` durably, in order; raise a ``ShipsyncError`` if that is impossible."""
        ...


@runtime_checkable
class AsyncEventSink(Protocol):
    """Takes canonical events durably (asyncio)."""

    async def publish(self, events: Sequence[Event]) -> None:
        """Store ``events`` durably, in order; raise a ``ShipsyncError`` if that is impossible."""
        ...
