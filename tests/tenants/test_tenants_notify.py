"""Each tenant's notification endpoints are registered from its settings and receive only its
own messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipsync.errors import TenantConfigurationError
from shipsync.notify import TenantEndpoints
from shipsync.tenants import StaticTenantResolver, Tenant
from shipsync.webhooks import generate_secret


def _resolver() -> StaticTenantResolver:
    return StaticTenantResolver(
        [
            Tenant(
                id="acme",
                notifications={
                    "ops": {"url": "https://ops.acme.example/hooks", "secret": generate_secret()},
                    "mail": {"url": "mailto:ops@acme.example"},
                },
            ),
            Tenant(
                id="globex",
                notifications={
                    "erp": {
                        "url": "https://erp.globex.example/in",
                        "events": ["notify.requested"],
                    }
                },
            ),
        ]
    )


def test_each_tenants_messages_go_to_its_own_endpoints(tmp_path: Path) -> None:
    """A message accepted for acme is queued for acme's webhook endpoint only (its mailto:
    endpoint is the e-mail channel's, not a webhook); globex's store holds only globex's."""
    endpoints = TenantEndpoints.sqlite(_resolver(), tmp_path)
    acme, globex = endpoints.store("acme"), endpoints.store("globex")
    assert [e.id for e in acme.list()] == ["ops"]
    assert [(e.id, e.url) for e in globex.list()] == [("erp", "https://erp.globex.example/in")]
    assert acme.accept("msg-1", "notify.requested", b"{}") == ["ops"]
    assert globex.deliveries() == {}
    assert endpoints.store("acme") is acme  # registered once
    endpoints.close()
    again = TenantEndpoints.sqlite(_resolver(), tmp_path)  # registering is idempotent
    assert [e.id for e in again.store("acme").list()] == ["ops"]
    again.close()


def test_a_bad_endpoint_secret_names_the_tenant_and_the_setting(tmp_path: Path) -> None:
    """A secret the endpoint store cannot sign with is a TenantConfigurationError."""
    resolver = StaticTenantResolver(
        [Tenant(id="acme", notifications={"ops": {"url": "https://x.example", "secret": "plain"}})]
    )
    with pytest.raises(TenantConfigurationError) as caught:
        TenantEndpoints.sqlite(resolver, tmp_path).store("acme")
    assert (caught.value.tenant, caught.value.path) == ("acme", "notifications.ops.secret")
