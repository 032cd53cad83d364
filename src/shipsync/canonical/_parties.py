"""Addresses and contacts. Names, street lines, phone numbers and e-mails are personal data."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, GetPydanticSchema, WithJsonSchema
from pydantic_core import core_schema

from shipsync.canonical._base import CanonicalModel, PersonalData, PersonalStr, ShortText
from shipsync.canonical._codes import COUNTRY_CODES

__all__ = ["COUNTRY_CODES", "Address", "Contact", "CountryCode"]


# A literal of every code, checked inside pydantic-core (one hash lookup, no Python call).
_COUNTRY_SCHEMA = core_schema.custom_error_schema(
    core_schema.literal_schema(sorted(COUNTRY_CODES)),
    custom_error_type="country_code",
    custom_error_message="not an ISO 3166-1 alpha-2 country code",
)

CountryCode = Annotated[
    str,
    GetPydanticSchema(lambda _source, _handler: _COUNTRY_SCHEMA),
    WithJsonSchema(
        {"type": "string", "pattern": "^[A-Z]{2}$", "description": "ISO 3166-1 alpha-2"}
    ),
]
"""An ISO 3166-1 alpha-2 country code, upper case (``DE``)."""


class Contact(CanonicalModel):
    """A person or desk to reach about a shipment."""

    name: PersonalStr | None = None
    company: ShortText | None = None
    phone: PersonalStr | None = None
    email: PersonalStr | None = None


class Address(CanonicalModel):
    """A postal address. ``street`` holds one to three lines."""

    name: PersonalStr | None = None
    company: ShortText | None = None
    street: Annotated[tuple[PersonalStr, ...], PersonalData(), Field(max_length=3)] = ()
    city: ShortText | None = None
    state: ShortText | None = None
    postal_code: ShortText | None = None
    country: CountryCode
    residential: bool | None = None
    contact: Contact | None = None
