"""The picking status rule: the canonical fold of a batch, from the status Odoo holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipsync.canonical import (
    Milestone,
    ShipmentStatus,
    TrackingEvent,
    fold,
    sort_key,
)
from shipsync.canonical.mappings import OcaIncidentSpelling
from shipsync.odoo import OdooFieldMap
from shipsync.odoo._status import (
    Start,
    base_value,
    batch_state,
    decide,
    read_start,
    read_status,
    status_value,
)
from shipsync.testing import strategies as sst

M = Milestone
S = ShipmentStatus
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
OCA = OdooFieldMap()
IDENTITY = OdooFieldMap(status_values={s: s.value for s in S if s is not S.UNKNOWN})
OCA_BASE = OdooFieldMap(picking_status_base="x_base")
IDENTITY_BASE = IDENTITY.model_copy(update={"picking_status_base": "x_base"})


def _event(n: int, milestone: Milestone, *, ref: str = "T1", shipment: str = "S1") -> TrackingEvent:
    return TrackingEvent(
        event_id=f"ev-{shipment}-{ref}-{n}",
        shipment_id=shipment,
        tracking_number=ref,
        carrier="fake",
        milestone=milestone,
        occurred_at=T0 + timedelta(hours=n),
        recorded_at=T0 + timedelta(hours=n),
        carrier_code=milestone.value.upper(),
    )


@pytest.mark.parametrize(
    ("status", "value"),
    [
        (S.LABEL_CREATED, "shipping_recorded_in_carrier"),
        (S.OUT_FOR_DELIVERY, "in_transit"),
        (S.PARTIALLY_DELIVERED, "in_transit"),
        (S.DELIVERY_ATTEMPTED, "incident"),
        (S.DELIVERED, "customer_delivered"),
        (S.RETURNING_TO_SENDER, "incident"),
        (S.RETURNED, "warehouse_delivered"),
        (S.CANCELLED, "canceled_shipment"),
        (S.UNKNOWN, None),
    ],
    ids=lambda value: str(value),
)
def test_the_default_status_values_are_the_canonical_oca_mapping(
    status: ShipmentStatus, value: str | None
) -> None:
    """Without status_values, a status is written as canonical OCA delivery_state (16.0+)."""
    assert status_value(OCA, status) == value


def test_the_oca_incident_spelling_of_older_odoo_can_be_chosen() -> None:
    """Odoo 15 and earlier spell the incident value ``incidence``."""
    legacy = OdooFieldMap(oca_incident_spelling=OcaIncidentSpelling.INCIDENCE)
    assert status_value(legacy, S.EXCEPTION) == "incidence"
    assert status_value(legacy, S.DELIVERED) == "customer_delivered"


def test_custom_status_values_accept_milestone_keys_and_leave_missing_statuses_alone() -> None:
    """Milestones work as keys; a status without an entry is not written."""
    fields = OdooFieldMap(status_values={M.DELIVERED: "done", M.IN_TRANSIT: "moving"})
    assert status_value(fields, S.DELIVERED) == "done"
    assert status_value(fields, S.PARTIALLY_DELIVERED) is None


@pytest.mark.parametrize(
    ("fields", "stored", "status"),
    [
        (OCA, "customer_delivered", S.DELIVERED),
        (OCA, "incident", S.EXCEPTION),
        (OCA, "incidence", S.EXCEPTION),
        (OCA, "warehouse_delivered", S.RETURNED),
        (OCA, "no_update", None),
        (OCA, "teleported", None),
        (OCA, False, None),
        (OCA, "", None),
        (IDENTITY, "out_for_delivery", S.OUT_FOR_DELIVERY),
        (IDENTITY, "partially_delivered", S.PARTIALLY_DELIVERED),
        (IDENTITY, "something else", None),
        (OdooFieldMap(status_values={M.PICKED_UP: "x", M.DELIVERED: "x"}), "x", S.PICKED_UP),
    ],
    ids=[
        "oca-delivered",
        "oca-incident",
        "oca-incidence",
        "oca-warehouse",
        "oca-no-update",
        "oca-unknown-value",
        "odoo-false",
        "empty",
        "identity",
        "identity-partial",
        "identity-unknown-value",
        "shared-value-reads-least-advanced",
    ],
)
def test_stored_values_read_back_as_statuses(
    fields: OdooFieldMap, stored: object, status: ShipmentStatus | None
) -> None:
    """OCA values read canonically; custom values invert the map; the rest tell nothing."""
    assert read_status(fields, stored) == status


@pytest.mark.parametrize(
    ("fields", "stored", "events", "allowed", "value"),
    [
        (OCA, "customer_delivered", [M.IN_TRANSIT], False, None),
        (OCA, "customer_delivered", [M.RETURNING_TO_SENDER], True, "incident"),
        (OCA, "customer_delivered", [M.DELIVERED], True, None),
        (OCA, None, [M.PICKED_UP, M.DELIVERED], True, "customer_delivered"),
        (OCA, "no_update", [M.IN_TRANSIT], True, "in_transit"),
        (IDENTITY, "out_for_delivery", [M.IN_TRANSIT], False, None),
        (IDENTITY, "delivered", [M.RETURNING_TO_SENDER], True, "returning_to_sender"),
        (IDENTITY, "delivered", [M.RETURNING_TO_SENDER, M.EXCEPTION], True, "exception"),
        (IDENTITY, "delivered", [M.EXCEPTION], False, None),
        (IDENTITY, "returning_to_sender", [M.EXCEPTION], True, "exception"),
        (IDENTITY, "exception", [M.IN_TRANSIT], True, "in_transit"),
        (IDENTITY, "label_created", [M.CANCELLED], True, "cancelled"),
        (IDENTITY, "picked_up", [M.CANCELLED], False, None),
    ],
    ids=[
        "oca-stale-in-transit-after-delivered",
        "oca-return-after-delivered",
        "oca-delivered-again",
        "oca-nothing-stored",
        "oca-no-update",
        "depot-scan-after-out-for-delivery",
        "return-after-delivered",
        "exception-on-the-way-back",
        "exception-after-delivered",
        "exception-from-its-base",
        "exception-cleared",
        "cancelled-before-pickup",
        "cancelled-after-pickup",
    ],
)
def test_a_batch_moves_a_picking_only_where_the_transition_table_allows(
    fields: OdooFieldMap,
    stored: str | None,
    events: list[Milestone],
    allowed: bool,
    value: str | None,
) -> None:
    """The batch, folded from the stored status, replaces it only along a legal move."""
    decision = decide(fields, [_event(n, m) for n, m in enumerate(events)], stored)
    assert decision.allowed is allowed
    assert decision.value == value
    assert (decision.refusal is None) is allowed


def test_a_refusal_names_both_statuses() -> None:
    """The reason given for keeping a status says what would have followed what."""
    decision = decide(IDENTITY, [_event(1, M.IN_TRANSIT)], "delivered")
    assert decision.refusal == "in_transit may not follow delivered (stored 'delivered')"


def test_a_partial_delivery_in_one_batch_is_not_delivered() -> None:
    """One package delivered and one still moving is partially delivered, not delivered."""
    events = [_event(1, M.DELIVERED, ref="A"), _event(2, M.IN_TRANSIT, ref="B")]
    assert batch_state(events).status is S.PARTIALLY_DELIVERED
    assert decide(IDENTITY, events, "in_transit").value == "partially_delivered"
    kept = decide(IDENTITY, events, "delivered")
    assert (kept.allowed, kept.value, kept.status) == (False, None, S.DELIVERED)
    assert len(kept.state.anomalies) == 2


def test_stale_events_of_the_batch_are_anomalies_and_set_no_status() -> None:
    """An in-transit scan after delivery in the same batch is reported, delivered stays."""
    state = batch_state([_event(1, M.DELIVERED), _event(2, M.IN_TRANSIT), _event(3, M.UNKNOWN)])
    assert state.status is S.DELIVERED
    assert [a.event_id for a in state.anomalies] == ["ev-S1-T1-2", "ev-S1-T1-3"]


def test_with_several_shipments_on_one_picking_the_latest_gives_the_status() -> None:
    """A re-booked picking follows the shipment with the latest applied event."""
    state = batch_state(
        [
            _event(1, M.IN_TRANSIT, shipment="OLD"),
            _event(2, M.PICKED_UP, shipment="OLD"),
            _event(3, M.LABEL_CREATED, shipment="NEW"),
        ]
    )
    assert state.shipment_id == "NEW"
    assert state.status is S.LABEL_CREATED
    assert [a.event_id for a in state.anomalies] == ["ev-OLD-T1-2"]


@pytest.mark.parametrize(
    ("fields", "stored", "base", "start"),
    [
        (OCA_BASE, "incident", "returning_to_sender", Start(M.RETURNING_TO_SENDER)),
        (OCA_BASE, "incident", "lost", Start(M.LOST)),
        (OCA_BASE, "incident", "in_transit", Start(M.EXCEPTION, M.IN_TRANSIT)),
        (OCA_BASE, "incident", None, Start(M.EXCEPTION)),
        (OCA_BASE, "incident", "delivered", Start(M.EXCEPTION)),
        (OCA_BASE, "incident", "teleported", Start(M.EXCEPTION)),
        (OCA_BASE, "in_transit", "out_for_delivery", Start(M.OUT_FOR_DELIVERY)),
        (OCA_BASE, "in_transit", "delivered", Start(M.IN_TRANSIT)),
        (OCA_BASE, "no_update", "delivered", None),
        (IDENTITY_BASE, "exception", "picked_up", Start(M.EXCEPTION, M.PICKED_UP)),
        (IDENTITY_BASE, "exception", "exception", Start(M.EXCEPTION)),
        (IDENTITY_BASE, "partially_delivered", None, Start(M.OUT_FOR_DELIVERY)),
    ],
    ids=[
        "incident-is-a-return",
        "incident-is-lost",
        "incident-is-an-exception-with-base",
        "incident-without-base",
        "incident-with-unreachable-base",
        "incident-with-garbage-base",
        "shared-in-transit-is-exact",
        "base-of-another-value-is-ignored",
        "nothing-known",
        "identity-exception",
        "identity-exception-of-exception",
        "partially-delivered-resumes-in-the-last-mile",
    ],
)
def test_the_base_field_says_which_status_a_shared_value_or_an_exception_stands_for(
    fields: OdooFieldMap, stored: str, base: str | None, start: Start | None
) -> None:
    """The stored base names the milestone behind a shared value, or an exception's base."""
    assert read_start(fields, stored, base) == start


