"""Interoperability with the official CloudEvents Python SDK (``cloudevents`` 2.x).

The SDK reads our structured-mode JSON, and we read what the SDK writes, in structured mode and
after an HTTP binary-mode hop (where extension attributes travel as ``ce-*`` header strings).
"""

from __future__ import annotations

import json
from datetime import datetime

from cloudevents.core.bindings import http as ce_http
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from hypothesis import given, settings

from shipsync.canonical import Event, parse_event
from shipsync.testing import strategies as sst

FORMAT = JSONFormat()


@settings(max_examples=40)
@given(sst.any_events())
def test_the_sdk_reads_our_json(event: Event) -> None:
    """Every attribute, extension and the data arrive intact in the SDK's CloudEvent."""
    raw = event.to_json()
    ours = json.loads(raw)
    theirs = FORMAT.read(None, raw)
    assert isinstance(theirs, CloudEvent)
    assert theirs.get_specversion() == "1.0"
    assert theirs.get_id() == event.id
    assert theirs.get_source() == event.source
    assert theirs.get_type() == event.type
    assert theirs.get_subject() == event.subject
    assert theirs.get_dataschema() == event.dataschema
    assert theirs.get_datacontenttype() == "application/json"
    time = theirs.get_time()
    assert isinstance(time, datetime)
    assert time == event.time
    assert theirs.get_extension("schemaversion") == event.schemaversion
    assert theirs.get_extension("partitionkey") == event.partitionkey
    assert theirs.get_extension("correlationid") == event.correlationid
    assert theirs.get_data() == ours["data"]


@settings(max_examples=40)
@given(sst.any_events())
def test_we_read_the_sdks_structured_output(event: Event) -> None:
    """What the SDK writes from our event parses back into an equal typed event."""
    written = FORMAT.write(FORMAT.read(None, event.to_json()))
    assert parse_event(written) == event


@settings(max_examples=40)
@given(sst.any_events())
def test_we_read_events_after_an_http_binary_mode_hop(event: Event) -> None:
    """Through HTTP binary mode and back (extensions become strings), the event is unchanged."""
    message = ce_http.to_binary(FORMAT.read(None, event.to_json()), FORMAT)
    assert message.headers["ce-type"] == event.type
    assert message.headers["ce-schemaversion"] == str(event.schemaversion)
    restored = ce_http.from_binary(message, FORMAT)
    assert parse_event(FORMAT.write(restored)) == event


def test_we_read_an_event_built_with_the_sdk() -> None:
    """An envelope a partner builds with the SDK from scratch parses into our typed event."""
    data = {
        "event_id": "evt-42",
        "shipment_id": "SHP-42",
        "tracking_number": "1Z42",
        "carrier": "partner",
        "milestone": "out_for_delivery",
        "occurred_at": "2026-11-26T07:30:00+01:00",
        "recorded_at": "2026-11-26T06:31:00Z",
        "carrier_code": "OD",
    }
    theirs = CloudEvent(
        attributes={
            "id": "partner-1",
            "source": "/partner/tracking",
            "type": "shipment.out_for_delivery",
            "specversion": "1.0",
            "time": datetime.fromisoformat("2026-11-26T06:31:00+00:00"),
            "subject": "SHP-42",
            "datacontenttype": "application/json",
            "schemaversion": 1,
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        },
        data=data,
    )
    event = parse_event(FORMAT.write(theirs))
    assert event.type == "shipment.out_for_delivery"
    assert event.data.occurred_at.isoformat() == "2026-11-26T06:30:00+00:00"
    assert event.partitionkey == "SHP-42"
    assert event.model_extra == {
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    }
    assert FORMAT.read(None, event.to_json()).get_extension("traceparent") == (
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    )
