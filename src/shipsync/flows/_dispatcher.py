"""The dispatcher: fan each event out to its handlers, each (event, handler) taking effect once.

Theory of operation. For a batch of deliveries the dispatcher claims one idempotency key per
(event, handler) pair, ``{handler}:{event id}`` with the SHA-256 of the event's JSON as its
fingerprint, in one ``claim_many`` round trip:

* ``Completed``: the pair took effect before (a duplicate delivery or a redelivery): skipped.
* ``Acquired``: the handler runs, retried with backoff by its :class:`RetryPolicy`. Success is
  recorded with ``complete_many`` after the batch; after the last failed attempt a dead letter is
  written and the key released, so a replay may claim it again.
* ``InProgress``: another worker holds the pair (it may have crashed; its lease will end). The
  dispatcher polls the key for up to ``in_progress_wait`` seconds, then gives the partition back to
  the log to come again later.
* ``Mismatched``: the same event id arrived with other content; that is dead-lettered.

Each partition of a batch is handled by its own task into its own ``_Partition`` (counts,
completions to record, how many deliveries it handled); the batch adds them up at the end, so
no task writes into another's state. Dead letters are written on a worker thread
(``asyncio.to_thread``): a dead letter store on PostgreSQL or SQLite never blocks the loop.

Handlers are isolated: one handler's failure neither stops nor repeats the others. Events of one
partition are handled in order; partitions of a batch run concurrently. An async handler call is
bounded by its subscription's ``timeout`` (by default the dispatcher's lease: past it, another
worker may take the pair over anyway); a timeout is a failure like any other. A handler that
raises ``CancelledError`` while its task is not being cancelled has failed (``FlowError``).
``KeyboardInterrupt``, ``SystemExit`` and a real cancellation stop the batch: the pairs in hand
are released, the other partitions are cancelled, finished completions are recorded and nothing
is acknowledged, so every delivery comes again. The log is acknowledged
only after the completions are recorded, so a crash anywhere repeats at most the pairs whose
completion was not recorded yet: a handler that must never apply twice, even then, makes its
effect idempotent with ``ctx.key`` (for instance a unique column), and the fault tests show that
this gives exactly-once effects.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from datetime import timedelta
from typing import TypeAlias, cast

import attrs

from shipsync.canonical import Event
from shipsync.errors import (
    CompletionFailedError,
    ConfigurationError,
    FlowError,
    InvalidInputError,
    RemoteDataError,
    ShipsyncError,
    StaleTokenError,
    UnavailableError,
)
from shipsync.idempotency import (
    Acquired,
    AsyncIdempotencyStore,
    BatchOutcome,
    Completed,
    IdempotencyStore,
    InProgress,
    Mismatched,
)
from shipsync.retry import RetryPolicy
from shipsync.telemetry import _hooks as _telemetry  # telemetry call sites: marked '# telemetry'

from ._deadletters import DeadLetterFilter, DeadLetterStore, NewDeadLetter
from ._log import AsyncEventLog, Delivery, partition_of

__all__ = [
    "DispatchReport",
    "Dispatcher",
    "Handler",
    "HandlerContext",
    "ReplayReport",
    "Subscription",
]

_DONE = b"1"

#: The retry policy of subscriptions unless told otherwise: five tries, 0.2 s doubling up to 30 s.
DEFAULT_RETRY = RetryPolicy(attempts=5, initial=0.2, maximum=30.0, jitter=0.2)
_ONCE = RetryPolicy(attempts=1)


def _worth_retrying(exc: BaseException) -> bool:
    """Everything but shipsync's permanent errors: the same call cannot succeed later."""
    return not isinstance(exc, InvalidInputError | RemoteDataError)


@attrs.frozen
class HandlerContext:
    """What a handler knows about the call besides the event.

    ``key`` is the idempotency key of this (event, handler) pair: a handler whose effect must
    never apply twice writes it beside the effect (a unique column, an ``Idempotency-Key``
    header). ``attempt`` counts this handler's calls for the event (1 first); ``replay`` is True
    when a dead letter is being replayed.
    """

    handler: str
    key: str
    token: int
    attempt: int
    delivery_attempt: int = 1
    replay: bool = False


