"""The breaker's guard on a healthy carrier: what counts as a failure, what does not.

The healthy path is one reusable context manager per carrier (no generator per request); these
tests pin that it still hands unavailability to purgatory, ignores refusals and cancellations,
and gives way to the full guard once a failure has been seen.
"""

from __future__ import annotations

import asyncio

import pytest

from shipsync.carriers import CircuitBreaker
from shipsync.errors import CarrierRequestError, CarrierUnavailableError, CircuitOpenError


def unavailable() -> CarrierUnavailableError:
    return CarrierUnavailableError("down", carrier="fake", operation="track", code="http_503")


def test_unavailability_opens_a_healthy_breaker_and_then_it_refuses() -> None:
    """``threshold`` unavailable answers through the guard open it; the next request is refused
    without running the block."""
    breaker = CircuitBreaker(threshold=2, ttl=30, clock=lambda: 0.0)
    for _ in range(2):
        with pytest.raises(CarrierUnavailableError), breaker.guard("fake", "track"):
            raise unavailable()
    assert breaker.state("fake") == "opened"
    ran = []
    with pytest.raises(CircuitOpenError), breaker.guard("fake", "track"):
        ran.append(1)
    assert ran == []


def test_refusals_and_cancellations_do_not_count() -> None:
    """A refused request (our bad data) and a ``BaseException`` leave a healthy breaker closed
    and on its fast path: the guard handed out is the same object each time."""
    breaker = CircuitBreaker(threshold=1, ttl=30, clock=lambda: 0.0)
    first = breaker.guard("fake", "track")
    with pytest.raises(KeyboardInterrupt), breaker.guard("fake", "track"):
        raise KeyboardInterrupt
    assert breaker.state("fake") == "closed"
    assert breaker.guard("fake", "track") is first
    with pytest.raises(CarrierRequestError), breaker.guard("fake", "track"):
        raise CarrierRequestError("bad", carrier="fake", operation="track", code="invalid")
    assert breaker.state("fake") == "closed"


def test_a_success_after_a_failure_makes_the_breaker_healthy_again() -> None:
    """After a failure the full guard runs; a success that finds it closed restores the fast
    path, and the failure count starts again from zero."""
    breaker = CircuitBreaker(threshold=2, ttl=30, clock=lambda: 0.0)
    fast = breaker.guard("fake", "track")
    with pytest.raises(CarrierUnavailableError), breaker.guard("fake", "track"):
        raise unavailable()
    assert breaker.guard("fake", "track") is not fast
    with breaker.guard("fake", "track"):
        pass
    assert breaker.guard("fake", "track") is fast
    with pytest.raises(CarrierUnavailableError), breaker.guard("fake", "track"):
        raise unavailable()
    assert breaker.state("fake") == "closed"


async def test_the_async_guard_counts_the_same_way() -> None:
    """Async: unavailability opens the breaker, a cancellation does not count."""
    breaker = CircuitBreaker(threshold=2, ttl=30, clock=lambda: 0.0)
    with pytest.raises(asyncio.CancelledError):
        async with breaker.aguard("fake", "track"):
            raise asyncio.CancelledError
    assert breaker.state("fake", flavour="async") == "closed"
    for _ in range(2):
        with pytest.raises(CarrierUnavailableError):
            async with breaker.aguard("fake", "track"):
                raise unavailable()
    assert breaker.state("fake", flavour="async") == "opened"
    assert breaker.state("fake") == "closed"  # sync and async keep separate state
    with pytest.raises(CircuitOpenError):
        async with breaker.aguard("fake", "track"):
            pass
