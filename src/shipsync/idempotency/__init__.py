"""Run each webhook, event and retry exactly once: one store contract, four backends.

Pick a backend (:class:`MemoryStore` for tests, :class:`SQLiteStore` embedded, :class:`RedisStore`
or :class:`PostgresStore` to scale out; each has an ``Async`` twin), then guard work with
:func:`idempotent` or call the store's ``claim`` / ``complete`` / ``release`` yourself. Redis and
PostgreSQL need the ``redis`` and ``postgres`` extras; without them the store's constructor raises
``MissingDependencyError``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipsync._lazy import lazy, publish

if TYPE_CHECKING:
    from ._codec import decode_result, encode_result, fingerprint
    from ._decorator import (
        Idempotent,
        IdempotentCall,
        MissingKeyPolicy,
        current_outbound_key,
        idempotent,
    )
    from ._keys import (
        key_from_parts,
        namespace,
        outbound_key,
        storage_key,
    )
    from ._memory import AsyncMemoryStore, MemoryStore
    from ._postgres import AsyncPostgresStore, PostgresStore
    from ._protocol import (
        DEFAULT_LEASE,
        DEFAULT_RETENTION,
        Acquired,
        AsyncIdempotencyStore,
        BatchOutcome,
        ClaimOutcome,
        Clock,
        Completed,
        IdempotencyStore,
        InProgress,
        Mismatched,
    )
    from ._redis import AsyncRedisStore, RedisStore
    from ._scoped import AsyncScopedStore, ScopedStore, scoped
    from ._sqlite import AsyncSQLiteStore, SQLiteStore

__all__ = [
    "DEFAULT_LEASE",
    "DEFAULT_RETENTION",
    "Acquired",
    "AsyncIdempotencyStore",
    "AsyncMemoryStore",
    "AsyncPostgresStore",
    "AsyncRedisStore",
    "AsyncSQLiteStore",
    "AsyncScopedStore",
    "BatchOutcome",
    "ClaimOutcome",
    "Clock",
    "Completed",
    "IdempotencyStore",
    "Idempotent",
    "IdempotentCall",
    "InProgress",
    "MemoryStore",
    "Mismatched",
    "MissingKeyPolicy",
    "PostgresStore",
    "RedisStore",
    "SQLiteStore",
    "ScopedStore",
    "current_outbound_key",
    "decode_result",
    "encode_result",
    "fingerprint",
    "idempotent",
    "key_from_parts",
    "namespace",
    "outbound_key",
    "scoped",
    "storage_key",
]

if not TYPE_CHECKING:  # mypy must not see __getattr__: it would accept any name
    __getattr__, __dir__ = lazy(__name__, __file__)
publish(__name__, __all__, globals())
