"""A clock the tests move by hand."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

__all__ = ["FakeClock"]

DEFAULT_START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


class FakeClock:
    """Stands still until :meth:`advance` or :meth:`set` moves it. Always timezone-aware UTC."""

    def __init__(self, start: datetime = DEFAULT_START) -> None:
        if start.tzinfo is None:
            raise ValueError("the fake clock needs a timezone-aware start")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The current fake time."""
        return self._now

    def time(self) -> float:
        """The current fake time in POSIX seconds (a ``clock`` for clients and verifiers)."""
        return self._now.timestamp()

    def advance(self, delta: timedelta | float) -> datetime:
        """Move forward by ``delta`` (seconds or a timedelta); return the new time."""
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        if step < timedelta(0):
            raise ValueError("the fake clock never goes backwards")
        with self._lock:
            self._now += step
            return self._now

    def set(self, when: datetime) -> datetime:
        """Jump to ``when`` (not earlier than now)."""
        if when.tzinfo is None:
            raise ValueError("the fake clock needs a timezone-aware time")
        return self.advance(when.astimezone(UTC) - self._now)
