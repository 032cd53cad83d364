"""Freight money: charges, carrier invoices, accruals, reconciliation outcomes and claims.

Every total is checked against its parts when a model is built: an invoice whose lines do not add
up to its total is refused, so a total always equals the sum of its charges, to the minor unit.
"""

from __future__ import annotations

import enum
from datetime import date
from typing import Annotated, Self

from pydantic import Field, model_validator

from shipsync.canonical._base import CanonicalModel, Identifier, ShortText, Text, UtcDatetime
from shipsync.canonical._money import CurrencyCode, Money, _exact_sum

__all__ = [
    "Accrual",
    "AccrualKind",
    "ChargeType",
    "Claim",
    "ClaimStatus",
    "Discrepancy",
    "DiscrepancyKind",
    "FreightCharge",
    "FreightInvoice",
    "FreightInvoiceLine",
    "InvoiceMatch",
    "LineClass",
    "Settlement",
]


_MAX_COUNT = 1_000_000_000
"""The largest count a model accepts (a quantity, a line number): bounded like every input."""


class ChargeType(enum.StrEnum):
    """What a freight charge is for."""

    BASE_FREIGHT = "base_freight"
    FUEL = "fuel"
    RESIDENTIAL = "residential"
    ADDRESS_CORRECTION = "address_correction"
    DIMENSIONAL_WEIGHT_ADJUSTMENT = "dimensional_weight_adjustment"
    ACCESSORIAL = "accessorial"
    DUTIES_AND_TAXES = "duties_and_taxes"
    INSURANCE = "insurance"
    PICKUP = "pickup"
    OTHER = "other"


class FreightCharge(CanonicalModel):
    """One charge: its type, its amount (negative for a credit), the carrier's own code."""

    type: ChargeType
    amount: Money
    description: ShortText | None = None
    carrier_code: ShortText | None = None


def _total_of(charges: tuple[FreightCharge, ...], currency: str) -> Money:
    return Money.sum((charge.amount for charge in charges), currency)


class FreightInvoiceLine(CanonicalModel):
    """One invoice line: the charges billed for one package (by tracking number)."""

    line_number: Annotated[int, Field(ge=1, le=_MAX_COUNT)]
    tracking_number: Identifier
    charges: Annotated[tuple[FreightCharge, ...], Field(min_length=1, max_length=100)]
    carrier_shipment_id: ShortText | None = None
    reference: ShortText | None = None
    ship_date: date | None = None

    @property
    def total(self) -> Money:
        """The sum of the line's charges."""
        return _total_of(self.charges, self.charges[0].amount.currency)

    @model_validator(mode="after")
    def _one_currency(self) -> Self:
        currency = self.charges[0].amount.currency
        if any(charge.amount.currency != currency for charge in self.charges):
            raise ValueError("all charges of a line must be in one currency")
        return self


class FreightInvoice(CanonicalModel):
    """A carrier's freight invoice. Lines are keyed by tracking number; ``total`` is checked."""

    invoice_number: Identifier
    carrier: Identifier
    issued_at: UtcDatetime
    currency: CurrencyCode
    lines: Annotated[tuple[FreightInvoiceLine, ...], Field(max_length=1_000_000)]
    total: Money
    supersedes: ShortText | None = None

    @model_validator(mode="after")
    def _totals_reconcile(self) -> Self:
        if self.total.currency != self.currency:
            raise ValueError("total must be in the invoice currency")
        for line in self.lines:
            if line.charges[0].amount.currency != self.currency:
                raise ValueError(f"line {line.line_number} is not in the invoice currency")
        computed = _exact_sum(
            charge.amount.amount for line in self.lines for charge in line.charges
        )
        if computed != self.total.amount:
            raise ValueError("lines do not add up to the invoice total")
        return self


class AccrualKind(enum.StrEnum):
    """Estimate when the label is bought, reversal and actual when the invoice settles."""

    ESTIMATE = "estimate"
    REVERSAL = "reversal"
    ACTUAL = "actual"


class Accrual(CanonicalModel):
    """A freight cost booked against a shipment before (or when) the invoice arrives."""

    accrual_id: Identifier
    shipment_id: Identifier
    kind: AccrualKind
    amount: Money
    booked_at: UtcDatetime
    charge_type: ChargeType = ChargeType.BASE_FREIGHT
    reverses: ShortText | None = None
    invoice_number: ShortText | None = None


class LineClass(enum.StrEnum):
    """How reconciliation classified an invoice line."""

    MATCHED = "matched"
    OVERCHARGE = "overcharge"
    UNDERCHARGE = "undercharge"
    UNQUOTED_SURCHARGE = "unquoted_surcharge"
    WEIGHT_ADJUSTMENT = "weight_adjustment"
    ADDRESS_CORRECTION = "address_correction"
    DUPLICATE_LINE = "duplicate_line"
    UNKNOWN_SHIPMENT = "unknown_shipment"
    BILLED_AFTER_CANCELLATION = "billed_after_cancellation"
    CURRENCY_MISMATCH = "currency_mismatch"


DiscrepancyKind = LineClass
"""The classes other than ``matched`` are the kinds of discrepancy."""


class InvoiceMatch(CanonicalModel):
    """An invoice line matched to a shipment within tolerance."""

    invoice_number: Identifier
    line_number: Annotated[int, Field(ge=1, le=_MAX_COUNT)]
    tracking_number: Identifier
    shipment_id: Identifier
    billed: Money
    expected: Money


class Discrepancy(CanonicalModel):
    """An invoice line that differs from what was expected, with an explanation for finance."""

    invoice_number: Identifier
    line_number: Annotated[int, Field(ge=1, le=_MAX_COUNT)]
    tracking_number: Identifier
    kind: LineClass
    billed: Money
    shipment_id: ShortText | None = None
    expected: Money | None = None
    difference: Money | None = None
    charge_type: ChargeType | None = None
    explanation: Text = ""

    @model_validator(mode="after")
    def _not_matched(self) -> Self:
        if self.kind is LineClass.MATCHED:
            raise ValueError("a discrepancy cannot be of kind 'matched'")
        return self


class Settlement(CanonicalModel):
    """The outcome of reconciling one invoice: matched + disputed + unknown = invoice total."""

    invoice_number: Identifier
    carrier: Identifier
    settled_at: UtcDatetime
    invoice_total: Money
    matched_total: Money
    disputed_total: Money
    unknown_total: Money
    line_count: Annotated[int, Field(ge=0, le=_MAX_COUNT)]

    @model_validator(mode="after")
    def _totals_reconcile(self) -> Self:
        currency = self.invoice_total.currency
        totals = (self.matched_total, self.disputed_total, self.unknown_total)
        if any(total.currency != currency for total in totals):
            raise ValueError("all totals must be in the currency of the invoice total")
        if _exact_sum(total.amount for total in totals) != self.invoice_total.amount:
            raise ValueError("matched + disputed + unknown must equal the invoice total")
        return self


class ClaimStatus(enum.StrEnum):
    """Where a claim stands."""

    OPEN = "open"
    SETTLED = "settled"
    REJECTED = "rejected"


class Claim(CanonicalModel):
    """A claim against a carrier for loss, damage or an overcharge."""

    claim_id: Identifier
    shipment_id: Identifier
    carrier: Identifier
    status: ClaimStatus
    reason: Text
    amount: Money
    opened_at: UtcDatetime
    settled_amount: Money | None = None
    settled_at: UtcDatetime | None = None
    tracking_number: ShortText | None = None
