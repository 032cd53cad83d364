"""The shipment index: what each package was expected to cost, found by the keys invoices carry.

Reconciliation looks every invoice line up here: by tracking number first, then by the carrier's
shipment id, then by our reference. Each package holds its shipment id, its currency, whether the
shipment was cancelled, and the expected amount per charge type (the quote, split across the
packages of a multi-package shipment to the minor unit, remainder on the first packages).

The in-memory index keeps one compact string per package, decoded on lookup, so a million packages
fit in a few hundred megabytes; the index also remembers which packages were billed, which is how
duplicate lines are found without memory growing with the number of invoice lines.
"""

from __future__ import annotations

import bisect
import csv
import io
import itertools
import operator
from array import array
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple, Protocol, TextIO, TypeVar, overload

from shipsync.canonical import (
    CURRENCY_EXPONENTS,
    Accrual,
    AccrualKind,
    ChargeType,
    Event,
    FreightCharge,
    FreightChargeAccrued,
    FreightRateQuoted,
    Money,
    Rate,
    Shipment,
    ShipmentCancelled,
    ShipmentCreated,
)
from shipsync.errors import InvalidInputError
from shipsync.settlement._columns import CHARGE_COLUMNS
from shipsync.settlement._parse import AMOUNT_PATTERNS

__all__ = [
    "Expectation",
    "MemoryShipmentIndex",
    "ShipmentIndex",
    "allocate",
    "load_shipments_csv",
]

_ORDER: tuple[ChargeType, ...] = tuple(ChargeType)
_POSITION = {kind: i for i, kind in enumerate(_ORDER)}
_SEP = "\x1f"
_AMOUNTS_KEPT = 1 << 16
_LOW = (1 << 32) - 1
_CHARGE_NAMES = {kind: name for name, kind in CHARGE_COLUMNS.items()}


class Expectation(NamedTuple):
    """What one package was expected to cost."""

    shipment_id: str
    tracking_number: str
    currency: str
    charges: Mapping[ChargeType, Decimal]
    cancelled: bool = False
    service: str | None = None
    origin: str | None = None
    destination: str | None = None

    @property
    def total(self) -> Decimal:
        """The sum of the expected charges."""
        return sum(self.charges.values(), Decimal(0))


class ShipmentIndex(Protocol):
    """Where reconciliation finds the expectation of an invoice line's package."""

    def get(self, tracking_number: str) -> Expectation | None:
        """The package with this tracking number."""

    def find(
        self, tracking_number: str, carrier_shipment_id: str | None, reference: str | None
    ) -> Expectation | None:
        """By tracking number, then carrier shipment id, then reference; unbilled packages first."""

    def mark_billed(self, tracking_number: str) -> bool:
        """Record that the package was billed; True when it had been billed before."""

    def unmark_billed(self, tracking_number: str) -> None:
        """Forget a billing (its invoice was superseded)."""


def allocate(amount: Money, parts: int) -> list[Money]:
    """Split ``amount`` into ``parts`` exact shares; the remainder goes one minor unit at a time
    to the first shares, so the shares always add back to ``amount``."""
    if parts < 1:
        raise InvalidInputError("cannot allocate to fewer than one part")
    exponent = CURRENCY_EXPONENTS[amount.currency]
    minor = amount.minor_units
    sign = -1 if minor < 0 else 1
    share, remainder = divmod(abs(minor), parts)
    return [
        Money.of(
            Decimal(sign * (share + (1 if i < remainder else 0))).scaleb(-exponent), amount.currency
        )
        for i in range(parts)
    ]


