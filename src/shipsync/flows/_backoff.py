"""Retry policy, and the testing switch that turns backoff sleeps off.

Handlers are retried with exponential backoff and jitter (tenacity computes the waits). In tests,
:func:`no_backoff` makes every wait return at once and records what was asked::

    with no_backoff() as sleeps:
        await dispatcher.dispatch([event])
    assert len(sleeps) == 4
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import attrs

from shipsync.errors import ConfigurationError, InvalidInputError, RemoteDataError

__all__ = ["RetryPolicy", "backoff_sleep", "no_backoff"]


@attrs.frozen
class RetryPolicy:
    """How often and how patiently a handler is retried before its dead letter is written.

    ``attempts`` counts the first call. Waits grow from ``initial`` seconds, doubling up to
    ``maximum``, plus up to ``jitter`` seconds at random. Exceptions that are not instances of
    ``retry_on``, and shipsync's permanent errors (``InvalidInputError``, ``RemoteDataError``:
    the same call cannot succeed later) are not retried.
    """

    attempts: int = 5
    initial: float = 0.2
    maximum: float = 30.0
    jitter: float = 0.2
    retry_on: tuple[type[BaseException], ...] = (Exception,)

    def __attrs_post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int):
            raise ConfigurationError("attempts is an integer", path="attempts")
        if self.attempts < 1:
            raise ConfigurationError("attempts must be at least 1", path="attempts")
        for name in ("initial", "maximum", "jitter"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0 <= value < float("inf"):
                raise ConfigurationError(f"{name} is a finite number >= 0", path=name)

    def should_retry(self, exc: BaseException) -> bool:
        """Whether ``exc`` is worth another attempt."""
        if isinstance(exc, InvalidInputError | RemoteDataError):
            return False
        return isinstance(exc, self.retry_on)


_recorder: list[float] | None = None


async def backoff_sleep(seconds: float) -> None:
    """Sleep between attempts, unless :func:`no_backoff` is active."""
    if _recorder is not None:
        _recorder.append(seconds)
        await asyncio.sleep(0)
        return
    await asyncio.sleep(seconds)


@contextlib.contextmanager
def no_backoff() -> Iterator[list[float]]:
    """Within the block, backoff waits return at once; yields the list of requested waits."""
    global _recorder
    previous, _recorder = _recorder, []
    try:
        yield _recorder
    finally:
        _recorder = previous
