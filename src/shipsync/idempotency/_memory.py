"""In-memory store for tests and single-process tools. State lives in one process only."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Sequence
from datetime import timedelta

import attrs

from shipsync.errors import CorruptRecordError, FingerprintMismatchError, StaleTokenError

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


@attrs.define
class _Record:
    state: str  # "p" in progress, "c" completed
    fingerprint: str
    token: int
    expires_at: float
    result: bytes | None = None


class MemoryStore:
    """A thread-safe store in this process's memory, with the full contract.

    Records are keyed by the caller's key itself (a dict needs no storage-key mapping).

    ``clock`` (default ``time.time``) judges leases and retention; tests pass a fake one.
    """

    def __init__(self, *, namespace: str = DEFAULT_NAMESPACE, clock: Clock = time.time) -> None:
        self.namespace = check_namespace(namespace)
        self._clock = clock
        self._records: dict[str, _Record] = {}
        self._tokens = itertools.count(1)
        self._lock = threading.Lock()

    def _claim(self, key: str, fingerprint: str, lease: timedelta, now: float) -> BatchOutcome:
        rec = self._records.get(key)
        if rec is not None and rec.expires_at > now:
            if rec.state not in ("p", "c"):
                raise CorruptRecordError("stored idempotency record has an unknown state")
            if rec.fingerprint != fingerprint:
                return Mismatched(key)
            if rec.state == "c":
                assert rec.result is not None
                return Completed(key, rec.result)
            return InProgress(key)
        token = next(self._tokens)
        self._records[key] = _Record("p", fingerprint, token, now + lease.total_seconds())
        return Acquired(key, token)

    def _complete(
        self, key: str, token: int, result: bytes, retention: timedelta, now: float
    ) -> bool:
        rec = self._records.get(key)
        if rec is None or rec.token != token:
            return False
        if rec.state == "p":
            rec.state = "c"
            rec.result = bytes(result)
            rec.expires_at = now + retention.total_seconds()
        return True

    def claim(self, key: str, fingerprint: str, lease: timedelta = DEFAULT_LEASE) -> ClaimOutcome:
        """Claim ``key``; see :class:`~shipsync.idempotency.IdempotencyStore`."""
        with self._lock:
            outcome = self._claim(key, fingerprint, lease, self._clock())
        if isinstance(outcome, Mismatched):
            raise FingerprintMismatchError(key)
        return outcome

    def claim_many(
        self, items: Sequence[tuple[str, str]], lease: timedelta = DEFAULT_LEASE
    ) -> list[BatchOutcome]:
        """Claim many ``(key, fingerprint)`` pairs atomically, outcomes in order."""
        with self._lock:
            now = self._clock()
            return [self._claim(key, fp, lease, now) for key, fp in items]

    def complete(
        self, key: str, token: int, result: bytes, retention: timedelta = DEFAULT_RETENTION
    ) -> None:
        """Record ``result``; ``StaleTokenError`` if ``token`` no longer holds ``key``."""
        with self._lock:
            ok = self._complete(key, token, result, retention, self._clock())
        if not ok:
            raise StaleTokenError(key)

    def complete_many(
        self, items: Sequence[tuple[str, int, bytes]], retention: timedelta = DEFAULT_RETENTION
    ) -> None:
        """Complete many triples; the valid ones are recorded even if some tokens are stale."""
        with self._lock:
            now = self._clock()
            stale = [k for k, t, r in items if not self._complete(k, t, r, retention, now)]
        if stale:
            raise StaleTokenError(stale[0], keys=stale)

    def release(self, key: str, token: int) -> None:
        """Free ``key`` for a retry; ``StaleTokenError`` if ``token`` no longer holds it."""
        with self._lock:
            rec = self._records.get(key)
            if rec is None or rec.token != token or rec.state != "p":
                raise StaleTokenError(key)
            del self._records[key]

    def sweep(self) -> int:
        """Remove expired records; return how many."""
        with self._lock:
            now = self._clock()
            dead = [k for k, r in self._records.items() if r.expires_at <= now]
            for k in dead:
                del self._records[k]
        return len(dead)

    def corrupt(self, key: str) -> None:
        """(Testing) make the record of ``key`` undecodable, as a damaged backend would."""
        with self._lock:
            rec = self._records[key]
            rec.state = "?"


class AsyncMemoryStore:
    """The asynchronous twin of :class:`MemoryStore`; ``backend`` shares another's state."""

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
