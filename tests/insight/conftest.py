"""A small synthetic world and a model trained on it, shared by the insight tests."""

from __future__ import annotations

from datetime import date

import pytest

from shipsync.insight import History, RiskModel, Scan, ShipmentProfile, train
from shipsync.testing.parcel_world import SimShipment, generate


def history_of(shipment: SimShipment) -> History:
    """The history the synthetic shipment's events tell (the generator's truth kept aside)."""
    profile = ShipmentProfile(
        shipment.shipment_id,
        shipment.carrier,
        shipment.service,
        shipment.origin,
        shipment.destination,
        shipment.packages,
        shipment.declared_value,
        shipment.promised_by,
        address_incomplete=not shipment.address_complete,
    )
    return History(
        profile, [Scan(e.at, e.milestone, e.reason, e.facility) for e in shipment.events]
    )


@pytest.fixture(scope="session")
def training_world() -> list[SimShipment]:
    """Two seeds, January to March."""
    return [s for seed in (11, 12) for s in generate(seed, months=3, shipments_per_day=25)]


@pytest.fixture(scope="session")
def held_out_world() -> list[SimShipment]:
    """Another seed, April and May: later months the model never saw."""
    return list(generate(13, start=date(2026, 4, 1), months=2, shipments_per_day=25))


@pytest.fixture(scope="session")
def model(training_world: list[SimShipment]) -> RiskModel:
    """The risk model trained on the training world."""
    return train([history_of(s) for s in training_world])
