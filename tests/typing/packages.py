"""Typical calls of every public package but canonical and errors, type-checked, never run.

``mypy --strict tests/typing`` fails when a public signature changes in a way that breaks how
users call us (see ``api.py`` for the canonical model and the errors).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import assert_type

from shipsync.canonical import Event, Shipment, TrackingEvent
from shipsync.carriers import (
    AsyncCarrierClient,
    CarrierClient,
    CircuitBreaker,
    DriverRegistry,
    RateLimit,
    RetryPolicy,
)
from shipsync.carriers.fake import FakeCarrierService, FakeDriver
from shipsync.flows import (
    AsyncSQLiteEventLog,
    DeadLetterFilter,
    Dispatcher,
    DispatchReport,
    HandlerContext,
    SQLiteDeadLetters,
)
from shipsync.idempotency import (
    Acquired,
    AsyncPostgresStore,
    AsyncRedisStore,
    ClaimOutcome,
    MemoryStore,
    PostgresStore,
    RedisStore,
    SQLiteStore,
    idempotent,
)
from shipsync.odoo import ApplyReport, OdooLogistics, RpcGateway
from shipsync.retry import SleepRecorder, set_testing
from shipsync.settlement import (
    InvoiceColumns,
    MatchRules,
    MemoryShipmentIndex,
    Reconciler,
    ReconciliationReport,
    reconcile_file,
)
from shipsync.webhooks import (
    AsyncWebhookReceiver,
    Receipt,
    StandardWebhooksScheme,
    WebhookReceiver,
    generate_secret,
)


def carriers(shipment: Shipment) -> None:
    service = FakeCarrierService(seed=1)
    with CarrierClient(
        FakeDriver(),
        transport=service.mock_transport(),
        retry=RetryPolicy(attempts=3, initial=0.2, maximum=5),
        breaker=CircuitBreaker(threshold=5, ttl=30),
        rate_limit=RateLimit(10, burst=5),
    ) as client:
        booked = client.create_shipment(shipment, idempotency_key="book-1")
        assert_type(booked, Shipment)
        assert_type(client.track(booked.tracking_numbers[0]), list[TrackingEvent])
    registry = DriverRegistry()
    assert_type(registry.names(), list[str])


async def async_carriers(shipment: Shipment) -> None:
    async with AsyncCarrierClient(FakeDriver()) as client:
        assert_type(await client.track("FK1"), list[TrackingEvent])


def retries() -> None:
    with set_testing() as waits:
        assert_type(waits, SleepRecorder)
        assert_type(waits.sleeps, list[float])
    assert_type(RetryPolicy().backoff(0), float)


def idempotency_stores(path: Path) -> None:
    with SQLiteStore(path) as store, MemoryStore() as memory:
        outcome = store.claim("key", "fingerprint", timedelta(seconds=30))
        assert_type(outcome, ClaimOutcome)
        if isinstance(outcome, Acquired):
            store.complete(outcome.key, outcome.token, b"done")
        memory.claim("key", "fingerprint")
    with RedisStore.from_url("redis://127.0.0.1:6379/0"), PostgresStore.from_url("postgresql://"):
        pass

    @idempotent(store, key=lambda order: order)
    def book(order: str) -> str:
        return order


async def async_stores() -> None:
    async with AsyncRedisStore.from_url("redis://127.0.0.1:6379/0") as redis_store:
        await redis_store.claim("k", "f")
    async with await AsyncPostgresStore.from_url("postgresql://") as pg_store:
        await pg_store.claim("k", "f")


async def flows(path: Path, events: Sequence[Event]) -> None:
    dispatcher = Dispatcher(SQLiteStore(path / "idem.db"), SQLiteDeadLetters(path / "dlq.db"))

    @dispatcher.on("shipment.delivered", name="odoo", retry=RetryPolicy(attempts=8))
    def update_odoo(event: Event, ctx: HandlerContext) -> None:
        assert_type(ctx.key, str)

    assert_type(await dispatcher.dispatch(events), DispatchReport)
    async with AsyncSQLiteEventLog(path / "log.db") as log:
        assert_type(await dispatcher.run(log, idle_timeout=1.0), DispatchReport)
    with SQLiteDeadLetters(path / "dlq.db") as letters:
        letters.list(DeadLetterFilter(handler="odoo"))


class Sink:
    def publish(self, events: Sequence[Event]) -> None:
        pass


class AsyncSink:
    async def publish(self, events: Sequence[Event]) -> None:
        pass


async def webhooks(body: bytes, headers: dict[str, str]) -> None:
    scheme = StandardWebhooksScheme()
    secret = generate_secret()
    receiver = WebhookReceiver(
        scheme.verifier([secret]), store=MemoryStore(), sink=Sink(), name="acme"
    )
    assert_type(receiver.receive(body, headers), Receipt)
    signed = scheme.signer([secret]).sign(body, msg_id="msg_1")
    assert_type(signed, dict[str, str])
    from shipsync.idempotency import AsyncMemoryStore

    areceiver = AsyncWebhookReceiver(
        scheme.verifier([secret]),
        store=AsyncMemoryStore(),
        sink=AsyncSink(),
        max_body_size=65_536,
    )
    receipt = await areceiver.receive(body, headers)
    assert_type(receipt.status, int)


def odoo(events: list[TrackingEvent]) -> None:
    logistics = OdooLogistics(RpcGateway("https://erp.example.com", "prod", "bot", "key"))
    assert_type(logistics.apply_events(events), ApplyReport)


def settlement(path: Path, columns: InvoiceColumns) -> None:
    index = MemoryShipmentIndex()
    report = reconcile_file(path, columns, index, rules=MatchRules())
    assert_type(report, ReconciliationReport)
    assert_type(Reconciler(index, carrier="fake").run([]), ReconciliationReport)
