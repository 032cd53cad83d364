"""Rate shopping across carriers: every rate, plus what failed, and never a cross-currency sort."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import attrs

from shipsync.canonical import Money, Rate, Shipment
from shipsync.carriers._client import AsyncCarrierClient, CarrierClient
from shipsync.errors import CarrierError

__all__ = ["CarrierFailure", "RateShopResult", "ashop_rates", "shop_rates"]


@attrs.frozen
class CarrierFailure:
    """One carrier that could not quote, and the typed error it raised."""

    carrier: str
    error: CarrierError


@attrs.frozen
class RateShopResult:
    """The rates every carrier returned and the carriers that failed."""

    rates: tuple[Rate, ...]
    failures: tuple[CarrierFailure, ...]

    def currencies(self) -> list[str]:
        """The currencies the rates are in, sorted."""
        return sorted({rate.total.currency for rate in self.rates})

    def in_currency(self, currency: str) -> list[Rate]:
        """The rates in ``currency``, cheapest first; other currencies are left out, unconverted."""
        same = [rate for rate in self.rates if rate.total.currency == currency]
        return sorted(same, key=lambda rate: rate.total.amount)

    def cheapest(self, currency: str) -> Rate | None:
        """The cheapest rate in ``currency``, or ``None`` when no carrier quoted in it."""
        rates = self.in_currency(currency)
        return rates[0] if rates else None

    def total(self, rate: Rate) -> Money:
        """The total of ``rate`` (a convenience for templates)."""
        return rate.total


def shop_rates(clients: Sequence[CarrierClient], shipment: Shipment) -> RateShopResult:
    """Ask every client for rates; a carrier that fails is reported, not raised."""
    rates: list[Rate] = []
    failures: list[CarrierFailure] = []
    for client in clients:
        try:
            rates.extend(client.quote_rates(shipment))
        except CarrierError as exc:
            failures.append(CarrierFailure(client.carrier, exc))
    return RateShopResult(tuple(rates), tuple(failures))


async def ashop_rates(clients: Sequence[AsyncCarrierClient], shipment: Shipment) -> RateShopResult:
    """Ask every client for rates concurrently; a carrier that fails is reported, not raised."""
    results = await asyncio.gather(
        *(client.quote_rates(shipment) for client in clients), return_exceptions=True
    )
    rates: list[Rate] = []
    failures: list[CarrierFailure] = []
    for client, result in zip(clients, results, strict=True):
        if isinstance(result, CarrierError):
            failures.append(CarrierFailure(client.carrier, result))
        elif isinstance(result, BaseException):
            raise result
        else:
            rates.extend(result)
    return RateShopResult(tuple(rates), tuple(failures))
