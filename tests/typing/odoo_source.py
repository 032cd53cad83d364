"""Typical calls of Odoo as the source and the booking flow, type-checked but never run."""

from __future__ import annotations

from datetime import timedelta
from typing import assert_type

from shipsync.canonical import Event, PickingReady
from shipsync.carriers import CarrierClient
from shipsync.flows import BookingFlow, BookingOutcome, BookingWorker, Outcome, WorkerReport
from shipsync.idempotency import SQLiteStore
from shipsync.odoo import (
    PICKINGS_READY,
    ChangeBatch,
    ChangeFeed,
    FeedCursor,
    OdooLogistics,
    OdooSource,
    RpcGateway,
    SourceBatch,
    SQLiteCursorStore,
)


def feed(gateway: RpcGateway) -> None:
    cursors = SQLiteCursorStore("cursors.sqlite")
    changes = ChangeFeed(gateway, PICKINGS_READY, cursors, lookback=timedelta(seconds=90))
    batch = assert_type(changes.poll(), ChangeBatch)
    for change in batch.changes:
        assert_type(change.record_id, int)
        assert_type(change.write_date, str)
    changes.commit(batch)
    assert_type(changes.cursor(), FeedCursor)


def booking(gateway: RpcGateway, client: CarrierClient) -> None:
    source = OdooSource(gateway, SQLiteCursorStore("c.sqlite"), database="prod", companies=[1])
    events = assert_type(source.poll("picking.ready"), SourceBatch).events
    flow = BookingFlow(OdooLogistics(gateway), {"fake": client}, SQLiteStore("b.sqlite"))
    ready = [e for e in events if isinstance(e, PickingReady)]
    outcomes = assert_type(flow.book_many(ready), list[BookingOutcome])
    if outcomes and outcomes[0].outcome is Outcome.DEFERRED:
        assert_type(outcomes[0].retry, bool)
    first: Event = events[0]
    assert_type(flow.handle(first), BookingOutcome)
    report = assert_type(BookingWorker(source, flow).run_once(), WorkerReport)
    assert_type(report.count(Outcome.BOOKED), int)
