"""Folding from a known state: batch by batch equals all at once, and a stored status resumes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipsync.canonical import (
    Anomaly,
    AnomalyReason,
    Milestone,
    PackageState,
    Reason,
    ShipmentState,
    ShipmentStatus,
    TrackingEvent,
    fold,
    fold_package,
    sort_key,
)
from shipsync.canonical._state import _PROGRESS
from shipsync.errors import InvalidInputError
from shipsync.testing import strategies as sst

M = Milestone
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def ev(
    event_id: str,
    milestone: Milestone,
    *,
    hours: float = 0,
    tracking_number: str = "1Z1",
    shipment_id: str = "SHP-1",
    reason: Reason = Reason.NORMAL,
    code: str = "X",
) -> TrackingEvent:
    """A tracking event ``hours`` after T0."""
    when = T0 + timedelta(hours=hours)
    return TrackingEvent(
        event_id=event_id,
        shipment_id=shipment_id,
        tracking_number=tracking_number,
        carrier="fake",
        milestone=milestone,
        reason=reason,
        occurred_at=when,
        recorded_at=when,
        carrier_code=code,
    )


def _split(
    events: list[TrackingEvent], data: st.DataObject, *, copies: bool
) -> tuple[list[TrackingEvent], list[TrackingEvent]]:
    """Cut the events, in the fold's order, into an earlier and a later batch; the later one
    is shuffled and, with ``copies``, also carries copies of some earlier events."""
    ordered = sorted(events, key=sort_key)
    cut = data.draw(st.integers(min_value=0, max_value=len(ordered)), label="cut")
    earlier, later = ordered[:cut], ordered[cut:]
    if copies and earlier:
        later += data.draw(st.lists(st.sampled_from(earlier), max_size=4), label="copies")
    return earlier, data.draw(st.permutations(later), label="later")


def _same_anomalies(a: tuple[Anomaly, ...], b: tuple[Anomaly, ...]) -> bool:
    return sorted(x.model_dump_json() for x in a) == sorted(x.model_dump_json() for x in b)


def _rank(package: PackageState) -> int:
    return _PROGRESS[package.base_status]


# --- batch by batch equals all at once ---------------------------------------------------------


@given(sst.tracking_histories(packages=3), st.data())
def test_folding_a_later_batch_from_the_earlier_state_equals_folding_all_at_once(
    events: list[TrackingEvent], data: st.DataObject
) -> None:
    """When every new event of the later batch comes after every event of the earlier one in
    the fold's order (e.g. it all occurred later), the shipment and each package end exactly as
    if all events were folded at once; copies of earlier events in the later batch are absorbed.
    Anomalies are the same collection, in another order."""
    earlier, later = _split(events, data, copies=True)
    whole = fold(events)
    stepped = fold(later, start=fold(earlier))
    assert stepped.model_dump(exclude={"anomalies", "packages"}) == whole.model_dump(
        exclude={"anomalies", "packages"}
    )
    assert len(stepped.packages) == len(whole.packages)
    for step, full in zip(stepped.packages, whole.packages, strict=True):
        assert step.model_dump(exclude={"anomalies"}) == full.model_dump(exclude={"anomalies"})
        assert _same_anomalies(step.anomalies, full.anomalies)
    assert _same_anomalies(stepped.anomalies, whole.anomalies)


@given(sst.tracking_histories(packages=1, min_size=1), st.data())
def test_fold_package_from_the_earlier_state_equals_folding_all_at_once(
    events: list[TrackingEvent], data: st.DataObject
) -> None:
    """The same holds for one package: status, base, reason, time and applied events agree."""
    number = events[0].tracking_number
    earlier, later = _split(events, data, copies=True)
    whole = fold_package(events)
    stepped = fold_package(later, start=fold_package(earlier, tracking_number=number))
    assert stepped.model_dump(exclude={"anomalies"}) == whole.model_dump(exclude={"anomalies"})
    assert _same_anomalies(stepped.anomalies, whole.anomalies)


@given(sst.tracking_histories(packages=1, min_size=1), st.data())
def test_a_resumed_status_and_base_fold_on_like_the_state_they_were_read_from(
    events: list[TrackingEvent], data: st.DataObject
) -> None:
    """Status and base are all the fold needs to go on: resuming from them gives the status
    and base of folding all events at once (and its reason once a later event applies), when
    the later batch's events come after the earlier ones and repeat none of them."""
    number = events[0].tracking_number
    earlier, later = _split(events, data, copies=False)
    before = fold_package(earlier, tracking_number=number)
    start = PackageState.resume(before.status, before.base_status, tracking_number=number)
    whole = fold_package(events)
    resumed = fold_package(later, start=start)
    assert (resumed.status, resumed.base_status) == (whole.status, whole.base_status)
    if resumed.applied:
        assert resumed.reason == whole.reason
        assert resumed.last_event_at == whole.last_event_at


