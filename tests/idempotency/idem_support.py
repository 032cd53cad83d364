"""Harness builders shared by the idempotency tests (one per backend)."""

from __future__ import annotations

import socket
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shipsync.idempotency import (
    AsyncMemoryStore,
    AsyncPostgresStore,
    AsyncRedisStore,
    AsyncSQLiteStore,
    MemoryStore,
    PostgresStore,
    RedisStore,
    SQLiteStore,
    storage_key,
)
from shipsync.testing.idempotency import FakeClock, StoreHarness


def closed_port() -> int:
    """A local TCP port that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unique(prefix: str) -> str:
    """A name no other test run uses."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def memory_harness() -> StoreHarness:
    clock = FakeClock()
    stores: dict[str, MemoryStore] = {}

    def make(ns: str) -> MemoryStore:
        return stores.setdefault(ns, MemoryStore(namespace=ns, clock=clock))

    return StoreHarness(
        make=make,
        make_async=lambda ns: AsyncMemoryStore(make(ns)),
        advance=clock.advance,
        corrupt=lambda store, key: store.corrupt(key),
    )


@contextmanager
def sqlite_harness(tmp: Path) -> Iterator[StoreHarness]:
    clock = FakeClock()
    path = tmp / "idem.db"
    blockers: list[sqlite3.Connection] = []

    def unavailable(ns: str) -> SQLiteStore:
        # another process holds the write lock for longer than the store waits
        locked = tmp / f"locked-{uuid.uuid4().hex[:6]}.db"
        store = SQLiteStore(locked, namespace=ns, clock=clock, timeout=0.02)
        blocker = sqlite3.connect(locked, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        blockers.append(blocker)
        return store

    yield StoreHarness(
        make=lambda ns: SQLiteStore(path, namespace=ns, clock=clock),
        make_async=lambda ns: AsyncSQLiteStore(path, namespace=ns, clock=clock),
        advance=clock.advance,
        corrupt=lambda store, key: store.corrupt(key),
        make_unavailable=unavailable,
        make_unavailable_async=lambda ns: AsyncSQLiteStore(backend=unavailable(ns)),
    )
    for blocker in blockers:
        blocker.close()


def redis_harness(url: str) -> StoreHarness:
    offset = FakeClock(0.0)
    prefix = unique("idemtest")
    bad = f"redis://127.0.0.1:{closed_port()}/0"

    def corrupt(store: Any, key: str) -> None:
        store.client.set(store.record_key(key), b"not a hash")

    return StoreHarness(
        make=lambda ns: RedisStore.from_url(url, namespace=ns, prefix=prefix, clock_offset=offset),
        make_async=lambda ns: AsyncRedisStore.from_url(
            url, namespace=ns, prefix=prefix, clock_offset=offset
        ),
        advance=offset.advance,
        corrupt=corrupt,
        make_unavailable=lambda ns: RedisStore.from_url(bad, namespace=ns, timeout=1),
        make_unavailable_async=lambda ns: AsyncRedisStore.from_url(bad, namespace=ns, timeout=1),
    )


def drop_postgres_table(dsn: str, table: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"DROP SEQUENCE IF EXISTS {table}_fence")
        conn.execute(f"DROP FUNCTION IF EXISTS {table}_claim")


@contextmanager
def postgres_harness(dsn: str) -> Iterator[StoreHarness]:
    offset = FakeClock(0.0)
    table = unique("idem_conf")
    PostgresStore(dsn, table=table).close()  # creates the schema once
    bad = f"postgresql://postgres@127.0.0.1:{closed_port()}/test"

    def corrupt(store: Any, key: str) -> None:
        store.connection.execute(
            f"UPDATE {table} SET state = 'x' WHERE ns = %s AND key = %s",
            [store.namespace, storage_key(key)],
        )

    try:
        yield StoreHarness(
            make=lambda ns: PostgresStore(
                dsn, table=table, namespace=ns, setup=False, clock_offset=offset
            ),
            make_async=lambda ns: AsyncPostgresStore(
                dsn, table=table, namespace=ns, clock_offset=offset
            ),
            advance=offset.advance,
            corrupt=corrupt,
            make_unavailable=lambda ns: PostgresStore(
                bad, table=table, namespace=ns, setup=False, connect_timeout=1
            ),
            make_unavailable_async=lambda ns: AsyncPostgresStore(
                bad, table=table, namespace=ns, connect_timeout=1
            ),
        )
    finally:
        drop_postgres_table(dsn, table)
