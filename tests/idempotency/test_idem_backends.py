"""What only some backends promise: server clocks, round trips, hash tags, extras, WAL."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from idem_support import closed_port, delete_redis_keys, drop_postgres_table, unique

from shipsync.errors import (
    ConfigurationError,
    CorruptRecordError,
    FingerprintMismatchError,
    MissingDependencyError,
    StaleTokenError,
    StoreUnavailableError,
)
from shipsync.idempotency import (
    Acquired,
    AsyncPostgresStore,
    AsyncRedisStore,
    Completed,
    InProgress,
    PostgresStore,
    RedisStore,
    SQLiteStore,
)
from shipsync.idempotency._redis import _GRACE_MS, _get_connection_args, unpack_record

LEASE = timedelta(seconds=45)


# --- Redis ---------------------------------------------------------------------------------------


class _Counter:
    sends = 0


def _counting_redis(url: str, ns: str) -> RedisStore:
    """A RedisStore whose connections count what they put on the wire."""
    import redis

    class CountingConnection(redis.Connection):
        def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            _Counter.sends += 1
            super().send_packed_command(command, check_health)

    pool = redis.ConnectionPool.from_url(url, connection_class=CountingConnection)
    return RedisStore(redis.Redis(connection_pool=pool), namespace=ns, prefix=unique("idemrt"))


@pytest.fixture
def redis_store(redis_url: str) -> Iterator[RedisStore]:
    store = RedisStore.from_url(redis_url, namespace=unique("ns"), prefix=unique("idemb"))
    yield store
    delete_redis_keys(store.client, store.prefix)
    store.close()


@pytest.mark.services
def test_redis_claim_complete_and_replay_cost_one_round_trip_each(redis_url: str) -> None:
    """After warm-up a first call is exactly 2 round trips (claim, complete), a replay 1."""
    store = _counting_redis(redis_url, unique("ns"))
    try:
        warm = store.claim("warm-up", "fp")  # connects and loads the scripts
        assert isinstance(warm, Acquired)
        store.complete("warm-up", warm.token, b"w")
        (warm,) = store.claim_many([("warm-up-batch", "fp")])  # and the batch scripts
        assert isinstance(warm, Acquired)
        store.complete_many([(warm.key, warm.token, b"w")])
        _Counter.sends = 0
        held = store.claim("k", "fp")
        assert isinstance(held, Acquired)
        store.complete("k", held.token, b"r")
        assert _Counter.sends == 2
        _Counter.sends = 0
        assert store.claim("k", "fp") == Completed("k", b"r")
        assert _Counter.sends == 1
        _Counter.sends = 0
        outcomes = store.claim_many([(f"b{i}", "fp") for i in range(100)])
        store.complete_many([(o.key, o.token, b"x") for o in outcomes if isinstance(o, Acquired)])
        assert _Counter.sends == 2
    finally:
        delete_redis_keys(store.client, store.prefix)
        store.close()


@pytest.mark.services
def test_redis_leases_are_judged_by_the_server_clock(redis_store: RedisStore) -> None:
    """A lease is the record's native TTL (plus the grace moment), which Redis counts down on its
    own clock; the record itself holds no worker time."""
    held = redis_store.claim("k", "fp", LEASE)
    assert isinstance(held, Acquired)
    ttl = redis_store.client.pttl(redis_store.record_key("k"))
    lease_ms = LEASE.total_seconds() * 1000
    assert lease_ms + _GRACE_MS - 2000 < ttl <= lease_ms + _GRACE_MS
    assert unpack_record(redis_store.client.get(redis_store.record_key("k"))) == (
        "p",
        held.token,
        "fp",
        b"",
    )


@pytest.mark.services
def test_redis_keys_of_a_namespace_share_one_cluster_slot(redis_store: RedisStore) -> None:
    """Every record and the fence counter hash to one slot, so batch scripts never CROSSSLOT."""
    from redis.crc import key_slot

    keys = ["a", "ключ", "x" * 500, "{braces}", "}{", "k:tricky"]
    slots = {key_slot(redis_store.record_key(k).encode()) for k in keys}
    slots.add(key_slot(redis_store._fence.encode()))
    assert len(slots) == 1
    assert all("{" + redis_store.namespace + "}" in redis_store.record_key(k) for k in keys)


@pytest.mark.services
def test_redis_record_is_one_string_with_a_native_ttl_and_no_index(
    redis_store: RedisStore,
) -> None:
    """A claim and its completion leave exactly two keys in the namespace, the record (one
    string packing state, token, fingerprint and result, expiring natively just past its
    logical expiry) and the fence counter: nothing else is maintained per call."""
    fp = "fp:with:colons:12:ключ"
    held = redis_store.claim("k", fp, LEASE)
    assert isinstance(held, Acquired)
    redis_store.complete("k", held.token, b"12:r\x00\xff", timedelta(seconds=90))
    names = set(redis_store.client.scan_iter(match=f"{redis_store.prefix}:*", count=1000))
    assert names == {redis_store.record_key("k").encode(), redis_store._fence.encode()}
    assert redis_store.client.type(redis_store.record_key("k")) == b"string"
    raw = redis_store.client.get(redis_store.record_key("k"))
    assert unpack_record(raw) == ("c", held.token, fp, b"12:r\x00\xff")
    ttl = redis_store.client.pttl(redis_store.record_key("k"))
    assert 90_000 + _GRACE_MS - 2000 < ttl <= 90_000 + _GRACE_MS


@pytest.mark.services
def test_redis_lease_survives_a_test_clock_stepped_back_past_it(redis_url: str) -> None:
    """A lease taken while the test clock is stepped back by more than the lease stays in
    progress (its TTL never goes negative) and ends when the clock reaches its end."""
    from shipsync.testing.idempotency import FakeClock

    offset = FakeClock(0.0)
    store = RedisStore.from_url(
        redis_url, namespace=unique("ns"), prefix=unique("idemback"), clock_offset=offset
    )
    try:
        offset.advance(-120)
        held = store.claim("k", "fp", timedelta(seconds=10))
        assert isinstance(held, Acquired)
        assert store.claim("k", "fp") == InProgress("k")
        offset.advance(9)
        assert store.claim("k", "fp") == InProgress("k")
        offset.advance(2)
        again = store.claim("k", "fp")
        assert isinstance(again, Acquired)
        assert again.token > held.token
    finally:
        delete_redis_keys(store.client, store.prefix)
        store.close()


def _every_operation_after_a_script_flush(store: RedisStore) -> None:
    """Each operation finds the server without its scripts (SCRIPT FLUSH, as after a restart)
    and must load its script and answer as usual."""
    flush = store.client.script_flush
    flush()
    held = store.claim("k", "fp", LEASE)
    assert isinstance(held, Acquired)
    flush()
    assert store.claim("k", "fp") == InProgress("k")
    flush()
    store.complete("k", held.token, b"r")
    flush()
    assert store.claim("k", "fp") == Completed("k", b"r")
    flush()
    first, second = store.claim_many([("a", "fp"), ("b", "fp")])
    assert isinstance(first, Acquired)
    assert isinstance(second, Acquired)
    flush()
    store.complete_many([("a", first.token, b"1"), ("b", second.token, b"2")])
    assert store.claim_many([("a", "fp"), ("b", "fp")]) == [
        Completed("a", b"1"),
        Completed("b", b"2"),
    ]
    again = store.claim("c", "fp")
    assert isinstance(again, Acquired)
    flush()
    store.release("c", again.token)
    flush()
    with pytest.raises(StaleTokenError):
        store.release("c", again.token)
    flush()
    assert store.sweep() == 0


@pytest.mark.services
def test_redis_store_reloads_its_scripts_after_the_server_lost_them(
    redis_store: RedisStore,
) -> None:
    """A server that lost its scripts (restart, SCRIPT FLUSH) gets each one again on first use,
    with the same keys and arguments as EVALSHA would have carried."""
    _every_operation_after_a_script_flush(redis_store)


@pytest.mark.services
def test_redis_store_with_a_test_clock_reloads_its_scripts_too(redis_url: str) -> None:
    """The same with a test clock offset, which adds an argument to the one-key claim: a lease
    that ran out on the test clock is taken over through a reloaded script."""
    from shipsync.testing.idempotency import FakeClock

    offset = FakeClock(0.0)
    store = RedisStore.from_url(
        redis_url, namespace=unique("ns"), prefix=unique("idemflush"), clock_offset=offset
    )
    try:
        _every_operation_after_a_script_flush(store)
        held = store.claim("d", "fp", LEASE)
        assert isinstance(held, Acquired)
        offset.advance(LEASE.total_seconds() + 1)
        store.client.script_flush()
        again = store.claim("d", "fp", LEASE)
        assert isinstance(again, Acquired)
        assert again.token > held.token
    finally:
        delete_redis_keys(store.client, store.prefix)
        store.close()


def _legacy_record(store: RedisStore, key: str, state: str, token: int, ms_left: int) -> None:
    """Write ``key``'s record as the store's earlier layout did: a hash with the state, the
    fingerprint ``fp``, the token, the expiry in ms of the server clock and (if completed) a
    result, with a native TTL."""
    seconds, micros = store.client.time()
    expiry = seconds * 1000 + micros // 1000 + ms_left
    fields = {"s": state, "f": "fp", "t": str(token), "e": str(expiry)}
    if state == "c":
        fields["r"] = "old result"
    store.client.hset(store.record_key(key), mapping=fields)
    store.client.pexpire(store.record_key(key), max(1, ms_left) + 60_000)


@pytest.mark.services
def test_redis_records_of_the_earlier_layout_survive_the_upgrade(redis_store: RedisStore) -> None:
    """Records written as hashes by the previous version are answered from (a result replays,
    a lease is in progress, another payload mismatches), their holders can still complete them,
    and an expired one is taken over; whatever is rewritten takes the new layout."""
    redis_store.client.set(redis_store._fence, 100)
    _legacy_record(redis_store, "done", "c", 7, 60_000)
    _legacy_record(redis_store, "held", "p", 8, 60_000)
    _legacy_record(redis_store, "stale", "p", 9, -1_000)
    _legacy_record(redis_store, "batch", "c", 10, 60_000)
    assert redis_store.claim("done", "fp") == Completed("done", b"old result")
    with pytest.raises(FingerprintMismatchError):
        redis_store.claim("done", "other fp")
    assert redis_store.claim("held", "fp") == InProgress("held")
    with pytest.raises(StaleTokenError):
        redis_store.complete("held", 99, b"r")
    redis_store.complete("held", 8, b"new result")
    redis_store.complete("held", 8, b"again")  # a no-op, as ever
    assert redis_store.claim("held", "fp") == Completed("held", b"new result")
    assert unpack_record(redis_store.client.get(redis_store.record_key("held")))[:2] == ("c", 8)
    taken = redis_store.claim("stale", "fp")
    assert isinstance(taken, Acquired)
    assert taken.token > 100
    assert unpack_record(redis_store.client.get(redis_store.record_key("stale")))[0] == "p"
    assert redis_store.claim_many([("batch", "fp"), ("fresh", "fp")])[0] == Completed(
        "batch", b"old result"
    )
    _legacy_record(redis_store, "batch-held", "p", 11, 60_000)
    redis_store.complete_many([("batch-held", 11, b"batch result")])
    assert redis_store.claim("batch-held", "fp") == Completed("batch-held", b"batch result")
    _legacy_record(redis_store, "released", "p", 12, 60_000)
    redis_store.release("released", 12)
    assert isinstance(redis_store.claim("released", "fp"), Acquired)


@pytest.mark.services
def test_redis_sweep_leaves_values_that_are_not_records_alone(redis_store: RedisStore) -> None:
    """A damaged value or a key of another type under the namespace is neither counted nor
    deleted by the sweep; the claim on it is a CorruptRecordError."""
    redis_store.client.set(redis_store.record_key("garbage"), b"p12:x")
    redis_store.client.hset(redis_store.record_key("hash"), "s", "p")
    assert redis_store.sweep() == 0
    assert redis_store.client.exists(redis_store.record_key("garbage"))
    assert redis_store.client.exists(redis_store.record_key("hash"))
    for key in ("garbage", "hash"):
        with pytest.raises(CorruptRecordError):
            redis_store.claim(key, "fp")


@pytest.mark.services
def test_redis_sweep_walks_more_than_one_batch(redis_url: str) -> None:
    """The sweep finds expired records across many SCAN pages and removes each once."""
    from shipsync.testing.idempotency import FakeClock

    offset = FakeClock(0.0)
    store = RedisStore.from_url(
        redis_url, namespace=unique("ns"), prefix=unique("idemsw"), clock_offset=offset
    )
    try:
        outcomes = store.claim_many([(f"k{i}", "fp") for i in range(1200)], timedelta(seconds=5))
        assert all(isinstance(o, Acquired) for o in outcomes)
        assert isinstance(store.claim("live", "fp", timedelta(seconds=500)), Acquired)
        offset.advance(10)
        assert store.sweep() == 1200
        assert store.sweep() == 0
        assert store.claim("live", "fp") == InProgress("live")
    finally:
        delete_redis_keys(store.client, store.prefix)
        store.close()


@pytest.mark.services
def test_redis_killed_idle_connection_is_replaced_without_losing_state(
    redis_store: RedisStore,
) -> None:
    """CLIENT KILL of the store's idle connection: the next call reconnects and sees the
    records as they were (a kill during a call is the proxy outage test's business)."""
    held = redis_store.claim("before", "fp")
    assert isinstance(held, Acquired)
    my_id = _lane_client_id(redis_store)
    killer = RedisStore.from_url("redis://127.0.0.1:6379/0")
    killer.client.client_kill_filter(_id=my_id)
    killer.close()
    redis_store.complete("before", held.token, b"r")
    assert _lane_client_id(redis_store) != my_id
    assert redis_store.claim("before", "fp") == Completed("before", b"r")


def _lane_client_id(store: RedisStore) -> int:
    """The Redis client id of the connection the store keeps for its calls (white box)."""
    lane = store._lane
    assert lane is not None
    with lane.lock:
        return int(lane.call((b"CLIENT", b"ID")))


def _pool_takes(store: RedisStore) -> list[int]:
    """Counts the connections the store's client pool hands out from now on."""
    pool = store.client.connection_pool
    taken = [0]
    original = pool.get_connection

    def counting(*args: Any, **kwargs: Any) -> Any:
        taken[0] += 1
        return original(*args, **kwargs)

    pool.get_connection = counting
    return taken


@pytest.mark.services
def test_redis_one_key_calls_keep_one_connection_instead_of_the_pool(
    redis_store: RedisStore,
) -> None:
    """A claim, a complete, a replay and a release each go out on the connection the store
    keeps: the pool hands out none per call (its checkout and health poll were a third of a
    call's client CPU), and the calls still answer right."""
    warm = redis_store.claim("warm", "fp")  # the store takes its connection here
    assert isinstance(warm, Acquired)
    taken = _pool_takes(redis_store)
    for i in range(20):
        held = redis_store.claim(f"k{i}", "fp")
        assert isinstance(held, Acquired)
        redis_store.complete(f"k{i}", held.token, b"r%d" % i)
        assert redis_store.claim(f"k{i}", "fp") == Completed(f"k{i}", b"r%d" % i)
    again = redis_store.claim("again", "fp")
    assert isinstance(again, Acquired)
    redis_store.release("again", again.token)
    assert taken == [0]


@pytest.mark.services
def test_redis_a_call_finding_the_kept_connection_busy_goes_through_the_pool(
    redis_store: RedisStore,
) -> None:
    """While another thread uses the kept connection, a call takes one from the pool instead
    of waiting, and answers the same."""
    redis_store.claim("warm", "fp")
    lane = redis_store._lane
    assert lane is not None
    taken = _pool_takes(redis_store)
    with lane.lock:  # as if another thread were mid-call
        held = redis_store.claim("k", "fp")
        assert isinstance(held, Acquired)
        redis_store.complete("k", held.token, b"r")
        assert redis_store.claim("k", "fp") == Completed("k", b"r")
    assert taken == [3]


@pytest.mark.services
def test_redis_threads_sharing_one_store_each_get_their_own_answers(
    redis_store: RedisStore,
) -> None:
    """Eight threads claim and complete through one store at once (some on the kept connection,
    the rest through the pool): every claim is acquired with a token of its own, every result
    replays to the thread that wrote it, and nothing is answered twice or crosswise."""
    store = redis_store
    errors: list[BaseException] = []
    tokens: list[int] = []
    lock = threading.Lock()

    def work(t: int) -> None:
        try:
            for i in range(150):
                key = f"t{t}-{i}"
                held = store.claim(key, "fp")
                assert isinstance(held, Acquired), held
                store.complete(key, held.token, key.encode())
                assert store.claim(key, "fp") == Completed(key, key.encode())
                with lock:
                    tokens.append(held.token)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert len(tokens) == len(set(tokens)) == 8 * 150


def _busy_server(url: str, seconds: float) -> threading.Thread:
    """Keeps the Redis server busy in a script for ``seconds`` (from its own connection)."""
    import redis

    spin = (
        "local t = redis.call('TIME') local stop = t[1] * 1e6 + t[2] + ARGV[1] * 1e6 "
        "repeat t = redis.call('TIME') until t[1] * 1e6 + t[2] >= stop return 1"
    )
    client = redis.Redis.from_url(url)

    def run() -> None:
        try:
            client.eval(spin, 0, seconds)
        finally:
            client.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.services
def test_redis_a_reply_that_comes_after_a_timeout_is_never_read_as_a_later_answer(
    redis_url: str,
) -> None:
    """A claim times out while the server is busy; its reply still arrives, late. The store
    dropped that connection, so the next calls get their own answers, not the late one, and
    the timed-out claim, which the server did run, is seen as holding its key."""
    store = RedisStore.from_url(
        redis_url, namespace=unique("ns"), prefix=unique("idemlate"), timeout=0.3
    )
    try:
        store.claim("warm", "fp")
        busy = _busy_server(redis_url, 1.0)
        time.sleep(0.1)
        with pytest.raises(StoreUnavailableError):
            store.claim("late", "fp")
        busy.join()
        fresh = store.claim("fresh", "fp")
        assert isinstance(fresh, Acquired)
        assert store.claim("late", "fp") == InProgress("late")
        store.complete("fresh", fresh.token, b"r")
        assert store.claim("fresh", "fp") == Completed("fresh", b"r")
    finally:
        delete_redis_keys(store.client, store.prefix)
        store.close()


@pytest.mark.services
@pytest.mark.parametrize("path", ["kept", "borrowed"])
def test_redis_a_timed_out_call_is_not_resent_even_by_a_retrying_client(
    redis_url: str, path: str
) -> None:
    """A client whose retry policy resends on timeouts: a claim that times out while the server
    is busy is sent once all the same, on the kept connection and on a borrowed one (a resent
    claim would run again once the server is free and find its own lease). The fencing counter,
    which every claim that runs moves by one, says how many ran."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client = redis.Redis.from_url(redis_url, socket_timeout=0.3, retry=Retry(NoBackoff(), 3))
    store = RedisStore(client, namespace=unique("ns"), prefix=unique("idemretry"))
    try:
        store.claim("warm", "fp")
        fence = int(client.get(store._fence) or 0)
        lane = store._lane
        assert lane is not None
        busy = _busy_server(redis_url, 1.0)
        try:
            time.sleep(0.1)
            if path == "borrowed":
                lane.lock.acquire()
            try:
                with pytest.raises(StoreUnavailableError):
                    store.claim("k", "fp")
            finally:
                if path == "borrowed":
                    lane.lock.release()
        finally:
            busy.join()
        assert int(client.get(store._fence) or 0) == fence + 1
        assert store.claim("k", "fp") == InProgress("k")
    finally:
        delete_redis_keys(client, store.prefix)
        store.close()
        client.close()


@pytest.mark.services
async def test_async_redis_store_from_url_keeps_its_timeout_on_every_call(redis_url: str) -> None:
    """AsyncRedisStore.from_url's timeout is a deadline on each call, kept by the store: a claim
    the busy server cannot answer in time raises StoreUnavailableError, its late reply is never
    read as a later call's answer, the claim itself did run, and a sweep is held to the deadline
    too."""
    store = AsyncRedisStore.from_url(
        redis_url, namespace=unique("ns"), prefix=unique("idemadl"), timeout=0.3
    )
    # the store's deadline, not the socket's (which makes redis-py send under wait_for)
    assert store.client.connection_pool.connection_kwargs["socket_timeout"] is None
    try:
        await store.claim("warm", "fp")
        busy = _busy_server(redis_url, 1.0)
        try:
            await asyncio.sleep(0.1)
            started = time.monotonic()
            with pytest.raises(StoreUnavailableError):
                await store.claim("late", "fp")
            assert time.monotonic() - started < 0.8
            with pytest.raises(StoreUnavailableError):
                await store.sweep()
        finally:
            await asyncio.get_running_loop().run_in_executor(None, busy.join)
        fresh = await store.claim("fresh", "fp")
        assert isinstance(fresh, Acquired)
        assert await store.claim("late", "fp") == InProgress("late")
        await store.complete("fresh", fresh.token, b"r")
        assert await store.claim("fresh", "fp") == Completed("fresh", b"r")
        assert await store.sweep() == 0
    finally:
        direct = RedisStore.from_url(redis_url)
        delete_redis_keys(direct.client, store.prefix)
        direct.close()
        await store.close()


class _Interrupted(BaseException):
    """Stands for what can stop a thread mid-call: KeyboardInterrupt, a gevent timeout."""


@pytest.mark.services
def test_redis_a_call_interrupted_before_its_reply_leaves_no_reply_for_the_next_call(
    redis_store: RedisStore, redis_url: str
) -> None:
    """A claim is interrupted after it was sent, while the server is still busy, so its reply
    has not arrived when the next call begins. The store drops that connection: the next
    claim gets its own answer, not the interrupted one's."""
    redis_store.claim("warm", "fp")
    lane = redis_store._lane
    assert lane is not None
    conn = lane._conn

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise _Interrupted

    busy = _busy_server(redis_url, 1.0)
    try:
        time.sleep(0.1)
        conn.read_response = interrupted
        with pytest.raises(_Interrupted):
            redis_store.claim("a", "fp")
        del conn.read_response
        held = redis_store.claim("b", "fp")  # waits for the server, on a new connection
    finally:
        busy.join()
    assert isinstance(held, Acquired)
    redis_store.complete("b", held.token, b"rb")
    assert redis_store.claim("b", "fp") == Completed("b", b"rb")
    assert redis_store.claim("a", "fp") == InProgress("a")


@pytest.mark.services
@pytest.mark.skipif(sys.platform == "win32", reason="fork")
def test_redis_store_used_on_both_sides_of_a_fork_keeps_their_answers_apart(
    redis_store: RedisStore,
) -> None:
    """A store whose connection was taken before ``fork``: the child takes a connection of its
    own (another Redis client id), asked while the parent is idle, when a shared socket would
    still look sound; then parent and child claim and complete at the same time and each gets
    its own answers."""
    import multiprocessing

    store = redis_store
    assert isinstance(store.claim("warm", "fp"), Acquired)
    parent_id = _lane_client_id(store)
    ctx = multiprocessing.get_context("fork")
    reports = ctx.Queue()
    together = ctx.Barrier(2)  # the parent waits here while the child asks for its id

    def pairs(tag: str) -> str:
        together.wait(timeout=30)
        for i in range(300):
            key = f"{tag}-{i}"
            held = store.claim(key, "fp")
            if not isinstance(held, Acquired):
                return f"{key}: {held!r}"
            store.complete(key, held.token, key.encode())
            replay = store.claim(key, "fp")
            if replay != Completed(key, key.encode()):
                return f"{key}: {replay!r}"
        return ""

    def child_run() -> None:
        reports.put(_lane_client_id(store))
        reports.put(pairs("child"))

    child = ctx.Process(target=child_run)
    child.start()
    assert pairs("parent") == ""
    assert reports.get(timeout=60) != parent_id
    assert reports.get(timeout=60) == ""
    child.join(timeout=30)
    assert child.exitcode == 0


@pytest.mark.services
def test_redis_a_store_dropped_without_close_gives_its_connection_back(redis_url: str) -> None:
    """Stores made over a shared client are often dropped, not closed (closing one closes the
    client): the connection a dropped store kept goes back to the client's pool, so making a
    store per request does not use up connections."""
    import redis

    pool = redis.ConnectionPool.from_url(redis_url, max_connections=1)
    client = redis.Redis(connection_pool=pool)
    prefix = unique("idemdrop")
    try:
        for i in range(3):
            store = RedisStore(client, namespace=unique("ns"), prefix=prefix)
            assert isinstance(store.claim(f"k{i}", "fp"), Acquired)
            del store
            gc.collect()
            assert client.ping() is True
    finally:
        delete_redis_keys(client, prefix)
        client.close()
        pool.disconnect()


@pytest.mark.services
def test_redis_clients_the_store_keeps_no_connection_of(redis_url: str) -> None:
    """A client that keeps one connection already, or whose pool caches replies on the client
    side (its connections receive invalidation pushes, which only the pool handles), is used
    through its own ``execute_command``; a plain client gets a kept connection."""
    import redis

    single_client = redis.Redis.from_url(redis_url, single_connection_client=True)
    single = RedisStore(single_client, namespace=unique("ns"), prefix=unique("idemsingle"))
    try:
        assert single._lane is None
        held = single.claim("k", "fp")  # through the client's one connection
        assert isinstance(held, Acquired)
        single.complete("k", held.token, b"r")
        assert single.claim("k", "fp") == Completed("k", b"r")
    finally:
        delete_redis_keys(single_client, single.prefix)
        single.close()
    assert RedisStore(redis.Redis(port=closed_port()))._lane is not None  # nothing connects
    try:
        from redis.cache import CacheConfig
    except ImportError:  # redis-py before 5.1 has no client-side caching
        return
    cached = RedisStore(redis.Redis(port=closed_port(), protocol=3, cache_config=CacheConfig()))
    assert cached._lane is None


@pytest.mark.services
def test_redis_closing_the_store_gives_its_connection_back_to_the_pool(redis_url: str) -> None:
    """The store keeps one connection of the client's pool while it is open; closing it returns
    that connection, so a client with a one-connection pool can be used again afterwards."""
    import redis

    pool = redis.ConnectionPool.from_url(redis_url, max_connections=1)
    client = redis.Redis(connection_pool=pool)
    store = RedisStore(client, namespace=unique("ns"), prefix=unique("idemclose"))
    try:
        held = store.claim("k", "fp")
        assert isinstance(held, Acquired)
        with pytest.raises(redis.ConnectionError):
            client.ping()  # the one connection is the store's
        store.close()
        assert client.ping() is True
    finally:
        delete_redis_keys(client, store.prefix)
        client.close()
        pool.disconnect()


@pytest.mark.services
def test_redis_rejects_a_decoding_client(redis_url: str) -> None:
    """A client that decodes responses to str cannot return results byte for byte."""
    import redis

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    with pytest.raises(ConfigurationError):
        RedisStore(client)
    client.close()


def test_redis_extra_parses_replies_with_hiredis(redis_store: RedisStore) -> None:
    """The `redis` extra installs redis[hiredis]: the store's connections parse replies in C
    (about a tenth of a pair's client CPU, and a sixth of a batch's, in bench/idempotency.py)."""
    pool = redis_store.client.connection_pool
    conn = pool.get_connection(*_get_connection_args(pool))
    try:
        assert type(conn._parser).__name__ == "_HiredisParser"
    finally:
        pool.release(conn)


@pytest.mark.services
async def test_async_redis_round_trips_match_the_sync_store(redis_url: str) -> None:
    """The asyncio store keeps the same contract over redis.asyncio."""
    store = AsyncRedisStore.from_url(redis_url, namespace=unique("ns"), prefix=unique("idemab"))
    try:
        held = await store.claim("k", "fp")
        assert isinstance(held, Acquired)
        await store.complete("k", held.token, b"r")
        assert await store.claim("k", "fp") == Completed("k", b"r")
    finally:
        async for name in store.client.scan_iter(match=f"{store.prefix}:*"):
            await store.client.delete(name)
        await store.close()


@pytest.fixture
def loop_store(redis_url: str) -> Iterator[AsyncRedisStore]:
    """An AsyncRedisStore made outside any event loop, for tests that run several."""
    store = AsyncRedisStore.from_url(redis_url, namespace=unique("ns"), prefix=unique("idemlp"))
    yield store
    direct = RedisStore.from_url(redis_url)
    delete_redis_keys(direct.client, store.prefix)
    direct.close()
    asyncio.run(store.close())


@pytest.mark.services
def test_async_redis_store_serves_one_event_loop_after_another(
    loop_store: AsyncRedisStore,
) -> None:
    """One store across several ``asyncio.run``: each run's connections are closed as its loop
    ends (an unclosed one would warn, an error here) and the next run opens its own."""
    store = loop_store
    held = asyncio.run(store.claim("k", "fp"))
    assert isinstance(held, Acquired)
    assert asyncio.run(store.claim("k", "fp")) == InProgress("k")
    asyncio.run(store.complete("k", held.token, b"r"))
    assert asyncio.run(store.claim_many([("k", "fp")])) == [Completed("k", b"r")]
    assert asyncio.run(store.sweep()) == 0
    gc.collect()  # a connection left open on a closed loop would warn here


@pytest.mark.services
def test_async_redis_store_after_a_loop_closed_without_shutting_down(
    loop_store: AsyncRedisStore,
) -> None:
    """A loop closed without ``shutdown_asyncgens`` leaves its connections open; the store drops
    them from the pool (the collector closes them, with the usual ResourceWarning) and the next
    loop's calls work."""
    store = loop_store
    loop = asyncio.new_event_loop()
    held = loop.run_until_complete(store.claim("k", "fp"))
    assert isinstance(held, Acquired)
    loop.close()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        assert asyncio.run(store.claim("k", "fp")) == InProgress("k")
        asyncio.run(store.complete("k", held.token, b"r"))
        gc.collect()
    assert asyncio.run(store.claim("k", "fp")) == Completed("k", b"r")


@pytest.mark.services
def test_async_redis_store_refuses_a_second_running_loop(loop_store: AsyncRedisStore) -> None:
    """A store whose loop runs in another thread refuses a call from this thread's loop with a
    typed error, and touches nothing of the other's; once that loop has ended it serves here."""
    store = loop_store
    started, stop = threading.Event(), threading.Event()
    seen: list[Any] = []

    def other() -> None:
        async def hold() -> None:
            seen.append(await store.claim("theirs", "fp"))
            started.set()
            while not stop.is_set():
                await asyncio.sleep(0.01)
            seen.append(await store.claim("theirs", "fp"))

        asyncio.run(hold())

    thread = threading.Thread(target=other)
    thread.start()
    try:
        assert started.wait(10)
        with pytest.raises(ConfigurationError, match="another thread"):
            asyncio.run(store.claim("mine", "fp"))
    finally:
        stop.set()
        thread.join(10)
    assert isinstance(seen[0], Acquired)
    assert seen[1] == InProgress("theirs")  # its loop kept its connections
    assert isinstance(asyncio.run(store.claim("mine", "fp")), Acquired)


@pytest.mark.services
async def test_async_redis_store_reloads_its_scripts_after_the_server_lost_them(
    redis_url: str,
) -> None:
    """The asyncio store loads a script the server lost (SCRIPT FLUSH) on first use, too."""
    store = AsyncRedisStore.from_url(redis_url, namespace=unique("ns"), prefix=unique("idemaf"))
    flush = store.client.script_flush
    try:
        await flush()
        held = await store.claim("k", "fp")
        assert isinstance(held, Acquired)
        await flush()
        await store.complete("k", held.token, b"r")
        await flush()
        assert await store.claim("k", "fp") == Completed("k", b"r")
        await flush()
        (batch,) = await store.claim_many([("a", "fp")])
        assert isinstance(batch, Acquired)
        await flush()
        await store.complete_many([("a", batch.token, b"1")])
        again = await store.claim("c", "fp")
        assert isinstance(again, Acquired)
        await flush()
        await store.release("c", again.token)
        await flush()
        assert await store.sweep() == 0
        assert await store.claim_many([("a", "fp")]) == [Completed("a", b"1")]
    finally:
        async for name in store.client.scan_iter(match=f"{store.prefix}:*"):
            await store.client.delete(name)
        await store.close()


# --- PostgreSQL ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_table(postgres_dsn: str) -> Iterator[str]:
    table = unique("idem_back")
    PostgresStore(postgres_dsn, table=table).close()
    yield table
    drop_postgres_table(postgres_dsn, table)


@pytest.fixture
def pg_store(postgres_dsn: str, pg_table: str) -> Iterator[PostgresStore]:
    with PostgresStore(postgres_dsn, table=pg_table, namespace=unique("ns"), setup=False) as s:
        yield s


def _round_trips(store: PostgresStore, call: Any) -> int:
    """Run ``call`` with libpq tracing on; count ReadyForQuery messages (one per round trip)."""
    import psycopg

    conn = store.connection
    with tempfile.TemporaryFile("w+") as trace:
        conn.pgconn.trace(trace.fileno())
        conn.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            call()
        finally:
            conn.pgconn.untrace()
        trace.seek(0)
        return sum("ReadyForQuery" in line for line in trace)


@pytest.mark.services
def test_postgres_claim_complete_and_replay_cost_one_round_trip_each(
    pg_store: PostgresStore,
) -> None:
    """After warm-up (prepared statements) a first call costs 2 round trips, a replay 1."""
    for i in range(8):
        warm = pg_store.claim(f"warm-{i}", "fp")
        assert isinstance(warm, Acquired)
        pg_store.complete(warm.key, warm.token, b"w")
        pg_store.claim(warm.key, "fp")
    held: list[Any] = []
    assert _round_trips(pg_store, lambda: held.append(pg_store.claim("k", "fp"))) == 1
    assert _round_trips(pg_store, lambda: pg_store.complete("k", held[0].token, b"r")) == 1
    assert _round_trips(pg_store, lambda: pg_store.claim("k", "fp")) == 1
    assert pg_store.claim("k", "fp") == Completed("k", b"r")


@pytest.mark.services
def test_postgres_completions_rewrite_rows_in_place(
    postgres_dsn: str, table_updates: Callable[[str, int], tuple[int, int]]
) -> None:
    """A dispatcher's completion is a HOT update: the row's new version stays on its page and
    the primary key's index gains no entry (the table leaves room on each page for it)."""
    table = unique("idem_hot")
    try:
        with PostgresStore(postgres_dsn, table=table, namespace=unique("ns")) as store:
            # Keys, fingerprints and results the size of the dispatcher's: an event id and a
            # handler, a SHA-256, one byte.
            items = [(f"{unique('event')}:handler-{i}", f"{i:064x}") for i in range(400)]
            outcomes = store.claim_many(items)
            store.complete_many(
                [(key, o.token, b"1") for (key, _), o in zip(items, outcomes, strict=True)]
            )
        updated, hot = table_updates(table, len(items))  # the session has ended
        assert updated == len(items)
        # 385 of 400 here (PostgreSQL 15, 8 kB pages); 100 of 400 at the old fillfactor of 80.
        assert hot >= 0.9 * updated, f"{hot} of {updated} completions were HOT updates"
    finally:
        drop_postgres_table(postgres_dsn, table)


@pytest.mark.services
@pytest.mark.parametrize(
    ("before", "after"),
    [("fillfactor = 80", "50"), (None, "50"), ("fillfactor = 70", "70"), ("fillfactor = 90", "90")],
)
def test_postgres_setup_gives_an_earlier_versions_table_the_new_fillfactor(
    postgres_dsn: str, before: str | None, after: str
) -> None:
    """A table an earlier version made (fillfactor 80, or none set before that) gets 50 from
    ``setup``, so its completions become HOT updates too; a fillfactor somebody chose stays."""
    import psycopg

    table = unique("idem_ff")
    try:
        PostgresStore(postgres_dsn, table=table).close()
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            change = f"SET ({before})" if before else "RESET (fillfactor)"
            conn.execute(f"ALTER TABLE {table} {change}")
            PostgresStore(postgres_dsn, table=table).close()
            row = conn.execute(
                "SELECT option_value FROM pg_options_to_table("
                "(SELECT reloptions FROM pg_class WHERE oid = %s::regclass)) "
                "WHERE option_name = 'fillfactor'",
                (table,),
            ).fetchone()
        assert row == (after,)
    finally:
        drop_postgres_table(postgres_dsn, table)


@pytest.mark.services
def test_postgres_leases_are_judged_by_the_server_clock(pg_store: PostgresStore) -> None:
    """The stored expiry is the server's now() plus the lease."""
    assert isinstance(pg_store.claim("k", "fp", LEASE), Acquired)
    row = pg_store.connection.execute(
        f"SELECT extract(epoch FROM expires_at - now()) FROM {pg_store.table} WHERE ns = %s",
        [pg_store.namespace],
    ).fetchone()
    assert row is not None
    assert LEASE.total_seconds() - 2 < float(row[0]) <= LEASE.total_seconds()


@pytest.mark.services
def test_postgres_backend_terminated_mid_run_is_a_typed_retryable_error(
    postgres_dsn: str, pg_store: PostgresStore
) -> None:
    """pg_terminate_backend on the store's connection: one StoreUnavailableError, then the store
    reconnects by itself."""
    import psycopg

    assert isinstance(pg_store.claim("before", "fp"), Acquired)
    pid = pg_store.connection.info.backend_pid
    with psycopg.connect(postgres_dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    with pytest.raises(StoreUnavailableError) as info:
        pg_store.claim("during", "fp")
    assert info.value.retryable
    assert isinstance(pg_store.claim("after", "fp"), Acquired)


@pytest.mark.services
async def test_async_postgres_store_keeps_the_contract(postgres_dsn: str, pg_table: str) -> None:
    """The async twin runs the same SQL over psycopg's AsyncConnection."""
    store = await AsyncPostgresStore.open(postgres_dsn, table=pg_table, namespace=unique("ns"))
    try:
        held = await store.claim("k", "fp")
        assert isinstance(held, Acquired)
        await store.complete("k", held.token, b"r")
        assert await store.claim("k", "fp") == Completed("k", b"r")
    finally:
        await store.close()


@pytest.mark.services
@pytest.mark.parametrize(("durable", "setting"), [(True, "on"), (False, "off")])
def test_postgres_synchronous_commit_is_a_store_setting(
    postgres_dsn: str, pg_table: str, durable: bool, setting: str
) -> None:
    """synchronous_commit=False relaxes durability for the store's session only."""
    with PostgresStore(
        postgres_dsn, table=pg_table, setup=False, synchronous_commit=durable
    ) as store:
        row = store.connection.execute("SHOW synchronous_commit").fetchone()
        assert row == (setting,)
        assert isinstance(store.claim(unique("k"), "fp"), Acquired)


def test_postgres_table_names_are_checked() -> None:
    """A table name that is not a plain identifier is refused before any SQL runs."""
    with pytest.raises(ConfigurationError):
        PostgresStore("postgresql://unused", table="x; DROP TABLE y", setup=False)


# --- optional extras -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "build", "extra"),
    [
        ("redis", lambda: RedisStore(object()), "redis"),  # type: ignore[arg-type]
        ("redis", lambda: RedisStore.from_url("redis://x"), "redis"),
        ("psycopg", lambda: PostgresStore("postgresql://x"), "postgres"),
    ],
    ids=["redis", "redis-from-url", "postgres"],
)
def test_missing_driver_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, module: str, build: Any, extra: str
) -> None:
    """Without the driver installed the store says which extra to install."""
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MissingDependencyError) as info:
        build()
    assert info.value.extra == extra
    assert f"shipsync[{extra}]" in str(info.value)


