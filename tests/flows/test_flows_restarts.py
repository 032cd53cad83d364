"""Restart tests: the database or the broker is stopped and started again mid-run.

The fault tests (``test_flows_faults.py``) cut connections but cannot restart the machine's shared
servers. Here each backend gets a private server of its own (``_private_servers.py``): a
throw-away PostgreSQL cluster and a throw-away RabbitMQ node on free ports of 127.0.0.1, which
the test stops and starts while four worker processes consume and a publisher publishes.

The shape is issue 7's, scaled to the time budget: 2,000 events for 200 shipments, each event
published twice, four worker processes, three handlers recording their effects in a SQLite file
keyed on the idempotency key. The busiest worker is SIGKILLed mid-run; later the server is
stopped while the workers hold batches and the publisher is publishing, and started again once
the publisher has seen the outage. In the end every (event, handler) took effect exactly once,
none was lost, each shipment's effects were applied in publish order, and every worker that was
not killed is still running (it reconnected by itself).

Without the server binaries the tests skip; with them, a server that will not start fails the
test under ``SHIPSYNC_REQUIRE_SERVICES=1`` and skips it otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import psycopg
import pytest
from _private_servers import (
    PrivatePostgres,
    PrivateRabbitMQ,
    ServerFailedError,
    find_postgres,
    find_rabbitmq,
    poll,
)

from shipsync.canonical import Event
from shipsync.errors import EventLogUnavailableError
from shipsync.flows import BlockingEventLog, PostgresEventLog, RabbitMQEventLog
from shipsync.idempotency import PostgresStore
from shipsync.testing.flows import make_tracking_event

pytestmark = [pytest.mark.services, pytest.mark.slow]

WORKER = str(Path(__file__).with_name("_flows_worker.py"))
SHIPMENTS, PER_SHIPMENT, HANDLERS, WORKERS = 200, 10, 3, 4
TOTAL = SHIPMENTS * PER_SHIPMENT
CHUNK_EFFECTS = SHIPMENTS * HANDLERS  # the effects of one chunk (every shipment's n-th event)
KILL_AT, OUTAGE_AT = 4, 7  # the publisher pauses before these chunks for the faults
WAIT = 45.0  # seconds any one wait may take before the test fails with what it saw


def _server_failed(what: str, exc: ServerFailedError) -> None:
    message = f"the private {what} would not run: {exc}"
    if os.environ.get("SHIPSYNC_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message} (SHIPSYNC_REQUIRE_SERVICES=1)")
    pytest.skip(message)


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of this module's own, removed afterwards."""
    bindir = find_postgres()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl, postgres) on this machine")
    server: PrivatePostgres | None = None
    try:
        server = PrivatePostgres(bindir)
        server.start()
    except ServerFailedError as exc:
        if server is not None:
            server.stop()
        _server_failed("PostgreSQL cluster", exc)
    assert server is not None
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module", autouse=True)
def _booting_rabbitmq(request: pytest.FixtureRequest) -> Iterator[PrivateRabbitMQ | None]:
    """Spawns this module's RabbitMQ node at once (when a selected test needs it), so that it
    boots while the PostgreSQL test runs; removes it afterwards."""
    sbin = find_rabbitmq()
    wanted = any("private_rabbitmq" in item.fixturenames for item in request.session.items)
    if sbin is None or not wanted:
        yield None
        return
    server = PrivateRabbitMQ(sbin)
    try:
        server.spawn()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def private_rabbitmq(_booting_rabbitmq: PrivateRabbitMQ | None) -> PrivateRabbitMQ:
    """A RabbitMQ node of this module's own, booted."""
    if _booting_rabbitmq is None:
        pytest.skip("no RabbitMQ server scripts (rabbitmq-server, rabbitmqctl) on this machine")
    try:
        _booting_rabbitmq.wait_started()
    except ServerFailedError as exc:
        _server_failed("RabbitMQ node", exc)
    return _booting_rabbitmq


# --- the workload ------------------------------------------------------------------------------


def _chunks(prefix: str) -> list[list[Event]]:
    """One chunk per position n: every shipment's n-th event."""
    return [
        [make_tracking_event(f"{prefix}{s}", n) for s in range(SHIPMENTS)]
        for n in range(1, PER_SHIPMENT + 1)
    ]


