"""The shipsync driver conformance kit, pointed at Example Express and its cassettes."""

from __future__ import annotations

from pathlib import Path

import attrs
from shipsync_carrier_example import ExampleDriver

from shipsync.testing.carriers import DriverConformance, Recording, recordings_from_cassette

CASSETTES = Path(__file__).parent / "cassettes"
ROUTES = [
    ("POST", r"/v1/rates", "quote_rates"),
    ("POST", r"/v1/shipments", "create_shipment"),
    ("POST", r"/v1/shipments/(?P<carrier_shipment_id>[^/]+)/cancel", "cancel_shipment"),
    ("GET", r"/v1/tracking/(?P<tracking_number>[^/]+)", "track"),
]


def recordings() -> list[Recording]:
    found = []
    for cassette in sorted(CASSETTES.glob("*.yaml")):
        for recording in recordings_from_cassette(cassette, ROUTES):
            if recording.args.get("tracking_number") == "FK00000003":
                recording = attrs.evolve(recording, expect="unknown_status", raw_code="QZ")
            found.append(recording)
    return found


class TestExampleConformance(DriverConformance):
    """Metadata, capabilities, parsing, unknown codes and no I/O — all from the kit."""

    driver = ExampleDriver({"base_url": "http://example-express.invalid"})
    recordings = recordings()