def test_the_base_written_is_the_exception_s_base_or_the_status_itself() -> None:
    """An exception stores where it branched from; other statuses store themselves."""
    assert base_value(batch_state([_event(1, M.IN_TRANSIT), _event(2, M.EXCEPTION)])) == (
        "in_transit"
    )
    assert base_value(batch_state([_event(1, M.EXCEPTION)])) is None
    assert base_value(batch_state([_event(1, M.RETURNING_TO_SENDER)])) == "returning_to_sender"
    partial = batch_state([_event(1, M.DELIVERED, ref="A"), _event(2, M.IN_TRANSIT, ref="B")])
    assert base_value(partial) is None


def test_a_stale_scan_after_a_return_written_as_incident_is_refused_with_a_base_field() -> None:
    """OCA writes a return as ``incident``; with the base kept beside it, a stale in-transit
    scan no longer moves the picking back (without it, ``incident`` forgets the return)."""
    stale = [_event(9, M.IN_TRANSIT)]
    kept = decide(OCA_BASE, stale, "incident", "returning_to_sender")
    assert (kept.allowed, kept.value) == (False, None)
    assert kept.refusal == "in_transit may not follow exception (stored 'incident')"
    assert [a.reason.value for a in kept.state.anomalies] == ["regression"]
    forgot = decide(OCA, stale, "incident")
    assert forgot.value == "in_transit"


