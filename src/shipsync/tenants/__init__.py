"""Tenants: one shipsync serving several clients, each with its own secrets, accounts and data.

A :class:`Tenant` holds everything resolved per tenant: webhook secrets per source, carrier
credentials and driver settings per carrier, the idempotency namespace, the event-log partition,
the Odoo connection and the notification endpoints (secrets as ``SecretStr``). A
:class:`TenantResolver` finds a tenant by id: :class:`SettingsTenantResolver` reads environment
variables and a TOML or JSON file, :class:`StaticTenantResolver` holds tenants in memory, and a
host may plug in its own (a vault). Bad ids and missing settings are typed errors
(:class:`~shipsync.errors.UnknownTenantError`, :class:`~shipsync.errors.TenantConfigurationError`)
naming the tenant and the setting. The higher layers route and isolate by tenant: see
``docs/tenants.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipsync._lazy import lazy, publish

if TYPE_CHECKING:
    from shipsync.tenants._model import (
        TENANT_HEADER,
        TENANT_ID_PATTERN,
        CarrierAccount,
        NotificationEndpoint,
        OdooConnection,
        Tenant,
        TenantConfig,
        WebhookSource,
        check_tenant_id,
    )
    from shipsync.tenants._resolver import (
        DEFAULT_ENV_PREFIX,
        SettingsTenantResolver,
        StaticTenantResolver,
        TenantResolver,
        resolve_tenant,
    )

__all__ = [
    "DEFAULT_ENV_PREFIX",
    "TENANT_HEADER",
    "TENANT_ID_PATTERN",
    "CarrierAccount",
    "NotificationEndpoint",
    "OdooConnection",
    "SettingsTenantResolver",
    "StaticTenantResolver",
    "Tenant",
    "TenantConfig",
    "TenantResolver",
    "WebhookSource",
    "check_tenant_id",
    "resolve_tenant",
]

if not TYPE_CHECKING:  # mypy must not see __getattr__: it would accept any name
    __getattr__, __dir__ = lazy(__name__, __file__)
publish(__name__, __all__, globals())
