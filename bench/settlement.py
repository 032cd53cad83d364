"""Settlement benchmark: shipsync's reconciliation vs a pandas merge-and-compare, same files.

    .venv/bin/python bench/settlement.py --lines 1000000 --shipments 1000000

Generates a shipments file and a labelled fake-carrier invoice file (``shipsync.settlement``'s
sample generator, seeded), then runs its contenders, each in its own fresh process so peak
memory (``VmHWM``, the peak of its own address space) is its own:

- ``oracle``: a plain, separate exact-``Decimal`` implementation of the rules (reference);
- ``shipsync``: ``load_shipments_csv`` + ``reconcile_file`` (load the shipments file, stream the
  invoice), collecting every line's class through ``on_line``;
- ``shipsync-report``: the same, producing only the report (class totals per invoice);
- ``columnar`` / ``columnar-report``: the same two with ``ColumnarShipmentIndex.load_csv``
  instead of ``load_shipments_csv`` (the ``columnar`` extra: Arrow reads both files, runs of
  ordinary lines are classified at once);
- ``columnar-batches``: the columnar index collecting every line's class through ``on_lines``
  (a ``LineBatch`` of consecutive lines at a time; its ``line_classes``, no object per line);
- ``pandas``: ``read_csv`` both files, merge on tracking number (then carrier shipment id),
  compare in float64, classify with ``numpy.select``, as finance teams do it;
- ``decimal-loop``: a plain streaming exact-``Decimal`` loop written by hand (shipments into a
  dict, invoice streamed, tolerances compared, fewer classes), the second yardstick.

Each contender but the two ``-report`` ones writes one class code per line; the table shows lines/s
(wall and CPU time of the process; on a shared machine CPU time is the steadier figure), peak RSS,
and how many lines each classifies differently from the oracle. Timings include reading both
files. Needs the ``bench`` extra
(pandas) and the ``columnar`` extra.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

CLASSES = [
    "matched",
    "overcharge",
    "undercharge",
    "unquoted_surcharge",
    "weight_adjustment",
    "address_correction",
    "duplicate_line",
    "unknown_shipment",
    "billed_after_cancellation",
    "currency_mismatch",
]
CODE = {name: chr(ord("a") + i).encode() for i, name in enumerate(CLASSES)}
CHARGES = [
    "base_freight",
    "fuel",
    "residential",
    "address_correction",
    "dim_weight_adjustment",
    "accessorial",
    "duties_and_taxes",
    "insurance",
    "pickup",
    "other",
]
# The sample rules: base freight 0.05 or 2 %, fuel 0.10 or 5 %, everything else exact.
TOLERANCE = dict.fromkeys(CHARGES, ("0", "0"))
TOLERANCE["base_freight"] = ("0.05", "2")
TOLERANCE["fuel"] = ("0.10", "5")
RANK = {
    name: (0 if name == "address_correction" else 1 if name == "dim_weight_adjustment" else 2 + i)
    for i, name in enumerate(CHARGES)
}


def _peak_mb() -> float:
    """This process's peak resident memory in MB.

    Linux's ``ru_maxrss`` survives ``exec``: a child started by a parent holding 585 MB (say,
    after generating the files) reports at least 585 MB, whatever it used itself. ``VmHWM`` is the
    peak of this process's own address space, so it is read where the system has it."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the exact oracle: deliberately plain, shares no code with shipsync ---------------------------


