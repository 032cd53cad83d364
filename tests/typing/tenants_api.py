"""Typical calls of the tenants API and its wiring, type-checked (``mypy --strict``), never run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import assert_type

from shipsync.canonical import Event
from shipsync.carriers import AsyncCarrierClient, CarrierClient, TenantCarrierClients
from shipsync.carriers.fake import FakeCarrierService, TenantFakeCarriers
from shipsync.flows import Dispatcher, Subscription, TenantFlows
from shipsync.idempotency import (
    AsyncMemoryStore,
    AsyncScopedStore,
    MemoryStore,
    ScopedStore,
    scoped,
)
from shipsync.monitor import Indicators, TenantMonitors
from shipsync.notify import (
    NotificationService,
    TenantNotifiers,
    WebhookSender,
    notify_catalogue,
)
from shipsync.tenants import (
    CarrierAccount,
    OdooConnection,
    SettingsTenantResolver,
    StaticTenantResolver,
    Tenant,
    TenantResolver,
    WebhookSource,
    check_tenant_id,
)
from shipsync.webhooks import Receipt, TenantWebhookReceiver


class Sink:
    def publish(self, events: Sequence[Event]) -> None: ...


def typical() -> None:
    resolver: TenantResolver = SettingsTenantResolver("tenants.toml")
    static = StaticTenantResolver([Tenant(id="acme")])
    tenant = resolver.resolve(check_tenant_id("acme"))
    assert_type(tenant.webhook("fake"), WebhookSource)
    assert_type(tenant.carrier("fake"), CarrierAccount)
    assert_type(tenant.odoo_connection(), OdooConnection)
    assert_type(tenant.namespace, str)
    assert_type(static.ids(), tuple[str, ...])
    assert_type(scoped(MemoryStore(), tenant.namespace), ScopedStore)
    assert_type(scoped(AsyncMemoryStore(), tenant.namespace), AsyncScopedStore)
    receiver = TenantWebhookReceiver(
        resolver, source="fake", store=MemoryStore(), sink=lambda t: Sink()
    )
    assert_type(receiver.receive(b"{}", {}, tenant="acme"), Receipt)
    clients = TenantCarrierClients(resolver, rate_limit_clock=lambda: 0.0)
    assert_type(clients.client("acme", "fake"), CarrierClient)
    assert_type(clients.async_client("acme", "fake"), AsyncCarrierClient)
    fakes = TenantFakeCarriers({"acme": FakeCarrierService()})
    assert_type(fakes.service("acme"), FakeCarrierService)
    flows = TenantFlows.sqlite(
        resolver, "flows.db", store=MemoryStore(), catalogue=notify_catalogue()
    )
    assert_type(flows.dispatcher("acme"), Dispatcher)
    notifiers = TenantNotifiers.sqlite(resolver, ".", send_now=False)
    assert_type(notifiers.service("acme"), NotificationService)
    assert_type(notifiers.sender("acme"), WebhookSender)
    assert_type(
        notifiers.attach(tenant, flows.dispatcher("acme"), flows.log("acme")), list[Subscription]
    )
    monitors = TenantMonitors.sqlite(resolver, ".")
    assert_type(monitors.indicators("acme"), Indicators)
