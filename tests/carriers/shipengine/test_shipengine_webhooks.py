"""ShipEngine webhooks through the real receiver pipeline, and the driver's parsers under fuzz."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given
from hypothesis import strategies as st

from shipsync.canonical import (
    BatchCompleted,
    Event,
    FreightRateQuoted,
    LabelBatch,
    Money,
    default_catalogue,
    parse_event,
)
from shipsync.carriers.shipengine import ShipEngineDriver
from shipsync.carriers.shipengine._mapping import WEBHOOK_EVENTS
from shipsync.errors import ShipsyncError, WebhookPayloadError
from shipsync.idempotency import AsyncMemoryStore, MemoryStore
from shipsync.webhooks import (
    SHIPENGINE_SCHEME,
    AsyncWebhookReceiver,
    ReceiptOutcome,
    StaticRsaKeys,
    WebhookReceiver,
    tracking_parser,
)

NOW = datetime(2026, 1, 5, 8, tzinfo=UTC).timestamp()
TRACK = {
    "tracking_number": "1Z932R800392060079",
    "status_code": "DE",
    "carrier_code": "ups",
    "events": [
        {
            "occurred_at": "2026-01-05T07:40:00Z",
            "status_code": "DE",
            "status_detail_code": "DELIVERED_TO_NEIGHBOUR",
            "carrier_status_code": "KM",
            "carrier_status_description": "Delivered to a neighbour",
            "city_locality": "Atlanta",
            "state_province": "GA",
            "postal_code": 30301,
            "country_code": "US",
        }
    ],
}


@cache
def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class ListSink:
    """Keeps what it is handed."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def publish(self, events: Sequence[Event]) -> None:
        self.events.extend(events)


def _receiver(sink: ListSink, store: MemoryStore) -> WebhookReceiver:
    driver = ShipEngineDriver({"api_key": "TEST_x"})
    verifier = SHIPENGINE_SCHEME.verifier(
        StaticRsaKeys({"k1": _key().public_key()}), clock=lambda: NOW
    )
    parser = tracking_parser(driver.parse_webhook, source="shipsync/shipengine", clock=lambda: NOW)
    return WebhookReceiver(verifier, store=store, sink=sink, parser=parser, name="shipengine")


def test_a_signed_track_webhook_is_handed_off_once() -> None:
    """Verified, parsed into shipment.delivered, handed off; the redelivery is a duplicate and a
    forgery or a stale replay is refused with 400 and never handed off."""
    sink, store = ListSink(), MemoryStore(clock=lambda: NOW)
    receiver = _receiver(sink, store)
    body = json.dumps({"resource_url": "x", "resource_type": "API_TRACK", "data": TRACK}).encode()
    signer = SHIPENGINE_SCHEME.signer(_key(), key_id="k1", clock=lambda: NOW)
    headers = signer.sign(body)
    first = receiver.receive(body, headers)
    assert first.outcome is ReceiptOutcome.ACCEPTED
    assert [e.type for e in sink.events] == ["shipment.delivered"]
    assert receiver.receive(body, headers).outcome is ReceiptOutcome.DUPLICATE
    forged = receiver.receive(body.replace(b"DE", b"EX", 1), headers)
    assert forged.status == 400
    stale = signer.sign(body, timestamp=int(NOW - timedelta(minutes=6).total_seconds()))
    assert receiver.receive(body, stale).status == 400
    assert len(sink.events) == 1


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def _variants() -> st.SearchStrategy[Any]:
    base = {"resource_url": "x", "resource_type": "API_TRACK", "data": TRACK}
    keys = ["resource_type", "data", "tracking_number", "events", "occurred_at", "status_code"]
    return st.one_of(
        _json,
        st.builds(lambda k, v: {**base, k: v}, st.sampled_from(keys), _json),
        st.builds(
            lambda k, v: {**base, "data": {**TRACK, "events": [{**TRACK["events"][0], k: v}]}},
            st.sampled_from(list(TRACK["events"][0])),
            _json,
        ),
    )


@given(body=_variants())
def test_any_webhook_body_parses_or_fails_typed(body: Any) -> None:
    """Whatever JSON arrives (authentic but odd), parsing gives events or a typed error (no
    KeyError or TypeError escapes the driver)."""
    driver = ShipEngineDriver({"api_key": "TEST_x"})
    raw = json.dumps(body).encode()
    try:
        events = driver.parse_webhook(raw, received_at=datetime(2026, 1, 5, tzinfo=UTC))
    except ShipsyncError:
        pass  # typed: a receiver using tracking_parser answers 400, never a 5xx for a bad body
    else:
        assert all(e.carrier == "shipengine" for e in events)
        assert all(e.occurred_at.tzinfo is not None for e in events)


