"""The tenant: everything shipsync resolves per client of an integrator, in one frozen value.

One shipsync process may serve several tenants (an integrator's clients, a group's companies).
Every per-tenant setting lives on :class:`Tenant`, resolved by id from one configuration source:
webhook secrets per source, carrier credentials and driver settings per carrier, the idempotency
namespace, the event-log partition, the Odoo connection and the notification endpoints. Secrets
are :class:`~pydantic.SecretStr`: reprs and logs show ``**********``.

Tenant ids come from outside (a URL path segment, a header), so :func:`check_tenant_id` is the
one gate they pass: a lower-case slug of 1 to 63 characters (letters, digits, inner hyphens),
never a path, a dot or a space. A malformed id is an :class:`~shipsync.errors.UnknownTenantError`
like an id nobody configured, so a caller cannot tell the two apart.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

import pydantic
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic._internal._model_construction import ModelMetaclass

from shipsync.errors import TenantConfigurationError, UnknownTenantError

__all__ = [
    "TENANT_HEADER",
    "TENANT_ID_PATTERN",
    "CarrierAccount",
    "NotificationEndpoint",
    "OdooConnection",
    "Tenant",
    "TenantConfig",
    "WebhookSource",
    "check_tenant_id",
    "tenant_error",
]

TENANT_HEADER: Final = "x-shipsync-tenant"
"""The header that names a request's tenant when its URL does not (receiver, fake carrier)."""

TENANT_ID_PATTERN: Final = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
"""A tenant id: a DNS-label-like slug (lower case, digits, inner hyphens, 1 to 63 characters)."""

_TENANT_ID = re.compile(TENANT_ID_PATTERN)
_NAMESPACE = re.compile(r"[A-Za-z0-9_.:/\-]{1,120}")  # what every idempotency backend accepts
_PARTITION = re.compile(r"[a-z0-9_]{1,24}")  # safe inside a SQL table name of <= 40 chars
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")  # a source, carrier or endpoint name


def check_tenant_id(value: object, *, path: str = "tenant") -> str:
    """Return ``value`` if it is a tenant id, else raise ``UnknownTenantError`` naming ``path``.

    ``path`` says where the id came from (``"path"``, ``"x-shipsync-tenant"``): the error names it.
    """
    if not isinstance(value, str):
        raise UnknownTenantError(type(value).__name__, path=path, reason="a tenant id is a string")
    if _TENANT_ID.fullmatch(value) is None:
        raise UnknownTenantError(
            value, path=path, reason="not a tenant id (1-63 of a-z 0-9 and inner -)"
        )
    return value


def _check_name(value: str, what: str) -> str:
    if not isinstance(value, str) or _NAME.fullmatch(value) is None:
        raise ValueError(
            f"{what} name must be 1-63 of a-z 0-9 _ . - (starting with a letter/digit)"
        )
    return value


