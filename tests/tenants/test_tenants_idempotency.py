"""The same idempotency key in two tenants is two keys, on every backend, sync and async."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from shipsync.idempotency import (
    Acquired,
    AsyncMemoryStore,
    AsyncPostgresStore,
    AsyncRedisStore,
    AsyncSQLiteStore,
    Completed,
    IdempotencyStore,
    MemoryStore,
    PostgresStore,
    RedisStore,
    SQLiteStore,
    current_outbound_key,
    idempotent,
    scoped,
)
from shipsync.tenants import Tenant

ACME, BETA = Tenant(id="acme"), Tenant(id="beta")
BACKENDS = ["memory", "sqlite", "redis", "postgres"]


def _drop(dsn: str, table: str) -> None:
    """Drop what the PostgreSQL store's setup created."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"DROP SEQUENCE IF EXISTS {table}_fence")
        conn.execute(f"DROP FUNCTION IF EXISTS {table}_claim")
        conn.execute(f"DROP FUNCTION IF EXISTS {table}_complete")


@pytest.fixture(params=BACKENDS)
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IdempotencyStore]:
    """One store of each backend, shared by both tenants (one table, one key prefix)."""
    name = request.param
    unique = f"t{uuid.uuid4().hex[:8]}"
    if name == "memory":
        yield MemoryStore()
    elif name == "sqlite":
        yield SQLiteStore(tmp_path / "idem.db")
    elif name == "redis":
        url = request.getfixturevalue("redis_url")
        store = RedisStore.from_url(url, prefix=unique)
        yield store
        for key in store.client.scan_iter(match=f"{unique}*"):
            store.client.delete(key)
        store.client.close()
    else:
        dsn = request.getfixturevalue("postgres_dsn")
        store = PostgresStore(dsn, table=unique)
        yield store
        store.close()
        _drop(dsn, unique)


def test_same_key_in_two_tenants_is_two_keys(shared_store: IdempotencyStore) -> None:
    """Completing "book-1" for acme leaves beta's "book-1" free; each tenant sees only its own
    result; without the scope the second claim would have replayed the first tenant's result."""
    acme, beta = scoped(shared_store, ACME.namespace), scoped(shared_store, BETA.namespace)
    first = acme.claim("book-1", "fp")
    assert isinstance(first, Acquired)
    assert first.key == "book-1"  # the caller's own key comes back
    acme.complete("book-1", first.token, b"acme-result")
    second = beta.claim("book-1", "other-payload")  # another tenant's payload: no mismatch
    assert isinstance(second, Acquired)
    beta.complete("book-1", second.token, b"beta-result")
    assert acme.claim("book-1", "fp") == Completed("book-1", b"acme-result")
    assert beta.claim("book-1", "other-payload") == Completed("book-1", b"beta-result")
    # the shared store unscoped never saw "book-1" itself
    assert isinstance(shared_store.claim("book-1", "fp"), Acquired)


def test_batches_are_scoped_too(shared_store: IdempotencyStore) -> None:
    """claim_many/complete_many of one tenant leave the other's keys untouched."""
    acme, beta = scoped(shared_store, ACME.namespace), scoped(shared_store, BETA.namespace)
    outcomes = acme.claim_many([("e1", "a"), ("e2", "a")])
    assert [o.key for o in outcomes] == ["e1", "e2"]
    acme.complete_many([(o.key, o.token, b"1") for o in outcomes if isinstance(o, Acquired)])
    assert all(isinstance(o, Acquired) for o in beta.claim_many([("e1", "a"), ("e2", "a")]))
    assert all(isinstance(o, Completed) for o in acme.claim_many([("e1", "a"), ("e2", "a")]))


def test_outbound_keys_differ_per_tenant() -> None:
    """The Idempotency-Key sent to a carrier for the same key differs between tenants."""
    store = MemoryStore()
    seen: dict[str, str | None] = {}

    def book(tenant: Tenant) -> Callable[[], None]:
        @idempotent(scoped(store, tenant.namespace), key="book-1")
        def run() -> None:
            seen[tenant.id] = current_outbound_key()

        return run

    book(ACME)()
    book(BETA)()
    assert seen["acme"] is not None
    assert seen["beta"] is not None
    assert seen["acme"] != seen["beta"]


@pytest.fixture(params=BACKENDS)
async def async_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    """One async store of each backend, shared by both tenants."""
    name = request.param
    unique = f"t{uuid.uuid4().hex[:8]}"
    if name == "memory":
        yield AsyncMemoryStore()
    elif name == "sqlite":
        yield AsyncSQLiteStore(tmp_path / "idem.db")
    elif name == "redis":
        store = AsyncRedisStore.from_url(request.getfixturevalue("redis_url"), prefix=unique)
        yield store
        async for key in store.client.scan_iter(match=f"{unique}*"):
            await store.client.delete(key)
        await store.client.aclose()
    else:
        dsn = request.getfixturevalue("postgres_dsn")
        store = await AsyncPostgresStore.from_url(dsn, table=unique)
        yield store
        await store.close()
        _drop(dsn, unique)


async def test_same_key_in_two_tenants_is_two_keys_async(async_store: Any) -> None:
    """The async twins keep tenants apart the same way."""
    acme, beta = scoped(async_store, ACME.namespace), scoped(async_store, BETA.namespace)
    first = await acme.claim("k", "fp", timedelta(seconds=30))
    assert isinstance(first, Acquired)
    await acme.complete("k", first.token, b"acme")
    second = await beta.claim("k", "fp")
    assert isinstance(second, Acquired)
    await beta.release("k", second.token)
    assert await acme.claim("k", "fp") == Completed("k", b"acme")
    assert isinstance(await beta.claim("k", "fp"), Acquired)
