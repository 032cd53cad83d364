"""Outbound webhooks to a real local endpoint: signing, retries, faults, SSRF, health, replay."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _notify_helpers import LocalEndpoint
from hypothesis import given
from hypothesis import strategies as st

from shipsync.errors import EndpointNotAllowedError, InvalidInputError
from shipsync.notify import EndpointStore, WebhookSender, check_address, redact, resolve_target
from shipsync.webhooks import StandardWebhooksScheme, generate_secret


class FakeClock:
    """Unix seconds that move only when told."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def endpoint() -> Iterator[LocalEndpoint]:
    secret = generate_secret()
    with LocalEndpoint(secret) as server:
        server.secret = secret  # type: ignore[attr-defined]
        yield server


def _store(tmp_path: Path, clock: FakeClock | None = None) -> EndpointStore:
    return EndpointStore(tmp_path / "endpoints.db", clock=clock or time.time)


async def test_a_delivery_is_signed_and_keeps_its_id_across_retries(
    tmp_path: Path, endpoint: LocalEndpoint
) -> None:
    """The endpoint verifies the Standard Webhooks signature; a retry carries the same id."""
    clock = FakeClock()
    store = _store(tmp_path, clock)
    store.add(endpoint.url, id="ep", secret=endpoint.secret, allow_private=True)  # type: ignore[attr-defined]
    store.accept("msg-1", "shipment.customer_status", b'{"a":1}')
    sender = WebhookSender(store, jitter=0.0)
    endpoint.mode = "fail"
    first = await sender.deliver_due()
    assert (first.attempted, first.failed) == (1, 1)
    endpoint.mode = "ok"
    clock.now += 5
    second = await sender.deliver_due()
    assert second.succeeded == 1
    assert [r.webhook_id for r in endpoint.requests] == ["msg-1", "msg-1"]
    assert all(r.verified for r in endpoint.requests)
    assert store.deliveries() == {("msg-1", "ep"): ("succeeded", 2)}
    await sender.aclose()


async def test_a_500_is_recorded_redacted_and_retried_on_the_schedule(
    tmp_path: Path, endpoint: LocalEndpoint
) -> None:
    """A 500 is an attempt with its status and a redacted excerpt; the next is 5 s later."""
    clock = FakeClock()
    store = _store(tmp_path, clock)
    store.add(endpoint.url, id="ep", allow_private=True)
    store.accept("msg-1", "t", b"{}")
    sender = WebhookSender(store, jitter=0.0)
    endpoint.mode = "fail"
    await sender.deliver_due()
    (attempt,) = store.attempts("ep")
    assert attempt.status == 500
    assert attempt.error == "HTTP 500"
    assert "boom" in attempt.response
    assert "sk_live" not in attempt.response
    clock.now += 4.9
    assert (await sender.deliver_due()).attempted == 0
    clock.now += 0.2
    assert (await sender.deliver_due()).attempted == 1
    await sender.aclose()


async def test_the_schedule_runs_out_then_a_replay_by_time_range_sends_once(
    tmp_path: Path, endpoint: LocalEndpoint
) -> None:
    """After the last attempt a delivery fails; replaying its time range delivers it once."""
    clock = FakeClock()
    store = _store(tmp_path, clock)
    store.add(endpoint.url, id="ep", allow_private=True)
    store.accept("old", "t", b"{}")
    clock.now += 3600
    store.accept("new", "t", b"{}")
    sender = WebhookSender(store, schedule=(0, 1, 1), jitter=0.0)
    endpoint.mode = "fail"
    for _ in range(3):
        await sender.deliver_due()
        clock.now += 1
    assert store.deliveries("failed") == {
        ("old", "ep"): ("failed", 3),
        ("new", "ep"): ("failed", 3),
    }
    endpoint.mode = "ok"
    queued = store.replay(since=clock.now - 1800, until=clock.now)
    assert queued == 1
    await sender.deliver_due()
    await sender.deliver_due()
    assert endpoint.delivered == ["new"]
    assert store.replay(since=clock.now - 1800, until=clock.now) == 0
    with pytest.raises(InvalidInputError):
        store.replay(since=clock.now, until=clock.now - 1)
    await sender.aclose()


