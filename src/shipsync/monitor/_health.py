"""Carrier API health as the control tower shows it: error rate over recent calls, breaker state.

Theory of operation. httpx tells its event hooks about a request before it is sent and about a
response once one came; a call that got no answer (a timeout, a refused connection, a reset)
reaches only the request hook. So the request hook notes each call as *in flight* (on the
request's ``extensions``, which travel with it) and the response hook settles it as a good or a
bad answer. A call still in flight once its own timeout has certainly run out (the sum of the
request's connect, write, pool and read timeouts, plus a second) got no answer: httpx raised
instead. It then counts as a call and as an error, and apart as ``no_answer``. A call still within
its timeout counts nowhere yet.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import attrs

__all__ = ["CarrierHealth", "CarrierHealthRow"]

_KEY = "shipsync.carrier_health"  # the request extension that carries the call's record
_GRACE = 1.0  # seconds past a request's total timeout before it surely got no answer


@attrs.frozen
class CarrierHealthRow:
    """One carrier's recent calls, failures, error rate and circuit breaker state.

    ``errors`` counts bad answers (429, 5xx) and calls that got no answer; ``no_answer`` counts
    the latter alone.
    """

    carrier: str
    calls: int
    errors: int
    breaker: str
    no_answer: int = 0

    @property
    def error_rate(self) -> float:
        """Failed calls over calls in the window (0 with no call)."""
        return self.errors / self.calls if self.calls else 0.0


@attrs.define
class _Call:
    at: float
    give_up_at: float  # past this, a call with no answer got none
    ok: bool | None = None  # None: no answer (yet)


class CarrierHealth:
    """Counts carrier HTTP calls and their answers over a sliding window, per carrier.

    Feed it from httpx event hooks on the carrier client's HTTP client::

        health = CarrierHealth(breaker=client_breaker)
        http = httpx.Client(event_hooks=health.event_hooks("ups"))
        client = CarrierClient(driver, http=http, breaker=client_breaker)

    (``async_event_hooks`` for an ``httpx.AsyncClient``). A 429 or a 5xx answer counts as an
    error, and so does a call that got no answer (a timeout, a connection error) once its
    timeout has run out; ``no_answer_after`` seconds stand in for a request with no timeout.
    ``window`` is in seconds.
    """

    def __init__(
        self,
        *,
        breaker: Any = None,
        window: float = 900.0,
        no_answer_after: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.breaker = breaker
        self.window = window
        self.no_answer_after = no_answer_after
        self._clock = clock
        self._calls: dict[str, deque[_Call]] = {}
        self._lock = threading.Lock()

    def record(self, carrier: str, *, ok: bool) -> None:
        """Count one answered call of ``carrier``."""
        now = self._clock()
        with self._lock:
            self._calls.setdefault(carrier, deque()).append(_Call(now, now, ok))

    def sent(self, carrier: str, request: Any) -> None:
        """Note that ``request`` (an ``httpx.Request``) went out to ``carrier``: in flight."""
        now = self._clock()
        call = _Call(now, now + self._patience(request))
        request.extensions[_KEY] = call
        with self._lock:
            self._calls.setdefault(carrier, deque()).append(call)

    def answered(self, carrier: str, response: Any) -> None:
        """Settle the call ``response`` (an ``httpx.Response``) answers."""
        status = int(response.status_code)
        ok = status != 429 and status < 500
        call = response.request.extensions.get(_KEY)
        if not isinstance(call, _Call):  # its request was not seen: count the answer alone
            self.record(carrier, ok=ok)
            return
        with self._lock:
            call.ok = ok

    def event_hooks(self, carrier: str) -> dict[str, list[Callable[[Any], None]]]:
        """httpx ``event_hooks`` (for an ``httpx.Client``) that count every call of ``carrier``."""

        def on_request(request: Any) -> None:
            self.sent(carrier, request)

        def on_response(response: Any) -> None:
            self.answered(carrier, response)

        return {"request": [on_request], "response": [on_response]}

    def async_event_hooks(self, carrier: str) -> dict[str, list[Callable[[Any], Awaitable[None]]]]:
        """The same hooks for an ``httpx.AsyncClient`` (whose hooks must be coroutines)."""

        async def on_request(request: Any) -> None:
            self.sent(carrier, request)

        async def on_response(response: Any) -> None:
            self.answered(carrier, response)

        return {"request": [on_request], "response": [on_response]}

    def rows(self) -> list[CarrierHealthRow]:
        """Each carrier's counts over the window, and its breaker state."""
        now = self._clock()
        cutoff = now - self.window
        out = []
        with self._lock:
            for carrier, calls in sorted(self._calls.items()):
                while calls and calls[0].at < cutoff:
                    calls.popleft()
                answered = bad = silent = 0
                for call in calls:
                    if call.ok is None:
                        if now >= call.give_up_at:
                            silent += 1
                        continue
                    answered += 1
                    bad += not call.ok
                out.append(
                    CarrierHealthRow(
                        carrier,
                        answered + silent,
                        bad + silent,
                        self._state(carrier),
                        no_answer=silent,
                    )
                )
        return out

    def _patience(self, request: Any) -> float:
        """Seconds after which ``request`` surely got no answer: its timeouts' sum, and a bit."""
        timeout = request.extensions.get("timeout")
        if isinstance(timeout, dict) and timeout:
            phases = list(timeout.values())
            if all(isinstance(v, int | float) for v in phases):
                return float(sum(phases)) + _GRACE
        return self.no_answer_after

    def _state(self, carrier: str) -> str:
        if self.breaker is None:
            return "unknown"
        try:
            return str(self.breaker.state(carrier))
        except Exception:
            return "unknown"
