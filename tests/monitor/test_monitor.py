"""The monitor store: idempotent, order-independent, service levels and breaches, both backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipsync.canonical import (
    ChargeType,
    Event,
    FreightCharge,
    FreightDiscrepancyFound,
    FreightInvoice,
    FreightInvoiceLine,
    FreightInvoiceReceived,
    FreightRateQuoted,
    LineClass,
    Milestone,
    Money,
    PodCaptured,
    ProofOfDelivery,
    RateQuote,
    ShipmentCreated,
    SlaKind,
    TrackingEvent,
    default_catalogue,
    event_for_tracking,
    fold,
)
from shipsync.canonical._finance import Discrepancy
from shipsync.errors import ConfigurationError, InvalidInputError
from shipsync.monitor import Monitor, MonitorStore, SlaPolicy
from shipsync.testing.fake_carrier import sample_shipment
from shipsync.testing.sample_flow import SampleFlow

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
HOUR = 3600.0


def _track(shipment: str, milestone: Milestone, hours: float, n: int = 0) -> Event:
    tracking = TrackingEvent(
        event_id=f"{shipment}-{milestone.value}-{n}",
        shipment_id=shipment,
        tracking_number=f"T{shipment}",
        carrier="fake",
        milestone=milestone,
        occurred_at=T0 + timedelta(hours=hours),
        recorded_at=T0 + timedelta(hours=hours),
        carrier_code=milestone.value[:2].upper(),
    )
    return event_for_tracking(tracking, source="shipsync/fake")


def _created(shipment: str, hours: float = 0) -> Event:
    return ShipmentCreated.of(
        sample_shipment(shipment_id=shipment), source="shop", time=T0 + timedelta(hours=hours)
    )


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MonitorStore]:
    if request.param == "sqlite":
        opened = MonitorStore(tmp_path / "monitor.db")
    else:
        dsn = request.getfixturevalue("postgres_dsn")
        opened = MonitorStore(dsn)
        opened._db.tx(
            lambda execute: [
                execute(f"DELETE FROM {t}", ())
                for t in (
                    "monitor_events",
                    "monitor_shipments",
                    "monitor_status_counts",
                    "monitor_lag",
                    "monitor_invoices",
                    "monitor_disputes",
                    "monitor_breaches",
                )
            ]
        )
    yield opened
    opened.close()


def test_applying_an_event_twice_changes_nothing(store: MonitorStore) -> None:
    """The second application of an event is refused and leaves every count as it was."""
    event = _track("S1", Milestone.PICKED_UP, 1)
    assert store.apply(event, handled_at=T0.timestamp() + 2 * HOUR)
    before = (store.status_counts(), store.lag())
    assert not store.apply(event, handled_at=T0.timestamp() + 3 * HOUR)
    assert (store.status_counts(), store.lag()) == before == ({"picked_up": 1}, before[1])
    assert before[1][0].count == 1


def test_service_levels_breach_and_risk_by_the_policy(store: MonitorStore) -> None:
    """Each service level counts breached and at-risk shipments by its threshold."""
    now = T0.timestamp() + 100 * HOUR
    policy = SlaPolicy(
        label_wait=timedelta(hours=1),
        stale_feed=timedelta(hours=24),
        missing_pod=timedelta(hours=12),
        late_delivery_grace=timedelta(hours=10),
    )
    store.apply(_created("LABEL-LATE", 98))  # booked 2 h ago: breached
    store.apply(_created("LABEL-RISK", 99.2))  # 48 min of 60: at risk
    store.apply(_created("LABEL-OK", 99.9))
    store.apply(_track("STALE", Milestone.IN_TRANSIT, 70))  # 30 h silent: breached
    store.apply(_track("FRESH", Milestone.IN_TRANSIT, 90))  # 10 h
    store.apply(_track("NOPOD", Milestone.DELIVERED, 80))  # 20 h without POD: breached
    store.apply(_track("POD", Milestone.DELIVERED, 80))
    store.apply(
        PodCaptured.of(
            ProofOfDelivery(
                shipment_id="POD", tracking_number="TPOD", delivered_at=T0 + timedelta(hours=80)
            ),
            source="shipsync/fake",
            time=T0 + timedelta(hours=80),
        )
    )
    store.apply(_track("OFD", Milestone.OUT_FOR_DELIVERY, 85))  # 15 h, no promise: breached
    store.apply(_track("PROMISED", Milestone.OUT_FOR_DELIVERY, 85))
    rate = sample_rate(date(2026, 3, 7))  # promised for a later day: not late
    store.apply(FreightRateQuoted.of(rate, source="shop", time=T0))
    counts = {s.kind: (s.breached, s.at_risk) for s in store.indicators(policy, now=now).sla}
    assert counts == {
        SlaKind.LABEL_WAIT: (1, 1),
        SlaKind.STALE_FEED: (1, 0),
        SlaKind.MISSING_POD: (1, 0),
        SlaKind.LATE_DELIVERY: (1, 0),
    }
    listed = store.shipments(sla=SlaKind.STALE_FEED, policy=policy, now=now)
    assert [s.shipment_id for s in listed] == ["STALE"]


def sample_rate(estimated: date) -> RateQuote:
    from shipsync.canonical import Rate

    return RateQuote(
        shipment_id="PROMISED",
        rate=Rate(
            carrier="fake",
            service="standard",
            total=Money.of("8.00", "EUR"),
            estimated_delivery=estimated,
        ),
        quoted_at=T0,
    )


def test_breaches_become_events_once(store: MonitorStore) -> None:
    """A check publishes each breach as a valid ``sla.breached`` event, and never twice."""
    published: list[Event] = []

    class Sink:
        def publish(self, events: list[Event]) -> None:
            published.extend(events)

    clock = [T0.timestamp() + 50 * HOUR]
    monitor = Monitor(store, sink=Sink(), clock=lambda: clock[0])
    monitor(_track("S1", Milestone.PICKED_UP, 1))
    monitor(_track("S2", Milestone.IN_TRANSIT, 49))
    (breach,) = monitor.check()
    assert monitor.check() == []
    assert published == [breach]
    parsed = default_catalogue.parse(breach.to_json())
    assert parsed == breach
    assert breach.data.kind is SlaKind.STALE_FEED
    assert breach.data.shipment_id == "S1"
    assert breach.data.status == "picked_up"  # the last known state is kept
    assert store.shipment("S1").status == "picked_up"  # type: ignore[union-attr]
    monitor(breach)  # the breach coming back through the dispatcher changes nothing
    clock[0] += 48 * HOUR
    assert {b.data.shipment_id for b in monitor.check()} == {"S2"}


def test_exceptions_are_bucketed_by_age_and_finance_feeds_the_tiles(store: MonitorStore) -> None:
    """Exception age buckets, invoices pending and disputes with their amounts."""
    now = T0.timestamp() + 100 * HOUR
    store.apply(_track("E1", Milestone.EXCEPTION, 99))
    store.apply(_track("E2", Milestone.EXCEPTION, 90))
    store.apply(_track("E3", Milestone.EXCEPTION, 10))
    assert dict(store.exceptions_by_age(SlaPolicy(), now)) == {
        "<4h": 1,
        "<1d": 1,
        "<3d": 0,
        ">3d": 1,
    }
    invoice = FreightInvoice(
        invoice_number="INV-1",
        carrier="fake",
        issued_at=T0,
        currency="EUR",
        lines=(
            FreightInvoiceLine(
                line_number=1,
                tracking_number="T1",
                charges=(
                    FreightCharge(type=ChargeType.BASE_FREIGHT, amount=Money.of("12.50", "EUR")),
                ),
            ),
        ),
        total=Money.of("12.50", "EUR"),
    )
    store.apply(FreightInvoiceReceived.of(invoice, source="fake", time=T0))
    discrepancy = Discrepancy(
        invoice_number=invoice.invoice_number,
        line_number=1,
        tracking_number="T1",
        kind=LineClass.OVERCHARGE,
        billed=Money.of("12.50", "EUR"),
        expected=Money.of("8.00", "EUR"),
        difference=Money.of("4.50", "EUR"),
    )
    store.apply(FreightDiscrepancyFound.of(discrepancy, source="fake", time=T0))
    assert store.invoices_pending() == 1
    assert store.disputes() == (1, {"EUR": Decimal("4.50")})


@settings(max_examples=25, deadline=None)
@given(
    order=st.permutations(list(range(5))),
    repeats=st.lists(st.integers(0, 4), max_size=4),
)
def test_the_shipment_row_does_not_depend_on_order_or_duplicates(
    tmp_path_factory: pytest.TempPathFactory, order: list[int], repeats: list[int]
) -> None:
    """Any order and any duplicates of a shipment's events give the canonical fold's status."""
    path = tmp_path_factory.mktemp("m") / "monitor.db"
    store = MonitorStore(path)
    story = [
        _track("S1", Milestone.LABEL_CREATED, 0),
        _track("S1", Milestone.PICKED_UP, 2),
        _track("S1", Milestone.IN_TRANSIT, 5),
        _track("S1", Milestone.OUT_FOR_DELIVERY, 20),
        _track("S1", Milestone.DELIVERED, 24),
    ]
    try:
        for i in [*order, *repeats]:
            store.apply(story[i])
        row = store.shipment("S1")
        expected = fold([e.data for e in story], shipment_id="S1")  # type: ignore[attr-defined]
        assert row is not None
        assert row.status == expected.status.value == "delivered"
        assert row.delivered_at == T0 + timedelta(hours=24)
        assert store.status_counts() == {"delivered": 1}
    finally:
        store.close()


def test_the_indicators_agree_with_the_carriers_own_tracking(tmp_path: Path) -> None:
    """After a sample flow, statuses by milestone equal folding the carrier's tracking API."""
    flow = SampleFlow(tmp_path, shipments=24)
    monitor = Monitor(MonitorStore(tmp_path / "monitor.db"), clock=flow.now)
    flow.dispatcher.subscribe(None, monitor, name="monitor")
    try:
        flow.run(hours=208)
        flow.replay()
        expected: dict[str, int] = {}
        for shipment_id, numbers in flow.booked.items():
            tracking = [t for n in numbers for t in flow.client.track(n)]
            status = fold(tracking, shipment_id=shipment_id).status.value
            expected[status] = expected.get(status, 0) + 1
        assert monitor.store.status_counts() == expected
        assert monitor.indicators().shipments == flow.shipments
    finally:
        flow.close()
        monitor.store.close()


