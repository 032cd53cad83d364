"""Carrier clients per tenant, and the fake carrier routing by tenant: one tenant's credentials,
breaker and rate limit never touch another's."""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipsync.carriers import RetryPolicy, SleepRecorder, TenantCarrierClients
from shipsync.carriers.fake import FakeCarrierService, TenantFakeCarriers
from shipsync.errors import (
    CarrierAuthError,
    CarrierUnavailableError,
    CircuitOpenError,
    TenantConfigurationError,
    UnknownTenantError,
)
from shipsync.tenants import TENANT_HEADER, StaticTenantResolver, Tenant
from shipsync.testing.fake_carrier import sample_shipment

URL = "http://fake.test"


def _tenant(tenant_id: str, secret: str, **account: object) -> Tenant:
    return Tenant(
        id=tenant_id,
        carriers={
            "fake": {
                "settings": {"base_url": TenantFakeCarriers.base_url(URL, tenant_id)},
                "credentials": {"client_secret": secret},
                **account,
            }
        },
    )


@pytest.fixture
def world() -> tuple[TenantFakeCarriers, TenantCarrierClients]:
    """Two tenants with their own fake carrier accounts behind one fake carrier address."""
    tenants = [
        _tenant("acme", "acme-secret", breaker_threshold=2, rate_limit=0.01),
        _tenant("beta", "beta-secret", breaker_threshold=2),
    ]
    fakes = TenantFakeCarriers.for_tenants(tenants, seed=3)
    clients = TenantCarrierClients(
        StaticTenantResolver(tenants),
        options={
            "transport": fakes.mock_transport(),
            "retry": RetryPolicy(attempts=1),
            "sleeper": SleepRecorder(),
        },
    )
    return fakes, clients


def test_each_tenant_books_with_its_own_account(
    world: tuple[TenantFakeCarriers, TenantCarrierClients],
) -> None:
    """The same shipment and idempotency key booked for two tenants is two shipments, one at each
    tenant's fake; each client authenticated with its own tenant's secret."""
    fakes, clients = world
    for tenant_id in ("acme", "beta"):
        clients.client(tenant_id, "fake").create_shipment(
            sample_shipment(shipment_id="S-1"), idempotency_key="book-1"
        )
    assert fakes.service("acme").shipment_count() == 1
    assert fakes.service("beta").shipment_count() == 1
    assert clients.client("acme", "fake") is clients.client("acme", "fake")


def test_a_tenant_cannot_use_another_tenants_credentials(
    world: tuple[TenantFakeCarriers, TenantCarrierClients],
) -> None:
    """A client for beta's fake holding acme's secret is refused: each fake checks its own
    tenant's credentials."""
    fakes, _ = world
    thief = _tenant("beta", "acme-secret")
    clients = TenantCarrierClients(
        StaticTenantResolver([thief]), options={"transport": fakes.mock_transport()}
    )
    with pytest.raises(CarrierAuthError):
        clients.client("beta", "fake").track("FK1")


def test_one_tenants_open_breaker_does_not_stop_another(
    world: tuple[TenantFakeCarriers, TenantCarrierClients],
) -> None:
    """acme's fake is down: acme's breaker opens after two failures and stops sending, while beta
    books through its own closed breaker."""
    fakes, clients = world
    fakes.service("acme").outage("*", 3600)
    acme, beta = clients.client("acme", "fake"), clients.client("beta", "fake")
    for _ in range(2):
        with pytest.raises(CarrierUnavailableError):
            acme.create_shipment(sample_shipment(shipment_id="S-1"), idempotency_key="k")
    sent = fakes.service("acme").requests["create_shipment"]
    with pytest.raises(CircuitOpenError):
        acme.create_shipment(sample_shipment(shipment_id="S-1"), idempotency_key="k")
    assert fakes.service("acme").requests["create_shipment"] == sent  # nothing was sent
    beta.create_shipment(sample_shipment(shipment_id="S-1"), idempotency_key="k")
    assert fakes.service("beta").shipment_count() == 1
    assert acme.breaker is not beta.breaker
    assert beta.breaker.state("fake") == "closed"


