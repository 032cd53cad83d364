"""The timeline demo: carrier events arrive late, twice and out of order; the fold gets it right.

It needs no service and no network. Each shipment follows one of the fake carrier's scenarios;
its tracking events are duplicated and shuffled the way real feeds deliver them, then folded into
shipment states. The demo prints the timeline of a few shipments, a summary, and two checks:
folding the shuffled feed gives the same state as folding the clean one, and every event was
either applied or reported as an anomaly.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from shipsync.canonical import Location, Milestone, Reason, ShipmentState, TrackingEvent, fold

__all__ = ["SCENARIOS", "run", "scenario_events"]

Echo = Callable[[str], None]

_M = Milestone
SCENARIOS: dict[str, tuple[tuple[Milestone, Reason], ...]] = {
    "happy_path": (
        (_M.LABEL_CREATED, Reason.NORMAL),
        (_M.PICKED_UP, Reason.NORMAL),
        (_M.IN_TRANSIT, Reason.NORMAL),
        (_M.OUT_FOR_DELIVERY, Reason.NORMAL),
        (_M.DELIVERED, Reason.NORMAL),
    ),
    "exception_then_delivered": (
        (_M.LABEL_CREATED, Reason.NORMAL),
        (_M.PICKED_UP, Reason.NORMAL),
        (_M.EXCEPTION, Reason.WEATHER),
        (_M.IN_TRANSIT, Reason.NORMAL),
        (_M.OUT_FOR_DELIVERY, Reason.NORMAL),
        (_M.DELIVERED, Reason.NORMAL),
    ),
    "attempt_then_pickup_point": (
        (_M.LABEL_CREATED, Reason.NORMAL),
        (_M.PICKED_UP, Reason.NORMAL),
        (_M.OUT_FOR_DELIVERY, Reason.NORMAL),
        (_M.DELIVERY_ATTEMPTED, Reason.RECIPIENT_ABSENT),
        (_M.AVAILABLE_FOR_PICKUP, Reason.AWAITING_PICKUP),
        (_M.DELIVERED, Reason.NORMAL),
    ),
    "returned_to_sender": (
        (_M.LABEL_CREATED, Reason.NORMAL),
        (_M.PICKED_UP, Reason.NORMAL),
        (_M.DELIVERY_ATTEMPTED, Reason.ADDRESS_ISSUE),
        (_M.RETURNING_TO_SENDER, Reason.ADDRESS_ISSUE),
        (_M.RETURNED, Reason.NORMAL),
    ),
    "lost": (
        (_M.LABEL_CREATED, Reason.NORMAL),
        (_M.PICKED_UP, Reason.NORMAL),
        (_M.IN_TRANSIT, Reason.NORMAL),
        (_M.LOST, Reason.OTHER),
    ),
    "cancelled": ((_M.LABEL_CREATED, Reason.NORMAL), (_M.CANCELLED, Reason.SHIPPER_RELATED)),
}

_START = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
_CITIES = ("Lyon", "Paris", "Frankfurt", "Berlin")


def scenario_events(
    shipment_id: str, scenario: str, *, packages: int = 1, start: datetime = _START
) -> list[TrackingEvent]:
    """The clean feed of one shipment: each package walks the scenario, six hours a step."""
    events = []
    for package in range(packages):
        tracking_number = f"{shipment_id}-P{package + 1}"
        for step, (milestone, reason) in enumerate(SCENARIOS[scenario]):
            at = start + timedelta(hours=6 * step, minutes=package)
            events.append(
                TrackingEvent(
                    event_id=f"{tracking_number}-{step}",
                    shipment_id=shipment_id,
                    tracking_number=tracking_number,
                    carrier="fake",
                    milestone=milestone,
                    reason=reason,
                    occurred_at=at,
                    recorded_at=at + timedelta(minutes=5),
                    carrier_code=milestone.value.upper(),
                    location=Location(city=_CITIES[step % len(_CITIES)], country="DE"),
                )
            )
    return events


def _messy(events: Sequence[TrackingEvent], rng: random.Random) -> list[TrackingEvent]:
    """Duplicate about a third of the events, then shuffle: what a real feed delivers."""
    feed = list(events) + [event for event in events if rng.random() < 0.33]
    rng.shuffle(feed)
    return feed


def _timeline(state: ShipmentState, echo: Echo) -> None:
    echo(f"  {state.shipment_id}: {state.status.value}")
    for event in state.applied:
        reason = "" if event.reason is Reason.NORMAL else f" ({event.reason.value})"
        city = event.location.city if event.location and event.location.city else ""
        echo(
            f"    {event.occurred_at:%Y-%m-%d %H:%M}  {event.tracking_number:<12}"
            f"  {event.milestone.value:<22}{reason} {city}"
        )
    for anomaly in state.anomalies:
        echo(f"    ! {anomaly.event_id}: {anomaly.reason.value}")


def run(*, shipments: int = 200, seed: int = 7, echo: Echo = print, show: int = 3) -> int:
    """Run the timeline demo; returns the exit status (0 when every check holds)."""
    rng = random.Random(seed)
    names = sorted(SCENARIOS)
    statuses: Counter[str] = Counter()
    received = duplicates = anomalies = mismatches = unaccounted = 0
    echo(f"shipsync timeline demo: {shipments} shipments, seed {seed}")
    for index in range(shipments):
        shipment_id = f"SHP-{index + 1:05d}"
        scenario = names[index % len(names)]
        packages = 2 if index % 5 == 4 else 1
        clean = scenario_events(shipment_id, scenario, packages=packages)
        if packages > 1:
            clean.pop()  # the second package runs late: its last event has not come yet
        feed = _messy(clean, rng)
        state = fold(feed)
        received += len(feed)
        duplicates += len(feed) - len(clean)
        anomalies += len(state.anomalies)
        statuses[state.status.value] += 1
        if state != fold(clean):
            mismatches += 1
        if len(state.applied) + len(state.anomalies) != len(clean):
            unaccounted += 1
        if index < show:
            _timeline(state, echo)
    echo("")
    echo("shipments by status:")
    for status, count in sorted(statuses.items()):
        echo(f"  {status:<22}{count:>6}")
    echo(f"events received      {received:>6}")
    echo(f"duplicates absorbed  {duplicates:>6}")
    echo(f"anomalies reported   {anomalies:>6}")
    checks = {
        "shuffled feed folds to the same state as the clean feed": mismatches == 0,
        "every event applied or reported, none lost": unaccounted == 0,
    }
    for label, ok in checks.items():
        echo(f"[{'ok' if ok else 'FAILED'}] {label}")
    return 0 if all(checks.values()) else 1
