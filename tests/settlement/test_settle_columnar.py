"""The columnar index and its invoice path give exactly what the memory index and the row path give.

``ColumnarShipmentIndex`` keeps packages in Arrow and NumPy columns and classifies runs of
ordinary invoice lines at once; everything else goes through the row path. These tests load the
same shipments both ways and reconcile the same awkward files (currencies with 0, 2 and 3
decimals, repeated tracking numbers, fallback keys shared by two packages, amounts too wide for
64-bit arithmetic, lines the row path refuses) and compare line for line and digit for digit.
"""

from __future__ import annotations

import io
import tempfile
from decimal import Decimal
from pathlib import Path
from unittest.mock import patch

import pytest
from _settle_helpers import NOW
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_settle_stream import (
    _AMOUNTS,
    _AWKWARD_AMOUNTS,
    _HEADER,
    _RULES,
    _TRACKINGS,
    _index,
    _invoice_text,
    _packages,
    _shipments_text,
)

from shipsync.canonical import ChargeType
from shipsync.errors import InvalidInputError
from shipsync.settlement import (
    FAKE_CARRIER_COLUMNS,
    Expectation,
    LineBatch,
    LineOutcome,
    MemoryShipmentIndex,
    Reconciler,
    ShipmentIndex,
    iter_invoice_rows,
    load_shipments_csv,
    reconcile_file,
)
from shipsync.settlement._parse import AMOUNT_PATTERNS
from shipsync.testing.settlement import SAMPLE_RULES, write_sample_files

pytest.importorskip("pyarrow")  # the columnar extra

import pyarrow as pa

from shipsync.settlement import ColumnarShipmentIndex
from shipsync.settlement._columnar import _hash_text, _hash_texts, stream_columnar

B, F, R = ChargeType.BASE_FREIGHT, ChargeType.FUEL, ChargeType.RESIDENTIAL
_SHIPMENTS_HEADER = (
    "shipment_id,tracking_number,carrier_shipment_id,reference,currency,status,"
    "base_freight,fuel,residential"
)


def _by_rows(index: ShipmentIndex, text: str, *, per_line: bool | str) -> tuple[list[str], str]:
    """The reference: the row path over a memory index."""
    outcomes: list[LineOutcome] = []
    reconciler = Reconciler(
        index,
        carrier="fake",
        rules=_RULES,
        on_line=outcomes.append if per_line else None,
        now=lambda: NOW,
    )
    report = reconciler.run(iter_invoice_rows(io.StringIO(text, newline=""), FAKE_CARRIER_COLUMNS))
    return [repr(outcome) for outcome in outcomes], report.model_dump_json()


def _columnar(
    index: ColumnarShipmentIndex,
    text: str,
    *,
    per_line: bool | str,
    chunk_size: int,
    as_file: bool,
) -> tuple[list[str], str]:
    """The columnar path; ``per_line`` ``"batch"`` takes the outcomes through ``on_lines``, read
    once the whole run is over (a batch builds its outcomes when asked)."""
    outcomes: list[LineOutcome] = []
    batches: list[LineBatch] = []
    reconciler = Reconciler(
        index,
        carrier="fake",
        rules=_RULES,
        on_line=outcomes.append if per_line and per_line != "batch" else None,
        on_lines=batches.append if per_line == "batch" else None,
        now=lambda: NOW,
    )
    lines = io.StringIO(text, newline="")
    stream_columnar(
        reconciler, lines if as_file else list(lines), FAKE_CARRIER_COLUMNS, chunk_size=chunk_size
    )
    report = reconciler.report().model_dump_json()
    for batch in batches:
        assert len(batch) > 0
        file_lines, classes = batch.file_lines, batch.line_classes  # before the outcomes
        outcomes.extend(batch)
        assert len(batch.outcomes) == len(batch)
        assert file_lines == tuple(outcome.file_line for outcome in batch)
        assert classes == tuple(outcome.line_class for outcome in batch)
    return [repr(outcome) for outcome in outcomes], report


# no per-line output, each outcome through on_line, or batches through on_lines
_PER_LINE = st.sampled_from(["", "line", "batch"])


