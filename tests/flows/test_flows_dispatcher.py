"""The dispatcher: once per (event, handler), isolation, retries, dead letters and replay."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from shipsync.canonical import Event, ShipmentDelivered, ShipmentInTransit
from shipsync.canonical._tracking import Milestone
from shipsync.errors import ConfigurationError, DeadLetterNotFoundError, InvalidInputError
from shipsync.flows import (
    AsyncSQLiteEventLog,
    DeadLetterFilter,
    Delivery,
    Dispatcher,
    HandlerContext,
    NewDeadLetter,
    RetryPolicy,
    SQLiteDeadLetters,
    partition_of,
)
from shipsync.idempotency import AsyncMemoryStore, MemoryStore
from shipsync.retry import set_testing
from shipsync.testing.flows import make_tracking_event

FAST = RetryPolicy(attempts=3, initial=0.5, maximum=4.0, jitter=0.0)


class Boom(Exception):
    """A handler failure."""


@pytest.fixture
def letters(tmp_path: Path) -> SQLiteDeadLetters:
    store = SQLiteDeadLetters(tmp_path / "dlq.db")
    yield store  # type: ignore[misc]
    store.close()


def make(letters: SQLiteDeadLetters | None = None, **kwargs: object) -> Dispatcher:
    return Dispatcher(MemoryStore(), letters, retry=FAST, **kwargs)  # type: ignore[arg-type]


async def test_each_pair_takes_effect_once_across_duplicates() -> None:
    """An event delivered twice in a batch and again later reaches each handler once."""
    calls: list[tuple[str, str]] = []
    d = make()
    d.subscribe(None, lambda e, ctx: calls.append(("a", e.id)), name="a")
    d.subscribe(None, lambda e, ctx: calls.append(("b", e.id)), name="b")
    event = make_tracking_event("S1", 1)
    first = await d.dispatch([event, event])
    second = await d.dispatch([event])
    assert sorted(calls) == [("a", event.id), ("b", event.id)]
    assert first.effects == 2
    assert first.duplicates == 2
    assert second.duplicates == 2
    assert second.effects == 0


async def test_a_failing_handler_neither_stops_nor_repeats_the_others(
    letters: SQLiteDeadLetters,
) -> None:
    """One handler failing for good is dead-lettered; the other ran once and is not repeated."""
    ok_calls: list[str] = []
    failing_calls: list[int] = []

    def failing(event: Event, ctx: HandlerContext) -> None:
        failing_calls.append(ctx.attempt)
        raise Boom("carrier said no")

    d = make(letters)
    d.subscribe(None, failing, name="failing")
    d.subscribe(None, lambda e, ctx: ok_calls.append(e.id), name="ok")
    event = make_tracking_event("S1", 1)
    with set_testing() as waits:
        report = await d.dispatch([event])
        await d.dispatch([event])
    assert ok_calls == [event.id]
    assert failing_calls == [1, 2, 3, 1, 2, 3]
    assert report.dead_lettered == 1
    assert report.retries == 2
    assert len(waits.sleeps) == 4
    (letter,) = letters.list()
    assert letter.handler == "failing"
    assert letter.event_id == event.id
    assert letter.event_type == event.type
    assert letter.partition == "S1"
    assert letter.error_type == "Boom"
    assert letter.error == "carrier said no"
    assert letter.attempts == 6
    assert letter.first_failed_at <= letter.last_failed_at
    assert letter.event() == event


async def test_retries_back_off_and_a_later_success_writes_no_dead_letter(
    letters: SQLiteDeadLetters,
) -> None:
    """A handler that fails twice then succeeds is retried with growing waits, no dead letter."""
    attempts: list[int] = []

    def flaky(event: Event, ctx: HandlerContext) -> None:
        attempts.append(ctx.attempt)
        if ctx.attempt < 3:
            raise Boom("timeout")

    d = make(letters)
    d.subscribe(ShipmentInTransit, flaky)
    with set_testing() as waits:
        report = await d.dispatch([make_tracking_event("S1", 1)])
    assert attempts == [1, 2, 3]
    assert waits.sleeps == [0.5, 1.0]
    assert report.effects == 1
    assert letters.list() == []


async def test_permanent_errors_are_not_retried(letters: SQLiteDeadLetters) -> None:
    """An InvalidInputError cannot succeed later: one attempt, then the dead letter."""
    calls: list[int] = []

    def refuses(event: Event, ctx: HandlerContext) -> None:
        calls.append(ctx.attempt)
        raise InvalidInputError("bad weight", path="weight")

    d = make(letters)
    d.subscribe(None, refuses, name="refuses")
    with set_testing() as waits:
        await d.dispatch([make_tracking_event("S1", 1)])
    assert calls == [1]
    assert waits.sleeps == []
    assert [x.attempts for x in letters.list()] == [1]


async def test_replay_applies_once_and_resolves(letters: SQLiteDeadLetters) -> None:
    """Replaying a fixed handler applies it once and resolves the letter; replaying again is
    harmless."""
    broken = True
    applied: list[str] = []

    def handler(event: Event, ctx: HandlerContext) -> None:
        if broken:
            raise Boom("down")
        assert ctx.replay
        applied.append(event.id)

    d = make(letters)
    d.subscribe(None, handler, name="h")
    events = [make_tracking_event("S1", n) for n in (1, 2)]
    with set_testing():
        await d.dispatch(events)
    assert len(letters.list()) == 2
    broken = False
    one = letters.list()[0].id
    report = await d.replay(DeadLetterFilter(ids=[one]))
    assert report.succeeded == [one]
    assert applied == [events[0].id]
    report = await d.replay()
    assert len(report.succeeded) == 1
    assert applied == [e.id for e in events]
    assert letters.list() == []
    again = await d.replay(DeadLetterFilter(resolved=None))
    assert sorted(again.already_done) == sorted(
        x.id for x in letters.list(DeadLetterFilter(resolved=True))
    )
    assert applied == [e.id for e in events]
    assert all(x.replays >= 1 for x in letters.list(DeadLetterFilter(resolved=True)))


async def test_replay_of_something_handled_meanwhile_does_not_run_it(
    letters: SQLiteDeadLetters,
) -> None:
    """A dead letter whose pair took effect on a redelivery is resolved without a second call."""
    calls: list[int] = []
    fail = True

    def handler(event: Event, ctx: HandlerContext) -> None:
        calls.append(ctx.attempt)
        if fail:
            raise Boom("down")

    d = make(letters)
    d.subscribe(None, handler, name="h")
    event = make_tracking_event("S1", 1)
    with set_testing():
        await d.dispatch([event])
        fail = False
        await d.dispatch([event])
    count = len(calls)
    report = await d.replay()
    assert report.already_done == [letters.list(DeadLetterFilter(resolved=None))[0].id]
    assert len(calls) == count


async def test_replay_failing_again_keeps_the_letter_open(letters: SQLiteDeadLetters) -> None:
    """A replay that fails again counts attempts and leaves the letter open."""
    d = make(letters)

    def handler(event: Event, ctx: HandlerContext) -> None:
        raise Boom("still down")

    d.subscribe(None, handler, name="h")
    with set_testing():
        await d.dispatch([make_tracking_event("S1", 1)])
        report = await d.replay()
    (letter,) = letters.list()
    assert report.failed == [letter.id]
    assert letter.attempts == 6
    assert letter.replays == 1


async def test_replay_skips_letters_of_unknown_handlers(letters: SQLiteDeadLetters) -> None:
    """A letter whose handler is not subscribed any more is skipped, not lost."""
    d = make(letters)
    d.subscribe(None, lambda e, c: (_ for _ in ()).throw(Boom("x")), name="gone")
    with set_testing():
        await d.dispatch([make_tracking_event("S1", 1)])
    other = make(letters)
    report = await other.replay()
    assert len(report.skipped) == 1
    assert len(letters.list()) == 1


async def test_replay_needs_a_dead_letter_store() -> None:
    """Replay without a store is a configuration error."""
    with pytest.raises(ConfigurationError):
        await make().replay()


async def test_non_blocking_handlers_fail_fast_to_a_dead_letter(
    letters: SQLiteDeadLetters,
) -> None:
    """A notification handler gets one attempt, no backoff, and never holds the others back."""
    order: list[str] = []

    async def notify(event: Event, ctx: HandlerContext) -> None:
        order.append("notify")
        raise Boom("smtp down")

    d = make(letters)
    d.subscribe(None, notify, name="notify", blocking=False)
    d.subscribe(None, lambda e, ctx: order.append("odoo"), name="odoo")
    with set_testing() as waits:
        report = await d.dispatch([make_tracking_event("S1", 1)])
    assert order == ["notify", "odoo"]
    assert waits.sleeps == []
    assert report.dead_lettered == 1
    assert [x.handler for x in letters.list()] == ["notify"]


async def test_subscriptions_filter_by_type() -> None:
    """A handler subscribed to some types sees only those."""
    seen: list[str] = []
    d = make()

    @d.on(ShipmentDelivered, "shipment.exception", name="ops")
    def ops(event: Event, ctx: HandlerContext) -> None:
        seen.append(event.type)

    await d.dispatch(
        [
            make_tracking_event("S1", 1),
            make_tracking_event("S1", 2, Milestone.EXCEPTION),
            make_tracking_event("S1", 3, Milestone.DELIVERED),
        ]
    )
    assert seen == ["shipment.exception", "shipment.delivered"]
    assert set(d.subscriptions) == {"ops"}


@pytest.mark.parametrize("name", ["", "a:b"])
def test_handler_names_are_checked(name: str) -> None:
    """Handler names are part of keys: empty or ':' names are refused."""
    with pytest.raises(ConfigurationError):
        make().subscribe(None, lambda e, c: None, name=name)


def test_a_handler_name_is_taken_once() -> None:
    """Two subscriptions cannot share a name."""
    d = make()
    d.subscribe(None, lambda e, c: None, name="x")
    with pytest.raises(ConfigurationError):
        d.subscribe(None, lambda e, c: None, name="x")


async def test_async_stores_and_async_handlers_work() -> None:
    """An async idempotency store and async handlers are driven the same way."""
    seen: list[str] = []

    async def handler(event: Event, ctx: HandlerContext) -> None:
        seen.append(ctx.key)

    d = Dispatcher(AsyncMemoryStore(), retry=FAST)
    d.subscribe(None, handler, name="h")
    event = make_tracking_event("S1", 1)
    await d.dispatch([event, event])
    await d.dispatch([event])
    assert seen == [f"h:{event.id}"]


async def test_partitions_are_handled_in_order_from_a_log(tmp_path: Path) -> None:
    """Through a log, every shipment's events reach the handler in publish order."""
    log = AsyncSQLiteEventLog(tmp_path / "log.db", synchronous="NORMAL")
    seen: dict[str, list[str]] = {}
    d = make()
    d.subscribe(None, lambda e, ctx: seen.setdefault(e.subject or "", []).append(e.id), name="h")
    published: dict[str, list[str]] = {}
    for n in range(1, 6):
        batch = [make_tracking_event(f"S{s}", n) for s in range(7)]
        for e in batch:
            published.setdefault(e.subject or "", []).append(e.id)
        await log.publish(batch + batch[:2])
    report = await d.run(log, batch_size=9, idle_timeout=0.3)
    await log.close()
    assert seen == published
    assert report.effects == 35
    assert report.duplicates == 10


