"""Reconciliation: every line gets one class, totals add back to the invoice, events explain."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from _settle_helpers import NOW, clock, index_of, invoice_csv, line, write
from hypothesis import given
from hypothesis import strategies as st

from shipsync.canonical import (
    Accrual,
    AccrualKind,
    Address,
    ChargeType,
    Event,
    FreightCharge,
    FreightChargeAccrued,
    FreightDiscrepancyFound,
    FreightInvoice,
    FreightInvoiceLine,
    FreightInvoiceMatched,
    FreightRateQuoted,
    LineClass,
    Milestone,
    Money,
    Package,
    Parcel,
    Rate,
    RateQuote,
    SettlementCompleted,
    Shipment,
    ShipmentCancelled,
    ShipmentCreated,
    TrackingEvent,
    Weight,
)
from shipsync.errors import ConfigurationError, InvalidInputError
from shipsync.settlement import (
    FAKE_CARRIER_COLUMNS,
    Expectation,
    InvoiceRow,
    InvoiceStatus,
    LineOutcome,
    MatchRules,
    MemoryShipmentIndex,
    Reconciler,
    SqliteShipmentIndex,
    Tolerance,
    allocate,
    classify_charges,
    load_shipments_csv,
    read_invoice_rows,
    reconcile_file,
    report_json,
)
from shipsync.testing.settlement import SAMPLE_RULES, write_sample_files

B, F, R = ChargeType.BASE_FREIGHT, ChargeType.FUEL, ChargeType.RESIDENTIAL
RULES = MatchRules(
    tolerances={B: Tolerance(absolute="0.05", percent="2"), F: Tolerance(absolute="0.10")}
)


def _d(text: str) -> Decimal:
    return Decimal(text)


@pytest.mark.parametrize(
    ("billed", "expected", "result"),
    [
        ({B: "10.00"}, {B: "10.00"}, (LineClass.MATCHED, None, "0")),
        ({B: "10.05"}, {B: "10.00"}, (LineClass.MATCHED, None, "0")),
        ({B: "10.20"}, {B: "10.00"}, (LineClass.MATCHED, None, "0")),
        ({B: "10.21"}, {B: "10.00"}, (LineClass.OVERCHARGE, B, "0.21")),
        ({B: "9.79"}, {B: "10.00"}, (LineClass.UNDERCHARGE, B, "-0.21")),
        ({B: "30.60"}, {B: "30.00"}, (LineClass.MATCHED, None, "0")),
        ({B: "30.61"}, {B: "30.00"}, (LineClass.OVERCHARGE, B, "0.61")),
        ({B: "1.05"}, {B: "1.00"}, (LineClass.MATCHED, None, "0")),
        ({B: "1.06"}, {B: "1.00"}, (LineClass.OVERCHARGE, B, "0.06")),
        ({B: "10.00", R: "4.95"}, {B: "10.00"}, (LineClass.UNQUOTED_SURCHARGE, R, "4.95")),
        (
            {B: "10.00", R: "4.95", ChargeType.ADDRESS_CORRECTION: "17.00"},
            {B: "10.00"},
            (LineClass.ADDRESS_CORRECTION, ChargeType.ADDRESS_CORRECTION, "17.00"),
        ),
        (
            {B: "10.00", ChargeType.DIMENSIONAL_WEIGHT_ADJUSTMENT: "-3.00"},
            {B: "10.00"},
            (LineClass.WEIGHT_ADJUSTMENT, ChargeType.DIMENSIONAL_WEIGHT_ADJUSTMENT, "-3.00"),
        ),
        ({B: "10.00", F: "0.00"}, {B: "10.00"}, (LineClass.MATCHED, None, "0")),
        ({B: "10.00"}, {B: "10.00", F: "1.20"}, (LineClass.UNDERCHARGE, F, "-1.20")),
        ({B: "10.00"}, {B: "10.00", F: "0.10"}, (LineClass.MATCHED, None, "0")),
        ({B: "11.00", F: "0.50"}, {B: "10.00", F: "1.20"}, (LineClass.OVERCHARGE, B, "1.00")),
        ({B: "9.00", F: "2.20"}, {B: "10.00", F: "1.20"}, (LineClass.UNDERCHARGE, B, "-1.00")),
    ],
    ids=[
        "exact",
        "within-absolute",
        "at-percent-boundary",
        "one-cent-past-percent",
        "one-cent-under-percent",
        "boundary-where-floats-fail",
        "one-cent-past-float-boundary",
        "at-absolute-boundary",
        "one-cent-past-absolute",
        "unquoted-residential",
        "address-correction-wins",
        "weight-adjustment-credit",
        "zero-unquoted-charge-ignored",
        "quoted-fuel-not-billed",
        "missing-fuel-within-tolerance",
        "largest-difference-decides-over",
        "tie-goes-to-first-charge-type",
    ],
)
def test_classification_table(
    billed: dict[ChargeType, str],
    expected: dict[ChargeType, str],
    result: tuple[LineClass, ChargeType | None, str],
) -> None:
    """Each row pins one rule: tolerances are exact at the boundary, precedence is fixed."""
    got = classify_charges(
        tuple((kind, _d(amount)) for kind, amount in billed.items()),
        {kind: _d(amount) for kind, amount in expected.items()},
        RULES.table(),
    )
    assert got == (result[0], result[1], _d(result[2]))


def test_tolerances_refuse_floats_and_negatives() -> None:
    """Tolerances are exact and non-negative; a float is refused rather than rounded."""
    with pytest.raises(ConfigurationError):
        Tolerance(absolute=0.05)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        Tolerance(percent="-1")
    with pytest.raises(ConfigurationError):
        Tolerance(percent="abc")


def _labels(path: Path) -> list[str]:
    with path.open(newline="") as handle:
        return [row["x_injected"] for row in csv.DictReader(handle)]


def test_the_sample_invoices_classify_exactly_as_labelled(tmp_path: Path) -> None:
    """On generated invoices (with boundary lines), every line gets the class it was made for."""
    files = write_sample_files(tmp_path, shipments=3000, lines=3000, seed=5, invoices=3)
    outcomes: list[LineOutcome] = []
    report = reconcile_file(
        files.invoice,
        FAKE_CARRIER_COLUMNS,
        load_shipments_csv(files.shipments),
        rules=SAMPLE_RULES,
        on_line=outcomes.append,
    )
    assert [o.line_class.value for o in outcomes] == _labels(files.invoice)
    assert {o.line_class for o in outcomes} == set(LineClass)
    assert len(report.invoices) == 3
    for summary in report.invoices:
        assert summary.status is InvoiceStatus.SETTLED
        lines = [o for o in outcomes if o.invoice_number == summary.invoice_number]
        assert summary.total.amount == sum((o.billed for o in lines), Decimal(0))
        assert summary.matched_total + summary.disputed_total + summary.unknown_total == (
            summary.total
        )
        for kind, total in summary.classes.items():
            of_kind = [o for o in lines if o.line_class is kind]
            assert total.lines == len(of_kind)
            assert total.amount == sum((o.billed for o in of_kind), Decimal(0))
    assert '"status": "settled"' in report_json(report)


_POOL = [f"T{i}" for i in range(6)]


@st.composite
def _invoices(draw: st.DrawFn) -> tuple[MemoryShipmentIndex, list[InvoiceRow]]:
    index = MemoryShipmentIndex()
    for tracking in draw(st.lists(st.sampled_from(_POOL), unique=True)):
        quoted = draw(
            st.dictionaries(
                st.sampled_from([B, F, R]),
                st.decimals(min_value=0, max_value=500, places=2),
                max_size=3,
            )
        )
        index.add(
            Expectation(
                f"S-{tracking}",
                tracking,
                draw(st.sampled_from(["USD", "USD", "EUR"])),
                quoted,
                draw(st.booleans()),
            )
        )
    rows = []
    for number in range(1, draw(st.integers(min_value=0, max_value=12)) + 1):
        charges = draw(
            st.dictionaries(
                st.sampled_from(list(ChargeType)),
                st.decimals(min_value=-200, max_value=500, places=2),
                min_size=1,
                max_size=4,
            )
        )
        items = tuple(charges.items())
        rows.append(
            InvoiceRow(
                number,
                "INV-H",
                NOW.date(),
                "USD",
                number,
                draw(st.sampled_from([*_POOL, "UNKNOWN"])),
                items,
                sum((amount for _, amount in items), Decimal(0)),
            )
        )
    return index, rows


@given(_invoices())
def test_classes_partition_the_lines_and_totals_reconcile_exactly(
    case: tuple[MemoryShipmentIndex, list[InvoiceRow]],
) -> None:
    """For any invoice: one class per line, and matched + disputed + unknown = total, exactly."""
    index, rows = case
    outcomes: list[LineOutcome] = []
    report = Reconciler(index, carrier="fake", rules=RULES, on_line=outcomes.append).run(rows)
    assert len(outcomes) == len(rows)
    if not rows:
        assert report.invoices == ()
        return
    (summary,) = report.invoices
    assert summary.line_count == len(rows)
    assert sum(total.lines for total in summary.classes.values()) == len(rows)
    total = sum((row.total for row in rows), Decimal(0))
    assert summary.total == Money.of(total, "USD")
    parts = summary.matched_total + summary.disputed_total + summary.unknown_total
    assert parts.amount == total
    unknown = sum(
        (o.billed for o in outcomes if o.line_class is LineClass.UNKNOWN_SHIPMENT), Decimal(0)
    )
    assert summary.unknown_total.amount == unknown
    billed_packages = [
        o.tracking_number for o in outcomes if o.line_class is not LineClass.UNKNOWN_SHIPMENT
    ]
    duplicates = sum(o.line_class is LineClass.DUPLICATE_LINE for o in outcomes)
    assert duplicates == len(billed_packages) - len(set(billed_packages))


def test_lines_fall_back_to_carrier_shipment_id_then_reference(tmp_path: Path) -> None:
    """A line whose tracking number is unknown still matches by carrier id, then reference."""
    index = index_of(("S1", "T1", {B: "10.00"}), ("S2", "T2", {B: "20.00"}))
    text = invoice_csv(
        line(1, "NEW-1", "10.00", carrier_id="C-S1"),
        line(2, "NEW-2", "20.00", reference="R-S2"),
        line(3, "NEW-3", "5.00", carrier_id="nope", reference="nope"),
    )
    outcomes: list[LineOutcome] = []
    reconcile_file(write(tmp_path, text), FAKE_CARRIER_COLUMNS, index, on_line=outcomes.append)
    assert [(o.line_class, o.shipment_id) for o in outcomes] == [
        (LineClass.MATCHED, "S1"),
        (LineClass.MATCHED, "S2"),
        (LineClass.UNKNOWN_SHIPMENT, None),
    ]


def test_lines_of_a_multi_package_shipment_match_its_packages_in_turn(tmp_path: Path) -> None:
    """Two lines billed by carrier id against a two-package shipment match both packages."""
    index = MemoryShipmentIndex()
    for tracking in ("P1", "P2"):
        index.add(
            Expectation("S1", tracking, "USD", {B: Decimal("5.00")}), carrier_shipment_id="C1"
        )
    text = invoice_csv(
        line(1, "X1", "5.00", carrier_id="C1"),
        line(2, "X2", "5.00", carrier_id="C1"),
        line(3, "X3", "5.00", carrier_id="C1"),
    )
    outcomes: list[LineOutcome] = []
    reconcile_file(write(tmp_path, text), FAKE_CARRIER_COLUMNS, index, on_line=outcomes.append)
    assert [o.line_class for o in outcomes] == [
        LineClass.MATCHED,
        LineClass.MATCHED,
        LineClass.DUPLICATE_LINE,
    ]


def test_cancelled_and_other_currency_shipments_are_their_own_classes(tmp_path: Path) -> None:
    """Billing a cancelled shipment, or one quoted in EUR on a USD invoice, is flagged."""
    index = index_of(("S1", "T1", {B: "10.00"}), cancelled=True)
    index.add(Expectation("S2", "T2", "EUR", {B: Decimal("10.00")}))
    text = invoice_csv(line(1, "T1", "10.00"), line(2, "T2", "10.00"))
    outcomes: list[LineOutcome] = []
    report = reconcile_file(
        write(tmp_path, text), FAKE_CARRIER_COLUMNS, index, on_line=outcomes.append
    )
    assert [o.line_class for o in outcomes] == [
        LineClass.BILLED_AFTER_CANCELLATION,
        LineClass.CURRENCY_MISMATCH,
    ]
    assert report.invoices[0].disputed_total == Money.of("20.00", "USD")


def _events_of(tmp_path: Path, now: datetime) -> list[Event]:
    index = index_of(("S1", "T1", {B: "10.00", F: "1.20"}), ("S2", "T2", {B: "20.00"}))
    text = invoice_csv(
        line(1, "T1", "10.00", fuel="1.20"),
        line(2, "T2", "25.00"),
        line(3, "T9", "3.00"),
    )
    events: list[Event] = []
    reconcile_file(
        write(tmp_path, text),
        FAKE_CARRIER_COLUMNS,
        index,
        rules=RULES,
        on_event=events.append,
        now=lambda: now,
    )
    return events


def test_events_explain_each_line_and_accrue_the_actuals(tmp_path: Path) -> None:
    """Matched and discrepant lines, accrual reversal and actual, and one settlement event."""
    events = _events_of(tmp_path, NOW)
    kinds = [type(e) for e in events]
    assert kinds == [
        FreightInvoiceMatched,
        FreightChargeAccrued,
        FreightChargeAccrued,
        FreightDiscrepancyFound,
        FreightChargeAccrued,
        FreightChargeAccrued,
        FreightDiscrepancyFound,
        SettlementCompleted,
    ]
    matched = events[0]
    assert isinstance(matched, FreightInvoiceMatched)
    assert matched.data.expected == Money.of("11.20", "USD")
    assert matched.subject == "S1"
    reversal, actual = events[1], events[2]
    assert isinstance(reversal, FreightChargeAccrued)
    assert isinstance(actual, FreightChargeAccrued)
    assert reversal.data.amount == Money.of("-11.20", "USD")
    assert actual.data.amount == Money.of("11.20", "USD")
    over = events[3]
    assert isinstance(over, FreightDiscrepancyFound)
    assert over.data.kind is LineClass.OVERCHARGE
    assert over.data.difference == Money.of("5.00", "USD")
    assert "base freight" in over.data.explanation
    assert "5.00 USD over" in over.data.explanation
    unknown = events[6]
    assert isinstance(unknown, FreightDiscrepancyFound)
    assert unknown.data.kind is LineClass.UNKNOWN_SHIPMENT
    assert unknown.data.shipment_id is None
    done = events[7]
    assert isinstance(done, SettlementCompleted)
    assert done.data.invoice_total == Money.of("39.20", "USD")
    assert done.data.matched_total == Money.of("11.20", "USD")
    assert done.data.disputed_total == Money.of("25.00", "USD")
    assert done.data.unknown_total == Money.of("3.00", "USD")
    for event in events:
        assert event.to_json()


def test_event_ids_do_not_depend_on_when_the_run_happened(tmp_path: Path) -> None:
    """The same invoice reconciled later yields the same event ids, so consumers dedupe."""
    first = [e.id for e in _events_of(tmp_path, NOW)]
    later = [e.id for e in _events_of(tmp_path, NOW + timedelta(days=3))]
    assert first == later
    assert len(set(first)) == len(first)


def _address() -> Address:
    return Address(country="DE", city="Berlin")


def _shipment(shipment_id: str, trackings: list[str]) -> Shipment:
    return Shipment(
        shipment_id=shipment_id,
        carrier="fake",
        service="ground",
        carrier_shipment_id=f"C-{shipment_id}",
        shipper=_address(),
        recipient=_address(),
        packages=tuple(
            Package(parcel=Parcel(weight=Weight(value=Decimal(1), unit="kg")), tracking_number=t)
            for t in trackings
        ),
    )


def test_the_index_builds_from_events_and_splits_quotes_across_packages() -> None:
    """Created, quoted and cancelled events make the index; a quote splits to the cent."""
    quote = Rate(
        carrier="fake",
        service="ground",
        total=Money.of("10.01", "USD"),
        charges=(
            FreightCharge(type=B, amount=Money.of("9.01", "USD")),
            FreightCharge(type=F, amount=Money.of("1.00", "USD")),
        ),
    )
    cancelled = TrackingEvent(
        event_id="e1",
        shipment_id="S2",
        tracking_number="Q1",
        carrier="fake",
        milestone=Milestone.CANCELLED,
        occurred_at=NOW,
        recorded_at=NOW,
        carrier_code="X",
    )
    events: list[Event] = [
        FreightRateQuoted.of(
            RateQuote(shipment_id="S1", rate=quote, quoted_at=NOW), source="t", time=NOW
        ),
        ShipmentCreated.of(_shipment("S1", ["P1", "P2"]), source="t", time=NOW),
        ShipmentCreated.of(_shipment("S2", ["Q1"]), source="t", time=NOW),
        ShipmentCancelled.of(cancelled, source="t", time=NOW),
    ]
    index = MemoryShipmentIndex.from_events(events)
    first, second = index.get("P1"), index.get("P2")
    assert first is not None
    assert second is not None
    assert first.charges == {B: Decimal("4.51"), F: Decimal("0.50")}
    assert second.charges == {B: Decimal("4.50"), F: Decimal("0.50")}
    assert first.total + second.total == Decimal("10.01")
    q1 = index.get("Q1")
    assert q1 is not None
    assert q1.cancelled
    assert index.find("zzz", "C-S1", None) is not None


@given(
    st.decimals(min_value=-10_000, max_value=10_000, places=2),
    st.integers(min_value=1, max_value=30),
)
def test_allocation_always_adds_back(amount: Decimal, parts: int) -> None:
    """Shares differ by at most one cent and add back to the amount exactly."""
    shares = allocate(Money.of(amount, "USD"), parts)
    assert len(shares) == parts
    assert Money.sum(shares, "USD") == Money.of(amount, "USD")
    assert max(s.amount for s in shares) - min(s.amount for s in shares) <= Decimal("0.01")
    with pytest.raises(InvalidInputError):
        allocate(Money.of(amount, "USD"), 0)


def test_a_canonical_invoice_from_a_driver_reconciles_the_same_way() -> None:
    """FreightInvoice values (from fetch_invoices) go through the same rules and checks."""
    index = index_of(("S1", "T1", {B: "10.00"}))
    invoice = FreightInvoice(
        invoice_number="INV-C",
        carrier="fake",
        issued_at=datetime(2026, 11, 20, tzinfo=UTC),
        currency="USD",
        lines=(
            FreightInvoiceLine(
                line_number=1,
                tracking_number="T1",
                charges=(
                    FreightCharge(type=B, amount=Money.of("6.00", "USD")),
                    FreightCharge(type=B, amount=Money.of("4.00", "USD")),
                ),
            ),
            FreightInvoiceLine(
                line_number=2,
                tracking_number="T7",
                charges=(FreightCharge(type=B, amount=Money.of("2.00", "USD")),),
            ),
        ),
        total=Money.of("12.00", "USD"),
    )
    reconciler = Reconciler(index, carrier="fake", now=clock)
    summary = reconciler.reconcile_invoice(invoice)
    assert summary.matched_total == Money.of("10.00", "USD")
    assert summary.unknown_total == Money.of("2.00", "USD")


def test_read_rows_close_their_file(tmp_path: Path) -> None:
    """Reading to the end leaves no file open (warnings are errors in this suite)."""
    path = write(tmp_path, invoice_csv(line(1, "T1", "1.00")))
    assert len(list(read_invoice_rows(path, FAKE_CARRIER_COLUMNS))) == 1


class _OtherIndex:
    """A ShipmentIndex that is not the in-memory one (as a SQL-backed index would be)."""

    def __init__(self, inner: MemoryShipmentIndex) -> None:
        self.inner = inner

    def get(self, tracking_number: str) -> Expectation | None:
        return self.inner.get(tracking_number)

    def find(
        self, tracking_number: str, carrier_shipment_id: str | None, reference: str | None
    ) -> Expectation | None:
        return self.inner.find(tracking_number, carrier_shipment_id, reference)

    def mark_billed(self, tracking_number: str) -> bool:
        return self.inner.mark_billed(tracking_number)

    def unmark_billed(self, tracking_number: str) -> None:
        self.inner.unmark_billed(tracking_number)


def test_any_shipment_index_classifies_like_the_in_memory_one(tmp_path: Path) -> None:
    """The protocol path (decoded expectations) and the in-memory fast path agree line by line."""
    files = write_sample_files(tmp_path, shipments=2000, lines=2000, seed=9)
    fast: list[LineOutcome] = []
    slow: list[LineOutcome] = []
    reconcile_file(
        files.invoice,
        FAKE_CARRIER_COLUMNS,
        load_shipments_csv(files.shipments),
        rules=SAMPLE_RULES,
        on_line=fast.append,
    )
    reconcile_file(
        files.invoice,
        FAKE_CARRIER_COLUMNS,
        _OtherIndex(load_shipments_csv(files.shipments)),
        rules=SAMPLE_RULES,
        on_line=slow.append,
    )
    assert fast == slow


def test_a_sqlite_index_classifies_like_the_in_memory_one(tmp_path: Path) -> None:
    """Loaded from the same shipments file, the SQLite index gives the same outcomes."""
    files = write_sample_files(tmp_path, shipments=1500, lines=1500, seed=13)
    fast: list[LineOutcome] = []
    disk: list[LineOutcome] = []
    reconcile_file(
        files.invoice,
        FAKE_CARRIER_COLUMNS,
        load_shipments_csv(files.shipments),
        rules=SAMPLE_RULES,
        on_line=fast.append,
    )
    with SqliteShipmentIndex(tmp_path / "index.sqlite") as index:
        assert load_shipments_csv(files.shipments, index) is index
        assert len(index) == 1500
        reconcile_file(
            files.invoice, FAKE_CARRIER_COLUMNS, index, rules=SAMPLE_RULES, on_line=disk.append
        )
    assert fast == disk
    with SqliteShipmentIndex(tmp_path / "index.sqlite") as reopened:
        assert reopened.get("1ZFK000000000007") is not None
        assert reopened.mark_billed("1ZFK000000000007")
        reopened.unmark_billed("1ZFK000000000007")
        assert not reopened.mark_billed("1ZFK000000000007")


def test_a_sqlite_index_finds_packages_by_fallback_keys(tmp_path: Path) -> None:
    """Packages added one by one are found by carrier id, unbilled packages first."""
    with SqliteShipmentIndex(":memory:") as index:
        for tracking in ("P1", "P2"):
            index.add(
                Expectation("S1", tracking, "USD", {B: Decimal("5.00")}),
                carrier_shipment_id="C1",
                reference="R1",
            )
        first = index.find("X", "C1", None)
        assert first is not None
        assert first.tracking_number == "P1"
        index.mark_billed("P1")
        second = index.find("X", None, "R1")
        assert second is not None
        assert second.tracking_number == "P2"
        assert index.find("X", "nope", None) is None


def test_without_a_quote_the_estimate_accruals_are_the_expectation() -> None:
    """A shipment never quoted is expected to cost its latest estimate accruals."""

    def estimate(accrual_id: str, kind: ChargeType, amount: str, minutes: int) -> Event:
        return FreightChargeAccrued.of(
            Accrual(
                accrual_id=accrual_id,
                shipment_id="S3",
                kind=AccrualKind.ESTIMATE,
                amount=Money.of(amount, "USD"),
                booked_at=NOW + timedelta(minutes=minutes),
                charge_type=kind,
            ),
            source="t",
            time=NOW,
        )

    events = [
        estimate("a1", B, "9.00", 5),
        ShipmentCreated.of(_shipment("S3", ["Z1"]), source="t", time=NOW),
        estimate("a1", B, "8.00", 1),
        estimate("a2", F, "1.00", 2),
    ]
    found = MemoryShipmentIndex.from_events(events).get("Z1")
    assert found is not None
    assert found.charges == {B: Decimal("9.00"), F: Decimal("1.00")}
