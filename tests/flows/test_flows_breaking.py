"""Trying to break the dispatcher: hangs, interruptions, poison, crashes between steps, races.

Every failure ends as a typed ``shipsync.errors`` error or a recorded dead letter, and every
event is handled or still pending: never dropped, never applied twice.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from shipsync.canonical import Event
from shipsync.errors import ConfigurationError, EventLogUnavailableError
from shipsync.flows import (
    AsyncSQLiteEventLog,
    DeadLetterFilter,
    Delivery,
    Dispatcher,
    HandlerContext,
    NewDeadLetter,
    RetryPolicy,
    SQLiteDeadLetters,
)
from shipsync.idempotency import MemoryStore
from shipsync.retry import set_testing
from shipsync.testing.flows import make_tracking_event

ONCE = RetryPolicy(attempts=1)


@pytest.fixture
def letters(tmp_path: Path) -> SQLiteDeadLetters:
    store = SQLiteDeadLetters(tmp_path / "dlq.db")
    yield store  # type: ignore[misc]
    store.close()


def open_log(tmp_path: Path, **kwargs: object) -> AsyncSQLiteEventLog:
    return AsyncSQLiteEventLog(tmp_path / "log.db", synchronous="NORMAL", **kwargs)  # type: ignore[arg-type]


async def test_a_hanging_async_handler_is_cut_at_the_lease_and_dead_lettered(
    letters: SQLiteDeadLetters,
) -> None:
    """Without a timeout of its own, an async handler call is bounded by the dispatcher's lease."""
    d = Dispatcher(MemoryStore(), letters, retry=ONCE, lease=timedelta(seconds=0.2))
    done: list[str] = []

    async def hangs(event: Event, ctx: HandlerContext) -> None:
        await asyncio.Event().wait()

    d.subscribe(None, hangs, name="hangs")
    d.subscribe(None, lambda e, c: done.append(e.id), name="fine")
    event = make_tracking_event("S1", 1)
    report = await asyncio.wait_for(d.dispatch([event]), 5)
    assert (report.effects, report.dead_lettered) == (1, 1)
    assert done == [event.id]
    (letter,) = letters.list()
    assert (letter.handler, letter.error_type) == ("hangs", "TimeoutError")


async def test_a_handler_raising_cancelled_error_on_its_own_is_a_failure(
    letters: SQLiteDeadLetters,
) -> None:
    """CancelledError from a handler whose task nobody cancelled is dead-lettered as FlowError."""
    d = Dispatcher(MemoryStore(), letters, retry=RetryPolicy(attempts=2, initial=0, jitter=0))
    calls: list[str] = []

    async def async_cancels(event: Event, ctx: HandlerContext) -> None:
        calls.append("async")
        raise asyncio.CancelledError

    def sync_cancels(event: Event, ctx: HandlerContext) -> None:
        calls.append("sync")
        raise asyncio.CancelledError

    d.subscribe(None, async_cancels, name="a")
    d.subscribe(None, sync_cancels, name="s")
    with set_testing():
        report = await d.dispatch([make_tracking_event("S1", 1)])
    assert report.dead_lettered == 2
    assert sorted(calls) == ["async", "async", "sync", "sync"]
    assert {(x.handler, x.error_type, x.attempts) for x in letters.list()} == {
        ("a", "FlowError", 2),
        ("s", "FlowError", 2),
    }


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, SystemExit])
def test_an_interrupting_handler_stops_the_batch_and_loses_nothing(
    tmp_path: Path, interrupt: type[BaseException]
) -> None:
    """KeyboardInterrupt/SystemExit propagate, nothing is acked, and the pair is free at once."""
    store = MemoryStore()
    effects: list[str] = []
    raised: list[str] = []

    def build() -> Dispatcher:
        # A long lease: a pair left claimed would block the rerun for a minute.
        d = Dispatcher(store, retry=ONCE, lease=timedelta(seconds=60), in_progress_wait=0.1)

        def handler(event: Event, ctx: HandlerContext) -> None:
            if event.subject == "S1" and not raised:
                raised.append(event.id)
                raise interrupt
            effects.append(event.id)

        d.subscribe(None, handler, name="h")
        return d

    events = [make_tracking_event("S1", 1), make_tracking_event("S2", 1)]

    async def first() -> None:
        log = open_log(tmp_path, lease=0.5)
        await log.publish(events)
        try:
            await build().handle(log, await log.receive(10))
        finally:
            await log.close()

    with pytest.raises(interrupt):
        asyncio.run(first())
    # asyncio.run lets the interrupt out of the loop without retrieving it from first()'s task,
    # whose finalizer then logs "Task exception was never retrieved" when it is collected.
    # Collect it here: run by the garbage collector during a later test's compile(), that
    # finalizer trips CPython 3.11.7's "AST constructor recursion depth mismatch".
    gc.collect()

    async def second() -> int:
        log = open_log(tmp_path)
        await asyncio.sleep(0.6)  # the interrupted consumer's log lease ends
        await build().run(log, idle_timeout=0.5)
        pending = await log.pending()
        await log.close()
        return pending

    assert asyncio.run(second()) == 0
    assert sorted(effects) == sorted(e.id for e in events)


