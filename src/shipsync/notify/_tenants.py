"""Notifications per tenant: each tenant's endpoints, notifier state and webhook sender.

A :class:`TenantEndpoints` gives each tenant an :class:`EndpointStore` of its own (one SQLite file
per tenant with :meth:`TenantEndpoints.sqlite`), registering on first use every ``http(s)``
endpoint of the tenant's ``notifications`` settings under its name, with its secret, event
types and ``allow_private``. A message accepted into one tenant's store is delivered to that
tenant's endpoints only.

A :class:`TenantNotifiers` composes the rest on top: per tenant, a :class:`Notifier` over a
:class:`NotifyState` of its own, a :class:`WebhookSender` over the tenant's endpoint store and a
:class:`NotificationService` with that webhook channel (plus any channels the host makes for the
tenant). :meth:`TenantNotifiers.attach` subscribes a tenant's service to that tenant's
dispatcher and log, so from :class:`~shipsync.flows.TenantFlows`' ``subscribe`` every tenant's
shipment updates notify that tenant's endpoints only, signed with that tenant's secrets.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from shipsync.errors import InvalidInputError, TenantConfigurationError
from shipsync.flows import Dispatcher, Subscription
from shipsync.tenants import Tenant, TenantResolver, check_tenant_id, resolve_tenant

from ._channel import Channel
from ._endpoints import EndpointStore
from ._notifier import Notifier, NotifyState
from ._rules import Rule, Rules
from ._service import NotificationService, _Publisher
from ._webhook import WebhookChannel, WebhookSender

__all__ = ["TenantEndpoints", "TenantNotifiers"]

_WEBHOOKS_ONLY = Rules.of([Rule(channels=("webhook",))])


class TenantEndpoints:
    """Each tenant's outbound webhook endpoints in a store of its own (see the module docstring).

    Args:
        resolver: finds tenants by id.
        store: makes a tenant's endpoint store.
    """

    def __init__(
        self, resolver: TenantResolver, *, store: Callable[[Tenant], EndpointStore]
    ) -> None:
        self.resolver = resolver
        self._make_store = store
        self._stores: dict[str, EndpointStore] = {}
        self._lock = threading.Lock()

    @classmethod
    def sqlite(cls, resolver: TenantResolver, directory: str | os.PathLike[str]) -> TenantEndpoints:
        """An ``endpoints_<partition>.db`` file per tenant in ``directory``."""
        folder = Path(directory)
        return cls(resolver, store=lambda t: EndpointStore(folder / f"endpoints_{t.partition}.db"))

    def store(self, tenant_id: str) -> EndpointStore:
        """The tenant's endpoint store, its configured endpoints registered."""
        found = self._stores.get(check_tenant_id(tenant_id))
        if found is not None:
            return found
        tenant = resolve_tenant(self.resolver, tenant_id)
        with self._lock:
            found = self._stores.get(tenant.id)
            if found is None:
                found = self._make_store(tenant)
                try:
                    _register(tenant, found)
                except BaseException:
                    found.close()
                    raise
                self._stores[tenant.id] = found
            return found

    def close(self) -> None:
        """Close every tenant's store."""
        with self._lock:
            stores, self._stores = list(self._stores.values()), {}
        for store in stores:
            store.close()


def _register(tenant: Tenant, store: EndpointStore) -> None:
    known = {endpoint.id for endpoint in store.list()}
    for name, settings in sorted(tenant.notifications.items()):
        if name in known or not settings.url.startswith(("http://", "https://")):
            continue  # registered before, or not a webhook (mailto: goes to the e-mail channel)
        secret = settings.secret.get_secret_value() if settings.secret is not None else None
        try:
            store.add(
                settings.url,
                id=name,
                secret=secret,
                event_types=settings.events or None,
                allow_private=settings.allow_private,
                description=f"tenant {tenant.id}",
            )
        except InvalidInputError as exc:
            field = getattr(exc, "path", None) or "url"
            raise TenantConfigurationError(
                tenant.id, f"notifications.{name}.{field}", "refused by the endpoint store"
            ) from exc


