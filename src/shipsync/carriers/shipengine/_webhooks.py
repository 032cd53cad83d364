"""ShipEngine's webhooks as canonical events: tracking, finished batches and rate updates.

ShipEngine's OpenAPI document (``webhook_event``) lists seven webhook events; each delivery is a
JSON object naming its ``resource_type`` and a ``resource_url``, some with a ``data`` object.
What each becomes (``_mapping.WEBHOOK_EVENTS`` holds the table as data):

``track`` (``API_TRACK``)
    ``data`` is a tracking summary with its events: one milestone event per tracking event
    (``shipment.label_created`` for ShipEngine's ``NY``/``AC``: the document has no separate
    label webhook, a new label announces itself this way).
``batch`` (``API_BATCH``)
    The batch finished processing: one ``batch.completed`` (:class:`~shipsync.canonical.
    LabelBatch`), the batch id read from ``resource_url`` (``…/v1/batches/se-…``) or from
    ``data.batch_id``. Its labels stay behind the URL: they are fetched, not pushed.
``rate`` (``API_RATE``)
    A shipment's rates were updated: with a ``data`` object shaped like the document's rate
    response (``rates``, ``shipment_id``, ``external_shipment_id``, ``created_at``), one
    ``freight.rate_quoted`` per rate; without one (the rates are only behind ``resource_url``)
    nothing is published rather than a price invented.
``carrier_connected``, ``report_complete``, ``sales_orders_imported``,
``order_source_refresh_complete``
    Account and order-source housekeeping with no shipment fact: no event (the delivery is
    still acknowledged).

Every body the parser cannot read gives a :class:`~shipsync.errors.WebhookPayloadError`
naming the field, never another exception: a receiver answers 400 and nothing is handed off.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from shipsync.canonical import (
    MILESTONE_EVENT_TYPES,
    BatchCompleted,
    Event,
    FreightRateQuoted,
    LabelBatch,
    RateQuote,
    event_for_tracking,
)
from shipsync.carriers._mapping import PARSE_ERRORS
from shipsync.carriers.shipengine._mapping import WEBHOOK_RESOURCE_TYPES
from shipsync.errors import ShipsyncError, WebhookPayloadError
from shipsync.webhooks import ParsedDelivery, WebhookParser

if TYPE_CHECKING:
    from shipsync.carriers.shipengine._driver import ShipEngineDriver

__all__ = ["DEFAULT_SOURCE", "parse_webhook_events", "webhook_parser"]

#: The ``source`` of the events the parser publishes unless told otherwise.
DEFAULT_SOURCE: Final = "shipsync/shipengine"


def _fail(message: str, path: str) -> WebhookPayloadError:
    return WebhookPayloadError(f"ShipEngine webhook: {message}", path=path)


def _object(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail("expected an object", path)
    return value


def parse_webhook_events(
    driver: ShipEngineDriver,
    body: bytes,
    *,
    received_at: datetime,
    source: str = DEFAULT_SOURCE,
) -> list[Event]:
    """The canonical events of one verified ShipEngine webhook body (see the module docstring).

    Raises only :class:`~shipsync.errors.WebhookPayloadError` for a body it cannot read.
    """
    try:
        return _events(driver, body, received_at, source)
    except WebhookPayloadError:
        raise
    except ShipsyncError as exc:  # a driver or canonical check refused a value
        raise _fail(f"a value is not valid ({type(exc).__name__}: {exc})", "data") from exc
    except PARSE_ERRORS as exc:  # a missing key, a wrong type, unreadable JSON
        raise _fail(f"the body is not readable ({type(exc).__name__})", "data") from exc


def webhook_parser(
    driver: ShipEngineDriver,
    *,
    source: str = DEFAULT_SOURCE,
    clock: Callable[[], float] = time.time,
) -> WebhookParser:
    """A receiver parser (``WebhookReceiver(…, parser=…)``) publishing every event type above.

    ``received_at`` is read from ``clock`` (the time of batch events, and of tracking events
    ShipEngine sends without a scan time).
    """

    def parse(body: bytes) -> ParsedDelivery:
        received_at = datetime.fromtimestamp(clock(), UTC)
        events = parse_webhook_events(driver, body, received_at=received_at, source=source)
        return ParsedDelivery(tuple(events))

    return parse


def _events(
    driver: ShipEngineDriver, body: bytes, received_at: datetime, source: str
) -> list[Event]:
    data = _object(json.loads(body, parse_float=Decimal), "body")
    kind = data.get("resource_type")
    if not isinstance(kind, str) or kind not in WEBHOOK_RESOURCE_TYPES:
        raise _fail("unknown or missing resource_type", "resource_type")
    if kind == "API_TRACK":
        tracking = driver._events(_object(data.get("data"), "data"), received_at)
        return [
            event_for_tracking(item, source=source)
            for item in tracking
            if item.milestone in MILESTONE_EVENT_TYPES
        ]
    if kind == "API_BATCH":
        return [BatchCompleted.of(_batch(data), source=source, time=received_at)]
    if kind == "API_RATE":
        return list(_rates(driver, data, received_at, source))
    return []


def _batch(data: Mapping[str, Any]) -> LabelBatch:
    url = data.get("resource_url")
    if url is not None and (not isinstance(url, str) or not url):
        raise _fail("resource_url is not a URL", "resource_url")
    batch_id = None
    inner = data.get("data")
    if isinstance(inner, Mapping) and isinstance(inner.get("batch_id"), str):
        batch_id = inner["batch_id"]
    elif url is not None:
        parts = urlsplit(url)
        segments = [s for s in parts.path.split("/") if s]
        if parts.scheme in {"http", "https"} and "batches" in segments[:-1]:
            batch_id = segments[segments.index("batches") + 1]
    if not batch_id:
        raise _fail("no batch id in resource_url or data.batch_id", "resource_url")
    return LabelBatch(carrier="shipengine", batch_id=batch_id, resource_url=url)


def _rates(
    driver: ShipEngineDriver, data: Mapping[str, Any], received_at: datetime, source: str
) -> list[Event]:
    inner = data.get("data")
    if inner is None:
        return []  # the rates are only behind resource_url: no price is invented
    response = _object(inner, "data")
    if "rate_response" in response:
        response = _object(response["rate_response"], "data.rate_response")
    shipment_id = response.get("external_shipment_id") or response.get("shipment_id")
    if not isinstance(shipment_id, str) or not shipment_id:
        raise _fail("the rates name no shipment", "data.shipment_id")
    created = response.get("created_at")
    quoted_at = received_at if created is None else _time(created, "data.created_at")
    rates = response.get("rates")
    if not isinstance(rates, list):
        raise _fail("rates is not a list", "data.rates")
    events: list[Event] = []
    for index, item in enumerate(rates):
        rate = driver._rate(_object(item, f"data.rates.{index}"))
        quote = RateQuote(shipment_id=shipment_id, rate=rate, quoted_at=quoted_at)
        events.append(FreightRateQuoted.of(quote, source=source, time=quoted_at))
    return events


def _time(value: object, path: str) -> datetime:
    if not isinstance(value, str):
        raise _fail("a time is not a string", path)
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise _fail("a time has no UTC offset", path)
    return moment