@st.composite
def _runs_text(draw: st.DrawFn) -> str:
    """Invoices as contiguous blocks of mostly ordinary lines (long runs for the columnar
    path), broken now and then by a line the row path must read: a skipped or repeated line
    number, an awkward amount, a space, a quoted cell, a blank line, another currency."""
    rows = []
    for number, currency in draw(
        st.lists(st.sampled_from(list({"INV-1": "USD", "INV-2": "JPY", "INV-3": "BHD"}.items())),
                 min_size=1, max_size=3)
    ):  # fmt: skip
        line = 0
        for _ in range(draw(st.integers(0, 40))):
            line += draw(st.sampled_from([1] * 30 + [2, 0]))
            amounts = [
                ""
                if draw(st.integers(0, 1))
                else draw(st.sampled_from(_AMOUNTS[currency]))
                if draw(st.integers(0, 30))
                else draw(st.sampled_from(_AWKWARD_AMOUNTS))
                for _ in range(4)
            ]
            cells = [
                number,
                "2026-11-20",
                currency if draw(st.integers(0, 40)) else "EUR",
                str(line),
                draw(st.sampled_from(_TRACKINGS[:7] * 3 + _TRACKINGS)),
                draw(st.sampled_from(["", "", "", "C1", "C2", "C9"])),
                draw(st.sampled_from(["", "", "S-P1", "S-P2"])),
                draw(st.sampled_from(["", *["2026-11-02"] * 8, "2026-02-30"])),
                *amounts,
                "",
            ]
            row = ",".join(cells)
            if not draw(st.integers(0, 60)):
                row = draw(st.sampled_from([row.replace(",", ", ", 1), "", '"' + row + '"']))
            rows.append(row)
    return "\n".join([_HEADER, *rows]) + "\n"


# -- against an index converted from the memory index (any Decimal a package may hold) ----------


@settings(max_examples=150, deadline=None)
@given(_packages(), _runs_text(), _PER_LINE, st.sampled_from([1, 60, 200, 1 << 16]))
def test_runs_of_ordinary_lines_reconcile_as_the_row_path_does(
    packages: list[tuple[Expectation, str | None]], text: str, per_line: str, chunk_size: int
) -> None:
    """Long runs of ordinary lines, classified at once, against packages with amounts of every
    form (finer than the minor unit, negative, a shared carrier shipment id): the row path's
    outcomes and report."""
    columnar = ColumnarShipmentIndex.from_memory(_index(packages))
    assert _columnar(
        columnar, text, per_line=per_line, chunk_size=chunk_size, as_file=True
    ) == _by_rows(_index(packages), text, per_line=per_line)


@settings(max_examples=150, deadline=None)
@given(
    _packages(),
    _invoice_text(),
    _PER_LINE,
    st.sampled_from([1, 60, 200, 1 << 16]),
    st.booleans(),
)
def test_the_columnar_path_reconciles_as_the_row_path_does(
    packages: list[tuple[Expectation, str | None]],
    text: str,
    per_line: str,
    chunk_size: int,
    as_file: bool,
) -> None:
    """Every outcome (class, deciding charge, difference, expected amount, exponents included)
    and the report (totals to the digit, problems) are those of the row path, whatever the
    chunk size; packages hold amounts finer than their currency's minor unit, negative ones, and
    carrier shipment ids two packages share."""
    columnar = ColumnarShipmentIndex.from_memory(_index(packages))
    assert _columnar(
        columnar, text, per_line=per_line, chunk_size=chunk_size, as_file=as_file
    ) == _by_rows(_index(packages), text, per_line=per_line)


# -- against the memory index, both loaded from the same shipments file --------------------------

_VALID = ["5.00", "5", "4.9", "0.60", "-1.50", "500", "5.000", "4.95", "99999999999.00", ""]


