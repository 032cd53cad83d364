"""The idempotency store contract shared by every backend.

A caller *claims* a key with a fingerprint of its payload and a lease. Exactly one claimant
acquires it and receives a fencing token; while that lease runs, other claimants see the key in
progress; once the holder *completes* it, every later claim with the same fingerprint receives the
stored result, byte for byte. A holder that fails *releases* the key for a retry. A token whose
lease expired and was taken over is stale: it can neither complete nor release, so a slow worker
never overwrites its successor. A holder whose lease expired but that nobody replaced may still
complete; completing twice with one token is a no-op, so a completion whose answer was lost can be
retried.

Failures are typed: ``StoreUnavailableError`` (retryable) when a claim, release or sweep cannot
reach the store, so nothing ran; ``CompletionFailedError`` with ``retryable=True`` when
``complete`` cannot reach it, so the caller's side effect ran but is not recorded (retry that
completion with the same token, a no-op if the first one landed, or reconcile);
``CorruptRecordError`` for a record that cannot be decoded; ``ConfigurationError``, before the
backend is touched, for an argument no backend can store (a lease or retention outside 1 ms to
100 years, a fingerprint with NUL or lone surrogates, a key that is not a ``str``, a result that
is not bytes, a token that is not an ``int``).

``claim_many`` reports a fingerprint mismatch as a :class:`Mismatched` outcome for that item
instead of raising, so one bad event never leaves the rest of a batch claimed but unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Protocol, runtime_checkable

import attrs

__all__ = [
    "DEFAULT_LEASE",
    "DEFAULT_RETENTION",
    "Acquired",
    "AsyncIdempotencyStore",
    "BatchOutcome",
    "ClaimOutcome",
    "Clock",
    "Completed",
    "IdempotencyStore",
    "InProgress",
    "Mismatched",
]

DEFAULT_LEASE = timedelta(seconds=60)
DEFAULT_RETENTION = timedelta(hours=72)


@attrs.frozen
class Acquired:
    """The caller holds the key until its lease ends; ``token`` fences its later calls."""

    key: str
    token: int


@attrs.frozen
class InProgress:
    """Another holder's lease on the key has not expired yet."""

    key: str


@attrs.frozen
class Completed:
    """The key was completed before; ``result`` is the stored result, byte for byte."""

    key: str
    result: bytes


@attrs.frozen
class Mismatched:
    """(``claim_many`` only) the key was used with another payload fingerprint; nothing changed."""

    key: str


ClaimOutcome = Acquired | InProgress | Completed
BatchOutcome = Acquired | InProgress | Completed | Mismatched

#: A clock: seconds since the Unix epoch, as ``time.time`` returns them.
Clock = Callable[[], float]


@runtime_checkable
class AsyncIdempotencyStore(Protocol):
    """The asynchronous store contract. Every method raises only ``shipsync.errors`` types."""

    async def claim(
        self, key: str, fingerprint: str, lease: timedelta = DEFAULT_LEASE
    ) -> ClaimOutcome:
        """Claim ``key``; ``FingerprintMismatchError`` if it was used with another payload."""
        ...

    async def complete(
        self, key: str, token: int, result: bytes, retention: timedelta = DEFAULT_RETENTION
    ) -> None:
        """Record ``result`` for ``key``; raises ``StaleTokenError`` if ``token`` lost the lease."""
        ...

    async def release(self, key: str, token: int) -> None:
        """Free ``key`` for a retry; raises ``StaleTokenError`` if ``token`` lost the lease."""
        ...

    async def claim_many(
        self, items: Sequence[tuple[str, str]], lease: timedelta = DEFAULT_LEASE
    ) -> list[BatchOutcome]:
        """Claim many ``(key, fingerprint)`` pairs in one round trip, outcomes in order."""
        ...

    async def complete_many(
        self,
        items: Sequence[tuple[str, int, bytes]],
        retention: timedelta = DEFAULT_RETENTION,
    ) -> None:
        """Complete many ``(key, token, result)`` triples in one round trip."""
        ...

    async def sweep(self) -> int:
        """Remove expired records; return how many were removed."""
        ...


@runtime_checkable
class IdempotencyStore(Protocol):
    """The synchronous twin of :class:`AsyncIdempotencyStore`, with the same semantics."""

    def claim(self, key: str, fingerprint: str, lease: timedelta = DEFAULT_LEASE) -> ClaimOutcome:
        """Claim ``key``; ``FingerprintMismatchError`` if it was used with another payload."""
        ...

    def complete(
        self, key: str, token: int, result: bytes, retention: timedelta = DEFAULT_RETENTION
    ) -> None:
        """Record ``result`` for ``key``; raises ``StaleTokenError`` if ``token`` lost the lease."""
        ...

    def release(self, key: str, token: int) -> None:
        """Free ``key`` for a retry; raises ``StaleTokenError`` if ``token`` lost the lease."""
        ...

    def claim_many(
        self, items: Sequence[tuple[str, str]], lease: timedelta = DEFAULT_LEASE
    ) -> list[BatchOutcome]:
        """Claim many ``(key, fingerprint)`` pairs in one round trip, outcomes in order."""
        ...

    def complete_many(
        self,
        items: Sequence[tuple[str, int, bytes]],
        retention: timedelta = DEFAULT_RETENTION,
    ) -> None:
        """Complete many ``(key, token, result)`` triples in one round trip."""
        ...

    def sweep(self) -> int:
        """Remove expired records; return how many were removed."""
        ...
