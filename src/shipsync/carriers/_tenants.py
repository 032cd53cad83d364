"""Carrier clients per tenant: each tenant's account with its own breaker, rate limit and tokens.

A :class:`TenantCarrierClients` builds, on first use, one client per (tenant, carrier) from the
tenant's :class:`~shipsync.tenants.CarrierAccount`: the driver (from the registry) configured
with that account's settings and credentials, a :class:`CircuitBreaker` and a
:class:`RateLimit` of its own, and its own OAuth token cache. So a carrier that refuses one
tenant's credentials, or an outage that opens one tenant's breaker, or one tenant exhausting its
rate limit, never slows or stops another tenant's calls; and a request is always sent with the
credentials of the tenant it is for.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from shipsync.carriers._breaker import CircuitBreaker
from shipsync.carriers._client import AsyncCarrierClient, CarrierClient
from shipsync.carriers._driver import Driver
from shipsync.carriers._ratelimit import RateLimit
from shipsync.carriers._registry import DriverRegistry
from shipsync.errors import (
    DriverRegistryError,
    InvalidInputError,
    TenantConfigurationError,
)
from shipsync.tenants import Tenant, TenantResolver, check_tenant_id, resolve_tenant

__all__ = ["TenantCarrierClients"]


class TenantCarrierClients:
    """One sync and one async carrier client per (tenant, carrier), made on first use.

    Args:
        resolver: finds each tenant's carrier accounts.
        registry: the installed drivers (default: :meth:`DriverRegistry.discover`).
        options: keyword arguments every client gets (``transport``, ``retry``, ``sleeper``,
            ``clock``...), except the breaker and the rate limit, which are the account's.
        async_options: the same for the async clients (an async ``transport``).
        breaker_clock: the clock of every breaker (monotonic seconds; a fake one in tests).
        rate_limit_clock: the clock of every rate limit (monotonic seconds; a fake one in tests).
    """

    def __init__(
        self,
        resolver: TenantResolver,
        *,
        registry: DriverRegistry | None = None,
        options: dict[str, Any] | None = None,
        async_options: dict[str, Any] | None = None,
        breaker_clock: Callable[[], float] | None = None,
        rate_limit_clock: Callable[[], float] | None = None,
    ) -> None:
        self.resolver = resolver
        self._registry = registry
        self._options = dict(options or {})
        self._async_options = dict(async_options or {})
        for given in (self._options, self._async_options):
            for name in ("breaker", "rate_limit"):
                if name in given:
                    raise TypeError(f"{name} is per tenant account: set it in the tenant settings")
        self._breaker_clock = breaker_clock
        self._rate_limit_clock = rate_limit_clock
        self._sync: dict[tuple[str, str], CarrierClient] = {}
        self._async: dict[tuple[str, str], AsyncCarrierClient] = {}
        self._lock = threading.Lock()

    @property
    def registry(self) -> DriverRegistry:
        """The driver registry (discovered on first use)."""
        if self._registry is None:
            self._registry = DriverRegistry.discover()
        return self._registry

    def driver(self, tenant: Tenant, carrier: str) -> Driver:
        """The tenant's driver for ``carrier``, configured from its account.

        Raises ``TenantConfigurationError`` naming the tenant and the account when the account
        is missing, names no installed driver, or its settings are refused by the driver.
        """
        account = tenant.carrier(carrier)
        name = account.driver or carrier
        where = f"carriers.{carrier}"
        try:
            return self.registry.create(name, account.driver_config())
        except DriverRegistryError as exc:
            raise TenantConfigurationError(
                tenant.id, f"{where}.driver", f"no installed driver {name[:60]!r}"
            ) from exc
        except InvalidInputError as exc:
            path = getattr(exc, "path", None)
            raise TenantConfigurationError(
                tenant.id, f"{where}.{path}" if path else where, "refused by the driver"
            ) from exc

    def _parts(self, tenant: Tenant, carrier: str) -> dict[str, Any]:
        account = tenant.carrier(carrier)
        breaker_args: dict[str, Any] = {
            "threshold": account.breaker_threshold,
            "ttl": account.breaker_ttl,
        }
        if self._breaker_clock is not None:
            breaker_args["clock"] = self._breaker_clock
        limit = None
        if account.rate_limit is not None:
            limit_args: dict[str, Any] = {"burst": account.burst}
            if self._rate_limit_clock is not None:
                limit_args["clock"] = self._rate_limit_clock
            limit = RateLimit(account.rate_limit, **limit_args)
        return {"breaker": CircuitBreaker(**breaker_args), "rate_limit": limit}

    def client(self, tenant_id: str, carrier: str) -> CarrierClient:
        """The tenant's synchronous client for ``carrier`` (the same one on every call)."""
        key = (check_tenant_id(tenant_id), carrier)
        found = self._sync.get(key)
        if found is not None:
            return found
        tenant = resolve_tenant(self.resolver, tenant_id)
        built = CarrierClient(
            self.driver(tenant, carrier), **self._options, **self._parts(tenant, carrier)
        )
        with self._lock:
            kept = self._sync.setdefault(key, built)
        if kept is not built:
            built.close()
        return kept

    def async_client(self, tenant_id: str, carrier: str) -> AsyncCarrierClient:
        """The tenant's asyncio client for ``carrier`` (the same one on every call)."""
        key = (check_tenant_id(tenant_id), carrier)
        found = self._async.get(key)
        if found is not None:
            return found
        tenant = resolve_tenant(self.resolver, tenant_id)
        built = AsyncCarrierClient(
            self.driver(tenant, carrier), **self._async_options, **self._parts(tenant, carrier)
        )
        with self._lock:
            return self._async.setdefault(key, built)

    def check(self, tenant_ids: tuple[str, ...] | list[str], carriers: tuple[str, ...]) -> None:
        """Build every tenant's drivers now: a missing account or a refused setting fails at
        start-up, naming the tenant and the setting."""
        for tenant_id in tenant_ids:
            tenant = resolve_tenant(self.resolver, tenant_id)
            for carrier in carriers:
                self.driver(tenant, carrier)

    def close(self) -> None:
        """Close every synchronous client (async ones: :meth:`aclose`)."""
        with self._lock:
            clients, self._sync = list(self._sync.values()), {}
        for client in clients:
            client.close()

    async def aclose(self) -> None:
        """Close every client, sync and async."""
        self.close()
        with self._lock:
            clients, self._async = list(self._async.values()), {}
        for client in clients:
            await client.aclose()

    def __enter__(self) -> TenantCarrierClients:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
