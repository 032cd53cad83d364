"""Carrier health: answers and calls that got none, counted per carrier over a window."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from shipsync.carriers import CarrierClient, CircuitBreaker, SleepRecorder
from shipsync.carriers.fake import FakeDriver
from shipsync.errors import CarrierError
from shipsync.monitor import CarrierHealth
from shipsync.testing.fake_carrier import sample_shipment


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _answering(status: int) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(status, json={}))


def _silent(error: type[httpx.TransportError]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error("no answer", request=request)

    return httpx.MockTransport(handler)


def test_answers_count_as_calls_and_bad_ones_as_errors() -> None:
    """A 2xx/4xx answer is a good call; a 429 or 5xx answer is an error."""
    clock = Clock()
    health = CarrierHealth(clock=clock)
    for status in (200, 404, 429, 503):
        with httpx.Client(transport=_answering(status), event_hooks=health.event_hooks("x")) as c:
            c.get("https://carrier.test/")
    (row,) = health.rows()
    assert (row.carrier, row.calls, row.errors, row.no_answer) == ("x", 4, 2, 0)
    assert row.error_rate == 0.5


@pytest.mark.parametrize(
    "error",
    [httpx.ConnectError, httpx.ReadTimeout, httpx.RemoteProtocolError],
    ids=["refused", "timeout", "reset"],
)
def test_a_call_that_got_no_answer_is_an_error_once_its_timeout_ran_out(
    error: type[httpx.TransportError],
) -> None:
    """No answer: not counted while the call may still be in flight, then a call and an error."""
    clock = Clock()
    health = CarrierHealth(clock=clock)
    timeout = httpx.Timeout(5.0)  # connect, read, write, pool: 20 s at most
    with (
        httpx.Client(
            transport=_silent(error), timeout=timeout, event_hooks=health.event_hooks("ups")
        ) as client,
        pytest.raises(error),
    ):
        client.get("https://carrier.test/")
    (row,) = health.rows()
    assert (row.calls, row.errors, row.no_answer) == (0, 0, 0)  # within its timeout still
    clock.now += 21.0
    (row,) = health.rows()
    assert (row.calls, row.errors, row.no_answer) == (1, 1, 1)
    assert row.error_rate == 1.0
    clock.now += 900.0  # out of the window
    (row,) = health.rows()
    assert row.calls == 0


def test_a_request_without_timeout_waits_no_answer_after() -> None:
    """With no timeout on the request, ``no_answer_after`` seconds decide."""
    clock = Clock()
    health = CarrierHealth(clock=clock, no_answer_after=60.0)
    with (
        httpx.Client(
            transport=_silent(httpx.ConnectError), timeout=None, event_hooks=health.event_hooks("x")
        ) as client,
        pytest.raises(httpx.ConnectError),
    ):
        client.get("https://carrier.test/")
    clock.now += 59.0
    assert health.rows()[0].no_answer == 0
    clock.now += 2.0
    assert health.rows()[0].no_answer == 1


def test_the_async_hooks_count_the_same() -> None:
    """``async_event_hooks`` feed an ``httpx.AsyncClient`` the same way."""
    clock = Clock()
    health = CarrierHealth(clock=clock)

    async def calls() -> None:
        hooks = health.async_event_hooks("dhl")
        async with httpx.AsyncClient(transport=_answering(500), event_hooks=hooks) as client:
            await client.get("https://carrier.test/")
        async with httpx.AsyncClient(
            transport=_silent(httpx.ConnectTimeout), timeout=1.0, event_hooks=hooks
        ) as client:
            with pytest.raises(httpx.ConnectTimeout):
                await client.get("https://carrier.test/")

    asyncio.run(calls())
    clock.now += 10.0
    (row,) = health.rows()
    assert (row.calls, row.errors, row.no_answer) == (2, 2, 1)


def test_a_carrier_client_retrying_an_unreachable_carrier_shows_every_attempt() -> None:
    """Through the carrier client: each attempt that got no answer is one error."""
    clock = Clock()
    health = CarrierHealth(clock=clock)
    http = httpx.Client(
        transport=_silent(httpx.ConnectError), timeout=2.0, event_hooks=health.event_hooks("fake")
    )
    client = CarrierClient(
        FakeDriver(), http=http, sleeper=SleepRecorder(), breaker=CircuitBreaker(threshold=50)
    )
    health.breaker = client.breaker
    with pytest.raises(CarrierError):
        client.quote_rates(sample_shipment())
    http.close()
    assert health.rows()[0].no_answer == 0
    clock.now += 4 * client.timeout + 2  # every phase's timeout, and the grace second
    (row,) = health.rows()
    assert row.calls == row.errors == row.no_answer == client.retry.attempts > 1
    assert row.breaker == "closed"
