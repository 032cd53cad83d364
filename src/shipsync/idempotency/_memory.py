"""In-memory store for tests and single-process tools. State lives in one process only."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Sequence
from datetime import timedelta

from shipsync._closing import AsyncClosing, Closing
from shipsync.errors import CorruptRecordError, FingerprintMismatchError, StaleTokenError

from ._checks import check_result
from ._checks import seconds as _span_seconds
from ._keys import DEFAULT_NAMESPACE, check_namespace
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

__all__ = ["AsyncMemoryStore", "MemoryStore"]


# A record is one immutable tuple, replaced whole on every change (cheaper to build than an
# object, and a reader never sees half an update): (state, fingerprint, token, expires_at,
# result), state "p" in progress or "c" completed, result ``None`` until completed.
_Record = tuple[str, str, int, float, bytes | None]


def _seconds_cache(span: timedelta, what: str = "lease") -> tuple[timedelta, float]:
    return (span, _span_seconds(span, what))  # checked on a cache miss only


class MemoryStore(Closing):
    """A thread-safe store in this process's memory, with the full contract.

    Records are keyed by the caller's key itself (a dict needs no storage-key mapping).

    ``clock`` (default ``time.time``) judges leases and retention; tests pass a fake one.
    """

    def close(self) -> None:
        """Nothing to release (the keys live in this object); here for ``with`` blocks."""

    def __init__(self, *, namespace: str = DEFAULT_NAMESPACE, clock: Clock = time.time) -> None:
        self.namespace = check_namespace(namespace)
        self._clock = clock
        self._records: dict[str, _Record] = {}
        self._tokens = itertools.count(1)
        self._lock = threading.Lock()
        # The last lease and retention seen, with their seconds: callers pass the same timedelta
        # object every time, so an identity check replaces a ``total_seconds()`` call.
        self._lease = _seconds_cache(DEFAULT_LEASE)
        self._retention = _seconds_cache(DEFAULT_RETENTION)

    def _lease_seconds(self, lease: timedelta) -> float:
        cached = self._lease
        if cached[0] is not lease:
            self._lease = cached = _seconds_cache(lease)
        return cached[1]

    def _retention_seconds(self, retention: timedelta) -> float:
        cached = self._retention
        if cached[0] is not retention:
            self._retention = cached = _seconds_cache(retention, "retention")
        return cached[1]

    def _claim(self, key: str, fingerprint: str, seconds: float, now: float) -> BatchOutcome:
        # The lock is held. ``claim`` inlines this for speed: change both together.
        rec = self._records.get(key)
        if rec is not None and rec[3] > now:
            state, stored_fingerprint, _token, _expires_at, result = rec
            if state != "p" and state != "c":
                raise CorruptRecordError("stored idempotency record has an unknown state")
            if stored_fingerprint != fingerprint:
                return Mismatched(key)
            if state == "c":
                assert result is not None
                return Completed(key, result)
            return InProgress(key)
        token = next(self._tokens)
        self._records[key] = ("p", fingerprint, token, now + seconds, None)
        return Acquired(key, token)

    def _complete(self, key: str, token: int, result: bytes, seconds: float, now: float) -> bool:
        # The lock is held. ``complete`` inlines this for speed: change both together.
        rec = self._records.get(key)
        if rec is None or rec[2] != token:
            return False
        if rec[0] == "p":
            if type(result) is not bytes:
                result = bytes(result)
            self._records[key] = ("c", rec[1], token, now + seconds, result)
        return True

    def claim(self, key: str, fingerprint: str, lease: timedelta = DEFAULT_LEASE) -> ClaimOutcome:
        """Claim ``key``; see :class:`~shipsync.idempotency.IdempotencyStore`."""
        cached = self._lease
        if cached[0] is not lease:
            self._lease = cached = _seconds_cache(lease)
        token = 0  # tokens start at 1
        lock = self._lock  # acquire/release: cheaper than ``with`` on this hot path
        lock.acquire()
        try:
            now = self._clock()
            rec = self._records.get(key)
            if rec is None or rec[3] <= now:  # new or expired: acquire
                token = next(self._tokens)
                self._records[key] = ("p", fingerprint, token, now + cached[1], None)
        finally:
            lock.release()
        if token:
            return Acquired(key, token)
        assert rec is not None
        state, stored_fingerprint, _token, _expires_at, result = rec
        if state != "p" and state != "c":
            raise CorruptRecordError("stored idempotency record has an unknown state")
        if stored_fingerprint != fingerprint:
            raise FingerprintMismatchError(key)
        if state == "c":
            assert result is not None
            return Completed(key, result)
        return InProgress(key)

    def claim_many(
        self, items: Sequence[tuple[str, str]], lease: timedelta = DEFAULT_LEASE
    ) -> list[BatchOutcome]:
        """Claim many ``(key, fingerprint)`` pairs atomically, outcomes in order."""
        seconds = self._lease_seconds(lease)
        with self._lock:
            now = self._clock()
            return [self._claim(key, fp, seconds, now) for key, fp in items]

    def complete(
        self, key: str, token: int, result: bytes, retention: timedelta = DEFAULT_RETENTION
    ) -> None:
        """Record ``result``; ``StaleTokenError`` if ``token`` no longer holds ``key``."""
        cached = self._retention
        if cached[0] is not retention:
            self._retention = cached = _seconds_cache(retention, "retention")
        lock = self._lock
        lock.acquire()
        try:
            rec = self._records.get(key)
            if rec is not None and rec[2] == token:
                if rec[0] == "p":
                    if type(result) is not bytes:
                        result = check_result(result)
                    self._records[key] = ("c", rec[1], token, self._clock() + cached[1], result)
                return
        finally:
            lock.release()
        raise StaleTokenError(key)

    def complete_many(
        self, items: Sequence[tuple[str, int, bytes]], retention: timedelta = DEFAULT_RETENTION
    ) -> None:
        """Complete many triples; the valid ones are recorded even if some tokens are stale."""
        seconds = self._retention_seconds(retention)
        items = [(k, t, r if type(r) is bytes else check_result(r)) for k, t, r in items]
        with self._lock:
            now = self._clock()
            stale = [k for k, t, r in items if not self._complete(k, t, r, seconds, now)]
        if stale:
            raise StaleTokenError(stale[0], keys=stale)

    def release(self, key: str, token: int) -> None:
        """Free ``key`` for a retry; ``StaleTokenError`` if ``token`` no longer holds it."""
        with self._lock:
            rec = self._records.get(key)
            if rec is None or rec[2] != token or rec[0] != "p":
                raise StaleTokenError(key)
            del self._records[key]

    def sweep(self) -> int:
        """Remove expired records; return how many."""
        with self._lock:
            now = self._clock()
            dead = [k for k, r in self._records.items() if r[3] <= now]
            for k in dead:
                del self._records[k]
        return len(dead)

    def corrupt(self, key: str) -> None:
        """(Testing) make the record of ``key`` undecodable, as a damaged backend would."""
        with self._lock:
            self._records[key] = ("?", *self._records[key][1:])


class AsyncMemoryStore(AsyncClosing):
    """The asynchronous twin of :class:`MemoryStore`; ``backend`` shares another's state."""

    async def close(self) -> None:
        """Nothing to release (the keys live in this object); here for ``async with``."""

    def __init__(
        self,
        backend: MemoryStore | None = None,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        clock: Clock = time.time,
    ) -> None:
        self.sync = (
            backend if backend is not None else MemoryStore(namespace=namespace, clock=clock)
        )
        self.namespace = self.sync.namespace

    async def claim(
        self, key: str, fingerprint: str, lease: timedelta = DEFAULT_LEASE
    ) -> ClaimOutcome:
        """See :meth:`MemoryStore.claim`."""
        return self.sync.claim(key, fingerprint, lease)

    async def claim_many(
        self, items: Sequence[tuple[str, str]], lease: timedelta = DEFAULT_LEASE
    ) -> list[BatchOutcome]:
        """See :meth:`MemoryStore.claim_many`."""
        return self.sync.claim_many(items, lease)

    async def complete(
        self, key: str, token: int, result: bytes, retention: timedelta = DEFAULT_RETENTION
    ) -> None:
        """See :meth:`MemoryStore.complete`."""
        self.sync.complete(key, token, result, retention)

    async def complete_many(
        self, items: Sequence[tuple[str, int, bytes]], retention: timedelta = DEFAULT_RETENTION
    ) -> None:
        """See :meth:`MemoryStore.complete_many`."""
        self.sync.complete_many(items, retention)

    async def release(self, key: str, token: int) -> None:
        """See :meth:`MemoryStore.release`."""
        self.sync.release(key, token)

    async def sweep(self) -> int:
        """See :meth:`MemoryStore.sweep`."""
        return self.sync.sweep()
