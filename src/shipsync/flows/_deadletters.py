"""Dead letters: what a handler could not do after its last attempt, kept for a person to act on.

One dead letter per (event, handler): failing again updates it (``attempts`` adds up, the last
error wins) rather than piling up copies. A replay that succeeds *resolves* it; resolved letters
are hidden from :meth:`~DeadLetterStore.list` unless asked for, and ``purge`` deletes letters.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from os import PathLike
from typing import Any, Protocol, TypeVar, runtime_checkable

import attrs

from shipsync.canonical import Event, EventCatalogue
from shipsync.canonical._events import default_catalogue
from shipsync.errors import DeadLetterNotFoundError, EventLogUnavailableError, InvalidInputError

from ._sqlite import check_table

__all__ = [
    "DeadLetter",
    "DeadLetterFilter",
    "DeadLetterStore",
    "NewDeadLetter",
    "SQLiteDeadLetters",
]

T = TypeVar("T")

MAX_ERROR_CHARS = 2000
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _ts(value: float) -> datetime:
    return datetime.fromtimestamp(value, tz=UTC)


@attrs.frozen
class NewDeadLetter:
    """What the dispatcher records when a handler gave up on an event.

    ``failed_at`` is when the last attempt failed; ``first_failed_at`` when the first failing
    attempt began (``None``: the same as ``failed_at``, one attempt).
    """

    event_id: str
    event_type: str
    partition: str
    handler: str
    body: bytes = attrs.field(repr=False)
    error_type: str
    error: str
    attempts: int
    failed_at: float
    first_failed_at: float | None = None


@attrs.frozen
class DeadLetter:
    """A recorded dead letter. ``event`` parses the stored body with the default catalogue."""

    id: int
    event_id: str
    event_type: str
    partition: str
    handler: str
    body: bytes = attrs.field(repr=False)
    error_type: str
    error: str
    attempts: int
    first_failed_at: datetime
    last_failed_at: datetime
    replays: int
    resolved_at: datetime | None

    def event(self, catalogue: EventCatalogue = default_catalogue) -> Event:
        """The event this letter holds."""
        return catalogue.parse(self.body)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready dict without the body (what ``shipsync dlq list`` prints)."""
        return {
            "id": self.id,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "partition": self.partition,
            "handler": self.handler,
            "error_type": self.error_type,
            "error": self.error,
            "attempts": self.attempts,
            "first_failed_at": self.first_failed_at.isoformat(),
            "last_failed_at": self.last_failed_at.isoformat(),
            "replays": self.replays,
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
        }


@attrs.frozen
class DeadLetterFilter:
    """Selects dead letters; unset fields match everything.

    ``resolved`` is False (the default) for open letters only, True for resolved ones only and
    None for both. Filters come from people (the CLI): ids are 64-bit integers and texts are
    valid Unicode without NUL, else ``InvalidInputError`` names the field.
    """

    ids: Sequence[int] | None = None
    handler: str | None = None
    event_type: str | None = None
    partition: str | None = None
    resolved: bool | None = False

    def __attrs_post_init__(self) -> None:
        for i in self.ids or ():
            if isinstance(i, bool) or not isinstance(i, int) or not _INT64_MIN <= i <= _INT64_MAX:
                raise InvalidInputError("a dead letter id is a 64-bit integer", path="ids")
        for name in ("handler", "event_type", "partition"):
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, str) or "\x00" in value:
                raise InvalidInputError(f"{name} is text without NUL", path=name)
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidInputError(f"{name} is not valid Unicode", path=name) from None

    def where(self, placeholder: str = "?") -> tuple[str, list[Any]]:
        """A SQL ``WHERE`` clause with its parameters."""
        clauses: list[str] = []
        params: list[Any] = []
        if self.ids is not None:
            ids = [int(i) for i in self.ids]
            if not ids:
                return "WHERE 1 = 0", []
            clauses.append(f"id IN ({', '.join([placeholder] * len(ids))})")
            params.extend(ids)
        for column, value in (
            ("handler", self.handler),
            ("event_type", self.event_type),
            ("partition", self.partition),
        ):
            if value is not None:
                clauses.append(f"{column} = {placeholder}")
                params.append(value)
        if self.resolved is not None:
            clauses.append(f"resolved_at IS {'NOT ' if self.resolved else ''}NULL")
        return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


@runtime_checkable
class DeadLetterStore(Protocol):
    """Where dead letters are kept. Every method raises only ``shipsync.errors`` types."""

    def record(self, letter: NewDeadLetter) -> int:
        """Record or update the letter of (event, handler); return its id."""
        ...

    def get(self, letter_id: int) -> DeadLetter:
        """One letter; ``DeadLetterNotFoundError`` if there is none with that id."""
        ...

    def list(
        self,
        where: DeadLetterFilter = DeadLetterFilter(),
        limit: int = 1000,
    ) -> list[DeadLetter]:
        """Letters matching ``where``, oldest first."""
        ...

    def mark_replayed(self, letter_id: int, *, resolved: bool, at: float) -> None:
        """Count a replay; a successful one resolves the letter."""
        ...

    def purge(self, where: DeadLetterFilter) -> int:
        """Delete the letters matching ``where``; return how many."""
        ...

    def close(self) -> None:
        """Close connections."""
        ...


