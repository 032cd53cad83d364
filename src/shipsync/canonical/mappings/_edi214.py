"""EDI X12 214 (transportation carrier shipment status): AT7 status and reason codes.

AT701 (element 1650) says what happened, AT702 (element 1651) why: the same split as
:class:`~shipsync.canonical.Milestone` and :class:`~shipsync.canonical.Reason`. Two codes that
look like milestones are not: ``AG`` and ``X2`` are estimates of arrival, and ``X1`` is an
arrival at the delivery location, not a delivery (``D1`` is). Codes not in the table map to
``Milestone.UNKNOWN`` with the raw code kept, never to a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from shipsync.canonical._tracking import Milestone, Reason
from shipsync.canonical.mappings._result import CodeKind, MappedStatus, StatusScheme, clip

__all__ = ["EDI214_REASON_CODES", "EDI214_STATUS_CODES", "edi214_reason", "edi214_status"]

M = Milestone
R = Reason


def _row(
    code: str,
    milestone: Milestone | None,
    description: str,
    *,
    reason: Reason = R.NORMAL,
    kind: CodeKind = CodeKind.MILESTONE,
) -> tuple[str, MappedStatus]:
    return code, MappedStatus(
        scheme=StatusScheme.EDI_214,
        raw_code=code,
        kind=kind,
        milestone=milestone,
        reason=reason,
        description=description,
    )


_ETA = CodeKind.ETA
_INFO = CodeKind.INFORMATIONAL

EDI214_STATUS_CODES: Mapping[str, MappedStatus] = MappingProxyType(
    dict(
        [
            _row("XB", M.LABEL_CREATED, "shipment acknowledged"),
            _row("X3", None, "arrived at pick-up location (not yet picked up)", kind=_INFO),
            _row("AF", M.PICKED_UP, "carrier departed pick-up location with shipment"),
            _row("CP", M.PICKED_UP, "completed loading at pick-up location"),
            _row("P1", M.IN_TRANSIT, "departed terminal location"),
            _row("X4", M.IN_TRANSIT, "arrived at terminal location"),
            _row("R1", M.IN_TRANSIT, "received from prior carrier"),
            _row("J1", M.IN_TRANSIT, "delivered to connecting line"),
            _row("K1", M.IN_TRANSIT, "arrived at customs"),
            _row("AM", M.IN_TRANSIT, "loaded on truck"),
            _row("AN", M.IN_TRANSIT, "diverted to air carrier"),
            _row("AI", M.IN_TRANSIT, "shipment has been reconsigned"),
            _row("X6", M.OUT_FOR_DELIVERY, "en route to delivery location"),
            _row("AJ", M.OUT_FOR_DELIVERY, "tendered for delivery"),
            _row("AV", M.OUT_FOR_DELIVERY, "available for delivery"),
            _row("X1", M.OUT_FOR_DELIVERY, "arrived at delivery location (arrived, not delivered)"),
            _row("X5", M.OUT_FOR_DELIVERY, "arrived at delivery location loading dock"),
            _row("AH", M.DELIVERY_ATTEMPTED, "attempted delivery"),
            _row("AP", M.DELIVERY_ATTEMPTED, "delivery not completed"),
            _row("AW", M.AVAILABLE_FOR_PICKUP, "available for pick-up"),
            _row("AU", M.AVAILABLE_FOR_PICKUP, "available for pick-up"),
            _row("SD", M.EXCEPTION, "shipment delayed", reason=R.DELAYED),
            _row("A9", M.EXCEPTION, "shipment damaged", reason=R.DAMAGED),
            _row("PR", M.EXCEPTION, "customs hold", reason=R.CUSTOMS_HOLD),
            _row("D1", M.DELIVERED, "completed unloading at delivery location"),
            _row("A7", M.RETURNING_TO_SENDER, "refused by consignee", reason=R.REFUSED),
            _row("A3", M.RETURNING_TO_SENDER, "shipment returned to shipper"),
            _row("CA", M.CANCELLED, "shipment cancelled"),
            _row("AG", None, "estimated delivery", kind=_ETA),
            _row("X2", None, "estimated date and/or time of arrival at consignee", kind=_ETA),
            _row("CD", None, "carrier departed delivery location", kind=_INFO),
            _row("PA", None, "partial shipment", kind=_INFO),
            _row("CB", None, "completed shipment (final part of a partial shipment)", kind=_INFO),
        ]
    )
)
"""AT701 shipment status codes (element 1650) and their canonical reading.

