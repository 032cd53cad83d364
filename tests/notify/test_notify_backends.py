"""The same degradable notification flow on each event log backend: SQLite, PostgreSQL, RabbitMQ."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import attrs
import psycopg
import pytest
from _notify_helpers import created, milestone

from shipsync.canonical import Milestone
from shipsync.errors import ChannelUnavailableError
from shipsync.flows import (
    AsyncEventLog,
    AsyncPostgresEventLog,
    AsyncSQLiteEventLog,
    Dispatcher,
    RabbitMQEventLog,
    SQLiteDeadLetters,
)
from shipsync.idempotency import MemoryStore
from shipsync.notify import (
    NotificationService,
    Notifier,
    NotifyDeadLetters,
    NotifyState,
    OutboundMessage,
    Rule,
    Rules,
    SendReceipt,
    notify_catalogue,
)

OpenLog = Callable[[], Awaitable[AsyncEventLog]]


@attrs.define
class _Channel:
    name: str
    address: str | None = None
    down: bool = False
    sent: list[str] = attrs.Factory(list)

    async def send(self, message: OutboundMessage) -> SendReceipt:
        if self.down:
            raise ChannelUnavailableError("down", channel=self.name)
        self.sent.append(message.id)
        return SendReceipt(message.id, self.name)


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.services),
        pytest.param("rabbitmq", marks=pytest.mark.services),
    ]
)
async def open_log(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenLog]:
    """A factory of the backend's log, read with the notify catalogue; cleaned up after."""
    catalogue = notify_catalogue()
    if request.param == "sqlite":

        async def sqlite() -> AsyncEventLog:
            return AsyncSQLiteEventLog(tmp_path / "log.db", catalogue=catalogue, lease=2.0)

        yield sqlite
    elif request.param == "postgres":
        dsn = request.getfixturevalue("postgres_dsn")
        table = f"notify_t_{uuid.uuid4().hex[:12]}"

        async def postgres() -> AsyncEventLog:
            return AsyncPostgresEventLog(dsn, table=table, lease=2.0, catalogue=catalogue)

        yield postgres
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table}, {table}_partitions")
    else:
        url = request.getfixturevalue("amqp_url")
        name = f"notify-test-{uuid.uuid4().hex[:10]}"

        async def rabbit() -> AsyncEventLog:
            return RabbitMQEventLog(url, name=name, queues=2, catalogue=catalogue)

        yield rabbit
        await RabbitMQEventLog(url, name=name, queues=2).delete()


async def test_each_backend_carries_notifications_dead_letters_and_replays_once(
    open_log: OpenLog, tmp_path: Path
) -> None:
    """On every backend: e-mail down dead-letters only e-mails, webhooks go out, and replay
    sends each e-mail once."""
    log = await open_log()
    email, webhook = _Channel("email", address="email", down=True), _Channel("webhook")
    rules = Rules.of([Rule(("webhook", "email"))])
    service = NotificationService(Notifier(NotifyState(tmp_path / "n.db"), rules), [webhook, email])
    dead = NotifyDeadLetters(SQLiteDeadLetters(tmp_path / "dead.db"))
    dispatcher = Dispatcher(MemoryStore(), dead)
    service.attach(dispatcher, log)
    events = []
    for sid in ("B1", "B2"):
        events += [created(sid), milestone(sid, Milestone.IN_TRANSIT, 1)]
        events += [milestone(sid, Milestone.DELIVERED, 5)]
    try:
        await log.publish(events)
        await dispatcher.run(log, idle_timeout=1.0)
        assert len(webhook.sent) == 4
        assert {letter.handler for letter in dead.list()} == {"notify.email"}
        email.down = False
        report = await dispatcher.replay()
        assert len(report.succeeded) == 4
        assert sorted(email.sent) == sorted(set(email.sent))
        assert (await dispatcher.replay()).succeeded == []
        assert len(email.sent) == 4
    finally:
        await log.close()
