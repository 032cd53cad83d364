"""Shipment histories: a profile, its scans, and the truth a finished history tells.

Training data are finished histories. A :class:`History` is built from canonical envelopes (a
``shipment.created`` event and the milestone events of its packages, as the event log or an
``EVENTS.jsonl`` export holds them) or directly from the synthetic world. The truth labels
(late, final outcome, delivery time) are read from the *whole* history, and the features only
from the scans before each snapshot, so nothing leaks from the future into a training row.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from shipsync.canonical import (
    Event,
    Milestone,
    MilestoneEvent,
    Reason,
    ShipmentCreated,
    parse_event,
)
from shipsync.errors import ShipsyncError
from shipsync.insight._features import ShipmentProfile

__all__ = ["History", "Scan", "histories_from_events", "read_events_jsonl"]

_FINAL = {
    Milestone.DELIVERED: "delivered",
    Milestone.RETURNED: "returned",
    Milestone.RETURNING_TO_SENDER: "returned",
    Milestone.LOST: "lost",
}


@dataclass(frozen=True, slots=True)
class Scan:
    """One scan, reduced to what the features read."""

    at: datetime
    milestone: Milestone
    reason: Reason
    facility: str | None


@dataclass(slots=True)
class History:
    """A shipment's profile and scans in time order."""

    profile: ShipmentProfile
    scans: list[Scan] = field(default_factory=list)

    @property
    def delivered_at(self) -> datetime | None:
        """The first delivery scan, if any."""
        return next((s.at for s in self.scans if s.milestone is Milestone.DELIVERED), None)

    @property
    def outcome(self) -> str | None:
        """``delivered``, ``failed_attempt``, ``returned``, ``lost``, or None while open."""
        final = None
        for scan in self.scans:
            name = _FINAL.get(scan.milestone)
            if name is not None and (final is None or final == "delivered"):
                final = name
        if final == "delivered" and any(
            s.milestone is Milestone.DELIVERY_ATTEMPTED for s in self.scans
        ):
            return "failed_attempt"
        return final

    @property
    def late(self) -> bool | None:
        """Delivered after the promise (or not delivered at all); None without a promise."""
        promised = self.profile.promised_by
        if promised is None or self.outcome is None:
            return None
        delivered = self.delivered_at
        return delivered is None or delivered > promised


def profile_of(created: ShipmentCreated) -> ShipmentProfile:
    """The profile a ``shipment.created`` event describes."""
    shipment = created.data
    value = shipment.declared_value
    return ShipmentProfile(
        shipment_id=shipment.shipment_id,
        carrier=shipment.carrier,
        service=shipment.service,
        origin=shipment.shipper.country,
        destination=shipment.recipient.country,
        packages=len(shipment.packages),
        declared_value=value.amount if value is not None else None,
        promised_by=shipment.promised_delivery,
        address_incomplete=not shipment.recipient.postal_code or not shipment.recipient.street,
    )


def scan_of(event: MilestoneEvent) -> Scan:
    """The scan a milestone event carries."""
    tracking = event.data
    location = tracking.location
    facility = None
    if location is not None:
        facility = location.facility or location.city
    return Scan(tracking.occurred_at, tracking.milestone, tracking.reason, facility)


def histories_from_events(events: Iterable[Event]) -> Iterator[History]:
    """Group events by shipment into histories (shipments without ``shipment.created`` skipped).

    Scans are sorted by time; a duplicate event id is taken once.
    """
    profiles: dict[str, ShipmentProfile] = {}
    scans: dict[str, dict[str, Scan]] = {}
    for event in events:
        if isinstance(event, ShipmentCreated):
            profiles[event.data.shipment_id] = profile_of(event)
        elif isinstance(event, MilestoneEvent):
            scans.setdefault(event.data.shipment_id, {})[event.id] = scan_of(event)
    for shipment_id, profile in profiles.items():
        ordered = sorted(scans.get(shipment_id, {}).values(), key=lambda s: s.at)
        yield History(profile, ordered)


def read_events_jsonl(path: Path | str) -> Iterator[Event]:
    """Parse an ``EVENTS.jsonl`` file (one CloudEvents JSON envelope a line).

    A line that does not parse raises the canonical typed error with the line number added.
    """
    with Path(path).open("rb") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield parse_event(line)
            except ShipsyncError as exc:
                exc.add_note(f"{path}, line {number}")
                raise
