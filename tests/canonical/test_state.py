"""The shipment state fold: order- and duplicate-independent, never regressing, nothing dropped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

import shipsync.canonical as canonical
from shipsync.canonical import (
    FINAL_MILESTONES,
    SORT_RANK,
    TRANSITIONS,
    Anomaly,
    AnomalyReason,
    Milestone,
    PackageState,
    Reason,
    ShipmentStatus,
    TrackingEvent,
    can_transition,
    fold,
    fold_package,
)
from shipsync.canonical._state import _PROGRESS
from shipsync.errors import InvalidInputError
from shipsync.testing import strategies as sst

M = Milestone
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

STATE_NAMES = {
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
}


def ev(
    event_id: str,
    milestone: Milestone | str,
    *,
    hours: float = 0,
    tracking_number: str = "1Z1",
    shipment_id: str = "SHP-1",
    reason: Reason = Reason.NORMAL,
    recorded_hours: float | None = None,
    code: str = "X",
) -> TrackingEvent:
    """A tracking event ``hours`` after T0."""
    when = T0 + timedelta(hours=hours)
    recorded = when if recorded_hours is None else T0 + timedelta(hours=recorded_hours)
    return TrackingEvent(
        event_id=event_id,
        shipment_id=shipment_id,
        tracking_number=tracking_number,
        carrier="fake",
        milestone=M(milestone),
        reason=reason,
        occurred_at=when,
        recorded_at=recorded,
        carrier_code=code,
    )


def statuses(events: list[TrackingEvent]) -> list[Milestone]:
    return [e.milestone for e in events]


# --- public surface ----------------------------------------------------------------------------


def test_state_names_are_exported_from_canonical() -> None:
    """Every public name of the state module is re-exported by shipsync.canonical."""
    assert set(canonical.__all__) >= STATE_NAMES
    for name in STATE_NAMES:
        assert hasattr(canonical, name)


def test_shipment_status_is_every_milestone_plus_partially_delivered() -> None:
    """ShipmentStatus can express every milestone and partially_delivered, nothing else."""
    assert {s.value for s in ShipmentStatus} == {m.value for m in Milestone} | {
        "partially_delivered"
    }


def test_every_milestone_has_a_row_and_a_sort_rank() -> None:
    """The transition table and the sort order cover every milestone; unknown is never a target."""
    assert set(TRANSITIONS) == set(Milestone)
    assert set(SORT_RANK) == set(Milestone)
    assert len(set(SORT_RANK.values())) == len(SORT_RANK)
    assert all(M.UNKNOWN not in targets for targets in TRANSITIONS.values())


# --- the transition table, row by row ----------------------------------------------------------

ALLOWED = [
    (M.UNKNOWN, M.DELIVERED),
    (M.UNKNOWN, M.RETURNED),
    (M.LABEL_CREATED, M.LABEL_CREATED),
    (M.LABEL_CREATED, M.PICKED_UP),
    (M.LABEL_CREATED, M.DELIVERED),
    (M.LABEL_CREATED, M.CANCELLED),
    (M.LABEL_CREATED, M.EXCEPTION),
    (M.PICKED_UP, M.IN_TRANSIT),
    (M.IN_TRANSIT, M.IN_TRANSIT),
    (M.IN_TRANSIT, M.OUT_FOR_DELIVERY),
    (M.IN_TRANSIT, M.LOST),
    (M.OUT_FOR_DELIVERY, M.DELIVERY_ATTEMPTED),
    (M.DELIVERY_ATTEMPTED, M.OUT_FOR_DELIVERY),
    (M.DELIVERY_ATTEMPTED, M.AVAILABLE_FOR_PICKUP),
    (M.AVAILABLE_FOR_PICKUP, M.DELIVERED),
    (M.AVAILABLE_FOR_PICKUP, M.RETURNING_TO_SENDER),
    (M.OUT_FOR_DELIVERY, M.EXCEPTION),
    (M.EXCEPTION, M.EXCEPTION),
    (M.EXCEPTION, M.DELIVERED),
    (M.DELIVERED, M.RETURNING_TO_SENDER),
    (M.DELIVERED, M.RETURNED),
    (M.RETURNING_TO_SENDER, M.RETURNED),
    (M.RETURNING_TO_SENDER, M.EXCEPTION),
    (M.CANCELLED, M.PICKED_UP),
    (M.LOST, M.DELIVERED),
    (M.LOST, M.OUT_FOR_DELIVERY),
    (M.LOST, M.RETURNED),
]
FORBIDDEN = [
    (M.DELIVERED, M.IN_TRANSIT),
    (M.DELIVERED, M.OUT_FOR_DELIVERY),
    (M.DELIVERED, M.DELIVERED),
    (M.DELIVERED, M.EXCEPTION),
    (M.DELIVERED, M.CANCELLED),
    (M.DELIVERED, M.LOST),
    (M.PICKED_UP, M.CANCELLED),
    (M.IN_TRANSIT, M.CANCELLED),
    (M.IN_TRANSIT, M.PICKED_UP),
    (M.IN_TRANSIT, M.LABEL_CREATED),
    (M.OUT_FOR_DELIVERY, M.PICKED_UP),
    (M.DELIVERY_ATTEMPTED, M.IN_TRANSIT),
    (M.AVAILABLE_FOR_PICKUP, M.IN_TRANSIT),
    (M.RETURNING_TO_SENDER, M.LOST),
    (M.RETURNING_TO_SENDER, M.DELIVERED),
    (M.RETURNING_TO_SENDER, M.IN_TRANSIT),
    (M.RETURNED, M.RETURNING_TO_SENDER),
    (M.RETURNED, M.EXCEPTION),
    (M.CANCELLED, M.LABEL_CREATED),
    (M.CANCELLED, M.EXCEPTION),
    (M.LOST, M.PICKED_UP),
    (M.LOST, M.IN_TRANSIT),
    (M.LOST, M.EXCEPTION),
    *((m, M.UNKNOWN) for m in Milestone),
]


@pytest.mark.parametrize(("current", "new"), ALLOWED, ids=lambda m: m.value)
def test_allowed_transitions(current: Milestone, new: Milestone) -> None:
    """Each named move is in the table."""
    assert can_transition(current, new)


@pytest.mark.parametrize(("current", "new"), FORBIDDEN, ids=lambda m: m.value)
def test_forbidden_transitions(current: Milestone, new: Milestone) -> None:
    """Each named move is refused by the table."""
    assert not can_transition(current, new)


def test_final_milestones_are_left_only_along_named_edges() -> None:
    """From a final milestone only returns, 'found' and 'picked up anyway' edges lead out."""
    assert TRANSITIONS[M.DELIVERED] == {M.RETURNING_TO_SENDER, M.RETURNED}
    assert TRANSITIONS[M.RETURNED] == frozenset()
    for final in FINAL_MILESTONES:
        assert M.EXCEPTION not in TRANSITIONS[final]
        assert final not in TRANSITIONS[final]


def test_cancelled_is_reachable_only_before_pickup() -> None:
    """Only 'nothing known yet' and label_created lead to cancelled."""
    sources = {m for m, targets in TRANSITIONS.items() if M.CANCELLED in targets}
    assert sources == {M.UNKNOWN, M.LABEL_CREATED, M.EXCEPTION}


# --- scenarios ---------------------------------------------------------------------------------


def test_happy_path() -> None:
    """A normal life applies every event, in time order, and ends delivered."""
    events = [
        ev("5", M.DELIVERED, hours=30),
        ev("1", M.LABEL_CREATED),
        ev("3", M.IN_TRANSIT, hours=10),
        ev("2", M.PICKED_UP, hours=2),
        ev("4", M.OUT_FOR_DELIVERY, hours=28),
    ]
    state = fold(events)
    assert state.status is ShipmentStatus.DELIVERED
    assert state.shipment_id == "SHP-1"
    assert [e.event_id for e in state.applied] == ["1", "2", "3", "4", "5"]
    assert state.anomalies == ()
    assert state.last_event_at == T0 + timedelta(hours=30)
    assert state.reason is Reason.NORMAL
    assert not state.partially_delivered


def test_delivered_does_not_go_back_to_in_transit() -> None:
    """A later in-transit scan after delivery is an anomaly and the package stays delivered."""
    state = fold_package(
        [ev("1", M.IN_TRANSIT), ev("2", M.DELIVERED, hours=1), ev("3", M.IN_TRANSIT, hours=2)]
    )
    assert state.status is M.DELIVERED
    assert [(a.event_id, a.reason) for a in state.anomalies] == [("3", AnomalyReason.AFTER_FINAL)]
    assert "delivered" in state.anomalies[0].message


def test_delivered_then_returning_to_sender_is_applied() -> None:
    """Returns may reuse the tracking number: delivered -> returning_to_sender -> returned."""
    state = fold_package(
        [
            ev("1", M.DELIVERED),
            ev("2", M.RETURNING_TO_SENDER, hours=5),
            ev("3", M.RETURNED, hours=9),
        ]
    )
    assert state.status is M.RETURNED
    assert statuses(list(state.applied)) == [M.DELIVERED, M.RETURNING_TO_SENDER, M.RETURNED]


def test_repeated_delivered_scan_is_reported_not_applied() -> None:
    """A second delivered event (another id) is a repeated_final anomaly; the first one counts."""
    state = fold_package([ev("b", M.DELIVERED, hours=2), ev("a", M.DELIVERED, hours=1)])
    assert [e.event_id for e in state.applied] == ["a"]
    assert [a.reason for a in state.anomalies] == [AnomalyReason.REPEATED_FINAL]
    assert state.last_event_at == T0 + timedelta(hours=1)


def test_cancelled_before_pickup_applies() -> None:
    """A cancellation right after the label is the final state."""
    state = fold_package([ev("1", M.LABEL_CREATED), ev("2", M.CANCELLED, hours=1)])
    assert state.status is M.CANCELLED
    assert state.is_final


def test_cancelled_after_pickup_is_an_anomaly() -> None:
    """Voiding after pick-up is not a cancellation: kept as cancelled_after_pickup."""
    state = fold_package(
        [ev("1", M.LABEL_CREATED), ev("2", M.PICKED_UP, hours=1), ev("3", M.CANCELLED, hours=2)]
    )
    assert state.status is M.PICKED_UP
    assert [a.reason for a in state.anomalies] == [AnomalyReason.CANCELLED_AFTER_PICKUP]


def test_pickup_after_cancellation_wins() -> None:
    """A cancelled label that the carrier picks up anyway moves on: the package travels."""
    state = fold_package([ev("1", M.CANCELLED), ev("2", M.PICKED_UP, hours=1)])
    assert state.status is M.PICKED_UP


def test_exception_is_a_side_branch_cleared_by_progress() -> None:
    """An exception shows with its reason until a later progress event clears it."""
    events = [
        ev("1", M.IN_TRANSIT),
        ev("2", M.EXCEPTION, hours=1, reason=Reason.WEATHER),
    ]
    held = fold_package(events)
    assert held.status is M.EXCEPTION
    assert held.base_status is M.IN_TRANSIT
    assert held.reason is Reason.WEATHER
    assert held.in_exception
    cleared = fold_package([*events, ev("3", M.OUT_FOR_DELIVERY, hours=2)])
    assert cleared.status is M.OUT_FOR_DELIVERY
    assert cleared.base_status is M.OUT_FOR_DELIVERY
    assert cleared.reason is Reason.NORMAL
    assert not cleared.in_exception


def test_exception_is_not_cleared_by_a_regression() -> None:
    """After an exception the next event is checked against where the exception branched."""
    state = fold_package(
        [ev("1", M.OUT_FOR_DELIVERY), ev("2", M.EXCEPTION, hours=1), ev("3", M.PICKED_UP, hours=2)]
    )
    assert state.status is M.EXCEPTION
    assert state.base_status is M.OUT_FOR_DELIVERY
    assert [a.reason for a in state.anomalies] == [AnomalyReason.REGRESSION]
    assert "out_for_delivery" in state.anomalies[0].message


def test_exception_after_delivery_is_an_anomaly() -> None:
    """A delivered package does not fall into exception."""
    state = fold_package([ev("1", M.DELIVERED), ev("2", M.EXCEPTION, hours=1)])
    assert state.status is M.DELIVERED
    assert [a.reason for a in state.anomalies] == [AnomalyReason.AFTER_FINAL]


def test_a_second_exception_updates_the_reason_and_keeps_the_base() -> None:
    """exception -> exception is legal; the newest reason shows, the base stays."""
    state = fold_package(
        [
            ev("1", M.IN_TRANSIT),
            ev("2", M.EXCEPTION, hours=1, reason=Reason.WEATHER),
            ev("3", M.EXCEPTION, hours=2, reason=Reason.CUSTOMS_HOLD),
        ]
    )
    assert (state.status, state.base_status, state.reason) == (
        M.EXCEPTION,
        M.IN_TRANSIT,
        Reason.CUSTOMS_HOLD,
    )


def test_delivery_attempt_reason_is_the_current_reason() -> None:
    """The reason of a failed attempt is exposed on the state."""
    state = fold_package(
        [
            ev("1", M.OUT_FOR_DELIVERY),
            ev("2", M.DELIVERY_ATTEMPTED, hours=1, reason=Reason.RECIPIENT_ABSENT),
        ]
    )
    assert state.status is M.DELIVERY_ATTEMPTED
    assert state.reason is Reason.RECIPIENT_ABSENT


def test_regression_is_reported() -> None:
    """An out-of-order earlier milestone with a later timestamp is a regression anomaly."""
    state = fold_package([ev("1", M.OUT_FOR_DELIVERY), ev("2", M.PICKED_UP, hours=1)])
    assert state.status is M.OUT_FOR_DELIVERY
    assert [a.reason for a in state.anomalies] == [AnomalyReason.REGRESSION]


def test_unknown_never_changes_the_state() -> None:
    """An unknown milestone is kept as an anomaly naming the raw code, and changes nothing."""
    state = fold_package([ev("1", M.IN_TRANSIT), ev("2", M.UNKNOWN, hours=1, code="ZZ")])
    assert state.status is M.IN_TRANSIT
    assert state.last_event_at == T0
    (anomaly,) = state.anomalies
    assert anomaly.reason is AnomalyReason.UNKNOWN_MILESTONE
    assert "'ZZ'" in anomaly.message
    assert anomaly.event.carrier_code == "ZZ"


def test_only_unknown_events_leave_the_package_unknown() -> None:
    """A package whose every event is unknown is still unknown."""
    state = fold([ev("1", M.UNKNOWN)])
    assert state.status is ShipmentStatus.UNKNOWN
    assert state.packages[0].status is M.UNKNOWN
    assert state.reason is None


def test_same_instant_events_follow_the_milestone_order() -> None:
    """Events of one instant are ordered by SORT_RANK, whatever their ids."""
    state = fold_package(
        [ev("a", M.DELIVERED), ev("b", M.OUT_FOR_DELIVERY), ev("c", M.LABEL_CREATED)]
    )
    assert statuses(list(state.applied)) == [M.LABEL_CREATED, M.OUT_FOR_DELIVERY, M.DELIVERED]


def test_identical_duplicates_count_once() -> None:
    """The same event twice is applied once and reported nowhere."""
    one = ev("1", M.IN_TRANSIT)
    state = fold([one, one, ev("1", M.IN_TRANSIT)])
    assert state.applied == (one,)
    assert state.anomalies == ()


@pytest.mark.parametrize("reverse", [False, True], ids=["given-order", "reversed"])
def test_conflicting_duplicates_latest_recorded_wins(reverse: bool) -> None:
    """Two versions of one event id: the one recorded last wins, the other is an anomaly."""
    old = ev("1", M.IN_TRANSIT, recorded_hours=1)
    new = ev("1", M.OUT_FOR_DELIVERY, recorded_hours=2)
    events = [new, old] if reverse else [old, new]
    state = fold(events)
    assert state.applied == (new,)
    assert [(a.event, a.reason) for a in state.anomalies] == [
        (old, AnomalyReason.CONFLICTING_DUPLICATE)
    ]


def test_conflicting_duplicates_with_equal_recording_time_are_decided_by_content() -> None:
    """Equal recording times still give one answer, whatever the arrival order."""
    a = ev("1", M.IN_TRANSIT, code="A")
    b = ev("1", M.IN_TRANSIT, code="B")
    assert fold([a, b]) == fold([b, a])
    assert len(fold([a, b]).anomalies) == 1


def test_events_of_another_shipment_are_reported() -> None:
    """With an explicit shipment id, foreign events are wrong_shipment anomalies."""
    state = fold(
        [ev("1", M.IN_TRANSIT), ev("2", M.DELIVERED, shipment_id="SHP-2")], shipment_id="SHP-1"
    )
    assert state.status is ShipmentStatus.IN_TRANSIT
    assert [(a.event_id, a.reason) for a in state.anomalies] == [
        ("2", AnomalyReason.WRONG_SHIPMENT)
    ]


def test_mixed_shipments_without_an_id_are_refused() -> None:
    """Folding several shipments at once without saying which is a typed error."""
    with pytest.raises(InvalidInputError) as info:
        fold([ev("1", M.IN_TRANSIT), ev("2", M.DELIVERED, shipment_id="SHP-2")])
    assert info.value.path == "shipment_id"


def test_fold_package_reports_other_packages() -> None:
    """fold_package with a tracking number reports events of other packages."""
    state = fold_package(
        [ev("1", M.IN_TRANSIT), ev("2", M.DELIVERED, tracking_number="1Z2")], tracking_number="1Z1"
    )
    assert state.status is M.IN_TRANSIT
    assert [a.reason for a in state.anomalies] == [AnomalyReason.WRONG_PACKAGE]
    assert state.anomalies[0].tracking_number == "1Z2"


@pytest.mark.parametrize(
    "events",
    [[], [ev("1", M.IN_TRANSIT), ev("2", M.IN_TRANSIT, tracking_number="1Z2")]],
    ids=["none", "two-packages"],
)
def test_fold_package_needs_one_tracking_number(events: list[TrackingEvent]) -> None:
    """Without a tracking number, fold_package needs events of exactly one package."""
    with pytest.raises(InvalidInputError):
        fold_package(events)


def test_empty_fold() -> None:
    """No events: an unknown shipment without packages."""
    state = fold([])
    assert (state.shipment_id, state.status, state.packages, state.last_event_at) == (
        None,
        ShipmentStatus.UNKNOWN,
        (),
        None,
    )
    assert fold_package([], tracking_number="1Z1") == PackageState(tracking_number="1Z1")


# --- shipment status from packages ------------------------------------------------------------

SHIPMENT_CASES = [
    ([M.DELIVERED, M.DELIVERED], ShipmentStatus.DELIVERED),
    ([M.DELIVERED, M.IN_TRANSIT], ShipmentStatus.PARTIALLY_DELIVERED),
    ([M.DELIVERED, M.LOST], ShipmentStatus.PARTIALLY_DELIVERED),
    ([M.DELIVERED, None], ShipmentStatus.PARTIALLY_DELIVERED),
    ([M.IN_TRANSIT, M.OUT_FOR_DELIVERY], ShipmentStatus.IN_TRANSIT),
    ([M.EXCEPTION, M.OUT_FOR_DELIVERY], ShipmentStatus.EXCEPTION),
    ([M.OUT_FOR_DELIVERY, M.AVAILABLE_FOR_PICKUP], ShipmentStatus.OUT_FOR_DELIVERY),
    ([M.IN_TRANSIT, None], ShipmentStatus.IN_TRANSIT),
    ([None, None], ShipmentStatus.UNKNOWN),
    ([M.CANCELLED, M.IN_TRANSIT], ShipmentStatus.IN_TRANSIT),
    ([M.CANCELLED, M.RETURNED], ShipmentStatus.RETURNED),
    ([M.LOST, M.RETURNED], ShipmentStatus.LOST),
    ([M.CANCELLED, M.CANCELLED], ShipmentStatus.CANCELLED),
]


@pytest.mark.parametrize(
    ("package_statuses", "expected"),
    SHIPMENT_CASES,
    ids=["+".join(s.value if s else "none" for s in c[0]) for c in SHIPMENT_CASES],
)
def test_shipment_status_from_packages(
    package_statuses: list[Milestone | None], expected: ShipmentStatus
) -> None:
    """The shipment status is derived from its packages (None: a package with no event yet)."""
    events = [
        ev(f"e{i}", status, tracking_number=f"1Z{i}", reason=Reason.DAMAGED)
        for i, status in enumerate(package_statuses)
        if status is not None
    ]
    numbers = [f"1Z{i}" for i in range(len(package_statuses))]
    state = fold(events, shipment_id="SHP-1", tracking_numbers=numbers)
    assert state.status is expected
    assert state.partially_delivered is (expected is ShipmentStatus.PARTIALLY_DELIVERED)
    assert [p.tracking_number for p in state.packages] == numbers
    if expected in (ShipmentStatus.PARTIALLY_DELIVERED, ShipmentStatus.UNKNOWN):
        assert state.reason is None
    else:
        assert state.reason is Reason.DAMAGED


def test_packages_are_keyed_by_tracking_number() -> None:
    """A shipment's package states can be looked up by tracking number."""
    state = fold(
        [ev("1", M.DELIVERED, tracking_number="1ZB"), ev("2", M.IN_TRANSIT, tracking_number="1ZA")]
    )
    assert list(state.packages_by_tracking_number) == ["1ZA", "1ZB"]
    package = state.package("1ZB")
    assert package is not None
    assert package.is_delivered
    assert state.package("nope") is None
    assert state.last_event_at == T0


