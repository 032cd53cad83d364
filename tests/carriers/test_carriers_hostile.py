"""Hostile carriers and plugins: every failure is typed, never a crash, a hang or a double create.

Each client test runs the sync and the async client against a small handler that routes on the
URL path (``httpx.MockTransport``), answering the token request normally and the operation under
test with something a real carrier has been seen to send.
"""

from __future__ import annotations

import asyncio
import email.utils
import inspect
import json
import logging
import types
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shipsync.carriers import (
    AsyncCarrierClient,
    CarrierClient,
    CircuitBreaker,
    DriverRegistry,
    PickupRequest,
    RateLimit,
    RetryPolicy,
    SleepRecorder,
    hookimpl,
)
from shipsync.carriers._mapping import parse_retry_after
from shipsync.carriers.fake import FakeCarrierService, FakeDriver
from shipsync.errors import (
    CarrierError,
    CarrierRequestError,
    CarrierResponseError,
    CarrierUnavailableError,
    CircuitOpenError,
    ConfigurationError,
    DriverLoadError,
)
from shipsync.testing.fake_carrier import FakeCarrier, sample_address, sample_shipment

Handler = Callable[[httpx.Request], httpx.Response]
NOW = datetime(2026, 1, 5, 12, tzinfo=UTC).timestamp()


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def token_then(answer: Handler, counts: dict[str, int] | None = None) -> Handler:
    """A carrier whose token endpoint works and whose every other endpoint is ``answer``."""

    def handle(request: httpx.Request) -> httpx.Response:
        if counts is not None:
            counts[request.url.path] = counts.get(request.url.path, 0) + 1
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": "tok-123", "expires_in": 3600})
        return answer(request)

    return handle


def make(mode: str, handler: Handler, **kwargs: Any) -> Any:
    kwargs.setdefault("sleeper", SleepRecorder())
    kwargs.setdefault("clock", lambda: NOW)
    transport = httpx.MockTransport(handler)
    if mode == "sync":
        return CarrierClient(FakeDriver(), transport=transport, **kwargs)
    return AsyncCarrierClient(FakeDriver(), transport=transport, **kwargs)


