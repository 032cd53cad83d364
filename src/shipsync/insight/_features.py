"""Features of a shipment at a moment, computed incrementally from its events.

Theory of operation: a :class:`FeatureState` is fed a shipment's scans one at a time, in the
order they arrive, and :meth:`FeatureState.features` describes the shipment *as of* a moment.
Nothing ever looks ahead: the state holds only what the scans seen so far say, and the moment is
passed in (the package reads no clock). The same class serves training (snapshots taken after
each scan of a finished history) and online scoring (one update per arriving event), so the two
cannot disagree.

A feature vector is a mapping of name to float holding only the non-zero values: numeric
features by name, categorical ones as ``"name=value"`` set to 1.0. Models multiply only the
features present, which keeps online scoring cheap.

Lane statistics (median transit and dwell per origin-destination pair) are learned from
training data and travel inside the model file; an unknown lane falls back to the overall median.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from shipsync.canonical import Milestone, Reason

__all__ = [
    "NUMERIC_FEATURES",
    "FeatureState",
    "LaneStats",
    "ShipmentProfile",
    "describe_feature",
]

_HOUR = 3600.0

#: The numeric features, in the order explanations list them when contributions tie.
NUMERIC_FEATURES: tuple[str, ...] = (
    "progress_ratio",
    "dwell_hours",
    "dwell_ratio",
    "slack_days",
    "slack_vs_expected_days",
    "promise_known",
    "exceptions",
    "attempts",
    "delay_exception",
    "address_problem",
    "damage",
    "customs_hold",
    "picked_up",
    "hubs_seen",
    "weekend_pickup",
    "friday_pickup",
    "pickup_hour",
    "packages",
    "value_band",
    "lane_median_days",
    "address_incomplete",
)

_ADDRESS_REASONS = frozenset(
    {Reason.ADDRESS_ISSUE, Reason.RECIPIENT_ABSENT, Reason.MISSED_DELIVERY, Reason.REFUSED}
)
_DELAY_REASONS = frozenset(
    {Reason.DELAYED, Reason.WEATHER, Reason.MIS_SORT, Reason.CARRIER_RELATED, Reason.ACCIDENT}
)
_CUSTOMS_REASONS = frozenset({Reason.CUSTOMS_HOLD, Reason.MISSING_DOCUMENTS})
_STAGES = frozenset(
    {
        Milestone.LABEL_CREATED,
        Milestone.PICKED_UP,
        Milestone.IN_TRANSIT,
        Milestone.OUT_FOR_DELIVERY,
        Milestone.DELIVERY_ATTEMPTED,
        Milestone.AVAILABLE_FOR_PICKUP,
        Milestone.EXCEPTION,
        Milestone.RETURNING_TO_SENDER,
    }
)


@dataclass(frozen=True, slots=True)
class ShipmentProfile:
    """What is known about a shipment when it is booked."""

    shipment_id: str
    carrier: str
    service: str
    origin: str | None
    destination: str | None
    packages: int = 1
    declared_value: Decimal | None = None
    promised_by: datetime | None = None
    #: The recipient address lacks a postal code or street (a known cause of failed attempts).
    address_incomplete: bool = False

    @property
    def lane(self) -> str:
        """``origin-destination``, ``?`` standing in for an unknown country."""
        return f"{self.origin or '?'}-{self.destination or '?'}"


@dataclass(frozen=True, slots=True)
class LaneStats:
    """Median transit hours (pickup to delivery) and median dwell hours between scans per lane."""

    transit_hours: Mapping[str, float]
    dwell_hours: Mapping[str, float]
    default_transit_hours: float
    default_dwell_hours: float

    def transit(self, lane: str) -> float:
        """The lane's median transit hours, or the overall median for an unknown lane."""
        return self.transit_hours.get(lane, self.default_transit_hours)

    def dwell(self, lane: str) -> float:
        """The lane's median dwell between scans, or the overall median for an unknown lane."""
        return self.dwell_hours.get(lane, self.default_dwell_hours)

    @classmethod
    def fit(cls, histories: Iterable[tuple[str, float | None, Iterable[float]]]) -> LaneStats:
        """Learn from ``(lane, transit hours or None, dwell hours between scans)`` triples."""
        transit: dict[str, list[float]] = {}
        dwell: dict[str, list[float]] = {}
        for lane, hours, dwells in histories:
            if hours is not None:
                transit.setdefault(lane, []).append(hours)
            dwell.setdefault(lane, []).extend(dwells)
        all_transit = [h for values in transit.values() for h in values] or [48.0]
        all_dwell = [h for values in dwell.values() for h in values] or [12.0]
        return cls(
            transit_hours={lane: statistics.median(v) for lane, v in transit.items()},
            dwell_hours={lane: statistics.median(v) for lane, v in dwell.items() if v},
            default_transit_hours=statistics.median(all_transit),
            default_dwell_hours=statistics.median(all_dwell),
        )

    def to_json(self) -> dict[str, object]:
        """A JSON-ready form, for the model file."""
        return {
            "transit_hours": dict(sorted(self.transit_hours.items())),
            "dwell_hours": dict(sorted(self.dwell_hours.items())),
            "default_transit_hours": self.default_transit_hours,
            "default_dwell_hours": self.default_dwell_hours,
        }


