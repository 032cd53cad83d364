"""The synchronous receiver: statuses, dedupe, failed hand-offs and retries (memory store)."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from datetime import timedelta

import pytest
from _wh_helpers import HMAC_SECRET, NOW, OTHER_SECRET, event_body
from hypothesis import given
from hypothesis import strategies as st

from shipsync.canonical import Event, parse_event
from shipsync.errors import (
    ConfigurationError,
    EventLogUnavailableError,
    FingerprintMismatchError,
    MalformedHeaderError,
    NoMatchingSignatureError,
    PayloadTooLargeError,
    StoreUnavailableError,
    TimestampTooOldError,
    UnavailableError,
    WebhookPayloadError,
)
from shipsync.idempotency import ClaimOutcome, MemoryStore
from shipsync.webhooks import (
    DEFAULT_DEDUPE_RETENTION,
    GITHUB_SCHEME,
    ParsedDelivery,
    Receipt,
    ReceiptOutcome,
    StandardWebhooksScheme,
    WebhookReceiver,
)

SCHEME = StandardWebhooksScheme()
BODY = event_body()


class ListSink:
    """A sink that keeps what it is given; ``failure`` makes the next publish raise it."""

    def __init__(self) -> None:
        self.batches: list[list[Event]] = []
        self.failure: BaseException | None = None

    def publish(self, events: Sequence[Event]) -> None:
        if self.failure is not None:
            failure, self.failure = self.failure, None
            raise failure
        self.batches.append(list(events))


class FlakyStore:
    """Delegates to a MemoryStore; each ``fail_*`` flag makes that call raise once."""

    def __init__(self, inner: MemoryStore) -> None:
        self.inner = inner
        self.calls: list[str] = []
        self.fail_claim = self.fail_complete = self.fail_release = False

    def _maybe_fail(self, name: str) -> None:
        self.calls.append(name)
        if getattr(self, f"fail_{name}"):
            setattr(self, f"fail_{name}", False)
            raise StoreUnavailableError("store down", retry_after=45)

    def claim(self, key: str, fingerprint: str, lease: timedelta = timedelta(60)) -> ClaimOutcome:
        self._maybe_fail("claim")
        return self.inner.claim(key, fingerprint, lease)

    def complete(self, key: str, token: int, result: bytes, retention: timedelta) -> None:
        self._maybe_fail("complete")
        self.inner.complete(key, token, result, retention)

    def release(self, key: str, token: int) -> None:
        self._maybe_fail("release")
        self.inner.release(key, token)

    def claim_many(self, items, lease=timedelta(60)):  # type: ignore[no-untyped-def]
        return self.inner.claim_many(items, lease)

    def complete_many(self, items, retention=timedelta(60)):  # type: ignore[no-untyped-def]
        self.inner.complete_many(items, retention)

    def sweep(self) -> int:
        return self.inner.sweep()


class Clock:
    def __init__(self) -> None:
        self.now = float(NOW)

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sink() -> ListSink:
    return ListSink()


@pytest.fixture
def store(clock: Clock) -> FlakyStore:
    return FlakyStore(MemoryStore(clock=clock))


@pytest.fixture
def receiver(clock: Clock, store: FlakyStore, sink: ListSink) -> WebhookReceiver:
    return WebhookReceiver(SCHEME.verifier(HMAC_SECRET, clock=clock), store=store, sink=sink)


def signed(
    body: bytes = BODY, *, msg_id: str = "msg_1", ts: int | None = None, secret: str = HMAC_SECRET
) -> dict[str, str]:
    """Headers a Standard Webhooks sender would send for ``body``."""
    return SCHEME.signer(secret).sign(body, msg_id=msg_id, timestamp=NOW if ts is None else ts)


def test_a_genuine_delivery_is_handed_off_and_acknowledged(
    receiver: WebhookReceiver, sink: ListSink
) -> None:
    """Verified and parsed events reach the sink; the receipt says 200 accepted with the events."""
    receipt = receiver.receive(BODY, signed())
    assert receipt.outcome is ReceiptOutcome.ACCEPTED
    assert (receipt.status, receipt.ok, receipt.headers, receipt.reason) == (
        200,
        True,
        {},
        "accepted",
    )
    assert receipt.delivery_id == "msg_1"
    assert receipt.events == (parse_event(BODY),)
    assert sink.batches == [[parse_event(BODY)]]


def test_a_retried_delivery_is_a_duplicate_and_not_handed_off_again(
    receiver: WebhookReceiver, sink: ListSink, clock: Clock
) -> None:
    """The sender's retry (same id, new timestamp, new signature) answers 200 duplicate."""
    receiver.receive(BODY, signed())
    clock.now += 3600
    receipt = receiver.receive(BODY, signed(ts=NOW + 3600))
    assert (receipt.outcome, receipt.status) == (ReceiptOutcome.DUPLICATE, 200)
    assert receipt.events == (parse_event(BODY),)
    assert len(sink.batches) == 1


