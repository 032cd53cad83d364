"""Idempotency store benchmark: throughput, client CPU and round trips, against Powertools.

Run from the repository root (services on this machine: Redis 6379, PostgreSQL 5432)::

    .venv/bin/python bench/idempotency.py                # everything, ~1 minute
    .venv/bin/python bench/idempotency.py --pairs 5000   # shorter

It prints one table. A *pair* is one claim plus one complete of a new key (a first call); a
*replay* is one claim of a completed key. "8 clients" runs 8 processes at once, each with its own
store, and counts pairs over the wall time of the whole run. Round trips are counted on the wire:
commands sent by redis-py connections, ReadyForQuery messages in libpq's trace for PostgreSQL.

For comparison, in the same run and against the same Redis: AWS Lambda Powertools' idempotency
utility (``idempotent_function`` with its Redis persistence layer, outside Lambda; install the
``bench`` extra), and two bare ``SET`` commands per call through redis-py's client, the floor of
any scheme that writes twice (the issue's yardstick). The store keeps one connection out of the
pool for its calls; the same two ``SET`` commands on a connection kept that way are printed too,
so the lever and what is left after it are both on the table. Batches use ``claim_many`` /
``complete_many`` over 100 keys. PostgreSQL runs twice: durable (the default, every commit waits
for the WAL fsync) and with ``synchronous_commit=False``. ``AsyncRedisStore`` pairs run in one
event loop, the store ``from_url`` builds against one over a client with a socket timeout (which
redis-py's asyncio client enforces on every write with ``asyncio.wait_for``).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable
from typing import Any

from shipsync.idempotency import (
    Acquired,
    AsyncRedisStore,
    MemoryStore,
    PostgresStore,
    RedisStore,
    SQLiteStore,
)

REDIS_URL = os.environ.get("SHIPSYNC_TEST_REDIS", "redis://127.0.0.1:6379/0")
POSTGRES_DSN = os.environ.get("SHIPSYNC_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
RESULT = b'{"label":"1Z999AA10123456784","cost":"12.40"}'
BATCH = 100


# --- store factories (picklable by name for worker processes) -----------------------------------


def make_store(kind: str, ctx: dict[str, str]) -> Any:
    ns = ctx["namespace"]
    if kind == "memory":
        return MemoryStore(namespace=ns)
    if kind == "sqlite":
        return SQLiteStore(ctx["sqlite"], namespace=ns)
    if kind == "redis":
        return RedisStore.from_url(REDIS_URL, namespace=ns, prefix=ctx["prefix"])
    durable = kind == "postgres"  # "postgres-async-commit": synchronous_commit=off
    return PostgresStore(
        POSTGRES_DSN, namespace=ns, table=ctx["table"], setup=False, synchronous_commit=durable
    )


def run_pairs(store: Any, n: int, tag: str) -> tuple[float, float]:
    """n claim+complete pairs on new keys; (wall seconds, CPU seconds)."""
    keys = [f"{tag}-{i}" for i in range(n)]
    cpu, wall = time.process_time(), time.perf_counter()
    for key in keys:
        outcome = store.claim(key, "fp")
        assert isinstance(outcome, Acquired)
        store.complete(key, outcome.token, RESULT)
    return time.perf_counter() - wall, time.process_time() - cpu


def run_replays(store: Any, keys: list[str]) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    for key in keys:
        store.claim(key, "fp")
    return time.perf_counter() - wall, time.process_time() - cpu


def run_batches(store: Any, n: int, tag: str) -> tuple[float, float]:
    """n keys in batches of BATCH: claim_many + complete_many; (wall, CPU)."""
    cpu, wall = time.process_time(), time.perf_counter()
    for start in range(0, n, BATCH):
        items = [(f"{tag}-{i}", "fp") for i in range(start, min(n, start + BATCH))]
        outcomes = store.claim_many(items)
        done = [(o.key, o.token, RESULT) for o in outcomes if isinstance(o, Acquired)]
        store.complete_many(done)
    return time.perf_counter() - wall, time.process_time() - cpu


def _worker(kind: str, ctx: dict[str, str], n: int, tag: str, barrier: Any, out: Any) -> None:
    store = make_store(kind, ctx)
    store.claim(f"{tag}-warm", "fp")  # connect, load scripts
    barrier.wait()
    start = time.time()
    run_pairs(store, n, tag)
    out.put((start, time.time()))


def concurrent_pairs(kind: str, ctx: dict[str, str], n: int, clients: int = 8) -> float:
    """Pairs per second over `clients` processes, each doing n // clients pairs."""
    mp = multiprocessing.get_context("forkserver")
    barrier, out = mp.Barrier(clients), mp.Queue()
    tag = uuid.uuid4().hex[:8]
    per = n // clients
    procs = [
        mp.Process(target=_worker, args=(kind, ctx, per, f"{tag}-{c}", barrier, out))
        for c in range(clients)
    ]
    for p in procs:
        p.start()
    spans = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    return per * clients / (max(e for _, e in spans) - min(s for s, _ in spans))


