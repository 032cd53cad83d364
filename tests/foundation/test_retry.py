"""The one retry policy and the one testing switch that carriers, flows and Odoo share."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

import shipsync.carriers
import shipsync.flows
import shipsync.odoo
from shipsync.errors import CarrierUnavailableError, ConfigurationError
from shipsync.retry import RetryPolicy, current_sleeper, is_testing, set_testing


def test_every_package_names_the_same_policy_type() -> None:
    """carriers, flows and odoo re-export one RetryPolicy, declared in shipsync.retry."""
    assert shipsync.carriers.RetryPolicy is RetryPolicy
    assert shipsync.flows.RetryPolicy is RetryPolicy
    assert shipsync.odoo.RetryPolicy is RetryPolicy
    assert RetryPolicy.__module__ == "shipsync.retry"


@given(
    initial=st.floats(0, 100),
    maximum=st.floats(0, 100),
    jitter=st.floats(0, 10),
    retry=st.integers(0, 2000),
)
def test_backoff_doubles_from_initial_within_jitter_and_cap(
    initial: float, maximum: float, jitter: float, retry: int
) -> None:
    """The wait before retry n is initial * 2**n plus at most jitter, never above maximum."""
    policy = RetryPolicy(initial=initial, maximum=maximum, jitter=jitter)
    wait = policy.backoff(retry)
    grown = initial * 2.0 ** min(retry, 1000)
    assert 0 <= wait <= maximum
    assert wait >= min(maximum, grown)
    assert wait <= grown + jitter


@pytest.mark.parametrize(
    ("retry_after", "expected"), [(7.0, 7.0), (500.0, 60.0), (-3.0, 0.0)], ids=str
)
def test_retry_after_replaces_backoff_capped(retry_after: float, expected: float) -> None:
    """An error's retry_after is the wait, clamped to 0..max_retry_after."""
    policy = RetryPolicy(initial=5, jitter=0, max_retry_after=60)
    exc = CarrierUnavailableError("busy", retry_after=retry_after)
    assert policy.wait_after(exc, 0) == expected
    assert policy.wait_after(ValueError("x"), 1) == 10.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"attempts": 0},
        {"attempts": True},
        {"initial": -1},
        {"maximum": float("inf")},
        {"jitter": float("nan")},
        {"max_retry_after": "3"},
    ],
    ids=["zero-attempts", "bool-attempts", "negative", "endless", "nan", "text"],
)
def test_nonsense_is_a_configuration_error_naming_the_field(kwargs: dict[str, object]) -> None:
    """A bad setting is refused with ConfigurationError whose path is the field."""
    with pytest.raises(ConfigurationError) as caught:
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
    assert caught.value.path == next(iter(kwargs))


def test_call_retries_until_success_recording_waits_under_the_switch() -> None:
    """call() passes attempt numbers 1.., retries what retry_if allows, and sleeps nothing."""
    seen: list[int] = []

    def flaky(attempt: int) -> str:
        seen.append(attempt)
        if attempt < 3:
            raise TimeoutError("slow")
        return "ok"

    policy = RetryPolicy(attempts=5, initial=1, maximum=10, jitter=0)
    told: list[tuple[int, float]] = []
    with set_testing() as waits:
        result = policy.call(
            flaky, retry_if=lambda exc: True, before_sleep=lambda n, e, s: told.append((n, s))
        )
    assert result == "ok"
    assert seen == [1, 2, 3]
    assert waits.sleeps == [1.0, 2.0]
    assert told == [(1, 1.0), (2, 2.0)]


def test_acall_stops_at_a_refused_error_and_after_the_last_attempt() -> None:
    """acall() raises the first error retry_if refuses, or the last one when attempts run out."""
    policy = RetryPolicy(attempts=3, initial=0.25, jitter=0)

    async def failing(attempt: int) -> None:
        raise KeyError(attempt) if attempt == 1 else ValueError(attempt)

    async def scenario() -> None:
        with set_testing() as waits:
            with pytest.raises(KeyError):
                await policy.acall(failing, retry_if=lambda exc: isinstance(exc, ValueError))
            assert waits.sleeps == []
            with pytest.raises(ValueError, match="3"):
                await policy.acall(failing, retry_if=lambda exc: True)
            assert waits.sleeps == [0.25, 0.5]

    asyncio.run(scenario())


def test_retry_on_limits_the_types_retried() -> None:
    """An error outside retry_on is raised at once even when retry_if would allow it."""
    policy = RetryPolicy(attempts=3, retry_on=(TimeoutError,))
    calls: list[int] = []

    def failing(attempt: int) -> None:
        calls.append(attempt)
        raise ValueError("no")

    with set_testing(), pytest.raises(ValueError, match="no"):
        policy.call(failing, retry_if=lambda exc: True)
    assert calls == [1]


def test_set_testing_without_with_stays_on_until_turned_off() -> None:
    """set_testing(True) holds until set_testing(False); the with form restores what was."""
    assert not is_testing()
    outer = set_testing(True)
    try:
        assert is_testing()
        assert current_sleeper() is outer
        with set_testing() as inner:
            assert current_sleeper() is inner
        assert current_sleeper() is outer
    finally:
        set_testing(False)
    assert not is_testing()