def test_a_replay_inside_the_tolerance_window_is_a_duplicate(
    receiver: WebhookReceiver, sink: ListSink, clock: Clock
) -> None:
    """An attacker replaying the exact request two minutes later gets nothing handed off."""
    headers = signed()
    receiver.receive(BODY, headers)
    clock.now += 120
    assert receiver.receive(BODY, headers).outcome is ReceiptOutcome.DUPLICATE
    assert len(sink.batches) == 1


def test_dedupe_outlives_the_tolerance_for_three_days(
    receiver: WebhookReceiver, sink: ListSink, clock: Clock
) -> None:
    """Retention covers a sender's retry schedule (3 days), far beyond the 5-minute window."""
    assert timedelta(days=3) <= DEFAULT_DEDUPE_RETENTION
    receiver.receive(BODY, signed())
    clock.now += 3 * 86400 - 60
    late = receiver.receive(BODY, signed(ts=int(clock.now)))
    assert late.outcome is ReceiptOutcome.DUPLICATE
    assert len(sink.batches) == 1


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        (signed(secret=OTHER_SECRET), NoMatchingSignatureError),
        ({**signed(), "webhook-signature": "v1,"}, MalformedHeaderError),
        (signed(ts=NOW - 3600), TimestampTooOldError),
    ],
    ids=["other-secret", "empty-signature", "too-old"],
)
def test_unauthentic_deliveries_are_rejected_400_before_the_store(
    receiver: WebhookReceiver,
    store: FlakyStore,
    sink: ListSink,
    headers: dict[str, str],
    error: type,
) -> None:
    """A forged delivery answers 400 with the typed error; nothing is claimed or handed off."""
    receipt = receiver.receive(BODY, headers)
    assert (receipt.outcome, receipt.status) == (ReceiptOutcome.REJECTED, 400)
    assert type(receipt.error) is error
    assert receipt.reason.startswith(error.__name__ + ": ")
    assert HMAC_SECRET[6:] not in receipt.reason
    assert store.calls == []
    assert sink.batches == []


def test_oversized_bodies_are_rejected_413_before_verification(
    clock: Clock, store: FlakyStore, sink: ListSink
) -> None:
    """A body over the limit answers 413 even unsigned: no hashing is spent on it."""
    receiver = WebhookReceiver(
        SCHEME.verifier(HMAC_SECRET, clock=clock), store=store, sink=sink, max_body_size=100
    )
    receipt = receiver.receive(b"x" * 101, {})
    assert (receipt.outcome, receipt.status) == (ReceiptOutcome.REJECTED, 413)
    assert isinstance(receipt.error, PayloadTooLargeError)
    assert (receipt.error.size, receipt.error.limit) == (101, 100)
    ok = receiver.receive(b"x" * 100, signed(b"x" * 100))
    assert ok.status == 400  # at the limit it is verified, then fails to parse


@pytest.mark.parametrize(
    "body",
    [b"not json", b"\xff\xfe\x80", b"{}", b'{"type":"no.such.event"}', b"[]", b"[" * 50_000],
    ids=["text", "non-utf8", "empty-object", "unknown-type", "empty-batch", "deep-nesting"],
)
def test_authentic_but_unreadable_bodies_are_rejected_400(
    receiver: WebhookReceiver, store: FlakyStore, body: bytes
) -> None:
    """A correctly signed body that is not a valid event answers 400 WebhookPayloadError."""
    receipt = receiver.receive(body, signed(body))
    assert (receipt.outcome, receipt.status) == (ReceiptOutcome.REJECTED, 400)
    assert isinstance(receipt.error, WebhookPayloadError)
    assert receipt.delivery_id == "msg_1"
    assert store.calls == []