class MemoryShipmentIndex:
    """A :class:`ShipmentIndex` in memory, for up to a few million packages.

    Layout (compact on purpose: a million packages in about 250 MB). ``_records`` maps a
    tracking number to one string, the package's :data:`RECORD_FIELDS` joined by
    :data:`RECORD_SEPARATOR`; a billed package's record starts with :data:`BILLED_MARK`, so
    billing keeps no second copy of any tracking number. The fallback keys (carrier shipment id,
    reference) are not kept as strings: each is a 64-bit entry ``hash(key) << 32 | ordinal`` in
    a sorted ``array``, the ordinal naming a tracking number in ``_trackings``; a lookup
    bisects to the entries of the key's hash and keeps those whose record holds the key itself,
    so a hash collision never matches a wrong package.
    """

    def __init__(self) -> None:
        self._records: dict[str, str] = {}
        self._trackings: list[str] = []
        self._keys: tuple[array[int], array[int]] = (array("Q"), array("Q"))
        self._sorted = [0, 0]  # how many entries of each key table are sorted
        self._billed_elsewhere: set[str] = set()  # billed tracking numbers not in the index

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, tracking_number: object) -> bool:
        return tracking_number in self._records

    # -- building ------------------------------------------------------------------------------

    def add(
        self,
        expectation: Expectation,
        *,
        carrier_shipment_id: str | None = None,
        reference: str | None = None,
    ) -> None:
        """Add (or replace) a package's expectation and its fallback keys."""
        record = encode_record(expectation, carrier_shipment_id, reference)
        self._put(expectation.tracking_number, record)

    def _put(self, tracking: str, record: str) -> None:
        """Store ``record`` (its fallback keys in fields 6 and 7) under ``tracking``."""
        previous = self._records.get(tracking)
        if previous is not None and previous[0] == BILLED_MARK:
            record = BILLED_MARK + record
        self._records[tracking] = record
        ordinal = len(self._trackings)
        self._trackings.append(tracking)
        carrier_id, reference = record.split(_SEP, 8)[6:8]
        if carrier_id:
            self._keys[0].append(((hash(carrier_id) & _LOW) << 32) | ordinal)
        if reference:
            self._keys[1].append(((hash(reference) & _LOW) << 32) | ordinal)

    def add_shipment(
        self, shipment: Shipment, quote: Rate | None = None, *, cancelled: bool = False
    ) -> None:
        """Add every package of ``shipment`` with its share of ``quote`` (none: nothing quoted)."""
        trackings = shipment.tracking_numbers
        if not trackings:
            return
        shares: list[dict[ChargeType, Decimal]] = [{} for _ in trackings]
        currency = quote.total.currency if quote is not None else "XXX"
        if quote is not None:
            charges = quote.charges or ()
            if not charges:
                split = allocate(quote.total, len(trackings))
                for share, money in zip(shares, split, strict=True):
                    share[ChargeType.BASE_FREIGHT] = money.amount
            for charge in charges:
                split = allocate(charge.amount, len(trackings))
                for share, money in zip(shares, split, strict=True):
                    share[charge.type] = share.get(charge.type, Decimal(0)) + money.amount
        for tracking, share in zip(trackings, shares, strict=True):
            self.add(
                Expectation(
                    shipment.shipment_id,
                    tracking,
                    currency,
                    share,
                    cancelled,
                    shipment.service,
                ),
                carrier_shipment_id=shipment.carrier_shipment_id,
                reference=shipment.order_reference or shipment.shipment_id,
            )

    @classmethod
    def from_events(cls, events: Iterable[Event]) -> MemoryShipmentIndex:
        """Build from ``shipment.created``, ``freight.rate_quoted``, ``shipment.cancelled`` and
        ``freight.charge_accrued`` (estimates).

        The events may come in any order; the latest quote of a shipment wins. A shipment without
        a quote is expected to cost its estimate accruals (the latest per accrual id).
        """
        shipments: dict[str, Shipment] = {}
        quotes: dict[str, tuple[datetime, Rate]] = {}
        estimates: dict[str, dict[str, Accrual]] = {}
        cancelled: set[str] = set()
        for event in events:
            if isinstance(event, ShipmentCreated):
                shipments[event.data.shipment_id] = event.data
            elif isinstance(event, FreightRateQuoted):
                quote = event.data
                earlier = quotes.get(quote.shipment_id)
                if earlier is None or quote.quoted_at >= earlier[0]:
                    quotes[quote.shipment_id] = (quote.quoted_at, quote.rate)
            elif isinstance(event, ShipmentCancelled):
                cancelled.add(event.data.shipment_id)
            elif (
                isinstance(event, FreightChargeAccrued) and event.data.kind is AccrualKind.ESTIMATE
            ):
                accrual = event.data
                by_id = estimates.setdefault(accrual.shipment_id, {})
                known = by_id.get(accrual.accrual_id)
                if known is None or accrual.booked_at >= known.booked_at:
                    by_id[accrual.accrual_id] = accrual
        index = cls()
        for shipment_id, shipment in shipments.items():
            found = quotes.get(shipment_id)
            rate = found[1] if found else _rate_of(shipment, estimates.get(shipment_id))
            index.add_shipment(shipment, rate, cancelled=shipment_id in cancelled)
        return index

    # -- lookup --------------------------------------------------------------------------------

    def get(self, tracking_number: str) -> Expectation | None:
        """The package with this tracking number."""
        record = self._records.get(tracking_number)
        return None if record is None else _decode(tracking_number, record)

    def find(
        self, tracking_number: str, carrier_shipment_id: str | None, reference: str | None
    ) -> Expectation | None:
        """By tracking number, then carrier shipment id, then reference; unbilled packages first."""
        found = self.find_record(tracking_number, carrier_shipment_id, reference)
        return None if found is None else _decode(*found)

    def find_record(
        self, tracking_number: str, carrier_shipment_id: str | None, reference: str | None
    ) -> tuple[str, str] | None:
        """Like :meth:`find`, but the package's tracking number and its undecoded record (which
        starts with :data:`BILLED_MARK` when the package was billed)."""
        record = self._records.get(tracking_number)
        if record is not None:
            return tracking_number, record
        for table, key in ((0, carrier_shipment_id), (1, reference)):
            if key:
                found = self._by_key(table, key)
                if found is not None:
                    return found
        return None

    def _by_key(self, table: int, key: str) -> tuple[str, str] | None:
        """The first unbilled package (else the first package) whose fallback key ``table``
        (0 carrier shipment id, 1 reference) is ``key``, in the order they were added."""
        entries = self._keys[table]
        if self._sorted[table] != len(entries):
            ordered = _sorted(entries)
            self._keys = (ordered, self._keys[1]) if table == 0 else (self._keys[0], ordered)
            self._sorted[table] = len(ordered)
            entries = ordered
        high = (hash(key) & _LOW) << 32
        at = bisect.bisect_left(entries, high)
        end = high | _LOW
        first: tuple[str, str] | None = None
        records = self._records
        trackings = self._trackings
        while at < len(entries) and entries[at] <= end:
            tracking = trackings[entries[at] & _LOW]
            at += 1
            record = records[tracking]
            if record.split(_SEP, 8)[6 + table] != key:
                continue  # another key with the same hash, or a key the package no longer has
            if record[0] != BILLED_MARK:
                return tracking, record
            if first is None:
                first = tracking, record
        return first

    def mark_billed(self, tracking_number: str) -> bool:
        """Record that the package was billed; True when it had been billed before."""
        record = self._records.get(tracking_number)
        if record is None:
            billed = self._billed_elsewhere
            if tracking_number in billed:
                return True
            billed.add(tracking_number)
            return False
        if record[0] == BILLED_MARK:
            return True
        self._records[tracking_number] = BILLED_MARK + record
        return False

    def unmark_billed(self, tracking_number: str) -> None:
        """Forget a billing (its invoice was superseded)."""
        record = self._records.get(tracking_number)
        if record is None:
            self._billed_elsewhere.discard(tracking_number)
        elif record[0] == BILLED_MARK:
            self._records[tracking_number] = record[1:]

    def billed(self) -> Iterator[str]:
        """The tracking numbers billed so far."""
        for tracking, record in self._records.items():
            if record[0] == BILLED_MARK:
                yield tracking
        yield from self._billed_elsewhere


