"""The two sides of a parallel run, reduced to what can be compared.

Each side is a :class:`Side`: per picking (by name) the canonical status it shows, when it last
changed, its tracking numbers and the *content classes* of its chatter notes; per vendor bill (by
invoice number) its currency and amount per (tracking number, charge) line.

- :func:`shipsync_side` reads shipsync's shadow record: the writes it intended, folded in order.
- :func:`legacy_side_from_odoo` reads what a legacy integration wrote into Odoo itself.
- :func:`legacy_side_from_rows` and :func:`read_export` read a legacy export (CSV or JSON lines)
  through a :class:`ColumnMapping`.

Statuses of both sides go through the canonical mapping of the status field (OCA
``delivery_state`` by default), so values that mean the same milestone agree. A note's content
class is the first milestone it names ("in transit", "delivered"...), so differently worded notes
about the same scan compare equal.
"""

from __future__ import annotations

import csv
import html
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from shipsync.canonical import CURRENCY_EXPONENTS, Milestone, Money
from shipsync.canonical.mappings import read_oca_delivery_state
from shipsync.errors import InvalidInputError, MigrationInputError
from shipsync.odoo import OdooGateway
from shipsync.odoo._shadow import SHADOW_ID_BASE, IntendedWrite

__all__ = [
    "BillSide",
    "ColumnMapping",
    "PickingSide",
    "Side",
    "legacy_side_from_odoo",
    "legacy_side_from_rows",
    "note_class",
    "read_export",
    "shipsync_side",
]

_TAGS = re.compile(r"<[^>]+>")
_PHRASES = sorted(
    ((m.value.replace("_", " "), m.value) for m in Milestone if m is not Milestone.UNKNOWN),
    key=lambda p: -len(p[0]),
)


def note_class(body: str) -> str:
    """The first milestone a note names (``in_transit``...), or ``other``."""
    text = html.unescape(_TAGS.sub(" ", body)).lower().replace("_", " ")
    best: tuple[int, str] | None = None
    for phrase, value in _PHRASES:
        at = text.find(phrase)
        if at >= 0 and (best is None or at < best[0]):
            best = (at, value)
    return best[1] if best else "other"


def _milestone_of(value: object) -> Milestone | None:
    if not isinstance(value, str) or not value:
        return None
    return read_oca_delivery_state(value).milestone


@dataclass(slots=True)
class PickingSide:
    """What one side shows for one picking."""

    name: str
    status: Milestone | None = None
    status_raw: str | None = None
    updated_at: datetime | None = None
    tracking_numbers: frozenset[str] = frozenset()
    notes: Counter[str] = field(default_factory=Counter)
    carrier: str = ""


@dataclass(slots=True)
class BillSide:
    """What one side shows for one vendor bill: amount per (tracking number, charge)."""

    invoice_number: str
    currency: str
    lines: dict[tuple[str, str], Money] = field(default_factory=dict)


@dataclass(slots=True)
class Side:
    """One side of a parallel run."""

    name: str
    pickings: dict[str, PickingSide] = field(default_factory=dict)
    bills: dict[str, BillSide] = field(default_factory=dict)

    def picking(self, name: str) -> PickingSide:
        """The picking's record, created empty on first use."""
        found = self.pickings.get(name)
        if found is None:
            found = self.pickings[name] = PickingSide(name)
        return found


def _split_refs(value: object, separator: str = ",") -> frozenset[str]:
    if not isinstance(value, str):
        return frozenset()
    return frozenset(part.strip() for part in value.split(separator) if part.strip())


def _line_key(label: str) -> tuple[str, str]:
    """``(tracking number, charge)`` of a line labelled ``"<tracking> <charge> (<picking>)"``."""
    label = re.sub(r"\s*\([^)]*\)\s*$", "", label.strip())
    tracking, _, charge = label.partition(" ")
    return tracking, charge.strip().lower().replace("_", " ")


def _money(amount: object, currency: str) -> Money:
    if isinstance(amount, float):
        amount = repr(amount)
    return Money.of(Decimal(str(amount)), currency)


# --- shipsync: the shadow record -------------------------------------------------------------


