"""Shipments and what travels with them: parcels, packages, labels, rates, pickups, customs,
proof of delivery and returns."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from datetime import date
from typing import Annotated, Any, Self

from pydantic import Field, StringConstraints, model_validator

from shipsync.canonical._base import (
    CanonicalModel,
    Identifier,
    PersonalStr,
    ShortText,
    Text,
    UtcDatetime,
)
from shipsync.canonical._finance import _MAX_COUNT, FreightCharge
from shipsync.canonical._money import Money, _exact_sum
from shipsync.canonical._parties import Address, CountryCode
from shipsync.canonical._tracking import Location, Milestone, TrackingEvent
from shipsync.canonical._units import Dimensions, Weight

__all__ = [
    "Commodity",
    "Customs",
    "HsCode",
    "Incoterm",
    "Label",
    "LabelFormat",
    "Package",
    "Parcel",
    "Pickup",
    "ProofOfDelivery",
    "Rate",
    "ReturnShipment",
    "Shipment",
    "ShipmentOptions",
    "SignatureOption",
]

MAX_LABEL_BYTES = 10 * 1024 * 1024

HsCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}([0-9]{2}){0,2}$")]
"""A Harmonized System code: 6, 8 or 10 digits, no dots."""


class LabelFormat(enum.StrEnum):
    """Formats a shipping label comes in."""

    PDF = "pdf"
    ZPL = "zpl"
    PNG = "png"
    EPL = "epl"


class SignatureOption(enum.StrEnum):
    """Who must sign for a delivery."""

    NONE = "none"
    SIGNATURE = "signature"
    ADULT_SIGNATURE = "adult_signature"


class ShipmentOptions(CanonicalModel):
    """Delivery options a shipper asks the carrier for (drivers refuse the ones they lack)."""

    signature: SignatureOption = SignatureOption.NONE
    saturday_delivery: bool = False


class Incoterm(enum.StrEnum):
    """Incoterms 2020."""

    EXW = "EXW"
    FCA = "FCA"
    CPT = "CPT"
    CIP = "CIP"
    DAP = "DAP"
    DPU = "DPU"
    DDP = "DDP"
    FAS = "FAS"
    FOB = "FOB"
    CFR = "CFR"
    CIF = "CIF"


class Label(CanonicalModel):
    """A printable shipping label of one package."""

    tracking_number: Identifier
    format: LabelFormat
    data: Annotated[bytes, Field(max_length=MAX_LABEL_BYTES)]

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, (f"<{len(value)} bytes>" if name == "data" else value)


class Parcel(CanonicalModel):
    """A physical parcel to ship: what it weighs and measures."""

    weight: Weight
    dimensions: Dimensions | None = None
    description: ShortText | None = None
    reference: ShortText | None = None


class Package(CanonicalModel):
    """A parcel as shipped: its own tracking number, label, status and events."""

    parcel: Parcel
    tracking_number: Identifier | None = None
    label: Label | None = None
    status: Milestone = Milestone.UNKNOWN
    events: Annotated[tuple[TrackingEvent, ...], Field(max_length=10_000)] = ()


class Commodity(CanonicalModel):
    """One line of a customs declaration."""

    description: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    hs_code: HsCode | None = None
    quantity: Annotated[int, Field(gt=0, le=_MAX_COUNT)]
    value: Money
    origin_country: CountryCode
    weight: Weight | None = None


class Customs(CanonicalModel):
    """What customs needs to clear an international shipment."""

    incoterm: Incoterm
    commodities: Annotated[tuple[Commodity, ...], Field(min_length=1, max_length=999)]
    contents: ShortText = "merchandise"
    invoice_number: ShortText | None = None


class Shipment(CanonicalModel):
    """A shipment: our id, the order and picking it fulfils, the carrier's ids, its packages."""

    shipment_id: Identifier
    order_reference: ShortText | None = None
    picking_reference: ShortText | None = None
    carrier: Identifier
    service: ShortText
    carrier_shipment_id: ShortText | None = None
    shipper: Address
    recipient: Address
    packages: Annotated[tuple[Package, ...], Field(min_length=1, max_length=999)]
    customs: Customs | None = None
    created_at: UtcDatetime | None = None
    options: ShipmentOptions | None = None

    @property
    def tracking_numbers(self) -> tuple[str, ...]:
        """The tracking numbers of the packages that have one, in package order."""
        return tuple(p.tracking_number for p in self.packages if p.tracking_number)


class Rate(CanonicalModel):
    """A price a carrier quoted for a service. Charges, when given, add up to ``total``."""

    carrier: Identifier
    service: ShortText
    total: Money
    charges: Annotated[tuple[FreightCharge, ...], Field(max_length=100)] = ()
    transit_days: Annotated[int, Field(ge=0, le=365)] | None = None
    estimated_delivery: date | None = None
    quote_id: ShortText | None = None

    @model_validator(mode="after")
    def _charges_add_up(self) -> Self:
        if self.charges:
            currency = self.total.currency
            if any(c.amount.currency != currency for c in self.charges):
                raise ValueError("charges must be in the currency of the total")
            if _exact_sum(c.amount.amount for c in self.charges) != self.total.amount:
                raise ValueError("charges do not add up to total")
        return self


class Pickup(CanonicalModel):
    """A scheduled pickup."""

    carrier: Identifier
    confirmation_number: Identifier
    address: Address
    ready_from: UtcDatetime
    ready_until: UtcDatetime
    tracking_numbers: Annotated[tuple[Identifier, ...], Field(max_length=999)] = ()
    instructions: ShortText | None = None

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.ready_until <= self.ready_from:
            raise ValueError("ready_until must be after ready_from")
        return self


class ProofOfDelivery(CanonicalModel):
    """Evidence that a package was delivered."""

    shipment_id: Identifier
    tracking_number: Identifier
    delivered_at: UtcDatetime
    signed_by: PersonalStr | None = None
    location: Location | None = None
    photo_reference: ShortText | None = None
    signature_reference: ShortText | None = None
    notes: Text = ""


class ReturnShipment(CanonicalModel):
    """A return of an earlier shipment, with its own tracking number and label."""

    return_id: Identifier
    original_shipment_id: Identifier
    carrier: Identifier
    tracking_number: Identifier
    label: Label | None = None
    reason: ShortText | None = None
