"""The host side of ``shipsync demo``: its handlers, its local ledger, and the closing checks.

The demo plays a host application: an execution ledger (or Odoo), a customer notifier writing an
outbox file (failing now and then, its dead letters replayed at the end) and a finance accrual
handler. At the end, what reached them is checked against the carrier's own tracking API: no
event lost, none applied twice.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shipsync.canonical import Event, TrackingEvent
    from shipsync.flows import Dispatcher, HandlerContext, InvoiceReleaseGate

__all__ = ["SOURCE", "Ledger", "subscribe_handlers", "summarise"]

SOURCE = "shipsync/fake"


class Ledger:
    """The local execution ledger, customer outbox and accruals, with call counters."""

    def __init__(self, path: Path, outbox: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = NORMAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS tracking (event_id TEXT PRIMARY KEY, "
            "shipment_id TEXT NOT NULL, body TEXT NOT NULL)"
        )
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS ledger (key TEXT PRIMARY KEY, shipment_id TEXT NOT NULL, "
            "milestone TEXT NOT NULL, status TEXT)"
        )
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS accruals (key TEXT PRIMARY KEY, shipment_id TEXT NOT NULL, "
            "amount TEXT NOT NULL, currency TEXT NOT NULL)"
        )
        self.outbox = outbox
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()


def subscribe_handlers(
    dispatcher: Dispatcher,
    ledger: Ledger,
    quotes: Mapping[str, tuple[str, str]],
    gate: InvoiceReleaseGate,
) -> set[str]:
    """Subscribe the demo's handlers; return the ids of events the notifier fails on once."""
    from shipsync.canonical import MilestoneEvent

    failed_once: set[str] = set()
    db = ledger.db

    def count(name: str) -> None:
        with ledger.lock:
            ledger.calls[name] += 1

    def state(event: Event, ctx: HandlerContext) -> None:
        assert isinstance(event, MilestoneEvent)
        count("state")
        data = event.data
        db.execute(
            "INSERT INTO tracking (event_id, shipment_id, body) VALUES (?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (event.id, data.shipment_id, data.model_dump_json()),
        )

    def execution(event: Event, ctx: HandlerContext) -> None:
        assert isinstance(event, MilestoneEvent)
        count("execution")
        db.execute(
            "INSERT INTO ledger (key, shipment_id, milestone, status) VALUES (?, ?, ?, ?)",
            (ctx.key, event.data.shipment_id, event.milestone.value, "ledger"),
        )

    def notify(event: Event, ctx: HandlerContext) -> None:
        assert isinstance(event, MilestoneEvent)
        count("notify")
        # The customer mailer is down for one event in 15, once: a dead letter, replayed later.
        unlucky = int(hashlib.sha256(event.id.encode()).hexdigest(), 16) % 15 == 0
        if unlucky and event.id not in failed_once:
            failed_once.add(event.id)
            raise ConnectionError("mailer unavailable")
        line = {
            "to": "customer",
            "shipment": event.data.shipment_id,
            "key": ctx.key,
            "milestone": event.milestone.value,
            "at": event.data.occurred_at.isoformat(),
        }
        with ledger.lock, ledger.outbox.open("a") as out:
            out.write(json.dumps(line) + "\n")

    def accrue(event: Event, ctx: HandlerContext) -> None:
        assert isinstance(event, MilestoneEvent)
        count("finance")
        amount, currency = quotes.get(event.data.shipment_id, ("0", "EUR"))
        db.execute(
            "INSERT INTO accruals (key, shipment_id, amount, currency) VALUES (?, ?, ?, ?)",
            (ctx.key, event.data.shipment_id, amount, currency),
        )

    dispatcher.subscribe(None, state, name="state")
    dispatcher.subscribe(None, execution, name="execution")
    dispatcher.subscribe(None, notify, name="notify", blocking=False)
    dispatcher.subscribe("shipment.picked_up", accrue, name="finance")
    dispatcher.subscribe(None, gate, name="invoice-gate")
    return failed_once