def shipsync_side(
    writes: Iterable[IntendedWrite],
    gateway: OdooGateway | None,
    *,
    picking_model: str = "stock.picking",
    status_field: str = "delivery_state",
    tracking_field: str = "carrier_tracking_ref",
    currency_names: Mapping[int, str] | None = None,
) -> Side:
    """What shipsync would have left in Odoo, from its shadow record.

    Picking names (and currency codes of bills) are read through ``gateway``: the real server,
    which shipsync only reads in shadow mode. Without a gateway, pickings are keyed by their id
    and a bill's currency must be given in ``currency_names``.
    """
    side = Side("shipsync")
    by_id: dict[int, PickingSide] = {}
    pending_notes: list[tuple[int, str]] = []
    bills: list[dict[str, Any]] = []
    for write in writes:
        at = datetime.fromtimestamp(write.at, UTC)
        if write.model == picking_model and write.method in {"write", "load"}:
            for record_id, values in _written_values(write):
                entry = by_id.setdefault(record_id, PickingSide(str(record_id)))
                if values.get(status_field):
                    entry.status_raw = str(values[status_field])
                    entry.status = _milestone_of(values[status_field])
                    entry.updated_at = at
                if values.get(tracking_field):
                    entry.tracking_numbers = _split_refs(values[tracking_field])
        elif write.model == "mail.message" and write.method == "create":
            for values in write.args[0] if write.args else []:
                if values.get("model") == picking_model and isinstance(values.get("res_id"), int):
                    pending_notes.append((values["res_id"], str(values.get("body", ""))))
        elif write.model == "account.move" and write.method == "create":
            bills.extend(v for v in (write.args[0] if write.args else []) if isinstance(v, dict))
    for record_id, body in pending_notes:
        by_id.setdefault(record_id, PickingSide(str(record_id))).notes[note_class(body)] += 1
    names: dict[int, str] = {}
    if gateway is not None:
        real = sorted(i for i in by_id if i < SHADOW_ID_BASE)
        names = _picking_names(gateway, picking_model, real)
    for record_id, entry in by_id.items():
        entry.name = names.get(record_id, entry.name)
        side.pickings[entry.name] = entry
    currencies = dict(currency_names or {})
    for values in bills:
        currency_id = values.get("currency_id")
        if isinstance(currency_id, int) and currency_id not in currencies and gateway is not None:
            currencies.update(_currency_names(gateway, [currency_id]))
        currency = currencies.get(currency_id, "") if isinstance(currency_id, int) else ""
        if currency not in CURRENCY_EXPONENTS:
            raise MigrationInputError(
                f"bill {values.get('ref')!r}: currency id {currency_id!r} has no known code; "
                "read the shadow record with Odoo or pass currency_names"
            )
        bill = BillSide(str(values.get("ref") or ""), currency)
        for command in values.get("invoice_line_ids") or []:
            if isinstance(command, list) and len(command) == 3 and isinstance(command[2], dict):
                line = command[2]
                key = _line_key(str(line.get("name", "")))
                amount = _money(line.get("price_unit", 0), currency) * int(line.get("quantity", 1))
                bill.lines[key] = bill.lines[key] + amount if key in bill.lines else amount
        side.bills[bill.invoice_number] = bill
    return side


def _written_values(write: IntendedWrite) -> Iterator[tuple[int, dict[str, Any]]]:
    if write.method == "write":
        values = write.args[1] if len(write.args) > 1 and isinstance(write.args[1], dict) else {}
        for record_id in write.record_ids:
            yield record_id, values
    else:  # load: [".id", *columns], rows
        columns, table = write.args[0], write.args[1]
        for row in table:
            values = dict(zip(columns, row, strict=False))
            yield int(values.pop(".id")), values


def _picking_names(gateway: OdooGateway, model: str, ids: Sequence[int]) -> dict[int, str]:
    names: dict[int, str] = {}
    for start in range(0, len(ids), 1000):
        chunk = list(ids[start : start + 1000])
        for row in gateway.call(model, "read", [chunk], {"fields": ["name"]}):
            names[int(row["id"])] = str(row["name"])
    return names


def _currency_names(gateway: OdooGateway, ids: Sequence[int]) -> dict[int, str]:
    rows = gateway.call("res.currency", "read", [list(ids)], {"fields": ["name"]})
    return {int(r["id"]): str(r["name"]) for r in rows}


# --- legacy: Odoo itself ----------------------------------------------------------------------


