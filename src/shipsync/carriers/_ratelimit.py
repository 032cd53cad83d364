"""A client-side rate limit per carrier (GCRA, the "virtual scheduling" token bucket).

Each acquisition reserves the next free slot and returns how long the caller must wait for it;
the caller sleeps through its :class:`~shipsync.carriers.Sleeper`. Because a reservation never
polls the clock again, a recording sleeper in tests cannot make it spin.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from shipsync.errors import ConfigurationError

__all__ = ["RateLimit"]


class RateLimit:
    """At most ``rate`` requests per second on average, with bursts of up to ``burst``."""

    def __init__(
        self, rate: float, *, burst: int = 1, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not 0 < rate < math.inf or not isinstance(burst, int) or burst < 1:
            raise ConfigurationError(
                "a rate limit needs a finite rate > 0 and an integer burst >= 1", path="rate_limit"
            )
        self.rate = rate
        self.burst = burst
        self._interval = 1.0 / rate
        self._tolerance = self._interval * (burst - 1)
        self._clock = clock
        self._tat = 0.0
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Reserve one request slot; return the seconds to wait before sending it."""
        with self._lock:
            now = self._clock()
            tat = max(self._tat, now)
            wait = tat - self._tolerance - now
            self._tat = tat + self._interval
            return max(0.0, wait)
