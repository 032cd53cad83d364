"""Real processes against real backends: exactly-once under concurrency, crashes and outages."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import sqlite3
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import idem_workers
import pytest
from idem_support import CuttableProxy, delete_redis_keys, drop_postgres_table, unique

from shipsync.errors import CompletionFailedError, StaleTokenError, StoreUnavailableError
from shipsync.idempotency import (
    Acquired,
    Completed,
    InProgress,
    PostgresStore,
    RedisStore,
    SQLiteStore,
    idempotent,
    outbound_key,
)

pytestmark = pytest.mark.slow

KEYS, WORKERS, DELIVERIES = 5_000, 8, 3


@pytest.fixture(scope="module")
def mp() -> Any:
    """Worker processes come from a forkserver that has the test modules preloaded."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["idem_workers"])
    return ctx


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("redis", marks=pytest.mark.services),
        pytest.param("postgres", marks=pytest.mark.services),
    ]
)
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A store description that worker processes can rebuild, on a fresh table or prefix."""
    ns = unique("procs")
    if request.param == "sqlite":
        path = str(tmp_path / "store.db")
        SQLiteStore(path, namespace=ns).close()
        yield {"kind": "sqlite", "path": path, "namespace": ns}
    elif request.param == "redis":
        url = request.getfixturevalue("redis_url")
        prefix = unique("idemproc")
        yield {"kind": "redis", "url": url, "prefix": prefix, "namespace": ns}
        store = RedisStore.from_url(url)
        delete_redis_keys(store.client, prefix)
        store.close()
    else:
        dsn = request.getfixturevalue("postgres_dsn")
        table = unique("idem_proc")
        PostgresStore(dsn, table=table).close()
        yield {"kind": "postgres", "dsn": dsn, "table": table, "namespace": ns}
        drop_postgres_table(dsn, table)


def _close(store: object) -> None:
    close = getattr(store, "close", None)
    if close is not None:
        close()


def _sqlite(path: Path, schema: str) -> str:
    conn = sqlite3.connect(path)
    conn.executescript(schema)
    conn.close()
    return str(path)


def test_eight_processes_deliver_every_key_three_times_and_each_effect_happens_once(
    spec: dict[str, Any], mp: Any, tmp_path: Path
) -> None:
    """8 processes, 5,000 keys, each delivered 3 times in random order: 5,000 side effects,
    one per key, and every other delivery replayed the stored result."""
    effects_db = _sqlite(
        tmp_path / "effects.db",
        "CREATE TABLE effects (key TEXT NOT NULL, worker INTEGER NOT NULL);"
        "CREATE TABLE workers (worker INTEGER, replays INTEGER, requeues INTEGER);",
    )
    keys = [f"shipment-{i}" for i in range(KEYS)]
    deliveries = keys * DELIVERIES
    random.Random(4).shuffle(deliveries)
    procs = [
        mp.Process(target=idem_workers.deliver, args=(spec, w, deliveries[w::WORKERS], effects_db))
        for w in range(WORKERS)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=240)
    assert [p.exitcode for p in procs] == [0] * WORKERS

    conn = sqlite3.connect(effects_db)
    per_key = dict(conn.execute("SELECT key, COUNT(*) FROM effects GROUP BY key").fetchall())
    (replays,) = conn.execute("SELECT SUM(replays) FROM workers").fetchone()
    (workers_done,) = conn.execute("SELECT COUNT(*) FROM workers").fetchone()
    conn.close()
    assert workers_done == WORKERS
    assert len(per_key) == KEYS
    assert set(per_key.values()) == {1}
    assert replays == KEYS * (DELIVERIES - 1)

    store = idem_workers.build_store(spec)
    for start in range(0, KEYS, 500):
        batch = [(k, idem_workers.payload_fingerprint(k)) for k in keys[start : start + 500]]
        outcomes = store.claim_many(batch)
        assert all(isinstance(o, Completed) for o in outcomes)
    _close(store)


def test_a_killed_lease_holder_is_taken_over_once_and_its_late_completion_refused(
    spec: dict[str, Any], mp: Any
) -> None:
    """SIGKILL a process holding a lease: until expiry the key is in progress; after it one
    successor takes over and completes; the dead worker's token can no longer complete."""
    key = "label-for-shipment-42"
    fp = idem_workers.payload_fingerprint(key)
    parent, child = mp.Pipe()
    proc = mp.Process(target=idem_workers.hold_lease, args=(spec, key, child))
    proc.start()
    assert parent.poll(60)
    dead_token = parent.recv()
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(timeout=30)
    assert proc.exitcode == -signal.SIGKILL

    now = idem_workers.build_store(spec)
    assert now.claim(key, fp) == InProgress(key)
    _close(now)

    later = idem_workers.build_store(spec, shift=idem_workers.LEASE.total_seconds() + 5)
    successor = later.claim(key, fp)
    assert isinstance(successor, Acquired)
    assert successor.token > dead_token
    assert later.claim(key, fp) == InProgress(key)
    later.complete(key, successor.token, b'{"by":"successor"}')
    with pytest.raises(StaleTokenError):
        later.complete(key, dead_token, b'{"by":"the dead worker"}')
    with pytest.raises(StaleTokenError):
        later.release(key, dead_token)
    assert later.claim(key, fp) == Completed(key, b'{"by":"successor"}')
    _close(later)


