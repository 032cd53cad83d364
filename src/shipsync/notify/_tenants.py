"""Outbound webhook endpoints per tenant, registered from the tenant's settings.

A :class:`TenantEndpoints` gives each tenant an :class:`EndpointStore` of its own (one SQLite file
per tenant with :meth:`TenantEndpoints.sqlite`), registering on first use every ``http(s)``
endpoint of the tenant's ``notifications`` settings under its name, with its secret and event
types. A message accepted into one tenant's store is delivered to that tenant's endpoints only.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from shipsync.errors import InvalidInputError, TenantConfigurationError
from shipsync.tenants import Tenant, TenantResolver, check_tenant_id, resolve_tenant

from ._endpoints import EndpointStore

__all__ = ["TenantEndpoints"]


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
                description=f"tenant {tenant.id}",
            )
        except InvalidInputError as exc:
            field = getattr(exc, "path", None) or "url"
            raise TenantConfigurationError(
                tenant.id, f"notifications.{name}.{field}", "refused by the endpoint store"
            ) from exc
