"""A shipment index in columns, and the invoice path that classifies a run of lines at once.

Needs the ``columnar`` extra (pyarrow and numpy). Theory of operation:

**The index.** :class:`ColumnarShipmentIndex` keeps one row per row of the shipments file: the
texts (shipment id, tracking number, fallback keys, service, origin, destination, quoted amounts)
in Arrow string arrays, the currency as a small integer code, the cancelled flag, the billed flag
and, per quoted charge column, the amounts in integer minor units (``_ABSENT`` where nothing was
quoted). A tracking number leads to its row through one dictionary (the last row of a repeated
tracking number wins, as in :class:`~shipsync.settlement.MemoryShipmentIndex`); the fallback keys
are 64-bit entries ``hash(key) << 32 | row`` in a sorted array, searched the same way the memory
index searches them, so both indexes find the same package for every line. A quoted amount beyond
``_WIDE`` minor units, or finer than its currency's minor unit, marks its row *exact*: lines billed
against it are classified by the ``Decimal`` rules one by one.

:meth:`ColumnarShipmentIndex.load_csv` reads a plain file (no quote, no carriage return, no byte
order mark, printable ASCII without spaces, lines of at most 200 characters) with Arrow's CSV
reader and checks every rule of :func:`~shipsync.settlement.load_shipments_csv` column by column;
any other file, or one failing a check, is loaded by that function and converted, so the first bad
line is named exactly as it names it.

**The invoice.** :func:`stream_columnar` reads the invoice file in chunks of whole lines. In a
chunk, the lines that can be *hot* are found column by column: the printable lines with the right
number of cells, a line number of canonical digits, a tracking number, a valid ship date (or
none), charge cells each empty or a canonical non-negative amount (exactly the currency's
decimals, below ``_WIDE`` minor units) and at least one charge, whose invoice cells equal the
previous line's and whose line number follows it. The chunk is then walked in order: where the
current invoice (as the general reader knows it) continues with a hot line, the longest run of
hot lines from there is classified at once; every other line goes to the general path exactly as
:meth:`~shipsync.settlement.Reconciler.run` reads it. A line whose tracking number is unknown but
whose carrier shipment id or reference names a package is not hot either: which package a
fallback key finds depends on what was billed before it, so it is found in order.

A run is classified with the integer rules of ``_rules`` (:func:`classify_minor`) written over
arrays: duplicates are the packages billed before the run or earlier in it, then cancellation,
currency, and per charge type the tolerance tests ``size <= absolute`` and
``size * 100 * denominator <= |quoted| * numerator``, all exact in 64-bit integers because every
amount on this path is below ``_WIDE``. The invoice's tally takes the run's counts and totals per
class in minor units (folded into exact ``Decimal`` amounts when the invoice ends, as the hot loop
of ``_stream`` does); with ``on_line`` the outcomes are built line by line from the arrays, and
with ``on_lines`` a run is one :class:`LineBatch` holding its classes, its outcomes built only
when asked.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from shipsync.canonical import CURRENCY_EXPONENTS, ChargeType, LineClass
from shipsync.errors import InvalidInputError, InvoiceFileError
from shipsync.settlement._columns import InvoiceColumns
from shipsync.settlement._index import (
    _CHARGE_NAMES,
    _LOW,
    _ORDER,
    QUOTED_AT,
    RECORD_FIELDS,
    RECORD_SEPARATOR,
    Expectation,
    MemoryShipmentIndex,
    load_shipments_csv,
)
from shipsync.settlement._parse import (
    AMOUNT_PATTERNS,
    MAX_TEXT,
    InvoiceRow,
    RowProblem,
    _rows,
    parse_iso_date,
    read_unquoted,
)
from shipsync.settlement._report import LineBatch, LineOutcome
from shipsync.settlement._rules import _RANK, classify_charges, minor_table
from shipsync.settlement._stream import _chunks, _lines_of, _printable, open_lines

if TYPE_CHECKING:
    from shipsync.settlement._reconcile import Reconciler, _Invoice

__all__ = ["ColumnarShipmentIndex", "can_stream_columnar", "stream_columnar"]

_ABSENT = np.iinfo(np.int64).min  # not quoted
_WIDE = 10**11  # amounts at or beyond this many minor units take the exact path
_LIMIT = 10**5  # a percent's numerator and denominator beyond it: no vectorised tolerance test
_CHUNK = 1 << 21  # characters of the invoice file read at a time
_KEPT = 1 << 14  # entries of each memo of the per-line outcomes
_CLASSES: tuple[LineClass, ...] = tuple(LineClass)
_POS = {kind: i for i, kind in enumerate(_CLASSES)}
_UNKNOWN = _POS[LineClass.UNKNOWN_SHIPMENT]
_DUPLICATE = _POS[LineClass.DUPLICATE_LINE]
_CANCELLED = _POS[LineClass.BILLED_AFTER_CANCELLATION]
_MISMATCH = _POS[LineClass.CURRENCY_MISMATCH]
_MATCHED = _POS[LineClass.MATCHED]
_OVER = _POS[LineClass.OVERCHARGE]
_UNDER = _POS[LineClass.UNDERCHARGE]
_UNQUOTED_CLASS = {
    ChargeType.ADDRESS_CORRECTION: _POS[LineClass.ADDRESS_CORRECTION],
    ChargeType.DIMENSIONAL_WEIGHT_ADJUSTMENT: _POS[LineClass.WEIGHT_ADJUSTMENT],
}
_KIND_AT = {kind: i for i, kind in enumerate(_ORDER)}
_STATUSES = ("", "active", "cancelled")
_SHIPMENT_FIELDS = (
    "shipment_id",
    "tracking_number",
    "carrier_shipment_id",
    "reference",
    "service",
    "origin",
    "destination",
    "currency",
    "status",
)
_CHARGE_KINDS = frozenset(_CHARGE_NAMES.values())
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(?:\.([0-9]*))?")  # as the file hot loop's quotes


def _amount_regex(exponent: int) -> str:
    """:data:`AMOUNT_PATTERNS`' pattern for ``exponent``, anchored, in RE2's syntax."""
    fraction = rf"(?:\.[0-9]{{1,{exponent}}})?" if exponent else ""
    return rf"^-?[0-9]{{1,18}}{fraction}$"


def _decimal_minor(texts: pa.Array, exponent: int) -> tuple[np.ndarray, np.ndarray]:
    """Amount texts valid in a currency of ``exponent`` decimals (empty or at most that many
    decimals) as integer minor units (``_ABSENT`` for an empty text), and which are ``_WIDE`` or
    more. Arrow reads each as a 128-bit decimal of that scale, whose unscaled integer is the
    amount in minor units exactly; a slice at a time, so the temporaries stay small."""
    count = len(texts)
    minor = np.empty(count, dtype=np.int64)
    wide = np.empty(count, dtype=bool)
    scale = pa.decimal128(38, exponent)
    for start in range(0, count, _SLICE):
        part = texts.slice(start, _SLICE)
        present = pc.not_equal(part, "")
        decimals = pc.cast(pc.if_else(present, part, "0"), scale)
        words = np.frombuffer(decimals.buffers()[1], dtype=np.int64)
        words = words[2 * decimals.offset : 2 * (decimals.offset + len(decimals))].reshape(-1, 2)
        low, high = words[:, 0], words[:, 1]
        big = (high != (low >> 63)) | (low >= _WIDE) | (low <= -_WIDE)
        filled = present.to_numpy(zero_copy_only=False)
        stop = start + len(part)
        minor[start:stop] = np.where(filled, np.where(big, 0, low), _ABSENT)
        wide[start:stop] = filled & big
    return minor, wide


def _text_minor(texts: list[str], exponents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Amount texts of any ``Decimal`` form as integer minor units of each row's currency, and
    which the integer path cannot hold (not a plain decimal, more decimals than the currency
    has, or ``_WIDE`` or more)."""
    minor = np.full(len(texts), _ABSENT, dtype=np.int64)
    exact = np.zeros(len(texts), dtype=bool)
    for row, text in enumerate(texts):
        if not text:
            continue
        match = _PLAIN_DECIMAL.fullmatch(text)
        exponent = int(exponents[row])
        # more decimals than the currency has, even zeros, keep their exponent in Decimal sums
        if match is None or len(match.group(1) or "") > exponent:
            exact[row] = True
            minor[row] = 0
            continue
        value = int(Decimal(text).scaleb(exponent))
        if abs(value) >= _WIDE:
            exact[row] = True
            minor[row] = 0
        else:
            minor[row] = value
    return minor, exact