def _sorted(entries: array[int]) -> array[int]:
    """``entries`` sorted, a 256th at a time (by their top byte), so the Python integers a sort
    needs exist for a small part of them at once: sorting a million keys in one go would hold
    about 50 MB of them at the run's peak."""
    buckets: list[array[int]] = [array("Q") for _ in range(256)]
    appends = [bucket.append for bucket in buckets]
    for entry in entries:
        appends[entry >> 56](entry)
    ordered = array("Q")
    for bucket in buckets:
        ordered.extend(sorted(bucket))
    return ordered


def _rate_of(shipment: Shipment, accruals: Mapping[str, Accrual] | None) -> Rate | None:
    """The estimate accruals of a shipment as a rate, when they are in one currency."""
    if not accruals:
        return None
    currencies = {accrual.amount.currency for accrual in accruals.values()}
    if len(currencies) != 1:
        return None
    (currency,) = currencies
    charges = tuple(
        FreightCharge(type=accrual.charge_type, amount=accrual.amount)
        for accrual in accruals.values()
    )
    return Rate(
        carrier=shipment.carrier,
        service=shipment.service,
        total=Money.sum((charge.amount for charge in charges), currency),
        charges=charges,
    )


RECORD_SEPARATOR = _SEP
BILLED_MARK = "\x1e"
RECORD_FIELDS = (
    "shipment_id",
    "currency",
    "status",
    "service",
    "origin",
    "destination",
    "carrier_shipment_id",
    "reference",
    *(_CHARGE_NAMES[kind] for kind in _ORDER),
)
"""A package record's fields, in order: quoted amounts (texts, "" when not quoted) last."""
QUOTED_AT = 8
"""Where a record's quoted amounts start."""