@given(sst.tracking_histories(packages=1, min_size=1), st.data())
def test_a_later_batch_in_any_order_never_regresses_the_start(
    events: list[TrackingEvent], data: st.DataObject
) -> None:
    """Whatever the split (old events may come in the later batch), folding on from a state
    never lowers how far the package got, and moves it only to a milestone of the batch."""
    number = events[0].tracking_number
    earlier = data.draw(st.lists(st.sampled_from(events), unique=True), label="earlier")
    later = [e for e in events if e not in earlier]
    before = fold_package(earlier, tracking_number=number)
    after = fold_package(later, start=before)
    assert _rank(after) >= _rank(before)
    assert after.status is before.status or after.status in {e.milestone for e in later}
    assert after.applied[: len(before.applied)] == before.applied


# --- examples ----------------------------------------------------------------------------------


def test_a_stale_scan_after_a_stored_return_is_refused_when_the_base_is_kept() -> None:
    """An exception on the way back resumed with its base refuses a stale in-transit scan."""
    start = PackageState.resume(M.EXCEPTION, M.RETURNING_TO_SENDER, tracking_number="1Z1")
    state = fold_package([ev("e9", M.IN_TRANSIT, hours=9)], start=start)
    assert state.status is M.EXCEPTION
    assert state.base_status is M.RETURNING_TO_SENDER
    assert [a.reason for a in state.anomalies] == [AnomalyReason.REGRESSION]
    assert fold_package([ev("e9", M.RETURNED, hours=9)], start=start).status is M.RETURNED


def test_an_exception_resumed_without_its_base_may_be_left_by_any_progress() -> None:
    """What a store forgot cannot be checked: without a base, any milestone clears the exception."""
    start = PackageState.resume(M.EXCEPTION, tracking_number="1Z1")
    assert start.base_status is M.UNKNOWN
    state = fold_package([ev("e9", M.IN_TRANSIT, hours=9)], start=start)
    assert (state.status, state.base_status) == (M.IN_TRANSIT, M.IN_TRANSIT)


@pytest.mark.parametrize(
    ("status", "base", "expected"),
    [
        (M.DELIVERED, None, M.DELIVERED),
        (M.DELIVERED, M.DELIVERED, M.DELIVERED),
        (M.UNKNOWN, None, M.UNKNOWN),
        (M.EXCEPTION, M.IN_TRANSIT, M.IN_TRANSIT),
        (M.EXCEPTION, M.LABEL_CREATED, M.LABEL_CREATED),
    ],
    ids=["final", "final-same-base", "nothing-known", "exception-on-the-way", "exception-early"],
)
def test_resume_fills_in_the_base(
    status: Milestone, base: Milestone | None, expected: Milestone
) -> None:
    """Outside an exception the base is the status itself; an exception keeps the one given."""
    state = PackageState.resume(status, base, tracking_number="1Z1")
    assert (state.status, state.base_status) == (status, expected)
    assert (state.applied, state.anomalies, state.reason) == ((), (), None)


@pytest.mark.parametrize(
    ("status", "base"),
    [
        (M.IN_TRANSIT, M.PICKED_UP),
        (M.EXCEPTION, M.EXCEPTION),
        (M.EXCEPTION, M.DELIVERED),
        (M.EXCEPTION, M.RETURNED),
        (M.UNKNOWN, M.DELIVERED),
    ],
    ids=["base-differs", "exception-of-exception", "after-delivered", "after-returned", "unknown"],
)
def test_resume_refuses_a_state_the_fold_never_reaches(status: Milestone, base: Milestone) -> None:
    """A delivered package does not fall into exception, so that pair cannot be resumed."""
    with pytest.raises(InvalidInputError) as info:
        PackageState.resume(status, base, tracking_number="1Z1")
    assert info.value.path == "base_status"