def test_crash_between_side_effect_and_completion_reexecutes_once_with_the_same_request_id(
    spec: dict[str, Any], mp: Any, tmp_path: Path
) -> None:
    """A process dies after the carrier call but before complete(): after the lease the work
    runs once more, with the same outbound idempotency key, so the carrier books once."""
    carrier_db = _sqlite(
        tmp_path / "carrier.db",
        "CREATE TABLE requests (request_id TEXT NOT NULL, shipment TEXT NOT NULL);"
        "CREATE TABLE bookings (request_id TEXT PRIMARY KEY, shipment TEXT NOT NULL);",
    )
    proc = mp.Process(target=idem_workers.book_then_crash, args=(spec, carrier_db, "S-7"))
    proc.start()
    proc.join(timeout=60)
    assert proc.exitcode == 17

    store = idem_workers.build_store(spec, shift=idem_workers.LEASE.total_seconds() + 5)
    runs: list[str] = []

    @idempotent(store, key=lambda s: f"book:{s}", lease=idem_workers.LEASE)
    def book(s: str) -> dict[str, str]:
        runs.append(s)
        return idem_workers.carrier_book(carrier_db, s)

    first = book("S-7")
    again = book("S-7")
    _close(store)
    assert runs == ["S-7"]
    assert first == again == {"shipment": "S-7", "label": "L-S-7"}

    conn = sqlite3.connect(carrier_db)
    requests = conn.execute("SELECT request_id FROM requests").fetchall()
    bookings = conn.execute("SELECT request_id FROM bookings").fetchall()
    conn.close()
    expected = outbound_key(spec["namespace"], "book:S-7")
    assert requests == [(expected,), (expected,)]
    assert bookings == [(expected,)]


@pytest.fixture(
    params=[
        pytest.param("redis", marks=pytest.mark.services),
        pytest.param("postgres", marks=pytest.mark.services),
    ]
)
def proxied(request: pytest.FixtureRequest) -> Iterator[tuple[Any, Any, CuttableProxy]]:
    """(a store through a cuttable proxy, a direct store, the proxy) on one namespace."""
    ns = unique("outage")
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        proxy = CuttableProxy(6379)
        prefix = unique("idemout")
        via = RedisStore.from_url(
            f"redis://127.0.0.1:{proxy.port}/0", namespace=ns, prefix=prefix, timeout=2
        )
        direct = RedisStore.from_url(url, namespace=ns, prefix=prefix)
        yield via, direct, proxy
        delete_redis_keys(direct.client, prefix)
        via.close()
        direct.close()
    else:
        dsn = request.getfixturevalue("postgres_dsn")
        table = unique("idem_out")
        direct = PostgresStore(dsn, table=table, namespace=ns)
        proxy = CuttableProxy(5432)
        via = PostgresStore(
            f"postgresql://postgres@127.0.0.1:{proxy.port}/test",
            table=table,
            namespace=ns,
            setup=False,
            connect_timeout=2,
        )
        yield via, direct, proxy
        via.close()
        direct.close()
        drop_postgres_table(dsn, table)
    proxy.close()


