"""Parties, shipments, tracking and finance models: validation, immutability, redaction."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipsync.canonical import (
    REDACTED,
    Address,
    ChargeType,
    Claim,
    Commodity,
    Contact,
    Customs,
    Discrepancy,
    FreightCharge,
    Incoterm,
    Label,
    LabelFormat,
    LineClass,
    Location,
    Milestone,
    Money,
    Package,
    Parcel,
    Pickup,
    ProofOfDelivery,
    Reason,
    ReturnShipment,
    Shipment,
    TrackingEvent,
    Weight,
)
from shipsync.errors import CanonicalValidationError, InvalidInputError
from shipsync.testing import strategies as sst

T = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def _tracking(**overrides: Any) -> TrackingEvent:
    fields: dict[str, Any] = {
        "event_id": "evt-1",
        "shipment_id": "SHP-1",
        "tracking_number": "1Z1",
        "carrier": "fake",
        "milestone": Milestone.IN_TRANSIT,
        "occurred_at": T,
        "recorded_at": T,
        "carrier_code": "I1",
    }
    return TrackingEvent(**(fields | overrides))


def _address(**overrides: Any) -> Address:
    fields: dict[str, Any] = {
        "name": "Ada Lovelace",
        "company": "Analytical Engines Ltd",
        "street": ("12 St James's Square",),
        "city": "London",
        "postal_code": "SW1Y 4JH",
        "country": "GB",
        "contact": Contact(name="Ada", phone="+44 20 7946 0000", email="ada@example.org"),
    }
    return Address(**(fields | overrides))


def _shipment(**overrides: Any) -> Shipment:
    fields: dict[str, Any] = {
        "shipment_id": "SHP-1",
        "order_reference": "SO042",
        "picking_reference": "WH/OUT/00042",
        "carrier": "fake",
        "service": "express",
        "carrier_shipment_id": "FK-991",
        "shipper": Address(country="DE", street=("Dock 4",)),
        "recipient": _address(),
        "packages": (Package(parcel=Parcel(weight=Weight.of("1", "kg")), tracking_number="1Z1"),),
    }
    return Shipment(**(fields | overrides))


# --- parties -----------------------------------------------------------------------------------


@pytest.mark.parametrize("country", ["XX", "de", "DEU", "", "UK"])
def test_address_country_must_be_iso_3166_alpha_2(country: str) -> None:
    """Unknown, lower-case, alpha-3 or empty country codes fail, naming ``country``."""
    with pytest.raises(CanonicalValidationError) as info:
        Address(country=country)
    assert info.value.path == "country"
    assert "ISO 3166-1" in str(info.value)


def test_location_country_is_validated_at_its_path() -> None:
    """A nested bad country names the full path from the outer model."""
    with pytest.raises(CanonicalValidationError) as info:
        _tracking(location={"city": "X", "country": "ZZ"})
    assert info.value.path == "location.country"


@given(sst.addresses(), st.text(min_size=1, max_size=20))
def test_personal_data_never_appears_in_repr_or_str(address: Address, secret: str) -> None:
    """Whatever a name, street line, phone or e-mail holds, repr() and str() show ***."""
    marker = f"Zq9-PII-{secret}"  # the prefix cannot occur by chance in the other fields
    contact = Contact(name=marker, phone=marker, email=marker, company="ACME")
    address = address.model_copy(update={"name": marker, "street": (marker,), "contact": contact})
    for text in (repr(address), str(address), repr(address.contact), str(address.contact)):
        assert "Zq9-PII" not in text
        assert REDACTED in text
    assert "ACME" in repr(address)


def test_redaction_in_repr_str_and_redacted() -> None:
    """Personal fields show as *** at any depth; other fields (company, city) stay readable."""
    address = _address()
    text = repr(address) + str(address) + repr(_shipment())
    for secret in ("Ada", "St James", "+44", "ada@example.org"):
        assert secret not in text
    assert "Analytical Engines Ltd" in repr(address)
    assert "London" in str(address)
    redacted = _shipment().redacted()
    recipient = redacted["recipient"]
    assert recipient["name"] == REDACTED
    assert recipient["street"] == REDACTED
    assert recipient["contact"]["email"] == REDACTED
    assert recipient["city"] == "London"
    assert redacted["shipper"]["name"] is None
    json.dumps(redacted)  # JSON-ready
    assert "Ada" not in json.dumps(redacted)


def test_redacted_keeps_the_real_values_in_the_model() -> None:
    """Redaction is for display only: the data itself and its JSON are complete."""
    address = _address()
    assert address.name == "Ada Lovelace"
    assert json.loads(address.model_dump_json())["contact"]["email"] == "ada@example.org"


def test_proof_of_delivery_signer_is_personal_data() -> None:
    """The signer's name is redacted too."""
    pod = ProofOfDelivery(
        shipment_id="S", tracking_number="T", delivered_at=T, signed_by="Grace Hopper"
    )
    assert "Grace" not in repr(pod)
    assert pod.redacted()["signed_by"] == REDACTED


