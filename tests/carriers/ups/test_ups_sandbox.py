"""The sandbox story: replayed from cassettes here, re-recorded against UPS CIE when the
``UPS_CLIENT_ID``, ``UPS_CLIENT_SECRET`` and ``UPS_ACCOUNT_NUMBER`` variables are set."""

from __future__ import annotations

from typing import Any

import pytest
from sandbox import STORIES, client, live, recorder

from shipsync.canonical import Milestone, Pickup, Rate, Shipment, TrackingEvent
from shipsync.carriers import AddressValidation, SleepRecorder

EXPECTED: dict[str, Any] = {
    "address_validation.yaml": AddressValidation,
    "rates.yaml": Rate,
    "booking.yaml": Shipment,
    "void.yaml": type(None),
    "pickup.yaml": Pickup,
    "tracking.yaml": TrackingEvent,
}


@pytest.mark.parametrize("cassette", sorted(STORIES))
def test_the_story_runs_against_the_sandbox_or_its_cassette(cassette: str) -> None:
    """Each operation gives canonical values from UPS CIE (live) or the cassette (replay)."""
    ups = client(sleeper=SleepRecorder())
    with recorder().use_cassette(cassette) as recorded:
        result = STORIES[cassette](ups)
    ups.close()
    items = result if isinstance(result, list) else [result]
    assert items
    assert all(isinstance(item, EXPECTED[cassette]) for item in items)
    if not live():
        assert recorded.all_played
    if cassette == "booking.yaml":
        assert all(p.label is not None and p.tracking_number for p in result.packages)
    if cassette == "tracking.yaml":
        assert all(e.milestone is not Milestone.UNKNOWN or e.carrier_code for e in items)
