"""HTTP values, Retry-After parsing, error mapping, redaction and rate shopping."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipsync.carriers import (
    AsyncCarrierClient,
    CarrierClient,
    CarrierRequest,
    CarrierResponse,
    RateLimit,
    ashop_rates,
    shop_rates,
)
from shipsync.carriers._mapping import error_for_response, parse_retry_after
from shipsync.carriers._redact import redact_headers, redact_json, redact_url
from shipsync.errors import (
    CarrierAuthError,
    CarrierError,
    CarrierRequestError,
    CarrierResponseError,
    CarrierUnavailableError,
)
from shipsync.testing.fake_carrier import FakeCarrier

NOW = datetime(2026, 1, 5, 12, tzinfo=UTC).timestamp()


@given(st.integers(min_value=0, max_value=10**6))
def test_retry_after_seconds(seconds: int) -> None:
    """Delta seconds read as themselves."""
    assert parse_retry_after(str(seconds), NOW) == float(seconds)


@given(st.integers(min_value=-(10**5), max_value=10**6))
def test_retry_after_http_date(offset: int) -> None:
    """An HTTP date reads as seconds from now, never negative."""
    when = datetime.fromtimestamp(NOW + offset, UTC)
    value = email.utils.format_datetime(when, usegmt=True)
    assert parse_retry_after(value, NOW) == max(0.0, float(offset))


@given(st.text(max_size=40))
def test_retry_after_never_raises(value: str) -> None:
    """Whatever a server sends, parsing gives a non-negative number or None."""
    result = parse_retry_after(value, NOW)
    assert result is None or result >= 0


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [
        (400, CarrierRequestError, False),
        (401, CarrierAuthError, False),
        (403, CarrierAuthError, False),
        (404, CarrierRequestError, False),
        (408, CarrierUnavailableError, True),
        (409, CarrierRequestError, False),
        (422, CarrierRequestError, False),
        (429, CarrierUnavailableError, True),
        (500, CarrierUnavailableError, False),
        (502, CarrierUnavailableError, True),
        (503, CarrierUnavailableError, True),
        (504, CarrierUnavailableError, True),
        (302, CarrierResponseError, False),
    ],
    ids=lambda v: str(v) if isinstance(v, int | bool) else v.__name__,
)
def test_status_mapping(status: int, kind: type[CarrierError], retryable: bool) -> None:
    """Each status maps to one typed error with carrier, operation and the carrier's code."""
    response = CarrierResponse(status, {"retry-after": "3"}, b"")
    error = error_for_response(
        response, carrier="acme", operation="track", details=lambda r: ("E1", "msg"), now=NOW
    )
    assert type(error) is kind
    assert error.retryable is retryable
    assert (error.carrier, error.operation, error.code, error.carrier_message) == (
        "acme",
        "track",
        "E1",
        "msg",
    )
    assert error.retry_after == (3.0 if kind is CarrierUnavailableError else None)


def test_error_details_that_fail_do_not_hide_the_status() -> None:
    """A driver's parse_error that chokes falls back to the HTTP status as the code."""

    def broken(_: CarrierResponse) -> tuple[str | None, str | None]:
        raise KeyError("error")

    error = error_for_response(
        CarrierResponse(404), carrier="acme", operation="track", details=broken, now=NOW
    )
    assert isinstance(error, CarrierRequestError)
    assert error.code == "404"


def test_request_values() -> None:
    """Requests are frozen values; headers are case-insensitive and replaceable."""
    request = CarrierRequest.json("POST", "/x", {"a": 1}, headers={"X-Key": "1"})
    assert request.content == b'{"a":1}'
    assert request.header("content-type") == "application/json"
    replaced = request.with_header("x-key", "2")
    assert replaced.header("X-KEY") == "2"
    assert request.header("x-key") == "1"
    form = CarrierRequest.form("POST", "/t", {"b": "2", "a": "1"})
    assert form.content == b"a=1&b=2"
    with pytest.raises(CarrierResponseError):
        CarrierResponse(200, content=b"{").json()


@given(st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=5))
def test_redaction_hides_every_sensitive_field(extra: dict[str, str]) -> None:
    """Secrets and personal data are replaced at any depth; other fields are kept."""
    data = {
        "client_secret": "s",
        "nested": [{"email": "a@b.c", "phone": "1", "city": "Lyon"}],
        "Authorization": "Bearer t",
        **{f"k_{k}": v for k, v in extra.items()},
    }
    red = redact_json(data)
    assert red["client_secret"] == "***"
    assert red["Authorization"] == "***"
    assert red["nested"][0] == {"email": "***", "phone": "***", "city": "Lyon"}
    headers = redact_headers([("Authorization", "Bearer x"), ("Idempotency-Key", "k")])
    assert headers == {"authorization": "***", "idempotency-key": "k"}
    assert redact_url("https://u:p@h/x?api_key=1&q=2") == "https://***@h/x?api_key=%2A%2A%2A&q=2"


def test_rate_limit_bursts_then_spaces() -> None:
    """A burst passes at once; later requests wait for their slot."""
    limit = RateLimit(2, burst=3, clock=lambda: 0.0)
    assert [limit.reserve() for _ in range(5)] == [0.0, 0.0, 0.0, 0.5, 1.0]


def test_shopping_survives_a_failing_carrier_and_keeps_currencies_apart() -> None:
    """One carrier down is reported; rates in other currencies are never compared."""
    euro = FakeCarrier(seed=1)
    dollar = FakeCarrier(seed=2)
    down = FakeCarrier(seed=3)
    down.service.outage("*", seconds=3600)
    clients: list[CarrierClient] = [euro.client(), dollar.client(), down.client()]
    shipment = euro.shipment()
    us_shipment = dollar.shipment(shipper_country="US")
    result = shop_rates(clients[:1], shipment)
    assert len(result.rates) == 3
    mixed = shop_rates(clients[1:], us_shipment)
    assert [f.carrier for f in mixed.failures] == ["fake"]
    assert isinstance(mixed.failures[0].error, CarrierUnavailableError)
    both = type(result)(result.rates + mixed.rates, mixed.failures)
    assert both.currencies() == ["EUR", "USD"]
    cheapest = both.cheapest("EUR")
    assert cheapest is not None
    assert cheapest.service == "economy"
    assert all(r.total.currency == "USD" for r in both.in_currency("USD"))
    assert both.cheapest("JPY") is None


async def test_async_shopping_runs_concurrently_and_reports_failures() -> None:
    """The async variant gathers every carrier and reports the failing one."""
    ok = FakeCarrier(seed=1)
    down = FakeCarrier(seed=2)
    down.service.outage("*", seconds=3600)
    clients: list[AsyncCarrierClient] = [ok.async_client(), down.async_client()]
    result = await ashop_rates(clients, ok.shipment())
    assert len(result.rates) == 3
    assert len(result.failures) == 1
    for client in clients:
        await client.aclose()


def test_fake_clock_never_goes_back() -> None:
    """The fake clock only moves forward and stays in UTC."""
    carrier = FakeCarrier()
    start = carrier.clock.now()
    with pytest.raises(ValueError, match="backwards"):
        carrier.clock.advance(-1)
    carrier.clock.set(start + timedelta(days=1))
    assert carrier.clock.now() - start == timedelta(days=1)


@pytest.mark.parametrize("value", ["²", "1.5", "-3", "soon", "Mon, 99 Foo 2026 00:00:00 GMT"])
def test_retry_after_odd_values_are_ignored(value: str) -> None:
    """Non-ASCII digits, fractions, negatives and bad dates give None."""
    assert parse_retry_after(value, NOW) is None
