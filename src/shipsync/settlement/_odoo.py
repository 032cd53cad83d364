"""Post settled invoices as draft Odoo vendor bills, through ``shipsync.odoo``'s public API.

:class:`OdooVendorBillSink` is a :class:`~shipsync.settlement.VendorBillSink`: each bill line (one
per class of invoice lines) becomes one charge of a canonical ``FreightInvoice`` that
:meth:`shipsync.odoo.OdooLogistics.create_vendor_bill` turns into a draft ``account.move``. Odoo
finds an existing bill by vendor and invoice number, so posting twice never makes two bills.
"""

from __future__ import annotations

from datetime import UTC, datetime, time

from shipsync.canonical import (
    ChargeType,
    FreightCharge,
    FreightInvoice,
    FreightInvoiceLine,
    LineClass,
)
from shipsync.odoo import OdooLogistics
from shipsync.settlement._bills import VendorBill

__all__ = ["OdooVendorBillSink", "freight_invoice_of_bill"]


def freight_invoice_of_bill(
    bill: VendorBill, *, issued_at: datetime | None = None
) -> FreightInvoice:
    """The canonical invoice the Odoo client bills: one line per class, one charge each."""
    if issued_at is None:
        day = bill.invoice_date or datetime.now(UTC).date()
        issued_at = datetime.combine(day, time(0), tzinfo=UTC)
    lines = tuple(
        FreightInvoiceLine(
            line_number=number,
            tracking_number=f"{bill.invoice_number}/{line.line_class.value}",
            charges=(
                FreightCharge(
                    type=ChargeType.BASE_FREIGHT
                    if line.line_class is LineClass.MATCHED
                    else ChargeType.OTHER,
                    amount=line.amount,
                    description=f"{line.description} ({line.invoice_lines} lines)"[:200],
                    carrier_code=line.line_class.value,
                ),
            ),
        )
        for number, line in enumerate(bill.lines, start=1)
    )
    return FreightInvoice(
        invoice_number=bill.invoice_number,
        carrier=bill.carrier,
        issued_at=issued_at,
        currency=bill.currency,
        lines=lines,
        total=bill.total,
    )


class OdooVendorBillSink:
    """A :class:`~shipsync.settlement.VendorBillSink` that creates draft bills in Odoo."""

    def __init__(
        self, logistics: OdooLogistics, *, vendor_id: int, journal_id: int | None = None
    ) -> None:
        self.logistics = logistics
        self.vendor_id = vendor_id
        self.journal_id = journal_id

    def post(self, bill: VendorBill, *, idempotency_key: str) -> str:
        """Create the draft bill (or find the one made before); return ``odoo:account.move:ID``.

        A bill with no lines (everything held back as disputed) is not posted.
        """
        if not bill.lines:
            return f"held:{idempotency_key}"
        record = self.logistics.create_vendor_bill(
            freight_invoice_of_bill(bill), vendor_id=self.vendor_id, journal_id=self.journal_id
        )
        return f"odoo:account.move:{record.id}"
