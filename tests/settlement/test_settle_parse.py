"""Reading carrier invoice files: strict fields, bad rows reported by line, never a crash."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest
from _settle_helpers import HEADER, invoice_csv, line, write
from hypothesis import given
from hypothesis import strategies as st

from shipsync.canonical import ChargeType
from shipsync.errors import ConfigurationError, InvoiceFileError
from shipsync.settlement import (
    FAKE_CARRIER_COLUMNS,
    InvoiceColumns,
    InvoiceRow,
    RowProblem,
    columns_for,
    iter_invoice_rows,
    read_invoice_rows,
    register_columns,
)


def _read(path: Path) -> list[InvoiceRow | RowProblem]:
    return list(read_invoice_rows(path, FAKE_CARRIER_COLUMNS))


def _problems(items: list[InvoiceRow | RowProblem]) -> list[tuple[int, str]]:
    return [(p.file_line, p.message) for p in items if isinstance(p, RowProblem)]


def test_a_good_row_becomes_a_validated_invoice_row(tmp_path: Path) -> None:
    """Every field is read; amounts are exact Decimals; empty charge cells are left out."""
    path = write(
        tmp_path,
        invoice_csv(line(1, "1Z1", "12.50", fuel="1.50", carrier_id="C1", reference="R1")),
    )
    (row,) = _read(path)
    assert isinstance(row, InvoiceRow)
    assert row.invoice_number == "INV-1"
    assert row.currency == "USD"
    assert row.line_number == 1
    assert row.file_line == 2
    assert row.tracking_number == "1Z1"
    assert row.carrier_shipment_id == "C1"
    assert row.reference == "R1"
    assert row.charges == (
        (ChargeType.BASE_FREIGHT, Decimal("12.50")),
        (ChargeType.FUEL, Decimal("1.50")),
    )
    assert row.total == Decimal("14.00")


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (line(1, "1Z1", "12.5.0"), "base_freight: not an amount"),
        (line(1, "1Z1", "1e3"), "base_freight: not an amount"),
        (line(1, "1Z1", "1_000"), "base_freight: not an amount"),
        (line(1, "1Z1", "12.505"), "base_freight: not an amount"),
        (line(1, "1Z1", "NaN"), "base_freight: not an amount"),
        (line(1, "1Z1", "0x10"), "base_freight: not an amount"),
        (line(1, "1Z1", "\u0661\u0662"), "base_freight: not an amount"),
        (line(1, "1Z1", "+5.00"), "base_freight: not an amount"),
        (line(1, "1Z1", "-5.00"), "base_freight: a negative amount is not allowed"),
        (line(1, "1Z1", "5.00", currency="XYZ"), "unknown currency"),
        (line(1, "1Z1", "5.00", currency="usd"), "unknown currency"),
        (line(1, "", "5.00"), "tracking number is empty"),
        (line(1, "1Z\x071", "5.00"), "tracking number contains control characters"),
        (line(1, "1Z1"), "the line has no charge"),
        (line(0, "1Z1", "5.00"), "line number is not a positive integer"),
        (line(-1, "1Z1", "5.00"), "line number is not a positive integer"),
        (line(1, "1Z1", "5.00", date="26.11.2026"), "not a YYYY-MM-DD date"),
        (line(1, "1Z1", "5.00", invoice=""), "invoice number is empty"),
        ("INV-1,2026-11-20,USD,1,1Z1", "expected 14 fields, found 5"),
    ],
    ids=[
        "two-dots",
        "exponent",
        "underscore",
        "too-many-decimals",
        "nan",
        "hex",
        "arabic-indic-digits",
        "plus-sign",
        "negative-base-freight",
        "unknown-currency",
        "lower-case-currency",
        "empty-tracking",
        "control-character",
        "no-charge",
        "line-zero",
        "line-negative",
        "date-format",
        "empty-invoice-number",
        "short-row",
    ],
)
def test_a_malformed_row_is_reported_with_its_line_and_the_run_goes_on(
    tmp_path: Path, row: str, reason: str
) -> None:
    """A bad row becomes a RowProblem naming the file line; the next good row is still read."""
    good = line(2, "1Z2", "7.00")
    items = _read(write(tmp_path, invoice_csv(row, good)))
    problems = _problems(items)
    assert len(problems) == 1
    assert problems[0][0] == 2
    assert reason in problems[0][1]
    assert [r.tracking_number for r in items if isinstance(r, InvoiceRow)] == ["1Z2"]


def test_credits_are_allowed_on_credit_charge_types(tmp_path: Path) -> None:
    """A negative address correction or 'other' charge is a typed credit, not an error."""
    path = write(tmp_path, invoice_csv(line(1, "1Z1", "10.00", address="-17.00", other="-1.00")))
    (row,) = _read(path)
    assert isinstance(row, InvoiceRow)
    assert row.total == Decimal("-8.00")


def test_yen_amounts_take_no_decimals(tmp_path: Path) -> None:
    """The allowed decimals follow the currency's minor unit (JPY has none)."""
    path = write(
        tmp_path,
        invoice_csv(
            line(1, "1Z1", "1200", currency="JPY"), line(2, "1Z2", "12.50", currency="JPY")
        ),
    )
    items = _read(path)
    assert isinstance(items[0], InvoiceRow)
    assert "not an amount" in _problems(items)[0][1]