@pytest.mark.parametrize("mode", ["hang", "slow"])
async def test_a_hanging_or_trickling_endpoint_times_out_as_a_failed_attempt(
    tmp_path: Path, endpoint: LocalEndpoint, mode: str
) -> None:
    """No answer, or a body trickling a byte at a time, ends at the timeout as a failure."""
    store = _store(tmp_path)
    store.add(endpoint.url, id="ep", allow_private=True)
    store.accept("m", "t", b"{}")
    endpoint.mode = mode
    endpoint.slow_seconds = 3.0
    sender = WebhookSender(store, timeout=0.5, lease=5.0)
    started = time.monotonic()
    report = await sender.deliver_due()
    assert time.monotonic() - started < 2.5
    assert report.failed == 1
    (attempt,) = store.attempts("ep")
    assert attempt.error is not None
    assert "timed out" in attempt.error
    await sender.aclose()


async def test_a_redirect_to_an_internal_address_is_not_followed(
    tmp_path: Path, endpoint: LocalEndpoint
) -> None:
    """A 302 to the metadata address fails the attempt; nothing follows it."""
    store = _store(tmp_path)
    store.add(endpoint.url, id="ep", allow_private=True)
    store.accept("m", "t", b"{}")
    endpoint.mode = "redirect"
    sender = WebhookSender(store)
    report = await sender.deliver_due()
    assert report.failed == 1
    (attempt,) = store.attempts("ep")
    assert attempt.status == 302
    assert attempt.error == "a redirect is not followed"
    assert len(endpoint.requests) == 1
    await sender.aclose()


async def test_a_loopback_target_is_refused_unless_allowed(
    tmp_path: Path, endpoint: LocalEndpoint
) -> None:
    """Without allow_private the local endpoint is never contacted; the refusal is recorded."""
    store = _store(tmp_path)
    store.add(endpoint.url, id="ep")
    store.accept("m", "t", b"{}")
    sender = WebhookSender(store)
    report = await sender.deliver_due()
    assert report.refused == 1
    assert endpoint.requests == []
    (attempt,) = store.attempts("ep")
    assert attempt.error is not None
    assert attempt.error.startswith("EndpointNotAllowedError")
    await sender.aclose()


async def test_the_address_is_resolved_and_checked_again_on_every_attempt(
    tmp_path: Path, endpoint: LocalEndpoint
) -> None:
    """Each attempt resolves the name again and checks the answer; the request goes to the
    checked address with the name as Host. Once private targets are no longer allowed, the
    same answer is refused before anything is sent."""
    port = int(endpoint.url.split(":")[2].split("/")[0])
    calls: list[str] = []

    async def resolver(host: str, _port: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.1"]

    store = _store(tmp_path)
    store.add(f"http://hooks.shop.test:{port}/hooks", id="ep", allow_private=True)
    store.accept("m1", "t", b"{}")
    sender = WebhookSender(store, resolver=resolver)
    assert (await sender.deliver_due()).succeeded == 1
    assert endpoint.requests[0].headers["host"] == f"hooks.shop.test:{port}"
    store._update("ep", "allow_private = 0", ())
    store.accept("m2", "t", b"{}")
    assert (await sender.deliver_due()).refused == 1
    assert len(endpoint.requests) == 1
    assert calls == ["hooks.shop.test", "hooks.shop.test"]
    await sender.aclose()


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "224.0.0.1",
    ],
)
def test_private_loopback_link_local_and_reserved_addresses_are_refused(address: str) -> None:
    """Every non-public address is refused when private targets are not allowed."""
    with pytest.raises(EndpointNotAllowedError):
        check_address(address, allow_private=False)


def test_a_public_address_is_allowed() -> None:
    """A public unicast address passes the check."""
    assert str(check_address("8.8.8.8", allow_private=False)) == "8.8.8.8"


