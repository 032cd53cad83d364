"""The events reconciliation publishes, and the sentences that explain each line.

Ids are derived from carrier, invoice number, line and kind (never from the time), so the same
fact always gets the same id and consumers deduplicate.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from shipsync.canonical import (
    Accrual,
    AccrualKind,
    Discrepancy,
    Event,
    FreightChargeAccrued,
    FreightDiscrepancyFound,
    FreightInvoiceMatched,
    InvoiceMatch,
    LineClass,
    Money,
)
from shipsync.settlement._report import LineOutcome
from shipsync.settlement._rules import MatchRules

__all__ = ["event_id", "explain", "line_events"]

_ID_NAMESPACE = uuid.UUID("1b3c5d7e-9f00-4a2b-8c4d-5e6f7a8b9c0d")
_ZERO = Decimal(0)
ACCRUING = frozenset(
    {
        LineClass.MATCHED,
        LineClass.OVERCHARGE,
        LineClass.UNDERCHARGE,
        LineClass.UNQUOTED_SURCHARGE,
        LineClass.WEIGHT_ADJUSTMENT,
        LineClass.ADDRESS_CORRECTION,
        LineClass.CURRENCY_MISMATCH,
    }
)
"""Classes whose lines reverse the estimate and post the actual."""


def event_id(*parts: object) -> str:
    """A stable event id from its parts."""
    return str(uuid.uuid5(_ID_NAMESPACE, "\x1f".join(str(p) for p in parts)))


def line_events(
    outcome: LineOutcome,
    *,
    carrier: str,
    invoice_number: str,
    source: str,
    now: datetime,
    rules: MatchRules,
) -> tuple[list[Event], Accrual | None]:
    """The events of one line, and its actual accrual (``None`` when it accrues nothing)."""
    number = invoice_number
    line = outcome.line_number
    currency = outcome.currency
    billed = Money.of(outcome.billed, currency)
    expected = (
        Money.of(outcome.expected, outcome.expected_currency)
        if outcome.expected is not None and outcome.expected_currency is not None
        else None
    )
    kind = outcome.line_class
    events: list[Event] = []
    if kind is LineClass.MATCHED:
        assert outcome.shipment_id is not None
        assert expected is not None
        events.append(
            FreightInvoiceMatched.of(
                InvoiceMatch(
                    invoice_number=number,
                    line_number=line,
                    tracking_number=outcome.tracking_number,
                    shipment_id=outcome.shipment_id,
                    billed=billed,
                    expected=expected,
                ),
                source=source,
                time=now,
                id=event_id("line", carrier, number, line),
            )
        )
    else:
        difference = (
            Money.of(outcome.difference, currency) if outcome.difference is not None else None
        )
        events.append(
            FreightDiscrepancyFound.of(
                Discrepancy(
                    invoice_number=number,
                    line_number=line,
                    tracking_number=outcome.tracking_number,
                    kind=kind,
                    billed=billed,
                    shipment_id=outcome.shipment_id,
                    expected=expected,
                    difference=difference,
                    charge_type=outcome.charge_type,
                    explanation=explain(outcome, rules),
                ),
                source=source,
                time=now,
                subject=outcome.shipment_id or outcome.tracking_number,
                id=event_id("line", carrier, number, line),
            )
        )
    if kind not in ACCRUING or outcome.shipment_id is None:
        return events, None
    shipment_id = outcome.shipment_id
    if expected is not None and expected:
        reversal = Accrual(
            accrual_id=f"{carrier}:{number}:{line}:estimate-reversal",
            shipment_id=shipment_id,
            kind=AccrualKind.REVERSAL,
            amount=-expected,
            booked_at=now,
            invoice_number=number,
        )
        events.append(
            FreightChargeAccrued.of(
                reversal,
                source=source,
                time=now,
                id=event_id("accrual", carrier, reversal.accrual_id),
            )
        )
    actual = Accrual(
        accrual_id=f"{carrier}:{number}:{line}:actual",
        shipment_id=shipment_id,
        kind=AccrualKind.ACTUAL,
        amount=billed,
        booked_at=now,
        invoice_number=number,
    )
    events.append(
        FreightChargeAccrued.of(
            actual,
            source=source,
            time=now,
            id=event_id("accrual", carrier, actual.accrual_id),
        )
    )
    return events, actual


def explain(outcome: LineOutcome, rules: MatchRules) -> str:
    """A sentence a finance user can read about why a line is what it is."""
    kind = outcome.line_class
    billed = f"{outcome.billed} {outcome.currency}"
    if kind is LineClass.MATCHED:
        return f"billed {billed}, as expected within tolerance"
    if kind is LineClass.UNKNOWN_SHIPMENT:
        return (
            f"billed {billed} for tracking number {outcome.tracking_number}, which matches no"
            " shipment by tracking number, carrier shipment id or reference"
        )
    if kind is LineClass.DUPLICATE_LINE:
        return f"billed {billed} for a package that was already billed"
    if kind is LineClass.BILLED_AFTER_CANCELLATION:
        return f"billed {billed} for shipment {outcome.shipment_id}, which was cancelled"
    if kind is LineClass.CURRENCY_MISMATCH:
        return (
            f"billed {billed}, but the shipment was quoted in {outcome.expected_currency};"
            " amounts in different currencies are not compared"
        )
    charge = outcome.charge_type.value.replace("_", " ") if outcome.charge_type else "charge"
    difference = outcome.difference or _ZERO
    if kind in (
        LineClass.ADDRESS_CORRECTION,
        LineClass.WEIGHT_ADJUSTMENT,
        LineClass.UNQUOTED_SURCHARGE,
    ):
        return (
            f"{charge} of {difference} {outcome.currency} billed but not quoted"
            f" (line total {billed})"
        )
    assert outcome.charge_type is not None
    tolerance = rules.tolerance(outcome.charge_type)
    way = "over" if kind is LineClass.OVERCHARGE else "under"
    return (
        f"{charge} differs from the quote by {abs(difference)} {outcome.currency} {way}"
        f" (tolerance {tolerance.absolute} {outcome.currency} or {tolerance.percent}%);"
        f" line billed {billed}, expected {outcome.expected} {outcome.expected_currency}"
    )