@st.composite
def _shipments_file(draw: st.DrawFn) -> str:
    """A valid shipments file over the invoice strategy's tracking numbers: repeated tracking
    numbers (the last row wins), shared carrier shipment ids, amounts too wide for the integer
    path."""
    rows = [_SHIPMENTS_HEADER]
    for i in range(draw(st.integers(0, 12))):
        tracking = draw(st.sampled_from(_TRACKINGS[:7]))
        currency = draw(st.sampled_from(["USD", "USD", "JPY", "BHD", "EUR"]))
        pattern = AMOUNT_PATTERNS[currency]
        amounts = [
            draw(st.sampled_from([a for a in _VALID if not a or pattern.fullmatch(a)]))
            for _ in range(3)
        ]
        rows.append(
            ",".join(
                [
                    f"S{i}",
                    tracking,
                    draw(st.sampled_from(["", "C1", "C2", f"C{i + 10}"])),
                    draw(st.sampled_from(["", "S-P1", f"R{i}"])),
                    currency,
                    draw(st.sampled_from(["active", "active", "", "cancelled"])),
                    *amounts,
                ]
            )
        )
    return "\n".join(rows) + "\n"


def _both(text: str) -> tuple[MemoryShipmentIndex, ColumnarShipmentIndex]:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "shipments.csv"
        path.write_text(text)
        memory = load_shipments_csv(path)
        columnar = ColumnarShipmentIndex.load_csv(path)
    memory.mark_billed("P5")
    columnar.mark_billed("P5")
    return memory, columnar


@settings(max_examples=150, deadline=None)
@given(
    _shipments_file(),
    st.one_of(_invoice_text(), _runs_text()),
    _PER_LINE,
    st.sampled_from([1, 60, 1 << 16]),
)
def test_a_loaded_columnar_index_reconciles_as_the_memory_index_does(
    shipments: str, text: str, per_line: str, chunk_size: int
) -> None:
    memory, columnar = _both(shipments)
    assert _columnar(
        columnar, text, per_line=per_line, chunk_size=chunk_size, as_file=True
    ) == _by_rows(memory, text, per_line=per_line)


def _state(index: ShipmentIndex | Exception) -> object:
    if isinstance(index, Exception):
        return ("error", type(index).__name__, str(index))
    keys = [None, "", "C1", "C2", "C 1", "C5", "R1", "R5", "S1"]
    found = [
        (tracking, carrier, reference, index.find(tracking, carrier, reference))
        for tracking in ["1Z1", "1Z3", "1Z9", "nope", "t" * 201]
        for carrier in keys
        for reference in keys
    ]
    return len(index), found, sorted(index.billed())  # type: ignore[arg-type,attr-defined]


def _load(text: str, loader: object) -> ShipmentIndex | Exception:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "shipments.csv"
        path.write_bytes(text.encode())
        try:
            index: ShipmentIndex = loader(path)  # type: ignore[operator]
        except InvalidInputError as exc:
            return exc
    index.mark_billed("1Z3")
    return index


@settings(max_examples=150, deadline=None)
@given(_shipments_text(), st.sampled_from([1, 5, 40, 1 << 23]))
def test_the_columnar_loader_agrees_with_the_line_loader(text: str, block: int) -> None:
    """The same packages are found by every key, the same are billed, and a bad file fails with
    the line loader's error, naming the same line, however the file is cut into blocks."""
    from shipsync.settlement import _columnar

    with patch.object(_columnar, "_BLOCK", block):
        columnar = _state(_load(text, ColumnarShipmentIndex.load_csv))
    assert columnar == _state(_load(text, load_shipments_csv))


def _through_reconcile_file(invoice: Path, index: ShipmentIndex) -> tuple[list[str], str]:
    """Every line's outcome and the report of ``reconcile_file`` on the sample rules."""
    outcomes: list[LineOutcome] = []
    report = reconcile_file(
        invoice,
        FAKE_CARRIER_COLUMNS,
        index,
        rules=SAMPLE_RULES,
        on_line=outcomes.append,
        now=lambda: NOW,
    )
    return [repr(outcome) for outcome in outcomes], report.model_dump_json()


def test_a_file_read_in_many_blocks_loads_column_by_column(tmp_path: Path) -> None:
    """A plain file cut into many blocks (lines across their edges) is read by Arrow, not
    handed to the line loader, and reconciles exactly as the line loader's index does."""
    from shipsync.settlement import _columnar

    files = write_sample_files(tmp_path, shipments=2_000, lines=3_000, seed=5, invoices=2)

    def refuse(memory: object) -> ColumnarShipmentIndex:
        raise AssertionError("the plain file went to the line loader")

    with (
        patch.object(_columnar, "_BLOCK", 4_099),
        patch.object(ColumnarShipmentIndex, "from_memory", refuse),
    ):
        columnar = ColumnarShipmentIndex.load_csv(files.shipments)
    assert len(columnar) == len(load_shipments_csv(files.shipments))
    results = [
        _through_reconcile_file(files.invoice, index)
        for index in (load_shipments_csv(files.shipments), columnar)
    ]
    assert results[0] == results[1]