def _value_band(value: Decimal | None) -> float:
    if value is None:
        return 0.0
    if value < 50:
        return 1.0
    if value < 200:
        return 2.0
    return 3.0


class FeatureState:
    """One shipment's features, updated one scan at a time (no look-ahead)."""

    __slots__ = (
        "address_problem",
        "attempts",
        "customs_hold",
        "damage",
        "delay_exception",
        "exceptions",
        "facilities",
        "facility_at",
        "lane_dwell",
        "lane_transit",
        "last_facility",
        "last_scan",
        "missing",
        "pickup",
        "profile",
        "stage",
        "stage_at",
    )

    def __init__(self, profile: ShipmentProfile, lanes: LaneStats) -> None:
        self.profile = profile
        self.lane_transit = lanes.transit(profile.lane)
        self.lane_dwell = lanes.dwell(profile.lane)
        self.pickup: datetime | None = None
        self.last_scan: datetime | None = None
        self.last_facility = ""
        self.facility_at: datetime | None = None
        self.stage = Milestone.LABEL_CREATED
        self.stage_at: datetime | None = None
        self.exceptions = 0
        self.attempts = 0
        self.delay_exception = 0.0
        self.address_problem = 0.0
        self.damage = 0.0
        self.customs_hold = 0.0
        self.facilities: set[str] = set()
        missing = []
        if profile.promised_by is None:
            missing.append("promised_by")
        if profile.origin is None or profile.destination is None:
            missing.append("lane")
        self.missing: tuple[str, ...] = tuple(missing)

    def observe(
        self, milestone: Milestone, reason: Reason, at: datetime, facility: str | None = None
    ) -> None:
        """Take one scan. Scans may arrive in any order: the state is the same for the same set.

        Time, stage and facility are those of the latest scan (ties broken by value, so the
        arrival order never matters); an older scan only adds to the counts.
        """
        if self.last_scan is None or at > self.last_scan:
            self.last_scan = at
        if milestone in _STAGES and (
            self.stage_at is None or (at, milestone) > (self.stage_at, self.stage)
        ):
            self.stage, self.stage_at = milestone, at
        if facility and (
            self.facility_at is None or (at, facility) > (self.facility_at, self.last_facility)
        ):
            self.last_facility, self.facility_at = facility, at
        if milestone is Milestone.PICKED_UP and (self.pickup is None or at < self.pickup):
            self.pickup = at
        if facility:
            self.facilities.add(facility)
        if milestone is Milestone.EXCEPTION:
            self.exceptions += 1
        elif milestone is Milestone.DELIVERY_ATTEMPTED:
            self.attempts += 1
        if reason in _DELAY_REASONS:
            self.delay_exception = 1.0
        elif reason in _ADDRESS_REASONS:
            self.address_problem = 1.0
        elif reason is Reason.DAMAGED:
            self.damage = 1.0
        elif reason in _CUSTOMS_REASONS:
            self.customs_hold = 1.0

    def features(self, now: datetime) -> dict[str, float]:
        """The non-zero features as of ``now``."""
        profile = self.profile
        out: dict[str, float] = {
            "carrier=" + profile.carrier: 1.0,
            "service=" + profile.carrier + "/" + profile.service: 1.0,
            "stage=" + self.stage.value: 1.0,
            "lane_median_days": self.lane_transit / 24.0,
            "packages": float(profile.packages),
        }
        if profile.address_incomplete:
            out["address_incomplete"] = 1.0
        band = _value_band(profile.declared_value)
        if band:
            out["value_band"] = band
        pickup = self.pickup
        elapsed = 0.0
        if pickup is not None:
            elapsed = max(0.0, (now - pickup).total_seconds() / _HOUR)
            out["picked_up"] = 1.0
            out["progress_ratio"] = min(elapsed / self.lane_transit, 10.0)
            weekday = pickup.weekday()
            if weekday >= 5:
                out["weekend_pickup"] = 1.0
            elif weekday == 4:
                out["friday_pickup"] = 1.0
            out["pickup_hour"] = pickup.hour / 24.0
        if self.last_scan is not None:
            dwell = max(0.0, (now - self.last_scan).total_seconds() / _HOUR)
            if dwell:
                out["dwell_hours"] = dwell / 24.0
                out["dwell_ratio"] = min(dwell / self.lane_dwell, 20.0)
        promised = profile.promised_by
        if promised is not None:
            slack = (promised - now).total_seconds() / _HOUR
            out["promise_known"] = 1.0
            out["slack_days"] = slack / 24.0
            expected_remaining = max(self.lane_transit - elapsed, 0.0)
            out["slack_vs_expected_days"] = (slack - expected_remaining) / 24.0
        if self.exceptions:
            out["exceptions"] = float(self.exceptions)
        if self.attempts:
            out["attempts"] = float(self.attempts)
        for name in ("delay_exception", "address_problem", "damage", "customs_hold"):
            value = getattr(self, name)
            if value:
                out[name] = value
        if self.facilities:
            out["hubs_seen"] = float(len(self.facilities))
        if self.last_facility:
            out["facility=" + self.last_facility] = 1.0
        return out


