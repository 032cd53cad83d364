"""Online scoring: alerts once per shipment and level, never lost, through a real dispatcher."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from shipsync.canonical import (
    Event,
    RiskKind,
    RiskLevel,
    ShipmentDelayPredicted,
    ShipmentExceptionPredicted,
    parse_event,
)
from shipsync.cli import main
from shipsync.errors import ConfigurationError, EventLogUnavailableError
from shipsync.insight import (
    Action,
    Cause,
    DiscrepancyCauseModel,
    FeatureState,
    InvoiceTimingMonitor,
    PredictionHandler,
    RiskModel,
    RiskScorer,
    RiskThresholds,
    recommend,
    rule_cause,
    summarise,
)
from shipsync.testing.parcel_world import (
    SimShipment,
    discrepancies,
    generate,
    history_of,
    to_envelopes,
)


def _late_shipment(world: list[SimShipment]) -> SimShipment:
    return next(s for s in world if s.outcome == "returned" and len(s.events) > 6)


def test_alerts_come_once_per_level_whatever_the_duplicates(
    model: RiskModel, held_out_world: list[SimShipment]
) -> None:
    """Every event delivered three times, even after the end: each (shipment, level) once."""
    scorer = RiskScorer(model, thresholds=RiskThresholds(late=(0.5, 0.8), exception=(0.5, 0.8)))
    alerts: list[Event] = []
    for shipment in held_out_world[:400]:
        envelopes = to_envelopes(shipment)
        for envelope in envelopes + envelopes + envelopes:
            alerts.extend(scorer.observe(envelope))
    keys = [(a.data.shipment_id, a.type, a.data.level) for a in alerts]
    assert len(keys) == len(set(keys))
    assert {a.type for a in alerts} == {
        "shipment.delay_predicted",
        "shipment.exception_predicted",
    }
    for alert in alerts:
        assert parse_event(alert.to_json()) == alert
        assert alert.data.reasons


def test_alert_ids_are_the_same_in_another_scorer(
    model: RiskModel, held_out_world: list[SimShipment]
) -> None:
    """A second worker scoring the same events produces alerts with the same ids."""
    envelopes = [e for s in held_out_world[:150] for e in to_envelopes(s)]
    first = [a.id for e in envelopes for a in RiskScorer(model).observe(e)]
    one, two = RiskScorer(model), RiskScorer(model)
    ids_one = [a.id for e in envelopes for a in one.observe(e)]
    ids_two = [a.id for e in envelopes for a in two.observe(e)]
    assert ids_one == ids_two
    assert first  # the held-out world has shipments at risk


def test_a_failed_publish_is_retried_not_lost(
    model: RiskModel, held_out_world: list[SimShipment]
) -> None:
    """When publishing an alert fails, the retried handler call publishes it again."""
    published: list[Event] = []
    failures = [True]

    def publish(events: Sequence[Event]) -> None:
        if failures and failures.pop():
            raise EventLogUnavailableError("log down")
        published.extend(events)

    handler = PredictionHandler(RiskScorer(model), publish)
    envelopes = to_envelopes(_late_shipment(held_out_world))
    for envelope in envelopes:
        try:
            asyncio.run(handler(envelope, None))
        except EventLogUnavailableError:
            asyncio.run(handler(envelope, None))  # the dispatcher's retry of this event
    assert published
    assert len({a.id for a in published}) == len(published)


def test_prediction_handler_through_the_dispatcher_and_sqlite_log(
    model: RiskModel, held_out_world: list[SimShipment], tmp_path: Path
) -> None:
    """Carrier events in a SQLite log, a dispatcher running the handler: alerts land in the log."""
    from shipsync.flows import AsyncSQLiteEventLog, Dispatcher
    from shipsync.idempotency import MemoryStore

    shipments = [s for s in held_out_world if s.outcome != "delivered"][:20]
    seen: list[Event] = []

    async def collect(event: Event, context: object) -> None:
        seen.append(event)

    async def run() -> None:
        log = AsyncSQLiteEventLog(tmp_path / "events.sqlite")
        await log.publish([e for s in shipments for e in to_envelopes(s)])
        dispatcher = Dispatcher(MemoryStore())
        dispatcher.subscribe(
            None, PredictionHandler(RiskScorer(model), log.publish), name="insight"
        )
        dispatcher.subscribe(
            [ShipmentDelayPredicted, ShipmentExceptionPredicted], collect, name="alerts"
        )
        await dispatcher.run(log, idle_timeout=0.5)

    asyncio.run(run())
    assert seen
    assert all(e.data.risk in {RiskKind.LATE, RiskKind.EXCEPTION} for e in seen)
    keys = [(e.type, e.data.shipment_id, e.data.level) for e in seen]
    assert len(keys) == len(set(keys))


def test_a_scan_before_its_booking_scores_with_what_it_has(model: RiskModel) -> None:
    """A tracking event whose shipment.created has not arrived is scored and says 'profile'."""
    shipment = next(iter(generate(31, months=1)))
    created, *scans = to_envelopes(shipment)
    scorer = RiskScorer(model, thresholds=RiskThresholds(late=(0.01, 0.02)))
    alerts = scorer.observe(scans[1])
    assert alerts
    assert "profile" in alerts[0].data.missing
    scorer.observe(created)  # the booking arrives late: its profile is adopted
    prediction = scorer.predict(shipment.shipment_id, scans[1].time + timedelta(hours=1))
    assert prediction is not None
    assert "profile" not in prediction.missing


def test_thresholds_are_checked_at_configuration_time() -> None:
    """Thresholds out of order or outside (0, 1) are a ConfigurationError naming the risk."""
    with pytest.raises(ConfigurationError, match="late"):
        RiskThresholds(late=(0.9, 0.5))
    with pytest.raises(ConfigurationError, match="exception"):
        RiskThresholds(exception=(0.0, 0.5))
    assert RiskThresholds().level(RiskKind.LATE, 0.85) is RiskLevel.HIGH


def test_summary_and_recommendations_for_customer_service(
    model: RiskModel, held_out_world: list[SimShipment]
) -> None:
    """A failed attempt on an incomplete address recommends confirming it, in a readable text."""
    shipment = next(
        s
        for s in held_out_world
        if not s.address_complete
        and any(e.milestone.value == "delivery_attempted" for e in s.events)
    )
    history = history_of(shipment)
    state = FeatureState(history.profile, model.lanes)
    upto = [s for s in history.scans if s.milestone.value != "delivered"][:-1]
    for scan in upto:
        state.observe(scan.milestone, scan.reason, scan.at, scan.facility)
    attempt = next(s for s in history.scans if s.milestone.value == "delivery_attempted")
    state.observe(attempt.milestone, attempt.reason, attempt.at, attempt.facility)
    prediction = model.predict(state, attempt.at + timedelta(hours=1))
    actions = recommend(prediction, state)
    assert actions[0].action is Action.CONFIRM_ADDRESS
    text = summarise([*upto, attempt], prediction, state)
    assert text.splitlines()[0].startswith(f"Shipment {shipment.shipment_id}")
    for heading in ("What happened:", "What is expected:", "What to do:"):
        assert heading in text
    assert "confirm address" in text


def test_cause_model_beats_the_rules_on_unseen_lines() -> None:
    """Trained on one seed, the cause model is more accurate than the rules on another."""
    train_rows = [(c, Cause(name)) for c, name in discrepancies(1, 4000)]
    test_rows = [(c, Cause(name)) for c, name in discrepancies(2, 2000)]
    model = DiscrepancyCauseModel.train(train_rows)
    model_right = sum(model.cause(c) is cause for c, cause in test_rows) / len(test_rows)
    rules_right = sum(rule_cause(c) is cause for c, cause in test_rows) / len(test_rows)
    assert model_right > rules_right + 0.05
    again = DiscrepancyCauseModel.from_json(model.to_json())
    assert [again.cause(c) for c, _ in test_rows[:50]] == [
        model.cause(c) for c, _ in test_rows[:50]
    ]


def test_invoice_timing_flags_only_the_unusually_late() -> None:
    """An invoice 60 days after shipping stands out where the carrier usually takes 10."""
    monitor = InvoiceTimingMonitor(threshold=4.0)
    monitor.observe(("swiftpost", "FR-DE", 8.0 + (i % 5)) for i in range(50))
    late = monitor.check("swiftpost", "FR-DE", 60.0)
    assert late is not None
    assert "usually invoices after 10 days" in late.explanation
    assert monitor.check("swiftpost", "FR-DE", 12.0) is None
    assert monitor.check("parcelco", "FR-DE", 60.0) is None  # no history: no verdict
    with pytest.raises(ConfigurationError):
        InvoiceTimingMonitor(threshold=0)


def test_insight_commands_through_the_shipsync_group(tmp_path: Path) -> None:
    """generate, train and evaluate run through `shipsync insight`, and a bad model is one line."""
    runner = CliRunner()
    train_file, test_file = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    result = runner.invoke(
        main,
        [
            "insight",
            "generate",
            "--seed",
            "1",
            "--months",
            "1",
            "--per-day",
            "15",
            "--out",
            str(train_file),
        ],
    )
    assert result.exit_code == 0, result.output
    runner.invoke(
        main,
        [
            "insight",
            "generate",
            "--seed",
            "2",
            "--start",
            "2026-02-01",
            "--months",
            "1",
            "--per-day",
            "15",
            "--out",
            str(test_file),
        ],
    )
    result = runner.invoke(
        main, ["insight", "train", "--events", str(train_file), "--out", str(tmp_path / "m")]
    )
    assert result.exit_code == 0, result.output
    assert "model.json" in result.output
    result = runner.invoke(
        main, ["insight", "evaluate", "--model", str(tmp_path / "m"), "--events", str(test_file)]
    )
    assert result.exit_code == 0, result.output
    assert "late: model" in result.output
    (tmp_path / "bad.json").write_text("{}")
    result = runner.invoke(
        main,
        ["insight", "evaluate", "--model", str(tmp_path / "bad.json"), "--events", str(test_file)],
    )
    assert result.exit_code == 1
    assert "ModelFileError" in result.output
    (tmp_path / "broken.jsonl").write_text('{"specversion": "1.0"}\n')
    result = runner.invoke(
        main,
        ["insight", "train", "--events", str(tmp_path / "broken.jsonl"), "--out", str(tmp_path)],
    )
    assert result.exit_code == 1
    assert "line 1" in result.output
