"""The hot loop of reconciling an invoice file against an in-memory shipment index.

Theory of operation: the file is read in chunks of whole lines. A chunk is *plain* when it has no
quote, no carriage return, no space, no control character and no line longer than the longest
allowed cell: then no cell of it needs stripping, unquoting or a printable check, and each line
is split once and checked by comparisons only. A line of a plain chunk takes the hot path when
it is a further line of the invoice being reconciled (same number, date, currency and
``supersedes`` as the invoice's first row), its line number is the next one, its ship date is one
read before and its charge cells are all empty or *canonical* amounts (no sign, exactly the
currency's decimals): then the line is classified without building a row. Every other line, and
every line of a chunk that is not plain, goes as it is to the general path (the reader's own
fast path or :meth:`_RowReader.read`, then the reconciler's classification), exactly as
:meth:`Reconciler.run` reads it; from the first chunk holding a quote or a carriage return on,
the rest of the file goes there (a quoted cell may span lines).

The hot path keeps no ``Decimal`` per line. A charge-cell text is parsed once (kept per currency,
bounded) into its integer minor units, its exact ``Decimal`` charges and its total; the line's
class is remembered per (charge text, quoted amounts text) pair, bounded, and computed on a miss
by :func:`~shipsync.settlement.classify_charges` on the exact ``Decimal`` values, so a remembered
class is the class the rules give. The invoice's tally counts hot lines and adds their totals in
integer minor units, folded into its exact ``Decimal`` amounts when the invoice ends: a canonical
amount has the currency's exponent, so the folded sums equal the ``Decimal`` sums digit for
digit. With ``on_line`` a :class:`LineOutcome` is still built per line, from the remembered values.
"""

from __future__ import annotations

import io
import itertools
import operator
import re
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from shipsync.canonical import CURRENCY_EXPONENTS, ChargeType, LineClass
from shipsync.errors import InvoiceFileError
from shipsync.settlement._columns import InvoiceColumns
from shipsync.settlement._index import (
    BILLED_MARK,
    QUOTED_AT,
    RECORD_SEPARATOR,
    MemoryShipmentIndex,
)
from shipsync.settlement._parse import (
    MAX_TEXT,
    InvoiceRow,
    RowProblem,
    _header,
    _RowReader,
    _rows,
    parse_iso_date,
    read_unquoted,
)
from shipsync.settlement._report import LineOutcome
from shipsync.settlement._rules import classify_charges, classify_minor, minor_table

if TYPE_CHECKING:
    from shipsync.settlement._reconcile import Reconciler, _Invoice

__all__ = ["can_stream", "stream_lines"]

_CHUNK = 1 << 16  # characters read at a time (a chunk's rows stay in the processor's cache)
_ENTRIES_KEPT = 1 << 14  # charge texts (and quoted texts) remembered per currency
_PAIRS_KEPT = 64  # quoted texts remembered per charge text
_CLASSES: tuple[LineClass, ...] = tuple(LineClass)
_POS = {kind: i for i, kind in enumerate(_CLASSES)}
_UNKNOWN = _POS[LineClass.UNKNOWN_SHIPMENT]
_DUPLICATE = _POS[LineClass.DUPLICATE_LINE]
_CANCELLED = _POS[LineClass.BILLED_AFTER_CANCELLATION]
_MISMATCH = _POS[LineClass.CURRENCY_MISMATCH]
_LAST_LINE = 999_999_998  # beyond it the next line number has ten digits: the general path

# A charge entry: (total in minor units, charges in minor units, exact total when outcomes are
# built, remembered classes by quoted amounts text)
_Entry = tuple[int, tuple[tuple[ChargeType, int], ...], Decimal | None, dict[str, tuple[Any, ...]]]
_QUOTED = re.compile(r"-?[0-9]+(?:\.([0-9]*))?")
_CHARGE_ORDER = tuple(ChargeType)


def _printable(chunk: str, delimiter: str) -> bool:
    """No space, and nothing but line ends and delimiters that is not printable (a chunk with a
    quote or a carriage return never gets here)."""
    return " " not in chunk and chunk.replace("\n", "").replace(delimiter, "").isprintable()


def _quote_minor(quoted: str, exponent: int) -> dict[ChargeType, int] | None:
    """A record's quoted amount texts in minor units; ``None`` when one is not a plain decimal
    with at most ``exponent`` decimals (an expectation added in code may hold any ``Decimal``)."""
    out: dict[ChargeType, int] = {}
    for kind, text in zip(_CHARGE_ORDER, quoted.split(RECORD_SEPARATOR), strict=False):
        if not text:
            continue
        match = _QUOTED.fullmatch(text)
        if match is None:
            return None
        fraction = match.group(1) or ""
        if len(fraction) > exponent:
            return None
        whole = text.partition(".")[0]
        out[kind] = int(whole + fraction.ljust(exponent, "0"))
    return out