def describe_feature(name: str, value: float, state: FeatureState | None = None) -> str:
    """A phrase a person can read for one feature and its value."""
    lane_dwell = state.lane_dwell if state is not None else None
    match name:
        case "dwell_hours":
            return f"no scan for {value * 24:.0f} h"
        case "dwell_ratio":
            if lane_dwell is not None:
                return (
                    f"no scan for {value * lane_dwell:.0f} h, {value:.1f}x this lane's "
                    f"median dwell ({lane_dwell:.0f} h)"
                )
            return f"{value:.1f}x this lane's median dwell"
        case "progress_ratio":
            return f"{value:.1f}x this lane's median transit time already elapsed"
        case "slack_days":
            if value < 0:
                return f"promised date passed {-value * 24:.0f} h ago"
            return f"only {value * 24:.0f} h left before the promised date"
        case "slack_vs_expected_days":
            if value < 0:
                return f"the lane's usual pace ends {-value * 24:.0f} h after the promise"
            return f"only {value * 24:.0f} h of margin at the lane's usual pace"
        case "exceptions":
            return f"{value:.0f} exception scan(s) so far"
        case "attempts":
            return f"{value:.0f} failed delivery attempt(s)"
        case "delay_exception":
            return "a delay reported by the carrier"
        case "address_problem":
            return "an address or recipient problem reported"
        case "damage":
            return "damage reported"
        case "customs_hold":
            return "held in customs"
        case "hubs_seen":
            return f"{value:.0f} facilities seen"
        case "weekend_pickup":
            return "picked up on a weekend"
        case "friday_pickup":
            return "picked up on a Friday"
        case "address_incomplete":
            return "the recipient address is incomplete"
        case "packages":
            return f"{value:.0f} package(s)"
        case "lane_median_days":
            return f"a lane whose usual transit is {value:.1f} days"
        case "value_band":
            return f"declared value band {value:.0f} of 3"
        case "pickup_hour" | "promise_known" | "picked_up":
            return f"{name.replace('_', ' ')} {value:g}"
        case _:
            kind, _, what = name.partition("=")
            if kind == "stage":
                return f"currently {what.replace('_', ' ')}"
            if kind == "facility":
                return f"last seen at {what}"
            if what:
                return f"{kind} {what}"
            return f"{name} = {value:g}"
