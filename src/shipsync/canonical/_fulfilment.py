"""What an ERP publishes about fulfilment: orders confirmed, pickings ready or cancelled, returns.

These are the facts that start carrier execution. Each names the ERP records it comes from
(:class:`ErpReference`: system, model, id, display name, company) so a consumer can write back
to the same records, and a ready picking carries the canonical :class:`~shipsync.canonical.Shipment`
built from it (packages, weights, addresses with their personal data marked, declared values for
customs), so a booking needs no further read of the ERP.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import Field

from shipsync.canonical._base import CanonicalModel, Identifier, ShortText, Text, UtcDatetime
from shipsync.canonical._money import Money
from shipsync.canonical._parties import Address
from shipsync.canonical._shipment import Shipment

__all__ = [
    "CancelledPicking",
    "ConfirmedOrder",
    "ErpReference",
    "InitiatedReturn",
    "ReadyPicking",
]


class ErpReference(CanonicalModel):
    """One ERP record: ``odoo`` ``stock.picking`` 42 ``WH/OUT/00042`` of company 1."""

    system: Identifier = "odoo"
    database: ShortText | None = None
    model: Identifier
    record_id: Annotated[int, Field(gt=0)]
    name: ShortText
    company_id: Annotated[int, Field(gt=0)] | None = None


class ConfirmedOrder(CanonicalModel):
    """A sale order was confirmed: fulfilment will follow."""

    order: ErpReference
    confirmed_at: UtcDatetime
    customer: Address | None = None
    amount_total: Money | None = None
    promised_date: date | None = None
    carrier: ShortText | None = None


class ReadyPicking(CanonicalModel):
    """An outgoing picking is ready to ship with a carrier set: it can be booked.

    ``shipment`` is the canonical shipment built from the picking; its ``shipment_id`` is stable
    for the picking, so every retry of a booking names the same shipment. ``carrier`` is the
    ERP's delivery method as the host maps it onto a driver name.
    """

    picking: ErpReference
    order: ErpReference | None = None
    carrier: ShortText | None = None
    ready_at: UtcDatetime
    promised_date: date | None = None
    shipment: Shipment


class CancelledPicking(CanonicalModel):
    """An outgoing picking was cancelled (before or after its booking)."""

    picking: ErpReference
    order: ErpReference | None = None
    cancelled_at: UtcDatetime
    tracking_numbers: Annotated[tuple[Identifier, ...], Field(max_length=999)] = ()


class InitiatedReturn(CanonicalModel):
    """A return picking was created for an outgoing picking: a return label is wanted."""

    return_picking: ErpReference
    origin_picking: ErpReference
    order: ErpReference | None = None
    initiated_at: UtcDatetime
    reason: Text | None = None
    tracking_numbers: Annotated[tuple[Identifier, ...], Field(max_length=999)] = ()
