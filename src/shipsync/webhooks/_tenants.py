"""Receiving webhooks for several tenants: route by tenant, verify with that tenant's secrets.

Theory of operation
-------------------
One endpoint serves every tenant. Each delivery names its tenant in the URL path (the host's
router passes the segment as ``tenant=``) and/or in the ``X-Shipsync-Tenant`` header. The
tenant id is outsider input: it passes :func:`~shipsync.tenants.check_tenant_id` and the
resolver before anything else, and an unknown or malformed id is answered 404 without hashing
the body. When both the path and the header name a tenant they must agree (400 otherwise).

The delivery is then handed to that tenant's own :class:`WebhookReceiver`, built on first use
from the tenant's secrets for this ``source`` (so a delivery signed with tenant A's secret fails
verification on tenant B's endpoint), deduplicating in the shared idempotency store seen through
the tenant's namespace (:func:`~shipsync.idempotency.scoped`: the same delivery id in two tenants
is two deliveries), and handing off to the sink the host gives for that tenant (its own event-log
partition). A tenant without settings for this source, or with a secret its scheme refuses, is a
:class:`~shipsync.errors.TenantConfigurationError`: raised by :meth:`TenantWebhookReceiver.check`
at start-up, and answered 404 (the endpoint does not exist for that tenant) if it is only met on
a delivery.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

from typing_extensions import Unpack

from shipsync.errors import (
    ConfigurationError,
    MalformedHeaderError,
    MissingHeaderError,
    TenantConfigurationError,
    UnknownTenantError,
    WebhookSecretError,
)
from shipsync.idempotency import AsyncIdempotencyStore, IdempotencyStore, scoped
from shipsync.tenants import TENANT_HEADER, Tenant, TenantResolver, check_tenant_id, resolve_tenant
from shipsync.webhooks._headers import HeadersInput, read_headers
from shipsync.webhooks._receiver import (
    AsyncWebhookReceiver,
    Receipt,
    ReceiptOutcome,
    ReceiverOptions,
    WebhookReceiver,
)
from shipsync.webhooks._scheme import Clock, SignatureScheme, WebhookVerifier, system_clock
from shipsync.webhooks._sink import AsyncEventSink, EventSink
from shipsync.webhooks._standard import StandardWebhooksScheme

__all__ = [
    "AsyncTenantWebhookReceiver",
    "TenantWebhookReceiver",
    "tenant_of_request",
]

_log = logging.getLogger("shipsync.webhooks")
_R = TypeVar("_R", WebhookReceiver, AsyncWebhookReceiver)

# The one refusal that is the sender's contradiction (400), not an unknown tenant (404).
_DISAGREE = "the path and the header name different tenants"


def tenant_of_request(
    headers: HeadersInput, *, path_tenant: str | None = None, header: str = TENANT_HEADER
) -> str:
    """The tenant id a request names, from its path segment and/or its header, checked.

    Raises :class:`~shipsync.errors.UnknownTenantError` (naming ``path`` or the header) for a
    malformed id, a missing one, or a path and a header that disagree.
    """
    from_header = _header(headers, header)
    if path_tenant is not None:
        tenant = check_tenant_id(path_tenant, path="path")
        if from_header is not None and from_header != tenant:
            raise UnknownTenantError(tenant, path=header, reason=_DISAGREE)
        return tenant
    if from_header is None:
        raise UnknownTenantError("", path=header, reason="no tenant in the path or the header")
    return check_tenant_id(from_header, path=header)


def _header(headers: HeadersInput, name: str) -> str | None:
    """The single value of header ``name`` (lower case), None when absent."""
    if type(headers) is dict:
        # Fast path (most hosts): a plain dict with str keys that does not name the header in
        # any case is read without walking its pairs or raising MissingHeaderError.
        try:
            folded = "\n".join(headers).lower()
        except TypeError:  # bytes keys: the careful path below
            folded = name
        if name not in folded:
            return None
    try:
        (value,) = read_headers(headers, (name,))
    except MissingHeaderError:
        return None
    except MalformedHeaderError:
        raise UnknownTenantError("", path=name, reason="the header is repeated") from None
    return value


class _TenantRouter(Generic[_R]):
    """Everything both tenant receivers share: resolve, check, build and cache per tenant."""

    def __init__(
        self,
        resolver: TenantResolver,
        source: str,
        schemes: Mapping[str, SignatureScheme] | None,
        header: str,
        clock: Clock,
    ) -> None:
        if not callable(getattr(resolver, "resolve", None)):
            raise ConfigurationError("the resolver has no resolve() method", path="resolver")
        self.resolver = resolver
        self.source = source
        self.header = header.lower()
        self._schemes: dict[str, SignatureScheme] = dict(
            schemes if schemes is not None else {"standard": StandardWebhooksScheme()}
        )
        self._clock = clock
        self._receivers: dict[str, _R] = {}
        self._lock = threading.Lock()

    def _verifier(self, tenant: Tenant) -> WebhookVerifier:
        settings = tenant.webhook(self.source)
        scheme = self._schemes.get(settings.scheme)
        if scheme is None:
            raise TenantConfigurationError(
                tenant.id, f"webhooks.{self.source}.scheme", "no such scheme on this receiver"
            )
        try:
            return scheme.verifier(list(settings.secret_values()), clock=self._clock)
        except WebhookSecretError as exc:
            raise TenantConfigurationError(
                tenant.id, f"webhooks.{self.source}.secrets", str(exc)
            ) from None

    def _build(self, tenant: Tenant) -> _R:  # pragma: no cover - overridden
        raise NotImplementedError

    def receiver(self, tenant_id: str) -> _R:
        """This tenant's receiver (built on first use); raises the tenant errors."""
        found = self._receivers.get(tenant_id)
        if found is not None:
            return found
        tenant = resolve_tenant(self.resolver, tenant_id)
        built = self._build(tenant)
        with self._lock:
            return self._receivers.setdefault(tenant.id, built)

    def check(self, tenant_ids: list[str] | tuple[str, ...]) -> None:
        """Build the receivers of ``tenant_ids`` now, so a missing or bad secret fails at
        start-up with a ``TenantConfigurationError`` naming the tenant and the setting."""
        for tenant_id in tenant_ids:
            self.receiver(tenant_id)

    def forget(self, tenant_id: str) -> None:
        """Drop a tenant's cached receiver (its secrets were rotated): rebuilt on next use."""
        with self._lock:
            self._receivers.pop(tenant_id, None)

    def _route(self, headers: HeadersInput, tenant: str | None) -> _R | Receipt:
        """The receiver of the delivery's tenant, or the refusal to answer with.

        The hot path: the path's tenant is built already and the header does not contradict it.
        """
        cached = self._receivers.get(tenant) if tenant is not None else None
        if cached is not None:
            try:
                if _header(headers, self.header) in (None, tenant):
                    return cached
            except UnknownTenantError:
                pass  # a malformed header: refused below, with its reason
        try:
            tenant_id = tenant_of_request(headers, path_tenant=tenant, header=self.header)
            return self.receiver(tenant_id)
        except UnknownTenantError as error:
            status = 400 if error.reason == _DISAGREE else 404
            return Receipt(ReceiptOutcome.REJECTED, status, error=error)
        except TenantConfigurationError as error:
            _log.warning("webhook for a tenant without settings: %s", error)
            return Receipt(ReceiptOutcome.REJECTED, 404, error=error)


