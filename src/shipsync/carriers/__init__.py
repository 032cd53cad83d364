"""Carrier drivers: the sans-IO contract, the plugin registry, the clients and the fake carrier.

A *driver* (:class:`Driver`) builds :class:`CarrierRequest` values and parses
:class:`CarrierResponse` values into canonical types; it performs no I/O. :class:`CarrierClient`
and :class:`AsyncCarrierClient` drive its flows over httpx with timeouts, retries (tenacity),
Retry-After, idempotency keys, a circuit breaker per carrier (purgatory), a client-side rate
limit, OAuth2 token caching and redacted structured logs. :class:`DriverRegistry` discovers the
drivers installed through the ``shipsync.carriers`` entry-point group.
"""

from shipsync.carriers._auth import AccessToken, TokenCache
from shipsync.carriers._breaker import CircuitBreaker
from shipsync.carriers._capabilities import Capability
from shipsync.carriers._client import AsyncCarrierClient, BaseCarrierClient, CarrierClient
from shipsync.carriers._docs import drivers_markdown
from shipsync.carriers._driver import (
    DRIVER_API_VERSION,
    AddressValidation,
    CarrierConfig,
    Driver,
    DriverInfo,
    Flow,
    PickupRequest,
    is_compatible_api_version,
)
from shipsync.carriers._hookspecs import hookimpl, hookspec
from shipsync.carriers._http import CarrierRequest, CarrierResponse
from shipsync.carriers._mapping import RETRYABLE_STATUSES, parse_retry_after
from shipsync.carriers._ratelimit import RateLimit
from shipsync.carriers._redact import redact_headers, redact_json, redact_url
from shipsync.carriers._registry import ENTRY_POINT_GROUP, DriverEntry, DriverRegistry
from shipsync.carriers._retry import RetryPolicy
from shipsync.carriers._shopping import CarrierFailure, RateShopResult, ashop_rates, shop_rates
from shipsync.carriers._sleep import Sleeper, SleepRecorder, no_sleep

__all__ = [
    "DRIVER_API_VERSION",
    "ENTRY_POINT_GROUP",
    "RETRYABLE_STATUSES",
    "AccessToken",
    "AddressValidation",
    "AsyncCarrierClient",
    "BaseCarrierClient",
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
    "PickupRequest",
    "RateLimit",
    "RateShopResult",
    "RetryPolicy",
    "SleepRecorder",
    "Sleeper",
    "TokenCache",
    "ashop_rates",
    "drivers_markdown",
    "hookimpl",
    "hookspec",
    "is_compatible_api_version",
    "no_sleep",
    "parse_retry_after",
    "redact_headers",
    "redact_json",
    "redact_url",
    "shop_rates",
]