class Effects:
    """The SQLite file the workers record their handlers' effects in (``fx``, ``fx_runs``)."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        with contextlib.closing(sqlite3.connect(self.path)) as conn:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(
                "CREATE TABLE fx (handler text NOT NULL, event_id text NOT NULL, "
                "partition text NOT NULL, n int NOT NULL, pid int NOT NULL, applied INTEGER, "
                "PRIMARY KEY (handler, event_id))"
            )
            conn.execute("CREATE TABLE fx_runs (handler text NOT NULL, event_id text NOT NULL)")
            conn.commit()

    def _query(self, sql: str) -> list[tuple[int, ...]]:
        with contextlib.closing(sqlite3.connect(self.path, timeout=30)) as conn:
            return [tuple(r) for r in conn.execute(sql).fetchall()]

    def count(self) -> int:
        """Effects applied so far."""
        return self._query("SELECT count(*) FROM fx")[0][0]

    def busiest(self, pids: Sequence[int]) -> tuple[int, int]:
        """(pid, effects) of the worker among ``pids`` that applied the most effects."""
        per = dict(self._query("SELECT pid, count(*) FROM fx GROUP BY pid"))
        pid = max(pids, key=lambda p: per.get(p, 0))
        return pid, per.get(pid, 0)

    def check(self, kills: int, outages: int) -> None:
        """Exactly once per (event, handler), nothing lost, each shipment's effects in order."""
        rows = self._query("SELECT handler, partition, n, rowid FROM fx")
        runs = self._query("SELECT count(*) FROM fx_runs")[0][0]
        assert len(rows) == TOTAL * HANDLERS
        seen: dict[tuple[str, str], list[tuple[int, int]]] = {}
        for handler, partition, n, applied in rows:
            seen.setdefault((str(handler), str(partition)), []).append((int(applied), int(n)))
        assert len(seen) == SHIPMENTS * HANDLERS
        for pairs in seen.values():
            assert [n for _, n in sorted(pairs)] == list(range(1, PER_SHIPMENT + 1))
        # Every event was published twice: without the idempotency store there would be twice
        # the runs. A pair runs again only when a killed or cut-off worker ran it but could not
        # record its completion: at most one batch (100 events) per worker and fault, twice.
        assert (
            TOTAL * HANDLERS
            <= runs
            <= TOTAL * HANDLERS + (kills + outages * WORKERS) * (2 * 100 * HANDLERS)
        )


def _flags(**options: object) -> list[str]:
    """``_flows_worker.py`` arguments: ``effects_db="x"`` gives ``--effects-db x``."""
    return [a for k, v in options.items() for a in (f"--{k.replace('_', '-')}", str(v))]


class Workers:
    """Four worker processes (``_flows_worker.py``) and the log of what they wrote to stderr."""

    def __init__(self, args: Callable[[int], list[str]], log: Path) -> None:
        self.log = log
        self.procs: list[subprocess.Popen[bytes]] = []
        with log.open("ab") as err:
            for i in range(WORKERS):
                self.procs.append(
                    subprocess.Popen(
                        [sys.executable, WORKER, *args(i)],
                        stdout=subprocess.PIPE,
                        stderr=err,
                        env={**os.environ, "PYTHONUNBUFFERED": "1"},
                    )
                )

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def wait_ready(self) -> None:
        """Return once every worker printed ``ready`` (it is about to consume)."""
        deadline = time.monotonic() + WAIT
        for proc in self.procs:
            assert proc.stdout is not None
            while True:
                remaining = deadline - time.monotonic()
                readable, _, _ = select.select([proc.stdout], [], [], max(0.0, remaining))
                if not readable:
                    raise AssertionError(f"a worker was not ready after {WAIT}s{self.tail()}")
                line = proc.stdout.readline()
                if not line:
                    raise AssertionError(f"a worker died before it was ready{self.tail()}")
                if line.strip() == b"ready":
                    break

    def kill(self, pid: int) -> subprocess.Popen[bytes]:
        (proc,) = [p for p in self.procs if p.pid == pid]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        return proc

    def alive(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.procs if p.poll() is None]

    def tail(self) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"\nworkers' stderr (tail):\n{text[-3000:]}" if text.strip() else ""

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        for proc in self.procs:
            proc.wait(timeout=10)
            if proc.stdout is not None:
                proc.stdout.close()


