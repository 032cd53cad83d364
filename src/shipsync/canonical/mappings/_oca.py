"""OCA ``delivery_state`` (the stock.picking field of OCA's delivery-carrier modules), both ways.

OCA spells the incident value ``incident`` in 16.0 and 17.0 and ``incidence`` in 15.0 and earlier
(and in one later revision). Reading accepts both; writing uses ``incident`` unless told
otherwise. ``no_update`` ("the carrier reports nothing more") reads as ``unknown``; ``unknown`` is
never written, so a host keeps the last state Odoo has rather than erase it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

from shipsync.canonical._state import ShipmentStatus
from shipsync.canonical._tracking import Milestone
from shipsync.canonical.mappings._result import CodeKind, MappedStatus, StatusScheme, clip

__all__ = [
    "OCA_DELIVERY_STATES",
    "STATUS_TO_OCA",
    "OcaIncidentSpelling",
    "oca_delivery_state",
    "read_oca_delivery_state",
]

M = Milestone


class OcaIncidentSpelling(enum.StrEnum):
    """The two spellings of OCA's incident value."""

    INCIDENT = "incident"
    """16.0 and 17.0."""
    INCIDENCE = "incidence"
    """15.0 and earlier."""


OCA_DELIVERY_STATES: Mapping[str, Milestone] = MappingProxyType(
    {
        "shipping_recorded_in_carrier": M.LABEL_CREATED,
        "in_transit": M.IN_TRANSIT,
        "canceled_shipment": M.CANCELLED,
        "incident": M.EXCEPTION,
        "incidence": M.EXCEPTION,
        "customer_delivered": M.DELIVERED,
        "warehouse_delivered": M.RETURNED,
        "no_update": M.UNKNOWN,
    }
)
"""Reading: each ``delivery_state`` value (both incident spellings) and its milestone."""

_INCIDENT = OcaIncidentSpelling.INCIDENT.value  # written in the spelling the caller asks for

STATUS_TO_OCA: Mapping[ShipmentStatus, str | None] = MappingProxyType(
    {
        ShipmentStatus.LABEL_CREATED: "shipping_recorded_in_carrier",
        ShipmentStatus.PICKED_UP: "in_transit",
        ShipmentStatus.IN_TRANSIT: "in_transit",
        ShipmentStatus.OUT_FOR_DELIVERY: "in_transit",
        ShipmentStatus.AVAILABLE_FOR_PICKUP: "in_transit",
        ShipmentStatus.PARTIALLY_DELIVERED: "in_transit",
        ShipmentStatus.DELIVERY_ATTEMPTED: _INCIDENT,
        ShipmentStatus.EXCEPTION: _INCIDENT,
        ShipmentStatus.RETURNING_TO_SENDER: _INCIDENT,
        ShipmentStatus.LOST: _INCIDENT,
        ShipmentStatus.DELIVERED: "customer_delivered",
        ShipmentStatus.RETURNED: "warehouse_delivered",
        ShipmentStatus.CANCELLED: "canceled_shipment",
        ShipmentStatus.UNKNOWN: None,
    }
)
"""Writing: the ``delivery_state`` of each shipment status (16.0+ spelling); None: write nothing.

OCA has no partial delivery: a partially delivered shipment is still ``in_transit``.
"""


def read_oca_delivery_state(value: str) -> MappedStatus:
    """Read a ``delivery_state`` value; either incident spelling is accepted.

    An unknown value maps to ``Milestone.UNKNOWN`` (kind ``unmapped``) with the raw value kept.
    """
    milestone = OCA_DELIVERY_STATES.get(value.strip().lower())
    return MappedStatus(
        scheme=StatusScheme.OCA_DELIVERY_STATE,
        raw_code=clip(value),
        kind=CodeKind.UNMAPPED if milestone is None else CodeKind.MILESTONE,
        milestone=Milestone.UNKNOWN if milestone is None else milestone,
    )


def oca_delivery_state(
    status: Milestone | ShipmentStatus,
    *,
    spelling: OcaIncidentSpelling = OcaIncidentSpelling.INCIDENT,
) -> str | None:
    """The ``delivery_state`` to write for a milestone or shipment status, or None for none.

    ``spelling`` picks the incident value for the Odoo version at hand: ``incident`` (16.0+,
    the default) or ``incidence`` (15.0 and earlier).
    """
    value = STATUS_TO_OCA[ShipmentStatus(status.value)]
    if value == _INCIDENT:
        return OcaIncidentSpelling(spelling).value
    return value
