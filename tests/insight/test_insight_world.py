"""The synthetic parcel world: deterministic, causal, and honest about its truth labels."""

from __future__ import annotations

import statistics
from datetime import date

from shipsync.canonical import Milestone, ShipmentCreated, parse_event
from shipsync.insight import histories_from_events
from shipsync.testing.parcel_world import (
    DEFAULT_WORLD,
    SimShipment,
    WorldParams,
    generate,
    to_envelopes,
)


def _transit_hours(shipments: list[SimShipment]) -> float:
    hours = []
    for s in shipments:
        pickup = next(e.at for e in s.events if e.milestone is Milestone.PICKED_UP)
        if s.delivered_at is not None:
            hours.append((s.delivered_at - pickup).total_seconds() / 3600)
    return statistics.median(hours)


def test_same_seed_same_world_other_seed_other_world() -> None:
    """A seed and parameters give the same shipments and scans in every run."""
    first = [(s.shipment_id, s.events, s.outcome) for s in generate(5, months=1)]
    again = [(s.shipment_id, s.events, s.outcome) for s in generate(5, months=1)]
    other = [(s.shipment_id, s.events, s.outcome) for s in generate(6, months=1)]
    assert first == again
    assert [e for _, e, _ in first] != [e for _, e, _ in other]


def test_truth_labels_follow_the_scans() -> None:
    """late, outcome and delivery time are what the scans say, never drawn separately."""
    for shipment in generate(3, months=2, shipments_per_day=30):
        times = [e.at for e in shipment.events]
        assert times == sorted(times)
        delivered = [e.at for e in shipment.events if e.milestone is Milestone.DELIVERED]
        assert shipment.delivered_at == (delivered[0] if delivered else None)
        assert shipment.late == (
            shipment.delivered_at is None or shipment.delivered_at > shipment.promised_by
        )
        attempts = any(e.milestone is Milestone.DELIVERY_ATTEMPTED for e in shipment.events)
        final = shipment.events[-1].milestone
        expected = {
            Milestone.DELIVERED: "failed_attempt" if attempts else "delivered",
            Milestone.RETURNED: "returned",
            Milestone.LOST: "lost",
        }[final]
        assert shipment.outcome == expected


def test_drift_slows_later_months() -> None:
    """With drift, the line haul (pickup to last hub) in month six is slower than in month one."""
    params = WorldParams(
        lanes=DEFAULT_WORLD.lanes,
        carriers=DEFAULT_WORLD.carriers,
        congestion_rate=0.0,
        drift_per_month=0.04,
    )
    world = list(generate(8, months=6, shipments_per_day=40, params=params))

    def haul(shipments: list[SimShipment]) -> float:
        hours = []
        for s in shipments:
            pickup = next(e.at for e in s.events if e.milestone is Milestone.PICKED_UP)
            hubs = [e.at for e in s.events if e.milestone is Milestone.IN_TRANSIT]
            hours.append((hubs[-1] - pickup).total_seconds() / 3600)
        return statistics.median(hours)

    january = [s for s in world if s.booked_at.month == 1]
    june = [s for s in world if s.booked_at.month == 6]
    assert haul(june) > haul(january) * 1.12


def test_poor_addresses_fail_more_often() -> None:
    """Recipients with an incomplete address see failed attempts far more often."""
    world = list(generate(9, months=3, shipments_per_day=60))
    poor = [s for s in world if not s.address_complete]
    good = [s for s in world if s.address_complete]

    def rate(group: list[SimShipment]) -> float:
        return sum(s.outcome in {"failed_attempt", "returned"} for s in group) / len(group)

    assert rate(poor) > 3 * rate(good)


def test_no_sunday_or_holiday_deliveries() -> None:
    """Nothing is delivered on a Sunday or a public holiday."""
    for shipment in generate(4, months=6, shipments_per_day=20):
        if shipment.delivered_at is not None:
            assert shipment.delivered_at.weekday() != 6
            assert shipment.delivered_at.date() not in DEFAULT_WORLD.holidays


def test_a_world_without_congestion_or_drift_is_faster() -> None:
    """Congestion episodes and drift are what make the default world slower."""
    calm = WorldParams(
        lanes=DEFAULT_WORLD.lanes,
        carriers=DEFAULT_WORLD.carriers,
        congestion_rate=0.0,
        drift_per_month=0.0,
    )
    start = date(2026, 3, 1)
    busy = list(generate(21, start=start, months=3, shipments_per_day=30))
    quiet = list(generate(21, start=start, months=3, shipments_per_day=30, params=calm))
    assert _transit_hours(quiet) < _transit_hours(busy)


def test_envelopes_round_trip_into_the_same_history() -> None:
    """The canonical envelopes of a shipment parse back into its history and promise."""
    shipment = next(iter(generate(2, months=1)))
    envelopes = [parse_event(e.to_json()) for e in to_envelopes(shipment)]
    assert isinstance(envelopes[0], ShipmentCreated)
    assert envelopes[0].data.promised_delivery == shipment.promised_by
    (history,) = histories_from_events(envelopes)
    assert [s.milestone for s in history.scans] == [e.milestone for e in shipment.events]
    assert history.late == shipment.late
    assert history.outcome == shipment.outcome
