"""SQLite store: the embedded default, safe across threads and processes on one machine.

Theory of operation. Each record is one row; its ``token`` is the row's ``INTEGER PRIMARY KEY
AUTOINCREMENT`` id, which SQLite never hands out twice, even after deletes, so fencing tokens are
unique and increasing per database. A claim is one ``INSERT ... ON CONFLICT DO NOTHING RETURNING``
in the common case. When a row is there, it is read; an expired row is deleted by
compare-and-set (``WHERE token = ? AND expires_at <= now``) and the insert is tried again, so two
claimants can never both take over one expired lease. ``complete`` and ``release`` match on the
token, so a stale holder changes nothing. The database runs in WAL mode; writers from several
processes wait on SQLite's lock up to ``timeout`` seconds, after which the store is unavailable.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from os import PathLike
from typing import Any, NoReturn, TypeVar

from shipsync._closing import AsyncClosing
from shipsync.errors import (
    CompletionFailedError,
    ConfigurationError,
    CorruptRecordError,
    FingerprintMismatchError,
    StaleTokenError,
    StoreUnavailableError,
)

from ._checks import check_fingerprint, check_key, check_result, check_token, seconds
from ._keys import DEFAULT_NAMESPACE, check_namespace, storage_key
from ._protocol import (
    DEFAULT_LEASE,
    DEFAULT_RETENTION,
    Acquired,
    BatchOutcome,
    ClaimOutcome,
    Clock,
    Completed,
    InProgress,
    Mismatched,
)

__all__ = ["AsyncSQLiteStore", "SQLiteStore"]

T = TypeVar("T")

DEFAULT_TABLE = "shipsync_idempotency"


def _check_table(table: str) -> str:
    if not (table.isidentifier() and table.isascii() and len(table) <= 50):
        raise ConfigurationError("a table name is an ASCII identifier", path="table")
    return table


class SQLiteStore:
    """An idempotency store in a SQLite file (``":memory:"`` works for one connection).

    Args:
        path: the database file; created with its table when missing.
        namespace: keeps these keys apart from other tenants or flows in the same table.
        clock: judges leases and retention (default ``time.time``; processes on one machine share
            it). Tests pass a fake clock.
        timeout: seconds a writer waits for another process's lock before the store is
            unavailable.
        synchronous: SQLite's ``synchronous`` pragma. ``"NORMAL"`` (default) survives process
            crashes; ``"FULL"`` also survives power loss, at a cost.
    """

    def __init__(
        self,
        path: str | PathLike[str],
        *,
        namespace: str = DEFAULT_NAMESPACE,
        table: str = DEFAULT_TABLE,
        clock: Clock = time.time,
        timeout: float = 30.0,
        synchronous: str = "NORMAL",
    ) -> None:
        if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ConfigurationError(
                "synchronous is OFF, NORMAL, FULL or EXTRA", path="synchronous"
            )
        self.namespace = check_namespace(namespace)
        self.table = _check_table(table)
        self.path = path
        self._clock = clock
        self._lock = threading.RLock()
        self._lease_s: dict[timedelta, float] = {}
        self._retention_s: dict[timedelta, float] = {}
        t = self.table
        self._sql_insert = (
            f"INSERT INTO {t} (ns, key, state, fingerprint, expires_at) VALUES (?, ?, 'p', ?, ?) "
            "ON CONFLICT (ns, key) DO NOTHING RETURNING token"
        )
        self._sql_read = (
            f"SELECT token, state, fingerprint, expires_at, result FROM {t} "
            "WHERE ns = ? AND key = ?"
        )
        self._sql_takeover = f"DELETE FROM {t} WHERE token = ? AND expires_at <= ?"
        self._sql_complete = (
            f"UPDATE {t} SET state = 'c', result = ?, expires_at = ? "
            "WHERE token = ? AND ns = ? AND key = ? AND state = 'p'"
        )
        self._sql_state = f"SELECT state FROM {t} WHERE token = ? AND ns = ? AND key = ?"
        self._sql_release = (
            f"DELETE FROM {t} WHERE token = ? AND ns = ? AND key = ? AND state = 'p'"
        )
        self._sql_sweep = f"DELETE FROM {t} WHERE ns = ? AND expires_at <= ?"
        try:
            self._conn = sqlite3.connect(
                path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            # Small pages: a claim or a completion touches two b-tree leaves, and each commit
            # appends whole pages to the WAL. (Takes effect only for a new database file.)
            self._conn.execute("PRAGMA page_size = 1024")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
            # Checkpoint (and fsync) every ~10 MB of WAL rather than every ~1 MB: under NORMAL
            # the checkpoints are the only fsyncs, and they dominate when the disk is busy.
            self._conn.execute("PRAGMA wal_autocheckpoint = 10000")
            self._conn.execute(
                f"CREATE TABLE IF NOT EXISTS {t} ("
                "token INTEGER PRIMARY KEY AUTOINCREMENT, ns TEXT NOT NULL, key TEXT NOT NULL, "
                "state TEXT NOT NULL, fingerprint TEXT NOT NULL, expires_at REAL NOT NULL, "
                "result BLOB, UNIQUE (ns, key))"
            )
            self._cursor = self._conn.cursor()
        except sqlite3.Error as exc:
            raise StoreUnavailableError(f"cannot open the SQLite store: {exc}") from exc

    # -- plumbing ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _run(self, fn: Callable[[sqlite3.Connection], T], *, batch: bool = False) -> T:
        with self._lock:
            try:
                if not batch:
                    return fn(self._conn)
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    out = fn(self._conn)
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
                return out
            except sqlite3.Error as exc:
                _fail(exc)

    # -- the contract ------------------------------------------------------------------------

    def _claim_one(
        self, conn: sqlite3.Connection, key: str, fingerprint: str, lease: float, now: float
    ) -> BatchOutcome:
        ns, skey = self.namespace, storage_key(key)
        for _ in range(50):
            row = conn.execute(self._sql_insert, (ns, skey, fingerprint, now + lease)).fetchone()
            if row is not None:
                return Acquired(key, int(row[0]))
            rec = conn.execute(self._sql_read, (ns, skey)).fetchone()
            if rec is None:
                continue  # released or swept between our two statements
            token, state, fp, expires_at, result = _checked(rec)
            if expires_at <= now:
                conn.execute(self._sql_takeover, (token, now))
                continue
            if fp != fingerprint:
                return Mismatched(key)
            if state == "c":
                return Completed(key, result)
            return InProgress(key)
        raise StoreUnavailableError("SQLite store: claim did not settle under contention")

    def _seconds(self, span: timedelta, what: str) -> float:
        """``span`` in seconds, checked, and remembered (for a few distinct values) so that the
        next call with it is one dictionary lookup."""
        known = seconds(span, what)
        if type(span) is timedelta:
            spans = self._lease_s if what == "lease" else self._retention_s
            if len(spans) < 32:
                spans[span] = known
        return known

    def claim(self, key: str, fingerprint: str, lease: timedelta = DEFAULT_LEASE) -> ClaimOutcome:
        """Claim ``key``; see :class:`~shipsync.idempotency.IdempotencyStore`."""
        secs = self._lease_s.get(lease) if type(lease) is timedelta else None
        if secs is None:
            secs = self._seconds(lease, "lease")
        skey = storage_key(check_key(key))
        check_fingerprint(fingerprint)
        now = self._clock()
        # The common case, a new key, is one statement on the connection's own cursor; anything
        # else (a row already there) takes the general path.
        with self._lock:
            try:
                row = self._cursor.execute(
                    self._sql_insert, (self.namespace, skey, fingerprint, now + secs)
                ).fetchone()
                if row is not None:
                    return Acquired(key, row[0])
                outcome = self._claim_one(self._conn, key, fingerprint, secs, now)
            except sqlite3.Error as exc:
                _fail(exc)
        if isinstance(outcome, Mismatched):
            raise FingerprintMismatchError(key)
        return outcome

    def claim_many(
        self, items: Sequence[tuple[str, str]], lease: timedelta = DEFAULT_LEASE
    ) -> list[BatchOutcome]:
        """Claim many ``(key, fingerprint)`` pairs in one transaction, outcomes in order."""
        secs = seconds(lease, "lease")
        for key, fp in items:
            check_key(key)
            check_fingerprint(fp)
        now = self._clock()
        return self._run(
            lambda c: [self._claim_one(c, k, fp, secs, now) for k, fp in items], batch=True
        )

    def _complete_one(
        self, conn: sqlite3.Connection, key: str, token: int, result: bytes, until: float
    ) -> bool:
        ns, skey = self.namespace, storage_key(key)
        cur = conn.execute(self._sql_complete, (result, until, token, ns, skey))
        if cur.rowcount == 1:
            return True
        row = conn.execute(self._sql_state, (token, ns, skey)).fetchone()
        return row is not None and row[0] == "c"

    def complete(
        self, key: str, token: int, result: bytes, retention: timedelta = DEFAULT_RETENTION
    ) -> None:
        """Record ``result``; ``StaleTokenError`` if ``token`` no longer holds ``key``.

        Completing again with the same token is a no-op. When the store cannot be reached the
        error is ``CompletionFailedError`` with ``retryable=True``: the side effect ran; retry the
        completion with the same token, or reconcile.
        """
        secs = self._retention_s.get(retention) if type(retention) is timedelta else None
        if secs is None:
            secs = self._seconds(retention, "retention")
        skey = storage_key(check_key(key))
        if type(token) is not int:
            token = check_token(token)
        if type(result) is not bytes:
            result = check_result(result)
        until = self._clock() + secs
        try:
            with self._lock:
                try:
                    cur = self._cursor.execute(
                        self._sql_complete, (result, until, token, self.namespace, skey)
                    )
                    if cur.rowcount == 1:
                        return
                    row = self._conn.execute(
                        self._sql_state, (token, self.namespace, skey)
                    ).fetchone()
                except sqlite3.Error as exc:
                    _fail(exc)
        except StoreUnavailableError as exc:
            raise CompletionFailedError(
                key, "the SQLite store is unavailable", retryable=True
            ) from exc
        if row is None or row[0] != "c":
            raise StaleTokenError(key)

    def complete_many(
        self, items: Sequence[tuple[str, int, bytes]], retention: timedelta = DEFAULT_RETENTION
    ) -> None:
        """Complete many triples in one transaction; valid ones are recorded even if some are
        stale, then ``StaleTokenError`` lists the stale keys."""
        secs = seconds(retention, "retention")
        checked = [(check_key(k), check_token(t), check_result(r)) for k, t, r in items]
        until = self._clock() + secs

        def run(c: sqlite3.Connection) -> list[str]:
            return [k for k, t, r in checked if not self._complete_one(c, k, t, r, until)]

        try:
            stale = self._run(run, batch=True)
        except StoreUnavailableError as exc:
            first = items[0][0] if items else ""
            raise CompletionFailedError(
                first, "the SQLite store is unavailable", retryable=True
            ) from exc
        if stale:
            raise StaleTokenError(stale[0], keys=stale)

    def release(self, key: str, token: int) -> None:
        """Free ``key`` for a retry; ``StaleTokenError`` if ``token`` no longer holds it."""
        args = (check_token(token), self.namespace, storage_key(check_key(key)))
        cur = self._run(lambda c: c.execute(self._sql_release, args))
        if cur.rowcount != 1:
            raise StaleTokenError(key)

    def sweep(self) -> int:
        """Remove this namespace's expired records; return how many.

        There is deliberately no index on expiry (it would cost every claim a third b-tree
        write), so a sweep reads the namespace's rows: run it from a periodic job.
        """
        now = self._clock()
        cur = self._run(lambda c: c.execute(self._sql_sweep, (self.namespace, now)))
        return int(cur.rowcount)

    def corrupt(self, key: str) -> None:
        """(Testing) damage the stored record of ``key`` as a faulty writer would."""
        sql = (
            f"UPDATE {self.table} SET state = 'garbage', expires_at = 'x' WHERE ns = ? AND key = ?"
        )
        self._run(lambda c: c.execute(sql, (self.namespace, storage_key(key))))


def _fail(exc: sqlite3.Error) -> NoReturn:
    """Raise the store's error for a failed SQLite call."""
    if isinstance(
        exc,
        sqlite3.OperationalError
        | sqlite3.ProgrammingError
        | sqlite3.InterfaceError
        | sqlite3.DataError,
    ):
        # locked past the timeout, unreadable, disk full, the store was closed, or a value over
        # SQLite's length limit: the store cannot take the call
        raise StoreUnavailableError(f"SQLite store unavailable: {exc}") from exc
    if isinstance(exc, sqlite3.DatabaseError):
        raise CorruptRecordError(f"SQLite store is damaged: {exc}") from exc
    raise exc