def _canonical(exponent: int, delimiter: str, cells: int) -> re.Pattern[str]:
    """``cells`` charge cells joined by ``delimiter``, each empty or a non-negative amount with
    exactly ``exponent`` decimals (a subset of what the reader's strict pattern accepts, so a
    canonical cell is always a valid one)."""
    fraction = rf"\.[0-9]{{{exponent}}}" if exponent else ""
    amount = rf"(?:[0-9]{{1,18}}{fraction})?"
    return re.compile(amount + rf"(?:{re.escape(delimiter)}{amount}){{{cells - 1}}}")


def can_stream(reconciler: Reconciler) -> bool:
    """Whether :func:`stream_lines` serves this reconciler: an in-memory index, no ledger and no
    event sink (both need per-line work the hot path exists to skip)."""
    return (
        type(reconciler.index) is MemoryShipmentIndex
        and reconciler.ledger is None
        and reconciler.on_event is None
    )


def _chunks(lines: Iterable[str], size: int) -> Iterator[str]:
    """Text in chunks that end at a line end (or the end of the text)."""
    read = getattr(lines, "read", None)
    readline = getattr(lines, "readline", None)
    if read is not None and readline is not None:
        while True:
            chunk = read(size)
            if not chunk:
                return
            if chunk[-1] != "\n":
                chunk += readline()
            yield chunk
    iterator = iter(lines)
    while True:
        batch: list[str] = []
        length = 0
        for text in iterator:
            batch.append(text)
            length += len(text)
            if length >= size:
                break
        if not batch:
            return
        yield "".join(batch)
        if length < size:
            return


def open_lines(
    lines: Iterable[str], columns: InvoiceColumns
) -> tuple[Iterable[str], _RowReader, str]:
    """The lines after the header (an open file stays a file, read in chunks), the reader of
    the rows and the delimiter, from an invoice file's text (an open file or its lines)."""
    readable = getattr(lines, "read", None) is not None  # an open file, not just lines
    source = lines if readable else iter(lines)
    try:
        if readable:
            first = lines.readline()  # type: ignore[attr-defined]
            header_lines: Iterator[str] = iter((first,) if first else ())
        else:
            header_lines = source  # type: ignore[assignment]
        reader, delimiter = _header(header_lines, columns)
    except UnicodeDecodeError:
        raise InvoiceFileError("the file is not UTF-8 text", line=1) from None
    return source, reader, delimiter


