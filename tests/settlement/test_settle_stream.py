"""The file hot loop and the integer rules give exactly what the exact Decimal paths give.

``reconcile_file`` streams ordinary lines through a hot loop that keeps amounts in integer minor
units and remembers classifications; everything else goes through the row path. These tests
generate awkward files, shipments and amounts (currencies with 0, 2 and 3 decimals, amounts at
the tolerance boundary, tolerances finer than a minor unit) and compare, value for value
(``repr`` keeps a Decimal's exponent, the report's JSON keeps its digits).
"""

from __future__ import annotations

import io
from decimal import Decimal

from _settle_helpers import NOW
from hypothesis import given, settings
from hypothesis import strategies as st

from shipsync.canonical import ChargeType
from shipsync.errors import InvalidInputError
from shipsync.settlement import (
    FAKE_CARRIER_COLUMNS,
    Expectation,
    LineOutcome,
    MatchRules,
    MemoryShipmentIndex,
    Reconciler,
    Tolerance,
    classify_charges,
    iter_invoice_rows,
)
from shipsync.settlement._index import _load
from shipsync.settlement._rules import classify_minor, minor_table
from shipsync.settlement._stream import stream_lines

B, F, R = ChargeType.BASE_FREIGHT, ChargeType.FUEL, ChargeType.RESIDENTIAL
A, W = ChargeType.ADDRESS_CORRECTION, ChargeType.DIMENSIONAL_WEIGHT_ADJUSTMENT
_KINDS = [B, F, R, A, W]


# -- the integer rules against the exact Decimal rules -------------------------------------------