def _checked(rec: Any) -> tuple[int, str, str, float, bytes]:
    token, state, fp, expires_at, result = rec
    if (
        not isinstance(token, int)
        or state not in ("p", "c")
        or not isinstance(fp, str)
        or not isinstance(expires_at, float | int)
        or (state == "c" and not isinstance(result, bytes))
    ):
        raise CorruptRecordError("stored idempotency record cannot be decoded")
    return token, state, fp, float(expires_at), result if isinstance(result, bytes) else b""


class AsyncSQLiteStore(AsyncClosing):
    """The asynchronous twin of :class:`SQLiteStore`; each call runs in a worker thread.

    Pass ``backend`` to share one :class:`SQLiteStore`, or the same arguments to open one.
    """

    def __init__(
        self,
        path: str | PathLike[str] | None = None,
        *,
        backend: SQLiteStore | None = None,
        **kwargs: Any,
    ) -> None:
        if backend is None:
            if path is None:
                raise ConfigurationError("AsyncSQLiteStore needs a path or a backend", path="path")
            backend = SQLiteStore(path, **kwargs)
        self.sync = backend
        self.namespace = backend.namespace

    async def close(self) -> None:
        """Close the connection."""
        await asyncio.to_thread(self.sync.close)

    async def claim(
        self, key: str, fingerprint: str, lease: timedelta = DEFAULT_LEASE
    ) -> ClaimOutcome:
        """See :meth:`SQLiteStore.claim`."""
        return await asyncio.to_thread(self.sync.claim, key, fingerprint, lease)

    async def claim_many(
        self, items: Sequence[tuple[str, str]], lease: timedelta = DEFAULT_LEASE
    ) -> list[BatchOutcome]:
        """See :meth:`SQLiteStore.claim_many`."""
        return await asyncio.to_thread(self.sync.claim_many, items, lease)

    async def complete(
        self, key: str, token: int, result: bytes, retention: timedelta = DEFAULT_RETENTION
    ) -> None:
        """See :meth:`SQLiteStore.complete`."""
        await asyncio.to_thread(self.sync.complete, key, token, result, retention)

    async def complete_many(
        self, items: Sequence[tuple[str, int, bytes]], retention: timedelta = DEFAULT_RETENTION
    ) -> None:
        """See :meth:`SQLiteStore.complete_many`."""
        await asyncio.to_thread(self.sync.complete_many, items, retention)

    async def release(self, key: str, token: int) -> None:
        """See :meth:`SQLiteStore.release`."""
        await asyncio.to_thread(self.sync.release, key, token)

    async def sweep(self) -> int:
        """See :meth:`SQLiteStore.sweep`."""
        return await asyncio.to_thread(self.sync.sweep)
