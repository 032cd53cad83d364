"""The UPS OpenAPI documents, as extracts, with the documented corrections the checks apply.

Each correction is one defect of UPS's published documents (``UPS-API/api-documentation``, the
commit noted in each extract's ``x-source``), fixed as narrowly as possible. Nothing else is
loosened: every other field, type, enumeration and required list is checked as published.
"""

from __future__ import annotations

from pathlib import Path

from shipsync.testing.openapi import Correction, OpenAPISpec

SPEC_DIR = Path(__file__).parent / "spec"

_STRING = {"type": "string"}

CORRECTIONS: dict[str, list[Correction]] = {
    "rating": [
        Correction.set(
            "/components/schemas/RateRequest_Request/properties/RequestOption",
            {"type": "string", "maxLength": 17, "minLength": 1},
            reason="Request requires RequestOption but the schema does not declare it",
        ),
        Correction.set(
            "/paths/~1rating~1{version}~1{requestoption}/post/parameters/4/schema/maxLength",
            17,
            reason=(
                "requestoption is capped at 10 characters, but the documented values "
                "Ratetimeintransit and Shoptimeintransit are 17"
            ),
        ),
    ],
    "pickup": [
        Correction.set(
            "/components/schemas/PickupCreationRequest_PickupDateInfo/properties/PickupDate",
            {"type": "string", "minLength": 8, "maxLength": 8},
            reason="PickupDate is YYYYMMDD (8 characters) but is declared with length 4",
        ),
    ],
    "track_alert": [
        Correction.remove(
            "/paths/~1subscription~1{type}~1package/post/parameters/0",
            reason=(
                "'version' is declared as a path parameter of the operation, but it is a "
                "variable of the servers' URL (/api/track/{version}), not of the path"
            ),
        ),
    ],
}

#: Request path prefixes the documents leave out (their server URL carries them).
PREFIXES = {"track_alert": "/track/v2"}

NAMES = ("oauth", "address_validation", "rating", "shipping", "pickup", "tracking", "track_alert")


def load_specs() -> list[OpenAPISpec]:
    """Every UPS document the driver talks to, corrected."""
    return [
        OpenAPISpec.load(
            SPEC_DIR / f"{name}.json",
            corrections=CORRECTIONS.get(name, ()),
            name=name,
            prefix=PREFIXES.get(name, ""),
        )
        for name in NAMES
    ]