class _FailingOnce(SQLiteDeadLetters):
    """A dead letter store whose first ``record`` finds the database gone."""

    failed = False

    def record(self, letter: NewDeadLetter) -> int:
        if not self.failed:
            self.failed = True
            raise EventLogUnavailableError("dead letter store unavailable: disk I/O error")
        return super().record(letter)


async def test_an_unwritable_dead_letter_neither_loses_nor_strands_anything(
    tmp_path: Path,
) -> None:
    """When recording a letter fails, the batch is not acked, other partitions are stopped
    rather than left running, and every pair is free for the redelivery."""
    letters = _FailingOnce(tmp_path / "dlq.db")
    store = MemoryStore()
    d = Dispatcher(store, letters, retry=ONCE, in_progress_wait=0.1)
    effects: list[str] = []

    def broken(event: Event, ctx: HandlerContext) -> None:
        if event.subject == "S1":
            raise RuntimeError("down")

    async def slow(event: Event, ctx: HandlerContext) -> None:
        await asyncio.sleep(0.3 if event.subject == "S2" else 0)
        effects.append(event.id)

    d.subscribe(None, broken, name="broken")
    d.subscribe(None, slow, name="slow")
    log = open_log(tmp_path, lease=0.5)
    events = [make_tracking_event("S1", 1), make_tracking_event("S2", 1)]
    await log.publish(events)
    with pytest.raises(EventLogUnavailableError):
        await d.handle(log, await log.receive(10))
    await asyncio.sleep(0.6)  # the unacked deliveries' lease ends
    report = await d.run(log, idle_timeout=0.5)
    assert await log.pending() == 0
    await log.close()
    assert sorted(effects) == sorted(e.id for e in events)
    assert report.dead_lettered == 1
    (letter,) = letters.list()
    assert (letter.handler, letter.partition) == ("broken", "S1")
    letters.close()


async def test_a_mismatched_pair_without_dead_letters_is_not_acked_away(tmp_path: Path) -> None:
    """Same event id with other content, and nowhere to record it: the partition comes again."""
    store = MemoryStore()
    d = Dispatcher(store, retry=ONCE, lease=timedelta(seconds=1))
    d.subscribe(None, lambda e, c: None, name="h")
    event = make_tracking_event("S1", 1)
    token = store.claim(f"h:{event.id}", "another-fingerprint", timedelta(seconds=5))
    store.complete(f"h:{event.id}", token.token, b"1")  # type: ignore[union-attr]
    log = open_log(tmp_path)
    await log.publish([event])
    report = await d.handle(log, await log.receive(10))
    assert report.released == 1
    assert await log.pending() == 1
    await log.close()


async def test_unreadable_events_without_dead_letters_are_not_acked_away(tmp_path: Path) -> None:
    """A poison body with no dead letter store holds its partition; later events wait behind it."""
    log = open_log(tmp_path)
    await log.publish([make_tracking_event("S1", 1), make_tracking_event("S1", 2)])
    log.sync._conn.execute("UPDATE shipsync_events SET body = ? WHERE pos = 1", (b"\xff\x00",))
    seen: list[str] = []
    d = Dispatcher(MemoryStore(), retry=ONCE)
    d.subscribe(None, lambda e, c: seen.append(e.id), name="h")
    report = await d.handle(log, await log.receive(10))
    assert (report.unreadable, report.released) == (1, 2)
    assert seen == []
    assert await log.pending() == 2
    await log.close()


