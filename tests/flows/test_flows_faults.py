"""Fault tests with real processes and services: SIGKILL workers, cut the database or broker.

10,000 events for 1,000 shipments, each published twice, four worker processes, three handlers.
One worker is killed with SIGKILL mid-run; later the test cuts every connection of this run
(``pg_terminate_backend`` for PostgreSQL; ``rabbitmqctl close_connection`` for this run's own
RabbitMQ connections, so other users of the shared services are not disturbed). In the end every
(event, handler) took effect exactly once, none was lost, and each shipment's effects were
applied in publish order.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from shipsync.canonical import Event
from shipsync.flows import PostgresEventLog, RabbitMQEventLog, SQLiteEventLog
from shipsync.idempotency import PostgresStore
from shipsync.testing.flows import make_tracking_event

WORKER = str(Path(__file__).with_name("_flows_worker.py"))
SHIPMENTS, PER_SHIPMENT, HANDLERS = 1000, 10, 3
TOTAL = SHIPMENTS * PER_SHIPMENT


def _events(prefix: str, shipments: int = SHIPMENTS, per: int = PER_SHIPMENT) -> list[list[Event]]:
    """One chunk per position n: every shipment's n-th event."""
    return [
        [make_tracking_event(f"{prefix}{s}", n) for s in range(shipments)]
        for n in range(1, per + 1)
    ]


def _effects_schema(execute: Callable[[str], object], table: str, serial: str) -> None:
    execute(
        f"CREATE TABLE {table} (handler text NOT NULL, event_id text NOT NULL, "
        f"partition text NOT NULL, n int NOT NULL, pid int NOT NULL, applied {serial}, "
        "PRIMARY KEY (handler, event_id))"
    )
    execute(f"CREATE TABLE {table}_runs (handler text NOT NULL, event_id text NOT NULL)")


def _spawn(*args: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as err:
        return subprocess.Popen(
            [sys.executable, WORKER, *args],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


def _stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for w in workers:
        if w.poll() is None:
            w.send_signal(signal.SIGKILL)
    for w in workers:
        w.wait(timeout=10)


def _check(rows: list[tuple[str, str, int, int]], runs: int, kills: int) -> None:
    """rows: (handler, partition, n, applied). Exactly once, nothing lost, order per shipment."""
    assert len(rows) == TOTAL * HANDLERS
    seen: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for handler, partition, n, applied in rows:
        seen.setdefault((handler, partition), []).append((applied, n))
    assert len(seen) == SHIPMENTS * HANDLERS
    for pairs in seen.values():
        assert [n for _, n in sorted(pairs)] == list(range(1, PER_SHIPMENT + 1))
    # Each event was published twice: without the idempotency store there would be 2x runs.
    # Re-runs happen only for pairs a killed or cut-off worker ran but had not recorded yet.
    assert TOTAL * HANDLERS <= runs <= TOTAL * HANDLERS + (kills + 1) * 8 * 100 * HANDLERS


def _wait_for(
    count: Callable[[], int],
    target: int,
    steps: list[tuple[int, Callable[[], None]]],
    workers: list[subprocess.Popen[bytes]],
    timeout: float = 90.0,
) -> None:
    deadline = time.monotonic() + timeout
    steps = sorted(steps, key=lambda s: s[0])
    while time.monotonic() < deadline:
        now = count()
        while steps and now >= steps[0][0]:
            steps.pop(0)[1]()
        if now >= target:
            return
        if not any(w.poll() is None for w in workers):
            break
        time.sleep(0.05)
    raise AssertionError(f"only {count()} of {target} effects after {timeout}s")


@pytest.fixture
def run_id() -> str:
    return f"ff_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def pg_cleanup(postgres_dsn: str, run_id: str) -> Iterator[None]:
    """Drops every PostgreSQL table of this run afterwards."""
    yield
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE tablename LIKE %s", (f"{run_id}%",)
            ).fetchall()
        ]
        for name in names:
            conn.execute(f"DROP TABLE IF EXISTS {name}")


@pytest.fixture
def effects_db(tmp_path: Path) -> str:
    """A SQLite file all workers record their handlers' effects in (table ``fx``)."""
    path = tmp_path / "effects.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        _effects_schema(conn.execute, "fx", "INTEGER")
    return str(path)


def _fx_count(path: str) -> Callable[[], int]:
    def count() -> int:
        with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn:
            return int(conn.execute("SELECT count(*) FROM fx").fetchone()[0])

    return count