def stream_lines(
    reconciler: Reconciler,
    lines: Iterable[str],
    columns: InvoiceColumns,
    *,
    chunk_size: int = _CHUNK,
) -> None:
    """Reconcile the lines of an invoice file (its header first) into ``reconciler``; the caller
    makes the report. Only for a reconciler :func:`can_stream` serves. ``chunk_size`` is the
    characters read at a time (tests make it small)."""
    rec = reconciler
    source, reader, delimiter = open_lines(lines, columns)
    at = reader.at
    memory: MemoryShipmentIndex = rec.index  # type: ignore[assignment]
    records = memory._records
    get_record = records.get
    find_record = memory.find_record
    width = at.width
    invoice_cells = [at.invoice_number, at.invoice_date, at.currency]
    if at.supersedes is not None:
        invoice_cells.append(at.supersedes)
    invoice_of = operator.itemgetter(*invoice_cells)
    i_line, i_tracking, i_ship = at.line_number, at.tracking_number, at.ship_date
    i_carrier, i_reference = at.carrier_shipment_id, at.reference
    charge_at = [index for index, _, _ in at.charges]
    kinds = [kind for _, _, kind in at.charges]
    several = len(charge_at) > 1
    cells_of = operator.itemgetter(*charge_at)
    i_single = charge_at[0]
    ship_dates = {""}  # ship date cells known good (an empty one is)
    numbered = i_line is not None
    i_number_cell = i_line if i_line is not None else 0
    plain = reader._plain_reader()
    classify = rec._classify
    expected_of = rec._expected
    table = rec._table
    on_line = rec.on_line
    per_line = on_line is not None
    new_outcome = tuple.__new__
    mark = BILLED_MARK
    sep = RECORD_SEPARATOR
    caches: dict[str, dict[str, _Entry]] = {}
    # Charge columns of one type added up, or a delimiter that can be part of an amount: the
    # general path only.
    hot = not reader.merge and delimiter not in "0123456789.-"

    # The invoice being reconciled, as the hot path sees it.
    current: _Invoice | None = None
    number: str | None = None
    currency: str | None = None
    invoice_key: tuple[str, ...] | str | None = None
    expect: str | None = None
    last = 0
    entries: dict[str, _Entry] = {}
    canonical: re.Pattern[str] | None = None
    exponent = 0
    quote_caches: dict[str, dict[str, dict[ChargeType, int] | None]] = {}
    quotes: dict[str, dict[ChargeType, int] | None] = {}
    minor_tables: dict[int, dict[ChargeType, tuple[int, int, int]]] = {}
    tables: dict[ChargeType, tuple[int, int, int]] = {}
    fast_counts: list[int] = []
    fast_minor: list[int] = []

    def take(item: InvoiceRow | RowProblem | None) -> None:
        """What :meth:`Reconciler.run` does with one item of the general path."""
        nonlocal current, number, currency
        if item is None:
            return
        if isinstance(item, RowProblem):
            rec._problem(item.message, item.file_line, item.invoice_number)
            return
        if item[1] != number or current is None:
            if current is not None:
                rec._finish(current)
            current = rec._start(item)
            number, currency = current.number, current.tally.currency
        if item[3] == currency:
            classify(current, item)
        else:
            rec._line(current, item)

    def resync() -> None:
        """After the general path: what the hot path may assume about the next line."""
        nonlocal invoice_key, expect, last, entries, canonical, fast_counts, fast_minor
        nonlocal exponent, quotes, tables
        state = reader.state
        invoice_key = None
        if (
            not hot
            or current is None
            or state is None
            or state.number != current.number
            or state.currency != current.tally.currency
        ):
            return
        cells = [state.number, state.date_text, state.currency]
        if at.supersedes is not None:
            cells.append(state.supersedes or "")
        invoice_key = tuple(cells) if len(cells) > 1 else cells[0]
        last = state.last_line
        expect = str(last + 1) if last <= _LAST_LINE else None
        entries = caches.setdefault(state.currency, {})
        exponent = CURRENCY_EXPONENTS[state.currency]
        canonical = _canonical(exponent, delimiter, len(charge_at))
        quotes = quote_caches.setdefault(state.currency, {})
        tables = minor_tables.get(exponent) or minor_tables.setdefault(
            exponent, minor_table(table, exponent)
        )
        fast_counts = current.tally.fast_counts
        fast_minor = current.tally.fast_minor

    def general(text: str, line_num: int) -> None:
        state = reader.state
        if state is not None and invoice_key is not None:
            state.last_line = last
        take(read_unquoted(reader, plain, text, line_num, delimiter))
        resync()

    def parse(key: str, row: list[str]) -> _Entry | None:
        """The entry of a charge text whose cells are each empty or canonical; else ``None``."""
        assert canonical is not None
        if canonical.fullmatch(key) is None:
            return None
        cells = cells_of(row) if several else (key,)
        filled = itertools.compress(zip(kinds, cells, strict=True), cells)
        charges = tuple([(kind, int(cell.replace(".", ""))) for kind, cell in filled])
        if not charges:
            return None
        minor = sum(amount for _, amount in charges)
        total = Decimal(minor).scaleb(-exponent) if per_line else None
        entry: _Entry = (minor, charges, total, {})
        if len(entries) >= _ENTRIES_KEPT:
            entries.clear()
        entries[key] = entry
        return entry

    def decide(entry: _Entry, quoted: str) -> tuple[Any, ...]:
        """The class of a current, same-currency package's line: (position, class, charge type,
        difference, expected total), remembered in the entry."""
        if quoted in quotes:
            expected = quotes[quoted]
        else:
            expected = _quote_minor(quoted, exponent)
            if len(quotes) >= _ENTRIES_KEPT:
                quotes.clear()
            quotes[quoted] = expected
        difference: Decimal | None = None
        if expected is None:  # a quoted amount finer than the currency's minor unit
            exact = tuple((kind, Decimal(m).scaleb(-exponent)) for kind, m in entry[1])
            kind, charge_type, exact_difference = classify_charges(
                exact, expected_of(quoted)[0], table
            )
            if charge_type is not None:
                difference = exact_difference
        else:
            kind, charge_type, minor, from_quote = classify_minor(entry[1], expected, tables)
            if charge_type is not None:
                difference = (
                    -expected_of(quoted)[0][charge_type]
                    if from_quote
                    else Decimal(minor).scaleb(-exponent)
                )
        found = (
            _POS[kind],
            kind,
            charge_type,
            difference,
            expected_of(quoted)[1] if per_line else None,
        )
        memo = entry[3]
        if len(memo) >= _PAIRS_KEPT:
            memo.clear()
        memo[quoted] = found
        return found

    def outcome(
        tracking: str,
        line_num: int,
        entry: _Entry,
        position: int,
        fields: list[str] | None,
        known: tuple[Any, ...] | None,
    ) -> None:
        """Hand ``on_line`` the outcome of a hot line, as the general path builds it."""
        assert on_line is not None
        charge_type = difference = expected = shipment_id = expected_currency = None
        kind = _CLASSES[position]
        if fields is not None:
            shipment_id = fields[0].removeprefix(mark)
            expected_currency = fields[1]
            if known is not None:
                kind, charge_type, difference, expected = known[1:]
            else:
                expected = expected_of(fields[QUOTED_AT])[1]
        on_line(
            new_outcome(
                LineOutcome,
                (
                    number,
                    last,
                    line_num,
                    tracking,
                    kind,
                    entry[2],
                    currency,
                    shipment_id,
                    expected,
                    expected_currency,
                    charge_type,
                    difference,
                ),
            )
        )

    def ship(row: list[str]) -> bool:
        """Whether the row's ship date cell is a valid date (then remembered)."""
        assert i_ship is not None
        cell = row[i_ship]
        try:
            parse_iso_date(cell)
        except ValueError:
            return False
        if len(ship_dates) > 10_000:
            ship_dates.clear()
            ship_dates.add("")
        ship_dates.add(cell)
        return True

    line_num = 1
    chunks = _chunks(source, chunk_size)
    while True:
        try:
            chunk = next(chunks, None)
        except UnicodeDecodeError:
            raise InvoiceFileError("the file is not UTF-8 text", line=line_num + 1) from None
        if chunk is None:
            break
        if '"' in chunk or "\r" in chunk:
            # The rest of the file through the general reader, which follows quoted cells
            # across lines and every kind of line end.
            rest = _rows(_lines_of(chunk, chunks), delimiter, reader, True, line_num)
            if invoice_key is not None and reader.state is not None:
                reader.state.last_line = last
            try:
                for item in rest:
                    take(item)
            except UnicodeDecodeError:
                raise InvoiceFileError("the file is not UTF-8 text", line=None) from None
            break
        texts = chunk.split("\n")
        if texts[-1] == "":
            texts.pop()
        if not _printable(chunk, delimiter) or max(map(len, texts)) > MAX_TEXT:
            for text in texts:
                line_num += 1
                general(text, line_num)
            continue
        for text in texts:
            line_num += 1
            row = text.split(delimiter)
            if len(row) != width or invoice_of(row) != invoice_key:
                general(text, line_num)
                continue
            tracking = row[i_tracking]
            if (
                not tracking
                or (numbered and row[i_number_cell] != expect)
                or (i_ship is not None and row[i_ship] not in ship_dates and not ship(row))
            ):
                general(text, line_num)
                continue
            key = delimiter.join(cells_of(row)) if several else row[i_single]
            entry = entries.get(key)
            if entry is None:
                entry = parse(key, row)
                if entry is None:
                    general(text, line_num)
                    continue
            # The line is read: from here on it is the hot path's.
            last += 1
            expect = str(last + 1) if last <= _LAST_LINE else None
            record = get_record(tracking)
            package = tracking
            if record is None:
                carrier_id = row[i_carrier] if i_carrier is not None else ""
                reference = row[i_reference] if i_reference is not None else ""
                found = find_record(tracking, carrier_id or None, reference or None)
                if found is not None:
                    package, record = found
            if record is None:
                position = _UNKNOWN
                if per_line:
                    outcome(tracking, line_num, entry, position, None, None)
            else:
                fields = record.split(sep, QUOTED_AT)
                if record[0] == mark:
                    position = _DUPLICATE
                    known = None
                else:
                    records[package] = mark + record
                    if fields[2] == "cancelled":
                        position = _CANCELLED
                        known = None
                    elif fields[1] != currency:
                        position = _MISMATCH
                        known = None
                    else:
                        known = entry[3].get(fields[QUOTED_AT])
                        if known is None:
                            known = decide(entry, fields[QUOTED_AT])
                        position = known[0]
                if per_line:
                    outcome(tracking, line_num, entry, position, fields, known)
            fast_counts[position] += 1
            fast_minor[position] += entry[0]
    if invoice_key is not None and reader.state is not None:
        reader.state.last_line = last
    if current is not None:
        rec._finish(current)


def _lines_of(chunk: str, chunks: Iterator[str]) -> Iterator[str]:
    """The lines of ``chunk`` and of the chunks after it, as a file opened with ``newline=""``
    yields them (a line ends at ``\\n``, ``\\r\\n`` or a lone ``\\r``)."""
    pending = chunk
    for more in chunks:
        pending += more
        lines = io.StringIO(pending, newline="").readlines()
        # The last line may go on in the next chunk (or be a "\\r" whose "\\n" comes next).
        pending = lines.pop() if lines else ""
        yield from lines
    yield from io.StringIO(pending, newline="").readlines()
