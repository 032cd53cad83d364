"""Carrier drivers: the sans-IO contract, the plugin registry, the clients and the fake carrier.

A *driver* (:class:`Driver`) builds :class:`CarrierRequest` values and parses
:class:`CarrierResponse` values into canonical types; it performs no I/O. :class:`CarrierClient`
and :class:`AsyncCarrierClient` drive its flows over httpx with timeouts, retries (tenacity),
Retry-After, idempotency keys, a circuit breaker per carrier (purgatory), a client-side rate
limit, OAuth2 token caching and redacted structured logs. :class:`DriverRegistry` discovers the
drivers installed through the ``shipsync.carriers`` entry-point group.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipsync._lazy import lazy, publish

if TYPE_CHECKING:
    from shipsync.carriers._auth import AccessToken
    from shipsync.carriers._breaker import CircuitBreaker
    from shipsync.carriers._capabilities import Capability
    from shipsync.carriers._client import AsyncCarrierClient, CarrierClient
    from shipsync.carriers._docs import drivers_markdown
    from shipsync.carriers._driver import (
        DRIVER_API_VERSION,
        AddressValidation,
        CarrierConfig,
        Driver,
        DriverInfo,
        Flow,
        ManifestRequest,
        PickupRequest,
        is_compatible_api_version,
    )
    from shipsync.carriers._hookspecs import hookimpl
    from shipsync.carriers._http import CarrierRequest, CarrierResponse
    from shipsync.carriers._ratelimit import RateLimit
    from shipsync.carriers._registry import ENTRY_POINT_GROUP, DriverEntry, DriverRegistry
    from shipsync.carriers._shopping import CarrierFailure, RateShopResult, ashop_rates, shop_rates
    from shipsync.carriers._tenants import TenantCarrierClients
    from shipsync.retry import RetryPolicy, SleepRecorder

__all__ = [
    "DRIVER_API_VERSION",
    "ENTRY_POINT_GROUP",
    "AccessToken",
    "AddressValidation",
    "AsyncCarrierClient",
    "Capability",
    "CarrierClient",
    "CarrierConfig",
    "CarrierFailure",
    "CarrierRequest",
    "CarrierResponse",
    "CircuitBreaker",
    "Driver",
    "DriverEntry",
    "DriverInfo",
    "DriverRegistry",
    "Flow",
    "ManifestRequest",
    "PickupRequest",
    "RateLimit",
    "RateShopResult",
    "RetryPolicy",
    "SleepRecorder",
    "TenantCarrierClients",
    "ashop_rates",
    "drivers_markdown",
    "hookimpl",
    "is_compatible_api_version",
    "shop_rates",
]

if not TYPE_CHECKING:  # mypy must not see __getattr__: it would accept any name
    __getattr__, __dir__ = lazy(__name__, __file__)
publish(__name__, __all__, globals())