async def call(client: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    result = getattr(client, name)(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


def fixed(status: int, body: bytes = b"", **headers: str) -> Handler:
    return lambda request: httpx.Response(status, headers=headers, content=body)


HTML = b"<html><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>"
NESTED = b"[" * 20_000 + b"]" * 20_000
BIG = b"x" * 150_000


@pytest.mark.parametrize(
    ("handler", "kind", "code"),
    [
        pytest.param(
            fixed(200, HTML, **{"content-type": "text/html"}),
            CarrierResponseError,
            "malformed_response",
            id="html-200",
        ),
        pytest.param(fixed(200), CarrierResponseError, "malformed_response", id="empty-200"),
        pytest.param(
            fixed(200, b'{"error": {"code": "E1", "message": "no"}}'),
            CarrierResponseError,
            "malformed_response",
            id="error-payload-200",
        ),
        pytest.param(
            fixed(200, b'{"events": 3, "reference": []}'),
            CarrierResponseError,
            "malformed_response",
            id="wrong-types-200",
        ),
        pytest.param(fixed(200, NESTED), CarrierResponseError, "malformed_response", id="nested"),
        pytest.param(
            fixed(200, b"\xff\xfe\x00garbage"),
            CarrierResponseError,
            "malformed_response",
            id="not-utf8",
        ),
        pytest.param(
            fixed(422, HTML, **{"content-type": "text/html"}),
            CarrierError,
            "422",
            id="html-422",
        ),
        pytest.param(
            fixed(503, HTML, **{"content-type": "text/html"}),
            CarrierUnavailableError,
            "503",
            id="html-503",
        ),
        pytest.param(
            fixed(200, BIG, **{"content-length": str(len(BIG))}),
            CarrierResponseError,
            "response_too_large",
            id="declared-too-large",
        ),
        pytest.param(
            lambda request: httpx.Response(200, stream=httpx.ByteStream(BIG)),
            CarrierResponseError,
            "response_too_large",
            id="streamed-too-large",
        ),
    ],
)
async def test_bad_answers_are_typed_errors(
    mode: str, handler: Handler, kind: type[CarrierError], code: str
) -> None:
    """Whatever the carrier sends back, the caller gets one typed error naming carrier and op."""
    client = make(mode, token_then(handler), max_response_bytes=100_000, retry=RetryPolicy(2))
    with pytest.raises(kind) as info:
        await call(client, "track", "FK1")
    assert info.value.carrier == "fake"
    assert info.value.operation == "track"
    assert info.value.code == code
    assert not isinstance(info.value.__cause__, RecursionError | MemoryError) or isinstance(
        info.value, CarrierResponseError
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("-1", None),
        ("1e9", None),
        ("1.5", None),
        ("inf", None),
        ("NaN", None),
        ("\u0661\u0662", None),  # Arabic-Indic digits
        ("t\u00e9t\u00e9", None),
        ("9" * 5000, 1e9),  # Python refuses int() of > 4300 digits
        ("9" * 400, 1e9),  # float(int(...)) overflows
        ("99999999999", 1e9),
        ("Fri, 31 Dec 9999 23:59:59 GMT", 1e9),
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),
    ],
    ids=lambda v: repr(v)[:24],
)
def test_odd_retry_after_values_read_safely(value: str, expected: float | None) -> None:
    """Retry-After never raises: bad forms are ignored, huge ones become a finite bound."""
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize(
    "retry_after",
    ["9" * 5000, "1e9", "-1", "Fri, 31 Dec 9999 23:59:59 GMT", "\u0663"],
    ids=["many-digits", "exponent", "negative", "far-future", "non-ascii"],
)
async def test_client_caps_or_ignores_odd_retry_after(mode: str, retry_after: str) -> None:
    """A 429 with a silly Retry-After retries with waits within the cap, then gives up typed."""
    sleeper = SleepRecorder()
    policy = RetryPolicy(attempts=3, max_retry_after=60)
    header = [(b"retry-after", retry_after.encode())]
    answer: Handler = lambda request: httpx.Response(429, headers=header)  # noqa: E731
    client = make(mode, token_then(answer), sleeper=sleeper)
    client.retry = policy
    with pytest.raises(CarrierUnavailableError) as info:
        await call(client, "track", "FK1")
    assert info.value.retryable
    assert len(sleeper.sleeps) == 2
    assert all(0 <= s <= 60 for s in sleeper.sleeps)


def test_retry_after_http_date_counts_from_the_client_clock() -> None:
    """An HTTP date is read against the injected clock, not the machine's."""
    when = email.utils.format_datetime(datetime.fromtimestamp(NOW + 42, UTC), usegmt=True)
    assert parse_retry_after(when, NOW) == 42.0


async def test_endless_pagination_is_a_typed_error(mode: str) -> None:
    """A carrier that hands out the same cursor forever cannot hang fetch_invoices."""
    seen: dict[str, int] = {}
    body = json.dumps({"invoices": [], "next_cursor": "7"}).encode()
    client = make(mode, token_then(fixed(200, body), seen))
    with pytest.raises(CarrierResponseError) as info:
        await call(client, "fetch_invoices")
    assert info.value.code == "endless_pagination"
    assert seen["/v1/invoices"] == 2


async def test_ids_cannot_reroute_requests(mode: str) -> None:
    """A tracking number with '/', '?' or '..' stays one path segment."""
    paths: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.raw_path.decode())
        return httpx.Response(404, json={"error": {"code": "not_found", "message": "no"}})

    client = make(mode, token_then(answer))
    for number in ("../../oauth/token", "a/b?admin=1#x", ".."):
        with pytest.raises(CarrierError):
            await call(client, "track", number)
    assert paths == [
        "/v1/tracking/..%2F..%2Foauth%2Ftoken",
        "/v1/tracking/a%2Fb%3Fadmin%3D1%23x",
        "/v1/tracking/%2E%2E",
    ]


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(fixed(503, HTML), id="token-503"),
        pytest.param(fixed(200, b"<html>"), id="token-html"),
        pytest.param(fixed(200, b'{"token_type": "Bearer"}'), id="token-missing"),
        pytest.param(fixed(200, b'["access_token"]'), id="token-list"),
        pytest.param(fixed(200, b'{"access_token": "x", "expires_in": NaN}'), id="nan-expiry"),
        pytest.param(fixed(200, b'{"access_token": "x", "expires_in": -5}'), id="negative"),
        pytest.param(fixed(200, b'{"access_token": "x", "expires_in": 1e999}'), id="inf-expiry"),
        pytest.param(fixed(200, b'{"access_token": null}'), id="null-token"),
        pytest.param(fixed(200, b'{"access_token": ""}'), id="empty-token"),
    ],
)
async def test_a_failing_token_endpoint_is_typed(mode: str, answer: Handler) -> None:
    """The token request's failures are typed errors for the ``authenticate`` step."""
    calls: dict[str, int] = {}

    def handle(request: httpx.Request) -> httpx.Response:
        calls[request.url.path] = calls.get(request.url.path, 0) + 1
        return answer(request) if request.url.path == "/oauth/token" else fixed(200, b"{}")(request)

    client = make(mode, handle, retry=RetryPolicy(attempts=2))
    with pytest.raises(CarrierError) as info:
        await call(client, "track", "FK1")
    assert info.value.operation == "authenticate"
    assert "/v1/tracking/FK1" not in calls


