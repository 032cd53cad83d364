"""Trying to break the stores and the guard: odd arguments, racing batches, cancellation at every
await, connections cut between claim and complete. Every failure is a typed shipsync error."""

from __future__ import annotations

import asyncio
import contextvars
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pydantic
import pytest
from idem_support import (
    CuttableProxy,
    delete_redis_keys,
    postgres_harness,
    redis_harness,
    sqlite_harness,
    unique,
)

from shipsync.errors import (
    CompletionFailedError,
    ConfigurationError,
    FingerprintMismatchError,
    StaleTokenError,
    StoreUnavailableError,
)
from shipsync.idempotency import (
    DEFAULT_LEASE,
    DEFAULT_RETENTION,
    Acquired,
    AsyncMemoryStore,
    Completed,
    InProgress,
    MemoryStore,
    PostgresStore,
    RedisStore,
    SQLiteStore,
    idempotent,
)
from shipsync.testing.idempotency import StoreHarness


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("redis", marks=pytest.mark.services),
        pytest.param("postgres", marks=pytest.mark.services),
    ]
)
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreHarness]:
    """A harness for each backend that talks to a real engine."""
    if request.param == "sqlite":
        with sqlite_harness(tmp_path) as h:
            yield h
    elif request.param == "redis":
        with redis_harness(request.getfixturevalue("redis_url")) as h:
            yield h
    else:
        with postgres_harness(request.getfixturevalue("postgres_dsn")) as h:
            yield h


def _close(store: object) -> None:
    close = getattr(store, "close", None)
    if close is not None:
        close()


# -- arguments no backend can store ------------------------------------------------------------

_BAD_SPANS = {
    "zero": timedelta(0),
    "negative": timedelta(seconds=-5),
    "under-a-millisecond": timedelta(microseconds=100),
    "max": timedelta.max,
    "a-thousand-years": timedelta(days=365_000),
}


@pytest.mark.parametrize("span", list(_BAD_SPANS.values()), ids=list(_BAD_SPANS))
def test_leases_and_retentions_out_of_range_are_refused_before_anything_is_written(
    harness: StoreHarness, span: timedelta
) -> None:
    """A lease or retention no backend can represent (a zero lease would let two claimants
    both win) is a ConfigurationError, and the store is left as it was."""
    store = harness.make(unique("span"))
    try:
        with pytest.raises(ConfigurationError):
            store.claim("k", "fp", span)
        with pytest.raises(ConfigurationError):
            store.claim_many([("k", "fp")], span)
        held = store.claim("k", "fp")
        assert isinstance(held, Acquired)
        with pytest.raises(ConfigurationError):
            store.complete("k", held.token, b"r", span)
        with pytest.raises(ConfigurationError):
            store.complete_many([("k", held.token, b"r")], span)
        assert store.claim("k", "fp") == InProgress("k")
        store.complete("k", held.token, b"r", timedelta(days=365 * 99))
        assert store.claim("k", "fp") == Completed("k", b"r")
    finally:
        _close(store)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda s, t: s.claim("k", "nul\x00fp"), id="nul-fingerprint"),
        pytest.param(lambda s, t: s.claim("k", "lone \udc80"), id="surrogate-fingerprint"),
        pytest.param(lambda s, t: s.claim(7, "fp"), id="int-key"),
        pytest.param(lambda s, t: s.claim_many([("k2", "fp"), ("k", "\x00")]), id="batch-nul"),
        pytest.param(lambda s, t: s.complete("k", t, "text"), id="str-result"),
        pytest.param(lambda s, t: s.complete("k", t, 10**9), id="int-result"),
        pytest.param(lambda s, t: s.complete("k", str(t), b"r"), id="str-token"),
        pytest.param(lambda s, t: s.complete_many([("k", t, None)]), id="batch-none-result"),
        pytest.param(lambda s, t: s.release(b"k", t), id="bytes-key-release"),
    ],
)
def test_arguments_of_the_wrong_form_are_configuration_errors(
    harness: StoreHarness, call: Callable[[Any, int], object]
) -> None:
    """A fingerprint that cannot be stored as text, a key that is not a str, a result that is not
    bytes (an int must not become a gigabyte of zeros) or a token that is not an int: a
    ConfigurationError, never a driver's TypeError, and nothing changes."""
    store = harness.make(unique("args"))
    try:
        held = store.claim("k", "fp")
        assert isinstance(held, Acquired)
        with pytest.raises(ConfigurationError):
            call(store, held.token)
        assert store.claim("k", "fp") == InProgress("k")
        assert isinstance(store.claim("k2", "fp"), Acquired)
        store.complete("k", held.token, b"r")
        assert store.claim("k", "fp") == Completed("k", b"r")
    finally:
        _close(store)


