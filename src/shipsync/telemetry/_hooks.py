"""The call sites shipsync's own modules use: decorators and one-line recorders.

Every hook starts with :func:`~shipsync.telemetry._core.handles`; when no SDK is configured it
returns at once and the wrapped call runs as if undecorated. The span shapes follow the
OpenTelemetry messaging conventions:

* publishing to an event log is a PRODUCER span ``send {log}``; its context is the *creation
  context* of the events and travels on each event as the CloudEvents distributed-tracing
  extension ``traceparent`` (and ``tracestate``);
* a handler's run on one event is a CONSUMER span ``process {handler}`` *linked* to that creation
  context (the trace of the request that is running now stays the parent);
* writing a dead letter and replaying dead letters are ``settle`` spans.

Hooks read what they need by attribute (``self.carrier``, ``event.id``): telemetry sits at the
bottom of the layers and imports no other shipsync package but ``canonical``.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar, cast
from weakref import WeakSet

from ._core import Handles, add_dead_letter_source, handles

try:  # the ``otel`` extra; without it no hook ever gets past ``handles()``
    from opentelemetry.context import attach as _attach
    from opentelemetry.context import detach as _detach
    from opentelemetry.trace import (
        Link,
        SpanContext,
        SpanKind,
        Status,
        StatusCode,
        TraceFlags,
        TraceState,
        get_current_span,
        set_span_in_context,
    )
except ImportError:  # pragma: no cover - exercised by installs without the extra
    pass

__all__ = [
    "SYSTEM",
    "format_traceparent",
    "parse_traceparent",
    "record_breaker_change",
    "record_unmapped_code",
    "traced_carrier_attempt",
    "traced_carrier_run",
    "traced_dead_letter",
    "traced_delivery",
    "traced_dispatch",
    "traced_handler",
    "traced_odoo_call",
    "traced_odoo_operation",
    "traced_publish",
    "traced_receive",
    "traced_reconciliation",
    "traced_replay",
    "watch_dead_letters",
    "without_trace_context",
]

F = TypeVar("F", bound=Callable[..., Any])

SYSTEM = "shipsync"
"""``messaging.system`` of shipsync's event logs."""

_TRACE_KEYS = ("traceparent", "tracestate")

_scoped: contextvars.ContextVar[Handles | None] = contextvars.ContextVar(
    "shipsync_telemetry_handles", default=None
)


def _current() -> Handles:
    """The handles of the unit of work running (a webhook delivery, a dispatch batch, a carrier
    operation), or :func:`handles` outside one.

    The outer hook asks once and the hooks inside it reuse the answer: with only the API
    installed each ask is two global provider look-ups, and an event passes five hooks or more.
    """
    h = _scoped.get()
    return h if h is not None else handles()


def _status_error(span: Any, error: BaseException | str) -> None:
    kind = error if isinstance(error, str) else type(error).__name__
    span.set_attribute("error.type", kind)
    span.set_status(Status(StatusCode.ERROR, kind))


class _Current:
    """A span made the current one until :meth:`end`.

    What ``tracer.start_as_current_span`` does, without its two generator-based context
    managers: one span start, one context attach, one detach, one end. The hooks open a span
    for every event they see, so the difference is paid per event.
    """

    __slots__ = ("_token", "span")

    def __init__(
        self, tracer: Any, name: str, kind: Any, attributes: dict[str, Any], links: Any = None
    ) -> None:
        self.span = tracer.start_span(name, kind=kind, attributes=attributes, links=links)
        self._token = _attach(set_span_in_context(self.span))

    def end(self, error: BaseException | None = None) -> None:
        """Detach the span; mark it failed by ``error`` (an exception escaping it) and end it."""
        _detach(self._token)
        if error is not None:
            self.span.record_exception(error, escaped=True)
            _status_error(self.span, error)
        self.span.end()


_MESSAGING: dict[tuple[bool, str, str, str], dict[str, Any]] = {}


def _messaging(h: Handles, op_type: str, op_name: str, old: str) -> dict[str, Any]:
    """An operation's messaging attributes, built once per shape: shared, never to be changed."""
    key = (h.messaging_dup, op_type, op_name, old)
    base = _MESSAGING.get(key)
    if base is None:
        base = {
            "messaging.system": SYSTEM,
            "messaging.operation.type": op_type,
            "messaging.operation.name": op_name,
        }
        if h.messaging_dup:
            # The names before the conventions' 1.26 rename, for dashboards built on them.
            base["messaging.operation"] = old
        _MESSAGING[key] = base
    return base


