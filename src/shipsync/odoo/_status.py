"""Which status a picking moves to: the canonical fold of a batch, gated by what Odoo holds.

Theory of operation. Odoo keeps one status value per picking and nothing of the history that
led to it, so :meth:`~shipsync.odoo.OdooLogistics.apply_events` works incrementally:

1. the batch's new events of one picking are folded with :func:`shipsync.canonical.fold` (per
   shipment, each package through its own state machine); events the fold rejects (stale,
   illegal, ``unknown``) are anomalies and set no status. When one picking's events name several
   shipments, the shipment with the latest applied event gives the status;
2. the value stored on the picking is read back into a status (:func:`read_status`); a value
   that reads as nothing known (empty, ``no_update``, a value the mapping lacks) lets any status
   in;
3. the folded status is written only when it equals the stored one or
   :func:`~shipsync.canonical.can_transition` allows the move, so an event that comes in a later
   batch than the events it precedes never moves a picking back. An ``exception`` is checked
   as the fold checks it, also from the milestone it branched from.

``partially_delivered`` is not a milestone; for the check it stands where a partially delivered
shipment is, in the last mile (``out_for_delivery``). A stored value shared by several statuses
(OCA's ``in_transit`` for every status on the way) reads as the least advanced of them; OCA's
values are read with :func:`~shipsync.canonical.mappings.read_oca_delivery_state`, so its
``incident`` reads as ``exception``, which any progress may leave.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from shipsync.canonical import (
    SORT_RANK,
    Anomaly,
    Milestone,
    ShipmentState,
    ShipmentStatus,
    TrackingEvent,
    can_transition,
    fold,
)
from shipsync.canonical.mappings import oca_delivery_state, read_oca_delivery_state
from shipsync.odoo._mapping import OdooFieldMap

__all__ = ["StatusDecision", "batch_state", "decide", "read_status", "status_value"]


def _as_milestone(status: ShipmentStatus) -> Milestone:
    """The milestone a shipment status stands for in the transition table."""
    if status is ShipmentStatus.PARTIALLY_DELIVERED:
        return Milestone.OUT_FOR_DELIVERY
    return Milestone(status.value)


def _rank(status: ShipmentStatus) -> tuple[int, bool]:
    return SORT_RANK[_as_milestone(status)], status is ShipmentStatus.PARTIALLY_DELIVERED


def status_value(fields: OdooFieldMap, status: ShipmentStatus) -> str | None:
    """The value written for ``status``: ``status_values`` when set, else OCA's; None for none."""
    if status is ShipmentStatus.UNKNOWN:
        return None
    if fields.status_values is not None:
        return fields.status_values.get(status)
    return oca_delivery_state(status, spelling=fields.oca_incident_spelling)


def read_status(fields: OdooFieldMap, value: object) -> ShipmentStatus | None:
    """The status a stored value stands for, or None when it tells nothing (any move is fine)."""
    if not isinstance(value, str) or not value:
        return None
    if fields.status_values is None:
        milestone = read_oca_delivery_state(value).milestone
        if milestone is None or milestone is Milestone.UNKNOWN:
            return None
        return ShipmentStatus(milestone.value)
    candidates = [
        status
        for status, stored in fields.status_values.items()
        if stored == value and status is not ShipmentStatus.UNKNOWN
    ]
    return min(candidates, key=_rank) if candidates else None


def batch_state(events: Sequence[TrackingEvent]) -> ShipmentState:
    """The folded state of one picking's events; with several shipments, the latest one's.

    The returned state's ``anomalies`` hold the rejected events of every shipment folded.
    """
    by_shipment: dict[str, list[TrackingEvent]] = {}
    for event in events:
        by_shipment.setdefault(event.shipment_id, []).append(event)
    states = [fold(group, shipment_id=sid) for sid, group in sorted(by_shipment.items())]
    if len(states) == 1:
        return states[0]
    moved = [s for s in states if s.last_event_at is not None] or states
    chosen = max(moved, key=lambda s: (s.last_event_at, s.shipment_id or ""))
    anomalies: tuple[Anomaly, ...] = tuple(a for s in states for a in s.anomalies)
    return chosen.model_copy(update={"anomalies": anomalies})


@attrs.frozen
class StatusDecision:
    """What to do with one picking's status.

    ``status`` is the folded status of the batch; ``current`` what the stored value reads as.
    ``allowed`` is false when the move would go back (``refusal`` says why). ``value`` is the
    value to write, None when there is nothing to write (refused, unmapped, or already stored).
    """

    status: ShipmentStatus
    current: ShipmentStatus | None
    allowed: bool
    value: str | None
    refusal: str | None = None


def _targets(state: ShipmentState) -> set[Milestone]:
    """The milestones a move to ``state`` is checked as: an exception also as its base.

    The fold reaches ``exception`` from where it branched (delivered, returning, exception),
    so a picking that holds that base may go on to the exception even where the table has no
    direct edge (``delivered -> exception`` is not one; ``delivered -> returning_to_sender ->
    exception`` is).
    """
    targets = {_as_milestone(state.status)}
    if state.status is ShipmentStatus.EXCEPTION:
        targets |= {
            p.base_status
            for p in state.packages
            if p.status is Milestone.EXCEPTION and p.base_status is not Milestone.UNKNOWN
        }
    return targets


def decide(fields: OdooFieldMap, state: ShipmentState, stored: object) -> StatusDecision:
    """Whether the folded ``state`` may replace the stored value, and what to write for it."""
    status = state.status
    current = read_status(fields, stored)
    allowed = current is None or current is status
    if current is not None and not allowed:
        held = _as_milestone(current)
        allowed = any(t is held or can_transition(held, t) for t in _targets(state))
    if not allowed:
        assert current is not None
        return StatusDecision(
            status=status,
            current=current,
            allowed=False,
            value=None,
            refusal=f"{status.value} may not follow {current.value} (stored {stored!r})",
        )
    value = status_value(fields, status)
    return StatusDecision(
        status=status,
        current=current,
        allowed=True,
        value=value if value != stored else None,
    )
