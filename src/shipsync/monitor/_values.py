"""The values the monitor's queries return."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs

from shipsync.canonical import ShipmentState, SlaKind, TrackingEvent

__all__ = [
    "DeadLetterSummary",
    "Indicators",
    "LagSummary",
    "ShipmentRow",
    "SlaCount",
    "Timeline",
    "TimelineEntry",
]


@attrs.frozen
class SlaCount:
    """How many shipments breached one kind of service level, and how many are at risk."""

    kind: SlaKind
    breached: int
    at_risk: int
    threshold: timedelta


@attrs.frozen
class LagSummary:
    """Event lag of one source: estimated percentiles (bucket upper bounds) and the count."""

    source: str
    count: int
    p50: float
    p95: float


@attrs.frozen
class DeadLetterSummary:
    """Open dead letters and the age of the oldest (None when there is none)."""

    open: int
    oldest_age: float | None


@attrs.frozen
class Indicators:
    """Every tile at one moment (``shipsync status`` prints this; the control tower shows it)."""

    at: datetime
    shipments: int
    by_status: dict[str, int]
    sla: tuple[SlaCount, ...]
    exceptions_by_age: tuple[tuple[str, int], ...]
    invoices_pending: int
    disputes_open: int
    disputed_amounts: dict[str, Decimal]
    dead_letters: DeadLetterSummary | None
    lag: tuple[LagSummary, ...]

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (amounts as strings, durations in seconds)."""
        return {
            "at": self.at.isoformat(),
            "shipments": self.shipments,
            "by_status": dict(sorted(self.by_status.items())),
            "sla": {
                s.kind.value: {
                    "breached": s.breached,
                    "at_risk": s.at_risk,
                    "threshold_seconds": int(s.threshold.total_seconds()),
                }
                for s in self.sla
            },
            "exceptions_by_age": dict(self.exceptions_by_age),
            "invoices_pending": self.invoices_pending,
            "disputes_open": self.disputes_open,
            "disputed_amounts": {k: str(v) for k, v in sorted(self.disputed_amounts.items())},
            "dead_letters": None
            if self.dead_letters is None
            else {
                "open": self.dead_letters.open,
                "oldest_age_seconds": self.dead_letters.oldest_age,
            },
            "lag": {
                lag.source: {"count": lag.count, "p50_seconds": lag.p50, "p95_seconds": lag.p95}
                for lag in self.lag
            },
        }


@attrs.frozen
class ShipmentRow:
    """One shipment as the monitor sees it."""

    shipment_id: str
    carrier: str | None
    status: str
    reason: str | None
    created_at: datetime | None
    last_event_at: datetime | None
    delivered_at: datetime | None
    pod_at: datetime | None
    promised_at: datetime | None
    anomalies: int


@attrs.frozen
class TimelineEntry:
    """One event of a shipment's timeline, with the carrier's own code."""

    event_id: str
    type: str
    source: str
    occurred_at: datetime
    handled_at: datetime
    carrier_code: str | None
    tracking: TrackingEvent | None


@attrs.frozen
class Timeline:
    """A shipment, every event the monitor saw for it, and the fold's decisions."""

    shipment: ShipmentRow
    entries: tuple[TimelineEntry, ...]
    state: ShipmentState
