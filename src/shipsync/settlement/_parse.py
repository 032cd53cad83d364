"""Read carrier invoice CSV files into invoice rows, one pass, strictly, without floats.

Theory of operation: the reader yields, for every data row, either an :class:`InvoiceRow` (every
field validated) or a :class:`RowProblem` naming the file line and what is wrong; a bad row never
stops the run. Amounts are parsed from their text with a strict pattern (no exponent, no
underscore, no more decimals than the currency's minor unit) into ``Decimal``. Across rows the
reader checks that an invoice's rows are contiguous, agree on currency, date and ``supersedes``,
and that line numbers increase, so no per-line memory is kept. The whole file is refused
(:class:`~shipsync.errors.InvoiceFileError`) only when it cannot be read at all: empty, no header,
a required column missing, not UTF-8.

Rows are ``NamedTuple`` values rather than pydantic models: a million of them pass through the hot
loop, and each field is validated here, once, by hand.
"""

from __future__ import annotations

import csv
import itertools
import operator
import re
from collections.abc import Iterable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple, TextIO

from shipsync.canonical import CURRENCY_EXPONENTS, ChargeType
from shipsync.errors import InvoiceFileError
from shipsync.settlement._columns import InvoiceColumns

__all__ = [
    "InvoiceRow",
    "RowProblem",
    "iter_invoice_rows",
    "open_invoice_file",
    "read_invoice_rows",
]

MAX_TEXT = 200
_AMOUNTS_KEPT = 1 << 16
_ZERO = Decimal(0)


class InvoiceRow(NamedTuple):
    """One validated invoice line as read from a file."""

    file_line: int
    invoice_number: str
    invoice_date: date
    currency: str
    line_number: int
    tracking_number: str
    charges: tuple[tuple[ChargeType, Decimal], ...]
    total: Decimal
    carrier_shipment_id: str | None = None
    reference: str | None = None
    ship_date: date | None = None
    service: str | None = None
    origin: str | None = None
    destination: str | None = None
    supersedes: str | None = None


class RowProblem(NamedTuple):
    """A row that was not read, with its 1-based file line and the reason."""

    file_line: int
    message: str
    invoice_number: str | None = None


def _amount_patterns() -> dict[str, re.Pattern[str]]:
    patterns: dict[int, re.Pattern[str]] = {}
    for exponent in set(CURRENCY_EXPONENTS.values()):
        fraction = rf"(?:\.[0-9]{{1,{exponent}}})?" if exponent else ""
        patterns[exponent] = re.compile(rf"-?[0-9]{{1,18}}{fraction}")
    return {code: patterns[exponent] for code, exponent in CURRENCY_EXPONENTS.items()}


AMOUNT_PATTERNS = _amount_patterns()
"""Per currency: the full-match pattern of an amount with at most its minor-unit decimals."""

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_iso_date(text: str) -> date:
    """``YYYY-MM-DD`` only; raises ``ValueError`` otherwise."""
    if _DATE.fullmatch(text) is None:
        raise ValueError("not a YYYY-MM-DD date")
    return date.fromisoformat(text)


def check_text(text: str, what: str) -> str:
    """A bounded, printable identifier; raises ``ValueError`` naming ``what`` otherwise."""
    if len(text) > MAX_TEXT:
        raise ValueError(f"{what} longer than {MAX_TEXT} characters")
    if not text.isprintable():
        raise ValueError(f"{what} contains control characters")
    return text


class _Unsure(ValueError):
    """Raised on the fast path when a row needs the general path's look."""


class _Columns(NamedTuple):
    width: int
    invoice_number: int
    invoice_date: int
    currency: int
    tracking_number: int
    line_number: int | None
    carrier_shipment_id: int | None
    reference: int | None
    ship_date: int | None
    service: int | None
    origin: int | None
    destination: int | None
    supersedes: int | None
    charges: tuple[tuple[int, str, ChargeType], ...]


def _locate(header: list[str], columns: InvoiceColumns) -> _Columns:
    names = [cell.strip() for cell in header]
    where = {name: i for i, name in reversed(list(enumerate(names)))}
    missing = [name for name in columns.required if name not in where]
    if missing:
        raise InvoiceFileError(
            f"header lacks the required column(s) {', '.join(missing)} "
            f"of the {columns.carrier!r} mapping",
            line=1,
        )

    def optional(name: str | None) -> int | None:
        return None if name is None else where.get(name)

    charges = tuple((where[name], name, kind) for name, kind in columns.charges if name in where)
    if not charges:
        raise InvoiceFileError("header has none of the mapping's charge columns", line=1)
    return _Columns(
        width=len(names),
        invoice_number=where[columns.invoice_number],
        invoice_date=where[columns.invoice_date],
        currency=where[columns.currency],
        tracking_number=where[columns.tracking_number],
        line_number=None if columns.line_number is None else where[columns.line_number],
        carrier_shipment_id=optional(columns.carrier_shipment_id),
        reference=optional(columns.reference),
        ship_date=optional(columns.ship_date),
        service=optional(columns.service),
        origin=optional(columns.origin),
        destination=optional(columns.destination),
        supersedes=optional(columns.supersedes),
        charges=charges,
    )


