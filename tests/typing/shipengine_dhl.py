"""Typical calls of the ShipEngine and DHL Express drivers, the RSA scheme and manifests,
type-checked (``mypy --strict``) but never run."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import assert_type

from shipsync.canonical import (
    BatchCompleted,
    Event,
    LabelBatch,
    Manifest,
    ProofOfDelivery,
    Rate,
    Shipment,
)
from shipsync.carriers import AsyncCarrierClient, CarrierClient, ManifestRequest
from shipsync.carriers.dhl_express import DhlExpressDriver, check_customs
from shipsync.carriers.shipengine import ShipEngineDriver
from shipsync.idempotency import MemoryStore
from shipsync.webhooks import (
    SHIPENGINE_SCHEME,
    JwksKeySource,
    Receipt,
    RsaSha256Verifier,
    StaticRsaKeys,
    VerifiedDelivery,
    WebhookReceiver,
)


def shipengine(shipment: Shipment) -> None:
    driver = ShipEngineDriver({"api_key": "TEST_x", "carrier_ids": {"ups": "se-1"}})
    with CarrierClient(driver) as client:
        rates = client.quote_rates(shipment)
        assert_type(rates, list[Rate])
        booked = client.run(driver.label_from_rate(shipment, "se-9"), "create_shipment")
        assert_type(booked, Shipment)
        manifests = client.create_manifest(ManifestRequest(date(2026, 1, 5)))
        assert_type(manifests, list[Manifest])


async def manifests() -> None:
    async with AsyncCarrierClient(ShipEngineDriver({"api_key": "TEST_x"})) as client:
        done = await client.create_manifest(ManifestRequest(date(2026, 1, 5), ["se-1"]))
        assert_type(done, list[Manifest])


def dhl(shipment: Shipment) -> None:
    driver = DhlExpressDriver({"api_key": "k", "api_secret": "s", "account_number": "1"})
    check_customs(shipment)
    with CarrierClient(driver) as client:
        assert_type(client.quote_landed_cost(shipment), Rate)
        assert_type(client.fetch_proof_of_delivery("123"), ProofOfDelivery)
        flow = driver.fetch_proof_of_delivery("123", received_at=datetime.now(UTC))
        assert_type(client.run(flow, "fetch_proof_of_delivery"), ProofOfDelivery)


def webhooks(body: bytes, headers: dict[str, str]) -> None:
    source = JwksKeySource(refresh_interval=timedelta(minutes=5))
    verifier = SHIPENGINE_SCHEME.verifier(source)
    assert_type(verifier, RsaSha256Verifier)
    assert_type(verifier.verify(body, headers), VerifiedDelivery)
    SHIPENGINE_SCHEME.verifier(StaticRsaKeys.from_jwks('{"keys": []}'))


def webhook_events(body: bytes) -> None:
    driver = ShipEngineDriver({"api_key": "TEST_x"})
    receiver = WebhookReceiver(
        SHIPENGINE_SCHEME.verifier(StaticRsaKeys({})),
        store=MemoryStore(),
        sink=EventList(),
        parser=driver.webhook_parser(source="shipsync/shipengine"),
    )
    assert_type(receiver.receive(body, {}), Receipt)
    events = driver.parse_webhook_events(body, received_at=datetime.now(UTC))
    assert_type(events, list[Event])
    batches = [e.data for e in events if isinstance(e, BatchCompleted)]
    assert_type(batches, list[LabelBatch])


class EventList:
    def publish(self, events: Sequence[Event]) -> None: ...
