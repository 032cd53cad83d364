"""Spans and metrics end to end through a small flow, read from the SDK's in-memory exporters."""

from __future__ import annotations

import asyncio
import importlib.metadata
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from shipsync import telemetry
from shipsync.canonical import ShipmentCreated
from shipsync.flows import Dispatcher, SQLiteDeadLetters, SQLiteEventLog
from shipsync.idempotency import MemoryStore
from shipsync.settlement import FAKE_CARRIER_COLUMNS, load_shipments_csv, reconcile_file
from shipsync.telemetry._core import handles
from shipsync.testing.fake_carrier import sample_shipment
from shipsync.testing.sample_flow import SampleFlow
from shipsync.testing.settlement import SAMPLE_RULES, write_sample_files


class Otel:
    """An SDK tracer and meter provider with in-memory exporters, given to shipsync."""

    def __init__(self) -> None:
        self.spans_out = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans_out))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def spans(self, name_prefix: str = "") -> list[ReadableSpan]:
        return [s for s in self.spans_out.get_finished_spans() if s.name.startswith(name_prefix)]

    def points(self, metric: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        out: list[Any] = []
        if data is None:
            return out
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for m in scope.metrics:
                    if m.name == metric:
                        out.extend(m.data.data_points)
        return out

    def total(self, metric: str, **attributes: Any) -> float:
        return sum(
            p.value
            for p in self.points(metric)
            if all(p.attributes.get(k) == v for k, v in attributes.items())
        )


@pytest.fixture
def otel() -> Iterator[Otel]:
    sdk = Otel()
    telemetry.ShipsyncInstrumentor().instrument(
        tracer_provider=sdk.tracer_provider, meter_provider=sdk.meter_provider
    )
    yield sdk
    telemetry.configure()
    sdk.tracer_provider.shutdown()
    sdk.meter_provider.shutdown()


@pytest.fixture
def flow(tmp_path: Path, otel: Otel) -> Iterator[SampleFlow]:
    sample = SampleFlow(tmp_path, shipments=16)
    sample.run(hours=208)
    sample.replay()
    yield sample
    sample.close()


def _attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def test_publish_is_a_producer_send_span_whose_context_travels_on_the_event(
    flow: SampleFlow, otel: Otel
) -> None:
    """Each publish is a PRODUCER ``send`` span and the stored events carry its traceparent."""
    sends = otel.spans("send ")
    assert sends
    for span in sends:
        assert span.kind is SpanKind.PRODUCER
        assert span.name == "send shipsync_events"
        a = _attrs(span)
        assert a["messaging.operation.type"] == "send"
        assert a["messaging.system"] == "shipsync"
        assert a["messaging.destination.name"] == "shipsync_events"
        assert "messaging.operation" not in a
        if "messaging.batch.message_count" not in a:  # one event: its own attributes instead
            assert a["cloudevents.event_id"] == a["messaging.message.id"]
    singles = [s for s in sends if "messaging.batch.message_count" not in _attrs(s)]
    assert singles  # webhook deliveries of one event each
    stored = flow.log._conn.execute("SELECT body FROM shipsync_events").fetchall()
    ids = {f"{s.context.trace_id:032x}-{s.context.span_id:016x}" for s in sends}
    assert stored
    for (body,) in stored:
        event = flow.log.catalogue.parse(body)
        traceparent = (event.model_extra or {})["traceparent"]
        assert traceparent[3:-3] in ids


def test_handling_is_a_consumer_process_span_linked_to_the_creation_context(
    flow: SampleFlow, otel: Otel
) -> None:
    """Every event handled is one CONSUMER ``process`` span linked to its ``send`` span."""
    sends = {(s.context.trace_id, s.context.span_id) for s in otel.spans("send ")}
    processes = [s for s in otel.spans("process ") if not _attrs(s).get("shipsync.replay")]
    assert len(processes) == flow.handled.total() == flow.report.events
    for span in processes:
        assert span.kind is SpanKind.CONSUMER
        a = _attrs(span)
        assert span.name == f"process {a['cloudevents.event_type']}"
        assert a["messaging.operation.type"] == "process"
        assert a["shipsync.handlers"] == 2
        assert a["cloudevents.event_source"] == "shipsync/fake"
        assert a["cloudevents.event_id"] == a["messaging.message.id"]
        assert a["cloudevents.event_subject"].startswith("SHP-")
        (link,) = span.links
        assert (link.context.trace_id, link.context.span_id) in sends
    failed = [s for s in processes if _attrs(s).get("error.type") == "ConnectionError"]
    assert len(failed) == flow.report.dead_lettered > 0
    for span in failed:
        (event,) = span.events
        assert event.name == "handler failed"
        assert event.attributes["shipsync.handler"] == "notify"


def test_webhook_deliveries_get_one_span_each_parenting_the_send(
    flow: SampleFlow, otel: Otel
) -> None:
    """One span per webhook delivery with its outcome; the publish happens inside it."""
    hooks = otel.spans("webhook fake")
    assert Counter(_attrs(s)["shipsync.webhook.outcome"] for s in hooks) == flow.outcomes
    hook_ids = {s.context.span_id for s in hooks}
    sends = otel.spans("send ")
    (bookings,) = [s for s in sends if s.parent is None]  # the shipment.created batch
    assert _attrs(bookings)["messaging.batch.message_count"] == flow.shipments
    assert all(s.parent.span_id in hook_ids for s in sends if s.parent is not None)


def test_dead_letters_and_replay_are_settle_spans(flow: SampleFlow, otel: Otel) -> None:
    """Dead-lettering and replay are ``settle`` spans naming handler, error and counts."""
    settles = otel.spans("settle notify")
    assert len(settles) == flow.report.dead_lettered
    for span in settles:
        a = _attrs(span)
        assert a["messaging.operation.type"] == "settle"
        assert a["messaging.operation.name"] == "dead_letter"
        assert a["error.type"] == "ConnectionError"
        assert len(span.links) == 1
    (replay,) = otel.spans("settle replay")
    assert _attrs(replay)["shipsync.replay.succeeded"] == flow.report.dead_lettered
    replayed = [s for s in otel.spans("process ") if _attrs(s).get("shipsync.replay")]
    assert len(replayed) == flow.report.dead_lettered
    assert {_attrs(s)["shipsync.handler"] for s in replayed} == {"notify"}
    assert all(
        s.parent is not None and s.parent.span_id == replay.context.span_id for s in replayed
    )


def test_carrier_operations_get_one_logical_span_with_attempts(
    flow: SampleFlow, otel: Otel
) -> None:
    """A carrier operation is one span carrying carrier, operation, attempts and breaker state."""
    books = otel.spans("fake create_shipment")
    assert len(books) == flow.shipments
    for span in books:
        a = _attrs(span)
        assert a["shipsync.carrier"] == "fake"
        assert a["shipsync.carrier.attempts"] >= 1
        assert a["shipsync.carrier.breaker_state"] == "closed"
    durations = otel.points("shipsync.carrier.call.duration")
    assert sum(p.count for p in durations) >= flow.shipments + 1  # the token call too
    assert {p.attributes["http.response.status_code"] for p in durations} <= {200, 201}


def test_metrics_count_what_the_flow_did(flow: SampleFlow, otel: Otel) -> None:
    """Delivery outcomes, duplicates, failures, dead letters, lag and DLQ depth match the flow."""
    for outcome, count in flow.outcomes.items():
        assert otel.total(
            "shipsync.webhook.deliveries", **{"shipsync.webhook.outcome": outcome}
        ) == (count)
    assert (
        otel.total("shipsync.duplicates", **{"shipsync.stage": "webhook"})
        == flow.outcomes["duplicate"]
    )
    assert otel.total("shipsync.handler.failures") == flow.report.dead_lettered
    assert otel.total("shipsync.dead_letters.recorded") == flow.report.dead_lettered
    assert otel.total("messaging.client.sent.messages") == flow.report.events
    handled = [
        p for p in otel.points("shipsync.event.lag") if p.attributes["shipsync.stage"] == "handled"
    ]
    assert sum(p.count for p in handled) == flow.report.events
    assert otel.total("shipsync.dead_letters.open") == 0  # all replayed
    unmapped = otel.total("shipsync.carrier.unmapped_codes")
    assert unmapped == len(
        [s for s in flow.booked if int(s.split("-")[1]) % 8 == 0]
    )  # the unknown_status scenario: one unmapped code each


def test_the_dlq_gauge_reports_open_letters(tmp_path: Path, otel: Otel) -> None:
    """The open dead letter gauge reads the watched store's open letters."""
    sample = SampleFlow(tmp_path, shipments=8)
    try:
        sample.run(hours=208)
        assert otel.total("shipsync.dead_letters.open") == len(sample.dead_letters.list()) > 0
    finally:
        sample.close()


def test_stability_opt_in_adds_the_older_messaging_names(
    tmp_path: Path, otel: Otel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``OTEL_SEMCONV_STABILITY_OPT_IN=messaging/dup`` adds the pre-1.26 ``messaging.operation``."""
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "http,messaging/dup")
    telemetry.configure(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider)
    log = SQLiteEventLog(tmp_path / "e.db")
    try:
        log.publish([_event()])
    finally:
        log.close()
    (send,) = otel.spans("send ")
    assert _attrs(send)["messaging.operation"] == "publish"
    assert _attrs(send)["messaging.operation.type"] == "send"


def _event() -> ShipmentCreated:
    return ShipmentCreated.of(
        sample_shipment(shipment_id="S-1"), source="test", time=datetime(2026, 1, 1, tzinfo=UTC)
    )


def test_without_an_sdk_nothing_is_recorded_and_events_stay_as_they_were(tmp_path: Path) -> None:
    """With no SDK configured the hooks do nothing: no traceparent is added to stored events."""
    assert not handles().active
    log = SQLiteEventLog(tmp_path / "e.db")
    try:
        log.publish([_event()])
        (body,) = log._conn.execute("SELECT body FROM shipsync_events").fetchone()
    finally:
        log.close()
    assert b"traceparent" not in body
    assert body == _event().to_json()


def test_a_republished_event_with_another_trace_context_is_a_duplicate(
    tmp_path: Path, otel: Otel
) -> None:
    """The same event published under two traces is handled once, not dead-lettered."""
    seen: list[str] = []
    letters = SQLiteDeadLetters(tmp_path / "dl.db")
    dispatcher = Dispatcher(MemoryStore(), letters)
    dispatcher.subscribe(None, lambda e, ctx: seen.append(e.id), name="h")
    log = SQLiteEventLog(tmp_path / "e.db")
    tracer = otel.tracer_provider.get_tracer("test")
    try:
        for _ in range(2):
            with tracer.start_as_current_span("request"):
                log.publish([_event()])
            deliveries = log.receive(10)
            asyncio.run(dispatcher.dispatch([d.event for d in deliveries if d.event]))
            log.ack(deliveries)
    finally:
        log.close()
    assert seen == [_event().id]
    assert letters.list() == []
    letters.close()


def test_reconciliation_runs_get_a_span_and_lines_by_class(tmp_path: Path, otel: Otel) -> None:
    """A reconciliation run is one span; its settled lines are counted by class."""
    files = write_sample_files(tmp_path, shipments=200, lines=300, seed=3)
    index = load_shipments_csv(files.shipments)
    report = reconcile_file(files.invoice, FAKE_CARRIER_COLUMNS, index, rules=SAMPLE_RULES)
    (span,) = otel.spans("reconcile fake")
    expected: Counter[str] = Counter()
    for (kind, _currency), total in report.class_totals().items():
        expected[kind.value] += total.lines
    assert expected
    for name, lines in expected.items():
        assert otel.total("shipsync.reconciliation.lines", **{"shipsync.line_class": name}) == lines
        assert _attrs(span)[f"shipsync.reconciliation.lines.{name}"] == lines


def test_the_instrumentor_is_an_entry_point_that_turns_telemetry_off_and_on(otel: Otel) -> None:
    """``opentelemetry-instrument`` finds ``ShipsyncInstrumentor`` through its entry point group."""
    (entry,) = [
        e
        for e in importlib.metadata.entry_points(group="opentelemetry_instrumentor")
        if e.name == "shipsync"
    ]
    instrumentor = entry.load()()
    instrumentor.uninstrument()
    assert not handles().active
    instrumentor.instrument(
        tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider
    )
    assert handles().active
    assert instrumentor.instrumentation_dependencies() == []


def test_odoo_operations_get_a_span_with_round_trips_and_records(otel: Otel) -> None:
    """An Odoo operation's span carries the round trips and the records its report names."""
    from shipsync.odoo import ApplyReport
    from shipsync.telemetry._hooks import traced_odoo_operation

    class Logistics:
        @traced_odoo_operation
        def apply_events(self, events: list[str]) -> ApplyReport:
            return ApplyReport(
                applied=tuple(events), unmatched=("x",), status_written={7: "done"}, round_trips=3
            )

    Logistics().apply_events(["a", "b"])
    (span,) = otel.spans("odoo apply_events")
    a = _attrs(span)
    assert a["shipsync.odoo.round_trips"] == 3
    assert a["shipsync.odoo.applied"] == 2
    assert a["shipsync.odoo.unmatched"] == 1
    assert a["shipsync.odoo.status_written"] == 1


def test_a_publish_that_fails_ends_its_span_as_an_error_and_leaves_no_span_current(
    tmp_path: Path, otel: Otel
) -> None:
    """The ``send`` span of a failed publish is ended with an error status and the exception,
    and the span that was current before is current again."""
    from opentelemetry.trace import StatusCode, get_current_span

    from shipsync.errors import EventLogUnavailableError

    log = SQLiteEventLog(tmp_path / "e.db")
    log.close()
    with pytest.raises(EventLogUnavailableError):
        log.publish([_event()])
    (send,) = otel.spans("send ")
    assert send.status.status_code is StatusCode.ERROR
    assert _attrs(send)["error.type"] == "EventLogUnavailableError"
    assert [e.name for e in send.events] == ["exception"]
    assert not get_current_span().get_span_context().is_valid


def test_telemetry_turned_on_between_batches_records_the_next_batch(
    tmp_path: Path, otel: Otel
) -> None:
    """Hooks reuse one answer per unit of work, never beyond it: the next batch sees the switch."""
    dispatcher = Dispatcher(MemoryStore())
    dispatcher.subscribe(None, lambda e, ctx: None, name="h")
    first, second = (
        _event(),
        ShipmentCreated.of(
            sample_shipment(shipment_id="S-2"), source="test", time=datetime(2026, 1, 1, tzinfo=UTC)
        ),
    )
    telemetry.set_enabled(False)
    asyncio.run(dispatcher.dispatch([first]))
    telemetry.set_enabled(True)
    asyncio.run(dispatcher.dispatch([second]))
    (process,) = otel.spans("process ")
    assert _attrs(process)["cloudevents.event_id"] == second.id


_MESSAGING = {"messaging.system", "messaging.operation.type", "messaging.operation.name"}
_EVENT = {
    "messaging.message.id",
    "cloudevents.event_id",
    "cloudevents.event_source",
    "cloudevents.event_type",
    "cloudevents.event_subject",
}
_SHAPES = {
    ("send", False): _MESSAGING | _EVENT | {"messaging.destination.name"},
    ("send", True): _MESSAGING | {"messaging.destination.name", "messaging.batch.message_count"},
    ("process", False): _MESSAGING | _EVENT | {"shipsync.handlers", "shipsync.delivery_attempt"},
    ("process", True): _MESSAGING
    | _EVENT
    | {"messaging.consumer.group.name", "shipsync.handler", "shipsync.replay", "shipsync.attempts"},
    ("settle", False): _MESSAGING | _EVENT | {"shipsync.handler", "error.type"},
    ("settle", True): _MESSAGING
    | {f"shipsync.replay.{n}" for n in ("succeeded", "already_done", "failed", "skipped")},
}


def test_each_span_carries_exactly_its_own_shape_of_attributes(
    flow: SampleFlow, otel: Otel
) -> None:
    """Spans of one shape never pick up another shape's attributes (the messaging attributes
    are built once per shape and shared), and links come only from each event's own context."""
    sends = {(s.context.trace_id, s.context.span_id) for s in otel.spans("send ")}
    seen: Counter[tuple[str, bool]] = Counter()
    for span in otel.spans_out.get_finished_spans():
        verb = span.name.split(" ")[0]
        a = _attrs(span)
        if verb not in {"send", "process", "settle"}:
            continue
        alternate = {
            "send": "messaging.batch.message_count" in a,
            "process": "shipsync.replay" in a,
            "settle": span.name == "settle replay",
        }[verb]
        expected = _SHAPES[verb, alternate]
        if verb == "process" and not alternate and "error.type" in a:
            expected = expected | {"error.type"}
        assert set(a) == expected, span.name
        assert a["messaging.operation.type"] == verb
        seen[verb, alternate] += 1
        if verb != "send" and expected >= _EVENT:
            (link,) = span.links
            assert (link.context.trace_id, link.context.span_id) in sends
    assert set(seen) == set(_SHAPES)
