"""The public surface of shipsync.idempotency and shipsync.testing.idempotency is pinned."""

from __future__ import annotations

import shipsync.idempotency
import shipsync.testing.idempotency


def test_idempotency_exports_are_pinned() -> None:
    """Adding or removing a public name is a deliberate change to this list."""
    assert shipsync.idempotency.__all__ == [
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
    for name in shipsync.idempotency.__all__:
        assert getattr(shipsync.idempotency, name) is not None


def test_conformance_suite_exports_are_pinned() -> None:
    """The conformance suite's public names."""
    assert shipsync.testing.idempotency.__all__ == [
        "FakeClock",
        "IdempotencyStoreConformance",
        "ReferenceModel",
        "StoreHarness",
    ]


def test_every_store_satisfies_the_protocols() -> None:
    """Each backend class structurally implements its protocol (sync or async)."""
    from shipsync.idempotency import (
        AsyncIdempotencyStore,
        AsyncMemoryStore,
        IdempotencyStore,
        MemoryStore,
    )

    assert isinstance(MemoryStore(), IdempotencyStore)
    assert isinstance(AsyncMemoryStore(), AsyncIdempotencyStore)
