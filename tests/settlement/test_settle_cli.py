"""``shipsync reconcile``: summary table, reports, bad rows by line number, idempotent re-runs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from _settle_helpers import invoice_csv, line, write
from click.testing import CliRunner

from shipsync.cli import main
from shipsync.testing.settlement import write_sample_files

SHIPMENTS = (
    "shipment_id,tracking_number,carrier_shipment_id,reference,currency,status,base_freight,fuel\n"
    "S1,T1,C1,R1,USD,active,10.00,1.20\n"
    "S2,T2,C2,R2,USD,cancelled,20.00,\n"
    "S3,T3,C3,R3,USD,active,30.00,\n"
)


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["reconcile", *args])
    return result.exit_code, result.output


def test_the_summary_totals_back_to_the_invoice(tmp_path: Path) -> None:
    """Lines and amounts per class, the invoice total and the check are printed."""
    shipments = write(tmp_path, SHIPMENTS, "shipments.csv")
    invoice = write(
        tmp_path,
        invoice_csv(
            line(1, "T1", "10.00", fuel="1.20"),
            line(2, "T2", "20.00"),
            line(3, "T3", "31.00"),
            line(4, "T9", "4.00"),
        ),
    )
    code, output = _invoke(str(invoice), "--shipments", str(shipments))
    assert code == 0, output
    assert "invoice INV-1: settled, 4 lines, total 66.20 USD" in output
    for expected in (
        "matched                             1            11.20",
        "overcharge                          1            31.00",
        "unknown_shipment                    1             4.00",
        "billed_after_cancellation           1            20.00",
        "invoice total                       4            66.20",
        "disputed                                         51.00",
        "check: matched + disputed + unknown = invoice total, to the cent: OK",
    ):
        assert expected in output


def test_malformed_rows_are_listed_with_line_numbers_and_do_not_stop_the_run(
    tmp_path: Path,
) -> None:
    """Bad rows are named by file line; the good ones are reconciled and still total up."""
    shipments = write(tmp_path, SHIPMENTS, "shipments.csv")
    invoice = write(
        tmp_path,
        invoice_csv(
            line(1, "T1", "10.00", fuel="1.20"),
            line(2, "T3", "abc"),
            line(3, "T3", "30.00", currency="XXX"),
        ),
    )
    code, output = _invoke(str(invoice), "--shipments", str(shipments))
    assert code == 0, output
    assert "2 row(s) not reconciled:" in output
    assert "line 3: base_freight: not an amount" in output
    assert "line 4: currency differs" in output
    assert "invoice total                       1            11.20" in output


def test_json_and_csv_reports(tmp_path: Path) -> None:
    """--report writes the summary as JSON, or one row per line as CSV."""
    shipments = write(tmp_path, SHIPMENTS, "shipments.csv")
    invoice = write(
        tmp_path, invoice_csv(line(1, "T1", "10.00", fuel="1.20"), line(2, "T9", "1.00"))
    )
    code, output = _invoke(
        str(invoice), "--shipments", str(shipments), "--report", str(tmp_path / "r.json")
    )
    assert code == 0, output
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["invoices"][0]["total"] == {"amount": "12.20", "currency": "USD"}
    assert data["invoices"][0]["classes"]["unknown_shipment"] == {"lines": 1, "amount": "1.00"}
    code, output = _invoke(
        str(invoice), "--shipments", str(shipments), "--report", str(tmp_path / "r.csv")
    )
    assert code == 0, output
    with (tmp_path / "r.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["line_number"], r["class"], r["billed"]) for r in rows] == [
        ("1", "matched", "11.20"),
        ("2", "unknown_shipment", "1.00"),
    ]
    code, output = _invoke(
        str(invoice), "--shipments", str(shipments), "--report", str(tmp_path / "r.txt")
    )
    assert code == 2
    assert "must end in .json or .csv" in output


def test_with_a_ledger_a_second_run_emits_nothing(tmp_path: Path) -> None:
    """The same file reconciled twice with --ledger reports 'already_settled', no new events."""
    shipments = write(tmp_path, SHIPMENTS, "shipments.csv")
    invoice = write(tmp_path, invoice_csv(line(1, "T1", "10.00", fuel="1.20")))
    events = tmp_path / "events.jsonl"
    common = [str(invoice), "--shipments", str(shipments), "--ledger", str(tmp_path / "l.db")]
    assert _invoke(*common, "--events", str(events))[0] == 0
    first = events.read_text().splitlines()
    code, output = _invoke(*common, "--events", str(events))
    assert code == 0, output
    assert "already_settled" in output
    assert events.read_text().splitlines() == first
    assert [json.loads(e)["type"] for e in first] == [
        "freight.invoice_matched",
        "freight.charge_accrued",
        "freight.charge_accrued",
        "settlement.completed",
    ]


def test_tolerances_from_the_command_line(tmp_path: Path) -> None:
    """--tolerance widens a charge type's tolerance; a bad value is a usage error."""
    shipments = write(tmp_path, SHIPMENTS, "shipments.csv")
    invoice = write(tmp_path, invoice_csv(line(1, "T3", "30.60")))
    code, output = _invoke(
        str(invoice), "--shipments", str(shipments), "--tolerance", "base_freight=0.05:2"
    )
    assert code == 0, output
    assert "matched                             1            30.60" in output
    code, output = _invoke(str(invoice), "--shipments", str(shipments), "--tolerance", "fuel")
    assert code == 2
    assert "CHARGE=ABSOLUTE" in output


