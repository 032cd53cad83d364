"""Several fake carriers behind one address, one per tenant.

A :class:`TenantFakeCarriers` holds one :class:`FakeCarrierService` per tenant, each with that
tenant's own client credentials, shipments, faults, clock and webhook outbox. A request picks its
tenant by a ``/t/<tenant>`` prefix of its path (so a client's ``base_url`` of
``http://host:port/t/acme`` is all a tenant needs) or by the ``X-Shipsync-Tenant`` header. An
unknown or malformed tenant is answered 404 ``unknown_tenant`` without reaching any service.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

import httpx

from shipsync.carriers.fake._service import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    FakeCarrierService,
    FakeResponse,
)
from shipsync.errors import UnknownTenantError
from shipsync.tenants import TENANT_HEADER, Tenant, check_tenant_id

__all__ = ["TenantFakeCarriers"]

_PREFIX = "t"


def _unknown(reason: str) -> FakeResponse:
    body = json.dumps({"error": {"code": "unknown_tenant", "message": reason}}).encode()
    return FakeResponse(404, body, {"content-type": "application/json"})


class TenantFakeCarriers:
    """One fake carrier per tenant behind one address (see the module docstring)."""

    def __init__(self, services: Mapping[str, FakeCarrierService]) -> None:
        self.services: dict[str, FakeCarrierService] = {
            check_tenant_id(tenant_id, path="services"): service
            for tenant_id, service in services.items()
        }

    @classmethod
    def for_tenants(
        cls, tenants: Iterable[Tenant], *, carrier: str = "fake", seed: int = 0
    ) -> TenantFakeCarriers:
        """A fake per tenant, accepting the credentials of the tenant's ``carrier`` account
        (the fake's defaults where the account sets none); seeds ``seed``, ``seed + 1``, ..."""
        services: dict[str, FakeCarrierService] = {}
        for offset, tenant in enumerate(tenants):
            account = tenant.carrier(carrier)
            client_id = account.settings.get("client_id", DEFAULT_CLIENT_ID)
            secret = account.credentials.get("client_secret")
            services[tenant.id] = FakeCarrierService(
                seed=seed + offset,
                client_id=str(client_id),
                client_secret=DEFAULT_CLIENT_SECRET
                if secret is None
                else secret.get_secret_value(),
            )
        return cls(services)

    @staticmethod
    def base_url(server_url: str, tenant_id: str) -> str:
        """The base URL a tenant's client uses: ``{server_url}/t/{tenant_id}``."""
        return f"{server_url.rstrip('/')}/{_PREFIX}/{check_tenant_id(tenant_id)}"

    def service(self, tenant_id: str) -> FakeCarrierService:
        """The tenant's fake; ``UnknownTenantError`` if there is none."""
        found = self.services.get(check_tenant_id(tenant_id))
        if found is None:
            raise UnknownTenantError(tenant_id)
        return found

    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> FakeResponse:
        """Answer one request with its tenant's fake. ``headers`` keys are lower case."""
        parts = path.split("/", 3)  # "", "t", tenant, rest
        from_header = headers.get(TENANT_HEADER)
        try:
            if len(parts) >= 3 and parts[1] == _PREFIX:
                tenant_id = check_tenant_id(parts[2], path="path")
                if from_header is not None and from_header != tenant_id:
                    return _unknown("the path and the header name different tenants")
                path = "/" + (parts[3] if len(parts) > 3 else "")
            elif from_header is not None:
                tenant_id = check_tenant_id(from_header, path=TENANT_HEADER)
            else:
                return _unknown("no tenant in the path or the header")
            service = self.service(tenant_id)
        except UnknownTenantError as error:
            return _unknown(error.reason)
        return service.handle(method, path, query, headers, body)

    def mock_transport(self) -> httpx.MockTransport:
        """An in-process ``httpx`` transport serving every tenant's fake."""
        return httpx.MockTransport(self.handle_httpx)

    def handle_httpx(self, request: httpx.Request) -> httpx.Response:
        """Serve one httpx request; a timeout fault raises ``httpx.ReadTimeout``."""
        result = self.handle(
            request.method,
            request.url.path,
            dict(request.url.params),
            {k.lower(): v for k, v in request.headers.items()},
            request.content,
        )
        if result.timeout:
            raise httpx.ReadTimeout("fake carrier did not answer in time", request=request)
        return httpx.Response(result.status, headers=dict(result.headers), content=result.body)