# --- round trips -----------------------------------------------------------------------------


def redis_round_trips(ctx: dict[str, str]) -> tuple[int, int]:
    import redis

    sent = [0]

    class Counting(redis.Connection):
        def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            sent[0] += 1
            super().send_packed_command(command, check_health)

    pool = redis.ConnectionPool.from_url(REDIS_URL, connection_class=Counting)
    store = RedisStore(redis.Redis(connection_pool=pool), namespace="rt", prefix=ctx["prefix"])
    warm = store.claim("warm", "fp")
    assert isinstance(warm, Acquired)
    store.complete("warm", warm.token, RESULT)
    sent[0] = 0
    held = store.claim("first", "fp")
    assert isinstance(held, Acquired)
    store.complete("first", held.token, RESULT)
    first = sent[0]
    sent[0] = 0
    store.claim("first", "fp")
    replay = sent[0]
    store.close()
    return first, replay


def postgres_round_trips(ctx: dict[str, str]) -> tuple[int, int]:
    import psycopg

    store = PostgresStore(POSTGRES_DSN, namespace="rt", table=ctx["table"], setup=False)
    for i in range(8):  # let psycopg prepare its statements
        warm = store.claim(f"warm-{i}", "fp")
        assert isinstance(warm, Acquired)
        store.complete(warm.key, warm.token, RESULT)
        store.claim(warm.key, "fp")

    def count(call: Callable[[], Any]) -> int:
        with tempfile.TemporaryFile("w+") as trace:
            store.connection.pgconn.trace(trace.fileno())
            store.connection.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
            call()
            store.connection.pgconn.untrace()
            trace.seek(0)
            return sum("ReadyForQuery" in line for line in trace)

    held: list[Any] = []
    first = count(lambda: held.append(store.claim("first", "fp")))
    first += count(lambda: store.complete("first", held[0].token, RESULT))
    replay = count(lambda: store.claim("first", "fp"))
    store.close()
    return first, replay


# --- comparisons -----------------------------------------------------------------------------


def powertools_runner() -> Callable[[int, str], None] | str:
    """A function running n Powertools ``idempotent_function`` calls over Redis, or why not."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    try:
        import redis
        from aws_lambda_powertools.utilities.idempotency import (
            IdempotencyConfig,
            idempotent_function,
        )
        from aws_lambda_powertools.utilities.idempotency.persistence.redis import (
            RedisCachePersistenceLayer,
        )
    except ImportError as exc:
        return f"not installed ({exc.name}); pip install -e '.[bench]'"
    warnings.simplefilter("ignore")  # its deprecation and "no Lambda context" warnings
    client = redis.Redis.from_url(REDIS_URL)
    layer = RedisCachePersistenceLayer(client=client)
    config = IdempotencyConfig(expires_after_seconds=3600)

    @idempotent_function(data_keyword_argument="record", persistence_store=layer, config=config)
    def handle(record: dict[str, str]) -> dict[str, str]:
        return {"label": record["id"]}

    def run(n: int, tag: str) -> None:
        for i in range(n):
            handle(record={"id": f"ptbench-{tag}-{i}"})

    return run


def two_sets_runner() -> Callable[[int, str], None]:
    """A function doing n times two bare SETs (the floor of any scheme that writes twice)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)

    def run(n: int, tag: str) -> None:
        for i in range(n):
            client.set(f"floor:{tag}:{i}:a", b"in progress", ex=600)
            client.set(f"floor:{tag}:{i}:b", RESULT, ex=600)

    return run