def run_oracle(invoice: Path, shipments: Path, out: Path) -> dict[str, float]:
    tol = {k: (Decimal(a), Decimal(p)) for k, (a, p) in TOLERANCE.items()}
    ships: dict[str, dict[str, object]] = {}
    by_carrier_id: dict[str, str] = {}
    with shipments.open(newline="") as handle:
        for row in csv.DictReader(handle):
            quoted = {k: Decimal(row[k]) for k in CHARGES if row.get(k)}
            ships[row["tracking_number"]] = {
                "currency": row["currency"],
                "cancelled": row["status"] == "cancelled",
                "quoted": quoted,
            }
            if row["carrier_shipment_id"]:
                by_carrier_id.setdefault(row["carrier_shipment_id"], row["tracking_number"])
    billed_packages: set[str] = set()
    codes = bytearray()
    with invoice.open(newline="") as handle:
        for row in csv.DictReader(handle):
            key = row["tracking_number"]
            if key not in ships:
                key = by_carrier_id.get(row["carrier_shipment_id"] or "", "")
            ship = ships.get(key)
            if ship is None:
                codes += CODE["unknown_shipment"]
                continue
            if key in billed_packages:
                codes += CODE["duplicate_line"]
                continue
            billed_packages.add(key)
            if ship["cancelled"]:
                codes += CODE["billed_after_cancellation"]
                continue
            if ship["currency"] != row["currency"]:
                codes += CODE["currency_mismatch"]
                continue
            quoted: dict[str, Decimal] = ship["quoted"]  # type: ignore[assignment]
            billed = {k: Decimal(row[k]) for k in CHARGES if row[k]}
            unquoted = [
                k for k, v in billed.items() if k not in quoted and v and abs(v) > tol[k][0]
            ]
            if unquoted:
                first = min(unquoted, key=RANK.__getitem__)
                codes += CODE[
                    "address_correction"
                    if first == "address_correction"
                    else "weight_adjustment"
                    if first == "dim_weight_adjustment"
                    else "unquoted_surcharge"
                ]
                continue
            worst, worst_diff = None, Decimal(0)
            for k in CHARGES:
                if k not in quoted:
                    continue
                q = quoted[k]
                if k not in billed and not q:
                    continue
                diff = billed.get(k, Decimal(0)) - q
                absolute, percent = tol[k]
                if abs(diff) <= absolute or abs(diff) * 100 <= abs(q) * percent:
                    continue
                if worst is None or abs(diff) > abs(worst_diff):
                    worst, worst_diff = k, diff
            if worst is None:
                codes += CODE["matched"]
            else:
                codes += CODE["overcharge" if worst_diff > 0 else "undercharge"]
    out.write_bytes(bytes(codes))
    return {"lines": len(codes)}


# --- a plain streaming Decimal loop: the second yardstick ----------------------------------------


def run_decimal_loop(invoice: Path, shipments: Path, out: Path) -> dict[str, float]:
    """What one writes by hand in an afternoon: shipments into a dict of Decimals, the invoice
    streamed through csv.reader, tolerances compared exactly, fewer classes (no charge-type
    precedence, no line problems, no events), one class code per line."""
    wall, cpu = time.perf_counter(), time.process_time()
    tol = {k: (Decimal(a), Decimal(p)) for k, (a, p) in TOLERANCE.items()}
    ships: dict[str, tuple[str, bool, dict[str, Decimal]]] = {}
    by_carrier_id: dict[str, str] = {}
    with shipments.open(newline="") as handle:
        reader = csv.reader(handle)
        head = next(reader)
        at = {name: i for i, name in enumerate(head)}
        amounts = [(at[k], k) for k in CHARGES if k in at]
        i_trk, i_cid, i_cur, i_st = (
            at["tracking_number"],
            at["carrier_shipment_id"],
            at["currency"],
            at["status"],
        )
        for row in reader:
            quoted = {k: Decimal(row[i]) for i, k in amounts if row[i]}
            ships[row[i_trk]] = (row[i_cur], row[i_st] == "cancelled", quoted)
            if row[i_cid]:
                by_carrier_id.setdefault(row[i_cid], row[i_trk])
    billed_packages: set[str] = set()
    codes = bytearray()
    with invoice.open(newline="") as handle:
        reader = csv.reader(handle)
        head = next(reader)
        at = {name: i for i, name in enumerate(head)}
        charges = [(at[k], k) for k in CHARGES]
        i_trk, i_cid, i_cur = at["tracking_number"], at["carrier_shipment_id"], at["currency"]
        for row in reader:
            key = row[i_trk]
            ship = ships.get(key)
            if ship is None:
                key = by_carrier_id.get(row[i_cid], "")
                ship = ships.get(key)
            if ship is None:
                codes += CODE["unknown_shipment"]
                continue
            if key in billed_packages:
                codes += CODE["duplicate_line"]
                continue
            billed_packages.add(key)
            currency, cancelled, quoted = ship
            if cancelled:
                codes += CODE["billed_after_cancellation"]
                continue
            if currency != row[i_cur]:
                codes += CODE["currency_mismatch"]
                continue
            worst = Decimal(0)
            unquoted = False
            for i, k in charges:
                billed = Decimal(row[i]) if row[i] else None
                q = quoted.get(k)
                if q is None:
                    unquoted = unquoted or (billed is not None and abs(billed) > tol[k][0])
                    continue
                diff = (billed or 0) - q
                if abs(diff) <= tol[k][0] or abs(diff) * 100 <= abs(q) * tol[k][1]:
                    continue
                if abs(diff) > abs(worst):
                    worst = diff
            if unquoted:
                codes += CODE["unquoted_surcharge"]
            elif worst:
                codes += CODE["overcharge" if worst > 0 else "undercharge"]
            else:
                codes += CODE["matched"]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    out.write_bytes(bytes(codes))
    return {"lines": len(codes), "wall": wall, "cpu": cpu}