def test_error_messages_do_not_echo_personal_input() -> None:
    """A validation error names the field, never the rejected value."""
    with pytest.raises(CanonicalValidationError) as info:
        Address(name="Very Secret Person" * 20, country="DE")
    assert info.value.path == "name"
    assert "Very Secret" not in str(info.value)


# --- models in general -------------------------------------------------------------------------


def test_models_are_frozen_and_hashable() -> None:
    """Assigning a field raises; equal models hash equal."""
    event = _tracking()
    with pytest.raises(Exception, match="frozen"):
        event.carrier = "other"  # type: ignore[misc]
    assert hash(event) == hash(_tracking())
    with pytest.raises(Exception, match="frozen"):
        Money.of("1", "EUR").amount = 2  # type: ignore[assignment]


@pytest.mark.parametrize(
    ("build", "path"),
    [
        (lambda: Address(country="DE", colour="red"), "colour"),
        (lambda: Contact(nickname="x"), "nickname"),
        (lambda: _tracking(status="done"), "status"),
        (lambda: Money(amount="1", currency="EUR", rate="2"), "rate"),
        (lambda: TrackingEvent.model_validate_json('{"foo": 1}'), "foo"),
    ],
    ids=["address", "contact", "tracking", "money", "json"],
)
def test_unknown_fields_are_rejected(build: Any, path: str) -> None:
    """Extra fields are errors (models never silently drop data), naming the field."""
    with pytest.raises(CanonicalValidationError) as info:
        build()
    assert path in [p for p, _ in info.value.errors]


@pytest.mark.parametrize(
    "value",
    [datetime(2026, 11, 26, 10, 0), "2026-11-26T10:00:00", "2026-11-26"],
    ids=["datetime", "string", "date"],
)
def test_naive_datetimes_are_rejected(value: object) -> None:
    """A datetime without zone is an error naming the field, from Python and from JSON."""
    with pytest.raises(CanonicalValidationError) as info:
        _tracking(occurred_at=value)
    assert info.value.path == "occurred_at"
    raw = json.loads(_tracking().model_dump_json()) | {"recorded_at": str(value)}
    with pytest.raises(CanonicalValidationError) as info:
        TrackingEvent.model_validate_json(json.dumps(raw))
    assert info.value.path == "recorded_at"


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 11, 26, 11, 0, tzinfo=timezone(timedelta(hours=1))),
        datetime(2026, 11, 26, 11, 0, tzinfo=ZoneInfo("Europe/Berlin")),
        datetime(2026, 11, 26, 10, 0, tzinfo=ZoneInfo("Europe/London")),
        "2026-11-26T11:00:00+01:00",
        "2026-11-26T05:00:00-05:00",
        "2026-11-26T10:00:00Z",
    ],
)
def test_aware_datetimes_are_normalised_to_utc(value: object) -> None:
    """Any offset is accepted and converted to UTC; the instant is unchanged."""
    event = _tracking(occurred_at=value)
    assert event.occurred_at == T
    assert event.occurred_at.utcoffset() == timedelta(0)
    raw = json.loads(_tracking().model_dump_json()) | {"occurred_at": str(value)}
    if isinstance(value, str):
        parsed = TrackingEvent.model_validate_json(json.dumps(raw)).occurred_at
        assert parsed == T
        assert parsed.utcoffset() == timedelta(0)


def test_python_datetimes_come_out_with_the_utc_singleton() -> None:
    """From Python, a zone-aware datetime is converted to ``tzinfo=UTC``."""
    berlin = datetime(2026, 11, 26, 11, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert _tracking(occurred_at=berlin).occurred_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("field", "limit"),
    [("carrier_code", 200), ("carrier_description", 4000), ("event_id", 200)],
)
def test_oversized_strings_are_rejected(field: str, limit: int) -> None:
    """Strings beyond their bound fail with the field path; at the bound they pass."""
    _tracking(**{field: "x" * limit})
    with pytest.raises(CanonicalValidationError) as info:
        _tracking(**{field: "x" * (limit + 1)})
    assert info.value.path == field


