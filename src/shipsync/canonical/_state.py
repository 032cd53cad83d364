"""The shipment state fold: tracking events in, one state per package and per shipment out.

Theory of operation
-------------------
Carriers report late, twice, out of order and sometimes wrong. The state is therefore not kept
and mutated: it is *computed* from the whole collection of tracking events every time, by a
pure function, so that the same set of events always gives the same state, whatever order they
arrived in and however often.

1. **Deduplicate.** Events are keyed by ``event_id``. Copies that are equal count once. Two
   *different* events under one id are a carrier bug: the one recorded last wins (ties broken by
   content, so the choice does not depend on arrival order) and each other version is reported as
   a ``conflicting_duplicate`` anomaly.
2. **Group** by tracking number: each package has its own state machine.
3. **Order** each package's events by ``(occurred_at, SORT_RANK[milestone], event_id)``: when
   it happened at the carrier, then the natural order of milestones for events of the same
   instant (picked up before in transit, delivered before returning), then the id. This is a
   total order, which is what makes the fold independent of arrival order.
4. **Fold** them through the transition table. Each event either moves the package
   (``TRANSITIONS[current]`` contains its milestone) or is *rejected*: kept in ``anomalies``
   with a reason, never applied and never dropped. So a stale ``in_transit`` after ``delivered``
   does not move a delivered package back, and ``unknown`` never changes a state.

The machine has a main line ``label_created < picked_up < in_transit < out_for_delivery ≈
delivery_attempted ≈ available_for_pickup < delivered < returning_to_sender < returned``. Moving
forward, skipping steps (scans get lost), is legal; moving back never is: the depot scan after a
failed attempt is kept as a ``regression`` anomaly while the package stays ``delivery_attempted``.
``cancelled`` is legal only before pick-up. ``exception`` is a side branch: it remembers the
milestone it branched from (``PackageState.base_status``), an event after it is checked against
that milestone, and any legal progress event clears it. Final milestones (``delivered``,
``returned``, ``cancelled``, ``lost``) are left only along named edges: ``delivered ->
returning_to_sender`` (returns reuse tracking numbers), a lost package found again in the last
mile, a cancelled label that the carrier picks up anyway.

Why no event can regress a package, however late it comes: every milestone has a progress rank
(``lost`` ranks with the last mile, ``exception`` keeps its base's), every legal move goes to an
equal or higher rank, and every refused move would have gone to an equal or lower one. Folding
one more event into any collection therefore never lowers the rank the package reached. The
property tests check exactly this.

Folding from a known state (``start=``). A host that keeps only the state, not the events
(Odoo keeps one status per picking), folds each new batch from the state the earlier batches
left: ``fold(later, start=fold(earlier))``. The fold then goes on from ``start``'s status and
base; events already folded into ``start`` (found in its ``applied`` or ``anomalies``) are
absorbed, and one that reuses such an id with other content is a ``conflicting_duplicate``
(the version folded first stands: what was applied cannot be taken back). This equals folding
``earlier | later`` at once in ``status``, ``base_status``, ``reason``, ``last_event_at`` and
``applied``, and in ``anomalies`` as a collection, whenever, for each package, every new event of
``later`` comes after every event of ``earlier`` in the fold's order: that is exactly the order
the fold of all events would have taken. An older event arriving in a later batch is judged
against the state reached, not slotted into the history; by the rank argument above it still
never regresses the package. ``PackageState.resume(status, base_status)`` rebuilds a start
from what a host can store; it has no events, so duplicates of earlier events must be dropped
by the host (Odoo does, by Message-Id) and the equality above holds for ``status`` and
``base_status`` (and ``reason`` once a later event applies). A stored ``exception`` without its
base resumes with base ``unknown``, so any progress may leave it: store the base to keep that
check.

The shipment state is derived from its packages: all alike gives that status; some but not all
delivered gives ``partially_delivered``; otherwise an exception anywhere shows, then the least
advanced package still moving, then the most notable final state (lost, returned, cancelled).
A package named only by ``unknown`` events still exists: it shows as ``unknown``, not delivered.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType

from shipsync.canonical._base import CanonicalModel, Identifier, Text, UtcDatetime
from shipsync.canonical._tracking import FINAL_MILESTONES, Milestone, Reason, TrackingEvent
from shipsync.errors import InvalidInputError

__all__ = [
    "SORT_RANK",
    "TRANSITIONS",
    "Anomaly",
    "AnomalyReason",
    "PackageState",
    "ShipmentState",
    "ShipmentStatus",
    "can_transition",
    "fold",
    "fold_package",
    "sort_key",
]

M = Milestone


class ShipmentStatus(enum.StrEnum):
    """The status of a whole shipment: every milestone, plus ``partially_delivered``."""

    LABEL_CREATED = "label_created"
    PICKED_UP = "picked_up"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERY_ATTEMPTED = "delivery_attempted"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    EXCEPTION = "exception"
    PARTIALLY_DELIVERED = "partially_delivered"
    DELIVERED = "delivered"
    RETURNING_TO_SENDER = "returning_to_sender"
    RETURNED = "returned"
    CANCELLED = "cancelled"
    LOST = "lost"
    UNKNOWN = "unknown"


class AnomalyReason(enum.StrEnum):
    """Why the fold did not apply an event."""

    UNKNOWN_MILESTONE = "unknown_milestone"
    """The carrier code mapped to ``unknown``: kept for audit, never changes the state."""
    CONFLICTING_DUPLICATE = "conflicting_duplicate"
    """Another event with the same id but different content won."""
    WRONG_SHIPMENT = "wrong_shipment"
    """The event names another shipment than the one being folded."""
    WRONG_PACKAGE = "wrong_package"
    """The event names another tracking number than the package being folded."""
    REGRESSION = "regression"
    """Stale or out of order: applying it would move the package back."""
    AFTER_FINAL = "after_final"
    """The package is in a final state that this milestone may not follow."""
    REPEATED_FINAL = "repeated_final"
    """The package already reached this final milestone (a second ``delivered`` scan)."""
    CANCELLED_AFTER_PICKUP = "cancelled_after_pickup"
    """A cancellation after the carrier had the package; voiding then is not a cancellation."""
    ILLEGAL_TRANSITION = "illegal_transition"
    """Any other move the transition table does not allow."""


_MAIN_LINE = (
    M.LABEL_CREATED,
    M.PICKED_UP,
    M.IN_TRANSIT,
    M.OUT_FOR_DELIVERY,
    M.DELIVERY_ATTEMPTED,
    M.AVAILABLE_FOR_PICKUP,
    M.DELIVERED,
    M.RETURNING_TO_SENDER,
    M.RETURNED,
)

_PROGRESS: Mapping[Milestone, int] = {
    M.UNKNOWN: 0,
    M.LABEL_CREATED: 10,
    M.CANCELLED: 15,
    M.PICKED_UP: 20,
    M.IN_TRANSIT: 30,
    M.OUT_FOR_DELIVERY: 40,
    M.DELIVERY_ATTEMPTED: 40,
    M.AVAILABLE_FOR_PICKUP: 40,
    M.LOST: 40,
    M.DELIVERED: 50,
    M.RETURNING_TO_SENDER: 60,
    M.RETURNED: 70,
}
"""How far along a package is; ``exception`` has no rank of its own (it keeps its base's).

Every edge of :data:`TRANSITIONS` goes to an equal or higher rank, and every refused move would
go to an equal or lower one. So no event, however late, ever lowers a package's rank.
"""

SORT_RANK: Mapping[Milestone, int] = MappingProxyType(
    {
        M.UNKNOWN: 0,
        M.LABEL_CREATED: 1,
        M.CANCELLED: 2,
        M.PICKED_UP: 3,
        M.IN_TRANSIT: 4,
        M.EXCEPTION: 5,
        M.OUT_FOR_DELIVERY: 6,
        M.DELIVERY_ATTEMPTED: 7,
        M.AVAILABLE_FOR_PICKUP: 8,
        M.DELIVERED: 9,
        M.LOST: 10,
        M.RETURNING_TO_SENDER: 11,
        M.RETURNED: 12,
    }
)
"""Tie-break for events of the same instant: the natural order of milestones."""


def _forward(milestone: Milestone) -> frozenset[Milestone]:
    """Main-line milestones at or after ``milestone``'s rank."""
    return frozenset(m for m in _MAIN_LINE if _PROGRESS[m] >= _PROGRESS[milestone])


_SIDE = frozenset({M.EXCEPTION, M.LOST})

TRANSITIONS: Mapping[Milestone, frozenset[Milestone]] = MappingProxyType(
    {
        # Nothing known yet: the first event may be anything (earlier scans may never come).
        M.UNKNOWN: frozenset(Milestone) - {M.UNKNOWN},
        M.LABEL_CREATED: _forward(M.LABEL_CREATED) | _SIDE | {M.CANCELLED},
        M.PICKED_UP: _forward(M.PICKED_UP) | _SIDE,
        M.IN_TRANSIT: _forward(M.IN_TRANSIT) | _SIDE,
        M.OUT_FOR_DELIVERY: _forward(M.OUT_FOR_DELIVERY) | _SIDE,
        M.DELIVERY_ATTEMPTED: _forward(M.DELIVERY_ATTEMPTED) | _SIDE,
        M.AVAILABLE_FOR_PICKUP: _forward(M.AVAILABLE_FOR_PICKUP) | _SIDE,
        # A side branch: what may follow is checked against the milestone it branched from.
        M.EXCEPTION: frozenset(Milestone) - {M.UNKNOWN},
        M.RETURNING_TO_SENDER: frozenset({M.RETURNING_TO_SENDER, M.RETURNED, M.EXCEPTION}),
        # Final milestones: only the edges named here leave them.
        M.DELIVERED: frozenset({M.RETURNING_TO_SENDER, M.RETURNED}),
        M.RETURNED: frozenset(),
        M.CANCELLED: _forward(M.PICKED_UP) | {M.LOST},
        M.LOST: _forward(M.OUT_FOR_DELIVERY),  # found again, in the last mile or later
    }
)
"""Allowed moves: ``TRANSITIONS[current]`` is the set of milestones that may follow ``current``.

``unknown`` as a *current* state means "nothing known yet". An ``unknown`` event is never a legal
target. From ``exception`` the row lists every milestone that may clear it; the fold also
checks the move against the milestone the exception branched from.
"""


def can_transition(current: Milestone, new: Milestone) -> bool:
    """Whether ``new`` may follow ``current`` according to :data:`TRANSITIONS`."""
    return new in TRANSITIONS[current]


def sort_key(event: TrackingEvent) -> tuple[datetime, int, str]:
    """The fold's total order of events: ``(occurred_at, SORT_RANK[milestone], event_id)``."""
    return (event.occurred_at, SORT_RANK[event.milestone], event.event_id)


class Anomaly(CanonicalModel):
    """An event the fold did not apply, and why. Nothing is dropped silently."""

    event_id: Identifier
    reason: AnomalyReason
    message: Text
    event: TrackingEvent

    @property
    def tracking_number(self) -> str:
        """The tracking number the rejected event names."""
        return self.event.tracking_number


class PackageState(CanonicalModel):
    """The folded state of one package.

    ``status`` is ``unknown`` until an event applies. ``base_status`` is the last main-line (or
    final) milestone; it differs from ``status`` only while the package is in ``exception``.
    ``reason`` is the reason of the event that set the current status. ``applied`` lists the
    events that moved the package, in fold order; ``anomalies`` those that did not.
    """

    tracking_number: Identifier
    status: Milestone = Milestone.UNKNOWN
    base_status: Milestone = Milestone.UNKNOWN
    reason: Reason | None = None
    last_event_at: UtcDatetime | None = None
    applied: tuple[TrackingEvent, ...] = ()
    anomalies: tuple[Anomaly, ...] = ()

    @classmethod
    def resume(
        cls,
        status: Milestone,
        base_status: Milestone | None = None,
        *,
        tracking_number: str,
    ) -> PackageState:
        """A state to fold on from, rebuilt from a stored ``status`` (and its ``base_status``).

        ``base_status`` matters only for ``exception``: the milestone the exception branched from,
        which the next event is checked against. Without it the exception's base is ``unknown``,
        and any event may leave it. For every other status it is ``status`` itself (pass None or
        the same value). The state has no events, so it absorbs no duplicates. Raises
        :class:`~shipsync.errors.InvalidInputError` for a pair the fold can never reach.
        """
        base = status if base_status is None and status is not Milestone.EXCEPTION else base_status
        base = Milestone.UNKNOWN if base is None else base
        if status is Milestone.EXCEPTION:
            reachable = base is Milestone.UNKNOWN or (
                base is not Milestone.EXCEPTION and Milestone.EXCEPTION in TRANSITIONS[base]
            )
        else:
            reachable = base is status
        if not reachable:
            raise InvalidInputError(
                f"a package cannot be {status.value} with base {base.value}",
                path="base_status",
            )
        return cls(tracking_number=tracking_number, status=status, base_status=base)

    @property
    def is_final(self) -> bool:
        """True in ``delivered``, ``returned``, ``cancelled`` or ``lost``."""
        return self.status in FINAL_MILESTONES

    @property
    def is_delivered(self) -> bool:
        """True when the package was delivered."""
        return self.status is Milestone.DELIVERED

    @property
    def in_exception(self) -> bool:
        """True while an exception has not been cleared by later progress."""
        return self.status is Milestone.EXCEPTION


class ShipmentState(CanonicalModel):
    """The folded state of one shipment and of each of its packages.

    ``packages`` is ordered by tracking number. ``applied`` holds every applied event of every
    package in fold order; ``anomalies`` every rejected event (duplicates and wrong-shipment
    events first, then per package).
    """

    shipment_id: Identifier | None = None
    status: ShipmentStatus = ShipmentStatus.UNKNOWN
    reason: Reason | None = None
    last_event_at: UtcDatetime | None = None
    packages: tuple[PackageState, ...] = ()
    applied: tuple[TrackingEvent, ...] = ()
    anomalies: tuple[Anomaly, ...] = ()

    @property
    def partially_delivered(self) -> bool:
        """True when some, but not all, packages were delivered."""
        return self.status is ShipmentStatus.PARTIALLY_DELIVERED

    @property
    def packages_by_tracking_number(self) -> Mapping[str, PackageState]:
        """The package states keyed by tracking number."""
        return {package.tracking_number: package for package in self.packages}

    def package(self, tracking_number: str) -> PackageState | None:
        """The state of the package with ``tracking_number``, or None if the shipment has none."""
        for package in self.packages:
            if package.tracking_number == tracking_number:
                return package
        return None


# --- the fold ----------------------------------------------------------------------------------


def _anomaly(event: TrackingEvent, reason: AnomalyReason, message: str) -> Anomaly:
    return Anomaly(event_id=event.event_id, reason=reason, message=message, event=event)


def _dedupe(events: Iterable[TrackingEvent]) -> tuple[list[TrackingEvent], list[Anomaly]]:
    """One event per id; conflicting versions resolved by (recorded_at, content), reported."""
    groups: dict[str, list[TrackingEvent]] = {}
    for event in events:
        group = groups.setdefault(event.event_id, [])
        if event not in group:
            group.append(event)
    kept: list[TrackingEvent] = []
    anomalies: list[Anomaly] = []
    for event_id in sorted(groups):
        group = groups[event_id]
        if len(group) == 1:
            kept.append(group[0])
            continue
        ranked = sorted(group, key=lambda e: (e.recorded_at, e.model_dump_json()))
        winner = ranked[-1]
        kept.append(winner)
        anomalies.extend(
            _anomaly(
                loser,
                AnomalyReason.CONFLICTING_DUPLICATE,
                f"event id {event_id!r} was reported with different content; "
                f"the version recorded at {winner.recorded_at.isoformat()} was applied",
            )
            for loser in ranked[:-1]
        )
    return kept, anomalies


def _checked_against(status: Milestone, base: Milestone, new: Milestone) -> Milestone:
    """The state ``new`` is checked against: an exception is left from where it branched."""
    if status is Milestone.EXCEPTION and new is not Milestone.EXCEPTION:
        return base
    return status


def _judge(status: Milestone, base: Milestone, new: Milestone) -> AnomalyReason | None:
    """None if ``new`` may follow; otherwise why not."""
    if new is Milestone.UNKNOWN:
        return AnomalyReason.UNKNOWN_MILESTONE
    current = _checked_against(status, base, new)
    if can_transition(current, new):
        return None
    if current in FINAL_MILESTONES:
        return AnomalyReason.REPEATED_FINAL if new is current else AnomalyReason.AFTER_FINAL
    if new is Milestone.CANCELLED:
        return AnomalyReason.CANCELLED_AFTER_PICKUP
    if new in _PROGRESS and _PROGRESS[new] < _PROGRESS[current]:
        return AnomalyReason.REGRESSION
    return AnomalyReason.ILLEGAL_TRANSITION  # pragma: no cover - the table leaves no such case


_MESSAGES: Mapping[AnomalyReason, str] = {
    AnomalyReason.UNKNOWN_MILESTONE: "carrier code {code!r} maps to no known milestone",
    AnomalyReason.REGRESSION: "{new} after {current} would move the package back",
    AnomalyReason.AFTER_FINAL: "{new} may not follow the final state {current}",
    AnomalyReason.REPEATED_FINAL: "the package was already {current}",
    AnomalyReason.CANCELLED_AFTER_PICKUP: "cancelled after the carrier had the package "
    "({current}); voiding after pick-up is not a cancellation",
    AnomalyReason.ILLEGAL_TRANSITION: "{new} may not follow {current}",
}


def _folded(state: PackageState) -> list[TrackingEvent]:
    """Every event already folded into ``state``: applied or reported."""
    return [*state.applied, *(a.event for a in state.anomalies)]


def _absorb(
    kept: Iterable[TrackingEvent], folded: Iterable[TrackingEvent]
) -> tuple[list[TrackingEvent], list[Anomaly]]:
    """Drop events already ``folded`` into a start state; report other content under their ids."""
    seen: dict[str, list[TrackingEvent]] = {}
    for event in folded:
        seen.setdefault(event.event_id, []).append(event)
    new: list[TrackingEvent] = []
    anomalies: list[Anomaly] = []
    for event in kept:
        before = seen.get(event.event_id)
        if not before:
            new.append(event)
        elif event not in before:
            anomalies.append(
                _anomaly(
                    event,
                    AnomalyReason.CONFLICTING_DUPLICATE,
                    f"event id {event.event_id!r} was folded before with different content; "
                    "the version folded first stands",
                )
            )
    return new, anomalies


def _fold_sorted(
    tracking_number: str, events: Sequence[TrackingEvent], start: PackageState | None = None
) -> PackageState:
    status = base = Milestone.UNKNOWN
    reason: Reason | None = None
    last: datetime | None = None
    applied: list[TrackingEvent] = []
    anomalies: list[Anomaly] = []
    if start is not None:
        status, base, reason, last = (
            start.status,
            start.base_status,
            start.reason,
            start.last_event_at,
        )
        applied, anomalies = list(start.applied), list(start.anomalies)
    for event in events:
        new = event.milestone
        verdict = _judge(status, base, new)
        if verdict is not None:
            current = _checked_against(status, base, new)
            message = _MESSAGES[verdict].format(
                code=event.carrier_code, new=new.value, current=current.value
            )
            anomalies.append(_anomaly(event, verdict, message))
            continue
        if new is Milestone.EXCEPTION:
            if status is not Milestone.EXCEPTION:
                base = status
        else:
            base = new
        status = new
        reason = event.reason
        last = event.occurred_at if last is None else max(last, event.occurred_at)
        applied.append(event)
    return PackageState(
        tracking_number=tracking_number,
        status=status,
        base_status=base,
        reason=reason,
        last_event_at=last,
        applied=tuple(applied),
        anomalies=tuple(anomalies),
    )


def fold_package(
    events: Iterable[TrackingEvent],
    *,
    tracking_number: str | None = None,
    start: PackageState | None = None,
) -> PackageState:
    """Fold the events of one package into its state.

    ``tracking_number`` defaults to ``start``'s, else to the one all events share; events naming
    another tracking number are reported as ``wrong_package`` anomalies. ``start`` is a state to
    fold on from (an earlier result, or :meth:`PackageState.resume`): see the theory of
    operation for when ``fold_package(later, start=fold_package(earlier))`` equals folding all
    events at once. Raises :class:`~shipsync.errors.InvalidInputError` when the tracking number
    is not given and the events name none or several, or when it is not ``start``'s.
    """
    kept, anomalies = _dedupe(events)
    if start is not None:
        if tracking_number is not None and tracking_number != start.tracking_number:
            raise InvalidInputError(
                f"start is the state of package {start.tracking_number!r}, not {tracking_number!r}",
                path="start",
            )
        tracking_number = start.tracking_number
        kept, absorbed = _absorb(kept, _folded(start))
        anomalies += absorbed
    if tracking_number is None:
        numbers = {event.tracking_number for event in kept}
        if len(numbers) != 1:
            raise InvalidInputError(
                "pass tracking_number: the events name "
                + ("no package" if not numbers else f"{len(numbers)} packages"),
                path="tracking_number",
            )
        (tracking_number,) = numbers
    mine: list[TrackingEvent] = []
    for event in kept:
        if event.tracking_number == tracking_number:
            mine.append(event)
        else:
            anomalies.append(
                _anomaly(
                    event,
                    AnomalyReason.WRONG_PACKAGE,
                    f"the event is for package {event.tracking_number!r}",
                )
            )
    state = _fold_sorted(tracking_number, sorted(mine, key=sort_key), start)
    if anomalies:
        carried = len(start.anomalies) if start is not None else 0
        ordered = (*state.anomalies[:carried], *anomalies, *state.anomalies[carried:])
        state = state.model_copy(update={"anomalies": ordered})
    return state


_FINAL_PRIORITY = (M.LOST, M.RETURNED, M.CANCELLED)


def _shipment_status(packages: Sequence[PackageState]) -> tuple[ShipmentStatus, Reason | None]:
    """Derive the shipment status from its packages (see the theory of operation)."""
    known = [p for p in packages if p.status is not M.UNKNOWN]
    delivered = sum(1 for p in packages if p.status is M.DELIVERED)
    if 0 < delivered < len(packages):
        return ShipmentStatus.PARTIALLY_DELIVERED, None
    if not known:
        return ShipmentStatus.UNKNOWN, None
    statuses = {p.status for p in known}
    if len(statuses) == 1:
        chosen = known[0].status
    elif M.EXCEPTION in statuses:
        chosen = M.EXCEPTION
    else:
        moving = [s for s in statuses if s not in FINAL_MILESTONES]
        if moving:
            chosen = min(moving, key=lambda s: (_PROGRESS[s], SORT_RANK[s]))
        else:
            chosen = next(s for s in _FINAL_PRIORITY if s in statuses)
    reason = next(p.reason for p in known if p.status is chosen)
    return ShipmentStatus(chosen.value), reason


def _seeds(
    start: ShipmentState | Mapping[str, PackageState] | None,
) -> tuple[dict[str, PackageState], tuple[Anomaly, ...]]:
    """The package states to fold on from, and ``start``'s anomalies that belong to no package."""
    if start is None:
        return {}, ()
    if isinstance(start, ShipmentState):
        own = [a for p in start.packages for a in p.anomalies]
        return (
            {p.tracking_number: p for p in start.packages},
            tuple(a for a in start.anomalies if a not in own),
        )
    for number, package in start.items():
        if package.tracking_number != number:
            raise InvalidInputError(
                f"start[{number!r}] is the state of package {package.tracking_number!r}",
                path=f"start.{number}",
            )
    return dict(start), ()


def fold(
    events: Iterable[TrackingEvent],
    *,
    shipment_id: str | None = None,
    tracking_numbers: Iterable[str] = (),
    start: ShipmentState | Mapping[str, PackageState] | None = None,
) -> ShipmentState:
    """Fold any collection of tracking events of one shipment into its state.

    The result depends only on the set of events: not on their order, not on duplicates.
    ``shipment_id`` defaults to ``start``'s, else to the one all events share; events of other
    shipments are reported as ``wrong_shipment`` anomalies. ``tracking_numbers`` names packages
    that may have no event yet (they count as not delivered). ``start`` is a state to fold on
    from: an earlier result, or package states by tracking number (each from
    :meth:`PackageState.resume`, say); its packages stay in the result. See the theory of
    operation for when ``fold(later, start=fold(earlier))`` equals ``fold(earlier | later)``.
    Raises :class:`~shipsync.errors.InvalidInputError` when ``shipment_id`` is not given and
    the events name several shipments, when it is not ``start``'s, or when a package of
    ``start`` sits under another tracking number.
    """
    kept, anomalies = _dedupe(events)
    seeds, carried = _seeds(start)
    if isinstance(start, ShipmentState) and start.shipment_id is not None:
        if shipment_id is not None and shipment_id != start.shipment_id:
            raise InvalidInputError(
                f"start is the state of shipment {start.shipment_id!r}, not {shipment_id!r}",
                path="start",
            )
        shipment_id = start.shipment_id
    if start is not None:
        folded = [e for p in seeds.values() for e in _folded(p)]
        kept, absorbed = _absorb(kept, [*folded, *(a.event for a in carried)])
        anomalies += absorbed
    if shipment_id is None:
        ids = {event.shipment_id for event in kept}
        if len(ids) > 1:
            raise InvalidInputError(
                f"pass shipment_id: the events name {len(ids)} shipments", path="shipment_id"
            )
        shipment_id = next(iter(ids), None)
    by_package: dict[str, list[TrackingEvent]] = {number: [] for number in tracking_numbers}
    by_package.update((number, []) for number in seeds if number not in by_package)
    for event in kept:
        if event.shipment_id != shipment_id:
            anomalies.append(
                _anomaly(
                    event,
                    AnomalyReason.WRONG_SHIPMENT,
                    f"the event is for shipment {event.shipment_id!r}",
                )
            )
        else:
            by_package.setdefault(event.tracking_number, []).append(event)
    packages = tuple(
        _fold_sorted(number, sorted(by_package[number], key=sort_key), seeds.get(number))
        for number in sorted(by_package)
    )
    applied = sorted((e for p in packages for e in p.applied), key=sort_key)
    times = [p.last_event_at for p in packages if p.last_event_at is not None]
    status, reason = _shipment_status(packages)
    return ShipmentState(
        shipment_id=shipment_id,
        status=status,
        reason=reason,
        last_event_at=max(times, default=None),
        packages=packages,
        applied=tuple(applied),
        anomalies=(*carried, *anomalies, *(a for p in packages for a in p.anomalies)),
    )