class _AckFailsOnce(AsyncSQLiteEventLog):
    """A log whose first ack is lost: the consumer 'crashed' after its handlers succeeded."""

    lost = 0

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        if not self.lost:
            self.lost = len(deliveries)
            raise EventLogUnavailableError("SQLite event log unavailable: database is locked")
        await super().ack(deliveries)


async def test_a_crash_between_handler_success_and_ack_applies_nothing_twice(
    tmp_path: Path,
) -> None:
    """The redelivery after a lost ack finds every pair completed and only counts duplicates."""
    log = _AckFailsOnce(tmp_path / "log.db", synchronous="NORMAL", lease=0.3)
    effects: list[tuple[str, str]] = []
    d = Dispatcher(MemoryStore(), retry=ONCE)
    d.subscribe(None, lambda e, c: effects.append(("a", e.id)), name="a")
    d.subscribe(None, lambda e, c: effects.append(("b", e.id)), name="b")
    events = [make_tracking_event(f"S{i}", 1) for i in range(4)]
    await log.publish(events)
    report = await d.run(log, idle_timeout=1.0)
    assert log.lost == 4
    assert report.outages == 1
    assert report.duplicates == 8
    assert sorted(effects) == sorted((h, e.id) for h in "ab" for e in events)
    assert await log.pending() == 0
    await log.close()


async def test_two_dispatchers_on_one_log_apply_each_pair_once_in_order(tmp_path: Path) -> None:
    """Two workers (own log handles and dispatchers, one shared store) split the work."""
    store = MemoryStore()
    seen: dict[str, list[str]] = {}
    published: dict[str, list[str]] = {}
    events = [make_tracking_event(f"S{s}", n) for n in range(1, 6) for s in range(10)]
    for e in events:
        published.setdefault(e.subject or "", []).append(e.id)

    async def handler(event: Event, ctx: HandlerContext) -> None:
        await asyncio.sleep(0.001)
        seen.setdefault(event.subject or "", []).append(event.id)

    async def worker() -> int:
        log = open_log(tmp_path, lease=5.0)
        d = Dispatcher(store, retry=ONCE, in_progress_wait=0.2)
        d.subscribe(None, handler, name="h")
        report = await d.run(log, batch_size=7, idle_timeout=0.6)
        await log.close()
        return report.effects

    publisher = open_log(tmp_path)
    await publisher.publish(events[:25])
    run = asyncio.gather(worker(), worker())
    await asyncio.sleep(0.05)
    await publisher.publish(events[25:])
    counts = await run
    assert await publisher.pending() == 0
    await publisher.close()
    assert sum(counts) == len(events)
    assert seen == published


async def test_a_consumer_whose_clock_runs_ahead_duplicates_deliveries_not_effects(
    tmp_path: Path,
) -> None:
    """Clock skew beyond the lease hands a leased partition out twice; the store absorbs it."""
    honest = open_log(tmp_path, lease=30.0)
    ahead = open_log(tmp_path, lease=30.0, clock=lambda: time.time() + 3600)
    event = make_tracking_event("S1", 1)
    await honest.publish([event])
    first, second = await honest.receive(10), await ahead.receive(10)
    assert [x.event for x in first] == [x.event for x in second] == [event]
    effects: list[str] = []
    d = Dispatcher(MemoryStore(), retry=ONCE, in_progress_wait=0.2)
    d.subscribe(None, lambda e, c: effects.append(e.id), name="h")
    reports = await asyncio.gather(d.handle(honest, first), d.handle(ahead, second))
    assert effects == [event.id]
    assert sum(r.duplicates for r in reports) == 1
    assert await honest.pending() == 0
    await honest.close()
    await ahead.close()