def _add_event_attributes(attributes: dict[str, Any], event: Any) -> None:
    """Add ``event``'s attributes to a span's ``attributes``."""
    event_id = event.id
    attributes["messaging.message.id"] = event_id
    attributes["cloudevents.event_id"] = event_id
    attributes["cloudevents.event_source"] = event.source
    attributes["cloudevents.event_type"] = event.type
    subject = event.subject
    if subject is not None:
        attributes["cloudevents.event_subject"] = subject


def _lag(event: Any, now: float) -> float | None:
    at = getattr(event, "time", None)
    if not isinstance(at, datetime):
        return None
    return max(0.0, now - at.timestamp())


# -- trace context on events -------------------------------------------------------------------


_TRACEPARENT = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")


def format_traceparent(trace_id: int, span_id: int, trace_flags: int) -> str:
    """The W3C ``traceparent`` header (version 00) for these ids and flags."""
    # printf-style: half the time of the f-string form, once per publication.
    return "00-%032x-%016x-%02x" % (trace_id, span_id, trace_flags)  # noqa: UP031


def _stamp(span: Any, events: Sequence[Any]) -> list[Any]:
    """The events with ``span``'s context as their ``traceparent`` (kept when present).

    The W3C Trace Context form, as the CloudEvents distributed tracing extension asks.
    """
    context = span.get_span_context()
    if not context.is_valid:
        return list(events)
    carrier = {
        "traceparent": format_traceparent(
            context.trace_id, context.span_id, int(context.trace_flags)
        )
    }
    state = context.trace_state.to_header() if context.trace_state else ""
    if state:
        carrier["tracestate"] = state
    out = []
    for event in events:
        extra = event.model_extra or {}
        out.append(event if "traceparent" in extra else event.model_copy(update=carrier))
    return out


_PARSED: dict[tuple[str, str | None], Any] = {}
"""Span contexts parsed from (traceparent, tracestate) headers, None for invalid ones.

The events of one publication share their header, and an event is linked again when a dead
letter is written or replayed, so a header is parsed once while it is recent."""
_PARSED_MAX = 1024
_UNPARSED = object()


def parse_traceparent(traceparent: str, tracestate: str | None = None) -> Any:
    """The remote span context a W3C ``traceparent`` (version 00) names, or None when invalid.

    A malformed ``tracestate`` is dropped (the context stands without it); any input gives an
    answer or None, never an error.
    """
    key = (traceparent, tracestate)
    context = _PARSED.get(key, _UNPARSED)
    if context is _UNPARSED:
        context = _parse(traceparent, tracestate)
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[key] = context
    return context


def _parse(traceparent: str, tracestate: str | None) -> Any:
    if _TRACEPARENT.fullmatch(traceparent) is None:
        return None
    # 00-<32 hex trace id>-<16 hex span id>-<2 hex flags>: fixed offsets once the form matched.
    trace_id, span_id = int(traceparent[3:35], 16), int(traceparent[36:52], 16)
    if not trace_id or not span_id:
        return None
    trace_state = None
    if isinstance(tracestate, str):
        try:
            trace_state = TraceState.from_header([tracestate])
        except Exception:  # a malformed tracestate from elsewhere: link without it
            trace_state = None
    return SpanContext(
        trace_id,
        span_id,
        is_remote=True,
        trace_flags=TraceFlags(int(traceparent[53:55], 16)),
        trace_state=trace_state,
    )


def _creation_link(event: Any) -> Any:
    """A link to the context ``event`` was created in (its ``traceparent``), or None."""
    extra = getattr(event, "model_extra", None)
    if not extra:
        return None
    traceparent = extra.get("traceparent")
    if not isinstance(traceparent, str):
        return None
    state = extra.get("tracestate")
    context = parse_traceparent(traceparent, state if isinstance(state, str) else None)
    # A fresh link each time: the SDK takes a link's attributes over when it starts a span.
    return None if context is None else Link(context)


_OWN_TRACE = re.compile(rb',"traceparent":"[0-9a-f-]{55}"(,"tracestate":"[^"\\]*")?(?=}$)')


