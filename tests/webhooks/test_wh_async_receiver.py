"""The asyncio receiver: the same pipeline and statuses as the sync one, awaited."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from _wh_helpers import HMAC_SECRET, NOW, OTHER_SECRET, clock_at, event_body

from shipsync.canonical import Event, parse_event
from shipsync.errors import (
    EventLogUnavailableError,
    NoMatchingSignatureError,
    PayloadTooLargeError,
    StaleTokenError,
)
from shipsync.idempotency import AsyncMemoryStore, MemoryStore
from shipsync.webhooks import (
    AsyncEventSink,
    AsyncWebhookReceiver,
    EventSink,
    ReceiptOutcome,
    StandardWebhooksScheme,
)

SCHEME = StandardWebhooksScheme()
BODY = event_body("SHP-A", 1)


class AsyncListSink:
    def __init__(self) -> None:
        self.batches: list[list[Event]] = []
        self.failure: BaseException | None = None

    async def publish(self, events: Sequence[Event]) -> None:
        await asyncio.sleep(0)
        if self.failure is not None:
            failure, self.failure = self.failure, None
            raise failure
        self.batches.append(list(events))


class StaleCompleteStore(AsyncMemoryStore):
    """Loses its lease before completing (as if the hand-off outlasted it)."""

    async def complete(self, key, token, result, retention):  # type: ignore[no-untyped-def, override]
        raise StaleTokenError(key)


def _receiver(sink: AsyncListSink, store: AsyncMemoryStore | None = None) -> AsyncWebhookReceiver:
    return AsyncWebhookReceiver(
        SCHEME.verifier(HMAC_SECRET, clock=clock_at(NOW)),
        store=store or AsyncMemoryStore(),
        sink=sink,
        max_body_size=4096,
    )


def _headers(secret: str = HMAC_SECRET, body: bytes = BODY) -> dict[str, str]:
    return SCHEME.signer(secret).sign(body, msg_id="msg_a", timestamp=NOW)


def test_sinks_are_recognised_by_their_protocols() -> None:
    """A class with async publish is an AsyncEventSink; runtime checks see the method."""
    assert isinstance(AsyncListSink(), AsyncEventSink)

    class SyncSink:
        def publish(self, events: Sequence[Event]) -> None:
            pass

    assert isinstance(SyncSink(), EventSink)


async def test_accept_then_duplicate() -> None:
    """First delivery is handed off (200 accepted), the second is a 200 duplicate."""
    sink = AsyncListSink()
    receiver = _receiver(sink)
    first = await receiver.receive(BODY, _headers())
    second = await receiver.receive(BODY, _headers())
    assert (first.outcome, first.status) == (ReceiptOutcome.ACCEPTED, 200)
    assert (second.outcome, second.status) == (ReceiptOutcome.DUPLICATE, 200)
    assert sink.batches == [[parse_event(BODY)]]


async def test_rejections_match_the_sync_receiver() -> None:
    """Forgeries answer 400 and oversized bodies 413, with the same typed errors."""
    receiver = _receiver(AsyncListSink())
    forged = await receiver.receive(BODY, _headers(OTHER_SECRET))
    assert (forged.status, type(forged.error)) == (400, NoMatchingSignatureError)
    big = await receiver.receive(b"x" * 4097, _headers())
    assert (big.status, type(big.error)) == (413, PayloadTooLargeError)


async def test_failed_hand_off_is_deferred_and_redelivery_processed() -> None:
    """A sink failure answers 503 + Retry-After; the claim is released for the retry."""
    sink = AsyncListSink()
    receiver = _receiver(sink)
    sink.failure = EventLogUnavailableError("down")
    deferred = await receiver.receive(BODY, _headers())
    assert (deferred.outcome, deferred.status, deferred.headers) == (
        ReceiptOutcome.DEFERRED,
        503,
        {"Retry-After": "30"},
    )
    assert (await receiver.receive(BODY, _headers())).outcome is ReceiptOutcome.ACCEPTED


async def test_sink_bug_propagates_and_releases() -> None:
    """A non-shipsync exception (or cancellation) in the sink propagates; the claim is freed."""
    sink = AsyncListSink()
    receiver = _receiver(sink)
    sink.failure = asyncio.CancelledError()
    with pytest.raises(asyncio.CancelledError):
        await receiver.receive(BODY, _headers())
    assert (await receiver.receive(BODY, _headers())).outcome is ReceiptOutcome.ACCEPTED


async def test_stale_completion_after_hand_off_still_acknowledges() -> None:
    """Once the sink holds the events, losing the lease before completing still answers 200."""
    sink = AsyncListSink()
    receiver = _receiver(sink, StaleCompleteStore())
    receipt = await receiver.receive(BODY, _headers())
    assert receipt.outcome is ReceiptOutcome.ACCEPTED
    assert len(sink.batches) == 1


async def test_concurrent_tasks_hand_off_once() -> None:
    """Ten concurrent copies of one delivery: exactly one hand-off; the rest wait or dedupe."""
    sink = AsyncListSink()
    receiver = _receiver(sink, AsyncMemoryStore(MemoryStore()))
    receipts = await asyncio.gather(*(receiver.receive(BODY, _headers()) for _ in range(10)))
    outcomes = sorted(r.outcome.value for r in receipts)
    assert outcomes.count("accepted") == 1
    assert set(outcomes) <= {"accepted", "deferred", "duplicate"}
    assert len(sink.batches) == 1


def test_stores_and_sinks_of_the_wrong_kind_are_refused_up_front() -> None:
    """A sync store or sink given to the async receiver (and vice versa) is a ConfigurationError
    at construction, not a crash at the first delivery."""
    from shipsync.errors import ConfigurationError
    from shipsync.webhooks import WebhookReceiver

    class SyncSink:
        def publish(self, events: Sequence[Event]) -> None:
            pass

    verifier = SCHEME.verifier(HMAC_SECRET)
    with pytest.raises(ConfigurationError):
        AsyncWebhookReceiver(verifier, store=AsyncMemoryStore(), sink=SyncSink())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        AsyncWebhookReceiver(verifier, store=MemoryStore(), sink=AsyncListSink())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        WebhookReceiver(verifier, store=MemoryStore(), sink=AsyncListSink())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        WebhookReceiver(verifier, store=object(), sink=SyncSink())  # type: ignore[arg-type]