def test_any_string_is_a_key_even_empty_or_a_megabyte(harness: StoreHarness) -> None:
    """The empty key and a 1 MB key are keys like any other (hashed, never truncated)."""
    store = harness.make(unique("keys"))
    try:
        for key in ("", "€" * 350_000, "€" * 349_999 + "x"):
            held = store.claim(key, "fp")
            assert isinstance(held, Acquired)
            store.complete(key, held.token, b"r")
            assert store.claim(key, "fp") == Completed(key, b"r")
    finally:
        _close(store)


# -- racing batches ----------------------------------------------------------------------------


@pytest.mark.services
def test_postgres_batches_over_the_same_keys_in_opposite_orders_do_not_deadlock(
    postgres_dsn: str,
) -> None:
    """Four clients claim the same 2,000 keys at once, two in each order: no deadlock error,
    exactly one winner per key (rows are locked in one order whatever the batch order)."""
    with postgres_harness(postgres_dsn) as h:
        ns = unique("dl")
        clients = [h.make(ns) for _ in range(4)]
        errors: list[BaseException] = []
        winners: list[str] = []
        barrier = threading.Barrier(len(clients))

        def run(client: Any, reverse: bool) -> None:
            for round_ in range(3):
                keys = [f"r{round_}-{i}" for i in range(2000)]
                if reverse:
                    keys.reverse()
                barrier.wait()
                try:
                    outcomes = client.claim_many([(k, "fp") for k in keys])
                except Exception as exc:
                    errors.append(exc)
                    continue
                winners.extend(o.key for o in outcomes if isinstance(o, Acquired))

        threads = [
            threading.Thread(target=run, args=(c, i % 2 == 1)) for i, c in enumerate(clients)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for c in clients:
            _close(c)
        assert errors == []
        assert len(winners) == len(set(winners)) == 3 * 2000


@pytest.mark.services
def test_postgres_completions_racing_takeovers_in_opposite_orders_do_not_deadlock(
    postgres_dsn: str,
) -> None:
    """A holder completes 2,000 expired leases in one order while another client takes the same
    keys over in the opposite order: no deadlock, and every key ends either completed by the
    holder (the taker sees its result) or taken over (the holder's completion is stale)."""
    with postgres_harness(postgres_dsn) as h:
        ns = unique("dlc")
        holder, taker = h.make(ns), h.make(ns)
        keys = [f"k{i:04d}" for i in range(2000)]
        held = holder.claim_many([(k, "fp") for k in keys], timedelta(seconds=5))
        assert all(isinstance(o, Acquired) for o in held)
        h.advance(10)
        barrier = threading.Barrier(2)
        stale: list[str] = []
        taken: list[Any] = []
        errors: list[BaseException] = []

        def complete() -> None:
            barrier.wait()
            try:
                holder.complete_many([(o.key, o.token, b"done") for o in reversed(held)])
            except StaleTokenError as exc:
                stale.extend(exc.keys)
            except Exception as exc:
                errors.append(exc)

        def take_over() -> None:
            barrier.wait()
            try:
                taken.extend(taker.claim_many([(k, "fp") for k in keys]))
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=complete), threading.Thread(target=take_over)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        _close(holder)
        _close(taker)
        assert errors == []
        acquired = {o.key for o in taken if isinstance(o, Acquired)}
        assert acquired == set(stale)
        assert all(o == Completed(o.key, b"done") for o in taken if o.key not in acquired)


# -- the guard: results, shared guards, cancellation at every await ------------------------------


def test_a_function_returning_bytes_replays_the_same_bytes() -> None:
    """bytes returned by a guarded function are stored as JSON like any value, so the replay
    gives the same bytes back instead of failing to decode them."""
    store = MemoryStore()
    runs: list[int] = []

    @idempotent(store, key="k")
    def work() -> bytes:
        runs.append(1)
        return b"label-pdf"

    assert work() == b"label-pdf"
    assert work() == b"label-pdf"
    assert runs == [1]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"lease": timedelta(0)},
        {"lease": timedelta(seconds=-1)},
        {"retention": timedelta(0)},
        {"retention": timedelta.max},
    ],
    ids=["lease-zero", "lease-negative", "retention-zero", "retention-max"],
)
def test_guard_refuses_spans_out_of_range_when_built(kwargs: dict[str, timedelta]) -> None:
    """idempotent(...) checks its lease and retention at once, whatever the store."""
    with pytest.raises(ConfigurationError):
        idempotent(MemoryStore(), key="k", **kwargs)


