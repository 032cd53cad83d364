"""The picking status rule: the canonical fold of a batch, gated by the status Odoo holds."""

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
from shipsync.odoo._status import batch_state, decide, read_status, status_value
from shipsync.testing import strategies as sst

M = Milestone
S = ShipmentStatus
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
OCA = OdooFieldMap()
IDENTITY = OdooFieldMap(status_values={s: s.value for s in S if s is not S.UNKNOWN})


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
    """The batch's folded status replaces the stored one only along a legal move."""
    state = batch_state([_event(n, m) for n, m in enumerate(events)])
    decision = decide(fields, state, stored)
    assert decision.allowed is allowed
    assert decision.value == value
    assert (decision.refusal is None) is allowed


def test_a_refusal_names_both_statuses() -> None:
    """The reason given for keeping a status says what would have followed what."""
    decision = decide(IDENTITY, batch_state([_event(1, M.IN_TRANSIT)]), "delivered")
    assert decision.refusal == "in_transit may not follow delivered (stored 'delivered')"


def test_a_partial_delivery_in_one_batch_is_not_delivered() -> None:
    """One package delivered and one still moving is partially delivered, not delivered."""
    state = batch_state([_event(1, M.DELIVERED, ref="A"), _event(2, M.IN_TRANSIT, ref="B")])
    assert state.status is S.PARTIALLY_DELIVERED
    assert decide(IDENTITY, state, "in_transit").value == "partially_delivered"
    assert not decide(IDENTITY, state, "delivered").allowed


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


def _split_apply(history: list[TrackingEvent], cut: int, rng: object) -> tuple[str | None, ...]:
    """Fold the first ``cut`` events (in time) into a stored value, then apply the others,
    shuffled, as a later batch; return the stored value before and after, and the path of
    values the fold of all events goes through."""
    ordered = sorted(history, key=sort_key)
    first, later = ordered[:cut], ordered[cut:]
    rng.shuffle(later)  # type: ignore[attr-defined]
    stored = status_value(IDENTITY, fold(first).status) if first else None
    final = stored
    if later:
        state = batch_state(later)
        decision = decide(IDENTITY, state, stored)
        if decision.allowed and state.status is not S.UNKNOWN:
            final = status_value(IDENTITY, state.status)
    path = tuple(status_value(IDENTITY, S(e.milestone.value)) for e in fold(ordered).applied)
    return stored, final, *path


@given(
    sst.tracking_histories(packages=1, max_size=12),
    st.integers(min_value=0, max_value=12),
    st.randoms(use_true_random=False),
)
def test_a_later_batch_moves_a_picking_only_along_the_fold_of_all_events(
    history: list[TrackingEvent], cut: int, rng: object
) -> None:
    """Whatever the split in time and the order inside the later batch, the picking keeps its
    status or takes one the fold of all the events went through; without exceptions it ends
    exactly where that fold ends. (A stored ``exception`` does not keep the milestone it
    branched from, so what may leave it is not checked against that milestone.)"""
    stored, final, *path = _split_apply(history, cut, rng)
    if stored != "exception":
        assert final == stored or final in path
    if all(e.milestone is not M.EXCEPTION for e in history):
        assert final == (path[-1] if path else None)
