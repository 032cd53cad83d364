"""Canonical values as UPS's JSON, and the checks UPS would fail a request on, done first.

Everything here is pure: it turns canonical models into the dictionaries the UPS REST APIs take
(``Shipping``, ``Rating``, ``AddressValidation``, ``Pickup``) and refuses, with a typed error that
names the field, what UPS cannot accept (a missing phone on an international shipment, a package
over the weight limit, a service UPS does not offer on the lane, a destination UPS does not
serve). Units follow the shipper's country: pounds and inches from the US and Puerto Rico,
kilograms and centimetres elsewhere. Weights are converted exactly and rounded *up* to UPS's one
decimal, dimensions up to whole units, so a declaration is never lighter or smaller than the
parcel.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import ROUND_CEILING, Decimal, localcontext
from fractions import Fraction
from typing import Any

from shipsync.canonical import (
    Address,
    Customs,
    LengthUnit,
    Parcel,
    Shipment,
    ShipmentOptions,
    SignatureOption,
    WeightUnit,
)
from shipsync.carriers.ups._mapping import (
    DOMESTIC_ONLY,
    LIMITS,
    SERVICE_CODES,
    SERVICES,
    SIGNATURE_CODES,
    UNSERVED_COUNTRIES,
)
from shipsync.errors import CarrierRequestError

__all__ = [
    "ShipmentRefused",
    "address_json",
    "package_json",
    "party_json",
    "refuse",
    "service_code",
    "units_for",
]

ShipmentRefused = CarrierRequestError
_UNIT_NAMES = {"LBS": "Pounds", "KGS": "Kilograms", "IN": "Inches", "CM": "Centimeters"}
_IMPERIAL_ORIGINS = frozenset({"US", "PR"})
# Exact definitions (1959): 1 lb = 453.59237 g, 1 in = 25.4 mm.
_GRAMS_PER = {"LBS": Fraction("453.59237"), "KGS": Fraction(1000)}
_MM_PER = {"IN": Fraction("25.4"), "CM": Fraction(10)}
_MM = {LengthUnit.IN: Fraction("25.4"), LengthUnit.CM: Fraction(10), LengthUnit.MM: Fraction(1)}


def refuse(message: str, path: str, operation: str) -> CarrierRequestError:
    """The typed error for input UPS cannot accept; ``path`` names the canonical field."""
    error = CarrierRequestError(
        f"{message} ({path})", carrier="ups", operation=operation, code="not_accepted"
    )
    error.path = path
    return error


def units_for(shipper_country: str) -> tuple[str, str]:
    """UPS's weight and length unit codes for shipments leaving ``shipper_country``."""
    return ("LBS", "IN") if shipper_country in _IMPERIAL_ORIGINS else ("KGS", "CM")


def _text(value: str | None, limit: int, path: str, operation: str) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) > limit:
        raise refuse(f"UPS takes at most {limit} characters here", path, operation)
    return value


def _postal(value: str | None) -> str | None:
    if not value:
        return None
    return value.replace("-", "").replace(" ", "") if len(value) > 9 else value


def address_json(
    address: Address, path: str, operation: str, *, state_length: int = 5
) -> dict[str, Any]:
    """A UPS ``Address`` object (street lines, city, state, postal code, country)."""
    if not address.street:
        raise refuse("UPS needs at least one street line", f"{path}.street", operation)
    for index, line in enumerate(address.street):
        _text(line, 35, f"{path}.street.{index}", operation)
    result: dict[str, Any] = {"AddressLine": list(address.street)}
    city = _text(address.city, 30, f"{path}.city", operation)
    if city is None:
        raise refuse("UPS needs a city", f"{path}.city", operation)
    result["City"] = city
    state = address.state.strip() if address.state else None
    if state and len(state) <= state_length:
        result["StateProvinceCode"] = state
    postal = _postal(address.postal_code)
    if postal:
        result["PostalCode"] = _text(postal, 9, f"{path}.postal_code", operation)
    result["CountryCode"] = address.country
    return result


def _phone(address: Address) -> str | None:
    phone = address.contact.phone if address.contact else None
    return phone.strip() if phone and phone.strip() else None


