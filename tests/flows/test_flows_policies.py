"""Policies: invoice holds, proof of delivery, stale feeds, and notifications that never block."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipsync.canonical import Event, PodCaptured
from shipsync.canonical._shipment import ProofOfDelivery
from shipsync.canonical._tracking import Milestone
from shipsync.errors import ConfigurationError
from shipsync.flows import (
    Dispatcher,
    HandlerContext,
    InvoiceReleaseGate,
    ProofOfDeliveryCheck,
    SQLiteDeadLetters,
    StaleFeedMonitor,
)
from shipsync.idempotency import MemoryStore
from shipsync.retry import set_testing
from shipsync.testing.flows import make_tracking_event

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def at(minutes: int, milestone: Milestone, shipment: str = "S1") -> Event:
    return make_tracking_event(shipment, minutes, milestone, at=T0 + timedelta(minutes=minutes))


def test_an_exception_holds_invoice_release_until_progress() -> None:
    """An exception holds release; a later progress event clears it."""
    gate = InvoiceReleaseGate()
    gate(at(1, Milestone.IN_TRANSIT))
    assert gate.may_release("S1")
    gate(at(2, Milestone.EXCEPTION))
    hold = gate.hold_of("S1")
    assert hold is not None
    assert hold.since == T0 + timedelta(minutes=2)
    assert not gate.may_release("S1")
    assert [h.shipment_id for h in gate.holds()] == ["S1"]
    gate(at(3, Milestone.OUT_FOR_DELIVERY))
    assert gate.may_release("S1")
    assert gate.holds() == []


def test_a_late_older_progress_event_does_not_clear_a_newer_exception() -> None:
    """Progress that happened before the exception, arriving after it, keeps the hold."""
    gate = InvoiceReleaseGate()
    gate(at(5, Milestone.EXCEPTION))
    gate(at(4, Milestone.IN_TRANSIT))
    assert not gate.may_release("S1")


def test_a_late_older_exception_does_not_hold_after_newer_progress() -> None:
    """An exception that happened before a progress event already seen sets no hold."""
    gate = InvoiceReleaseGate()
    gate(at(6, Milestone.DELIVERED))
    gate(at(5, Milestone.EXCEPTION))
    assert gate.may_release("S1")


def test_manual_resolution_clears_until_the_next_exception() -> None:
    """resolve() clears the current hold; a newer exception holds again."""
    gate = InvoiceReleaseGate()
    gate(at(1, Milestone.EXCEPTION))
    assert gate.resolve("S1", by="ops@example")
    assert gate.may_release("S1")
    assert not gate.resolve("S1", by="ops@example")
    gate(at(2, Milestone.EXCEPTION))
    assert not gate.may_release("S1")


ORDERABLE = st.permutations(
    [
        (1, Milestone.IN_TRANSIT),
        (2, Milestone.EXCEPTION),
        (3, Milestone.IN_TRANSIT),
        (4, Milestone.EXCEPTION),
    ]
)


@given(ORDERABLE)
def test_the_hold_depends_on_the_events_not_their_arrival_order(
    order: list[tuple[int, Milestone]],
) -> None:
    """In any arrival order, the newest fact (an exception at minute 4) decides: held."""
    gate = InvoiceReleaseGate()
    for minutes, milestone in order:
        gate(at(minutes, milestone))
    hold = gate.hold_of("S1")
    assert hold is not None
    assert hold.since == T0 + timedelta(minutes=4)
    gate.close()


def _pod(shipment: str, minutes: int) -> PodCaptured:
    pod = ProofOfDelivery(
        shipment_id=shipment,
        tracking_number=f"TN{shipment}",
        delivered_at=T0 + timedelta(minutes=minutes),
    )
    return PodCaptured.of(pod, source="shipsync/test", time=T0 + timedelta(minutes=minutes))


def test_delivered_without_proof_is_flagged_and_not_ready_for_revenue(tmp_path: Path) -> None:
    """A delivery without POD is flagged after the grace time; with POD it is revenue-ready."""
    check = ProofOfDeliveryCheck(tmp_path / "p.db")
    check(at(10, Milestone.DELIVERED, "S1"))
    check(at(10, Milestone.DELIVERED, "S2"))
    check(_pod("S2", 11))
    check(at(1, Milestone.IN_TRANSIT, "S3"))
    assert not check.ready_for_revenue("S1")
    assert check.ready_for_revenue("S2")
    assert not check.ready_for_revenue("S3")
    now = T0 + timedelta(minutes=20)
    assert [f.shipment_id for f in check.flags(now)] == ["S1"]
    assert check.flags(now, grace=timedelta(hours=1)) == []
    (flag,) = check.flags(now)
    assert flag.kind == "delivered_without_pod"
    check(_pod("S1", 30))
    assert check.flags(now) == []
    check.close()


def test_a_stale_feed_raises_a_flag_and_changes_nothing() -> None:
    """Open shipments silent longer than max_silence are flagged; final ones never are."""
    monitor = StaleFeedMonitor(max_silence=timedelta(hours=2))
    monitor(at(0, Milestone.IN_TRANSIT, "S1"))
    monitor(at(0, Milestone.IN_TRANSIT, "S2"))
    monitor(at(30, Milestone.DELIVERED, "S2"))
    monitor(at(100, Milestone.IN_TRANSIT, "S3"))
    monitor(at(5, Milestone.PICKED_UP, "S3"))
    flags = monitor.check(T0 + timedelta(hours=3))
    assert [(f.shipment_id, f.kind) for f in flags] == [("S1", "stale_feed")]
    assert "in_transit" in flags[0].detail
    assert monitor.check(T0 + timedelta(hours=1)) == []
    monitor.close()


def test_stale_feed_needs_a_positive_silence() -> None:
    """A zero max_silence is a configuration error."""
    with pytest.raises(ConfigurationError):
        StaleFeedMonitor(max_silence=timedelta(0))


async def test_a_failing_notification_never_blocks_execution(tmp_path: Path) -> None:
    """With the notifier down, Odoo and invoice policies still run for every event, at once."""
    letters = SQLiteDeadLetters(tmp_path / "dlq.db")
    gate = InvoiceReleaseGate()
    odoo: list[str] = []

    def notify(event: Event, ctx: HandlerContext) -> None:
        raise ConnectionError("smtp down")

    d = Dispatcher(MemoryStore(), letters)
    d.subscribe(None, notify, name="notify", blocking=False)
    d.subscribe(None, lambda e, ctx: odoo.append(e.id), name="odoo")
    d.subscribe(None, gate, name="invoice-gate")
    events = [at(1, Milestone.EXCEPTION), at(2, Milestone.DELIVERED)]
    with set_testing() as waits:
        report = await d.dispatch(events)
    assert odoo == [e.id for e in events]
    assert gate.may_release("S1")
    assert waits.sleeps == []
    assert report.dead_lettered == 2
    assert {x.handler for x in letters.list()} == {"notify"}
    letters.close()


def test_the_durability_pragma_is_checked(tmp_path: Path) -> None:
    """synchronous takes SQLite's NORMAL, FULL or EXTRA; anything else is a configuration error."""
    InvoiceReleaseGate(tmp_path / "p.db", synchronous="NORMAL").close()
    with pytest.raises(ConfigurationError):
        InvoiceReleaseGate(tmp_path / "p.db", synchronous="OFF")
