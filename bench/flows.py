"""Sync flows benchmark: events/s end to end, per event log backend, with 1 and 4 workers.

Run from the repository root (PostgreSQL 5432 and RabbitMQ 5672 on this machine)::

    .venv/bin/python bench/flows.py                   # all backends, 10,000 events each
    .venv/bin/python bench/flows.py --events 4000 --backends sqlite

End to end means: the clock starts when the publisher begins publishing (workers are already
started and connected) and stops when the last worker finished the batch that held the last
event. In between each event is published durably, received by a worker, and dispatched to three
handlers, each (event, handler) pair claimed and completed in the idempotency store (SQLite's for
the SQLite log, PostgreSQL's for the other two). Handlers only count. The publisher runs in this
process, beside the workers, on the same cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from shipsync.canonical import Event
from shipsync.flows import (
    AsyncEventLog,
    AsyncPostgresEventLog,
    AsyncSQLiteEventLog,
    Dispatcher,
    HandlerContext,
    PostgresEventLog,
    RabbitMQEventLog,
    SQLiteEventLog,
)
from shipsync.idempotency import PostgresStore, SQLiteStore
from shipsync.testing.flows import make_tracking_event

POSTGRES_DSN = os.environ.get("SHIPSYNC_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
AMQP_URL = os.environ.get("SHIPSYNC_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672/")
HANDLERS = 3


def _open_log(backend: str, name: str, where: str, index: int, workers: int) -> AsyncEventLog:
    if backend == "sqlite":
        return AsyncSQLiteEventLog(where, table=name, synchronous="NORMAL")
    if backend == "postgres":
        return AsyncPostgresEventLog(where, table=name, setup=False)
    return RabbitMQEventLog(
        where, name=name, queues=8, consumer_index=index, consumers=workers, standby_delay=0.2
    )


async def _worker(args: argparse.Namespace) -> None:
    log = _open_log(args.backend, args.name, args.where, args.index, args.workers)
    store: Any
    if args.backend == "sqlite":
        store = SQLiteStore(args.idem, namespace=args.name)
    else:
        store = PostgresStore(POSTGRES_DSN, namespace=args.name, table=f"{args.name}_idem")
    dispatcher = Dispatcher(store, lease=timedelta(seconds=60))
    count = [0]

    def handler(event: Event, ctx: HandlerContext) -> None:
        count[0] += 1

    for h in range(HANDLERS):
        dispatcher.subscribe(None, handler, name=f"h{h}")
    if isinstance(log, RabbitMQEventLog):
        await log.receive(1, timeout=0.01)  # subscribe before the clock starts
    print("ready", flush=True)
    last = [0.0]

    def on_batch(report: object) -> None:
        last[0] = time.time()

    await dispatcher.run(log, batch_size=200, idle_timeout=args.idle, on_batch=on_batch)
    await log.close()
    print(f"done {count[0]} {last[0]}", flush=True)


def _events(n: int, run: str) -> list[Event]:
    shipments = max(1, n // 10)
    return [
        make_tracking_event(f"{run}-{s}", i // shipments + 1)
        for i, s in ((i, i % shipments) for i in range(n))
    ]


async def _publish(backend: str, name: str, where: str, events: list[Event]) -> None:
    log = _open_log(backend, name, where, 0, 1)
    step = 500
    for i in range(0, len(events), step):
        await log.publish(events[i : i + step])
    await log.close()


def _setup(backend: str, name: str, tmp: Path) -> tuple[str, str]:
    """Create the log's tables or queues; return (where, idempotency path)."""
    idem = str(tmp / f"{name}-idem.db")
    if backend == "sqlite":
        where = str(tmp / f"{name}.db")
        SQLiteEventLog(where, table=name).close()
        SQLiteStore(idem, namespace=name).close()
        return where, idem
    PostgresStore(POSTGRES_DSN, namespace=name, table=f"{name}_idem").close()
    if backend == "postgres":
        PostgresEventLog(POSTGRES_DSN, table=name).close()
        return POSTGRES_DSN, idem

    async def declare() -> None:
        await RabbitMQEventLog(AMQP_URL, name=name, queues=8).setup()

    asyncio.run(declare())
    return AMQP_URL, idem


def _cleanup(backend: str, name: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {name}, {name}_partitions, {name}_idem")
    if backend == "rabbitmq":

        async def delete() -> None:
            await RabbitMQEventLog(AMQP_URL, name=name, queues=8).delete()

        asyncio.run(delete())


def measure(backend: str, workers: int, n: int, tmp: Path) -> float:
    """Events per second end to end."""
    name = f"bench_flows_{uuid.uuid4().hex[:8]}"
    where, idem = _setup(backend, name, tmp)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--worker",
                "--backend",
                backend,
                "--name",
                name,
                "--where",
                where,
                "--idem",
                idem,
                "--index",
                str(i),
                "--workers",
                str(workers),
                "--idle",
                "2.0",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(workers)
    ]
    try:
        for p in procs:
            assert p.stdout is not None
            assert p.stdout.readline().strip() == "ready"
        events = _events(n, name)
        start = time.time()
        asyncio.run(_publish(backend, name, where, events))
        total, end = 0, 0.0
        for p in procs:
            out, _ = p.communicate(timeout=600)
            _, count, last = out.split()
            total += int(count)
            end = max(end, float(last))
        if total != n * HANDLERS:
            raise SystemExit(f"{backend}/{workers}: {total} handler calls, wanted {n * HANDLERS}")
        return n / (end - start)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        _cleanup(backend, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--backends", default="sqlite,postgres,rabbitmq")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--backend", help=argparse.SUPPRESS)
    parser.add_argument("--name", help=argparse.SUPPRESS)
    parser.add_argument("--where", help=argparse.SUPPRESS)
    parser.add_argument("--idem", help=argparse.SUPPRESS)
    parser.add_argument("--index", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--idle", type=float, default=2.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        asyncio.run(_worker(args))
        return
    print(f"sync flows: {args.events} events, {HANDLERS} handlers each, on {os.cpu_count()} cores")
    print(f"{'backend':<10} {'1 worker ev/s':>14} {'4 workers ev/s':>15} {'1->4':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            one = measure(backend, 1, args.events, Path(tmp))
            four = measure(backend, 4, args.events, Path(tmp))
            print(f"{backend:<10} {one:>14,.0f} {four:>15,.0f} {four / one:>5.2f}x", flush=True)


if __name__ == "__main__":
    main()
