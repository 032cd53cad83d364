"""Parallel run at scale: 100,000 shipments' histories compared from a SQLite shadow record.

Usage: python bench/migration.py [--shipments N]

Builds a shadow record the way shadow mode writes it (per shipment: its status writes and one
note per scan, in batches of 50 pickings), and a legacy side with about 2% of statuses and notes
differing; then times reading the record into shipsync's side, comparing, and building the
report. Prints one table. The peer is reading the same rows with a bare SQLite cursor.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import tempfile
import time
from collections import Counter
from pathlib import Path

from shipsync.canonical import Milestone
from shipsync.canonical.mappings import oca_delivery_state, read_oca_delivery_state
from shipsync.migration import PickingSide, Side, parallel_run, shipsync_side
from shipsync.odoo import IntendedWrite, SQLiteShadowRecorder

STAGES = [
    Milestone.LABEL_CREATED,
    Milestone.PICKED_UP,
    Milestone.IN_TRANSIT,
    Milestone.IN_TRANSIT,
    Milestone.OUT_FOR_DELIVERY,
    Milestone.DELIVERED,
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shipments", type=int, default=100_000)
    args = parser.parse_args()
    rng = random.Random(1)
    folder = Path(tempfile.mkdtemp())
    path = folder / "shadow.sqlite"
    legacy = Side("legacy")
    t0 = time.perf_counter()
    recorder = SQLiteShadowRecorder(path)
    rows = []
    seq = 0
    for batch in range(0, args.shipments, 50):
        ids = range(batch + 1, min(batch + 51, args.shipments + 1))
        notes = []
        for pid in ids:
            final = STAGES[-1] if rng.random() < 0.9 else STAGES[rng.randrange(2, 5)]
            stages = STAGES[: STAGES.index(final) + 1]
            notes += [
                {"model": "stock.picking", "res_id": pid, "body": f"<p><strong>{m.value}</strong>"}
                for m in stages
            ]
            value = oca_delivery_state(final) or ""
            seq += 1
            rows.append(
                IntendedWrite(
                    f"s{seq}",
                    "stock.picking",
                    "write",
                    (pid,),
                    [[pid], {"delivery_state": value}],
                    {},
                    1.7e9 + seq,
                    "bench",
                )
            )
            theirs = legacy.picking(str(pid))
            theirs.status_raw = value if rng.random() > 0.02 else "in_transit"
            theirs.status = read_oca_delivery_state(theirs.status_raw).milestone
            theirs.notes = Counter(m.value for m in stages)
            if rng.random() < 0.02:
                theirs.notes[stages[-1].value] += 1
        seq += 1
        rows.append(
            IntendedWrite(
                f"n{seq}", "mail.message", "create", (), [notes], {}, 1.7e9 + seq, "bench"
            )
        )
    with recorder._lock, recorder._conn:
        recorder._conn.executemany(
            f"INSERT INTO {recorder.table} (key, model, method, record_ids, args, kwargs, at, run)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [w.to_row() for w in rows],
        )
    built = time.perf_counter() - t0
    size = path.stat().st_size / 1e6

    t0 = time.perf_counter()
    bare = sqlite3.connect(path)
    count = sum(1 for _ in bare.execute(f"SELECT * FROM {recorder.table} ORDER BY seq"))
    bare_read = time.perf_counter() - t0

    t0 = time.perf_counter()
    ours = shipsync_side(recorder.writes(), None)
    read = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = parallel_run(ours, legacy)
    compared = time.perf_counter() - t0

    print(
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
        f"{args.shipments:,} shipments, {count:,} shadow rows, {size:.0f} MB SQLite"
    )
    print(f"{'step':<46}{'seconds':>10}")
    print(f"{'build the shadow record and legacy side':<46}{built:>10.2f}")
    print(f"{'peer: bare SQLite read of every row':<46}{bare_read:>10.2f}")
    print(f"{'shadow record -> shipsync side':<46}{read:>10.2f}")
    print(f"{'compare + report':<46}{compared:>10.2f}")
    print(f"{'total (read + compare + report)':<46}{read + compared:>10.2f}")
    print(f"divergences: {len(report.divergences):,} {dict(sorted(report.by_category.items()))}")
    assert isinstance(ours.pickings[next(iter(ours.pickings))], PickingSide)


if __name__ == "__main__":
    main()