def _fx_rows(path: str) -> tuple[list[tuple[str, str, int, int]], int]:
    with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn:
        rows = conn.execute("SELECT handler, partition, n, rowid FROM fx").fetchall()
        runs = int(conn.execute("SELECT count(*) FROM fx_runs").fetchone()[0])
    return [tuple(r) for r in rows], runs


@pytest.mark.services
@pytest.mark.slow
def test_postgres_workers_survive_sigkill_and_cut_connections(
    postgres_dsn: str, run_id: str, pg_cleanup: None, effects_db: str, tmp_path: Path
) -> None:
    """PostgreSQL log: a SIGKILLed worker and cut connections lose and double nothing."""
    app_dsn = f"{postgres_dsn}?application_name={run_id}"
    log = PostgresEventLog(postgres_dsn, table=run_id)
    PostgresStore(postgres_dsn, namespace=run_id, table=f"{run_id}_idem").close()
    workers = [
        _spawn(
            "--backend",
            "pg",
            "--dsn",
            app_dsn,
            "--table",
            run_id,
            "--effects",
            "fx",
            "--effects-db",
            effects_db,
            log=tmp_path / "workers.log",
        )
        for _ in range(4)
    ]
    count = _fx_count(effects_db)

    def kill_one() -> None:
        workers[0].send_signal(signal.SIGKILL)

    def cut_connections() -> None:
        with psycopg.connect(postgres_dsn, autocommit=True) as admin:
            cut = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (run_id,),
            ).fetchone()
        assert cut is not None
        assert cut[0] > 0

    chunks = _events(f"{run_id}-")
    try:
        # Publish in three phases so that each fault strikes while events are still coming.
        for phase, (chunk_range, fault) in enumerate(
            [(range(4), kill_one), (range(4, 7), cut_connections), (range(7, 10), None)]
        ):
            for n in chunk_range:
                log.publish(chunks[n])
                log.publish(chunks[n])
            if fault is not None:
                _wait_for(count, (phase * 4 + 2) * SHIPMENTS * HANDLERS // 2, [], workers)
                fault()
        _wait_for(count, TOTAL * HANDLERS, [], workers)
        deadline = time.monotonic() + 20
        while log.pending() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert log.pending() == 0
    finally:
        _stop(workers)
        log.close()
    assert workers[0].returncode == -signal.SIGKILL
    rows, runs = _fx_rows(effects_db)
    _check(rows, runs, kills=1)


def _close_rabbit_connections(prefix: str) -> int:
    """Close this run's own connections (by connection name), leaving other users' alone."""
    out = subprocess.run(
        ["rabbitmqctl", "-s", "list_connections", "pid", "client_properties"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    pids = [line.split("\t")[0] for line in out.splitlines() if prefix in line]
    closers = [
        subprocess.Popen(
            ["rabbitmqctl", "-q", "close_connection", pid, "fault test"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in pids
    ]
    for c in closers:
        c.wait(timeout=60)
    return len(pids)


@pytest.mark.services
@pytest.mark.slow
async def test_rabbitmq_workers_survive_sigkill_and_closed_connections(
    amqp_url: str, postgres_dsn: str, run_id: str, pg_cleanup: None, effects_db: str, tmp_path: Path
) -> None:
    """RabbitMQ log: a SIGKILLed worker and closed connections lose and double nothing."""
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is needed to close this run's own broker connections")
    log = RabbitMQEventLog(amqp_url, name=run_id, queues=8, connection_name=f"{run_id}-pub")
    await log.setup()
    PostgresStore(postgres_dsn, namespace=run_id, table=f"{run_id}_idem").close()
    workers = [
        _spawn(
            "--backend",
            "rabbitmq",
            "--amqp",
            amqp_url,
            "--dsn",
            postgres_dsn,
            "--table",
            run_id,
            "--effects",
            "fx",
            "--effects-db",
            effects_db,
            "--index",
            str(i),
            "--workers",
            "4",
            log=tmp_path / "workers.log",
        )
        for i in range(4)
    ]
    count = _fx_count(effects_db)
    closed: list[int] = []
    threads: list[threading.Thread] = []

    def kill_one() -> None:
        workers[0].send_signal(signal.SIGKILL)

    def close_connections() -> None:
        thread = threading.Thread(
            target=lambda: closed.append(_close_rabbit_connections(f"{run_id}-w")), daemon=True
        )
        thread.start()
        threads.append(thread)

    chunks = _events(f"{run_id}-")
    try:
        # Publish in three phases so that each fault strikes while events are still coming.
        for phase, (chunk_range, fault) in enumerate(
            [(range(4), kill_one), (range(4, 7), close_connections), (range(7, 10), None)]
        ):
            for n in chunk_range:
                await log.publish(chunks[n])
                await log.publish(chunks[n])
            if fault is not None:
                target = (phase * 4 + 2) * SHIPMENTS * HANDLERS // 2
                await asyncio.to_thread(_wait_for, count, target, [], workers)
                fault()
                for thread in threads:
                    await asyncio.to_thread(thread.join, 60)
        await asyncio.to_thread(_wait_for, count, TOTAL * HANDLERS, [], workers)
        assert closed
        assert closed[0] > 0
        assert await log.dead_count() == 0
    finally:
        _stop(workers)
        await log.delete()
    rows, runs = _fx_rows(effects_db)
    _check(rows, runs, kills=1 + 3)


# --- SQLite: no services -----------------------------------------------------------------------

PUBLISHER = """
import sys
from pathlib import Path
from shipsync.flows import SQLiteEventLog
from shipsync.testing.flows import make_tracking_event

log = SQLiteEventLog(sys.argv[1], table="ev")
acked = Path(sys.argv[2])
for batch in range(100000):
    log.publish([make_tracking_event(f"B{batch}-{i}", 1) for i in range(50)])
    with acked.open("a") as f:
        f.write(f"{batch}\\n")
"""


def test_sqlite_publisher_killed_mid_publish_leaves_whole_batches(tmp_path: Path) -> None:
    """A publisher SIGKILLed while publishing: each batch is in the log whole or not at all,
    every batch it saw confirmed is there, and nothing is doubled."""
    db, acked = tmp_path / "log.db", tmp_path / "acked.txt"
    script = tmp_path / "publisher.py"
    script.write_text(PUBLISHER)
    proc = subprocess.Popen([sys.executable, str(script), str(db), str(acked)])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if acked.exists() and len(acked.read_text().split()) >= 20:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    confirmed = {int(x) for x in acked.read_text().split()}
    assert len(confirmed) >= 20
    with SQLiteEventLog(db, table="ev") as log:
        rows = log._conn.execute("SELECT event_id, partition FROM ev").fetchall()
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids))
    per_batch: dict[int, int] = {}
    for _, partition in rows:
        batch = int(partition[1:].split("-")[0])
        per_batch[batch] = per_batch.get(batch, 0) + 1
    assert set(per_batch.values()) == {50}
    assert confirmed <= set(per_batch)
    assert max(per_batch) <= max(confirmed) + 1


def test_sqlite_worker_killed_mid_consume_loses_and_doubles_nothing(tmp_path: Path) -> None:
    """A SQLite worker SIGKILLed mid-batch: a second worker finishes, every pair once, in order."""
    db, fx = tmp_path / "log.db", tmp_path / "effects.db"
    with sqlite3.connect(fx) as conn:
        _effects_schema(conn.execute, "fx", "INTEGER")
    shipments, per = 200, 10
    log = SQLiteEventLog(db, table="ev", synchronous="NORMAL")
    for chunk in _events("S", shipments, per):
        log.publish(chunk)
        log.publish(chunk)
    args = [
        "--backend",
        "sqlite",
        "--sqlite",
        str(db),
        "--table",
        "ev",
        "--effects",
        "fx",
        "--effects-db",
        str(fx),
    ]
    first = _spawn(*args, log=tmp_path / "w.log")
    fx_conn = sqlite3.connect(fx, timeout=30)

    def count() -> int:
        return int(fx_conn.execute("SELECT count(*) FROM fx").fetchone()[0])

    second: list[subprocess.Popen[bytes]] = []
    try:
        _wait_for(count, 600, [], [first], timeout=60)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        second.append(_spawn(*args, log=tmp_path / "w.log"))
        _wait_for(count, shipments * per * HANDLERS, [], second, timeout=60)
        deadline = time.monotonic() + 20
        while log.pending() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert log.pending() == 0
    finally:
        _stop([first, *second])
        log.close()
    rows = fx_conn.execute("SELECT handler, partition, n, rowid FROM fx").fetchall()
    runs = int(fx_conn.execute("SELECT count(*) FROM fx_runs").fetchone()[0])
    fx_conn.close()
    assert len(rows) == shipments * per * HANDLERS
    order: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for handler, partition, n, applied in rows:
        order.setdefault((handler, partition), []).append((applied, n))
    for pairs in order.values():
        assert [n for _, n in sorted(pairs)] == list(range(1, per + 1))
    assert shipments * per * HANDLERS <= runs <= shipments * per * HANDLERS + 2 * 100 * HANDLERS