def test_bad_files_are_clear_errors(tmp_path: Path) -> None:
    """An empty invoice, a bad shipments file or an unknown carrier exit 1 with a message."""
    shipments = write(tmp_path, SHIPMENTS, "shipments.csv")
    empty = write(tmp_path, "", "empty.csv")
    code, output = _invoke(str(empty), "--shipments", str(shipments))
    assert code == 1
    assert "the file is empty" in output
    bad = write(tmp_path, "shipment_id,tracking_number,currency\nS1,T1,ABC\n", "bad.csv")
    code, output = _invoke(str(empty), "--shipments", str(bad))
    assert code == 1
    assert "shipments file line 2: unknown currency" in output
    code, output = _invoke(str(empty), "--shipments", str(shipments), "--carrier", "nobody")
    assert code == 1
    assert "no invoice column mapping" in output


def test_a_large_sample_runs_with_the_progress_bar(tmp_path: Path) -> None:
    """The generated sample reconciles through the command with its tolerances."""
    files = write_sample_files(tmp_path, shipments=2000, lines=2000, seed=2)
    code, output = _invoke(
        str(files.invoice),
        "--shipments",
        str(files.shipments),
        "--tolerance",
        "base_freight=0.05:2",
        "--tolerance",
        "fuel=0.10:5",
    )
    assert code == 0, output
    assert "invoice total                    2000" in output
    assert "row(s) not reconciled" not in output


def test_the_command_takes_the_streaming_path_and_reports_what_the_row_path_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a ledger or events, ``shipsync reconcile`` streams ordinary lines (no row objects)
    and its JSON report is the row path's, digit for digit."""
    from shipsync.settlement import (
        Reconciler,
        _reconcile,
        columns_for,
        iter_invoice_rows,
        load_shipments_csv,
        open_invoice_file,
    )

    files = write_sample_files(tmp_path, shipments=1500, lines=1500, seed=7, invoices=2)
    streamed: list[int] = []
    real = _reconcile.stream_lines

    def counting(*args: object, **kwargs: object) -> None:
        streamed.append(1)
        real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_reconcile, "stream_lines", counting)
    report_path = tmp_path / "report.json"
    code, output = _invoke(
        str(files.invoice),
        "--shipments",
        str(files.shipments),
        "--report",
        str(report_path),
        "--index",
        "memory",
    )
    assert code == 0, output
    assert streamed == [1]
    with open_invoice_file(files.invoice) as handle:
        rows = Reconciler(load_shipments_csv(files.shipments), carrier="fake").run(
            iter_invoice_rows(handle, columns_for("fake"))
        )
    assert json.loads(report_path.read_text()) == json.loads(rows.model_dump_json())


def test_the_columnar_and_the_memory_index_give_the_same_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--index columnar`` (what ``auto`` takes when pyarrow is installed and the run has no
    ledger and no events) writes the same line report, JSON report and summary as ``--index
    memory``."""
    pytest.importorskip("pyarrow")
    from shipsync.settlement import _columnar

    streamed: list[int] = []
    real = _columnar.stream_columnar

    def counting(*args: object, **kwargs: object) -> None:
        streamed.append(1)
        real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_columnar, "stream_columnar", counting)
    files = write_sample_files(tmp_path, shipments=500, lines=1_500, seed=5, invoices=2)
    outputs = {}
    for kind in ("memory", "columnar", "auto"):
        lines, summary = tmp_path / f"{kind}.csv", tmp_path / f"{kind}.json"
        runs = []
        for report in (lines, summary):
            code, output = _invoke(
                str(files.invoice),
                "--shipments",
                str(files.shipments),
                "--index",
                kind,
                "--report",
                str(report),
            )
            assert code == 0, output
            runs.append(output)
        outputs[kind] = (lines.read_text(), summary.read_text(), runs)
    assert streamed == [1] * 4  # columnar and auto, two reports each
    assert outputs["memory"] == outputs["columnar"] == outputs["auto"]
    assert len(outputs["memory"][0].splitlines()) == 1 + 1_500


def test_an_unknown_index_kind_is_refused(tmp_path: Path) -> None:
    shipments = write(tmp_path, SHIPMENTS, "shipments.csv")
    invoice = write(tmp_path, invoice_csv(line(1, "T1", "10.00")))
    code, output = _invoke(str(invoice), "--shipments", str(shipments), "--index", "disk")
    assert code == 2
    assert "'disk' is not one of 'auto', 'memory', 'columnar'" in output