def test_an_empty_file_is_a_typed_error(tmp_path: Path) -> None:
    """Nothing to read at all is refused as a whole, with InvoiceFileError."""
    with pytest.raises(InvoiceFileError, match="empty"):
        _read(write(tmp_path, ""))


def test_a_header_only_file_reads_no_rows(tmp_path: Path) -> None:
    """A header without lines is a valid, empty invoice file."""
    assert _read(write(tmp_path, HEADER + "\n")) == []


def test_a_missing_required_column_names_it(tmp_path: Path) -> None:
    """The header must have the mapping's required columns; the error says which is missing."""
    text = invoice_csv(header=HEADER.replace("tracking_number", "tracking"))
    with pytest.raises(InvoiceFileError, match="tracking_number") as info:
        _read(write(tmp_path, text))
    assert info.value.line == 1


def test_a_file_that_is_not_utf8_is_a_typed_error(tmp_path: Path) -> None:
    """Latin-1 bytes where UTF-8 is expected are refused, not guessed."""
    text = invoice_csv(line(1, "1Z1", "5.00", reference="Müller"))
    with pytest.raises(InvoiceFileError, match="UTF-8"):
        _read(write(tmp_path, text, encoding="latin-1"))


@pytest.mark.parametrize(
    ("transform", "name"),
    [
        (lambda text: "\ufeff" + text, "bom"),
        (lambda text: text.replace("\n", "\r\n"), "crlf"),
        (lambda text: text.replace(",", ";"), "semicolon"),
        (lambda text: text.replace(",", "\t"), "tab"),
        (lambda text: "\ufeff" + text.replace(",", ";").replace("\n", "\r\n"), "all-three"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_bom_other_delimiters_and_windows_line_endings_read_the_same(
    tmp_path: Path, transform: object, name: str
) -> None:
    """A BOM, ';' or tab as delimiter, and CRLF line ends give the same rows as plain CSV."""
    text = invoice_csv(line(1, "1Z1", "5.00", fuel="0.60"), line(2, "1Z2", "7.25"))
    plain = _read(write(tmp_path, text, name="plain.csv"))
    assert callable(transform)
    other = _read(write(tmp_path, transform(text), name=f"{name}.csv"))
    assert [r._replace(file_line=0) for r in other] == [r._replace(file_line=0) for r in plain]
    assert all(isinstance(r, InvoiceRow) for r in other)


def test_several_invoices_in_one_file_must_be_contiguous(tmp_path: Path) -> None:
    """An invoice number that comes back after another invoice is reported, not merged."""
    text = invoice_csv(
        line(1, "1Z1", "5.00", invoice="A"),
        line(1, "1Z2", "5.00", invoice="B"),
        line(2, "1Z3", "5.00", invoice="A"),
    )
    items = _read(write(tmp_path, text))
    assert [(r.invoice_number, r.line_number) for r in items if isinstance(r, InvoiceRow)] == [
        ("A", 1),
        ("B", 1),
    ]
    assert "not contiguous" in _problems(items)[0][1]


@pytest.mark.parametrize(
    ("rows", "reason"),
    [
        ((line(1, "1Z1", "5.00"), line(1, "1Z2", "5.00")), "repeats"),
        ((line(2, "1Z1", "5.00"), line(1, "1Z2", "5.00")), "backwards"),
        ((line(1, "1Z1", "5.00"), line(2, "1Z2", "5.00", currency="EUR")), "currency differs"),
        ((line(1, "1Z1", "5.00"), line(2, "1Z2", "5.00", date="2026-11-21")), "date differs"),
        ((line(1, "1Z1", "5.00"), line(2, "1Z2", "5.00", supersedes="X")), "'supersedes'"),
    ],
    ids=["line-repeats", "line-backwards", "currency", "date", "supersedes"],
)
def test_rows_of_one_invoice_must_agree(tmp_path: Path, rows: tuple[str, str], reason: str) -> None:
    """Line numbers increase, and currency, date and supersedes agree within an invoice."""
    items = _read(write(tmp_path, invoice_csv(*rows)))
    problems = _problems(items)
    assert len(problems) == 1
    assert problems[0][0] == 3
    assert reason in problems[0][1]


def test_blank_lines_are_skipped_and_line_numbers_stay_true(tmp_path: Path) -> None:
    """Blank lines are not rows; reported line numbers are the file's own."""
    text = invoice_csv(line(1, "1Z1", "5.00"), "", line(2, "1Z2", "x"))
    items = _read(write(tmp_path, text))
    assert _problems(items)[0][0] == 4


def test_a_carrier_mapping_renames_columns(tmp_path: Path) -> None:
    """Another carrier's column names map onto the same canonical fields."""
    columns = InvoiceColumns(
        carrier="acme-test",
        charges={"Freight": ChargeType.BASE_FREIGHT, "Fuel Surcharge": ChargeType.FUEL},
        invoice_number="Invoice",
        invoice_date="Date",
        currency="Cur",
        tracking_number="Tracking",
        line_number=None,
        delimiter=";",
    )
    text = "Invoice;Date;Cur;Tracking;Freight;Fuel Surcharge\nA;2026-11-20;EUR;T1;9.00;1.00\n"
    (row,) = list(iter_invoice_rows(text.splitlines(keepends=True), columns))
    assert isinstance(row, InvoiceRow)
    assert row.line_number == 1
    assert row.total == Decimal("10.00")
    register_columns(columns, replace=True)
    assert columns_for("acme-test") is columns


def test_mappings_refuse_nonsense() -> None:
    """A mapping without charges, a long delimiter or an unknown carrier is a typed error."""
    with pytest.raises(ConfigurationError):
        InvoiceColumns(carrier="x", charges={})
    with pytest.raises(ConfigurationError):
        InvoiceColumns(carrier="x", charges={"a": ChargeType.FUEL}, delimiter=";;")
    with pytest.raises(ConfigurationError, match="no invoice column mapping"):
        columns_for("nobody")
    with pytest.raises(ConfigurationError, match="already"):
        register_columns(FAKE_CARRIER_COLUMNS)


@given(st.text(max_size=400))
def test_any_text_is_rows_problems_or_a_typed_error(text: str) -> None:
    """Whatever the bytes, reading yields rows and problems or raises InvoiceFileError."""
    try:
        items = list(iter_invoice_rows(text.splitlines(keepends=True), FAKE_CARRIER_COLUMNS))
    except InvoiceFileError:
        return
    assert all(isinstance(item, InvoiceRow | RowProblem) for item in items)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["1Z1", "", "1Z\x00", "x" * 201]),
            st.sampled_from(["5.00", "-5.00", "5", "5.001", "", "abc", "١٢"]),
            st.sampled_from(["USD", "JPY", "XXX", ""]),
            st.integers(min_value=-2, max_value=4),
        ),
        max_size=8,
    )
)
def test_generated_rows_are_each_read_or_reported(
    rows: list[tuple[str, str, str, int]],
) -> None:
    """Each data row gives exactly one InvoiceRow or one RowProblem."""
    text = invoice_csv(*(line(n, tracking, base, currency=cur) for tracking, base, cur, n in rows))
    items = list(iter_invoice_rows(text.splitlines(keepends=True), FAKE_CARRIER_COLUMNS))
    assert len(items) == len(rows)
    for item in items:
        if isinstance(item, InvoiceRow):
            assert item.total == sum((amount for _, amount in item.charges), Decimal(0))