def two_sets_kept_runner() -> Callable[[int, str], None]:
    """The floor again, on one connection kept out of the pool, as the store keeps its own:
    ``send_command`` and ``read_response``, no pool checkout and no per-call health poll."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    conn = client.connection_pool.get_connection()

    def run(n: int, tag: str) -> None:
        for i in range(n):
            conn.send_command("SET", f"floor:{tag}:{i}:a", b"in progress", "EX", 600)
            conn.read_response()
            conn.send_command("SET", f"floor:{tag}:{i}:b", RESULT, "EX", 600)
            conn.read_response()

    return run


def redis_commandstats() -> dict[str, tuple[int, int]]:
    """Calls and server microseconds per command from ``INFO commandstats`` (the server's own
    count of its time; other clients of the same Redis are counted too)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    stats = client.info("commandstats")
    client.close()
    return {
        name.removeprefix("cmdstat_"): (int(v["calls"]), int(v["usec"]))
        for name, v in stats.items()
    }


def sqlite_floor_runner(path: str) -> Callable[[int, str], None]:
    """A function doing n times what a SQLite claim+complete pair does in SQL, with no shipsync
    code: the same INSERT ... RETURNING and UPDATE, each its own transaction, on a table of the
    same shape, with the store's pragmas, in the same database file."""
    import sqlite3

    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    for pragma in (
        "PRAGMA page_size = 1024",
        "PRAGMA journal_mode = WAL",
        "PRAGMA synchronous = NORMAL",
        "PRAGMA wal_autocheckpoint = 10000",
    ):
        conn.execute(pragma)
    conn.execute(
        "CREATE TABLE IF NOT EXISTS floor_pairs ("
        "token INTEGER PRIMARY KEY AUTOINCREMENT, ns TEXT NOT NULL, key TEXT NOT NULL, "
        "state TEXT NOT NULL, fingerprint TEXT NOT NULL, expires_at REAL NOT NULL, "
        "result BLOB, UNIQUE (ns, key))"
    )
    insert = (
        "INSERT INTO floor_pairs (ns, key, state, fingerprint, expires_at) "
        "VALUES (?, ?, 'p', ?, ?) ON CONFLICT (ns, key) DO NOTHING RETURNING token"
    )
    update = (
        "UPDATE floor_pairs SET state = 'c', result = ?, expires_at = ? "
        "WHERE token = ? AND ns = ? AND key = ? AND state = 'p'"
    )

    def run(n: int, tag: str) -> None:
        for i in range(n):
            key = f"k:{tag}-{i}"
            now = time.time()
            (token,) = conn.execute(insert, ("floor", key, "fp", now + 3600)).fetchone()
            conn.execute(update, (RESULT, now + 86400, token, "floor", key))

    return run


