"""The fake carrier: scenarios, webhooks, invoices and other operations, in-process and served."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from shipsync.canonical import ChargeType, Milestone, Reason
from shipsync.carriers import PickupRequest
from shipsync.carriers.fake import (
    DISCREPANCY_KINDS,
    FakeCarrierService,
    Fault,
    FaultPlan,
    Scenario,
)
from shipsync.errors import (
    CarrierRequestError,
    CarrierResponseError,
    NoMatchingSignatureError,
)
from shipsync.testing.fake_carrier import FakeCarrier, FakeCarrierServer, sample_address
from shipsync.webhooks import generate_secret

FINAL = {
    Scenario.HAPPY: [Milestone.DELIVERED],
    Scenario.EXCEPTION_THEN_DELIVERED: [Milestone.DELIVERED],
    Scenario.FAILED_ATTEMPT_THEN_PICKUP_POINT: [Milestone.DELIVERED],
    Scenario.RETURNED_TO_SENDER: [Milestone.RETURNED],
    Scenario.LOST: [Milestone.LOST],
    Scenario.CANCELLED: [Milestone.CANCELLED],
    Scenario.MULTI_PACKAGE_ONE_LATE: [Milestone.DELIVERED, Milestone.DELIVERED],
    Scenario.UNKNOWN_STATUS: [Milestone.UNKNOWN],
}
PASSES_THROUGH = {
    Scenario.EXCEPTION_THEN_DELIVERED: Milestone.EXCEPTION,
    Scenario.FAILED_ATTEMPT_THEN_PICKUP_POINT: Milestone.AVAILABLE_FOR_PICKUP,
    Scenario.RETURNED_TO_SENDER: Milestone.RETURNING_TO_SENDER,
}


@pytest.mark.parametrize("scenario", list(Scenario), ids=[s.value for s in Scenario])
def test_each_scenario_plays_out(fake_carrier: FakeCarrier, scenario: Scenario) -> None:
    """Each documented scenario ends in its final milestone for every package."""
    client = fake_carrier.client()
    packages = 2 if scenario is Scenario.MULTI_PACKAGE_ONE_LATE else 1
    booked = client.create_shipment(
        fake_carrier.shipment(scenario=scenario.value, packages=packages)
    )
    fake_carrier.advance(hours=24 * 10)
    histories = [client.track(n) for n in booked.tracking_numbers]
    assert [h[-1].milestone for h in histories] == FINAL[scenario]
    if scenario in PASSES_THROUGH:
        assert PASSES_THROUGH[scenario] in [e.milestone for e in histories[0]]
    for history in histories:
        times = [e.occurred_at for e in history]
        assert times == sorted(times)


def test_one_package_late_is_visible_midway(fake_carrier: FakeCarrier) -> None:
    """In the multi-package scenario one package is delivered while the other is delayed."""
    client = fake_carrier.client()
    booked = client.create_shipment(
        fake_carrier.shipment(scenario="multi_package_one_late", packages=2)
    )
    fake_carrier.advance(hours=48)
    first, second = (client.track(n)[-1] for n in booked.tracking_numbers)
    assert first.milestone == Milestone.DELIVERED
    assert second.milestone == Milestone.EXCEPTION
    assert second.reason == Reason.DELAYED


def test_unknown_status_keeps_the_raw_code(fake_carrier: FakeCarrier) -> None:
    """A code the driver does not know maps to UNKNOWN and keeps the carrier's code and text."""
    client = fake_carrier.client()
    booked = client.create_shipment(fake_carrier.shipment(scenario="unknown_status"))
    fake_carrier.advance(hours=7)
    last = client.track(booked.tracking_numbers[0])[-1]
    assert last.milestone == Milestone.UNKNOWN
    assert last.carrier_code == "QZ"
    assert last.carrier_description


def test_same_seed_same_story() -> None:
    """Two services with one seed answer the same requests identically, faults included."""
    answers = []
    for _ in range(2):
        carrier = FakeCarrier(FakeCarrierService(seed=42))
        carrier.service.set_faults("*", FaultPlan(rate=0.3))
        client = carrier.client()
        booked = [
            client.create_shipment(carrier.shipment(shipment_id=f"S{i}"), idempotency_key=f"k{i}")
            for i in range(5)
        ]
        answers.append(
            (
                [b.tracking_numbers for b in booked],
                carrier.sleeps.sleeps[:0],
                carrier.service.faults_injected,
            )
        )
    assert answers[0] == answers[1]