def test_quoted_fields_may_hold_delimiters_and_span_lines(tmp_path: Path) -> None:
    """RFC 4180 quoting is honoured, and later file line numbers stay true."""
    text = invoice_csv(
        line(1, "1Z1", "5.00", reference='"ACME, Inc."'),
        line(2, "1Z2", "5.00", reference='"Dock\n4"'),
        line(3, "1Z3", "bad"),
    )
    items = _read(write(tmp_path, text))
    first = items[0]
    assert isinstance(first, InvoiceRow)
    assert first.reference == "ACME, Inc."
    assert _problems(items) == [
        (4, "reference contains control characters"),
        (5, "base_freight: not an amount with at most the USD minor-unit decimals"),
    ]


def test_an_unterminated_quote_is_a_reported_row(tmp_path: Path) -> None:
    """A quote that never closes is reported as invalid CSV, not a crash."""
    text = invoice_csv(line(1, "1Z1", "5.00"), line(2, '"1Z2', "5.00"))
    items = _read(write(tmp_path, text))
    assert isinstance(items[0], InvoiceRow)
    assert "not valid CSV" in _problems(items)[0][1]


_WHITESPACE = [c for c in map(chr, range(0x3000 + 1)) if c.isspace() and c not in "\r\n"]


@given(
    amount=st.decimals(min_value=-999, max_value=999, places=2).map(str),
    before=st.text(alphabet=_WHITESPACE, max_size=3),
    after=st.text(alphabet=_WHITESPACE, max_size=3),
    second_row=st.booleans(),
)
def test_an_amount_may_be_padded_with_ascii_spaces_only(
    amount: str, before: str, after: str, second_row: bool
) -> None:
    """An amount padded only with ASCII spaces reads as the bare amount; any other padding
    (a Unicode space, a tab, a line separator) makes the row a reported problem, on the first
    row of an invoice and on a later one alike."""
    cell = before + amount + after
    rows = [line(1, "1Z1", "5.00")] if second_row else []
    rows.append(line(len(rows) + 1, "1Z2", "5.00", other=cell))
    text = invoice_csv(*rows)
    items = list(iter_invoice_rows(io.StringIO(text, newline=""), FAKE_CARRIER_COLUMNS))
    item = items[-1]
    if set(before + after) <= {" "}:
        assert isinstance(item, InvoiceRow)
        assert dict(item.charges)[ChargeType.OTHER] == Decimal(amount)
    else:
        assert isinstance(item, RowProblem)
        assert item.message == "other: not an amount with at most the USD minor-unit decimals"


def test_an_amount_padded_with_unicode_spaces_is_reported() -> None:
    """The issue's own example: a no-break space before and an em space after are refused."""
    text = invoice_csv(line(1, "1Z1", "\u00a05.00\u2003"), line(2, "1Z2", " 5.00 "))
    items = list(iter_invoice_rows(io.StringIO(text, newline=""), FAKE_CARRIER_COLUMNS))
    assert isinstance(items[0], RowProblem)
    assert items[0].file_line == 2
    assert isinstance(items[1], InvoiceRow)
    assert items[1].charges == ((ChargeType.BASE_FREIGHT, Decimal("5.00")),)
