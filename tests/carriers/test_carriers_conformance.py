"""The driver conformance kit: the fake driver passes it, and it catches broken drivers."""

from __future__ import annotations

import json
import socket
import time
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from shipsync.canonical import TrackingEvent
from shipsync.carriers import (
    Capability,
    CarrierConfig,
    CarrierRequest,
    Driver,
    DriverInfo,
    Flow,
    PickupRequest,
)
from shipsync.carriers.fake import FakeDriver
from shipsync.testing.carriers import (
    DriverConformance,
    Recording,
    check_driver,
    load_recordings,
)
from shipsync.testing.fake_carrier import FakeCarrier


def record_fake() -> list[Recording]:
    """Run every operation against the in-process fake and keep what it answered."""
    carrier = FakeCarrier(seed=5)
    captured: list[tuple[str, httpx.Response]] = []
    handle = carrier.service.handle_httpx

    def recording_handler(request: httpx.Request) -> httpx.Response:
        response = handle(request)
        if request.url.path != "/oauth/token":
            captured.append((request.url.path, response))
        return response

    client = carrier.client()
    client.http = httpx.Client(transport=httpx.MockTransport(recording_handler))
    recordings: list[Recording] = []

    def keep(operation: Capability, expect: str = "ok", **args: Any) -> None:
        responses = tuple(
            (r.status_code, tuple(r.headers.multi_items()), r.content) for _, r in captured
        )
        recordings.append(Recording(operation, responses, args=args, expect=expect))
        captured.clear()

    shipment = carrier.shipment(scenario="unknown_status")
    client.validate_address(shipment.recipient)
    keep(Capability.VALIDATE_ADDRESS)
    client.quote_rates(shipment)
    keep(Capability.QUOTE_RATES)
    booked = client.create_shipment(shipment)
    keep(Capability.CREATE_SHIPMENT)
    carrier.advance(hours=8)
    client.track(booked.tracking_numbers[0])
    keep(Capability.TRACK, expect="unknown_status", tracking_number=booked.tracking_numbers[0])
    recordings[-1] = Recording(
        Capability.TRACK, recordings[-1].responses, expect="unknown_status", raw_code="QZ"
    )
    with pytest.raises(Exception):  # noqa: B017, PT011 - any typed error; the kit checks the type
        client.track("NOPE")
    keep(Capability.TRACK, expect="error")
    start = carrier.clock.now()
    pickup = client.schedule_pickup(
        PickupRequest(shipment.shipper, start, start + timedelta(hours=4)), idempotency_key="p"
    )
    keep(Capability.SCHEDULE_PICKUP)
    client.cancel_pickup(pickup.confirmation_number)
    keep(Capability.CANCEL_PICKUP)
    client.create_return(booked)
    keep(Capability.CREATE_RETURN)
    carrier.service.issue_invoices()
    client.fetch_invoices()
    keep(Capability.FETCH_INVOICES)
    assert booked.carrier_shipment_id is not None
    late = client.create_shipment(carrier.shipment())
    captured.clear()
    assert late.carrier_shipment_id is not None
    client.cancel_shipment(late.carrier_shipment_id)
    keep(Capability.CANCEL_SHIPMENT)
    event = {"id": "e1", "tracking_number": "FK1", "code": "ZZ9", "occurred_at": start.isoformat()}
    body = json.dumps({"type": "tracking.updated", "data": {"reference": "S1", "event": event}})
    recordings.append(
        Recording(
            Capability.PARSE_WEBHOOK,
            ((200, (), body.encode()),),
            expect="unknown_status",
            raw_code="ZZ9",
        )
    )
    recordings.append(
        Recording(Capability.QUOTE_RATES, ((200, (), b'{"rates": [{}]}'),), expect="error")
    )
    recordings.append(Recording(Capability.QUOTE_RATES, ((503, (), b"down"),), expect="error"))
    client.close()
    return recordings


class TestFakeDriverConformance(DriverConformance):
    """The built-in fake driver passes the kit on recordings of the fake carrier."""

    driver = FakeDriver()
    recordings = record_fake()


# -- the kit bites ------------------------------------------------------------------------------


class SloppyConfig(CarrierConfig):
    password: str = "plain"