def test_state_round_trips_through_json() -> None:
    """The state crosses boundaries: it serialises and validates back equal."""
    state = fold([ev("1", M.IN_TRANSIT), ev("2", M.PICKED_UP, hours=1), ev("3", M.UNKNOWN)])
    assert type(state).model_validate_json(state.model_dump_json()) == state
    assert isinstance(state.anomalies[0], Anomaly)


# --- properties --------------------------------------------------------------------------------


@given(sst.tracking_histories(unique_ids=False), st.data())
def test_fold_is_independent_of_order(events: list[TrackingEvent], data: st.DataObject) -> None:
    """Any permutation of the events gives the same state."""
    shuffled = data.draw(st.permutations(events))
    assert fold(shuffled) == fold(events)


@given(sst.tracking_histories(unique_ids=False), st.data())
def test_fold_is_independent_of_duplicates(
    events: list[TrackingEvent], data: st.DataObject
) -> None:
    """Repeating any events, any number of times, gives the same state."""
    extra = data.draw(st.lists(st.sampled_from(events), max_size=10)) if events else []
    shuffled = data.draw(st.permutations(events + extra + events))
    assert fold(shuffled) == fold(events)


@given(sst.tracking_histories(unique_ids=False))
def test_every_event_is_applied_or_reported(events: list[TrackingEvent]) -> None:
    """Each distinct input event is either applied or the subject of exactly one anomaly."""
    state = fold(events)
    rejected = [a.event for a in state.anomalies]
    distinct = set(events)
    assert len(state.applied) + len(rejected) == len(distinct)
    assert set(state.applied) | set(rejected) == distinct
    assert not set(state.applied) & set(rejected)