def test_cancel_and_reject_late_cancel(fake_carrier: FakeCarrier) -> None:
    """A fresh booking cancels; one already picked up is refused with the carrier's code."""
    client = fake_carrier.client()
    early = client.create_shipment(fake_carrier.shipment())
    assert early.carrier_shipment_id is not None
    client.cancel_shipment(early.carrier_shipment_id)
    fake_carrier.advance(hours=1)
    assert client.track(early.tracking_numbers[0])[-1].milestone == Milestone.CANCELLED
    late = client.create_shipment(fake_carrier.shipment())
    assert late.carrier_shipment_id is not None
    fake_carrier.advance(hours=5)
    with pytest.raises(CarrierRequestError) as info:
        client.cancel_shipment(late.carrier_shipment_id)
    assert info.value.code == "not_cancellable"


def test_pickup_return_and_address_validation(fake_carrier: FakeCarrier) -> None:
    """The remaining operations return canonical values."""
    client = fake_carrier.client()
    booked = client.create_shipment(fake_carrier.shipment())
    start = fake_carrier.clock.now()
    pickup = client.schedule_pickup(
        PickupRequest(
            address=booked.shipper,
            ready_from=start,
            ready_until=start + timedelta(hours=4),
            tracking_numbers=booked.tracking_numbers,
        ),
        idempotency_key="pickup-1",
    )
    assert pickup.confirmation_number.startswith("PU")
    assert pickup.tracking_numbers == booked.tracking_numbers
    client.cancel_pickup(pickup.confirmation_number)
    assert fake_carrier.service.pickups[pickup.confirmation_number]["status"] == "cancelled"
    returned = client.create_return(booked, reason="too small")
    assert returned.original_shipment_id == booked.shipment_id
    assert returned.label is not None
    good = client.validate_address(sample_address(city="berlin"))
    assert good.valid
    assert good.suggestions[0].city == "Berlin"
    bad = client.validate_address(sample_address(street=(), postal_code=None))
    assert not bad.valid
    assert len(bad.messages) == 2


def test_idempotency_key_reuse_with_other_payload_is_refused(fake_carrier: FakeCarrier) -> None:
    """The same key with a different shipment is a request error, not a second booking."""
    client = fake_carrier.client()
    client.create_shipment(fake_carrier.shipment(), idempotency_key="same")
    with pytest.raises(CarrierRequestError) as info:
        client.create_shipment(fake_carrier.shipment(), idempotency_key="same")
    assert info.value.code == "idempotency_key_reuse"
    assert fake_carrier.service.shipment_count() == 1


# -- webhooks -----------------------------------------------------------------------------------


class Receiver:
    def __init__(self, status: int = 200) -> None:
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        self.status = status

    def __call__(self, url: str, headers: Mapping[str, str], body: bytes) -> int:
        self.deliveries.append((dict(headers), body))
        return self.status


def test_webhooks_are_signed_and_parse_into_events(fake_carrier: FakeCarrier) -> None:
    """Each visible event is delivered once, signed; the client verifies and parses it."""
    secret = generate_secret()
    fake_carrier.service.webhooks.configure(url="http://receiver.invalid/hook", secret=secret)
    client = fake_carrier.client(driver=fake_carrier.driver(webhook_secret=secret))
    booked = client.create_shipment(fake_carrier.shipment())
    fake_carrier.advance(hours=48)
    receiver = Receiver()
    fake_carrier.service.webhooks.deliver(receiver)
    assert len(receiver.deliveries) == 5
    events = [
        e for headers, body in receiver.deliveries for e in client.parse_webhook(body, headers)
    ]
    assert [e.milestone for e in events][-1] == Milestone.DELIVERED
    assert {e.tracking_number for e in events} == set(booked.tracking_numbers)
    assert fake_carrier.service.webhooks.deliver(receiver) == []


