"""The webhook receiver routes by tenant and verifies with that tenant's own secrets."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipsync.canonical import Event
from shipsync.errors import (
    NoMatchingSignatureError,
    TenantConfigurationError,
    UnknownTenantError,
)
from shipsync.idempotency import AsyncMemoryStore, MemoryStore
from shipsync.tenants import (
    TENANT_HEADER,
    TENANT_ID_PATTERN,
    StaticTenantResolver,
    Tenant,
    TenantResolver,
    resolve_tenant,
)
from shipsync.testing.flows import make_tracking_event
from shipsync.webhooks import (
    AsyncTenantWebhookReceiver,
    ReceiptOutcome,
    StandardWebhooksScheme,
    TenantWebhookReceiver,
    generate_secret,
    tenant_of_request,
)

SCHEME = StandardWebhooksScheme()
SECRETS = {"acme": generate_secret(), "beta": generate_secret()}
BODY = make_tracking_event("SHP-1", 1).model_dump_json().encode()


class ListSink:
    """Keeps what it is given (one per tenant)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def publish(self, events: Sequence[Event]) -> None:
        self.events.extend(events)


class AsyncListSink(ListSink):
    async def publish(self, events: Sequence[Event]) -> None:  # type: ignore[override]
        self.events.extend(events)


def _resolver() -> StaticTenantResolver:
    return StaticTenantResolver(
        Tenant(id=tenant_id, webhooks={"fake": {"secrets": [secret]}})
        for tenant_id, secret in SECRETS.items()
    )


def _signed(tenant: str, msg_id: str = "msg_1", body: bytes = BODY) -> dict[str, str]:
    return dict(SCHEME.signer(SECRETS[tenant]).sign(body, msg_id=msg_id))


@pytest.fixture
def sinks() -> dict[str, ListSink]:
    return {tenant_id: ListSink() for tenant_id in SECRETS}


@pytest.fixture
def receiver(sinks: dict[str, ListSink]) -> TenantWebhookReceiver:
    return TenantWebhookReceiver(
        _resolver(), source="fake", store=MemoryStore(), sink=lambda t: sinks[t.id]
    )


def test_a_delivery_signed_for_a_is_refused_on_bs_endpoint(
    receiver: TenantWebhookReceiver, sinks: dict[str, ListSink]
) -> None:
    """Tenant A's signature does not open tenant B's endpoint: 400, nothing handed off to B."""
    receipt = receiver.receive(BODY, _signed("acme"), tenant="beta")
    assert receipt.outcome is ReceiptOutcome.REJECTED
    assert receipt.status == 400
    assert isinstance(receipt.error, NoMatchingSignatureError)
    assert sinks["beta"].events == []
    assert receiver.receive(BODY, _signed("acme"), tenant="acme").status == 200
    assert len(sinks["acme"].events) == 1


def test_each_tenants_events_reach_only_its_own_sink(
    receiver: TenantWebhookReceiver, sinks: dict[str, ListSink]
) -> None:
    """The path segment or the header picks the tenant; its sink alone gets the events."""
    assert receiver.receive(BODY, _signed("acme"), tenant="acme").status == 200
    headers = {**_signed("beta"), TENANT_HEADER: "beta"}
    assert receiver.receive(BODY, headers).status == 200
    assert [len(sinks["acme"].events), len(sinks["beta"].events)] == [1, 1]


def test_the_same_delivery_id_in_two_tenants_is_two_deliveries(
    receiver: TenantWebhookReceiver, sinks: dict[str, ListSink]
) -> None:
    """Dedupe is per tenant: "msg_1" to acme does not make "msg_1" to beta a duplicate, while a
    repeat to acme is one."""
    assert receiver.receive(BODY, _signed("acme"), tenant="acme").outcome is ReceiptOutcome.ACCEPTED
    assert receiver.receive(BODY, _signed("beta"), tenant="beta").outcome is ReceiptOutcome.ACCEPTED
    again = receiver.receive(BODY, _signed("acme"), tenant="acme")
    assert again.outcome is ReceiptOutcome.DUPLICATE
    assert [len(sinks["acme"].events), len(sinks["beta"].events)] == [1, 1]


