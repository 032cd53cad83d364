"""Risk assessments: what exception intelligence predicts about a shipment, as canonical data.

A prediction is a fact about a model's opinion at a moment, not about the shipment: it never
changes the shipment state fold. Probabilities are decimals with three places (no floats cross a
boundary), reasons are sentences a person can read.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Annotated

from pydantic import Field

from shipsync.canonical._base import CanonicalModel, Identifier, ShortText, UtcDatetime

__all__ = ["RiskAssessment", "RiskKind", "RiskLevel"]


class RiskKind(enum.StrEnum):
    """Which risk: a late delivery, or an ending in an exception class."""

    LATE = "late"
    EXCEPTION = "exception"


class RiskLevel(enum.StrEnum):
    """How serious: crossing the lower threshold is ``elevated``, the upper one ``high``."""

    ELEVATED = "elevated"
    HIGH = "high"


class RiskAssessment(CanonicalModel):
    """A model's risk for one shipment at one moment, with its reasons."""

    shipment_id: Identifier
    risk: RiskKind
    level: RiskLevel
    probability: Annotated[Decimal, Field(ge=0, le=1, max_digits=4, decimal_places=3)]
    scored_at: UtcDatetime
    #: For an exception risk, the most likely class: ``failed_attempt``, ``returned`` or ``lost``.
    likely_exception: ShortText | None = None
    promised_delivery: UtcDatetime | None = None
    predicted_delivery: UtcDatetime | None = None
    predicted_earliest: UtcDatetime | None = None
    predicted_latest: UtcDatetime | None = None
    reasons: Annotated[tuple[ShortText, ...], Field(max_length=10)] = ()
    #: Inputs the model lacked (``promised_by``, ``lane``, ``profile``): scored with the rest.
    missing: Annotated[tuple[ShortText, ...], Field(max_length=10)] = ()
    model: ShortText = ""
