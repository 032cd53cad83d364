"""The idempotency store conformance suite: run it against any store through one fixture.

Subclass :class:`IdempotencyStoreConformance` in a test module and give it a fixture named
``idempotency_harness`` that returns a :class:`StoreHarness` for your backend::

    from shipsync.testing.idempotency import FakeClock, IdempotencyStoreConformance, StoreHarness

    class TestMyStore(IdempotencyStoreConformance):
        @pytest.fixture
        def idempotency_harness(self):
            clock = FakeClock()
            yield StoreHarness(
                make=lambda ns: MyStore(namespace=ns, clock=clock),
                make_async=lambda ns: MyAsyncStore(namespace=ns, clock=clock),
                advance=clock.advance,
            )

Every test works in a fresh namespace, so one backend (one database, one Redis) serves the whole
suite. Time moves only through ``advance``: nothing sleeps to wait for a lease. The suite needs
``pytest`` and ``hypothesis``; with pytest-asyncio in auto mode the async tests run as they are.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import attrs
import pydantic
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from shipsync.errors import (
    CompletionFailedError,
    ConfigurationError,
    CorruptRecordError,
    FingerprintMismatchError,
    KeyInProgressError,
    StaleTokenError,
    StoreUnavailableError,
)
from shipsync.idempotency import (
    Acquired,
    AsyncIdempotencyStore,
    Completed,
    IdempotencyStore,
    InProgress,
    Mismatched,
    decode_result,
    encode_result,
    idempotent,
)

__all__ = [
    "FakeClock",
    "IdempotencyStoreConformance",
    "ReferenceModel",
    "StoreHarness",
]

LEASE = timedelta(seconds=10)
RETENTION = timedelta(seconds=30)


class FakeClock:
    """A clock that moves only when told: ``clock()`` reads it, ``clock.advance(s)`` moves it.

    Pass it as ``clock=`` to stores that read a local clock, or as ``clock_offset=`` (started at
    0) to stores that read the server's clock.
    """

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        with self._lock:
            self._now += seconds


@attrs.define
class StoreHarness:
    """What the suite needs to drive one backend.

    Attributes:
        make: a sync store in the given namespace. Every call is a new client of the same
            backend (the suite races clients against each other).
        make_async: an async store in the given namespace, on the same backend.
        advance: move the store's clock by that many seconds (forward; a negative number moves
            it back, as a clock correction would).
        corrupt: damage the stored record of ``key`` in a store's namespace, as a faulty writer
            would (``(store, key)``); ``None`` skips the corruption test.
        make_unavailable: a sync store in the namespace that cannot reach its backend; ``None``
            skips the outage tests.
        make_unavailable_async: the async twin of ``make_unavailable``.
        store_clock: the store's own clock now, in epoch seconds (``TIME`` for Redis, ``now()``
            for PostgreSQL, including any test offset); with ``lease_expiry``, lets the suite
            check that leases are set by the store's clock. ``None`` skips that test.
        lease_expiry: ``(store, key)`` -> the expiry the store recorded for ``key``, in epoch
            seconds of the store's clock.
    """

    make: Callable[[str], IdempotencyStore]
    make_async: Callable[[str], AsyncIdempotencyStore]
    advance: Callable[[float], None]
    corrupt: Callable[[Any, str], None] | None = None
    make_unavailable: Callable[[str], IdempotencyStore] | None = None
    make_unavailable_async: Callable[[str], AsyncIdempotencyStore] | None = None
    store_clock: Callable[[], float] | None = None
    lease_expiry: Callable[[Any, str], float] | None = None


def _close(store: object) -> None:
    close = getattr(store, "close", None)
    if close is not None and not inspect.iscoroutinefunction(close):
        close()


async def _aclose(store: object) -> None:
    close = getattr(store, "close", None)
    if close is None:
        return
    if inspect.iscoroutinefunction(close):
        await close()
    else:
        close()


def _ns() -> str:
    return "conf-" + uuid.uuid4().hex[:16]


class _Receipt(pydantic.BaseModel):
    shipment: str
    amount: str
    labels: list[str]


# --- the reference model -----------------------------------------------------------------------


@attrs.define
class _ModelRecord:
    state: str
    fingerprint: str
    token: int
    expires_at: float
    result: bytes = b""


class ReferenceModel:
    """The contract as plain Python, for comparison in the state machine.

    It cannot know the token a backend hands out, so :meth:`acquire` takes it from the backend;
    everything else is predicted.
    """

    def __init__(self) -> None:
        self.now = 0.0
        self.records: dict[str, _ModelRecord] = {}

    def live(self, key: str) -> _ModelRecord | None:
        """The record of ``key`` unless it is absent or expired."""
        rec = self.records.get(key)
        return rec if rec is not None and rec.expires_at > self.now else None

    def expect_claim(self, key: str, fingerprint: str) -> str:
        """``"acquired"``, ``"in_progress"``, ``"completed"`` or ``"mismatch"``."""
        rec = self.live(key)
        if rec is None:
            return "acquired"
        if rec.fingerprint != fingerprint:
            return "mismatch"
        return "completed" if rec.state == "c" else "in_progress"

    def acquire(self, key: str, fingerprint: str, token: int, lease: float) -> None:
        """Record that ``key`` was acquired with ``token``."""
        self.records[key] = _ModelRecord("p", fingerprint, token, self.now + lease)

    def complete(self, key: str, token: int, result: bytes, retention: float) -> bool:
        """Apply a completion; False when the token is stale."""
        rec = self.records.get(key)
        if rec is None or rec.token != token:
            return False
        if rec.state == "p":
            rec.state, rec.result, rec.expires_at = "c", result, self.now + retention
        return True

    def release(self, key: str, token: int) -> bool:
        """Apply a release; False when the token is stale."""
        rec = self.records.get(key)
        if rec is None or rec.token != token or rec.state != "p":
            return False
        del self.records[key]
        return True

    def sweep(self) -> int:
        """Remove expired records; how many."""
        dead = [k for k, r in self.records.items() if r.expires_at <= self.now]
        for k in dead:
            del self.records[k]
        return len(dead)


_KEYS = ("a", "b", "c", "ключ/✓", "x" * 300)


class _StoreMachine(RuleBasedStateMachine):
    """Drives one backend and the reference model with the same operations."""

    harness: StoreHarness

    tokens = Bundle("tokens")

    def __init__(self) -> None:
        super().__init__()
        self.store = self.harness.make(_ns())
        self.model = ReferenceModel()
        self.last_token: dict[str, int] = {}
        self.seen_tokens: set[int] = set()

    def _check_outcome(self, key: str, fp: str, outcome: object) -> int | None:
        expected = self.model.expect_claim(key, fp)
        if expected == "acquired":
            assert isinstance(outcome, Acquired), (expected, outcome)
            assert outcome.token > self.last_token.get(key, 0), "a key's tokens must increase"
            assert outcome.token not in self.seen_tokens, "a token was handed out twice"
            self.last_token[key] = outcome.token
            self.seen_tokens.add(outcome.token)
            self.model.acquire(key, fp, outcome.token, LEASE.total_seconds())
            return outcome.token
        if expected == "mismatch":
            assert isinstance(outcome, Mismatched | FingerprintMismatchError), outcome
        elif expected == "completed":
            rec = self.model.live(key)
            assert rec is not None
            assert outcome == Completed(key, rec.result), outcome
        else:
            assert outcome == InProgress(key), outcome
        return None

    @rule(target=tokens, key=st.sampled_from(_KEYS), fp=st.sampled_from(("f1", "f2")))
    def claim(self, key: str, fp: str) -> tuple[str, int]:
        try:
            outcome: object = self.store.claim(key, fp, LEASE)
        except FingerprintMismatchError as exc:
            outcome = exc
        token = self._check_outcome(key, fp, outcome)
        return (key, token if token is not None else -1)

    @rule(
        target=tokens,
        items=st.lists(
            st.tuples(st.sampled_from(_KEYS), st.sampled_from(("f1", "f2"))), max_size=4
        ),
    )
    def claim_many(self, items: list[tuple[str, str]]) -> Any:
        outcomes = self.store.claim_many(items, LEASE)
        assert len(outcomes) == len(items)
        got = []
        for (key, fp), outcome in zip(items, outcomes, strict=True):
            token = self._check_outcome(key, fp, outcome)
            if token is not None:
                got.append((key, token))
        return got[0] if got else ("a", -1)

    @rule(held=tokens, result=st.binary(max_size=20))
    def complete(self, held: tuple[str, int], result: bytes) -> None:
        key, token = held
        expected = self.model.complete(key, token, result, RETENTION.total_seconds())
        try:
            self.store.complete(key, token, result, RETENTION)
        except StaleTokenError:
            assert not expected, "a valid token was refused"
        else:
            assert expected, "a stale token completed"

    @rule(helds=st.lists(tokens, max_size=3), result=st.binary(max_size=8))
    def complete_many(self, helds: list[tuple[str, int]], result: bytes) -> None:
        stale = {
            key
            for key, token in helds
            if not self.model.complete(key, token, result, RETENTION.total_seconds())
        }
        refused: tuple[str, ...] = ()
        try:
            self.store.complete_many([(k, t, result) for k, t in helds], RETENTION)
        except StaleTokenError as exc:
            refused = exc.keys
        assert set(refused) == stale, ("stale keys", refused, stale)

    @rule(held=tokens)
    def release(self, held: tuple[str, int]) -> None:
        key, token = held
        expected = self.model.release(key, token)
        try:
            self.store.release(key, token)
        except StaleTokenError:
            assert not expected, "a valid token could not release"
        else:
            assert expected, "a stale token released"

    @rule(seconds=st.sampled_from((1.0, 6.0, 11.0, 31.0)))
    def advance(self, seconds: float) -> None:
        self.harness.advance(seconds)
        self.model.now += seconds

    @rule(seconds=st.sampled_from((1.0, 6.0)))
    def step_back(self, seconds: float) -> None:
        """The store's clock is corrected backwards."""
        self.harness.advance(-seconds)
        self.model.now -= seconds

    @rule()
    def sweep(self) -> None:
        assert self.store.sweep() == self.model.sweep()

    @invariant()
    def completed_keys_replay(self) -> None:
        for key, rec in list(self.model.records.items()):
            if rec.state == "c" and rec.expires_at > self.model.now:
                assert self.store.claim(key, rec.fingerprint, LEASE) == Completed(key, rec.result)

    def teardown(self) -> None:
        _close(self.store)


