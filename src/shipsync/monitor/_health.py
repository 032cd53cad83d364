"""Carrier API health as the control tower shows it: error rate over recent calls, breaker state."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import attrs

__all__ = ["CarrierHealth", "CarrierHealthRow"]


@attrs.frozen
class CarrierHealthRow:
    """One carrier's recent calls, failures, error rate and circuit breaker state."""

    carrier: str
    calls: int
    errors: int
    breaker: str

    @property
    def error_rate(self) -> float:
        """Failed calls over calls in the window (0 with no call)."""
        return self.errors / self.calls if self.calls else 0.0


class CarrierHealth:
    """Counts carrier HTTP answers over a sliding window, per carrier.

    Feed it from httpx event hooks on the carrier client's HTTP client::

        health = CarrierHealth(breaker=client_breaker)
        http = httpx.Client(event_hooks=health.event_hooks("ups"))
        client = CarrierClient(driver, http=http, breaker=client_breaker)

    A 429 or a 5xx answer counts as an error (a call that got no answer is not seen by the
    hooks; the breaker state tells of those). ``window`` is in seconds.
    """

    def __init__(
        self,
        *,
        breaker: Any = None,
        window: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.breaker = breaker
        self.window = window
        self._clock = clock
        self._calls: dict[str, deque[tuple[float, bool]]] = {}
        self._lock = threading.Lock()

    def record(self, carrier: str, *, ok: bool) -> None:
        """Count one call of ``carrier``."""
        with self._lock:
            self._calls.setdefault(carrier, deque()).append((self._clock(), ok))

    def event_hooks(self, carrier: str) -> dict[str, list[Callable[[Any], None]]]:
        """httpx ``event_hooks`` that count every answer of ``carrier``."""

        def on_response(response: Any) -> None:
            status = int(response.status_code)
            self.record(carrier, ok=status != 429 and status < 500)

        return {"response": [on_response]}

    def rows(self) -> list[CarrierHealthRow]:
        """Each carrier's counts over the window, and its breaker state."""
        cutoff = self._clock() - self.window
        out = []
        with self._lock:
            for carrier, calls in sorted(self._calls.items()):
                while calls and calls[0][0] < cutoff:
                    calls.popleft()
                errors = sum(1 for _, ok in calls if not ok)
                out.append(CarrierHealthRow(carrier, len(calls), errors, self._state(carrier)))
        return out

    def _state(self, carrier: str) -> str:
        if self.breaker is None:
            return "unknown"
        try:
            return str(self.breaker.state(carrier))
        except Exception:
            return "unknown"
