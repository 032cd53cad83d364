"""The receiver against every real dedupe backend, sync and async: SQLite, Redis, PostgreSQL.

Each test uses its own namespace (and table or key prefix) so concurrent runs never collide.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from _wh_helpers import HMAC_SECRET, event_body

from shipsync.canonical import Event
from shipsync.errors import EventLogUnavailableError, StoreUnavailableError
from shipsync.idempotency import (
    AsyncMemoryStore,
    AsyncPostgresStore,
    AsyncRedisStore,
    AsyncSQLiteStore,
    MemoryStore,
    PostgresStore,
    RedisStore,
    SQLiteStore,
)
from shipsync.webhooks import (
    AsyncWebhookReceiver,
    ReceiptOutcome,
    StandardWebhooksScheme,
    WebhookReceiver,
)

SCHEME = StandardWebhooksScheme()
BODY = event_body("SHP-STORE", 1)


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Sink:
    def __init__(self) -> None:
        self.batches: list[list[Event]] = []
        self.down = False

    def publish(self, events: Sequence[Event]) -> None:
        if self.down:
            self.down = False
            raise EventLogUnavailableError("log down")
        self.batches.append(list(events))


class AsyncSink(Sink):
    async def publish(self, events: Sequence[Event]) -> None:  # type: ignore[override]
        Sink.publish(self, events)


def _drop_table(dsn: str, table: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"DROP SEQUENCE IF EXISTS {table}_fence")
        conn.execute(f"DROP FUNCTION IF EXISTS {table}_claim")


@pytest.fixture(params=["memory", "sqlite", "redis", "postgres"])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[dict[str, Callable[[], Any]]]:
    """Factories for a sync and an async store sharing one fresh namespace."""
    ns = _unique("wh")
    kind = request.param
    if kind == "memory":
        shared = MemoryStore(namespace=ns)
        yield {"sync": lambda: shared, "async": lambda: AsyncMemoryStore(shared)}
    elif kind == "sqlite":
        path = tmp_path / "dedupe.db"
        yield {
            "sync": lambda: SQLiteStore(path, namespace=ns),
            "async": lambda: AsyncSQLiteStore(path, namespace=ns),
        }
    elif kind == "redis":
        url = request.getfixturevalue("redis_url")
        prefix = _unique("whtest")
        yield {
            "sync": lambda: RedisStore.from_url(url, namespace=ns, prefix=prefix),
            "async": lambda: AsyncRedisStore.from_url(url, namespace=ns, prefix=prefix),
        }
    else:
        dsn = request.getfixturevalue("postgres_dsn")
        table = _unique("wh_dedupe")
        PostgresStore(dsn, table=table).close()
        try:
            yield {
                "sync": lambda: PostgresStore(dsn, table=table, namespace=ns, setup=False),
                "async": lambda: AsyncPostgresStore(dsn, table=table, namespace=ns),
            }
        finally:
            _drop_table(dsn, table)


def _close(store: Any) -> None:
    close = getattr(store, "close", None)
    if close is not None:
        close()


async def _aclose(store: Any) -> None:
    close = getattr(store, "close", None)
    if close is not None:
        await close()


def _headers(ts: int | None = None) -> dict[str, str]:
    return SCHEME.signer(HMAC_SECRET).sign(BODY, msg_id="msg_store", timestamp=ts)


def test_sync_receiver_dedupes_and_recovers_from_a_failed_hand_off(
    backend: dict[str, Callable[[], Any]],
) -> None:
    """Deferred on a sink failure, accepted on redelivery, then a duplicate — on a real store."""
    store = backend["sync"]()
    sink = Sink()
    receiver = WebhookReceiver(SCHEME.verifier(HMAC_SECRET), store=store, sink=sink)
    try:
        sink.down = True
        assert receiver.receive(BODY, _headers()).status == 503
        assert receiver.receive(BODY, _headers()).outcome is ReceiptOutcome.ACCEPTED
        assert receiver.receive(BODY, _headers()).outcome is ReceiptOutcome.DUPLICATE
        assert len(sink.batches) == 1
    finally:
        _close(store)


async def test_async_receiver_dedupes_and_recovers_from_a_failed_hand_off(
    backend: dict[str, Callable[[], Any]],
) -> None:
    """The asyncio receiver behaves identically on the async twin of each store."""
    store = backend["async"]()
    sink = AsyncSink()
    receiver = AsyncWebhookReceiver(SCHEME.verifier(HMAC_SECRET), store=store, sink=sink)
    try:
        sink.down = True
        assert (await receiver.receive(BODY, _headers())).status == 503
        assert (await receiver.receive(BODY, _headers())).outcome is ReceiptOutcome.ACCEPTED
        assert (await receiver.receive(BODY, _headers())).outcome is ReceiptOutcome.DUPLICATE
        assert len(sink.batches) == 1
    finally:
        await _aclose(store)


async def test_sync_and_async_receivers_share_dedupe_state(
    backend: dict[str, Callable[[], Any]],
) -> None:
    """A delivery accepted by a sync worker is a duplicate for an async one on the same store."""
    store, astore = backend["sync"](), backend["async"]()
    try:
        sync_receiver = WebhookReceiver(SCHEME.verifier(HMAC_SECRET), store=store, sink=Sink())
        assert sync_receiver.receive(BODY, _headers()).outcome is ReceiptOutcome.ACCEPTED
        async_receiver = AsyncWebhookReceiver(
            SCHEME.verifier(HMAC_SECRET), store=astore, sink=AsyncSink()
        )
        receipt = await async_receiver.receive(BODY, _headers())
        assert receipt.outcome is ReceiptOutcome.DUPLICATE
    finally:
        _close(store)
        await _aclose(astore)


@pytest.fixture(params=["redis", "postgres"])
def unreachable(request: pytest.FixtureRequest) -> dict[str, Callable[[], Any]]:
    """Factories for sync and async stores pointed at a port nothing listens on."""
    ns = _unique("wh")
    if request.param == "redis":
        bad = f"redis://127.0.0.1:{_closed_port()}/0"
        return {
            "sync": lambda: RedisStore.from_url(bad, namespace=ns, timeout=1),
            "async": lambda: AsyncRedisStore.from_url(bad, namespace=ns, timeout=1),
        }
    bad = f"postgresql://postgres@127.0.0.1:{_closed_port()}/test"
    return {
        "sync": lambda: PostgresStore(bad, namespace=ns, setup=False, connect_timeout=1),
        "async": lambda: AsyncPostgresStore(bad, namespace=ns, connect_timeout=1),
    }


def test_an_unreachable_store_defers_with_503(unreachable: dict[str, Callable[[], Any]]) -> None:
    """A dedupe store that cannot be reached yields 503 + Retry-After, nothing handed off."""
    store = unreachable["sync"]()
    sink = Sink()
    try:
        receipt = WebhookReceiver(SCHEME.verifier(HMAC_SECRET), store=store, sink=sink).receive(
            BODY, _headers()
        )
    finally:
        _close(store)
    assert (receipt.outcome, receipt.status) == (ReceiptOutcome.DEFERRED, 503)
    assert isinstance(receipt.error, StoreUnavailableError)
    assert receipt.headers["Retry-After"].isdigit()
    assert sink.batches == []


async def test_an_unreachable_async_store_defers_with_503(
    unreachable: dict[str, Callable[[], Any]],
) -> None:
    """The same for the asyncio receiver."""
    store = unreachable["async"]()
    try:
        receipt = await AsyncWebhookReceiver(
            SCHEME.verifier(HMAC_SECRET), store=store, sink=AsyncSink()
        ).receive(BODY, _headers())
    finally:
        await _aclose(store)
    assert (receipt.outcome, receipt.status) == (ReceiptOutcome.DEFERRED, 503)


def test_workers_racing_one_delivery_on_a_real_store_hand_it_off_once(
    backend: dict[str, Callable[[], Any]],
) -> None:
    """Four workers (threads, each with its own store connection) receive the same delivery at
    once: exactly one hand-off, no exception, every other answer deferred or duplicate."""
    import threading

    gate = threading.Barrier(4)
    lock = threading.Lock()
    published: list[Sequence[Event]] = []
    outcomes: list[ReceiptOutcome] = []
    errors: list[BaseException] = []

    class SlowSink:
        def publish(self, events: Sequence[Event]) -> None:
            threading.Event().wait(0.1)  # hold the claim while the others arrive
            with lock:
                published.append(events)

    stores = [backend["sync"]() for _ in range(4)]
    headers = _headers()

    def work(store: Any) -> None:
        receiver = WebhookReceiver(SCHEME.verifier(HMAC_SECRET), store=store, sink=SlowSink())
        gate.wait(10)
        try:
            receipt = receiver.receive(BODY, headers)
            with lock:
                outcomes.append(receipt.outcome)
        except BaseException as error:  # pragma: no cover - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(store,)) for store in stores]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        for store in {id(s): s for s in stores}.values():
            _close(store)
    assert errors == []
    assert len(outcomes) == 4
    assert outcomes.count(ReceiptOutcome.ACCEPTED) == 1
    assert set(outcomes) <= {
        ReceiptOutcome.ACCEPTED,
        ReceiptOutcome.DEFERRED,
        ReceiptOutcome.DUPLICATE,
    }
    assert len(published) == 1
