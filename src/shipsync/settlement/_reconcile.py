"""Reconciliation: stream invoice lines against the shipment index, classify, total, publish.

Theory of operation: rows arrive in file order, grouped by invoice. Each invoice line is looked up
in the :class:`~shipsync.settlement.ShipmentIndex` and classified (see ``_rules``); a tally per
class keeps line counts and exact ``Decimal`` amounts, so memory does not grow with the number of
lines. At the end of each invoice the tally is checked: matched + disputed + unknown must equal the
sum of the lines, else :class:`~shipsync.errors.ReconciliationError` (a bug, never ignored).

With a :class:`~shipsync.settlement.SettlementLedger` the run is durable and idempotent: progress
is committed every ``checkpoint_every`` lines with the billed packages and the events of the
batch; a crashed run resumes after the last committed line; an invoice settled before is read
again only to compare its digest (same: nothing emitted; different: refused). A corrected invoice
(``supersedes``) releases the packages of the invoice it replaces and reverses its actual accruals.

Events (when an ``on_event`` sink is given): ``freight.invoice_matched`` or
``freight.discrepancy_found`` per line, ``freight.charge_accrued`` (reversal of the estimate and
posting of the actual) per line with a known, current shipment in the expected currency, and
``settlement.completed`` per invoice. Ids are stable, derived from carrier, invoice, line and kind.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from pathlib import Path
from typing import Any

from shipsync.canonical import (
    CURRENCY_EXPONENTS,
    Accrual,
    AccrualKind,
    ChargeType,
    Event,
    FreightChargeAccrued,
    FreightInvoice,
    LineClass,
    Money,
    Settlement,
    SettlementCompleted,
    default_catalogue,
)
from shipsync.errors import InvalidInputError, ReconciliationError
from shipsync.settlement._bills import DisputePolicy, VendorBillSink, build_vendor_bill
from shipsync.settlement._columns import InvoiceColumns
from shipsync.settlement._index import (
    BILLED_MARK,
    QUOTED_AT,
    MemoryShipmentIndex,
    ShipmentIndex,
    encode_record,
)
from shipsync.settlement._index import (
    RECORD_SEPARATOR as _RS,
)
from shipsync.settlement._ledger import SettlementLedger
from shipsync.settlement._parse import (
    InvoiceRow,
    RowProblem,
    iter_invoice_rows,
    open_invoice_file,
)
from shipsync.settlement._publish import event_id, explain, line_events
from shipsync.settlement._report import (
    ClassTotal,
    InvoiceStatus,
    InvoiceSummary,
    LineBatch,
    LineOutcome,
    ReconciliationReport,
    ReportProblem,
)
from shipsync.settlement._rules import MatchRules, classify_charges
from shipsync.settlement._stream import can_stream, stream_lines
from shipsync.telemetry import _hooks as _telemetry

__all__ = ["Reconciler", "reconcile_file", "report_json", "rows_of_invoice"]

_CLASSES: tuple[LineClass, ...] = tuple(LineClass)
_POS = {kind: i for i, kind in enumerate(_CLASSES)}
_MATCHED = _POS[LineClass.MATCHED]
_UNKNOWN = _POS[LineClass.UNKNOWN_SHIPMENT]
_ZERO = Decimal(0)
MAX_PROBLEMS_KEPT = 10_000
_EXACT = Context(prec=60, rounding=ROUND_HALF_EVEN)
_LINE_BATCH = 4_096  # outcomes handed to on_lines at a time, at most (row path)
_new_tuple = tuple.__new__
_KEPT = 1 << 14  # entries per memo of the hot loop (a few MB each when full)
_CHARGE_ORDER = tuple(ChargeType)
_UNKNOWN_SHIPMENT = LineClass.UNKNOWN_SHIPMENT
_DUPLICATE = LineClass.DUPLICATE_LINE
_CANCELLED = LineClass.BILLED_AFTER_CANCELLATION
_MISMATCH = LineClass.CURRENCY_MISMATCH

_Finder = Callable[[str, str | None, str | None], tuple[str, str] | None]


def _package_finder(index: ShipmentIndex) -> tuple[_Finder, Callable[[str, str], bool]]:
    """How the reconciler finds a line's package as ``(tracking number, record)`` (the layout
    of ``MemoryShipmentIndex``) and bills it (True: it was billed before).

    An in-memory index is read directly; any other index through the protocol, its
    expectations encoded as records, so one classification serves every index.
    """
    if type(index) is MemoryShipmentIndex:
        memory = index
        records = memory._records
        get = records.get
        find_record = memory.find_record

        def find_in_memory(
            tracking: str, carrier_id: str | None, reference: str | None
        ) -> tuple[str, str] | None:
            record = get(tracking)
            if record is not None:
                return tracking, record
            return find_record(tracking, carrier_id, reference)

        def bill_in_memory(tracking: str, record: str) -> bool:
            if record[0] == BILLED_MARK:
                return True
            records[tracking] = BILLED_MARK + record
            return False

        return find_in_memory, bill_in_memory

    def find(
        tracking: str, carrier_id: str | None, reference: str | None
    ) -> tuple[str, str] | None:
        expectation = index.find(tracking, carrier_id, reference)
        if expectation is None:
            return None
        return expectation.tracking_number, encode_record(expectation)

    def bill(tracking: str, record: str) -> bool:
        return index.mark_billed(tracking)

    return find, bill


def _utc_now() -> datetime:
    return datetime.now(UTC)


class _Tally:
    """Running counts and exact amounts of one invoice."""

    __slots__ = (
        "amounts",
        "counts",
        "credits",
        "currency",
        "digest",
        "fast_counts",
        "fast_minor",
        "last_line",
        "total",
    )

    def __init__(self, currency: str) -> None:
        self.currency = currency
        self.counts = [0] * len(_CLASSES)
        self.amounts = [_ZERO] * len(_CLASSES)
        self.total = _ZERO
        self.credits = 0
        self.last_line = 0
        self.digest = hashlib.sha256()
        # Lines the file hot loop (``_stream``) counted, and their totals in minor units.
        self.fast_counts = [0] * len(_CLASSES)
        self.fast_minor = [0] * len(_CLASSES)

    def fold(self) -> None:
        """Add the hot loop's lines to the counts and exact amounts. Each of their amounts had
        exactly the currency's decimals, so the sums are what adding them as ``Decimal`` gives,
        exponent included."""
        exponent = CURRENCY_EXPONENTS.get(self.currency, 0)
        for i, lines in enumerate(self.fast_counts):
            if lines:
                amount = Decimal(self.fast_minor[i]).scaleb(-exponent)
                self.counts[i] += lines
                self.amounts[i] += amount
                self.total += amount
                self.fast_counts[i] = 0
                self.fast_minor[i] = 0

    def state(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "counts": self.counts,
            "amounts": [str(a) for a in self.amounts],
            "total": str(self.total),
            "credits": self.credits,
        }

    @classmethod
    def restore(cls, state: dict[str, Any]) -> _Tally:
        tally = cls(state["currency"])
        tally.counts = [int(c) for c in state["counts"]]
        tally.amounts = [Decimal(a) for a in state["amounts"]]
        tally.total = Decimal(state["total"])
        tally.credits = int(state["credits"])
        return tally


def _digest_row(row: InvoiceRow) -> bytes:
    charges = ";".join(f"{kind.value}={amount}" for kind, amount in row.charges)
    return (
        f"{row.line_number}\x1f{row.tracking_number}\x1f{row.carrier_shipment_id or ''}\x1f"
        f"{row.reference or ''}\x1f{row.ship_date or ''}\x1f{charges}\n"
    ).encode()


class _Invoice:
    """The invoice being read: its tally, mode and pending batch."""

    __slots__ = (
        "actuals",
        "billed",
        "events",
        "first",
        "mode",
        "note",
        "number",
        "resume_after",
        "resume_digest",
        "since_commit",
        "stored",
        "tally",
    )

    def __init__(self, number: str, first: InvoiceRow, tally: _Tally) -> None:
        self.number = number
        self.first = first
        self.tally = tally
        self.mode = "live"  # live | resume | replay | refused
        self.note = ""
        self.resume_after = 0
        self.resume_digest = ""
        self.stored: dict[str, Any] | None = None
        self.billed: list[str] = []
        self.actuals: list[tuple[int, str]] = []
        self.events: list[Event] = []
        self.since_commit = 0


class Reconciler:
    """Reconciles carrier invoices of one carrier against a shipment index.

    ``on_event`` receives the events (none are built without it); ``on_line`` receives every
    line's :class:`LineOutcome`, or ``on_lines`` the same outcomes a :class:`LineBatch` of
    consecutive lines at a time (every invoice's lines before its summary is made; with a
    columnar index, classes without an object per line); ``ledger`` makes the run durable and
    idempotent; ``bills`` posts a draft vendor bill per settled invoice. ``now`` is the clock
    (events and accruals are stamped with it); tests pass a fixed one.
    """

    def __init__(
        self,
        index: ShipmentIndex,
        *,
        carrier: str,
        rules: MatchRules | None = None,
        ledger: SettlementLedger | None = None,
        on_event: Callable[[Event], None] | None = None,
        on_line: Callable[[LineOutcome], None] | None = None,
        on_lines: Callable[[LineBatch], None] | None = None,
        bills: VendorBillSink | None = None,
        dispute_policy: DisputePolicy = DisputePolicy.HOLD,
        source: str | None = None,
        now: Callable[[], datetime] = _utc_now,
        checkpoint_every: int = 5_000,
    ) -> None:
        if checkpoint_every < 1:
            raise InvalidInputError("checkpoint_every must be at least 1")
        if on_line is not None and on_lines is not None:
            raise InvalidInputError("give on_line or on_lines, not both", path="on_lines")
        self.on_lines = on_lines
        self._line_buffer: list[LineOutcome] = []
        if on_lines is not None:
            on_line = self._buffer_line
        self.index = index
        self.carrier = carrier
        self.rules = rules or MatchRules()
        self.ledger = ledger
        self.on_event = on_event
        self.on_line = on_line
        self.bills = bills
        self.dispute_policy = dispute_policy
        self.source = source or f"shipsync/settlement/{carrier}"
        self.now = now
        self.checkpoint_every = checkpoint_every
        self._table = self.rules.table()
        self._per_line = on_line is not None or on_event is not None
        self._find, self._bill = _package_finder(index)
        self._decided: dict[
            tuple[str | None, str], tuple[LineClass, ChargeType | None, Decimal | None]
        ] = {}
        self._quotes: dict[str, tuple[dict[ChargeType, Decimal], Decimal]] = {}
        self._classify = self._classifier()
        self._problems: list[ReportProblem] = []
        self._problem_count = 0
        self._summaries: list[InvoiceSummary] = []
        if ledger is not None:
            for tracking in ledger.billed(carrier):
                index.mark_billed(tracking)
            self._deliver()

    # -- public entry points -------------------------------------------------------------------

    @_telemetry.traced_reconciliation  # telemetry
    def run(self, rows: Iterable[InvoiceRow | RowProblem]) -> ReconciliationReport:
        """Reconcile a stream of rows (one or several invoices) and report.

        Arithmetic runs in a 60-digit decimal context, so sums and tolerance products of any
        amount the parser accepts are exact.
        """
        current: _Invoice | None = None
        # Without a ledger, a live line of the current invoice in its currency goes straight to
        # _classify (what _line would do, without its checks' cost).
        # (Without a ledger an invoice is always live.)
        direct = self.ledger is None
        classify = self._classify
        number = currency = None
        with localcontext(_EXACT):
            for item in rows:
                if isinstance(item, RowProblem):
                    self._problem(item.message, item.file_line, item.invoice_number)
                    continue
                # item[1] is the invoice number, item[3] the currency (by index: this runs for
                # every line)
                if item[1] != number or current is None:
                    if current is not None:
                        self._finish(current)
                    current = self._start(item)
                    number, currency = current.number, current.tally.currency
                if direct and item[3] == currency:
                    classify(current, item)
                else:
                    self._line(current, item)
            if current is not None:
                self._finish(current)
        return self.report()

    @_telemetry.traced_reconciliation  # telemetry
    def run_file(self, lines: Iterable[str], columns: InvoiceColumns) -> ReconciliationReport:
        """Reconcile the text of an invoice file (an open file or its lines, header first) read
        with ``columns``: what ``run(iter_invoice_rows(lines, columns))`` gives, line for line.

        With an in-memory index and neither a ledger nor an event sink, ordinary lines skip
        building rows (see ``_stream``); the rest, and every line otherwise, go through
        :meth:`run`'s path.
        """
        columnar = sys.modules.get("shipsync.settlement._columnar")
        if columnar is not None and columnar.can_stream_columnar(self):
            # a ColumnarShipmentIndex (its module is loaded when one exists)
            with localcontext(_EXACT):
                columnar.stream_columnar(self, lines, columns)
            return self.report()
        if not can_stream(self):
            return self.run(iter_invoice_rows(lines, columns))
        with localcontext(_EXACT):
            stream_lines(self, lines, columns)
        return self.report()

    def reconcile_invoice(self, invoice: FreightInvoice) -> InvoiceSummary:
        """Reconcile one canonical invoice (from a driver's ``fetch_invoices``)."""
        before = len(self._summaries)
        self.run(rows_of_invoice(invoice))
        if len(self._summaries) == before:
            raise InvalidInputError("the invoice has no lines", path="lines")
        summary = self._summaries[-1]
        if summary.status is InvoiceStatus.SETTLED and summary.total != invoice.total:
            raise ReconciliationError(
                f"invoice {invoice.invoice_number}: reconciled total differs from the invoice total"
            )
        return summary

    def report(self) -> ReconciliationReport:
        """The report of everything this reconciler did so far."""
        self._flush_lines()
        return ReconciliationReport(
            carrier=self.carrier,
            invoices=tuple(self._summaries),
            problems=tuple(self._problems),
            problem_count=self._problem_count,
        )

    # -- per invoice ---------------------------------------------------------------------------

    def _problem(self, message: str, line: int | None, invoice: str | None) -> None:
        self._problem_count += 1
        if len(self._problems) < MAX_PROBLEMS_KEPT:
            self._problems.append(
                ReportProblem(message=message, file_line=line, invoice_number=invoice)
            )

    def _start(self, row: InvoiceRow) -> _Invoice:
        invoice = _Invoice(row.invoice_number, row, _Tally(row.currency))
        ledger = self.ledger
        if ledger is None:
            if row.supersedes:
                self._problem(
                    f"invoice supersedes {row.supersedes!r}, but without a ledger nothing"
                    " earlier is known to reverse",
                    row.file_line,
                    row.invoice_number,
                )
            return invoice
        record = ledger.invoice(self.carrier, row.invoice_number)
        if record is None:
            if row.supersedes:
                self._supersede(row)
            return invoice
        if record.status in ("settled", "superseded"):
            invoice.mode = "replay"
            invoice.resume_digest = record.digest
            invoice.stored = record.state
            return invoice
        invoice.mode = "resume"
        invoice.resume_after = record.last_line
        invoice.resume_digest = record.digest
        invoice.stored = record.state
        return invoice

    def _supersede(self, row: InvoiceRow) -> None:
        ledger = self.ledger
        assert ledger is not None
        assert row.supersedes is not None
        old = ledger.invoice(self.carrier, row.supersedes)
        if old is not None and old.superseded_by == row.invoice_number:
            return  # done before a crash: its reversals are in the outbox already
        if old is None or old.status != "settled":
            self._problem(
                f"invoice supersedes {row.supersedes!r}, which is not a settled invoice here",
                row.file_line,
                row.invoice_number,
            )
            return
        now = self.now()
        events: list[tuple[str, bytes]] = []
        if self.on_event is not None:
            for body in ledger.actuals(self.carrier, row.supersedes):
                actual = Accrual.model_validate_json(body)
                reversal = Accrual(
                    accrual_id=f"{actual.accrual_id}:reversed",
                    shipment_id=actual.shipment_id,
                    kind=AccrualKind.REVERSAL,
                    amount=-actual.amount,
                    booked_at=now,
                    reverses=actual.accrual_id,
                    invoice_number=row.invoice_number,
                )
                event = FreightChargeAccrued.of(
                    reversal,
                    source=self.source,
                    time=now,
                    id=event_id("accrual", self.carrier, reversal.accrual_id),
                )
                events.append((event.id, event.to_json()))
        for tracking in ledger.supersede(self.carrier, row.supersedes, row.invoice_number, events):
            self.index.unmark_billed(tracking)
        self._deliver()

    def _line(self, invoice: _Invoice, row: InvoiceRow) -> None:
        if invoice.mode == "resume" and row.line_number > invoice.resume_after:
            self._resume_check(invoice)
        mode = invoice.mode
        if mode == "refused":
            return
        tally = invoice.tally
        if row.currency != tally.currency:
            self._problem("currency differs from the invoice's", row.file_line, invoice.number)
            return
        if self.ledger is not None:
            tally.digest.update(_digest_row(row))
        if mode != "live":
            return  # replaying a settled invoice, or before the checkpoint of a resumed one
        self._classify(invoice, row)

    def _resume_check(self, invoice: _Invoice) -> None:
        """At the first line after the checkpoint: the lines read so far must be the same."""
        if invoice.tally.digest.hexdigest() != invoice.resume_digest:
            self._refuse(invoice, "differs from the partly settled invoice of the same number")
            return
        assert invoice.stored is not None
        restored = _Tally.restore(invoice.stored)
        restored.digest = invoice.tally.digest
        invoice.tally = restored
        invoice.mode = "live"

    def _refuse(self, invoice: _Invoice, why: str) -> None:
        invoice.mode = "refused"
        invoice.note = f"invoice {invoice.number} {why}; issue a correction that supersedes it"
        self._problem(invoice.note, invoice.first.file_line, invoice.number)

    def _classifier(self) -> Callable[[_Invoice, InvoiceRow], None]:
        """The classification of a line: find its package, classify it (see ``_rules``), tally
        it, report it. It is the only one and runs for every line (a closure over local
        variables: this is the hot loop of a large file).

        The rules themselves are :func:`~shipsync.settlement.classify_charges`, remembered per
        distinct (billed charge texts, quoted amount texts) pair by :meth:`_rules`: the rules
        read nothing else, so a remembered class is the class a fresh call gives.
        """
        find = self._find
        bill = self._bill
        memory = self.index if type(self.index) is MemoryShipmentIndex else None
        records: dict[str, str] = memory._records if memory is not None else {}
        get_record = records.get
        decided = self._decided
        quotes_get = self._quotes.get
        rules = self._rules
        expected_of = self._expected
        ledger = self.ledger
        on_line = self.on_line
        on_event = self.on_event
        per_line = on_line is not None or on_event is not None
        line_events = self._line_events
        commit = self._commit
        checkpoint_every = self.checkpoint_every
        positions = _POS
        zero = _ZERO
        sep = _RS
        new_outcome = _new_tuple
        outcome_type = LineOutcome

        def classify(invoice: _Invoice, row: InvoiceRow) -> None:
            charge_type: ChargeType | None = None
            difference: Decimal | None = None
            expected: Decimal | None = None
            shipment_id: str | None = None
            expected_currency: str | None = None
            package = row[5]
            record = get_record(package)  # an in-memory index's package, found directly
            if record is None:
                found = find(package, row[8], row[9])
                if found is not None:
                    package, record = found
            if record is None:
                kind = _UNKNOWN_SHIPMENT
            else:
                fields = record.split(sep, QUOTED_AT)
                shipment_id = fields[0]
                expected_currency = fields[1]
                quoted = fields[QUOTED_AT]
                if shipment_id[0] == BILLED_MARK if memory is not None else bill(package, record):
                    kind = _DUPLICATE
                    shipment_id = shipment_id.removeprefix(BILLED_MARK)
                else:
                    if memory is not None:
                        records[package] = BILLED_MARK + record
                    if ledger is not None:
                        invoice.billed.append(package)
                    if fields[2] == "cancelled":
                        kind = _CANCELLED
                    elif expected_currency != row[3]:
                        kind = _MISMATCH
                    else:
                        charges = row[6]
                        known = decided.get((getattr(charges, "key", None), quoted))
                        if known is None:
                            known = rules(charges, quoted)
                        kind, charge_type, difference = known
                if per_line:
                    known_quote = quotes_get(quoted)
                    expected = (known_quote or expected_of(quoted))[1]
            tally = invoice.tally
            position = positions[kind]
            billed = row[7]
            tally.counts[position] += 1
            tally.amounts[position] += billed
            tally.total += billed
            tally.last_line = row[4]
            if billed < zero:
                tally.credits += 1
            if per_line:
                outcome: LineOutcome = new_outcome(
                    outcome_type,
                    (
                        invoice.number,
                        row[4],
                        row[0],
                        row[5],
                        kind,
                        billed,
                        row[3],
                        shipment_id,
                        expected,
                        expected_currency,
                        charge_type,
                        difference,
                    ),
                )
                if on_line is not None:
                    on_line(outcome)
                if on_event is not None:
                    line_events(invoice, outcome)
            if ledger is not None:
                invoice.since_commit += 1
                if invoice.since_commit >= checkpoint_every:
                    commit(invoice, "in_progress")

        return classify

    def _rules(
        self, charges: tuple[tuple[ChargeType, Decimal], ...], quoted: str
    ) -> tuple[LineClass, ChargeType | None, Decimal | None]:
        """:func:`classify_charges` of a line against its package's quoted amount texts,
        remembered by the texts when the reader gave the charges' text (``BilledCharges``)."""
        key = getattr(charges, "key", None)
        if key is not None:
            known = self._decided.get((key, quoted))
            if known is not None:
                return known
        kind, charge_type, difference = classify_charges(
            charges, self._expected(quoted)[0], self._table
        )
        decided = (kind, charge_type, None if charge_type is None else difference)
        if key is not None:
            if len(self._decided) >= _KEPT:
                self._decided.clear()
            self._decided[(key, quoted)] = decided
        return decided

    def _expected(self, quoted: str) -> tuple[dict[ChargeType, Decimal], Decimal]:
        """A record's quoted amount texts as charges and their sum, remembered (bounded)."""
        known = self._quotes.get(quoted)
        if known is None:
            charges = {
                kind: Decimal(text)
                for kind, text in zip(_CHARGE_ORDER, quoted.split(_RS), strict=False)
                if text
            }
            known = (charges, sum(charges.values(), _ZERO))
            if len(self._quotes) >= _KEPT:
                self._quotes.clear()
            self._quotes[quoted] = known
        return known

    def _line_events(self, invoice: _Invoice, outcome: LineOutcome) -> None:
        events, actual = line_events(
            outcome,
            carrier=self.carrier,
            invoice_number=invoice.number,
            source=self.source,
            now=self.now(),
            rules=self.rules,
        )
        invoice.events.extend(events)
        if actual is not None and self.ledger is not None:
            invoice.actuals.append((outcome.line_number, actual.model_dump_json()))

    def explain(self, outcome: LineOutcome) -> str:
        """A sentence a finance user can read about why a line is what it is."""
        return explain(outcome, self.rules)

    # -- commits and delivery ------------------------------------------------------------------

    def _commit(self, invoice: _Invoice, status: str) -> None:
        ledger = self.ledger
        assert ledger is not None
        tally = invoice.tally
        ledger.commit(
            self.carrier,
            invoice.number,
            status=status,
            last_line=tally.last_line,
            digest=tally.digest.hexdigest(),
            state=tally.state(),
            supersedes=invoice.first.supersedes,
            billed=invoice.billed,
            actuals=invoice.actuals,
            events=[(event.id, event.to_json()) for event in invoice.events],
        )
        invoice.billed = []
        invoice.actuals = []
        invoice.events = []
        invoice.since_commit = 0
        self._deliver()

    def _deliver(self) -> None:
        ledger = self.ledger
        if ledger is None or self.on_event is None:
            return
        while True:
            pending = ledger.pending()
            if not pending:
                return
            done: list[int] = []
            try:
                for seq, body in pending:
                    self.on_event(default_catalogue.parse(body))
                    done.append(seq)
            finally:
                # What the sink took is marked even when it then failed: only the event that
                # raised is offered again.
                ledger.delivered(done)

    def _buffer_line(self, outcome: LineOutcome) -> None:
        """``on_line`` when the caller takes ``on_lines``: outcomes kept for the next batch."""
        buffer = self._line_buffer
        buffer.append(outcome)
        if len(buffer) >= _LINE_BATCH:
            self._flush_lines()

    def _flush_lines(self) -> None:
        """Hand ``on_lines`` the outcomes kept so far, as one batch."""
        if self._line_buffer and self.on_lines is not None:
            batch = LineBatch(self._line_buffer)
            self._line_buffer = []
            self.on_lines(batch)

    def _finish(self, invoice: _Invoice) -> None:
        self._flush_lines()
        with localcontext(_EXACT):
            invoice.tally.fold()
        if invoice.mode == "resume":
            # Every line was at or before the checkpoint: the crash came before the final commit.
            self._resume_check(invoice)
        if invoice.mode == "replay":
            if invoice.tally.digest.hexdigest() != invoice.resume_digest:
                self._refuse(invoice, "was settled before with different lines")
            else:
                self._replayed(invoice)
                return
        if invoice.mode == "refused":
            self._summaries.append(
                self._summary(invoice, InvoiceStatus.REFUSED, _Tally(invoice.tally.currency))
            )
            return
        tally = invoice.tally
        summary = self._summary(invoice, InvoiceStatus.SETTLED, tally)
        if self.on_event is not None:
            now = self.now()
            settlement = Settlement(
                invoice_number=invoice.number,
                carrier=self.carrier,
                settled_at=now,
                invoice_total=summary.total,
                matched_total=summary.matched_total,
                disputed_total=summary.disputed_total,
                unknown_total=summary.unknown_total,
                line_count=summary.line_count,
            )
            invoice.events.append(
                SettlementCompleted.of(
                    settlement,
                    source=self.source,
                    time=now,
                    subject=invoice.number,
                    id=event_id("settlement", self.carrier, invoice.number),
                )
            )
        if self.ledger is not None:
            self._commit(invoice, "settled")
        elif self.on_event is not None:
            for event in invoice.events:
                self.on_event(event)
            invoice.events = []
        summary = self._post_bill(invoice, summary)
        self._summaries.append(summary)

    def _replayed(self, invoice: _Invoice) -> None:
        assert invoice.stored is not None
        tally = _Tally.restore(invoice.stored)
        summary = self._summary(invoice, InvoiceStatus.ALREADY_SETTLED, tally)
        summary = self._post_bill(invoice, summary)
        self._summaries.append(summary)

    def _post_bill(self, invoice: _Invoice, summary: InvoiceSummary) -> InvoiceSummary:
        if self.bills is None:
            return summary
        if self.ledger is not None:
            record = self.ledger.invoice(self.carrier, invoice.number)
            if record is not None and record.status == "superseded":
                return summary
            if record is not None and record.bill_reference:
                return summary.model_copy(update={"bill_reference": record.bill_reference})
        bill = build_vendor_bill(
            summary, self.dispute_policy, invoice_date=invoice.first.invoice_date
        )
        reference = self.bills.post(bill, idempotency_key=f"{self.carrier}:{invoice.number}")
        if self.ledger is not None:
            self.ledger.record_bill(self.carrier, invoice.number, reference)
        return summary.model_copy(update={"bill_reference": reference})

    def _summary(self, invoice: _Invoice, status: InvoiceStatus, tally: _Tally) -> InvoiceSummary:
        currency = tally.currency
        counts = tally.counts
        amounts = tally.amounts
        matched = amounts[_MATCHED]
        unknown = amounts[_UNKNOWN]
        disputed = sum((a for i, a in enumerate(amounts) if i not in (_MATCHED, _UNKNOWN)), _ZERO)
        if matched + disputed + unknown != tally.total:  # pragma: no cover - a bug
            raise ReconciliationError(
                f"invoice {invoice.number}: matched + disputed + unknown != invoice total"
            )
        try:
            return InvoiceSummary(
                carrier=self.carrier,
                invoice_number=invoice.number,
                status=status,
                currency=currency,
                line_count=sum(counts),
                total=Money.of(tally.total, currency),
                matched_total=Money.of(matched, currency),
                disputed_total=Money.of(disputed, currency),
                unknown_total=Money.of(unknown, currency),
                classes={
                    kind: ClassTotal(lines=counts[i], amount=amounts[i])
                    for i, kind in enumerate(_CLASSES)
                    if counts[i]
                },
                credit_lines=tally.credits,
                supersedes=invoice.first.supersedes,
                note=invoice.note,
            )
        except InvalidInputError as exc:  # pragma: no cover - a bug
            raise ReconciliationError(f"invoice {invoice.number}: {exc}") from exc


def rows_of_invoice(invoice: FreightInvoice) -> Iterator[InvoiceRow]:
    """The rows of a canonical invoice, in line-number order, as the reconciler reads them."""
    issued = invoice.issued_at.date()
    last = 0
    for line in sorted(invoice.lines, key=lambda item: item.line_number):
        if line.line_number == last:
            raise InvalidInputError(
                f"line number {line.line_number} repeats", path="lines.line_number"
            )
        last = line.line_number
        merged: dict[ChargeType, Decimal] = {}
        for charge in line.charges:
            merged[charge.type] = merged.get(charge.type, _ZERO) + charge.amount.amount
        charges = tuple(merged.items())
        yield InvoiceRow(
            line.line_number,
            invoice.invoice_number,
            issued,
            invoice.currency,
            line.line_number,
            line.tracking_number,
            charges,
            sum((amount for _, amount in charges), _ZERO),
            line.carrier_shipment_id,
            line.reference,
            line.ship_date,
            None,
            None,
            None,
            invoice.supersedes,
        )


def reconcile_file(
    path: str | Path,
    columns: InvoiceColumns,
    index: ShipmentIndex,
    **options: Any,
) -> ReconciliationReport:
    """Reconcile an invoice CSV file; ``options`` are those of :class:`Reconciler`."""
    reconciler = Reconciler(index, carrier=columns.carrier, **options)
    with open_invoice_file(path) as handle:
        return reconciler.run_file(handle, columns)


def report_json(report: ReconciliationReport) -> str:
    """The report as indented JSON (amounts as strings)."""
    return report.model_dump_json(indent=2)
