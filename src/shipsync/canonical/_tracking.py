"""Tracking milestones, reasons and the canonical tracking event.

A carrier status is split, as EDI X12 214 splits it, into a *milestone* (what happened: picked
up, out for delivery, delivered) and a *reason* (why: recipient absent, weather, customs hold).
Both come from closed lists. The carrier's own code and text are kept verbatim beside them, and a
code a driver does not know maps to ``Milestone.UNKNOWN`` — never guessed as in transit.
"""

from __future__ import annotations

import enum

from shipsync.canonical._base import CanonicalModel, Identifier, ShortText, Text, UtcDatetime
from shipsync.canonical._parties import CountryCode

__all__ = ["FINAL_MILESTONES", "Location", "Milestone", "Reason", "TrackingEvent"]


class Milestone(enum.StrEnum):
    """What happened to a package, in the canonical vocabulary."""

    LABEL_CREATED = "label_created"
    PICKED_UP = "picked_up"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERY_ATTEMPTED = "delivery_attempted"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    EXCEPTION = "exception"
    DELIVERED = "delivered"
    RETURNING_TO_SENDER = "returning_to_sender"
    RETURNED = "returned"
    CANCELLED = "cancelled"
    LOST = "lost"
    UNKNOWN = "unknown"


FINAL_MILESTONES: frozenset[Milestone] = frozenset(
    {Milestone.DELIVERED, Milestone.RETURNED, Milestone.CANCELLED, Milestone.LOST}
)
"""Milestones after which only the transitions the state machine names are legal."""


class Reason(enum.StrEnum):
    """Why a milestone happened, modelled on EDI X12 214 status reason codes (element 1651)."""

    NORMAL = "normal"  # NS
    MISSED_DELIVERY = "missed_delivery"  # A1
    ADDRESS_ISSUE = "address_issue"  # A2, A5
    MIS_SORT = "mis_sort"  # AA
    CUSTOMER_REQUESTED_FUTURE_DELIVERY = "customer_requested_future_delivery"  # AD
    ACCIDENT = "accident"  # AF
    CONSIGNEE_RELATED = "consignee_related"  # AG
    CARRIER_RELATED = "carrier_related"  # AH, AI
    SHIPPER_RELATED = "shipper_related"  # AM
    HOLIDAY_OR_CLOSED = "holiday_or_closed"  # AN, B1
    WEATHER = "weather"  # AO
    RECIPIENT_ABSENT = "recipient_absent"  # AQ
    CUSTOMS_HOLD = "customs_hold"  # AR, AS, BD, CA
    HELD_FOR_PAYMENT = "held_for_payment"  # B4, C2, C8
    HELD_AT_REQUEST = "held_at_request"  # B5, BB
    MISSING_DOCUMENTS = "missing_documents"  # BC
    AWAITING_PICKUP = "awaiting_pickup"  # C1
    REFUSED = "refused"  # A7
    DAMAGED = "damaged"  # A9
    DELAYED = "delayed"  # SD
    OTHER = "other"  # BG
    UNKNOWN = "unknown"


class Location(CanonicalModel):
    """Where an event happened, as precisely as the carrier said."""

    city: ShortText | None = None
    state: ShortText | None = None
    postal_code: ShortText | None = None
    country: CountryCode | None = None
    facility: ShortText | None = None


class TrackingEvent(CanonicalModel):
    """One tracking milestone of one package, as a carrier reported it.

    ``event_id`` is stable: the same carrier report always yields the same id, which is what makes
    duplicates harmless downstream. ``occurred_at`` is when it happened at the carrier,
    ``recorded_at`` when we learned of it.
    """

    event_id: Identifier
    shipment_id: Identifier
    tracking_number: Identifier
    carrier: Identifier
    milestone: Milestone
    reason: Reason = Reason.NORMAL
    occurred_at: UtcDatetime
    recorded_at: UtcDatetime
    carrier_code: ShortText
    carrier_description: Text = ""
    location: Location | None = None
    package_reference: ShortText | None = None