def test_one_tenants_rate_limit_does_not_slow_another() -> None:
    """acme's account allows one request per 100 s, beta's one per second in bursts of 3. On an
    injected clock that moves only when told, every wait is exact (each account's first request
    also fetches its OAuth token, which takes a slot too): acme's two bookings wait its own 100
    and 200 s, while beta, with acme's limit spent, books twice without waiting and then waits
    its own 1 s, never acme's 100 s. Once the clock has moved on, acme sends at once again."""
    tenants = [
        _tenant("acme", "acme-secret", rate_limit=0.01),
        _tenant("beta", "beta-secret", rate_limit=1.0, burst=3),
    ]
    fakes = TenantFakeCarriers.for_tenants(tenants)
    recorder = SleepRecorder()
    now = [1_000.0]
    clients = TenantCarrierClients(
        StaticTenantResolver(tenants),
        options={"transport": fakes.mock_transport(), "sleeper": recorder},
        rate_limit_clock=lambda: now[0],
    )
    acme, beta = clients.client("acme", "fake"), clients.client("beta", "fake")
    acme.create_shipment(sample_shipment(shipment_id="S-1"), idempotency_key="k1")
    acme.create_shipment(sample_shipment(shipment_id="S-2"), idempotency_key="k2")
    assert recorder.sleeps == [100.0, 200.0]  # acme waited for its own next slots
    for i in range(2):
        beta.create_shipment(sample_shipment(shipment_id=f"S-{i}"), idempotency_key=f"k{i}")
    assert recorder.sleeps == [100.0, 200.0]  # beta's burst is untouched by acme's spent limit
    beta.create_shipment(sample_shipment(shipment_id="S-9"), idempotency_key="k9")
    assert recorder.sleeps == [100.0, 200.0, 1.0]  # beta's own interval
    now[0] += 300.0
    acme.create_shipment(sample_shipment(shipment_id="S-3"), idempotency_key="k3")
    assert recorder.sleeps == [100.0, 200.0, 1.0]  # acme's slots came back on the clock
    assert fakes.service("acme").shipment_count() == 3
    assert fakes.service("beta").shipment_count() == 3
    assert acme.rate_limit is not beta.rate_limit
    clients.close()


def test_tenant_errors_are_typed_and_checked_at_start_up(
    world: tuple[TenantFakeCarriers, TenantCarrierClients],
) -> None:
    """Unknown tenant, a missing account, an uninstalled driver: typed errors naming the tenant
    and the setting; check() finds them before any request."""
    _, clients = world
    with pytest.raises(UnknownTenantError):
        clients.client("gamma", "fake")
    with pytest.raises(UnknownTenantError):
        clients.client("../acme", "fake")
    with pytest.raises(TenantConfigurationError) as caught:
        clients.client("acme", "ups")
    assert (caught.value.tenant, caught.value.path) == ("acme", "carriers.ups")
    odd = Tenant(id="odd", carriers={"fake": {"driver": "nonesuch"}})
    with pytest.raises(TenantConfigurationError) as caught:
        TenantCarrierClients(StaticTenantResolver([odd])).check(["odd"], ("fake",))
    assert caught.value.path == "carriers.fake.driver"
    with pytest.raises(TypeError, match="per tenant"):
        TenantCarrierClients(clients.resolver, options={"breaker": object()})


def test_the_fake_carrier_routes_by_path_or_header() -> None:
    """/t/<tenant>/... or the tenant header picks the tenant's fake; an unknown, malformed or
    contradicting tenant is 404 unknown_tenant without reaching any fake."""
    fakes = TenantFakeCarriers({"acme": FakeCarrierService(), "beta": FakeCarrierService()})
    http = httpx.Client(transport=fakes.mock_transport(), base_url=URL)
    form = {"grant_type": "client_credentials", "client_id": "shipsync-test"}
    form["client_secret"] = "fake-secret"
    assert http.post("/t/acme/oauth/token", data=form).status_code in {200, 401}
    assert fakes.service("acme").requests["token"] == 1
    http.post("/oauth/token", data=form, headers={TENANT_HEADER: "beta"})
    assert fakes.service("beta").requests["token"] == 1
    for path, headers in [
        ("/t/gamma/oauth/token", {}),
        ("/t/ACME/oauth/token", {}),
        ("/oauth/token", {}),
        ("/t/acme/oauth/token", {TENANT_HEADER: "beta"}),
    ]:
        answer = http.post(path, data=form, headers=headers)
        assert answer.status_code == 404
        assert json.loads(answer.content)["error"]["code"] == "unknown_tenant"
    assert fakes.service("acme").requests["token"] == 1
    assert fakes.service("beta").requests["token"] == 1