def compare_async_redis(ctx: dict[str, str], n: int) -> dict[str, tuple[float, float]]:
    """AsyncRedisStore pairs: the store ``from_url`` builds (its timeout a deadline the store
    keeps) against the same store over a client given that timeout as its socket timeout, in
    alternating chunks of 250 pairs in one event loop; (pairs/s, client CPU µs per pair) each."""
    import asyncio

    import redis.asyncio
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    async def run() -> dict[str, tuple[float, float]]:
        socket_client = redis.asyncio.Redis.from_url(
            REDIS_URL,
            socket_timeout=5.0,
            socket_connect_timeout=5.0,
            decode_responses=False,
            retry=Retry(NoBackoff(), 0),
        )
        stores = {
            "from_url": AsyncRedisStore.from_url(
                REDIS_URL, namespace=ctx["namespace"], prefix=ctx["prefix"], timeout=5.0
            ),
            "socket timeout": AsyncRedisStore(
                socket_client, namespace=ctx["namespace"], prefix=ctx["prefix"]
            ),
        }
        walls = dict.fromkeys(stores, 0.0)
        cpus = dict.fromkeys(stores, 0.0)
        chunk = 250
        rounds = max(1, n // chunk)
        for round_ in range(-1, rounds):  # round -1 warms up
            for name, store in stores.items():
                tag = f"async-{name[:4]}-{round_}-{uuid.uuid4().hex[:8]}"
                cpu, wall = time.process_time(), time.perf_counter()
                for i in range(chunk if round_ >= 0 else 20):
                    held = await store.claim(f"{tag}-{i}", "fp")
                    assert isinstance(held, Acquired)
                    await store.complete(held.key, held.token, RESULT)
                if round_ >= 0:
                    walls[name] += time.perf_counter() - wall
                    cpus[name] += time.process_time() - cpu
        for store in stores.values():
            await store.close()
        await socket_client.aclose()
        pairs = rounds * chunk
        return {name: (pairs / walls[name], cpus[name] / pairs * 1e6) for name in stores}

    return asyncio.run(run())


def compare_sqlite(ctx: dict[str, str], n: int) -> dict[str, tuple[float, float]]:
    """Our SQLite pairs against the bare two-statement floor, alternating chunks of 250 pairs in
    one process and one database file; (pairs/s, client CPU µs per pair) each."""
    store = make_store("sqlite", ctx)
    contenders: dict[str, Callable[[int, str], Any]] = {
        "sqlite": lambda m, tag: run_pairs(store, m, tag),
        "sqlite-floor": sqlite_floor_runner(ctx["sqlite"]),
    }
    walls = dict.fromkeys(contenders, 0.0)
    cpus = dict.fromkeys(contenders, 0.0)
    chunk = 250
    for run in contenders.values():
        run(50, f"warm-{uuid.uuid4().hex[:8]}")
    rounds = max(1, n // chunk)
    for round_ in range(rounds):
        for name, run in contenders.items():
            tag = f"{round_}-{uuid.uuid4().hex[:8]}"
            cpu, wall = time.process_time(), time.perf_counter()
            run(chunk, tag)
            walls[name] += time.perf_counter() - wall
            cpus[name] += time.process_time() - cpu
    store.close()
    return {
        name: (rounds * chunk / walls[name], cpus[name] / (rounds * chunk) * 1e6)
        for name in contenders
    }


def compare(backends: list[str], ctx: dict[str, str], n: int) -> dict[str, Any]:
    """Our Redis pairs and batches, PostgreSQL batches, Powertools and the two-SET floor, run
    in alternating chunks of 250 calls, so machine load hits them alike. Returns calls per
    second (and client CPU µs per call) for each."""
    redis_store = make_store("redis", ctx)
    pg_stores = {k: make_store(k, ctx) for k in backends if k.startswith("postgres")}
    contenders: dict[str, Callable[[int, str], Any]] = {
        "redis": lambda m, tag: run_pairs(redis_store, m, tag),
        "redis.batch": lambda m, tag: run_batches(redis_store, m, tag),
        "floor": two_sets_runner(),
        "floor.kept": two_sets_kept_runner(),
    }
    for kind, pg_store in pg_stores.items():
        contenders[f"{kind}.batch"] = lambda m, tag, st=pg_store: run_batches(st, m, tag)
    pt = powertools_runner()
    if not isinstance(pt, str):
        contenders["powertools"] = pt
    walls = dict.fromkeys(contenders, 0.0)
    cpus = dict.fromkeys(contenders, 0.0)
    chunk = 250
    for run in contenders.values():  # warm-up: connections, scripts, prepared statements
        run(20, f"warm-{uuid.uuid4().hex[:8]}")
    for round_ in range(max(1, n // chunk)):
        for name, run in contenders.items():
            tag = f"{round_}-{uuid.uuid4().hex[:8]}"
            cpu, wall = time.process_time(), time.perf_counter()
            run(chunk, tag)
            walls[name] += time.perf_counter() - wall
            cpus[name] += time.process_time() - cpu
    calls = max(1, n // chunk) * chunk
    out: dict[str, Any] = {
        name: (calls / walls[name], cpus[name] / calls * 1e6) for name in contenders
    }
    out["redis.batch"] = out["redis.batch"][0]
    for kind in pg_stores:
        out[f"{kind}.batch"] = out[f"{kind}.batch"][0]
    if isinstance(pt, str):
        out["powertools"] = pt
    redis_store.close()
    for pg_store in pg_stores.values():
        pg_store.close()
    return out


def _fmt_row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True))


def measure_backend(kind: str, ctx: dict[str, str], n: int) -> dict[str, Any]:
    """Best of three rounds for each single-client figure (the machine may be shared)."""
    store = make_store(kind, ctx)
    run_pairs(store, 200, uuid.uuid4().hex[:8])
    best: dict[str, Any] = {"pairs": 0.0, "cpu_us": float("inf"), "replays": 0.0, "batch": 0.0}
    for _ in range(3):
        tag = uuid.uuid4().hex[:8]
        wall, cpu = run_pairs(store, n, tag)
        replay_wall, _ = run_replays(store, [f"{tag}-{i}" for i in range(n)])
        batch_wall, _ = run_batches(store, n, tag + "-batch")
        best["pairs"] = max(best["pairs"], n / wall)
        best["cpu_us"] = min(best["cpu_us"], cpu / n * 1e6)
        best["replays"] = max(best["replays"], n / replay_wall)
        best["batch"] = max(best["batch"], n / batch_wall)
    if hasattr(store, "close"):
        store.close()
    best["concurrent"] = None if kind == "memory" else concurrent_pairs(kind, ctx, n)
    best["trips"] = {"redis": redis_round_trips, "postgres": postgres_round_trips}.get(
        kind, lambda _ctx: None
    )(ctx)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10_000, help="pairs per measurement")
    parser.add_argument(
        "--backends",
        default="memory,sqlite,redis,postgres,postgres-async-commit",
        help="comma-separated backends",
    )
    args = parser.parse_args()
    n = args.pairs
    tmp = tempfile.mkdtemp(prefix="idem-bench-")
    ctx = {
        "namespace": "bench-" + uuid.uuid4().hex[:8],
        "sqlite": os.path.join(tmp, "bench.db"),
        "prefix": "idembench-" + uuid.uuid4().hex[:8],
        "table": "idem_bench_" + uuid.uuid4().hex[:8],
    }
    backends = args.backends.split(",")
    if any(b.startswith("postgres") for b in backends):
        PostgresStore(POSTGRES_DSN, table=ctx["table"]).close()
    multiprocessing.get_context("forkserver").set_forkserver_preload(["shipsync.idempotency"])

    results: dict[str, dict[str, Any]] = {}
    comparison: dict[str, Any] = {}
    pt: tuple[float, float] | str = "redis not benchmarked"
    floor: tuple[float, float] | None = None
    sqlite_floor: dict[str, tuple[float, float]] = {}
    async_redis: dict[str, tuple[float, float]] = {}
    server: dict[str, tuple[int, int]] = {}
    try:
        for kind in backends:
            results[kind] = measure_backend(kind, ctx, n)
        if "sqlite" in backends:
            sqlite_floor = compare_sqlite(ctx, n)
        if "redis" in backends:
            before = redis_commandstats()
            comparison = compare(backends, ctx, n)
            server = {
                name: (calls - before.get(name, (0, 0))[0], usec - before.get(name, (0, 0))[1])
                for name, (calls, usec) in redis_commandstats().items()
            }
            pt = comparison.get("powertools", "not measured")
            floor = comparison["floor"]
            async_redis = compare_async_redis(ctx, n)
    finally:
        cleanup(backends, ctx)

    head = ["backend", "pairs/s 1 client", "pairs/s 8 clients", "client CPU µs/pair",
            "replays/s", "events/s batch=100", "round trips first/replay"]  # fmt: skip
    rows = [head]
    for kind, r in results.items():
        trips = "-" if r["trips"] is None else "{} / {}".format(*r["trips"])
        conc = "-" if r["concurrent"] is None else f"{r['concurrent']:,.0f}"
        rows.append(
            [
                kind,
                f"{r['pairs']:,.0f}",
                conc,
                f"{r['cpu_us']:,.0f}",
                f"{r['replays']:,.0f}",
                f"{r['batch']:,.0f}",
                trips,
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    print(f"\n{n:,} pairs per measurement, best of 3 rounds; load average {os.getloadavg()}\n")
    for row in rows:
        print(_fmt_row(row, widths))
    print()
    if floor is not None:
        print(f"two bare SETs per call (floor):  {floor[0]:,.0f} calls/s, {floor[1]:,.0f} µs CPU")
        kept = comparison["floor.kept"]
        print(f"the same on a kept connection:   {kept[0]:,.0f} calls/s, {kept[1]:,.0f} µs CPU")
    if isinstance(pt, str):
        print(f"Powertools idempotency (Redis):  {pt}")
    else:
        print(f"Powertools idempotency (Redis):  {pt[0]:,.0f} calls/s, {pt[1]:,.0f} µs CPU")
    print("\nratios (target):")
    if "redis" in results and floor is not None:
        ours = comparison["redis"]
        print("  (measured in alternating chunks of 250 calls)")
        print(f"  {'Redis pairs/s / two-SET floor':<40} {ours[0] / floor[0]:.2f}  (>= 0.9)")
        print(
            f"  {'Redis client CPU per pair / floor':<40} {ours[1] / floor[1]:.2f}  (<= 1.2)"
            f"   [{ours[1]:.0f} vs {floor[1]:.0f} µs]"
        )
        kept = comparison["floor.kept"]
        print(
            f"  {'Redis pairs/s / floor, kept connection':<40} {ours[0] / kept[0]:.2f}"
            f"   [CPU {ours[1]:.0f} vs {kept[1]:.0f} µs; not a target: the same lever on both]"
        )
        for command in ("evalsha", "set"):
            calls, usec = server.get(command, (0, 0))
            if calls:
                print(
                    f"  {'Redis server µs per ' + command.upper():<40} {usec / calls:.1f}"
                    f"   ({calls:,} calls during the comparison)"
                )
        if not isinstance(pt, str):
            print(f"  {'Redis pairs/s / Powertools':<40} {ours[0] / pt[0]:.2f}")
            for kind in ("redis", "postgres", "postgres-async-commit"):
                if f"{kind}.batch" in comparison:
                    ratio = comparison[f"{kind}.batch"] / pt[0]
                    print(f"  {kind + ' batch=100 / Powertools':<40} {ratio:.1f}  (>= 5)")
    if async_redis:
        print("  (AsyncRedisStore, alternating chunks of 250 pairs in one event loop)")
        _pairs_ratio(
            "async pairs/s, from_url / socket timeout",
            async_redis["from_url"],
            async_redis["socket timeout"],
        )
    if "sqlite" in results:
        sqlite_pairs = results["sqlite"]["pairs"]
        print(f"  {'SQLite pairs/s, one process':<40} {sqlite_pairs:,.0f}")
    if sqlite_floor:
        print("  (SQLite measured against its floor in alternating chunks of 250 pairs)")
        _pairs_ratio(
            "SQLite pairs/s / two-statement floor",
            sqlite_floor["sqlite"],
            sqlite_floor["sqlite-floor"],
            target="  (>= 0.7)",
        )


def _pairs_ratio(
    label: str, ours: tuple[float, float], peer: tuple[float, float], target: str = ""
) -> None:
    """One ratio line: pairs/s against a peer's, with both rates and CPU per pair."""
    print(
        f"  {label:<40} {ours[0] / peer[0]:.2f}{target}"
        f"   [{ours[0]:,.0f} vs {peer[0]:,.0f} pairs/s;"
        f" CPU {ours[1]:.0f} vs {peer[1]:.0f} µs/pair]"
    )


def cleanup(backends: list[str], ctx: dict[str, str]) -> None:
    """Drop the benchmark's table and keys."""
    if any(b.startswith("postgres") for b in backends):
        import psycopg

        with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
            table = ctx["table"]
            conn.execute(f"DROP TABLE IF EXISTS {table}")
            conn.execute(f"DROP SEQUENCE IF EXISTS {table}_fence")
            conn.execute(f"DROP FUNCTION IF EXISTS {table}_claim")
            conn.execute(f"DROP FUNCTION IF EXISTS {table}_complete")
    if "redis" in backends:
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        # Powertools names its keys by the function and a hash of the record; left behind
        # (an hour's TTL) they slow down every SCAN of this Redis, the stores' sweep included
        powertools = "test-func.*powertools_runner.<locals>.handle#*"
        for pattern in (ctx["prefix"] + ":*", "floor:*", "*ptbench-*", powertools):
            batch = list(client.scan_iter(match=pattern, count=5000))
            for start in range(0, len(batch), 1000):
                client.delete(*batch[start : start + 1000])
        client.close()


if __name__ == "__main__":
    main()
