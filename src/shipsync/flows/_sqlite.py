"""SQLite event log: the embedded default, for several processes on one machine.

Theory of operation. Events live in ``{table}`` keyed by ``(partition, pos)``, where ``pos``
counts up within a partition. ``{table}_partitions`` keeps one row per partition: ``head`` (the
last published position), ``cursor`` (the last acknowledged one) and a lease (``owner``,
``lease_until``, ``leased_to``). ``receive`` takes partitions with ``head > cursor`` whose lease is
free or expired, leases them to a fresh owner id and returns their next events in order; ``ack``
moves the cursor forward (never back) and frees the lease once everything leased was
acknowledged; ``release`` frees the lease without moving the cursor. Every write runs in a
``BEGIN IMMEDIATE`` transaction, so SQLite's database lock serialises publishers and consumers of
all processes. A consumer killed mid-batch leaves its lease to expire; the next consumer resumes
at the cursor, so nothing is lost and handled events may come once more (at least once).
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from os import PathLike
from typing import TypeVar

from shipsync.canonical import Event, EventCatalogue, default_catalogue
from shipsync.errors import ConfigurationError, EventLogUnavailableError
from shipsync.telemetry import _hooks as _telemetry

from ._log import Delivery, decode_delivery, partition_of
from ._threaded import ThreadedAsyncLog

__all__ = ["AsyncSQLiteEventLog", "SQLiteEventLog", "check_table"]

T = TypeVar("T")

DEFAULT_TABLE = "shipsync_events"


def check_table(table: str) -> str:
    """Check that ``table`` is a plain ASCII identifier (it is put into SQL text)."""
    if not (table.isidentifier() and table.isascii() and len(table) <= 40):
        raise ConfigurationError("a table name is an ASCII identifier of <= 40 chars", path="table")
    return table


class SQLiteEventLog:
    """An event log in a SQLite file.

    Args:
        path: the database file; created with its tables when missing.
        table: base name of the tables (``{table}`` and ``{table}_partitions``).
        lease: seconds a consumer holds a partition before another may take it over.
        catalogue: parses stored events (default: the built-in catalogue).
        clock: seconds since the epoch; processes on one machine share it.
        timeout: seconds a writer waits for another process's lock before the log is unavailable.
        synchronous: SQLite's ``synchronous`` pragma; ``"FULL"`` (default) makes ``publish``
            survive power loss, ``"NORMAL"`` survives process crashes only and is faster.
    """

    def __init__(
        self,
        path: str | PathLike[str],
        *,
        table: str = DEFAULT_TABLE,
        lease: float = 30.0,
        catalogue: EventCatalogue = default_catalogue,
        clock: Callable[[], float] = time.time,
        timeout: float = 30.0,
        synchronous: str = "FULL",
    ) -> None:
        if synchronous.upper() not in {"NORMAL", "FULL", "EXTRA"}:
            raise ConfigurationError("synchronous is NORMAL, FULL or EXTRA", path="synchronous")
        if lease <= 0:
            raise ConfigurationError("lease must be positive", path="lease")
        self.path = path
        self.table = t = check_table(table)
        self.lease = lease
        self.catalogue = catalogue
        self._clock = clock
        self._lock = threading.RLock()
        self._p = p = f"{t}_partitions"
        self._sql_pending = (
            f"SELECT partition, cursor, attempts FROM {p} "
            "WHERE head > cursor AND lease_until <= ? ORDER BY lease_until LIMIT ?"
        )
        self._sql_events = (
            f"SELECT pos, body FROM {t} WHERE partition = ? AND pos > ? ORDER BY pos LIMIT ?"
        )
        self._sql_lease = (
            f"UPDATE {p} SET owner = ?, lease_until = ?, leased_to = ?, attempts = attempts + 1 "
            "WHERE partition = ?"
        )
        self._sql_ack = (
            f"UPDATE {p} SET cursor = max(cursor, ?1), "
            "attempts = CASE WHEN ?1 > cursor THEN 0 ELSE attempts END, "
            "lease_until = CASE WHEN owner = ?2 AND ?1 >= leased_to THEN 0 ELSE lease_until END, "
            "owner = CASE WHEN owner = ?2 AND ?1 >= leased_to THEN NULL ELSE owner END "
            "WHERE partition = ?3"
        )
        self._sql_release = (
            f"UPDATE {p} SET owner = NULL, lease_until = ? WHERE partition = ? AND owner = ?"
        )
        try:
            self._conn = sqlite3.connect(
                path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
            self._conn.execute(
                f"CREATE TABLE IF NOT EXISTS {t} (partition TEXT NOT NULL, pos INTEGER NOT NULL, "
                "event_id TEXT NOT NULL, type TEXT NOT NULL, body BLOB NOT NULL, "
                "published_at REAL NOT NULL, PRIMARY KEY (partition, pos)) WITHOUT ROWID"
            )
            self._conn.execute(
                f"CREATE TABLE IF NOT EXISTS {p} (partition TEXT PRIMARY KEY, "
                "head INTEGER NOT NULL DEFAULT 0, cursor INTEGER NOT NULL DEFAULT 0, "
                "owner TEXT, lease_until REAL NOT NULL DEFAULT 0, "
                "leased_to INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0)"
            )
            self._conn.execute(
                f"CREATE INDEX IF NOT EXISTS {p}_pending ON {p} (lease_until) WHERE head > cursor"
            )
        except sqlite3.Error as exc:
            raise EventLogUnavailableError(f"cannot open the SQLite event log: {exc}") from exc

    # -- plumbing ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection; unacknowledged deliveries come again once their lease ends."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> SQLiteEventLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _tx(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    out = fn(self._conn)
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
                return out
            except sqlite3.Error as exc:
                raise EventLogUnavailableError(f"SQLite event log unavailable: {exc}") from exc

    # -- the contract ------------------------------------------------------------------------

    @_telemetry.traced_publish  # telemetry
    def publish(self, events: Sequence[Event]) -> None:
        """Append ``events`` in one transaction; durable when this returns."""
        if not events:
            return
        now = self._clock()
        rows = [(partition_of(e), e.id, e.type, e.to_json()) for e in events]

        def write(conn: sqlite3.Connection) -> None:
            heads: dict[str, int] = {}
            out = []
            for partition, event_id, event_type, body in rows:
                head = heads.get(partition)
                if head is None:
                    found = conn.execute(
                        f"SELECT head FROM {self._p} WHERE partition = ?", (partition,)
                    ).fetchone()
                    if found is None:
                        conn.execute(f"INSERT INTO {self._p} (partition) VALUES (?)", (partition,))
                        head = 0
                    else:
                        head = int(found[0])
                head += 1
                heads[partition] = head
                out.append((partition, head, event_id, event_type, body, now))
            conn.executemany(
                f"INSERT INTO {self.table} (partition, pos, event_id, type, body, published_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                out,
            )
            conn.executemany(
                f"UPDATE {self._p} SET head = ? WHERE partition = ?",
                [(head, partition) for partition, head in heads.items()],
            )

        self._tx(write)

    def receive(self, max_events: int = 100, timeout: float = 0.0) -> list[Delivery]:
        """Lease partitions with pending events and return up to ``max_events`` of them."""
        deadline = time.monotonic() + timeout
        while True:
            got = self._tx(lambda conn: self._receive(conn, max_events))
            if got or time.monotonic() >= deadline:
                return got
            time.sleep(min(0.02, max(0.0, deadline - time.monotonic())))

    def _receive(self, conn: sqlite3.Connection, max_events: int) -> list[Delivery]:
        now = self._clock()
        owner = uuid.uuid4().hex
        budget = max(1, max_events)
        raw: list[tuple[str, int, bytes, int]] = []
        leases = []
        for partition, cursor, attempts in conn.execute(
            self._sql_pending, (now, budget)
        ).fetchall():
            if budget <= 0:
                break
            rows = conn.execute(self._sql_events, (partition, cursor, budget)).fetchall()
            if not rows:
                continue
            budget -= len(rows)
            attempt = int(attempts) + 1
            raw.extend((partition, int(pos), bytes(body), attempt) for pos, body in rows)
            leases.append((owner, now + self.lease, int(rows[-1][0]), partition))
        conn.executemany(self._sql_lease, leases)
        return [
            decode_delivery(self.catalogue, partition, pos, body, attempt, owner)
            for partition, pos, body, attempt in raw
        ]

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Move each partition's cursor to its highest acknowledged position."""
        if not deliveries:
            return
        top = _highest(deliveries)

        def write(conn: sqlite3.Connection) -> None:
            conn.executemany(
                self._sql_ack, [(pos, owner, part) for (part, owner), pos in top.items()]
            )

        self._tx(write)

    def release(self, deliveries: Sequence[Delivery], delay: float = 0.0) -> None:
        """Free the partitions' leases; their events come again after ``delay`` seconds."""
        if not deliveries:
            return
        until = self._clock() + max(0.0, delay)
        keys = {(d.partition, str(d.receipt)) for d in deliveries}

        def write(conn: sqlite3.Connection) -> None:
            conn.executemany(self._sql_release, [(until, part, owner) for part, owner in keys])

        self._tx(write)

    # -- inspection and upkeep ----------------------------------------------------------------

    def compact(self) -> int:
        """Delete acknowledged events (positions stay as they are); return how many."""

        def write(conn: sqlite3.Connection) -> int:
            return int(
                conn.execute(
                    f"DELETE FROM {self.table} WHERE pos <= (SELECT cursor FROM {self._p} p "
                    f"WHERE p.partition = {self.table}.partition)"
                ).rowcount
            )

        return self._tx(write)

    def pending(self) -> int:
        """How many published events are not acknowledged yet."""

        def read(conn: sqlite3.Connection) -> int:
            row = conn.execute(f"SELECT coalesce(sum(head - cursor), 0) FROM {self._p}").fetchone()
            return int(row[0])

        return self._tx(read)


def _highest(deliveries: Sequence[Delivery]) -> dict[tuple[str, str], int]:
    top: dict[tuple[str, str], int] = {}
    for d in deliveries:
        key = (d.partition, str(d.receipt))
        top[key] = max(top.get(key, 0), d.position)
    return top


class AsyncSQLiteEventLog(ThreadedAsyncLog):
    """:class:`SQLiteEventLog` for asyncio; takes the same arguments."""

    sync: SQLiteEventLog

    def __init__(
        self,
        path: str | PathLike[str],
        *,
        table: str = DEFAULT_TABLE,
        lease: float = 30.0,
        catalogue: EventCatalogue = default_catalogue,
        clock: Callable[[], float] = time.time,
        timeout: float = 30.0,
        synchronous: str = "FULL",
    ) -> None:
        super().__init__(
            SQLiteEventLog(
                path,
                table=table,
                lease=lease,
                catalogue=catalogue,
                clock=clock,
                timeout=timeout,
                synchronous=synchronous,
            )
        )

    async def pending(self) -> int:
        """How many published events are not acknowledged yet."""
        return self.sync.pending()
