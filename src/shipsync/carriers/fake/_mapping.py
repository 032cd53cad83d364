"""The fake carrier's codes and their canonical meaning, as data beside the driver."""

from __future__ import annotations

from shipsync.canonical import ChargeType, Milestone, Reason

__all__ = ["CHARGE_TYPES", "MILESTONES", "REASONS"]

MILESTONES: dict[str, Milestone] = {
    "LC": Milestone.LABEL_CREATED,
    "PU": Milestone.PICKED_UP,
    "IT": Milestone.IN_TRANSIT,
    "OD": Milestone.OUT_FOR_DELIVERY,
    "DA": Milestone.DELIVERY_ATTEMPTED,
    "PP": Milestone.AVAILABLE_FOR_PICKUP,
    "EX": Milestone.EXCEPTION,
    "DL": Milestone.DELIVERED,
    "RT": Milestone.RETURNING_TO_SENDER,
    "RD": Milestone.RETURNED,
    "CA": Milestone.CANCELLED,
    "LO": Milestone.LOST,
}

REASONS: dict[str, Reason] = {
    "WX": Reason.WEATHER,
    "NH": Reason.RECIPIENT_ABSENT,
    "AP": Reason.AWAITING_PICKUP,
    "RF": Reason.REFUSED,
    "CR": Reason.CARRIER_RELATED,
    "DY": Reason.DELAYED,
}

CHARGE_TYPES: dict[str, ChargeType] = {
    "BASE": ChargeType.BASE_FREIGHT,
    "FUEL": ChargeType.FUEL,
    "RESI": ChargeType.RESIDENTIAL,
    "ADDR": ChargeType.ADDRESS_CORRECTION,
    "DIMW": ChargeType.DIMENSIONAL_WEIGHT_ADJUSTMENT,
    "WGHT": ChargeType.DIMENSIONAL_WEIGHT_ADJUSTMENT,
    "PKUP": ChargeType.PICKUP,
}
