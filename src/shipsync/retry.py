"""One retry policy and one testing switch for the whole library.

Carrier clients, the flows dispatcher and the Odoo RPC gateway all retry the same way: a
:class:`RetryPolicy` says how many attempts and how long to wait between them, and each user
decides *which* failures are worth another attempt (a carrier's 429, a handler's error that is
not permanent, an Odoo call that was never sent). Every wait goes through a :class:`Sleeper`.

In tests, :func:`set_testing` turns every library wait into a note (in the spirit of stamina's
``set_testing``): waits return at once and are recorded, so a test asserts on what was asked
instead of waiting for it::

    with set_testing() as waits:
        client.track("FK1")
    assert waits.sleeps == [7.0]

``set_testing(True)`` without ``with`` stays on until ``set_testing(False)``.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import attrs

from shipsync.errors import ConfigurationError

__all__ = [
    "RetryPolicy",
    "SleepRecorder",
    "Sleeper",
    "current_sleeper",
    "is_testing",
    "set_testing",
]

T = TypeVar("T")


def _finite(name: str) -> Callable[[Any, Any, Any], None]:
    def check(_instance: Any, _attribute: Any, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigurationError(f"retry {name} is a finite number >= 0", path=name)
        if not 0 <= value < math.inf:
            raise ConfigurationError(f"retry {name} is a finite number >= 0", path=name)

    return check


def _attempts(_instance: Any, _attribute: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError("retry attempts is an integer", path="attempts")
    if value < 1:
        raise ConfigurationError("retry attempts must be at least 1", path="attempts")


@attrs.frozen
class RetryPolicy:
    """How often and how patiently a failed call is tried again.

    ``attempts`` counts the first try. The wait before retry *n* (from 0) is
    ``min(maximum, initial * 2**n + uniform(0, jitter))``. When the failure is a shipsync error
    carrying ``retry_after`` (a carrier's ``Retry-After``, a busy idempotency key), that wait
    replaces the backoff, capped at ``max_retry_after``. ``retry_on`` limits retries to these
    exception types; the caller adds its own rule on top (a carrier client retries only
    retryable unavailability, the dispatcher never retries permanent errors).
    """

    attempts: int = attrs.field(default=4, validator=_attempts)
    initial: float = attrs.field(default=0.5, validator=_finite("initial"))
    maximum: float = attrs.field(default=30.0, validator=_finite("maximum"))
    jitter: float = attrs.field(default=0.5, validator=_finite("jitter"))
    max_retry_after: float = attrs.field(default=60.0, validator=_finite("max_retry_after"))
    retry_on: tuple[type[BaseException], ...] = (Exception,)

    def backoff(self, retry: int) -> float:
        """The wait in seconds before retry ``retry`` (0 for the wait after the first try)."""
        grown = self.initial * 2.0 ** min(retry, 1000)  # 2**1000 already exceeds any cap
        return float(min(self.maximum, grown + random.uniform(0, self.jitter)))

    def wait_after(self, exc: BaseException | None, retry: int) -> float:
        """The wait before retry ``retry`` after ``exc``: its ``retry_after``, else backoff."""
        retry_after = getattr(exc, "retry_after", None)
        if isinstance(retry_after, bool) or not isinstance(retry_after, int | float):
            return self.backoff(retry)
        if retry_after == retry_after:  # not NaN
            return float(min(max(retry_after, 0.0), self.max_retry_after))
        return self.backoff(retry)

    def call(
        self,
        fn: Callable[[int], T],
        *,
        retry_if: Callable[[BaseException], bool],
        sleeper: Sleeper | None = None,
        before_sleep: Callable[[int, BaseException, float], None] | None = None,
    ) -> T:
        """Call ``fn(attempt)`` until it returns, the attempts run out or ``retry_if`` says no.

        The first attempt runs outside tenacity, and tenacity (which sees that first outcome as
        its own first attempt) takes over only after a retryable failure. This is worth its few
        lines: nearly every call succeeds at once, a carrier call is measured against a bare
        httpx request, and building tenacity's ``Retrying`` costs more than the rest of the
        success path together. ``before_sleep(attempt, exc, seconds)`` hears of each wait
        before it happens; the last failure is raised as it is.
        """
        try:
            return fn(1)
        except Exception as exc:
            if not self._again(exc, 1, retry_if):
                raise
            first = exc
        import tenacity

        wait = (sleeper or current_sleeper()).sleep
        for attempt in tenacity.Retrying(sleep=wait, **self._tenacity(retry_if, before_sleep)):
            with attempt:
                number = attempt.retry_state.attempt_number
                if number == 1:
                    raise first
                return fn(number)
        raise AssertionError("tenacity stopped without raising")  # pragma: no cover

    async def acall(
        self,
        fn: Callable[[int], Awaitable[T]],
        *,
        retry_if: Callable[[BaseException], bool],
        sleeper: Sleeper | None = None,
        before_sleep: Callable[[int, BaseException, float], None] | None = None,
    ) -> T:
        """The async twin of :meth:`call`: ``fn(attempt)`` is awaited, waits are ``asleep``."""
        try:
            return await fn(1)
        except Exception as exc:
            if not self._again(exc, 1, retry_if):
                raise
            first = exc
        import tenacity

        wait = (sleeper or current_sleeper()).asleep
        retrying = tenacity.AsyncRetrying(sleep=wait, **self._tenacity(retry_if, before_sleep))
        async for attempt in retrying:
            with attempt:
                number = attempt.retry_state.attempt_number
                if number == 1:
                    raise first
                return await fn(number)
        raise AssertionError("tenacity stopped without raising")  # pragma: no cover

    def _tenacity(
        self,
        retry_if: Callable[[BaseException], bool],
        before_sleep: Callable[[int, BaseException, float], None] | None,
    ) -> dict[str, Any]:
        """Stop, wait, retry and before-sleep arguments for tenacity, from this policy."""
        import tenacity

        def failure(state: tenacity.RetryCallState) -> BaseException | None:
            return state.outcome.exception() if state.outcome is not None else None

        def wait(state: tenacity.RetryCallState) -> float:
            return self.wait_after(failure(state), state.attempt_number - 1)

        def tell(state: tenacity.RetryCallState) -> None:
            exc = failure(state)
            seconds = state.next_action.sleep if state.next_action is not None else 0.0
            if before_sleep is not None and exc is not None:
                before_sleep(state.attempt_number, exc, seconds)

        return {
            "stop": tenacity.stop_after_attempt(self.attempts),
            "wait": wait,
            "retry": tenacity.retry_if_exception(
                lambda exc: isinstance(exc, self.retry_on) and retry_if(exc)
            ),
            "before_sleep": tell,
            "reraise": True,
        }

    def _again(
        self, exc: BaseException, attempt: int, retry_if: Callable[[BaseException], bool]
    ) -> bool:
        return attempt < self.attempts and isinstance(exc, self.retry_on) and retry_if(exc)


class Sleeper:
    """Really sleeps: ``time.sleep`` for sync callers, ``asyncio.sleep`` for async ones."""

    def sleep(self, seconds: float) -> None:
        """Block the thread for ``seconds``."""
        time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        """Suspend the task for ``seconds``."""
        import asyncio

        await asyncio.sleep(seconds)


class SleepRecorder(Sleeper):
    """Never sleeps; appends every requested duration to :attr:`sleeps`.

    Also what :func:`set_testing` returns: leaving its ``with`` block restores the switch as it
    was before.
    """

    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self._previous: Sleeper | None = None

    def sleep(self, seconds: float) -> None:
        """Record ``seconds`` and return at once."""
        self.sleeps.append(seconds)

    async def asleep(self, seconds: float) -> None:
        """Record ``seconds`` and return at once (still yielding to the event loop)."""
        self.sleeps.append(seconds)
        import asyncio

        await asyncio.sleep(0)

    def __enter__(self) -> SleepRecorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        global _current
        _current = self._previous if self._previous is not None else _REAL


_REAL = Sleeper()
_current: Sleeper = _REAL


def current_sleeper() -> Sleeper:
    """The sleeper the library uses when none is given: real, or the testing recorder."""
    return _current


def is_testing() -> bool:
    """Whether :func:`set_testing` is on."""
    return _current is not _REAL


def set_testing(testing: bool = True) -> SleepRecorder:
    """Turn every library wait (retry backoff, Retry-After, rate limits) into a recorded note.

    Returns the recorder; used as a context manager, the previous state comes back at the end
    of the block. ``set_testing(False)`` turns the switch off (the returned recorder is then
    unused).
    """
    global _current
    recorder = SleepRecorder()
    recorder._previous = _current
    _current = recorder if testing else _REAL
    return recorder