def without_trace_context(body: bytes) -> bytes:
    """``body`` without its ``traceparent``/``tracestate`` members (the same bytes when none).

    Two publications of one event differ only in their trace context; an idempotency
    fingerprint taken over this stays the same for both. The members shipsync itself adds
    (last in the envelope) are cut from the bytes; anything else is decoded and encoded again.
    """
    if b'"traceparent"' not in body and b'"tracestate"' not in body:
        return body
    cut = _OWN_TRACE.sub(b"", body, count=1)
    if b'"traceparent"' not in cut and b'"tracestate"' not in cut:
        return cut
    import json

    try:
        obj = json.loads(body)
    except ValueError:
        return body
    if not isinstance(obj, dict):
        return body
    for key in _TRACE_KEYS:
        obj.pop(key, None)
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


# -- event logs --------------------------------------------------------------------------------


def _destination(log: Any) -> str:
    return str(getattr(log, "table", None) or getattr(log, "queue", None) or type(log).__name__)


def _send(h: Handles, log: Any, events: Sequence[Any]) -> tuple[_Current | None, Sequence[Any]]:
    """Count a publication; when tracing, open its PRODUCER span and stamp the events with it."""
    destination = _destination(log)
    if h.instruments is not None:
        h.instruments.sent_messages.add(
            len(events), {"messaging.system": SYSTEM, "messaging.destination.name": destination}
        )
    if h.tracer is None:
        return None, events
    attributes = {
        **_messaging(h, "send", "send", "publish"),
        "messaging.destination.name": destination,
    }
    if len(events) == 1:
        _add_event_attributes(attributes, events[0])
    else:
        # Only on batches: the conventions ask not to set it on single-message spans.
        attributes["messaging.batch.message_count"] = len(events)
    current = _Current(h.tracer, f"send {destination}", SpanKind.PRODUCER, attributes)
    return current, _stamp(current.span, events)


def traced_publish(fn: F) -> F:
    """Wrap an event log's ``publish(events)``: a ``send`` span whose context the events carry."""
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def apublish(self: Any, events: Sequence[Any]) -> Any:
            h = _current()
            if not h.active or not events:
                return await fn(self, events)
            current, stamped = _send(h, self, events)
            if current is None:
                return await fn(self, stamped)
            try:
                result = await fn(self, stamped)
            except BaseException as exc:
                current.end(exc)
                raise
            current.end()
            return result

        return cast(F, apublish)

    @functools.wraps(fn)
    def publish(self: Any, events: Sequence[Any]) -> Any:
        h = _current()
        if not h.active or not events:
            return fn(self, events)
        current, stamped = _send(h, self, events)
        if current is None:
            return fn(self, stamped)
        try:
            result = fn(self, stamped)
        except BaseException as exc:
            current.end(exc)
            raise
        current.end()
        return result

    return cast(F, publish)


# -- the dispatcher ----------------------------------------------------------------------------


def _process_span(h: Handles, event: Any, extra: dict[str, Any]) -> _Current:
    attributes = dict(_messaging(h, "process", "process", "process"))
    _add_event_attributes(attributes, event)
    attributes.update(extra)
    link = _creation_link(event)
    return _Current(
        h.tracer,
        f"process {event.type}",
        SpanKind.CONSUMER,
        attributes,
        [link] if link is not None else None,
    )


def traced_delivery(fn: F) -> F:
    """Wrap ``Dispatcher._run_pairs(d, pairs, ...)``: one CONSUMER ``process`` span per event.

    The span covers every handler's run on the event; a handler that fails adds a
    ``handler failed`` span event and marks the span as an error.
    """

    @functools.wraps(fn)
    async def run_pairs(self: Any, delivery: Any, pairs: Any, *args: Any) -> Any:
        h = _current()
        event = delivery.event
        if h.tracer is None or event is None:
            return await fn(self, delivery, pairs, *args)
        current = _process_span(
            h,
            event,
            {"shipsync.handlers": len(pairs), "shipsync.delivery_attempt": delivery.attempt},
        )
        try:
            result = await fn(self, delivery, pairs, *args)
        except BaseException as exc:
            current.end(exc)
            raise
        current.end()
        return result

    return cast(F, run_pairs)


