"""When and how long to retry: a tenacity configuration shared by the sync and async clients."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs
import tenacity

from shipsync.carriers._sleep import Sleeper
from shipsync.errors import CarrierUnavailableError, CircuitOpenError, ConfigurationError

__all__ = ["RetryPolicy", "is_retryable"]


def is_retryable(exc: BaseException) -> bool:
    """Whether ``exc`` is worth another attempt: an unavailable carrier, never an open breaker."""
    return (
        isinstance(exc, CarrierUnavailableError)
        and exc.retryable
        and not isinstance(exc, CircuitOpenError)
    )


@attrs.frozen
class RetryPolicy:
    """Retries with exponential backoff and jitter, honouring ``Retry-After`` up to a cap.

    ``attempts`` counts the first try. Backoff before retry *n* (from 0) is
    ``min(max_backoff, multiplier * 2**n + uniform(0, jitter))``; a ``Retry-After`` from the
    carrier replaces it, capped at ``max_retry_after``.
    """

    attempts: int = 4
    multiplier: float = 0.5
    max_backoff: float = 30.0
    jitter: float = 0.5
    max_retry_after: float = 60.0

    def __attrs_post_init__(self) -> None:
        times = (self.multiplier, self.max_backoff, self.jitter, self.max_retry_after)
        if not isinstance(self.attempts, int) or self.attempts < 1:
            raise ConfigurationError("retry attempts must be an integer >= 1", path="attempts")
        if not all(0 <= t < math.inf for t in times):
            raise ConfigurationError(
                "retry multiplier, max_backoff, jitter and max_retry_after must be finite and >= 0",
                path="retry",
            )

    def _wait(self) -> Callable[[tenacity.RetryCallState], float]:
        backoff = tenacity.wait_exponential_jitter(
            multiplier=self.multiplier, max=self.max_backoff, jitter=self.jitter
        )
        cap = self.max_retry_after

        def wait(state: tenacity.RetryCallState) -> float:
            outcome = state.outcome
            exc = outcome.exception() if outcome is not None else None
            retry_after = getattr(exc, "retry_after", None)
            if retry_after is not None:
                return float(min(max(retry_after, 0.0), cap))
            return float(backoff(state))

        return wait

    def _kwargs(self) -> dict[str, Any]:
        return {
            "stop": tenacity.stop_after_attempt(max(1, self.attempts)),
            "wait": self._wait(),
            "retry": tenacity.retry_if_exception(is_retryable),
            "reraise": True,
        }

    def retrying(self, sleeper: Sleeper) -> tenacity.Retrying:
        """A tenacity ``Retrying`` that sleeps through ``sleeper``."""
        return tenacity.Retrying(sleep=sleeper.sleep, **self._kwargs())

    def async_retrying(self, sleeper: Sleeper) -> tenacity.AsyncRetrying:
        """A tenacity ``AsyncRetrying`` that sleeps through ``sleeper``."""
        return tenacity.AsyncRetrying(sleep=sleeper.asleep, **self._kwargs())