def summarise(
    *,
    echo: Callable[[str], None],
    elapsed: float,
    ledger: Ledger,
    truth: Mapping[str, list[TrackingEvent]],
    statuses: Counter[int],
    outcomes: Counter[str],
    totals: Counter[str],
    replay: tuple[int, int],
    failed_once: int,
    open_letters: int,
    pending: int,
    holds: int,
    work: Path,
) -> int:
    from shipsync.canonical import Milestone, TrackingEvent, event_for_tracking, fold

    db = ledger.db
    stored: dict[str, list[TrackingEvent]] = {}
    for shipment_id, body in db.execute("SELECT shipment_id, body FROM tracking"):
        stored.setdefault(shipment_id, []).append(TrackingEvent.model_validate_json(body))
    expected_ids = {
        event_for_tracking(t, source=SOURCE).id
        for events in truth.values()
        for t in events
        if t.milestone is not Milestone.UNKNOWN
    }
    stored_ids = {row[0] for row in db.execute("SELECT event_id FROM tracking")}
    ledger_keys = [row[0] for row in db.execute("SELECT key FROM ledger")]
    outbox = [json.loads(x) for x in ledger.outbox.read_text().splitlines()]
    outbox_keys = [x["key"] for x in outbox]
    picked_up = sum(
        1 for events in truth.values() for t in events if t.milestone is Milestone.PICKED_UP
    )
    accruals = int(db.execute("SELECT count(*) FROM accruals").fetchone()[0])
    by_state: Counter[str] = Counter()
    folds_agree = True
    for shipment_id, events in truth.items():
        ours = fold(stored.get(shipment_id, []), shipment_id=shipment_id)
        theirs = fold(events, shipment_id=shipment_id)
        by_state[ours.status.value] += 1
        folds_agree &= ours.status == theirs.status
    checks = [
        ("no event lost: every carrier event reached the handlers", stored_ids == expected_ids),
        (
            "no event applied twice: one execution per event",
            len(ledger_keys) == len(set(ledger_keys)) == len(expected_ids)
            and ledger.calls["execution"] == len(expected_ids),
        ),
        (
            "every customer notification sent once (after replay)",
            len(outbox_keys) == len(set(outbox_keys)) == len(expected_ids),
        ),
        ("one accrual per pick-up", accruals == picked_up),
        ("folded states match the carrier's tracking", folds_agree),
        ("event log drained", pending == 0),
        ("no dead letter left open", open_letters == 0),
    ]
    echo("")
    echo(f"shipsync demo: {len(truth)} shipments in {elapsed:.1f} s")
    echo("shipments by milestone:")
    for name, n in sorted(by_state.items(), key=lambda kv: (-kv[1], kv[0])):
        echo(f"  {name:<22} {n:>5}")
    echo(f"webhook deliveries received      {sum(statuses.values()):>6}")
    echo(f"  accepted                       {outcomes['accepted']:>6}")
    echo(f"  duplicates absorbed            {outcomes['duplicate']:>6}")
    echo(f"  deferred 503 (sink faults)     {outcomes['deferred']:>6}")
    echo(f"  rejected                       {outcomes['rejected']:>6}")
    echo(f"carrier events                   {len(expected_ids):>6}")
    echo(f"{'deliveries to the SQLite ledger':<33}{len(ledger_keys):>6}")
    echo(f"duplicates absorbed by dispatch  {totals['duplicates']:>6}")
    echo(f"customer notifications (outbox)  {len(outbox_keys):>6}")
    echo(f"accruals                         {accruals:>6}")
    echo(f"events dead-lettered             {totals['dead_lettered']:>6}")
    echo(f"dead letters replayed            {replay[0]:>6}  (failed again: {replay[1]})")
    echo(f"invoice releases on hold         {holds:>6}")
    echo("checks:")
    for text, ok in checks:
        echo(f"  [{'ok' if ok else 'FAIL'}] {text}")
    return 0 if all(ok for _, ok in checks) else 1