def test_identifiers_must_not_be_blank() -> None:
    """Identifiers are stripped and must keep at least one character."""
    assert _tracking(event_id="  evt-9 ").event_id == "evt-9"
    with pytest.raises(CanonicalValidationError) as info:
        _tracking(event_id="   ")
    assert info.value.path == "event_id"


def test_missing_required_fields_are_named() -> None:
    """Every missing required field is listed with its path."""
    with pytest.raises(CanonicalValidationError) as info:
        TrackingEvent.model_validate({"event_id": "e"})
    paths = {path for path, _ in info.value.errors}
    assert {"shipment_id", "milestone", "occurred_at", "carrier_code"} <= paths
    assert isinstance(info.value, InvalidInputError)


def test_nested_errors_carry_the_full_path() -> None:
    """A bad value deep in a shipment names the path through tuples and models."""
    raw = json.loads(_shipment().model_dump_json())
    raw["packages"][0]["parcel"]["weight"]["value"] = "-3"
    with pytest.raises(CanonicalValidationError) as info:
        Shipment.model_validate_json(json.dumps(raw))
    assert info.value.path == "packages.0.parcel.weight.value"


@pytest.mark.parametrize("quantity", [0, -1])
def test_commodity_quantity_must_be_positive(quantity: int) -> None:
    """Zero or negative commodity quantities are refused."""
    with pytest.raises(CanonicalValidationError) as info:
        Commodity(
            description="tea", quantity=quantity, value=Money.of("1", "EUR"), origin_country="IN"
        )
    assert info.value.path == "quantity"


# --- shipment family ---------------------------------------------------------------------------


def test_shipment_carries_ids_packages_and_customs() -> None:
    """A shipment holds our ids, the carrier's, packages each with its tracking number, customs."""
    customs = Customs(
        incoterm=Incoterm.DAP,
        commodities=(
            Commodity(
                description="tea",
                hs_code="090230",
                quantity=3,
                value=Money.of("12.50", "EUR"),
                origin_country="IN",
            ),
        ),
    )
    second = Package(parcel=Parcel(weight=Weight.of("2", "kg")), tracking_number="1Z2")
    shipment = _shipment(customs=customs, packages=(*_shipment().packages, second))
    assert shipment.tracking_numbers == ("1Z1", "1Z2")
    assert shipment.packages[0].status is Milestone.UNKNOWN
    assert Shipment.model_validate_json(shipment.model_dump_json()) == shipment


def test_shipment_needs_at_least_one_package() -> None:
    """An empty package list is refused."""
    with pytest.raises(CanonicalValidationError) as info:
        _shipment(packages=())
    assert info.value.path == "packages"


@pytest.mark.parametrize("code", ["0902", "09023", "0902.30", "abcdef"])
def test_hs_codes_are_6_8_or_10_digits(code: str) -> None:
    """HS codes are 6, 8 or 10 digits."""
    with pytest.raises(CanonicalValidationError):
        Commodity(
            description="t",
            hs_code=code,
            quantity=1,
            value=Money.of("1", "EUR"),
            origin_country="IN",
        )


def test_label_bytes_round_trip_as_base64_and_stay_out_of_repr() -> None:
    """Label bytes travel as base64 in JSON and are summarised in repr."""
    label = Label(tracking_number="1Z1", format=LabelFormat.ZPL, data=b"^XA^FDhello^FS^XZ")
    assert "<17 bytes>" in repr(label)
    assert "hello" not in repr(label)
    assert json.loads(label.model_dump_json())["data"] == "XlhBXkZEaGVsbG9eRlNeWFo="
    assert Label.model_validate_json(label.model_dump_json()) == label


def test_pickup_window_must_be_ordered() -> None:
    """ready_until must be after ready_from."""
    common: dict[str, Any] = {"carrier": "c", "confirmation_number": "P1", "address": _address()}
    Pickup(**common, ready_from=T, ready_until=T + timedelta(hours=2))
    with pytest.raises(CanonicalValidationError, match="ready_until"):
        Pickup(**common, ready_from=T, ready_until=T)


def test_return_shipment_and_pod_round_trip() -> None:
    """Returns and proofs of delivery survive JSON."""
    ret = ReturnShipment(return_id="R1", original_shipment_id="S", carrier="c", tracking_number="T")
    pod = ProofOfDelivery(
        shipment_id="S",
        tracking_number="T",
        delivered_at=T,
        signed_by="A",
        location=Location(city="Paris", country="FR"),
        photo_reference="pod/1.jpg",
        signature_reference="sig/1.png",
    )
    assert ReturnShipment.model_validate_json(ret.model_dump_json()) == ret
    assert ProofOfDelivery.model_validate_json(pod.model_dump_json()) == pod


