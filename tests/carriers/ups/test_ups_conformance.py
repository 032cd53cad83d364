"""The UPS driver passes the driver conformance kit, spec check included, and its tables are
complete for every status type and code UPS documents."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from spec_corrections import load_specs
from ups_cases import (
    CONFIG,
    PICKUP_CANCEL_RESPONSE,
    PICKUP_RESPONSE,
    RECIPIENT,
    SHIPPER,
    WEBHOOK_OUT_FOR_DELIVERY,
    error_body,
    rate_response,
    ship_response,
    shipment,
    track_response,
    void_response,
    xav_response,
)

from shipsync.canonical import LabelFormat, Milestone, Reason
from shipsync.carriers import Capability
from shipsync.carriers.ups import (
    LABELS,
    SERVICE_CODES,
    SERVICES,
    STATUS_CODES,
    STATUS_TYPES,
    UpsDriver,
    status_for,
)
from shipsync.testing.carriers import DriverConformance, Recording
from shipsync.testing.openapi import OpenAPISpec


def _recording(
    operation: Capability, body: Any, *, status: int = 200, expect: str = "ok", **args: Any
) -> Recording:
    return Recording(
        operation,
        ((status, (("content-type", "application/json"),), json.dumps(body).encode()),),
        name=f"ups-{operation.value}-{expect}",
        args=args,
        expect=expect,
        raw_code=args.pop("raw_code", None),
    )


_SHIPMENT = {"shipment": shipment().model_dump(mode="json")}

RECORDINGS: list[Recording] = [
    _recording(
        Capability.VALIDATE_ADDRESS,
        xav_response("ambiguous"),
        address=RECIPIENT.model_dump(mode="json"),
    ),
    _recording(Capability.QUOTE_RATES, rate_response(), **_SHIPMENT),
    _recording(Capability.CREATE_SHIPMENT, ship_response(1), **_SHIPMENT),
    _recording(
        Capability.CREATE_SHIPMENT,
        error_body(("120100", "Missing or invalid shipper number")),
        status=400,
        expect="error",
        **_SHIPMENT,
    ),
    _recording(
        Capability.CANCEL_SHIPMENT, void_response(), carrier_shipment_id="1ZA1B2C30012345678"
    ),
    _recording(
        Capability.SCHEDULE_PICKUP, PICKUP_RESPONSE, address=SHIPPER.model_dump(mode="json")
    ),
    _recording(Capability.CANCEL_PICKUP, PICKUP_CANCEL_RESPONSE, confirmation_number="2929602E9CP"),
    _recording(Capability.TRACK, track_response(), tracking_number="1ZA1B2C30012345678"),
    Recording(
        Capability.TRACK,
        ((200, (), json.dumps(track_response([("Q", "ZZ", "New scan")])).encode()),),
        name="ups-track-unknown",
        args={"tracking_number": "1ZA1B2C30012345678"},
        expect="unknown_status",
        raw_code="Q/ZZ",
    ),
    _recording(Capability.PARSE_WEBHOOK, WEBHOOK_OUT_FOR_DELIVERY),
    _recording(Capability.CREATE_RETURN, ship_response(1), **_SHIPMENT),
]


class TestUpsConformance(DriverConformance):
    """The public kit, pointed at the UPS driver with UPS's corrected OpenAPI documents."""

    driver = UpsDriver(CONFIG)
    recordings: Sequence[Recording] = RECORDINGS
    specs: Sequence[OpenAPISpec] = load_specs()


#: Status types UPS documents: UPSTrackAlert.yaml's activityStatus.type enumeration, and P
#: (pickup) as the Tracking API reports it.
DOCUMENTED_TYPES = {"D", "I", "M", "MV", "U", "X", "P"}
#: Type/code pairs the documents show (UPSTrackAlert.yaml's examples).
DOCUMENTED_CODES = {("I", "OT"), ("D", "FS")}


def test_every_documented_status_type_and_code_is_mapped() -> None:
    """The table covers each documented type and code, and nothing maps to UNKNOWN by accident."""
    assert set(STATUS_TYPES) == DOCUMENTED_TYPES
    assert {tuple(k.split("/")) for k in STATUS_CODES} == DOCUMENTED_CODES
    for status_type in DOCUMENTED_TYPES:
        status = status_for(status_type, "any-code")
        assert status is not None
        assert status.milestone is not Milestone.UNKNOWN
        assert status.meaning
    for status_type, code in DOCUMENTED_CODES:
        assert status_for(status_type, code) is STATUS_CODES[f"{status_type}/{code}"]
    assert status_for("D", "FS").milestone is Milestone.DELIVERED  # type: ignore[union-attr]
    assert status_for("I", "OT").milestone is Milestone.OUT_FOR_DELIVERY  # type: ignore[union-attr]
    assert status_for("X", "U2").reason is Reason.UNKNOWN  # type: ignore[union-attr]
    assert status_for("ZZ", "FS") is None


def test_service_and_label_tables_are_consistent() -> None:
    """Codes are UPS's two digits, names are unique, and every declared label format is mapped."""
    assert all(len(code) == 2 and code.isdigit() for code in SERVICES)
    assert len(SERVICE_CODES) == len(SERVICES)
    assert set(LABELS) == set(UpsDriver.info.label_formats)
    assert {spec.code for spec in LABELS.values()} <= {"GIF", "PNG", "ZPL", "EPL", "SPL"}
    assert LabelFormat.PDF in LABELS
