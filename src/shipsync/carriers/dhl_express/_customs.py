"""Customs data rules, checked before any request is built.

DHL Express refuses a declarable shipment whose customs data does not hold together, but only
after a round trip and with a message about its own field names. These rules catch the same
mistakes locally and name the canonical field: each line has a positive value in the one
declared currency, line weights (when given) are given for every line and do not exceed what
the parcels weigh, each line names its country of origin, and the invoice number the
declaration needs is present.
"""

from __future__ import annotations

from fractions import Fraction

from shipsync.canonical import Shipment
from shipsync.errors import CarrierRequestError

__all__ = ["check_customs", "customs_error"]


def customs_error(message: str, path: str, *, carrier: str = "dhl_express") -> CarrierRequestError:
    """A typed refusal naming the canonical field at fault; nothing has been sent."""
    error = CarrierRequestError(message, carrier=carrier, code="customs_invalid")
    error.path = path
    return error


def check_customs(shipment: Shipment) -> None:
    """Raise :class:`~shipsync.errors.CarrierRequestError` (``code="customs_invalid"``,
    ``path`` set) for the first customs rule ``shipment`` breaks."""
    customs = shipment.customs
    if customs is None:
        return
    lines = customs.commodities
    currency = lines[0].value.currency
    for index, line in enumerate(lines):
        where = f"customs.commodities.{index}"
        if line.value.amount <= 0:
            raise customs_error("each customs line needs a positive value", f"{where}.value")
        if line.value.currency != currency:
            raise customs_error(
                "all customs lines must be valued in one currency", f"{where}.value.currency"
            )
        if not line.origin_country:
            raise customs_error("each customs line needs its country of origin", where)
    weighed = [line.weight for line in lines if line.weight is not None]
    if weighed and len(weighed) != len(lines):
        missing = next(i for i, line in enumerate(lines) if line.weight is None)
        raise customs_error(
            "give a weight for every customs line or for none",
            f"customs.commodities.{missing}.weight",
        )
    if weighed:
        declared = sum((w.grams for w in weighed), Fraction(0))
        shipped = sum((p.parcel.weight.grams for p in shipment.packages), Fraction(0))
        if declared > shipped:
            raise customs_error(
                "the customs lines weigh more than the parcels", "customs.commodities"
            )
    if not customs.invoice_number:
        raise customs_error(
            "a customs declaration needs the invoice number", "customs.invoice_number"
        )