async def test_a_pair_held_elsewhere_gives_the_partition_back(tmp_path: Path) -> None:
    """A pair another worker holds is waited for, then its partition comes again later."""
    store = MemoryStore()
    log = AsyncSQLiteEventLog(tmp_path / "log.db", synchronous="NORMAL")
    calls: list[str] = []
    d = Dispatcher(store, retry=FAST, in_progress_wait=0.1, lease=timedelta(seconds=0.3))
    d.subscribe(None, lambda e, ctx: calls.append(e.id), name="h")
    first, second = make_tracking_event("S1", 1), make_tracking_event("S1", 2)
    fingerprint = hashlib.sha256(first.to_json()).hexdigest()
    store.claim(f"h:{first.id}", fingerprint, lease=timedelta(seconds=0.4))
    await log.publish([first, second])
    report = await d.handle(log, await log.receive(10))
    assert report.released == 2
    assert calls == []
    assert log.sync.receive(10) == []
    report = await d.run(log, idle_timeout=1.5)
    await log.close()
    assert calls == [first.id, second.id]


async def test_unreadable_deliveries_are_dead_lettered(
    tmp_path: Path, letters: SQLiteDeadLetters
) -> None:
    """An event the catalogue cannot read is dead-lettered under '<log>' and acknowledged."""
    log = AsyncSQLiteEventLog(tmp_path / "log.db", synchronous="NORMAL")
    await log.publish([make_tracking_event("S1", 1)])
    log.sync._conn.execute("UPDATE shipsync_events SET body = ?", (b'{"type": "x.y"}',))
    d = make(letters)
    d.subscribe(None, lambda e, c: None, name="h")
    report = await d.run(log, idle_timeout=0.2)
    assert report.unreadable == 1
    (letter,) = letters.list()
    assert letter.handler == "<log>"
    assert letter.error_type == "UnreadableEvent"
    assert await log.pending() == 0
    await log.close()


