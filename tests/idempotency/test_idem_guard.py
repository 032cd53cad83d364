"""The ``idempotent`` decorator and context manager, sync and async."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pydantic
import pytest

from shipsync.errors import (
    CompletionFailedError,
    ConfigurationError,
    CorruptRecordError,
    FingerprintMismatchError,
    IdempotencyError,
    KeyInProgressError,
    MissingIdempotencyKeyError,
    StoreUnavailableError,
)
from shipsync.idempotency import (
    Acquired,
    AsyncMemoryStore,
    Completed,
    InProgress,
    MemoryStore,
    SQLiteStore,
    current_outbound_key,
    idempotent,
    outbound_key,
)
from shipsync.testing.idempotency import FakeClock


class Label(pydantic.BaseModel):
    shipment: str
    tracking: str


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> MemoryStore:
    return MemoryStore(namespace="tenant-a/labels", clock=clock)


def test_decorated_function_runs_once_and_replays_its_typed_result(store: MemoryStore) -> None:
    """The second call with the same key returns the stored result, as the declared type."""
    runs: list[str] = []

    @idempotent(store, key=lambda shipment: f"label:{shipment}")
    def buy_label(shipment: str) -> Label:
        runs.append(shipment)
        return Label(shipment=shipment, tracking="1Z999")

    first = buy_label("S-1")
    second = buy_label("S-1")
    assert runs == ["S-1"]
    assert second == first
    assert isinstance(second, Label)
    assert buy_label.__name__ == "buy_label"


def test_default_fingerprint_refuses_another_payload_for_the_same_key(
    store: MemoryStore,
) -> None:
    """Same key, other arguments: FingerprintMismatchError, the function does not run."""
    runs: list[int] = []

    @idempotent(store, key=lambda order, qty: order)
    def reserve(order: str, qty: int) -> int:
        runs.append(qty)
        return qty

    assert reserve("o-1", 2) == 2
    with pytest.raises(FingerprintMismatchError):
        reserve("o-1", 3)
    assert runs == [2]


def test_explicit_fingerprint_function_decides_what_counts_as_the_payload(
    store: MemoryStore,
) -> None:
    """A fingerprint function that ignores volatile fields lets retries with them replay."""

    @idempotent(store, key=lambda event: event["id"], fingerprint=lambda event: event["body"])
    def handle(event: dict[str, str]) -> str:
        return event["body"].upper()

    assert handle({"id": "e1", "body": "x", "received_at": "10:00"}) == "X"
    assert handle({"id": "e1", "body": "x", "received_at": "10:05"}) == "X"


def test_failed_function_releases_the_key_for_a_retry(store: MemoryStore) -> None:
    """An exception frees the key; the retry runs the function again and completes."""
    attempts: list[int] = []

    @idempotent(store, key=lambda n: f"job-{n}")
    def flaky(n: int) -> int:
        attempts.append(n)
        if len(attempts) == 1:
            raise RuntimeError("carrier timed out")
        return n * 2

    with pytest.raises(RuntimeError):
        flaky(21)
    assert flaky(21) == 42
    assert flaky(21) == 42
    assert attempts == [21, 21]


def test_call_while_another_holds_the_key_is_a_retryable_error(store: MemoryStore) -> None:
    """A concurrent duplicate gets KeyInProgressError (retryable), not a second execution."""
    assert isinstance(store.claim("label:S-9", "whatever"), Acquired)

    @idempotent(store, key=lambda s: f"label:{s}", fingerprint="whatever")
    def buy_label(s: str) -> str:
        raise AssertionError("must not run")

    with pytest.raises(KeyInProgressError) as info:
        buy_label("S-9")
    assert info.value.retryable


@pytest.mark.parametrize("missing", [None, ""], ids=["none", "empty"])
def test_missing_key_fails_closed_by_default(store: MemoryStore, missing: str | None) -> None:
    """No key and the default policy: MissingIdempotencyKeyError and nothing runs."""
    runs: list[int] = []

    @idempotent(store, key=lambda: missing)
    def work() -> None:
        runs.append(1)

    with pytest.raises(MissingIdempotencyKeyError):
        work()
    assert runs == []


def test_missing_key_fails_open_when_asked(
    store: MemoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    """With missing_key='fail_open' the work runs unguarded every time, with a warning."""
    runs: list[int] = []

    @idempotent(store, key=lambda: None, missing_key="fail_open")
    def work() -> int:
        runs.append(1)
        return len(runs)

    assert work() == 1
    assert work() == 2
    assert "unguarded" in caplog.text


def test_unknown_missing_key_policy_is_a_configuration_error(store: MemoryStore) -> None:
    """A policy other than the two named ones is refused."""
    with pytest.raises(ConfigurationError):
        idempotent(store, key="k", missing_key="maybe")  # type: ignore[arg-type]


def test_outbound_key_is_stable_across_executions(store: MemoryStore, clock: FakeClock) -> None:
    """The outbound key seen inside the function is the same on a re-execution after expiry."""
    seen: list[str | None] = []

    @idempotent(store, key="booking-1", fingerprint="fp", lease=timedelta(seconds=5))
    def book() -> str:
        seen.append(current_outbound_key())
        if len(seen) == 1:
            raise RuntimeError("crash")
        return "ok"

    with pytest.raises(RuntimeError):
        book()
    clock.advance(10)
    assert book() == "ok"
    assert seen[0] == seen[1] == outbound_key("tenant-a/labels", "booking-1")
    assert current_outbound_key() is None


def test_completion_failure_after_the_side_effect_is_its_own_error(
    tmp_path: Path, clock: FakeClock
) -> None:
    """If the store fails between the side effect and complete(), CompletionFailedError says
    the work ran; the key stays held, so nobody re-runs it before the lease ends."""
    import sqlite3

    path = tmp_path / "idem.db"
    store = SQLiteStore(path, clock=clock, timeout=0.02)
    blocker = sqlite3.connect(path, isolation_level=None)
    effects: list[str] = []

    @idempotent(store, key="k", fingerprint="fp")
    def work() -> str:
        effects.append("done")
        blocker.execute("BEGIN EXCLUSIVE")  # the store becomes unavailable mid-call
        return "result"

    with pytest.raises(CompletionFailedError) as info:
        work()
    assert not info.value.retryable
    assert effects == ["done"]
    blocker.execute("ROLLBACK")
    blocker.close()
    assert store.claim("k", "fp") == InProgress("k")
    store.close()


def test_result_that_cannot_be_stored_is_a_completion_failure(store: MemoryStore) -> None:
    """A function whose result has no JSON form ran; the error says completion failed."""

    @idempotent(store, key="k", fingerprint="fp")
    def work() -> object:
        return object()

    with pytest.raises(CompletionFailedError):
        work()
    assert store.claim("k", "fp") == InProgress("k")


def test_unavailable_store_fails_closed_before_running(tmp_path: Path) -> None:
    """When the claim cannot be made, nothing runs and the error is retryable."""
    import sqlite3

    path = tmp_path / "idem.db"
    store = SQLiteStore(path, timeout=0.02)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    runs: list[int] = []

    @idempotent(store, key="k")
    def work() -> None:
        runs.append(1)

    with pytest.raises(StoreUnavailableError) as info:
        work()
    assert info.value.retryable
    assert runs == []
    blocker.close()
    store.close()


def test_corrupt_stored_result_is_a_typed_error_on_replay(store: MemoryStore) -> None:
    """A stored result that does not fit the return type raises CorruptRecordError."""
    held = store.claim("label:S-1", "fp")
    assert isinstance(held, Acquired)
    store.complete("label:S-1", held.token, b'{"unexpected": true}')

    @idempotent(store, key=lambda s: f"label:{s}", fingerprint="fp")
    def buy_label(s: str) -> Label:
        raise AssertionError("must not run")

    with pytest.raises(CorruptRecordError):
        buy_label("S-1")


def test_context_manager_runs_the_block_once_and_replays(store: MemoryStore) -> None:
    """`with idempotent(...)` acquires, records set_result(), and replays it next time."""
    with idempotent(store, key="delivery-7", fingerprint="body-hash") as call:
        assert call.acquired
        assert not call.replayed
        assert current_outbound_key() == call.outbound_key
        with pytest.raises(IdempotencyError):
            call.result()  # nothing stored yet
        call.set_result(Label(shipment="S-7", tracking="T"))
    with idempotent(store, key="delivery-7", fingerprint="body-hash") as call:
        assert call.replayed
        assert call.result(Label) == Label(shipment="S-7", tracking="T")


def test_context_manager_releases_on_error(store: MemoryStore) -> None:
    """An exception in the block releases the key and propagates unchanged."""
    with pytest.raises(ValueError, match="boom"), idempotent(store, key="k", fingerprint="f"):
        raise ValueError("boom")
    assert isinstance(store.claim("k", "f"), Acquired)


def test_context_manager_without_a_result_stores_null(store: MemoryStore) -> None:
    """A block that sets no result still completes: the replay carries JSON null."""
    with idempotent(store, key="k", fingerprint="f"):
        pass
    assert store.claim("k", "f") == Completed("k", b"null")


def test_sync_function_with_an_async_store_is_refused(store: MemoryStore) -> None:
    """A plain function cannot drive an async store; the error says so before running."""

    @idempotent(AsyncMemoryStore(store), key="k")
    def work() -> None:
        raise AssertionError("must not run")

    with pytest.raises(ConfigurationError):
        work()


async def test_coroutine_runs_once_and_replays(store: MemoryStore) -> None:
    """An async function guarded by an async store runs once; replays decode its result."""
    astore = AsyncMemoryStore(store)
    runs: list[str] = []

    @idempotent(astore, key=lambda s: f"label:{s}")
    async def buy_label(s: str) -> Label:
        runs.append(s)
        await asyncio.sleep(0)
        return Label(shipment=s, tracking="1Z")

    assert await buy_label("S-2") == await buy_label("S-2")
    assert runs == ["S-2"]


async def test_coroutine_with_a_sync_store_works(store: MemoryStore) -> None:
    """A coroutine may use a sync store (for fast local stores such as SQLite or memory)."""

    @idempotent(store, key="k")
    async def work() -> int:
        return 7

    assert await work() == 7
    assert await work() == 7


async def test_async_context_manager_releases_on_cancellation(store: MemoryStore) -> None:
    """`async with` cancelled mid-block frees the key for a retry."""
    astore = AsyncMemoryStore(store)
    entered = asyncio.Event()

    async def handler() -> None:
        async with idempotent(astore, key="k", fingerprint="f"):
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.ensure_future(handler())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert isinstance(store.claim("k", "f"), Acquired)


async def test_async_context_manager_replays(store: MemoryStore) -> None:
    """`async with` completes with set_result() and replays it."""
    astore = AsyncMemoryStore(store)
    async with idempotent(astore, key="k", fingerprint="f") as call:
        call.set_result({"n": 1})
    async with idempotent(astore, key="k", fingerprint="f") as call:
        assert call.replayed
        assert call.result() == {"n": 1}
