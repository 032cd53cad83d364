"""An asyncio face for a synchronous event log: calls run in a worker thread."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from shipsync.canonical import Event

from ._log import Delivery, EventLog

__all__ = ["ThreadedAsyncLog"]

_POLL = 0.02


class ThreadedAsyncLog:
    """Runs a synchronous :class:`EventLog`'s calls in a thread; ``receive`` polls without blocking.

    The loop keeps running while the database works, so one process may run several consumers.
    """

    def __init__(self, log: EventLog, *, poll_interval: float = _POLL) -> None:
        self.sync = log
        self._poll = poll_interval

    async def publish(self, events: Sequence[Event]) -> None:
        """Append ``events`` durably."""
        await asyncio.to_thread(self.sync.publish, events)

    async def receive(self, max_events: int = 100, timeout: float = 1.0) -> list[Delivery]:
        """Up to ``max_events`` deliveries, waiting up to ``timeout`` seconds for the first."""
        deadline = time.monotonic() + timeout
        while True:
            got = await asyncio.to_thread(self.sync.receive, max_events, 0.0)
            if got or time.monotonic() >= deadline:
                return got
            await asyncio.sleep(min(self._poll, max(0.0, deadline - time.monotonic())))

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Mark deliveries done."""
        await asyncio.to_thread(self.sync.ack, deliveries)

    async def release(self, deliveries: Sequence[Delivery], delay: float = 0.0) -> None:
        """Give deliveries back unprocessed."""
        await asyncio.to_thread(self.sync.release, deliveries, delay)

    async def close(self) -> None:
        """Close the underlying log."""
        await asyncio.to_thread(self.sync.close)
