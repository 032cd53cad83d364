"""Service level policies: configuration, not code."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shipsync.canonical import SlaKind
from shipsync.errors import ConfigurationError

__all__ = ["SlaPolicy"]

_Positive = Annotated[timedelta, Field(gt=timedelta(0), le=timedelta(days=365))]


class SlaPolicy(BaseModel):
    """The thresholds the monitor holds shipments to.

    Durations accept seconds or ISO 8601 (``"PT30M"``). A shipment is *at risk* once it spent
    ``at_risk`` of a threshold (0.75: three quarters) and *breached* past the threshold.

    Attributes:
        label_wait: booked and still no label after this long.
        stale_feed: picked up or in transit and no carrier scan for this long.
        late_delivery_grace: out for delivery this long with no promised date known (with one,
            from the rate quote's ``estimated_delivery``, the end of that day is the limit).
        missing_pod: delivered and no proof of delivery after this long.
        exception_buckets: upper bounds of the exception age buckets (the last bucket is open).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    label_wait: _Positive = timedelta(minutes=30)
    stale_feed: _Positive = timedelta(hours=24)
    late_delivery_grace: _Positive = timedelta(hours=12)
    missing_pod: _Positive = timedelta(hours=24)
    exception_buckets: Annotated[tuple[_Positive, ...], Field(min_length=1, max_length=8)] = (
        timedelta(hours=4),
        timedelta(hours=24),
        timedelta(hours=72),
    )
    at_risk: Annotated[float, Field(gt=0, lt=1)] = 0.75

    @field_validator("exception_buckets")
    @classmethod
    def _ascending(cls, value: tuple[timedelta, ...]) -> tuple[timedelta, ...]:
        if list(value) != sorted(set(value)):
            raise ValueError("exception buckets must be strictly ascending")
        return value

    def threshold(self, kind: SlaKind) -> timedelta:
        """The threshold of one kind of service level."""
        return {
            SlaKind.LABEL_WAIT: self.label_wait,
            SlaKind.STALE_FEED: self.stale_feed,
            SlaKind.LATE_DELIVERY: self.late_delivery_grace,
            SlaKind.MISSING_POD: self.missing_pod,
        }[kind]

    @classmethod
    def from_mapping(cls, data: Any) -> SlaPolicy:
        """A policy from a JSON-like mapping; ``ConfigurationError`` names the bad field."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            path = ".".join(str(p) for p in first["loc"]) or "policy"
            raise ConfigurationError(f"SLA policy {path}: {first['msg']}", path=path) from None

    @classmethod
    def from_file(cls, path: str | Path) -> SlaPolicy:
        """A policy from a JSON file."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigurationError(
                f"SLA policy file cannot be read: {type(exc).__name__}", path="policy"
            ) from None
        return cls.from_mapping(data)