def test_a_batch_of_envelopes_is_handed_off_in_order(
    receiver: WebhookReceiver, sink: ListSink
) -> None:
    """A JSON array of envelopes is one delivery of several events, in order."""
    body = b"[" + event_body("A", 1) + b"," + event_body("B", 2) + b"]"
    receipt = receiver.receive(body, signed(body))
    assert receipt.outcome is ReceiptOutcome.ACCEPTED
    assert [e.subject for e in sink.batches[0]] == ["A", "B"]


def test_sink_down_defers_503_and_the_redelivery_is_processed(
    receiver: WebhookReceiver, sink: ListSink, store: FlakyStore
) -> None:
    """A failed hand-off answers 503 + Retry-After and releases the claim for the retry."""
    sink.failure = EventLogUnavailableError("log down", retry_after=90)
    receipt = receiver.receive(BODY, signed())
    assert (receipt.outcome, receipt.status, receipt.ok) == (ReceiptOutcome.DEFERRED, 503, False)
    assert receipt.headers == {"Retry-After": "90"}
    assert isinstance(receipt.error, EventLogUnavailableError)
    assert "release" in store.calls
    again = receiver.receive(BODY, signed())
    assert (again.outcome, again.status) == (ReceiptOutcome.ACCEPTED, 200)
    assert len(sink.batches) == 1


def test_sink_down_and_release_failing_still_defers_then_recovers_after_the_lease(
    clock: Clock, store: FlakyStore, sink: ListSink
) -> None:
    """If even the release fails, the redelivery waits for the lease to run out, then succeeds."""
    receiver = WebhookReceiver(
        SCHEME.verifier(HMAC_SECRET, clock=clock),
        store=store,
        sink=sink,
        lease=timedelta(seconds=60),
    )
    sink.failure = EventLogUnavailableError("log down")
    store.fail_release = True
    assert receiver.receive(BODY, signed()).status == 503
    assert receiver.receive(BODY, signed()).outcome is ReceiptOutcome.DEFERRED  # still leased
    clock.now += 61
    late = receiver.receive(BODY, signed(ts=int(clock.now)))
    assert late.outcome is ReceiptOutcome.ACCEPTED
    assert len(sink.batches) == 1


def test_a_sink_bug_defers_as_unavailable_and_releases_the_claim(
    receiver: WebhookReceiver, sink: ListSink
) -> None:
    """A non-shipsync exception in the sink becomes a 503 UnavailableError (cause chained), and
    the claim is released so the retry is handed off."""
    bug = RuntimeError("bug in the sink")
    sink.failure = bug
    receipt = receiver.receive(BODY, signed())
    assert (receipt.outcome, receipt.status, receipt.retry_after) == (
        ReceiptOutcome.DEFERRED,
        503,
        30,
    )
    assert type(receipt.error) is UnavailableError
    assert receipt.error.__cause__ is bug
    assert receiver.receive(BODY, signed()).outcome is ReceiptOutcome.ACCEPTED
    assert len(sink.batches) == 1


def test_store_down_defers_503_without_handing_off(
    receiver: WebhookReceiver, store: FlakyStore, sink: ListSink
) -> None:
    """When the dedupe store cannot be reached nothing is handed off; the answer is 503."""
    store.fail_claim = True
    receipt = receiver.receive(BODY, signed())
    assert (receipt.outcome, receipt.status) == (ReceiptOutcome.DEFERRED, 503)
    assert receipt.retry_after == 45
    assert sink.batches == []
    assert receiver.receive(BODY, signed()).outcome is ReceiptOutcome.ACCEPTED


def test_completion_failing_after_the_hand_off_still_acknowledges(
    receiver: WebhookReceiver, store: FlakyStore, sink: ListSink
) -> None:
    """Events stored durably are acknowledged even if recording the dedupe result fails."""
    store.fail_complete = True
    receipt = receiver.receive(BODY, signed())
    assert (receipt.outcome, receipt.status) == (ReceiptOutcome.ACCEPTED, 200)
    assert len(sink.batches) == 1


def test_a_delivery_held_by_another_worker_is_deferred(
    receiver: WebhookReceiver, store: FlakyStore, sink: ListSink
) -> None:
    """While another worker's claim runs, the duplicate answers 503 rather than a false 200."""
    key = "webhooks/id/msg_1"  # the receiver's key: <name>/<kind>/<delivery id>
    store.inner.claim(key, parse_event(BODY).id)  # fingerprint: the events' ids
    receipt = receiver.receive(BODY, signed())
    assert (receipt.outcome, receipt.status, receipt.retry_after) == (
        ReceiptOutcome.DEFERRED,
        503,
        30,
    )
    assert sink.batches == []


