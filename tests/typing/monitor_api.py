"""Typical calls of the monitor, the control tower and telemetry, type-checked but never run."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import assert_type

import httpx

from shipsync.canonical import ShipmentSlaBreached, SlaKind
from shipsync.flows import Dispatcher, SQLiteDeadLetters, SQLiteEventLog
from shipsync.idempotency import MemoryStore
from shipsync.monitor import (
    CarrierHealth,
    CarrierHealthRow,
    Indicators,
    Monitor,
    MonitorStore,
    ShipmentRow,
    SlaCount,
    SlaPolicy,
    Timeline,
)
from shipsync.monitor.web import TowerAuth, create_app
from shipsync.telemetry import ShipsyncInstrumentor, configure, set_enabled


def monitor_calls() -> None:
    store = MonitorStore("monitor.db")
    log = SQLiteEventLog("events.db")
    letters = SQLiteDeadLetters("events.db")
    policy = SlaPolicy(stale_feed=timedelta(hours=12))
    monitor = Monitor(store, policy, sink=log, dead_letters=letters)
    dispatcher = Dispatcher(MemoryStore(), letters)
    dispatcher.subscribe(None, monitor, name="monitor")
    assert_type(monitor.check(), list[ShipmentSlaBreached])
    indicators = assert_type(monitor.indicators(), Indicators)
    assert_type(indicators.disputed_amounts, dict[str, Decimal])
    assert_type(store.sla(SlaKind.STALE_FEED, policy), SlaCount)
    assert_type(store.shipments(status="exception", limit=10), list[ShipmentRow])
    assert_type(store.timeline("SHP-1"), Timeline | None)
    create_app(store, dead_letters=letters, dispatcher=dispatcher, auth=TowerAuth(token="x" * 32))


def health_calls() -> None:
    health = CarrierHealth(window=600.0, no_answer_after=120.0)
    httpx.Client(event_hooks=health.event_hooks("ups"))
    httpx.AsyncClient(event_hooks=health.async_event_hooks("ups"))
    (row,) = health.rows()
    assert_type(row, CarrierHealthRow)
    assert_type(row.no_answer, int)
    assert_type(row.error_rate, float)


def telemetry_calls() -> None:
    ShipsyncInstrumentor().instrument()
    configure(tracer_provider=None, meter_provider=None)
    set_enabled(False)