def test_unknown_missing_or_conflicting_tenants_are_refused(
    receiver: TenantWebhookReceiver,
) -> None:
    """Unknown or absent tenant: 404; path and header disagreeing: 400; all UnknownTenantError
    naming where the id came from."""
    cases = [
        ({**_signed("acme")}, "gamma", 404, "tenant"),
        ({**_signed("acme")}, None, 404, TENANT_HEADER),
        ({**_signed("acme"), TENANT_HEADER: "beta"}, "acme", 400, TENANT_HEADER),
        ({**_signed("acme"), TENANT_HEADER: "../acme"}, None, 404, TENANT_HEADER),
        ({**_signed("acme")}, "ACME", 404, "path"),
    ]
    for headers, tenant, status, path in cases:
        receipt = receiver.receive(BODY, headers, tenant=tenant)
        assert (receipt.outcome, receipt.status) == (ReceiptOutcome.REJECTED, status), tenant
        assert isinstance(receipt.error, UnknownTenantError)
        assert receipt.error.path == path


def test_a_tenant_without_a_secret_fails_at_start_up() -> None:
    """check() names the tenant and the missing setting before any delivery; a delivery for it
    later is answered 404."""
    resolver = StaticTenantResolver(
        [Tenant(id="acme", webhooks={"fake": {"secrets": [SECRETS["acme"]]}}), Tenant(id="beta")]
    )
    receiver = TenantWebhookReceiver(
        resolver, source="fake", store=MemoryStore(), sink=lambda t: ListSink()
    )
    with pytest.raises(TenantConfigurationError) as caught:
        receiver.check(resolver.ids())
    assert (caught.value.tenant, caught.value.path) == ("beta", "webhooks.fake")
    receipt = receiver.receive(BODY, _signed("beta"), tenant="beta")
    assert receipt.status == 404
    bad = StaticTenantResolver([Tenant(id="acme", webhooks={"fake": {"secrets": ["not-b64!"]}})])
    with pytest.raises(TenantConfigurationError) as caught:
        TenantWebhookReceiver(
            bad, source="fake", store=MemoryStore(), sink=lambda t: ListSink()
        ).check(["acme"])
    assert caught.value.path == "webhooks.fake.secrets"


@given(tenant=st.text(max_size=70), header=st.one_of(st.none(), st.text(max_size=70)))
def test_any_outsider_tenant_id_routes_or_is_refused_typed(tenant: str, header: str | None) -> None:
    """Whatever the path segment and header hold, the router returns a known tenant's id or
    raises UnknownTenantError; it never returns an id other than the one in the path."""
    headers = {} if header is None else {TENANT_HEADER: header}
    valid = re.fullmatch(TENANT_ID_PATTERN, tenant) is not None and header in (None, tenant)
    if valid:
        assert tenant_of_request(headers, path_tenant=tenant) == tenant
    else:
        with pytest.raises(UnknownTenantError) as caught:
            tenant_of_request(headers, path_tenant=tenant)
        assert caught.value.path in {"path", TENANT_HEADER}


@given(st.text(min_size=1, max_size=40).filter(lambda t: t not in SECRETS))
def test_a_forged_tenant_header_never_reaches_a_sink(forged: str) -> None:
    """A header naming any tenant other than the signer's never hands events to a sink."""
    sinks = {tenant_id: ListSink() for tenant_id in SECRETS}
    receiver = TenantWebhookReceiver(
        _resolver(), source="fake", store=MemoryStore(), sink=lambda t: sinks[t.id]
    )
    for signer in SECRETS:
        receipt = receiver.receive(BODY, {**_signed(signer), TENANT_HEADER: forged})
        assert not receipt.ok
    assert all(not sink.events for sink in sinks.values())


