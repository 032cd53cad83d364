"""The receiver pipeline: verify, limit, parse, dedupe, hand off, then answer.

Theory of operation
-------------------
A webhook is acknowledged only after its events are stored durably, and a delivery is handed off
at most once however often it arrives. Per delivery:

1. **Limit** the body size (before any hashing, so an oversized forgery costs nothing): 413.
2. **Verify** the signature with the scheme's verifier: 400 when it fails (the sender should not
   retry a forgery).
3. **Parse** the raw bytes with the driver's parser (or :func:`parse_canonical`): 400 when the body
   cannot be read.
4. **Dedupe**: claim the delivery key in the idempotency store with the events' ids as the
   fingerprint. The key is the signed delivery id (``webhook-id``), else the parser's event id,
   else the body's SHA-256. ``Completed`` means a duplicate: 200 without a second hand-off.
   ``InProgress`` means another worker holds it: 503 so the sender retries once that worker has
   finished or failed. A reused id carrying other events is refused (409). A store that is down:
   503.
5. **Hand off** the events to the sink. If the sink fails, the claim is *released* so the
   sender's retry is processed, not mistaken for a duplicate: 503 with Retry-After.
6. **Complete** the claim (kept for ``retention``, three days by default, longer than senders'
   retry schedules) and answer 200. If only this bookkeeping fails, the events are already stored,
   so the answer is still 200; the claim's lease runs out and a later replay would be handed off
   again, which the sink's consumers absorb by event id. The async receiver shields completion
   (and release) from cancellation, so a client hanging up does not cause that.

A store or sink that raises something other than a ``ShipsyncError`` (a driver's own
``ConnectionError``, a bug) is treated like one that is down: the claim is released, the error is
wrapped in an :class:`~shipsync.errors.UnavailableError` (the original chained as its cause) and
the answer is 503, so nothing is lost and nothing is handed off twice. A parser that raises a
foreign exception is a broken driver: :class:`~shipsync.errors.ConfigurationError`, nothing
claimed. Only a ``BaseException`` that is no ``Exception`` (cancellation, interpreter exit)
propagates as it is, after the claim is released.

Everything except the store and sink calls is shared by :class:`WebhookReceiver` and
:class:`AsyncWebhookReceiver`; only those calls are written twice.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import logging
import math
import re
from collections.abc import Sequence
from datetime import timedelta
from hashlib import sha256
from typing import Final, NamedTuple, TypedDict

import attrs
from typing_extensions import Unpack

from shipsync.canonical import Event
from shipsync.errors import (
    ConfigurationError,
    FingerprintMismatchError,
    InvalidInputError,
    PayloadTooLargeError,
    RemoteDataError,
    ShipsyncError,
    UnavailableError,
    WebhookPayloadError,
    WebhookVerificationError,
)
from shipsync.idempotency import (
    DEFAULT_LEASE,
    Acquired,
    AsyncIdempotencyStore,
    ClaimOutcome,
    Completed,
    IdempotencyStore,
)
from shipsync.telemetry import _hooks as _telemetry
from shipsync.webhooks._codec import raw_body
from shipsync.webhooks._headers import HeadersInput
from shipsync.webhooks._parse import (
    ParsedDelivery,
    WebhookParser,
    parse_canonical,
)
from shipsync.webhooks._scheme import WebhookVerifier
from shipsync.webhooks._sink import AsyncEventSink, EventSink

__all__ = [
    "DEFAULT_DEDUPE_RETENTION",
    "DEFAULT_MAX_BODY_SIZE",
    "AsyncWebhookReceiver",
    "Receipt",
    "ReceiptOutcome",
    "ReceiverOptions",
    "WebhookReceiver",
]

DEFAULT_MAX_BODY_SIZE: Final = 1024 * 1024
DEFAULT_DEDUPE_RETENTION: Final = timedelta(days=3)
DEFAULT_RETRY_AFTER: Final = 30
_MAX_RETRY_AFTER: Final = 86_400

_log = logging.getLogger("shipsync.webhooks")
_Events = tuple[Event, ...]
_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")
_RESULT = b"accepted"


class ReceiptOutcome(enum.StrEnum):
    """What became of a delivery."""

    ACCEPTED = "accepted"
    """Verified, parsed and handed off durably for the first time (2xx)."""
    DUPLICATE = "duplicate"
    """Handed off before; not handed off again (2xx, so the sender stops)."""
    REJECTED = "rejected"
    """Not authentic, too large or unreadable (4xx: a sane sender does not retry)."""
    DEFERRED = "deferred"
    """Not processed now (store or sink down, or another worker holds it): 503, retry later."""


class Receipt(NamedTuple):
    """The receiver's answer: what happened, and the HTTP status and headers to reply with.

    ``delivery_id`` is the id the delivery was deduplicated on (``None`` when it was rejected
    before one was known). ``error`` is the typed error behind a rejection or deferral; its
    message names no secret and no signature, so ``reason`` may be sent back to the sender.

    An immutable record (a named tuple rather than an attrs class: one is built per delivery on
    the hot path, and a tuple costs a third as much to build).
    """

    outcome: ReceiptOutcome
    status: int
    events: tuple[Event, ...] = ()
    delivery_id: str | None = None
    retry_after: int | None = None
    error: ShipsyncError | None = None

    @property
    def ok(self) -> bool:
        """True when the host should answer 2xx (accepted or duplicate)."""
        return 200 <= self.status < 300

    @property
    def headers(self) -> dict[str, str]:
        """Response headers to send: ``Retry-After`` on a deferral."""
        return {} if self.retry_after is None else {"Retry-After": str(self.retry_after)}

    @property
    def reason(self) -> str:
        """A short text for the response body, safe to send to the sender.

        A rejection names the error's class and message (what was wrong with the delivery). A
        deferral names only its outcome: its error describes our own store or sink (paths,
        hosts), which is the host's to log and no business of the sender's.
        """
        if self.error is None or self.outcome is ReceiptOutcome.DEFERRED:
            return self.outcome.value
        return f"{type(self.error).__name__}: {self.error}"


@attrs.frozen
class _Prepared:
    """A delivery that passed the limit, its signature and its parser: ready for dedupe."""

    key: str
    fingerprint: str
    delivery_id: str
    events: tuple[Event, ...]


class _Rejected(Exception):
    """Raised by ``_prepare`` with the 4xx receipt of a delivery that goes no further."""

    def __init__(self, receipt: Receipt) -> None:
        super().__init__(receipt.outcome)
        self.receipt = receipt


class ReceiverOptions(TypedDict, total=False):
    """The settings both receivers share, declared once (all optional keywords).

    ``parser`` is the carrier driver's (default: shipsync's own envelopes); ``name`` separates
    this endpoint's delivery ids from other endpoints' in a shared store; ``max_body_size``
    bounds a body in bytes; ``lease`` is how long a claim holds while the sink stores the
    events; ``retention`` how long a delivery id is remembered; ``retry_after`` the seconds a
    deferral asks the sender to wait.
    """

    parser: WebhookParser
    name: str
    max_body_size: int
    lease: timedelta
    retention: timedelta
    retry_after: int


def _check_parts(store: object, sink: object, *, asynchronous: bool) -> None:
    """Refuse a store or sink of the wrong kind at construction, not at the first delivery."""
    kind = "an async" if asynchronous else "a synchronous"
    for owner, names, what in (
        (store, ("claim", "complete", "release"), "store"),
        (sink, ("publish",), "sink"),
    ):
        for name in names:
            method = getattr(owner, name, None)
            if not callable(method):
                raise ConfigurationError(f"the {what} has no {name}() method", path=what)
            if inspect.iscoroutinefunction(method) != asynchronous:
                raise ConfigurationError(f"this receiver needs {kind} {what}", path=what)


def _foreign(part: str, error: Exception) -> ShipsyncError:
    """Translate a store's or sink's foreign exception into a typed, retryable error."""
    if isinstance(error, ShipsyncError):
        return error
    wrapped = UnavailableError(f"the {part} failed unexpectedly ({type(error).__name__})")
    wrapped.__cause__ = error
    return wrapped


def _refuse_awaitable(result: object) -> None:
    """A synchronous sink's publish returned an awaitable: nothing was stored yet, and nothing
    here will await it. (Any other return value is ignored: the events are stored.)"""
    if inspect.iscoroutine(result):
        result.close()  # never run: close it rather than leave it to warn
    raise ConfigurationError(
        "the sink's publish() returned an awaitable: an async sink needs AsyncWebhookReceiver",
        path="sink",
    )


def _reject(status: int, error: ShipsyncError, delivery_id: str | None = None) -> _Rejected:
    return _Rejected(Receipt(ReceiptOutcome.REJECTED, status, delivery_id=delivery_id, error=error))


class _ReceiverCore:
    """Everything a receiver does that needs no store or sink I/O."""

    def __init__(self, verifier: WebhookVerifier, options: ReceiverOptions) -> None:
        parser = options.get("parser", parse_canonical)
        name = options.get("name", "webhooks")
        max_body_size = options.get("max_body_size", DEFAULT_MAX_BODY_SIZE)
        lease = options.get("lease", DEFAULT_LEASE)
        retention = options.get("retention", DEFAULT_DEDUPE_RETENTION)
        retry_after = options.get("retry_after", DEFAULT_RETRY_AFTER)
        unknown = set(options) - set(ReceiverOptions.__annotations__)
        if unknown:
            raise TypeError(f"unexpected receiver option {sorted(unknown)[0]!r}")
        if not isinstance(max_body_size, int) or max_body_size < 1:
            raise ConfigurationError("max_body_size must be a positive int", path="max_body_size")
        if not isinstance(retention, timedelta) or retention < timedelta(hours=1):
            raise ConfigurationError("retention must be at least an hour", path="retention")
        if not isinstance(lease, timedelta) or lease <= timedelta(0):
            raise ConfigurationError("lease must be a positive timedelta", path="lease")
        if not isinstance(retry_after, int) or retry_after < 0:
            raise ConfigurationError("retry_after must be a non-negative int", path="retry_after")
        if not isinstance(name, str) or _NAME.fullmatch(name) is None:
            raise ConfigurationError("name must be 1 to 100 of A-Z a-z 0-9 . _ -", path="name")
        self._verifier = verifier
        self._parser = parser
        self._name = name
        self._max_body_size = max_body_size
        self._lease = lease
        self._retention = retention
        self._retry_after = retry_after

    def _prepare(self, body: bytes, headers: HeadersInput) -> _Prepared:
        # Raises _Rejected with the receipt of a delivery that goes no further. A body that is
        # not bytes (or headers that are not pairs) is the host's mistake, not the sender's:
        # that InvalidInputError propagates (the sender gets a 5xx and retries).
        if type(body) is not bytes:
            body = raw_body(body)
        size = len(body)
        if size > self._max_body_size:
            raise _reject(413, PayloadTooLargeError(size, self._max_body_size))
        try:
            verified = self._verifier.verify(body, headers)
        except WebhookVerificationError as error:
            raise _reject(400, error) from None
        try:
            events, parsed_id = self._normalise(self._parser(body))
        except ConfigurationError:
            raise
        except (InvalidInputError, RemoteDataError) as error:
            if not isinstance(error, WebhookPayloadError):
                wrapped = WebhookPayloadError(f"the body is not valid: {error}")
                wrapped.__cause__ = error
                error = wrapped
            raise _reject(400, error, verified.delivery_id) from None
        except ShipsyncError:
            raise
        except Exception as error:
            # The driver's parser broke on an authentic body: our bug, not the sender's. Nothing
            # is claimed yet; the host answers 5xx and the sender retries once it is fixed.
            raise ConfigurationError(
                f"the webhook parser failed with {type(error).__name__}", path="parser"
            ) from error
        # The fingerprint is what the delivery *says*: its events' ids (each a stable hash of the
        # event's content). A sender's retry of the same events matches even if re-serialised;
        # a reused delivery id carrying other events does not.
        if len(events) == 1:
            fingerprint = events[0].id
        else:
            fingerprint = sha256("\n".join(e.id for e in events).encode("utf-8")).hexdigest()
        # The name and the kind hold no "/", so the key reads back unambiguously.
        if verified.delivery_id is not None:
            delivery_id = verified.delivery_id
            key = f"{self._name}/id/{delivery_id}"
        elif parsed_id:  # an empty id would lump unrelated deliveries together
            delivery_id = parsed_id
            key = f"{self._name}/event/{delivery_id}"
        else:
            delivery_id = sha256(body).hexdigest()
            key = f"{self._name}/sha256/{delivery_id}"
        return _Prepared(key, fingerprint, delivery_id, events)

    @staticmethod
    def _normalise(parsed: ParsedDelivery | Sequence[Event] | Event) -> tuple[_Events, str | None]:
        result: object = parsed  # a driver's parser may return anything at all
        if isinstance(result, ParsedDelivery):
            events, parsed_id = result.events, result.delivery_id
        elif isinstance(result, Event):
            events, parsed_id = (result,), result.id
        elif isinstance(result, Sequence) and not isinstance(result, str | bytes):
            events, parsed_id = tuple(result), None
        else:
            raise ConfigurationError("the webhook parser returned something other than events")
        for event in events:
            if not isinstance(event, Event):
                raise ConfigurationError("the webhook parser returned something other than events")
        if parsed_id is None and len(events) == 1:
            parsed_id = events[0].id
        return events, parsed_id

    def _not_acquired(self, prepared: _Prepared, outcome: ClaimOutcome) -> Receipt:
        if isinstance(outcome, Completed):
            return Receipt(ReceiptOutcome.DUPLICATE, 200, prepared.events, prepared.delivery_id)
        return Receipt(
            ReceiptOutcome.DEFERRED,
            503,
            delivery_id=prepared.delivery_id,
            retry_after=self._retry_after,
        )

    def _claim_failed(self, delivery_id: str, error: Exception) -> Receipt:
        if isinstance(error, FingerprintMismatchError):
            # Same delivery id, other events: the sender reused an id. Never hand it off.
            return _reject(409, error, delivery_id).receipt
        _log.warning("webhook dedupe store failed: %s", type(error).__name__)
        return self._deferred(delivery_id, _foreign("dedupe store", error))

    def _hand_off_failed(self, delivery_id: str, error: Exception) -> Receipt:
        _log.warning("webhook sink failed: %s", type(error).__name__)
        return self._deferred(delivery_id, _foreign("event sink", error))

    def _deferred(self, delivery_id: str, error: ShipsyncError) -> Receipt:
        wait = self._retry_after
        hint = error.retry_after
        # A store's or sink's hint lengthens the wait, within a day; NaN, infinity or a value
        # of the wrong type (it may come from anywhere) is ignored rather than trusted.
        if isinstance(hint, int | float) and 0 < hint <= _MAX_RETRY_AFTER:
            wait = max(wait, math.ceil(hint))
        return Receipt(
            ReceiptOutcome.DEFERRED,
            503,
            delivery_id=delivery_id,
            retry_after=wait,
            error=error,
        )


class WebhookReceiver(_ReceiverCore):
    """Receives deliveries synchronously (WSGI hosts, workers): see the module docstring.

    ``verifier`` comes from a scheme (``StandardWebhooksScheme().verifier(secrets)``);
    ``parser`` is the carrier driver's (default: shipsync's own envelopes); ``name`` separates
    this endpoint's delivery ids from other endpoints' in the shared ``store``.
    """

    def __init__(
        self,
        verifier: WebhookVerifier,
        *,
        store: IdempotencyStore,
        sink: EventSink,
        **options: Unpack[ReceiverOptions],
    ) -> None:
        super().__init__(verifier, options)
        _check_parts(store, sink, asynchronous=False)
        self._store = store
        self._sink = sink

    @_telemetry.traced_receive  # telemetry
    def receive(self, body: bytes, headers: HeadersInput) -> Receipt:
        """Process one delivery and return the receipt whose status the host should answer."""
        try:
            prepared = self._prepare(body, headers)
        except _Rejected as rejected:
            return rejected.receipt
        key, delivery_id, events = prepared.key, prepared.delivery_id, prepared.events
        if not events:
            return Receipt(ReceiptOutcome.ACCEPTED, 200, events, delivery_id)
        try:
            outcome = self._store.claim(key, prepared.fingerprint, self._lease)
        except Exception as error:
            return self._claim_failed(delivery_id, error)
        if not isinstance(outcome, Acquired):
            return self._not_acquired(prepared, outcome)
        try:
            result: object = self._sink.publish(events)  # type: ignore[func-returns-value]
            if result is not None and inspect.isawaitable(result):
                _refuse_awaitable(result)
        except Exception as error:
            self._release(key, outcome.token)
            return self._hand_off_failed(delivery_id, error)
        except BaseException:
            self._release(key, outcome.token)
            raise
        try:
            self._store.complete(key, outcome.token, _RESULT, self._retention)
        except Exception as error:  # the events are stored: still a 200
            _log.warning("webhook handed off but not recorded: %s", type(error).__name__)
        return Receipt(ReceiptOutcome.ACCEPTED, 200, events, delivery_id)

    def _release(self, key: str, token: int) -> None:
        try:
            self._store.release(key, token)
        except Exception as error:  # the lease will run out instead
            _log.warning("webhook claim not released: %s", type(error).__name__)


class AsyncWebhookReceiver(_ReceiverCore):
    """Receives deliveries in asyncio hosts (ASGI); same pipeline as :class:`WebhookReceiver`."""

    def __init__(
        self,
        verifier: WebhookVerifier,
        *,
        store: AsyncIdempotencyStore,
        sink: AsyncEventSink,
        **options: Unpack[ReceiverOptions],
    ) -> None:
        super().__init__(verifier, options)
        _check_parts(store, sink, asynchronous=True)
        self._store = store
        self._sink = sink

    @_telemetry.traced_receive  # telemetry
    async def receive(self, body: bytes, headers: HeadersInput) -> Receipt:
        """Process one delivery and return the receipt whose status the host should answer."""
        try:
            prepared = self._prepare(body, headers)
        except _Rejected as rejected:
            return rejected.receipt
        key, delivery_id, events = prepared.key, prepared.delivery_id, prepared.events
        if not events:
            return Receipt(ReceiptOutcome.ACCEPTED, 200, events, delivery_id)
        try:
            outcome = await self._store.claim(key, prepared.fingerprint, self._lease)
        except Exception as error:
            return self._claim_failed(delivery_id, error)
        if not isinstance(outcome, Acquired):
            return self._not_acquired(prepared, outcome)
        try:
            await self._sink.publish(events)
        except Exception as error:
            await self._release(key, outcome.token)
            return self._hand_off_failed(delivery_id, error)
        except BaseException:
            await self._release(key, outcome.token)
            raise
        try:
            # Shielded: a cancelled request must not leave a delivery handed off but unrecorded.
            await asyncio.shield(self._store.complete(key, outcome.token, _RESULT, self._retention))
        except Exception as error:  # the events are stored: still a 200
            _log.warning("webhook handed off but not recorded: %s", type(error).__name__)
        return Receipt(ReceiptOutcome.ACCEPTED, 200, events, delivery_id)

    async def _release(self, key: str, token: int) -> None:
        try:
            await asyncio.shield(self._store.release(key, token))
        except Exception as error:  # the lease will run out instead
            _log.warning("webhook claim not released: %s", type(error).__name__)
