"""The sync and async clients: one behaviour, checked against the in-process fake carrier."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from typing import Any

import pytest

from shipsync.canonical import LabelFormat, Milestone
from shipsync.carriers import (
    Capability,
    CircuitBreaker,
    DriverInfo,
    RateLimit,
    RetryPolicy,
)
from shipsync.carriers.fake import FakeDriver, Fault, FaultPlan
from shipsync.errors import (
    CarrierAuthError,
    CarrierRequestError,
    CarrierResponseError,
    CarrierUnavailableError,
    CircuitOpenError,
    UnsupportedOperationError,
)
from shipsync.retry import set_testing
from shipsync.testing.fake_carrier import FakeCarrier


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def make(fake: FakeCarrier, mode: str, **kwargs: Any) -> Any:
    return fake.client(**kwargs) if mode == "sync" else fake.async_client(**kwargs)


async def call(client: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    result = getattr(client, name)(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


async def test_book_then_track_to_delivery(fake_carrier: FakeCarrier, mode: str) -> None:
    """A booking returns tracking numbers and labels; tracking follows the fake clock."""
    client = make(fake_carrier, mode)
    shipment = fake_carrier.shipment(packages=2)
    booked = await call(client, "create_shipment", shipment, label_format=LabelFormat.ZPL)
    assert booked.carrier_shipment_id
    assert len(booked.tracking_numbers) == 2
    assert all(p.label is not None and p.label.format == "zpl" for p in booked.packages)
    fake_carrier.advance(hours=1)
    events = await call(client, "track", booked.tracking_numbers[0])
    assert [e.milestone for e in events] == [Milestone.LABEL_CREATED]
    fake_carrier.advance(hours=48)
    events = await call(client, "track", booked.tracking_numbers[0])
    assert events[-1].milestone == Milestone.DELIVERED
    assert events[-1].shipment_id == shipment.shipment_id


async def test_retry_after_seconds_is_honoured(fake_carrier: FakeCarrier, mode: str) -> None:
    """Every 429 makes the client ask to sleep exactly the Retry-After seconds."""
    fake_carrier.service.set_faults(
        "track", FaultPlan(rate=1.0, kinds=[Fault.RATE_LIMITED], retry_after=7, limit=2)
    )
    client = make(fake_carrier, mode)
    booked = await call(client, "create_shipment", fake_carrier.shipment())
    events = await call(client, "track", booked.tracking_numbers[0])
    assert events
    assert fake_carrier.sleeps.sleeps == [7.0, 7.0]
    assert fake_carrier.service.requests["track"] == 3


async def test_retry_after_http_date_is_capped(fake_carrier: FakeCarrier, mode: str) -> None:
    """A Retry-After HTTP date is read against the client's clock and capped."""
    fake_carrier.service.set_faults(
        "track",
        FaultPlan(rate=1.0, kinds=[Fault.RATE_LIMITED], retry_after=120, retry_after_date=True),
    )
    client = make(fake_carrier, mode, retry=RetryPolicy(attempts=3, max_retry_after=60))
    booked = await call(client, "create_shipment", fake_carrier.shipment())
    with pytest.raises(CarrierUnavailableError) as info:
        await call(client, "track", booked.tracking_numbers[0])
    assert fake_carrier.sleeps.sleeps == [60.0, 60.0]
    assert info.value.retry_after == 120.0
    assert info.value.code == "rate_limited"
    assert info.value.carrier == "fake"
    assert info.value.operation == "track"


async def test_backoff_grows_without_retry_after(fake_carrier: FakeCarrier, mode: str) -> None:
    """Without Retry-After the waits follow exponential backoff with bounded jitter."""
    fake_carrier.service.set_faults("quote_rates", FaultPlan(rate=1.0, kinds=[Fault.UNAVAILABLE]))
    policy = RetryPolicy(attempts=4, initial=1.0, jitter=0.5, maximum=30)
    client = make(fake_carrier, mode, retry=policy)
    with pytest.raises(CarrierUnavailableError):
        await call(client, "quote_rates", fake_carrier.shipment())
    sleeps = fake_carrier.sleeps.sleeps
    assert len(sleeps) == 3
    for n, slept in enumerate(sleeps):
        assert 2**n <= slept <= 2**n + 0.5


