"""Receiver faults: whatever the sink, the store or the parser raises, every delivery ends as a
typed error or a receipt with the right status, and is never lost nor handed off twice.

Both receivers run every case: the sync one directly, the async one in a fresh event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import pytest
from _wh_helpers import HMAC_SECRET, NOW, event_body
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipsync.canonical import Event, parse_event
from shipsync.errors import (
    ConfigurationError,
    EventLogUnavailableError,
    InvalidInputError,
    ShipsyncError,
    StaleTokenError,
    StoreUnavailableError,
    UnavailableError,
)
from shipsync.idempotency import ClaimOutcome, MemoryStore
from shipsync.webhooks import (
    GITHUB_SCHEME,
    AsyncWebhookReceiver,
    ParsedDelivery,
    Receipt,
    ReceiptOutcome,
    StandardWebhooksScheme,
    WebhookReceiver,
)

SCHEME = StandardWebhooksScheme()
BODY = event_body("SHP-FAULT", 1)
LEASE = timedelta(seconds=60)

SINK_FAILURES: dict[str, Exception] = {
    "event-log-down": EventLogUnavailableError("log down", retry_after=90),
    "shipsync-config": ConfigurationError("sink misconfigured"),
    "runtime-error": RuntimeError("bug in the sink"),
    "os-error": OSError(5, "I/O error"),
    "connection-error": ConnectionError("broker went away"),
    "key-error": KeyError("missing"),
    "value-error": ValueError("bad value"),
}
STORE_FAILURES: dict[str, Exception] = {
    "store-down": StoreUnavailableError("store down", retry_after=45),
    "runtime-error": RuntimeError("bug in the store"),
    "connection-error": ConnectionError("redis went away"),
    "timeout": TimeoutError("slow"),
}


class Clock:
    def __init__(self) -> None:
        self.now = float(NOW)

    def __call__(self) -> float:
        return self.now


class FaultyStore:
    """A MemoryStore whose next claim/complete/release raises what ``faults[name]`` holds."""

    def __init__(self, clock: Clock) -> None:
        self.inner = MemoryStore(clock=clock)
        self.faults: dict[str, BaseException] = {}
        self.calls: list[str] = []

    def _call(self, name: str, *args: Any) -> Any:
        self.calls.append(name)
        fault = self.faults.pop(name, None)
        if fault is not None:
            raise fault
        return getattr(self.inner, name)(*args)

    def claim(self, key: str, fingerprint: str, lease: timedelta = LEASE) -> ClaimOutcome:
        return self._call("claim", key, fingerprint, lease)  # type: ignore[no-any-return]

    def complete(self, key: str, token: int, result: bytes, retention: timedelta) -> None:
        self._call("complete", key, token, result, retention)

    def release(self, key: str, token: int) -> None:
        self._call("release", key, token)


class AsyncFaultyStore:
    """The async face of a :class:`FaultyStore` (same state, same faults)."""

    def __init__(self, sync: FaultyStore) -> None:
        self.sync = sync

    async def claim(self, key: str, fingerprint: str, lease: timedelta = LEASE) -> ClaimOutcome:
        await asyncio.sleep(0)
        return self.sync.claim(key, fingerprint, lease)

    async def complete(self, key: str, token: int, result: bytes, retention: timedelta) -> None:
        await asyncio.sleep(0)
        self.sync.complete(key, token, result, retention)

    async def release(self, key: str, token: int) -> None:
        await asyncio.sleep(0)
        self.sync.release(key, token)


class Sink:
    """Keeps what it is given; the next publish raises ``failure`` when one is set."""

    def __init__(self) -> None:
        self.batches: list[list[Event]] = []
        self.failure: BaseException | None = None

    def publish(self, events: Sequence[Event]) -> None:
        if self.failure is not None:
            failure, self.failure = self.failure, None
            raise failure
        self.batches.append(list(events))


class AsyncSink:
    def __init__(self, sync: Sink) -> None:
        self.sync = sync

    async def publish(self, events: Sequence[Event]) -> None:
        await asyncio.sleep(0)
        self.sync.publish(events)


class Rig:
    """One receiver (sync or async) over a faulty store and sink, driven synchronously."""

    def __init__(self, kind: str, parser: Callable[[bytes], Any] | None = None) -> None:
        self.kind = kind
        self.clock = Clock()
        self.store = FaultyStore(self.clock)
        self.sink = Sink()
        extra: dict[str, Any] = {} if parser is None else {"parser": parser}
        verifier = SCHEME.verifier(HMAC_SECRET, clock=self.clock)
        self.receiver: WebhookReceiver | AsyncWebhookReceiver
        if kind == "sync":
            self.receiver = WebhookReceiver(
                verifier, store=self.store, sink=self.sink, lease=LEASE, **extra
            )
        else:
            self.receiver = AsyncWebhookReceiver(
                verifier,
                store=AsyncFaultyStore(self.store),
                sink=AsyncSink(self.sink),
                lease=LEASE,
                **extra,
            )

    def receive(self, body: Any = BODY, msg_id: str = "msg_1") -> Receipt:
        headers = SCHEME.signer(HMAC_SECRET).sign(
            body if isinstance(body, bytes) else b"", msg_id=msg_id, timestamp=int(self.clock.now)
        )
        if isinstance(self.receiver, WebhookReceiver):
            return self.receiver.receive(body, headers)
        return asyncio.run(self.receiver.receive(body, headers))


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.parametrize("failure", list(SINK_FAILURES.values()), ids=list(SINK_FAILURES))
def test_any_sink_failure_defers_503_and_the_retry_is_handed_off_exactly_once(
    kind: str, failure: Exception
) -> None:
    """Typed or foreign, a sink failure answers 503 + Retry-After with a ShipsyncError (the
    original chained), releases the claim, and the redelivery is handed off once."""
    rig = Rig(kind)
    rig.sink.failure = failure
    deferred = rig.receive()
    assert (deferred.outcome, deferred.status, deferred.ok) == (ReceiptOutcome.DEFERRED, 503, False)
    assert isinstance(deferred.error, ShipsyncError)
    assert deferred.error is failure or deferred.error.__cause__ is failure
    assert deferred.retry_after is not None
    assert deferred.retry_after >= 30
    assert "Retry-After" in deferred.headers
    assert rig.sink.batches == []
    assert "release" in rig.store.calls
    accepted = rig.receive()
    assert (accepted.outcome, accepted.status) == (ReceiptOutcome.ACCEPTED, 200)
    assert rig.receive().outcome is ReceiptOutcome.DUPLICATE
    assert rig.sink.batches == [[parse_event(BODY)]]


def test_a_foreign_sink_failure_is_wrapped_as_unavailable(kind: str) -> None:
    """A foreign exception becomes an UnavailableError naming only its class, cause chained."""
    rig = Rig(kind)
    bug = ConnectionError("amqp://guest:hunter2@broker/ refused")
    rig.sink.failure = bug
    receipt = rig.receive()
    assert type(receipt.error) is UnavailableError
    assert receipt.error.__cause__ is bug
    assert "ConnectionError" in str(receipt.error)
    assert "hunter2" not in str(receipt.error)


@pytest.mark.parametrize("failure", list(STORE_FAILURES.values()), ids=list(STORE_FAILURES))
def test_a_store_down_at_claim_defers_503_and_hands_nothing_off(
    kind: str, failure: Exception
) -> None:
    """The store failing at claim (typed or foreign) is a 503 deferral; nothing reaches the sink;
    the retry goes through."""
    rig = Rig(kind)
    rig.store.faults["claim"] = failure
    receipt = rig.receive()
    assert (receipt.outcome, receipt.status) == (ReceiptOutcome.DEFERRED, 503)
    assert isinstance(receipt.error, UnavailableError)
    assert receipt.retry_after is not None
    assert receipt.retry_after >= 30
    assert rig.sink.batches == []
    assert rig.receive().outcome is ReceiptOutcome.ACCEPTED
    assert len(rig.sink.batches) == 1


@pytest.mark.parametrize(
    "failure",
    [*STORE_FAILURES.values(), StaleTokenError("k")],
    ids=[*STORE_FAILURES, "stale-token"],
)
def test_a_store_down_at_complete_still_acknowledges_and_never_hands_off_twice_in_the_lease(
    kind: str, failure: Exception
) -> None:
    """Once the sink holds the events, a failing completion still answers 200; a redelivery
    while the claim's lease runs is deferred, not handed off a second time."""
    rig = Rig(kind)
    rig.store.faults["complete"] = failure
    receipt = rig.receive()
    assert (receipt.outcome, receipt.status) == (ReceiptOutcome.ACCEPTED, 200)
    assert len(rig.sink.batches) == 1
    again = rig.receive()
    assert (again.outcome, again.status) == (ReceiptOutcome.DEFERRED, 503)
    assert len(rig.sink.batches) == 1


