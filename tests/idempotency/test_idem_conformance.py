"""The public conformance suite, run against all four backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from idem_support import memory_harness, postgres_harness, redis_harness, sqlite_harness

from shipsync.testing.idempotency import IdempotencyStoreConformance, StoreHarness


class TestMemoryStore(IdempotencyStoreConformance):
    @pytest.fixture
    def idempotency_harness(self) -> StoreHarness:
        return memory_harness()


class TestSQLiteStore(IdempotencyStoreConformance):
    @pytest.fixture
    def idempotency_harness(self, tmp_path: Path) -> Iterator[StoreHarness]:
        with sqlite_harness(tmp_path) as harness:
            yield harness


@pytest.mark.services
class TestRedisStore(IdempotencyStoreConformance):
    @pytest.fixture
    def idempotency_harness(self, redis_url: str) -> Iterator[StoreHarness]:
        with redis_harness(redis_url) as harness:
            yield harness


@pytest.fixture(scope="module")
def pg_harness(postgres_dsn: str) -> Iterator[StoreHarness]:
    """One PostgreSQL table for the module; every test works in its own namespace."""
    with postgres_harness(postgres_dsn) as harness:
        yield harness


@pytest.mark.services
class TestPostgresStore(IdempotencyStoreConformance):
    @pytest.fixture
    def idempotency_harness(self, pg_harness: StoreHarness) -> StoreHarness:
        return pg_harness
