"""Vendor bills: a settled invoice becomes one draft bill, disputed lines held back or flagged.

The bill is summarised by class (one bill line per class, with its line count), so a million-line
invoice makes a bill of at most ten lines. Posting goes through a :class:`VendorBillSink`; the
Odoo subsystem (or any host) implements it. ``post`` receives an idempotency key
(``carrier:invoice_number``) and must return the same reference when called again with it, so a
crash between posting and recording the reference never makes two bills.
"""

from __future__ import annotations

import enum
from datetime import date
from typing import Annotated, Protocol

from pydantic import Field

from shipsync.canonical import CanonicalModel, LineClass, Money
from shipsync.settlement._report import InvoiceSummary

__all__ = [
    "DisputePolicy",
    "MemoryVendorBillSink",
    "VendorBill",
    "VendorBillLine",
    "VendorBillSink",
    "build_vendor_bill",
]


class DisputePolicy(enum.StrEnum):
    """What a vendor bill does with disputed lines."""

    HOLD = "hold"
    """Leave them off the bill; finance pays only what matched."""
    FLAG = "flag"
    """Put them on the bill, flagged as disputed, for a person to decide."""


class VendorBillLine(CanonicalModel):
    """One line of a draft vendor bill: the billed amount of one class of invoice lines."""

    description: str
    line_class: LineClass
    invoice_lines: Annotated[int, Field(ge=0)]
    amount: Money
    disputed: bool = False


class VendorBill(CanonicalModel):
    """A draft vendor bill for one carrier invoice."""

    carrier: str
    invoice_number: str
    invoice_date: date | None = None
    currency: str
    lines: tuple[VendorBillLine, ...]
    total: Money
    held_back: Money


class VendorBillSink(Protocol):
    """Where draft vendor bills go (an Odoo client, an ERP, a queue)."""

    def post(self, bill: VendorBill, *, idempotency_key: str) -> str:
        """Create the draft bill, or find the one made under the same key; return its reference."""


def build_vendor_bill(
    summary: InvoiceSummary, policy: DisputePolicy, *, invoice_date: date | None = None
) -> VendorBill:
    """The draft bill of a settled invoice; unknown-shipment lines count as disputed."""
    currency = summary.currency
    lines: list[VendorBillLine] = []
    held = Money.zero(currency)
    for kind in LineClass:
        total = summary.classes.get(kind)
        if total is None or not total.lines:
            continue
        amount = Money.of(total.amount, currency)
        disputed = kind is not LineClass.MATCHED
        if disputed and policy is DisputePolicy.HOLD:
            held = held + amount
            continue
        label = kind.value.replace("_", " ")
        lines.append(
            VendorBillLine(
                description=f"{summary.carrier} invoice {summary.invoice_number}: {label}"
                + (" (disputed)" if disputed else ""),
                line_class=kind,
                invoice_lines=total.lines,
                amount=amount,
                disputed=disputed,
            )
        )
    billed = Money.sum((line.amount for line in lines), currency)
    return VendorBill(
        carrier=summary.carrier,
        invoice_number=summary.invoice_number,
        invoice_date=invoice_date,
        currency=currency,
        lines=tuple(lines),
        total=billed,
        held_back=held,
    )


class MemoryVendorBillSink:
    """A :class:`VendorBillSink` that keeps bills in a dict; for tests and dry runs."""

    def __init__(self) -> None:
        self.bills: dict[str, VendorBill] = {}
        self.calls = 0

    def post(self, bill: VendorBill, *, idempotency_key: str) -> str:
        """Store ``bill`` under ``idempotency_key`` unless one is there; return the key."""
        self.calls += 1
        self.bills.setdefault(idempotency_key, bill)
        return f"memory:{idempotency_key}"
