"""Shipments UPS cannot accept are refused before any request, naming the field."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from ups_cases import (
    CONFIG,
    CUSTOMS,
    GERMANY,
    NOW,
    RECIPIENT,
    SHIPPER,
    client_for,
    parcel,
    shipment,
)

from shipsync.canonical import (
    Address,
    Dimensions,
    LabelFormat,
    Parcel,
    Shipment,
    Weight,
)
from shipsync.carriers import PickupRequest
from shipsync.carriers.ups import UpsDriver
from shipsync.errors import CarrierRequestError, ConfigurationError, InvalidInputError

NO_PHONE = GERMANY.model_copy(update={"contact": None})

REFUSED: list[tuple[str, Shipment, str]] = [
    (
        "missing-phone-international",
        shipment(recipient=NO_PHONE, service="worldwide_expedited", customs=CUSTOMS),
        "recipient.contact.phone",
    ),
    ("over-150-lbs", shipment(parcels=(parcel("150.01"),)), "packages.0.parcel.weight"),
    (
        "over-70-kg-from-canada",
        shipment(parcels=(Parcel(weight=Weight.of("70.5", "kg")),), service="standard").model_copy(
            update={"shipper": SHIPPER.model_copy(update={"country": "CA"}), "customs": CUSTOMS}
        ),
        "packages.0.parcel.weight",
    ),
    (
        "too-long",
        shipment(
            parcels=(Parcel(weight=Weight.of(5, "lb"), dimensions=Dimensions.of(109, 5, 5, "in")),)
        ),
        "packages.0.parcel.dimensions",
    ),
    (
        "length-plus-girth",
        shipment(
            parcels=(
                Parcel(weight=Weight.of(5, "lb"), dimensions=Dimensions.of(100, 20, 20, "in")),
            )
        ),
        "packages.0.parcel.dimensions",
    ),
    ("unknown-service", shipment(service="teleport"), "service"),
    (
        "domestic-service-abroad",
        shipment(recipient=GERMANY, service="ground", customs=CUSTOMS),
        "service",
    ),
    (
        "unserved-country",
        shipment(
            recipient=GERMANY.model_copy(update={"country": "KP"}),
            service="worldwide_express",
            customs=CUSTOMS,
        ),
        "recipient.country",
    ),
    (
        "international-without-customs",
        shipment(recipient=GERMANY, service="worldwide_express"),
        "customs",
    ),
    (
        "customs-without-date",
        shipment(recipient=GERMANY, service="worldwide_express", customs=CUSTOMS, created_at=None),
        "created_at",
    ),
    (
        "no-street",
        shipment(recipient=RECIPIENT.model_copy(update={"street": ()})),
        "recipient.street",
    ),
    (
        "name-too-long",
        shipment(recipient=RECIPIENT.model_copy(update={"name": "N" * 36})),
        "recipient",
    ),
]


@pytest.mark.parametrize(
    ("case", "path"), [(s, p) for _, s, p in REFUSED], ids=[n for n, _, _ in REFUSED]
)
def test_bookings_ups_cannot_accept_are_refused_before_sending(case: Shipment, path: str) -> None:
    """A typed CarrierRequestError names the field, and nothing reaches UPS (not even a token)."""
    sent: list[httpx.Request] = []
    client = client_for({}, sent=sent)
    with pytest.raises(CarrierRequestError) as info:
        client.create_shipment(case, label_format=LabelFormat.PDF)
    assert info.value.path is not None
    assert info.value.path.startswith(path)
    assert info.value.code == "not_accepted"
    assert sent == []


def test_rates_refuse_the_same_lanes() -> None:
    """Quoting an unserved destination fails the same way, before any request."""
    sent: list[httpx.Request] = []
    case = {n: s for n, s, _ in REFUSED}["unserved-country"]
    with pytest.raises(CarrierRequestError) as info:
        client_for({}, sent=sent).quote_rates(case)
    assert info.value.path == "recipient.country"
    assert sent == []


def test_address_validation_outside_us_is_refused() -> None:
    """UPS validates street addresses in the US and PR only: Germany is refused up front."""
    with pytest.raises(CarrierRequestError) as info:
        client_for({}).validate_address(GERMANY)
    assert info.value.path == "country"


def test_pickups_need_a_phone_and_one_day() -> None:
    """A pickup without a phone, or spanning midnight, is refused naming the field."""
    from datetime import timedelta

    client = client_for({})
    with pytest.raises(CarrierRequestError) as info:
        client.schedule_pickup(
            PickupRequest(
                SHIPPER.model_copy(update={"contact": None}), NOW, NOW + timedelta(hours=2)
            ),
            idempotency_key="p",
        )
    assert info.value.path == "address.contact.phone"
    with pytest.raises(CarrierRequestError) as info:
        client.schedule_pickup(
            PickupRequest(SHIPPER, NOW, NOW + timedelta(days=1)), idempotency_key="p"
        )
    assert info.value.path == "ready_until"


def test_subscriptions_take_one_to_a_hundred_numbers() -> None:
    """101 tracking numbers, or none, are refused before any request."""
    driver = UpsDriver(CONFIG)
    with pytest.raises(CarrierRequestError):
        next(driver.subscribe([f"1ZA1B2C3{n:010d}" for n in range(101)]))
    with pytest.raises(CarrierRequestError):
        next(driver.subscribe([]))


@pytest.mark.parametrize(
    ("change", "word"),
    [
        ({"account_number": "123"}, "account_number"),
        ({"environment": "staging"}, "environment"),
        ({"client_secret": None}, "client_secret"),
        ({"transaction_source": "x" * 33}, "transaction_source"),
    ],
)
def test_bad_configuration_is_a_typed_error(change: dict[str, Any], word: str) -> None:
    """A short account number, an unknown environment or a missing secret is refused."""
    with pytest.raises((InvalidInputError, ConfigurationError, ValueError)) as info:
        UpsDriver({**CONFIG, **change})
    assert word in str(info.value)


def test_environments_pick_the_documented_base_urls() -> None:
    """test is CIE, production is onlinetools; an explicit base_url wins."""
    assert UpsDriver(CONFIG).config.base_url == "https://wwwcie.ups.com/api"
    production = UpsDriver({**CONFIG, "environment": "production"})
    assert production.config.base_url == "https://onlinetools.ups.com/api"
    proxy = UpsDriver({**CONFIG, "base_url": "http://127.0.0.1:9/api"})
    assert proxy.config.base_url == "http://127.0.0.1:9/api"
    assert "test-client-secret" not in repr(production.config)


def test_weights_and_dimensions_are_converted_exactly_and_rounded_up() -> None:
    """2.5 kg from the US is 5.6 lb (5.5116 up), 30 cm is 12 in (11.81 up); never less."""

    case = shipment(
        parcels=(
            Parcel(weight=Weight.of("2.5", "kg"), dimensions=Dimensions.of(30, 20, "10.16", "cm")),
        )
    )
    request = next(
        UpsDriver(CONFIG).create_shipment(case, label_format=LabelFormat.ZPL, idempotency_key="k")
    )
    package = json.loads(request.content)["ShipmentRequest"]["Shipment"]["Package"][0]
    assert package["PackageWeight"]["Weight"] == "5.6"
    assert package["PackageWeight"]["UnitOfMeasurement"]["Code"] == "LBS"
    assert [package["Dimensions"][k] for k in ("Length", "Width", "Height")] == ["12", "8", "4"]


def test_an_address_carries_no_personal_data_into_errors() -> None:
    """The refusal names the field, not the person's phone or street."""
    case = {n: s for n, s, _ in REFUSED}["missing-phone-international"]
    with pytest.raises(CarrierRequestError) as info:
        client_for({}).create_shipment(case, label_format=LabelFormat.PDF)
    assert "Müller" not in str(info.value)
    assert isinstance(NO_PHONE, Address)


