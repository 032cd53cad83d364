"""The ledger: idempotent re-runs, crash and resume without double-posting, corrections, bills."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from _settle_helpers import clock, index_of, invoice_csv, line, write

from shipsync.canonical import (
    AccrualKind,
    ChargeType,
    Event,
    FreightChargeAccrued,
    LineClass,
    Money,
    SettlementCompleted,
)
from shipsync.settlement import (
    FAKE_CARRIER_COLUMNS,
    DisputePolicy,
    InvoiceRow,
    InvoiceStatus,
    LineOutcome,
    MemoryShipmentIndex,
    MemoryVendorBillSink,
    Reconciler,
    RowProblem,
    SettlementLedger,
    read_invoice_rows,
)

B = ChargeType.BASE_FREIGHT


def _index() -> MemoryShipmentIndex:
    return index_of(*((f"S{i}", f"T{i}", {B: "10.00"}) for i in range(1, 8)))


def _text(invoice: str = "INV-1", *, base: str = "10.00", supersedes: str = "") -> str:
    return invoice_csv(
        *(
            line(i, f"T{i}", base if i == 2 else "10.00", invoice=invoice, supersedes=supersedes)
            for i in range(1, 8)
        ),
        line(8, "T99", "1.00", invoice=invoice, supersedes=supersedes),
    )


def _run(
    ledger: SettlementLedger,
    rows: Iterable[InvoiceRow | RowProblem],
    events: list[Event],
    **options: object,
) -> Reconciler:
    reconciler = Reconciler(
        _index(),
        carrier="fake",
        ledger=ledger,
        on_event=events.append,
        now=clock,
        checkpoint_every=2,
        **options,  # type: ignore[arg-type]
    )
    reconciler.run(rows)
    return reconciler


def _rows(path: Path) -> Iterator[InvoiceRow | RowProblem]:
    return read_invoice_rows(path, FAKE_CARRIER_COLUMNS)


def _crash_after(rows: Iterator[InvoiceRow | RowProblem], count: int) -> Iterator[InvoiceRow]:
    for n, row in enumerate(rows):
        if n == count:
            raise RuntimeError("power cut")
        assert isinstance(row, InvoiceRow)
        yield row


def test_running_the_same_invoice_again_emits_nothing(tmp_path: Path) -> None:
    """A settled invoice read again is reported as already settled; no event is re-published."""
    path = write(tmp_path, _text())
    with SettlementLedger(tmp_path / "ledger.sqlite") as ledger:
        first: list[Event] = []
        report = _run(ledger, _rows(path), first).report()
        assert report.invoices[0].status is InvoiceStatus.SETTLED
        second: list[Event] = []
        again = _run(ledger, _rows(path), second).report()
    assert second == []
    assert again.invoices[0].status is InvoiceStatus.ALREADY_SETTLED
    assert again.invoices[0].total == report.invoices[0].total
    assert again.invoices[0].classes == report.invoices[0].classes
    assert sum(isinstance(e, SettlementCompleted) for e in first) == 1


@pytest.mark.parametrize("crash_at", [0, 1, 3, 4, 7])
def test_a_crash_resumes_without_double_posting(tmp_path: Path, crash_at: int) -> None:
    """After a crash mid-invoice, the resumed run publishes exactly the events of a clean run."""
    path = write(tmp_path, _text())
    clean: list[Event] = []
    with SettlementLedger(tmp_path / "clean.sqlite") as ledger:
        clean_report = _run(ledger, _rows(path), clean).report()
    events: list[Event] = []
    with SettlementLedger(tmp_path / "crash.sqlite") as ledger:
        with pytest.raises(RuntimeError, match="power cut"):
            _run(ledger, _crash_after(_rows(path), crash_at), events)
        resumed = _run(ledger, _rows(path), events).report()
    ids = Counter(e.id for e in events)
    assert max(ids.values()) == 1
    assert set(ids) == {e.id for e in clean}
    assert resumed.invoices[0].status is InvoiceStatus.SETTLED
    assert resumed.invoices[0].classes == clean_report.invoices[0].classes
    assert resumed.invoices[0].total == clean_report.invoices[0].total


def test_a_sink_failure_redelivers_only_what_was_not_delivered(tmp_path: Path) -> None:
    """Events leave the outbox once delivered; a failing sink gets the rest on the next run."""
    path = write(tmp_path, _text())
    delivered: list[Event] = []

    def flaky(event: Event) -> None:
        if len(delivered) == 5:
            delivered.append(event)
            raise ConnectionError("broker down")
        delivered.append(event)

    with SettlementLedger(tmp_path / "ledger.sqlite") as ledger:
        reconciler = Reconciler(
            _index(), carrier="fake", ledger=ledger, on_event=flaky, now=clock, checkpoint_every=2
        )
        with pytest.raises(ConnectionError):
            reconciler.run(_rows(path))
        _run(ledger, _rows(path), delivered)
        assert ledger.pending() == []
    ids = Counter(e.id for e in delivered)
    assert sorted(ids.values(), reverse=True)[:2] == [2, 1]
    assert sum(isinstance(e, SettlementCompleted) for e in delivered) == 1


def test_different_lines_under_a_settled_number_are_refused(tmp_path: Path) -> None:
    """A second, different invoice with a settled number is refused and emits nothing."""
    with SettlementLedger(tmp_path / "ledger.sqlite") as ledger:
        _run(ledger, _rows(write(tmp_path, _text(), "a.csv")), [])
        events: list[Event] = []
        report = _run(ledger, _rows(write(tmp_path, _text(base="12.00"), "b.csv")), events).report()
    assert events == []
    (summary,) = report.invoices
    assert summary.status is InvoiceStatus.REFUSED
    assert "supersedes" in summary.note
    assert report.problem_count == 1


def test_a_correction_reverses_the_superseded_invoice(tmp_path: Path) -> None:
    """A corrected invoice reverses the earlier actual accruals and may bill the same packages."""
    with SettlementLedger(tmp_path / "ledger.sqlite") as ledger:
        _run(ledger, _rows(write(tmp_path, _text(base="12.00"), "a.csv")), [])
        events: list[Event] = []
        outcomes: list[LineOutcome] = []
        report = _run(
            ledger,
            _rows(write(tmp_path, _text("INV-2", supersedes="INV-1"), "b.csv")),
            events,
            on_line=outcomes.append,
        ).report()
        assert ledger.invoice("fake", "INV-1") is not None
        old = ledger.invoice("fake", "INV-1")
        assert old is not None
        assert old.status == "superseded"
        assert old.superseded_by == "INV-2"
    reversals = [
        e
        for e in events
        if isinstance(e, FreightChargeAccrued)
        and e.data.kind is AccrualKind.REVERSAL
        and e.data.reverses is not None
    ]
    assert len(reversals) == 7
    assert sum((e.data.amount for e in reversals), Money.zero("USD")) == Money.of("-72.00", "USD")
    assert LineClass.DUPLICATE_LINE not in {o.line_class for o in outcomes}
    assert report.invoices[0].supersedes == "INV-1"


def test_packages_billed_in_an_earlier_run_are_duplicates(tmp_path: Path) -> None:
    """The ledger remembers billed packages, so a later invoice billing them again is caught."""
    with SettlementLedger(tmp_path / "ledger.sqlite") as ledger:
        _run(ledger, _rows(write(tmp_path, _text(), "a.csv")), [])
        outcomes: list[LineOutcome] = []
        later = invoice_csv(line(1, "T3", "10.00", invoice="INV-9"))
        _run(ledger, _rows(write(tmp_path, later, "b.csv")), [], on_line=outcomes.append)
    assert [o.line_class for o in outcomes] == [LineClass.DUPLICATE_LINE]


@pytest.mark.parametrize(
    ("policy", "billed", "held"),
    [(DisputePolicy.HOLD, "60.00", "13.00"), (DisputePolicy.FLAG, "73.00", "0.00")],
)
def test_a_settled_invoice_becomes_one_draft_vendor_bill(
    tmp_path: Path, policy: DisputePolicy, billed: str, held: str
) -> None:
    """Disputed lines are held back or flagged; re-runs never post a second bill."""
    bills = MemoryVendorBillSink()
    path = write(tmp_path, _text(base="12.00"))
    with SettlementLedger(tmp_path / "ledger.sqlite") as ledger:
        first = _run(ledger, _rows(path), [], bills=bills, dispute_policy=policy).report()
        again = _run(ledger, _rows(path), [], bills=bills, dispute_policy=policy).report()
    assert bills.calls == 1
    (bill,) = bills.bills.values()
    assert bill.total == Money.of(billed, "USD")
    assert bill.held_back == Money.of(held, "USD")
    assert bill.total + bill.held_back == first.invoices[0].total
    assert any(line.disputed for line in bill.lines) is (policy is DisputePolicy.FLAG)
    assert first.invoices[0].bill_reference == again.invoices[0].bill_reference is not None


def test_without_a_ledger_a_correction_is_reported_not_guessed(tmp_path: Path) -> None:
    """With nothing durable to reverse, a 'supersedes' is reported as a problem."""
    reconciler = Reconciler(_index(), carrier="fake", now=clock)
    report = reconciler.run(_rows(write(tmp_path, _text("INV-2", supersedes="INV-1"))))
    assert report.invoices[0].status is InvoiceStatus.SETTLED
    assert "without a ledger" in report.problems[0].message


def test_a_correction_interrupted_after_its_reversals_is_not_reversed_twice(
    tmp_path: Path,
) -> None:
    """A crash right after superseding leaves reversals queued once; the re-run adds none."""
    with SettlementLedger(tmp_path / "ledger.sqlite") as ledger:
        _run(ledger, _rows(write(tmp_path, _text(base="12.00"), "a.csv")), [])
        events: list[Event] = []
        correction = write(tmp_path, _text("INV-2", supersedes="INV-1"), "b.csv")
        with pytest.raises(RuntimeError):
            _run(ledger, _crash_after(_rows(correction), 1), events)
        report = _run(ledger, _rows(correction), events).report()
    reversals = [e for e in events if isinstance(e, FreightChargeAccrued) and e.data.reverses]
    assert len(reversals) == 7
    assert report.problem_count == 0