def traced_handler(fn: F) -> F:
    """Wrap ``Dispatcher._call(sub, event, ctx)``: handler duration and failures.

    A replayed run gets its own CONSUMER ``process`` span (a replay is not inside a delivery's).
    """

    @functools.wraps(fn)
    async def call(self: Any, sub: Any, event: Any, ctx: Any) -> Any:
        h = _current()
        if not h.active:
            return await fn(self, sub, event, ctx)
        started = time.perf_counter()
        replayed: _Current | None = None
        if h.tracer is not None and ctx.replay:
            replayed = _process_span(
                h,
                event,
                {
                    "messaging.consumer.group.name": sub.name,
                    "shipsync.handler": sub.name,
                    "shipsync.replay": True,
                },
            )
        error: BaseException | None = None
        attempts = 0
        try:
            error, attempts = await fn(self, sub, event, ctx)
            return error, attempts
        finally:
            if replayed is not None:
                replayed.span.set_attribute("shipsync.attempts", attempts)
                if error is not None:
                    _status_error(replayed.span, error)
                replayed.end()
            elif error is not None and h.tracer is not None:
                current = get_current_span()
                current.add_event(
                    "handler failed",
                    {
                        "shipsync.handler": sub.name,
                        "error.type": type(error).__name__,
                        "shipsync.attempts": attempts,
                    },
                )
                _status_error(current, error)
            if h.instruments is not None:
                labels = {"messaging.consumer.group.name": sub.name}
                if error is not None:
                    labels["error.type"] = type(error).__name__
                    h.instruments.handler_failures.add(1, labels)
                h.instruments.handler_duration.record(time.perf_counter() - started, labels)

    return cast(F, call)


def traced_dispatch(fn: F) -> F:
    """Wrap ``Dispatcher._handle(deliveries)``: duplicates absorbed and handled-event lag."""

    @functools.wraps(fn)
    async def handle(self: Any, deliveries: Sequence[Any]) -> Any:
        h = handles()
        token = _scoped.set(h)  # the batch's hooks (process, handlers, letters) reuse it
        try:
            result = await fn(self, deliveries)
        finally:
            _scoped.reset(token)
        if h.instruments is None:
            return result
        report = result[0]
        if report.duplicates:
            h.instruments.duplicates.add(report.duplicates, {"shipsync.stage": "dispatch"})
        now = time.time()
        for delivery in deliveries:
            event = delivery.event
            if event is not None:
                lag = _lag(event, now)
                if lag is not None:
                    h.instruments.event_lag.record(
                        lag, {"shipsync.stage": "handled", "cloudevents.event_source": event.source}
                    )
        return result

    return cast(F, handle)


def traced_dead_letter(fn: F) -> F:
    """Wrap ``Dispatcher._record(d, handler, error_type, error, attempts)``: a ``settle`` span.

    The dispatcher writes dead letters on a worker thread, so ``_record`` is a coroutine
    function; the span covers the whole write.
    """

    def settle_span(h: Handles, args: tuple[Any, ...]) -> _Current | None:
        _self, delivery, handler, error_type = args[0], args[1], args[2], args[3]
        if h.instruments is not None:
            h.instruments.dead_lettered.add(
                1, {"shipsync.handler": str(handler), "error.type": str(error_type)}
            )
        if h.tracer is None:
            return None
        attributes = dict(_messaging(h, "settle", "dead_letter", "settle"))
        event = getattr(delivery, "event", None)
        if event is not None:
            _add_event_attributes(attributes, event)
        attributes["shipsync.handler"] = str(handler)
        attributes["error.type"] = str(error_type)
        link = _creation_link(event) if event is not None else None
        return _Current(
            h.tracer,
            f"settle {handler}",
            SpanKind.CLIENT,
            attributes,
            [link] if link is not None else None,
        )

    @functools.wraps(fn)
    async def record(*args: Any, **kwargs: Any) -> Any:
        h = _current()
        if not h.active:
            return await fn(*args, **kwargs)
        current = settle_span(h, args)
        if current is None:
            return await fn(*args, **kwargs)
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            current.end(exc)
            raise
        current.end()
        return result

    return cast(F, record)


