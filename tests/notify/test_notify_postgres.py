"""The notifier's state and the webhook endpoint store on PostgreSQL, behind the SQLite API.

Each test runs on SQLite and on the machine's PostgreSQL (``test`` database, a schema of its own
dropped afterwards; skipped when unreachable unless ``SHIPSYNC_REQUIRE_SERVICES=1``), so both
backends keep one contract: a notification decided, held and sent once; endpoints, claims,
attempts and replays the same.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from _notify_helpers import LocalEndpoint, created, milestone
from click.testing import CliRunner

import shipsync.cli
from shipsync.canonical import Milestone
from shipsync.errors import ChannelUnavailableError, ConfigurationError, InvalidInputError
from shipsync.flows import AsyncPostgresEventLog, AsyncSQLiteEventLog, Dispatcher
from shipsync.idempotency import MemoryStore
from shipsync.notify import (
    EndpointStore,
    NotificationService,
    Notifier,
    NotifyState,
    PostgresEndpointStore,
    PostgresNotifyState,
    RecordingChannel,
    Rule,
    Rules,
    WebhookSender,
    notify_catalogue,
)
from shipsync.webhooks import generate_secret


class Backend:
    """Opens the stores (and an event log) of one backend; every open shares one database."""

    def __init__(self, kind: str, root: Path, conninfo: str | None) -> None:
        self.kind, self.root, self.conninfo = kind, root, conninfo

    def endpoints(self, clock: Callable[[], float] = time.time, key: Any = None) -> EndpointStore:
        if self.conninfo is None:
            return EndpointStore(self.root / "endpoints.db", clock=clock, encryption_key=key)
        return PostgresEndpointStore(self.conninfo, clock=clock, encryption_key=key)

    def state(self) -> NotifyState:
        if self.conninfo is None:
            return NotifyState(self.root / "notify.db")
        return PostgresNotifyState(self.conninfo)

    def log(self) -> Any:
        if self.conninfo is None:
            return AsyncSQLiteEventLog(self.root / "log.db", catalogue=notify_catalogue())
        return AsyncPostgresEventLog(self.conninfo, table="log", catalogue=notify_catalogue())


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.services)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        yield Backend("sqlite", tmp_path, None)
        return
    dsn = request.getfixturevalue("postgres_dsn")
    schema = f"notify_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in dsn else "?"
    try:
        yield Backend("postgres", tmp_path, f"{dsn}{sep}options=-csearch_path%3D{schema}")
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def test_endpoints_claims_attempts_and_replays_keep_one_contract(backend: Backend) -> None:
    """Add, rotate, accept once, claim without overlap from two stores, record, replay."""
    now = [1_000_000.0]
    store, other = backend.endpoints(lambda: now[0]), backend.endpoints(lambda: now[0])
    try:
        store.add("https://a.example.com/x", id="ep", ordered=False, rate_limit=5)
        with pytest.raises(InvalidInputError, match="exists already"):
            store.add("https://a.example.com/y", id="ep")
        store.rotate_secret("ep")
        assert len(other.get("ep").active_secrets(now[0])) == 2
        for i in range(6):
            assert store.accept(f"m{i}", "t", b'{"i":%d}' % i) == ["ep"]
        assert store.accept("m0", "t", b"{}") == ["ep"]  # the same id again changes nothing
        first = store.claim(now[0], lease=60, limit=4)
        second = other.claim(now[0], lease=60, limit=100)
        assert (len(first), len(second)) == (4, 2)
        assert not {d.message_id for d in first} & {d.message_id for d in second}
        assert first[0].body.startswith(b'{"i":')
        sender = WebhookSender(store, jitter=0.0)
        from shipsync.notify._endpoints import _Result

        store.record(
            [_Result(d, now[0], 204, 1.0, True, None, "ok") for d in first]
            + [_Result(d, now[0], 500, 1.0, False, "HTTP 500", "token=abc") for d in second],
            next_at=sender.next_at,
            disable_after=86_400,
        )
        states = other.deliveries()
        assert sorted(s for s, _ in states.values()) == ["pending"] * 2 + ["succeeded"] * 4
        attempts = other.attempts("ep", limit=10)
        assert len(attempts) == 6
        assert other.get("ep").failing_since == now[0]
        assert other.replay(endpoint_id="ep", include_succeeded=True) == 4
        assert len(other.deliveries("pending")) == 6
    finally:
        store.close()
        other.close()


async def test_a_webhook_goes_out_once_through_the_store(backend: Backend) -> None:
    """A real endpoint gets the message once; the delivery is recorded succeeded."""
    secret = generate_secret()
    with LocalEndpoint(secret) as endpoint:
        store = backend.endpoints()
        store.add(endpoint.url, id="ep", secret=secret, allow_private=True)
        store.accept("msg-1", "shipment.customer_status", b'{"a":1}')
        sender = WebhookSender(store)
        try:
            report = await sender.deliver_due()
            assert report.succeeded == 1
            assert (await sender.deliver_due()).attempted == 0
        finally:
            await sender.aclose()
            store.close()
    assert endpoint.delivered == ["msg-1"]
    assert all(r.verified for r in endpoint.requests)


async def test_the_notifier_state_sends_each_change_once(backend: Backend) -> None:
    """The notifier on this backend's state and log: each status once, nothing backwards."""
    log = backend.log()
    webhook = RecordingChannel("webhook")
    state = backend.state()
    service = NotificationService(Notifier(state, Rules.of([Rule(("webhook",))])), [webhook])
    dispatcher = Dispatcher(MemoryStore())
    service.attach(dispatcher, log)
    events = [
        created("P1"),
        milestone("P1", Milestone.IN_TRANSIT, 1),
        milestone("P1", Milestone.DELIVERED, 9),
        milestone("P1", Milestone.IN_TRANSIT, 5),  # late: tells nothing
        milestone("P1", Milestone.DELIVERED, 9),  # a repeat: tells nothing
    ]
    try:
        await log.publish(events[:3])
        await dispatcher.run(log, idle_timeout=1.0)
        await log.publish(events[3:])
        await dispatcher.run(log, idle_timeout=1.0)
    finally:
        await log.close()
    assert [m.payload["status"] for m in webhook.sent] == ["shipped", "delivered"]
    assert state.last_shown("P1", "shipment:P1", "webhook") == "delivered"
    state.close()


