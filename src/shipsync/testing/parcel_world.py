"""A synthetic parcel world: realistic shipment histories with their true outcomes.

No public parcel-delay data set exists on a machine without network, so the exception-intelligence
models (:mod:`shipsync.insight`) are trained and measured on this generator. It extends the fake
carrier's idea of scripted scenarios into a world with causes a model can learn and a baseline
rule cannot fully see:

- **lanes** (origin and destination country) each with a median transit time and a log-normal
  spread, routed through a fixed sequence of hubs;
- **carriers** with their own speed, loss, damage and return rates, and **services** with a
  speed factor and a promised number of business days;
- **weekday and holiday effects**: nothing is delivered on Sundays or holidays, Friday pickups
  wait over the weekend;
- **hub congestion episodes** that delay every shipment passing a hub for some hours, with a long
  dwell at that hub (and, now and then, a ``delayed`` exception scan);
- **address quality**: a poor address raises the chance of failed delivery attempts, and three
  failed attempts send the parcel back;
- **drift**: transit times grow by ``drift_per_month`` each month, so a model trained on early
  months meets a slightly different world later (the temporal split measures that honestly).

Every draw comes from one seeded :class:`random.Random`, so a seed and parameters give the same
world in every process. The truth labels (late or not, final outcome, delivery time) come from
the generator, never from the model's inputs: events are emitted with their timestamps and a
consumer sees them in time order only.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from shipsync.canonical import (
    Address,
    Dimensions,
    Event,
    Location,
    Milestone,
    Money,
    Package,
    Parcel,
    Reason,
    Shipment,
    ShipmentCreated,
    TrackingEvent,
    Weight,
    event_for_tracking,
)
from shipsync.insight import History
from shipsync.insight._settlement import DiscrepancyContext

__all__ = [
    "DEFAULT_WORLD",
    "CarrierProfile",
    "Congestion",
    "Lane",
    "SimEvent",
    "SimShipment",
    "WorldParams",
    "discrepancies",
    "generate",
    "history_of",
    "to_envelopes",
]


@dataclass(frozen=True, slots=True)
class Lane:
    """A route between two countries, its typical transit time and the hubs it passes."""

    origin: str
    destination: str
    median_hours: float
    spread: float
    hubs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CarrierProfile:
    """How one carrier behaves: speed multiplier and the rates of what goes wrong."""

    name: str
    speed: float
    lost_rate: float
    damage_rate: float
    #: service name -> (speed factor, promised business days)
    services: dict[str, tuple[float, int]]


@dataclass(frozen=True, slots=True)
class Congestion:
    """A hub that holds every parcel passing it between ``start`` and ``start + hours``."""

    hub: str
    start: datetime
    hours: float
    extra_hours: float


@dataclass(frozen=True, slots=True)
class WorldParams:
    """Everything the generator draws from. :data:`DEFAULT_WORLD` is a realistic default."""

    lanes: tuple[Lane, ...]
    carriers: tuple[CarrierProfile, ...]
    holidays: frozenset[date] = frozenset()
    #: Congestion episodes per hub and month (Poisson mean).
    congestion_rate: float = 0.8
    congestion_hours: tuple[float, float] = (24.0, 96.0)
    congestion_extra_hours: tuple[float, float] = (18.0, 60.0)
    #: Share of recipients with a poor address, and the failed-attempt chance for each kind.
    poor_address_share: float = 0.08
    attempt_fail_poor: float = 0.55
    attempt_fail_good: float = 0.04
    #: Relative growth of transit times per month (0.02 is 2% slower each month).
    drift_per_month: float = 0.02
    shipments_per_day: int = 200


DEFAULT_WORLD = WorldParams(
    lanes=(
        Lane("FR", "FR", 30.0, 0.30, ("LYS", "PAR")),
        Lane("FR", "DE", 46.0, 0.35, ("LYS", "PAR", "CGN")),
        Lane("DE", "DE", 26.0, 0.25, ("FRA", "BER")),
        Lane("DE", "PL", 50.0, 0.40, ("BER", "POZ")),
        Lane("NL", "BE", 22.0, 0.25, ("AMS", "BRU")),
        Lane("NL", "ES", 78.0, 0.45, ("AMS", "PAR", "MAD")),
        Lane("IT", "FR", 60.0, 0.40, ("MIL", "LYS", "PAR")),
        Lane("ES", "PT", 40.0, 0.35, ("MAD", "LIS")),
    ),
    carriers=(
        CarrierProfile(
            "swiftpost", 0.90, 0.004, 0.006, {"express": (0.6, 1), "standard": (1.0, 3)}
        ),
        CarrierProfile(
            "parcelco", 1.05, 0.010, 0.012, {"express": (0.65, 2), "economy": (1.35, 5)}
        ),
        CarrierProfile("eurolink", 1.15, 0.018, 0.010, {"standard": (1.0, 4)}),
    ),
    holidays=frozenset(
        {
            date(2026, 1, 1),
            date(2026, 4, 6),
            date(2026, 5, 1),
            date(2026, 5, 14),
            date(2026, 5, 25),
            date(2026, 8, 15),
            date(2026, 11, 1),
            date(2026, 12, 25),
            date(2026, 12, 26),
        }
    ),
)
"""Eight European lanes, three carriers, the usual public holidays of 2026."""


@dataclass(frozen=True, slots=True)
class SimEvent:
    """One carrier scan of a synthetic shipment."""

    at: datetime
    milestone: Milestone
    reason: Reason
    facility: str


@dataclass(slots=True)
class SimShipment:
    """A synthetic shipment, its scans in time order, and the truth about how it ended."""

    shipment_id: str
    carrier: str
    service: str
    origin: str
    destination: str
    packages: int
    declared_value: Decimal
    booked_at: datetime
    promised_by: datetime
    #: False for a recipient address missing its postal code (a poor address).
    address_complete: bool = True
    events: list[SimEvent] = field(default_factory=list)
    #: ``delivered``, ``failed_attempt`` (delivered after a failed attempt), ``returned``, ``lost``
    outcome: str = "delivered"
    delivered_at: datetime | None = None

    @property
    def late(self) -> bool:
        """True when the parcel was not delivered by the promised time (or never delivered)."""
        return self.delivered_at is None or self.delivered_at > self.promised_by


def _month_index(day: date, start: date) -> int:
    return (day.year - start.year) * 12 + day.month - start.month


def _next_working_moment(moment: datetime, holidays: frozenset[date]) -> datetime:
    """Push a delivery moment past Sundays and holidays, to 09:00 of the next working day."""
    while moment.weekday() == 6 or moment.date() in holidays:
        moment = datetime.combine(moment.date() + timedelta(days=1), datetime.min.time(), UTC)
        moment = moment.replace(hour=9)
    if moment.hour < 8:
        moment = moment.replace(hour=9)
    elif moment.hour >= 20:
        moment = datetime.combine(moment.date() + timedelta(days=1), datetime.min.time(), UTC)
        moment = _next_working_moment(moment.replace(hour=9), holidays)
    return moment


def _promise(pickup: datetime, days: int, holidays: frozenset[date]) -> datetime:
    day = pickup.date()
    while days > 0:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in holidays:
            days -= 1
    return datetime.combine(day, datetime.min.time(), UTC).replace(hour=20)


def _congestion_schedule(
    params: WorldParams, rng: random.Random, start: date, months: int
) -> dict[str, list[Congestion]]:
    hubs = sorted({hub for lane in params.lanes for hub in lane.hubs})
    schedule: dict[str, list[Congestion]] = {hub: [] for hub in hubs}
    origin = datetime.combine(start, datetime.min.time(), UTC)
    for hub in hubs:
        for month in range(months):
            # Poisson draws by inversion: few episodes per hub and month.
            count, threshold, product = 0, math.exp(-params.congestion_rate), rng.random()
            while product > threshold:
                count += 1
                product *= rng.random()
            for _ in range(count):
                begin = origin + timedelta(days=30 * month + rng.uniform(0, 30))
                schedule[hub].append(
                    Congestion(
                        hub,
                        begin,
                        rng.uniform(*params.congestion_hours),
                        rng.uniform(*params.congestion_extra_hours),
                    )
                )
    return schedule


def _held(schedule: list[Congestion], moment: datetime) -> float:
    for episode in schedule:
        if episode.start <= moment < episode.start + timedelta(hours=episode.hours):
            return episode.extra_hours
    return 0.0


def generate(
    seed: int,
    *,
    start: date = date(2026, 1, 1),
    months: int = 6,
    params: WorldParams = DEFAULT_WORLD,
    shipments_per_day: int | None = None,
) -> Iterator[SimShipment]:
    """Yield the shipments booked over ``months`` months from ``start``, in booking order."""
    rng = random.Random(seed)
    schedule = _congestion_schedule(params, rng, start, months)
    per_day = params.shipments_per_day if shipments_per_day is None else shipments_per_day
    day = start
    end_month = _month_index(start, start) + months
    serial = 0
    while _month_index(day, start) < end_month:
        drift = 1.0 + params.drift_per_month * _month_index(day, start)
        for _ in range(per_day if day.weekday() < 6 and day not in params.holidays else 0):
            serial += 1
            yield _one(params, rng, schedule, seed, serial, day, drift)
        day += timedelta(days=1)


def _one(
    params: WorldParams,
    rng: random.Random,
    schedule: dict[str, list[Congestion]],
    seed: int,
    serial: int,
    day: date,
    drift: float,
) -> SimShipment:
    lane = params.lanes[rng.randrange(len(params.lanes))]
    carrier = params.carriers[rng.randrange(len(params.carriers))]
    service = sorted(carrier.services)[rng.randrange(len(carrier.services))]
    speed, promise_days = carrier.services[service]
    booked = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=rng.uniform(7, 18))
    pickup = booked + timedelta(hours=rng.uniform(2, 7))
    if pickup.weekday() >= 5 or pickup.date() in params.holidays:
        pickup = _next_working_moment(pickup + timedelta(days=1), params.holidays)
    shipment = SimShipment(
        shipment_id=f"SIM-{seed}-{serial}",
        carrier=carrier.name,
        service=service,
        origin=lane.origin,
        destination=lane.destination,
        packages=1 + int(rng.expovariate(2.0)),
        declared_value=Decimal(int(rng.lognormvariate(4.0, 0.9))),
        booked_at=booked,
        promised_by=_promise(pickup, promise_days, params.holidays),
    )
    events = shipment.events
    events.append(SimEvent(booked, Milestone.LABEL_CREATED, Reason.NORMAL, lane.origin))
    events.append(SimEvent(pickup, Milestone.PICKED_UP, Reason.NORMAL, lane.hubs[0]))
    transit = lane.median_hours * speed * carrier.speed * drift * rng.lognormvariate(0, lane.spread)
    leg = transit / (len(lane.hubs) + 1)
    moment = pickup
    lost_at = rng.randrange(len(lane.hubs)) if rng.random() < carrier.lost_rate else None
    for index, hub in enumerate(lane.hubs):
        moment += timedelta(hours=leg * rng.uniform(0.7, 1.3))
        held = _held(schedule[hub], moment)
        events.append(SimEvent(moment, Milestone.IN_TRANSIT, Reason.NORMAL, hub))
        if held:
            if rng.random() < 0.35:
                delayed = moment + timedelta(hours=rng.uniform(2, 8))
                events.append(SimEvent(delayed, Milestone.EXCEPTION, Reason.DELAYED, hub))
            moment += timedelta(hours=held)
        if lost_at == index:
            shipment.outcome = "lost"
            events.append(
                SimEvent(
                    moment + timedelta(days=rng.uniform(6, 10)),
                    Milestone.LOST,
                    Reason.CARRIER_RELATED,
                    hub,
                )
            )
            return shipment
    if rng.random() < carrier.damage_rate:
        moment += timedelta(hours=rng.uniform(4, 12))
        events.append(SimEvent(moment, Milestone.EXCEPTION, Reason.DAMAGED, lane.hubs[-1]))
        if rng.random() < 0.5:
            return _send_back(shipment, rng, moment, lane.hubs[-1])
        moment += timedelta(hours=rng.uniform(12, 36))
    moment += timedelta(hours=leg * rng.uniform(0.7, 1.3))
    poor = rng.random() < params.poor_address_share
    # Most poor addresses show it (no postal code); some look complete and still fail.
    shipment.address_complete = not poor or rng.random() < 0.3
    fail_chance = params.attempt_fail_poor if poor else params.attempt_fail_good
    city = f"{lane.destination}-LASTMILE"
    for attempt in range(3):
        out = _next_working_moment(moment, params.holidays)
        if out.hour >= 12:  # vans leave in the morning: the next working day's round
            morning = datetime.combine(out.date() + timedelta(days=1), datetime.min.time(), UTC)
            out = _next_working_moment(morning.replace(hour=9), params.holidays)
        events.append(SimEvent(out, Milestone.OUT_FOR_DELIVERY, Reason.NORMAL, city))
        at_door = out + timedelta(hours=rng.uniform(1, 9))
        if rng.random() >= fail_chance:
            events.append(SimEvent(at_door, Milestone.DELIVERED, Reason.NORMAL, city))
            shipment.delivered_at = at_door
            shipment.outcome = "failed_attempt" if attempt else "delivered"
            return shipment
        reason = Reason.ADDRESS_ISSUE if rng.random() < 0.6 else Reason.RECIPIENT_ABSENT
        events.append(SimEvent(at_door, Milestone.DELIVERY_ATTEMPTED, reason, city))
        moment = at_door + timedelta(hours=rng.uniform(14, 20))
    return _send_back(shipment, rng, moment, city)


def _send_back(
    shipment: SimShipment, rng: random.Random, moment: datetime, facility: str
) -> SimShipment:
    shipment.outcome = "returned"
    back = moment + timedelta(hours=rng.uniform(2, 12))
    shipment.events.append(SimEvent(back, Milestone.RETURNING_TO_SENDER, Reason.NORMAL, facility))
    shipment.events.append(
        SimEvent(back + timedelta(days=rng.uniform(2, 5)), Milestone.RETURNED, Reason.NORMAL, "")
    )
    return shipment


def history_of(shipment: SimShipment) -> History:
    """The shipment as an insight :class:`~shipsync.insight.History` (the truth kept aside)."""
    from shipsync.insight import History, Scan, ShipmentProfile

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


def to_envelopes(shipment: SimShipment, *, source: str = "shipsync/parcel-world") -> list[Event]:
    """The shipment as canonical envelopes: ``shipment.created`` then one per scan, in time order.

    The ``shipment.created`` data carries the promise in ``promised_delivery`` and the declared
    value in ``declared_value``, as a real booking would.
    """

    def address(country: str, complete: bool = True) -> Address:
        return Address(
            name="Recipient",
            street=("1 Main Street",),
            city="Town",
            postal_code="10000" if complete else None,
            country=country,
        )

    tracking = f"{shipment.shipment_id}-1"
    booked = Shipment(
        shipment_id=shipment.shipment_id,
        carrier=shipment.carrier,
        service=shipment.service,
        shipper=address(shipment.origin),
        recipient=address(shipment.destination, shipment.address_complete),
        packages=tuple(
            Package(
                parcel=Parcel(
                    weight=Weight.of("1.5", "kg"), dimensions=Dimensions.of("30", "20", "10", "cm")
                ),
                tracking_number=f"{shipment.shipment_id}-{n + 1}",
            )
            for n in range(shipment.packages)
        ),
        created_at=shipment.booked_at,
        promised_delivery=shipment.promised_by,
        declared_value=Money.of(shipment.declared_value, "EUR"),
    )
    out: list[Event] = [ShipmentCreated.of(booked, source=source, time=shipment.booked_at)]
    for index, scan in enumerate(shipment.events):
        event = TrackingEvent(
            event_id=f"{shipment.shipment_id}-e{index}",
            shipment_id=shipment.shipment_id,
            tracking_number=tracking,
            carrier=shipment.carrier,
            milestone=scan.milestone,
            reason=scan.reason,
            occurred_at=scan.at,
            recorded_at=scan.at,
            carrier_code=scan.milestone.value,
            location=Location(facility=scan.facility) if scan.facility else None,
        )
        out.append(event_for_tracking(event, source=source))
    return out


# --- settlement: discrepancies with a known cause ---------------------------------------------


def discrepancies(seed: int, count: int) -> Iterator[tuple[DiscrepancyContext, str]]:
    """``(DiscrepancyContext, cause)`` pairs of differing invoice lines with their true cause.

    Causes leave noisy traces: a dimension correction bills more for a bulky parcel (but some
    bulky parcels are billed more for other reasons), a residential surcharge adds a small share
    on home deliveries (and many home deliveries carry no surcharge), a duplicate bills a
    tracking number again at about the same amount, a fuel change moves the fuel ratio.
    """
    rng = random.Random(seed)
    causes = ("dimension_correction", "residential_surcharge", "duplicate", "fuel_change", "other")
    weights = (0.3, 0.25, 0.1, 0.15, 0.2)
    for _ in range(count):
        cause = rng.choices(causes, weights)[0]
        volumetric = rng.lognormvariate(0.0, 0.25)
        residential = rng.random() < 0.45
        billed_before = 1 if rng.random() < 0.02 else 0
        fuel = rng.gauss(1.0, 0.03)
        ratio = 1.0 + abs(rng.gauss(0.08, 0.06))
        days = rng.uniform(5, 40)
        if cause == "dimension_correction":
            volumetric = rng.uniform(1.1, 2.2)
            ratio = 1.0 + rng.uniform(0.15, 0.8) * (volumetric - 0.9)
        elif cause == "residential_surcharge":
            residential = rng.random() < 0.93
            ratio = 1.0 + rng.uniform(0.05, 0.2)
        elif cause == "duplicate":
            billed_before = 1 if rng.random() < 0.85 else 0
            ratio = rng.uniform(1.9, 2.1)
            days = rng.uniform(20, 90)
        elif cause == "fuel_change":
            fuel = rng.uniform(1.03, 1.25)
            ratio = 1.0 + (fuel - 1.0) * rng.uniform(0.2, 0.4)
        yield (
            DiscrepancyContext(
                difference_ratio=ratio,
                volumetric_ratio=volumetric,
                residential=residential,
                times_billed_before=billed_before,
                fuel_ratio=fuel,
                days_after_ship=days,
            ),
            cause,
        )
