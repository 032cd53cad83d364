"""Rate shopping across UPS, ShipEngine and DHL Express in one call, on replayed answers.

UPS answers from its rates cassette (``ups/cassettes/rates.yaml``), ShipEngine from its replay
of the documented rate response (two accounts, USD and EUR), DHL Express with its documented
400 ("account number not found"). The shop returns every rate, reports DHL as a typed failure,
and never orders rates of different currencies against each other.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from shipsync.canonical import Address, Contact, Package, Parcel, Shipment, Weight
from shipsync.carriers import (
    AsyncCarrierClient,
    CarrierClient,
    RetryPolicy,
    SleepRecorder,
    ashop_rates,
    shop_rates,
)
from shipsync.carriers.dhl_express import DhlExpressDriver
from shipsync.carriers.shipengine import ShipEngineDriver
from shipsync.carriers.ups import UpsDriver
from shipsync.errors import CarrierRequestError

HERE = Path(__file__).parent
NOW = datetime(2026, 1, 5, 8, tzinfo=UTC)
Route = Callable[[httpx.Request], httpx.Response]


def _by_path(answers: dict[str, tuple[int, bytes]]) -> Route:
    """A fake carrier that answers by URL path (an unknown path is a 404)."""

    def handler(request: httpx.Request) -> httpx.Response:
        status, body = answers.get(request.url.path, (404, b"{}"))
        return httpx.Response(status, content=body, headers={"content-type": "application/json"})

    return handler


def _ups_answers() -> dict[str, tuple[int, bytes]]:
    cassette = yaml.safe_load((HERE / "ups" / "cassettes" / "rates.yaml").read_text())
    answers = {}
    for interaction in cassette["interactions"]:
        path = httpx.URL(interaction["request"]["uri"]).path
        body = interaction["response"]["body"]["string"]
        answers[path] = (
            int(interaction["response"]["status"]["code"]),
            body.encode() if isinstance(body, str) else body,
        )
    return answers


def _replay(path: Path, name: str) -> tuple[int, bytes]:
    recording = next(r for r in json.loads(path.read_text()) if r["name"] == name)
    response = recording["responses"][0]
    return response["status"], json.dumps(response["body"]).encode()


def _shipment() -> Shipment:
    shipper = Address(
        name="Dana Shipper",
        company="Acme Outdoor Supply",
        street=("12 Warehouse Way",),
        city="Atlanta",
        state="GA",
        postal_code="30301",
        country="US",
        contact=Contact(phone="4045550100"),
    )
    recipient = Address(
        name="Zoe Angstrom",
        street=("1600 Peachtree St NW",),
        city="Atlanta",
        state="GA",
        postal_code="30309",
        country="US",
        contact=Contact(phone="4045550199"),
    )
    return Shipment(
        shipment_id="SHOP-1",
        carrier="any",
        service="any",
        shipper=shipper,
        recipient=recipient,
        packages=(Package(parcel=Parcel(weight=Weight.of("2", "kg"))),),
        created_at=NOW,
    )


def _routes() -> list[tuple[Any, Route]]:
    shipengine = HERE / "shipengine" / "cassettes" / "replay.json"
    dhl = HERE / "dhl_express" / "cassettes" / "replay.json"
    return [
        (
            UpsDriver({"client_id": "id", "client_secret": "secret", "account_number": "A1B2C3"}),
            _by_path(_ups_answers()),
        ),
        (
            ShipEngineDriver({"api_key": "TEST_x", "carrier_ids": {"ups": "se-1", "dhl": "se-2"}}),
            _by_path({"/v1/rates": _replay(shipengine, "rates-two-carriers")}),
        ),
        (
            DhlExpressDriver({"api_key": "k", "api_secret": "s", "account_number": "0"}),
            _by_path({"/mydhlapi/test/rates": _replay(dhl, "rates-400-documented")}),
        ),
    ]


def _check(result: Any) -> None:
    carriers = {rate.carrier for rate in result.rates}
    assert carriers == {"ups", "shipengine"}
    assert [f.carrier for f in result.failures] == ["dhl_express"]
    assert isinstance(result.failures[0].error, CarrierRequestError)
    assert result.currencies() == ["EUR", "USD"]
    usd = result.in_currency("USD")
    assert usd
    assert all(rate.total.currency == "USD" for rate in usd)
    assert [r.total.amount for r in usd] == sorted(r.total.amount for r in usd)
    eur = result.in_currency("EUR")
    assert [r.service for r in eur] == ["dhl_express:dhl_express_worldwide"]
    assert result.cheapest("GBP") is None
    assert len(result.rates) == len(usd) + len(eur)


def test_three_carriers_one_failing_give_every_rate_and_a_typed_failure() -> None:
    """UPS and ShipEngine rates all come back; DHL's refusal is reported, not raised; USD and
    EUR rates are sorted only among themselves."""
    clients = [
        CarrierClient(
            driver,
            transport=httpx.MockTransport(route),
            retry=RetryPolicy(attempts=1),
            sleeper=SleepRecorder(),
            clock=NOW.timestamp,
        )
        for driver, route in _routes()
    ]
    try:
        _check(shop_rates(clients, _shipment()))
    finally:
        for client in clients:
            client.close()


async def test_the_async_shop_gives_the_same_answer() -> None:
    """The concurrent shop over AsyncCarrierClient returns the same rates and failure."""

    def async_route(route: Route) -> Any:
        async def handler(request: httpx.Request) -> httpx.Response:
            await request.aread()
            return route(request)

        return handler

    clients = [
        AsyncCarrierClient(
            driver,
            transport=httpx.MockTransport(async_route(route)),
            retry=RetryPolicy(attempts=1),
            sleeper=SleepRecorder(),
            clock=NOW.timestamp,
        )
        for driver, route in _routes()
    ]
    try:
        _check(await ashop_rates(clients, _shipment()))
    finally:
        for client in clients:
            await client.aclose()
