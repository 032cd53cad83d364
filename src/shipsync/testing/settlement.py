"""Settlement sample data: a shipments file and labelled fake-carrier invoices, any size.

Used by the tests, the benchmark and ``docs/settlement.md``. Every invoice line carries in
``x_injected`` the class the generator meant it to have, and ``x_anomaly`` is ``1`` on lines whose
amount was made unusual for its lane, so classification and anomaly detection can be scored.
Lines at the exact tolerance boundary are generated on purpose: they are where float arithmetic
goes wrong. Output is deterministic for a seed.
"""

from __future__ import annotations

import csv
import random
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path
from typing import NamedTuple

from shipsync.canonical import ChargeType, LineClass
from shipsync.settlement import CHARGE_COLUMNS, MatchRules, Tolerance

__all__ = ["SAMPLE_RULES", "SampleFiles", "write_sample_files"]

SAMPLE_RULES = MatchRules(
    tolerances={
        ChargeType.BASE_FREIGHT: Tolerance(absolute=Decimal("0.05"), percent=Decimal(2)),
        ChargeType.FUEL: Tolerance(absolute=Decimal("0.10"), percent=Decimal(5)),
    }
)
"""The tolerances the sample files are generated against."""

_CENT = Decimal("0.01")
_SERVICES = ("ground", "express")
_LANES = (("DE", "DE"), ("DE", "FR"), ("FR", "DE"), ("NL", "DE"), ("DE", "AT"))
_CHARGE_NAMES = {kind: name for name, kind in CHARGE_COLUMNS.items()}
_SHIPMENT_HEADER = [
    "shipment_id",
    "tracking_number",
    "carrier_shipment_id",
    "reference",
    "carrier",
    "service",
    "origin",
    "destination",
    "currency",
    "status",
    "base_freight",
    "fuel",
    "residential",
]
INVOICE_HEADER = [
    "invoice_number",
    "invoice_date",
    "currency",
    "line_number",
    "tracking_number",
    "carrier_shipment_id",
    "reference",
    "ship_date",
    "service",
    "origin",
    "destination",
    *CHARGE_COLUMNS,
    "supersedes",
    "x_injected",
    "x_anomaly",
]


class SampleFiles(NamedTuple):
    """Paths of the generated files."""

    shipments: Path
    invoice: Path


class _Quote(NamedTuple):
    tracking: str
    carrier_id: str
    reference: str
    service: str
    origin: str
    destination: str
    currency: str
    cancelled: bool
    base: Decimal
    fuel: Decimal | None
    residential: Decimal | None


def _lane_base(service: str, origin: str, destination: str) -> Decimal:
    lane = _LANES.index((origin, destination))
    return Decimal(12 + 6 * lane) * (2 if service == "express" else 1)


