"""Typical calls of the UPS driver and the spec check, type-checked (``mypy --strict``) but
never run."""

from __future__ import annotations

from typing import assert_type

from shipsync.canonical import LabelFormat, Rate, Shipment
from shipsync.carriers import CarrierClient, CarrierRequest, drivers_markdown
from shipsync.carriers.ups import TrackAlertScheme, TrackAlertTokens, TrackAlertVerifier, UpsDriver
from shipsync.testing.openapi import Correction, OpenAPISpec, check_request


def book(shipment: Shipment) -> None:
    driver = UpsDriver({"client_id": "id", "client_secret": "s", "account_number": "A1B2C3"})
    with CarrierClient(driver) as client:
        assert_type(client.quote_rates(shipment), list[Rate])
        booked = client.create_shipment(shipment, label_format=LabelFormat.ZPL)
        assert_type(booked, Shipment)
        valid, _invalid = client.run(driver.subscribe(booked.tracking_numbers), "subscribe")
        assert_type(valid, list[str])
        client.run(driver.void("1Z", ["1Z1"]), "cancel_shipment")
    tokens = TrackAlertTokens("id", "secret", lifetime=300)
    assert_type(TrackAlertScheme(tokens).verifier("id"), TrackAlertVerifier)
    assert_type(drivers_markdown(), str)


def spec(request: CarrierRequest) -> None:
    fix = Correction.set("/a", {"type": "string"}, reason="undeclared")
    document = OpenAPISpec.load("spec.json", corrections=[fix], prefix="/api")
    assert_type(document.check(request), list[str])
    assert_type(check_request(request, [document]), list[str])