def _names(mapping: Mapping[str, Any], what: str) -> Mapping[str, Any]:
    for key in mapping:
        _check_name(key, what)
    return mapping


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WebhookSource(_Settings):
    """How one sender (a carrier, shipsync's own fake) signs the webhooks it sends this tenant.

    ``scheme`` names the signature scheme the receiver applies (``"standard"``: Standard
    Webhooks); ``secrets`` are the active secrets, the newest first (several during a rotation).
    """

    scheme: str = "standard"
    secrets: tuple[SecretStr, ...] = Field(min_length=1)

    @field_validator("secrets")
    @classmethod
    def _not_blank(cls, value: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        if any(not secret.get_secret_value().strip() for secret in value):
            raise ValueError("a secret is empty")
        return value

    def secret_values(self) -> tuple[str, ...]:
        """The secrets in clear, for a verifier (never log them)."""
        return tuple(secret.get_secret_value() for secret in self.secrets)


class CarrierAccount(_Settings):
    """One carrier account of a tenant: which driver, its settings and its credentials.

    ``settings`` are the driver's plain configuration (``base_url``, ``account_number``,
    ``timeout``); ``credentials`` its secrets (``client_secret``, ``api_key``). Together they
    make the driver's ``CarrierConfig``. ``rate_limit`` (requests per second, with ``burst``)
    and the circuit breaker's ``breaker_threshold``/``breaker_ttl`` apply to this account alone.
    """

    driver: str | None = None
    settings: dict[str, str | int | float | bool] = Field(default_factory=dict)
    credentials: dict[str, SecretStr] = Field(default_factory=dict)
    rate_limit: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    burst: int = Field(default=1, ge=1)
    breaker_threshold: int = Field(default=5, ge=1)
    breaker_ttl: float = Field(default=30.0, ge=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _no_overlap(self) -> CarrierAccount:
        both = sorted(set(self.settings) & set(self.credentials))
        if both:
            raise ValueError(f"{both[0]!r} is both a setting and a credential")
        return self

    def driver_config(self) -> dict[str, Any]:
        """The driver's configuration: settings and credentials in one mapping."""
        return {**self.settings, **self.credentials}


class OdooConnection(_Settings):
    """Where this tenant's Odoo is and who shipsync is there (``api_key``: a key or password)."""

    url: str
    database: str = Field(min_length=1)
    user: str = Field(min_length=1)
    api_key: SecretStr

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")) or len(value) > 2000:
            raise ValueError("the Odoo url is an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("api_key")
    @classmethod
    def _key(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("the Odoo api_key is empty")
        return value

    def connect_args(self) -> dict[str, str]:
        """The arguments of ``shipsync.odoo.connect`` (``url``, ``db``, ``login``, ``key``), the
        key in clear: pass them on, never log them."""
        return {
            "url": self.url,
            "db": self.database,
            "login": self.user,
            "key": self.api_key.get_secret_value(),
        }


class NotificationEndpoint(_Settings):
    """Where this tenant's customer notifications or outbound webhooks go.

    ``events`` lists the event types sent there (empty: all); ``secret`` signs them;
    ``allow_private`` lets a webhook reach a private or loopback address (the tenant's own ERP
    on its private network; off by default, so a configured URL cannot aim at internal hosts).
    """

    url: str
    secret: SecretStr | None = None
    events: tuple[str, ...] = ()
    allow_private: bool = False

    @field_validator("url")
    @classmethod
    def _https(cls, value: str) -> str:
        if not value.startswith(("http://", "https://", "mailto:")) or len(value) > 2000:
            raise ValueError("an endpoint url is an http(s):// or mailto: URL")
        return value


class TenantConfig(_Settings):
    """A tenant's settings without its id (the shape of one entry of a configuration file)."""

    name: str = ""
    webhooks: dict[str, WebhookSource] = Field(default_factory=dict)
    carriers: dict[str, CarrierAccount] = Field(default_factory=dict)
    idempotency_namespace: str | None = None
    event_log_partition: str | None = None
    odoo: OdooConnection | None = None
    notifications: dict[str, NotificationEndpoint] = Field(default_factory=dict)

    @field_validator("webhooks", "carriers", "notifications")
    @classmethod
    def _keys(cls, value: dict[str, Any], info: pydantic.ValidationInfo) -> dict[str, Any]:
        _names(value, str(info.field_name).rstrip("s"))
        return value

    @field_validator("idempotency_namespace")
    @classmethod
    def _namespace(cls, value: str | None) -> str | None:
        if value is not None and _NAMESPACE.fullmatch(value) is None:
            raise ValueError("a namespace is 1-120 of letters, digits and _.:/-")
        return value

    @field_validator("event_log_partition")
    @classmethod
    def _partition(cls, value: str | None) -> str | None:
        if value is not None and _PARTITION.fullmatch(value) is None:
            raise ValueError("a partition is 1-24 of a-z 0-9 _")
        return value


def tenant_error(
    exc: pydantic.ValidationError, tenant: str, *, skip: int = 0
) -> TenantConfigurationError:
    """Turn pydantic's error about one tenant into a ``TenantConfigurationError`` (first problem).

    ``skip`` drops that many leading parts of each error's location (``tenants.<id>`` in a
    settings file). The input is never echoed: a secret in a bad field stays out of the message.
    """
    problems = exc.errors(include_url=False, include_input=False, include_context=False)
    if not problems:  # pragma: no cover - pydantic always names one
        return TenantConfigurationError(tenant, "<tenant>", "invalid")
    first = problems[0]
    path = ".".join(str(part) for part in first["loc"][skip:]) or "<tenant>"
    reason = "missing" if first["type"] == "missing" else str(first["msg"])
    reason = reason.removeprefix("Value error, ")
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    return TenantConfigurationError(tenant, path, reason + more)


def _default_partition(tenant_id: str) -> str:
    """The id with ``-`` as ``_``; a long id is cut to 15 characters plus 8 of its digest."""
    if len(tenant_id) <= 24:
        return tenant_id.replace("-", "_")
    digest = hashlib.sha256(tenant_id.encode()).hexdigest()[:8]
    return f"{tenant_id[:15].replace('-', '_')}_{digest}"


class _TenantMeta(ModelMetaclass):
    """Translates validation errors of direct construction (``Tenant(...)``) into ours."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except pydantic.ValidationError as exc:
            raw = kwargs.get("id", "<unknown>")
            shown = raw if isinstance(raw, str) and _TENANT_ID.fullmatch(raw) else "<invalid id>"
            raise tenant_error(exc, shown) from None


class Tenant(TenantConfig, metaclass=_TenantMeta):
    """One tenant's whole configuration, resolved by its id.

    ``idempotency_namespace`` defaults to ``tenant/<id>`` and ``event_log_partition`` to the id
    with ``-`` as ``_`` (cut to 24 characters with a digest when longer): two tenants never
    share either unless configured to. A missing piece is reported by the accessor that needs
    it (:meth:`webhook`, :meth:`carrier`, :meth:`odoo_connection`), or for every tenant at
    start-up by :meth:`require`, as a
    :class:`~shipsync.errors.TenantConfigurationError` naming the tenant and the setting.
    """

    id: str

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if _TENANT_ID.fullmatch(value) is None:
            raise ValueError("a tenant id is 1-63 of a-z 0-9 and inner -")
        return value

    @model_validator(mode="after")
    def _defaults(self) -> Tenant:
        if self.idempotency_namespace is None:
            object.__setattr__(self, "idempotency_namespace", f"tenant/{self.id}")
        if self.event_log_partition is None:
            object.__setattr__(self, "event_log_partition", _default_partition(self.id))
        return self

    @classmethod
    def of(cls, tenant_id: str, config: TenantConfig | Mapping[str, Any]) -> Tenant:
        """The tenant ``tenant_id`` with the settings of one configuration entry."""
        if isinstance(config, TenantConfig):
            data: dict[str, Any] = {
                name: getattr(config, name) for name in TenantConfig.model_fields
            }
        else:
            data = dict(config)
        data.pop("id", None)
        tenant: Tenant = cls(id=tenant_id, **data)
        return tenant

    def __repr__(self) -> str:
        return f"Tenant(id={self.id!r})"

    # -- accessors ----------------------------------------------------------------------------

    @property
    def namespace(self) -> str:
        """The idempotency namespace (never None once built)."""
        assert self.idempotency_namespace is not None
        return self.idempotency_namespace

    @property
    def partition(self) -> str:
        """The event-log partition (never None once built): safe inside a table name."""
        assert self.event_log_partition is not None
        return self.event_log_partition

    def table(self, base: str) -> str:
        """The name of this tenant's ``base`` table (``shipsync_events`` -> ``..._acme``)."""
        return f"{base}_{self.partition}"

    def webhook(self, source: str) -> WebhookSource:
        """How ``source`` signs this tenant's webhooks; ``TenantConfigurationError`` if unset."""
        found = self.webhooks.get(source)
        if found is None:
            raise TenantConfigurationError(self.id, f"webhooks.{source}", "missing")
        return found

    def carrier(self, name: str) -> CarrierAccount:
        """This tenant's account with carrier ``name``; ``TenantConfigurationError`` if unset."""
        found = self.carriers.get(name)
        if found is None:
            raise TenantConfigurationError(self.id, f"carriers.{name}", "missing")
        return found

    def odoo_connection(self) -> OdooConnection:
        """This tenant's Odoo connection; ``TenantConfigurationError`` if unset."""
        if self.odoo is None:
            raise TenantConfigurationError(self.id, "odoo", "missing")
        return self.odoo

    def notification(self, name: str) -> NotificationEndpoint:
        """The notification endpoint ``name``; ``TenantConfigurationError`` if unset."""
        found = self.notifications.get(name)
        if found is None:
            raise TenantConfigurationError(self.id, f"notifications.{name}", "missing")
        return found

    def require(
        self,
        *,
        webhooks: Iterable[str] = (),
        carriers: Iterable[str] = (),
        odoo: bool = False,
        notifications: Iterable[str] = (),
    ) -> Tenant:
        """Check at start-up that this tenant has what the host will use; return it.

        Raises ``TenantConfigurationError`` naming the first missing setting.
        """
        for source in webhooks:
            self.webhook(source)
        for name in carriers:
            self.carrier(name)
        if odoo:
            self.odoo_connection()
        for name in notifications:
            self.notification(name)
        return self