class Publisher(threading.Thread):
    """Publishes every chunk twice, retrying through outages; pauses before the fault chunks.

    Before chunk ``n`` in ``gates`` it sets ``reached[n]`` and waits for ``gates[n]``; a publish
    that fails (the server is down) is counted in ``failures`` and tried again.
    """

    def __init__(self, publish: Callable[[list[Event]], None], chunks: list[list[Event]]) -> None:
        super().__init__(daemon=True)
        self._publish = publish
        self.chunks = chunks
        self.reached = {n: threading.Event() for n in (KILL_AT, OUTAGE_AT)}
        self.gates = {n: threading.Event() for n in (KILL_AT, OUTAGE_AT)}
        self.failures: list[str] = []
        self.error: BaseException | None = None
        self.done = threading.Event()

    def run(self) -> None:
        try:
            for n, chunk in enumerate(self.chunks):
                if n in self.gates:
                    self.reached[n].set()
                    if not self.gates[n].wait(WAIT):
                        raise AssertionError(f"chunk {n}: the test never let the publisher go on")
                for _ in range(2):
                    self._publish_retrying(chunk)
        except BaseException as exc:
            self.error = exc
        finally:
            self.done.set()

    def _publish_retrying(self, chunk: list[Event]) -> None:
        deadline = time.monotonic() + WAIT
        pause = 0.02
        while True:
            try:
                self._publish(chunk)
                return
            except (EventLogUnavailableError, TimeoutError) as exc:
                # A publish that failed may have been stored all the same: publishing the chunk
                # again only adds duplicates, which the workers absorb.
                self.failures.append(type(exc).__name__)
                if time.monotonic() >= deadline:
                    raise
                time.sleep(pause)  # back off while the server is down
                pause = min(pause * 2, 0.5)


def _wait_effects(
    effects: Effects, target: int, workers: Workers, publisher: Publisher | None = None
) -> int:
    """Wait until ``target`` effects are applied; fail early when every worker is gone."""
    deadline = time.monotonic() + WAIT
    while (now := effects.count()) < target:
        if not workers.alive():
            raise AssertionError(f"every worker is gone at {now}/{target} effects{workers.tail()}")
        if publisher is not None and publisher.error is not None:
            raise AssertionError(f"the publisher failed: {publisher.error!r}")
        if time.monotonic() >= deadline:
            raise AssertionError(f"only {now} of {target} effects after {WAIT}s{workers.tail()}")
        time.sleep(0.02)
    return now