class _Notifying:
    def __init__(self, service: NotificationService, sender: WebhookSender, state: NotifyState):
        self.service = service
        self.sender = sender
        self.state = state


class TenantNotifiers:
    """Each tenant's notifier, state, webhook sender and service (see the module docstring).

    Args:
        resolver: finds tenants by id.
        endpoints: each tenant's endpoint store.
        state: makes a tenant's notifier state.
        rules: the rules of every tenant's notifier (default: every change to the ``webhook``
            channel).
        channels: makes a tenant's further channels (its e-mail channel, say), beside its
            webhook channel.
        sender_options: the :class:`WebhookSender` keywords every tenant's sender gets.
        notifier_options: the :class:`Notifier` keywords every tenant's notifier gets
            (``recipients``, ``promised``, ``clock``...).
        send_now: the webhook channel makes the first attempt at once (False: it only queues
            the message; :meth:`WebhookSender.run` of :meth:`sender` delivers it).
    """

    def __init__(
        self,
        resolver: TenantResolver,
        *,
        endpoints: TenantEndpoints,
        state: Callable[[Tenant], NotifyState],
        rules: Rules = _WEBHOOKS_ONLY,
        channels: Callable[[Tenant], Sequence[Channel]] | None = None,
        sender_options: dict[str, Any] | None = None,
        notifier_options: dict[str, Any] | None = None,
        send_now: bool = True,
    ) -> None:
        self.resolver = resolver
        self.endpoints = endpoints
        self._make_state = state
        self._rules = rules
        self._make_channels = channels
        self._sender_options = dict(sender_options or {})
        self._notifier_options = dict(notifier_options or {})
        self._send_now = send_now
        self._parts: dict[str, _Notifying] = {}
        self._lock = threading.Lock()

    @classmethod
    def sqlite(
        cls, resolver: TenantResolver, directory: str | os.PathLike[str], **options: Any
    ) -> TenantNotifiers:
        """``endpoints_<partition>.db`` and ``notify_<partition>.db`` per tenant in ``directory``;
        ``options`` are the other keywords of the constructor."""
        folder = Path(directory)
        return cls(
            resolver,
            endpoints=TenantEndpoints.sqlite(resolver, folder),
            state=lambda t: NotifyState(folder / f"notify_{t.partition}.db"),
            **options,
        )

    def _get(self, tenant_id: str) -> _Notifying:
        found = self._parts.get(check_tenant_id(tenant_id))
        if found is not None:
            return found
        tenant = resolve_tenant(self.resolver, tenant_id)
        store = self.endpoints.store(tenant.id)
        with self._lock:
            found = self._parts.get(tenant.id)
            if found is None:
                state = self._make_state(tenant)
                sender = WebhookSender(store, **self._sender_options)
                extra = list(self._make_channels(tenant)) if self._make_channels else []
                notifier = Notifier(state, self._rules, **self._notifier_options)
                service = NotificationService(
                    notifier, [WebhookChannel(sender, send_now=self._send_now), *extra]
                )
                found = self._parts[tenant.id] = _Notifying(service, sender, state)
            return found

    def service(self, tenant_id: str) -> NotificationService:
        """The tenant's notification service: its own notifier, state and channels."""
        return self._get(tenant_id).service

    def sender(self, tenant_id: str) -> WebhookSender:
        """The tenant's webhook sender (run it, or ``deliver_due``, for the retries)."""
        return self._get(tenant_id).sender

    def attach(self, tenant: Tenant, dispatcher: Dispatcher, log: _Publisher) -> list[Subscription]:
        """Subscribe the tenant's service to the tenant's dispatcher; due changes go to ``log``
        (the tenant's own event log)."""
        return self.service(tenant.id).attach(dispatcher, log)

    async def aclose(self) -> None:
        """Close every tenant's sender, notifier state and endpoint store."""
        with self._lock:
            parts, self._parts = list(self._parts.values()), {}
        for part in parts:
            await part.sender.aclose()
            part.state.close()
        self.endpoints.close()