def test_an_event_folded_before_with_other_content_is_a_conflicting_duplicate() -> None:
    """What was applied cannot be taken back: the version folded first stands."""
    first = fold_package([ev("e1", M.IN_TRANSIT, hours=1)])
    again = fold_package([ev("e1", M.DELIVERED, hours=1)], start=first)
    assert again.status is M.IN_TRANSIT
    assert again.applied == first.applied
    [anomaly] = again.anomalies
    assert anomaly.reason is AnomalyReason.CONFLICTING_DUPLICATE
    assert anomaly.event.milestone is M.DELIVERED
    assert "folded first stands" in anomaly.message


def test_an_older_event_in_a_later_batch_is_judged_against_the_state_reached() -> None:
    """Folding on is not re-folding: an exception that happened before the in-transit scan it
    arrives after is applied now (all at once it would have been cleared by that scan)."""
    first = fold([ev("e2", M.IN_TRANSIT, hours=2)])
    late = ev("e1", M.EXCEPTION, hours=1, reason=Reason.WEATHER)
    assert fold([late], start=first).status is ShipmentStatus.EXCEPTION
    assert fold([late, *first.applied]).status is ShipmentStatus.IN_TRANSIT
    assert fold([late], start=first).last_event_at == T0 + timedelta(hours=2)


def test_package_states_by_tracking_number_seed_a_shipment() -> None:
    """A host's stored statuses start the fold; seeded packages without events stay in it."""
    start = {
        "A": PackageState.resume(M.DELIVERED, tracking_number="A"),
        "B": PackageState.resume(M.OUT_FOR_DELIVERY, tracking_number="B"),
    }
    stale = fold([ev("a1", M.IN_TRANSIT, hours=5, tracking_number="A")], start=start)
    assert stale.status is ShipmentStatus.PARTIALLY_DELIVERED
    assert [a.reason for a in stale.anomalies] == [AnomalyReason.AFTER_FINAL]
    done = fold([ev("b1", M.DELIVERED, hours=5, tracking_number="B")], start=start)
    assert done.status is ShipmentStatus.DELIVERED
    assert [p.tracking_number for p in done.packages] == ["A", "B"]


def test_a_shipment_start_keeps_its_wrong_shipment_anomalies_and_its_id() -> None:
    """Anomalies that belong to no package are carried over, and the shipment id is start's."""
    first = fold(
        [ev("e1", M.PICKED_UP), ev("x1", M.IN_TRANSIT, shipment_id="OTHER")], shipment_id="SHP-1"
    )
    then = fold(
        [ev("e2", M.IN_TRANSIT, hours=1), ev("x1", M.IN_TRANSIT, shipment_id="OTHER")], start=first
    )
    assert then.shipment_id == "SHP-1"
    assert then.status is ShipmentStatus.IN_TRANSIT
    assert [(a.event_id, a.reason) for a in then.anomalies] == [
        ("x1", AnomalyReason.WRONG_SHIPMENT)
    ]


def test_a_start_of_another_package_or_shipment_is_refused() -> None:
    """Folding one package's or shipment's events on from another's state is a mistake."""
    start = PackageState.resume(M.IN_TRANSIT, tracking_number="A")
    with pytest.raises(InvalidInputError, match="package 'A'"):
        fold_package([], tracking_number="B", start=start)
    with pytest.raises(InvalidInputError, match="start\\['B'\\]"):
        fold([], start={"B": start})
    with pytest.raises(InvalidInputError, match="shipment 'SHP-1'"):
        fold([], shipment_id="SHP-2", start=ShipmentState(shipment_id="SHP-1"))


def test_a_package_start_names_the_package() -> None:
    """With a start, the tracking number need not be given, even for an empty batch."""
    start = PackageState.resume(M.PICKED_UP, tracking_number="A")
    assert fold_package([], start=start) == start
    moved = fold_package([ev("a1", M.IN_TRANSIT, tracking_number="A")], start=start)
    assert (moved.tracking_number, moved.status) == ("A", M.IN_TRANSIT)