class _InvoiceState:
    """What the reader remembers of the invoice whose rows it is reading."""

    __slots__ = (
        "amounts",
        "currency",
        "date_text",
        "invoice_date",
        "last_line",
        "number",
        "supersedes",
    )

    def __init__(
        self,
        number: str,
        currency: str,
        invoice_date: date,
        date_text: str,
        supersedes: str | None,
    ) -> None:
        self.number = number
        self.currency = currency
        self.invoice_date = invoice_date
        self.date_text = date_text
        self.supersedes = supersedes
        self.last_line = 0
        # Amount texts of this currency already read, with their value (non-negative ones only,
        # so the credit check still runs for every negative amount); bounded.
        self.amounts: dict[str, Decimal] = {}


def iter_invoice_rows(
    lines: Iterable[str], columns: InvoiceColumns
) -> Iterator[InvoiceRow | RowProblem]:
    """Yield one :class:`InvoiceRow` or :class:`RowProblem` per data row of ``lines``.

    ``lines`` is an iterable of text lines (an open file with ``newline=""``). Raises
    :class:`~shipsync.errors.InvoiceFileError` for an empty file or an unusable header.
    """
    return _iter_rows(lines, columns, fast=True)


def _iter_rows(
    lines: Iterable[str], columns: InvoiceColumns, *, fast: bool
) -> Iterator[InvoiceRow | RowProblem]:
    """:func:`iter_invoice_rows`; ``fast=False`` reads every row the general way (tests compare
    the two)."""
    iterator = iter(lines)
    try:
        first = next(iterator)
    except StopIteration:
        raise InvoiceFileError("the file is empty", line=None) from None
    except UnicodeDecodeError:
        raise InvoiceFileError("the file is not UTF-8 text", line=1) from None
    first = first.removeprefix("\ufeff")
    if not first.strip():
        raise InvoiceFileError("the first line is empty: a header row is required", line=1)
    delimiter = columns.detect_delimiter(first)

    try:
        header = next(csv.reader((first,), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise InvoiceFileError(f"the header row is not valid CSV ({exc})", line=1) from None
    at = _locate(header, columns)
    yield from _rows(iterator, delimiter, at, columns, fast)


def _rows(
    lines: Iterator[str], delimiter: str, at: _Columns, columns: InvoiceColumns, fast: bool
) -> Iterator[InvoiceRow | RowProblem]:
    width = at.width
    finished: set[str] = set()
    state: _InvoiceState | None = None
    credit_types = columns.credit_types
    by_row_number = at.line_number is None
    line_index = at.line_number if at.line_number is not None else 0
    line_num = 1
    patterns = AMOUNT_PATTERNS
    zero = _ZERO
    charge_columns = at.charges
    merge = len({kind for _, _, kind in charge_columns}) != len(charge_columns)
    optional = [
        (slot, index, what)
        for slot, (index, what) in enumerate(
            (
                (at.carrier_shipment_id, "carrier shipment id"),
                (at.reference, "reference"),
                (at.service, "service"),
                (at.origin, "origin"),
                (at.destination, "destination"),
            )
        )
        if index is not None
    ]
    ship_index = at.ship_date
    supersedes_index = at.supersedes
    i_number, i_currency, i_date, i_tracking = (
        at.invoice_number,
        at.currency,
        at.invoice_date,
        at.tracking_number,
    )
    new_row = tuple.__new__
    dates: dict[str, date] = {}
    amount_caches: dict[str, dict[str, Decimal]] = {}
    row_type = InvoiceRow
    # The current invoice's fields for the fast path (s_number stays None without it).
    s_number: str | None = None
    s_currency = s_date_text = ""
    s_supersedes: str | None = None
    s_invoice_date = date.min
    s_pattern = _DATE.fullmatch  # replaced when the first invoice starts
    known: dict[str, Decimal] = {}
    # The five optional text columns in InvoiceRow order; an absent one reads an empty cell
    # appended to the row on the fast path (``pad``).
    pad = None in (at.carrier_shipment_id, at.reference, at.service, at.origin, at.destination)
    texts_of = operator.itemgetter(
        *(
            width if index is None else index
            for index in (
                at.carrier_shipment_id,
                at.reference,
                at.service,
                at.origin,
                at.destination,
            )
        )
    )
    while True:
        try:
            text = next(lines)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise InvoiceFileError("the file is not UTF-8 text", line=line_num + 1) from None
        line_num += 1
        if '"' in text:
            # Quoted fields (maybe spanning lines) go through the csv module; plain lines are
            # split directly, which reads them the same and costs a third of the time.
            reader = csv.reader(itertools.chain((text,), lines), delimiter=delimiter, strict=True)
            try:
                row = next(reader)
            except csv.Error as exc:
                line_num += reader.line_num - 1
                yield RowProblem(line_num, f"not valid CSV ({exc})")
                continue
            except UnicodeDecodeError:
                raise InvoiceFileError("the file is not UTF-8 text", line=line_num + 1) from None
            line_num += reader.line_num - 1
        else:
            clean = text.rstrip("\r\n")
            row = clean.split(delimiter)
            if (
                len(row) == width
                and row[i_number] == s_number
                and " " not in clean
                and (len(clean) <= MAX_TEXT or max(map(len, row)) <= MAX_TEXT)
            ):
                # The fast path, for a further row of the current invoice with no space and no
                # cell longer than MAX_TEXT. It accepts only a row it can show is good without
                # stripping: every cell equal to the invoice's, or matching its strict pattern,
                # or an amount read before, and the text cells printable (which also rules out
                # any whitespace). At the first doubt it gives the row to the general path below,
                # which reads it from scratch and words any problem; so the fast path never
                # rejects a row, and what it accepts is what the general path would accept.
                assert state is not None
                last_line = state.last_line
                try:
                    if (
                        row[i_currency] != s_currency
                        or row[i_date] != s_date_text
                        or (
                            supersedes_index is not None
                            and (row[supersedes_index] or None) != s_supersedes
                        )
                    ):
                        raise _Unsure
                    if by_row_number:
                        line_number = last_line + 1
                    else:
                        cell = row[line_index]
                        if not cell.isdigit() or not cell.isascii() or len(cell) > 9:
                            raise _Unsure
                        line_number = int(cell)
                        if line_number <= last_line or line_number < 1:
                            raise _Unsure
                    tracking = row[i_tracking]
                    if pad:
                        row.append("")
                    carrier_id, reference, service, origin, destination = texts_of(row)
                    if (
                        not tracking
                        or not (
                            tracking + carrier_id + reference + service + origin + destination
                        ).isprintable()
                    ):
                        raise _Unsure
                    charges: list[tuple[ChargeType, Decimal]] = []
                    total = zero
                    for index, _, kind in charge_columns:
                        cell = row[index]
                        if not cell:
                            continue
                        amount = known.get(cell)
                        if amount is None:
                            if s_pattern(cell) is None:
                                raise _Unsure
                            amount = Decimal(cell)
                            if amount < zero:
                                if kind not in credit_types:
                                    raise _Unsure
                            else:
                                if len(known) >= _AMOUNTS_KEPT:
                                    known.clear()
                                known[cell] = amount
                        charges.append((kind, amount))
                        total += amount
                    if not charges:
                        raise _Unsure
                    if merge:
                        merged: dict[ChargeType, Decimal] = {}
                        for kind, amount in charges:
                            merged[kind] = merged.get(kind, zero) + amount
                        charges = list(merged.items())
                    ship_date = None
                    if ship_index is not None:
                        cell = row[ship_index]
                        if cell:
                            ship_date = dates.get(cell)
                            if ship_date is None:
                                if _DATE.fullmatch(cell) is None:
                                    raise _Unsure
                                ship_date = date.fromisoformat(cell)  # may raise ValueError
                                if len(dates) > 10_000:
                                    dates.clear()
                                dates[cell] = ship_date
                except ValueError:  # _Unsure is one
                    del row[width:]
                else:
                    state.last_line = line_number
                    yield new_row(
                        row_type,
                        (
                            line_num,
                            s_number,
                            s_invoice_date,
                            s_currency,
                            line_number,
                            tracking,
                            tuple(charges),
                            total,
                            carrier_id or None,
                            reference or None,
                            ship_date,
                            service or None,
                            origin or None,
                            destination or None,
                            s_supersedes,
                        ),
                    )
                    continue
        if len(row) != width:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            yield RowProblem(line_num, f"expected {width} fields, found {len(row)}")
            continue
        number = row[i_number]
        if state is None or number != state.number:
            number = number.strip()
        try:
            if state is None or state.number != number:
                if not number:
                    raise ValueError("invoice number is empty")
                check_text(number, "invoice number")
                if number in finished:
                    raise ValueError(
                        "the invoice's rows are not contiguous: it appeared earlier in the file"
                    )
                currency = row[i_currency].strip()
                if currency not in patterns:
                    raise ValueError("unknown currency (not an ISO 4217 code with a minor unit)")
                date_text = row[i_date].strip()
                invoice_date = parse_iso_date(date_text)
                supersedes = (
                    row[supersedes_index].strip() or None if supersedes_index is not None else None
                )
                if supersedes is not None:
                    check_text(supersedes, "supersedes")
                if state is not None:
                    finished.add(state.number)
                state = _InvoiceState(number, currency, invoice_date, date_text, supersedes)
                state.amounts = known = amount_caches.setdefault(currency, {})
                if fast:
                    s_number = number
                s_currency, s_date_text, s_supersedes = currency, date_text, supersedes
                s_invoice_date, s_pattern = invoice_date, patterns[currency].fullmatch
            else:
                currency = state.currency
                if row[i_currency].strip() != currency:
                    raise ValueError("currency differs from the invoice's earlier rows")
                if row[i_date].strip() != state.date_text:
                    raise ValueError("invoice date differs from the invoice's earlier rows")
                if (
                    supersedes_index is not None
                    and (row[supersedes_index].strip() or None) != state.supersedes
                ):
                    raise ValueError("'supersedes' differs from the invoice's earlier rows")
            if by_row_number:
                line_number = state.last_line + 1
            else:
                text = row[line_index]
                if not text.isdigit() or not text.isascii() or len(text) > 9:
                    text = text.strip()
                    if not text.isdigit() or not text.isascii() or len(text) > 9:
                        raise ValueError("line number is not a positive integer")
                line_number = int(text)
                if line_number <= state.last_line or line_number < 1:
                    if line_number < 1:
                        raise ValueError("line number is not a positive integer")
                    raise ValueError(
                        "line number repeats within the invoice"
                        if line_number == state.last_line
                        else "line number goes backwards within the invoice"
                    )
            tracking = row[i_tracking]
            if not tracking or tracking[0] == " " or tracking[-1] == " ":
                tracking = tracking.strip()
            if not tracking:
                raise ValueError("tracking number is empty")
            if len(tracking) > MAX_TEXT or not tracking.isprintable():
                check_text(tracking, "tracking number")
            pattern = patterns[currency].fullmatch
            charges = []
            total = zero
            for index, name, kind in charge_columns:
                cell = row[index]
                if not cell:
                    continue
                if pattern(cell) is None:
                    cell = cell.strip(" ")  # ASCII spaces only: no Unicode space is guessed
                    if not cell:
                        continue
                    if pattern(cell) is None:
                        raise ValueError(
                            f"{name}: not an amount with at most the {currency} minor-unit decimals"
                        )
                amount = Decimal(cell)
                if amount < zero and kind not in credit_types:
                    raise ValueError(f"{name}: a negative amount is not allowed for this charge")
                charges.append((kind, amount))
                total += amount
            if not charges:
                raise ValueError("the line has no charge")
            if merge:
                merged = {}
                for kind, amount in charges:
                    merged[kind] = merged.get(kind, zero) + amount
                charges = list(merged.items())
            texts: list[str | None] = [None, None, None, None, None]
            for slot, index, what in optional:
                cell = row[index]
                if cell:
                    cell = cell.strip()
                    if cell:
                        if len(cell) > MAX_TEXT or not cell.isprintable():
                            check_text(cell, what)
                        texts[slot] = cell
            ship_date = None
            if ship_index is not None:
                cell = row[ship_index]
                if cell:
                    ship_date = dates.get(cell)
                    if ship_date is None:
                        cell = cell.strip()
                        if cell:
                            ship_date = parse_iso_date(cell)
                            if len(dates) > 10_000:
                                dates.clear()
                            dates[cell] = ship_date
            result = new_row(
                row_type,
                (
                    line_num,
                    number,
                    state.invoice_date,
                    currency,
                    line_number,
                    tracking,
                    tuple(charges),
                    total,
                    texts[0],
                    texts[1],
                    ship_date,
                    texts[2],
                    texts[3],
                    texts[4],
                    state.supersedes,
                ),
            )
        except ValueError as exc:
            yield RowProblem(line_num, str(exc), number or None)
            continue
        state.last_line = line_number
        yield result


def open_invoice_file(path: str | Path) -> TextIO:
    """Open an invoice file for :func:`iter_invoice_rows`: UTF-8, BOM skipped, newlines kept."""
    try:
        return open(path, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InvoiceFileError(f"cannot open the invoice file ({exc.strerror})") from None


def read_invoice_rows(
    path: str | Path, columns: InvoiceColumns
) -> Iterator[InvoiceRow | RowProblem]:
    """Open ``path`` and yield its rows; the file is closed when the iterator finishes."""
    with open_invoice_file(path) as handle:
        yield from iter_invoice_rows(handle, columns)
