"""Pure helpers between canonical values and Odoo's values: chatter bodies, money, many2one.

Bodies are HTML built here with every value escaped, because notes are created with
``mail.message`` ``create`` (which, unlike ``message_post``, takes the body as given).
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from shipsync.canonical import (
    CURRENCY_EXPONENTS,
    LabelFormat,
    Milestone,
    Money,
    ProofOfDelivery,
    Reason,
    ReturnShipment,
    Shipment,
    TrackingEvent,
)

__all__ = [
    "LABEL_MIMETYPES",
    "cancellation_body",
    "event_body",
    "m2o_id",
    "m2o_name",
    "money_from_float",
    "proof_body",
    "return_body",
    "shipment_body",
]

LABEL_MIMETYPES = {
    LabelFormat.PDF: "application/pdf",
    LabelFormat.ZPL: "text/plain",
    LabelFormat.PNG: "image/png",
    LabelFormat.EPL: "text/plain",
}
"""The attachment mimetype of each label format."""

_WHEN = "%Y-%m-%d %H:%M UTC"


def _label(milestone: Milestone) -> str:
    return milestone.value.replace("_", " ").capitalize()


def event_body(event: TrackingEvent) -> str:
    """The note of one tracking event: milestone, reason, carrier, number, text, place, time."""
    esc = html.escape
    head = f"<strong>{esc(_label(event.milestone))}</strong>"
    if event.reason not in (Reason.NORMAL, Reason.UNKNOWN):
        head += f" ({esc(event.reason.value.replace('_', ' '))})"
    parts = [f"<p>{head} · {esc(event.carrier)} {esc(event.tracking_number)}</p>"]
    if event.carrier_description:
        parts.append(f"<p>{esc(event.carrier_description)}</p>")
    where = ""
    if event.location is not None:
        bits = [event.location.facility, event.location.city, event.location.country]
        where = ", ".join(esc(b) for b in bits if b)
    when = event.occurred_at.strftime(_WHEN)
    parts.append(f"<p>{where + ' · ' if where else ''}{when}</p>")
    return "".join(parts)


def shipment_body(shipment: Shipment, refs: Sequence[str], price: Money | None) -> str:
    """The note of a booked shipment: carrier, service, tracking numbers and price."""
    esc = html.escape
    body = (
        f"<p><strong>Shipment booked</strong> · {esc(shipment.carrier)} {esc(shipment.service)}</p>"
    )
    if refs:
        body += "<ul>" + "".join(f"<li>{esc(ref)}</li>" for ref in refs) + "</ul>"
    if price is not None:
        body += f"<p>Carrier price: {esc(str(price.amount))} {esc(price.currency)}</p>"
    return body


def cancellation_body(shipment: Shipment, *, voided: bool, reason: str) -> str:
    """The note of a cancelled picking's booking: voided at the carrier, or to void by hand."""
    esc = html.escape
    head = "Label voided" if voided else "Label NOT voided: void it with the carrier"
    refs = "".join(f"<li>{esc(ref)}</li>" for ref in shipment.tracking_numbers)
    return (
        f"<p><strong>{head}</strong> · {esc(shipment.carrier)}</p>"
        + (f"<ul>{refs}</ul>" if refs else "")
        + f"<p>{esc(reason)}</p>"
    )


def return_body(returned: ReturnShipment) -> str:
    """The note of a return label: carrier, tracking number, reason."""
    esc = html.escape
    body = (
        f"<p><strong>Return label created</strong> · {esc(returned.carrier)}"
        f" {esc(returned.tracking_number)}</p>"
    )
    if returned.reason:
        body += f"<p>{esc(returned.reason)}</p>"
    return body


def proof_body(proof: ProofOfDelivery) -> str:
    """The note of a proof of delivery: number, time, signatory and notes."""
    esc = html.escape
    body = (
        f"<p><strong>Proof of delivery</strong> · {esc(proof.tracking_number)} · "
        f"{proof.delivered_at.strftime(_WHEN)}</p>"
    )
    if proof.signed_by:
        body += f"<p>Signed by {esc(proof.signed_by)}</p>"
    if proof.notes:
        body += f"<p>{esc(proof.notes)}</p>"
    return body


def money_from_float(value: object, currency: str) -> Money | None:
    """Odoo's float amount as ``Money`` in the currency's places; ``None`` if not a number."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    places = CURRENCY_EXPONENTS.get(currency, 2)
    return Money.of(f"{float(value):.{places}f}", currency)


def m2o_id(value: object) -> int | None:
    """The id of a many2one value (``[7, "Name"]``), or ``None`` for ``False``."""
    if isinstance(value, list) and value and isinstance(value[0], int):
        return value[0]
    return None


def m2o_name(value: object) -> str | None:
    """The display name of a many2one value, or ``None``."""
    if isinstance(value, list) and len(value) > 1 and isinstance(value[1], str):
        return value[1]
    return None
