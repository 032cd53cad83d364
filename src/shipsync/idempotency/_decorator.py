"""``idempotent(...)``: run a function or a block at most once per key, sync or async.

As a decorator it derives the key (and a payload fingerprint) from the call's arguments, claims
the key, runs the function, stores its result as JSON and returns it; a later call with the same
key and payload returns the stored result, decoded as the function's return type, without running
the function again. As a context manager it claims a given key and lets the block decide::

    with idempotent(store, key=delivery_id, fingerprint=body_hash) as call:
        if call.replayed:
            return call.result(Receipt)
        receipt = carrier.book(shipment, idempotency_key=call.outbound_key)
        call.set_result(receipt)

If the function or block raises (or is cancelled), the key is released so a retry can run. If
recording the result fails after the side effect ran, ``CompletionFailedError`` says so.

Cancellation. A call to an async store is always awaited to its end, even when the task is
cancelled meanwhile; the cancellation is raised once the store has answered. So a claim that the
store granted is released, and a completion is recorded, whenever the cancellation arrives: a
cancelled call never leaves its key held until the lease ends, and never loses a result whose
side effect ran. (A store call is bounded by the store's own timeouts.)
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import logging
import typing
from collections.abc import Awaitable, Callable
from datetime import timedelta
from types import TracebackType
from typing import Any, Literal, ParamSpec, TypeVar, cast, overload

from shipsync.errors import (
    CompletionFailedError,
    ConfigurationError,
    IdempotencyError,
    KeyInProgressError,
    MissingIdempotencyKeyError,
    StaleTokenError,
)

from ._checks import check_fingerprint, check_key, seconds
from ._codec import decode_result, encode_result
from ._codec import fingerprint as default_fingerprint
from ._keys import outbound_key
from ._protocol import (
    DEFAULT_LEASE,
    DEFAULT_RETENTION,
    Acquired,
    AsyncIdempotencyStore,
    ClaimOutcome,
    Completed,
    IdempotencyStore,
)

__all__ = ["Idempotent", "IdempotentCall", "MissingKeyPolicy", "current_outbound_key", "idempotent"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

MissingKeyPolicy = Literal["fail_closed", "fail_open"]

_log = logging.getLogger("shipsync.idempotency")
_outbound: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "shipsync_idempotency_outbound_key", default=None
)
# The calls a guard has entered as a context manager, per thread and task (innermost last), so
# one guard object serves concurrent tasks and nested blocks without mixing up their calls.
_Entered = tuple["Idempotent", "IdempotentCall", "contextvars.Token[str | None] | None"]
_entered: contextvars.ContextVar[tuple[_Entered, ...]] = contextvars.ContextVar(
    "shipsync_idempotency_entered", default=()
)


async def _to_the_end(step: Awaitable[T]) -> tuple[T, bool]:
    """Await ``step`` to its end even if this task is cancelled meanwhile.

    Returns its result and whether a cancellation arrived (the caller raises it after acting on
    the result). The step's own exception propagates.
    """
    task = asyncio.ensure_future(step)
    cancelled = False
    while not task.done():
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:
            cancelled = True
    return task.result(), cancelled


def current_outbound_key() -> str | None:
    """The outbound idempotency key of the ``idempotent`` call running now, if any.

    It is the same for every execution of one key (also after a crash), so pass it to the carrier
    as its idempotency key and the carrier sees one request id.
    """
    return _outbound.get()


class IdempotentCall:
    """The state of one guarded execution, as the context manager yields it."""

    def __init__(self, key: str | None, namespace: str) -> None:
        self.key = key
        #: True when the key was completed before: use :meth:`result`, do not run the work.
        self.replayed = False
        #: True when this call holds the key (or runs unguarded under ``fail_open``).
        self.acquired = False
        #: False when no key could be derived and the policy let the work run unguarded.
        self.guarded = key is not None
        self.token: int | None = None
        self.stored: bytes | None = None
        self.outbound_key = outbound_key(namespace, key) if key is not None else None
        self._value: bytes | None = None
        self._unstorable: ConfigurationError | None = None

    def set_result(self, value: object) -> None:
        """Record ``value`` (JSON-serializable or a pydantic model) as the result to store.

        ``bytes`` are taken as already-encoded JSON and stored as they are. A value with no JSON
        form makes the block end in ``CompletionFailedError`` with the key still held, as the
        work has run; it does not raise here, where the block's failure would release the key
        for a re-run.
        """
        if isinstance(value, bytes):
            self._value, self._unstorable = value, None
            return
        try:
            self._value, self._unstorable = encode_result(value), None
        except ConfigurationError as exc:
            self._value, self._unstorable = None, exc

    def _stored_value(self) -> bytes:
        """The bytes to complete with (JSON ``null`` when no result was set)."""
        if self._unstorable is not None:
            assert self.key is not None
            raise CompletionFailedError(
                self.key, "the result cannot be stored as JSON"
            ) from self._unstorable
        return self._value if self._value is not None else b"null"

    @overload
    def result(self, type_: type[T]) -> T: ...
    @overload
    def result(self, type_: None = None) -> Any: ...
    def result(self, type_: type[T] | None = None) -> T | Any:
        """Decode the stored result of a replayed call (``CorruptRecordError`` if it cannot)."""
        if self.stored is None:
            raise IdempotencyError("this call was not replayed: there is no stored result")
        return decode_result(self.stored, type_)


class Idempotent:
    """A guard built by :func:`idempotent`: a decorator and a (sync or async) context manager."""

    def __init__(
        self,
        store: IdempotencyStore | AsyncIdempotencyStore,
        key: str | Callable[..., str | None] | None,
        fingerprint: str | Callable[..., str] | None,
        lease: timedelta,
        retention: timedelta,
        missing_key: MissingKeyPolicy,
    ) -> None:
        if missing_key not in ("fail_closed", "fail_open"):
            raise ConfigurationError(
                "missing_key is 'fail_closed' or 'fail_open'", path="missing_key"
            )
        seconds(lease, "lease")
        seconds(retention, "retention")
        self.store = store
        self.key = key
        self.fingerprint = fingerprint
        self.lease = lease
        self.retention = retention
        self.missing_key = missing_key
        self.namespace = str(getattr(store, "namespace", ""))
        self.is_async_store = inspect.iscoroutinefunction(getattr(store, "claim", None))

    # -- shared steps ------------------------------------------------------------------------

    def _new_call(self, key: str | None) -> IdempotentCall:
        if not key:
            if self.missing_key == "fail_closed":
                raise MissingIdempotencyKeyError("no idempotency key could be derived")
            _log.warning("no idempotency key: running unguarded (missing_key='fail_open')")
            call = IdempotentCall(None, self.namespace)
            call.acquired = True
            return call
        return IdempotentCall(check_key(key), self.namespace)

    @staticmethod
    def _apply(call: IdempotentCall, outcome: ClaimOutcome) -> None:
        if isinstance(outcome, Acquired):
            call.acquired, call.token = True, outcome.token
        elif isinstance(outcome, Completed):
            call.replayed, call.stored = True, outcome.result
        else:
            assert call.key is not None
            raise KeyInProgressError(call.key)

    def _completion_failed(self, call: IdempotentCall, exc: Exception) -> CompletionFailedError:
        assert call.key is not None
        if isinstance(exc, CompletionFailedError):
            return CompletionFailedError(call.key, "the store could not record the result")
        if isinstance(exc, StaleTokenError):
            return CompletionFailedError(call.key, "the lease was lost to another worker")
        return CompletionFailedError(call.key, f"{type(exc).__name__} while recording")

    @staticmethod
    def _record(call: IdempotentCall, value: object) -> None:
        if not call.guarded:
            return
        try:
            # always JSON, also for bytes: a replay decodes what the function returned
            call._value = encode_result(value)
        except ConfigurationError as exc:
            assert call.key is not None
            # the side effect ran; the key stays held until its lease ends
            raise CompletionFailedError(call.key, "the result cannot be stored as JSON") from exc

    def _sync_store(self) -> IdempotencyStore:
        if self.is_async_store:
            raise ConfigurationError(
                "a synchronous function or `with` block needs a synchronous store", path="store"
            )
        return cast(IdempotencyStore, self.store)

    # -- synchronous -------------------------------------------------------------------------

    def _enter(self, key: str | None, fp: str) -> IdempotentCall:
        call = self._new_call(key)
        if call.guarded:
            assert call.key is not None
            self._apply(call, self._sync_store().claim(call.key, fp, self.lease))
        return call

    def _exit(self, call: IdempotentCall, failed: bool) -> None:
        if not (call.guarded and call.acquired):
            return
        assert call.key is not None
        assert call.token is not None
        store = self._sync_store()
        if failed:
            try:
                store.release(call.key, call.token)
            except Exception as exc:  # the work's own exception matters more; the lease ends
                _log.warning("could not release an idempotency key: %s", type(exc).__name__)
            return
        value = call._stored_value()
        try:
            store.complete(call.key, call.token, value, self.retention)
        except Exception as exc:  # whatever failed, the work ran and is not recorded
            raise self._completion_failed(call, exc) from exc

    def _block_args(self) -> tuple[str | None, str]:
        key = self.key() if callable(self.key) else self.key
        fp = self.fingerprint() if callable(self.fingerprint) else (self.fingerprint or "")
        return key, check_fingerprint(fp)

    def _push(self, call: IdempotentCall) -> IdempotentCall:
        reset = _outbound.set(call.outbound_key) if call.outbound_key is not None else None
        _entered.set((*_entered.get(), (self, call, reset)))
        return call

    def _pop(self) -> IdempotentCall | None:
        stack = _entered.get()
        for i in range(len(stack) - 1, -1, -1):
            guard, call, reset = stack[i]
            if guard is self:
                _entered.set(stack[:i] + stack[i + 1 :])
                if reset is not None:
                    try:
                        _outbound.reset(reset)
                    except (ValueError, RuntimeError):  # exited in another context than entered
                        _outbound.set(None)
                return call
        return None

    def __enter__(self) -> IdempotentCall:
        return self._push(self._enter(*self._block_args()))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        call = self._pop()
        if call is not None:
            self._exit(call, exc_type is not None)

    # -- asynchronous ------------------------------------------------------------------------

    async def _aenter(self, key: str | None, fp: str) -> IdempotentCall:
        call = self._new_call(key)
        if not call.guarded:
            return call
        assert call.key is not None
        if not self.is_async_store:
            self._apply(call, cast(IdempotencyStore, self.store).claim(call.key, fp, self.lease))
            return call
        store = cast(AsyncIdempotencyStore, self.store)
        outcome, cancelled = await _to_the_end(store.claim(call.key, fp, self.lease))
        if cancelled:
            # cancelled while the store answered: give back a key it granted, then stop
            if isinstance(outcome, Acquired):
                call.acquired, call.token = True, outcome.token
                await self._aexit(call, failed=True)
            raise asyncio.CancelledError
        self._apply(call, outcome)
        return call

    async def _aexit(self, call: IdempotentCall, failed: bool) -> None:
        if not (call.guarded and call.acquired):
            return
        assert call.key is not None
        assert call.token is not None
        cancelled = False
        if failed:
            try:
                if self.is_async_store:
                    store = cast(AsyncIdempotencyStore, self.store)
                    _, cancelled = await _to_the_end(store.release(call.key, call.token))
                else:
                    cast(IdempotencyStore, self.store).release(call.key, call.token)
            except Exception as exc:  # the work's own exception matters more; the lease ends
                _log.warning("could not release an idempotency key: %s", type(exc).__name__)
        else:
            value = call._stored_value()
            try:
                if self.is_async_store:
                    store = cast(AsyncIdempotencyStore, self.store)
                    step = store.complete(call.key, call.token, value, self.retention)
                    _, cancelled = await _to_the_end(step)
                else:
                    sync = cast(IdempotencyStore, self.store)
                    sync.complete(call.key, call.token, value, self.retention)
            except Exception as exc:  # whatever failed, the work ran and is not recorded
                raise self._completion_failed(call, exc) from exc
        if cancelled:
            raise asyncio.CancelledError

    async def __aenter__(self) -> IdempotentCall:
        return self._push(await self._aenter(*self._block_args()))

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        call = self._pop()
        if call is not None:
            await self._aexit(call, exc_type is not None)

    # -- decorator ---------------------------------------------------------------------------

    def _derive(
        self,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        signature: inspect.Signature | None = None,
    ) -> tuple[str | None, str]:
        key = self.key(*args, **kwargs) if callable(self.key) else self.key
        if callable(self.fingerprint):
            fp = self.fingerprint(*args, **kwargs)
        elif self.fingerprint is not None:
            fp = self.fingerprint
        else:
            fp = _payload_fingerprint(signature, args, kwargs) if key else ""
        return key, check_fingerprint(fp)

    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        return_type = _ReturnType(fn)
        try:
            signature: inspect.Signature | None = inspect.signature(fn)
        except (TypeError, ValueError):  # a callable without a signature: fingerprint as called
            signature = None

        if inspect.iscoroutinefunction(fn):
            afn = cast(Callable[..., Awaitable[Any]], fn)

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                key, fp = self._derive(args, kwargs, signature)
                call = await self._aenter(key, fp)
                if call.replayed:
                    return call.result(return_type())
                reset = _outbound.set(call.outbound_key)
                try:
                    value = await afn(*args, **kwargs)
                except BaseException:
                    _outbound.reset(reset)
                    await self._aexit(call, failed=True)
                    raise
                _outbound.reset(reset)
                self._record(call, value)
                await self._aexit(call, failed=False)
                return value

            return cast(Callable[P, R], async_wrapper)

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            key, fp = self._derive(args, kwargs, signature)
            call = self._enter(key, fp)
            if call.replayed:
                return cast(R, call.result(return_type()))
            reset = _outbound.set(call.outbound_key)
            try:
                value = fn(*args, **kwargs)
            except BaseException:
                _outbound.reset(reset)
                self._exit(call, failed=True)
                raise
            _outbound.reset(reset)
            self._record(call, value)
            self._exit(call, failed=False)
            return value

        return wrapper


class _ReturnType:
    """The return annotation of a guarded function, the type its replays decode to.

    It is resolved at the first replay, not at decoration, so a forward reference to a class
    defined after the function resolves; until it resolves, replays decode plain JSON.
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.resolved = False
        self.hint: Any = None

    def __call__(self) -> Any:
        if not self.resolved:
            try:
                hint = typing.get_type_hints(self.fn).get("return")
            except Exception:  # not resolvable (yet): decode plain JSON this time
                return None
            self.hint = None if hint is None or hint is type(None) else hint
            self.resolved = True
        return self.hint