@pytest.mark.parametrize("failure", list(STORE_FAILURES.values()), ids=list(STORE_FAILURES))
def test_store_down_at_release_after_a_sink_failure_defers_then_recovers_after_the_lease(
    kind: str, failure: Exception
) -> None:
    """The sink fails and so does the release: 503 with the sink's error; the redelivery waits
    for the lease, then is handed off once."""
    rig = Rig(kind)
    rig.sink.failure = EventLogUnavailableError("log down")
    rig.store.faults["release"] = failure
    first = rig.receive()
    assert (first.status, type(first.error)) == (503, EventLogUnavailableError)
    assert rig.receive().outcome is ReceiptOutcome.DEFERRED  # the claim's lease still runs
    rig.clock.now += LEASE.total_seconds() + 1
    assert rig.receive().outcome is ReceiptOutcome.ACCEPTED
    assert len(rig.sink.batches) == 1


def test_interrupts_in_the_sink_propagate_after_the_claim_is_released() -> None:
    """KeyboardInterrupt is not swallowed into a receipt, but the claim is freed for the retry."""
    rig = Rig("sync")
    rig.sink.failure = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        rig.receive()
    assert rig.receive().outcome is ReceiptOutcome.ACCEPTED


def _raising(error: BaseException) -> Callable[[bytes], Any]:
    def parse(body: bytes) -> Any:
        raise error

    return parse