async def test_replay_of_a_poison_letter_is_skipped_and_kept(letters: SQLiteDeadLetters) -> None:
    """A letter whose body no longer parses is skipped by replay and stays open."""
    letters.record(
        NewDeadLetter(
            event_id="S1@1",
            event_type="<unreadable>",
            partition="S1",
            handler="h",
            body=b"\xff{not json",
            error_type="UnreadableEvent",
            error="not valid UTF-8 JSON",
            attempts=1,
            failed_at=time.time(),
        )
    )
    d = Dispatcher(MemoryStore(), letters, retry=ONCE)
    d.subscribe(None, lambda e, c: None, name="h")
    report = await d.replay()
    assert len(report.skipped) == 1
    assert len(letters.list()) == 1


async def test_a_purge_during_replay_neither_crashes_nor_loses_a_failure(
    letters: SQLiteDeadLetters,
) -> None:
    """A letter purged while its replay runs: success leaves it gone; failure records it anew."""
    d = Dispatcher(MemoryStore(), letters, retry=ONCE)
    fail = {"S1": True, "S2": True}

    def handler(event: Event, ctx: HandlerContext) -> None:
        if ctx.replay:
            letters.purge(DeadLetterFilter(partition=event.subject, resolved=None))
        if fail[event.subject or ""]:
            raise RuntimeError("down")

    d.subscribe(None, handler, name="h")
    await d.dispatch([make_tracking_event("S1", 1), make_tracking_event("S2", 1)])
    assert len(letters.list()) == 2
    fail["S1"] = False
    report = await d.replay()
    assert (len(report.succeeded), len(report.failed)) == (1, 1)
    (left,) = letters.list(DeadLetterFilter(resolved=None))
    assert left.partition == "S2"
    assert left.error == "down"
    again = await d.replay()
    assert len(again.failed) == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"attempts": 0},
        {"attempts": 2.5},
        {"initial": -1},
        {"maximum": float("inf")},
        {"jitter": float("nan")},
    ],
    ids=["no-attempt", "fractional-attempts", "negative-wait", "endless-wait", "nan-jitter"],
)
def test_a_nonsensical_retry_policy_is_a_configuration_error(kwargs: dict[str, float]) -> None:
    """RetryPolicy refuses bad settings with ConfigurationError naming the field."""
    with pytest.raises(ConfigurationError) as caught:
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
    assert caught.value.path == next(iter(kwargs))


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf")])
def test_a_handler_timeout_is_a_positive_number(timeout: float) -> None:
    """A timeout that would fail every call (or never end one) is refused at subscribe."""
    d = Dispatcher(MemoryStore())
    with pytest.raises(ConfigurationError):
        d.subscribe(None, lambda e, c: None, name="h", timeout=timeout)


def test_a_dispatcher_lease_is_positive() -> None:
    """A zero lease would let every claim lapse at once (and time every handler out)."""
    with pytest.raises(ConfigurationError):
        Dispatcher(MemoryStore(), lease=timedelta(0))


async def test_cancelling_a_running_dispatcher_frees_its_pairs(tmp_path: Path) -> None:
    """A host cancelling dispatcher.run mid-handler gets CancelledError; the pairs in hand are
    released and nothing is acked, so the next run handles every event once, at once."""
    store = MemoryStore()
    started = asyncio.Event()
    effects: list[str] = []

    async def slow(event: Event, ctx: HandlerContext) -> None:
        started.set()
        if ctx.delivery_attempt == 1:
            await asyncio.sleep(30)
        effects.append(event.id)

    def build() -> Dispatcher:
        d = Dispatcher(store, retry=ONCE, lease=timedelta(seconds=60), in_progress_wait=0.1)
        d.subscribe(None, slow, name="slow")
        return d

    log = open_log(tmp_path, lease=0.3)
    events = [make_tracking_event(f"S{i}", 1) for i in range(3)]
    await log.publish(events)
    task = asyncio.create_task(build().run(log))
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert effects == []
    await asyncio.sleep(0.4)  # the log lease of the cancelled run ends
    await build().run(log, idle_timeout=0.5)
    assert sorted(effects) == sorted(e.id for e in events)
    assert await log.pending() == 0
    await log.close()
