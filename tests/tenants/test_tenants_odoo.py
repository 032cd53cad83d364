"""Each tenant's Odoo connection reaches that tenant's Odoo with that tenant's key, only."""

from __future__ import annotations

import httpx

from shipsync.odoo import connect
from shipsync.tenants import StaticTenantResolver, Tenant

KEYS = {"acme": "acme-odoo-key", "globex": "globex-odoo-key"}


def test_each_tenant_connects_to_its_own_odoo_with_its_own_key() -> None:
    """connect(**tenant.odoo_connection().connect_args()) sends every call of a tenant to its
    own server and database, with its own bearer key; nothing goes to the other tenant's."""
    seen: list[tuple[str, str, str | None, str | None]] = []

    def odoo(request: httpx.Request) -> httpx.Response:
        seen.append(
            (
                request.url.host,
                request.url.path,
                request.headers.get("authorization"),
                request.headers.get("x-odoo-database"),
            )
        )
        if request.url.path == "/json/version":
            return httpx.Response(200, json={"version_info": [19, 0, 0, "final", 0, ""]})
        if request.url.path == "/json/2/res.users/context_get":
            return httpx.Response(200, json={"uid": 2, "lang": "en_US"})
        return httpx.Response(200, json=0)

    resolver = StaticTenantResolver(
        Tenant(
            id=tenant_id,
            odoo={
                "url": f"https://{tenant_id}.odoo.test",
                "database": f"{tenant_id}-db",
                "user": "shipsync",
                "api_key": key,
            },
        )
        for tenant_id, key in KEYS.items()
    )
    transport = httpx.MockTransport(odoo)
    for tenant_id in KEYS:
        args = resolver.resolve(tenant_id).odoo_connection().connect_args()
        gateway = connect(**args, protocol="json2", transport=transport)
        gateway.call("stock.picking", "search_count", [[]])
    by_host: dict[str, set[tuple[str | None, str | None]]] = {}
    for host, _, auth, db in seen:
        by_host.setdefault(host, set()).add((auth, db))
    assert by_host == {
        "acme.odoo.test": {("bearer acme-odoo-key", "acme-db")},
        "globex.odoo.test": {("bearer globex-odoo-key", "globex-db")},
    }
    assert ("globex.odoo.test", "/json/2/stock.picking/search_count") in {
        (host, path) for host, path, _, _ in seen
    }
    assert "acme-odoo-key" not in repr(resolver.resolve("acme").odoo_connection())
