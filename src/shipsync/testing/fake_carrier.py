"""Helpers for tests that talk to the fake carrier: a harness, sample data, server fixtures.

The pytest fixtures ``fake_carrier`` (in-process) and ``fake_carrier_server`` (a real HTTP server
on a free port) come with the ``shipsync`` pytest plugin and return the objects defined here::

    def test_booking(fake_carrier):
        client = fake_carrier.client()
        booked = client.create_shipment(fake_carrier.shipment())
        fake_carrier.advance(hours=48)
        assert client.track(booked.tracking_numbers[0])[-1].milestone == "delivered"
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from typing import Any

from shipsync.canonical import Address, Package, Parcel, Shipment, Weight
from shipsync.carriers import AsyncCarrierClient, CarrierClient, CircuitBreaker, SleepRecorder
from shipsync.carriers.fake import (
    FakeCarrierService,
    FakeClock,
    FakeConfig,
    FakeDriver,
    RunningServer,
    run_server,
)

__all__ = ["FakeCarrier", "FakeCarrierServer", "sample_address", "sample_shipment"]

_ids = itertools.count(1)


def sample_address(country: str = "DE", **fields: Any) -> Address:
    """A deliverable address in ``country`` (override any field)."""
    data: dict[str, Any] = {
        "name": "Erika Mustermann",
        "street": ("Unter den Linden 1",),
        "city": "Berlin",
        "postal_code": "10117",
        "country": country,
        "residential": True,
    }
    data.update(fields)
    return Address.model_validate(data)


def sample_shipment(
    *,
    shipment_id: str | None = None,
    scenario: str | None = None,
    packages: int = 1,
    service: str = "standard",
    shipper_country: str = "FR",
    weight_kg: str = "1.5",
) -> Shipment:
    """A shipment for the fake carrier; ``scenario`` goes into ``order_reference``."""
    shipper = Address(
        company="ACME Logistics",
        street=("1 Rue de la République",),
        city="Lyon",
        postal_code="69001",
        country=shipper_country,
    )
    return Shipment(
        shipment_id=shipment_id or f"S{next(_ids):06d}",
        order_reference=f"scenario:{scenario}" if scenario else None,
        carrier="fake",
        service=service,
        shipper=shipper,
        recipient=sample_address(),
        packages=tuple(
            Package(parcel=Parcel(weight=Weight.of(weight_kg, "kg"), reference=f"P{i + 1}"))
            for i in range(packages)
        ),
    )


class FakeCarrier:
    """A fake carrier service plus factories for drivers and clients wired to it in-process.

    Clients share one :class:`~shipsync.carriers.CircuitBreaker` and one
    :class:`~shipsync.carriers.SleepRecorder` (``sleeps``), so nothing really sleeps. The breaker
    times its open period on the fake clock: :meth:`advance` past its ttl lets requests through
    again, and a slow machine never closes it early. Webhooks are signed on the fake clock too,
    because these clients verify on it (a service running on its own signs on real time).
    """

    def __init__(self, service: FakeCarrierService | None = None, *, seed: int = 0) -> None:
        self.service = service or FakeCarrierService(seed=seed)
        self.service.webhooks.signing_clock = self.service.clock.time
        self.sleeps = SleepRecorder()
        self.breaker = CircuitBreaker(threshold=5, ttl=30.0, clock=self.service.clock.time)
        self._ids = itertools.count(1)
        self._clients: list[CarrierClient] = []
        self._async_clients: list[AsyncCarrierClient] = []

    @property
    def clock(self) -> FakeClock:
        """The service's controllable clock."""
        return self.service.clock

    @property
    def base_url(self) -> str:
        """The base URL clients use (a placeholder for in-process use)."""
        return FakeConfig().base_url

    def advance(self, *, hours: float = 0, seconds: float = 0) -> None:
        """Move the fake clock forward; events that become visible queue their webhooks."""
        self.service.advance(hours * 3600 + seconds)

    def config(self, **fields: Any) -> FakeConfig:
        """A driver configuration for this fake (override any field)."""
        return FakeConfig(base_url=self.base_url, **fields)

    def driver(self, *, extra: Mapping[str, Any] | None = None, **fields: Any) -> FakeDriver:
        """A ``fake`` driver configured for this fake."""
        return FakeDriver(self.config(**fields), extra=extra)

    def _defaults(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        kwargs.setdefault("sleeper", self.sleeps)
        kwargs.setdefault("breaker", self.breaker)
        kwargs.setdefault("clock", self.clock.time)
        return kwargs

    def client(self, driver: FakeDriver | None = None, **kwargs: Any) -> CarrierClient:
        """A sync client talking to this fake in-process."""
        client = CarrierClient(
            driver or self.driver(),
            transport=self.service.mock_transport(),
            **self._defaults(kwargs),
        )
        self._clients.append(client)
        return client

    def async_client(self, driver: FakeDriver | None = None, **kwargs: Any) -> AsyncCarrierClient:
        """An async client talking to this fake in-process."""
        client = AsyncCarrierClient(
            driver or self.driver(),
            transport=self.service.mock_transport(),
            **self._defaults(kwargs),
        )
        self._async_clients.append(client)
        return client

    def shipment(self, **kwargs: Any) -> Shipment:
        """A sample shipment (see :func:`sample_shipment`).

        Ids run ``S000001``, ``S000002``… per fake carrier, so a test sees the same ids whatever
        ran before it in the process (cassette-based tests depend on that).
        """
        kwargs.setdefault("shipment_id", f"S{next(self._ids):06d}")
        return sample_shipment(**kwargs)

    def close(self) -> None:
        """Close the sync clients made here (async ones are closed by the fixture)."""
        for client in self._clients:
            client.close()

    async def aclose(self) -> None:
        """Close every client made here."""
        self.close()
        for client in self._async_clients:
            await client.aclose()


class FakeCarrierServer(FakeCarrier):
    """A :class:`FakeCarrier` served over real HTTP; clients connect to :attr:`url`."""

    def __init__(self, running: RunningServer) -> None:
        if not isinstance(running.service, FakeCarrierService):
            raise TypeError("FakeCarrierServer serves one FakeCarrierService")
        super().__init__(running.service)
        self.running = running

    @property
    def url(self) -> str:
        """The server's base URL."""
        return self.running.url

    @property
    def base_url(self) -> str:
        """The server's base URL."""
        return self.running.url

    def client(self, driver: FakeDriver | None = None, **kwargs: Any) -> CarrierClient:
        """A sync client talking to the server over HTTP."""
        client = CarrierClient(driver or self.driver(), **self._defaults(kwargs))
        self._clients.append(client)
        return client

    def async_client(self, driver: FakeDriver | None = None, **kwargs: Any) -> AsyncCarrierClient:
        """An async client talking to the server over HTTP."""
        client = AsyncCarrierClient(driver or self.driver(), **self._defaults(kwargs))
        self._async_clients.append(client)
        return client

    @classmethod
    def started(cls, *, seed: int = 0, timeout_seconds: float = 2.0) -> Iterator[FakeCarrierServer]:
        """Start a server on a free port for the duration of the generator."""
        service = FakeCarrierService(seed=seed)
        with run_server(service, timeout_seconds=timeout_seconds) as running:
            server = cls(running)
            try:
                yield server
            finally:
                server.close()