# -- whole files through the public entry points ----------------------------------------------


def test_a_sample_file_reconciles_the_same_through_reconcile_file(tmp_path: Path) -> None:
    """``reconcile_file`` with a columnar index gives the memory index's report and outcomes on
    the sample generator's files (every line class, two currencies, cancellations)."""
    files = write_sample_files(tmp_path, shipments=3_000, lines=8_000, seed=3, invoices=3)
    results = [
        _through_reconcile_file(files.invoice, index)
        for index in (
            load_shipments_csv(files.shipments),
            ColumnarShipmentIndex.load_csv(files.shipments),
        )
    ]
    assert results[0] == results[1]
    assert len(results[0][0]) == 8_000
    classes = {outcome.split("line_class=")[1].split(",")[0] for outcome in results[0][0]}
    assert len(classes) >= 8  # the run exercised most classes


@pytest.mark.parametrize("columnar", [False, True], ids=["memory index", "columnar index"])
def test_on_lines_hands_over_every_outcome_in_batches(tmp_path: Path, columnar: bool) -> None:
    """``on_lines`` gets the outcomes ``on_line`` gets, in order, in batches of one invoice's
    lines each, and the same report."""
    files = write_sample_files(tmp_path, shipments=3_000, lines=9_000, seed=4, invoices=2)
    load = ColumnarShipmentIndex.load_csv if columnar else load_shipments_csv
    expected: list[LineOutcome] = []
    batches: list[LineBatch] = []
    reports = [
        reconcile_file(
            files.invoice,
            FAKE_CARRIER_COLUMNS,
            load(files.shipments),
            rules=SAMPLE_RULES,
            now=lambda: NOW,
            **sink,  # type: ignore[arg-type]
        ).model_dump_json()
        for sink in ({"on_line": expected.append}, {"on_lines": batches.append})
    ]
    assert reports[0] == reports[1]
    assert [repr(outcome) for batch in batches for outcome in batch] == list(map(repr, expected))
    assert all(0 < len(batch) <= 4_096 for batch in batches)
    assert all(len({outcome.invoice_number for outcome in batch}) == 1 for batch in batches)
    assert len(batches) < len(expected) / 10  # batches, not a line each


def test_on_line_and_on_lines_together_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="on_line or on_lines") as caught:
        Reconciler(
            MemoryShipmentIndex(), carrier="fake", on_line=print, on_lines=print
        )  # fmt: skip
    assert caught.value.path == "on_lines"


def test_the_index_answers_the_protocol_like_the_memory_index(tmp_path: Path) -> None:
    path = tmp_path / "shipments.csv"
    path.write_text(
        _SHIPMENTS_HEADER + "\n"
        "S1,1Z1,C1,R1,USD,active,5.00,,\n"
        "S2,1Z2,C1,R2,EUR,cancelled,,1.5,\n"
        "S3,1Z1,C3,R3,USD,active,7.00,,0.10\n"  # a repeated tracking number: the last row wins
    )
    index = ColumnarShipmentIndex.load_csv(path)
    assert len(index) == 2
    assert "1Z1" in index
    assert "1Z9" not in index
    assert index.get("1Z1") == Expectation(
        "S3", "1Z1", "USD", {B: Decimal("7.00"), R: Decimal("0.10")}, False
    )
    assert index.find("nope", "C1", None) == index.get("1Z2")  # 1Z1 no longer has C1
    assert index.mark_billed("1Z2") is False
    assert index.mark_billed("1Z2") is True
    assert index.mark_billed("elsewhere") is False
    assert sorted(index.billed()) == ["1Z2", "elsewhere"]
    index.unmark_billed("1Z2")
    assert list(index.billed()) == ["elsewhere"]


