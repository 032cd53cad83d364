"""What reconciliation hands back: per-line outcomes, per-invoice summaries, the run's report."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Annotated, NamedTuple, Self

from pydantic import Field, model_validator

from shipsync.canonical import CanonicalModel, ChargeType, ExactDecimal, LineClass, Money

__all__ = [
    "ClassTotal",
    "InvoiceStatus",
    "InvoiceSummary",
    "LineBatch",
    "LineOutcome",
    "ReconciliationReport",
    "ReportProblem",
]


class LineOutcome(NamedTuple):
    """How one invoice line was classified, and against what."""

    invoice_number: str
    line_number: int
    file_line: int
    tracking_number: str
    line_class: LineClass
    billed: Decimal
    currency: str
    shipment_id: str | None = None
    expected: Decimal | None = None
    expected_currency: str | None = None
    charge_type: ChargeType | None = None
    difference: Decimal | None = None


class LineBatch:
    """Consecutive invoice lines' outcomes, in file order: what ``on_lines`` receives.

    Iterate it (or read :attr:`outcomes`) for each line's :class:`LineOutcome`, the very
    outcomes ``on_line`` would have received; read :attr:`line_classes` and :attr:`file_lines`
    for the classes and lines alone. With a
    :class:`~shipsync.settlement.ColumnarShipmentIndex`, a batch of ordinary lines holds them in
    columns and builds the outcomes only when asked, so a run that needs only the classes builds
    no object per line. Until then (and until :attr:`file_lines` is read) such a batch keeps its
    chunk's columns alive: keep :attr:`line_classes`, not the batch, past the callback.
    """

    __slots__ = ("_classes", "_count", "_file_lines", "_file_lines_of", "_make", "_outcomes")

    def __init__(self, outcomes: Sequence[LineOutcome]) -> None:
        self._outcomes: tuple[LineOutcome, ...] | None = tuple(outcomes)
        self._count = len(self._outcomes)
        self._classes: tuple[LineClass, ...] | None = None
        self._file_lines: tuple[int, ...] | None = None
        self._make: Callable[[], Sequence[LineOutcome]] | None = None
        self._file_lines_of: Callable[[], Sequence[int]] | None = None

    @classmethod
    def _deferred(
        cls,
        count: int,
        line_classes: Sequence[LineClass],
        file_lines: Callable[[], Sequence[int]],
        make: Callable[[], Sequence[LineOutcome]],
    ) -> LineBatch:
        """A batch of ``count`` lines whose outcomes ``make`` builds when first asked."""
        batch = cls(())
        batch._count = count
        batch._outcomes = None
        batch._classes = tuple(line_classes)
        batch._make = make
        batch._file_lines_of = file_lines
        return batch

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[LineOutcome]:
        return iter(self.outcomes)

    def __repr__(self) -> str:
        return f"LineBatch({self._count} lines)"

    @property
    def outcomes(self) -> tuple[LineOutcome, ...]:
        """Each line's outcome, in file order."""
        if self._outcomes is None:
            assert self._make is not None
            self._outcomes = tuple(self._make())
            self._make = None
        return self._outcomes

    @property
    def line_classes(self) -> tuple[LineClass, ...]:
        """Each line's class, in file order."""
        if self._classes is None:
            self._classes = tuple(outcome.line_class for outcome in self.outcomes)
        return self._classes

    @property
    def file_lines(self) -> tuple[int, ...]:
        """Each line's line in the file (the header is line 1), in file order."""
        if self._file_lines is None:
            if self._file_lines_of is not None:
                self._file_lines = tuple(self._file_lines_of())
            else:
                self._file_lines = tuple(outcome.file_line for outcome in self.outcomes)
        return self._file_lines


class InvoiceStatus(enum.StrEnum):
    """What happened to an invoice in this run."""

    SETTLED = "settled"
    ALREADY_SETTLED = "already_settled"
    REFUSED = "refused"


class ClassTotal(CanonicalModel):
    """Lines and billed amount of one class."""

    lines: Annotated[int, Field(ge=0)]
    amount: ExactDecimal


class InvoiceSummary(CanonicalModel):
    """One invoice's outcome. ``matched + disputed + unknown == total`` is checked on build."""

    carrier: str
    invoice_number: str
    status: InvoiceStatus
    currency: str
    line_count: Annotated[int, Field(ge=0)]
    total: Money
    matched_total: Money
    disputed_total: Money
    unknown_total: Money
    classes: Mapping[LineClass, ClassTotal]
    credit_lines: Annotated[int, Field(ge=0)] = 0
    supersedes: str | None = None
    bill_reference: str | None = None
    note: str = ""

    @model_validator(mode="after")
    def _totals_reconcile(self) -> Self:
        if self.matched_total + self.disputed_total + self.unknown_total != self.total:
            raise ValueError("matched + disputed + unknown must equal the invoice total")
        if sum(c.lines for c in self.classes.values()) != self.line_count:
            raise ValueError("class line counts must add up to the line count")
        return self


class ReportProblem(CanonicalModel):
    """A row that was not reconciled, or an invoice that was refused, and why."""

    message: str
    file_line: int | None = None
    invoice_number: str | None = None


class ReconciliationReport(CanonicalModel):
    """Everything one reconciliation run did."""

    carrier: str
    invoices: tuple[InvoiceSummary, ...]
    problems: tuple[ReportProblem, ...] = ()
    problem_count: Annotated[int, Field(ge=0)] = 0

    @property
    def line_count(self) -> int:
        """Lines reconciled in this run (invoices already settled or refused not counted)."""
        return sum(s.line_count for s in self.invoices if s.status is InvoiceStatus.SETTLED)

    def class_totals(self) -> dict[tuple[LineClass, str], ClassTotal]:
        """Lines and amounts per class and currency over the invoices settled in this run."""
        out: dict[tuple[LineClass, str], ClassTotal] = {}
        for summary in self.invoices:
            if summary.status is not InvoiceStatus.SETTLED:
                continue
            for kind, total in summary.classes.items():
                key = (kind, summary.currency)
                prior = out.get(key)
                out[key] = (
                    total
                    if prior is None
                    else ClassTotal(
                        lines=prior.lines + total.lines, amount=prior.amount + total.amount
                    )
                )
        return out
