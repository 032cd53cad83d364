"""With 30% injected faults every shipment is booked exactly once and nothing is lost."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from shipsync.carriers import CircuitBreaker, RetryPolicy
from shipsync.carriers.fake import Fault, FaultPlan
from shipsync.errors import CarrierError, CircuitOpenError
from shipsync.testing.fake_carrier import FakeCarrier

N = 60
FAULTS = FaultPlan(
    rate=0.3,
    kinds=[
        Fault.RATE_LIMITED,
        Fault.UNAVAILABLE,
        Fault.BAD_GATEWAY,
        Fault.TIMEOUT,
        Fault.SERVER_ERROR,
        Fault.MALFORMED,
    ],
    retry_after=4,
)


def book_all_sync(carrier: FakeCarrier) -> tuple[dict[str, Any], int]:
    """A worker that retries each booking with its own stable key until it succeeds."""
    client = carrier.client(retry=RetryPolicy(attempts=3))
    booked: dict[str, Any] = {}
    gave_up = 0
    for i in range(N):
        shipment = carrier.shipment(shipment_id=f"S{i:03d}")
        while shipment.shipment_id not in booked:
            try:
                booked[shipment.shipment_id] = client.create_shipment(
                    shipment, idempotency_key=f"book-{shipment.shipment_id}"
                )
            except CarrierError:
                gave_up += 1
    return booked, gave_up


async def book_all_async(carrier: FakeCarrier) -> tuple[dict[str, Any], int]:
    """The same worker on the async client, ten bookings at a time."""
    client = carrier.async_client(retry=RetryPolicy(attempts=3))
    booked: dict[str, Any] = {}
    gave_up = 0

    async def one(i: int) -> None:
        nonlocal gave_up
        shipment = carrier.shipment(shipment_id=f"S{i:03d}")
        while shipment.shipment_id not in booked:
            try:
                booked[shipment.shipment_id] = await client.create_shipment(
                    shipment, idempotency_key=f"book-{shipment.shipment_id}"
                )
            except CarrierError:
                gave_up += 1

    for start in range(0, N, 10):
        await asyncio.gather(*(one(i) for i in range(start, start + 10)))
    await client.aclose()
    return booked, gave_up


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_every_shipment_exists_exactly_once(mode: str) -> None:
    """Count the shipments at the carrier: one per request, with the tracking numbers we hold."""
    carrier = FakeCarrier(seed=11)
    carrier.breaker = CircuitBreaker(threshold=1000, ttl=1)
    carrier.service.set_faults("create_shipment", FAULTS)
    carrier.service.set_faults("token", FAULTS)
    if mode == "sync":
        booked, gave_up = book_all_sync(carrier)
    else:
        booked, gave_up = await book_all_async(carrier)
    service = carrier.service
    assert service.faults_injected["create_shipment"] >= N * 0.2
    assert gave_up > 0  # some calls did fail through to the worker: the test bites
    assert service.shipment_count() == N
    for shipment_id, result in booked.items():
        assert service.shipment_count(reference=shipment_id) == 1
        record = service.shipments[result.carrier_shipment_id]
        assert record.reference == shipment_id
        assert [p.tracking_number for p in record.packages] == list(result.tracking_numbers)
    assert 4.0 in carrier.sleeps.sleeps
    assert all(s <= 60 for s in carrier.sleeps.sleeps)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_breaker_opens_under_outage_and_recovers(mode: str) -> None:
    """A partial outage opens the breaker (requests stop), and it closes when the carrier heals."""
    carrier = FakeCarrier(seed=3)
    carrier.breaker = CircuitBreaker(threshold=4, ttl=30, clock=carrier.clock.time)
    carrier.service.set_faults("track", FAULTS)
    client: Any = (carrier.client if mode == "sync" else carrier.async_client)(
        retry=RetryPolicy(attempts=2)
    )

    async def track(number: str) -> Any:
        result = client.track(number)
        return await result if mode == "async" else result

    async def book() -> Any:
        result = client.create_shipment(carrier.shipment())
        return await result if mode == "async" else result

    booked = await book()
    number = booked.tracking_numbers[0]
    carrier.service.outage("track", seconds=120)
    opened = False
    for _ in range(10):
        try:
            await track(number)
        except CircuitOpenError:
            opened = True
            break
        except CarrierError:
            continue
    assert opened
    before = carrier.service.requests["track"]
    with pytest.raises(CircuitOpenError):
        await track(number)
    assert carrier.service.requests["track"] == before
    carrier.advance(seconds=121)
    carrier.service.set_faults("track", None)
    assert await track(number)
    assert carrier.breaker.state("fake", flavour=mode) == "closed"
    assert [t[2] for t in carrier.breaker.transitions][-3:] == ["opened", "half-opened", "closed"]