# --- tracking ----------------------------------------------------------------------------------


def test_milestones_and_reasons_are_closed_lists() -> None:
    """The issue's milestones all exist; values outside the lists are refused."""
    required = {
        "label_created",
        "picked_up",
        "in_transit",
        "out_for_delivery",
        "delivery_attempted",
        "available_for_pickup",
        "exception",
        "delivered",
        "returning_to_sender",
        "returned",
        "cancelled",
        "lost",
        "unknown",
    }
    assert required <= {m.value for m in Milestone}
    assert {"address_issue", "recipient_absent", "refused", "damaged", "weather"} <= {
        r.value for r in Reason
    }
    assert "customs_hold" in {r.value for r in Reason}
    with pytest.raises(CanonicalValidationError) as info:
        _tracking(milestone="teleported")
    assert info.value.path == "milestone"
    with pytest.raises(CanonicalValidationError) as info:
        _tracking(reason="gremlins")
    assert info.value.path == "reason"


def test_tracking_event_keeps_the_carrier_code_verbatim() -> None:
    """An unknown carrier code is kept as sent beside the ``unknown`` milestone."""
    event = _tracking(
        milestone=Milestone.UNKNOWN, carrier_code="ZZ-99", carrier_description=" Weird  text "
    )
    assert event.carrier_code == "ZZ-99"
    assert event.carrier_description == " Weird  text "
    assert event.reason is Reason.NORMAL


@settings(max_examples=50)
@given(sst.tracking_events())
def test_tracking_events_round_trip_through_json(event: TrackingEvent) -> None:
    """A tracking event survives its own JSON unchanged."""
    assert TrackingEvent.model_validate_json(event.model_dump_json()) == event


# --- finance -----------------------------------------------------------------------------------


def test_charge_types_cover_the_issue_list() -> None:
    """The charge types of the issue are all present."""
    assert {c.value for c in ChargeType} >= {
        "base_freight",
        "fuel",
        "residential",
        "address_correction",
        "dimensional_weight_adjustment",
        "accessorial",
        "duties_and_taxes",
        "insurance",
        "pickup",
        "other",
    }


def test_discrepancy_cannot_be_matched() -> None:
    """A discrepancy of kind ``matched`` is a contradiction and is refused."""
    with pytest.raises(CanonicalValidationError, match="matched"):
        Discrepancy(
            invoice_number="I",
            line_number=1,
            tracking_number="T",
            kind=LineClass.MATCHED,
            billed=Money.of("1", "EUR"),
        )


@given(sst.claims())
def test_claims_round_trip(claim: Claim) -> None:
    """Claims survive JSON unchanged."""
    assert Claim.model_validate_json(claim.model_dump_json()) == claim


def test_credits_are_negative_charges() -> None:
    """A credit is a charge with a negative amount."""
    credit = FreightCharge(type=ChargeType.OTHER, amount=Money.of("-2.50", "EUR"))
    assert credit.amount.is_negative


@given(
    sst.utc_datetimes(),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
    st.sampled_from(["T", " "]),
)
def test_json_and_python_read_offsets_alike(when: datetime, minutes: int, sep: str) -> None:
    """Whatever the offset, JSON and Python input give the same UTC instant (offset 0)."""
    local = when.astimezone(timezone(timedelta(minutes=minutes)))
    from_python = _tracking(occurred_at=local).occurred_at
    raw = json.loads(_tracking().model_dump_json()) | {"occurred_at": local.isoformat(sep=sep)}
    from_json = TrackingEvent.model_validate_json(json.dumps(raw)).occurred_at
    assert from_json == from_python == when
    assert from_json.utcoffset() == from_python.utcoffset() == timedelta(0)


def test_logging_a_model_redacts_personal_data(caplog: pytest.LogCaptureFixture) -> None:
    """Models logged with %s or %r (or inside an f-string) do not leak personal data."""
    logger = logging.getLogger("shipsync.test.redaction")
    shipment = _shipment()
    with caplog.at_level(logging.INFO, logger=logger.name):
        logger.info("booked %s", shipment)
        logger.info("recipient %r", shipment.recipient)
        logger.info(f"contact {shipment.recipient.contact}")
    text = caplog.text
    assert "SHP-1" in text
    for secret in ("Ada", "St James", "+44", "ada@example.org"):
        assert secret not in text
