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
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import timedelta
from typing import Any, TypeAlias

import attrs
import tenacity

from shipsync.canonical import Event
from shipsync.errors import (
    CompletionFailedError,
    ConfigurationError,
    FlowError,
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

from ._backoff import RetryPolicy, backoff_sleep
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


class _StoreView:
    """One async face over a sync or an async idempotency store."""

    def __init__(self, store: IdempotencyStore | AsyncIdempotencyStore) -> None:
        self._store = store
        self._async = inspect.iscoroutinefunction(store.claim)

    async def _call(self, name: str, *args: Any) -> Any:
        result = getattr(self._store, name)(*args)
        if self._async:
            result = await result
        return result

    async def claim_many(self, items: Sequence[tuple[str, str]], lease: timedelta) -> list[Any]:
        if not items:
            return []
        out: list[BatchOutcome] = await self._call("claim_many", items, lease)
        return out

    async def claim(self, key: str, fingerprint: str, lease: timedelta) -> BatchOutcome:
        (out,) = await self.claim_many([(key, fingerprint)], lease)
        return out  # type: ignore[no-any-return]

    async def complete_many(self, items: Sequence[tuple[str, int, bytes]]) -> None:
        if not items:
            return
        try:
            await self._call("complete_many", items)
        except StaleTokenError as exc:
            # Some leases ran out under us; their successors own those keys. Record the rest.
            stale = set(exc.keys)
            for item in items:
                if item[0] not in stale:
                    try:
                        await self._call("complete", *item)
                    except StaleTokenError:
                        continue

    async def release(self, key: str, token: int) -> None:
        try:
            await self._call("release", key, token)
        except StaleTokenError:
            return


@attrs.define
class _Pair:
    delivery: Delivery
    sub: Subscription
    key: str
    fingerprint: str
    outcome: BatchOutcome | None = None
    duplicate_in_batch: bool = False
    settled: bool = False  # its claim was completed or released


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
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008
        in_progress_wait: float = 5.0,
        concurrency: int = 32,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if lease <= timedelta(0):
            raise ConfigurationError("the lease must be positive", path="lease")
        self.store = _StoreView(store)
        self.dead_letters = dead_letters
        self.lease = lease
        self.retry = retry
        self.in_progress_wait = in_progress_wait
        self.concurrency = max(1, concurrency)
        self._clock = clock
        self._subs: dict[str, Subscription] = {}

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
        report, give_back = await self._handle(deliveries)
        done = [d for d in deliveries if id(d) not in give_back]
        back = [d for d in deliveries if id(d) in give_back]
        if done:
            await log.ack(done)
        if back:
            await log.release(back, delay=min(1.0, self.lease.total_seconds()))
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

    async def _handle(self, deliveries: Sequence[Delivery]) -> tuple[DispatchReport, set[int]]:
        report = DispatchReport(events=len(deliveries))
        pairs: list[_Pair] = []
        seen: set[str] = set()
        for d in deliveries:
            if d.event is None:
                continue
            fp = _fingerprint(d.event, d.body)
            for sub in self._subs.values():
                if sub.wants(d.event.type):
                    key = f"{sub.name}:{d.event.id}"
                    pair = _Pair(d, sub, key, fp, duplicate_in_batch=key in seen)
                    seen.add(key)
                    pairs.append(pair)
        fresh = [p for p in pairs if not p.duplicate_in_batch]
        outcomes = await self.store.claim_many([(p.key, p.fingerprint) for p in fresh], self.lease)
        for pair, outcome in zip(fresh, outcomes, strict=True):
            pair.outcome = outcome
        by_delivery: dict[int, list[_Pair]] = {}
        for pair in pairs:
            by_delivery.setdefault(id(pair.delivery), []).append(pair)
        partitions: dict[str, list[Delivery]] = {}
        for d in deliveries:
            partitions.setdefault(d.partition, []).append(d)
        completions: list[tuple[str, int, bytes]] = []
        give_back: set[int] = set()

        # One semaphore per batch: a dispatcher may serve several event loops in turn.
        limit = asyncio.Semaphore(self.concurrency)

        async def run_partition(items: list[Delivery]) -> None:
            async with limit:
                for index, d in enumerate(items):
                    if d.event is None:
                        report.unreadable += 1
                        if self.dead_letters is None:
                            # Nowhere to keep it: never acknowledge it away.
                            give_back.update(id(x) for x in items[index:])
                            return
                        self._record_unreadable(d)
                        continue
                    ok = await self._run_pairs(d, by_delivery.get(id(d), []), report, completions)
                    if not ok:
                        give_back.update(id(x) for x in items[index:])
                        return

        tasks = [asyncio.ensure_future(run_partition(items)) for items in partitions.values()]
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
            await self.store.complete_many(completions)
        return report, give_back

    async def _run_pairs(
        self,
        d: Delivery,
        pairs: list[_Pair],
        report: DispatchReport,
        completions: list[tuple[str, int, bytes]],
    ) -> bool:
        assert d.event is not None
        ok = True
        for pair in pairs:
            if pair.duplicate_in_batch:
                report.duplicates += 1
                continue
            outcome = pair.outcome
            if isinstance(outcome, InProgress):
                outcome = pair.outcome = await self._wait_in_progress(pair)
                if isinstance(outcome, InProgress):
                    ok = False  # another worker still holds it: the partition comes again
                    continue
            if isinstance(outcome, Completed):
                report.duplicates += 1
            elif isinstance(outcome, Mismatched):
                if self.dead_letters is None:
                    ok = False  # nowhere to keep it: the partition comes again, never dropped
                    continue
                self._record(
                    d, pair.sub.name, "FingerprintMismatch", "same event id, other content", 1
                )
                report.dead_lettered += 1
            elif isinstance(outcome, Acquired):
                ctx = HandlerContext(
                    handler=pair.sub.name,
                    key=pair.key,
                    token=outcome.token,
                    attempt=1,
                    delivery_attempt=d.attempt,
                )
                began = self._clock()  # the first failure's time, if it comes to a dead letter
                try:
                    error, attempts = await self._call(pair.sub, d.event, ctx)
                except BaseException:
                    # Interrupted or cancelled: free the pair at once so the redelivery of
                    # this unacknowledged event need not wait for the lease to end.
                    pair.settled = True
                    await _quietly(self.store.release(pair.key, outcome.token))
                    raise
                report.retries += attempts - 1
                pair.settled = True
                if error is None:
                    completions.append((pair.key, outcome.token, _DONE))
                    report.effects += 1
                elif self.dead_letters is not None:
                    try:
                        self._record(
                            d, pair.sub.name, type(error).__name__, str(error), attempts, began
                        )
                    finally:
                        # Even when the letter cannot be written: the unacknowledged delivery
                        # comes again and must find the pair free, not held for a lease.
                        await self.store.release(pair.key, outcome.token)
                    report.dead_lettered += 1
                else:
                    await self.store.release(pair.key, outcome.token)
                    ok = False
        return ok

    async def _wait_in_progress(self, pair: _Pair) -> BatchOutcome:
        deadline = time.monotonic() + self.in_progress_wait
        outcome: BatchOutcome = InProgress(pair.key)
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            outcome = await self.store.claim(pair.key, pair.fingerprint, self.lease)
            if not isinstance(outcome, InProgress):
                return outcome
        return outcome

    async def _call(
        self, sub: Subscription, event: Event, ctx: HandlerContext
    ) -> tuple[BaseException | None, int]:
        """Run a handler with its retry policy; return the last error (None: success)."""
        if not sub.blocking:
            try:
                await self._invoke(sub, event, ctx)
            except Exception as exc:
                return exc, 1
            return None, 1
        # The first attempt runs without tenacity's machinery: most calls succeed at once.
        try:
            await self._invoke(sub, event, ctx)
        except Exception as exc:
            if sub.retry.attempts == 1 or not sub.retry.should_retry(exc):
                return exc, 1
        else:
            return None, 1
        policy = sub.retry
        await backoff_sleep(min(policy.initial, policy.maximum) + random.uniform(0, policy.jitter))
        retrying = tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(policy.attempts - 1),
            wait=tenacity.wait_exponential(multiplier=policy.initial * 2, max=policy.maximum)
            + tenacity.wait_random(0, policy.jitter),
            retry=tenacity.retry_if_exception(policy.should_retry),
            sleep=backoff_sleep,
            reraise=True,
        )
        number = 1
        try:
            async for attempt in retrying:
                with attempt:
                    number = attempt.retry_state.attempt_number + 1
                    await self._invoke(sub, event, attrs.evolve(ctx, attempt=number))
        except Exception as exc:
            return exc, number
        return None, number

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

    def _record(
        self,
        d: Delivery,
        handler: str,
        error_type: str,
        error: str,
        attempts: int,
        first_failed_at: float | None = None,
    ) -> None:
        if self.dead_letters is None:
            return
        event = d.event
        self.dead_letters.record(
            NewDeadLetter(
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
        )

    def _record_unreadable(self, d: Delivery) -> None:
        self._record(d, "<log>", "UnreadableEvent", d.error or "unreadable", d.attempt)

    # -- replay ------------------------------------------------------------------------------

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
        out = ReplayReport()
        for letter in self.dead_letters.list(where or DeadLetterFilter(), limit=limit):
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
                self.dead_letters.mark_replayed(letter.id, resolved=True, at=now)
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
                    self.dead_letters.mark_replayed(letter.id, resolved=True, at=self._clock())
                    out.succeeded.append(letter.id)
                else:
                    d = Delivery(
                        partition=letter.partition, position=0, body=letter.body, event=event
                    )
                    self._record(d, sub.name, type(error).__name__, str(error), attempts, began)
                    await self.store.release(key, outcome.token)
                    self.dead_letters.mark_replayed(letter.id, resolved=False, at=self._clock())
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
    return hashlib.sha256(body or event.to_json()).hexdigest()
