"""Typical calls of shipsync.notify, type-checked (``mypy --strict``) but never run."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path
from typing import assert_type

from shipsync.canonical import ShipmentState
from shipsync.flows import (
    AsyncSQLiteEventLog,
    Dispatcher,
    DispatchReport,
    SQLiteDeadLetters,
    Subscription,
)
from shipsync.idempotency import SQLiteStore
from shipsync.notify import (
    CustomerStatus,
    CustomerView,
    DeliveryReport,
    EmailChannel,
    Endpoint,
    EndpointStore,
    NotificationService,
    Notifier,
    NotifyDeadLetters,
    NotifyState,
    OutboundMessage,
    PostgresEndpointStore,
    PostgresNotifyState,
    QuietHours,
    Rule,
    Rules,
    SendReceipt,
    ShadowChannel,
    StatusProjection,
    WebhookChannel,
    WebhookSender,
    notify_catalogue,
)


async def wiring(root: Path, state: ShipmentState, message: OutboundMessage) -> None:
    rules = Rules.of(
        [
            Rule(("webhook",)),
            Rule(
                ("email",),
                statuses=frozenset({CustomerStatus.DELIVERED}),
                quiet_hours=QuietHours(time(22), time(7)),
                coalesce=timedelta(minutes=10),
            ),
        ]
    )
    store = EndpointStore(root / "endpoints.db")
    assert_type(store.add("https://hooks.example.com/x", ordered=True), Endpoint)
    sender = WebhookSender(store, timeout=5.0)
    email = EmailChannel("smtp.example.com", 587, "shop@example.com", start_tls=True)
    service = NotificationService(
        Notifier(NotifyState(root / "notify.db"), rules),
        [WebhookChannel(sender), ShadowChannel(email)],
    )
    log = AsyncSQLiteEventLog(root / "events.db", catalogue=notify_catalogue())
    dispatcher = Dispatcher(
        SQLiteStore(root / "keys.db"), NotifyDeadLetters(SQLiteDeadLetters(root / "dead.db"))
    )
    assert_type(service.attach(dispatcher, log), list[Subscription])
    assert_type(await sender.deliver_due(), DeliveryReport)
    assert_type(await email.send(message), SendReceipt)
    assert_type(StatusProjection().project(state), CustomerView | None)
    assert_type(store.replay(since=0.0, until=1.0), int)
    assert_type(await service.run(dispatcher, log, idle_timeout=1.0), DispatchReport)
    key = EndpointStore.generate_key()
    sealed: EndpointStore = PostgresEndpointStore("postgresql://db/app", encryption_key=[key])
    assert_type(sealed.encrypt_secrets(), int)
    shared: NotifyState = PostgresNotifyState("postgresql://db/app")
    shared.close()