def _run_faults(
    effects: Effects,
    workers: Workers,
    publisher: Publisher,
    stop_server: Callable[[], None],
    start_server: Callable[[], None],
) -> None:
    """SIGKILL the busiest worker mid-run, then stop and start the server mid-run; drain."""
    workers.wait_ready()
    publisher.start()

    # 1. Chunks 0-3 are published; once half of them took effect, kill the busiest worker.
    assert publisher.reached[KILL_AT].wait(WAIT), f"publisher: {publisher.error!r}"
    _wait_effects(effects, KILL_AT * CHUNK_EFFECTS // 2, workers, publisher)
    pid, applied = effects.busiest(workers.pids())
    assert applied > 0  # it was consuming when it died
    killed = workers.kill(pid)
    publisher.gates[KILL_AT].set()

    # 2. Chunks 4-6 are published; while the workers are busy with them, stop the server.
    assert publisher.reached[OUTAGE_AT].wait(WAIT), f"publisher: {publisher.error!r}"
    at_stop = _wait_effects(effects, (OUTAGE_AT - 2) * CHUNK_EFFECTS, workers, publisher)
    failures = len(publisher.failures)
    stop_server()
    assert at_stop < OUTAGE_AT * CHUNK_EFFECTS  # published events were still being handled
    # The publisher goes on and runs into the outage; start the server once it has.
    publisher.gates[OUTAGE_AT].set()
    poll(
        lambda: len(publisher.failures) > failures or publisher.done.is_set(),
        WAIT,
        "a publish failing in the outage",
    )
    assert len(publisher.failures) > failures, f"no outage seen: {publisher.error!r}"
    start_server()

    # 3. Chunks 7-9 go out after the restart (their first publish failed in the outage), so
    # their effects show that the workers came back by themselves.
    publisher.join(WAIT)
    assert publisher.error is None, repr(publisher.error)
    assert not publisher.is_alive()
    _wait_effects(effects, TOTAL * HANDLERS, workers)
    assert killed.returncode == -signal.SIGKILL
    survivors = [p for p in workers.procs if p is not killed]
    assert all(p.poll() is None for p in survivors), f"a worker died{workers.tail()}"


# --- PostgreSQL --------------------------------------------------------------------------------


def test_postgres_log_survives_a_server_restart_and_a_killed_worker(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    """PostgreSQL log and store: a SIGKILLed worker and a stopped-and-started server lose and
    double nothing, keep each shipment in order, and every other worker reconnects by itself."""
    pg = private_postgres
    run_id = f"rs_{uuid.uuid4().hex[:10]}"
    effects = Effects(tmp_path / "effects.db")
    log = PostgresEventLog(pg.dsn, table=run_id)  # creates the log's tables
    PostgresStore(pg.dsn, namespace=run_id, table=f"{run_id}_idem").close()
    with psycopg.connect(pg.dsn) as conn:
        started = conn.execute("SELECT pg_postmaster_start_time()").fetchone()
    workers = Workers(
        lambda i: _flags(
            backend="pg", dsn=pg.dsn, table=run_id, effects="fx", effects_db=effects.path
        ),
        tmp_path / "workers.log",
    )
    publisher = Publisher(log.publish, _chunks(f"{run_id}-"))
    try:
        _run_faults(
            effects,
            workers,
            publisher,
            stop_server=lambda: pg.stop_server("fast"),
            start_server=pg.start_server,
        )
        poll(lambda: log.pending() == 0, WAIT, "every event acknowledged")
        with psycopg.connect(pg.dsn) as conn:
            assert conn.execute("SELECT pg_postmaster_start_time()").fetchone() != started
    finally:
        workers.stop()
        log.close()
        if not pg.running():  # the test failed during the outage: the next test needs it
            pg.start_server()
    effects.check(kills=1, outages=1)


# --- RabbitMQ ----------------------------------------------------------------------------------


async def _dead_count(url: str, name: str) -> int:
    log = RabbitMQEventLog(url, name=name, queues=8)
    try:
        return await log.dead_count()
    finally:
        await log.close()


def test_rabbitmq_log_survives_a_broker_restart_and_a_killed_worker(
    private_rabbitmq: PrivateRabbitMQ, private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    """RabbitMQ log (PostgreSQL store): a SIGKILLed worker and a stopped-and-started broker lose
    and double nothing, keep each shipment in order, and every other worker reconnects."""
    mq, pg = private_rabbitmq, private_postgres
    run_id = f"rs_{uuid.uuid4().hex[:10]}"
    effects = Effects(tmp_path / "effects.db")
    PostgresStore(pg.dsn, namespace=run_id, table=f"{run_id}_idem").close()
    log = BlockingEventLog(
        lambda: RabbitMQEventLog(mq.url, name=run_id, queues=8, connection_name=f"{run_id}-pub"),
        timeout=20.0,
    )
    workers = Workers(
        lambda i: _flags(
            backend="rabbitmq",
            amqp=mq.url,
            dsn=pg.dsn,
            table=run_id,
            effects="fx",
            effects_db=effects.path,
            index=i,
            workers=WORKERS,
        ),
        tmp_path / "workers.log",
    )
    publisher = Publisher(log.publish, _chunks(f"{run_id}-"))
    try:
        _run_faults(effects, workers, publisher, mq.stop_app, mq.start_app)
        assert asyncio.run(_dead_count(mq.url, run_id)) == 0
    finally:
        workers.stop()
        log.close()
    effects.check(kills=1, outages=1)
