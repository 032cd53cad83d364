"""The memory store's fast path keeps the contract: per-call leases, copied results, outcomes."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from shipsync.errors import FingerprintMismatchError, StaleTokenError
from shipsync.idempotency import Acquired, Completed, InProgress, MemoryStore
from shipsync.testing.idempotency import FakeClock


def test_each_claim_uses_its_own_lease_even_when_they_alternate() -> None:
    """Leases of different lengths (and equal ones in new objects) each set their own expiry."""
    clock = FakeClock(1000.0)
    store = MemoryStore(clock=clock)
    leases = [timedelta(seconds=10), timedelta(seconds=100), timedelta(seconds=10), timedelta(0, 5)]
    tokens = []
    for index, lease in enumerate(leases):
        outcome = store.claim(f"k{index}", "fp", lease)
        assert isinstance(outcome, Acquired)
        tokens.append(outcome.token)
    clock.advance(7)  # only the 5 s lease has run out
    assert [type(store.claim(f"k{i}", "fp")) for i in range(4)] == [
        InProgress,
        InProgress,
        InProgress,
        Acquired,
    ]
    clock.advance(5)  # 12 s: the 10 s leases have run out, the 100 s one has not
    assert [type(store.claim(f"k{i}", "fp")) for i in range(3)] == [Acquired, InProgress, Acquired]


def test_each_completion_uses_its_own_retention() -> None:
    """Retentions of different lengths, passed in turn, each keep their result for their time."""
    clock = FakeClock(1000.0)
    store = MemoryStore(clock=clock)
    retentions = [timedelta(seconds=50), timedelta(seconds=500), timedelta(seconds=50)]
    for index, retention in enumerate(retentions):
        outcome = store.claim(f"k{index}", "fp")
        assert isinstance(outcome, Acquired)
        store.complete(f"k{index}", outcome.token, b"done", retention)
    clock.advance(60)
    outcomes = [store.claim(f"k{i}", "fp") for i in range(3)]
    assert [type(o) for o in outcomes] == [Acquired, Completed, Acquired]
    assert outcomes[1] == Completed("k1", b"done")


def test_a_bytearray_result_is_stored_as_a_copy() -> None:
    """A mutable result is copied into bytes: changing it later does not change the record."""
    store = MemoryStore()
    outcome = store.claim("k", "fp")
    assert isinstance(outcome, Acquired)
    result = bytearray(b"label-1")
    store.complete("k", outcome.token, result)  # type: ignore[arg-type]
    result[:] = b"changed"
    replay = store.claim("k", "fp")
    assert replay == Completed("k", b"label-1")
    assert type(replay.result) is bytes  # type: ignore[union-attr]


def test_completion_paths_keep_their_errors() -> None:
    """A wrong token is stale, completing twice is a no-op, another fingerprint is refused."""
    store = MemoryStore()
    outcome = store.claim("k", "fp")
    assert isinstance(outcome, Acquired)
    with pytest.raises(StaleTokenError):
        store.complete("k", outcome.token + 1, b"r")
    with pytest.raises(StaleTokenError):
        store.complete("missing", outcome.token, b"r")
    store.complete("k", outcome.token, b"r")
    store.complete("k", outcome.token, b"other")  # no-op: the first result stands
    assert store.claim("k", "fp") == Completed("k", b"r")
    with pytest.raises(FingerprintMismatchError):
        store.claim("k", "another")


def test_outcomes_behave_like_the_public_classes() -> None:
    """Outcomes from the store compare, hash and refuse changes like directly built ones."""
    store = MemoryStore()
    acquired = store.claim("k", "fp")
    assert type(acquired) is Acquired
    assert acquired == Acquired("k", acquired.token)
    assert hash(acquired) == hash(Acquired("k", acquired.token))
    assert repr(acquired) == f"Acquired(key='k', token={acquired.token})"
    assert attrs.asdict(acquired) == {"key": "k", "token": acquired.token}
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        acquired.token = 0  # type: ignore[misc]
    assert store.claim("k", "fp") == InProgress("k")
    store.complete("k", acquired.token, b"r")
    completed = store.claim("k", "fp")
    assert type(completed) is Completed
    assert completed == Completed("k", b"r")
    assert hash(completed) == hash(Completed("k", b"r"))
