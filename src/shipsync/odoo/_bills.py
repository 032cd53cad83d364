"""Vendor bills for carriers' freight invoices: built, created once, read back.

A bill is a draft ``account.move`` with ``move_type='in_invoice'``, one line per freight charge
labelled with the tracking number, the charge and the picking it covers; ``ref`` is the carrier's
invoice number, which makes creation idempotent per vendor, and ``invoice_origin`` lists the
pickings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shipsync.canonical import CURRENCY_EXPONENTS, Claim, FreightInvoice, Money
from shipsync.errors import OdooResponseError, OdooValidationError
from shipsync.odoo._answers import record_ids, rows
from shipsync.odoo._batch import split_refs
from shipsync.odoo._gateway import OdooGateway
from shipsync.odoo._records import VendorBillLineRecord, VendorBillRecord
from shipsync.odoo._render import m2o_id, m2o_name, money_from_float
from shipsync.odoo._versions import version_facts

__all__ = [
    "bill_values",
    "credit_note_values",
    "currency_id",
    "find_bill",
    "find_credit_note",
    "read_bill",
]


def bill_values(
    invoice: FreightInvoice,
    *,
    vendor_id: int,
    currency_id: int,
    pickings: Mapping[str, str],
    journal_id: int | None = None,
) -> dict[str, Any]:
    """The ``account.move`` values of ``invoice``; ``pickings`` maps tracking number to name."""
    lines = []
    for line in invoice.lines:
        picking = pickings.get(line.tracking_number)
        suffix = f" ({picking})" if picking else ""
        for charge in line.charges:
            label = charge.description or charge.type.value.replace("_", " ")
            values = {
                "name": f"{line.tracking_number} {label}{suffix}"[:500],
                "quantity": 1,
                "price_unit": float(charge.amount.amount),
            }
            lines.append([0, 0, values])
    names = sorted(set(pickings.values()))
    result: dict[str, Any] = {
        "move_type": "in_invoice",
        "partner_id": vendor_id,
        "ref": invoice.invoice_number,
        "invoice_date": invoice.issued_at.date().isoformat(),
        "currency_id": currency_id,
        "invoice_origin": ", ".join(names)[:500] or False,
        "invoice_line_ids": lines,
    }
    if journal_id is not None:
        result["journal_id"] = journal_id
    return result


def credit_note_values(
    claim: Claim, *, vendor_id: int, currency_id: int, journal_id: int | None = None
) -> dict[str, Any]:
    """The ``account.move`` values of the carrier's credit note for a settled claim."""
    amount = claim.settled_amount or claim.amount
    label = f"Claim {claim.claim_id}: {claim.reason}"
    if claim.tracking_number:
        label += f" ({claim.tracking_number})"
    when = claim.settled_at or claim.opened_at
    result: dict[str, Any] = {
        "move_type": "in_refund",
        "partner_id": vendor_id,
        "ref": claim.claim_id,
        "invoice_date": when.date().isoformat(),
        "currency_id": currency_id,
        "invoice_line_ids": [
            [0, 0, {"name": label[:500], "quantity": 1, "price_unit": float(amount.amount)}]
        ],
    }
    if journal_id is not None:
        result["journal_id"] = journal_id
    return result


def find_credit_note(gateway: OdooGateway, claim_id: str, vendor_id: int) -> int | None:
    """The id of the vendor's credit note referenced ``claim_id``, if any."""
    domain = [
        ["move_type", "=", version_facts(gateway.server_version).refund_move_type],
        ["partner_id", "=", vendor_id],
        ["ref", "=", claim_id],
    ]
    ids = record_ids(
        gateway.call("account.move", "search", [domain], {"limit": 1, "order": "id"}),
        "account.move.search",
    )
    return ids[0] if ids else None


def currency_id(gateway: OdooGateway, code: str) -> int:
    """The id of an active Odoo currency, or :class:`~shipsync.errors.OdooValidationError`."""
    found = rows(
        gateway.call(
            "res.currency",
            "search_read",
            [[["name", "=", code]]],
            {"fields": ["active"], "context": {"active_test": False}},
        ),
        "res.currency.search_read",
    )
    if not found:
        raise OdooValidationError(f"Odoo has no currency {code}")
    if found[0].get("active") is not True:
        raise OdooValidationError(f"the currency {code} is not active in Odoo")
    return int(found[0]["id"])


def find_bill(gateway: OdooGateway, invoice_number: str, vendor_id: int) -> int | None:
    """The id of the vendor's bill referenced ``invoice_number``, if any."""
    domain = [
        ["move_type", "=", version_facts(gateway.server_version).bill_move_type],
        ["partner_id", "=", vendor_id],
        ["ref", "=", invoice_number],
    ]
    ids = record_ids(
        gateway.call("account.move", "search", [domain], {"limit": 1, "order": "id"}),
        "account.move.search",
    )
    return ids[0] if ids else None


def read_bill(
    gateway: OdooGateway, bill_id: int, *, created: bool, with_company: bool = False
) -> VendorBillRecord:
    """Read a bill and its product lines back as a typed record (two requests); its company
    and journal too ``with_company``."""
    fields = ["ref", "state", "partner_id", "currency_id", "amount_total", "invoice_origin"]
    if with_company:
        fields += ["company_id", "journal_id"]
    product_line = version_facts(gateway.server_version).bill_line_display_type
    bills = rows(
        gateway.call("account.move", "read", [[bill_id]], {"fields": fields}), "account.move.read"
    )
    if len(bills) != 1:
        raise OdooResponseError(f"Odoo answered account.move.read with {len(bills)} bills for 1")
    [bill] = bills
    currency = m2o_name(bill.get("currency_id")) or ""
    lines = rows(
        gateway.call(
            "account.move.line",
            "search_read",
            [[["move_id", "=", bill_id], ["display_type", "=", product_line]]],
            {"fields": ["name", "price_subtotal"], "order": "sequence, id"},
        ),
        "account.move.line.search_read",
    )
    if currency not in CURRENCY_EXPONENTS:
        raise OdooResponseError(
            f"Odoo returned a bill in a currency shipsync does not know: {currency!r}"
        )
    total = money_from_float(bill.get("amount_total"), currency)
    if total is None:
        raise OdooResponseError("Odoo returned a bill without a readable total")
    origin = bill.get("invoice_origin")
    return VendorBillRecord(
        id=bill_id,
        invoice_number=str(bill.get("ref") or ""),
        state=str(bill.get("state") or ""),
        vendor_id=m2o_id(bill.get("partner_id")) or 0,
        total=total,
        lines=tuple(
            VendorBillLineRecord(
                id=int(line["id"]),
                label=str(line.get("name") or ""),
                amount=money_from_float(line.get("price_subtotal"), currency)
                or Money.zero(currency),
            )
            for line in lines
        ),
        picking_names=tuple(split_refs(origin)) if isinstance(origin, str) else (),
        created=created,
        company_id=m2o_id(bill.get("company_id")),
        journal_id=m2o_id(bill.get("journal_id")),
    )