async def test_a_name_with_any_private_answer_is_refused() -> None:
    """One private address among the answers refuses the whole name."""

    async def resolver(_host: str, _port: int) -> list[str]:
        return ["8.8.8.8", "10.0.0.1"]

    with pytest.raises(EndpointNotAllowedError):
        await resolve_target("https://hooks.example.com/x", allow_private=False, resolver=resolver)
    with pytest.raises(EndpointNotAllowedError):
        await resolve_target("ftp://hooks.example.com/x", allow_private=False, resolver=resolver)
    with pytest.raises(EndpointNotAllowedError):
        await resolve_target(
            "https://u:p@hooks.example.com/", allow_private=False, resolver=resolver
        )


async def test_an_ordered_endpoint_gets_one_message_at_a_time_in_order(tmp_path: Path) -> None:
    """While the first message of an ordered endpoint is pending, the next is not claimed."""
    clock = FakeClock()
    store = _store(tmp_path, clock)
    store.add("https://a.example.com/", id="ordered", ordered=True)
    store.add("https://b.example.com/", id="free")
    for i in range(3):
        store.accept(f"m{i}", "t", b"{}")
    claimed = store.claim(clock.now, lease=60, limit=10)
    got = sorted((d.endpoint_id, d.message_id) for d in claimed)
    assert got == [("free", "m0"), ("free", "m1"), ("free", "m2"), ("ordered", "m0")]


async def test_two_senders_never_claim_the_same_delivery(tmp_path: Path) -> None:
    """A claim pushes the delivery a lease ahead, so a second claimant gets the rest."""
    clock = FakeClock()
    store = _store(tmp_path, clock)
    store.add("https://a.example.com/", id="ep")
    for i in range(10):
        store.accept(f"m{i}", "t", b"{}")
    first = store.claim(clock.now, lease=60, limit=4)
    second = store.claim(clock.now, lease=60, limit=100)
    assert len(first) == 4
    assert len(second) == 6
    assert not {d.message_id for d in first} & {d.message_id for d in second}
    clock.now += 61
    assert len(store.claim(clock.now, lease=60, limit=100)) == 10


async def test_an_endpoint_failing_for_long_is_disabled_and_can_be_enabled(
    tmp_path: Path, endpoint: LocalEndpoint
) -> None:
    """Failures spanning disable_after disable the endpoint; enabling resumes delivery."""
    clock = FakeClock()
    store = _store(tmp_path, clock)
    store.add(endpoint.url, id="ep", allow_private=True)
    store.accept("m", "t", b"{}")
    sender = WebhookSender(store, schedule=(0, 100, 100, 100), jitter=0.0, disable_after=150)
    endpoint.mode = "fail"
    await sender.deliver_due()
    clock.now += 100
    await sender.deliver_due()
    assert not store.get("ep").disabled
    clock.now += 100
    await sender.deliver_due()
    assert store.get("ep").disabled
    clock.now += 100
    assert (await sender.deliver_due()).attempted == 0
    endpoint.mode = "ok"
    store.enable("ep")
    assert store.get("ep").failing_since is None
    assert (await sender.deliver_due()).succeeded == 1
    await sender.aclose()


async def test_the_rate_limit_spaces_the_requests_of_one_endpoint(
    tmp_path: Path, endpoint: LocalEndpoint
) -> None:
    """Ten messages at two per second take over four seconds' worth of tokens to send."""
    store = _store(tmp_path)
    store.add(endpoint.url, id="ep", allow_private=True, rate_limit=4.0)
    for i in range(8):
        store.accept(f"m{i}", "t", b"{}")
    sender = WebhookSender(store)
    started = time.monotonic()
    report = await sender.deliver_due()
    assert report.succeeded == 8
    assert time.monotonic() - started >= 0.9
    await sender.aclose()


async def test_a_rotated_secret_signs_beside_the_old_one_until_the_overlap_ends(
    tmp_path: Path, endpoint: LocalEndpoint
) -> None:
    """During the overlap both secrets verify; after it only the new one does."""
    clock = FakeClock()
    store = _store(tmp_path, clock)
    old = store.add(endpoint.url, id="ep", allow_private=True).active_secrets(clock.now)[0]
    new = store.rotate_secret("ep", overlap=60)
    store.accept("m1", "t", b"{}")
    sender = WebhookSender(store)
    await sender.deliver_due()
    request = endpoint.requests[-1]
    scheme = StandardWebhooksScheme(tolerance=__import__("datetime").timedelta(days=9999))
    scheme.verifier(old, clock=clock).verify(request.body, request.headers)
    scheme.verifier(new, clock=clock).verify(request.body, request.headers)
    clock.now += 61
    store.accept("m2", "t", b"{}")
    await sender.deliver_due()
    request = endpoint.requests[-1]
    scheme.verifier(new, clock=clock).verify(request.body, request.headers)
    with pytest.raises(Exception, match="signature"):
        scheme.verifier(old, clock=clock).verify(request.body, request.headers)
    await sender.aclose()