def test_a_bad_shipments_file_names_its_line_as_the_line_loader_does(tmp_path: Path) -> None:
    path = tmp_path / "shipments.csv"
    path.write_text(
        _SHIPMENTS_HEADER + "\nS1,1Z1,,,USD,active,5.00,,\nS2,1Z2,,,USD,active,5.001,,\n"
    )
    with pytest.raises(InvalidInputError, match="line 3: base_freight: not an amount in USD"):
        ColumnarShipmentIndex.load_csv(path)
    with pytest.raises(InvalidInputError, match="cannot open"):
        ColumnarShipmentIndex.load_csv(tmp_path / "missing.csv")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=300)), st.integers(0, 5))
def test_the_array_hash_is_the_text_hash(texts: list[str], offset: int) -> None:
    """Tracking numbers and fallback keys are hashed a whole column at a time when loaded and
    one by one when looked up: both must give the same value, for any text and any slice."""
    array = pa.array(["pad"] * offset + texts, type=pa.string()).slice(offset)
    assert _hash_texts(array).tolist() == [_hash_text(text) for text in texts]


def test_a_windows_file_takes_the_columnar_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Invoice files exported on Windows end their lines with CR LF: their ordinary lines are
    still classified a run at a time, with the row path's results."""
    from shipsync.settlement import _columnar

    files = write_sample_files(tmp_path, shipments=800, lines=2_000, seed=11)
    windows = tmp_path / "invoice-crlf.csv"
    windows.write_bytes(files.invoice.read_bytes().replace(b"\n", b"\r\n"))
    decided: list[int] = []
    real = _columnar._classify_minor

    def counting(*args: object, **kwargs: object) -> None:
        decided.append(1)
        real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_columnar, "_classify_minor", counting)
    results = [
        _through_reconcile_file(windows, index)
        for index in (
            load_shipments_csv(files.shipments),
            ColumnarShipmentIndex.load_csv(files.shipments),
        )
    ]
    assert decided
    assert results[0] == results[1]
    assert len(results[0][0]) == 2_000


@st.composite
def _amount_texts(draw: st.DrawFn) -> tuple[int, list[str]]:
    exponent = draw(st.sampled_from([0, 2, 3]))
    texts = []
    for _ in range(draw(st.integers(0, 30))):
        if not draw(st.integers(0, 4)):
            texts.append("")
            continue
        whole = draw(st.from_regex(r"[0-9]{1,18}", fullmatch=True))
        fraction = (
            draw(st.from_regex(rf"[0-9]{{1,{exponent}}}", fullmatch=True)) if exponent else ""
        )
        sign = draw(st.sampled_from(["", "", "-"]))
        texts.append(sign + whole + ("." + fraction if fraction and draw(st.booleans()) else ""))
    return exponent, texts


@settings(max_examples=150, deadline=None)
@given(_amount_texts(), st.integers(0, 3), st.integers(1, 8))
# an amount of exactly -2**63 minor units: its absolute value does not fit in 64 bits
@example((2, ["-92233720368547758.08", "92233720368547758.07", ""]), 0, 8)
def test_quoted_amounts_in_minor_units_are_the_decimal_amounts(
    case: tuple[int, list[str]], offset: int, slice_size: int
) -> None:
    """A quoted amount read into minor units (through Arrow's decimal cast, a slice of rows at
    a time) is the exact ``Decimal`` amount, or marked wide when it is ``_WIDE`` or more (then
    its package's lines take the exact path); empty is absent."""
    from shipsync.settlement import _columnar
    from shipsync.settlement._columnar import _ABSENT, _WIDE, _decimal_minor

    exponent, texts = case
    array = pa.array(["9"] * offset + texts, type=pa.string()).slice(offset)
    with patch.object(_columnar, "_SLICE", slice_size):
        minor, wide = _decimal_minor(array, exponent)
    for text, value, too_wide in zip(texts, minor.tolist(), wide.tolist(), strict=True):
        if not text:
            assert (value, too_wide) == (_ABSENT, False)
            continue
        exact = int(Decimal(text).scaleb(exponent))
        assert too_wide == (abs(exact) >= _WIDE)
        if not too_wide:
            assert value == exact