@pytest.mark.parametrize(
    ("key", "fingerprint"),
    [(lambda: 42, "fp"), (lambda: "k", lambda: 3), (lambda: "k", lambda: "a\x00b")],
    ids=["int-key", "int-fingerprint", "nul-fingerprint"],
)
def test_guard_refuses_derived_keys_and_fingerprints_of_the_wrong_form(
    key: Callable[[], object], fingerprint: object
) -> None:
    """A key function that returns a non-str, or a fingerprint no store can keep, is a
    ConfigurationError before anything runs."""
    store = MemoryStore()
    ran: list[int] = []
    guard = idempotent(store, key=key, fingerprint=fingerprint)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError), guard:
        ran.append(1)
    assert ran == []


def test_default_fingerprint_binds_arguments_so_an_identical_retry_replays() -> None:
    """Positional, keyword and defaulted spellings of one call are one payload: the retry
    replays instead of raising FingerprintMismatchError; another value still mismatches."""
    store = MemoryStore()
    runs: list[str] = []

    @idempotent(store, key=lambda shipment, service="ground": f"book:{shipment}")
    def book(shipment: str, service: str = "ground") -> str:
        runs.append(shipment)
        return f"{shipment}/{service}"

    assert book("S-1") == "S-1/ground"
    assert book(shipment="S-1") == "S-1/ground"
    assert book("S-1", "ground") == "S-1/ground"
    assert book("S-1", service="ground") == "S-1/ground"
    assert runs == ["S-1"]
    with pytest.raises(FingerprintMismatchError):
        book("S-1", "air")


_late_store = MemoryStore()


@idempotent(_late_store, key="late")
def _late_work() -> _LateModel:
    return _LateModel(n=1)


class _LateModel(pydantic.BaseModel):
    n: int


def test_return_type_defined_after_the_function_is_used_for_replays() -> None:
    """A return annotation naming a class defined after the decorated function still decodes
    replays as that class (it is resolved at the first replay, not at decoration)."""
    assert _late_work() == _LateModel(n=1)
    replay = _late_work()
    assert isinstance(replay, _LateModel)
    assert replay == _LateModel(n=1)


_delivery: contextvars.ContextVar[str] = contextvars.ContextVar("delivery")


async def test_one_guard_serves_concurrent_tasks_without_mixing_their_calls() -> None:
    """A guard object shared by concurrent `async with` blocks completes each block's own key
    with that block's own result."""
    store = MemoryStore()
    guard = idempotent(AsyncMemoryStore(store), key=lambda: _delivery.get(), fingerprint="fp")
    inside = [asyncio.Event(), asyncio.Event()]
    leave = [asyncio.Event(), asyncio.Event()]

    async def handle(i: int) -> None:
        _delivery.set(f"d{i}")
        async with guard as call:
            inside[i].set()
            await leave[i].wait()
            call.set_result(f"result {i}")

    tasks = [asyncio.ensure_future(handle(i)) for i in (0, 1)]
    await inside[0].wait()
    await inside[1].wait()
    leave[0].set()
    await tasks[0]
    leave[1].set()
    await tasks[1]
    assert store.claim("d0", "fp") == Completed("d0", b'"result 0"')
    assert store.claim("d1", "fp") == Completed("d1", b'"result 1"')


def test_nested_blocks_of_one_guard_keep_their_own_outbound_keys() -> None:
    """Nested `with` blocks of one guard each complete their own key."""
    store = MemoryStore()
    keys = iter(["outer", "inner"])
    guard = idempotent(store, key=lambda: next(keys), fingerprint="fp")
    with guard as outer:
        with guard as inner:
            inner.set_result(2)
        outer.set_result(1)
    assert store.claim("outer", "fp") == Completed("outer", b"1")
    assert store.claim("inner", "fp") == Completed("inner", b"2")


