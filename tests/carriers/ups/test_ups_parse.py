"""UPS's answers become canonical values or typed errors, through the real client boundary."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from ups_cases import (
    GERMANY,
    NOW,
    PICKUP_CANCEL_RESPONSE,
    PICKUP_RESPONSE,
    RECIPIENT,
    SHIPPER,
    SUBSCRIBE_RESPONSE,
    TOKEN_RESPONSE,
    WEBHOOK_OUT_FOR_DELIVERY,
    client_for,
    driver,
    error_body,
    parcel,
    rate_response,
    ship_response,
    shipment,
    track_response,
    void_response,
    xav_response,
)

from shipsync.canonical import ChargeType, LabelFormat, Milestone, Reason
from shipsync.carriers import PickupRequest, RetryPolicy, SleepRecorder
from shipsync.errors import (
    CarrierAuthError,
    CarrierError,
    CarrierRequestError,
    CarrierResponseError,
    CarrierUnavailableError,
)

SHIP = "/api/shipments/v2409/ship"
RATE = "/api/rating/v2409/Shoptimeintransit"
XAV = "/api/addressvalidation/v2/3"
TRACK = "/api/track/v1/details/1ZA1B2C30012345678"
VOID = "/api/shipments/v2409/void/cancel/1ZA1B2C30012345678"


def test_a_multi_package_booking_gives_a_tracking_number_and_label_per_package() -> None:
    """Three packages come back with three tracking numbers and three PDF labels."""
    sent: list[httpx.Request] = []
    client = client_for({SHIP: ship_response(3)}, sent=sent)
    booked = client.create_shipment(
        shipment(parcels=(parcel(), parcel("2"), parcel("3"))), label_format=LabelFormat.PDF
    )
    assert booked.carrier_shipment_id == "1ZA1B2C30012345678"
    assert booked.tracking_numbers == tuple(f"1ZA1B2C3{n:02d}12345678" for n in range(3))
    for package in booked.packages:
        assert package.label is not None
        assert package.label.data.startswith(b"%PDF-1.4")
        assert package.status is Milestone.LABEL_CREATED
    token, booking = sent
    assert token.headers["authorization"].startswith("Basic ")
    assert booking.headers["authorization"] == "Bearer eyJraWQiOiJ0ZXN0In0.test"
    assert booking.headers["transactionSrc"] == "shipsync"
    assert len(booking.headers["transId"]) == 32


@pytest.mark.parametrize("label_format", [LabelFormat.PNG, LabelFormat.ZPL, LabelFormat.EPL])
def test_raw_label_formats_are_kept_as_ups_sent_them(label_format: LabelFormat) -> None:
    """PNG, ZPL and EPL labels are UPS's bytes, unchanged; a lone PackageResults object parses."""
    client = client_for({SHIP: ship_response(1, lone_object=True, alert=True)})
    booked = client.create_shipment(shipment(), label_format=label_format)
    label = booked.packages[0].label
    assert label is not None
    assert label.format is label_format
    assert label.data.startswith(b"\x89PNG")


def test_a_booking_with_a_package_missing_is_a_typed_error() -> None:
    """UPS answering fewer packages than sent is a CarrierResponseError, not a silent drop."""
    client = client_for({SHIP: ship_response(1)})
    with pytest.raises(CarrierResponseError, match="booked 1 packages, 2"):
        client.create_shipment(shipment(parcels=(parcel(), parcel())), label_format=LabelFormat.ZPL)


def test_rates_are_exact_with_charges_transit_days_and_dates() -> None:
    """String amounts become exact decimals; the two charges add up to the total."""
    rates = client_for({RATE: rate_response()}).quote_rates(shipment())
    ground, air = rates
    assert ground.service == "ground"
    assert ground.total.amount == Decimal("17.45")
    assert [c.type for c in ground.charges] == [ChargeType.BASE_FREIGHT, ChargeType.ACCESSORIAL]
    assert ground.transit_days == 3
    assert ground.estimated_delivery is not None
    assert ground.estimated_delivery.isoformat() == "2026-01-08"
    assert air.service == "next_day_air"
    assert len(air.charges) == 1  # a zero service-options charge is left out


def test_negotiated_rates_are_the_total_when_the_account_has_them() -> None:
    """NegotiatedRateCharges.TotalCharge replaces the published total."""
    client = client_for(
        {RATE: rate_response(negotiated=True)}, driver=driver(negotiated_rates=True)
    )
    rates = client.quote_rates(shipment())
    assert {r.total.amount for r in rates} == {Decimal("9.99")}


def test_rates_without_a_pickup_date_use_plain_shop() -> None:
    """A shipment without created_at asks Shop (no time in transit) and parses without it."""
    client = client_for({"/api/rating/v2409/Shop": rate_response(time_in_transit=False)})
    rates = client.quote_rates(shipment(created_at=None))
    assert all(r.transit_days is None for r in rates)


