"""Produce the replay cassettes offline, from answers written after UPS's response schemas.

    python tests/carriers/ups/make_cassettes.py

Runs each sandbox story under vcrpy in record mode, with the client's transport answering from
``ups_cases`` instead of UPS (no network), so the cassettes hold the exact requests the driver
sends and schema-shaped answers. They are not recordings of UPS: set the ``UPS_*`` variables and
run the sandbox tests to record real ones.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import ups_cases
from sandbox import CIE_TRACKING_NUMBER, STORIES, recorder
from ups_cases import (
    NOW,
    PICKUP_RESPONSE,
    client_for,
    driver,
    rate_response,
    ship_response,
    track_response,
    void_response,
    xav_response,
)


def main() -> None:
    tracking = track_response()
    package = tracking["trackResponse"]["shipment"][0]["package"][0]
    package["trackingNumber"] = CIE_TRACKING_NUMBER
    tracking["trackResponse"]["shipment"][0]["inquiryNumber"] = CIE_TRACKING_NUMBER
    routes = {
        "/api/addressvalidation/v2/3": xav_response("valid"),
        "/api/rating/v2409/Shoptimeintransit": rate_response(),
        "/api/shipments/v2409/ship": ship_response(2),
        "/api/shipments/v2409/void/cancel/1ZA1B2C30012345678": void_response(),
        "/api/pickupcreation/v2409/pickup": PICKUP_RESPONSE,
        f"/api/track/v1/details/{CIE_TRACKING_NUMBER}": tracking,
    }
    record = recorder("all")
    for name, story in STORIES.items():
        client = client_for(routes, driver=driver())
        client.clock = lambda: NOW.timestamp()
        with record.use_cassette(name):
            story(client)
        client.close()
        print("wrote", name)
    # The cassette examples/ups_to_odoo.py replays: rate, book two packages, track the first.
    example = Path(__file__).parents[3] / "examples" / "ups_to_odoo" / "ups.yaml"
    example.unlink(missing_ok=True)
    routes["/api/track/v1/details/1ZA1B2C30012345678"] = track_response()
    client = client_for(routes, driver=driver())
    client.clock = lambda: NOW.timestamp()
    shipment = ups_cases.shipment(parcels=(ups_cases.parcel(), ups_cases.parcel("2.5")))
    with recorder("all").use_cassette(str(example)):
        client.quote_rates(shipment)
        booked = client.create_shipment(
            shipment, label_format=ups_cases.LabelFormat.ZPL, idempotency_key="S00003-1"
        )
        client.track(booked.tracking_numbers[0])
    client.close()
    print("wrote", example)


if __name__ == "__main__":
    main()