_COLUMNS = (
    "id, event_id, event_type, partition, handler, body, error_type, error, attempts, "
    "first_failed_at, last_failed_at, replays, resolved_at"
)


def row_to_letter(row: Sequence[Any]) -> DeadLetter:
    """Build a :class:`DeadLetter` from a row of ``_COLUMNS``."""
    return DeadLetter(
        id=int(row[0]),
        event_id=str(row[1]),
        event_type=str(row[2]),
        partition=str(row[3]),
        handler=str(row[4]),
        body=bytes(row[5]),
        error_type=str(row[6]),
        error=str(row[7]),
        attempts=int(row[8]),
        first_failed_at=_ts(float(row[9])),
        last_failed_at=_ts(float(row[10])),
        replays=int(row[11]),
        resolved_at=_ts(float(row[12])) if row[12] is not None else None,
    )


def first_failure(letter: NewDeadLetter) -> float:
    """When the letter's first failing attempt began (never after its last failure)."""
    first = letter.first_failed_at
    return letter.failed_at if first is None else min(first, letter.failed_at)


class SQLiteDeadLetters:
    """Dead letters in a SQLite file (the event log's file is a fine place)."""

    def __init__(
        self,
        path: str | PathLike[str],
        *,
        table: str = "shipsync_dead_letters",
        timeout: float = 30.0,
    ) -> None:
        self.path = path
        self.table = t = check_table(table)
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(
                path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute(
                f"CREATE TABLE IF NOT EXISTS {t} (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                "event_id TEXT NOT NULL, event_type TEXT NOT NULL, partition TEXT NOT NULL, "
                "handler TEXT NOT NULL, body BLOB NOT NULL, error_type TEXT NOT NULL, "
                "error TEXT NOT NULL, attempts INTEGER NOT NULL, first_failed_at REAL NOT NULL, "
                "last_failed_at REAL NOT NULL, replays INTEGER NOT NULL DEFAULT 0, "
                "resolved_at REAL, UNIQUE (event_id, handler))"
            )
        except sqlite3.Error as exc:
            raise EventLogUnavailableError(f"cannot open the dead letter store: {exc}") from exc

    def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            try:
                return fn(self._conn)
            except sqlite3.Error as exc:
                raise EventLogUnavailableError(f"dead letter store unavailable: {exc}") from exc

    def record(self, letter: NewDeadLetter) -> int:
        """Record or update the letter of (event, handler); return its id."""
        row = self._run(
            lambda c: c.execute(
                f"INSERT INTO {self.table} (event_id, event_type, partition, handler, body, "
                "error_type, error, attempts, first_failed_at, last_failed_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id, handler) DO UPDATE "
                "SET error_type = excluded.error_type, error = excluded.error, "
                "attempts = attempts + excluded.attempts, "
                "last_failed_at = excluded.last_failed_at, resolved_at = NULL RETURNING id",
                (
                    letter.event_id,
                    letter.event_type,
                    letter.partition,
                    letter.handler,
                    letter.body,
                    letter.error_type,
                    letter.error[:MAX_ERROR_CHARS],
                    letter.attempts,
                    first_failure(letter),
                    letter.failed_at,
                ),
            ).fetchone()
        )
        return int(row[0])

    def get(self, letter_id: int) -> DeadLetter:
        """One letter; ``DeadLetterNotFoundError`` if there is none with that id."""
        if not _INT64_MIN <= int(letter_id) <= _INT64_MAX:
            raise DeadLetterNotFoundError(f"no dead letter has id {int(letter_id)}")
        row = self._run(
            lambda c: c.execute(
                f"SELECT {_COLUMNS} FROM {self.table} WHERE id = ?", (int(letter_id),)
            ).fetchone()
        )
        if row is None:
            raise DeadLetterNotFoundError(f"no dead letter has id {int(letter_id)}")
        return row_to_letter(row)

    def list(
        self,
        where: DeadLetterFilter = DeadLetterFilter(),
        limit: int = 1000,
    ) -> list[DeadLetter]:
        """Letters matching ``where``, oldest first."""
        clause, params = where.where()
        rows = self._run(
            lambda c: c.execute(
                f"SELECT {_COLUMNS} FROM {self.table} {clause} ORDER BY id LIMIT ?",
                [*params, int(limit)],
            ).fetchall()
        )
        return [row_to_letter(r) for r in rows]

    def mark_replayed(self, letter_id: int, *, resolved: bool, at: float) -> None:
        """Count a replay; a successful one resolves the letter."""
        self._run(
            lambda c: c.execute(
                f"UPDATE {self.table} SET replays = replays + 1, "
                "resolved_at = CASE WHEN ? THEN ? ELSE resolved_at END WHERE id = ?",
                (resolved, at, int(letter_id)),
            )
        )

    def purge(self, where: DeadLetterFilter) -> int:
        """Delete the letters matching ``where``; return how many."""
        clause, params = where.where()
        return self._run(lambda c: c.execute(f"DELETE FROM {self.table} {clause}", params).rowcount)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()
