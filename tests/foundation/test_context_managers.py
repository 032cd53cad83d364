"""Every store, log and dead letter store closes itself at the end of a (async) with block."""

from __future__ import annotations

import asyncio
import inspect
from datetime import timedelta
from pathlib import Path

import pytest

from shipsync import flows, idempotency
from shipsync.flows import (
    AsyncSQLiteEventLog,
    BlockingEventLog,
    SQLiteDeadLetters,
    SQLiteEventLog,
)
from shipsync.idempotency import (
    Acquired,
    AsyncMemoryStore,
    AsyncSQLiteStore,
    MemoryStore,
    SQLiteStore,
)

SYNC = [
    idempotency.MemoryStore,
    idempotency.SQLiteStore,
    idempotency.RedisStore,
    idempotency.PostgresStore,
    flows.SQLiteEventLog,
    flows.PostgresEventLog,
    flows.BlockingEventLog,
    flows.SQLiteDeadLetters,
    flows.PostgresDeadLetters,
]
ASYNC = [
    idempotency.AsyncMemoryStore,
    idempotency.AsyncSQLiteStore,
    idempotency.AsyncRedisStore,
    idempotency.AsyncPostgresStore,
    flows.AsyncSQLiteEventLog,
    flows.AsyncPostgresEventLog,
    flows.RabbitMQEventLog,
]


@pytest.mark.parametrize("cls", SYNC, ids=lambda c: c.__name__)
def test_sync_classes_are_context_managers(cls: type) -> None:
    """Each synchronous store and log has __enter__/__exit__ and a close() to call."""
    assert callable(getattr(cls, "__enter__", None))
    assert callable(getattr(cls, "__exit__", None))
    assert not inspect.iscoroutinefunction(cls.close)


@pytest.mark.parametrize("cls", ASYNC, ids=lambda c: c.__name__)
def test_async_classes_are_async_context_managers(cls: type) -> None:
    """Each asynchronous store and log has __aenter__/__aexit__ over an async close()."""
    assert inspect.iscoroutinefunction(cls.__aenter__)
    assert inspect.iscoroutinefunction(cls.__aexit__)
    assert inspect.iscoroutinefunction(cls.close)


def test_embedded_sync_objects_close_at_the_end_of_with(tmp_path: Path) -> None:
    """A with block hands back the object itself, usable inside, and closes it after."""
    with MemoryStore() as memory:
        assert isinstance(memory.claim("k", "f", timedelta(seconds=5)), Acquired)
    with SQLiteStore(tmp_path / "idem.db") as store:
        assert isinstance(store.claim("k", "f", timedelta(seconds=5)), Acquired)
    with SQLiteDeadLetters(tmp_path / "dlq.db") as letters:
        assert letters.list() == []
    with pytest.raises(Exception):  # noqa: B017, PT011 - closed: any use fails
        letters.list()
    with SQLiteEventLog(tmp_path / "log.db") as log:
        assert log.receive(1) == []
    path = tmp_path / "blocking.db"
    with BlockingEventLog(lambda: AsyncSQLiteEventLog(path)) as blocking:
        assert blocking.receive(1) == []


def test_embedded_async_objects_close_at_the_end_of_async_with(tmp_path: Path) -> None:
    """An async with block hands back the object itself and closes it after."""

    async def scenario() -> None:
        async with AsyncMemoryStore() as memory:
            assert isinstance(await memory.claim("k", "f", timedelta(seconds=5)), Acquired)
        async with AsyncSQLiteStore(tmp_path / "idem.db") as store:
            assert isinstance(await store.claim("k", "f", timedelta(seconds=5)), Acquired)
        async with AsyncSQLiteEventLog(tmp_path / "log.db") as log:
            assert await log.receive(1, timeout=0) == []

    asyncio.run(scenario())


def test_networked_stores_share_from_url() -> None:
    """Redis and PostgreSQL stores, sync and async, are all made with from_url."""
    for cls in (
        idempotency.RedisStore,
        idempotency.AsyncRedisStore,
        idempotency.PostgresStore,
        idempotency.AsyncPostgresStore,
    ):
        assert callable(getattr(cls, "from_url", None)), cls.__name__
