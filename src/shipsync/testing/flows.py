"""The event log conformance suite: run it against any :class:`~shipsync.flows.AsyncEventLog`.

Subclass :class:`EventLogConformance` in a test module and give it an ``open_log`` fixture: an
async callable that opens a *new handle* (its own connection) on one log that is fresh for the
test. The suite opens several handles to play several consumers, and closes them itself::

    class TestMyLog(EventLogConformance):
        @pytest.fixture
        def open_log(self, tmp_path):
            async def open_() -> AsyncEventLog:
                return AsyncSQLiteEventLog(tmp_path / "log.db", lease=2.5)
            return open_

A backend whose leases expire (SQL) should use a short lease (two or three seconds) in the
fixture: one test waits for a crashed consumer's deliveries to come back, up to
:attr:`EventLogConformance.redelivery_timeout` seconds. The tests are coroutines: run them with
pytest-asyncio in auto mode (``asyncio_mode = "auto"``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from shipsync.canonical import Event, MilestoneEvent, event_for_tracking
from shipsync.canonical._tracking import Milestone, TrackingEvent
from shipsync.flows import AsyncEventLog, Delivery

__all__ = ["EventLogConformance", "OpenLog", "drain", "make_tracking_event"]

OpenLog = Callable[[], Awaitable[AsyncEventLog]]
"""Opens a new handle on the test's log."""

_EPOCH = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def make_tracking_event(
    shipment_id: str,
    n: int,
    milestone: Milestone = Milestone.IN_TRANSIT,
    *,
    carrier: str = "fake",
    source: str = "shipsync/test",
    at: datetime | None = None,
) -> MilestoneEvent:
    """A valid milestone event, the ``n``-th of ``shipment_id``; same arguments, same event id."""
    when = at or _EPOCH + timedelta(minutes=n)
    tracking = TrackingEvent(
        event_id=f"{shipment_id}-{n}",
        shipment_id=shipment_id,
        tracking_number=f"TN{shipment_id}",
        carrier=carrier,
        milestone=milestone,
        occurred_at=when,
        recorded_at=when,
        carrier_code=milestone.value.upper(),
    )
    return event_for_tracking(tracking, source=source)


async def drain(
    log: AsyncEventLog,
    count: int,
    *,
    timeout: float = 10.0,
    ack: bool = True,
    batch: int = 100,
) -> list[Delivery]:
    """Receive until ``count`` deliveries arrived or ``timeout`` passed; ack them if asked."""
    got: list[Delivery] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        part = await log.receive(batch, timeout=min(0.5, max(0.01, deadline - time.monotonic())))
        if ack and part:
            await log.ack(part)
        got.extend(part)
    return got


def _ids(deliveries: Sequence[Delivery]) -> list[str]:
    return [d.event.id for d in deliveries if d.event is not None]