class TenantWebhookReceiver(_TenantRouter[WebhookReceiver]):
    """Receives deliveries for every tenant of ``resolver`` (synchronous hosts).

    Args:
        resolver: finds each tenant's settings.
        source: the sender, the key of each tenant's ``webhooks`` settings (``"fake"``, ``"ups"``).
        store: the idempotency store shared by every tenant (each sees it through its namespace).
        sink: the tenant's event sink, given the tenant (its own event-log partition).
        schemes: signature schemes by the name a tenant's settings use (default: ``standard``).
        header: the header naming the tenant when the path does not.
        clock: the verifiers' clock (seconds since the epoch).
        options: the :class:`ReceiverOptions` every tenant's receiver gets; ``name`` defaults to
            ``source``.
    """

    def __init__(
        self,
        resolver: TenantResolver,
        *,
        source: str,
        store: IdempotencyStore,
        sink: Callable[[Tenant], EventSink],
        schemes: Mapping[str, SignatureScheme] | None = None,
        header: str = TENANT_HEADER,
        clock: Clock = system_clock,
        **options: Unpack[ReceiverOptions],
    ) -> None:
        super().__init__(resolver, source, schemes, header, clock)
        self._store = store
        self._sink = sink
        self._options = options
        self._options.setdefault("name", source)

    def _build(self, tenant: Tenant) -> WebhookReceiver:
        return WebhookReceiver(
            self._verifier(tenant),
            store=scoped(self._store, tenant.namespace),
            sink=self._sink(tenant),
            **self._options,
        )

    def receive(self, body: bytes, headers: HeadersInput, *, tenant: str | None = None) -> Receipt:
        """Process one delivery for the tenant the path (``tenant``) or the header names."""
        routed = self._route(headers, tenant)
        return routed if isinstance(routed, Receipt) else routed.receive(body, headers)


class AsyncTenantWebhookReceiver(_TenantRouter[AsyncWebhookReceiver]):
    """:class:`TenantWebhookReceiver` for asyncio hosts (an async store and async sinks)."""

    def __init__(
        self,
        resolver: TenantResolver,
        *,
        source: str,
        store: AsyncIdempotencyStore,
        sink: Callable[[Tenant], AsyncEventSink],
        schemes: Mapping[str, SignatureScheme] | None = None,
        header: str = TENANT_HEADER,
        clock: Clock = system_clock,
        **options: Unpack[ReceiverOptions],
    ) -> None:
        super().__init__(resolver, source, schemes, header, clock)
        self._store = store
        self._sink = sink
        self._options = options
        self._options.setdefault("name", source)

    def _build(self, tenant: Tenant) -> AsyncWebhookReceiver:
        return AsyncWebhookReceiver(
            self._verifier(tenant),
            store=scoped(self._store, tenant.namespace),
            sink=self._sink(tenant),
            **self._options,
        )

    async def receive(
        self, body: bytes, headers: HeadersInput, *, tenant: str | None = None
    ) -> Receipt:
        """Process one delivery for the tenant the path (``tenant``) or the header names."""
        routed = self._route(headers, tenant)
        return routed if isinstance(routed, Receipt) else await routed.receive(body, headers)
