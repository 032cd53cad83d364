"""One SQLite connection with immediate transactions, shared by the notify stores."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from os import PathLike
from typing import TypeVar

from shipsync.errors import ChannelUnavailableError

__all__ = ["Database"]

T = TypeVar("T")


class Database:
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

    def tx(self, fn: Callable[[sqlite3.Connection], T]) -> T:
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