def _check_path(package: PackageState) -> None:
    status = base = M.UNKNOWN
    for event in package.applied:
        current = base if status is M.EXCEPTION and event.milestone is not M.EXCEPTION else status
        assert can_transition(current, event.milestone), (current, event.milestone)
        if event.milestone is M.EXCEPTION:
            base = base if status is M.EXCEPTION else status
        else:
            base = event.milestone
        status = event.milestone
    assert (package.status, package.base_status) == (status, base)


@given(sst.tracking_histories())
def test_applied_events_form_a_legal_path(events: list[TrackingEvent]) -> None:
    """Per package, the applied events in fold order only take moves the table allows."""
    state = fold(events)
    for package in state.packages:
        _check_path(package)
        times = [e.occurred_at for e in package.applied]
        assert times == sorted(times)
        assert package.last_event_at == (times[-1] if times else None)


def _rank(package: PackageState) -> int:
    return _PROGRESS[package.base_status]


def test_the_table_only_moves_forward() -> None:
    """Every legal move keeps or raises the progress rank; every refused one would keep or lower
    it. This is what makes the fold regression-free whatever events come late."""
    ranked = [m for m in Milestone if m is not M.EXCEPTION]
    for current in ranked:
        for new in ranked:
            if new is M.UNKNOWN:
                continue
            if can_transition(current, new):
                assert _PROGRESS[new] >= _PROGRESS[current], (current, new)
            else:
                assert _PROGRESS[new] <= _PROGRESS[current], (current, new)


