"""End to end: the fake carrier's signed, duplicated, reordered webhooks through the receiver.

The fake carrier signs with Standard Webhooks and injects duplicates and reordering; the receiver
uses the fake driver's declared scheme and its parser (adapted by ``tracking_parser``). Every
tracking event must reach the sink exactly once, including across a sink outage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from shipsync.canonical import Event, Milestone, MilestoneEvent
from shipsync.errors import EventLogUnavailableError
from shipsync.idempotency import MemoryStore
from shipsync.testing.fake_carrier import FakeCarrier
from shipsync.webhooks import (
    ReceiptOutcome,
    WebhookReceiver,
    generate_secret,
    tracking_parser,
)


class Sink:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.down = 0

    def publish(self, events: Sequence[Event]) -> None:
        if self.down:
            self.down -= 1
            raise EventLogUnavailableError("log down")
        self.events.extend(events)


def _receiver(fake: FakeCarrier, secret: str, sink: Sink) -> WebhookReceiver:
    driver = fake.driver()
    assert driver.signature_scheme is not None
    return WebhookReceiver(
        driver.signature_scheme.verifier(secret, clock=fake.clock.time),
        store=MemoryStore(clock=fake.clock.time),
        sink=sink,
        parser=tracking_parser(driver.parse_webhook, source="shipsync/fake", clock=fake.clock.time),
        name="fake",
    )


def test_duplicated_reordered_deliveries_reach_the_sink_exactly_once(
    fake_carrier: FakeCarrier,
) -> None:
    """With every delivery sent twice and shuffled, each tracking event is handed off once."""
    secret = generate_secret()
    outbox = fake_carrier.service.webhooks
    outbox.configure(
        url="http://receiver.invalid/hook", secret=secret, duplicates=1.0, reorder=True
    )
    fake_carrier.client().create_shipment(fake_carrier.shipment())
    fake_carrier.advance(hours=48)
    sink = Sink()
    receiver = _receiver(fake_carrier, secret, sink)
    outcomes: list[ReceiptOutcome] = []

    def send(url: str, headers: Mapping[str, str], body: bytes) -> int:
        receipt = receiver.receive(body, headers)
        outcomes.append(receipt.outcome)
        return receipt.status

    results = outbox.deliver(send)
    assert results
    assert all(status == 200 for _, status in results)
    assert outcomes.count(ReceiptOutcome.DUPLICATE) == len(results) // 2
    ids = [event.id for event in sink.events]
    assert len(ids) == len(set(ids)) == len(results) // 2
    assert all(isinstance(event, MilestoneEvent) for event in sink.events)
    assert Milestone.DELIVERED in {e.data.milestone for e in sink.events}  # type: ignore[attr-defined]
    assert outbox.pending() == 0


def test_a_sink_outage_is_retried_by_the_carrier_and_nothing_is_lost(
    fake_carrier: FakeCarrier,
) -> None:
    """503s keep deliveries queued at the carrier; the next round hands each off once."""
    secret = generate_secret()
    outbox = fake_carrier.service.webhooks
    outbox.configure(url="http://receiver.invalid/hook", secret=secret)
    fake_carrier.client().create_shipment(fake_carrier.shipment())
    fake_carrier.advance(hours=48)
    sink = Sink()
    sink.down = 2
    receiver = _receiver(fake_carrier, secret, sink)

    def send(url: str, headers: Mapping[str, str], body: bytes) -> int:
        return receiver.receive(body, headers).status

    first = outbox.deliver(send)
    assert [status for _, status in first[:2]] == [503, 503]
    fake_carrier.advance(seconds=30)
    second = outbox.deliver(send)
    assert all(status == 200 for _, status in second)
    assert len(sink.events) == len(first) == len({e.id for e in sink.events})
    assert outbox.pending() == 0


def test_a_forged_delivery_from_another_secret_is_refused(fake_carrier: FakeCarrier) -> None:
    """Deliveries signed with a secret the receiver does not hold get 400 and stay queued."""
    outbox = fake_carrier.service.webhooks
    outbox.configure(url="http://receiver.invalid/hook", secret=generate_secret())
    fake_carrier.client().create_shipment(fake_carrier.shipment())
    sink = Sink()
    receiver = _receiver(fake_carrier, generate_secret(), sink)
    results = outbox.deliver(lambda url, headers, body: receiver.receive(body, headers).status)
    assert results
    assert {status for _, status in results} == {400}
    assert sink.events == []


def test_tracking_parser_wraps_events_and_skips_unknown_milestones() -> None:
    """Known milestones become envelopes from ``source`` with stable ids; unknown ones are not
    published; ``received_at`` comes from the clock."""
    from datetime import UTC, datetime

    from shipsync.canonical import TrackingEvent

    seen: list[datetime] = []
    when = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)

    def parse_webhook(body: bytes, *, received_at: datetime) -> list[TrackingEvent]:
        seen.append(received_at)
        return [
            TrackingEvent(
                event_id=f"E{i}",
                shipment_id="S1",
                tracking_number="T1",
                carrier="acme",
                milestone=milestone,
                occurred_at=when,
                recorded_at=when,
                carrier_code=milestone.value,
            )
            for i, milestone in enumerate((Milestone.IN_TRANSIT, Milestone.UNKNOWN))
        ]

    parser = tracking_parser(parse_webhook, source="shipsync/acme", clock=lambda: 1_700_000_000)
    first, second = parser(b"{}"), parser(b"{}")
    assert [e.type for e in first] == ["shipment.in_transit"]
    assert first[0].source == "shipsync/acme"
    assert [e.id for e in first] == [e.id for e in second]
    assert seen[0] == datetime.fromtimestamp(1_700_000_000, UTC)
