"""A store seen through a scope: every key of one tenant (or flow) apart from every other's.

:func:`scoped` wraps any store, sync or async, of any backend, so that the caller's key ``k``
is stored as the scope (escaped as :func:`~shipsync.idempotency.key_from_parts` escapes a part),
a ``/``, then ``k`` as it is: the first unescaped ``/`` ends the scope, so the same key in two
scopes is two keys, and one scope's claims, completions and releases never touch another's.
Outcomes carry the caller's own key back. The wrapper's ``namespace`` (which
:func:`~shipsync.idempotency.idempotent` uses for outbound ``Idempotency-Key`` values) is the
inner store's joined with the scope, so a carrier never sees the same outbound key from two
tenants either.

One shared store (one connection pool, one table) thus serves every tenant; a host that
prefers a store per tenant builds each with ``namespace=tenant.namespace`` instead.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from datetime import timedelta
from typing import TypeVar, cast, overload

from ._keys import check_namespace, key_from_parts
from ._protocol import (
    DEFAULT_LEASE,
    DEFAULT_RETENTION,
    Acquired,
    AsyncIdempotencyStore,
    BatchOutcome,
    ClaimOutcome,
    Completed,
    IdempotencyStore,
    InProgress,
    Mismatched,
)

__all__ = ["AsyncScopedStore", "ScopedStore", "scoped"]

_O = TypeVar("_O", bound=BatchOutcome)


class _Scope:
    def __init__(self, inner: object, scope: str) -> None:
        self.scope = check_namespace(scope)
        self.inner = inner
        outer = str(getattr(inner, "namespace", "") or "")
        self.namespace = f"{outer}/{scope}" if outer else scope
        # The scope escaped as key_from_parts escapes a part, then "/": the first unescaped "/"
        # of a stored key ends the scope, so the caller's key follows as it is, unescaped.
        self._prefix = key_from_parts(scope, "")

    def _key(self, key: str) -> str:
        if not isinstance(key, str):
            raise TypeError("an idempotency key is a str")
        return self._prefix + key

    @staticmethod
    def _back(outcome: _O, key: str) -> _O:
        # Rebuilt field by field: attrs.evolve costs more than the store call it wraps.
        back: BatchOutcome
        if isinstance(outcome, Acquired):
            back = Acquired(key, outcome.token)
        elif isinstance(outcome, Completed):
            back = Completed(key, outcome.result)
        elif isinstance(outcome, InProgress):
            back = InProgress(key)
        else:
            back = Mismatched(key)
        return cast(_O, back)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r}, scope={self.scope!r})"


class ScopedStore(_Scope):
    """A synchronous store seen through ``scope`` (see the module docstring)."""

    inner: IdempotencyStore

    def __init__(self, inner: IdempotencyStore, scope: str) -> None:
        super().__init__(inner, scope)

    def claim(self, key: str, fingerprint: str, lease: timedelta = DEFAULT_LEASE) -> ClaimOutcome:
        """Claim ``key`` in this scope."""
        outcome = self.inner.claim(self._key(key), fingerprint, lease)
        if type(outcome) is Acquired:  # the hot path, without the generic rebuild
            return Acquired(key, outcome.token)
        return self._back(outcome, key)

    def complete(
        self, key: str, token: int, result: bytes, retention: timedelta = DEFAULT_RETENTION
    ) -> None:
        """Complete ``key`` in this scope."""
        if type(key) is str:
            self.inner.complete(self._prefix + key, token, result, retention)
        else:
            self.inner.complete(self._key(key), token, result, retention)

    def release(self, key: str, token: int) -> None:
        """Release ``key`` in this scope."""
        self.inner.release(self._key(key), token)

    def claim_many(
        self, items: Sequence[tuple[str, str]], lease: timedelta = DEFAULT_LEASE
    ) -> list[BatchOutcome]:
        """Claim many keys of this scope in one round trip."""
        outcomes = self.inner.claim_many([(self._key(k), f) for k, f in items], lease)
        return [self._back(o, k) for o, (k, _) in zip(outcomes, items, strict=True)]

    def complete_many(
        self, items: Sequence[tuple[str, int, bytes]], retention: timedelta = DEFAULT_RETENTION
    ) -> None:
        """Complete many keys of this scope in one round trip."""
        self.inner.complete_many([(self._key(k), t, r) for k, t, r in items], retention)

    def sweep(self) -> int:
        """Sweep the inner store (expiry is the same for every scope)."""
        return self.inner.sweep()


class AsyncScopedStore(_Scope):
    """An asynchronous store seen through ``scope`` (see the module docstring)."""

    inner: AsyncIdempotencyStore

    def __init__(self, inner: AsyncIdempotencyStore, scope: str) -> None:
        super().__init__(inner, scope)

    async def claim(
        self, key: str, fingerprint: str, lease: timedelta = DEFAULT_LEASE
    ) -> ClaimOutcome:
        """Claim ``key`` in this scope."""
        return self._back(await self.inner.claim(self._key(key), fingerprint, lease), key)

    async def complete(
        self, key: str, token: int, result: bytes, retention: timedelta = DEFAULT_RETENTION
    ) -> None:
        """Complete ``key`` in this scope."""
        await self.inner.complete(self._key(key), token, result, retention)

    async def release(self, key: str, token: int) -> None:
        """Release ``key`` in this scope."""
        await self.inner.release(self._key(key), token)

    async def claim_many(
        self, items: Sequence[tuple[str, str]], lease: timedelta = DEFAULT_LEASE
    ) -> list[BatchOutcome]:
        """Claim many keys of this scope in one round trip."""
        outcomes = await self.inner.claim_many([(self._key(k), f) for k, f in items], lease)
        return [self._back(o, k) for o, (k, _) in zip(outcomes, items, strict=True)]

    async def complete_many(
        self, items: Sequence[tuple[str, int, bytes]], retention: timedelta = DEFAULT_RETENTION
    ) -> None:
        """Complete many keys of this scope in one round trip."""
        await self.inner.complete_many([(self._key(k), t, r) for k, t, r in items], retention)

    async def sweep(self) -> int:
        """Sweep the inner store (expiry is the same for every scope)."""
        return await self.inner.sweep()


@overload
def scoped(store: AsyncIdempotencyStore, scope: str) -> AsyncScopedStore: ...
@overload
def scoped(store: IdempotencyStore, scope: str) -> ScopedStore: ...
def scoped(
    store: IdempotencyStore | AsyncIdempotencyStore, scope: str
) -> ScopedStore | AsyncScopedStore:
    """``store`` seen through ``scope`` (a tenant's ``namespace``), sync or async like it."""
    if inspect.iscoroutinefunction(getattr(store, "claim", None)):
        return AsyncScopedStore(store, scope)  # type: ignore[arg-type]
    return ScopedStore(store, scope)  # type: ignore[arg-type]
