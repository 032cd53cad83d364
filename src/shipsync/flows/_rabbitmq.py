"""RabbitMQ event log (aio-pika): quorum queues, confirms, manual acks, a dead-letter exchange.

Theory of operation. The log ``name`` is a direct exchange bound to ``queues`` durable quorum
queues ``{name}.0`` ... Each event goes to queue ``partition_slot(partition, queues)`` (CRC-32 of
its partition key, computed by the publisher, so no broker plugin is needed), persistent, with
publisher confirms: ``publish`` returns once the broker confirmed every message. The events of
one ``publish`` bound for one queue travel together, up to ``batch_events`` per message, which
saves most of the per-message cost; a message is acknowledged once all its events are, and a
released event sends its whole message back (the dispatcher skips the events already handled).
Each queue has
``x-single-active-consumer``: every worker subscribes to every queue, the broker delivers a queue
to one of them at a time and fails it over to the next when that consumer goes away. A queue is
therefore consumed in order by one worker, which keeps each partition in order while the queues
spread partitions over workers. To spread the queues, a worker told its ``consumer_index`` among
``consumers`` subscribes to its own share first and to the others (as a standby) a moment later.

Acks are manual. Unacknowledged messages of a lost connection go back to their queue and come
again with ``x-delivery-count`` raised; a message delivered more than ``delivery_limit`` times (a
poison message that kills its workers) goes to the dead-letter exchange ``{name}.dlx`` and its
queue ``{name}.dead`` instead of looping.
"""

from __future__ import annotations

import asyncio
import collections
import time
import uuid
from collections.abc import Sequence
from typing import Any

import attrs

from shipsync._closing import AsyncClosing
from shipsync.canonical import Event, EventCatalogue, default_catalogue
from shipsync.errors import ConfigurationError, EventLogUnavailableError, MissingDependencyError
from shipsync.telemetry import _hooks as _telemetry

from ._log import Delivery, decode_delivery, partition_of, partition_slot

__all__ = ["RabbitMQEventLog"]


_BATCH_TYPE = "application/x-ndjson"


class _Held:
    """One AMQP message and how many of its events are not settled yet."""

    __slots__ = ("message", "outstanding", "released")

    def __init__(self, message: Any, outstanding: int) -> None:
        self.message = message
        self.outstanding = outstanding
        self.released = False


def _aio_pika() -> Any:
    try:
        import aio_pika
    except ImportError as exc:  # pragma: no cover - the extra is installed in CI
        raise MissingDependencyError("the RabbitMQ event log", "rabbitmq") from exc
    return aio_pika


def _check_name(name: str) -> str:
    if not name or len(name) > 100 or not all(c.isalnum() or c in "._-" for c in name):
        raise ConfigurationError("a log name is 1-100 of [A-Za-z0-9._-]", path="name")
    return name