def encode_record(
    expectation: Expectation, carrier_shipment_id: str | None = None, reference: str | None = None
) -> str:
    """The record of a package (see :data:`RECORD_FIELDS`)."""
    amounts = [""] * len(_ORDER)
    for kind, amount in expectation.charges.items():
        amounts[_POSITION[kind]] = str(amount)
    fields = [
        expectation.shipment_id,
        expectation.currency,
        "cancelled" if expectation.cancelled else "",
        expectation.service or "",
        expectation.origin or "",
        expectation.destination or "",
        carrier_shipment_id or "",
        reference or "",
    ]
    if any(_SEP in field or BILLED_MARK in field for field in fields):
        raise InvalidInputError("a shipment field contains a control character")
    return _SEP.join(fields + amounts)


def charges_of(fields: list[str]) -> dict[ChargeType, Decimal]:
    """The expected charges of a split record."""
    charges: dict[ChargeType, Decimal] = {}
    for kind, text in zip(_ORDER, fields[QUOTED_AT:], strict=False):
        if text:
            charges[kind] = Decimal(text)
    return charges


def _decode(tracking: str, record: str) -> Expectation:
    fields = record.removeprefix(BILLED_MARK).split(_SEP)
    return _new(
        Expectation,
        (
            fields[0],
            tracking,
            fields[1],
            charges_of(fields),
            fields[2] == "cancelled",
            fields[3] or None,
            fields[4] or None,
            fields[5] or None,
        ),
    )


_new = tuple.__new__


_Target = TypeVar("_Target")
_SHIPMENT_REQUIRED = ("shipment_id", "tracking_number", "currency")


@overload
def load_shipments_csv(path: str | Path) -> MemoryShipmentIndex: ...


@overload
def load_shipments_csv(path: str | Path, index: _Target) -> _Target: ...


def load_shipments_csv(path: str | Path, index: Any = None) -> Any:
    """Load a shipments file (one row per package, see ``docs/settlement.md``) into an index.

    Every field is validated; the first bad row raises
    :class:`~shipsync.errors.InvalidInputError` naming its line (an expectation that is wrong
    would misclassify every line billed against it, so a bad shipments file is not half-read).
    """
    target: Any = index if index is not None else MemoryShipmentIndex()
    try:
        handle = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115
    except OSError as exc:
        raise InvalidInputError(f"cannot open the shipments file ({exc.strerror})") from None
    with handle:
        try:
            for _ in _load(handle, target, fast=True):
                pass
        except UnicodeDecodeError:
            raise InvalidInputError("the shipments file is not UTF-8 text") from None
    flush = getattr(target, "flush", None)
    if flush is not None:
        flush()
    return target