def test_dead_letter_store_filters_gets_and_purges(letters: SQLiteDeadLetters) -> None:
    """Dead letters are found by id and filter, and purged by filter."""
    from shipsync.flows import NewDeadLetter

    def new(event_id: str, handler: str) -> NewDeadLetter:
        return NewDeadLetter(
            event_id=event_id,
            event_type="shipment.in_transit",
            partition="S1",
            handler=handler,
            body=b"{}",
            error_type="Boom",
            error="x" * 5000,
            attempts=2,
            failed_at=1_800_000_000.0,
        )

    a = letters.record(new("e1", "odoo"))
    b = letters.record(new("e2", "mail"))
    assert letters.record(new("e1", "odoo")) == a
    assert letters.get(a).attempts == 4
    assert len(letters.get(a).error) == 2000
    assert [x.id for x in letters.list(DeadLetterFilter(handler="mail"))] == [b]
    letters.mark_replayed(b, resolved=True, at=1_800_000_100.0)
    assert [x.id for x in letters.list()] == [a]
    assert letters.get(b).summary()["resolved_at"] is not None
    assert letters.purge(DeadLetterFilter(resolved=True)) == 1
    with pytest.raises(DeadLetterNotFoundError):
        letters.get(b)
    assert letters.purge(DeadLetterFilter(resolved=None)) == 1
    assert letters.list(DeadLetterFilter(resolved=None)) == []