class EventLogConformance:
    """Behaviour every event log backend must show. Provide an ``open_log`` fixture."""

    redelivery_timeout: float = 15.0
    """Seconds the suite waits for an abandoned delivery to come again."""

    parallel_partitions: bool = True
    """Whether any second handle receives other partitions while a first one holds a partition.
    Set False for a log that spreads partitions over workers by configuration instead (RabbitMQ's
    ``consumer_index`` shares): the test of it is then skipped."""

    @pytest.fixture
    async def handles(self, open_log: OpenLog) -> AsyncIterator[OpenLog]:
        """Opens handles through ``open_log`` and closes them after the test."""
        opened: list[AsyncEventLog] = []

        async def open_() -> AsyncEventLog:
            log = await open_log()
            opened.append(log)
            return log

        yield open_
        for log in opened:
            with contextlib.suppress(Exception):  # closing twice is allowed to fail
                await log.close()

    async def test_is_an_async_event_log(self, handles: OpenLog) -> None:
        """The backend has the AsyncEventLog (and so the AsyncEventSink) shape."""
        log = await handles()
        assert isinstance(log, AsyncEventLog)

    async def test_published_events_are_delivered_intact(self, handles: OpenLog) -> None:
        """Every published event is delivered once, typed and equal to what was published."""
        log = await handles()
        run = uuid.uuid4().hex[:8]
        events = [make_tracking_event(f"S{run}-{i}", 1) for i in range(3)]
        await log.publish(events)
        got = await drain(log, 3)
        assert sorted(_ids(got)) == sorted(e.id for e in events)
        by_id = {d.event.id: d for d in got if d.event is not None}
        for event in events:
            delivered = by_id[event.id]
            assert delivered.event == event
            assert type(delivered.event) is type(event)
            assert delivered.partition == event.partitionkey
            assert delivered.attempt == 1
            assert delivered.error is None

    async def test_published_events_outlive_the_publishing_handle(self, handles: OpenLog) -> None:
        """``publish`` is durable when it returns: after the publisher closed, a new handle
        receives every event, each partition in order."""
        publisher = await handles()
        run = uuid.uuid4().hex[:8]
        events = [make_tracking_event(f"S{run}-{p}", n) for n in (1, 2, 3) for p in range(3)]
        await publisher.publish(events)
        await publisher.close()
        got = await drain(await handles(), len(events))
        for p in range(3):
            assert [d.event.id for d in got if d.event and d.partition == f"S{run}-{p}"] == [
                e.id for e in events if e.partitionkey == f"S{run}-{p}"
            ]
        assert len(got) == len(events)

    async def test_a_held_partition_does_not_hold_up_the_others(self, handles: OpenLog) -> None:
        """While one consumer holds a partition, another consumer receives the other ones."""
        if not self.parallel_partitions:
            pytest.skip("this log spreads partitions over workers by configuration")
        first, second = await handles(), await handles()
        run = uuid.uuid4().hex[:8]
        events = [make_tracking_event(f"S{run}-{p}", 1) for p in range(4)]
        await first.publish(events)
        held: list[Delivery] = []
        deadline = time.monotonic() + 10
        while not held and time.monotonic() < deadline:
            held = await first.receive(1, timeout=0.5)
        assert len(held) == 1
        rest = await drain(second, 3)
        assert sorted(d.partition for d in [*held, *rest]) == sorted(
            e.partitionkey or "" for e in events
        )
        await first.ack(held)

    async def test_publishing_nothing_is_a_no_op(self, handles: OpenLog) -> None:
        """An empty publish succeeds, and an empty log delivers nothing within the timeout."""
        log = await handles()
        await log.publish([])
        assert await log.receive(10, timeout=0.2) == []

    async def test_acknowledged_events_do_not_come_again(self, handles: OpenLog) -> None:
        """After ack, neither this consumer nor another receives the events again."""
        log = await handles()
        run = uuid.uuid4().hex[:8]
        await log.publish([make_tracking_event(f"S{run}", n) for n in range(1, 4)])
        assert len(await drain(log, 3)) == 3
        other = await handles()
        assert await log.receive(10, timeout=0.3) == []
        assert await other.receive(10, timeout=0.3) == []

    async def test_released_events_come_again_in_order(self, handles: OpenLog) -> None:
        """Released deliveries are delivered again, in the same order, with a higher attempt."""
        log = await handles()
        run = uuid.uuid4().hex[:8]
        events = [make_tracking_event(f"S{run}", n) for n in range(1, 4)]
        await log.publish(events)
        first = await drain(log, 3, ack=False)
        assert _ids(first) == [e.id for e in events]
        await log.release(first)
        again = await drain(log, 3, timeout=self.redelivery_timeout)
        assert _ids(again) == [e.id for e in events]
        assert all(d.attempt >= 2 for d in again)

    async def test_partition_key_decides_the_partition(self, handles: OpenLog) -> None:
        """An explicit partitionkey is kept and names the delivery's partition."""
        log = await handles()
        run = uuid.uuid4().hex[:8]
        event = make_tracking_event(f"S{run}", 1).model_copy(update={"partitionkey": f"P{run}"})
        await log.publish([event])
        (got,) = await drain(log, 1)
        assert got.partition == f"P{run}"
        assert got.event is not None
        assert got.event.partitionkey == f"P{run}"

    async def test_a_held_partition_goes_to_no_other_consumer(self, handles: OpenLog) -> None:
        """While one consumer holds a partition's deliveries, another receives none of it."""
        first, second = await handles(), await handles()
        run = uuid.uuid4().hex[:8]
        await first.publish([make_tracking_event(f"S{run}", 1)])
        held = await drain(first, 1, ack=False)
        assert len(held) == 1
        await first.publish([make_tracking_event(f"S{run}", 2)])
        stolen = await second.receive(10, timeout=0.3)
        assert [d for d in stolen if d.partition == held[0].partition] == []
        await first.ack(held)
        await second.release(stolen)

    async def test_abandoned_deliveries_come_again(self, handles: OpenLog) -> None:
        """A consumer that goes away without ack: its events come to another consumer, in order."""
        first, second = await handles(), await handles()
        run = uuid.uuid4().hex[:8]
        events = [make_tracking_event(f"S{run}", n) for n in range(1, 4)]
        await first.publish(events)
        held = await drain(first, 3, ack=False)
        assert _ids(held) == [e.id for e in events]
        await first.close()
        again = await drain(second, 3, timeout=self.redelivery_timeout)
        assert _ids(again) == [e.id for e in events]
        assert all(d.attempt >= 2 for d in again)

    async def test_order_holds_per_partition_across_consumers(self, handles: OpenLog) -> None:
        """Many partitions, several batches, two consumers: each partition arrives in order."""
        consumers = [await handles(), await handles()]
        run = uuid.uuid4().hex[:8]
        partitions = [f"S{run}-{p}" for p in range(8)]
        published: dict[str, list[str]] = {p: [] for p in partitions}
        batches: list[list[Event]] = []
        for b in range(4):
            batch: list[Event] = []
            for n in range(5):
                for p in partitions:
                    event = make_tracking_event(p, b * 5 + n + 1)
                    published[p].append(event.id)
                    batch.append(event)
            batches.append(batch)
        seen: dict[str, list[str]] = {p: [] for p in partitions}
        total = sum(len(b) for b in batches)

        async def consume(log: AsyncEventLog) -> None:
            deadline = time.monotonic() + 20
            while sum(len(v) for v in seen.values()) < total and time.monotonic() < deadline:
                got = await log.receive(17, timeout=0.2)
                for d in got:
                    assert d.event is not None
                    seen[d.partition].append(d.event.id)
                await asyncio.sleep(0)
                await log.ack(got)

        async def publish() -> None:
            for batch in batches:
                await consumers[0].publish(batch)
                await asyncio.sleep(0.01)

        await asyncio.gather(publish(), *(consume(c) for c in consumers))
        assert seen == published