def test_bad_policies_and_limits_are_typed_errors(tmp_path: Path) -> None:
    """A policy with a wrong field or a bad list limit raises a typed error naming it."""
    with pytest.raises(ConfigurationError) as caught:
        SlaPolicy.from_mapping({"stale_feed": -5})
    assert caught.value.path == "stale_feed"
    with pytest.raises(ConfigurationError):
        SlaPolicy.from_mapping({"exception_buckets": [7200, 3600]})
    store = MonitorStore(tmp_path / "m.db")
    with pytest.raises(InvalidInputError):
        store.shipments(limit=0)
    store.close()


def test_the_public_surface_is_pinned() -> None:
    """``shipsync.monitor`` and ``shipsync.telemetry`` export exactly these names."""
    import shipsync.monitor
    import shipsync.telemetry

    assert shipsync.monitor.__all__ == [
        "BOOKED",
        "BREACH_SOURCE",
        "LAG_BUCKETS",
        "BreachSink",
        "CarrierHealth",
        "CarrierHealthRow",
        "DeadLetterSummary",
        "Indicators",
        "LagSummary",
        "Monitor",
        "MonitorStore",
        "ShipmentRow",
        "SlaCount",
        "SlaPolicy",
        "TenantMonitors",
        "Timeline",
        "TimelineEntry",
        "dead_letter_summary",
    ]
    assert shipsync.telemetry.__all__ == [
        "SCOPE",
        "SYSTEM",
        "ShipsyncInstrumentor",
        "available",
        "configure",
        "enabled",
        "set_enabled",
        "without_trace_context",
    ]
    for module in (shipsync.monitor, shipsync.telemetry):
        for name in module.__all__:
            assert getattr(module, name) is not None


