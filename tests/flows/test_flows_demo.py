"""`shipsync demo` (run_demo): the end-to-end run passes its checks and fails loudly otherwise."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from shipsync.canonical._tracking import Milestone
from shipsync.cli._demo import run_demo
from shipsync.cli._demo_host import Ledger, summarise
from shipsync.testing.flows import make_tracking_event


def test_the_demo_runs_end_to_end_and_every_check_passes(tmp_path: Path) -> None:
    """A small demo books, receives, dispatches and replays; every check is ok, exit 0."""
    lines: list[str] = []
    code = run_demo(shipments=16, seed=3, echo=lines.append, workdir=tmp_path, progress=False)
    text = "\n".join(lines)
    assert code == 0, text
    assert "16 shipments" in text
    assert "[FAIL]" not in text
    assert text.count("[ok]") == 7
    assert "delivered" in text
    outbox = (tmp_path / "outbox.jsonl").read_text().splitlines()
    assert outbox


def test_a_failed_check_makes_the_exit_status_non_zero(tmp_path: Path) -> None:
    """When an event the carrier reported never reached the handlers, the demo exits 1."""
    ledger = Ledger(tmp_path / "ledger.db", tmp_path / "outbox.jsonl")
    ledger.outbox.write_text("")
    lost = make_tracking_event("S1", 1, Milestone.PICKED_UP).data
    lines: list[str] = []
    code = summarise(
        echo=lines.append,
        elapsed=1.0,
        ledger=ledger,
        truth={"S1": [lost]},
        statuses=Counter(),
        outcomes=Counter(),
        totals=Counter(),
        replay=(0, 0),
        failed_once=0,
        open_letters=0,
        pending=0,
        holds=0,
        work=tmp_path,
    )
    assert code == 1
    assert "  [FAIL] no event lost: every carrier event reached the handlers" in lines
