"""``shipsync reconcile``: reconcile a carrier invoice file against a shipments file."""

from __future__ import annotations

import csv
import importlib.util
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from shipsync.canonical import Event
    from shipsync.settlement import LineOutcome, MatchRules, ReconciliationReport, ShipmentIndex

__all__ = ["reconcile_command", "summary_table"]

_LINE_FIELDS = [
    "invoice_number",
    "line_number",
    "file_line",
    "tracking_number",
    "class",
    "billed",
    "currency",
    "shipment_id",
    "expected",
    "expected_currency",
    "charge_type",
    "difference",
]
_SHOWN_PROBLEMS = 20


def _parse_tolerances(values: tuple[str, ...]) -> MatchRules:
    from shipsync.canonical import ChargeType
    from shipsync.errors import ShipsyncError
    from shipsync.settlement import MatchRules, Tolerance

    tolerances: dict[ChargeType, Tolerance] = {}
    for value in values:
        name, sep, spec = value.partition("=")
        absolute, _, percent = spec.partition(":")
        try:
            kind = ChargeType(name.strip())
            if not sep:
                raise ValueError
            tolerances[kind] = Tolerance(absolute=absolute or "0", percent=percent or "0")
        except (ValueError, ShipsyncError):
            raise click.BadParameter(
                f"{value!r}: expected CHARGE=ABSOLUTE[:PERCENT], e.g. base_freight=0.05:2",
                param_hint="--tolerance",
            ) from None
    return MatchRules(tolerances=tolerances)


def _progress_lines(handle: IO[str], bar: Any) -> Iterator[str]:
    for line in handle:
        bar.update(len(line))
        yield line


def _cell(value: object) -> str:
    from shipsync.canonical import ChargeType, LineClass

    if value is None:
        return ""
    if isinstance(value, LineClass | ChargeType):
        return value.value
    return str(value)


@click.command("reconcile")
@click.argument(
    "invoice", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)
)
@click.option("--carrier", default="fake", show_default=True, help="Whose column mapping to use.")
@click.option(
    "--shipments",
    required=True,
    type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path),
    help="Shipments file: one row per package with the expected charges.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write a report: .json (summary, problems) or .csv (one row per line).",
)
@click.option(
    "--ledger",
    "ledger_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite ledger: checkpoint the run, skip invoices settled before.",
)
@click.option(
    "--events",
    "events_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Append the events as JSON lines to this file.",
)
@click.option(
    "--index",
    "index_kind",
    type=click.Choice(["auto", "memory", "columnar"]),
    default="auto",
    show_default=True,
    help="How to hold the shipments: columnar needs the columnar extra (pyarrow); auto takes it "
    "when installed and the run has neither --ledger nor --events.",
)
@click.option(
    "--tolerance",
    "tolerances",
    multiple=True,
    metavar="CHARGE=ABS[:PCT]",
    help="Tolerance of a charge type, e.g. base_freight=0.05:2 (repeatable).",
)
def reconcile_command(
    invoice: Path,
    carrier: str,
    shipments: Path,
    report_path: Path | None,
    ledger_path: Path | None,
    events_path: Path | None,
    index_kind: str,
    tolerances: tuple[str, ...],
) -> None:
    """Reconcile the carrier invoice file INVOICE against the shipments file.

    Every line is classified (matched, overcharge, undercharge, unquoted surcharge, weight
    adjustment, address correction, duplicate line, unknown shipment, billed after cancellation,
    currency mismatch); the summary totals back to each invoice. Malformed rows are reported
    with their line numbers and do not stop the run.
    """
    from shipsync.errors import ShipsyncError
    from shipsync.settlement import (
        Reconciler,
        SettlementLedger,
        columns_for,
        load_shipments_csv,
        open_invoice_file,
    )

    if report_path is not None and report_path.suffix.lower() not in (".json", ".csv"):
        raise click.BadParameter("the report must end in .json or .csv", param_hint="--report")
    rules = _parse_tolerances(tolerances)
    ledger = SettlementLedger(ledger_path) if ledger_path is not None else None
    line_file: IO[str] | None = None
    events_file: IO[str] | None = None
    try:
        columns = columns_for(carrier)
        if _columnar(index_kind, plain_run=ledger is None and events_path is None):
            from shipsync.settlement import ColumnarShipmentIndex

            index: ShipmentIndex = ColumnarShipmentIndex.load_csv(shipments)
        else:
            index = load_shipments_csv(shipments)
        on_line = None
        if report_path is not None and report_path.suffix.lower() == ".csv":
            line_file = report_path.open("w", newline="", encoding="utf-8")
            writer = csv.writer(line_file, lineterminator="\n")
            writer.writerow(_LINE_FIELDS)

            def on_line(outcome: LineOutcome) -> None:
                writer.writerow([_cell(value) for value in outcome])

        on_event = None
        if events_path is not None:
            events_file = events_path.open("a", encoding="utf-8")
            sink = events_file

            def on_event(event: Event) -> None:
                sink.write(event.to_json().decode() + "\n")

        reconciler = Reconciler(
            index, carrier=carrier, rules=rules, ledger=ledger, on_line=on_line, on_event=on_event
        )
        size = invoice.stat().st_size
        with (
            open_invoice_file(invoice) as handle,
            click.progressbar(length=size, label="reconciling", file=sys.stderr) as bar,
        ):
            report = reconciler.run_file(_progress_lines(handle, bar), columns)
    except ShipsyncError as exc:
        raise click.ClickException(str(exc) + _delimiter_note(exc, invoice, carrier)) from None
    finally:
        if ledger is not None:
            ledger.close()
        if line_file is not None:
            line_file.close()
        if events_file is not None:
            events_file.close()
    if report_path is not None and report_path.suffix.lower() == ".json":
        report_path.write_text(report.model_dump_json(indent=2), encoding="utf-8")
    click.echo(summary_table(report))
    if report.line_count == 0 and report.problem_count:
        raise SystemExit(1)  # nothing in the file could be reconciled


