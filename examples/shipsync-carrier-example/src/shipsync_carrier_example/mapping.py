"""Example Express codes and their canonical meaning: data beside the driver that uses them."""

from __future__ import annotations

from shipsync.canonical import ChargeType, Milestone

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

CHARGES: dict[str, ChargeType] = {
    "BASE": ChargeType.BASE_FREIGHT,
    "FUEL": ChargeType.FUEL,
}

SERVICES = ("economy", "standard", "express")