# --- SQLite --------------------------------------------------------------------------------------


def test_sqlite_store_runs_in_wal_mode_and_shares_one_file(tmp_path: Path) -> None:
    """The database is in WAL mode; two stores on one file see each other's records."""
    path = tmp_path / "idem.db"
    with SQLiteStore(path) as one, SQLiteStore(path) as two:
        held = one.claim("k", "fp")
        assert isinstance(held, Acquired)
        two.complete("k", held.token, b"r")
        assert one.claim("k", "fp") == Completed("k", b"r")
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn.close()


@pytest.mark.parametrize(
    "kwargs",
    [{"table": "bad name"}, {"namespace": "has space"}, {"synchronous": "SOMETIMES"}],
    ids=["table", "namespace", "synchronous"],
)
def test_sqlite_store_checks_its_settings(tmp_path: Path, kwargs: dict[str, str]) -> None:
    """Malformed settings are a ConfigurationError before anything is written."""
    with pytest.raises(ConfigurationError):
        SQLiteStore(tmp_path / "x.db", **kwargs)  # type: ignore[arg-type]


def test_sqlite_store_that_cannot_open_its_file_is_unavailable(tmp_path: Path) -> None:
    """A path that cannot be opened is a StoreUnavailableError, not a sqlite3 exception."""
    with pytest.raises(StoreUnavailableError):
        SQLiteStore(tmp_path / "missing-dir" / "x.db")
