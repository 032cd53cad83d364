"""The notify stores' databases: one SQLite file, or one PostgreSQL database, behind ``tx``.

The stores (:class:`~shipsync.notify.NotifyState`, :class:`~shipsync.notify.EndpointStore`)
write their SQL once, with ``?`` placeholders and the dialect both engines share (``ON
CONFLICT``, no ``INSERT OR IGNORE``), and run every read and write in ``Database.tx``: one
serialised transaction (SQLite's ``BEGIN IMMEDIATE``; on PostgreSQL a transaction that first
takes an advisory lock named after the store), so a read-modify-write such as a claim never
interleaves with another writer, in this process or another.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
import threading
import zlib
from collections.abc import Callable, Iterable, Sequence
from os import PathLike
from typing import Any, Protocol, TypeVar

from shipsync.errors import ChannelUnavailableError, MissingDependencyError

__all__ = ["Connection", "Database", "PostgresDatabase", "SQLiteDatabase"]

T = TypeVar("T")


class Cursor(Protocol):
    """What a statement gives back."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    """The part of a DB-API connection the stores use, with ``?`` placeholders."""

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor: ...


class Database(Protocol):
    """One serialised transaction at a time; errors become ``ChannelUnavailableError``."""

    what: str

    def tx(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in one transaction (rolled back when it raises)."""
        ...

    def close(self) -> None:
        """Close the connection."""
        ...


class SQLiteDatabase:
    """A SQLite file opened for several threads; every write runs in ``BEGIN IMMEDIATE``.

    ``what`` names the store in errors; a locked or broken database raises
    :class:`~shipsync.errors.ChannelUnavailableError` (retryable), never ``sqlite3.Error``.
    """

    def __init__(
        self,
        path: str | PathLike[str],
        schema: Sequence[str],
        *,
        what: str,
        timeout: float = 30.0,
    ) -> None:
        self.path = path
        self.what = what
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(
                path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = FULL")
            for statement in schema:
                self._conn.execute(statement)
        except sqlite3.Error as exc:
            raise ChannelUnavailableError(f"cannot open the {what}: {exc}") from exc

    def tx(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in one immediate transaction (rolled back when it raises)."""
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
                raise ChannelUnavailableError(f"the {self.what} is unavailable: {exc}") from exc

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()


@functools.lru_cache(maxsize=512)
def _pg_sql(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (the stores' SQL holds no other ``?`` or ``%``)."""
    return sql.replace("%", "%%").replace("?", "%s")


class _PgConnection:
    """A psycopg connection seen through :class:`Connection` (``?`` placeholders)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor:
        cur = self._conn.cursor()
        cur.execute(_pg_sql(sql), tuple(parameters))
        return cur  # type: ignore[no-any-return]

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor:
        cur = self._conn.cursor()
        rows = [tuple(p) for p in parameters]
        if rows:
            cur.executemany(_pg_sql(sql), rows)
        return cur  # type: ignore[no-any-return]


class PostgresDatabase:
    """A PostgreSQL database (psycopg 3); each transaction takes the store's advisory lock.

    ``conninfo`` is a ``postgresql://`` URL or a libpq ``key=value`` string. The connection is
    reopened after it is lost; every error is a :class:`~shipsync.errors.ChannelUnavailableError`.
    """

    def __init__(
        self,
        conninfo: str,
        schema: Sequence[str],
        *,
        what: str,
        connect_timeout: float = 10.0,
    ) -> None:
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - the extra is installed in CI
            raise MissingDependencyError(f"the PostgreSQL {what}", "postgres") from exc
        self._pg = psycopg
        self.what = what
        self._conninfo = conninfo
        self._timeout = connect_timeout
        self._conn: Any = None
        self._lock = threading.RLock()
        # One 63-bit advisory lock key per store kind: writers of one store serialise.
        self._key = zlib.crc32(f"shipsync.notify:{what}".encode())
        schema = tuple(schema)
        self.tx(lambda conn: [conn.execute(statement) for statement in schema])

    def _connect(self) -> Any:
        if self._conn is None or self._conn.closed:
            self._conn = self._pg.connect(
                self._conninfo, autocommit=True, connect_timeout=max(1, int(self._timeout))
            )
        return self._conn

    def tx(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in one transaction holding the store's advisory lock."""
        with self._lock:
            try:
                conn = self._connect()
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._key,))
                    return fn(_PgConnection(conn))
            except self._pg.Error as exc:
                if self._conn is not None and (
                    self._conn.closed or isinstance(exc, self._pg.OperationalError)
                ):
                    self._drop()
                raise ChannelUnavailableError(
                    f"the {self.what} is unavailable: {type(exc).__name__}: {str(exc)[:200]}"
                ) from exc

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(self._pg.Error):  # already broken: nothing to close
                conn.close()

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._drop()
