"""An asyncio face for a synchronous event log: calls run in a worker thread."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from shipsync._closing import AsyncClosing, Closing
from shipsync.canonical import Event

from ._log import AsyncEventLog, Delivery, EventLog

__all__ = ["BlockingEventLog", "ThreadedAsyncLog"]

T = TypeVar("T")

_POLL = 0.02


class ThreadedAsyncLog(AsyncClosing):
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


class BlockingEventLog(Closing):
    """A synchronous face for an asyncio event log (RabbitMQ, say), for WSGI hosts and scripts.

    The async log lives on its own event loop in a daemon thread; each call blocks until that
    loop has run it. So a synchronous ``WebhookReceiver`` can hand off to the RabbitMQ log::

        sink = BlockingEventLog(lambda: RabbitMQEventLog(url, name="shipsync.events"))

    ``factory`` builds the async log inside the thread's loop (aio-pika objects belong to the
    loop that made them).
    """

    def __init__(self, factory: Callable[[], AsyncEventLog], *, timeout: float = 60.0) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="shipsync-event-log", daemon=True
        )
        self._thread.start()
        self._timeout = timeout

        async def build() -> AsyncEventLog:
            return factory()

        self.log = self._run(build())

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(self._timeout)

    def publish(self, events: Sequence[Event]) -> None:
        """Append ``events`` durably."""
        self._run(self.log.publish(events))

    def receive(self, max_events: int = 100, timeout: float = 0.0) -> list[Delivery]:
        """Up to ``max_events`` deliveries, waiting up to ``timeout`` seconds."""
        return self._run(self.log.receive(max_events, timeout))

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Mark deliveries done."""
        self._run(self.log.ack(deliveries))

    def release(self, deliveries: Sequence[Delivery], delay: float = 0.0) -> None:
        """Give deliveries back unprocessed."""
        self._run(self.log.release(deliveries, delay))

    def close(self) -> None:
        """Close the log and stop its thread."""
        try:
            self._run(self.log.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()
