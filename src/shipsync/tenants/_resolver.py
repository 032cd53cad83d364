"""Resolvers: where tenants come from. A protocol, a static one, and one reading settings.

:class:`TenantResolver` is all the rest of shipsync asks of a configuration source:
``resolve(tenant_id)`` returns the :class:`~shipsync.tenants.Tenant` or raises
:class:`~shipsync.errors.UnknownTenantError`. A host with a vault implements it in a few lines.
:class:`StaticTenantResolver` holds tenants in memory (tests, a host that builds them itself);
:class:`SettingsTenantResolver` reads environment variables and a TOML or JSON file through
pydantic-settings (see ``docs/tenants.md`` for the variable names and the file's shape).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pydantic

from shipsync.errors import (
    ConfigurationError,
    MissingDependencyError,
    TenantConfigurationError,
    UnknownTenantError,
)

from ._model import Tenant, TenantConfig, check_tenant_id, tenant_error

__all__ = [
    "DEFAULT_ENV_PREFIX",
    "SettingsTenantResolver",
    "StaticTenantResolver",
    "TenantResolver",
    "resolve_tenant",
]

DEFAULT_ENV_PREFIX = "SHIPSYNC_"


@runtime_checkable
class TenantResolver(Protocol):
    """Resolves a tenant id to its configuration. Implement it to read tenants from a vault."""

    def resolve(self, tenant_id: str) -> Tenant:
        """The tenant ``tenant_id``; ``UnknownTenantError`` when there is none."""
        ...


def resolve_tenant(resolver: TenantResolver, tenant_id: str, *, path: str = "tenant") -> Tenant:
    """``resolver.resolve(tenant_id)``, guarded: the id is checked first (``path`` names where it
    came from), and the answer must be a :class:`Tenant` with that very id.

    Every tenant-aware part of shipsync resolves through this, so a resolver (a host's vault) that
    answers with another tenant's configuration raises ``TenantConfigurationError`` instead of
    sending one tenant's data to another's secrets, accounts or tables.
    """
    wanted = check_tenant_id(tenant_id, path=path)
    tenant = resolver.resolve(wanted)
    if not isinstance(tenant, Tenant) or tenant.id != wanted:
        raise TenantConfigurationError(
            wanted, "id", "the resolver answered with another tenant's configuration"
        )
    return tenant


class StaticTenantResolver:
    """Tenants held in memory, checked when given (duplicates and bad ids refused at once)."""

    def __init__(self, tenants: Iterable[Tenant]) -> None:
        self._tenants: dict[str, Tenant] = {}
        for tenant in tenants:
            if not isinstance(tenant, Tenant):
                raise ConfigurationError(
                    "a StaticTenantResolver takes Tenant values", path="tenants"
                )
            if tenant.id in self._tenants:
                raise ConfigurationError(f"tenant {tenant.id!r} is given twice", path="tenants")
            self._tenants[tenant.id] = tenant

    def resolve(self, tenant_id: str) -> Tenant:
        """The tenant ``tenant_id``; ``UnknownTenantError`` when there is none."""
        found = self._tenants.get(check_tenant_id(tenant_id))
        if found is None:
            raise UnknownTenantError(tenant_id)
        return found

    def ids(self) -> tuple[str, ...]:
        """Every tenant id, sorted."""
        return tuple(sorted(self._tenants))

    def __iter__(self) -> Iterator[Tenant]:
        return iter(self._tenants[i] for i in self.ids())

    def __len__(self) -> int:
        return len(self._tenants)

    def require(
        self,
        *,
        webhooks: Iterable[str] = (),
        carriers: Iterable[str] = (),
        odoo: bool = False,
        notifications: Iterable[str] = (),
    ) -> None:
        """Check every tenant at start-up (see :meth:`Tenant.require`)."""
        webhooks, carriers, notifications = tuple(webhooks), tuple(carriers), tuple(notifications)
        for tenant in self:
            tenant.require(
                webhooks=webhooks, carriers=carriers, odoo=odoo, notifications=notifications
            )


def _settings_class(path: Path | None, env_prefix: str) -> type[Any]:
    try:
        from pydantic_settings import (
            BaseSettings,
            JsonConfigSettingsSource,
            PydanticBaseSettingsSource,
            SettingsConfigDict,
            TomlConfigSettingsSource,
        )
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise MissingDependencyError("SettingsTenantResolver", "pydantic-settings") from exc

    class TenantSettings(BaseSettings):
        """``{prefix}TENANTS__<ID>__<FIELD>__...`` variables over the file's ``[tenants.<id>]``."""

        model_config = SettingsConfigDict(
            env_prefix=env_prefix,
            env_nested_delimiter="__",
            case_sensitive=False,
            extra="ignore",
        )

        tenants: dict[str, TenantConfig] = pydantic.Field(default_factory=dict)

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
            if path is not None:
                if path.suffix == ".json":
                    sources.append(JsonConfigSettingsSource(settings_cls, json_file=path))
                else:
                    sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
            return tuple(sources)

    return TenantSettings


class SettingsTenantResolver(StaticTenantResolver):
    """Tenants from environment variables and a TOML or JSON file, read once when built.

    The file holds one table per tenant (``[tenants.acme.webhooks.fake]`` with ``secrets =
    [...]``); a variable ``SHIPSYNC_TENANTS__ACME__WEBHOOKS__FAKE__SECRETS='["..."]'`` overrides
    that one setting (JSON for lists and tables). Every tenant is validated at once: a bad or
    missing setting raises :class:`~shipsync.errors.TenantConfigurationError` naming the tenant
    and the setting, before any request is served.

    Args:
        path: the TOML (``.toml``) or JSON (``.json``) file; None reads only the environment.
        env_prefix: the prefix of the variables (``SHIPSYNC_``).
    """

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, env_prefix: str = DEFAULT_ENV_PREFIX
    ) -> None:
        file = None if path is None else Path(path)
        if file is not None and not file.is_file():
            raise ConfigurationError(f"no tenants file at {str(file)[:200]!r}", path="path")
        self.path = file
        settings_class = _settings_class(file, env_prefix)
        try:
            settings = settings_class()
        except pydantic.ValidationError as exc:
            raise _settings_error(exc) from None
        except ValueError as exc:  # a file or variable that does not parse at all
            raise ConfigurationError(
                f"the tenant settings do not parse ({type(exc).__name__})", path="tenants"
            ) from exc
        tenants: Mapping[str, TenantConfig] = settings.tenants
        super().__init__(_build(tenant_id, config) for tenant_id, config in tenants.items())


def _build(tenant_id: str, config: TenantConfig) -> Tenant:
    check_tenant_id(tenant_id, path="tenants")
    return Tenant.of(tenant_id, config)


def _settings_error(exc: pydantic.ValidationError) -> Exception:
    problems = exc.errors(include_url=False, include_input=False, include_context=False)
    loc = problems[0]["loc"] if problems else ()
    if len(loc) >= 2 and loc[0] == "tenants":
        return tenant_error(exc, str(loc[1])[:64], skip=2)
    return ConfigurationError(
        "the tenant settings are invalid", path=".".join(map(str, loc)) or "tenants"
    )