def _payload_fingerprint(
    signature: inspect.Signature | None, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> str:
    """The default fingerprint: the arguments bound to the function's parameters, defaults
    applied, so ``f(1)``, ``f(x=1)`` and ``f(1, y=<its default>)`` are one payload."""
    if signature is not None:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError:
            pass  # the call itself fails the same way once it runs
        else:
            bound.apply_defaults()
            return default_fingerprint(**bound.arguments)
    return default_fingerprint(*args, **kwargs)


def idempotent(
    store: IdempotencyStore | AsyncIdempotencyStore,
    *,
    key: str | Callable[..., str | None] | None,
    fingerprint: str | Callable[..., str] | None = None,
    lease: timedelta = DEFAULT_LEASE,
    retention: timedelta = DEFAULT_RETENTION,
    missing_key: MissingKeyPolicy = "fail_closed",
) -> Idempotent:
    """Guard a function, a coroutine function or a ``with`` block with an idempotency key.

    Args:
        store: a sync or async store. Coroutine functions and ``async with`` accept either;
            plain functions and ``with`` need a sync store.
        key: the key, or a function of the call's arguments that derives it. ``None`` or ``""``
            is a missing key.
        fingerprint: the payload fingerprint, or a function of the call's arguments. By default,
            a decorated function fingerprints its JSON-serializable arguments; a ``with`` block
            checks no payload.
        lease: how long one execution may take before another worker may take over.
        retention: how long a completed result is kept and replayed.
        missing_key: ``"fail_closed"`` (default) raises ``MissingIdempotencyKeyError``;
            ``"fail_open"`` runs the work unguarded and logs a warning.

    Raises ``KeyInProgressError`` (retryable) while another worker holds the key,
    ``FingerprintMismatchError`` for the same key with another payload, ``StoreUnavailableError``
    (nothing ran) and ``CompletionFailedError`` (the work ran, recording it failed).
    """
    return Idempotent(store, key, fingerprint, lease, retention, missing_key)
