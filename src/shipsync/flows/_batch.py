"""Batch jobs in chunks with checkpoints: settlement-style work that resumes after a crash.

A :class:`BatchJob` reads its items as a stream, cuts them into numbered chunks of
``chunk_size`` and calls ``work(chunk)`` for each; after ``work`` returns it records a checkpoint
for that chunk (with the chunk's fingerprint) in SQLite. Run again after a crash, the job skips
every checkpointed chunk without calling ``work`` and goes on at the first unfinished one, so
finished chunks are never redone. Memory stays flat: one chunk is held at a time.

The chunk that was running when the process died runs again; make ``work`` idempotent per chunk
(``chunk.key`` is stable: job name and chunk index) or write its effect in the same transaction
as your own checkpoint. Items must come in the same order on every run; a chunk whose items
changed since its checkpoint raises ``ConfigurationError`` instead of silently skipping new data.
"""

from __future__ import annotations

import hashlib
import itertools
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from os import PathLike
from typing import Generic, TypeVar

import attrs

from shipsync.errors import ConfigurationError, EventLogUnavailableError

from ._sqlite import check_table

__all__ = ["BatchJob", "BatchReport", "Chunk"]

T = TypeVar("T")


@attrs.frozen
class Chunk(Generic[T]):
    """One chunk of a job: its index, its stable ``key`` and its items."""

    job: str
    index: int
    items: list[T]

    @property
    def key(self) -> str:
        """``{job}:{index}``, stable across runs: an idempotency key for the chunk's effects."""
        return f"{self.job}:{self.index}"


@attrs.define
class BatchReport:
    """What a run did: chunks done now, chunks skipped as already done, items seen."""

    done: int = 0
    skipped: int = 0
    items: int = 0


class BatchJob(Generic[T]):
    """Runs ``work`` over a stream of items in checkpointed chunks.

    Args:
        name: the job's name; a new name starts from scratch.
        path: the SQLite file holding checkpoints.
        chunk_size: items per chunk (the same on every run of one job).
        fingerprint: turns an item into bytes for the chunk check (default ``repr``).
    """

    def __init__(
        self,
        name: str,
        path: str | PathLike[str],
        *,
        chunk_size: int = 500,
        fingerprint: Callable[[T], bytes] = lambda item: repr(item).encode(),
        table: str = "shipsync_batch_checkpoints",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if chunk_size < 1:
            raise ConfigurationError("chunk_size must be at least 1", path="chunk_size")
        if not name:
            raise ConfigurationError("a job has a name", path="name")
        self.name = name
        self.chunk_size = chunk_size
        self.table = t = check_table(table)
        self._fingerprint = fingerprint
        self._clock = clock
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(
                path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute(
                f"CREATE TABLE IF NOT EXISTS {t} (job TEXT NOT NULL, idx INTEGER NOT NULL, "
                "fingerprint TEXT NOT NULL, items INTEGER NOT NULL, done_at REAL NOT NULL, "
                "PRIMARY KEY (job, idx))"
            )
        except sqlite3.Error as exc:
            raise EventLogUnavailableError(f"cannot open the checkpoint table: {exc}") from exc

    def _digest(self, items: list[T]) -> str:
        h = hashlib.sha256()
        for item in items:
            data = self._fingerprint(item)
            h.update(len(data).to_bytes(8, "big"))
            h.update(data)
        return h.hexdigest()

    def _done(self) -> dict[int, str]:
        with self._lock:
            try:
                rows = self._conn.execute(
                    f"SELECT idx, fingerprint FROM {self.table} WHERE job = ?", (self.name,)
                ).fetchall()
            except sqlite3.Error as exc:
                raise EventLogUnavailableError(f"checkpoint table unavailable: {exc}") from exc
        return {int(i): str(f) for i, f in rows}

    def _checkpoint(self, index: int, digest: str, count: int) -> None:
        with self._lock:
            try:
                self._conn.execute(
                    f"INSERT INTO {self.table} (job, idx, fingerprint, items, done_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (self.name, index, digest, count, self._clock()),
                )
            except sqlite3.Error as exc:
                raise EventLogUnavailableError(f"checkpoint failed: {exc}") from exc

    def run(
        self,
        items: Iterable[T],
        work: Callable[[Chunk[T]], object],
        *,
        on_chunk: Callable[[Chunk[T], bool], None] | None = None,
    ) -> BatchReport:
        """Run ``work`` on every unfinished chunk; ``on_chunk(chunk, skipped)`` reports progress."""
        done = self._done()
        report = BatchReport()
        iterator = iter(items)
        for index in itertools.count():
            batch = list(itertools.islice(iterator, self.chunk_size))
            if not batch:
                break
            report.items += len(batch)
            chunk = Chunk(self.name, index, batch)
            digest = self._digest(batch)
            if index in done:
                if done[index] != digest:
                    raise ConfigurationError(
                        f"chunk {index} of job {self.name!r} changed since its checkpoint",
                        path="items",
                    )
                report.skipped += 1
                if on_chunk is not None:
                    on_chunk(chunk, True)
                continue
            work(chunk)
            self._checkpoint(index, digest, len(batch))
            report.done += 1
            if on_chunk is not None:
                on_chunk(chunk, False)
        return report

    def reset(self) -> int:
        """Forget this job's checkpoints (to run it again from the start); return how many."""
        with self._lock:
            try:
                cursor = self._conn.execute(f"DELETE FROM {self.table} WHERE job = ?", (self.name,))
            except sqlite3.Error as exc:
                raise EventLogUnavailableError(f"checkpoint table unavailable: {exc}") from exc
            return int(cursor.rowcount)

    def close(self) -> None:
        """Close the checkpoint table."""
        with self._lock:
            self._conn.close()
