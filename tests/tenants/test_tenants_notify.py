"""Each tenant's notification endpoints are registered from its settings and receive only its
own messages."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from shipsync.errors import TenantConfigurationError
from shipsync.flows import Dispatcher, TenantFlows
from shipsync.idempotency import MemoryStore
from shipsync.notify import TenantEndpoints, TenantNotifiers, notify_catalogue
from shipsync.tenants import StaticTenantResolver, Tenant
from shipsync.testing.flows import make_tracking_event
from shipsync.webhooks import StandardWebhooksScheme, generate_secret


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


class Endpoint:
    """A real HTTP server on 127.0.0.1 keeping each webhook it gets, and whether the tenant's
    secret verifies it."""

    def __init__(self, secret: str) -> None:
        self.received: list[tuple[dict[str, Any], bool]] = []
        verifier = StandardWebhooksScheme().verifier(secret)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                try:
                    verifier.verify(body, {k.lower(): v for k, v in self.headers.items()})
                    verified = True
                except Exception:
                    verified = False
                outer.received.append((json.loads(body), verified))
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        host, port = self.server.server_address[:2]
        self.url = f"http://{host!s}:{port}/hooks"

    def shipments(self) -> list[tuple[str, str, bool]]:
        """(shipment id, customer status, verified) of each webhook received."""
        return [(b["data"]["shipment_id"], b["data"]["status"], ok) for b, ok in self.received]


@pytest.fixture
def servers() -> Iterator[dict[str, tuple[Endpoint, str]]]:
    """One local endpoint per tenant, each verifying with its own tenant's secret."""
    made = {}
    for tenant_id in ("acme", "globex"):
        secret = generate_secret()
        made[tenant_id] = (Endpoint(secret), secret)
    yield made
    for endpoint, _ in made.values():
        endpoint.server.shutdown()
        endpoint.server.server_close()


async def test_a_tenants_shipment_update_notifies_only_its_own_endpoint(
    tmp_path: Path, servers: dict[str, tuple[Endpoint, str]]
) -> None:
    """Both tenants name their endpoint "ops"; each tenant's notifier keeps its own state. A
    shipment update in acme's log reaches acme's endpoint only, signed with acme's secret; the
    same event (same id, same shipment) in globex's log is news to globex's notifier and reaches
    globex's endpoint only; a redelivery within acme sends nothing more."""
    resolver = StaticTenantResolver(
        [
            Tenant(
                id=tenant_id,
                notifications={
                    "ops": {"url": endpoint.url, "secret": secret, "allow_private": True}
                },
            )
            for tenant_id, (endpoint, secret) in servers.items()
        ]
    )
    notifiers = TenantNotifiers.sqlite(resolver, tmp_path)

    def subscribe(tenant: Tenant, dispatcher: Dispatcher) -> None:
        notifiers.attach(tenant, dispatcher, flows.log(tenant.id))

    flows = TenantFlows.sqlite(
        resolver,
        tmp_path / "flows.db",
        store=MemoryStore(),
        subscribe=subscribe,
        catalogue=notify_catalogue(),
    )
    acme, globex = servers["acme"][0], servers["globex"][0]
    try:
        event = make_tracking_event("SHP-1", 1)
        await flows.log("acme").publish([event])
        await flows.drain("acme")
        assert acme.shipments() == [("SHP-1", "shipped", True)]
        assert globex.received == []
        await flows.log("globex").publish([event])
        await flows.drain("globex")
        assert globex.shipments() == [("SHP-1", "shipped", True)]
        await flows.log("acme").publish([event])
        await flows.drain("acme")
        assert len(acme.received) == 1
        assert notifiers.service("acme").notifier.state is not (
            notifiers.service("globex").notifier.state
        )
    finally:
        await flows.close()
        await notifiers.aclose()


def test_a_private_endpoint_needs_allow_private(tmp_path: Path) -> None:
    """A tenant's endpoint is registered with its allow_private setting (off by default)."""
    resolver = StaticTenantResolver(
        [
            Tenant(
                id="acme",
                notifications={
                    "erp": {"url": "http://10.0.0.5/in", "allow_private": True},
                    "ops": {"url": "https://ops.acme.example/hooks"},
                },
            )
        ]
    )
    endpoints = TenantEndpoints.sqlite(resolver, tmp_path)
    by_id = {e.id: e.allow_private for e in endpoints.store("acme").list()}
    assert by_id == {"erp": True, "ops": False}
    endpoints.close()
