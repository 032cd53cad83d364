"""ShipEngine webhooks through the real receiver pipeline, and the driver's parsers under fuzz."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given
from hypothesis import strategies as st

from shipsync.canonical import Event
from shipsync.carriers._mapping import PARSE_ERRORS
from shipsync.carriers.shipengine import ShipEngineDriver
from shipsync.errors import ShipsyncError
from shipsync.idempotency import MemoryStore
from shipsync.webhooks import (
    SHIPENGINE_SCHEME,
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
    """Whatever JSON arrives (authentic but odd), parsing gives events or a typed error."""
    driver = ShipEngineDriver({"api_key": "TEST_x"})
    raw = json.dumps(body).encode()
    try:
        events = driver.parse_webhook(raw, received_at=datetime(2026, 1, 5, tzinfo=UTC))
    except (ShipsyncError, *PARSE_ERRORS):
        pass  # the client and the receiver map exactly these to typed errors at their boundary
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