# --- shipsync -------------------------------------------------------------------------------------


def _run_ours(
    invoice: Path, shipments: Path, out: Path, *, columnar: bool, per_line: bool | str
) -> dict[str, float]:
    """shipsync: load the shipments file (``load_shipments_csv``, or
    ``ColumnarShipmentIndex.load_csv``), then ``reconcile_file``; with ``per_line``, every line's
    class through ``on_line`` (written as codes), with ``per_line="batches"`` through
    ``on_lines`` (each batch's ``line_classes``), else only the report."""
    from shipsync.canonical import LineClass
    from shipsync.settlement import (
        FAKE_CARRIER_COLUMNS,
        ColumnarShipmentIndex,
        load_shipments_csv,
        reconcile_file,
    )
    from shipsync.testing.settlement import SAMPLE_RULES

    codes = bytearray()
    code_of = {kind: CODE[kind.value] for kind in LineClass}
    append = codes.extend

    def on_line(outcome: object) -> None:
        append(code_of[outcome.line_class])  # type: ignore[attr-defined]

    def on_lines(batch: object) -> None:
        append(b"".join(map(code_of.__getitem__, batch.line_classes)))  # type: ignore[attr-defined]

    load = ColumnarShipmentIndex.load_csv if columnar else load_shipments_csv
    wall0, cpu0 = time.perf_counter(), time.process_time()
    index = load(shipments)
    load_cpu = time.process_time() - cpu0
    report = reconcile_file(
        invoice,
        FAKE_CARRIER_COLUMNS,
        index,
        rules=SAMPLE_RULES,
        on_line=on_line if per_line is True else None,
        on_lines=on_lines if per_line == "batches" else None,
    )
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    assert report.problem_count == 0, report.problems[:3]
    if per_line:
        out.write_bytes(bytes(codes))
    lines = sum(summary.line_count for summary in report.invoices)
    return {"lines": lines, "wall": wall, "cpu": cpu, "load_cpu": load_cpu}


def run_shipsync(invoice: Path, shipments: Path, out: Path) -> dict[str, float]:
    return _run_ours(invoice, shipments, out, columnar=False, per_line=True)


def run_shipsync_report(invoice: Path, shipments: Path, out: Path) -> dict[str, float]:
    return _run_ours(invoice, shipments, out, columnar=False, per_line=False)


def run_columnar(invoice: Path, shipments: Path, out: Path) -> dict[str, float]:
    return _run_ours(invoice, shipments, out, columnar=True, per_line=True)


def run_columnar_batches(invoice: Path, shipments: Path, out: Path) -> dict[str, float]:
    return _run_ours(invoice, shipments, out, columnar=True, per_line="batches")