async def test_token_without_expires_in_is_cached(mode: str) -> None:
    """A token answer with no ``expires_in`` is cached (an hour), not fetched per request."""
    calls: dict[str, int] = {}
    fake = FakeCarrier()
    transport = fake.service.mock_transport()

    def handle(request: httpx.Request) -> httpx.Response:
        calls[request.url.path] = calls.get(request.url.path, 0) + 1
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": "fk_at_plain"})
        return fixed(200, json.dumps({"rates": []}).encode())(request)

    client = make(mode, handle)
    for _ in range(3):
        assert await call(client, "quote_rates", fake.shipment()) == []
    assert calls["/oauth/token"] == 1
    del transport


async def test_many_async_tasks_share_one_breaker_and_rate_limit() -> None:
    """Fifty concurrent calls: the limiter hands out distinct slots and the breaker opens once."""
    fake = FakeCarrier()
    fake.breaker = CircuitBreaker(threshold=5, ttl=30, clock=fake.clock.time)
    limit = RateLimit(10, burst=1, clock=lambda: 0.0)
    client = fake.async_client(rate_limit=limit, retry=RetryPolicy(attempts=1))
    shipment = fake.shipment()
    await client.quote_rates(shipment)  # token + one call: two slots
    fake.service.outage("quote_rates", seconds=600)
    results = await asyncio.gather(
        *(client.quote_rates(shipment) for _ in range(50)), return_exceptions=True
    )
    assert all(isinstance(r, CarrierUnavailableError) for r in results)
    refused = [r for r in results if isinstance(r, CircuitOpenError)]
    assert len(refused) >= 50 - 5
    assert [t[2] for t in fake.breaker.transitions] == ["opened"]
    # every reservation got its own slot, 0.1 s apart, none shared
    waits = fake.sleeps.sleeps
    assert waits == sorted(waits)
    assert len(set(waits)) == len(waits)
    fake.advance(seconds=601)
    assert await client.quote_rates(shipment)
    assert fake.breaker.state("fake", flavour="async") == "closed"
    await client.aclose()


async def test_concurrent_creates_under_faults_book_each_shipment_once() -> None:
    """Forty concurrent bookings through one async client, 30% faults: one shipment each."""
    from shipsync.carriers.fake import FaultPlan

    fake = FakeCarrier(seed=5)
    fake.breaker = CircuitBreaker(threshold=10_000, ttl=1, clock=fake.clock.time)
    fake.service.set_faults("create_shipment", FaultPlan(rate=0.3))
    client = fake.async_client(retry=RetryPolicy(attempts=8))
    shipments = [fake.shipment() for _ in range(40)]
    keys = [f"order-{s.shipment_id}" for s in shipments]

    async def book(i: int) -> None:
        for _ in range(20):  # the worker retries the whole call with the same key
            try:
                await client.create_shipment(shipments[i], idempotency_key=keys[i])
                return
            except CarrierError:
                continue

    await asyncio.gather(*(book(i) for i in range(40)))
    assert fake.service.faults_injected["create_shipment"] > 0
    for shipment in shipments:
        assert fake.service.shipment_count(reference=shipment.shipment_id) == 1
    await client.aclose()


