"""Harness builders shared by the idempotency tests (one per backend)."""

from __future__ import annotations

import socket
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
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
from shipsync.idempotency._redis import _GRACE_MS, _OFFSET_BIAS_MS
from shipsync.testing.idempotency import FakeClock, StoreHarness


def closed_port() -> int:
    """A local TCP port that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def delete_redis_keys(client: Any, prefix: str) -> None:
    """Delete every key under ``prefix`` in batches."""
    batch: list[bytes] = []
    for name in client.scan_iter(match=f"{prefix}:*", count=1000):
        batch.append(name)
        if len(batch) >= 1000:
            client.delete(*batch)
            batch = []
    if batch:
        client.delete(*batch)


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
        store_clock=clock,
        # a record is (state, fingerprint, token, expires_at, result)
        lease_expiry=lambda store, key: store._records[key][3],
    )


def _sqlite_expiry(store: Any, key: str) -> float:
    row = store._conn.execute(
        f"SELECT expires_at FROM {store.table} WHERE ns = ? AND key = ?",
        (store.namespace, storage_key(key)),
    ).fetchone()
    return float(row[0])


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
        store_clock=clock,
        lease_expiry=_sqlite_expiry,
    )
    for blocker in blockers:
        blocker.close()


@contextmanager
def redis_harness(url: str) -> Iterator[StoreHarness]:
    offset = FakeClock(0.0)
    prefix = unique("idemtest")
    bad = f"redis://127.0.0.1:{closed_port()}/0"

    def corrupt(store: Any, key: str) -> None:
        store.client.set(store.record_key(key), b"not a record")

    import redis

    probe = redis.Redis.from_url(url)

    def server_now() -> float:
        seconds, micros = probe.time()
        return float(seconds + micros / 1e6 + offset())

    def expiry(store: Any, key: str) -> float:
        # a lease ends a grace moment before the record's native TTL (see the store's docstring)
        pipe = store.client.pipeline(transaction=True)
        pipe.time()
        pipe.pttl(store.record_key(key))
        (seconds, micros), ttl = pipe.execute()
        return float(seconds + micros / 1e6 + (ttl - _GRACE_MS - _OFFSET_BIAS_MS) / 1000.0)

    yield StoreHarness(
        make=lambda ns: RedisStore.from_url(url, namespace=ns, prefix=prefix, clock_offset=offset),
        make_async=lambda ns: AsyncRedisStore.from_url(
            url, namespace=ns, prefix=prefix, clock_offset=offset
        ),
        advance=offset.advance,
        corrupt=corrupt,
        make_unavailable=lambda ns: RedisStore.from_url(bad, namespace=ns, timeout=1),
        make_unavailable_async=lambda ns: AsyncRedisStore.from_url(bad, namespace=ns, timeout=1),
        store_clock=server_now,
        lease_expiry=expiry,
    )
    delete_redis_keys(probe, prefix)
    probe.close()


def drop_postgres_table(dsn: str, table: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"DROP SEQUENCE IF EXISTS {table}_fence")
        conn.execute(f"DROP FUNCTION IF EXISTS {table}_claim")
        conn.execute(f"DROP FUNCTION IF EXISTS {table}_complete")


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

    import psycopg

    probe = psycopg.connect(dsn, autocommit=True)

    def server_now() -> float:
        row = probe.execute("SELECT extract(epoch FROM clock_timestamp())").fetchone()
        assert row is not None
        return float(row[0]) + offset()

    def expiry(store: Any, key: str) -> float:
        row = store.connection.execute(
            f"SELECT extract(epoch FROM expires_at) FROM {table} WHERE ns = %s AND key = %s",
            [store.namespace, storage_key(key)],
        ).fetchone()
        return float(row[0])

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
            store_clock=server_now,
            lease_expiry=expiry,
        )
    finally:
        probe.close()
        drop_postgres_table(dsn, table)


class CuttableProxy:
    """A TCP proxy on 127.0.0.1 to a local service, whose link the test can cut and restore.

    ``cut()`` closes every open connection and refuses new ones (the service looks down to the
    client); ``heal()`` accepts again on the same port.
    """

    def __init__(self, upstream_port: int) -> None:
        import threading

        self.upstream = ("127.0.0.1", upstream_port)
        self.port = 0
        self._threading = threading
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._stopping = False
        self.heal()

    def heal(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        self.port = listener.getsockname()[1]
        listener.listen(64)
        self._listener = listener
        self._threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._socks += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                self._threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        if self._listener is not None:
            with suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
            self._listener.close()
            self._listener = None
        with self._lock:
            socks, self._socks = self._socks, []
        for sock in socks:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self.cut()