def test_an_unreachable_postgres_is_a_channel_outage() -> None:
    """A database that cannot be reached raises the retryable ChannelUnavailableError."""
    with pytest.raises(ChannelUnavailableError):
        PostgresNotifyState("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1")


def _raw_secrets(store: EndpointStore) -> list[str]:
    rows = store.db.tx(lambda c: c.execute("SELECT secrets FROM wh_endpoints").fetchall())
    return [str(r[0]) for r in rows]


def test_secrets_are_encrypted_at_rest_with_the_hosts_key(backend: Backend) -> None:
    """With a key the column holds no secret; without it, or with another, nothing opens."""
    key = EndpointStore.generate_key()

    def reopen(k: Any) -> EndpointStore:
        return backend.endpoints(key=k)

    store = reopen(key)
    secret = generate_secret()
    store.add("https://a.example.com/x", id="ep", secret=secret)
    rotated = store.rotate_secret("ep")
    raw = _raw_secrets(store)
    assert raw[0].startswith("fernet:")
    assert secret not in raw[0]
    assert rotated not in raw[0]
    store.close()
    store = reopen(key)
    assert {s.secret for s in store.get("ep").secrets} == {secret, rotated}
    assert store.accept("m1", "t", b"{}") == ["ep"]
    store.close()
    for wrong in (None, EndpointStore.generate_key()):
        store = reopen(wrong)
        with pytest.raises(ConfigurationError, match="encryption_key"):
            store.get("ep")
        store.close()


def test_a_plain_store_is_sealed_and_a_key_rotated(backend: Backend) -> None:
    """Secrets stored without a key are read with one and sealed by encrypt_secrets; a new key
    put first opens the old seals until encrypt_secrets re-seals them under it."""
    plain = backend.endpoints()
    secret = generate_secret()
    plain.add("https://a.example.com/x", id="ep", secret=secret)
    assert secret in _raw_secrets(plain)[0]
    plain.close()
    old, new = EndpointStore.generate_key(), EndpointStore.generate_key()

    def reopen(k: Any) -> EndpointStore:
        return backend.endpoints(key=k)

    store = reopen(old)
    assert store.get("ep").secrets[0].secret == secret
    assert store.encrypt_secrets() == 1
    assert secret not in _raw_secrets(store)[0]
    store.close()
    store = reopen([new, old])
    assert store.get("ep").secrets[0].secret == secret
    store.encrypt_secrets()
    store.close()
    store = reopen(new)
    assert store.get("ep").secrets[0].secret == secret
    store.close()
    with pytest.raises(ConfigurationError, match="Fernet key"):
        reopen("not a key")


def test_the_endpoints_command_opens_either_store_with_the_key(backend: Backend) -> None:
    """`shipsync endpoints --db` takes a SQLite file or a postgresql:// DSN, and seals the
    secrets with SHIPSYNC_ENDPOINTS_KEY."""
    db = backend.conninfo or str(backend.root / "endpoints.db")
    env = {"SHIPSYNC_ENDPOINTS_KEY": EndpointStore.generate_key()}
    runner = CliRunner()
    added = runner.invoke(
        shipsync.cli.main, ["endpoints", "--db", db, "add", "https://a.example.com/x"], env=env
    )
    assert added.exit_code == 0, added.output
    listed = runner.invoke(shipsync.cli.main, ["endpoints", "--db", db, "list", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.output.splitlines()[0])["url"] == "https://a.example.com/x"
    store = backend.endpoints()
    assert _raw_secrets(store)[0].startswith("fernet:")
    store.close()
    refused = runner.invoke(shipsync.cli.main, ["endpoints", "--db", db, "list"])
    assert refused.exit_code == 1
    assert "encryption_key" in refused.output


def test_preview_reads_the_state_of_either_backend(backend: Backend) -> None:
    """`shipsync notify preview --state` takes the SQLite file or the postgresql:// DSN."""
    state = backend.state()
    for event in (created("V1"), milestone("V1", Milestone.OUT_FOR_DELIVERY, 3)):
        state.record(event)
    state.close()
    where = backend.conninfo or str(backend.root / "notify.db")
    result = CliRunner().invoke(
        shipsync.cli.main, ["notify", "preview", "V1", "--state", where, "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    statuses = {json.loads(line)["payload"]["status"] for line in result.output.splitlines()}
    assert statuses == {"out_for_delivery"}
    missing = CliRunner().invoke(
        shipsync.cli.main, ["notify", "preview", "V1", "--state", str(backend.root / "no.db")]
    )
    assert missing.exit_code == 2
    assert "no state file" in missing.output