def _load(
    handle: Iterable[str], index: Any, *, fast: bool, chunk_size: int = 1 << 16
) -> Iterator[None]:
    """Read a shipments file into ``index`` (through its ``_put``); ``fast=False`` checks every
    line the general way (tests compare the two).

    With ``fast``, an in-memory index and an open file (anything with ``read``), the file is
    read in chunks of whole lines, and a plain chunk (printable ASCII without spaces or quotes,
    no line longer than 200 characters) is checked and added column by column, without Python
    code per line: see :func:`_add_plain`. A chunk that is not plain, or does not pass every
    check, goes line by line as before, so the first bad line is named exactly."""
    chunked = fast and type(index) is MemoryShipmentIndex and hasattr(handle, "read")
    lines: Iterator[str] = iter(()) if chunked else iter(handle)
    try:
        first = handle.readline() if chunked else next(lines)  # type: ignore[attr-defined]
        if not first:
            raise StopIteration
        header = [cell.strip() for cell in next(csv.reader((first,), strict=True))]
    except StopIteration:
        raise InvalidInputError("the shipments file is empty") from None
    except csv.Error:
        raise InvalidInputError("shipments file line 1: not valid CSV") from None
    where = {name: i for i, name in enumerate(header)}
    missing = [name for name in _SHIPMENT_REQUIRED if name not in where]
    if missing:
        raise InvalidInputError(
            f"shipments file line 1: header lacks the column(s) {', '.join(missing)}"
        )
    width = len(header)
    blank = width  # rows get one empty cell appended: absent columns read it
    record_at = [where.get(name, blank) for name in RECORD_FIELDS]
    present = [(i, name) for i, name in zip(record_at, RECORD_FIELDS, strict=True)][QUOTED_AT:]
    present = [(i, name) for i, name in present if i != blank]
    record_of = operator.itemgetter(*record_at)
    i_tracking = where["tracking_number"]
    memory = type(index) is MemoryShipmentIndex
    put = index._put
    records: dict[str, str] = index._records if memory else {}
    trackings: list[str] = index._trackings if memory else []
    carrier_keys: array[int] = index._keys[0] if memory else array("Q")
    reference_keys: array[int] = index._keys[1] if memory else array("Q")
    statuses = {"", "active", "cancelled"}
    patterns = AMOUNT_PATTERNS
    # Per currency: amount texts already found valid (bounded), so a repeated amount is one set
    # lookup instead of a pattern match.
    valid_amounts: dict[str, set[str]] = {}
    valid_combos: set[tuple[str, ...]] = set()  # (currency, amounts...) found valid, bounded
    sep = _SEP
    low = _LOW
    line = 1

    def lines_into(lines: Iterator[str]) -> None:
        nonlocal line
        for text in lines:
            line += 1
            if '"' in text:
                reader = csv.reader(itertools.chain((text,), lines), strict=True)
                row = next(reader)
                line += reader.line_num - 1
                plain = False
            else:
                text = text.rstrip("\r\n")
                row = text.split(",")
                # A printable line without a space and at most 200 characters long: no field
                # needs stripping, none holds a control character, none is too long.
                plain = fast and len(text) <= 200 and " " not in text and text.isprintable()
            if len(row) != width:
                if not row or row == [""]:
                    continue
                raise ValueError(f"expected {width} fields, found {len(row)}")
            row.append("")
            if plain:
                tracking = row[i_tracking]
                fields = record_of(row)
            else:
                tracking = row[i_tracking].strip()
                fields = list(record_of(row))
                fields[6] = fields[6].strip()  # the fallback keys, like the tracking number
                fields[7] = fields[7].strip()
            if not fields[0] or not tracking:
                raise ValueError("shipment id and tracking number are required")
            if fields[2] not in statuses:
                raise ValueError("status must be 'active' or 'cancelled'")
            currency = fields[1]
            pattern = patterns.get(currency)
            if pattern is None:
                raise ValueError("unknown currency")
            record = sep.join(fields)
            if not plain:
                if not (tracking + record.replace(sep, "")).isprintable():
                    raise ValueError("a field contains control characters")
                if max(len(tracking), *map(len, fields)) > 200:
                    raise ValueError("a field is longer than 200 characters")
            valid = valid_amounts.get(currency)
            if valid is None:
                valid = valid_amounts[currency] = set()
            for i, name in present:
                text = row[i]
                if text and text not in valid:
                    if pattern.fullmatch(text) is None:
                        raise ValueError(f"{name}: not an amount in {currency}")
                    if fast:
                        if len(valid) >= _AMOUNTS_KEPT:
                            valid.clear()
                        valid.add(text)
            if not memory or tracking in records:
                put(tracking, record)
                continue
            # MemoryShipmentIndex._put, inlined: this runs a million times for a large file
            records[tracking] = record
            ordinal = len(trackings)
            trackings.append(tracking)
            if fields[6]:
                carrier_keys.append(((hash(fields[6]) & low) << 32) | ordinal)
            if fields[7]:
                reference_keys.append(((hash(fields[7]) & low) << 32) | ordinal)

    layout = _Layout(
        width,
        record_at,
        present,
        i_tracking,
        where,
        frozenset(records) if chunked and records else None,
    )
    try:
        if not chunked:
            lines_into(lines)
        else:
            for chunk in _chunks_of(handle, chunk_size):  # type: ignore[arg-type]
                if '"' in chunk or "\r" in chunk:
                    # The rest line by line: a quoted cell may span lines.
                    lines_into(_lines_after(chunk, handle))  # type: ignore[arg-type]
                    break
                texts = chunk.split("\n")
                if texts[-1] == "":
                    texts.pop()
                if _add_plain(texts, index, layout, valid_combos):
                    line += len(texts)
                else:
                    lines_into(iter([text + "\n" for text in texts]))
    except csv.Error as exc:
        raise InvalidInputError(f"shipments file line {line}: not valid CSV ({exc})") from None
    except ValueError as exc:
        raise InvalidInputError(f"shipments file line {line}: {exc}") from None
    yield None