class GatedStore:
    """An async memory store whose chosen method waits for the test to open a gate, either
    before it does its work (the request is in flight) or after (the answer is in flight)."""

    def __init__(self, store: MemoryStore, method: str, where: str) -> None:
        self.inner = AsyncMemoryStore(store)
        self.namespace = store.namespace
        self.method, self.where = method, where
        self.reached = asyncio.Event()
        self.gate = asyncio.Event()

    async def _step(self, name: str, work: Callable[[], Awaitable[Any]]) -> Any:
        if name != self.method:
            return await work()
        self.reached.set()
        if self.where == "before":
            await self.gate.wait()
        value = await work()
        if self.where == "after":
            await self.gate.wait()
        return value

    async def claim(self, key: str, fingerprint: str, lease: timedelta = DEFAULT_LEASE) -> Any:
        return await self._step("claim", lambda: self.inner.claim(key, fingerprint, lease))

    async def complete(
        self, key: str, token: int, result: bytes, retention: timedelta = DEFAULT_RETENTION
    ) -> None:
        await self._step("complete", lambda: self.inner.complete(key, token, result, retention))

    async def release(self, key: str, token: int) -> None:
        await self._step("release", lambda: self.inner.release(key, token))


@pytest.mark.parametrize("where", ["before", "after"])
@pytest.mark.parametrize("method", ["claim", "complete", "release"])
@pytest.mark.parametrize("form", ["decorator", "async-with"])
async def test_cancellation_during_a_store_call_leaves_no_key_held(
    method: str, form: str, where: str
) -> None:
    """Cancelled while a store call is in flight (request or answer): a granted claim is
    released (nothing ran), a completion is recorded (it ran once and replays), a release
    still frees the key; then the cancellation propagates."""
    store = MemoryStore()
    gated = GatedStore(store, method, where)
    runs: list[str] = []

    async def body() -> str:
        runs.append("run")
        if method == "release":
            raise RuntimeError("handler failed")
        return "done"

    if form == "decorator":
        run = idempotent(gated, key="k", fingerprint="fp")(body)  # type: ignore[arg-type]
    else:

        async def run() -> str:
            async with idempotent(gated, key="k", fingerprint="fp") as call:  # type: ignore[arg-type]
                value = await body()
                call.set_result(value)
                return value

    task = asyncio.ensure_future(run())
    await gated.reached.wait()
    task.cancel()
    for _ in range(3):
        await asyncio.sleep(0)  # the cancellation is delivered while the answer is pending
    gated.gate.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    after = store.claim("k", "fp")
    if method == "complete":
        assert runs == ["run"]
        assert after == Completed("k", b'"done"')
    else:
        assert runs == ([] if method == "claim" else ["run"])
        assert isinstance(after, Acquired)


# -- connections cut between claim and complete ------------------------------------------------


@pytest.fixture(
    params=[
        pytest.param("redis", marks=pytest.mark.services),
        pytest.param("postgres", marks=pytest.mark.services),
    ]
)
def cut_store(request: pytest.FixtureRequest) -> Iterator[tuple[Any, CuttableProxy]]:
    """A store that reaches its server through a proxy the test can cut."""
    ns = unique("cut")
    if request.param == "redis":
        request.getfixturevalue("redis_url")
        proxy = CuttableProxy(6379)
        prefix = unique("idemcut")
        store = RedisStore.from_url(
            f"redis://127.0.0.1:{proxy.port}/0", namespace=ns, prefix=prefix, timeout=2
        )
        yield store, proxy
        store.close()
        direct = RedisStore.from_url(request.getfixturevalue("redis_url"))
        delete_redis_keys(direct.client, prefix)
        direct.close()
    else:
        from idem_support import drop_postgres_table

        dsn = request.getfixturevalue("postgres_dsn")
        table = unique("idem_cut")
        PostgresStore(dsn, table=table).close()
        proxy = CuttableProxy(5432)
        store = PostgresStore(
            f"postgresql://postgres@127.0.0.1:{proxy.port}/test",
            table=table,
            namespace=ns,
            setup=False,
            connect_timeout=2,
        )
        yield store, proxy
        store.close()
        drop_postgres_table(dsn, table)
    proxy.close()