Handler: TypeAlias = Callable[[Event, HandlerContext], Awaitable[object] | object]
"""A handler: sync or async, called with the event and its :class:`HandlerContext`."""


@attrs.frozen
class Subscription:
    """A handler, its name (stable: it is part of the idempotency key) and the types it takes.

    ``event_types`` None takes every type. A ``blocking=False`` subscription (a customer
    notification, say) gets one attempt bounded by ``timeout`` seconds and is dead-lettered at
    once on failure, so it never holds back the events after it; replay it later. ``timeout``
    None bounds each call of an async handler by the dispatcher's lease; a sync handler runs on
    the event loop and cannot be interrupted, so keep it short or make it async.
    """

    name: str
    handler: Handler = attrs.field(repr=False)
    event_types: frozenset[str] | None
    retry: RetryPolicy
    blocking: bool = True
    timeout: float | None = None

    def wants(self, event_type: str) -> bool:
        """Whether this subscription takes ``event_type``."""
        return self.event_types is None or event_type in self.event_types


@attrs.define
class DispatchReport:
    """What a dispatch run did, in counts."""

    events: int = 0
    effects: int = 0
    duplicates: int = 0
    retries: int = 0
    dead_lettered: int = 0
    unreadable: int = 0
    released: int = 0
    outages: int = 0

    def add(self, other: DispatchReport) -> None:
        """Add ``other``'s counts to this report."""
        for field in attrs.fields(DispatchReport):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


@attrs.define
class ReplayReport:
    """What a replay did: letters that now succeeded, had already taken effect, or failed again."""

    succeeded: list[int] = attrs.Factory(list)
    already_done: list[int] = attrs.Factory(list)
    failed: list[int] = attrs.Factory(list)
    skipped: list[int] = attrs.Factory(list)


class _Store:
    """The store calls the dispatcher makes, as coroutines, over a sync or an async store.

    :meth:`for_store` picks the twin once; the shared rules (a stale token means a successor
    owns the key: record the rest, skip that one) live here.
    """

    @staticmethod
    def for_store(store: IdempotencyStore | AsyncIdempotencyStore) -> _Store:
        if inspect.iscoroutinefunction(store.claim):
            return _AsyncStore(cast(AsyncIdempotencyStore, store))
        return _SyncStore(cast(IdempotencyStore, store))

    async def _claim_many(
        self, items: Sequence[tuple[str, str]], lease: timedelta
    ) -> list[BatchOutcome]:
        raise NotImplementedError

    async def _complete_many(self, items: Sequence[tuple[str, int, bytes]]) -> None:
        raise NotImplementedError

    async def _complete(self, key: str, token: int, result: bytes) -> None:
        raise NotImplementedError

    async def _release(self, key: str, token: int) -> None:
        raise NotImplementedError

    async def claim_many(
        self, items: Sequence[tuple[str, str]], lease: timedelta
    ) -> list[BatchOutcome]:
        return await self._claim_many(items, lease) if items else []

    async def claim(self, key: str, fingerprint: str, lease: timedelta) -> BatchOutcome:
        (out,) = await self._claim_many([(key, fingerprint)], lease)
        return out

    async def complete_many(self, items: Sequence[tuple[str, int, bytes]]) -> None:
        if not items:
            return
        try:
            await self._complete_many(items)
        except StaleTokenError as exc:
            # Some leases ran out under us; their successors own those keys. Record the rest.
            stale = set(exc.keys)
            for key, token, result in items:
                if key not in stale:
                    try:
                        await self._complete(key, token, result)
                    except StaleTokenError:
                        continue

    async def release(self, key: str, token: int) -> None:
        try:
            await self._release(key, token)
        except StaleTokenError:
            return