def _quote(rng: random.Random, i: int) -> _Quote:
    service = _SERVICES[i % 2]
    origin, destination = _LANES[(i // 2) % len(_LANES)]
    base = (
        _lane_base(service, origin, destination) * Decimal(rng.randint(90, 110)) / 100
    ).quantize(_CENT)
    fuel = (base * Decimal("0.12")).quantize(_CENT) if rng.random() < 0.6 else None
    residential = Decimal("4.95") if rng.random() < 0.2 else None
    return _Quote(
        f"1ZFK{i:012d}",
        f"FK{i:010d}",
        f"SO{i:08d}",
        service,
        origin,
        destination,
        "EUR" if rng.random() < 0.01 else "USD",
        rng.random() < 0.01,
        base,
        fuel,
        residential,
    )


def _allowed(base: Decimal) -> Decimal:
    return max(Decimal("0.05"), base * 2 / 100)


def write_sample_files(
    directory: str | Path,
    *,
    shipments: int,
    lines: int,
    seed: int = 0,
    invoices: int = 1,
    invoice_prefix: str = "FKINV",
) -> SampleFiles:
    """Write ``shipments.csv`` and ``invoice.csv`` into ``directory``; return their paths.

    Lines are spread over ``invoices`` contiguous invoices. The invoice currency is USD; about
    1% of shipments are quoted in EUR (currency mismatch) and 1% are cancelled.
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    quotes: list[_Quote] = []
    shipments_path = folder / "shipments.csv"
    with shipments_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(_SHIPMENT_HEADER)
        for i in range(shipments):
            q = _quote(rng, i)
            quotes.append(q)
            writer.writerow(
                [
                    f"SHP{i:08d}",
                    q.tracking,
                    q.carrier_id,
                    q.reference,
                    "fake",
                    q.service,
                    q.origin,
                    q.destination,
                    q.currency,
                    "cancelled" if q.cancelled else "active",
                    q.base,
                    "" if q.fuel is None else q.fuel,
                    "" if q.residential is None else q.residential,
                ]
            )
    invoice_path = folder / "invoice.csv"
    per_invoice = max(1, -(-lines // max(1, invoices)))
    columns = list(CHARGE_COLUMNS)
    with invoice_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(INVOICE_HEADER)
        last_billed: int | None = None
        for i in range(lines):
            invoice_index = i // per_invoice
            number = f"{invoice_prefix}-{seed:03d}-{invoice_index + 1:05d}"
            line_number = i - invoice_index * per_invoice + 1
            row = _line(rng, quotes, i % max(1, shipments), i, last_billed)
            if row[0] not in (LineClass.UNKNOWN_SHIPMENT, LineClass.DUPLICATE_LINE):
                last_billed = i % max(1, shipments)
            label, anomaly, target, tracking, charges, fallback = row
            amounts = [""] * len(columns)
            for kind, amount in charges.items():
                amounts[columns.index(_CHARGE_NAMES[kind])] = str(amount)
            writer.writerow(
                [
                    number,
                    "2026-11-20",
                    "USD",
                    line_number,
                    tracking,
                    target.carrier_id
                    if target is not None and (fallback or rng.random() < 0.5)
                    else "",
                    "",
                    "2026-11-02",
                    target.service if target else "ground",
                    target.origin if target else "DE",
                    target.destination if target else "DE",
                    *amounts,
                    "",
                    label.value,
                    "1" if anomaly else "",
                ]
            )
    return SampleFiles(shipments_path, invoice_path)


def _line(
    rng: random.Random,
    quotes: list[_Quote],
    j: int,
    i: int,
    last_billed: int | None,
) -> tuple[LineClass, bool, _Quote | None, str, dict[ChargeType, Decimal], bool]:
    u = rng.random()
    if not quotes or u < 0.02:
        amount = (_lane_base("ground", "DE", "DE") * Decimal(rng.randint(90, 110)) / 100).quantize(
            _CENT
        )
        return (
            LineClass.UNKNOWN_SHIPMENT,
            False,
            None,
            f"1ZUN{i:012d}",
            {ChargeType.BASE_FREIGHT: amount},
            False,
        )
    if u < 0.04 and last_billed is not None:
        q = quotes[last_billed]
        return (
            LineClass.DUPLICATE_LINE,
            False,
            q,
            q.tracking,
            _quoted(q),
            False,
        )
    q = quotes[j]
    fallback = rng.random() < 0.02
    tracking = f"1ZAL{i:012d}" if fallback else q.tracking
    charges = _quoted(q)
    if q.cancelled:
        return LineClass.BILLED_AFTER_CANCELLATION, False, q, tracking, charges, fallback
    if q.currency != "USD":
        return LineClass.CURRENCY_MISMATCH, False, q, tracking, charges, fallback
    label = LineClass.MATCHED
    anomaly = False
    v = rng.random()
    base = q.base
    allowed = _allowed(base)
    if v < 0.03 and q.residential is None:
        charges[ChargeType.RESIDENTIAL] = Decimal("4.95")
        label = LineClass.UNQUOTED_SURCHARGE
    elif v < 0.05:
        charges[ChargeType.ADDRESS_CORRECTION] = Decimal("17.00")
        label = LineClass.ADDRESS_CORRECTION
    elif v < 0.07:
        charges[ChargeType.DIMENSIONAL_WEIGHT_ADJUSTMENT] = Decimal(rng.randint(100, 2000)) / 100
        label = LineClass.WEIGHT_ADJUSTMENT
    elif v < 0.12:
        charges[ChargeType.BASE_FREIGHT] = (
            base + allowed.quantize(_CENT, ROUND_FLOOR) + (Decimal(rng.randint(1, 300)) / 100)
        )
        label = LineClass.OVERCHARGE
    elif v < 0.15:
        charges[ChargeType.BASE_FREIGHT] = (
            base - allowed.quantize(_CENT, ROUND_FLOOR) - (Decimal(rng.randint(1, 300)) / 100)
        )
        label = LineClass.UNDERCHARGE
    elif v < 0.23:
        # Exactly at the boundary (or the last cent inside it): matched.
        charges[ChargeType.BASE_FREIGHT] = base + allowed.quantize(_CENT, ROUND_FLOOR)
    elif v < 0.25:
        # One cent beyond the boundary: overcharge.
        charges[ChargeType.BASE_FREIGHT] = base + allowed.quantize(_CENT, ROUND_FLOOR) + _CENT
        label = LineClass.OVERCHARGE
    elif v < 0.35:
        charges[ChargeType.BASE_FREIGHT] = base + Decimal(rng.randint(-4, 4)) / 100
    elif v < 0.355:
        charges[ChargeType.BASE_FREIGHT] = base * 5
        label = LineClass.OVERCHARGE
        anomaly = True
    elif v < 0.36 and q.fuel is not None:
        charges[ChargeType.FUEL] = q.fuel * 4
        label = LineClass.OVERCHARGE
        anomaly = True
    return label, anomaly, q, tracking, charges, fallback


def _quoted(q: _Quote) -> dict[ChargeType, Decimal]:
    charges = {ChargeType.BASE_FREIGHT: q.base}
    if q.fuel is not None:
        charges[ChargeType.FUEL] = q.fuel
    if q.residential is not None:
        charges[ChargeType.RESIDENTIAL] = q.residential
    return charges