def test_connection_cut_between_claim_and_complete_is_reconciled_by_retrying_complete(
    cut_store: tuple[Any, CuttableProxy],
) -> None:
    """The link drops after the claim: complete raises CompletionFailedError (not recorded);
    once the link is back, the same token completes and the key replays; a forged token
    still cannot."""
    store, proxy = cut_store
    held = store.claim("k", "fp")
    assert isinstance(held, Acquired)
    proxy.cut()
    with pytest.raises(CompletionFailedError):
        store.complete("k", held.token, b"r")
    proxy.heal()
    with pytest.raises(StaleTokenError):
        store.complete("k", held.token + 1, b"forged")
    assert store.claim("k", "fp") == InProgress("k")
    store.complete("k", held.token, b"r")
    store.complete("k", held.token, b"r")  # a lost answer retried: no-op
    assert store.claim("k", "fp") == Completed("k", b"r")


# -- optional extras -----------------------------------------------------------------------------

_WITHOUT_DRIVERS = """
import sys

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("redis", "psycopg"):
            raise ImportError(f"no module named {name}")
        return None

sys.meta_path.insert(0, Block())
import shipsync.idempotency as idem
from shipsync.errors import MissingDependencyError

with idem.SQLiteStore(":memory:") as store:
    assert isinstance(store.claim("k", "fp"), idem.Acquired)
for build, extra in [
    (lambda: idem.AsyncRedisStore.from_url("redis://x"), "redis"),
    (lambda: idem.AsyncPostgresStore("postgresql://x"), "postgres"),
    (lambda: idem.RedisStore.from_url("redis://x"), "redis"),
    (lambda: idem.PostgresStore("postgresql://x"), "postgres"),
]:
    try:
        build()
    except MissingDependencyError as exc:
        assert exc.extra == extra, exc.extra
    else:
        raise AssertionError("built a store without its driver")
print("ok")
"""


def test_without_the_drivers_the_package_imports_and_the_stores_name_their_extra() -> None:
    """With redis and psycopg not installed, shipsync.idempotency still imports and works with
    SQLite, and every Redis or PostgreSQL store (sync and async) raises MissingDependencyError
    naming its extra, when it is built."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_DRIVERS], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


# -- SQLite failure modes ----------------------------------------------------------------------


def test_a_closed_sqlite_store_is_unavailable_not_corrupt(tmp_path: Path) -> None:
    """Calls on a closed store are StoreUnavailableError (CompletionFailedError for complete),
    not 'the store is damaged'."""
    store = SQLiteStore(tmp_path / "idem.db")
    held = store.claim("k", "fp")
    assert isinstance(held, Acquired)
    store.close()
    with pytest.raises(StoreUnavailableError):
        store.claim("k", "fp")
    with pytest.raises(CompletionFailedError):
        store.complete("k", held.token, b"r")
    with pytest.raises(StoreUnavailableError):
        store.release("k", held.token)


def test_a_result_over_sqlites_length_limit_is_a_completion_failure(tmp_path: Path) -> None:
    """A result SQLite cannot hold is CompletionFailedError (the work ran, nothing recorded),
    not CorruptRecordError; the key stays held."""
    store = SQLiteStore(tmp_path / "idem.db")
    store._conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 1000)
    held = store.claim("k", "fp")
    assert isinstance(held, Acquired)
    with pytest.raises(CompletionFailedError):
        store.complete("k", held.token, b"x" * 5000)
    assert store.claim("k", "fp") == InProgress("k")
    store.close()


class _BrokenStore:
    """A sync store whose complete or release fails with an error no store should raise."""

    def __init__(self, failing: str) -> None:
        self.inner = MemoryStore()
        self.namespace = self.inner.namespace
        self.failing = failing

    def claim(self, key: str, fingerprint: str, lease: timedelta = DEFAULT_LEASE) -> Any:
        return self.inner.claim(key, fingerprint, lease)

    def complete(
        self, key: str, token: int, result: bytes, retention: timedelta = DEFAULT_RETENTION
    ) -> None:
        if self.failing == "complete":
            raise RuntimeError("driver bug")
        self.inner.complete(key, token, result, retention)

    def release(self, key: str, token: int) -> None:
        if self.failing == "release":
            raise RuntimeError("driver bug")
        self.inner.release(key, token)


def test_any_failure_to_record_after_the_work_is_a_completion_failure() -> None:
    """Whatever the store raises from complete(), the guard reports CompletionFailedError: the
    caller must know the side effect ran."""
    store = _BrokenStore("complete")
    runs: list[int] = []

    @idempotent(store, key="k", fingerprint="fp")  # type: ignore[arg-type]
    def work() -> int:
        runs.append(1)
        return 1

    with pytest.raises(CompletionFailedError):
        work()
    assert runs == [1]


def test_a_failing_release_does_not_hide_the_handlers_exception() -> None:
    """When the handler fails and the release fails too, the handler's exception propagates."""
    store = _BrokenStore("release")

    @idempotent(store, key="k", fingerprint="fp")  # type: ignore[arg-type]
    def work() -> int:
        raise LookupError("the handler's own error")

    with pytest.raises(LookupError):
        work()