class _SyncStore(_Store):
    def __init__(self, store: IdempotencyStore) -> None:
        self._store = store

    async def _claim_many(
        self, items: Sequence[tuple[str, str]], lease: timedelta
    ) -> list[BatchOutcome]:
        return self._store.claim_many(items, lease)

    async def _complete_many(self, items: Sequence[tuple[str, int, bytes]]) -> None:
        self._store.complete_many(items)

    async def _complete(self, key: str, token: int, result: bytes) -> None:
        self._store.complete(key, token, result)

    async def _release(self, key: str, token: int) -> None:
        self._store.release(key, token)


class _AsyncStore(_Store):
    def __init__(self, store: AsyncIdempotencyStore) -> None:
        self._store = store

    async def _claim_many(
        self, items: Sequence[tuple[str, str]], lease: timedelta
    ) -> list[BatchOutcome]:
        return await self._store.claim_many(items, lease)

    async def _complete_many(self, items: Sequence[tuple[str, int, bytes]]) -> None:
        await self._store.complete_many(items)

    async def _complete(self, key: str, token: int, result: bytes) -> None:
        await self._store.complete(key, token, result)

    async def _release(self, key: str, token: int) -> None:
        await self._store.release(key, token)


@attrs.define
class _Pair:
    """One (event, handler) of a batch: its key, and its claim's outcome once claimed."""

    sub: Subscription
    key: str
    fingerprint: str
    outcome: BatchOutcome | None = None
    duplicate_in_batch: bool = False
    settled: bool = False  # its claim was completed or released


@attrs.define
class _Item:
    """A delivery of the batch, its place in the batch, and its (event, handler) pairs."""

    index: int
    delivery: Delivery
    pairs: list[_Pair]


@attrs.define
class _Partition:
    """One partition's deliveries in order, and what handling them did.

    Whichever lane handles a partition writes only into its object: its counts, the completions to
    record, and how many of its deliveries were handled (those are acknowledged; the ones after
    them are given back to the log to come again, in order).
    """

    items: list[_Item]
    report: DispatchReport = attrs.Factory(DispatchReport)
    completions: list[tuple[str, int, bytes]] = attrs.Factory(list)
    handled: int = 0

    @property
    def given_back(self) -> list[_Item]:
        return self.items[self.handled :]