def test_a_dispatcher_serves_several_event_loops_in_turn() -> None:
    """Async handlers that wait, over many partitions, in two asyncio.run calls: no loop error."""
    import asyncio

    seen: list[str] = []

    async def slow(event: Event, ctx: HandlerContext) -> None:
        await asyncio.sleep(0)
        seen.append(event.id)

    d = Dispatcher(MemoryStore(), concurrency=2)
    d.subscribe(None, slow, name="slow")
    for n in (1, 2):
        asyncio.run(d.dispatch([make_tracking_event(f"S{s}", n) for s in range(6)]))
    assert len(seen) == 12


@pytest.mark.parametrize("concurrency", [1, 3, 32])
def test_partitions_of_a_batch_run_at_most_concurrency_at_once_each_in_order(
    concurrency: int,
) -> None:
    """Ten partitions of three events each: no more than ``concurrency`` are in flight at any
    moment, as many as allowed are (so the limit is used, not just respected), every event is
    handled once, and each partition's events are handled in their order."""
    in_flight: set[str] = set()
    peak = [0]
    order: dict[str, list[str]] = {}

    async def slow(event: Event, ctx: HandlerContext) -> None:
        partition = partition_of(event)
        in_flight.add(partition)
        peak[0] = max(peak[0], len(in_flight))
        await asyncio.sleep(0.001)
        order.setdefault(partition, []).append(event.id)
        in_flight.discard(partition)

    d = Dispatcher(MemoryStore(), concurrency=concurrency)
    d.subscribe(None, slow, name="slow")
    events = [make_tracking_event(f"S{s}", n) for n in (1, 2, 3) for s in range(10)]
    report = asyncio.run(d.dispatch(events))
    assert report.effects == 30
    assert peak[0] == min(concurrency, 10)
    assert sorted(order.values()) == sorted(
        [make_tracking_event(f"S{s}", n).id for n in (1, 2, 3)] for s in range(10)
    )