def test_receiver_refuses_an_unknown_resource_type_as_a_bad_body() -> None:
    """A verified body of an undocumented resource type is a 400, nothing handed off."""
    sink, store = ListSink(), MemoryStore(clock=lambda: NOW)
    receiver = _receiver(sink, store)
    body = b'{"resource_url": "x", "resource_type": "API_SOMETHING"}'
    headers = SHIPENGINE_SCHEME.signer(_key(), key_id="k1", clock=lambda: NOW).sign(body)
    receipt = receiver.receive(body, headers)
    assert receipt.status == 400
    assert isinstance(receipt.error, ShipsyncError)
    assert sink.events == []


# --- every documented webhook event, as canonical events -----------------------------------------

SPEC = json.loads((Path(__file__).parent / "spec" / "shipengine.json").read_text())
BATCH_URL = "https://api.shipengine.com/v1/batches/se-1234567890"
RATE = {
    "resource_url": "https://api.shipengine.com/v1/shipments/se-28529731/rates",
    "resource_type": "API_RATE",
    "data": {
        "shipment_id": "se-28529731",
        "external_shipment_id": "SHP-7",
        "created_at": "2026-01-05T07:30:00Z",
        "rates": [
            {
                "rate_id": "se-28529732",
                "carrier_code": "ups",
                "service_code": "ups_ground",
                "shipping_amount": {"currency": "usd", "amount": 9.37},
                "insurance_amount": {"currency": "usd", "amount": 0.0},
                "confirmation_amount": {"currency": "usd", "amount": 0.0},
                "other_amount": {"currency": "usd", "amount": 1.05},
                "delivery_days": 3,
            },
            {
                "rate_id": "se-28529733",
                "carrier_code": "stamps_com",
                "service_code": "usps_priority_mail",
                "shipping_amount": {"currency": "usd", "amount": 8.10},
            },
        ],
    },
}


def _event_receiver(sink: ListSink, store: MemoryStore) -> WebhookReceiver:
    driver = ShipEngineDriver({"api_key": "TEST_x"})
    verifier = SHIPENGINE_SCHEME.verifier(
        StaticRsaKeys({"k1": _key().public_key()}), clock=lambda: NOW
    )
    parser = driver.webhook_parser(clock=lambda: NOW)
    return WebhookReceiver(verifier, store=store, sink=sink, parser=parser, name="shipengine")


def _signed(body: bytes) -> dict[str, str]:
    return SHIPENGINE_SCHEME.signer(_key(), key_id="k1", clock=lambda: NOW).sign(body)


def test_every_webhook_event_of_the_document_is_mapped() -> None:
    """The table covers exactly the document's webhook_event enum, each with its resource type;
    the business events (track, batch, rate) map to catalogue types."""
    enum = SPEC["components"]["schemas"]["webhook_event"]["enum"]
    assert sorted(WEBHOOK_EVENTS) == sorted(enum)
    assert all(resource == f"API_{name.upper()}" for name, (resource, _) in WEBHOOK_EVENTS.items())
    published = {t for _, t in WEBHOOK_EVENTS.values() if t and "<" not in t}
    assert published == {"batch.completed", "freight.rate_quoted"}
    assert published <= set(default_catalogue.types)


def test_a_signed_batch_webhook_becomes_batch_completed_once() -> None:
    """verify -> parse -> dedupe -> sink: the batch webhook is handed off as batch.completed
    (subject: the batch id from resource_url); its redelivery is a duplicate, not a second event."""
    sink, store = ListSink(), MemoryStore(clock=lambda: NOW)
    receiver = _event_receiver(sink, store)
    body = json.dumps({"resource_url": BATCH_URL, "resource_type": "API_BATCH"}).encode()
    first = receiver.receive(body, _signed(body))
    assert first.outcome is ReceiptOutcome.ACCEPTED
    (event,) = sink.events
    assert isinstance(event, BatchCompleted)
    assert event.subject == "se-1234567890"
    assert event.data == LabelBatch(
        carrier="shipengine", batch_id="se-1234567890", resource_url=BATCH_URL
    )
    assert parse_event(event.to_json()) == event
    again = receiver.receive(body, _signed(body))
    assert again.outcome is ReceiptOutcome.DUPLICATE
    assert len(sink.events) == 1


def test_a_signed_rate_webhook_becomes_rate_quotes_for_our_shipment() -> None:
    """A rate update carrying the rates publishes one freight.rate_quoted per rate, for our
    shipment id (external_shipment_id), with exact amounts and the bookable carrier:service."""
    sink, store = ListSink(), MemoryStore(clock=lambda: NOW)
    body = json.dumps(RATE).encode()
    receipt = _event_receiver(sink, store).receive(body, _signed(body))
    assert receipt.outcome is ReceiptOutcome.ACCEPTED
    assert [type(e) for e in sink.events] == [FreightRateQuoted, FreightRateQuoted]
    first = sink.events[0]
    assert isinstance(first, FreightRateQuoted)
    assert first.subject == "SHP-7"
    assert first.data.rate.total == Money.of("10.42", "USD")
    assert first.data.rate.service == "ups:ups_ground"
    assert first.data.quoted_at == datetime(2026, 1, 5, 7, 30, tzinfo=UTC)


