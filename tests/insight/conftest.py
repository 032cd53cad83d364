"""A small synthetic world and a model trained on it, shared by the insight tests."""

from __future__ import annotations

from datetime import date

import pytest

from shipsync.insight import RiskModel, train
from shipsync.testing.parcel_world import SimShipment, generate, history_of


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
