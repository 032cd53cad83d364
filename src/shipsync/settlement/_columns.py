"""Column mappings: which column of a carrier's invoice CSV holds which canonical field.

Each carrier names its columns differently; a :class:`InvoiceColumns` maps them onto the canonical
fields once, as data, beside the parser that reads them. One mapping ships: the fake carrier's
(:data:`FAKE_CARRIER_COLUMNS`). Hosts register their carriers' mappings with
:func:`register_columns`.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from shipsync.canonical import ChargeType
from shipsync.errors import ConfigurationError

__all__ = [
    "CHARGE_COLUMNS",
    "CREDIT_CHARGE_TYPES",
    "FAKE_CARRIER_COLUMNS",
    "InvoiceColumns",
    "columns_for",
    "register_columns",
]

CHARGE_COLUMNS: Mapping[str, ChargeType] = {
    "base_freight": ChargeType.BASE_FREIGHT,
    "fuel": ChargeType.FUEL,
    "residential": ChargeType.RESIDENTIAL,
    "address_correction": ChargeType.ADDRESS_CORRECTION,
    "dim_weight_adjustment": ChargeType.DIMENSIONAL_WEIGHT_ADJUSTMENT,
    "accessorial": ChargeType.ACCESSORIAL,
    "duties_and_taxes": ChargeType.DUTIES_AND_TAXES,
    "insurance": ChargeType.INSURANCE,
    "pickup": ChargeType.PICKUP,
    "other": ChargeType.OTHER,
}
"""The charge columns of shipsync's own CSV formats (fake carrier invoices, shipments files)."""

CREDIT_CHARGE_TYPES: frozenset[ChargeType] = frozenset(
    {
        ChargeType.ADDRESS_CORRECTION,
        ChargeType.DIMENSIONAL_WEIGHT_ADJUSTMENT,
        ChargeType.ACCESSORIAL,
        ChargeType.OTHER,
    }
)
"""Charge types that may be negative (a credit) by default; a negative base freight is refused."""

_DELIMITERS = (",", ";", "\t", "|")


def _charges(value: Mapping[str, ChargeType]) -> tuple[tuple[str, ChargeType], ...]:
    return tuple((str(column), ChargeType(kind)) for column, kind in dict(value).items())


@attrs.frozen
class InvoiceColumns:
    """Where a carrier's invoice CSV keeps each field.

    Required columns: invoice number, invoice date, currency, tracking number and, unless
    ``line_number`` is ``None`` (lines are then numbered by row), the line number. Optional
    columns set to ``None`` are not read. ``charges`` maps a column name to the charge type it
    holds; a line needs at least one non-empty charge cell. ``delimiter`` ``None`` detects one of
    ``, ; TAB |`` from the header row.
    """

    carrier: str
    charges: tuple[tuple[str, ChargeType], ...] = attrs.field(converter=_charges)
    invoice_number: str = "invoice_number"
    invoice_date: str = "invoice_date"
    currency: str = "currency"
    tracking_number: str = "tracking_number"
    line_number: str | None = "line_number"
    carrier_shipment_id: str | None = "carrier_shipment_id"
    reference: str | None = "reference"
    ship_date: str | None = "ship_date"
    service: str | None = "service"
    origin: str | None = "origin"
    destination: str | None = "destination"
    supersedes: str | None = "supersedes"
    delimiter: str | None = None
    credit_types: frozenset[ChargeType] = CREDIT_CHARGE_TYPES

    def __attrs_post_init__(self) -> None:
        if not self.charges:
            raise ConfigurationError("an invoice column mapping needs at least one charge column")
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise ConfigurationError("the delimiter must be one character")
        names = [column for column, _ in self.charges]
        if len(set(names)) != len(names):
            raise ConfigurationError("a charge column is mapped twice")

    @property
    def required(self) -> tuple[str, ...]:
        """The columns the header must have."""
        base = (self.invoice_number, self.invoice_date, self.currency, self.tracking_number)
        return base if self.line_number is None else (*base, self.line_number)

    def detect_delimiter(self, header: str) -> str:
        """The delimiter that splits ``header`` into all required columns."""
        if self.delimiter is not None:
            return self.delimiter
        for candidate in _DELIMITERS:
            cells = {cell.strip().strip('"') for cell in header.split(candidate)}
            if all(column in cells for column in self.required):
                return candidate
        return ","


FAKE_CARRIER_COLUMNS = InvoiceColumns(carrier="fake", charges=CHARGE_COLUMNS)
"""The fake carrier's invoice format (documented in ``docs/settlement.md``)."""

_REGISTRY: dict[str, InvoiceColumns] = {"fake": FAKE_CARRIER_COLUMNS}


def register_columns(columns: InvoiceColumns, *, replace: bool = False) -> None:
    """Make ``columns`` the mapping of its carrier for :func:`columns_for` and the CLI."""
    if columns.carrier in _REGISTRY and not replace:
        raise ConfigurationError(f"carrier {columns.carrier!r} already has a column mapping")
    _REGISTRY[columns.carrier] = columns


def columns_for(carrier: str) -> InvoiceColumns:
    """The registered column mapping of ``carrier``."""
    try:
        return _REGISTRY[carrier]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise ConfigurationError(
            f"no invoice column mapping for carrier {carrier[:50]!r} (known: {known})"
        ) from None