def traced_replay(fn: F) -> F:
    """Wrap ``Dispatcher.replay``: one ``settle`` span with the replay's counts."""

    @functools.wraps(fn)
    async def replay(*args: Any, **kwargs: Any) -> Any:
        h = handles()
        token = _scoped.set(h)
        try:
            return await _replay(h, *args, **kwargs)
        finally:
            _scoped.reset(token)

    async def _replay(h: Handles, *args: Any, **kwargs: Any) -> Any:
        if h.tracer is None:
            return await fn(*args, **kwargs)
        attributes = _messaging(h, "settle", "replay", "settle")
        with h.tracer.start_as_current_span(
            "settle replay", kind=SpanKind.CLIENT, attributes=attributes
        ) as span:
            result = await fn(*args, **kwargs)
            for name in ("succeeded", "already_done", "failed", "skipped"):
                span.set_attribute(f"shipsync.replay.{name}", len(getattr(result, name, ())))
            return result

    return cast(F, replay)


_watched: WeakSet[Any] = WeakSet()
_registered: list[bool] = []


def watch_dead_letters(store: Any) -> None:
    """Report ``store``'s open letters on the ``shipsync.dead_letters.open`` gauge (weakly held)."""
    if store is None:
        return
    try:
        _watched.add(store)
    except TypeError:  # not weak-referenceable: not watched
        return
    if not _registered:
        _registered.append(True)
        add_dead_letter_source(_open_letters)


def _open_letters() -> list[tuple[int, dict[str, str]]]:
    counts: dict[str, int] = {}
    for store in list(_watched):
        try:
            count = len(store.list(limit=100_000))
        except Exception:  # closed or unreachable: it reports nothing this time
            continue
        name = type(store).__name__
        counts[name] = counts.get(name, 0) + count
    return [(count, {"shipsync.store": name}) for name, count in counts.items()]


# -- the webhook receiver ----------------------------------------------------------------------


def _receipt_span(h: Handles, receiver: Any) -> _Current | None:
    if h.tracer is None:
        return None
    name = str(getattr(receiver, "_name", None) or getattr(receiver, "name", "webhooks"))
    return _Current(
        h.tracer, f"webhook {name}", SpanKind.INTERNAL, {"shipsync.webhook.endpoint": name}
    )


def _after_receipt(h: Handles, receiver: Any, current: _Current | None, receipt: Any) -> None:
    outcome = str(receipt.outcome.value)
    if current is not None:
        span = current.span
        found: dict[str, Any] = {
            "shipsync.webhook.outcome": outcome,
            "http.response.status_code": int(receipt.status),
            "shipsync.webhook.events": len(receipt.events),
        }
        if receipt.delivery_id is not None:
            found["shipsync.webhook.delivery_id"] = receipt.delivery_id
        span.set_attributes(found)
        if receipt.error is not None:
            _status_error(span, receipt.error)
    if h.instruments is not None:
        name = str(getattr(receiver, "_name", None) or "webhooks")
        labels = {"shipsync.webhook.endpoint": name, "shipsync.webhook.outcome": outcome}
        h.instruments.deliveries.add(1, labels)
        if outcome == "duplicate":
            h.instruments.duplicates.add(1, {"shipsync.stage": "webhook"})
        if outcome == "accepted":
            now = time.time()
            for event in receipt.events:
                lag = _lag(event, now)
                if lag is not None:
                    h.instruments.event_lag.record(
                        lag,
                        {"shipsync.stage": "received", "cloudevents.event_source": event.source},
                    )


def traced_receive(fn: F) -> F:
    """Wrap a webhook receiver's ``receive(body, headers)``: one span per delivery."""
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def areceive(self: Any, body: bytes, headers: Any) -> Any:
            h = handles()
            token = _scoped.set(h)  # the publish inside reuses it
            try:
                if not h.active:
                    return await fn(self, body, headers)
                current = _receipt_span(h, self)
                try:
                    receipt = await fn(self, body, headers)
                    _after_receipt(h, self, current, receipt)
                except BaseException as exc:
                    if current is not None:
                        current.end(exc)
                    raise
                if current is not None:
                    current.end()
                return receipt
            finally:
                _scoped.reset(token)

        return cast(F, areceive)

    @functools.wraps(fn)
    def receive(self: Any, body: bytes, headers: Any) -> Any:
        h = handles()
        token = _scoped.set(h)  # the publish inside reuses it
        try:
            if not h.active:
                return fn(self, body, headers)
            current = _receipt_span(h, self)
            try:
                receipt = fn(self, body, headers)
                _after_receipt(h, self, current, receipt)
            except BaseException as exc:
                if current is not None:
                    current.end(exc)
                raise
            if current is not None:
                current.end()
            return receipt
        finally:
            _scoped.reset(token)

    return cast(F, receive)