def run_columnar_report(invoice: Path, shipments: Path, out: Path) -> dict[str, float]:
    return _run_ours(invoice, shipments, out, columnar=True, per_line=False)


# --- pandas, floats ------------------------------------------------------------------


def run_pandas(invoice: Path, shipments: Path, out: Path) -> dict[str, float]:
    import numpy as np
    import pandas as pd

    wall, cpu = time.perf_counter(), time.process_time()
    ids = {
        "invoice_number": str,
        "tracking_number": str,
        "carrier_shipment_id": str,
        "currency": str,
    }
    inv = pd.read_csv(
        invoice,
        usecols=[
            "invoice_number",
            "line_number",
            "tracking_number",
            "carrier_shipment_id",
            "currency",
            *CHARGES,
        ],
        dtype={**ids, **dict.fromkeys(CHARGES, "float64")},
    )
    shp = pd.read_csv(
        shipments,
        usecols=lambda c: (
            c
            in {
                "shipment_id",
                "tracking_number",
                "carrier_shipment_id",
                "currency",
                "status",
                *CHARGES,
            }
        ),
        dtype={
            "shipment_id": str,
            "tracking_number": str,
            "carrier_shipment_id": str,
            "currency": str,
            "status": str,
        },
    )
    for c in CHARGES:
        if c not in shp:
            shp[c] = np.nan
    shp = shp.add_prefix("s_")
    m = inv.merge(shp, how="left", left_on="tracking_number", right_on="s_tracking_number")
    miss = m["s_shipment_id"].isna() & m["carrier_shipment_id"].notna()
    if miss.any():
        fb = m.loc[miss, ["carrier_shipment_id"]].merge(
            shp.drop_duplicates("s_carrier_shipment_id"),
            how="left",
            left_on="carrier_shipment_id",
            right_on="s_carrier_shipment_id",
        )
        scols = list(shp.columns)
        m.loc[miss, scols] = fb[scols].to_numpy()
    unknown = m["s_shipment_id"].isna().to_numpy()
    dup = (~unknown) & m["s_tracking_number"].duplicated().to_numpy()
    cancelled = (m["s_status"] == "cancelled").to_numpy()
    mismatch = (m["s_currency"] != m["currency"]).to_numpy()
    n = len(m)
    unquoted_rank = np.full(n, 99)
    worst_abs = np.zeros(n)
    worst_diff = np.zeros(n)
    for c in CHARGES:
        absolute, percent = (float(x) for x in TOLERANCE[c])
        billed = m[c].fillna(0.0).to_numpy()
        quoted = m["s_" + c].to_numpy(dtype="float64")
        not_quoted = np.isnan(quoted)
        unq = not_quoted & (billed != 0) & (np.abs(billed) > absolute)
        unquoted_rank = np.where(unq, np.minimum(unquoted_rank, RANK[c]), unquoted_rank)
        q = np.nan_to_num(quoted)
        diff = billed - q
        size = np.abs(diff)
        within = (size <= absolute) | (size * 100 <= np.abs(q) * percent)
        out_t = (~not_quoted) & ~within & ~((q == 0) & np.isnan(m[c].to_numpy()))
        better = out_t & (size > worst_abs)
        worst_abs = np.where(better, size, worst_abs)
        worst_diff = np.where(better, diff, worst_diff)
    has_unq = unquoted_rank < 99
    labels = np.select(
        [
            unknown,
            dup,
            cancelled,
            mismatch,
            has_unq & (unquoted_rank == 0),
            has_unq & (unquoted_rank == 1),
            has_unq,
            worst_diff > 0,
            worst_diff < 0,
        ],
        [
            CODE[k][0]
            for k in (
                "unknown_shipment",
                "duplicate_line",
                "billed_after_cancellation",
                "currency_mismatch",
                "address_correction",
                "weight_adjustment",
                "unquoted_surcharge",
                "overcharge",
                "undercharge",
            )
        ],
        default=CODE["matched"][0],
    ).astype(np.uint8)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    out.write_bytes(labels.tobytes())
    return {"lines": n, "wall": wall, "cpu": cpu}


