"""Re-record the cassettes against a live fake carrier server (run by hand, not by pytest).

    python examples/shipsync-carrier-example/tests/record_cassettes.py

It starts ``FakeCarrierService(seed=0)`` on a free local port, drives the Example Express driver
through one booking story under vcrpy, and scrubs every secret before anything is written: the
``Authorization`` header, the client secret in the token request and the issued access token.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import vcr
from shipsync_carrier_example import ExampleDriver

from shipsync.carriers import CarrierClient
from shipsync.carriers.fake import FakeCarrierService, run_server
from shipsync.errors import CarrierRequestError
from shipsync.testing.fake_carrier import sample_shipment

CASSETTES = Path(__file__).parent / "cassettes"
SCRUBBED = "REDACTED"


def scrub_request(request: Any) -> Any:
    """Drop the client secret from the token form."""
    if request.path.endswith("/oauth/token") and request.body:
        form = dict(parse_qsl(request.body.decode()))
        form["client_secret"] = SCRUBBED
        request.body = urlencode(sorted(form.items())).encode()
    return request


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """Replace an issued access token with a placeholder."""
    body = response["body"]["string"]
    if b"access_token" in body:
        data = json.loads(body)
        data["access_token"] = SCRUBBED
        response["body"]["string"] = json.dumps(data).encode()
    return response


RECORDER = vcr.VCR(
    cassette_library_dir=str(CASSETTES),
    record_mode="all",
    match_on=["method", "path"],
    filter_headers=["authorization"],
    before_record_request=scrub_request,
    before_record_response=scrub_response,
    decode_compressed_response=True,
)


def main() -> None:
    service = FakeCarrierService(seed=0)
    with run_server(service) as server:
        driver = ExampleDriver({"base_url": server.url})
        client = CarrierClient(driver, clock=service.clock.time)
        shipment = sample_shipment(shipment_id="EX-1", scenario="unknown_status")
        with RECORDER.use_cassette("booking.yaml"):
            client.quote_rates(shipment)
            booked = client.create_shipment(shipment, idempotency_key="example-booking-1")
        service.advance(8 * 3600)
        with RECORDER.use_cassette("tracking.yaml"):
            client.track(booked.tracking_numbers[0])
            with contextlib.suppress(CarrierRequestError):
                client.track("UNKNOWN123")
        other = client.create_shipment(sample_shipment(shipment_id="EX-2"))
        assert other.carrier_shipment_id is not None
        with RECORDER.use_cassette("cancel.yaml"):
            client.cancel_shipment(other.carrier_shipment_id)
        client.close()
    print(f"recorded into {CASSETTES}")


if __name__ == "__main__":
    main()
