"""One database connection for the monitor store: SQLite or PostgreSQL, errors made ours."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from os import PathLike
from typing import Any, TypeVar

from shipsync.errors import UnavailableError

__all__ = ["Db"]

T = TypeVar("T")


class Db:
    """One connection (SQLite or psycopg); SQL is written with ``?`` placeholders."""

    def __init__(self, target: str | PathLike[str]) -> None:
        self._lock = threading.RLock()
        text = str(target)
        self.postgres = text.startswith(("postgresql://", "postgres://"))
        try:
            if self.postgres:
                try:
                    import psycopg
                except ImportError as exc:  # pragma: no cover - the postgres extra
                    from shipsync.errors import MissingDependencyError

                    raise MissingDependencyError("a PostgreSQL monitor store", "postgres") from exc
                self._conn: Any = psycopg.connect(text, autocommit=True, connect_timeout=10)
            else:
                self._conn = sqlite3.connect(
                    target, timeout=30, isolation_level=None, check_same_thread=False
                )
                self._conn.execute("PRAGMA journal_mode = WAL")
                self._conn.execute("PRAGMA synchronous = NORMAL")
        except (sqlite3.Error, OSError) as exc:
            raise UnavailableError(f"monitor store: {type(exc).__name__}: {exc}") from exc
        except Exception as exc:
            if type(exc).__module__.startswith("psycopg"):
                raise UnavailableError(f"monitor store: {type(exc).__name__}") from exc
            raise

    def sql(self, text: str) -> str:
        return text.replace("?", "%s") if self.postgres else text

    def tx(self, fn: Callable[[Callable[[str, Sequence[Any]], Any]], T]) -> T:
        """Run ``fn(execute)`` in one transaction; ``execute(sql, params)`` returns a cursor."""
        with self._lock:
            try:
                if self.postgres:
                    with self._conn.transaction(), self._conn.cursor() as cur:

                        def pg(text: str, params: Sequence[Any] = ()) -> Any:
                            cur.execute(self.sql(text), tuple(params))
                            return cur

                        return fn(pg)
                self._conn.execute("BEGIN IMMEDIATE")
                try:

                    def lite(text: str, params: Sequence[Any] = ()) -> Any:
                        return self._conn.execute(text, tuple(params))

                    result = fn(lite)
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
                return result
            except sqlite3.Error as exc:
                raise UnavailableError(f"monitor store: {type(exc).__name__}: {exc}") from exc
            except Exception as exc:
                if type(exc).__module__.startswith("psycopg"):
                    raise UnavailableError(
                        f"monitor store: {type(exc).__name__}: {str(exc)[:200]}"
                    ) from exc
                raise

    def rows(self, text: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            try:
                if self.postgres:
                    with self._conn.cursor() as cur:
                        cur.execute(self.sql(text), tuple(params))
                        return list(cur.fetchall())
                return list(self._conn.execute(text, tuple(params)).fetchall())
            except sqlite3.Error as exc:
                raise UnavailableError(f"monitor store: {type(exc).__name__}: {exc}") from exc
            except Exception as exc:
                if type(exc).__module__.startswith("psycopg"):
                    raise UnavailableError(f"monitor store: {type(exc).__name__}") from exc
                raise

    def close(self) -> None:
        with self._lock:
            self._conn.close()