def test_bad_endpoints_are_refused_with_the_field_named(tmp_path: Path) -> None:
    """A non-http URL, a bad id, a duplicate id and a bad secret are typed errors."""
    store = _store(tmp_path)
    with pytest.raises(InvalidInputError) as info:
        store.add("file:///etc/passwd")
    assert info.value.path == "url"
    with pytest.raises(InvalidInputError) as info:
        store.add("https://a.example.com/", id="bad id!")
    assert info.value.path == "id"
    store.add("https://a.example.com/", id="ep")
    with pytest.raises(InvalidInputError):
        store.add("https://a.example.com/", id="ep")
    with pytest.raises(InvalidInputError) as info:
        store.add("https://a.example.com/", secret="hunter2")
    assert info.value.path == "secret"
    with pytest.raises(InvalidInputError):
        store.disable("nope")


async def test_an_attempt_whose_claim_ran_out_while_rate_limited_is_not_made(
    tmp_path: Path, endpoint: LocalEndpoint
) -> None:
    """Deliveries still queued behind the rate limit when their claim ends are left for the
    next claim, unattempted, so no other sender can send them at the same time."""
    store = _store(tmp_path)
    store.add(endpoint.url, id="ep", allow_private=True, rate_limit=2.0)
    for i in range(5):
        store.accept(f"m{i}", "t", b"{}")
    sender = WebhookSender(store, timeout=1.0, lease=1.2)
    report = await sender.deliver_due()
    assert report.succeeded == 2
    assert len(store.attempts("ep")) == 2
    pending = store.deliveries("pending")
    assert len(pending) == 3
    assert all(attempts == 0 for _state, attempts in pending.values())
    await sender.aclose()


@given(st.ip_addresses())
def test_any_address_passes_the_guard_only_when_public(address: object) -> None:
    """For every IPv4 and IPv6 address, the guard allows exactly the global unicast ones."""
    import ipaddress

    ip = ipaddress.ip_address(address)  # type: ignore[arg-type]
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    effective = mapped or ip
    public = effective.is_global and not effective.is_multicast
    try:
        check_address(str(ip), allow_private=False)
    except EndpointNotAllowedError:
        assert not public
    else:
        assert public


@given(st.text(max_size=3000), st.integers(min_value=0, max_value=2000))
def test_a_redacted_excerpt_is_capped_and_hides_secrets(text: str, limit: int) -> None:
    """Whatever an endpoint answers, the kept excerpt is within the cap and holds no secret."""
    secret = "whsec_" + "A" * 40
    out = redact(text + secret, limit)
    assert len(out) <= limit
    assert secret not in out


async def test_a_parsed_url_is_reused_but_a_changed_answer_is_refused() -> None:
    """The URL's parse is kept between attempts, never the DNS answer: a name that turns from
    a public address to a private one (DNS rebinding) is refused on the next call."""
    answers = [["93.184.216.34"], ["10.0.0.7"], ["93.184.216.35"]]

    async def resolver(host: str, _port: int) -> list[str]:
        return answers.pop(0)

    url = "https://hooks.rebind.test/x"
    first = await resolve_target(url, allow_private=False, resolver=resolver)
    assert (first.address, first.url.host) == ("93.184.216.34", "93.184.216.34")
    with pytest.raises(EndpointNotAllowedError):
        await resolve_target(url, allow_private=False, resolver=resolver)
    third = await resolve_target(url, allow_private=False, resolver=resolver)
    assert (third.address, third.host_header, third.sni_hostname) == (
        "93.184.216.35",
        "hooks.rebind.test",
        "hooks.rebind.test",
    )