def party_json(
    address: Address,
    path: str,
    operation: str,
    *,
    phone_required: bool = False,
    residential: bool = False,
    state_length: int = 5,
) -> dict[str, Any]:
    """A UPS party (``Shipper``, ``ShipTo``, ``ShipFrom``): name, attention, phone, address."""
    name = address.company or address.name or (address.contact.name if address.contact else None)
    if not name:
        raise refuse("UPS needs a name or company", f"{path}.name", operation)
    party: dict[str, Any] = {"Name": _text(name, 35, f"{path}.company", operation)}
    attention = address.name if address.company and address.name else None
    if attention:
        party["AttentionName"] = _text(attention, 35, f"{path}.name", operation)
    phone = _phone(address)
    if phone:
        party["Phone"] = {"Number": _text(phone, 15, f"{path}.contact.phone", operation)}
    elif phone_required:
        raise refuse(
            "UPS needs a phone number for international shipments",
            f"{path}.contact.phone",
            operation,
        )
    party["Address"] = address_json(address, path, operation, state_length=state_length)
    if residential and address.residential:
        party["Address"]["ResidentialAddressIndicator"] = ""
    return party


def service_code(shipment: Shipment, operation: str) -> str:
    """UPS's code of the shipment's service (a canonical name or UPS's own code)."""
    code = SERVICE_CODES.get(shipment.service) or (
        shipment.service if shipment.service in SERVICES else None
    )
    if code is None:
        raise refuse(f"UPS has no service {shipment.service!r}", "service", operation)
    if code in DOMESTIC_ONLY and shipment.shipper.country != shipment.recipient.country:
        raise refuse(f"UPS offers {SERVICES[code]} only within one country", "service", operation)
    return code


def check_lane(shipment: Shipment, operation: str) -> None:
    """Refuse destinations UPS does not serve and shipments with too many packages."""
    for side in ("shipper", "recipient"):
        address: Address = getattr(shipment, side)
        if address.country in UNSERVED_COUNTRIES:
            raise refuse(f"UPS does not serve {address.country}", f"{side}.country", operation)
    if len(shipment.packages) > LIMITS.max_packages:
        raise refuse(
            f"UPS takes at most {LIMITS.max_packages} packages per shipment",
            "packages",
            operation,
        )


def _up(value: Fraction | Decimal, places: int) -> str:
    """``value`` rounded up to ``places`` decimals (at least one unit of the last place).

    A ``Fraction`` is divided out at 60 significant digits before rounding *up*: the parcel's
    bounded decimals make any true excess over a step boundary far larger than that precision,
    so the ceiling is the exact value's ceiling.
    """
    if isinstance(value, Fraction):
        with localcontext() as context:
            context.prec = 60
            value = Decimal(value.numerator) / Decimal(value.denominator)
    quantum = _QUANTA[places]
    result = value.quantize(quantum, rounding=ROUND_CEILING)
    return format(max(result, quantum), "f")


#: The same unit needs no conversion: the canonical Decimal is already exact.
_SAME_WEIGHT = {"LBS": WeightUnit.LB, "KGS": WeightUnit.KG}
_SAME_LENGTH = {"IN": LengthUnit.IN, "CM": LengthUnit.CM}
_QUANTA = {0: Decimal(1), 1: Decimal("0.1")}


def _weight(parcel: Parcel, unit: str, path: str, operation: str) -> str:
    exact: Fraction | Decimal
    if parcel.weight.unit is _SAME_WEIGHT[unit]:
        exact = parcel.weight.value
    else:
        exact = parcel.weight.grams / _GRAMS_PER[unit]
    if exact > LIMITS.max_weight[unit]:
        raise refuse(
            f"UPS takes at most {LIMITS.max_weight[unit]} {unit} per package", path, operation
        )
    return _up(exact, 1)


def _dimensions(parcel: Parcel, unit: str, path: str, operation: str) -> list[str] | None:
    dims = parcel.dimensions
    if dims is None:
        return None
    exact: list[Fraction] | list[Decimal]
    if dims.unit is _SAME_LENGTH[unit]:
        exact = [dims.length, dims.width, dims.height]
    else:
        factor = _MM[dims.unit] / _MM_PER[unit]
        exact = [Fraction(side) * factor for side in (dims.length, dims.width, dims.height)]
    sides: list[Any] = sorted(exact, reverse=True)
    if sides[0] > LIMITS.max_length[unit]:
        raise refuse(f"UPS takes at most {LIMITS.max_length[unit]} {unit} length", path, operation)
    if sides[0] + 2 * (sides[1] + sides[2]) > LIMITS.max_length_plus_girth[unit]:
        raise refuse(
            f"UPS takes at most {LIMITS.max_length_plus_girth[unit]} {unit} length plus girth",
            path,
            operation,
        )
    return [_up(side, 0) for side in exact]