def test_tampered_or_malformed_webhooks_are_typed_errors(fake_carrier: FakeCarrier) -> None:
    """A changed body fails verification; authentic garbage is a response error."""
    secret = generate_secret()
    fake_carrier.service.webhooks.configure(url="http://receiver.invalid/hook", secret=secret)
    client = fake_carrier.client(driver=fake_carrier.driver(webhook_secret=secret))
    client.create_shipment(fake_carrier.shipment())
    receiver = Receiver()
    fake_carrier.service.webhooks.deliver(receiver)
    headers, body = receiver.deliveries[0]
    with pytest.raises(NoMatchingSignatureError):
        client.parse_webhook(body.replace(b"LC", b"DL"), headers)
    signer = client.driver.signature_scheme.signer(secret, clock=fake_carrier.clock.time)
    for garbage in (b"{not json", b'{"type":"other"}', b'{"type":"tracking.updated","data":{}}'):
        signed = signer.sign(garbage, msg_id="msg_x")
        with pytest.raises(CarrierResponseError):
            client.parse_webhook(garbage, signed)


def test_webhook_duplicates_reordering_and_delay(fake_carrier: FakeCarrier) -> None:
    """Injected duplicates reuse the webhook-id; delays hold deliveries; failures stay queued."""
    secret = generate_secret()
    outbox = fake_carrier.service.webhooks
    outbox.configure(
        url="http://receiver.invalid/hook", secret=secret, duplicates=1.0, reorder=True, delay=600
    )
    client = fake_carrier.client()
    client.create_shipment(fake_carrier.shipment())
    fake_carrier.advance(hours=48)
    failing = Receiver(status=503)
    assert outbox.deliver(failing) != []
    pending = outbox.pending()
    assert pending == 10
    ok = Receiver()
    fake_carrier.advance(seconds=600)
    outbox.deliver(ok)
    ids = [headers["webhook-id"] for headers, _ in ok.deliveries]
    assert len(ids) == 10
    assert len(set(ids)) == 5
    occurred = [json.loads(body)["data"]["event"]["occurred_at"] for _, body in ok.deliveries]
    assert occurred != sorted(occurred)
    assert outbox.pending() == 0


def test_delay_holds_deliveries_until_the_clock_passes(fake_carrier: FakeCarrier) -> None:
    """A delayed delivery is not sent before its time."""
    fake_carrier.service.webhooks.configure(
        url="http://receiver.invalid/hook", secret=generate_secret(), delay=300
    )
    fake_carrier.client().create_shipment(fake_carrier.shipment())
    receiver = Receiver()
    assert fake_carrier.service.webhooks.deliver(receiver) == []
    fake_carrier.advance(seconds=300)
    assert len(fake_carrier.service.webhooks.deliver(receiver)) == 1


# -- invoices -----------------------------------------------------------------------------------


def charges_of(invoice_lines: object) -> list[ChargeType]:
    return [c.type for line in invoice_lines for c in line.charges]  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", DISCREPANCY_KINDS)
def test_invoice_discrepancies(fake_carrier: FakeCarrier, kind: str) -> None:
    """Each discrepancy kind shows up on the invoice as settlement expects to find it."""
    client = fake_carrier.client(
        driver=fake_carrier.driver(extra={"invoice_discrepancies": [kind]})
    )
    shipment = fake_carrier.shipment()
    booked = client.create_shipment(shipment)
    quote = next(r for r in client.quote_rates(shipment) if r.service == "standard")
    if kind == "billed_after_cancellation":
        assert booked.carrier_shipment_id is not None
        client.cancel_shipment(booked.carrier_shipment_id)
    fake_carrier.service.issue_invoices()
    (invoice,) = client.fetch_invoices()
    lines = invoice.lines
    tracking = booked.tracking_numbers[0]
    expected_extra = {
        "fuel_surcharge": ChargeType.FUEL,
        "residential_surcharge": ChargeType.RESIDENTIAL,
        "weight_adjustment": ChargeType.DIMENSIONAL_WEIGHT_ADJUSTMENT,
        "dimension_adjustment": ChargeType.DIMENSIONAL_WEIGHT_ADJUSTMENT,
        "address_correction": ChargeType.ADDRESS_CORRECTION,
    }
    if kind in expected_extra:
        assert expected_extra[kind] in charges_of(lines)
        assert invoice.total.amount > quote.total.amount
    elif kind == "duplicate_line":
        assert [line.tracking_number for line in lines] == [tracking, tracking]
    elif kind == "unknown_tracking_number":
        assert len(lines) == 2
        assert lines[1].tracking_number != tracking
        assert lines[1].carrier_shipment_id is None
    else:
        assert [line.tracking_number for line in lines] == [tracking]
    assert lines[0].charges[0].amount == quote.total