@st.composite
def _case(
    draw: st.DrawFn,
) -> tuple[int, dict[ChargeType, int], dict[ChargeType, int], MatchRules]:
    exponent = draw(st.sampled_from([0, 2, 3]))
    absolute = draw(st.sampled_from(["0", "0.05", "0.005", "1", "0.10", "3"]))
    percent = draw(st.sampled_from(["0", "2", "2.5", "5", "0.001", "100"]))
    rules = MatchRules(
        tolerances={B: Tolerance(absolute=absolute, percent=percent), F: Tolerance("0.10", "5")},
        default=Tolerance(absolute=draw(st.sampled_from(["0", "0.01", "2"]))),
    )
    # Round amounts often, so that a percent of them is a whole number of minor units.
    amounts = st.one_of(st.integers(-5_000, 50_000), st.integers(-50, 500).map(lambda x: x * 1000))
    expected = draw(st.dictionaries(st.sampled_from(_KINDS), amounts, max_size=4))
    kinds = draw(st.lists(st.sampled_from(_KINDS), unique=True, max_size=4))
    if draw(st.integers(0, 3)):  # mostly a base freight both quoted and billed
        expected.setdefault(B, draw(amounts))
        kinds = [B, *(kind for kind in kinds if kind is not B)]
    table = minor_table(rules.table(), exponent)
    billed: dict[ChargeType, int] = {}
    for kind in kinds:
        quoted = expected.get(kind, 0)
        # Mostly exactly at, or one minor unit either side of, a tolerance boundary.
        absolute, numerator, denominator = table[kind]
        edges = [absolute, 0, 10**exponent]
        if (abs(quoted) * numerator) % (100 * denominator) == 0:
            edges.append(abs(quoted) * numerator // (100 * denominator))
        step = draw(st.sampled_from(edges)) + draw(st.sampled_from([0, 0, -1, 1]))
        noise = draw(amounts) if not draw(st.integers(0, 5)) else 0
        billed[kind] = quoted + draw(st.sampled_from([step, -step])) + noise
    return exponent, billed, expected, rules


@settings(max_examples=500)
@given(_case())
def test_the_integer_rules_decide_what_the_exact_rules_decide(
    case: tuple[int, dict[ChargeType, int], dict[ChargeType, int], MatchRules],
) -> None:
    """Class, deciding charge type and difference are those of classify_charges on the same
    amounts as Decimals, for 0, 2 and 3 decimals and tolerances finer than a minor unit."""
    exponent, billed, expected, rules = case

    def exact(minor: int) -> Decimal:
        return Decimal(minor).scaleb(-exponent)

    want = classify_charges(
        tuple((kind, exact(m)) for kind, m in billed.items()),
        {kind: exact(m) for kind, m in expected.items()},
        rules.table(),
    )
    kind, charge_type, difference, from_quote = classify_minor(
        tuple(billed.items()), expected, minor_table(rules.table(), exponent)
    )
    assert (kind, charge_type) == want[:2]
    assert exact(difference) == want[2]
    if from_quote:
        assert charge_type is not None
        assert charge_type not in billed
        assert want[2] == -exact(expected[charge_type])


# -- the hot loop against the row path, on whole files -------------------------------------------

_HEADER = (
    "invoice_number,invoice_date,currency,line_number,tracking_number,carrier_shipment_id,"
    "reference,ship_date,base_freight,fuel,residential,address_correction,supersedes"
)
_CURRENCY = {"INV-1": "USD", "INV-2": "JPY", "INV-3": "BHD"}
_AMOUNTS = {
    "USD": ["5.00", "5.00", "4.96", "5.06", "0.60", "4.95", "12.00", "0.00"],
    "JPY": ["500", "500", "510", "490", "60", "0"],
    "BHD": ["5.000", "5.000", "5.049", "4.900", "0.600", "4.950"],
}
# Cells the hot loop must leave to the row path (not canonical, not valid, or doubtful).
_AWKWARD_AMOUNTS = ["5", "5.0", "-1.50", " 5.00", "5.001", "1e3", "+5", "-0.00", ".5", "abc"]
_TRACKINGS = ["P0", "P1", "P2", "P3", "P4", "P5", "X1", ""]
_PACKAGE_AMOUNTS = ["5.00", "5", "5.0", "4.9", "0.60", "0.001", "-1.50", "500", "5.000", "4.95"]


@st.composite
def _invoice_text(draw: st.DrawFn) -> str:
    rows = []
    numbers = dict.fromkeys(_CURRENCY, 0)
    for _ in range(draw(st.integers(0, 25))):
        invoice = draw(st.sampled_from(["INV-1", "INV-1", "INV-1", "INV-2", "INV-3"]))
        numbers[invoice] += draw(st.sampled_from([1, 1, 1, 1, 1, 2, 0, -1]))
        currency = _CURRENCY[invoice]
        if not draw(st.integers(0, 30)):
            currency = draw(st.sampled_from(["EUR", " USD", "XXX"]))
        amounts = []
        for _ in range(4):
            if draw(st.integers(0, 2)):
                amounts.append("")
            elif draw(st.integers(0, 12)):
                amounts.append(draw(st.sampled_from(_AMOUNTS[_CURRENCY[invoice]])))
            else:
                amounts.append(draw(st.sampled_from(_AWKWARD_AMOUNTS)))
        cells = [
            invoice,
            draw(st.sampled_from(["2026-11-20"] * 20 + ["2026-11-21", " 2026-11-20"])),
            currency,
            draw(st.sampled_from([str(numbers[invoice])] * 12 + ["x", "01", " 3"])),
            draw(st.sampled_from(_TRACKINGS)),
            draw(st.sampled_from(["", "", "C1", "C2", "C 1"])),
            draw(st.sampled_from(["", "", "S-P1"])),
            draw(st.sampled_from(["", "2026-11-02", "2026-11-02", "2026-02-30", "x"])),
            *amounts,
            draw(st.sampled_from([""] * 20 + ["INV-0"])),
        ]
        if not draw(st.integers(0, 40)):
            cells.pop()
        row = ",".join(cells)
        if not draw(st.integers(0, 60)):
            row = draw(
                st.sampled_from(['"' + row + '"', row.replace(",", ',"', 1) + '"', "", "\t"])
            )
        rows.append(row)
    end = draw(st.sampled_from(["\n"] * 8 + ["\r\n"]))
    return end.join([_HEADER, *rows]) + draw(st.sampled_from([end, ""]))


@st.composite
def _packages(draw: st.DrawFn) -> list[tuple[Expectation, str | None]]:
    packages = []
    for tracking in _TRACKINGS[:6]:
        charges = draw(
            st.dictionaries(
                st.sampled_from([B, F, R]), st.sampled_from(_PACKAGE_AMOUNTS).map(Decimal)
            )
        )
        expectation = Expectation(
            f"S-{tracking}",
            tracking,
            draw(st.sampled_from(["USD", "USD", "JPY", "BHD", "EUR"])),
            charges,
            draw(st.integers(0, 9)) == 0,
        )
        packages.append((expectation, draw(st.sampled_from([None, "C1", "C2"]))))
    return packages


_RULES = MatchRules(
    tolerances={B: Tolerance(absolute="0.05", percent="2"), F: Tolerance(absolute="0.10")},
    default=Tolerance(absolute="0.005"),
)


def _index(packages: list[tuple[Expectation, str | None]]) -> MemoryShipmentIndex:
    index = MemoryShipmentIndex()
    for expectation, carrier_id in packages:
        index.add(expectation, carrier_shipment_id=carrier_id, reference=expectation.shipment_id)
    index.mark_billed("P5")  # billed by an earlier invoice
    return index


def _by_rows(
    packages: list[tuple[Expectation, str | None]], text: str, *, per_line: bool
) -> tuple[list[str], str]:
    outcomes: list[LineOutcome] = []
    reconciler = Reconciler(
        _index(packages),
        carrier="fake",
        rules=_RULES,
        on_line=outcomes.append if per_line else None,
        now=lambda: NOW,
    )
    lines = io.StringIO(text, newline="")
    report = reconciler.run(iter_invoice_rows(lines, FAKE_CARRIER_COLUMNS))
    return [repr(outcome) for outcome in outcomes], report.model_dump_json()


def _streamed(
    packages: list[tuple[Expectation, str | None]],
    text: str,
    *,
    per_line: bool,
    chunk_size: int,
    as_file: bool,
) -> tuple[list[str], str]:
    outcomes: list[LineOutcome] = []
    reconciler = Reconciler(
        _index(packages),
        carrier="fake",
        rules=_RULES,
        on_line=outcomes.append if per_line else None,
        now=lambda: NOW,
    )
    lines = io.StringIO(text, newline="")
    source = lines if as_file else list(lines)
    stream_lines(reconciler, source, FAKE_CARRIER_COLUMNS, chunk_size=chunk_size)
    return [repr(outcome) for outcome in outcomes], reconciler.report().model_dump_json()


@settings(max_examples=300, deadline=None)
@given(
    _packages(),
    _invoice_text(),
    st.booleans(),
    st.sampled_from([1, 60, 200, 1 << 16]),
    st.booleans(),
)
def test_the_file_hot_loop_reconciles_as_the_row_path_does(
    packages: list[tuple[Expectation, str | None]],
    text: str,
    per_line: bool,
    chunk_size: int,
    as_file: bool,
) -> None:
    """Every line's outcome (class, deciding charge, difference, expected amount, exponents
    included) and the report (totals to the digit, problems) are those of the row path, in
    chunks of any size, from a file or from lines, with and without per-line outcomes."""
    assert _streamed(
        packages, text, per_line=per_line, chunk_size=chunk_size, as_file=as_file
    ) == _by_rows(packages, text, per_line=per_line)


def test_hot_lines_sum_to_the_same_digits() -> None:
    """Hot lines are added in minor units and folded back: a JPY and a BHD invoice total to the
    same Decimal text the row path gives (no decimals for JPY, three for BHD)."""
    packages = [
        (Expectation("S-P0", "P0", "JPY", {B: Decimal("500")}), None),
        (Expectation("S-P1", "P1", "JPY", {B: Decimal("500")}), None),
        (Expectation("S-P2", "P2", "BHD", {B: Decimal("5.000")}), None),
        (Expectation("S-P3", "P3", "BHD", {B: Decimal("5")}), None),
    ]
    text = "\n".join(
        [
            _HEADER,
            "INV-2,2026-11-20,JPY,1,P0,,,,500,,,,",
            "INV-2,2026-11-20,JPY,2,P1,,,,510,,,,",
            "INV-3,2026-11-20,BHD,1,P2,,,,5.049,,,,",
            "INV-3,2026-11-20,BHD,2,P3,,,,5.000,0.600,,,",
        ]
    )
    streamed = _streamed(packages, text + "\n", per_line=True, chunk_size=1 << 16, as_file=True)
    assert streamed == _by_rows(packages, text + "\n", per_line=True)
    assert '"total":{"amount":"1010","currency":"JPY"}' in streamed[1]
    assert '"total":{"amount":"10.649","currency":"BHD"}' in streamed[1]


# -- the chunked shipments loader against the line-by-line one -----------------------------------

_SHIPMENTS_HEADER = (
    "shipment_id,tracking_number,carrier_shipment_id,reference,carrier,service,origin,"
    "destination,currency,status,base_freight,fuel,residential"
)


@st.composite
def _shipments_text(draw: st.DrawFn) -> str:
    rows = []
    for i in range(draw(st.integers(0, 30))):
        cells = [
            draw(st.sampled_from([f"S{i}"] * 20 + ["", " S1"])),
            draw(st.sampled_from([f"1Z{i}"] * 10 + ["1Z1", "", "1Z\x1f5", "t" * 201])),
            draw(st.sampled_from(["", "C1", f"C{i}", " C1"])),
            draw(st.sampled_from(["", "R1", f"R{i}"])),
            "fake",
            draw(st.sampled_from(["ground", "ground", "a b", "\x07", "é"])),
            "DE",
            "FR",
            draw(st.sampled_from(["USD"] * 8 + ["JPY", "BHD", "XXX"])),
            draw(st.sampled_from(["active"] * 8 + ["cancelled", "", "Active"])),
            *(
                draw(st.sampled_from(["", "5.00", "5", "0.001", "-1.50", "1e3", "5.0001"]))
                for _ in range(3)
            ),
        ]
        if not draw(st.integers(0, 40)):
            cells.pop()
        row = ",".join(cells)
        if not draw(st.integers(0, 40)):
            row = draw(st.sampled_from(['"' + row.replace(",", '","') + '"', ""]))
        rows.append(row)
    end = draw(st.sampled_from(["\n"] * 6 + ["\r\n"]))
    return end.join([_SHIPMENTS_HEADER, *rows]) + end


def _loaded(text: str, *, chunked: bool, chunk_size: int = 1 << 16) -> tuple[object, ...]:
    index = MemoryShipmentIndex()
    index.add(Expectation("S0", "1Z1", "USD", {}), carrier_shipment_id="C1")
    index.mark_billed("1Z1")
    source = io.StringIO(text, newline="")
    try:
        for _ in _load(
            source if chunked else iter(source), index, fast=chunked, chunk_size=chunk_size
        ):
            pass
    except InvalidInputError as exc:
        return ("error", type(exc).__name__, str(exc))
    return (index._records, index._trackings, index._keys)


@settings(max_examples=300, deadline=None)
@given(_shipments_text(), st.sampled_from([1, 50, 400, 1 << 16]))
def test_the_chunked_shipments_loader_agrees_with_the_line_loader(
    text: str, chunk_size: int
) -> None:
    """Records, tracking numbers and fallback keys are the same, and the first bad line fails
    with the same message, whatever the chunk size."""
    assert _loaded(text, chunked=True, chunk_size=chunk_size) == _loaded(text, chunked=False)