def test_a_reused_delivery_id_with_another_body_is_refused_409(
    receiver: WebhookReceiver, sink: ListSink
) -> None:
    """Same webhook-id, different body: 409 with FingerprintMismatchError, never handed off."""
    receiver.receive(BODY, signed())
    other = event_body("SHP-2", 2)
    receipt = receiver.receive(other, signed(other))
    assert (receipt.outcome, receipt.status) == (ReceiptOutcome.REJECTED, 409)
    assert isinstance(receipt.error, FingerprintMismatchError)
    assert len(sink.batches) == 1


def test_concurrent_copies_of_one_delivery_are_handed_off_once(
    clock: Clock, store: FlakyStore
) -> None:
    """Two threads receiving the same delivery at once: one hand-off, the other is deferred."""
    entered, proceed = threading.Event(), threading.Event()
    published: list[Sequence[Event]] = []

    class SlowSink:
        def publish(self, events: Sequence[Event]) -> None:
            entered.set()
            proceed.wait(5)
            published.append(events)

    receiver = WebhookReceiver(
        SCHEME.verifier(HMAC_SECRET, clock=clock), store=store, sink=SlowSink()
    )
    receipts: list[Receipt] = []
    worker = threading.Thread(target=lambda: receipts.append(receiver.receive(BODY, signed())))
    worker.start()
    assert entered.wait(5)
    second = receiver.receive(BODY, signed())
    proceed.set()
    worker.join(5)
    assert second.outcome is ReceiptOutcome.DEFERRED
    assert receipts[0].outcome is ReceiptOutcome.ACCEPTED
    assert len(published) == 1
    assert receiver.receive(BODY, signed()).outcome is ReceiptOutcome.DUPLICATE


def test_schemes_without_an_id_dedupe_on_the_parsers_event_id(
    store: FlakyStore, sink: ListSink
) -> None:
    """GitHub-style HMAC carries no delivery id: the single event's id is the dedupe key."""
    receiver = WebhookReceiver(GITHUB_SCHEME.verifier("gh"), store=store, sink=sink)
    headers = GITHUB_SCHEME.signer("gh").sign(BODY)
    first, second = receiver.receive(BODY, headers), receiver.receive(BODY, headers)
    assert first.delivery_id == parse_event(BODY).id
    assert (first.outcome, second.outcome) == (ReceiptOutcome.ACCEPTED, ReceiptOutcome.DUPLICATE)


def test_without_any_id_the_body_hash_is_the_last_resort(store: FlakyStore, sink: ListSink) -> None:
    """A driver parser returning two events and no id dedupes on the body's SHA-256."""

    def parser(body: bytes) -> list[Event]:
        data = json.loads(body)
        return [parse_event(event_body(s, 1)) for s in data["shipments"]]

    body = b'{"shipments":["A","B"]}'
    receiver = WebhookReceiver(GITHUB_SCHEME.verifier("gh"), store=store, sink=sink, parser=parser)
    headers = GITHUB_SCHEME.signer("gh").sign(body)
    first, second = receiver.receive(body, headers), receiver.receive(body, headers)
    assert first.delivery_id == hashlib.sha256(body).hexdigest()
    assert second.outcome is ReceiptOutcome.DUPLICATE
    assert [len(b) for b in sink.batches] == [2]


def test_driver_parser_can_name_its_event_id(store: FlakyStore, sink: ListSink) -> None:
    """A ParsedDelivery's delivery_id is used when the scheme signs none."""
    receiver = WebhookReceiver(
        GITHUB_SCHEME.verifier("gh"),
        store=store,
        sink=sink,
        parser=lambda body: ParsedDelivery((parse_event(BODY),), "carrier-evt-9"),
    )
    receipt = receiver.receive(b"{}", GITHUB_SCHEME.signer("gh").sign(b"{}"))
    assert receipt.delivery_id == "carrier-evt-9"


