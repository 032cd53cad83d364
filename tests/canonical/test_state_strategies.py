"""The shared hypothesis strategies build valid canonical values that collide where it matters."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from shipsync.canonical import (
    CURRENCY_EXPONENTS,
    Address,
    Dimensions,
    Milestone,
    MilestoneEvent,
    Money,
    ShipmentCreated,
    TrackingEvent,
    Weight,
    parse_event,
)
from shipsync.testing import strategies as sst


@given(sst.money())
def test_money_is_exact_in_its_currency(value: Money) -> None:
    """Exact money already has its currency's places and survives JSON."""
    assert value.amount == value.amount.quantize(
        Decimal(1).scaleb(-CURRENCY_EXPONENTS[value.currency])
    )
    assert Money.model_validate_json(value.model_dump_json()) == value


@given(sst.money("JPY", exact=False), sst.money(st.just("KWD")))
def test_money_currency_can_be_pinned(yen: Money, dinar: Money) -> None:
    """A code or a strategy of codes pins the currency."""
    assert (yen.currency, dinar.currency) == ("JPY", "KWD")


@given(sst.weights(), sst.dimensions())
def test_weights_and_dimensions_are_non_negative(weight: Weight, dims: Dimensions) -> None:
    """Weights and sides are never negative."""
    assert weight.value >= 0
    assert min(dims.length, dims.width, dims.height) >= 0


@given(sst.addresses())
def test_addresses_round_trip(address: Address) -> None:
    """Addresses validate back from their own JSON."""
    assert Address.model_validate_json(address.model_dump_json()) == address


@given(sst.tracking_histories())
def test_histories_have_unique_ids_by_default(events: list[TrackingEvent]) -> None:
    """By default each event of a history has its own id and recorded_at >= occurred_at."""
    assert len({e.event_id for e in events}) == len(events)
    for event in events:
        assert timedelta(0) <= event.recorded_at - event.occurred_at <= timedelta(hours=6)
        assert event.tracking_number in {"1Z000000000001", "1Z000000000002", "1Z000000000003"}


@settings(max_examples=20)
@given(sst.tracking_histories(unique_ids=False, min_size=6, max_size=8))
def test_histories_can_share_ids(events: list[TrackingEvent]) -> None:
    """Without unique_ids, ids come from a small pool, so events share ids (the fold must cope)."""
    assert len({e.event_id for e in events}) < len(events)


@settings(max_examples=25)
@given(sst.milestone_events(), sst.shipment_created_events())
def test_envelopes_parse_back(milestone: MilestoneEvent, created: ShipmentCreated) -> None:
    """Envelopes built by the strategies parse back to equal typed events."""
    assert parse_event(milestone.to_json()) == milestone
    assert parse_event(created.to_json()) == created
    assert milestone.data.milestone is not Milestone.UNKNOWN