class SloppyDriver(Driver):
    info = DriverInfo(
        name="Sloppy Driver",
        display_name="",
        api_version="3.0",
        capabilities={Capability.TRACK, Capability.CREATE_SHIPMENT, Capability.PARSE_WEBHOOK},
    )
    config_model = SloppyConfig

    def track(self, tracking_number: str, *, received_at: datetime) -> Flow[list[TrackingEvent]]:
        yield CarrierRequest("GET", "/t")
        socket.create_connection(("127.0.0.1", 9))
        return []


@pytest.fixture
def sloppy() -> SloppyDriver:
    return SloppyDriver({"base_url": "http://sloppy.invalid"})


def test_kit_reports_every_metadata_problem(sloppy: SloppyDriver) -> None:
    """Bad name, empty display name, wrong API version, missing services, plain password..."""
    problems = check_driver(sloppy)
    text = "\n".join(problems)
    for fragment in (
        "name must be",
        "display_name",
        "api_version",
        "services",
        "label_formats",
        "signature scheme",
        "'password'",
        "create_shipment is declared but not implemented",
        "parse_webhook is declared but not implemented",
    ):
        assert fragment in text


def test_kit_catches_io_during_parse(sloppy: SloppyDriver) -> None:
    """A driver that opens a socket while parsing fails the no-I/O check."""
    recording = Recording(Capability.TRACK, ((200, (), b"{}"),))
    problems = check_driver(sloppy, [recording])
    assert any("network connection" in p for p in problems)


def test_kit_catches_wrong_expectations() -> None:
    """A success recorded as an error, leftover responses and undeclared recordings are flagged."""
    driver = FakeDriver()
    rates = b'{"rates": []}'
    problems = check_driver(
        driver,
        [
            Recording(Capability.QUOTE_RATES, ((200, (), rates),), expect="error"),
            Recording(Capability.QUOTE_RATES, ((200, (), rates), (200, (), rates))),
        ],
    )
    assert any("expected a typed CarrierError" in p for p in problems)
    assert any("were not used" in p for p in problems)


def test_recordings_load_from_json(tmp_path: Any) -> None:
    """Recordings are plain JSON files a vendor can write by hand or export from cassettes."""
    (tmp_path / "track.json").write_text(
        json.dumps(
            [
                {
                    "operation": "track",
                    "args": {"tracking_number": "FK1"},
                    "responses": [{"status": 404, "body": {"error": {"code": "not_found"}}}],
                    "expect": "error",
                }
            ]
        )
    )
    (recording,) = load_recordings(tmp_path)
    assert recording.operation is Capability.TRACK
    assert recording.name == "track[0]"
    assert check_driver(FakeDriver(), [recording]) == []


def test_undeclared_operation_leaks_are_caught() -> None:
    """A driver that implements an operation without declaring it is still refused typed."""

    class Quiet(FakeDriver):
        info = DriverInfo(
            name="quiet",
            display_name="Quiet",
            api_version="1.0",
            capabilities={Capability.TRACK},
            services=("s",),
        )
        config_model = CarrierConfig

    problems = check_driver(
        Quiet({"base_url": "http://q.invalid", "client_secret": SecretStr("x")})
    )
    assert problems == []


def test_kit_catches_drivers_that_leak_on_broken_answers() -> None:
    """A parser that raises its own untyped error on a missing field fails the mutation check."""

    class Leaky(FakeDriver):
        def quote_rates(self, shipment: Any) -> Any:
            response = yield CarrierRequest("POST", "/v1/rates")
            data = response.json()
            if not isinstance(data, dict) or "rates" not in data:
                raise RuntimeError("no rates")
            return []

    recording = Recording(Capability.QUOTE_RATES, ((200, (), b'{"rates": []}'),))
    problems = check_driver(Leaky(), [recording])
    assert any("leaked RuntimeError" in p for p in problems)
    assert check_driver(FakeDriver(), [recording]) == []


def test_kit_catches_drivers_that_read_the_clock() -> None:
    """A driver that stamps requests with the wall clock builds different requests each run."""

    class Clocky(FakeDriver):
        def track(self, tracking_number: str, *, received_at: datetime) -> Any:
            yield CarrierRequest(
                "GET", f"/v1/tracking/{tracking_number}?t={time.perf_counter_ns()}"
            )
            return []

    recording = Recording(Capability.TRACK, ((200, (), b"{}"),))
    problems = check_driver(Clocky(), [recording])
    assert any("built different requests" in p for p in problems)
