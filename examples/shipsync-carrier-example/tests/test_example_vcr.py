"""Example Express against cassettes recorded from the fake carrier server (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest
import vcr
from shipsync_carrier_example import ExampleDriver

from shipsync.canonical import Milestone
from shipsync.carriers import CarrierClient, SleepRecorder
from shipsync.errors import CarrierRequestError
from shipsync.testing.fake_carrier import sample_shipment

CASSETTES = Path(__file__).parent / "cassettes"
REPLAY = vcr.VCR(
    cassette_library_dir=str(CASSETTES),
    record_mode="none",
    match_on=["method", "path"],
)


@pytest.fixture
def client() -> CarrierClient:
    driver = ExampleDriver({"base_url": "http://example-express.invalid"})
    return CarrierClient(driver, sleeper=SleepRecorder())


def test_quote_and_book(client: CarrierClient) -> None:
    """Rates come back in canonical money; the booking has a tracking number and a label."""
    shipment = sample_shipment(shipment_id="EX-1", scenario="unknown_status")
    with REPLAY.use_cassette("booking.yaml"):
        rates = client.quote_rates(shipment)
        booked = client.create_shipment(shipment)
    assert {r.service for r in rates} == {"economy", "standard", "express"}
    assert all(r.total.currency == "EUR" for r in rates)
    assert booked.tracking_numbers == ("FK00000003",)
    assert booked.packages[0].label is not None


def test_tracking_keeps_unknown_codes(client: CarrierClient) -> None:
    """A code the driver does not know maps to UNKNOWN; a missing number is a typed error."""
    with REPLAY.use_cassette("tracking.yaml"):
        events = client.track("FK00000003")
        with pytest.raises(CarrierRequestError) as info:
            client.track("UNKNOWN123")
    assert events[0].milestone == Milestone.LABEL_CREATED
    assert events[-1].milestone == Milestone.UNKNOWN
    assert events[-1].carrier_code == "QZ"
    assert info.value.code == "not_found"


def test_cancel(client: CarrierClient) -> None:
    """Cancelling replays without a token request (the cassette has none) once one is cached."""
    with REPLAY.use_cassette("booking.yaml", allow_playback_repeats=True):
        client.quote_rates(sample_shipment())
    with REPLAY.use_cassette("cancel.yaml"):
        client.cancel_shipment("shp_00000005")


def test_cassettes_hold_no_secrets() -> None:
    """The recorder scrubbed the bearer token, the client secret and the issued token."""
    for cassette in CASSETTES.glob("*.yaml"):
        text = cassette.read_text()
        assert "fake-secret" not in text
        assert "fk_at_" not in text
        assert "authorization" not in text.lower()
