"""A shipment index in SQLite, for more packages than fit in memory.

Same records and keys as :class:`~shipsync.settlement.MemoryShipmentIndex`, kept in one SQLite
file: a table of packages by tracking number, a table of fallback keys (carrier shipment id and
reference) and a table of billed packages. Lookups are one indexed query each; loading a
shipments file batches its inserts.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from shipsync.settlement._index import (
    RECORD_SEPARATOR,
    Expectation,
    _decode,
    encode_record,
)

__all__ = ["SqliteShipmentIndex"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS packages (
    tracking_number TEXT PRIMARY KEY, record TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS package_keys (
    kind TEXT NOT NULL, key TEXT NOT NULL, tracking_number TEXT NOT NULL,
    UNIQUE (kind, key, tracking_number)
);
CREATE TABLE IF NOT EXISTS billed (tracking_number TEXT PRIMARY KEY) WITHOUT ROWID;
"""
_BATCH = 10_000


class SqliteShipmentIndex:
    """A :class:`~shipsync.settlement.ShipmentIndex` in one SQLite file (``":memory:"`` works)."""

    def __init__(self, path: str | Path) -> None:
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._pending_records: list[tuple[str, str]] = []
        self._pending_keys: list[tuple[str, str, str]] = []

    def close(self) -> None:
        """Write what is pending and close the database."""
        self.flush()
        self._db.close()

    def __enter__(self) -> SqliteShipmentIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        self.flush()
        (count,) = self._db.execute("SELECT count(*) FROM packages").fetchone()
        return int(count)

    def flush(self) -> None:
        """Write buffered packages and keys in one transaction."""
        if not self._pending_records and not self._pending_keys:
            return
        db = self._db
        db.execute("BEGIN")
        db.executemany(
            "INSERT OR REPLACE INTO packages (tracking_number, record) VALUES (?, ?)",
            self._pending_records,
        )
        db.executemany(
            "INSERT OR IGNORE INTO package_keys (kind, key, tracking_number) VALUES (?, ?, ?)",
            self._pending_keys,
        )
        db.execute("COMMIT")
        self._pending_records = []
        self._pending_keys = []

    def add(
        self,
        expectation: Expectation,
        *,
        carrier_shipment_id: str | None = None,
        reference: str | None = None,
    ) -> None:
        """Add (or replace) a package's expectation and its fallback keys."""
        record = encode_record(expectation, carrier_shipment_id, reference)
        self._put(expectation.tracking_number, record)

    def _put(self, tracking: str, record: str) -> None:
        """Buffer a package record (the layout of ``MemoryShipmentIndex``) and its keys."""
        self._pending_records.append((tracking, record))
        carrier_id, reference = record.split(RECORD_SEPARATOR, 8)[6:8]
        if carrier_id:
            self._pending_keys.append(("c", carrier_id, tracking))
        if reference:
            self._pending_keys.append(("r", reference, tracking))
        if len(self._pending_records) >= _BATCH:
            self.flush()

    def _record(self, tracking: str) -> str | None:
        row = self._db.execute(
            "SELECT record FROM packages WHERE tracking_number = ?", (tracking,)
        ).fetchone()
        return None if row is None else str(row[0])

    def get(self, tracking_number: str) -> Expectation | None:
        """The package with this tracking number."""
        self.flush()
        record = self._record(tracking_number)
        return None if record is None else _decode(tracking_number, record)

    def find(
        self, tracking_number: str, carrier_shipment_id: str | None, reference: str | None
    ) -> Expectation | None:
        """By tracking number, then carrier shipment id, then reference; unbilled packages first."""
        self.flush()
        record = self._record(tracking_number)
        if record is not None:
            return _decode(tracking_number, record)
        for kind, key in (("c", carrier_shipment_id), ("r", reference)):
            if key is None:
                continue
            trackings = [
                str(row[0])
                for row in self._db.execute(
                    "SELECT k.tracking_number FROM package_keys k"
                    " LEFT JOIN billed b ON b.tracking_number = k.tracking_number"
                    " WHERE k.kind = ? AND k.key = ?"
                    " ORDER BY b.tracking_number IS NOT NULL, k.rowid",
                    (kind, key),
                )
            ]
            for tracking in trackings:
                found = self._record(tracking)
                if found is not None:
                    return _decode(tracking, found)
        return None

    def mark_billed(self, tracking_number: str) -> bool:
        """Record that the package was billed; True when it had been billed before."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO billed (tracking_number) VALUES (?)", (tracking_number,)
        )
        return cursor.rowcount == 0

    def unmark_billed(self, tracking_number: str) -> None:
        """Forget a billing (its invoice was superseded)."""
        self._db.execute("DELETE FROM billed WHERE tracking_number = ?", (tracking_number,))
