"""Turning an authentic body into canonical events: the parser contract and our own parser.

A carrier driver supplies a parser for its webhook format: a callable taking the raw body and
returning the canonical events (a sequence), or a :class:`ParsedDelivery` that also names the
carrier's own event id for deduplication. It raises a ``shipsync.errors`` input error
(``WebhookPayloadError``, ``CanonicalValidationError``, …) for a body it cannot read.
:func:`parse_canonical` is the parser for shipsync's own CloudEvents envelopes.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, TypeAlias

import attrs

from shipsync.canonical import (
    MILESTONE_EVENT_TYPES,
    Event,
    TrackingEvent,
    default_catalogue,
    event_for_tracking,
)
from shipsync.errors import ShipsyncError, WebhookPayloadError
from shipsync.telemetry import _hooks as _telemetry

__all__ = ["ParsedDelivery", "WebhookParser", "parse_canonical", "tracking_parser"]

_log = logging.getLogger("shipsync.webhooks")

_MAX_BATCH = 1000


@attrs.frozen
class ParsedDelivery:
    """The events one delivery carries, and the sender's id for it when the body names one."""

    events: tuple[Event, ...]
    delivery_id: str | None = None


WebhookParser: TypeAlias = Callable[[bytes], "ParsedDelivery | Sequence[Event] | Event"]
"""A driver's parser: raw body in; canonical events, one event or a :class:`ParsedDelivery` out."""


class _ParseWebhook(Protocol):
    def __call__(self, body: bytes, *, received_at: datetime) -> Sequence[TrackingEvent]: ...


def tracking_parser(
    parse_webhook: _ParseWebhook, *, source: str, clock: Callable[[], float] = time.time
) -> WebhookParser:
    """Adapt a carrier driver's ``parse_webhook(body, *, received_at)`` into a receiver parser.

    Each tracking event is wrapped in its milestone's envelope with ``source`` (say
    ``"shipsync/acme"``); its id derives from the carrier's event id, so a redelivered event
    keeps its id. ``received_at`` is read from ``clock``. Tracking events whose milestone is
    ``unknown`` are not published (the canonical model gives them no event type) and are logged.
    """

    def parse(body: bytes) -> tuple[Event, ...]:
        received_at = datetime.fromtimestamp(clock(), UTC)
        events: list[Event] = []
        for tracking in parse_webhook(body, received_at=received_at):
            if tracking.milestone not in MILESTONE_EVENT_TYPES:
                _log.warning("webhook tracking event with an unknown milestone not published")
                _telemetry.record_unmapped_code(source, tracking.carrier_code)  # telemetry
                continue
            events.append(event_for_tracking(tracking, source=source))
        return tuple(events)

    return parse


def parse_canonical(body: bytes) -> ParsedDelivery:
    """Parse one shipsync CloudEvents envelope, or a JSON array of up to 1000 of them.

    A single envelope's ``id`` becomes the delivery id. Raises :class:`WebhookPayloadError` for
    anything that is not valid UTF-8 JSON of known, valid events; the cause (naming the field
    path, never the value) is chained.
    """
    try:
        first = body[:1]
        if first == b"[" or (first.isspace() and body.lstrip()[:1] == b"["):
            return ParsedDelivery(_parse_batch(body))
        event = default_catalogue.parse(body)
    except WebhookPayloadError:
        raise
    except ShipsyncError as error:
        raise WebhookPayloadError(f"the body is not a valid event: {error}") from error
    except (RecursionError, ValueError) as error:
        raise WebhookPayloadError("the body is not a valid event: unreadable JSON") from error
    return ParsedDelivery((event,), event.id)


def _parse_batch(body: bytes) -> tuple[Event, ...]:
    try:
        items: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookPayloadError("the body is not valid UTF-8 JSON") from None
    if not isinstance(items, list) or not items:
        raise WebhookPayloadError("a batch must be a non-empty JSON array of events")
    if len(items) > _MAX_BATCH:
        raise WebhookPayloadError(f"a batch holds at most {_MAX_BATCH} events")
    events = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise WebhookPayloadError("each batch item must be an event object", path=str(index))
        try:
            events.append(default_catalogue.parse_obj(item))
        except ShipsyncError as error:
            raise WebhookPayloadError(
                f"batch item {index} is not a valid event: {error}", path=str(index)
            ) from error
    return tuple(events)