@given(
    segment=st.text(max_size=30),
    header=st.one_of(st.none(), st.text(alphabet=st.characters(codec="latin-1"), max_size=30)),
)
def test_any_tenant_in_a_path_or_header_reaches_only_that_tenants_fake(
    segment: str, header: str | None
) -> None:
    """Whatever a request names as its tenant, it reaches the fake of exactly that tenant (and
    only when the path and header agree), else it is 404 (unknown_tenant, or no_route for a
    known tenant followed by a path the fake has not) and reaches none."""
    fakes = TenantFakeCarriers({"acme": FakeCarrierService(), "beta": FakeCarrierService()})
    headers = {} if header is None else {TENANT_HEADER: header}
    answer = fakes.handle("GET", f"/t/{segment}/v1/tracking/FK1", {}, headers, b"")
    reached = [t for t in ("acme", "beta") if fakes.service(t).requests["track"]]
    if segment in ("acme", "beta") and header in (None, segment):
        assert reached == [segment]
    else:
        assert reached == []
        assert answer.status == 404
        code = json.loads(answer.body)["error"]["code"]
        assert code == "unknown_tenant" or (segment.startswith(("acme/", "beta/")) and code)


async def test_async_clients_are_per_tenant_too(
    world: tuple[TenantFakeCarriers, TenantCarrierClients],
) -> None:
    """The asyncio clients: one per (tenant, carrier), each booking at its own tenant's fake with
    its own breaker."""
    fakes, _ = world
    clients = TenantCarrierClients(
        StaticTenantResolver([_tenant("acme", "acme-secret"), _tenant("beta", "beta-secret")]),
        async_options={"transport": fakes.mock_transport()},
    )
    acme, beta = clients.async_client("acme", "fake"), clients.async_client("beta", "fake")
    assert acme is clients.async_client("acme", "fake")
    assert acme.breaker is not beta.breaker
    await beta.create_shipment(sample_shipment(shipment_id="S-9"), idempotency_key="k9")
    assert fakes.service("beta").shipment_count(reference=None) == 1
    assert fakes.service("acme").shipment_count() == 0
    await clients.aclose()


def test_the_fake_carrier_command_serves_one_fake_per_tenant() -> None:
    """`shipsync fake-carrier serve --tenant acme --tenant globex` (the installed executable)
    answers each tenant's control API under /t/<tenant> and refuses an unknown tenant."""
    import pathlib
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    shipsync = str(pathlib.Path(sys.executable).with_name("shipsync"))
    command = [shipsync, "fake-carrier", "serve", "--port", str(port)]
    command += ["--tenant", "acme", "--tenant", "globex"]
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                state = httpx.get(f"{base}/t/acme/_control/state", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        assert state.json()["shipments"] == 0
        headers = {TENANT_HEADER: "globex"}
        assert httpx.get(f"{base}/_control/state", headers=headers, timeout=5).status_code == 200
        unknown = httpx.get(f"{base}/t/initech/_control/state", timeout=5)
        assert unknown.status_code == 404
        assert unknown.json()["error"]["code"] == "unknown_tenant"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_fake_carrier_command_refuses_a_bad_tenant_id() -> None:
    """A --tenant that is not a tenant id is a usage error naming the option."""
    from click.testing import CliRunner

    from shipsync.cli import main

    result = CliRunner().invoke(main, ["fake-carrier", "serve", "--tenant", "Not/Valid"])
    assert result.exit_code == 2
    assert "--tenant" in result.output