@pytest.mark.parametrize(
    ("kind", "valid", "residential", "suggestions"),
    [("valid", True, True, 1), ("ambiguous", False, None, 2), ("none", False, None, 0)],
)
def test_address_validation_reads_verdict_classification_and_candidates(
    kind: str, valid: bool, residential: bool | None, suggestions: int
) -> None:
    """Valid, ambiguous and no-candidate answers; classification 2 is residential, 0 unknown."""
    result = client_for({XAV: xav_response(kind)}).validate_address(RECIPIENT)
    assert result.valid is valid
    assert result.residential is residential
    assert len(result.suggestions) == suggestions
    if kind == "ambiguous":
        assert [s.residential for s in result.suggestions] == [True, False]
        assert result.suggestions[0].postal_code == "30309-1234"
        assert result.suggestions[0].name == RECIPIENT.name  # personal data carried, not lost


def test_tracking_maps_every_activity_and_keeps_codes() -> None:
    """Each activity becomes an event with UPS's type/code kept beside the milestone."""
    events = client_for({TRACK: track_response()}).track("1ZA1B2C30012345678")
    assert [e.milestone for e in events] == [
        Milestone.DELIVERED,
        Milestone.OUT_FOR_DELIVERY,
        Milestone.EXCEPTION,
        Milestone.IN_TRANSIT,
        Milestone.PICKED_UP,
        Milestone.LABEL_CREATED,
    ]
    assert events[0].carrier_code == "D/FS"
    assert events[2].reason is Reason.UNKNOWN
    assert events[0].shipment_id == "SHP-1"
    assert events[0].occurred_at == datetime(2026, 1, 5, 15, 30, tzinfo=UTC)
    assert events[1].occurred_at == datetime(2026, 1, 5, 16, 30, tzinfo=UTC)  # "16:30:00"
    assert events[0].location is not None
    assert events[0].location.facility == "3037"
    assert len({e.event_id for e in events}) == len(events)


def test_an_unknown_status_type_maps_to_unknown_with_the_raw_code() -> None:
    """A status type UPS's documents do not list becomes UNKNOWN, its code kept raw."""
    events = client_for({TRACK: track_response([("ZZ", "Q9", "Mystery scan")])}).track(
        "1ZA1B2C30012345678"
    )
    assert events[0].milestone is Milestone.UNKNOWN
    assert events[0].carrier_code == "ZZ/Q9"


def test_tracking_with_only_warnings_is_a_typed_error() -> None:
    """No package and a warning (number not found) is a CarrierResponseError with the message."""
    client = client_for({TRACK: track_response([], warnings=True)})
    with pytest.raises(CarrierResponseError) as info:
        client.track("1ZA1B2C30012345678")
    assert "Tracking Information Not Found" in str(info.value.carrier_message)


def test_void_confirms_or_names_the_packages_left() -> None:
    """A voided shipment returns; a partial void names the package UPS kept."""
    client_for({VOID: void_response()}).cancel_shipment("1ZA1B2C30012345678")
    client = client_for({VOID: void_response(failed="1ZA1B2C30112345678")})
    with pytest.raises(CarrierResponseError, match="1ZA1B2C30112345678"):
        client.cancel_shipment("1ZA1B2C30012345678")


def test_pickup_is_booked_and_cancelled_by_prn() -> None:
    """The PRN is the confirmation number; cancelling sends it in the Prn header."""
    sent: list[httpx.Request] = []
    client = client_for(
        {
            "/api/pickupcreation/v2409/pickup": PICKUP_RESPONSE,
            "/api/shipments/v2409/pickup/02": PICKUP_CANCEL_RESPONSE,
        },
        sent=sent,
    )
    pickup = client.schedule_pickup(
        PickupRequest(SHIPPER, NOW, NOW + timedelta(hours=4)), idempotency_key="p1"
    )
    assert pickup.confirmation_number == "2929602E9CP"
    client.cancel_pickup(pickup.confirmation_number)
    assert sent[-1].headers["prn"] == "2929602E9CP"


def test_a_track_alert_push_parses_into_one_event() -> None:
    """The documented out-for-delivery push maps to OUT_FOR_DELIVERY at its GMT time."""
    events = driver().parse_webhook(json.dumps(WEBHOOK_OUT_FOR_DELIVERY).encode(), received_at=NOW)
    assert events[0].milestone is Milestone.OUT_FOR_DELIVERY
    assert events[0].occurred_at == datetime(2026, 1, 5, 14, 15, 19, tzinfo=UTC)
    assert events[0].location is not None
    assert events[0].location.city == "Charlotte"


def test_subscribing_reports_valid_and_invalid_numbers() -> None:
    """Track Alert's answer splits the numbers it took from those it refused."""
    client = client_for({"/api/track/v2/subscription/standard/package": SUBSCRIBE_RESPONSE})
    valid, invalid = client.run(driver().subscribe(["1ZA1B2C30012345678"]), "subscribe")
    assert valid == ["1ZA1B2C30012345678"]
    assert invalid == ["1Z1234567$8"]


def test_ups_error_bodies_become_typed_errors_with_the_code_kept() -> None:
    """A 400 with two errors is a CarrierRequestError carrying the first code and both texts."""
    body = error_body(("120802", "Address Validation Error on ShipTo address"), ("9120200", "x"))
    client = client_for({SHIP: (400, body, {})})
    with pytest.raises(CarrierRequestError) as info:
        client.create_shipment(shipment(), label_format=LabelFormat.PNG)
    assert info.value.code == "120802"
    assert "9120200" in str(info.value.carrier_message)