def test_invoices_match_quotes_without_discrepancies(fake_carrier: FakeCarrier) -> None:
    """Plain bookings are billed at the quote; cancelled ones are not billed; pages are followed."""
    client = fake_carrier.client()
    booked = [client.create_shipment(fake_carrier.shipment()) for _ in range(25)]
    cancelled = booked[0].carrier_shipment_id
    assert cancelled is not None
    client.cancel_shipment(cancelled)
    for _ in range(25):
        fake_carrier.service.issue_invoices()
        client.create_shipment(fake_carrier.shipment())
    invoices = client.fetch_invoices()
    assert len(invoices) == 25
    billed = [line.tracking_number for inv in invoices for line in inv.lines]
    assert booked[0].tracking_numbers[0] not in billed
    assert len(billed) == len(set(billed)) == 24 + 24
    assert client.fetch_invoices(since=datetime(2030, 1, 1, tzinfo=UTC).date()) == []


def test_random_discrepancies_follow_the_seed() -> None:
    """With a discrepancy rate the invoice differs from the quotes, the same way for a seed."""
    totals = []
    for _ in range(2):
        carrier = FakeCarrier(FakeCarrierService(seed=7, discrepancy_rate=0.5))
        client = carrier.client()
        for i in range(20):
            client.create_shipment(carrier.shipment(shipment_id=f"S{i}"))
        invoices = carrier.service.issue_invoices()
        totals.append([i["total"] for i in invoices])
    assert totals[0] == totals[1]
    assert float(totals[0][0]) > 20 * 8.0


# -- served over HTTP ---------------------------------------------------------------------------


async def test_served_over_http_with_control_api(fake_carrier_server: FakeCarrierServer) -> None:
    """The real server speaks the same API, sync and async, and is steered over /_control."""
    url = fake_carrier_server.url
    client = fake_carrier_server.client()
    booked = client.create_shipment(fake_carrier_server.shipment())
    with httpx.Client(base_url=url) as http:
        assert http.post("/_control/clock", json={"advance": 48 * 3600}).status_code == 200
        state = http.get("/_control/state").json()
        assert state["shipments"] == 1
        http.post(
            "/_control/faults",
            json={
                "endpoint": "track",
                "rate": 1.0,
                "kinds": ["rate_limited"],
                "retry_after": 3,
                "limit": 1,
            },
        )
    aclient = fake_carrier_server.async_client()
    events = await aclient.track(booked.tracking_numbers[0])
    await aclient.aclose()
    assert events[-1].milestone == Milestone.DELIVERED
    assert fake_carrier_server.sleeps.sleeps == [3.0]


def test_server_timeout_fault_is_a_client_timeout(fake_carrier_server: FakeCarrierServer) -> None:
    """A timeout fault on the server makes the client time out and retry."""
    fake_carrier_server.service.set_faults(
        "quote_rates", FaultPlan(rate=1.0, kinds=[Fault.TIMEOUT], limit=1)
    )
    client = fake_carrier_server.client(timeout=0.3)
    assert client.quote_rates(fake_carrier_server.shipment())
    assert fake_carrier_server.service.requests["quote_rates"] == 2


def test_webhooks_are_posted_over_http(fake_carrier_server: FakeCarrierServer) -> None:
    """The default sender POSTs signed deliveries; a receiver's 404 keeps them queued."""
    outbox = fake_carrier_server.service.webhooks
    outbox.configure(url=f"{fake_carrier_server.url}/hooks", secret=generate_secret())
    fake_carrier_server.client().create_shipment(fake_carrier_server.shipment())
    results = outbox.deliver()
    assert [status for _, status in results] == [404]
    assert outbox.pending() == 1


def test_sample_ids_do_not_depend_on_earlier_tests() -> None:
    """Each fake carrier numbers its sample shipments from S000001."""
    first, second = FakeCarrier(), FakeCarrier()
    assert first.shipment().shipment_id == "S000001"
    assert first.shipment().shipment_id == "S000002"
    assert second.shipment().shipment_id == "S000001"