@pytest.mark.parametrize("bad", ["", "with space", "x" * 121, "tab\t", "ключ"], ids=repr)
def test_every_store_refuses_a_malformed_namespace(bad: str, tmp_path: Path) -> None:
    """An empty, too long or non-ASCII namespace (use namespace(...) to build one from any
    parts) is a ConfigurationError when the store is built, before any connection."""
    builders: list[Callable[[], object]] = [
        lambda: MemoryStore(namespace=bad),
        lambda: SQLiteStore(tmp_path / "idem.db", namespace=bad),
        lambda: PostgresStore("postgresql://unused", namespace=bad, setup=False),
        lambda: RedisStore.from_url("redis://127.0.0.1:1/0", namespace=bad),
    ]
    for build in builders:
        with pytest.raises(ConfigurationError):
            build()


@pytest.mark.parametrize("form", ["with", "async-with"])
async def test_a_block_result_with_no_json_form_keeps_the_key_held(form: str) -> None:
    """set_result() with a value that has no JSON form: the block ends in
    CompletionFailedError and the key stays held (the work ran), instead of raising inside the
    block, which would release the key for a second execution."""
    store = MemoryStore()
    effects: list[int] = []

    async def block() -> None:
        if form == "with":
            with idempotent(store, key="k", fingerprint="fp") as call:
                effects.append(1)
                call.set_result(object())
        else:
            async with idempotent(AsyncMemoryStore(store), key="k", fingerprint="fp") as call:
                effects.append(1)
                call.set_result(object())

    with pytest.raises(CompletionFailedError):
        await block()
    assert effects == [1]
    assert store.claim("k", "fp") == InProgress("k")


def test_an_empty_bytes_result_is_stored_as_it_is() -> None:
    """set_result(b"") stores empty bytes, not JSON null."""
    store = MemoryStore()
    with idempotent(store, key="k", fingerprint="fp") as call:
        call.set_result(b"")
    assert store.claim("k", "fp") == Completed("k", b"")


# -- fingerprints of equal payloads ------------------------------------------------------------

_FINGERPRINT_A_SET = (
    "from shipsync.idempotency import fingerprint;"
    "print(fingerprint({'parcel-1', 'parcel-2', 'parcel-3', 'parcel-4'}, tags=frozenset('xyz')))"
)


def test_a_set_argument_fingerprints_the_same_in_every_process() -> None:
    """A set's order changes with the process's hash seed; its fingerprint does not, so an
    identical retry handled by another worker process replays instead of mismatching."""
    import os
    import subprocess
    import sys

    prints = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", _FINGERPRINT_A_SET],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=True,
        )
        prints.add(done.stdout.strip())
    assert len(prints) == 1


def test_equal_mappings_fingerprint_the_same_whatever_their_order() -> None:
    """Two equal dicts (keys inserted in another order, nested too) are one payload; a string
    with a lone surrogate fingerprints instead of failing."""
    from shipsync.idempotency import fingerprint

    a = {"to": {"city": "Lyon", "zip": "69001"}, "parcels": [1, 2]}
    b = {"parcels": [1, 2], "to": {"zip": "69001", "city": "Lyon"}}
    assert a == b
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint({**a, "parcels": [2, 1]})
    assert fingerprint("x\udc80") != fingerprint("x\udc81")


class _NotValidatable:
    """A plain class: pydantic has no validator for it."""

    def __init__(self, a: int) -> None:
        self.a = a


def test_a_return_annotation_pydantic_cannot_validate_is_a_configuration_error() -> None:
    """A replay whose return annotation pydantic cannot validate (a plain class) raises
    ConfigurationError, not pydantic's own exception; the function still runs only once."""
    store = MemoryStore()
    runs: list[int] = []

    @idempotent(store, key="k")
    def work() -> _NotValidatable:
        runs.append(1)
        return {"a": 1}  # type: ignore[return-value]

    assert work() == {"a": 1}
    with pytest.raises(ConfigurationError):
        work()
    assert runs == [1]
