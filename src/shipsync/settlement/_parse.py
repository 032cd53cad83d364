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
from collections.abc import Callable, Iterable, Iterator
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
_AMOUNTS_KEPT = 1 << 14  # distinct charge texts remembered per currency (about 10 MB when full)
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


class BilledCharges(tuple[tuple[ChargeType, Decimal], ...]):
    """A row's charges as the fast path reads them: a tuple (equal to the general path's) that
    also carries ``key``, the text of its charge cells, and ``total``.

    The reader keeps one per distinct charge-cell text and hands the same object to every row
    with that text, so a repeated line costs one dictionary lookup; the reconciler remembers its
    classification by ``key``.
    """

    key: str
    total: Decimal


class _InvoiceState:
    """What the reader remembers of the invoice whose rows it is reading."""

    __slots__ = (
        "charges",
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
        charges: dict[str, BilledCharges],
    ) -> None:
        self.number = number
        self.currency = currency
        self.invoice_date = invoice_date
        self.date_text = date_text
        self.supersedes = supersedes
        self.last_line = 0
        # Charge-cell texts of this currency already read, with their charges (bounded).
        self.charges = charges


_OPTIONAL_TEXTS = ("carrier shipment id", "reference", "service", "origin", "destination")


class _RowReader:
    """Reads the data rows of one file, one at a time, keeping the invoice being read.

    :meth:`read` is the general path: one reader per field, in the order the mapping names
    them, each raising ``ValueError`` with the words the problem row gets. :meth:`_plain_reader` is
    the fast path for a further row of the current invoice whose line has no space, no control
    character and no overlong cell: it accepts only a row it can show is good without
    stripping (every cell equal to the invoice's, matching its strict pattern, or a charge text
    read before) and otherwise returns ``None``, so the row goes to :meth:`read`, which words
    any problem. What the fast path accepts is exactly what :meth:`read` would accept.
    """

    def __init__(self, at: _Columns, columns: InvoiceColumns) -> None:
        self.at = at
        self.credit_types = columns.credit_types
        self.state: _InvoiceState | None = None
        self.finished: set[str] = set()
        self.dates: dict[str, date] = {}
        self.charge_caches: dict[str, dict[str, BilledCharges]] = {}
        self.merge = len({kind for _, _, kind in at.charges}) != len(at.charges)
        self.optional = [
            (slot, index, what)
            for slot, (index, what) in enumerate(
                zip(
                    (at.carrier_shipment_id, at.reference, at.service, at.origin, at.destination),
                    _OPTIONAL_TEXTS,
                    strict=True,
                )
            )
            if index is not None
        ]
        self.charge_cells = operator.itemgetter(*(index for index, _, _ in at.charges))
        # The five optional text columns in InvoiceRow order; an absent one reads an empty cell
        # appended to the row on the fast path (``pad``).
        texts = (at.carrier_shipment_id, at.reference, at.service, at.origin, at.destination)
        self.pad = None in texts
        self.texts_of = operator.itemgetter(*(at.width if i is None else i for i in texts))
        self.number: str | None = None  # the current invoice's number, for the fast path
        # Charge texts are only meaningful with their columns' types: BilledCharges.key says both.
        self.layout = ";".join(kind.value for _, _, kind in at.charges) + "|"

    # -- the general path: one reader per field ------------------------------------------------

    def read(self, row: list[str], file_line: int) -> InvoiceRow | RowProblem:
        """Read a row of ``at.width`` cells into an :class:`InvoiceRow` or a :class:`RowProblem`."""
        number = row[self.at.invoice_number]
        state = self.state
        if state is None or number != state.number:
            number = number.strip()
        try:
            state = self._invoice(row, number)
            line_number = self._line_number(row, state)
            tracking = self._tracking(row)
            charges, total = self._charges(row, state.currency)
            texts = self._texts(row)
            ship_date = self._ship_date(row)
        except ValueError as exc:
            return RowProblem(file_line, str(exc), number or None)
        state.last_line = line_number
        return _new_row(
            InvoiceRow,
            (
                file_line,
                number,
                state.invoice_date,
                state.currency,
                line_number,
                tracking,
                charges,
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

    def _invoice(self, row: list[str], number: str) -> _InvoiceState:
        """The invoice fields: a new invoice starts, or the row must agree with the current one."""
        at = self.at
        state = self.state
        supersedes_text = "" if at.supersedes is None else row[at.supersedes].strip()
        if state is not None and state.number == number:
            if row[at.currency].strip() != state.currency:
                raise ValueError("currency differs from the invoice's earlier rows")
            if row[at.invoice_date].strip() != state.date_text:
                raise ValueError("invoice date differs from the invoice's earlier rows")
            if (supersedes_text or None) != state.supersedes:
                raise ValueError("'supersedes' differs from the invoice's earlier rows")
            return state
        if not number:
            raise ValueError("invoice number is empty")
        check_text(number, "invoice number")
        if number in self.finished:
            raise ValueError(
                "the invoice's rows are not contiguous: it appeared earlier in the file"
            )
        currency = row[at.currency].strip()
        if currency not in AMOUNT_PATTERNS:
            raise ValueError("unknown currency (not an ISO 4217 code with a minor unit)")
        date_text = row[at.invoice_date].strip()
        invoice_date = parse_iso_date(date_text)
        supersedes = supersedes_text or None
        if supersedes is not None:
            check_text(supersedes, "supersedes")
        if state is not None:
            self.finished.add(state.number)
        charges = self.charge_caches.setdefault(currency, {})
        self.state = _InvoiceState(number, currency, invoice_date, date_text, supersedes, charges)
        self.number = number
        return self.state

    def _line_number(self, row: list[str], state: _InvoiceState) -> int:
        if self.at.line_number is None:
            return state.last_line + 1
        text = row[self.at.line_number].strip()
        if not text.isdigit() or not text.isascii() or len(text) > 9:
            raise ValueError("line number is not a positive integer")
        line_number = int(text)
        if line_number < 1:
            raise ValueError("line number is not a positive integer")
        if line_number == state.last_line:
            raise ValueError("line number repeats within the invoice")
        if line_number < state.last_line:
            raise ValueError("line number goes backwards within the invoice")
        return line_number

    def _tracking(self, row: list[str]) -> str:
        tracking = row[self.at.tracking_number]
        if not tracking or tracking[0] == " " or tracking[-1] == " ":
            tracking = tracking.strip()
        if not tracking:
            raise ValueError("tracking number is empty")
        return check_text(tracking, "tracking number")

    def _charges(
        self, row: list[str], currency: str
    ) -> tuple[tuple[tuple[ChargeType, Decimal], ...], Decimal]:
        pattern = AMOUNT_PATTERNS[currency].fullmatch
        charges: list[tuple[ChargeType, Decimal]] = []
        total = _ZERO
        for index, name, kind in self.at.charges:
            # ASCII spaces only: no other padding (a Unicode space, a tab) is guessed away
            cell = row[index].strip(" ")
            if not cell:
                continue
            if pattern(cell) is None:
                raise ValueError(
                    f"{name}: not an amount with at most the {currency} minor-unit decimals"
                )
            amount = Decimal(cell)
            if amount < _ZERO and kind not in self.credit_types:
                raise ValueError(f"{name}: a negative amount is not allowed for this charge")
            charges.append((kind, amount))
            total += amount
        if not charges:
            raise ValueError("the line has no charge")
        return _merged(charges) if self.merge else tuple(charges), total

    def _texts(self, row: list[str]) -> list[str | None]:
        texts: list[str | None] = [None, None, None, None, None]
        for slot, index, what in self.optional:
            cell = row[index].strip()
            if cell:
                texts[slot] = check_text(cell, what)
        return texts

    def _ship_date(self, row: list[str]) -> date | None:
        if self.at.ship_date is None:
            return None
        text = row[self.at.ship_date].strip()
        return self._date(text) if text else None

    def _date(self, text: str) -> date:
        """A ``YYYY-MM-DD`` text as a date, remembered (bounded)."""
        value = self.dates.get(text)
        if value is None:
            value = parse_iso_date(text)
            if len(self.dates) > 10_000:
                self.dates.clear()
            self.dates[text] = value
        return value

    # -- the fast path --------------------------------------------------------------------------

    def _plain_reader(self) -> Callable[[list[str], str, int], InvoiceRow | None]:
        """The fast path: ``plain(row, clean, file_line)`` is the row read without a doubt, or
        ``None``. ``row`` is ``clean`` split, of the right width and of the current invoice; it
        must be proven good without stripping. (A closure over local variables: it runs for
        nearly every row of a large file.)"""
        at = self.at
        i_currency, i_date, i_supersedes = at.currency, at.invoice_date, at.supersedes
        i_line, i_tracking, i_ship = at.line_number, at.tracking_number, at.ship_date
        pad = self.pad
        texts_of = self.texts_of
        several = len(at.charges) > 1
        cells_of = self.charge_cells
        i_single = at.charges[0][0]
        dates = self.dates
        parse_date = self._date
        plain_charges = self._plain_charges
        date_pattern = _DATE.fullmatch
        new_row = _new_row
        row_type = InvoiceRow

        def plain(row: list[str], clean: str, file_line: int) -> InvoiceRow | None:
            state = self.state
            assert state is not None
            if (
                " " in clean
                or row[i_currency] != state.currency
                or row[i_date] != state.date_text
                or (i_supersedes is not None and (row[i_supersedes] or None) != state.supersedes)
                or (len(clean) > MAX_TEXT and max(map(len, row)) > MAX_TEXT)
            ):
                return None
            last_line = state.last_line
            if i_line is None:
                line_number = last_line + 1
            else:
                cell = row[i_line]
                if not cell.isdigit() or not cell.isascii() or len(cell) > 9:
                    return None
                line_number = int(cell)
                if line_number <= last_line or line_number < 1:
                    return None
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
                return None
            key = ",".join(cells_of(row)) if several else row[i_single]
            charges = state.charges.get(key)
            if charges is None:
                charges = plain_charges(row, key, state)
                if charges is None:
                    return None
            ship_date = None
            if i_ship is not None:
                cell = row[i_ship]
                if cell:
                    ship_date = dates.get(cell)
                    if ship_date is None:
                        if date_pattern(cell) is None:
                            return None
                        try:
                            ship_date = parse_date(cell)
                        except ValueError:
                            return None
            state.last_line = line_number
            return new_row(
                row_type,
                (
                    file_line,
                    state.number,
                    state.invoice_date,
                    state.currency,
                    line_number,
                    tracking,
                    charges,
                    charges.total,
                    carrier_id or None,
                    reference or None,
                    ship_date,
                    service or None,
                    origin or None,
                    destination or None,
                    state.supersedes,
                ),
            )

        return plain

    def _plain_charges(
        self, row: list[str], key: str, state: _InvoiceState
    ) -> BilledCharges | None:
        """The charges of ``key``'s cells when each is empty or a strict amount allowed for its
        charge type; remembered in the invoice currency's cache."""
        pattern = AMOUNT_PATTERNS[state.currency].fullmatch
        found: list[tuple[ChargeType, Decimal]] = []
        total = _ZERO
        for index, _, kind in self.at.charges:
            cell = row[index]
            if not cell:
                continue
            if pattern(cell) is None:
                return None
            amount = Decimal(cell)
            if amount < _ZERO and kind not in self.credit_types:
                return None
            found.append((kind, amount))
            total += amount
        if not found:
            return None
        charges = BilledCharges(_merged(found) if self.merge else found)
        charges.key = self.layout + key
        charges.total = total
        cache = state.charges
        if len(cache) >= _AMOUNTS_KEPT:
            cache.clear()
        cache[key] = charges
        return charges


def _merged(
    charges: list[tuple[ChargeType, Decimal]],
) -> tuple[tuple[ChargeType, Decimal], ...]:
    """Charges of one type from several columns, added up (first column's position)."""
    merged: dict[ChargeType, Decimal] = {}
    for kind, amount in charges:
        merged[kind] = merged.get(kind, _ZERO) + amount
    return tuple(merged.items())


_new_row = tuple.__new__


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
    reader, delimiter = _header(iterator, columns)
    yield from _rows(iterator, delimiter, reader, fast)


def _header(iterator: Iterator[str], columns: InvoiceColumns) -> tuple[_RowReader, str]:
    """Read the header line: the reader of the rows that follow, and the delimiter."""
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
    return _RowReader(_locate(header, columns), columns), delimiter


def _rows(
    lines: Iterator[str], delimiter: str, reader: _RowReader, fast: bool, line_num: int = 1
) -> Iterator[InvoiceRow | RowProblem]:
    """Split the lines into rows (plain lines directly, quoted ones through the csv module) and
    read each: by the fast path when it can, else by :meth:`_RowReader.read`. ``line_num`` is
    the file line read before the first of ``lines``."""
    width = reader.at.width
    plain = reader._plain_reader()
    read = reader.read
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
            csv_reader = csv.reader(
                itertools.chain((text,), lines), delimiter=delimiter, strict=True
            )
            try:
                row = next(csv_reader)
            except csv.Error as exc:
                line_num += csv_reader.line_num - 1
                yield RowProblem(line_num, f"not valid CSV ({exc})")
                continue
            except UnicodeDecodeError:
                raise InvoiceFileError("the file is not UTF-8 text", line=line_num + 1) from None
            line_num += csv_reader.line_num - 1
        else:
            found = read_unquoted(reader, plain if fast else None, text, line_num, delimiter)
            if found is not None:
                yield found
            continue
        if len(row) != width:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            yield RowProblem(line_num, f"expected {width} fields, found {len(row)}")
            continue
        yield read(row, line_num)


def read_unquoted(
    reader: _RowReader,
    plain: Callable[[list[str], str, int], InvoiceRow | None] | None,
    text: str,
    line_num: int,
    delimiter: str,
) -> InvoiceRow | RowProblem | None:
    """One line without a quote character: its row by the fast path ``plain`` (the reader's
    ``_plain_reader()``, ``None``: not tried) when it can, else by :meth:`_RowReader.read`;
    ``None`` for a blank line."""
    width = reader.at.width
    clean = text.rstrip("\r\n")
    row = clean.split(delimiter)
    if plain is not None and len(row) == width and row[reader.at.invoice_number] == reader.number:
        item = plain(row, clean, line_num)
        if item is not None:
            return item
        del row[width:]
    if len(row) != width:
        if not row or (len(row) == 1 and not row[0].strip()):
            return None
        return RowProblem(line_num, f"expected {width} fields, found {len(row)}")
    return reader.read(row, line_num)


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
