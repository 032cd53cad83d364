"""The public surface of shipsync.flows and shipsync.testing.flows is pinned."""

from __future__ import annotations

import shipsync.flows
import shipsync.testing.flows

FLOWS = [
    "PROGRESS_MILESTONES",
    "AsyncEventLog",
    "AsyncPostgresEventLog",
    "AsyncSQLiteEventLog",
    "BatchJob",
    "BatchReport",
    "BlockingEventLog",
    "BookingFlow",
    "BookingOutcome",
    "BookingWorker",
    "Chunk",
    "CompanyCarriers",
    "DeadLetter",
    "DeadLetterFilter",
    "DeadLetterStore",
    "Delivery",
    "DispatchReport",
    "Dispatcher",
    "EventLog",
    "Flag",
    "Handler",
    "HandlerContext",
    "InvoiceHold",
    "InvoiceReleaseGate",
    "NewDeadLetter",
    "Outcome",
    "PostgresDeadLetters",
    "PostgresEventLog",
    "ProofOfDeliveryCheck",
    "RabbitMQEventLog",
    "ReplayReport",
    "RetryPolicy",
    "SQLiteDeadLetters",
    "SQLiteEventLog",
    "StaleFeedMonitor",
    "Subscription",
    "TenantFlows",
    "WorkerReport",
    "booking_key",
    "partition_of",
    "partition_slot",
]


def test_flows_exports_exactly_its_public_names() -> None:
    """shipsync.flows.__all__ is this list, and every name is importable."""
    assert shipsync.flows.__all__ == FLOWS
    for name in FLOWS:
        assert getattr(shipsync.flows, name) is not None


def test_testing_flows_exports() -> None:
    """The conformance suite module exports the suite and its helpers."""
    assert shipsync.testing.flows.__all__ == [
        "EventLogConformance",
        "OpenLog",
        "drain",
        "make_tracking_event",
    ]