@given(
    st.decimals(min_value="0.001", max_value="60", places=3),
    st.sampled_from(["kg", "g", "lb", "oz"]),
    st.decimals(min_value="1", max_value="80", places=2),
    st.sampled_from(["cm", "mm", "in"]),
    st.sampled_from(["US", "CA"]),
)
def test_declared_weight_and_size_are_the_exact_ceiling(
    value: Decimal, unit: str, side: Decimal, length_unit: str, origin: str
) -> None:
    """UPS gets the exact value rounded up to its step: never less, less than one step more."""
    from fractions import Fraction

    grams = {
        "kg": Fraction(1000),
        "g": Fraction(1),
        "lb": Fraction("453.59237"),
        "oz": Fraction("453.59237") / 16,
    }
    mm = {"cm": Fraction(10), "mm": Fraction(1), "in": Fraction("25.4")}
    case = shipment(
        parcels=(
            Parcel(
                weight=Weight.of(value, unit),
                dimensions=Dimensions.of(side, side, side, length_unit),
            ),
        )
    ).model_copy(update={"shipper": SHIPPER.model_copy(update={"country": origin})})
    refused: list[str | None] = []
    try:
        request = next(UpsDriver(CONFIG).quote_rates(case.model_copy(update={"customs": CUSTOMS})))
    except CarrierRequestError as error:  # over a limit: refused, naming the parcel
        refused.append(error.path)
    if refused:
        assert str(refused[0]).startswith("packages.0.parcel")
        return
    package = json.loads(request.content)["RateRequest"]["Shipment"]["Package"][0]
    weight_unit = package["PackageWeight"]["UnitOfMeasurement"]["Code"]
    assert weight_unit == ("LBS" if origin == "US" else "KGS")
    exact = Fraction(value) * grams[unit] / (grams["lb"] if weight_unit == "LBS" else grams["kg"])
    sent = Fraction(package["PackageWeight"]["Weight"])
    assert exact <= sent < exact + Fraction(1, 10) or sent == Fraction(1, 10)
    length_code = package["Dimensions"]["UnitOfMeasurement"]["Code"]
    exact_side = Fraction(side) * mm[length_unit] / (mm["in"] if length_code == "IN" else mm["cm"])
    sent_side = Fraction(package["Dimensions"]["Length"])
    assert exact_side <= sent_side < exact_side + 1 or sent_side == 1