def record_unmapped_code(source: str, carrier_code: str) -> None:
    """Count a carrier tracking code that maps to no canonical milestone."""
    h = _current()
    if h.instruments is not None:
        h.instruments.unmapped_codes.add(
            1, {"cloudevents.event_source": source, "shipsync.carrier.code": carrier_code[:64]}
        )


# -- carriers ----------------------------------------------------------------------------------

_attempts: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "shipsync_carrier_attempts", default=None
)


def _breaker_state(client: Any) -> str:
    breaker = getattr(client, "breaker", None)
    state = getattr(breaker, "state", None)
    if state is None:
        return "closed"
    try:
        return str(state(client.carrier))
    except Exception:
        return "unknown"


@contextmanager
def _operation(h: Handles, client: Any, operation: str) -> Iterator[None]:
    """Count the attempts of one carrier operation; span it when tracing."""
    counter = [0]
    token = _attempts.set(counter)
    try:
        if h.tracer is None:
            yield
            return
        carrier = str(client.carrier)
        current = _Current(
            h.tracer,
            f"{carrier} {operation}",
            SpanKind.INTERNAL,
            {"shipsync.carrier": carrier, "shipsync.carrier.operation": operation},
        )
        span = current.span
        try:
            yield
        except BaseException as exc:
            _status_error(span, exc)
            raise
        finally:
            span.set_attributes(
                {
                    "shipsync.carrier.attempts": counter[0],
                    "shipsync.carrier.breaker_state": _breaker_state(client),
                }
            )
            current.end()
    finally:
        _attempts.reset(token)


def traced_carrier_run(fn: F) -> F:
    """Wrap ``CarrierClient.run(flow, operation)``: one logical span per carrier operation."""
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def arun(self: Any, flow: Any, operation: str) -> Any:
            h = handles()
            token = _scoped.set(h)  # each attempt's hook reuses it
            try:
                if not h.active:
                    return await fn(self, flow, operation)
                with _operation(h, self, operation):
                    return await fn(self, flow, operation)
            finally:
                _scoped.reset(token)

        return cast(F, arun)

    @functools.wraps(fn)
    def run(self: Any, flow: Any, operation: str) -> Any:
        h = handles()
        token = _scoped.set(h)  # each attempt's hook reuses it
        try:
            if not h.active:
                return fn(self, flow, operation)
            with _operation(h, self, operation):
                return fn(self, flow, operation)
        finally:
            _scoped.reset(token)

    return cast(F, run)


def _attempt_done(
    h: Handles, client: Any, operation: str, started: float, response: Any, error: Any
) -> None:
    counter = _attempts.get()
    if counter is not None:
        counter[0] += 1
        if counter[0] > 1 and h.instruments is not None:
            h.instruments.carrier_resends.add(
                1,
                {"shipsync.carrier": str(client.carrier), "shipsync.carrier.operation": operation},
            )
    if h.instruments is None:
        return
    labels: dict[str, Any] = {
        "shipsync.carrier": str(client.carrier),
        "shipsync.carrier.operation": operation,
    }
    status = getattr(response, "status", None) or getattr(error, "status", None)
    if isinstance(status, int):
        labels["http.response.status_code"] = status
    if error is not None:
        labels["error.type"] = type(error).__name__
    h.instruments.carrier_duration.record(time.perf_counter() - started, labels)


def traced_carrier_attempt(fn: F) -> F:
    """Wrap ``CarrierClient._send_once(request, operation)``: count and time each attempt."""
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def asend(self: Any, request: Any, operation: str) -> Any:
            h = _current()
            if not h.active:
                return await fn(self, request, operation)
            started = time.perf_counter()
            try:
                response = await fn(self, request, operation)
            except Exception as exc:
                _attempt_done(h, self, operation, started, None, exc)
                raise
            _attempt_done(h, self, operation, started, response, None)
            return response

        return cast(F, asend)

    @functools.wraps(fn)
    def send(self: Any, request: Any, operation: str) -> Any:
        h = _current()
        if not h.active:
            return fn(self, request, operation)
        started = time.perf_counter()
        try:
            response = fn(self, request, operation)
        except Exception as exc:
            _attempt_done(h, self, operation, started, None, exc)
            raise
        _attempt_done(h, self, operation, started, response, None)
        return response

    return cast(F, send)