def _one_chunk(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    if not isinstance(column, pa.ChunkedArray):
        return column
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def _strings(values: Iterable[str]) -> pa.Array:
    return pa.array(list(values), type=pa.string())


# A 64-bit hash of UTF-8 texts, the same computed over a whole Arrow array (NumPy, no Python
# object per text) and for one ``str``: a polynomial over the bytes modulo 2**64, the length mixed
# in, then a final avalanche. Only for finding candidates: every match is checked on the text.
_MASK = (1 << 64) - 1
_BASE = 0x100000001B3
_MIX = 0xFF51AFD7ED558CCD
_SLICE = 1 << 14  # texts hashed (amounts read) at a time: bounds the temporary arrays


def _powers(count: int) -> np.ndarray:
    """``_BASE ** k`` modulo 2**64 for ``k`` below ``count``."""
    powers = [1]
    for _ in range(1, count):
        powers.append(powers[-1] * _BASE & _MASK)
    return np.array(powers, dtype=np.uint64)


_POWERS = _powers(256)


def _finish_hash(sums: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        h = sums * np.uint64(_BASE) + lengths.astype(np.uint64)
        h ^= h >> np.uint64(33)
        h *= np.uint64(_MIX)
        h ^= h >> np.uint64(29)
    return h


def _hash_texts(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The hashes of an Arrow string array's texts (see :func:`_hash_text`)."""
    global _POWERS
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    count = len(array)
    out = np.empty(count, dtype=np.uint64)
    if not count:
        return out
    buffers = array.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int32)[array.offset : array.offset + count + 1]
    data = np.zeros(0, np.uint8) if buffers[2] is None else np.frombuffer(buffers[2], np.uint8)
    longest = int(np.diff(offsets).max())
    if longest > len(_POWERS):
        _POWERS = _powers(longest)
    with np.errstate(over="ignore"):
        for start in range(0, count, _SLICE):
            stop = min(count, start + _SLICE)
            first, last = int(offsets[start]), int(offsets[stop])
            lengths = np.diff(offsets[start : stop + 1])
            sums = np.zeros(stop - start, dtype=np.uint64)
            if last > first:
                rows = np.repeat(np.arange(stop - start), lengths)
                ends = offsets[start + 1 : stop + 1] - first
                from_end = ends[rows] - 1 - np.arange(last - first)
                terms = data[first:last].astype(np.uint64) * _POWERS[from_end]
                filled = lengths > 0
                sums[filled] = np.add.reduceat(terms, (offsets[start:stop] - first)[filled])
            out[start:stop] = _finish_hash(sums, lengths)
    return out


def _hash_text(text: str) -> int:
    """The hash of one text, as :func:`_hash_texts` computes it."""
    data = text.encode()
    h = 0
    for byte in data:
        h = (h * _BASE + byte) & _MASK
    h = (h * _BASE + len(data)) & _MASK
    h ^= h >> 33
    h = (h * _MIX) & _MASK
    return h ^ (h >> 29)


class ColumnarShipmentIndex:
    """A :class:`~shipsync.settlement.ShipmentIndex` in columns, for millions of packages in a
    fraction of the memory and time of one Python object each (the ``columnar`` extra).

    Build it with :meth:`load_csv` (or :meth:`from_memory`); it finds the package of every
    line exactly as a :class:`~shipsync.settlement.MemoryShipmentIndex` of the same file would,
    and :meth:`~shipsync.settlement.Reconciler.run_file` classifies ordinary invoice lines
    against it a run at a time.
    """

    def __init__(
        self,
        columns: dict[str, Any],
        quoted: dict[ChargeType, Any],
        minor: dict[ChargeType, np.ndarray],
        exact: np.ndarray,
        keys: tuple[np.ndarray, np.ndarray],
    ) -> None:
        # Columns read at random (``take``) in one piece: a chunked one costs far more a read.
        self._texts = {name: _one_chunk(column) for name, column in columns.items()}
        quoted = {kind: _one_chunk(column) for kind, column in quoted.items()}
        trackings = self._texts["tracking_number"]
        rows = len(trackings)
        # tracking numbers: (hash, row) pairs sorted, the last row of a hash first found
        hashes = _hash_texts(trackings)
        order = np.argsort(hashes, kind="stable")  # equal hashes in row order
        self._hashes = hashes[order]
        self._rows = order.astype(np.int64, copy=False)
        self._current = self._current_rows(rows)
        self._size = int(self._current.sum())
        currency_texts = columns["currency"]
        self._currencies: list[str] = sorted(set(pc.unique(currency_texts).to_pylist()))
        self._currency = (
            pc.index_in(currency_texts, value_set=_strings(self._currencies))
            .to_numpy(zero_copy_only=False)
            .astype(np.int16)
        )
        self._cancelled = pc.equal(columns["status"], "cancelled").to_numpy(zero_copy_only=False)
        del self._texts["currency"], self._texts["status"]  # kept as codes and flags
        self._quoted_texts = quoted
        self._quoted = minor
        self._exact = exact
        self._billed = np.zeros(rows, dtype=bool)
        self._billed_elsewhere: set[str] = set()
        self._keys = keys

    def _current_rows(self, rows: int) -> np.ndarray:
        """Which rows hold the last occurrence of their tracking number (the package)."""
        current = np.ones(rows, dtype=bool)
        if rows < 2:
            return current
        same = np.flatnonzero(self._hashes[1:] == self._hashes[:-1])
        if not len(same):
            return current
        trackings = self._texts["tracking_number"]
        # equal hashes: compare the tracking numbers (a repeated one, or a rare collision)
        groups: dict[int, list[int]] = {}
        for k in same.tolist():
            groups.setdefault(int(self._hashes[k]), []).extend((k, k + 1))
        for entries in groups.values():
            seen: set[str] = set()
            for k in sorted(set(entries), reverse=True):  # latest row first
                row = int(self._rows[k])
                text = trackings[row].as_py()
                if text in seen:
                    current[row] = False
                seen.add(text)
        return current

    def _row_of(self, tracking_number: str) -> int | None:
        """The package row of a tracking number (its last row in the file)."""
        target = np.uint64(_hash_text(tracking_number))
        low = int(np.searchsorted(self._hashes, target, side="left"))
        high = int(np.searchsorted(self._hashes, target, side="right"))
        trackings = self._texts["tracking_number"]
        for k in range(high - 1, low - 1, -1):
            row = int(self._rows[k])
            if trackings[row].as_py() == tracking_number:
                return row
        return None

    def rows_of(self, trackings: pa.Array) -> np.ndarray:
        """The package rows of many tracking numbers, -1 where there is none."""
        count = len(trackings)
        hashes = _hash_texts(trackings)
        # searched in order: each search starts near the last (far fewer cache misses)
        order = np.argsort(hashes)
        at = np.empty(count, dtype=np.int64)
        at[order] = np.searchsorted(self._hashes, hashes[order], side="right") - 1
        clipped = np.maximum(at, 0)
        hit = (at >= 0) & (self._hashes[clipped] == hashes) if len(self._hashes) else at >= 0
        rows = np.where(hit, self._rows[clipped] if len(self._rows) else -1, -1)
        check = np.flatnonzero(rows >= 0)
        if len(check):
            equal = pc.equal(
                self._texts["tracking_number"].take(pa.array(rows[check])),
                trackings.take(pa.array(check)),
            ).to_numpy(zero_copy_only=False)
            for j in check[~equal].tolist():  # a collision with another tracking number
                row = self._row_of(trackings[j].as_py())
                rows[j] = -1 if row is None else row
        return rows

    # -- building ------------------------------------------------------------------------------

    @classmethod
    def load_csv(cls, path: str | Path) -> ColumnarShipmentIndex:
        """Load a shipments file (the format of
        :func:`~shipsync.settlement.load_shipments_csv`, with the same checks and the same
        errors)."""
        try:
            loaded = cls._load_plain(path)
        except OSError as exc:
            raise InvalidInputError(f"cannot open the shipments file ({exc.strerror})") from None
        if loaded is not None:
            return loaded
        return cls.from_memory(load_shipments_csv(path))

    @classmethod
    def _load_plain(cls, path: str | Path) -> ColumnarShipmentIndex | None:
        """The index of a plain file (see :func:`_plain_blocks`) that passes every check of
        :func:`~shipsync.settlement.load_shipments_csv`; ``None`` for any other."""
        columns = _read_plain(path)
        if columns is None:
            return None
        # The blocks' parsed pieces are freed by now, but Arrow's allocator (mimalloc by default)
        # keeps their pages, so what NumPy allocates next comes on top: a million packages' load
        # then peaked at 430-454 MB in six runs, against 397-405 MB when the pages go back first.
        pa.default_memory_pool().release_unused()
        rows = len(columns["tracking_number"])
        blank = pa.repeat(pa.scalar("", pa.string()), rows)  # a column the file has not
        texts = {name: columns.get(name, blank) for name in _SHIPMENT_FIELDS}
        currency = texts["currency"]
        if rows and (
            not pc.all(pc.not_equal(texts["shipment_id"], "")).as_py()
            or not pc.all(pc.not_equal(texts["tracking_number"], "")).as_py()
            or not pc.all(pc.is_in(texts["status"], value_set=_strings(_STATUSES))).as_py()
        ):
            return None
        currencies = pc.unique(currency).to_pylist()
        if any(code not in AMOUNT_PATTERNS for code in currencies):
            return None
        quoted: dict[ChargeType, Any] = {}
        minor: dict[ChargeType, np.ndarray] = {}
        exact = np.zeros(rows, dtype=bool)
        # amounts are read by the currency's exponent: currencies that share one share a pass
        by_exponent: dict[int, list[str]] = {}
        for code in currencies:
            by_exponent.setdefault(CURRENCY_EXPONENTS[code], []).append(code)
        masks = {
            exponent: pc.is_in(currency, value_set=_strings(codes))
            for exponent, codes in by_exponent.items()
        }
        for kind in _ORDER:
            name = _CHARGE_NAMES[kind]
            if name not in columns:
                continue
            amounts = columns[name]
            valid = pc.equal(amounts, "")
            for exponent in by_exponent:
                matches = pc.match_substring_regex(amounts, _amount_regex(exponent))
                valid = pc.or_(
                    valid, matches if len(masks) == 1 else pc.and_(matches, masks[exponent])
                )
            if rows and not pc.all(valid).as_py():
                return None
            if len(by_exponent) == 1:
                values, wide = _decimal_minor(amounts, next(iter(by_exponent)))
                exact |= wide
            else:
                values = np.full(rows, _ABSENT, dtype=np.int64)
                for exponent in by_exponent:
                    at = np.flatnonzero(masks[exponent].to_numpy(zero_copy_only=False))
                    converted, wide = _decimal_minor(amounts.take(pa.array(at)), exponent)
                    values[at] = converted
                    exact[at[wide]] = True
            quoted[kind] = amounts
            minor[kind] = values
        keys = tuple(
            _key_entries(texts[name], rows) for name in ("carrier_shipment_id", "reference")
        )
        return cls(texts, quoted, minor, exact, (keys[0], keys[1]))

    @classmethod
    def from_memory(cls, memory: MemoryShipmentIndex) -> ColumnarShipmentIndex:
        """The same packages, fallback keys and billings as ``memory``, in columns."""
        trackings = memory._trackings
        records = [memory._records[tracking] for tracking in trackings]
        fields = [record.removeprefix("\x1e").split(RECORD_SEPARATOR) for record in records]
        names = RECORD_FIELDS[:QUOTED_AT]
        texts = {name: _strings(row[i] for row in fields) for i, name in enumerate(names)}
        texts["tracking_number"] = _strings(trackings)
        quoted = {
            kind: _strings(row[QUOTED_AT + i] for row in fields)
            for i, kind in enumerate(_ORDER)
            if any(row[QUOTED_AT + i] for row in fields)
        }
        # The memory index's key entries that can still match (their key is the package's
        # current key), re-hashed: every row here holds its package's current record.
        keys: list[np.ndarray] = []
        for table, name in ((0, "carrier_shipment_id"), (1, "reference")):
            live = sorted(
                ordinal
                for entry in memory._keys[table]
                if (key := fields[ordinal := entry & _LOW][6 + table])
                and (hash(key) & _LOW) == entry >> 32
            )
            rows = np.array(live, dtype=np.int64)
            high = (_hash_texts(texts[name].take(pa.array(rows))) >> np.uint64(32)) << np.uint64(32)
            keys.append(np.sort(high | rows.astype(np.uint64)))
        exponents = np.array([CURRENCY_EXPONENTS.get(row[1], 0) for row in fields], dtype=np.int64)
        minor: dict[ChargeType, np.ndarray] = {}
        exact = np.zeros(len(fields), dtype=bool)
        for kind, column in quoted.items():
            minor[kind], fine = _text_minor(column.to_pylist(), exponents)
            exact |= fine
        index = cls(texts, quoted, minor, exact, (keys[0], keys[1]))
        for tracking in memory.billed():
            index.mark_billed(tracking)
        return index

    # -- the ShipmentIndex protocol --------------------------------------------------------------

    def __len__(self) -> int:
        return self._size

    def __contains__(self, tracking_number: object) -> bool:
        return isinstance(tracking_number, str) and self._row_of(tracking_number) is not None

    def get(self, tracking_number: str) -> Expectation | None:
        """The package with this tracking number."""
        row = self._row_of(tracking_number)
        return None if row is None else self._expectation(row)

    def find(
        self, tracking_number: str, carrier_shipment_id: str | None, reference: str | None
    ) -> Expectation | None:
        """By tracking number, then carrier shipment id, then reference; unbilled packages first."""
        row = self.find_row(tracking_number, carrier_shipment_id, reference)
        return None if row is None else self._expectation(row)

    def find_row(
        self, tracking_number: str, carrier_shipment_id: str | None, reference: str | None
    ) -> int | None:
        """The row :meth:`find` reads."""
        row = self._row_of(tracking_number)
        if row is not None:
            return row
        for table, key in ((0, carrier_shipment_id), (1, reference)):
            if key:
                found = self._by_key(table, key)
                if found is not None:
                    return found
        return None

    def _rows_by_key(self, table: int, key: str) -> list[int]:
        """The current rows of the packages whose fallback key ``table`` (0 carrier shipment
        id, 1 reference) is ``key``, in file order (as ``MemoryShipmentIndex._by_key`` visits
        them)."""
        entries = self._keys[table]
        high = (_hash_text(key) >> 32) << 32
        at = int(np.searchsorted(entries, np.uint64(high)))
        end = high | _LOW
        column = self._texts["carrier_shipment_id" if table == 0 else "reference"]
        trackings = self._texts["tracking_number"]
        rows: list[int] = []
        while at < len(entries) and int(entries[at]) <= end:
            row = self._row_of(trackings[int(entries[at]) & _LOW].as_py())
            assert row is not None
            at += 1
            if column[row].as_py() == key:
                rows.append(row)
        return rows

    def _by_key(self, table: int, key: str) -> int | None:
        """The current row of the first unbilled package (else the first package) whose
        fallback key ``table`` is ``key``."""
        rows = self._rows_by_key(table, key)
        for row in rows:
            if not self._billed[row]:
                return row
        return rows[0] if rows else None

    def fallback_rows(
        self, carrier_ids: pa.Array | None, references: pa.Array | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`fallback_row` of many lines whose tracking number is unknown: their rows (-1
        where no package has either key) and which are ambiguous."""
        count = len(carrier_ids if carrier_ids is not None else references or [])
        rows = np.full(count, -1, dtype=np.int64)
        ambiguous = np.zeros(count, dtype=bool)
        pending = np.arange(count)
        for table, keys in ((0, carrier_ids), (1, references)):
            if keys is None or not len(pending):
                continue
            wanted_keys = keys.take(pa.array(pending))
            texts = wanted_keys.to_pylist()
            filled = pc.not_equal(wanted_keys, "").to_numpy(zero_copy_only=False)
            high = (_hash_texts(wanted_keys) >> np.uint64(32)) << np.uint64(32)
            entries = self._keys[table]
            low_at = np.searchsorted(entries, high, side="left")
            high_at = np.searchsorted(entries, high | np.uint64(_LOW), side="right")
            matches = np.where(filled, high_at - low_at, 0)
            decided = np.zeros(len(pending), dtype=bool)
            single = np.flatnonzero(matches == 1)
            if len(single):
                ordinals = (entries[low_at[single]] & np.uint64(_LOW)).astype(np.int64)
                current = self.rows_of(self._texts["tracking_number"].take(pa.array(ordinals)))
                column = self._texts["carrier_shipment_id" if table == 0 else "reference"]
                same = pc.equal(
                    column.take(pa.array(current)), wanted_keys.take(pa.array(single))
                ).to_numpy(zero_copy_only=False)
                rows[pending[single[same]]] = current[same]
                decided[single[same]] = True
            for j in np.flatnonzero(matches > 1).tolist():  # shared hashes: one by one
                found = self._rows_by_key(table, texts[j])
                if found:
                    decided[j] = True
                    if len(set(found)) == 1:
                        rows[pending[j]] = found[0]
                    else:
                        ambiguous[pending[j]] = True
            pending = pending[~decided]
        return rows, ambiguous

    def fallback_row(self, carrier_shipment_id: str | None, reference: str | None) -> int | None:
        """The row :meth:`find_row` reads for an unknown tracking number when it does not depend
        on what was billed (one package has the deciding key); ``None`` when no package has
        either key; ``-1`` when several have the deciding key."""
        for table, key in ((0, carrier_shipment_id), (1, reference)):
            if key:
                rows = self._rows_by_key(table, key)
                if rows:
                    return rows[0] if len(set(rows)) == 1 else -1
        return None

    def mark_billed(self, tracking_number: str) -> bool:
        """Record that the package was billed; True when it had been billed before."""
        row = self._row_of(tracking_number)
        if row is None:
            if tracking_number in self._billed_elsewhere:
                return True
            self._billed_elsewhere.add(tracking_number)
            return False
        if self._billed[row]:
            return True
        self._billed[row] = True
        return False

    def unmark_billed(self, tracking_number: str) -> None:
        """Forget a billing (its invoice was superseded)."""
        row = self._row_of(tracking_number)
        if row is None:
            self._billed_elsewhere.discard(tracking_number)
        else:
            self._billed[row] = False

    def billed(self) -> Iterator[str]:
        """The tracking numbers billed so far."""
        trackings = self._texts["tracking_number"]
        for row in np.flatnonzero(self._billed).tolist():
            yield trackings[row].as_py()
        yield from self._billed_elsewhere

    # -- reading rows ----------------------------------------------------------------------------

    def quoted_text(self, row: int) -> str:
        """The row's quoted amount texts as a memory index record holds them."""
        texts = [""] * len(_ORDER)
        for kind, column in self._quoted_texts.items():
            texts[_KIND_AT[kind]] = column[row].as_py()
        return RECORD_SEPARATOR.join(texts)

    def _expectation(self, row: int) -> Expectation:
        texts = self._texts
        charges = {
            kind: Decimal(text)
            for kind, column in self._quoted_texts.items()
            if (text := column[row].as_py())
        }
        charges = {kind: charges[kind] for kind in _ORDER if kind in charges}
        return Expectation(
            texts["shipment_id"][row].as_py(),
            self._texts["tracking_number"][row].as_py(),
            self._currencies[int(self._currency[row])],
            charges,
            bool(self._cancelled[row]),
            texts["service"][row].as_py() or None,
            texts["origin"][row].as_py() or None,
            texts["destination"][row].as_py() or None,
        )


_PLAIN_BYTES = bytes(range(0x21, 0x7F)).replace(b'"', b"") + b"\n"
_BLOCK = 1 << 23  # bytes of a shipments file read (and parsed) at a time


def _plain_blocks(handle: BinaryIO) -> Iterator[bytes | None]:
    """The rest of a file in blocks of whole lines, ``None`` (and the end) at the first block
    that is not plain: every line printable ASCII without a space or a quote and at most
    :data:`MAX_TEXT` characters long (so no byte order mark either). Those are the lines the
    line loader reads as they are (its plain lines), which Arrow's reader splits the same way."""
    carry = b""
    while True:
        block = handle.read(_BLOCK)
        data = carry + block if carry else block
        if block:
            end = data.rfind(b"\n") + 1
            carry, data = data[end:], data[:end]
        else:
            carry = b""
        if len(carry) > MAX_TEXT or data.translate(None, _PLAIN_BYTES):
            yield None
            return
        if data:
            ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
            last = len(data) - 1 - int(ends[-1]) if len(ends) else len(data)
            if last > MAX_TEXT or (
                len(ends) and int(np.diff(ends, prepend=-1).max()) > MAX_TEXT + 1
            ):
                yield None
                return
            yield data
        if not block:
            return


def _read_plain(path: str | Path) -> dict[str, pa.Array] | None:
    """The columns :class:`ColumnarShipmentIndex` keeps of a plain shipments file, as texts,
    each in one piece; ``None`` for a file that is not plain, has no usable header, or has a
    row of another width (the line loader names what is wrong).

    The file is read and parsed a block at a time and each column joined once at the end, so
    the memory the load needs beyond the columns is a block's, not the file's."""
    with open(path, "rb") as handle:
        header_line = handle.readline()
        if header_line.translate(None, _PLAIN_BYTES) or len(header_line.rstrip(b"\n")) > MAX_TEXT:
            return None
        try:
            header = [cell.strip() for cell in next(csv.reader([header_line.decode()]))]
        except (StopIteration, csv.Error):
            return None
        where = {name: i for i, name in enumerate(header)}
        if len(where) != len(header) or any(
            name not in where for name in ("shipment_id", "tracking_number", "currency")
        ):
            return None
        wanted = [name for name in header if name in _SHIPMENT_FIELDS or name in _CHARGE_KINDS]
        read_options = pa_csv.ReadOptions(
            column_names=header, use_threads=False, block_size=2 * _BLOCK + MAX_TEXT
        )
        parse_options = pa_csv.ParseOptions(quote_char=False, newlines_in_values=False)
        convert_options = pa_csv.ConvertOptions(
            include_columns=wanted,
            column_types=dict.fromkeys(wanted, pa.string()),
            strings_can_be_null=False,
            null_values=[],
        )
        parts: dict[str, list[pa.Array]] = {name: [] for name in wanted}
        for data in _plain_blocks(handle):
            if data is None:
                return None
            try:
                table = pa_csv.read_csv(
                    pa.BufferReader(data),
                    read_options=read_options,
                    parse_options=parse_options,
                    convert_options=convert_options,
                )
            except pa.ArrowInvalid:
                return None  # a row of another width
            for name in wanted:
                parts[name].extend(table.column(name).chunks)
    # each column joined in turn, its blocks' pieces freed before the next is joined
    return {
        name: pa.concat_arrays(parts.pop(name)) if parts[name] else pa.array([], pa.string())
        for name in wanted
    }


def _key_entries(keys: pa.Array | pa.ChunkedArray, rows: int) -> np.ndarray:
    """``hash(key) >> 32 << 32 | row`` of the non-empty keys, sorted (the layout of the memory
    index's key tables, with :func:`_hash_text`'s high half)."""
    if not rows:
        return np.zeros(0, dtype=np.uint64)
    entries = _hash_texts(keys)
    entries >>= np.uint64(32)
    entries <<= np.uint64(32)
    entries |= np.arange(rows, dtype=np.uint64)
    filled: np.ndarray = entries[pc.not_equal(keys, "").to_numpy(zero_copy_only=False)]
    filled.sort()
    return filled


# -- the invoice path ----------------------------------------------------------------------------


def can_stream_columnar(reconciler: Reconciler) -> bool:
    """Whether :func:`stream_columnar` serves this reconciler: a columnar index, no ledger and no
    event sink."""
    return (
        type(reconciler.index) is ColumnarShipmentIndex
        and reconciler.ledger is None
        and reconciler.on_event is None
    )


class _Chunk:
    """The cells of a chunk's candidate lines, and which lines are hot."""

    __slots__ = (
        "amounts",
        "cells",
        "charge_type",
        "classes",
        "cont",
        "decided",
        "difference",
        "from_quote",
        "hot",
        "lines",
        "rows",
        "totals",
        "trackings",
    )

    def __init__(self) -> None:
        self.hot: np.ndarray = np.zeros(0, dtype=bool)
        self.cont: np.ndarray = np.zeros(0, dtype=bool)
        self.rows: np.ndarray = np.zeros(0, dtype=np.int64)
        self.lines: np.ndarray = np.zeros(0, dtype=np.int64)
        self.amounts: dict[ChargeType, np.ndarray] = {}
        self.totals: np.ndarray = np.zeros(0, dtype=np.int64)
        self.cells: dict[str, pa.Array] = {}
        self.trackings: list[str] = []
        self.classes: np.ndarray = np.zeros(0, dtype=np.int8)
        self.charge_type: np.ndarray = np.zeros(0, dtype=np.int8)
        self.difference: np.ndarray = np.zeros(0, dtype=np.int64)
        self.from_quote: np.ndarray = np.zeros(0, dtype=bool)
        self.decided: dict[int, tuple[ChargeType | None, Decimal | None]] = {}


def stream_columnar(
    reconciler: Reconciler,
    lines: Iterable[str],
    columns: InvoiceColumns,
    *,
    chunk_size: int = _CHUNK,
) -> None:
    """Reconcile the lines of an invoice file (its header first) into ``reconciler``, whose index
    is a :class:`ColumnarShipmentIndex`; the caller makes the report."""
    rec = reconciler
    index: ColumnarShipmentIndex = rec.index  # type: ignore[assignment]
    source, reader, delimiter = open_lines(lines, columns)
    at = reader.at
    plain = reader._plain_reader()
    classify = rec._classify
    table = rec._table
    on_line = rec.on_line
    on_lines = rec.on_lines
    charge_at = [(i, kind) for i, _, kind in at.charges]
    # A delimiter that can be part of an amount, a cell or a line end, or charge columns of one
    # type added up: the general path only.
    hot_possible = (
        not reader.merge
        and len(delimiter) == 1
        and delimiter in ",;|\t"
        and all(
            numerator <= _LIMIT and denominator <= _LIMIT
            for numerator, denominator in (p.as_integer_ratio() for _, p in table.values())
        )
    )
    invoice_cells = [at.invoice_number, at.invoice_date, at.currency]
    if at.supersedes is not None:
        invoice_cells.append(at.supersedes)
    wanted = sorted(
        {
            *invoice_cells,
            at.tracking_number,
            *(i for i, _ in charge_at),
            *(
                i
                for i in (at.line_number, at.ship_date, at.carrier_shipment_id, at.reference)
                if i is not None
            ),
        }
    )
    ship_dates: set[str] = {""}
    convert = pa_csv.ConvertOptions(
        include_columns=[str(i) for i in wanted],
        column_types={str(i): pa.string() for i in wanted},
        strings_can_be_null=False,
        null_values=[],
    )
    line_pattern = (
        "^(?:[!-~]" + ("|\\t" if delimiter == "\t" else "") + "){0," + str(MAX_TEXT) + "}$"
    )
    patterns: dict[int, str] = {}
    first_of = np.zeros(len(index._billed), dtype=np.int64)  # scratch: a package's first line
    # per-line outcomes: exact amounts by minor units, expectations by quoted texts (bounded)
    amounts_by_exponent: dict[int, dict[int, Decimal]] = {}
    expectations: dict[tuple[str, ...], tuple[dict[ChargeType, Decimal], Decimal]] = {}
    # printable ASCII but the space, the line end and the delimiter: a plain ASCII chunk
    plain_bytes = bytes(range(0x21, 0x7F)) + b"\n" + delimiter.encode()

    def charge_patterns(exponent: int) -> str:
        """The charge cells joined by the delimiter, each empty or a canonical amount with
        exactly ``exponent`` decimals below ``_WIDE`` minor units (RE2)."""
        known = patterns.get(exponent)
        if known is None:
            fraction = rf"\.[0-9]{{{exponent}}}" if exponent else ""
            amount = rf"(?:[0-9]{{1,{len(str(_WIDE)) - 1 - exponent}}}{fraction})?"
            separator = "\\t" if delimiter == "\t" else re.escape(delimiter)
            cells = len(charge_at)
            known = patterns[exponent] = rf"^{amount}(?:{separator}{amount}){{{cells - 1}}}$"
        return known

    minor_tables: dict[int, dict[ChargeType, tuple[int, int, int]]] = {}
    current: _Invoice | None = None
    number: str | None = None
    currency: str | None = None
    last = 0  # the current invoice's last line number, while hot runs are read

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

    def general(text: str, line_num: int) -> None:
        take(read_unquoted(reader, plain, text, line_num, delimiter))

    def continues(cells: dict[str, pa.Array], j: int) -> bool:
        """Whether candidate ``j`` is a further line of the current invoice, next in number."""
        state = reader.state
        if current is None or state is None or state.number != current.number:
            return False
        if state.currency != current.tally.currency:
            return False
        row_cells = [cells[str(i)][j].as_py() for i in invoice_cells]
        expected = [state.number, state.date_text, state.currency]
        if at.supersedes is not None:
            expected.append(state.supersedes or "")
        if row_cells != expected:
            return False
        if at.line_number is not None:
            return bool(cells[str(at.line_number)][j].as_py() == str(state.last_line + 1))
        return True

    def split(chunk_text: str, texts: list[str]) -> tuple[np.ndarray, dict[int, pa.Array]]:
        """The candidate lines of a chunk (by position) and their wanted cells: every line of
        a printable chunk (Arrow's reader splits it), else the printable ASCII lines of the
        right width."""
        data = chunk_text.encode()
        printable = (
            not data.translate(None, plain_bytes)
            if chunk_text.isascii()
            else _printable(chunk_text, delimiter)
        )
        if printable and max(map(len, texts)) <= MAX_TEXT:
            try:
                table = pa_csv.read_csv(
                    io.BytesIO(data),
                    read_options=pa_csv.ReadOptions(column_names=[str(i) for i in range(at.width)]),
                    parse_options=pa_csv.ParseOptions(
                        delimiter=delimiter,
                        quote_char=False,
                        newlines_in_values=False,
                        ignore_empty_lines=False,
                    ),
                    convert_options=convert,
                )
            except pa.ArrowInvalid:
                pass  # a line of another width, or an empty one
            else:
                if table.num_rows == len(texts):
                    cells = {i: table.column(str(i)).combine_chunks() for i in wanted}
                    return np.arange(len(texts)), cells
        array = pa.array(texts, type=pa.string())
        candidate = pc.and_(
            pc.match_substring_regex(array, line_pattern),
            pc.equal(pc.count_substring(array, delimiter), at.width - 1),
        )
        positions = np.flatnonzero(candidate.to_numpy(zero_copy_only=False))
        if not len(positions):
            return positions, {}
        parts = pc.split_pattern(array.take(pa.array(positions)), delimiter)
        return positions, {i: pc.list_element(parts, i) for i in wanted}

    def prepare(chunk_text: str, texts: list[str]) -> tuple[np.ndarray, _Chunk]:
        """Which of ``texts`` are candidates (by position), and their cells and flags."""
        chunk = _Chunk()
        positions, cells = split(chunk_text, texts)
        count = len(positions)
        if not count:
            return positions, chunk
        ok = pc.not_equal(cells[at.tracking_number], "").to_numpy(zero_copy_only=False)
        # the invoice cells equal the previous candidate's (the first: checked in order)
        same = np.ones(count, dtype=bool)
        for i in invoice_cells:
            column = cells[i]
            same[1:] &= pc.equal(column[1:], column[:-1]).to_numpy(zero_copy_only=False)
        same[1:] &= np.diff(positions) == 1
        same[0] = False
        if at.line_number is not None:
            numbers = cells[at.line_number]
            canonical = pc.match_substring_regex(numbers, "^[1-9][0-9]{0,8}$")
            ok &= canonical.to_numpy(zero_copy_only=False)
            values = pc.cast(pc.if_else(canonical, numbers, "0"), pa.int64()).to_numpy()
            same[1:] &= values[1:] == values[:-1] + 1
            chunk.lines = values
        if at.ship_date is not None:
            dates = cells[at.ship_date]
            for text in pc.unique(dates).to_pylist():
                if text not in ship_dates:
                    try:
                        parse_iso_date(text)
                    except ValueError:
                        continue
                    if len(ship_dates) > 10_000:
                        ship_dates.clear()
                        ship_dates.add("")
                    ship_dates.add(text)
            valid_date = pc.is_in(dates, value_set=_strings(ship_dates))
            ok &= valid_date.to_numpy(zero_copy_only=False)
        # charge cells: each empty or canonical in the line's currency, and one filled at least
        currencies = cells[at.currency]
        charge_cells = [cells[i] for i, _ in charge_at]
        joined = (
            pc.binary_join_element_wise(*charge_cells, delimiter)
            if len(charge_cells) > 1
            else charge_cells[0]
        )
        canonical_amounts = np.zeros(count, dtype=bool)
        for code in pc.unique(currencies).to_pylist():
            exponent = CURRENCY_EXPONENTS.get(code)
            if exponent is None:
                continue
            matches = pc.match_substring_regex(joined, charge_patterns(exponent))
            mine = pc.and_(matches, pc.equal(currencies, code))
            canonical_amounts |= mine.to_numpy(zero_copy_only=False)
        filled = pc.greater(pc.utf8_length(joined), len(charge_cells) - 1)
        ok &= canonical_amounts & filled.to_numpy(zero_copy_only=False)
        keep = pa.array(ok)
        amounts: dict[ChargeType, np.ndarray] = {}
        totals = np.zeros(count, dtype=np.int64)
        for (_, kind), column in zip(charge_at, charge_cells, strict=True):
            if not pc.max(pc.utf8_length(column)).as_py():
                continue  # empty in the whole chunk
            digits = pc.replace_substring(column, ".", "")
            usable = pc.and_(keep, pc.not_equal(digits, ""))
            values = pc.cast(pc.if_else(usable, digits, "0"), pa.int64()).to_numpy()
            present = usable.to_numpy(zero_copy_only=False)
            amounts[kind] = np.where(present, values, _ABSENT)
            totals += np.where(present, values, 0)
        hot = ok
        trackings = cells[at.tracking_number].to_pylist()
        rows = index.rows_of(cells[at.tracking_number])
        missing = np.flatnonzero(hot & (rows < 0))
        if len(missing):
            taken = pa.array(missing)
            keys = [
                cells[i].take(taken) if i is not None else None
                for i in (at.carrier_shipment_id, at.reference)
            ]
            found, ambiguous = index.fallback_rows(keys[0], keys[1])
            rows[missing] = found
            hot[missing[ambiguous]] = False  # which package it finds depends on what was billed
        chunk.hot = hot
        chunk.cont = same & hot
        chunk.rows = rows
        chunk.amounts = amounts
        chunk.totals = totals
        chunk.cells = {str(i): cells[i] for i in invoice_cells}
        if at.line_number is not None:
            chunk.cells[str(at.line_number)] = cells[at.line_number]
        chunk.trackings = trackings
        decide(chunk, currencies)
        return positions, chunk

    def decide(chunk: _Chunk, currencies: pa.Array) -> None:
        """The class of every hot line unless its package was billed before it: nothing but
        the line and its package decides it, so a chunk is decided at once."""
        n = len(chunk.rows)
        rows = chunk.rows
        classes = np.full(n, _MATCHED, dtype=np.int8)
        found = rows >= 0
        safe = np.where(found, rows, 0)
        classes[~found] = _UNKNOWN
        live = chunk.hot & found
        charge_type = np.full(n, -1, dtype=np.int8)
        difference = np.zeros(n, dtype=np.int64)
        from_quote = np.zeros(n, dtype=bool)
        chunk.classes = classes
        chunk.charge_type = charge_type
        chunk.difference = difference
        chunk.from_quote = from_quote
        if not live.any():
            return
        cancelled = live & index._cancelled[safe]
        classes[cancelled] = _CANCELLED
        live &= ~cancelled
        code = pc.index_in(currencies, value_set=_strings(index._currencies))
        codes = pc.fill_null(code, -1).to_numpy(zero_copy_only=False)
        mismatch = live & (index._currency[safe] != codes)
        classes[mismatch] = _MISMATCH
        live &= ~mismatch
        exact = live & index._exact[safe]
        live &= ~exact
        for code_at in np.unique(codes[live]).tolist():
            exponent = CURRENCY_EXPONENTS[index._currencies[code_at]]
            tables = minor_tables.get(exponent)
            if tables is None:
                # an absolute tolerance beyond any amount here is as good as 2**62
                tables = minor_tables[exponent] = {
                    kind: (min(absolute, 1 << 62), numerator, denominator)
                    for kind, (absolute, numerator, denominator) in minor_table(
                        table, exponent
                    ).items()
                }
            _classify_minor(
                chunk.amounts, safe, live & (codes == code_at), tables, index, classes,
                charge_type, difference, from_quote,
            )  # fmt: skip
        decided: dict[int, tuple[ChargeType | None, Decimal | None]] = {}
        for j in np.flatnonzero(exact).tolist():
            exponent = CURRENCY_EXPONENTS[index._currencies[int(codes[j])]]
            billed_charges = tuple(
                (kind, Decimal(int(chunk.amounts[kind][j])).scaleb(-exponent))
                for kind in _ORDER
                if kind in chunk.amounts and chunk.amounts[kind][j] != _ABSENT
            )
            kind, kind_of, exact_difference = classify_charges(
                billed_charges, rec._expected(index.quoted_text(int(rows[j])))[0], table
            )
            classes[j] = _POS[kind]
            decided[j] = (kind_of, exact_difference if kind_of is not None else None)
        chunk.decided = decided

    def run(chunk: _Chunk, start: int, end: int, base_line: int, positions: np.ndarray) -> None:
        """Take candidates ``start:end`` (a run of hot lines of the current invoice): mark the
        duplicates, bill the packages, tally."""
        nonlocal last
        assert current is not None
        assert currency is not None
        rows = chunk.rows[start:end]
        classes = chunk.classes[start:end].copy()
        found = rows >= 0
        # duplicates: billed before the run, or earlier in it
        billed = index._billed
        duplicate = found & billed[np.where(found, rows, 0)] if found.any() else found.copy()
        fresh = np.flatnonzero(found & ~duplicate)
        if len(fresh):
            packages = rows[fresh]
            # the first line of each package: written last when written back to front
            first_of[packages[::-1]] = fresh[::-1]
            repeat = first_of[packages] != fresh
            duplicate[fresh[repeat]] = True
            billed[packages] = True
        classes[duplicate] = _DUPLICATE
        totals = chunk.totals[start:end]
        tally = current.tally
        counts = np.bincount(classes, minlength=len(_CLASSES))
        if len(totals) and int(totals.max()) * len(totals) < 1 << 53:
            # float sums of integers below 2**53 are exact
            sums = np.bincount(classes, weights=totals, minlength=len(_CLASSES))
            for position in np.flatnonzero(counts).tolist():
                tally.fast_counts[position] += int(counts[position])
                tally.fast_minor[position] += int(sums[position])
        else:
            for position in np.flatnonzero(counts).tolist():
                tally.fast_counts[position] += int(counts[position])
                tally.fast_minor[position] += int(totals[classes == position].sum())
        if at.line_number is not None:
            last = int(chunk.lines[end - 1])
        else:
            last += end - start
        if on_lines is not None:
            rec._flush_lines()  # the general path's lines before this run's
            # the run's classes now, its outcomes when asked (from this run's values)
            build = partial(
                outcomes, chunk, start, end, base_line, positions, classes, number, currency, last
            )
            on_lines(
                LineBatch._deferred(
                    end - start,
                    [_CLASSES[position] for position in classes.tolist()],
                    lambda: (positions[start:end] + base_line).tolist(),
                    lambda: _collect(build),
                )
            )
        elif on_line is not None:
            outcomes(
                chunk, start, end, base_line, positions, classes, number, currency, last, on_line
            )

    def outcomes(
        chunk: _Chunk,
        start: int,
        end: int,
        base_line: int,
        positions: np.ndarray,
        classes: np.ndarray,
        number: str | None,
        currency: str | None,
        last: int,
        sink: Callable[[LineOutcome], None],
    ) -> None:
        """Hand ``sink`` the outcomes of a run of invoice ``number`` in ``currency`` whose last
        line number is ``last``, as the general path builds them."""
        assert currency is not None
        exponent = CURRENCY_EXPONENTS[currency]
        line_numbers = (
            chunk.lines[start:end].tolist()
            if at.line_number is not None
            else list(range(last - (end - start) + 1, last + 1))
        )
        count = end - start
        rows = chunk.rows[start:end]
        found = rows >= 0
        taken = pa.array(np.where(found, rows, 0))
        shipment_ids: list[str | None] = [None] * count
        quoted_texts: list[tuple[str, ...]] = [()] * count
        currencies: list[str | None] = [None] * count
        if found.any():
            shipment_ids = index._texts["shipment_id"].take(taken).to_pylist()
            columns = [column.take(taken).to_pylist() for column in index._quoted_texts.values()]
            quoted_texts = list(zip(*columns, strict=True)) if columns else [()] * count
            names = index._currencies
            currencies = [names[code] for code in index._currency[np.where(found, rows, 0)]]
        slots = [_KIND_AT[kind] for kind in index._quoted_texts]
        trackings = chunk.trackings[start:end]
        files = (positions[start:end] + base_line).tolist()
        totals = chunk.totals[start:end].tolist()
        kinds = chunk.charge_type[start:end].tolist()
        differences = chunk.difference[start:end].tolist()
        from_quote = chunk.from_quote[start:end].tolist()
        flags = found.tolist()
        decided = chunk.decided
        amounts = amounts_by_exponent.setdefault(exponent, {})
        new = tuple.__new__
        for j in range(count):
            minor = totals[j]
            total = amounts.get(minor)
            if total is None:
                total = Decimal(minor).scaleb(-exponent)
                if len(amounts) >= _KEPT:
                    amounts.clear()
                amounts[minor] = total
            position = int(classes[j])
            shipment_id = expected = expected_currency = kind_of = diff = None
            if flags[j]:
                shipment_id = shipment_ids[j]
                expected_currency = currencies[j]
                texts = quoted_texts[j]
                known = expectations.get(texts)
                if known is None:
                    record = [""] * len(_ORDER)
                    for slot, text in zip(slots, texts, strict=True):
                        record[slot] = text
                    known = rec._expected(RECORD_SEPARATOR.join(record))
                    if len(expectations) >= _KEPT:
                        expectations.clear()
                    expectations[texts] = known
                expected = known[1]
                if position == _DUPLICATE:
                    pass
                elif start + j in decided:
                    kind_of, diff = decided[start + j]
                elif kinds[j] >= 0:
                    kind_of = _ORDER[kinds[j]]
                    if from_quote[j]:
                        diff = -known[0][kind_of]
                    else:
                        diff = Decimal(differences[j]).scaleb(-exponent)
            sink(
                new(
                    LineOutcome,
                    (
                        number,
                        line_numbers[j],
                        files[j],
                        trackings[j],
                        _CLASSES[position],
                        total,
                        currency,
                        shipment_id,
                        expected,
                        expected_currency,
                        kind_of,
                        diff,
                    ),
                )
            )

    line_num = 1
    chunks = _chunks(source, chunk_size)
    while True:
        try:
            chunk_text = next(chunks, None)
        except UnicodeDecodeError:
            raise InvoiceFileError("the file is not UTF-8 text", line=line_num + 1) from None
        if chunk_text is None:
            break
        if "\r" in chunk_text and chunk_text.count("\r") == chunk_text.count("\r\n"):
            # Windows line ends only (a lone carriage return would end a line): the lines are
            # the same without them, and the row path strips them anyway
            chunk_text = chunk_text.replace("\r\n", "\n")
        if '"' in chunk_text or "\r" in chunk_text:
            rest = _rows(_lines_of(chunk_text, chunks), delimiter, reader, True, line_num)
            try:
                for item in rest:
                    take(item)
            except UnicodeDecodeError:
                raise InvoiceFileError("the file is not UTF-8 text", line=None) from None
            break
        texts = chunk_text.split("\n")
        if texts[-1] == "":
            texts.pop()
        base_line = line_num + 1
        if not hot_possible:
            for k, text in enumerate(texts):
                general(text, base_line + k)
            line_num += len(texts)
            continue
        positions, prepared = prepare(chunk_text, texts)
        hot = prepared.hot
        # where each candidate's run ends: the next candidate that does not continue it
        breaks = np.flatnonzero(~prepared.cont)
        k = 0  # next line of texts
        j = 0  # next candidate
        count = len(positions)
        while k < len(texts):
            if j < count and int(positions[j]) == k:
                if hot[j] and continues(prepared.cells, j):
                    at_break = int(np.searchsorted(breaks, j, side="right"))
                    end = int(breaks[at_break]) if at_break < len(breaks) else count
                    state = reader.state
                    assert state is not None
                    last = state.last_line
                    run(prepared, j, end, base_line, positions)
                    state.last_line = last
                    k = int(positions[end - 1]) + 1
                    j = end
                    continue
                j += 1
            general(texts[k], base_line + k)
            k += 1
        line_num += len(texts)
    if current is not None:
        rec._finish(current)


def _collect(build: Callable[[Callable[[LineOutcome], None]], None]) -> list[LineOutcome]:
    """What ``build`` hands its sink, as a list."""
    built: list[LineOutcome] = []
    build(built.append)
    return built


def _classify_minor(
    amounts: dict[ChargeType, np.ndarray],
    rows: np.ndarray,
    live: np.ndarray,
    tables: dict[ChargeType, tuple[int, int, int]],
    index: ColumnarShipmentIndex,
    classes: np.ndarray,
    charge_type: np.ndarray,
    difference: np.ndarray,
    from_quote: np.ndarray,
) -> None:
    """:func:`~shipsync.settlement._rules.classify_minor` over the ``live`` lines (billed
    ``amounts`` per charge type, their packages' ``rows``)."""
    n = len(rows)
    unquoted_rank = np.full(n, 1 << 10, dtype=np.int64)
    unquoted_kind = np.full(n, -1, dtype=np.int8)
    unquoted_diff = np.zeros(n, dtype=np.int64)
    worst_size = np.full(n, -1, dtype=np.int64)
    worst_kind = np.full(n, -1, dtype=np.int8)
    worst_diff = np.zeros(n, dtype=np.int64)
    worst_quote = np.zeros(n, dtype=bool)
    for position, kind in enumerate(_ORDER):
        billed = amounts.get(kind)
        quoted_column = index._quoted.get(kind)
        if billed is None and quoted_column is None:
            continue
        quoted = quoted_column[rows] if quoted_column is not None else None
        has_billed = billed != _ABSENT if billed is not None else np.zeros(n, dtype=bool)
        has_quoted = quoted != _ABSENT if quoted is not None else np.zeros(n, dtype=bool)
        has_billed &= live
        has_quoted &= live
        absolute, numerator, denominator = tables[kind]
        b = np.where(has_billed, billed, 0) if billed is not None else np.zeros(n, np.int64)
        q = np.where(has_quoted, quoted, 0) if quoted is not None else np.zeros(n, np.int64)
        # a billed type that was not quoted, beyond its tolerance
        unquoted = has_billed & ~has_quoted & (b != 0) & (np.abs(b) > absolute)
        better = unquoted & (_RANK[kind] < unquoted_rank)
        unquoted_rank = np.where(better, _RANK[kind], unquoted_rank)
        unquoted_kind = np.where(better, position, unquoted_kind)
        unquoted_diff = np.where(better, b, unquoted_diff)
        # a quoted type, billed (or not) outside its tolerance
        both = has_billed & has_quoted
        only_quoted = has_quoted & ~has_billed
        diff = np.where(both, b - q, -q)
        size = np.abs(diff)
        within = (size <= absolute) | (size * 100 * denominator <= np.abs(q) * numerator)
        out = (both | (only_quoted & (q != 0))) & (diff != 0) & ~within
        better = out & (size > worst_size)
        worst_size = np.where(better, size, worst_size)
        worst_kind = np.where(better, position, worst_kind)
        worst_diff = np.where(better, diff, worst_diff)
        worst_quote = np.where(better, only_quoted, worst_quote)
    has_unquoted = live & (unquoted_kind >= 0)
    for kind in _ORDER:
        mine = has_unquoted & (unquoted_kind == _KIND_AT[kind])
        if mine.any():
            classes[mine] = _UNQUOTED_CLASS.get(kind, _POS[LineClass.UNQUOTED_SURCHARGE])
    charge_type[has_unquoted] = unquoted_kind[has_unquoted]
    difference[has_unquoted] = unquoted_diff[has_unquoted]
    disputed = live & ~has_unquoted & (worst_kind >= 0)
    classes[disputed & (worst_diff > 0)] = _OVER
    classes[disputed & (worst_diff <= 0)] = _UNDER
    charge_type[disputed] = worst_kind[disputed]
    difference[disputed] = worst_diff[disputed]
    from_quote[disputed] = worst_quote[disputed]
