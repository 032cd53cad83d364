"""The customer-facing status: a small vocabulary projected from the shipment state fold.

Theory of operation. The fold (``shipsync.canonical.fold``) says what the carrier did in a dozen
milestones; a customer wants about ten plain words. :class:`StatusProjection` maps the folded
:class:`~shipsync.canonical.ShipmentState` through a table (configurable; :data:`DEFAULT_TABLE`
is the default) to a :class:`CustomerStatus`, with the promised and predicted delivery dates
beside it. An exception becomes ``action_needed`` when its reason asks something of the
customer (an address problem, customs, payment) and ``delayed`` otherwise; a shipment still on
its way whose predicted date is after the promised one is ``delayed`` too.

Every customer status has a rank (:data:`DEFAULT_RANKS`). What the customer was told never goes
backwards: a projected status notifies only when its rank is higher than the rank of what the
customer saw last (a late ``in_transit`` after ``delivered`` tells nothing). Ranks are
non-decreasing along every legal move of the fold, so the customer sees a non-decreasing
sequence whatever the order or duplication of the carrier's events.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import date, datetime
from types import MappingProxyType

import attrs

from shipsync.canonical import Reason, ShipmentState, ShipmentStatus
from shipsync.errors import ConfigurationError

__all__ = [
    "ACTION_REASONS",
    "DEFAULT_RANKS",
    "DEFAULT_TABLE",
    "CustomerStatus",
    "CustomerView",
    "StatusProjection",
]


class CustomerStatus(enum.StrEnum):
    """What a customer is told about a shipment."""

    ORDER_CONFIRMED = "order_confirmed"
    PREPARING = "preparing"
    SHIPPED = "shipped"
    DELAYED = "delayed"
    OUT_FOR_DELIVERY = "out_for_delivery"
    ACTION_NEEDED = "action_needed"
    READY_FOR_PICKUP = "ready_for_pickup"
    DELIVERED = "delivered"
    RETURNED = "returned"
    CANCELLED = "cancelled"


S = ShipmentStatus
C = CustomerStatus

DEFAULT_TABLE: Mapping[ShipmentStatus, CustomerStatus] = MappingProxyType(
    {
        S.LABEL_CREATED: C.PREPARING,
        S.PICKED_UP: C.SHIPPED,
        S.IN_TRANSIT: C.SHIPPED,
        S.OUT_FOR_DELIVERY: C.OUT_FOR_DELIVERY,
        S.DELIVERY_ATTEMPTED: C.ACTION_NEEDED,
        S.AVAILABLE_FOR_PICKUP: C.READY_FOR_PICKUP,
        S.EXCEPTION: C.DELAYED,
        S.PARTIALLY_DELIVERED: C.OUT_FOR_DELIVERY,
        S.DELIVERED: C.DELIVERED,
        S.RETURNING_TO_SENDER: C.RETURNED,
        S.RETURNED: C.RETURNED,
        S.CANCELLED: C.CANCELLED,
        S.LOST: C.ACTION_NEEDED,
    }
)
"""Shipment status -> customer status. ``unknown`` is absent: it tells the customer nothing."""

DEFAULT_RANKS: Mapping[CustomerStatus, int] = MappingProxyType(
    {
        C.ORDER_CONFIRMED: 0,
        C.PREPARING: 10,
        C.SHIPPED: 20,
        C.DELAYED: 30,
        C.OUT_FOR_DELIVERY: 40,
        C.ACTION_NEEDED: 50,
        C.READY_FOR_PICKUP: 50,
        C.DELIVERED: 60,
        C.RETURNED: 70,
        C.CANCELLED: 70,
    }
)
"""How far along the customer's story is; a change notifies only when the rank goes up."""

ACTION_REASONS: frozenset[Reason] = frozenset(
    {
        Reason.ADDRESS_ISSUE,
        Reason.CUSTOMS_HOLD,
        Reason.HELD_FOR_PAYMENT,
        Reason.MISSING_DOCUMENTS,
        Reason.RECIPIENT_ABSENT,
        Reason.MISSED_DELIVERY,
        Reason.AWAITING_PICKUP,
    }
)
"""Exception reasons that ask something of the customer: ``action_needed``, not ``delayed``."""

_ON_THE_WAY = frozenset({C.PREPARING, C.SHIPPED})


@attrs.frozen
class CustomerView:
    """What the customer should see now: a status, why, and the dates when known."""

    shipment_id: str
    status: CustomerStatus
    rank: int
    reason: Reason | None = None
    promised: date | None = None
    predicted: date | None = None
    changed_at: datetime | None = None


@attrs.frozen
class StatusProjection:
    """Projects a folded shipment state onto the customer vocabulary.

    Args:
        table: shipment status -> customer status; a status missing from it shows nothing.
        ranks: the rank of every customer status the table (or the rules) can produce.
        action_reasons: exception reasons shown as ``action_needed``.
    """

    table: Mapping[ShipmentStatus, CustomerStatus] = DEFAULT_TABLE
    ranks: Mapping[CustomerStatus, int] = DEFAULT_RANKS
    action_reasons: frozenset[Reason] = ACTION_REASONS

    def __attrs_post_init__(self) -> None:
        missing = {*self.table.values(), C.DELAYED, C.ACTION_NEEDED} - set(self.ranks)
        if missing:
            raise ConfigurationError(f"ranks has no rank for {sorted(missing)}", path="ranks")

    def rank(self, status: CustomerStatus) -> int:
        """The rank of ``status``."""
        return self.ranks[status]

    def project(
        self,
        state: ShipmentState,
        *,
        promised: date | None = None,
        predicted: date | None = None,
    ) -> CustomerView | None:
        """The customer view of ``state``, or None when it tells the customer nothing yet."""
        status = self.table.get(state.status)
        if status is None or state.shipment_id is None:
            return None
        if state.status is ShipmentStatus.EXCEPTION:
            if state.reason is not None and state.reason in self.action_reasons:
                status = C.ACTION_NEEDED
            else:
                status = C.DELAYED
        elif (
            status in _ON_THE_WAY
            and promised is not None
            and predicted is not None
            and predicted > promised
        ):
            status = C.DELAYED
        return CustomerView(
            shipment_id=state.shipment_id,
            status=status,
            rank=self.ranks[status],
            reason=state.reason,
            promised=promised,
            predicted=predicted,
            changed_at=state.last_event_at,
        )
