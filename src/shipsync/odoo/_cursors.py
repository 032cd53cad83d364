"""Durable cursors for the change feeds: one small JSON row per feed, in SQLite or PostgreSQL.

A cursor is the feed's position (the last ``write_date`` and ``id`` it handed out) plus the
keys it handed out inside the look-back window, so a record the window brings again is not
handed out twice. The whole cursor is one value written in one statement: a crash leaves either
the old cursor or the new one, never half of each.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from os import PathLike
from typing import Any, Protocol, runtime_checkable

import attrs

from shipsync.errors import ConfigurationError, CorruptRecordError, StoreUnavailableError

__all__ = [
    "EPOCH",
    "CursorStore",
    "FeedCursor",
    "MemoryCursorStore",
    "PostgresCursorStore",
    "SQLiteCursorStore",
]

EPOCH = "1970-01-01 00:00:00"
"""The ``write_date`` a new feed starts from: it hands out every matching record once."""

_TABLE = "shipsync_odoo_cursors"


@attrs.frozen
class FeedCursor:
    """Where a feed stands: the last ``(write_date, id)`` handed out and the keys seen recently.

    ``seen`` holds ``(id, write_date)`` of every record handed out whose ``write_date`` lies
    inside the look-back window behind ``write_date``.
    """

    write_date: str = EPOCH
    record_id: int = 0
    seen: frozenset[tuple[int, str]] = frozenset()

    def to_json(self) -> str:
        """The cursor as the JSON text the stores keep."""
        return json.dumps(
            {"write_date": self.write_date, "id": self.record_id, "seen": sorted(self.seen)},
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str, feed: str) -> FeedCursor:
        """Read a stored cursor; anything else than what :meth:`to_json` wrote is corrupt."""
        try:
            data = json.loads(text)
            seen = frozenset((int(i), str(d)) for i, d in data["seen"])
            cursor = cls(str(data["write_date"]), int(data["id"]), seen)
        except (ValueError, TypeError, KeyError) as exc:
            raise CorruptRecordError(f"the cursor of feed {feed!r} cannot be read") from exc
        return cursor


@runtime_checkable
class CursorStore(Protocol):
    """Keeps one :class:`FeedCursor` per feed name."""

    def load(self, feed: str) -> FeedCursor | None:
        """The feed's cursor, or ``None`` before its first commit."""
        ...

    def save(self, feed: str, cursor: FeedCursor) -> None:
        """Replace the feed's cursor (atomically)."""
        ...


def _check_feed(feed: str) -> str:
    if not isinstance(feed, str) or not 0 < len(feed) <= 200:
        raise ConfigurationError("a feed name is a string of 1 to 200 characters", path="feed")
    return feed


class MemoryCursorStore:
    """Cursors in a dict: for tests and for one-off runs that may start over."""

    def __init__(self) -> None:
        self._cursors: dict[str, str] = {}

    def load(self, feed: str) -> FeedCursor | None:
        """The feed's cursor, or ``None``."""
        text = self._cursors.get(_check_feed(feed))
        return FeedCursor.from_json(text, feed) if text is not None else None

    def save(self, feed: str, cursor: FeedCursor) -> None:
        """Replace the feed's cursor."""
        self._cursors[_check_feed(feed)] = cursor.to_json()


class SQLiteCursorStore:
    """Cursors in a SQLite file (the embedded default), safe across threads and processes."""

    def __init__(self, path: str | PathLike[str], *, timeout: float = 5.0) -> None:
        self._lock = threading.Lock()
        try:
            self._conn = sqlite3.connect(
                path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(
                f"CREATE TABLE IF NOT EXISTS {_TABLE} (feed TEXT PRIMARY KEY, cursor TEXT NOT NULL)"
            )
        except sqlite3.Error as exc:
            raise StoreUnavailableError(f"cannot open the cursor store: {exc}") from exc

    def load(self, feed: str) -> FeedCursor | None:
        """The feed's cursor, or ``None``."""
        rows = self._run(f"SELECT cursor FROM {_TABLE} WHERE feed = ?", (_check_feed(feed),))
        return FeedCursor.from_json(rows[0][0], feed) if rows else None

    def save(self, feed: str, cursor: FeedCursor) -> None:
        """Replace the feed's cursor in one statement."""
        self._run(
            f"INSERT INTO {_TABLE} (feed, cursor) VALUES (?, ?)"
            " ON CONFLICT (feed) DO UPDATE SET cursor = excluded.cursor",
            (_check_feed(feed), cursor.to_json()),
        )

    def _run(self, sql: str, params: Iterable[Any]) -> list[Any]:
        with self._lock:
            try:
                return self._conn.execute(sql, tuple(params)).fetchall()
            except sqlite3.Error as exc:
                raise StoreUnavailableError(f"the cursor store failed: {exc}") from exc

    def close(self) -> None:
        """Close the database."""
        self._conn.close()

    def __enter__(self) -> SQLiteCursorStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class PostgresCursorStore:
    """Cursors in PostgreSQL (psycopg 3, autocommit: each call is one statement)."""

    def __init__(self, conninfo: str, *, connect_timeout: float = 5.0) -> None:
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - the postgres extra is missing
            from shipsync.errors import MissingDependencyError

            raise MissingDependencyError("psycopg", "postgres") from exc
        self._psycopg = psycopg
        self._lock = threading.Lock()
        try:
            self._conn = psycopg.connect(
                conninfo, autocommit=True, connect_timeout=max(1, int(connect_timeout))
            )
            self._conn.execute(
                f"CREATE TABLE IF NOT EXISTS {_TABLE} (feed TEXT PRIMARY KEY, cursor TEXT NOT NULL)"
            )
        except psycopg.Error as exc:
            raise StoreUnavailableError(f"cannot open the cursor store: {exc}") from exc

    def load(self, feed: str) -> FeedCursor | None:
        """The feed's cursor, or ``None``."""
        rows = self._run(f"SELECT cursor FROM {_TABLE} WHERE feed = %s", (_check_feed(feed),))
        return FeedCursor.from_json(rows[0][0], feed) if rows else None

    def save(self, feed: str, cursor: FeedCursor) -> None:
        """Replace the feed's cursor in one statement."""
        self._run(
            f"INSERT INTO {_TABLE} (feed, cursor) VALUES (%s, %s)"
            " ON CONFLICT (feed) DO UPDATE SET cursor = excluded.cursor",
            (_check_feed(feed), cursor.to_json()),
            fetch=False,
        )

    def _run(self, sql: str, params: tuple[Any, ...], *, fetch: bool = True) -> list[Any]:
        with self._lock:
            try:
                cur = self._conn.execute(sql, params)
                return cur.fetchall() if fetch else []
            except self._psycopg.Error as exc:
                raise StoreUnavailableError(f"the cursor store failed: {exc}") from exc

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> PostgresCursorStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
