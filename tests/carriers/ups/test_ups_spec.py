"""Every request the UPS driver builds validates against UPS's published OpenAPI schemas."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from spec_corrections import CORRECTIONS, NAMES, PREFIXES, SPEC_DIR, load_specs
from ups_cases import NOW, RECIPIENT, SHIPMENTS, SHIPPER, driver, shipment

from shipsync.canonical import LabelFormat, Shipment
from shipsync.carriers import CarrierRequest, Flow, PickupRequest
from shipsync.testing.openapi import OpenAPISpec, check_request

SPECS = load_specs()


def first(flow: Flow[Any]) -> CarrierRequest:
    """The first request a flow yields."""
    return next(flow)


def _ship(case: Shipment, label_format: LabelFormat) -> CarrierRequest:
    return first(driver().create_shipment(case, label_format=label_format, idempotency_key="k"))


OPERATIONS: dict[str, Callable[[], CarrierRequest]] = {
    "token": lambda: driver().token_request(),
    "validate_address": lambda: first(driver().validate_address(RECIPIENT)),
    "quote_rates_without_date": lambda: first(driver().quote_rates(shipment(created_at=None))),
    "quote_rates_negotiated": lambda: first(driver(negotiated_rates=True).quote_rates(shipment())),
    "create_return": lambda: first(
        driver().create_return(shipment(), label_format=LabelFormat.ZPL, idempotency_key="r")
    ),
    "cancel_shipment": lambda: first(driver().cancel_shipment("1ZA1B2C30012345678")),
    "void_one_package": lambda: first(driver().void("1ZA1B2C30012345678", ["1ZA1B2C30112345678"])),
    "schedule_pickup": lambda: first(
        driver().schedule_pickup(
            PickupRequest(
                SHIPPER, NOW, NOW + timedelta(hours=4), ("1ZA1B2C30012345678",), "Dock 3"
            ),
            idempotency_key="p",
        )
    ),
    "cancel_pickup": lambda: first(driver().cancel_pickup("2929602E9CP")),
    "track": lambda: first(driver().track("1ZA1B2C30012345678", received_at=NOW)),
    "subscribe": lambda: first(driver().subscribe(["1ZA1B2C30012345678", "1ZCIETST0111111114"])),
}


@pytest.mark.parametrize(
    ("case", "label_format"),
    [(s, f) for _, s, f in SHIPMENTS],
    ids=[name for name, _, _ in SHIPMENTS],
)
def test_each_booking_matches_the_shipping_schema(
    case: Shipment, label_format: LabelFormat
) -> None:
    """Domestic, multi-package, international, residential and every label format validate."""
    assert check_request(_ship(case, label_format), SPECS) == []


@pytest.mark.parametrize("case", [s for _, s, _ in SHIPMENTS], ids=[n for n, _, _ in SHIPMENTS])
def test_each_rate_request_matches_the_rating_schema(case: Shipment) -> None:
    """Rate and Shop (with time in transit) requests for the same table validate."""
    assert check_request(first(driver().quote_rates(case)), SPECS) == []


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_every_other_operation_matches_its_schema(operation: str) -> None:
    """Token, validation, void, pickups, tracking and Track Alert requests validate."""
    assert check_request(OPERATIONS[operation](), SPECS) == []


def _with_body(request: CarrierRequest, change: Callable[[dict[str, Any]], None]) -> CarrierRequest:
    body = json.loads(request.content)
    change(body)
    return CarrierRequest.json(request.method, request.path, body, headers=dict(request.headers))


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        pytest.param(
            lambda b: b["ShipmentRequest"]["Shipment"]["ShipFrom"].update(EMailAddress="a@b.c"),
            "EMailAddress",
            id="undeclared-field",
        ),
        pytest.param(
            lambda b: b["ShipmentRequest"]["Shipment"]["Package"][0]["PackageWeight"].update(
                Weight=5
            ),
            "Weight",
            id="number-for-string",
        ),
        pytest.param(
            lambda b: b["ShipmentRequest"]["Shipment"].update(
                Package=b["ShipmentRequest"]["Shipment"]["Package"][0]
            ),
            "Package",
            id="object-for-array",
        ),
        pytest.param(
            lambda b: b["ShipmentRequest"]["Shipment"]["Shipper"].pop("ShipperNumber"),
            "ShipperNumber",
            id="missing-required",
        ),
        pytest.param(
            lambda b: b["ShipmentRequest"]["Shipment"]["Service"].update(Code="3"),
            "Code",
            id="too-short",
        ),
    ],
)
def test_the_check_refuses_what_the_schema_does_not_allow(
    change: Callable[[dict[str, Any]], None], needle: str
) -> None:
    """An undeclared field, a wrong type, an object for an array or a missing field fails."""
    request = _with_body(_ship(shipment(), LabelFormat.PDF), change)
    problems = check_request(request, SPECS)
    assert any(needle in p for p in problems), problems


def test_a_missing_transid_is_refused_where_ups_requires_it() -> None:
    """Tracking declares transId required: a request without it fails the check."""
    request = OPERATIONS["track"]()
    bare = CarrierRequest(request.method, request.path, params=request.params)
    assert any("transId" in p for p in check_request(bare, SPECS))


@pytest.mark.parametrize(
    ("name", "index"),
    [(name, i) for name, fixes in CORRECTIONS.items() for i in range(len(fixes))],
)
def test_every_correction_is_needed(name: str, index: int) -> None:
    """Without any one documented correction, some request the driver builds fails the check."""
    fixes = [f for i, f in enumerate(CORRECTIONS[name]) if i != index]
    spec = OpenAPISpec.load(
        SPEC_DIR / f"{name}.json", corrections=fixes, name=name, prefix=PREFIXES.get(name, "")
    )
    specs = [spec if s.name == name else s for s in SPECS]
    requests = [_ship(s, f) for _, s, f in SHIPMENTS]
    requests += [first(driver().quote_rates(s)) for _, s, _ in SHIPMENTS]
    requests += [make() for make in OPERATIONS.values()]
    assert any(check_request(r, specs) for r in requests)


def test_the_extracts_name_their_source_and_carry_no_prose() -> None:
    """Each extract notes repository, file and commit, and holds no description or example."""
    for name in NAMES:
        data = json.loads((SPEC_DIR / f"{name}.json").read_text(encoding="utf-8"))
        assert data["x-source"]["repository"] == "UPS-API/api-documentation"
        assert len(data["x-source"]["commit"]) == 40
        text = json.dumps(data)
        assert '"description"' not in text
        assert '"example' not in text