``A3`` alone is a return under way: ``returned`` needs a ``D1`` at the shipper, which only the
driver can tell from the location. ``X3``, ``CD``, ``PA`` and ``CB`` are known but move no
milestone; ``AG`` and ``X2`` are ETAs.
"""

EDI214_REASON_CODES: Mapping[str, Reason] = MappingProxyType(
    {
        "NS": R.NORMAL,
        "A1": R.MISSED_DELIVERY,
        "A2": R.ADDRESS_ISSUE,
        "A5": R.ADDRESS_ISSUE,
        "AA": R.MIS_SORT,
        "AD": R.CUSTOMER_REQUESTED_FUTURE_DELIVERY,
        "AF": R.ACCIDENT,
        "AG": R.CONSIGNEE_RELATED,
        "AH": R.CARRIER_RELATED,
        "AI": R.CARRIER_RELATED,
        "AM": R.SHIPPER_RELATED,
        "AN": R.HOLIDAY_OR_CLOSED,
        "AO": R.WEATHER,
        "AQ": R.RECIPIENT_ABSENT,
        "AR": R.CUSTOMS_HOLD,
        "AS": R.CUSTOMS_HOLD,
        "B1": R.HOLIDAY_OR_CLOSED,
        "B4": R.HELD_FOR_PAYMENT,
        "B5": R.HELD_AT_REQUEST,
        "BB": R.HELD_AT_REQUEST,
        "BC": R.MISSING_DOCUMENTS,
        "BD": R.CUSTOMS_HOLD,
        "BG": R.OTHER,
        "C1": R.AWAITING_PICKUP,
        "C2": R.HELD_FOR_PAYMENT,
        "C8": R.HELD_FOR_PAYMENT,
        "CA": R.CUSTOMS_HOLD,
    }
)
"""AT702 status reason codes (element 1651) and the canonical reason."""


def _normalise(code: str) -> str:
    return code.strip().upper()


def edi214_reason(code: str) -> Reason:
    """The canonical reason of an AT702 code; ``Reason.UNKNOWN`` for a code not in the table."""
    return EDI214_REASON_CODES.get(_normalise(code), Reason.UNKNOWN)


def edi214_status(status_code: str, reason_code: str | None = None) -> MappedStatus:
    """Read an AT7 pair: AT701 ``status_code`` and, when present, AT702 ``reason_code``.

    Codes are matched case-insensitively, white space ignored; the raw codes are kept verbatim
    (clipped to ``MAX_RAW_LENGTH`` characters). Any string is accepted: nothing raises.
    The reason is the AT702 one unless it is absent or ``NS`` (normal), in which case the status
    code's own reason applies (``A9`` damaged, ``SD`` delayed...). An AT702 code not in the table
    gives ``Reason.UNKNOWN``. A status code not in the table gives ``Milestone.UNKNOWN``.
    """
    row = EDI214_STATUS_CODES.get(_normalise(status_code))
    if row is None:
        row = MappedStatus(
            scheme=StatusScheme.EDI_214,
            raw_code=clip(status_code),
            kind=CodeKind.UNMAPPED,
            milestone=Milestone.UNKNOWN,
            description="not in the AT701 table",
        )
    reason = row.reason
    if reason_code is not None and reason_code.strip():
        given = edi214_reason(reason_code)
        if given is not Reason.NORMAL:
            reason = given
    return row.model_copy(
        update={
            "raw_code": clip(status_code),
            "raw_reason": None if reason_code is None else clip(reason_code),
            "reason": reason,
        }
    )
