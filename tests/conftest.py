"""Shared test configuration: hypothesis profiles and access to the real services.

Tests that need PostgreSQL, Redis or RabbitMQ take the ``postgres_dsn``, ``redis_url`` or
``amqp_url`` fixture. Each skips when its service is unreachable, except when
``SHIPSYNC_REQUIRE_SERVICES=1`` (as ``.ci/run`` sets), where an unreachable service fails the test.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=60, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

POSTGRES_DSN = os.environ.get("SHIPSYNC_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SHIPSYNC_TEST_REDIS", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("SHIPSYNC_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672/")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _require(name: str, host: str, port: int) -> None:
    if _reachable(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if os.environ.get("SHIPSYNC_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message} and SHIPSYNC_REQUIRE_SERVICES=1")
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    """A DSN of the machine's PostgreSQL ``test`` database."""
    _require("PostgreSQL", "127.0.0.1", 5432)
    return POSTGRES_DSN


@pytest.fixture(scope="session")
def table_updates(postgres_dsn: str) -> Callable[[str, int], tuple[int, int]]:
    """``(updates, HOT updates)`` of a table, read once the statistics show ``wanted`` updates
    (or after 10 s). A session's counts reach the shared ones when it ends (or goes idle, at
    most once a second), so close the connection that made the updates first."""
    import psycopg

    def read(table: str, wanted: int) -> tuple[int, int]:
        with psycopg.connect(postgres_dsn, autocommit=True) as admin:
            deadline = time.monotonic() + 10
            while True:
                admin.execute("SELECT pg_stat_clear_snapshot()")
                row = admin.execute(
                    "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = %s",
                    (table,),
                ).fetchone()
                assert row is not None, f"no statistics for {table}"
                if row[0] >= wanted or time.monotonic() > deadline:
                    return int(row[0]), int(row[1])
                time.sleep(0.05)

    return read


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A URL of the machine's Redis."""
    _require("Redis", "127.0.0.1", 6379)
    return REDIS_URL


@pytest.fixture(scope="session")
def amqp_url() -> str:
    """A URL of the machine's RabbitMQ."""
    _require("RabbitMQ", "127.0.0.1", 5672)
    return AMQP_URL