class GatedLetters:
    """A dead letter store whose writes wait until the event loop opens a gate."""

    def __init__(self, inner: SQLiteDeadLetters, gate: threading.Event) -> None:
        self.inner = inner
        self.gate = gate

    def record(self, letter: NewDeadLetter) -> int:
        if not self.gate.wait(5):
            raise AssertionError("the event loop was blocked while a dead letter was written")
        return self.inner.record(letter)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_writing_a_dead_letter_never_blocks_the_event_loop(
    letters: SQLiteDeadLetters,
) -> None:
    """While a slow store writes a dead letter, other coroutines on the loop keep running."""
    gate = threading.Event()
    d = Dispatcher(MemoryStore(), GatedLetters(letters, gate), retry=RetryPolicy(attempts=1))  # type: ignore[arg-type]

    def failing(event: Event, ctx: HandlerContext) -> None:
        raise Boom("down")

    d.subscribe(None, failing, name="failing")

    async def open_gate() -> None:
        await asyncio.sleep(0.05)
        gate.set()

    report, _ = await asyncio.gather(d.dispatch([make_tracking_event("S1", 1)]), open_gate())
    assert report.dead_lettered == 1
    assert [x.handler for x in letters.list()] == ["failing"]


class RecordingLog:
    """The two calls Dispatcher.handle makes on a log, recorded."""

    def __init__(self) -> None:
        self.acked: list[str] = []
        self.released: list[str] = []

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        self.acked += [d.event.id for d in deliveries if d.event is not None]

    async def release(self, deliveries: Sequence[Delivery], *, delay: float = 0.0) -> None:
        self.released += [d.event.id for d in deliveries if d.event is not None]


async def test_a_partition_stops_at_a_delivery_that_must_come_again_others_go_on() -> None:
    """Without dead letters, a failing delivery and the later ones of its partition are given
    back in order, while another partition's deliveries are acknowledged."""
    d = Dispatcher(MemoryStore(), None, retry=RetryPolicy(attempts=1))

    def picky(event: Event, ctx: HandlerContext) -> None:
        if event.id == failing.id:
            raise Boom("not now")

    d.subscribe(None, picky, name="picky")
    failing, other, later = (
        make_tracking_event("S1", 1),
        make_tracking_event("S2", 1),
        make_tracking_event("S1", 2),
    )
    deliveries = [
        Delivery(partition=partition_of(e), position=i, body=b"", event=e)
        for i, e in enumerate([failing, other, later])
    ]
    log = RecordingLog()
    report = await d.handle(log, deliveries)  # type: ignore[arg-type]
    assert log.acked == [other.id]
    assert log.released == [failing.id, later.id]
    assert report.released == 2
    assert report.effects == 1