def test_the_base_is_written_with_the_status_and_when_only_it_changes() -> None:
    """A return after a delivery attempt keeps OCA's ``incident`` but changes the base."""
    attempt = decide(OCA_BASE, [_event(1, M.DELIVERY_ATTEMPTED)], None)
    assert (attempt.value, attempt.base, attempt.base_changed) == (
        "incident",
        "delivery_attempted",
        True,
    )
    back = decide(OCA_BASE, [_event(2, M.RETURNING_TO_SENDER)], "incident", "delivery_attempted")
    assert (back.value, back.base, back.base_changed) == (None, "returning_to_sender", True)
    same = decide(OCA_BASE, [_event(3, M.RETURNING_TO_SENDER)], "incident", "returning_to_sender")
    assert (same.value, same.base_changed) == (None, False)


def _split_apply(
    fields: OdooFieldMap, history: list[TrackingEvent], cut: int, rng: object
) -> tuple[tuple[str | None, str | None], tuple[str | None, str | None]]:
    """Fold the first ``cut`` events (in time) into stored values, then apply the others,
    shuffled, as a later batch; return the stored (status, base) before and after."""
    ordered = sorted(history, key=sort_key)
    first, later = ordered[:cut], ordered[cut:]
    rng.shuffle(later)  # type: ignore[attr-defined]
    state = fold(first)
    stored = status_value(fields, state.status) if first else None
    base = base_value(state) if first and fields.picking_status_base else None
    before = (stored, base)
    if later:
        decision = decide(fields, later, stored, base)
        stored = decision.value if decision.value is not None else stored
        if fields.picking_status_base and decision.base_changed:
            base = decision.base
    return before, (stored, base)


@pytest.mark.parametrize("fields", [OCA_BASE, IDENTITY_BASE], ids=["oca", "identity"])
@given(
    history=sst.tracking_histories(packages=1, max_size=12),
    cut=st.integers(min_value=0, max_value=12),
    rng=st.randoms(use_true_random=False),
)
def test_with_a_base_field_batch_by_batch_ends_where_the_fold_of_all_events_ends(
    fields: OdooFieldMap, history: list[TrackingEvent], cut: int, rng: object
) -> None:
    """Whatever the split in time and the order inside the later batch, a picking whose base
    is stored ends with the status and base of folding all its events at once, even around
    exceptions and OCA's shared values."""
    _, after = _split_apply(fields, history, cut, rng)
    whole = fold(history)
    expected = status_value(fields, whole.status) if history else None
    assert after == (expected, base_value(whole) if history else None)


@given(
    sst.tracking_histories(packages=1, max_size=12),
    st.integers(min_value=0, max_value=12),
    st.randoms(use_true_random=False),
)
def test_without_a_base_field_only_a_stored_exception_loses_its_check(
    history: list[TrackingEvent], cut: int, rng: object
) -> None:
    """Without a base field, the picking still ends where the fold of all events ends unless
    it held an exception, whose base it forgot; then any progress may leave it."""
    (stored, _), (final, _) = _split_apply(IDENTITY, history, cut, rng)
    whole = fold(history)
    if stored != "exception":
        assert final == (status_value(IDENTITY, whole.status) if history else None)
    else:
        assert final == "exception" or final in {e.milestone.value for e in history}