def test_outage_mid_run_raises_typed_retryable_errors_and_records_nothing_false(
    proxied: tuple[Any, Any, CuttableProxy],
) -> None:
    """The link to the server is cut mid-run and restored: claims fail with retryable
    StoreUnavailableError, completions with CompletionFailedError, and afterwards no key is
    recorded as completed whose side effect did not run."""
    via, direct, proxy = proxied
    effects: set[str] = set()
    unavailable: list[StoreUnavailableError] = []
    completion_failed: list[str] = []
    keys = [f"evt-{i}" for i in range(300)]
    held: dict[str, int] = {}
    for i, key in enumerate(keys):
        if i == 100:
            proxy.cut()
        if i == 200:
            proxy.heal()
        if 140 <= i < 150:
            # the side effect ran before the outage; only the completion meets it
            outcome = direct.claim(key, "fp")
            assert isinstance(outcome, Acquired)
            effects.add(key)
            try:
                via.complete(key, outcome.token, b"1")
            except CompletionFailedError:
                completion_failed.append(key)
            continue
        try:
            outcome = via.claim(key, "fp")
        except StoreUnavailableError as exc:
            unavailable.append(exc)
            continue
        assert isinstance(outcome, Acquired)
        held[key] = outcome.token
        effects.add(key)
        via.complete(key, outcome.token, b"1")

    assert len(unavailable) >= 90
    assert all(exc.retryable for exc in unavailable)
    assert completion_failed == [f"evt-{i}" for i in range(140, 150)]

    outcomes = direct.claim_many([(k, "fp") for k in keys], timedelta(seconds=60))
    recorded = {o.key for o in outcomes if isinstance(o, Completed)}
    assert recorded <= effects
    assert {f"evt-{i}" for i in range(100)} <= recorded
    assert {f"evt-{i}" for i in range(201, 300)} <= recorded
    assert not recorded & {f"evt-{i}" for i in range(140, 150)}


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("redis", marks=pytest.mark.services),
        pytest.param("postgres", marks=pytest.mark.services),
    ],
)
def test_outage_under_four_worker_processes_still_gives_each_effect_once(
    kind: str, mp: Any, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Four processes deliver 600 keys twice each through a link that is cut mid-run and
    restored: they meet typed errors (claims refused, completions reconciled by retrying with
    the same token); no effect runs twice, every key recorded as completed had its effect, and
    a key whose claim answer was lost stays held until its lease ends, then is taken over and
    runs once."""
    ns = unique("outproc")
    proxy = CuttableProxy(6379 if kind == "redis" else 5432)
    if kind == "redis":
        request.getfixturevalue("redis_url")
        prefix = unique("idemoutp")
        spec = {
            "kind": "redis",
            "url": f"redis://127.0.0.1:{proxy.port}/0",
            "prefix": prefix,
            "namespace": ns,
        }
    else:
        dsn = request.getfixturevalue("postgres_dsn")
        table = unique("idem_outp")
        PostgresStore(dsn, table=table).close()
        spec = {
            "kind": "postgres",
            "dsn": f"postgresql://postgres@127.0.0.1:{proxy.port}/test",
            "table": table,
            "namespace": ns,
        }
    effects_db = _sqlite(
        tmp_path / "effects.db",
        "CREATE TABLE effects (key TEXT NOT NULL, worker INTEGER NOT NULL);"
        "CREATE TABLE workers (worker INTEGER, replays INTEGER, requeues INTEGER);",
    )
    keys = [f"evt-{i}" for i in range(600)]
    deliveries = keys * 2
    random.Random(7).shuffle(deliveries)
    progress = mp.Value("i", 0)
    procs = [
        mp.Process(
            target=idem_workers.deliver_through_outage,
            args=(spec, w, deliveries[w::4], effects_db, progress),
        )
        for w in range(4)
    ]
    try:
        for p in procs:
            p.start()
        while progress.value < len(deliveries) // 3 and any(p.is_alive() for p in procs):
            time.sleep(0.002)
        proxy.cut()
        time.sleep(0.3)  # the outage lasts a moment of real time
        proxy.heal()
        for p in procs:
            p.join(timeout=120)
        assert [p.exitcode for p in procs] == [0] * 4

        conn = sqlite3.connect(effects_db)
        per_key = dict(conn.execute("SELECT key, COUNT(*) FROM effects GROUP BY key").fetchall())
        (errors,) = conn.execute("SELECT SUM(requeues) FROM workers").fetchone()
        conn.close()
        assert errors > 0, "the outage was not met"
        assert set(per_key.values()) <= {1}
        batch = [(k, idem_workers.payload_fingerprint(k)) for k in keys]
        store = idem_workers.build_store(spec)
        outcomes = store.claim_many(batch)
        _close(store)
        completed = {o.key for o in outcomes if isinstance(o, Completed)}
        held = {o.key for o in outcomes if isinstance(o, InProgress)}
        assert completed == set(per_key)
        assert completed | held == set(keys)
        assert len(held) <= 10  # only claims whose answer the cut swallowed
        later = idem_workers.build_store(spec, shift=idem_workers.LEASE.total_seconds() + 5)
        for key, fp in batch:
            outcome = later.claim(key, fp)
            if key in held:
                assert isinstance(outcome, Acquired)
                later.complete(key, outcome.token, b"1")
            else:
                assert isinstance(outcome, Completed)
        _close(later)
    finally:
        proxy.close()
        if kind == "redis":
            direct = RedisStore.from_url(request.getfixturevalue("redis_url"))
            delete_redis_keys(direct.client, prefix)
            direct.close()
        else:
            drop_postgres_table(request.getfixturevalue("postgres_dsn"), table)
