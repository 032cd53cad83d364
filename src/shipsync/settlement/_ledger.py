"""The settlement ledger: SQLite checkpoints, billed packages, an event outbox, posted bills.

Theory of operation: reconciliation commits its progress every few thousand lines in one SQLite
transaction: the invoice's last line number, a running digest of the lines read so far, the running
totals, the packages billed, the events to publish (into an outbox) and the actual accruals
posted. Events leave the outbox only after that commit, and are marked delivered after the sink
took them. A crash therefore loses at most the uncommitted batch, which is recomputed identically
on resume (event ids are stable), and an event is never re-published once marked delivered.
A settled invoice keeps its digest: reading it again emits nothing; reading a different invoice
under the same number is refused.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

__all__ = ["InvoiceRecord", "SettlementLedger"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS invoices (
    carrier TEXT NOT NULL, invoice_number TEXT NOT NULL, status TEXT NOT NULL,
    last_line INTEGER NOT NULL, digest TEXT NOT NULL, state TEXT NOT NULL,
    supersedes TEXT, superseded_by TEXT, bill_reference TEXT,
    PRIMARY KEY (carrier, invoice_number)
);
CREATE TABLE IF NOT EXISTS billed (
    carrier TEXT NOT NULL, tracking_number TEXT NOT NULL, invoice_number TEXT NOT NULL,
    PRIMARY KEY (carrier, tracking_number)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS billed_by_invoice ON billed (carrier, invoice_number);
CREATE TABLE IF NOT EXISTS actuals (
    carrier TEXT NOT NULL, invoice_number TEXT NOT NULL, line_number INTEGER NOT NULL,
    body TEXT NOT NULL, PRIMARY KEY (carrier, invoice_number, line_number)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE, body BLOB NOT NULL,
    delivered INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (delivered, seq);
"""


class InvoiceRecord(NamedTuple):
    """What the ledger knows of one invoice."""

    status: str
    last_line: int
    digest: str
    state: dict[str, Any]
    supersedes: str | None
    superseded_by: str | None
    bill_reference: str | None


class SettlementLedger:
    """Durable settlement progress in one SQLite file (``":memory:"`` for tests)."""

    def __init__(self, path: str | Path) -> None:
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def __enter__(self) -> SettlementLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- invoices ------------------------------------------------------------------------------

    def invoice(self, carrier: str, number: str) -> InvoiceRecord | None:
        """The invoice's record, if it was seen before."""
        row = self._db.execute(
            "SELECT status, last_line, digest, state, supersedes, superseded_by, bill_reference"
            " FROM invoices WHERE carrier = ? AND invoice_number = ?",
            (carrier, number),
        ).fetchone()
        if row is None:
            return None
        return InvoiceRecord(row[0], row[1], row[2], json.loads(row[3]), *row[4:])

    def billed(self, carrier: str) -> Iterator[str]:
        """Every tracking number billed on a (not superseded) invoice of ``carrier``."""
        cursor = self._db.execute(
            "SELECT tracking_number FROM billed WHERE carrier = ?", (carrier,)
        )
        for (tracking,) in cursor:
            yield tracking

    def commit(
        self,
        carrier: str,
        number: str,
        *,
        status: str,
        last_line: int,
        digest: str,
        state: dict[str, Any],
        supersedes: str | None,
        billed: Iterable[str] = (),
        actuals: Iterable[tuple[int, str]] = (),
        events: Iterable[tuple[str, bytes]] = (),
    ) -> None:
        """Record one batch of an invoice's progress atomically."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "INSERT INTO invoices (carrier, invoice_number, status, last_line, digest, state,"
                " supersedes) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (carrier, invoice_number) DO UPDATE SET status = excluded.status,"
                " last_line = excluded.last_line, digest = excluded.digest,"
                " state = excluded.state",
                (carrier, number, status, last_line, digest, json.dumps(state), supersedes),
            )
            db.executemany(
                "INSERT OR IGNORE INTO billed (carrier, tracking_number, invoice_number)"
                " VALUES (?, ?, ?)",
                ((carrier, tracking, number) for tracking in billed),
            )
            db.executemany(
                "INSERT OR REPLACE INTO actuals (carrier, invoice_number, line_number, body)"
                " VALUES (?, ?, ?, ?)",
                ((carrier, number, line, body) for line, body in actuals),
            )
            db.executemany("INSERT OR IGNORE INTO outbox (event_id, body) VALUES (?, ?)", events)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def supersede(
        self, carrier: str, old: str, new: str, events: Iterable[tuple[str, bytes]]
    ) -> list[str]:
        """Mark ``old`` superseded by ``new``, release its billed packages, queue ``events``.

        Returns the released tracking numbers.
        """
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            released = [
                tracking
                for (tracking,) in db.execute(
                    "SELECT tracking_number FROM billed WHERE carrier = ? AND invoice_number = ?",
                    (carrier, old),
                )
            ]
            db.execute(
                "DELETE FROM billed WHERE carrier = ? AND invoice_number = ?", (carrier, old)
            )
            db.execute(
                "UPDATE invoices SET status = 'superseded', superseded_by = ?"
                " WHERE carrier = ? AND invoice_number = ?",
                (new, carrier, old),
            )
            db.executemany("INSERT OR IGNORE INTO outbox (event_id, body) VALUES (?, ?)", events)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return released

    def actuals(self, carrier: str, number: str) -> Iterator[str]:
        """The actual accruals posted for ``number``, as the JSON bodies stored."""
        cursor = self._db.execute(
            "SELECT body FROM actuals WHERE carrier = ? AND invoice_number = ?"
            " ORDER BY line_number",
            (carrier, number),
        )
        for (body,) in cursor:
            yield body

    def record_bill(self, carrier: str, number: str, reference: str) -> None:
        """Remember the vendor bill posted for an invoice."""
        self._db.execute(
            "UPDATE invoices SET bill_reference = ? WHERE carrier = ? AND invoice_number = ?",
            (reference, carrier, number),
        )

    # -- outbox --------------------------------------------------------------------------------

    def pending(self, limit: int = 10_000) -> list[tuple[int, bytes]]:
        """Undelivered events, oldest first."""
        rows = self._db.execute(
            "SELECT seq, body FROM outbox WHERE delivered = 0 ORDER BY seq LIMIT ?", (limit,)
        ).fetchall()
        return [(seq, bytes(body)) for seq, body in rows]

    def delivered(self, seqs: Iterable[int]) -> None:
        """Mark outbox entries delivered."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        db.executemany("UPDATE outbox SET delivered = 1 WHERE seq = ?", ((s,) for s in seqs))
        db.execute("COMMIT")

    def outbox_size(self) -> int:
        """How many events the outbox holds, delivered or not."""
        (count,) = self._db.execute("SELECT count(*) FROM outbox").fetchone()
        return int(count)
