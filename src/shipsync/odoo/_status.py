"""Which status a picking moves to: the canonical fold of a batch, from what Odoo holds.

Theory of operation. Odoo keeps one status value per picking and nothing of the history that
led to it, so :meth:`~shipsync.odoo.OdooLogistics.apply_events` folds incrementally:

1. the value stored on the picking is read back into a status (:func:`read_status`), and, when
   ``OdooFieldMap.picking_status_base`` names a field, the milestone stored beside it
   (:func:`read_start`): the milestone an ``exception`` branched from, or the exact milestone
   behind a value several statuses share (OCA's ``incident``, ``in_transit``). A value that
   reads as nothing known (empty, ``no_update``, a value the mapping lacks) starts from nothing;
2. the batch's new events of the picking are folded with :func:`shipsync.canonical.fold` from
   that state: each package of the batch resumes (:meth:`~shipsync.canonical.PackageState.resume`)
   at the stored status and base. Events the fold rejects from there (stale, illegal,
   ``unknown``) are anomalies and set no status, so an event that comes in a later batch than
   the events it precedes never moves a picking back. When one picking's events name several
   shipments, the shipment with the latest applied event gives the status;
3. when the fold applied none of the batch's events although the batch alone says something
   else, the picking keeps its status and the refusal says why.

``partially_delivered`` is not a milestone; a picking stored so resumes in the last mile
(``out_for_delivery``). A stored value shared by several statuses reads as the least advanced
of them unless the base field says which; OCA's values are read with
:func:`~shipsync.canonical.mappings.read_oca_delivery_state`, so without a base field its
``incident`` reads as an ``exception`` whose base is unknown, which any progress may leave.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from shipsync.canonical import (
    SORT_RANK,
    TRANSITIONS,
    Anomaly,
    Milestone,
    PackageState,
    ShipmentState,
    ShipmentStatus,
    TrackingEvent,
    fold,
)
from shipsync.canonical.mappings import oca_delivery_state, read_oca_delivery_state
from shipsync.odoo._mapping import OdooFieldMap

__all__ = [
    "Start",
    "StatusDecision",
    "base_value",
    "batch_state",
    "decide",
    "read_start",
    "read_status",
    "status_value",
]


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


@attrs.frozen
class Start:
    """The state a picking's packages resume at: a milestone, and an exception's base."""

    status: Milestone
    base: Milestone | None = None

    def package(self, tracking_number: str) -> PackageState:
        """The package state to fold on from."""
        return PackageState.resume(self.status, self.base, tracking_number=tracking_number)


def _milestone(value: object) -> Milestone | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return Milestone(value)
    except ValueError:
        return None


def read_start(fields: OdooFieldMap, value: object, base: object = None) -> Start | None:
    """Where the picking's packages resume, from the stored status and base values.

    None when the status tells nothing. A base that names a milestone written as the stored
    value is that milestone (``incident`` with base ``returning_to_sender`` is a return on its
    way); for an ``exception`` it is the milestone it branched from. A base that fits neither is
    ignored.
    """
    current = read_status(fields, value)
    if current is None:
        return None
    held = _milestone(base)
    if held is not None and held not in {Milestone.UNKNOWN, Milestone.EXCEPTION}:
        if status_value(fields, ShipmentStatus(held.value)) == value:
            return Start(held)
        if current is ShipmentStatus.EXCEPTION and Milestone.EXCEPTION in TRANSITIONS[held]:
            return Start(Milestone.EXCEPTION, held)  # a milestone an exception branches from
    return Start(_as_milestone(current))


def base_value(state: ShipmentState) -> str | None:
    """The milestone to store beside the status of ``state``, or None for none.

    For an exception, the milestone it branched from (the least advanced of the packages in
    exception; None when unknown); for ``partially_delivered``, None; else the status itself.
    """
    if state.status is ShipmentStatus.PARTIALLY_DELIVERED or state.status is ShipmentStatus.UNKNOWN:
        return None
    if state.status is not ShipmentStatus.EXCEPTION:
        return state.status.value
    bases = [
        p.base_status
        for p in state.packages
        if p.status is Milestone.EXCEPTION and p.base_status is not Milestone.UNKNOWN
    ]
    return min(bases, key=lambda m: SORT_RANK[m]).value if bases else None


def batch_state(events: Sequence[TrackingEvent], start: Start | None = None) -> ShipmentState:
    """The folded state of one picking's events, each package resuming at ``start``; with
    several shipments, the one with the latest applied event (else the first).

    The returned state's ``anomalies`` hold the rejected events of every shipment folded.
    """
    by_shipment: dict[str, list[TrackingEvent]] = {}
    for event in events:
        by_shipment.setdefault(event.shipment_id, []).append(event)
    states = [
        fold(
            group,
            shipment_id=sid,
            start=(
                {e.tracking_number: start.package(e.tracking_number) for e in group}
                if start is not None
                else None
            ),
        )
        for sid, group in sorted(by_shipment.items())
    ]
    if len(states) == 1:
        return states[0]
    moved = [s for s in states if s.last_event_at is not None] or states
    chosen = max(moved, key=lambda s: (s.last_event_at, s.shipment_id or ""))
    anomalies: tuple[Anomaly, ...] = tuple(a for s in states for a in s.anomalies)
    return chosen.model_copy(update={"anomalies": anomalies})


@attrs.frozen
class StatusDecision:
    """What to do with one picking's status.

    ``state`` is the batch folded from the stored state. ``status`` is the picking's status
    after the batch: the folded status when the fold applied an event of the batch, the stored
    one when the batch only repeats it, else None. ``current`` is what the stored value reads
    as. ``allowed`` is false when the fold applied none of the batch's events and the batch's
    own status may not follow the stored one (``refusal`` says why). ``value`` is the status
    value to write, None when there is nothing to write (refused, unmapped, or already stored);
    ``base`` the milestone to store beside it (None to empty the field), written only when
    ``base_changed``.
    """

    state: ShipmentState
    status: ShipmentStatus | None
    current: ShipmentStatus | None
    allowed: bool
    value: str | None
    base: str | None = None
    base_changed: bool = False
    refusal: str | None = None


def decide(
    fields: OdooFieldMap,
    events: Sequence[TrackingEvent],
    stored: object,
    stored_base: object = None,
) -> StatusDecision:
    """Fold one picking's new ``events`` from its stored status (and base); say what to write."""
    current = read_status(fields, stored)
    start = read_start(fields, stored, stored_base)
    state = batch_state(events, start)
    if not state.applied:
        alone = batch_state(events) if start is not None else state
        if alone.status is ShipmentStatus.UNKNOWN or alone.status is current:
            status = current if alone.status is current else None
            return StatusDecision(
                state=state, status=status, current=current, allowed=True, value=None
            )
        assert current is not None
        return StatusDecision(
            state=state,
            status=current,
            current=current,
            allowed=False,
            value=None,
            refusal=f"{alone.status.value} may not follow {current.value} (stored {stored!r})",
        )
    value = status_value(fields, state.status)
    base = base_value(state)
    held = stored_base if isinstance(stored_base, str) and stored_base else None
    return StatusDecision(
        state=state,
        status=state.status,
        current=current,
        allowed=True,
        value=value if value != stored else None,
        base=base,
        base_changed=value is not None and base != held,
    )