def test_two_workers_applying_one_shipment_at_once_agree_with_the_fold(
    store: MonitorStore, tmp_path: Path
) -> None:
    """Two connections applying one shipment's events concurrently end at the full fold."""
    import threading

    target = tmp_path / "monitor.db" if not store.postgres else store._db_target
    other = MonitorStore(target)
    story = [
        _track("RACE", milestone, hours, n)
        for n, (milestone, hours) in enumerate(
            [
                (Milestone.LABEL_CREATED, 0),
                (Milestone.PICKED_UP, 2),
                (Milestone.IN_TRANSIT, 5),
                (Milestone.IN_TRANSIT, 9),
                (Milestone.OUT_FOR_DELIVERY, 20),
                (Milestone.DELIVERED, 24),
            ]
        )
    ]
    halves = [(store, story[0::2]), (other, story[1::2])]
    threads = [
        threading.Thread(target=lambda s=s, part=part: [s.apply(e) for e in part])
        for s, part in halves
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.close()
    row = store.shipment("RACE")
    assert row is not None
    assert row.status == "delivered"
    assert row.last_event_at == T0 + timedelta(hours=24)
    assert store.status_counts() == {"delivered": 1}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(
    data=st.dictionaries(
        st.sampled_from(
            [
                "label_wait",
                "stale_feed",
                "missing_pod",
                "late_delivery_grace",
                "at_risk",
                "exception_buckets",
                "surprise",
            ]
        ),
        json_values,
        max_size=4,
    )
)
def test_any_policy_document_gives_a_policy_or_a_configuration_error(
    data: dict[str, object],
) -> None:
    """A policy file's content, whatever it is, loads or raises ``ConfigurationError``."""
    path: str | None = None
    try:
        policy = SlaPolicy.from_mapping(data)
    except ConfigurationError as exc:
        path = exc.path
    else:
        assert all(policy.threshold(kind).total_seconds() > 0 for kind in SlaKind)
        return
    assert path