@given(sst.tracking_histories(packages=1), st.data())
def test_no_event_ever_regresses_a_package(
    events: list[TrackingEvent], data: st.DataObject
) -> None:
    """One more event (stale, late, illegal or unknown) never lowers how far a package got: a
    delivered package, in particular, never goes back before delivered."""
    before = fold_package(events, tracking_number="1Z000000000001")
    extra = data.draw(
        sst.tracking_events(
            event_id=st.just("evt-extra"),
            tracking_number=st.just(before.tracking_number),
        )
    )
    after = fold_package([*events, extra], tracking_number=before.tracking_number)
    assert _rank(after) >= _rank(before)
    if before.status is M.DELIVERED:
        assert after.base_status in {M.DELIVERED, M.RETURNING_TO_SENDER, M.RETURNED}


@given(sst.tracking_histories(packages=1, min_size=1), st.data())
def test_a_later_event_moves_only_along_the_table(
    events: list[TrackingEvent], data: st.DataObject
) -> None:
    """An event after all others is applied only if the table allows it; else nothing changes."""
    before = fold_package(events)
    last = max(e.occurred_at for e in events)
    later = data.draw(
        sst.tracking_events(
            event_id=st.just("evt-later"),
            tracking_number=st.just(before.tracking_number),
            occurred_at=st.just(last + timedelta(minutes=1)),
        )
    )
    after = fold_package([*events, later])
    current = (
        before.base_status
        if before.in_exception and later.milestone is not M.EXCEPTION
        else before.status
    )
    if can_transition(current, later.milestone):
        assert after.status is later.milestone
        assert after.applied == (*before.applied, later)
    else:
        assert after.model_copy(update={"anomalies": before.anomalies}) == before
        assert after.anomalies[-1].event == later


