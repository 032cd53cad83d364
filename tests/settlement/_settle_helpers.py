"""Shared values for the settlement tests (imported by the test modules, not collected)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from shipsync.canonical import ChargeType
from shipsync.settlement import Expectation, MemoryShipmentIndex

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
HEADER = (
    "invoice_number,invoice_date,currency,line_number,tracking_number,carrier_shipment_id,"
    "reference,base_freight,fuel,residential,address_correction,dim_weight_adjustment,other,"
    "supersedes"
)


def clock() -> datetime:
    """A frozen clock."""
    return NOW


def invoice_csv(*rows: str, header: str = HEADER) -> str:
    """An invoice file's text: the header and ``rows``, newline-terminated."""
    return "\n".join((header, *rows)) + "\n"


def line(
    number: int,
    tracking: str,
    base: str = "",
    *,
    invoice: str = "INV-1",
    currency: str = "USD",
    fuel: str = "",
    residential: str = "",
    address: str = "",
    weight: str = "",
    other: str = "",
    carrier_id: str = "",
    reference: str = "",
    supersedes: str = "",
    date: str = "2026-11-20",
) -> str:
    """One row in :data:`HEADER`'s layout."""
    return ",".join(
        [
            invoice,
            date,
            currency,
            str(number),
            tracking,
            carrier_id,
            reference,
            base,
            fuel,
            residential,
            address,
            weight,
            other,
            supersedes,
        ]
    )


def write(tmp_path: Path, text: str, name: str = "invoice.csv", encoding: str = "utf-8") -> Path:
    """Write ``text`` to a file under ``tmp_path`` without newline translation."""
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def index_of(
    *packages: tuple[str, str, dict[ChargeType, str]], **flags: bool
) -> MemoryShipmentIndex:
    """An index of ``(shipment_id, tracking, {type: amount})`` packages, all in USD."""
    index = MemoryShipmentIndex()
    for shipment_id, tracking, charges in packages:
        index.add(
            Expectation(
                shipment_id,
                tracking,
                "USD",
                {kind: Decimal(amount) for kind, amount in charges.items()},
                flags.get("cancelled", False),
            ),
            carrier_shipment_id=f"C-{shipment_id}",
            reference=f"R-{shipment_id}",
        )
    return index