class _Layout(NamedTuple):
    """Where a shipments file keeps what a package record needs."""

    width: int
    record_at: list[int]
    present: list[tuple[int, str]]
    tracking: int
    where: dict[str, int]
    earlier: frozenset[str] | None  # the index's tracking numbers before the load (None: none)


_STATUSES = frozenset({"", "active", "cancelled"})


def _chunks_of(handle: TextIO, size: int) -> Iterator[str]:
    """The rest of ``handle`` in chunks that end at a line end (or the end of the file)."""
    while True:
        chunk = handle.read(size)
        if not chunk:
            return
        if chunk[-1] != "\n":
            chunk += handle.readline()
        yield chunk


def _lines_after(chunk: str, handle: TextIO) -> Iterator[str]:
    """The lines of ``chunk`` and then of the rest of ``handle``, as iterating a file opened with
    ``newline=""`` gives them."""
    yield from io.StringIO(chunk + handle.readline(), newline="")
    yield from handle


def _add_plain(
    texts: list[str], index: MemoryShipmentIndex, layout: _Layout, valid: set[tuple[str, ...]]
) -> bool:
    """Add a chunk of lines to ``index`` when every line is plain and passes every check the
    line-by-line loader makes of a plain line, column by column (``map`` over the chunk: no
    Python code runs per line); ``False``, with nothing added, otherwise.

    Plain: printable ASCII with neither a space nor a quote, at most 200 characters a line, so
    no cell needs stripping or a printable or length check. Then: the right number of cells,
    a shipment id and a tracking number, a known status, and per distinct (currency, amounts)
    combination, a known currency and amounts valid in it. Tracking numbers already in the
    index go line by line (a billed mark is kept there)."""
    joined = "".join(texts)
    if (
        not texts
        or " " in joined
        or not joined.isascii()
        or not joined.isprintable()
        or max(map(len, texts)) > 200
    ):
        return False
    width = layout.width
    rows = list(map(str.split, texts, itertools.repeat(",")))
    if set(map(len, rows)) != {width}:
        return False
    for row in rows:
        row.append("")  # absent columns read this cell
    blank = width
    where = layout.where
    at_id = layout.record_at[0]
    keys = list(map(operator.itemgetter(layout.tracking), rows))
    if not all(keys) or not all(map(operator.itemgetter(at_id), rows)):
        return False
    status_at = where.get("status", blank)
    if not set(map(operator.itemgetter(status_at), rows)) <= _STATUSES:
        return False
    combo_of = operator.itemgetter(where["currency"], *(i for i, _ in layout.present))
    combos = (
        set(map(combo_of, rows)) if layout.present else {(row[where["currency"]],) for row in rows}
    )
    for combo in combos - valid:
        pattern = AMOUNT_PATTERNS.get(combo[0])
        if pattern is None or any(text and pattern.fullmatch(text) is None for text in combo[1:]):
            return False
        if len(valid) >= _AMOUNTS_KEPT:
            valid.clear()
        valid.add(combo)
    records = index._records
    if layout.earlier is not None and not layout.earlier.isdisjoint(keys):
        return False
    record_of = operator.itemgetter(*layout.record_at)
    records.update(zip(keys, map(_SEP.join, map(record_of, rows)), strict=True))
    trackings = index._trackings
    start = len(trackings)
    trackings.extend(keys)
    ordinals = range(start, start + len(keys))
    for table, at in ((0, layout.record_at[6]), (1, layout.record_at[7])):
        if at == blank:
            continue
        cells = list(map(operator.itemgetter(at), rows))
        # ((hash(cell) & _LOW) << 32) | ordinal, for the non-empty cells
        entries = map(
            operator.or_,
            map(
                operator.lshift,
                map(operator.and_, map(hash, cells), itertools.repeat(_LOW)),
                itertools.repeat(32),
            ),
            ordinals,
        )
        index._keys[table].extend(itertools.compress(entries, cells))
    return True