def package_json(
    parcel: Parcel,
    index: int,
    shipper_country: str,
    operation: str,
    *,
    rating: bool = False,
    references: Sequence[str] = (),
    signature: str | None = None,
) -> dict[str, Any]:
    """A UPS ``Package``: packaging, weight, dimensions, references, signature option."""
    weight_unit, length_unit = units_for(shipper_country)
    path = f"packages.{index}.parcel"
    packaging_key = "PackagingType" if rating else "Packaging"
    package: dict[str, Any] = {packaging_key: {"Code": "02"}}
    sides = _dimensions(parcel, length_unit, f"{path}.dimensions", operation)
    if sides is not None:
        package["Dimensions"] = {
            "UnitOfMeasurement": {"Code": length_unit, "Description": _UNIT_NAMES[length_unit]},
            "Length": sides[0],
            "Width": sides[1],
            "Height": sides[2],
        }
    package["PackageWeight"] = {
        "UnitOfMeasurement": {"Code": weight_unit, "Description": _UNIT_NAMES[weight_unit]},
        "Weight": _weight(parcel, weight_unit, f"{path}.weight", operation),
    }
    if not rating:
        if parcel.description:
            package["Description"] = _text(parcel.description, 35, f"{path}.description", operation)
        refs = [r for r in references if r][:2]
        if refs:
            package["ReferenceNumber"] = [
                {"Value": _text(r, 35, f"{path}.reference", operation)} for r in refs
            ]
    if signature is not None:
        package["PackageServiceOptions"] = {"DeliveryConfirmation": {"DCISType": signature}}
    return package


def signature_code(options: ShipmentOptions | None) -> str | None:
    """UPS's DCISType for the shipment's signature option, if one is asked for."""
    if options is None or options.signature is SignatureOption.NONE:
        return None
    return SIGNATURE_CODES[options.signature.value]


def _unit_value(value: Decimal, quantity: int, path: str, operation: str) -> str:
    unit = value / quantity
    if unit * quantity != value or unit.as_tuple().exponent < -6:  # type: ignore[operator]
        raise refuse("the line value does not divide exactly into a unit value", path, operation)
    return format(unit.normalize(), "f")


def customs_json(
    shipment: Shipment, customs: Customs, invoice_date: date, operation: str
) -> dict[str, Any]:
    """UPS ``InternationalForms`` for a commercial invoice (form type 01).

    UPS transmits it electronically (Paperless Invoice) when the account is enabled for it;
    otherwise the invoice comes back as a printable form.
    """
    currencies = {c.value.currency for c in customs.commodities}
    if len(currencies) != 1:
        raise refuse(
            "all commodity values must share one currency", "customs.commodities", operation
        )
    products = []
    for index, commodity in enumerate(customs.commodities):
        path = f"customs.commodities.{index}"
        description = commodity.description.strip()
        parts = [description[i : i + 35] for i in range(0, len(description), 35)]
        if len(parts) > 3:
            raise refuse("UPS takes at most 105 characters", f"{path}.description", operation)
        product: dict[str, Any] = {
            "Description": parts,
            "Unit": {
                "Number": str(commodity.quantity),
                "Value": _unit_value(
                    commodity.value.amount, commodity.quantity, f"{path}.value", operation
                ),
                "UnitOfMeasurement": {"Code": "PCS"},
            },
            "OriginCountryCode": commodity.origin_country,
        }
        if commodity.hs_code:
            product["CommodityCode"] = commodity.hs_code
        products.append(product)
    sold_to = party_json(shipment.recipient, "recipient", operation, phone_required=True)
    sold_to.setdefault("AttentionName", sold_to["Name"])
    forms: dict[str, Any] = {
        "FormType": ["01"],
        "InvoiceDate": invoice_date.strftime("%Y%m%d"),
        "ReasonForExport": "SALE",
        "CurrencyCode": currencies.pop(),
        "TermsOfShipment": customs.incoterm.value,
        "Product": products,
        "Contacts": {"SoldTo": sold_to},
    }
    if customs.invoice_number:
        forms["InvoiceNumber"] = _text(
            customs.invoice_number, 35, "customs.invoice_number", operation
        )
    return forms
