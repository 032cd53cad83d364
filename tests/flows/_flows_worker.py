"""A worker process for the fault tests: consume a log, dispatch to three recording handlers.

Run as a script. Each handler records one row per run in ``{effects}_runs`` and its effect in
``{effects}`` keyed on the idempotency key (``ctx.key``), the way a host makes an effect safe
against the crash window between the effect and its completion record.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
from datetime import timedelta
from typing import Any

import psycopg

from shipsync.canonical import Event
from shipsync.flows import (
    AsyncEventLog,
    AsyncPostgresEventLog,
    AsyncSQLiteEventLog,
    Dispatcher,
    HandlerContext,
    RabbitMQEventLog,
    RetryPolicy,
)
from shipsync.idempotency import PostgresStore, SQLiteStore

HANDLERS = ("odoo", "notify", "finance")


class PgEffects:
    """Records effects in PostgreSQL, reconnecting after the server cut the connection."""

    def __init__(self, dsn: str, table: str) -> None:
        self.dsn, self.table = dsn, table
        self.conn: Any = None

    def record(self, event: Event, ctx: HandlerContext) -> None:
        if self.conn is None or self.conn.closed or self.conn.broken:
            # The effects table is test bookkeeping: skip the WAL flush of every statement.
            self.conn = psycopg.connect(
                self.dsn, autocommit=True, options="-c synchronous_commit=off"
            )
        n = _n(event)
        try:
            self.conn.execute(
                f"WITH r AS (INSERT INTO {self.table}_runs (handler, event_id) VALUES (%s, %s)) "
                f"INSERT INTO {self.table} (handler, event_id, partition, n, pid) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (ctx.handler, event.id, ctx.handler, event.id, event.partitionkey, n, os.getpid()),
            )
        except psycopg.Error:
            self.conn = None
            raise


class SqliteEffects:
    """Records effects in a SQLite file (the SQLite fault test needs no server)."""

    def __init__(self, path: str, table: str) -> None:
        self.table = table
        self.conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")

    def record(self, event: Event, ctx: HandlerContext) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute(
            f"INSERT INTO {self.table}_runs (handler, event_id) VALUES (?, ?)",
            (ctx.handler, event.id),
        )
        self.conn.execute(
            f"INSERT INTO {self.table} (handler, event_id, partition, n, pid) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (ctx.handler, event.id, event.partitionkey, _n(event), os.getpid()),
        )
        self.conn.execute("COMMIT")


def _n(event: Event) -> int:
    data: Any = event.data
    return int(str(data.event_id).rsplit("-", 1)[1])


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["pg", "rabbitmq", "sqlite"], required=True)
    parser.add_argument("--dsn", default="")
    parser.add_argument("--table", required=True)
    parser.add_argument("--effects", required=True)
    parser.add_argument("--amqp", default="")
    parser.add_argument("--queues", type=int, default=8)
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--sqlite", default="")
    parser.add_argument("--effects-db", default="")
    args = parser.parse_args()

    log: AsyncEventLog
    if args.backend == "pg":
        log = AsyncPostgresEventLog(args.dsn, table=args.table, lease=2.0, setup=False)
    elif args.backend == "rabbitmq":
        log = RabbitMQEventLog(
            args.amqp,
            name=args.table,
            queues=args.queues,
            consumer_index=args.index,
            consumers=args.workers,
            connection_name=f"{args.table}-w{args.index}",
            prefetch=100,
        )
    else:
        log = AsyncSQLiteEventLog(args.sqlite, table=args.table, lease=2.0)
    store: Any
    if args.backend == "sqlite":
        store = SQLiteStore(args.sqlite, namespace=args.table)
    else:
        store = PostgresStore(args.dsn, namespace=args.table, table=f"{args.table}_idem")
    dispatcher = Dispatcher(
        store,
        lease=timedelta(seconds=3),
        retry=RetryPolicy(attempts=8, initial=0.05, maximum=1.0, jitter=0.05),
        in_progress_wait=5.0,
    )
    effects: PgEffects | SqliteEffects = (
        SqliteEffects(args.effects_db, args.effects)
        if args.effects_db
        else PgEffects(args.dsn, args.effects)
    )
    for name in HANDLERS:
        dispatcher.subscribe(None, effects.record, name=name)
    print("ready", flush=True)
    await dispatcher.run(log, batch_size=100)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
