"""A circuit breaker per carrier, on top of purgatory.

purgatory gives the closed / opened / half-opened state machine for both sync and async code.
This module decides what counts as a failure (only
:class:`~shipsync.errors.CarrierUnavailableError`: a refused request or a malformed answer says
nothing about the carrier's health) and turns purgatory's "circuit is open" exception into
:class:`~shipsync.errors.CircuitOpenError`.

The open period is timed here, on an injectable ``clock``, not by purgatory (which reads
``time.time()`` itself): purgatory runs with a zero ttl, so the first request it sees after
opening moves it to half-open, and :meth:`CircuitBreaker.guard` refuses every request until
``ttl`` seconds of *our* clock have passed since the breaker opened. Tests therefore move a fake
clock instead of sleeping, and a slow machine cannot close a breaker early.

A closed breaker that has seen no failure since its last success does not consult purgatory
for a request that succeeds (purgatory's closed state does nothing then); a failure is handed
to purgatory as it would have been, and from then on every request goes through purgatory
until a success finds the breaker closed again. This keeps the per-call cost of a healthy
carrier to one dictionary lookup.

After the ttl exactly one request is admitted as the trial; while it is in flight every other
request is refused as if the breaker were still open (purgatory alone would let a whole burst of
concurrent requests through to a carrier that may still be down). The trial's outcome closes
the breaker or opens it for another ttl.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING

from shipsync.errors import CarrierUnavailableError, CircuitOpenError, ConfigurationError
from shipsync.telemetry import _hooks as _telemetry

if TYPE_CHECKING:
    from purgatory.domain.model import ExcludeType

__all__ = ["CircuitBreaker"]

_log = logging.getLogger("shipsync.carriers")


def _not_unavailable(exc: BaseException) -> bool:
    return not isinstance(exc, CarrierUnavailableError)


class CircuitBreaker:
    """Opens after ``threshold`` consecutive unavailable answers; tries again after ``ttl`` s.

    ``clock`` (monotonic seconds by default) times the open period; pass a fake clock's
    ``time`` in tests.

    One instance may be shared by several clients of the same carrier. Sync and async clients
    keep separate state (purgatory has one store per flavour).
    """

    def __init__(
        self,
        *,
        threshold: int = 5,
        ttl: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if threshold < 1 or not 0 <= ttl < float("inf"):
            raise ConfigurationError(
                "a circuit breaker needs threshold >= 1 and a finite ttl >= 0", path="breaker"
            )
        self.threshold = threshold
        self.ttl = ttl
        self.clock = clock
        import purgatory  # here, not at import: purgatory loads the redis client with it

        exclude: ExcludeType = [(BaseException, _not_unavailable)]
        self._sync = purgatory.SyncCircuitBreakerFactory(
            default_threshold=threshold, default_ttl=0.0, exclude=exclude
        )
        self._async = purgatory.AsyncCircuitBreakerFactory(
            default_threshold=threshold, default_ttl=0.0, exclude=exclude
        )
        self._states: dict[tuple[str, str], str] = {}
        self._opened_at: dict[tuple[str, str], float] = {}
        self._trials: set[tuple[str, str]] = set()
        # Keys with a failure since their last success: those go through purgatory.
        self._dirty: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._fast: dict[tuple[str, str], _Healthy] = {}
        self.transitions: list[tuple[str, str, str]] = []
        self._sync.add_listener(self._listener("sync"))
        self._async.add_listener(self._listener("async"))

    def _listener(self, flavour: str) -> Callable[[str, str, object], None]:
        def hook(name: str, event_name: str, event: object) -> None:
            if event_name == "state_changed":
                state = str(getattr(event, "state", "closed"))
                with self._lock:
                    self._states[(flavour, name)] = state
                    if state == "opened":
                        self._opened_at[(flavour, name)] = self.clock()
                self.transitions.append((flavour, name, state))
                _telemetry.record_breaker_change(name, state)  # telemetry
                _log.warning(
                    "circuit breaker %s for carrier %s",
                    state,
                    name,
                    extra={"shipsync": {"carrier": name, "breaker": state}},
                )

        return hook

    def state(self, carrier: str, *, flavour: str = "sync") -> str:
        """``"closed"``, ``"opened"`` or ``"half-opened"`` for ``carrier`` (sync or async)."""
        return self._states.get((flavour, carrier), "closed")

    def _admit(self, flavour: str, carrier: str, operation: str) -> bool:
        """Raise while the breaker is open or a trial is running; True for the one trial."""
        key = (flavour, carrier)
        with self._lock:
            state = self._states.get(key, "closed")
            if state == "closed":
                return False
            remaining = self._opened_at.get(key, float("-inf")) + self.ttl - self.clock()
            if key in self._trials or (state == "opened" and remaining > 0):
                raise self._open_error(carrier, operation, max(0.0, remaining))
            self._trials.add(key)
            return True

    def _end_trial(self, flavour: str, carrier: str) -> None:
        with self._lock:
            self._trials.discard((flavour, carrier))

    def _open_error(self, carrier: str, operation: str, retry_after: float) -> CircuitOpenError:
        return CircuitOpenError(
            "circuit breaker is open; request not sent",
            carrier=carrier,
            operation=operation,
            code="circuit_open",
            retry_after=retry_after,
        )

    def _healthy(self, key: tuple[str, str]) -> bool:
        """Closed with no failure since the last success: purgatory has nothing to track."""
        return key not in self._dirty and self._states.get(key, "closed") == "closed"

    def _settled(self, key: tuple[str, str]) -> None:
        """A success went through purgatory: a closed breaker is healthy again."""
        with self._lock:
            if self._states.get(key, "closed") == "closed":
                self._dirty.discard(key)

    def _fail_sync(self, carrier: str, exc: Exception) -> None:
        """Hand a failure seen on the fast path to purgatory, exactly as the guard would."""
        with self._lock:
            self._dirty.add(("sync", carrier))
        breaker = self._sync.get_breaker(carrier)
        breaker.__enter__()  # closed: no effect
        breaker.__exit__(type(exc), exc, exc.__traceback__)

    async def _fail_async(self, carrier: str, exc: Exception) -> None:
        with self._lock:
            self._dirty.add(("async", carrier))
        breaker = await self._async.get_breaker(carrier)
        await breaker.__aenter__()
        await breaker.__aexit__(type(exc), exc, exc.__traceback__)

    def guard(self, carrier: str, operation: str) -> contextlib.AbstractContextManager[None]:
        """Run the block under ``carrier``'s breaker (sync)."""
        if self._healthy(("sync", carrier)):
            return self._fast_guard("sync", carrier)
        return self._guard(carrier, operation)

    def aguard(self, carrier: str, operation: str) -> contextlib.AbstractAsyncContextManager[None]:
        """Run the block under ``carrier``'s breaker (async)."""
        if self._healthy(("async", carrier)):
            return self._fast_guard("async", carrier)
        return self._aguard(carrier, operation)

    def _fast_guard(self, flavour: str, carrier: str) -> _Healthy:
        """The guard of a healthy breaker: one object per carrier, made once (no generator)."""
        key = (flavour, carrier)
        guard = self._fast.get(key)
        if guard is None:
            guard = self._fast[key] = _Healthy(self, carrier)
        return guard

    @contextlib.contextmanager
    def _guard(self, carrier: str, operation: str) -> Iterator[None]:
        """The guard of a breaker that has seen a failure: every request goes through purgatory."""
        from purgatory.domain.model import OpenedState

        trial = self._admit("sync", carrier, operation)
        try:
            breaker = self._sync.get_breaker(carrier)
            try:
                breaker.__enter__()
            except OpenedState as exc:
                raise self._open_error(carrier, operation, self.ttl) from exc
            try:
                yield
            except Exception as exc:
                breaker.__exit__(type(exc), exc, exc.__traceback__)
                raise
            # A cancelled or interrupted call (BaseException) says nothing either way: it
            # neither counts as a failure nor closes a half-open breaker.
            breaker.__exit__(None, None, None)
            self._settled(("sync", carrier))
        finally:
            if trial:
                self._end_trial("sync", carrier)

    @contextlib.asynccontextmanager
    async def _aguard(self, carrier: str, operation: str) -> AsyncIterator[None]:
        """The async twin of :meth:`_guard`."""
        from purgatory.domain.model import OpenedState

        trial = self._admit("async", carrier, operation)
        try:
            breaker = await self._async.get_breaker(carrier)
            try:
                await breaker.__aenter__()
            except OpenedState as exc:
                raise self._open_error(carrier, operation, self.ttl) from exc
            try:
                yield
            except Exception as exc:
                await breaker.__aexit__(type(exc), exc, exc.__traceback__)
                raise
            # A cancelled call (BaseException) says nothing either way: it neither counts as a
            # failure nor closes a half-open breaker.
            await breaker.__aexit__(None, None, None)
            self._settled(("async", carrier))
        finally:
            if trial:
                self._end_trial("async", carrier)


class _Healthy:
    """The context manager :meth:`CircuitBreaker.guard` hands out while a carrier is healthy.

    It does what the guard's healthy branch always did (a failure is handed to purgatory, a
    success or a ``BaseException`` such as a cancellation changes nothing) without making a
    generator per request: a healthy carrier's breaker costs one dictionary lookup and two
    method calls.
    """

    __slots__ = ("_breaker", "_carrier")

    def __init__(self, breaker: CircuitBreaker, carrier: str) -> None:
        self._breaker = breaker
        self._carrier = carrier

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        if isinstance(exc, Exception):
            self._breaker._fail_sync(self._carrier, exc)

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        if isinstance(exc, Exception):
            await self._breaker._fail_async(self._carrier, exc)