RUNNERS = {
    "oracle": run_oracle,
    "decimal-loop": run_decimal_loop,
    "shipsync": run_shipsync,
    "shipsync-report": run_shipsync_report,
    "columnar": run_columnar,
    "columnar-batches": run_columnar_batches,
    "columnar-report": run_columnar_report,
    "pandas": run_pandas,
}
OURS = ("shipsync", "shipsync-report", "columnar", "columnar-batches", "columnar-report")
REPORT_ONLY = ("shipsync-report", "columnar-report")


def child(name: str, invoice: str, shipments: str, out: str) -> None:
    result = RUNNERS[name](Path(invoice), Path(shipments), Path(out))
    result["peak_mb"] = _peak_mb()
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--shipments", type=int, default=1_000_000)
    parser.add_argument("--invoices", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--reuse", action="store_true", help="reuse the files in --workdir")
    parser.add_argument("--child", nargs=4, metavar=("NAME", "INVOICE", "SHIPMENTS", "OUT"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    from shipsync.testing.settlement import write_sample_files

    work = Path(args.workdir or tempfile.mkdtemp(prefix="settlement-bench-"))
    started = time.perf_counter()
    if args.reuse and (work / "invoice.csv").exists():
        from shipsync.testing.settlement import SampleFiles

        files = SampleFiles(work / "shipments.csv", work / "invoice.csv")
    else:
        files = write_sample_files(
            work, shipments=args.shipments, lines=args.lines, seed=args.seed, invoices=args.invoices
        )
    print(
        f"generated {args.lines:,} lines vs {args.shipments:,} shipments in {work} "
        f"({time.perf_counter() - started:.1f} s)"
    )
    results: dict[str, dict[str, float]] = {}
    for name in RUNNERS:
        out = work / f"{name}.codes"
        proc = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                name,
                str(files.invoice),
                str(files.shipments),
                str(out),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    oracle = (work / "oracle.codes").read_bytes()
    labels = bytearray()
    with files.invoice.open(newline="") as handle:
        for row in csv.DictReader(handle):
            labels += CODE[row["x_injected"]]
    print(
        f"oracle agrees with the generator's labels on "
        f"{sum(a == b for a, b in zip(oracle, labels, strict=True)):,} of {len(labels):,} lines"
    )
    print()
    print(
        f"{'contender':<16} {'lines/s (wall)':>15} {'lines/s (cpu)':>14} {'peak MB':>8} "
        f"{'misclassified':>20}"
    )
    for name in (*OURS, "pandas", "decimal-loop"):
        r = results[name]
        if name in REPORT_ONLY:
            wrong = "(no per-line output)"
        elif name == "decimal-loop":
            wrong = "(fewer classes)"
        else:
            codes = (work / f"{name}.codes").read_bytes()
            wrong = f"{sum(a != b for a, b in zip(codes, oracle, strict=True)):,}"
        print(
            f"{name:<16} {r['lines'] / r['wall']:>15,.0f} {r['lines'] / r['cpu']:>14,.0f} "
            f"{r['peak_mb']:>8,.0f} {wrong:>20}"
        )
    for name in OURS:
        r = results[name]
        print(
            f"{name}: loading the shipments file took {r['load_cpu']:.2f} s CPU of {r['cpu']:.2f} s"
        )
    print()
    for peer in ("pandas", "decimal-loop"):
        p = results[peer]
        for name in OURS:
            s = results[name]
            print(
                f"{name}/{peer}: throughput {p['wall'] / s['wall']:.2f}x (wall), "
                f"{p['cpu'] / s['cpu']:.2f}x (cpu); peak memory {s['peak_mb'] / p['peak_mb']:.2f}x"
            )
    print("targets: >= 1.0x pandas' throughput at <= 0.5x its memory; >= 2x the decimal loop")


if __name__ == "__main__":
    main()