def test_driver_parser_errors_become_payload_errors(store: FlakyStore, sink: ListSink) -> None:
    """A driver parser's CanonicalValidationError answers 400 as a WebhookPayloadError."""
    receiver = WebhookReceiver(
        GITHUB_SCHEME.verifier("gh"), store=store, sink=sink, parser=parse_event
    )
    receipt = receiver.receive(b"{}", GITHUB_SCHEME.signer("gh").sign(b"{}"))
    assert receipt.status == 400
    assert isinstance(receipt.error, WebhookPayloadError)


def test_a_parser_returning_no_events_is_acknowledged_without_hand_off(
    store: FlakyStore, sink: ListSink
) -> None:
    """A ping (no events) answers 200 and touches neither store nor sink."""
    receiver = WebhookReceiver(
        GITHUB_SCHEME.verifier("gh"), store=store, sink=sink, parser=lambda body: []
    )
    receipt = receiver.receive(b"ping", GITHUB_SCHEME.signer("gh").sign(b"ping"))
    assert (receipt.outcome, receipt.events) == (ReceiptOutcome.ACCEPTED, ())
    assert (store.calls, sink.batches) == ([], [])


def test_a_body_that_is_not_bytes_is_the_hosts_error(receiver: WebhookReceiver) -> None:
    """A decoded (str) body is a host bug: it raises instead of answering the sender 4xx."""
    from shipsync.errors import InvalidInputError

    with pytest.raises(InvalidInputError):
        receiver.receive(BODY.decode(), signed())  # type: ignore[arg-type]


def test_a_parser_returning_non_events_is_a_configuration_error(
    store: FlakyStore, sink: ListSink
) -> None:
    """A driver bug is not blamed on the sender: it raises instead of answering 4xx."""
    receiver = WebhookReceiver(
        GITHUB_SCHEME.verifier("gh"), store=store, sink=sink, parser=lambda body: [{"id": 1}]
    )
    with pytest.raises(ConfigurationError):
        receiver.receive(b"x", GITHUB_SCHEME.signer("gh").sign(b"x"))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_body_size": 0},
        {"retention": timedelta(minutes=5)},
        {"lease": timedelta(0)},
        {"retry_after": -1},
        {"name": ""},
    ],
)
def test_receiver_settings_are_validated(kwargs: dict, store: FlakyStore, sink: ListSink) -> None:
    """Nonsense settings (a retention shorter than an hour, say) are configuration errors."""
    with pytest.raises(ConfigurationError):
        WebhookReceiver(SCHEME.verifier(HMAC_SECRET), store=store, sink=sink, **kwargs)


def test_endpoints_sharing_a_store_do_not_collide(clock: Clock, sink: ListSink) -> None:
    """Two receivers with different names dedupe independently in one store."""
    shared = MemoryStore(clock=clock)
    a = WebhookReceiver(
        SCHEME.verifier(HMAC_SECRET, clock=clock), store=shared, sink=sink, name="a"
    )
    b = WebhookReceiver(
        SCHEME.verifier(HMAC_SECRET, clock=clock), store=shared, sink=sink, name="b"
    )
    assert a.receive(BODY, signed()).outcome is ReceiptOutcome.ACCEPTED
    assert b.receive(BODY, signed()).outcome is ReceiptOutcome.ACCEPTED


@given(
    body=st.binary(max_size=300),
    headers=st.dictionaries(st.text(max_size=20), st.text(max_size=60), max_size=5),
)
def test_fuzzed_requests_always_get_a_4xx_receipt(body: bytes, headers: dict[str, str]) -> None:
    """Whatever unauthenticated request arrives, the receiver answers 4xx and never raises."""
    clock = Clock()
    receiver = WebhookReceiver(
        SCHEME.verifier(HMAC_SECRET, clock=clock), store=MemoryStore(clock=clock), sink=ListSink()
    )
    receipt = receiver.receive(body, headers)
    assert receipt.outcome is ReceiptOutcome.REJECTED
    assert 400 <= receipt.status < 500


@given(body=st.binary(max_size=300))
def test_fuzzed_signed_bodies_are_accepted_or_rejected_400(body: bytes) -> None:
    """Any authentic body is either valid events (200) or a 400 payload error; never a crash."""
    clock = Clock()
    receiver = WebhookReceiver(
        SCHEME.verifier(HMAC_SECRET, clock=clock), store=MemoryStore(clock=clock), sink=ListSink()
    )
    receipt = receiver.receive(body, signed(body))
    assert receipt.status in (200, 400)
