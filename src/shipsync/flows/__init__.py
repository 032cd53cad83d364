"""Durable hand-off, fan-out, dead letters and replay for canonical events.

An event log (SQLite embedded, PostgreSQL or RabbitMQ at scale) takes events durably and delivers
them at least once, one partition (shipment) in order while partitions run in parallel. The
dispatcher fans each event out to its handlers, each (event, handler) pair taking effect once
through an idempotency store, with per-handler retry and dead letters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipsync._lazy import lazy, publish
from shipsync.retry import RetryPolicy

if TYPE_CHECKING:
    from shipsync.flows._batch import BatchJob, BatchReport, Chunk
    from shipsync.flows._booking import (
        BookingFlow,
        BookingOutcome,
        BookingWorker,
        CompanyCarriers,
        Outcome,
        WorkerReport,
        booking_key,
    )
    from shipsync.flows._deadletters import (
        DeadLetter,
        DeadLetterFilter,
        DeadLetterStore,
        NewDeadLetter,
        SQLiteDeadLetters,
    )
    from shipsync.flows._dispatcher import (
        Dispatcher,
        DispatchReport,
        Handler,
        HandlerContext,
        ReplayReport,
        Subscription,
    )
    from shipsync.flows._log import (
        AsyncEventLog,
        Delivery,
        EventLog,
        partition_of,
        partition_slot,
    )
    from shipsync.flows._policies import (
        PROGRESS_MILESTONES,
        Flag,
        InvoiceHold,
        InvoiceReleaseGate,
        ProofOfDeliveryCheck,
        StaleFeedMonitor,
    )
    from shipsync.flows._postgres import (
        AsyncPostgresEventLog,
        PostgresDeadLetters,
        PostgresEventLog,
    )
    from shipsync.flows._rabbitmq import RabbitMQEventLog
    from shipsync.flows._sqlite import AsyncSQLiteEventLog, SQLiteEventLog
    from shipsync.flows._tenants import TenantFlows
    from shipsync.flows._threaded import BlockingEventLog

__all__ = [
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

if not TYPE_CHECKING:  # mypy must not see __getattr__: it would accept any name
    __getattr__, __dir__ = lazy(__name__, __file__)
publish(__name__, __all__, globals())
