"""Freight invoices from the fake carrier, with the discrepancies settlement must catch.

Each billable shipment gets one line per package: its share of the quoted base charge (split by
:meth:`~shipsync.canonical.Money.allocate`, leftover cents to the first packages), plus — when
the shipment asked for it with ``invoice_discrepancies`` or, with ``discrepancy_rate``, at random
for the seed — one of :data:`DISCREPANCY_KINDS`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from shipsync.canonical import Money

__all__ = ["DISCREPANCY_KINDS", "InvoiceBook"]

DISCREPANCY_KINDS = (
    "fuel_surcharge",
    "residential_surcharge",
    "weight_adjustment",
    "dimension_adjustment",
    "address_correction",
    "duplicate_line",
    "unknown_tracking_number",
    "billed_after_cancellation",
)

_CENT = Decimal("0.01")


class _Package(Protocol):
    tracking_number: str
    weight_kg: Decimal


class _Shipment(Protocol):
    id: str
    reference: str
    currency: str
    created_at: datetime
    quoted: Decimal
    discrepancies: tuple[str, ...]
    cancelled_at: datetime | None

    @property
    def packages(self) -> Sequence[_Package]: ...


def _charge(code: str, amount: Decimal, description: str) -> dict[str, str]:
    return {"code": code, "amount": str(amount.quantize(_CENT)), "description": description}


class InvoiceBook:
    """Bills shipments once each and keeps every invoice issued."""

    def __init__(self, *, seed: int = 0, discrepancy_rate: float = 0.0) -> None:
        self._rng = random.Random(seed + 3)
        self.discrepancy_rate = discrepancy_rate
        self.issued: list[dict[str, Any]] = []
        self._billed: set[str] = set()
        self._count = 0

    def _kinds(self, shipment: _Shipment) -> tuple[str, ...]:
        if shipment.discrepancies:
            return shipment.discrepancies
        if self.discrepancy_rate and self._rng.random() < self.discrepancy_rate:
            return (DISCREPANCY_KINDS[self._rng.randrange(len(DISCREPANCY_KINDS))],)
        return ()

    def _lines(self, shipment: _Shipment, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
        # The same split as settlement's: exact, leftover cents to the first packages.
        shares = Money.of(shipment.quoted, shipment.currency).allocate(len(shipment.packages))
        lines = []
        for index, package in enumerate(shipment.packages):
            base = shares[index].amount
            charges = [_charge("BASE", base, "Base freight")]
            if index == 0:
                if "fuel_surcharge" in kinds:
                    charges.append(_charge("FUEL", base * Decimal("0.12"), "Fuel surcharge"))
                if "residential_surcharge" in kinds:
                    charges.append(_charge("RESI", Decimal("4.50"), "Residential delivery"))
                if "weight_adjustment" in kinds:
                    charges.append(
                        _charge("WGHT", Decimal(2) * Decimal(2), "Weight corrected +2 kg")
                    )
                if "dimension_adjustment" in kinds:
                    charges.append(_charge("DIMW", base * Decimal("0.30"), "Dimensional weight"))
                if "address_correction" in kinds:
                    charges.append(_charge("ADDR", Decimal("17.00"), "Address correction"))
            line: dict[str, Any] = {
                "tracking_number": package.tracking_number,
                "shipment_id": shipment.id,
                "reference": shipment.reference,
                "ship_date": shipment.created_at.date().isoformat(),
                "charges": charges,
            }
            lines.append(line)
            if index == 0 and "duplicate_line" in kinds:
                lines.append(dict(line))
        if "unknown_tracking_number" in kinds:
            lines.append(
                {
                    "tracking_number": f"FKX{self._rng.randrange(10**9):09d}",
                    "shipment_id": None,
                    "reference": None,
                    "ship_date": shipment.created_at.date().isoformat(),
                    "charges": [_charge("BASE", Decimal("9.90"), "Base freight")],
                }
            )
        return lines

    def issue(self, shipments: Sequence[_Shipment], now: datetime) -> list[dict[str, Any]]:
        """Bill every shipment not billed before; one invoice per currency."""
        by_currency: dict[str, list[dict[str, Any]]] = {}
        for shipment in shipments:
            if shipment.id in self._billed or shipment.created_at > now:
                continue
            kinds = self._kinds(shipment)
            if shipment.cancelled_at is not None and "billed_after_cancellation" not in kinds:
                self._billed.add(shipment.id)
                continue
            self._billed.add(shipment.id)
            by_currency.setdefault(shipment.currency, []).extend(self._lines(shipment, kinds))
        new = []
        for currency in sorted(by_currency):
            self._count += 1
            lines = [
                {"line": number, **line}
                for number, line in enumerate(by_currency[currency], start=1)
            ]
            total = sum(
                (Decimal(c["amount"]) for line in lines for c in line["charges"]), Decimal(0)
            )
            invoice = {
                "number": f"INV-{self._count:06d}",
                "issued_at": now.isoformat(),
                "currency": currency,
                "lines": lines,
                "total": str(total.quantize(_CENT)),
            }
            self.issued.append(invoice)
            new.append(invoice)
        return new