# --- the suite ---------------------------------------------------------------------------------


def _race_takeover(
    store: IdempotencyStore,
    clients: list[IdempotencyStore],
    key: str,
    token: int,
    release: bool = False,
) -> tuple[list[object], list[bool]]:
    """Claim ``key`` from every client while ``store`` completes (or releases) it with
    ``token``, at once."""
    barrier = threading.Barrier(len(clients) + 1)
    outcomes: list[object] = []
    completed: list[bool] = []

    def claimer(client: IdempotencyStore) -> None:
        barrier.wait()
        outcomes.append(client.claim(key, "fp", LEASE))

    def completer() -> None:
        barrier.wait()
        try:
            if release:
                store.release(key, token)
            else:
                store.complete(key, token, b"holder")
            completed.append(True)
        except StaleTokenError:
            completed.append(False)

    threads = [threading.Thread(target=claimer, args=(c,)) for c in clients]
    threads.append(threading.Thread(target=completer))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in clients:
        _close(c)
    return outcomes, completed


class IdempotencyStoreConformance:
    """The contract every idempotency store keeps. Subclass it with an ``idempotency_harness``.

    Each test states in its docstring the behaviour it pins.
    """

    state_machine_settings = settings(
        max_examples=30,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )

    @pytest.fixture
    def namespace(self) -> str:
        """A fresh namespace for one test."""
        return _ns()

    @pytest.fixture
    def store(
        self, idempotency_harness: StoreHarness, namespace: str
    ) -> Iterator[IdempotencyStore]:
        """A sync store in the test's namespace."""
        store = idempotency_harness.make(namespace)
        yield store
        _close(store)

    # -- claim ---------------------------------------------------------------------------------

    def test_first_claim_acquires_and_second_sees_in_progress(
        self, store: IdempotencyStore
    ) -> None:
        """The first claim holds the key; a second claimant sees it in progress."""
        first = store.claim("order-1", "fp")
        assert isinstance(first, Acquired)
        assert first.key == "order-1"
        assert store.claim("order-1", "fp") == InProgress("order-1")

    def test_racing_claimants_have_exactly_one_winner(
        self, idempotency_harness: StoreHarness, store: IdempotencyStore, namespace: str
    ) -> None:
        """Eight clients claiming one key at once: exactly one acquires it."""
        clients = [idempotency_harness.make(namespace) for _ in range(8)]
        barrier = threading.Barrier(len(clients))
        outcomes: list[object] = []

        def race(client: IdempotencyStore) -> None:
            barrier.wait()
            outcomes.append(client.claim("contended", "fp"))

        threads = [threading.Thread(target=race, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for c in clients:
            _close(c)
        assert sum(isinstance(o, Acquired) for o in outcomes) == 1
        assert sum(o == InProgress("contended") for o in outcomes) == 7

    async def test_async_racing_claimants_have_exactly_one_winner(
        self, idempotency_harness: StoreHarness
    ) -> None:
        """Eight coroutines claiming one key at once: exactly one acquires it."""
        ns = _ns()
        clients = [idempotency_harness.make_async(ns) for _ in range(8)]
        try:
            outcomes = await asyncio.gather(*(c.claim("contended", "fp") for c in clients))
        finally:
            for c in clients:
                await _aclose(c)
        assert sum(isinstance(o, Acquired) for o in outcomes) == 1

    def test_racing_batches_over_overlapping_keys_have_one_winner_per_key(
        self, idempotency_harness: StoreHarness, namespace: str
    ) -> None:
        """Four clients claim overlapping batches at once, two of them in reverse order: no call
        fails (no deadlock), and every key has exactly one winner."""
        keys = [f"batch-{i:03d}" for i in range(300)]
        clients = [idempotency_harness.make(namespace) for _ in range(4)]
        barrier = threading.Barrier(len(clients))
        outcomes: list[object] = []
        failures: list[BaseException] = []

        def race(i: int, client: IdempotencyStore) -> None:
            mine = keys[i * 50 : i * 50 + 150]
            if i % 2:
                mine.reverse()
            barrier.wait()
            try:
                outcomes.extend(client.claim_many([(k, "fp") for k in mine], LEASE))
            except Exception as exc:  # collected: the assertion below names it
                failures.append(exc)

        threads = [threading.Thread(target=race, args=(i, c)) for i, c in enumerate(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for c in clients:
            _close(c)
        assert failures == []
        winners = [o.key for o in outcomes if isinstance(o, Acquired)]
        assert sorted(winners) == keys[:300]
        assert all(isinstance(o, Acquired | InProgress) for o in outcomes)

    # -- completion and replay -----------------------------------------------------------------

    def test_replay_returns_the_stored_result_byte_for_byte(self, store: IdempotencyStore) -> None:
        """After completion every claim with the same fingerprint gets the exact bytes back."""
        result = b'{"label": "1Z\\u00e9"}\x00\xff raw'
        held = store.claim("k", "fp")
        assert isinstance(held, Acquired)
        store.complete("k", held.token, result)
        for _ in range(3):
            assert store.claim("k", "fp") == Completed("k", result)

    def test_multi_megabyte_result_round_trips_whole(self, store: IdempotencyStore) -> None:
        """A 2 MiB result holding every byte value is stored and replayed whole."""
        result = bytes(range(256)) * 8192
        held = store.claim("big", "fp")
        assert isinstance(held, Acquired)
        store.complete("big", held.token, result)
        assert store.claim("big", "fp") == Completed("big", result)

    def test_completing_twice_with_one_token_is_a_no_op(self, store: IdempotencyStore) -> None:
        """A retried completion with the same token succeeds and keeps the first result."""
        held = store.claim("k", "fp")
        assert isinstance(held, Acquired)
        store.complete("k", held.token, b"1")
        store.complete("k", held.token, b"2")
        assert store.claim("k", "fp") == Completed("k", b"1")

    def test_fingerprint_mismatch_while_in_progress(self, store: IdempotencyStore) -> None:
        """Same key, another payload, while the first is running: a typed error."""
        assert isinstance(store.claim("k", "fp-1"), Acquired)
        with pytest.raises(FingerprintMismatchError) as info:
            store.claim("k", "fp-2")
        assert info.value.key == "k"

    def test_fingerprint_mismatch_after_completion(self, store: IdempotencyStore) -> None:
        """Same key, another payload, after completion: a typed error, result untouched."""
        held = store.claim("k", "fp-1")
        assert isinstance(held, Acquired)
        store.complete("k", held.token, b"r")
        with pytest.raises(FingerprintMismatchError):
            store.claim("k", "fp-2")
        assert store.claim("k", "fp-1") == Completed("k", b"r")

    def test_release_frees_the_key_with_a_new_token(self, store: IdempotencyStore) -> None:
        """A failed handler releases; the retry acquires with a larger token."""
        first = store.claim("k", "fp")
        assert isinstance(first, Acquired)
        store.release("k", first.token)
        second = store.claim("k", "fp-other-payload-is-fine-after-release")
        assert isinstance(second, Acquired)
        assert second.token > first.token
        with pytest.raises(StaleTokenError):
            store.complete("k", first.token, b"late")

    # -- leases and fencing --------------------------------------------------------------------

    def test_expired_lease_is_taken_over_with_a_new_token(
        self, idempotency_harness: StoreHarness, store: IdempotencyStore
    ) -> None:
        """Within the lease the key is in progress; after it, another claimant takes over."""
        first = store.claim("k", "fp", LEASE)
        assert isinstance(first, Acquired)
        idempotency_harness.advance(LEASE.total_seconds() - 1)
        assert store.claim("k", "fp", LEASE) == InProgress("k")
        idempotency_harness.advance(2)
        second = store.claim("k", "fp", LEASE)
        assert isinstance(second, Acquired)
        assert second.token > first.token

    def test_stale_holder_cannot_complete_after_takeover(
        self, idempotency_harness: StoreHarness, store: IdempotencyStore
    ) -> None:
        """Fencing, old holder first: its late completion is refused, the successor's stands."""
        old = store.claim("k", "fp", LEASE)
        idempotency_harness.advance(LEASE.total_seconds() + 1)
        new = store.claim("k", "fp", LEASE)
        assert isinstance(old, Acquired)
        assert isinstance(new, Acquired)
        with pytest.raises(StaleTokenError):
            store.complete("k", old.token, b"old")
        with pytest.raises(StaleTokenError):
            store.release("k", old.token)
        assert store.claim("k", "fp") == InProgress("k")
        store.complete("k", new.token, b"new")
        assert store.claim("k", "fp") == Completed("k", b"new")

    def test_stale_holder_cannot_overwrite_a_completed_successor(
        self, idempotency_harness: StoreHarness, store: IdempotencyStore
    ) -> None:
        """Fencing, successor first: the old token can neither complete nor release."""
        old = store.claim("k", "fp", LEASE)
        idempotency_harness.advance(LEASE.total_seconds() + 1)
        new = store.claim("k", "fp", LEASE)
        assert isinstance(old, Acquired)
        assert isinstance(new, Acquired)
        store.complete("k", new.token, b"new")
        with pytest.raises(StaleTokenError):
            store.complete("k", old.token, b"old")
        with pytest.raises(StaleTokenError):
            store.release("k", old.token)
        assert store.claim("k", "fp") == Completed("k", b"new")

    def test_expired_holder_may_complete_if_nobody_took_over(
        self, idempotency_harness: StoreHarness, store: IdempotencyStore
    ) -> None:
        """A late completion with no successor is recorded; a later claim replays it."""
        held = store.claim("k", "fp", LEASE)
        assert isinstance(held, Acquired)
        idempotency_harness.advance(LEASE.total_seconds() + 1)
        store.complete("k", held.token, b"late but alone")
        assert store.claim("k", "fp") == Completed("k", b"late but alone")

    def test_takeover_race_with_a_completing_holder(
        self, idempotency_harness: StoreHarness, store: IdempotencyStore, namespace: str
    ) -> None:
        """A holder completing while others take over its expired lease: never both win."""
        for round_ in range(5):
            key = f"race-{round_}"
            held = store.claim(key, "fp", LEASE)
            assert isinstance(held, Acquired)
            idempotency_harness.advance(LEASE.total_seconds() + 1)
            clients = [idempotency_harness.make(namespace) for _ in range(4)]
            outcomes, completed = _race_takeover(store, clients, key, held.token)
            winners = [o for o in outcomes if isinstance(o, Acquired)]
            # either the holder completed first (everyone replays its result) or one claimant
            # took over first (the holder's token is stale): never both
            assert len(winners) + completed.count(True) == 1, (outcomes, completed)
            if winners:
                assert store.claim(key, "fp", LEASE) == InProgress(key)
                store.complete(key, winners[0].token, b"successor")
                assert store.claim(key, "fp") == Completed(key, b"successor")
            else:
                assert all(o == Completed(key, b"holder") for o in outcomes)

    def test_store_clock_stepping_back_never_frees_a_key_or_unfences_a_holder(
        self, idempotency_harness: StoreHarness, store: IdempotencyStore
    ) -> None:
        """The store's clock steps back an hour (a clock correction): a held key stays held,
        tokens still increase after the takeover, and the old holder stays fenced out."""
        first = store.claim("k", "fp", LEASE)
        assert isinstance(first, Acquired)
        idempotency_harness.advance(-3600.0)
        assert store.claim("k", "fp", LEASE) == InProgress("k")
        idempotency_harness.advance(3600.0 + LEASE.total_seconds() + 1)
        second = store.claim("k", "fp", LEASE)
        assert isinstance(second, Acquired)
        assert second.token > first.token
        idempotency_harness.advance(-3600.0)
        with pytest.raises(StaleTokenError):
            store.complete("k", first.token, b"old")
        assert store.claim("k", "fp", LEASE) == InProgress("k")
        store.complete("k", second.token, b"new")
        assert store.claim("k", "fp") == Completed("k", b"new")
        idempotency_harness.advance(3600.0)

    def test_takeover_race_with_a_releasing_holder(
        self, idempotency_harness: StoreHarness, store: IdempotencyStore, namespace: str
    ) -> None:
        """A holder releasing while others take over its expired lease: whichever comes first,
        exactly one claimant holds the key afterwards, and its record is untouched."""
        for round_ in range(5):
            key = f"release-race-{round_}"
            held = store.claim(key, "fp", LEASE)
            assert isinstance(held, Acquired)
            idempotency_harness.advance(LEASE.total_seconds() + 1)
            clients = [idempotency_harness.make(namespace) for _ in range(4)]
            outcomes, _released = _race_takeover(store, clients, key, held.token, release=True)
            winners = [o for o in outcomes if isinstance(o, Acquired)]
            assert len(winners) == 1, outcomes
            assert all(o == InProgress(key) for o in outcomes if o is not winners[0])
            with pytest.raises(StaleTokenError):
                store.release(key, held.token)
            assert store.claim(key, "fp", LEASE) == InProgress(key)
            store.complete(key, winners[0].token, b"successor")
            assert store.claim(key, "fp") == Completed(key, b"successor")

    def test_leases_are_set_by_the_store_clock(
        self, idempotency_harness: StoreHarness, store: IdempotencyStore
    ) -> None:
        """A lease ends at the store's clock plus the lease, and moves with that clock only."""
        clock, expiry = idempotency_harness.store_clock, idempotency_harness.lease_expiry
        if clock is None or expiry is None:
            pytest.skip("the harness cannot read the store's clock")
        before = clock()
        assert isinstance(store.claim("k", "fp", LEASE), Acquired)
        after = clock()
        recorded = expiry(store, "k")
        lease = LEASE.total_seconds()
        assert before + lease - 0.01 <= recorded <= after + lease + 0.01
        idempotency_harness.advance(100.0)
        assert clock() >= after + 100.0
        fresh = store.claim("k2", "fp", LEASE)
        assert isinstance(fresh, Acquired)
        assert expiry(store, "k2") >= recorded + 100.0 - 0.01

    @pytest.mark.parametrize(
        "span",
        [timedelta(0), timedelta(seconds=-1), timedelta(microseconds=10), timedelta.max],
        ids=["zero", "negative", "under-a-millisecond", "max"],
    )
    def test_leases_and_retentions_out_of_range_are_configuration_errors(
        self, store: IdempotencyStore, span: timedelta
    ) -> None:
        """A lease or retention outside 1 ms to 100 years is a ConfigurationError before
        anything changes (a zero lease would let two claimants win)."""
        with pytest.raises(ConfigurationError):
            store.claim("k", "fp", span)
        with pytest.raises(ConfigurationError):
            store.claim_many([("k", "fp")], span)
        held = store.claim("k", "fp", LEASE)
        assert isinstance(held, Acquired)
        with pytest.raises(ConfigurationError):
            store.complete("k", held.token, b"r", span)
        with pytest.raises(ConfigurationError):
            store.complete_many([("k", held.token, b"r")], span)
        assert store.claim("k", "fp", LEASE) == InProgress("k")

    # -- retention and sweeping ----------------------------------------------------------------

    def test_completed_records_expire_after_retention(
        self, idempotency_harness: StoreHarness, store: IdempotencyStore
    ) -> None:
        """A completed record replays until its retention ends, then counts as absent."""
        held = store.claim("k", "fp")
        assert isinstance(held, Acquired)
        store.complete("k", held.token, b"r", RETENTION)
        idempotency_harness.advance(RETENTION.total_seconds() - 1)
        assert store.claim("k", "fp") == Completed("k", b"r")
        idempotency_harness.advance(2)
        again = store.claim("k", "another payload")
        assert isinstance(again, Acquired)
        assert again.token > held.token

    def test_sweep_removes_only_expired_records(
        self, idempotency_harness: StoreHarness, store: IdempotencyStore
    ) -> None:
        """The sweeper counts and removes expired leases and results, and keeps live ones."""
        short, long_ = timedelta(seconds=5), timedelta(seconds=500)
        for key, retention in (("done-short", short), ("done-long", long_)):
            held = store.claim(key, "fp")
            assert isinstance(held, Acquired)
            store.complete(key, held.token, key.encode(), retention)
        assert isinstance(store.claim("lease-short", "fp", short), Acquired)
        assert isinstance(store.claim("lease-long", "fp", long_), Acquired)
        idempotency_harness.advance(10)
        assert store.sweep() == 2
        assert store.sweep() == 0
        assert store.claim("done-long", "fp") == Completed("done-long", b"done-long")
        assert store.claim("lease-long", "fp") == InProgress("lease-long")
        assert isinstance(store.claim("done-short", "fp"), Acquired)

    # -- keys ----------------------------------------------------------------------------------

    @pytest.mark.parametrize(
        "key",
        [
            "plain",
            "with spaces and/slashes:colons{braces}*?[glob]",
            "ünïcödé ключ 配送 🚚",
            "nul\x00inside",
            "newline\nand\ttab",
            "lone surrogate \ud800",
            "k:looks-like-a-storage-key",
            "x" * 199,
            "y" * 5000,
        ],
        ids=[
            "plain",
            "punctuation",
            "unicode",
            "nul",
            "control",
            "surrogate",
            "prefix-lookalike",
            "at-limit",
            "very-long",
        ],
    )
    def test_any_unicode_key_round_trips(self, store: IdempotencyStore, key: str) -> None:
        """Any string is a key: claim, complete and replay work and outcomes carry the key."""
        held = store.claim(key, "fp")
        assert isinstance(held, Acquired)
        assert held.key == key
        store.complete(key, held.token, b"ok")
        assert store.claim(key, "fp") == Completed(key, b"ok")

    def test_long_keys_sharing_a_prefix_stay_distinct(self, store: IdempotencyStore) -> None:
        """Long keys are hashed, never truncated: a difference at the end still counts."""
        a, b = "z" * 1000 + "a", "z" * 1000 + "b"
        assert isinstance(store.claim(a, "fp"), Acquired)
        assert isinstance(store.claim(b, "fp"), Acquired)

    def test_namespaces_keep_keys_apart(
        self, idempotency_harness: StoreHarness, store: IdempotencyStore
    ) -> None:
        """The same key in two namespaces is two independent records."""
        other = idempotency_harness.make(_ns())
        try:
            assert isinstance(store.claim("shared", "fp"), Acquired)
            assert isinstance(other.claim("shared", "another fp"), Acquired)
        finally:
            _close(other)

    # -- results -------------------------------------------------------------------------------

    def test_pydantic_result_round_trips(self, store: IdempotencyStore) -> None:
        """A pydantic model stored as JSON decodes to an equal model on replay."""
        receipt = _Receipt(shipment="S-1", amount="12.50", labels=["L1", "L2"])
        held = store.claim("k", "fp")
        assert isinstance(held, Acquired)
        store.complete("k", held.token, encode_result(receipt))
        replay = store.claim("k", "fp")
        assert isinstance(replay, Completed)
        assert decode_result(replay.result, _Receipt) == receipt

    def test_corrupt_record_is_a_typed_error(
        self, idempotency_harness: StoreHarness, store: IdempotencyStore
    ) -> None:
        """A damaged stored record raises CorruptRecordError, not a bare exception."""
        if idempotency_harness.corrupt is None:
            pytest.skip("the harness cannot damage records")
        held = store.claim("k", "fp")
        assert isinstance(held, Acquired)
        store.complete("k", held.token, b"{}")
        idempotency_harness.corrupt(store, "k")
        with pytest.raises(CorruptRecordError):
            store.claim("k", "fp")

    def test_results_that_are_not_bytes_are_configuration_errors(
        self, store: IdempotencyStore
    ) -> None:
        """complete() takes bytes: a str or an int (which must not become that many zero bytes)
        is a ConfigurationError, in a batch before any item is recorded."""
        held = store.claim("k", "fp")
        other = store.claim("k2", "fp")
        assert isinstance(held, Acquired)
        assert isinstance(other, Acquired)
        with pytest.raises(ConfigurationError):
            store.complete("k", held.token, "text")  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError):
            store.complete_many([("k2", other.token, b"ok"), ("k", held.token, 10**9)])  # type: ignore[list-item]
        assert store.claim("k", "fp") == InProgress("k")
        assert store.claim("k2", "fp") == InProgress("k2")
        store.complete("k", held.token, b"r")
        assert store.claim("k", "fp") == Completed("k", b"r")

    def test_undecodable_result_is_a_typed_error(self, store: IdempotencyStore) -> None:
        """Stored bytes that are not valid JSON for the type raise CorruptRecordError."""
        held = store.claim("k", "fp")
        assert isinstance(held, Acquired)
        store.complete("k", held.token, b"{not json")
        replay = store.claim("k", "fp")
        assert isinstance(replay, Completed)
        with pytest.raises(CorruptRecordError):
            decode_result(replay.result, _Receipt)

    # -- batches -------------------------------------------------------------------------------

    def test_claim_many_answers_in_order(self, store: IdempotencyStore) -> None:
        """A batch claim gives one outcome per item, in order, as single claims would."""
        done = store.claim("done", "fp")
        assert isinstance(done, Acquired)
        store.complete("done", done.token, b"d")
        assert isinstance(store.claim("busy", "fp"), Acquired)
        outcomes = store.claim_many(
            [("new", "fp"), ("done", "fp"), ("busy", "fp"), ("done", "other"), ("new", "fp")]
        )
        assert isinstance(outcomes[0], Acquired)
        assert outcomes[1:] == [
            Completed("done", b"d"),
            InProgress("busy"),
            Mismatched("done"),
            InProgress("new"),
        ]
        assert store.claim_many([]) == []

    def test_complete_many_records_valid_items_and_names_stale_ones(
        self, idempotency_harness: StoreHarness, store: IdempotencyStore
    ) -> None:
        """A batch completion records every valid item and raises for the stale ones."""
        outcomes = store.claim_many([(f"k{i}", "fp") for i in range(4)], LEASE)
        tokens = [o.token for o in outcomes if isinstance(o, Acquired)]
        assert len(tokens) == 4
        items = [(f"k{i}", t, f"r{i}".encode()) for i, t in enumerate(tokens)]
        items[2] = ("k2", tokens[2] + 10_000, b"forged")
        with pytest.raises(StaleTokenError) as info:
            store.complete_many(items)
        assert info.value.keys == ("k2",)
        assert store.claim("k0", "fp") == Completed("k0", b"r0")
        assert store.claim("k3", "fp") == Completed("k3", b"r3")
        assert store.claim("k2", "fp") == InProgress("k2")
        store.complete_many([])

    # -- outages -------------------------------------------------------------------------------

    def test_unavailable_store_fails_closed_with_typed_errors(
        self, idempotency_harness: StoreHarness
    ) -> None:
        """Unreachable: claims raise a retryable StoreUnavailableError, completion a distinct
        CompletionFailedError (the side effect ran), release StoreUnavailableError."""
        if idempotency_harness.make_unavailable is None:
            pytest.skip("the harness has no outage mode")
        bad = idempotency_harness.make_unavailable(_ns())
        try:
            with pytest.raises(StoreUnavailableError) as info:
                bad.claim("k", "fp")
            assert info.value.retryable
            with pytest.raises(StoreUnavailableError):
                bad.claim_many([("k", "fp")])
            with pytest.raises(CompletionFailedError) as failed:
                bad.complete("k", 1, b"r")
            assert failed.value.retryable  # retry the completion with the same token
            with pytest.raises(CompletionFailedError) as failed:
                bad.complete_many([("k", 1, b"r")])
            assert failed.value.retryable
            with pytest.raises(StoreUnavailableError):
                bad.release("k", 1)
            with pytest.raises(StoreUnavailableError):
                bad.sweep()
        finally:
            _close(bad)

    async def test_async_unavailable_store_fails_closed(
        self, idempotency_harness: StoreHarness
    ) -> None:
        """The async twin fails the same way when unreachable, call by call."""
        if idempotency_harness.make_unavailable_async is None:
            pytest.skip("the harness has no outage mode")
        bad = idempotency_harness.make_unavailable_async(_ns())
        try:
            with pytest.raises(StoreUnavailableError) as info:
                await bad.claim("k", "fp")
            assert info.value.retryable
            with pytest.raises(StoreUnavailableError):
                await bad.claim_many([("k", "fp")])
            with pytest.raises(CompletionFailedError) as failed:
                await bad.complete("k", 1, b"r")
            assert failed.value.retryable
            with pytest.raises(CompletionFailedError) as failed:
                await bad.complete_many([("k", 1, b"r")])
            assert failed.value.retryable
            with pytest.raises(StoreUnavailableError):
                await bad.release("k", 1)
            with pytest.raises(StoreUnavailableError):
                await bad.sweep()
        finally:
            await _aclose(bad)

    # -- sync / async parity -------------------------------------------------------------------

    async def test_async_twin_shares_state_and_semantics(
        self, idempotency_harness: StoreHarness, store: IdempotencyStore, namespace: str
    ) -> None:
        """The async store sees what the sync one did, and answers the same way."""
        astore = idempotency_harness.make_async(namespace)
        try:
            held = await astore.claim("k", "fp")
            assert isinstance(held, Acquired)
            assert store.claim("k", "fp") == InProgress("k")
            with pytest.raises(FingerprintMismatchError):
                await astore.claim("k", "other")
            await astore.complete("k", held.token, b"r", RETENTION)
            assert store.claim("k", "fp") == Completed("k", b"r")
            assert await astore.claim("k", "fp") == Completed("k", b"r")
            second = store.claim("k2", "fp")
            assert isinstance(second, Acquired)
            with pytest.raises(StaleTokenError):
                await astore.release("k2", second.token + 1)
            await astore.release("k2", second.token)
            many = await astore.claim_many([("k2", "fp"), ("k", "fp")])
            assert isinstance(many[0], Acquired)
            assert many[1] == Completed("k", b"r")
            await astore.complete_many([("k2", many[0].token, b"2")], RETENTION)
            assert store.claim("k2", "fp") == Completed("k2", b"2")
            idempotency_harness.advance(RETENTION.total_seconds() + 1)
            assert await astore.sweep() == 2
        finally:
            await _aclose(astore)

    async def test_cancellation_mid_handler_releases_the_key(
        self, idempotency_harness: StoreHarness, store: IdempotencyStore, namespace: str
    ) -> None:
        """A guarded coroutine cancelled mid-way frees its key; the retry runs once."""
        astore = idempotency_harness.make_async(namespace)
        started = asyncio.Event()
        runs: list[str] = []

        @idempotent(astore, key=lambda order: order, lease=LEASE)
        async def handle(order: str) -> str:
            runs.append(order)
            started.set()
            await asyncio.Event().wait()  # blocks until cancelled
            return "unreachable"

        try:
            task = asyncio.ensure_future(handle("o-1"))
            await started.wait()
            with pytest.raises(KeyInProgressError):
                await handle("o-1")
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            retry = store.claim("o-1", "ignored-after-release")
            assert isinstance(retry, Acquired)
            assert runs == ["o-1"]
        finally:
            await _aclose(astore)

    # -- the model -----------------------------------------------------------------------------

    def test_state_machine_matches_the_reference_model(
        self, idempotency_harness: StoreHarness
    ) -> None:
        """Random sequences of claim, claim_many, complete, release, time and sweep agree with
        the reference model."""
        machine = type("Machine", (_StoreMachine,), {"harness": idempotency_harness})
        run_state_machine_as_test(machine, settings=self.state_machine_settings)
