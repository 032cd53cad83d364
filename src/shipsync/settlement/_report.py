"""What reconciliation hands back: per-line outcomes, per-invoice summaries, the run's report."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, NamedTuple, Self

from pydantic import Field, model_validator

from shipsync.canonical import CanonicalModel, ChargeType, ExactDecimal, LineClass, Money

__all__ = [
    "ClassTotal",
    "InvoiceStatus",
    "InvoiceSummary",
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