def _odoo_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.strptime(value[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError as exc:
        raise MigrationInputError(f"Odoo answered a date shipsync cannot read: {value!r}") from exc


def legacy_side_from_odoo(
    gateway: OdooGateway,
    *,
    since: datetime,
    until: datetime,
    picking_model: str = "stock.picking",
    status_field: str = "delivery_state",
    tracking_field: str = "carrier_tracking_ref",
    vendor_ids: Sequence[int] = (),
    picking_domain: Sequence[Any] = (),
) -> Side:
    """What the legacy integration wrote into Odoo for pickings changed in [since, until).

    ``picking_domain`` narrows the pickings further (a warehouse, a carrier, an origin). Notes
    are the chatter messages on those pickings; bills are the vendor bills (of ``vendor_ids``
    when given) changed in the window.
    """
    if since.tzinfo is None or until.tzinfo is None:
        raise MigrationInputError("since and until must be timezone-aware (UTC)")
    side = Side("legacy")
    window = [
        ["write_date", ">=", since.strftime("%Y-%m-%d %H:%M:%S")],
        ["write_date", "<", until.strftime("%Y-%m-%d %H:%M:%S")],
    ]
    fields = ["name", status_field, tracking_field, "write_date", "carrier_id"]
    pickings = gateway.call(
        picking_model, "search_read", [[*window, *picking_domain]], {"fields": fields}
    )
    by_id: dict[int, PickingSide] = {}
    for row in pickings:
        entry = side.picking(str(row["name"]))
        entry.status_raw = row.get(status_field) or None
        entry.status = _milestone_of(row.get(status_field))
        entry.updated_at = _odoo_time(row.get("write_date"))
        entry.tracking_numbers = _split_refs(row.get(tracking_field))
        carrier = row.get("carrier_id")
        entry.carrier = str(carrier[1]) if isinstance(carrier, list) and len(carrier) == 2 else ""
        by_id[int(row["id"])] = entry
    if by_id:
        notes = gateway.call(
            "mail.message",
            "search_read",
            [[["model", "=", picking_model], ["res_id", "in", sorted(by_id)]]],
            {"fields": ["res_id", "body", "message_type"]},
        )
        for note in notes:
            if note.get("message_type", "comment") == "comment" and note.get("res_id") in by_id:
                by_id[note["res_id"]].notes[note_class(str(note.get("body") or ""))] += 1
    domain: list[Any] = [["move_type", "=", "in_invoice"], *window]
    if vendor_ids:
        domain.append(["partner_id", "in", list(vendor_ids)])
    bills = gateway.call(
        "account.move", "search_read", [domain], {"fields": ["ref", "currency_id"]}
    )
    for bill in bills:
        currency = bill.get("currency_id")
        code = str(currency[1]) if isinstance(currency, list) and len(currency) == 2 else ""
        record = side.bills.setdefault(str(bill.get("ref") or ""), BillSide(str(bill["ref"]), code))
        lines = gateway.call(
            "account.move.line",
            "search_read",
            [[["move_id", "=", bill["id"]], ["display_type", "=", "product"]]],
            {"fields": ["name", "price_subtotal"]},
        )
        for line in lines:
            key = _line_key(str(line.get("name", "")))
            record.lines[key] = _money(line.get("price_subtotal", 0), code)
    return side


# --- legacy: exports --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    """Which export column holds what. A row describes a picking, a bill line, or both.

    ``picking`` (required), ``status``, ``updated_at`` (ISO 8601 with an offset),
    ``tracking`` (several separated by ``tracking_separator``), ``notes`` (note bodies separated
    by ``note_separator``), ``carrier``; and for bill lines ``invoice``, ``line_tracking``,
    ``charge``, ``amount`` (a plain decimal) and ``currency``. Unknown columns in the export are
    an error unless ``ignore`` names them.
    """

    picking: str = "picking"
    status: str | None = "status"
    updated_at: str | None = "updated_at"
    tracking: str | None = "tracking"
    notes: str | None = "notes"
    carrier: str | None = "carrier"
    invoice: str | None = "invoice"
    line_tracking: str | None = "line_tracking"
    charge: str | None = "charge"
    amount: str | None = "amount"
    currency: str | None = "currency"
    ignore: frozenset[str] = frozenset()
    tracking_separator: str = ","
    note_separator: str = "|"

    def known(self) -> set[str]:
        """Every column name this mapping reads or ignores."""
        names = {
            self.picking,
            self.status,
            self.updated_at,
            self.tracking,
            self.notes,
            self.carrier,
            self.invoice,
            self.line_tracking,
            self.charge,
            self.amount,
            self.currency,
        }
        return {n for n in names if n} | set(self.ignore)


@dataclass(slots=True)
class ExportProblem:
    """A row of an export that could not be read, and why."""

    row: int
    message: str


def _aware(value: str, row: int, column: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise MigrationInputError(f"row {row}: {column} is not an ISO 8601 time") from exc
    if moment.tzinfo is None:
        raise MigrationInputError(f"row {row}: {column} has no UTC offset ({value!r})")
    return moment.astimezone(UTC)


def legacy_side_from_rows(
    rows: Iterable[Mapping[str, str]],
    mapping: ColumnMapping | None = None,
    *,
    problems: list[ExportProblem] | None = None,
) -> Side:
    """Build the legacy side from export rows.

    A row with an unreadable value (a time without offset, an amount that is not a plain decimal,
    an unknown currency, a second currency in one bill, a duplicate bill line) is added to
    ``problems`` when given, else raises :class:`~shipsync.errors.MigrationInputError`.
    Unknown columns always raise: a misnamed column must not be silently ignored.
    """
    spec = mapping or ColumnMapping()
    side = Side("legacy")
    known = spec.known()
    for number, row in enumerate(rows, 1):
        unknown = sorted(set(row) - known)
        if unknown:
            raise MigrationInputError(
                f"row {number}: unknown column(s) {', '.join(unknown)}; "
                "map them in ColumnMapping or list them in ignore"
            )
        try:
            _read_row(side, spec, number, row)
        except (MigrationInputError, InvalidInputError) as exc:
            if problems is None:
                raise
            problems.append(ExportProblem(number, str(exc)))
    return side


def _cell(row: Mapping[str, str], column: str | None) -> str:
    if column is None:
        return ""
    value = row.get(column)
    return "" if value is None else str(value).strip()


def _read_row(side: Side, spec: ColumnMapping, number: int, row: Mapping[str, str]) -> None:
    name = _cell(row, spec.picking)
    if name:
        entry = side.picking(name)
        status = _cell(row, spec.status)
        if status:
            entry.status_raw = status
            entry.status = _milestone_of(status)
        moment = _cell(row, spec.updated_at)
        if moment:
            entry.updated_at = _aware(moment, number, spec.updated_at or "")
        tracking = _cell(row, spec.tracking)
        if tracking:
            entry.tracking_numbers = _split_refs(tracking, spec.tracking_separator)
        notes = _cell(row, spec.notes)
        for body in notes.split(spec.note_separator) if notes else ():
            entry.notes[note_class(body)] += 1
        entry.carrier = _cell(row, spec.carrier) or entry.carrier
    invoice = _cell(row, spec.invoice)
    if not invoice:
        return
    currency = _cell(row, spec.currency).upper()
    if currency not in CURRENCY_EXPONENTS:
        raise MigrationInputError(f"row {number}: unknown currency {currency!r}")
    raw = _cell(row, spec.amount)
    if not re.fullmatch(r"-?\d+(\.\d+)?", raw):
        raise MigrationInputError(f"row {number}: amount {raw!r} is not a plain decimal")
    try:
        amount = Money.of(Decimal(raw), currency)
    except (InvalidOperation, InvalidInputError) as exc:
        raise MigrationInputError(f"row {number}: amount {raw!r} cannot be read") from exc
    bill = side.bills.setdefault(invoice, BillSide(invoice, currency))
    if bill.currency != currency:
        raise MigrationInputError(
            f"row {number}: invoice {invoice} mixes {bill.currency} and {currency}"
        )
    key = (_cell(row, spec.line_tracking), _cell(row, spec.charge).lower().replace("_", " "))
    if key in bill.lines:
        raise MigrationInputError(f"row {number}: invoice {invoice} repeats the line {key}")
    bill.lines[key] = amount


def read_export(
    path: Path | str,
    mapping: ColumnMapping | None = None,
    *,
    problems: list[ExportProblem] | None = None,
) -> Side:
    """Read a legacy export: ``.csv`` (header row) or ``.json``/``.jsonl`` (objects)."""
    file = Path(path)
    try:
        if file.suffix.lower() == ".csv":
            with file.open(newline="", encoding="utf-8") as handle:
                return legacy_side_from_rows(csv.DictReader(handle), mapping, problems=problems)
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise MigrationInputError(f"{file}: cannot be read ({exc})") from exc
    try:
        if file.suffix.lower() == ".jsonl":
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            items = json.loads(text)
    except ValueError as exc:
        raise MigrationInputError(f"{file}: not valid JSON ({exc})") from exc
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise MigrationInputError(f"{file}: expected a list of objects")
    rows = [{str(k): "" if v is None else str(v) for k, v in i.items()} for i in items]
    return legacy_side_from_rows(rows, mapping, problems=problems)