def test_a_new_label_announces_itself_as_label_created() -> None:
    """The document has no label webhook: a label's first track event (NY, not yet in the
    carrier's system) is published as shipment.label_created."""
    sink, store = ListSink(), MemoryStore(clock=lambda: NOW)
    data = {
        "tracking_number": "1Z0000000000000000",
        "status_code": "NY",
        "carrier_code": "ups",
        "carrier_status_code": "M",
        "ship_date": "2026-01-05T07:00:00Z",
        "events": [],
    }
    body = json.dumps({"resource_url": "x", "resource_type": "API_TRACK", "data": data}).encode()
    assert _event_receiver(sink, store).receive(body, _signed(body)).ok
    assert [e.type for e in sink.events] == ["shipment.label_created"]


@pytest.mark.parametrize(
    "body",
    [
        {"resource_url": RATE["resource_url"], "resource_type": "API_RATE"},
        {
            "resource_url": "https://api.shipengine.com/v1/carriers",
            "resource_type": "API_CARRIER_CONNECTED",
        },
        {"resource_url": "x", "resource_type": "API_REPORT_COMPLETE"},
        {"resource_url": "x", "resource_type": "API_SALES_ORDERS_IMPORTED"},
        {"resource_url": "x", "resource_type": "API_ORDER_SOURCE_REFRESH_COMPLETE"},
    ],
    ids=["thin-rate", "carrier-connected", "report", "sales-orders", "order-source"],
)
def test_events_without_a_shipment_fact_are_acknowledged_not_published(body: Any) -> None:
    """Housekeeping events, and a rate update without its rates, answer 200 with nothing
    handed off (no price is invented)."""
    sink, store = ListSink(), MemoryStore(clock=lambda: NOW)
    raw = json.dumps(body).encode()
    receipt = _event_receiver(sink, store).receive(raw, _signed(raw))
    assert receipt.outcome is ReceiptOutcome.ACCEPTED
    assert sink.events == []


def _hostile() -> st.SearchStrategy[Any]:
    rate = RATE["data"]["rates"][0]
    return st.one_of(
        _json,
        st.builds(
            lambda kind, k, v: {"resource_url": BATCH_URL, "resource_type": kind, k: v},
            st.sampled_from(["API_BATCH", "API_RATE", "API_TRACK", "API_CARRIER_CONNECTED"]),
            st.sampled_from(["resource_url", "data", "resource_type"]),
            _json,
        ),
        st.builds(
            lambda k, v: {**RATE, "data": {**RATE["data"], k: v}},
            st.sampled_from(["shipment_id", "external_shipment_id", "created_at", "rates"]),
            _json,
        ),
        st.builds(
            lambda k, v: {**RATE, "data": {**RATE["data"], "rates": [{**rate, k: v}]}},
            st.sampled_from(list(rate)),
            _json,
        ),
    )


@given(body=_hostile())
def test_hostile_webhook_bodies_give_events_or_a_payload_error(body: Any) -> None:
    """Whatever authentic-but-odd JSON arrives, the event parser returns catalogue events or
    raises WebhookPayloadError (naming a field), never another exception; through the receiver
    that is a 200 or a 400, never a crash."""
    driver = ShipEngineDriver({"api_key": "TEST_x"})
    raw = json.dumps(body).encode()
    failure: WebhookPayloadError | None = None
    try:
        events = driver.parse_webhook_events(raw, received_at=datetime(2026, 1, 5, tzinfo=UTC))
    except WebhookPayloadError as caught:
        failure, events = caught, []
    assert failure is None or failure.path is not None
    assert all(parse_event(e.to_json()) == e for e in events)
    receipt = _event_receiver(ListSink(), MemoryStore(clock=lambda: NOW)).receive(raw, _signed(raw))
    assert receipt.status in {200, 400}


class AsyncListSink:
    """Keeps what it is handed, asynchronously."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def publish(self, events: Sequence[Event]) -> None:
        self.events.extend(events)


async def test_the_async_receiver_hands_off_a_batch_webhook_once() -> None:
    """The same parser serves an asyncio host: batch.completed handed off, then a duplicate."""
    sink = AsyncListSink()
    verifier = SHIPENGINE_SCHEME.verifier(
        StaticRsaKeys({"k1": _key().public_key()}), clock=lambda: NOW
    )
    receiver = AsyncWebhookReceiver(
        verifier,
        store=AsyncMemoryStore(clock=lambda: NOW),
        sink=sink,
        parser=ShipEngineDriver({"api_key": "TEST_x"}).webhook_parser(clock=lambda: NOW),
    )
    body = json.dumps({"resource_url": BATCH_URL, "resource_type": "API_BATCH"}).encode()
    assert (await receiver.receive(body, _signed(body))).outcome is ReceiptOutcome.ACCEPTED
    assert (await receiver.receive(body, _signed(body))).outcome is ReceiptOutcome.DUPLICATE
    assert [e.type for e in sink.events] == ["batch.completed"]