async def test_server_error_is_not_retried(fake_carrier: FakeCarrier, mode: str) -> None:
    """A 500 is a carrier failure but not retried: the same request would fail the same way."""
    fake_carrier.service.set_faults("quote_rates", FaultPlan(rate=1.0, kinds=[Fault.SERVER_ERROR]))
    client = make(fake_carrier, mode)
    with pytest.raises(CarrierUnavailableError) as info:
        await call(client, "quote_rates", fake_carrier.shipment())
    assert info.value.retryable is False
    assert fake_carrier.service.requests["quote_rates"] == 1
    assert fake_carrier.sleeps.sleeps == []


async def test_carrier_refusal_keeps_its_code(fake_carrier: FakeCarrier, mode: str) -> None:
    """A 4xx becomes CarrierRequestError with the carrier's own code and message."""
    client = make(fake_carrier, mode)
    with pytest.raises(CarrierRequestError) as info:
        await call(client, "track", "NOPE")
    assert info.value.code == "not_found"
    assert info.value.carrier_message == "no such tracking number"
    assert info.value.retryable is False


async def test_bad_credentials_are_an_auth_error(fake_carrier: FakeCarrier, mode: str) -> None:
    """Refused credentials raise CarrierAuthError whose message never shows the secret."""
    client = make(fake_carrier, mode, driver=fake_carrier.driver(client_secret="hunter2-secret"))
    with pytest.raises(CarrierAuthError) as info:
        await call(client, "quote_rates", fake_carrier.shipment())
    assert "hunter2" not in str(info.value)
    assert info.value.code == "invalid_client"


async def test_token_is_cached_and_refreshed(fake_carrier: FakeCarrier, mode: str) -> None:
    """One token serves many calls; a revoked one is replaced once; expiry refreshes early."""
    client = make(fake_carrier, mode)
    shipment = fake_carrier.shipment()
    for _ in range(3):
        await call(client, "quote_rates", shipment)
    assert fake_carrier.service.requests["token"] == 1
    fake_carrier.service.expire_tokens()
    await call(client, "quote_rates", shipment)
    assert fake_carrier.service.requests["token"] == 2
    fake_carrier.advance(seconds=3600 - 10)
    await call(client, "quote_rates", shipment)
    assert fake_carrier.service.requests["token"] == 3


async def test_malformed_answer_is_a_response_error(fake_carrier: FakeCarrier, mode: str) -> None:
    """A 200 with broken JSON raises CarrierResponseError, never a ValueError or KeyError."""
    fake_carrier.service.set_faults("quote_rates", FaultPlan(rate=1.0, kinds=[Fault.MALFORMED]))
    client = make(fake_carrier, mode)
    with pytest.raises(CarrierResponseError) as info:
        await call(client, "quote_rates", fake_carrier.shipment())
    assert info.value.carrier == "fake"
    assert info.value.operation == "quote_rates"
    assert fake_carrier.service.requests["quote_rates"] == 1


async def test_lost_answer_to_a_booking_books_once(fake_carrier: FakeCarrier, mode: str) -> None:
    """A timeout after the carrier booked is retried with the same key: one shipment exists."""
    fake_carrier.service.set_faults(
        "create_shipment",
        FaultPlan(rate=1.0, kinds=[Fault.TIMEOUT], after_share=1.0, limit=2),
    )
    client = make(fake_carrier, mode)
    shipment = fake_carrier.shipment()
    booked = await call(client, "create_shipment", shipment)
    assert fake_carrier.service.requests["create_shipment"] == 3
    assert fake_carrier.service.shipment_count(reference=shipment.shipment_id) == 1
    assert booked.carrier_shipment_id == next(iter(fake_carrier.service.shipments))


async def test_breaker_opens_then_recovers(fake_carrier: FakeCarrier, mode: str) -> None:
    """After `threshold` unavailable answers nothing is sent; after the ttl it closes again.

    The breaker times its ttl on the fake clock, so a slow machine cannot close it early.
    """
    breaker = CircuitBreaker(threshold=3, ttl=30, clock=fake_carrier.clock.time)
    client = make(fake_carrier, mode, breaker=breaker, retry=RetryPolicy(attempts=1))
    shipment = fake_carrier.shipment()
    await call(client, "quote_rates", shipment)
    fake_carrier.service.outage("quote_rates", seconds=60)
    for _ in range(3):
        with pytest.raises(CarrierUnavailableError):
            await call(client, "quote_rates", shipment)
    sent = fake_carrier.service.requests["quote_rates"]
    with pytest.raises(CircuitOpenError):
        await call(client, "quote_rates", shipment)
    assert fake_carrier.service.requests["quote_rates"] == sent
    assert breaker.state("fake", flavour=mode) == "opened"
    fake_carrier.advance(seconds=29)
    with pytest.raises(CircuitOpenError) as info:
        await call(client, "quote_rates", shipment)
    assert info.value.retry_after == pytest.approx(1.0)
    assert fake_carrier.service.requests["quote_rates"] == sent
    fake_carrier.advance(seconds=32)  # past the outage and the ttl
    assert await call(client, "quote_rates", shipment)
    assert breaker.state("fake", flavour=mode) == "closed"