@given(
    sst.tracking_histories(),
    st.lists(
        sst.tracking_events(milestone=st.just(M.UNKNOWN)),
        max_size=3,
        unique_by=lambda e: e.event_id,
    ),
)
def test_unknown_events_change_no_state(
    events: list[TrackingEvent], unknown: list[TrackingEvent]
) -> None:
    """Adding unknown-milestone events changes no package state; they only add anomalies.

    An unknown event of a package not seen before still reveals that package (as ``unknown``).
    """
    known = [e for e in events if e.event_id not in {u.event_id for u in unknown}]
    before = fold(known)
    after = fold(known + unknown)
    revealed = {u.tracking_number for u in unknown} - {p.tracking_number for p in before.packages}
    assert after == fold(known + unknown, tracking_numbers=revealed)
    assert fold(known, tracking_numbers=revealed).status is after.status
    for package in after.packages:
        previous = before.package(package.tracking_number)
        if previous is None:
            assert (package.status, package.applied) == (Milestone.UNKNOWN, ())
        else:
            assert package.model_copy(update={"anomalies": previous.anomalies}) == previous
    assert after.applied == before.applied
    added = [a for a in after.anomalies if a not in before.anomalies]
    assert len(added) == len(unknown)
    assert {a.event for a in added} == set(unknown)
    assert {a.reason for a in added} <= {AnomalyReason.UNKNOWN_MILESTONE}


@given(sst.tracking_histories(packages=3))
def test_partially_delivered_means_some_but_not_all(events: list[TrackingEvent]) -> None:
    """partially_delivered exactly when some, not all, packages are delivered."""
    state = fold(events)
    delivered = [p.is_delivered for p in state.packages]
    assert state.partially_delivered is (any(delivered) and not all(delivered))
    if delivered and all(delivered):
        assert state.status is ShipmentStatus.DELIVERED