async def test_the_async_receiver_routes_and_isolates_the_same_way() -> None:
    """The asyncio twin: A's signature refused on B, the same id in both accepted once each."""
    sinks = {tenant_id: AsyncListSink() for tenant_id in SECRETS}
    receiver = AsyncTenantWebhookReceiver(
        _resolver(), source="fake", store=AsyncMemoryStore(), sink=lambda t: sinks[t.id]
    )
    assert (await receiver.receive(BODY, _signed("acme"), tenant="beta")).status == 400
    assert (await receiver.receive(BODY, _signed("acme"), tenant="acme")).status == 200
    assert (await receiver.receive(BODY, _signed("beta"), tenant="beta")).status == 200
    dup = await receiver.receive(BODY, _signed("beta"), tenant="beta")
    assert dup.outcome is ReceiptOutcome.DUPLICATE
    assert (await receiver.receive(BODY, _signed("beta"), tenant="nope")).status == 404
    assert [len(sinks["acme"].events), len(sinks["beta"].events)] == [1, 1]


class Vault:
    """A host's own resolver (a vault): the TenantResolver protocol is one method."""

    def __init__(self) -> None:
        self.secrets = dict(SECRETS)
        self.reads = 0

    def resolve(self, tenant_id: str) -> Tenant:
        self.reads += 1
        if tenant_id not in self.secrets:
            raise UnknownTenantError(tenant_id)
        return Tenant(id=tenant_id, webhooks={"fake": {"secrets": [self.secrets[tenant_id]]}})


def test_a_hosts_own_resolver_plugs_in_and_rotation_takes_effect_after_forget() -> None:
    """A vault-backed resolver works as is; a tenant's verifier is built once, and after its
    secret is rotated, forget() makes the next delivery use the new secret."""
    vault = Vault()
    assert isinstance(vault, TenantResolver)
    sinks = {tenant_id: ListSink() for tenant_id in SECRETS}
    receiver = TenantWebhookReceiver(
        vault, source="fake", store=MemoryStore(), sink=lambda t: sinks[t.id]
    )
    assert receiver.receive(BODY, _signed("acme"), tenant="acme").status == 200
    assert receiver.receive(BODY, _signed("acme", "msg_2"), tenant="acme").status == 200
    assert vault.reads == 1  # resolved once, then cached
    new_secret = generate_secret()
    vault.secrets["acme"] = new_secret
    rotated = dict(SCHEME.signer(new_secret).sign(BODY, msg_id="msg_3"))
    assert receiver.receive(BODY, rotated, tenant="acme").status == 400  # still the old one
    receiver.forget("acme")
    assert receiver.receive(BODY, rotated, tenant="acme").status == 200
    assert receiver.receive(BODY, _signed("acme", "msg_4"), tenant="acme").status == 400


class LyingVault(Vault):
    """A broken vault that answers every id with acme's configuration."""

    def resolve(self, tenant_id: str) -> Tenant:
        return super().resolve("acme")


def test_a_resolver_answering_with_another_tenant_is_refused_everywhere(tmp_path: Path) -> None:
    """If a resolver answers beta's id with acme's settings, nothing is written anywhere: the
    receiver refuses beta's deliveries (acme's signature included), flows and clients raise."""
    from shipsync.carriers import TenantCarrierClients
    from shipsync.flows import TenantFlows

    vault = LyingVault()
    assert resolve_tenant(vault, "acme").id == "acme"
    with pytest.raises(TenantConfigurationError) as caught:
        resolve_tenant(vault, "beta")
    assert (caught.value.tenant, caught.value.path) == ("beta", "id")
    sinks = {tenant_id: ListSink() for tenant_id in SECRETS}
    receiver = TenantWebhookReceiver(
        vault, source="fake", store=MemoryStore(), sink=lambda t: sinks[t.id]
    )
    receipt = receiver.receive(BODY, _signed("acme"), tenant="beta")
    assert receipt.status == 404
    assert isinstance(receipt.error, TenantConfigurationError)
    assert all(not sink.events for sink in sinks.values())
    flows = TenantFlows.sqlite(vault, tmp_path / "flows.db", store=MemoryStore())
    with pytest.raises(TenantConfigurationError):
        flows.log("beta")
    with pytest.raises(TenantConfigurationError):
        TenantCarrierClients(vault).client("beta", "fake")