class RabbitMQEventLog(AsyncClosing):
    """An event log on RabbitMQ. Each instance holds one connection; open one per worker.

    Args:
        url: the AMQP URL (``amqp://guest:guest@127.0.0.1:5672/``).
        name: names the exchange and queues; every handle of one log uses the same name and
            the same ``queues``.
        queues: how many queues the partitions spread over (more queues, more parallel workers).
        prefetch: unacknowledged messages a worker may hold.
        delivery_limit: deliveries of one message before it is dead-lettered.
        consumer_index, consumers: this worker's index among ``consumers`` workers, to spread
            the queues; without them a worker subscribes to all queues at once.
        standby_delay: seconds before a worker also subscribes to the other workers' queues.
    """

    def __init__(
        self,
        url: str,
        *,
        name: str = "shipsync.events",
        queues: int = 8,
        prefetch: int = 200,
        delivery_limit: int = 20,
        consumer_index: int | None = None,
        consumers: int | None = None,
        standby_delay: float = 0.5,
        catalogue: EventCatalogue = default_catalogue,
        connection_name: str | None = None,
        batch_events: int = 100,
    ) -> None:
        if queues < 1:
            raise ConfigurationError("queues must be at least 1", path="queues")
        self._pika = _aio_pika()
        self.url = url
        self.name = _check_name(name)
        self.queues = queues
        self.prefetch = prefetch
        self.delivery_limit = delivery_limit
        self.catalogue = catalogue
        self.connection_name = connection_name or f"shipsync-flows-{uuid.uuid4().hex[:8]}"
        self._index = consumer_index
        self._consumers = consumers
        self._standby_delay = standby_delay
        self._conn: Any = None
        self._pub: Any = None
        self._exchange: Any = None
        self._sub: Any = None
        self._inbox: asyncio.Queue[Any] | None = None
        self._standby_task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._broken = False
        self._ready: collections.deque[Delivery] = collections.deque()
        self.batch_events = batch_events

    # -- connection and topology -------------------------------------------------------------

    def queue_name(self, slot: int) -> str:
        """The name of queue ``slot``."""
        return f"{self.name}.{slot}"

    def _alive(self) -> bool:
        return self._conn is not None and not self._conn.is_closed and not self._broken

    def _on_close(self, *args: object) -> None:
        # aio-pika's is_closed does not turn True when the broker closes the connection.
        self._broken = True

    async def _connect(self) -> Any:
        if self._alive():
            return self._conn
        await self._reset()
        pika = self._pika
        try:
            self._broken = False
            self._conn = await pika.connect(
                self.url,
                client_properties={"connection_name": self.connection_name},
                timeout=10,
            )
            self._conn.close_callbacks.add(self._on_close)
            self._pub = await self._conn.channel(publisher_confirms=True)
            self._exchange = await self._declare(self._pub)
        except (TimeoutError, OSError, pika.exceptions.AMQPException) as exc:
            await self._reset()
            raise EventLogUnavailableError(f"cannot reach RabbitMQ: {type(exc).__name__}") from exc
        return self._conn

    async def _declare(self, channel: Any) -> Any:
        pika = self._pika
        dlx = await channel.declare_exchange(
            f"{self.name}.dlx", pika.ExchangeType.FANOUT, durable=True
        )
        dead = await channel.declare_queue(
            f"{self.name}.dead", durable=True, arguments={"x-queue-type": "quorum"}
        )
        await dead.bind(dlx)
        exchange = await channel.declare_exchange(self.name, pika.ExchangeType.DIRECT, durable=True)
        for slot in range(self.queues):
            queue = await channel.declare_queue(
                self.queue_name(slot),
                durable=True,
                arguments={
                    "x-queue-type": "quorum",
                    "x-single-active-consumer": True,
                    "x-dead-letter-exchange": f"{self.name}.dlx",
                    "x-delivery-limit": self.delivery_limit,
                },
            )
            await queue.bind(exchange, routing_key=str(slot))
        return exchange

    async def _reset(self) -> None:
        if self._standby_task is not None:
            self._standby_task.cancel()
            self._standby_task = None
        conn, self._conn = self._conn, None
        self._pub = self._exchange = self._sub = None
        self._inbox = None
        self._ready.clear()
        if conn is not None and not conn.is_closed:
            try:
                await asyncio.wait_for(conn.close(), 5)
                await asyncio.sleep(0.01)  # let aio-pika's close callbacks finish
            except Exception:  # pragma: no cover - a broken connection may fail to close
                return

    async def setup(self) -> None:
        """Declare the exchanges and queues now (publish and receive do it on first use)."""
        async with self._lock:
            await self._connect()

    async def close(self) -> None:
        """Close the connection; unacknowledged messages go back to their queues."""
        async with self._lock:
            await self._reset()

    async def delete(self) -> None:
        """Delete this log's queues and exchanges (tests and benchmarks clean up with it)."""
        async with self._lock:
            await self._connect()
            channel = await self._conn.channel()
            for slot in range(self.queues):
                await channel.queue_delete(self.queue_name(slot))
            await channel.queue_delete(f"{self.name}.dead")
            await channel.exchange_delete(self.name)
            await channel.exchange_delete(f"{self.name}.dlx")
            await channel.close()
            await self._reset()

    # -- the contract ------------------------------------------------------------------------

    @_telemetry.traced_publish  # telemetry
    async def publish(self, events: Sequence[Event]) -> None:
        """Publish persistent messages and wait for the broker's confirms.

        Events bound for one queue travel together, up to ``batch_events`` per message (one
        event JSON per line), in publish order.
        """
        if not events:
            return
        pika = self._pika
        async with self._lock:
            await self._connect()
            exchange = self._exchange
        by_slot: dict[int, list[bytes]] = {}
        for event in events:
            slot = partition_slot(partition_of(event), self.queues)
            by_slot.setdefault(slot, []).append(event.to_json())
        messages = []
        for slot, bodies in by_slot.items():
            for start in range(0, len(bodies), self.batch_events):
                chunk = bodies[start : start + self.batch_events]
                messages.append(
                    (
                        pika.Message(
                            b"\n".join(chunk),
                            delivery_mode=pika.DeliveryMode.PERSISTENT,
                            content_type=_BATCH_TYPE,
                            headers={"count": len(chunk)},
                        ),
                        str(slot),
                    )
                )
        results = await asyncio.gather(
            *(exchange.publish(m, routing_key=rk, mandatory=True) for m, rk in messages),
            return_exceptions=True,
        )
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            async with self._lock:
                await self._reset()
            raise EventLogUnavailableError(
                f"RabbitMQ did not confirm {len(failed)} of {len(messages)} messages: "
                f"{type(failed[0]).__name__}"
            ) from failed[0]

    async def _subscribe(self) -> asyncio.Queue[Any]:
        if self._inbox is not None and self._alive():
            return self._inbox
        await self._connect()
        inbox: asyncio.Queue[Any] = asyncio.Queue()
        channel = await self._conn.channel()
        await channel.set_qos(prefetch_count=self.prefetch)
        self._sub = channel

        async def on_message(message: Any) -> None:
            inbox.put_nowait(message)

        own: list[int] = list(range(self.queues))
        others: list[int] = []
        if self._index is not None and self._consumers:
            own = [s for s in range(self.queues) if s % self._consumers == self._index]
            others = [s for s in range(self.queues) if s % self._consumers != self._index]
        for slot in own:
            queue = await channel.get_queue(self.queue_name(slot), ensure=False)
            await queue.consume(on_message, no_ack=False)

        async def standby() -> None:
            await asyncio.sleep(self._standby_delay)
            for slot in others:
                queue = await channel.get_queue(self.queue_name(slot), ensure=False)
                await queue.consume(on_message, no_ack=False)

        if others:
            self._standby_task = asyncio.create_task(standby())
        self._inbox = inbox
        return inbox

    async def receive(self, max_events: int = 100, timeout: float = 1.0) -> list[Delivery]:
        """Up to ``max_events`` deliveries, waiting up to ``timeout`` seconds for the first."""
        pika = self._pika
        try:
            async with self._lock:
                inbox = await self._subscribe()
        except (OSError, pika.exceptions.AMQPException) as exc:
            async with self._lock:
                await self._reset()
            raise EventLogUnavailableError(f"RabbitMQ unavailable: {type(exc).__name__}") from exc
        deadline = time.monotonic() + timeout
        while len(self._ready) < max_events:
            if not inbox.empty():
                self._unpack(inbox.get_nowait())
                continue
            if self._ready:
                break
            if not self._alive():
                async with self._lock:
                    await self._reset()
                raise EventLogUnavailableError("RabbitMQ connection lost")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                self._unpack(await asyncio.wait_for(inbox.get(), min(remaining, 0.5)))
            except TimeoutError:
                continue
        count = min(max_events, len(self._ready))
        return [self._ready.popleft() for _ in range(count)]

    def _unpack(self, message: Any) -> None:
        headers = message.headers or {}
        count = headers.get("x-delivery-count") or 0
        attempt = int(count) + 1 if message.redelivered or count else 1
        if message.redelivered and attempt == 1:
            attempt = 2
        lines = bytes(message.body).split(b"\n")
        held = _Held(message, len(lines))
        base = int(message.delivery_tag or 0) * 100_000
        for index, body in enumerate(lines):
            d = decode_delivery(self.catalogue, "", base + index, body, attempt, held)
            partition = partition_of(d.event) if d.event is not None else ""
            self._ready.append(attrs.evolve(d, partition=partition))

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Acknowledge deliveries; a message is acknowledged once all its events are."""
        await self._settle(deliveries, released=False)

    async def release(self, deliveries: Sequence[Delivery], delay: float = 0.0) -> None:
        """Give deliveries back to their queues, after ``delay`` seconds.

        Their whole messages come again (events of them that were handled come again too, and
        the dispatcher skips them). Everything this worker prefetched but did not hand out yet
        goes back as well, after them, so a queue's order (and each partition's) holds.
        """
        if delay > 0:
            await asyncio.sleep(min(delay, 5.0))
        buffered = list(self._ready)
        self._ready.clear()
        await self._settle([*deliveries, *buffered], released=True)
        inbox = self._inbox
        rest = []
        while inbox is not None and not inbox.empty():
            rest.append(inbox.get_nowait())
        await self._finish([(m, True) for m in rest])

    async def _settle(self, deliveries: Sequence[Delivery], *, released: bool) -> None:
        done: list[tuple[Any, bool]] = []
        for d in deliveries:
            held = d.receipt
            assert isinstance(held, _Held)
            held.released |= released
            held.outstanding -= 1
            if held.outstanding == 0:
                done.append((held.message, held.released))
        await self._finish(done)

    async def _finish(self, messages: Sequence[tuple[Any, bool]]) -> None:
        pika = self._pika
        try:
            for message, requeue in messages:
                if requeue:
                    await message.nack(requeue=True)
                else:
                    await message.ack()
        except (OSError, RuntimeError, pika.exceptions.AMQPException) as exc:
            raise EventLogUnavailableError(f"RabbitMQ ack failed: {type(exc).__name__}") from exc

    async def dead_count(self) -> int:
        """How many messages wait in the dead-letter queue ``{name}.dead``."""
        async with self._lock:
            await self._connect()
            channel = await self._conn.channel()
            queue = await channel.declare_queue(
                f"{self.name}.dead", durable=True, arguments={"x-queue-type": "quorum"}
            )
            count = int(queue.declaration_result.message_count or 0)
            await channel.close()
            return count
