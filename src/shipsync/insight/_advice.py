"""Escalation recommendations and a plain-text shipment summary for customer service.

Both are rules over the timeline and the prediction: no model download, no network, the same
answer every time for the same input. The summary answers three questions in order: what
happened, what is expected, what to do.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from shipsync.insight._features import FeatureState
from shipsync.insight._history import Scan
from shipsync.insight._model import Prediction

__all__ = ["Action", "Recommendation", "recommend", "summarise"]


class Action(enum.StrEnum):
    """What a person can do about a shipment at risk."""

    CONTACT_CARRIER = "contact_carrier"
    CONFIRM_ADDRESS = "confirm_address"
    NOTIFY_CUSTOMER = "notify_customer"
    RESHIP = "reship"
    OPEN_CLAIM = "open_claim"


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One action, how urgent (1 most), and why."""

    action: Action
    priority: int
    reason: str


def recommend(prediction: Prediction, state: FeatureState) -> list[Recommendation]:
    """Recommended actions, most urgent first."""
    now = prediction.at
    out: list[Recommendation] = []
    silent = (now - state.last_scan).total_seconds() / 3600 if state.last_scan else 0.0
    outcomes = prediction.outcome_probabilities
    if outcomes.get("lost", 0.0) >= 0.3 or silent >= 3 * state.lane_dwell + 48:
        out.append(
            Recommendation(
                Action.CONTACT_CARRIER,
                1,
                f"no scan for {silent:.0f} h; ask the carrier to trace the parcel",
            )
        )
    if state.address_problem or state.profile.address_incomplete:
        out.append(
            Recommendation(
                Action.CONFIRM_ADDRESS,
                1 if state.attempts else 2,
                "the address is incomplete or a delivery attempt failed on it",
            )
        )
    if prediction.late_probability >= 0.5:
        promised = state.profile.promised_by
        when = f" (promised {promised:%Y-%m-%d %H:%M} UTC)" if promised else ""
        out.append(
            Recommendation(
                Action.NOTIFY_CUSTOMER,
                2,
                f"late delivery likely, {prediction.late_probability:.0%}{when}",
            )
        )
    if state.damage:
        out.append(Recommendation(Action.OPEN_CLAIM, 2, "the carrier reported damage"))
    if outcomes.get("lost", 0.0) >= 0.5 or (state.damage and outcomes.get("returned", 0) >= 0.5):
        out.append(Recommendation(Action.RESHIP, 1, "the parcel is unlikely to reach the customer"))
    out.sort(key=lambda r: r.priority)
    return out


def _fmt(moment: datetime) -> str:
    return f"{moment:%a %d %b %H:%M} UTC"


def summarise(
    scans: Sequence[Scan],
    prediction: Prediction,
    state: FeatureState,
    *,
    recommendations: Sequence[Recommendation] | None = None,
) -> str:
    """A short plain-text summary of a shipment for customer service."""
    profile = state.profile
    lines = [
        f"Shipment {profile.shipment_id} ({profile.carrier} {profile.service}, {profile.lane})"
    ]
    lines.append("What happened:")
    if not scans:
        lines.append("  - no carrier scan yet")
    for scan in scans[-6:]:
        where = f" at {scan.facility}" if scan.facility else ""
        reason = (
            "" if scan.reason.value == "normal" else f" ({scan.reason.value.replace('_', ' ')})"
        )
        lines.append(
            f"  - {_fmt(scan.at)}: {scan.milestone.value.replace('_', ' ')}{reason}{where}"
        )
    lines.append("What is expected:")
    if profile.promised_by is not None:
        lines.append(f"  - promised by {_fmt(profile.promised_by)}")
    if prediction.predicted_delivery is not None and prediction.interval is not None:
        low, high = prediction.interval
        lines.append(
            f"  - predicted delivery {_fmt(prediction.predicted_delivery)} "
            f"(likely between {_fmt(low)} and {_fmt(high)})"
        )
    lines.append(
        f"  - late risk {prediction.late_probability:.0%}, exception risk "
        f"{prediction.exception_probability:.0%} (most likely: "
        f"{prediction.likely_exception.replace('_', ' ')})"
    )
    for explanation in prediction.explanations:
        lines.append(f"    because: {explanation.text}")
    if prediction.missing:
        lines.append(f"  - scored without: {', '.join(prediction.missing)}")
    actions = recommend(prediction, state) if recommendations is None else recommendations
    lines.append("What to do:")
    if not actions:
        lines.append("  - nothing: the shipment is on track")
    for item in actions:
        lines.append(f"  - {item.action.value.replace('_', ' ')}: {item.reason}")
    return "\n".join(lines)