class Dispatcher:
    """Routes events to handlers once per (event, handler), with retries and dead letters.

    Args:
        store: the idempotency store (sync or async) that makes each pair take effect once.
        dead_letters: where failures after the last attempt go, and deliveries the catalogue
            cannot read (under the handler name ``<log>``). Without one, a failed pair is
            released and its partition comes again later; so is the partition of an unreadable
            delivery (counted in ``DispatchReport.unreadable``) or of a fingerprint mismatch:
            nothing is acknowledged that was neither handled nor recorded.
        lease: how long a pair's claim holds before another worker may take it over, and the
            default bound of each async handler call. Make it longer than a handler's worst
            case including its retries.
        retry: the default retry policy of subscriptions.
        in_progress_wait: seconds to wait for a pair another worker holds before the partition is
            given back to the log.
        concurrency: partitions of one batch handled at the same time.
        clock: seconds since the epoch (dead letter times).
    """

    def __init__(
        self,
        store: IdempotencyStore | AsyncIdempotencyStore,
        dead_letters: DeadLetterStore | None = None,
        *,
        lease: timedelta = timedelta(seconds=60),
        retry: RetryPolicy = DEFAULT_RETRY,
        in_progress_wait: float = 5.0,
        concurrency: int = 32,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if lease <= timedelta(0):
            raise ConfigurationError("the lease must be positive", path="lease")
        self.store = _Store.for_store(store)
        self.dead_letters = dead_letters
        self.lease = lease
        self.retry = retry
        self.in_progress_wait = in_progress_wait
        self.concurrency = max(1, concurrency)
        self._clock = clock
        self._subs: dict[str, Subscription] = {}
        _telemetry.watch_dead_letters(dead_letters)  # telemetry

    # -- subscriptions -----------------------------------------------------------------------

    @property
    def subscriptions(self) -> dict[str, Subscription]:
        """Subscriptions by name."""
        return dict(self._subs)

    def subscribe(
        self,
        event_types: str | type[Event] | Iterable[str | type[Event]] | None,
        handler: Handler,
        *,
        name: str | None = None,
        retry: RetryPolicy | None = None,
        blocking: bool = True,
        timeout: float | None = None,
    ) -> Subscription:
        """Subscribe ``handler`` to event types (None: all); ``name`` defaults to its qualname.

        The name is part of every idempotency key: renaming a handler makes it see old events as
        new ones.
        """
        label = name if name is not None else getattr(handler, "__qualname__", repr(handler))
        if not label or ":" in label:
            raise ConfigurationError("a handler name is non-empty and has no ':'", path="name")
        if label in self._subs:
            raise ConfigurationError(f"a handler named {label!r} is subscribed", path="name")
        if timeout is not None and not 0 < timeout < float("inf"):
            raise ConfigurationError("a timeout is a positive number of seconds", path="timeout")
        types = None if event_types is None else frozenset(_type_names(event_types))
        sub = Subscription(
            name=label,
            handler=handler,
            event_types=types,
            retry=retry or self.retry,
            blocking=blocking,
            timeout=timeout if timeout is not None else (None if blocking else 10.0),
        )
        self._subs[label] = sub
        return sub

    def on(
        self,
        *event_types: str | type[Event],
        name: str | None = None,
        retry: RetryPolicy | None = None,
        blocking: bool = True,
        timeout: float | None = None,
    ) -> Callable[[Handler], Handler]:
        """Decorator form of :meth:`subscribe`; no types means every type."""

        def register(handler: Handler) -> Handler:
            self.subscribe(
                event_types or None,
                handler,
                name=name,
                retry=retry,
                blocking=blocking,
                timeout=timeout,
            )
            return handler

        return register

    # -- dispatching -------------------------------------------------------------------------

    async def dispatch(self, events: Sequence[Event]) -> DispatchReport:
        """Handle ``events`` directly, without a log (in order per partition)."""
        deliveries = [
            Delivery(partition=partition_of(e), position=i, body=b"", event=e)
            for i, e in enumerate(events)
        ]
        report, _ = await self._handle(deliveries)
        return report

    async def handle(self, log: AsyncEventLog, deliveries: Sequence[Delivery]) -> DispatchReport:
        """Handle deliveries received from ``log``, then ack them (or give them back)."""
        report, back = await self._handle(deliveries)
        given_back = {item.index for item in back}
        done = [d for i, d in enumerate(deliveries) if i not in given_back]
        if done:
            await log.ack(done)
        if back:
            await log.release(
                [item.delivery for item in back], delay=min(1.0, self.lease.total_seconds())
            )
            report.released += len(back)
        return report

    async def run(
        self,
        log: AsyncEventLog,
        *,
        batch_size: int = 100,
        stop: asyncio.Event | None = None,
        idle_timeout: float | None = None,
        on_batch: Callable[[DispatchReport], None] | None = None,
    ) -> DispatchReport:
        """Receive and handle until ``stop`` is set or nothing came for ``idle_timeout`` s.

        Outages of the log or the store (``UnavailableError``, and ``CompletionFailedError``
        when the store went away while a batch's completions were recorded) are waited out
        with a growing pause and counted in ``outages``; nothing is lost, since unacknowledged
        deliveries come again (a pair whose completion was lost runs again once its claim's
        lease ends: ``ctx.key`` makes that harmless).
        """
        total = DispatchReport()
        idle_since = time.monotonic()
        pause = 0.05
        while stop is None or not stop.is_set():
            try:
                deliveries = await log.receive(batch_size, timeout=0.2)
                if not deliveries:
                    if idle_timeout is not None and time.monotonic() - idle_since >= idle_timeout:
                        break
                    continue
                idle_since = time.monotonic()
                report = await self.handle(log, deliveries)
            except (UnavailableError, CompletionFailedError):
                # The log or the store is down: what was received comes again once its lease
                # ends or its connection is gone. Wait, growing the pause, and go on.
                total.outages += 1
                await asyncio.sleep(pause)
                pause = min(pause * 2, 2.0)
                idle_since = time.monotonic()
                continue
            pause = 0.05
            total.add(report)
            if on_batch is not None:
                on_batch(report)
        return total

    @_telemetry.traced_dispatch  # telemetry
    async def _handle(self, deliveries: Sequence[Delivery]) -> tuple[DispatchReport, list[_Item]]:
        """Claim every pair of the batch, run the partitions, record completions.

        Returns the batch's report and the deliveries to give back, in batch order.
        """
        items = self._pairs(deliveries)
        fresh = [p for item in items for p in item.pairs if not p.duplicate_in_batch]
        outcomes = await self.store.claim_many([(p.key, p.fingerprint) for p in fresh], self.lease)
        for pair, outcome in zip(fresh, outcomes, strict=True):
            pair.outcome = outcome
        by_partition: dict[str, list[_Item]] = {}
        for item in items:
            by_partition.setdefault(item.delivery.partition, []).append(item)
        partitions = [_Partition(part) for part in by_partition.values()]
        # At most `concurrency` lanes, each taking the next partition when it is done with one:
        # the partitions start in batch order and no more than `concurrency` run at once, as
        # with a task per partition behind a semaphore, at a task per lane rather than one per
        # partition (most batches have about as many partitions as deliveries).
        queue = iter(partitions)
        lanes = min(self.concurrency, len(partitions))
        tasks = [asyncio.ensure_future(self._run_lane(queue)) for _ in range(lanes)]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            # One partition was interrupted (or we were cancelled): stop the others too rather
            # than leave them running unobserved, then record what did finish.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            # Pairs claimed for partitions that never got to them: free them for the redelivery.
            for pair in fresh:
                if isinstance(pair.outcome, Acquired) and not pair.settled:
                    pair.settled = True
                    await _quietly(self.store.release(pair.key, pair.outcome.token))
            raise
        finally:
            await self.store.complete_many([c for p in partitions for c in p.completions])
        report = DispatchReport(events=len(deliveries))
        for partition in partitions:
            report.add(partition.report)
        back = sorted((i for p in partitions for i in p.given_back), key=lambda i: i.index)
        return report, back

    def _pairs(self, deliveries: Sequence[Delivery]) -> list[_Item]:
        """Each delivery with its (event, handler) pairs; a key twice in the batch is marked."""
        items: list[_Item] = []
        seen: set[str] = set()
        for index, d in enumerate(deliveries):
            pairs: list[_Pair] = []
            if d.event is not None:
                fp = _fingerprint(d.event, d.body)
                for sub in self._subs.values():
                    if sub.wants(d.event.type):
                        key = f"{sub.name}:{d.event.id}"
                        pairs.append(_Pair(sub, key, fp, duplicate_in_batch=key in seen))
                        seen.add(key)
            items.append(_Item(index, d, pairs))
        return items

    async def _run_lane(self, partitions: Iterator[_Partition]) -> None:
        """Handle partitions one after another, taking each from the batch's shared iterator."""
        for partition in partitions:
            await self._run_partition(partition)

    async def _run_partition(self, partition: _Partition) -> None:
        """Handle a partition's deliveries in order; stop at the first that must come again."""
        for item in partition.items:
            d = item.delivery
            if d.event is None:
                partition.report.unreadable += 1
                if self.dead_letters is None:
                    return  # nowhere to keep it: never acknowledge it away
                await self._record_unreadable(d)
            elif not await self._run_pairs(d, item.pairs, partition):
                return
            partition.handled += 1

    @_telemetry.traced_delivery  # telemetry
    async def _run_pairs(self, d: Delivery, pairs: list[_Pair], partition: _Partition) -> bool:
        """Run one delivery's pairs; False when the delivery must come again."""
        assert d.event is not None
        report = partition.report
        ok = True
        for pair in pairs:
            if pair.duplicate_in_batch:
                report.duplicates += 1
                continue
            if isinstance(pair.outcome, InProgress):
                pair.outcome = await self._wait_in_progress(pair)
            match pair.outcome:
                case InProgress():
                    ok = False  # another worker still holds it: the partition comes again
                case Completed():
                    report.duplicates += 1
                case Mismatched() if self.dead_letters is None:
                    ok = False  # nowhere to keep it: the partition comes again, never dropped
                case Mismatched():
                    await self._record(
                        d, pair.sub.name, "FingerprintMismatch", "same event id, other content", 1
                    )
                    report.dead_lettered += 1
                case Acquired(token=token):
                    ok = await self._run_acquired(d, pair, token, partition) and ok
        return ok

    async def _run_acquired(
        self, d: Delivery, pair: _Pair, token: int, partition: _Partition
    ) -> bool:
        """Run a claimed pair's handler; complete, dead-letter or release it."""
        assert d.event is not None
        ctx = HandlerContext(
            handler=pair.sub.name, key=pair.key, token=token, attempt=1, delivery_attempt=d.attempt
        )
        began = self._clock()  # the first failure's time, if it comes to a dead letter
        try:
            error, attempts = await self._call(pair.sub, d.event, ctx)
        except BaseException:
            # Interrupted or cancelled: free the pair at once so the redelivery of this
            # unacknowledged event need not wait for the lease to end.
            pair.settled = True
            await _quietly(self.store.release(pair.key, token))
            raise
        partition.report.retries += attempts - 1
        pair.settled = True
        if error is None:
            partition.completions.append((pair.key, token, _DONE))
            partition.report.effects += 1
            return True
        if self.dead_letters is None:
            await self.store.release(pair.key, token)
            return False
        try:
            await self._record(d, pair.sub.name, type(error).__name__, str(error), attempts, began)
        finally:
            # Even when the letter cannot be written: the unacknowledged delivery comes again
            # and must find the pair free, not held for a lease.
            await self.store.release(pair.key, token)
        partition.report.dead_lettered += 1
        return True

    async def _wait_in_progress(self, pair: _Pair) -> BatchOutcome:
        deadline = time.monotonic() + self.in_progress_wait
        outcome: BatchOutcome = InProgress(pair.key)
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            outcome = await self.store.claim(pair.key, pair.fingerprint, self.lease)
            if not isinstance(outcome, InProgress):
                return outcome
        return outcome

    @_telemetry.traced_handler  # telemetry
    async def _call(
        self, sub: Subscription, event: Event, ctx: HandlerContext
    ) -> tuple[BaseException | None, int]:
        """Run a handler with its retry policy; return the last error (None: success)."""
        policy = sub.retry if sub.blocking else _ONCE
        tried = 0

        async def attempt(number: int) -> None:
            nonlocal tried
            tried = number
            this = ctx if number == 1 else attrs.evolve(ctx, attempt=number)
            await self._invoke(sub, event, this)

        try:
            await policy.acall(attempt, retry_if=_worth_retrying)
        except Exception as exc:
            return exc, tried
        return None, tried

    async def _invoke(self, sub: Subscription, event: Event, ctx: HandlerContext) -> None:
        try:
            result = sub.handler(event, ctx)
            if inspect.isawaitable(result):
                timeout = sub.timeout if sub.timeout is not None else self.lease.total_seconds()
                await asyncio.wait_for(result, timeout)
        except asyncio.CancelledError as exc:
            task = asyncio.current_task()
            if task is None or task.cancelling():
                raise
            raise FlowError(
                f"handler {sub.name!r} raised CancelledError without being cancelled"
            ) from exc

    @_telemetry.traced_dead_letter  # telemetry
    async def _record(
        self,
        d: Delivery,
        handler: str,
        error_type: str,
        error: str,
        attempts: int,
        first_failed_at: float | None = None,
    ) -> None:
        """Write a dead letter on a worker thread: a database store never blocks the loop."""
        if self.dead_letters is None:
            return
        event = d.event
        letter = NewDeadLetter(
            event_id=event.id if event else f"{d.partition}@{d.position}",
            event_type=event.type if event else "<unreadable>",
            partition=d.partition,
            handler=handler,
            body=d.body or (event.to_json() if event else b""),
            error_type=error_type,
            error=error,
            attempts=attempts,
            failed_at=self._clock(),
            first_failed_at=first_failed_at,
        )
        await asyncio.to_thread(self.dead_letters.record, letter)

    async def _record_unreadable(self, d: Delivery) -> None:
        await self._record(d, "<log>", "UnreadableEvent", d.error or "unreadable", d.attempt)

    # -- replay ------------------------------------------------------------------------------

    @_telemetry.traced_replay  # telemetry
    async def replay(
        self,
        where: DeadLetterFilter | None = None,
        *,
        limit: int = 10_000,
    ) -> ReplayReport:
        """Run dead letters' handlers again through the same idempotency guard.

        A pair that took effect meanwhile is only marked resolved; one that fails again stays
        open with its attempts counted. Letters whose handler is no longer subscribed, or whose
        pair another worker holds, are skipped.
        """
        if self.dead_letters is None:
            raise ConfigurationError("replay needs a dead letter store", path="dead_letters")
        letters = self.dead_letters
        out = ReplayReport()
        listed = await asyncio.to_thread(letters.list, where or DeadLetterFilter(), limit=limit)
        for letter in listed:
            sub = self._subs.get(letter.handler)
            try:
                event = letter.event()
            except ShipsyncError:
                out.skipped.append(letter.id)
                continue
            if sub is None:
                out.skipped.append(letter.id)
                continue
            key = f"{sub.name}:{event.id}"
            outcome = await self.store.claim(key, _fingerprint(event, letter.body), self.lease)
            now = self._clock()
            if isinstance(outcome, Completed):
                await asyncio.to_thread(letters.mark_replayed, letter.id, resolved=True, at=now)
                out.already_done.append(letter.id)
            elif isinstance(outcome, Acquired):
                ctx = HandlerContext(
                    handler=sub.name, key=key, token=outcome.token, attempt=1, replay=True
                )
                began = self._clock()
                try:
                    error, attempts = await self._call(sub, event, ctx)
                except BaseException:
                    await _quietly(self.store.release(key, outcome.token))
                    raise
                if error is None:
                    await self.store.complete_many([(key, outcome.token, _DONE)])
                    await asyncio.to_thread(
                        letters.mark_replayed, letter.id, resolved=True, at=self._clock()
                    )
                    out.succeeded.append(letter.id)
                else:
                    d = Delivery(
                        partition=letter.partition, position=0, body=letter.body, event=event
                    )
                    await self._record(
                        d, sub.name, type(error).__name__, str(error), attempts, began
                    )
                    await self.store.release(key, outcome.token)
                    await asyncio.to_thread(
                        letters.mark_replayed, letter.id, resolved=False, at=self._clock()
                    )
                    out.failed.append(letter.id)
            else:
                out.skipped.append(letter.id)
        return out


async def _quietly(work: Awaitable[None]) -> None:
    """Await ``work``, ignoring its failure (clean-up on the way out of an interruption)."""
    try:
        await work
    except Exception:  # the interruption being handled matters more
        return


def _type_names(event_types: str | type[Event] | Iterable[str | type[Event]]) -> list[str]:
    items: Iterable[str | type[Event]] = (
        [event_types] if isinstance(event_types, str | type) else event_types
    )
    return [t if isinstance(t, str) else t.event_type() for t in items]


def _fingerprint(event: Event, body: bytes = b"") -> str:
    """SHA-256 of the event's JSON (the stored body when there is one: the same bytes)."""
    return hashlib.sha256(_telemetry.without_trace_context(body or event.to_json())).hexdigest()