async def test_debug_logs_of_whole_flows_hold_no_personal_data_or_secrets(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    """DEBUG logs of booking, pickup, tracking and a failing call show no PII and no secret."""
    from shipsync.carriers.fake import Fault, FaultPlan

    secret = "cs-very-secret-7731"
    fake = FakeCarrier(FakeCarrierService(client_secret=secret))
    driver = fake.driver(client_secret=secret)
    client = fake.client(driver) if mode == "sync" else fake.async_client(driver)
    pii = {"name": "Zoltan Quixotewright", "street": ("Geheimweg 99b",)}
    recipient = sample_address(**pii)
    shipment = sample_shipment(shipment_id="S-PII-1").model_copy(update={"recipient": recipient})
    fake.service.set_faults("track", FaultPlan(rate=1.0, kinds=[Fault.UNAVAILABLE], limit=1))
    with caplog.at_level(logging.DEBUG):
        await call(client, "validate_address", recipient)
        booked = await call(client, "create_shipment", shipment)
        start = fake.clock.now() + timedelta(hours=1)
        await call(
            client,
            "schedule_pickup",
            PickupRequest(recipient, start, start + timedelta(hours=2)),
        )
        await call(client, "track", booked.tracking_numbers[0])
        with pytest.raises(CarrierError):
            await call(client, "track", "FK-unknown")
    assert caplog.records
    dump = "\n".join(f"{r.getMessage()} {r.__dict__!r} {r.exc_text or ''}" for r in caplog.records)
    for text in ("Zoltan", "Quixotewright", "Geheimweg", secret, "fk_at_"):
        assert text.lower() not in dump.lower(), text
    if mode == "async":
        await client.aclose()


def returning(value: object) -> types.SimpleNamespace:
    @hookimpl
    def shipsync_carrier_drivers() -> Sequence[object]:
        return value  # type: ignore[return-value]

    return types.SimpleNamespace(shipsync_carrier_drivers=shipsync_carrier_drivers)


class Point:
    """An entry point of a distribution called ``pkg-<name>``."""

    def __init__(self, name: str, load: Callable[[], Any]) -> None:
        self.name = name
        self.value = f"pkg_{name}.plugin"
        self.dist = types.SimpleNamespace(name=f"pkg-{name}", version="0.1")
        self.load = load


def exits() -> Any:
    raise SystemExit(2)


class GoodDriver(FakeDriver):
    info = FakeDriver.info.__class__(
        name="good",
        display_name="Good",
        api_version="1.0",
        capabilities=FakeDriver.info.capabilities,
    )


def test_plugins_returning_odd_things_are_load_errors_and_hide_nothing() -> None:
    """None, a bare class, a string, an instance, sys.exit() or a silly name: typed, named."""
    bad_name = type(
        "BadName",
        (FakeDriver,),
        {"info": GoodDriver.info.__class__("x y" * 50, "Bad", "1.0", GoodDriver.info.capabilities)},
    )
    points = [
        Point("none", lambda: returning(None)),
        Point("bare", lambda: returning(GoodDriver)),
        Point("text", lambda: returning("abc")),
        Point("instance", lambda: returning([FakeDriver()])),
        Point("exit", exits),
        Point("badname", lambda: returning([bad_name])),
        Point("good", lambda: returning([GoodDriver])),
    ]
    registry = DriverRegistry.discover(points)
    assert registry.names() == ["fake", "good"]
    packages = sorted(e.package or "" for e in registry.errors)
    assert packages == sorted(
        f"pkg-{n}" for n in ("none", "bare", "text", "instance", "exit", "badname")
    )
    for error in registry.errors:
        assert isinstance(error, DriverLoadError)
        assert (error.package or "") in str(error)
        assert len(str(error)) < 400


class BuggyDriver(FakeDriver):
    """A driver whose request building breaks (a KeyError in its own code)."""

    def track(self, tracking_number: str, *, received_at: datetime) -> Any:
        raise KeyError("oops")
        yield  # pragma: no cover - makes this a generator


async def test_a_driver_that_cannot_build_its_request_is_a_typed_request_error(mode: str) -> None:
    """A driver bug before anything is sent is "we sent something bad", never a bare KeyError."""
    sent: dict[str, int] = {}
    transport = httpx.MockTransport(token_then(fixed(200, b"{}"), sent))
    kwargs: dict[str, Any] = {"transport": transport, "sleeper": SleepRecorder()}
    client: Any = (CarrierClient if mode == "sync" else AsyncCarrierClient)(BuggyDriver(), **kwargs)
    with pytest.raises(CarrierRequestError) as info:
        await call(client, "track", "FK1")
    assert info.value.code == "driver_error"
    assert isinstance(info.value.__cause__, KeyError)
    assert sent == {}


async def test_lost_answers_to_pickups_and_returns_book_once(mode: str) -> None:
    """Every create carries an idempotency key: lost answers on pickups and returns book once."""
    from shipsync.carriers.fake import Fault, FaultPlan

    fake = FakeCarrier()
    client: Any = fake.client() if mode == "sync" else fake.async_client()
    booked = await call(client, "create_shipment", fake.shipment())
    lost = FaultPlan(rate=1.0, kinds=[Fault.TIMEOUT], after_share=1.0, limit=2)
    fake.service.set_faults("schedule_pickup", lost)
    fake.service.set_faults("create_return", lost)
    start = fake.clock.now() + timedelta(hours=1)
    request = PickupRequest(booked.shipper, start, start + timedelta(hours=3))
    pickup = await call(client, "schedule_pickup", request)
    returned = await call(client, "create_return", booked)
    assert fake.service.requests["schedule_pickup"] == 3
    assert fake.service.requests["create_return"] == 3
    assert list(fake.service.pickups) == [pickup.confirmation_number]
    assert len(fake.service.returns) == 1
    assert returned.tracking_number
    if mode == "async":
        await client.aclose()


async def test_concurrent_401s_refresh_the_token_once() -> None:
    """Thirty tasks whose token was revoked at once fetch one new token, not one each."""
    fake = FakeCarrier()
    inner = fake.service.mock_transport()

    sent = [0]

    async def interleaving(request: httpx.Request) -> httpx.Response:
        sent[0] += 1
        for _ in range(sent[0] % 7):  # answers arrive staggered, as over a network
            await asyncio.sleep(0)
        return inner.handle_request(request)

    client = AsyncCarrierClient(
        fake.driver(),
        transport=httpx.MockTransport(interleaving),
        sleeper=fake.sleeps,
        breaker=fake.breaker,
        clock=fake.clock.time,
    )
    shipment = fake.shipment()
    await client.quote_rates(shipment)
    fake.service.expire_tokens()
    results = await asyncio.gather(*(client.quote_rates(shipment) for _ in range(30)))
    assert all(results)
    assert fake.service.requests["token"] == 2
    await client.aclose()


@pytest.mark.parametrize(
    "build",
    [
        lambda: RateLimit(float("nan")),
        lambda: RateLimit(float("inf")),
        lambda: RateLimit(0),
        lambda: RateLimit(5, burst=0),
        lambda: RetryPolicy(attempts=0),
        lambda: RetryPolicy(max_retry_after=float("nan")),
        lambda: RetryPolicy(initial=-1),
        lambda: RetryPolicy(jitter=float("inf")),
        lambda: CircuitBreaker(threshold=0),
        lambda: CircuitBreaker(ttl=float("nan")),
    ],
    ids=[
        "rate-nan",
        "rate-inf",
        "rate-zero",
        "burst-zero",
        "attempts-zero",
        "retry-after-nan",
        "negative-initial",
        "jitter-inf",
        "threshold-zero",
        "ttl-nan",
    ],
)
def test_nonsense_settings_are_configuration_errors(build: Callable[[], object]) -> None:
    """A NaN rate once made the client sleep(NaN); settings are checked when made, typed."""
    with pytest.raises(ConfigurationError):
        build()


async def test_after_the_ttl_one_trial_request_goes_out_not_the_whole_burst() -> None:
    """Twenty concurrent calls after the ttl: one reaches the still-down carrier, the rest wait."""
    fake = FakeCarrier()
    fake.breaker = CircuitBreaker(threshold=2, ttl=30, clock=fake.clock.time)
    inner = fake.service.mock_transport()

    async def interleaving(request: httpx.Request) -> httpx.Response:
        for _ in range(3):
            await asyncio.sleep(0)
        return inner.handle_request(request)

    client = AsyncCarrierClient(
        fake.driver(),
        transport=httpx.MockTransport(interleaving),
        sleeper=fake.sleeps,
        breaker=fake.breaker,
        clock=fake.clock.time,
        retry=RetryPolicy(attempts=1),
    )
    shipment = fake.shipment()
    await client.quote_rates(shipment)
    fake.service.outage("quote_rates", seconds=45)
    for _ in range(2):
        with pytest.raises(CarrierUnavailableError):
            await client.quote_rates(shipment)
    assert fake.breaker.state("fake", flavour="async") == "opened"
    sent = fake.service.requests["quote_rates"]
    fake.advance(seconds=31)  # ttl over, carrier still down
    burst = await asyncio.gather(
        *(client.quote_rates(shipment) for _ in range(20)), return_exceptions=True
    )
    assert fake.service.requests["quote_rates"] == sent + 1
    assert sum(isinstance(r, CircuitOpenError) for r in burst) == 19
    assert fake.breaker.state("fake", flavour="async") == "opened"
    fake.advance(seconds=31)  # outage over, ttl over again: the trial succeeds and closes it
    assert await client.quote_rates(shipment)
    assert fake.breaker.state("fake", flavour="async") == "closed"
    burst = await asyncio.gather(*(client.quote_rates(shipment) for _ in range(20)))
    assert all(burst)
    await client.aclose()


class YieldsJunk(FakeDriver):
    """A driver whose flow yields a dict where a request belongs."""

    def track(self, tracking_number: str, *, received_at: datetime) -> Any:
        yield {"method": "GET", "path": f"/v1/tracking/{tracking_number}"}


class NotAFlow(FakeDriver):
    """A driver that returns a list instead of a generator."""

    def track(self, tracking_number: str, *, received_at: datetime) -> Any:
        return []


@pytest.mark.parametrize("driver", [YieldsJunk, NotAFlow], ids=["yields-dict", "returns-list"])
async def test_a_driver_that_breaks_the_flow_contract_is_a_typed_error(
    mode: str, driver: type[FakeDriver]
) -> None:
    """A flow that yields junk or is no generator at all fails typed, sending nothing."""
    sent: dict[str, int] = {}
    transport = httpx.MockTransport(token_then(fixed(200, b"{}"), sent))
    kwargs: dict[str, Any] = {"transport": transport, "sleeper": SleepRecorder()}
    client: Any = (CarrierClient if mode == "sync" else AsyncCarrierClient)(driver(), **kwargs)
    with pytest.raises(CarrierRequestError) as info:
        await call(client, "track", "FK1")
    assert info.value.code == "driver_error"
    assert sent == {}


async def test_a_cancelled_trial_neither_closes_nor_counts() -> None:
    """Cancelling the half-open trial does not close the breaker; the next call is the trial."""
    fake = FakeCarrier()
    fake.breaker = CircuitBreaker(threshold=1, ttl=30, clock=fake.clock.time)
    inner = fake.service.mock_transport()
    hold = asyncio.Event()
    reached = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/rates" and not hold.is_set():
            reached.set()
            await asyncio.Event().wait()  # never answers; the caller gets cancelled
        return inner.handle_request(request)

    client = AsyncCarrierClient(
        fake.driver(),
        transport=httpx.MockTransport(slow),
        sleeper=fake.sleeps,
        breaker=fake.breaker,
        clock=fake.clock.time,
        retry=RetryPolicy(attempts=1),
    )
    shipment = fake.shipment()
    hold.set()
    await client.quote_rates(shipment)
    fake.service.outage("quote_rates", seconds=10)
    with pytest.raises(CarrierUnavailableError):
        await client.quote_rates(shipment)
    assert fake.breaker.state("fake", flavour="async") == "opened"
    fake.advance(seconds=31)
    hold.clear()
    trial = asyncio.ensure_future(client.quote_rates(shipment))
    await reached.wait()
    trial.cancel()
    with pytest.raises(asyncio.CancelledError):
        await trial
    assert fake.breaker.state("fake", flavour="async") != "closed"
    hold.set()
    fake.service.outage("quote_rates", seconds=100)  # still down: the next call is the trial
    with pytest.raises(CarrierUnavailableError) as info:
        await client.quote_rates(shipment)
    assert not isinstance(info.value, CircuitOpenError)
    assert fake.breaker.state("fake", flavour="async") == "opened"
    with pytest.raises(CircuitOpenError):
        await client.quote_rates(shipment)
    fake.advance(seconds=200)
    assert await client.quote_rates(shipment)
    assert fake.breaker.state("fake", flavour="async") == "closed"
    await client.aclose()