def _columnar(kind: str, *, plain_run: bool) -> bool:
    """Whether to hold the shipments in a ``ColumnarShipmentIndex``."""
    if kind == "memory":
        return False
    available = importlib.util.find_spec("pyarrow") is not None
    if kind == "columnar":
        if not available:
            raise click.BadParameter(
                "the columnar index needs pyarrow: pip install 'shipsync[columnar]'",
                param_hint="--index",
            )
        return True
    # with a ledger or events every line takes the row path, where the memory index is faster
    return available and plain_run


_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def _delimiter_note(error: Exception, invoice: Path, carrier: str) -> str:
    """For a header without the mapping's columns: which delimiter split it, into how many cells."""
    from shipsync.errors import InvoiceFileError, ShipsyncError
    from shipsync.settlement import columns_for

    if not isinstance(error, InvoiceFileError) or error.line != 1:
        return ""
    if "required column" not in str(error):
        return ""
    try:
        with invoice.open(encoding="utf-8-sig", newline="") as handle:
            header = handle.readline().rstrip("\r\n")
        delimiter = columns_for(carrier).detect_delimiter(header)
    except (OSError, UnicodeDecodeError, ShipsyncError):
        return ""
    name = _DELIMITER_NAMES.get(delimiter, repr(delimiter))
    cells = len(header.split(delimiter))
    tried = ", ".join(_DELIMITER_NAMES.values())
    return (
        f" (the header was read with the {name} delimiter, which splits it into {cells} "
        f"cell(s); delimiters tried: {tried})"
    )


def summary_table(report: ReconciliationReport) -> str:
    """The summary the CLI prints: lines and amounts per class, invoices, the total check."""
    from shipsync.canonical import LineClass
    from shipsync.settlement import InvoiceStatus

    out: list[str] = []
    for summary in report.invoices:
        note = f"  ({summary.note})" if summary.note else ""
        out.append(
            f"invoice {summary.invoice_number}: {summary.status.value}, {summary.line_count} lines,"
            f" total {summary.total}{note}"
        )
    settled = [s for s in report.invoices if s.status is InvoiceStatus.SETTLED]
    currencies = sorted({s.currency for s in settled})
    totals = report.class_totals()
    if settled:
        out.append("")
        out.append(f"{'class':<26} {'lines':>10} " + " ".join(f"{c:>16}" for c in currencies))
        for kind in LineClass:
            lines = sum(totals[(kind, c)].lines for c in currencies if (kind, c) in totals)
            if not lines:
                continue
            amounts = [
                totals[(kind, c)].amount if (kind, c) in totals else Decimal(0) for c in currencies
            ]
            out.append(f"{kind.value:<26} {lines:>10,} " + " ".join(f"{a:>16,}" for a in amounts))
        out.append("-" * (38 + 17 * len(currencies)))
        for label, attr in (
            ("invoice total", "total"),
            ("matched", "matched_total"),
            ("disputed", "disputed_total"),
            ("unknown", "unknown_total"),
        ):
            sums = [
                sum((getattr(s, attr).amount for s in settled if s.currency == c), Decimal(0))
                for c in currencies
            ]
            count = report.line_count if attr == "total" else ""
            out.append(f"{label:<26} {count!s:>10} " + " ".join(f"{a:>16,}" for a in sums))
        out.append("check: matched + disputed + unknown = invoice total, to the cent: OK")
    if not report.invoices and report.problem_count:
        out.append(
            f"nothing reconciled: all {report.problem_count} row(s) of the file have a problem"
        )
    if report.problem_count:
        out.append("")
        out.append(f"{report.problem_count} row(s) not reconciled:")
        for problem in report.problems[:_SHOWN_PROBLEMS]:
            where = f"line {problem.file_line}: " if problem.file_line is not None else ""
            out.append(f"  {where}{problem.message}")
        if report.problem_count > _SHOWN_PROBLEMS:
            out.append(f"  ... and {report.problem_count - _SHOWN_PROBLEMS} more")
    return "\n".join(out)