def record_breaker_change(carrier: str, state: str) -> None:
    """Count a circuit breaker's change of state and note it on the current span."""
    h = _current()
    if h.instruments is not None:
        h.instruments.breaker_changes.add(
            1, {"shipsync.carrier": carrier, "shipsync.carrier.breaker_state": state}
        )
    if h.tracer is not None:
        get_current_span().add_event(
            "breaker state changed",
            {"shipsync.carrier": carrier, "shipsync.carrier.breaker_state": state},
        )


# -- Odoo and settlement -----------------------------------------------------------------------


def traced_odoo_call(fn: F) -> F:
    """Wrap ``RpcGateway.call(model, method, ...)``: one CLIENT span and one round trip counted."""

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        h = handles()
        if not h.active:
            return fn(*args, **kwargs)
        model = str(args[1] if len(args) > 1 else kwargs.get("model"))
        method = str(args[2] if len(args) > 2 else kwargs.get("method"))
        labels = {"rpc.system": "jsonrpc", "rpc.service": model, "rpc.method": method}
        if h.instruments is not None:
            h.instruments.odoo_round_trips.add(1, labels)
        if h.tracer is None:
            return fn(*args, **kwargs)
        with h.tracer.start_as_current_span(
            f"odoo {model}/{method}", kind=SpanKind.CLIENT, attributes=labels
        ) as span:
            result = fn(*args, **kwargs)
            if isinstance(result, list):
                span.set_attribute("shipsync.odoo.records", len(result))
            return result

    return cast(F, call)


_TOUCHED = ("applied", "status_written", "validated", "duplicates", "unmatched")


def traced_odoo_operation(fn: F) -> F:
    """Wrap an ``OdooLogistics`` operation: one span with its round trips and records touched."""

    @functools.wraps(fn)
    def operation(*args: Any, **kwargs: Any) -> Any:
        h = handles()
        if h.tracer is None:
            return fn(*args, **kwargs)
        with h.tracer.start_as_current_span(
            f"odoo {fn.__name__}",
            kind=SpanKind.INTERNAL,
            attributes={"shipsync.odoo.operation": fn.__name__},
        ) as span:
            result = fn(*args, **kwargs)
            trips = getattr(result, "round_trips", None)
            if isinstance(trips, int):
                span.set_attribute("shipsync.odoo.round_trips", trips)
            for name in _TOUCHED:
                value = getattr(result, name, None)
                if isinstance(value, tuple | dict):
                    span.set_attribute(f"shipsync.odoo.{name}", len(value))
            return result

    return cast(F, operation)


def traced_reconciliation(fn: F) -> F:
    """Wrap ``Reconciler.run(rows)``: a span per run, lines counted by class."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        h = handles()
        if not h.active:
            return fn(*args, **kwargs)
        reconciler: Any = args[0]
        before = len(reconciler.report().invoices)
        carrier = str(getattr(reconciler, "carrier", "unknown"))
        cm = (
            h.tracer.start_as_current_span(
                f"reconcile {carrier}",
                kind=SpanKind.INTERNAL,
                attributes={"shipsync.carrier": carrier},
            )
            if h.tracer is not None
            else None
        )
        span = cm.__enter__() if cm is not None else None
        try:
            report: Any = fn(*args, **kwargs)
            new = report.invoices[before:]
            lines: dict[str, int] = {}
            for summary in new:
                if str(getattr(summary.status, "value", summary.status)) != "settled":
                    continue
                for kind, total in summary.classes.items():
                    name = str(getattr(kind, "value", kind))
                    lines[name] = lines.get(name, 0) + int(total.lines)
            if span is not None:
                span.set_attribute("shipsync.reconciliation.invoices", len(new))
                span.set_attribute("shipsync.reconciliation.problems", len(report.problems))
                for name, count in lines.items():
                    span.set_attribute(f"shipsync.reconciliation.lines.{name}", count)
            if h.instruments is not None:
                for name, count in lines.items():
                    h.instruments.reconciliation_lines.add(
                        count, {"shipsync.carrier": carrier, "shipsync.line_class": name}
                    )
            return report
        finally:
            if cm is not None:
                cm.__exit__(None, None, None)

    return cast(F, run)