PARSER_FAULTS: dict[str, Callable[[bytes], Any]] = {
    "key-error": _raising(KeyError("status")),
    "type-error": _raising(TypeError("x")),
    "unicode-error": _raising(UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid")),
    "recursion-error": _raising(RecursionError()),
    "returns-none": lambda body: None,
    "returns-int": lambda body: 5,
    "returns-str": lambda body: "events",
    "returns-bytes": lambda body: body,
    "returns-non-events": lambda body: [object()],
}


@pytest.mark.parametrize("parser", list(PARSER_FAULTS.values()), ids=list(PARSER_FAULTS))
def test_a_broken_driver_parser_is_a_configuration_error_and_nothing_is_claimed(
    kind: str, parser: Callable[[bytes], Any]
) -> None:
    """A parser that raises a foreign exception or returns something other than events is the
    driver's bug: ConfigurationError (cause chained), nothing claimed, nothing handed off."""
    rig = Rig(kind, parser=parser)
    with pytest.raises(ConfigurationError):
        rig.receive()
    assert rig.store.calls == []
    assert rig.sink.batches == []


@pytest.mark.parametrize(
    "body", [None, 5, "text", {"a": 1}, [b"x"]], ids=["none", "int", "str", "dict", "list"]
)
def test_a_body_that_is_not_bytes_is_the_hosts_input_error(kind: str, body: object) -> None:
    """Anything but raw bytes is an InvalidInputError before verification; nothing claimed."""
    rig = Rig(kind)
    with pytest.raises(InvalidInputError):
        rig.receive(body)
    assert rig.store.calls == []


@pytest.mark.parametrize("wrap", [bytearray, memoryview], ids=["bytearray", "memoryview"])
def test_bytearray_and_memoryview_bodies_are_raw_bytes_too(kind: str, wrap: type) -> None:
    """A buffer of the raw bytes is accepted like bytes."""
    rig = Rig(kind)
    headers = SCHEME.signer(HMAC_SECRET).sign(BODY, msg_id="msg_1", timestamp=NOW)
    if isinstance(rig.receiver, WebhookReceiver):
        receipt = rig.receiver.receive(wrap(BODY), headers)
    else:
        receipt = asyncio.run(rig.receiver.receive(wrap(BODY), headers))
    assert receipt.outcome is ReceiptOutcome.ACCEPTED


def test_deferral_reasons_name_no_internal_detail(kind: str) -> None:
    """The reason sent back to the sender on a 503 says 'deferred'; the internal error (paths,
    hosts) stays in receipt.error for the host's own logs."""
    rig = Rig(kind)
    rig.sink.failure = EventLogUnavailableError("cannot open /srv/secret-dir/events.db: locked")
    receipt = rig.receive()
    assert receipt.reason == "deferred"
    assert "secret-dir" in str(receipt.error)
    rig.store.faults["claim"] = StoreUnavailableError("redis://:pw@10.0.0.7 refused")
    assert rig.receive().reason == "deferred"


def test_log_lines_name_error_classes_only(caplog: pytest.LogCaptureFixture, kind: str) -> None:
    """Failures are logged by class name, never with their messages (which may hold a DSN)."""
    rig = Rig(kind)
    rig.sink.failure = ConnectionError("amqp://guest:hunter2@broker/")
    rig.store.faults["release"] = StoreUnavailableError("redis://:hunter2@host")
    with caplog.at_level(logging.DEBUG, logger="shipsync.webhooks"):
        rig.receive()
    assert caplog.records
    assert all("hunter2" not in record.getMessage() for record in caplog.records)
    assert all(record.exc_info is None for record in caplog.records)


def test_threads_racing_one_delivery_hand_it_off_once() -> None:
    """Eight threads receive the same delivery at once: one hand-off, no exception, the others
    deferred (still held) or duplicate; the store's claim is the only arbiter."""
    clock = Clock()
    store = FaultyStore(clock)
    published: list[Sequence[Event]] = []
    gate = threading.Barrier(8)
    lock = threading.Lock()

    class SlowSink:
        def publish(self, events: Sequence[Event]) -> None:
            threading.Event().wait(0.05)  # hold the claim while the others arrive
            with lock:
                published.append(events)

    receiver = WebhookReceiver(
        SCHEME.verifier(HMAC_SECRET, clock=clock), store=store, sink=SlowSink()
    )
    headers = SCHEME.signer(HMAC_SECRET).sign(BODY, msg_id="msg_race", timestamp=NOW)
    receipts: list[Receipt] = []
    errors: list[BaseException] = []

    def work() -> None:
        gate.wait(5)
        try:
            receipts.append(receiver.receive(BODY, headers))
        except BaseException as error:  # pragma: no cover - the assertion below reports it
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    outcomes = [r.outcome for r in receipts]
    assert len(outcomes) == 8
    assert outcomes.count(ReceiptOutcome.ACCEPTED) == 1
    assert set(outcomes) <= {
        ReceiptOutcome.ACCEPTED,
        ReceiptOutcome.DEFERRED,
        ReceiptOutcome.DUPLICATE,
    }
    assert len(published) == 1


async def test_tasks_racing_a_delivery_whose_first_hand_off_fails_hand_it_off_once() -> None:
    """Twenty asyncio tasks, the first hand-off failing: no task raises, and after the racing
    copies the redelivery is handed off exactly once."""
    rig = Rig("async")
    receiver = rig.receiver
    assert isinstance(receiver, AsyncWebhookReceiver)
    rig.sink.failure = OSError("disk full")
    headers = SCHEME.signer(HMAC_SECRET).sign(BODY, msg_id="msg_tasks", timestamp=NOW)
    receipts = await asyncio.gather(*(receiver.receive(BODY, headers) for _ in range(20)))
    assert all(r.status in (200, 503) for r in receipts)
    assert sum(r.outcome is ReceiptOutcome.ACCEPTED for r in receipts) <= 1
    retry = await receiver.receive(BODY, headers)  # nothing holds a lease any more
    assert retry.ok
    assert len(rig.sink.batches) == 1


OPS = st.lists(
    st.tuples(
        st.integers(0, 2),  # which delivery
        st.sampled_from(
            ["ok", "sink-typed", "sink-foreign", "claim", "complete", "release", "tick"]
        ),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS)
def test_no_schedule_of_faults_loses_or_doubles_a_delivery(ops: list[tuple[int, str]]) -> None:
    """Any interleaving of deliveries, redeliveries, faults and passing time: no exception
    escapes, each delivery is handed off at most once while its claim holds, a 2xx is only given
    for a delivery that was handed off, and a final clean redelivery after the leases lapse is
    2xx for every delivery, each handed off once (plus at most one more per completion that
    failed to be recorded and whose lease then lapsed)."""
    rig = Rig("sync")
    bodies = [event_body(f"SHP-H{i}", i + 1) for i in range(3)]
    lost_completions = [0] * 3
    for index, op in ops:
        if op == "tick":
            rig.clock.now += 30
            continue
        if op == "sink-typed":
            rig.sink.failure = EventLogUnavailableError("down")
        elif op == "sink-foreign":
            rig.sink.failure = RuntimeError("bug")
        elif op != "ok":
            rig.store.faults[op] = StoreUnavailableError("down")
        before = len(rig.sink.batches)
        receipt = rig.receive(bodies[index], msg_id=f"msg_{index}")
        rig.sink.failure = None
        rig.store.faults.clear()
        handed = [parse_event(bodies[index])] in rig.sink.batches
        if receipt.ok:
            assert handed
        if op == "complete" and len(rig.sink.batches) > before:
            lost_completions[index] += 1
        assert rig.sink.batches.count([parse_event(bodies[index])]) <= 1 + lost_completions[index]
        assert receipt.status in (200, 503)
    rig.clock.now += LEASE.total_seconds() + 1
    for index, body in enumerate(bodies):
        assert rig.receive(body, msg_id=f"msg_{index}").ok
        count = rig.sink.batches.count([parse_event(body)])
        assert 1 <= count <= 1 + lost_completions[index]


async def test_a_request_cancelled_while_recording_still_records_the_hand_off() -> None:
    """Cancelling the receiving task during completion (the client hung up) lets the completion
    finish, so the sender's retry is a duplicate rather than a second hand-off."""
    clock = Clock()
    sync = FaultyStore(clock)
    entered, proceed = asyncio.Event(), asyncio.Event()

    class SlowCompleteStore(AsyncFaultyStore):
        async def complete(self, key: str, token: int, result: bytes, retention: timedelta) -> None:
            entered.set()
            await proceed.wait()
            await super().complete(key, token, result, retention)

    sink = Sink()
    receiver = AsyncWebhookReceiver(
        SCHEME.verifier(HMAC_SECRET, clock=clock),
        store=SlowCompleteStore(sync),
        sink=AsyncSink(sink),
    )
    headers = SCHEME.signer(HMAC_SECRET).sign(BODY, msg_id="msg_cancel", timestamp=NOW)
    task = asyncio.ensure_future(receiver.receive(BODY, headers))
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    proceed.set()
    for _ in range(5):
        await asyncio.sleep(0)
    again = await receiver.receive(BODY, headers)
    assert again.outcome is ReceiptOutcome.DUPLICATE
    assert len(sink.batches) == 1


def test_a_sync_sink_returning_a_coroutine_is_never_acknowledged() -> None:
    """A 'sync' sink whose publish returns a coroutine stored nothing: 503 with a
    ConfigurationError (no 'never awaited' warning), never a silent 200."""

    class SneakySink:
        def publish(self, events: Sequence[Event]) -> Any:
            async def later() -> None:
                raise AssertionError("never run")

            return later()

    clock = Clock()
    receiver = WebhookReceiver(
        SCHEME.verifier(HMAC_SECRET, clock=clock), store=FaultyStore(clock), sink=SneakySink()
    )
    headers = SCHEME.signer(HMAC_SECRET).sign(BODY, msg_id="msg_sneaky", timestamp=NOW)
    receipt = receiver.receive(BODY, headers)
    assert (receipt.outcome, receipt.status) == (ReceiptOutcome.DEFERRED, 503)
    assert type(receipt.error) is ConfigurationError


def test_a_sync_sink_returning_a_plain_value_is_acknowledged_once() -> None:
    """Any non-awaitable return value (a count, a list) is ignored: the events are stored."""

    class CountingSink:
        def __init__(self) -> None:
            self.events: list[Event] = []

        def publish(self, events: Sequence[Event]) -> Any:
            self.events.extend(events)
            return len(self.events)

    clock = Clock()
    sink = CountingSink()
    receiver = WebhookReceiver(
        SCHEME.verifier(HMAC_SECRET, clock=clock), store=FaultyStore(clock), sink=sink
    )
    headers = SCHEME.signer(HMAC_SECRET).sign(BODY, msg_id="msg_count", timestamp=NOW)
    assert receiver.receive(BODY, headers).outcome is ReceiptOutcome.ACCEPTED
    assert receiver.receive(BODY, headers).outcome is ReceiptOutcome.DUPLICATE
    assert len(sink.events) == 1


def test_an_empty_parser_id_falls_back_to_the_body_hash() -> None:
    """A driver naming '' as its event id must not lump unrelated deliveries under one key:
    two different bodies are both handed off."""
    clock = Clock()
    sink = Sink()
    receiver = WebhookReceiver(
        GITHUB_SCHEME.verifier("gh"),
        store=FaultyStore(clock),
        sink=sink,
        parser=lambda body: ParsedDelivery((parse_event(body),), ""),
    )
    for n in (1, 2):
        body = event_body("SHP-EMPTY", n)
        receipt = receiver.receive(body, GITHUB_SCHEME.signer("gh").sign(body))
        assert receipt.outcome is ReceiptOutcome.ACCEPTED
        assert receipt.delivery_id == hashlib.sha256(body).hexdigest()
    assert len(sink.batches) == 2


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        (90, 90),
        (0.2, 30),
        (30.5, 31),
        (float("inf"), 30),
        (float("nan"), 30),
        (-5, 30),
        (10**9, 30),
        ("60", 30),
    ],
    ids=["90", "fraction", "rounds-up", "inf", "nan", "negative", "huge", "str"],
)
def test_retry_after_hints_from_the_sink_are_bounded(kind: str, hint: Any, expected: int) -> None:
    """A sink error's retry_after lengthens Retry-After (rounded up) within a day; NaN,
    infinity, negatives and non-numbers fall back to the receiver's default, never a crash."""
    rig = Rig(kind)
    error = EventLogUnavailableError("down")
    error.retry_after = hint
    rig.sink.failure = error
    receipt = rig.receive()
    assert (receipt.status, receipt.retry_after) == (503, expected)
    assert receipt.headers == {"Retry-After": str(expected)}
