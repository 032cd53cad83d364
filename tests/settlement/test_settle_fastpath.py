"""The fast paths read and classify exactly as the general, exact rules do.

The invoice reader takes a shortcut for plain rows (printable, no space, no overlong cell), the
shipments loader for plain lines, and the in-memory reconciler compares amounts it has seen before
from a cache. Each test here generates awkward input and checks that the shortcut and the general
path give the same result, value for value (``repr`` keeps a Decimal's exponent).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from _settle_helpers import NOW
from hypothesis import given, settings
from hypothesis import strategies as st

from shipsync.canonical import ChargeType
from shipsync.errors import InvalidInputError
from shipsync.settlement import (
    FAKE_CARRIER_COLUMNS,
    Expectation,
    InvoiceRow,
    LineOutcome,
    MatchRules,
    MemoryShipmentIndex,
    Reconciler,
    RowProblem,
    Tolerance,
    classify_charges,
    load_shipments_csv,
)
from shipsync.settlement._index import _load, encode_record
from shipsync.settlement._parse import BilledCharges, _iter_rows

_HEADER = (
    "invoice_number,invoice_date,currency,line_number,tracking_number,carrier_shipment_id,"
    "reference,ship_date,service,origin,destination,base_freight,fuel,address_correction,"
    "dim_weight_adjustment,other,supersedes"
)

# Per field: values that are usually fine (drawn 24 times in 25) and awkward ones.
_FIELDS: dict[str, tuple[list[str], list[str]]] = {
    "invoice": (["INV-1", "INV-1", "INV-2"], [" INV-1", "INV-1 ", "", "INV\x001"]),
    "date": (["2026-11-20", "2026-11-20", "2026-11-21"], [" 2026-11-20", "20261120", ""]),
    "currency": (["USD", "USD", "JPY", "BHD"], [" USD", "XXX", "usd", ""]),
    "tracking": (["1Z1", "1Z2", "1Z3"], ["", " 1Z3", "1Z\x004", "1Z\u00a05", "x" * 201]),
    "optional": (["", "", "C1", "DE"], ["R 1", " ground", "x\x1f", "y" * 201]),
    "ship_date": (["", "2026-11-02", "2026-11-02"], [" 2026-11-03", "2026-13-01", "x"]),
    "amount": (
        ["", "", "", "5.00", "5.00", "5", "12.5", "-5.00", "-0.00", "0", "0.001"],
        [" 5.00", "5.00 ", "5.001", "1e3", "1_000", "\u0661\u0662", "+5", ".5", "1" * 19, "abc"],
    ),
    "supersedes": (["", "", "INV-0"], [" INV-0", "\x00"]),
    "line_number": ([], ["02", " 4", "6 ", "0", "-1", "x", "\u0661", "1234567890", ""]),
}


def _field(draw: st.DrawFn, name: str, good: str | None = None) -> str:
    usual, awkward = _FIELDS[name]
    if draw(st.integers(0, 24)) or not awkward:
        return good if good is not None else draw(st.sampled_from(usual))
    return draw(st.sampled_from(awkward))


@st.composite
def _rows(draw: st.DrawFn) -> str:
    # Line numbers mostly increase; sometimes they repeat or go back.
    number = str(draw(st.sampled_from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 3])))
    cells = [
        _field(draw, "invoice"),
        _field(draw, "date"),
        _field(draw, "currency"),
        _field(draw, "line_number", number),
        _field(draw, "tracking"),
        _field(draw, "optional"),
        _field(draw, "optional"),
        _field(draw, "ship_date"),
        _field(draw, "optional"),
        _field(draw, "optional"),
        _field(draw, "optional"),
        *(_field(draw, "amount") for _ in range(5)),
        _field(draw, "supersedes"),
    ]
    if draw(st.integers(0, 19)) == 0:
        cells.pop()  # a row with the wrong number of fields
    return ",".join(cells)


@st.composite
def _invoice_files(draw: st.DrawFn) -> list[str]:
    rows = draw(st.lists(_rows(), max_size=12))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    delimiter = draw(st.sampled_from([",", ",", ";"]))
    text = end.join((_HEADER, *rows)) + end
    if delimiter != ",":
        text = text.replace(",", delimiter)
    return text.splitlines(keepends=True)


def _read(lines: list[str], *, fast: bool) -> list[str]:
    return [repr(item) for item in _iter_rows(lines, FAKE_CARRIER_COLUMNS, fast=fast)]


@settings(max_examples=300)
@given(_invoice_files())
def test_the_fast_row_reader_agrees_with_the_general_one(lines: list[str]) -> None:
    """Every row gives the same InvoiceRow or the same RowProblem on both paths."""
    assert _read(lines, fast=True) == _read(lines, fast=False)


def test_repeated_amounts_are_the_same_exact_values() -> None:
    """An amount read again (from the cache) keeps its exact value, and a negative amount is
    checked against the credit rule every time, not only the first."""
    lines = [
        _HEADER + "\n",
        "INV-1,2026-11-20,USD,1,1Z1,,,,,,,5.00,,-1.50,,,\n",
        "INV-1,2026-11-20,USD,2,1Z2,,,,,,,5.00,,-1.50,,,\n",
        "INV-1,2026-11-20,USD,3,1Z3,,,,,,,5.00,-1.50,,,,\n",
        "INV-1,2026-11-20,USD,4,1Z4,,,,,,,5,,,,,\n",
    ]
    items = list(_iter_rows(lines, FAKE_CARRIER_COLUMNS, fast=True))
    assert [type(item) for item in items] == [InvoiceRow, InvoiceRow, RowProblem, InvoiceRow]
    first, second, problem, fourth = items
    assert isinstance(first, InvoiceRow)
    assert isinstance(second, InvoiceRow)
    assert isinstance(fourth, InvoiceRow)
    assert first.charges == second.charges
    assert second.total == Decimal("3.50")
    assert str(fourth.charges[0][1]) == "5"
    assert isinstance(problem, RowProblem)
    assert problem.message == "fuel: a negative amount is not allowed for this charge"


_SHIPMENTS_HEADER = (
    "shipment_id,tracking_number,carrier_shipment_id,reference,carrier,service,origin,"
    "destination,currency,status,base_freight,fuel,residential"
)
_SHIPMENT_FIELDS: dict[str, tuple[list[str], list[str]]] = {
    "id": (["S1", "S2", "S3"], ["", " S1", "S\x001"]),
    "tracking": (["1Z1", "1Z2", "1Z3", "1Z4"], ["", " 1Z1", "1Z\x1f5", "t" * 201]),
    "key": (["", "C1", "C2", "R1"], [" C1", "C\u00a01"]),
    "text": (["", "fake", "ground", "DE"], ["a b", "\x07", "s" * 201]),
    "currency": (["USD", "USD", "JPY", "BHD"], ["XXX", " USD", ""]),
    "status": (["active", "active", "cancelled", ""], ["Active", " active"]),
    "amount": (
        ["", "", "5.00", "5.00", "5", "0.001", "-1.50", "-0.00"],
        [" 5.00", "5.001", "1e3", "abc", "\u0661"],
    ),
}


@st.composite
def _shipment_lines(draw: st.DrawFn) -> list[str]:
    def field(name: str) -> str:
        usual, awkward = _SHIPMENT_FIELDS[name]
        return draw(st.sampled_from(usual if draw(st.integers(0, 14)) else awkward))

    rows = []
    for _ in range(draw(st.integers(0, 10))):
        cells = [
            field("id"),
            field("tracking"),
            field("key"),
            field("key"),
            *(field("text") for _ in range(4)),
            field("currency"),
            field("status"),
            *(field("amount") for _ in range(3)),
        ]
        rows.append(",".join(cells))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    return [line + end for line in (_SHIPMENTS_HEADER, *rows)]


def _load_with(lines: list[str], *, fast: bool) -> tuple[object, ...]:
    index = MemoryShipmentIndex()
    try:
        for _ in _load(iter(lines), index, fast=fast):
            pass
    except InvalidInputError as exc:
        return ("error", str(exc))
    return (index._records, index._trackings, index._keys)


@settings(max_examples=200)
@given(_shipment_lines())
def test_the_fast_shipments_loader_agrees_with_the_general_one(lines: list[str]) -> None:
    """Plain lines load into the same records and keys, and the first bad line fails with the
    same message, on both paths."""
    assert _load_with(lines, fast=True) == _load_with(lines, fast=False)


_KINDS = list(ChargeType)
_MONEY = st.decimals(min_value=-50, max_value=50, places=2, allow_nan=False, allow_infinity=False)


@settings(max_examples=300)
@given(
    billed=st.dictionaries(st.sampled_from(_KINDS), _MONEY, max_size=4),
    expected=st.dictionaries(st.sampled_from(_KINDS), _MONEY, max_size=4),
    absolute=st.sampled_from(["0", "0.05", "1"]),
    percent=st.sampled_from(["0", "2", "5"]),
)
def test_remembered_classifications_are_the_exact_rules(
    billed: dict[ChargeType, Decimal],
    expected: dict[ChargeType, Decimal],
    absolute: str,
    percent: str,
) -> None:
    """The reconciler's memo (keyed by the billed and quoted texts) decides every line exactly
    as classify_charges does on the Decimals themselves, the first time and from the memo."""
    rules = MatchRules(default=Tolerance(absolute=absolute, percent=percent))
    table = rules.table()
    charges = tuple(billed.items())
    want = classify_charges(charges, expected, table)
    want = (want[0], want[1], None if want[1] is None else want[2])
    keyed = BilledCharges(charges)
    keyed.key = repr(charges)
    keyed.total = sum(billed.values(), Decimal(0))
    quoted = encode_record(Expectation("S1", "1Z1", "USD", expected)).split("\x1f", 8)[8]
    reconciler = _SHARED.setdefault(
        (absolute, percent), Reconciler(MemoryShipmentIndex(), carrier="fake", rules=rules)
    )
    assert reconciler._rules(keyed, quoted) == want
    assert reconciler._rules(keyed, quoted) == want  # from the memo now
    assert reconciler._rules(charges, quoted) == want  # no key: not remembered


_SHARED: dict[tuple[str, str], Reconciler] = {}


@pytest.mark.parametrize(
    ("second", "message"),
    [
        ("S2,1Z2,,,fake,,,,JPY,active,5.00,,", "line 3: base_freight: not an amount in JPY"),
        ("S2,1Z2,,,fake,,,,USD,active,5.001,,", "line 3: base_freight: not an amount in USD"),
        ("S2,1Z2,,,fake,,,,USD,active,5.00,1e3,", "line 3: fuel: not an amount in USD"),
    ],
    ids=["valid-in-usd-not-in-jpy", "too-many-decimals", "exponent"],
)
def test_a_shipment_amount_is_checked_against_its_own_currency(
    tmp_path: Path, second: str, message: str
) -> None:
    """An amount seen valid before is valid again only in the same currency; a bad amount stops
    the load at its line."""
    path = tmp_path / "shipments.csv"
    path.write_text(
        "\n".join([_SHIPMENTS_HEADER, "S1,1Z1,,,fake,,,,USD,active,5.00,1.00,", second]) + "\n"
    )
    with pytest.raises(InvalidInputError, match=message):
        load_shipments_csv(path)


class _ProtocolIndex:
    """The same packages behind the plain ShipmentIndex protocol, so the reconciler takes its
    general path (decoded expectations, classify_charges) instead of the in-memory one."""

    def __init__(self, inner: MemoryShipmentIndex) -> None:
        self.inner = inner

    def get(self, tracking_number: str) -> Expectation | None:
        return self.inner.get(tracking_number)

    def find(
        self, tracking_number: str, carrier_shipment_id: str | None, reference: str | None
    ) -> Expectation | None:
        return self.inner.find(tracking_number, carrier_shipment_id, reference)

    def mark_billed(self, tracking_number: str) -> bool:
        return self.inner.mark_billed(tracking_number)

    def unmark_billed(self, tracking_number: str) -> None:
        self.inner.unmark_billed(tracking_number)


_AMOUNT_TEXTS = st.sampled_from(["5.00", "5.0", "5", "5.01", "4.90", "0.00", "10.20", "-1.50"])
_PACKAGES = [f"P{i}" for i in range(6)]


@st.composite
def _packages(draw: st.DrawFn) -> list[tuple[Expectation, str | None]]:
    packages = []
    for tracking in _PACKAGES:
        charges = draw(
            st.dictionaries(
                st.sampled_from([B, F, ChargeType.RESIDENTIAL]), _AMOUNT_TEXTS.map(Decimal)
            )
        )
        expectation = Expectation(
            f"S-{tracking}",
            tracking,
            draw(st.sampled_from(["USD", "USD", "USD", "EUR"])),
            charges,
            draw(st.integers(0, 9)) == 0,
        )
        packages.append((expectation, draw(st.sampled_from([None, "C1", "C2"]))))
    return packages


@st.composite
def _lines(draw: st.DrawFn) -> list[InvoiceRow]:
    rows = []
    for number in range(1, draw(st.integers(1, 12)) + 1):
        charges = draw(
            st.dictionaries(
                st.sampled_from([B, F, ChargeType.RESIDENTIAL, ChargeType.ADDRESS_CORRECTION]),
                _AMOUNT_TEXTS.map(Decimal),
                min_size=1,
            )
        )
        rows.append(
            InvoiceRow(
                number + 1,
                "INV-1",
                NOW.date(),
                "USD",
                number,
                draw(st.sampled_from([*_PACKAGES, "X1"])),
                tuple(charges.items()),
                sum(charges.values(), Decimal(0)),
                draw(st.sampled_from([None, "C1", "C2"])),
            )
        )
    return rows


B, F = ChargeType.BASE_FREIGHT, ChargeType.FUEL
_RULES = MatchRules(
    tolerances={B: Tolerance(absolute="0.05", percent="2"), F: Tolerance(absolute="0.10")}
)


def _reconcile(
    packages: list[tuple[Expectation, str | None]], rows: list[InvoiceRow], *, general: bool
) -> tuple[list[LineOutcome], object]:
    index = MemoryShipmentIndex()
    for expectation, carrier_id in packages:
        index.add(expectation, carrier_shipment_id=carrier_id)
    outcomes: list[LineOutcome] = []
    reconciler = Reconciler(
        _ProtocolIndex(index) if general else index,
        carrier="fake",
        rules=_RULES,
        on_line=outcomes.append,
        now=lambda: NOW,
    )
    report = reconciler.run(rows)
    return outcomes, report


@settings(max_examples=200)
@given(_packages(), _lines())
def test_the_in_memory_reconciler_agrees_with_the_general_path(
    packages: list[tuple[Expectation, str | None]], rows: list[InvoiceRow]
) -> None:
    """Line by line (class, deciding charge, difference, expected amount) and in the report,
    the in-memory hot loop with its exact-quote shortcut gives what the general path gives."""
    assert _reconcile(packages, rows, general=False) == _reconcile(packages, rows, general=True)


_GOOD = "INV-1,2026-11-20,USD,1,1Z1,C1,R1,2026-11-02,ground,DE,FR,5.00,1.00,,,,"


@pytest.mark.parametrize(
    "second",
    [
        "INV-1,2026-11-20,USD,2,1Z\x002,,,,,,,5.00,,,,,",
        "INV-1,2026-11-20,USD,2,1Z2,C\x1f1,,,,,,5.00,,,,,",
        "INV-1,2026-11-20,USD,2,1Z2,,,,gro\u00a0und,,,5.00,,,,,",
        "INV-1,2026-11-20,USD,2,1Z2,,R\t1,,,,,5.00,,,,,",
        "INV-1,2026-11-20,USD,2,1Z2,,,,,,DE\u2007,5.00,,,,,",
        "INV-1,2026-11-20,USD,2,1Z2,,,,,,,5.00\u00a0,,,,,",
        "INV-1,2026-11-20,USD,1,1Z2,,,,,,,5.00,,,,,",
        "INV-1,2026-11-20,USD,0,1Z2,,,,,,,5.00,,,,,",
        "INV-1,2026-11-21,USD,2,1Z2,,,,,,,5.00,,,,,",
        "INV-1,2026-11-20,EUR,2,1Z2,,,,,,,5.00,,,,,",
        "INV-1,2026-11-20,USD,2,1Z2,,,,,,,-5.00,,,,,",
        "INV-1,2026-11-20,USD,2,1Z2,,,,,,,,,,,,",
        "INV-1,2026-11-20,USD,2,1Z2,,,2026-02-30,,,,5.00,,,,,",
        "INV-1,2026-11-20,USD,2,1Z2,,,,,,,5.00,,,,,INV-0",
        "INV-1,2026-11-20,USD,2,,,,,,,,5.00,,,,,",
        "INV-1,2026-11-20,USD,2,1Z2,,,,,,,5.00,,-1.00,,,",
    ],
    ids=[
        "nul-in-tracking",
        "unit-separator-in-carrier-id",
        "no-break-space-in-service",
        "tab-in-reference",
        "figure-space-after-destination",
        "no-break-space-after-amount",
        "line-number-repeats",
        "line-number-zero",
        "other-date",
        "other-currency",
        "negative-base-freight",
        "no-charge",
        "impossible-ship-date",
        "other-supersedes",
        "empty-tracking",
        "credit-allowed",
    ],
)
def test_a_row_the_fast_path_doubts_reads_as_the_general_path_reads_it(second: str) -> None:
    """After a good first row, each awkward second row is read (or reported) exactly as the
    general path reads it."""
    lines = [_HEADER + "\n", _GOOD + "\n", second + "\n"]
    assert _read(lines, fast=True) == _read(lines, fast=False)