async def test_requests_refused_as_invalid_do_not_open_the_breaker(
    fake_carrier: FakeCarrier, mode: str
) -> None:
    """Only unavailability counts as a breaker failure; our own bad requests do not."""
    breaker = CircuitBreaker(threshold=2, ttl=30)
    client = make(fake_carrier, mode, breaker=breaker)
    for _ in range(4):
        with pytest.raises(CarrierRequestError):
            await call(client, "track", "NOPE")
    assert breaker.state("fake", flavour=mode) == "closed"


async def test_rate_limit_spaces_requests(fake_carrier: FakeCarrier, mode: str) -> None:
    """The client-side rate limit asks to wait for the next free slot."""
    limit = RateLimit(10, burst=1, clock=lambda: 100.0)
    client = make(fake_carrier, mode, rate_limit=limit)
    shipment = fake_carrier.shipment()
    for _ in range(2):
        await call(client, "quote_rates", shipment)
    # token + quote + quote: slots at 0, 0.1 and 0.2 s
    assert fake_carrier.sleeps.sleeps == pytest.approx([0.1, 0.2])


async def test_logs_redact_secrets_and_personal_data(
    fake_carrier: FakeCarrier, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Structured log records name carrier and operation but hide tokens and secrets."""
    fake_carrier.service.set_faults(
        "quote_rates", FaultPlan(rate=1.0, kinds=[Fault.UNAVAILABLE], limit=1)
    )
    client = make(fake_carrier, mode)
    with caplog.at_level(logging.DEBUG, logger="shipsync.carriers"):
        await call(client, "quote_rates", fake_carrier.shipment())
    records = [r for r in caplog.records if hasattr(r, "shipsync")]
    assert any(r.shipsync.get("operation") == "quote_rates" for r in records)
    quote = [r for r in records if r.shipsync.get("operation") == "quote_rates"]
    assert quote[0].shipsync["request_headers"]["authorization"] == "***"
    assert any(r.levelno == logging.WARNING and "retrying" in r.getMessage() for r in records)
    dump = " ".join(repr(r.__dict__) for r in caplog.records)
    assert "fake-secret" not in dump
    assert "fk_at_" not in dump


async def test_undeclared_capability_is_unsupported(fake_carrier: FakeCarrier, mode: str) -> None:
    """Calling an operation the driver does not declare raises typed, sending nothing."""

    class TrackingOnly(FakeDriver):
        info = DriverInfo(
            name="fake",
            display_name="Tracking only",
            api_version="1.0",
            capabilities={Capability.TRACK},
        )

    client = make(fake_carrier, mode, driver=TrackingOnly(fake_carrier.config()))
    with pytest.raises(UnsupportedOperationError) as info:
        await call(client, "quote_rates", fake_carrier.shipment())
    assert info.value.operation == "quote_rates"
    assert sum(fake_carrier.service.requests.values()) == 0


def test_testing_switch_records_instead_of_sleeping(fake_carrier: FakeCarrier) -> None:
    """Clients without their own sleeper obey the global testing switch."""
    fake_carrier.service.set_faults(
        "quote_rates", FaultPlan(rate=1.0, kinds=[Fault.RATE_LIMITED], retry_after=30, limit=1)
    )
    from shipsync.carriers import CarrierClient

    client = CarrierClient(fake_carrier.driver(), transport=fake_carrier.service.mock_transport())
    started = time.monotonic()
    with set_testing() as waits:
        client.quote_rates(fake_carrier.shipment())
    assert waits.sleeps == [30.0]
    assert time.monotonic() - started < 10
    client.close()


async def test_concurrent_async_calls_share_one_token(fake_carrier: FakeCarrier) -> None:
    """Twenty concurrent calls on a fresh async client fetch the token once."""
    client = fake_carrier.async_client()
    shipment = fake_carrier.shipment()
    results = await asyncio.gather(*(client.quote_rates(shipment) for _ in range(20)))
    assert all(len(rates) == 3 for rates in results)
    assert fake_carrier.service.requests["token"] == 1
    await client.aclose()
