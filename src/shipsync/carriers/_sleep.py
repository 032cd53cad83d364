"""Sleeping, and the testing switch that turns it off.

Every wait the carrier clients make (retry backoff, Retry-After, the client-side rate limit) goes
through a :class:`Sleeper`. In tests, :func:`no_sleep` swaps in a :class:`SleepRecorder` that
returns at once and remembers what was asked, so a test asserts on the requested sleeps instead of
waiting for them::

    with no_sleep() as sleeps:
        client.track("FK1")
    assert sleeps.sleeps == [7.0]
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

__all__ = ["SleepRecorder", "Sleeper", "default_sleeper", "no_sleep"]


class Sleeper:
    """Really sleeps: ``time.sleep`` for sync clients, ``asyncio.sleep`` for async ones."""

    def sleep(self, seconds: float) -> None:
        """Block the thread for ``seconds``."""
        time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        """Suspend the task for ``seconds``."""
        await asyncio.sleep(seconds)


class SleepRecorder(Sleeper):
    """Never sleeps; appends every requested duration to :attr:`sleeps`."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        """Record ``seconds`` and return at once."""
        self.sleeps.append(seconds)

    async def asleep(self, seconds: float) -> None:
        """Record ``seconds`` and return at once (still yielding to the event loop)."""
        self.sleeps.append(seconds)
        await asyncio.sleep(0)


_REAL = Sleeper()
_current: Sleeper = _REAL


def default_sleeper() -> Sleeper:
    """The sleeper clients use when none is given: real, or the recorder of :func:`no_sleep`."""
    return _current


@contextlib.contextmanager
def no_sleep() -> Iterator[SleepRecorder]:
    """Within the block, clients without their own sleeper record sleeps instead of sleeping."""
    global _current
    previous = _current
    recorder = SleepRecorder()
    _current = recorder
    try:
        yield recorder
    finally:
        _current = previous