def test_a_401_refreshes_the_token_once() -> None:
    """An expired token (250002) is refreshed and the call sent again; a second 401 fails."""
    sent: list[httpx.Request] = []
    expired = (401, error_body(("250002", "Invalid Authentication Information.")), {})
    client = client_for({TRACK: [expired, track_response()]}, sent=sent)
    assert client.track("1ZA1B2C30012345678")
    assert [r.url.path for r in sent].count("/api/security/v1/oauth/token") == 2
    client = client_for({TRACK: [expired, expired]})
    with pytest.raises(CarrierAuthError) as info:
        client.track("1ZA1B2C30012345678")
    assert info.value.code == "250002"


@pytest.mark.parametrize("status", [429, 503])
def test_rate_limits_and_outages_are_retryable_with_retry_after(status: int) -> None:
    """429 and 503 are CarrierUnavailableError with UPS's Retry-After kept."""
    answer = (status, error_body(("10429", "Too Many Requests")), {"Retry-After": "7"})
    client = client_for({TRACK: answer}, retry=RetryPolicy(attempts=1), sleeper=SleepRecorder())
    with pytest.raises(CarrierUnavailableError) as info:
        client.track("1ZA1B2C30012345678")
    assert info.value.retryable
    assert info.value.retry_after == 7.0


def test_the_token_endpoint_answer_is_read_with_its_string_lifetime() -> None:
    """UPS sends expires_in as a string: the token is cached for that long."""
    from shipsync.carriers import CarrierResponse

    token = driver().parse_token(CarrierResponse(200, content=json.dumps(TOKEN_RESPONSE).encode()))
    assert token.expires_in == 14399.0


def test_an_international_booking_survives_non_ascii_names() -> None:
    """Umlauts and accents go to UPS as UTF-8 JSON and the booking parses."""
    sent: list[httpx.Request] = []
    from ups_cases import CUSTOMS

    client = client_for({SHIP: ship_response(1)}, sent=sent)
    client.create_shipment(
        shipment(recipient=GERMANY, service="worldwide_expedited", customs=CUSTOMS),
        label_format=LabelFormat.ZPL,
    )
    body = json.loads(sent[-1].content)
    assert body["ShipmentRequest"]["Shipment"]["ShipTo"]["AttentionName"] == "Jürgen Müller"


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(
    st.fixed_dictionaries(
        {
            "trackingNumber": _JSON,
            "activityStatus": _JSON,
            "gmtActivityDate": _JSON,
            "gmtActivityTime": _JSON,
        },
        optional={"activityLocation": _JSON},
    )
    | _JSON
)
def test_any_push_body_parses_or_fails_typed(body: Any) -> None:
    """Whatever a Track Alert sender posts gives events or a CarrierError, never a crash."""
    client = client_for({})
    try:
        events = client.parse_webhook(json.dumps(body).encode(), {}, verify=False)
    except CarrierError:
        return
    assert all(e.carrier == "ups" for e in events)


@given(st.sampled_from(["ship", "rate", "track", "xav"]), st.data())
def test_mangled_answers_fail_typed(operation: str, data: st.DataObject) -> None:
    """Realistic answers with a field dropped or retyped give results or typed errors."""
    bodies = {
        "ship": ship_response(1),
        "rate": rate_response(),
        "track": track_response(),
        "xav": xav_response("ambiguous"),
    }
    body = json.loads(json.dumps(bodies[operation]))
    node = body
    while isinstance(node, dict) and node:
        key = data.draw(st.sampled_from(sorted(node)))
        if data.draw(st.booleans()) or not isinstance(node[key], dict | list):
            node[key] = data.draw(st.sampled_from([None, "", 7, [], {}, "x"]))
            break
        node = node[key] if isinstance(node[key], dict) else (node[key][0] if node[key] else {})
    path = {"ship": SHIP, "rate": RATE, "track": TRACK, "xav": XAV}[operation]
    client = client_for({path: body})
    calls = {
        "ship": lambda: client.create_shipment(shipment(), label_format=LabelFormat.PDF),
        "rate": lambda: client.quote_rates(shipment()),
        "track": lambda: client.track("1ZA1B2C30012345678"),
        "xav": lambda: client.validate_address(RECIPIENT),
    }
    with contextlib.suppress(CarrierError):
        calls[operation]()


async def test_the_async_client_drives_the_same_flows() -> None:
    """The same sans-IO driver books through AsyncCarrierClient."""
    from shipsync.carriers import AsyncCarrierClient

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth/token"):
            return httpx.Response(200, json=TOKEN_RESPONSE)
        return httpx.Response(200, json=ship_response(2))

    async with AsyncCarrierClient(driver(), transport=httpx.MockTransport(handle)) as client:
        booked = await client.create_shipment(
            shipment(parcels=(parcel(), parcel("1"))), label_format=LabelFormat.EPL
        )
    assert len(booked.tracking_numbers) == 2
