"""The event envelope and the catalogue of typed events.

Every event travels in a CloudEvents 1.0 structured-mode JSON envelope::

    {"specversion": "1.0", "id": "...", "source": "shipsync/fake", "type": "shipment.delivered",
     "subject": "SHP-1", "time": "2026-11-26T10:00:00Z", "datacontenttype": "application/json",
     "dataschema": "https://schemas.shipsync.dev/shipment.delivered/1",
     "schemaversion": 1, "correlationid": "...", "partitionkey": "SHP-1", "data": {...}}

``schemaversion``, ``correlationid`` and ``partitionkey`` are CloudEvents extension attributes.
Unknown extension attributes are kept, never dropped; as CloudEvents requires, their names are
lower-case ASCII letters and digits, and their values scalars (a string, an integer, a boolean).
Each event type is a class whose ``type`` is a literal, so parsing bytes dispatches on ``type``
in one pass (a pydantic discriminated union).

Versioning: each type pins its current ``schemaversion``. An envelope of an older version fails
the fast path and is read through the registered upcasters, one version step at a time, into the
current shape; a version with no upcaster path is an ``UnsupportedSchemaVersionError``.
"""

from __future__ import annotations

import enum
import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, Self, TypeVar

import pydantic
from pydantic import (
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetPydanticSchema,
    TypeAdapter,
    WithJsonSchema,
)
from pydantic_core import CoreSchema, core_schema

from shipsync.canonical._base import (
    CanonicalModel,
    Identifier,
    KeyIdentifier,
    KeyText,
    UtcDatetime,
    _key_schema,
)
from shipsync.canonical._batch import LabelBatch
from shipsync.canonical._finance import (
    Accrual,
    Claim,
    Discrepancy,
    FreightInvoice,
    InvoiceMatch,
    Settlement,
)
from shipsync.canonical._fulfilment import (
    CancelledPicking,
    ConfirmedOrder,
    InitiatedReturn,
    ReadyPicking,
)
from shipsync.canonical._manifest import Manifest
from shipsync.canonical._predictions import RiskAssessment
from shipsync.canonical._shipment import ProofOfDelivery, Rate, Shipment
from shipsync.canonical._tracking import Milestone, TrackingEvent
from shipsync.errors import (
    CanonicalValidationError,
    UnknownEventTypeError,
    UnsupportedSchemaVersionError,
)

__all__ = [
    "DATASCHEMA_BASE",
    "MILESTONE_EVENT_TYPES",
    "AnyEvent",
    "BatchCompleted",
    "ClaimOpened",
    "ClaimSettled",
    "Event",
    "EventCatalogue",
    "FreightChargeAccrued",
    "FreightDiscrepancyFound",
    "FreightInvoiceMatched",
    "FreightInvoiceReceived",
    "FreightRateQuoted",
    "ManifestCreated",
    "MilestoneEvent",
    "OrderConfirmed",
    "PickingCancelled",
    "PickingReady",
    "PodCaptured",
    "RateQuote",
    "ReturnInitiated",
    "SettlementCompleted",
    "ShipmentAvailableForPickup",
    "ShipmentCancelled",
    "ShipmentCreated",
    "ShipmentDelayPredicted",
    "ShipmentDelivered",
    "ShipmentDeliveryAttempted",
    "ShipmentException",
    "ShipmentExceptionPredicted",
    "ShipmentInTransit",
    "ShipmentLabelCreated",
    "ShipmentLost",
    "ShipmentOutForDelivery",
    "ShipmentPickedUp",
    "ShipmentReturned",
    "ShipmentReturningToSender",
    "ShipmentSlaBreached",
    "SlaBreach",
    "SlaKind",
    "Upcaster",
    "default_catalogue",
    "event_for_tracking",
    "parse_event",
]

DATASCHEMA_BASE = "https://schemas.shipsync.dev"
"""Base of the ``dataschema`` URIs; ``{base}/{type}/{schemaversion}``."""

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
"""Reads an envelope dict of version N and returns it as version N + 1."""

E = TypeVar("E", bound="Event")


def _default_partition_key(_value: None, info: core_schema.ValidationInfo) -> str | None:
    key = info.data.get("subject") or info.data.get("id")
    return key if isinstance(key, str) else None


def _partition_key_schema(source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
    """A bounded string; absent or null, the subject or else the id (a Python call only then)."""
    from_data = core_schema.chain_schema(
        [
            core_schema.none_schema(),
            core_schema.with_info_plain_validator_function(_default_partition_key),
        ]
    )
    return core_schema.union_schema(
        [_key_schema(0, 200, strip=False), from_data],
        mode="left_to_right",
        custom_error_type="partition_key",
        custom_error_message=(
            "Input should be a string of at most 200 characters, without control characters"
        ),
    )


PartitionKey = Annotated[
    str | None,
    GetPydanticSchema(_partition_key_schema),
    WithJsonSchema(
        {"type": ["string", "null"], "maxLength": 200, "pattern": r"^[^\u0000-\u001f]*$"}
    ),
]
"""The partition key: the subject (the shipment id) or else the event id when not given."""


_EXTENSION_VALUE_SCHEMA = core_schema.custom_error_schema(
    core_schema.union_schema(
        [
            core_schema.bool_schema(strict=True),
            core_schema.int_schema(strict=True, ge=-(2**31), le=2**31 - 1),
            core_schema.str_schema(max_length=4000),
        ],
        mode="left_to_right",
    ),
    custom_error_type="extension_value",
    custom_error_message=(
        "an extension attribute must be a string of at most 4000 characters,"
        " a 32-bit integer or a boolean"
    ),
)

_EXTENSION_NAME_PATTERN = r"^[a-z0-9]{1,50}$"
_EXTENSION_NAME_SCHEMA = core_schema.custom_error_schema(
    core_schema.str_schema(pattern=_EXTENSION_NAME_PATTERN),
    custom_error_type="extension_name",
    custom_error_message="an attribute name must be 1 to 50 lower-case ASCII letters or digits",
)

_ExtensionName = Annotated[str, GetPydanticSchema(lambda _source, _handler: _EXTENSION_NAME_SCHEMA)]
"""A CloudEvents attribute name: lower-case ASCII letters and digits (here 1 to 50 of them)."""

_ExtensionValue = Annotated[
    str | int | bool,
    GetPydanticSchema(lambda _source, _handler: _EXTENSION_VALUE_SCHEMA),
    WithJsonSchema(
        {
            "type": ["string", "integer", "boolean"],
            "maxLength": 4000,
            "minimum": -(2**31),
            "maximum": 2**31 - 1,
        }
    ),
]
"""The value of an extension attribute: a CloudEvents scalar (no objects, arrays or floats)."""


_VERSION_1_SCHEMA = core_schema.custom_error_schema(
    core_schema.int_schema(strict=True, ge=1, le=1),
    custom_error_type="schema_version",
    custom_error_message="Input should be the integer 1",
)

_Version1 = Annotated[
    int,
    GetPydanticSchema(lambda _source, _handler: _VERSION_1_SCHEMA),
    WithJsonSchema({"const": 1, "type": "integer"}),
]
"""Schema version 1, and only the integer: not ``true`` nor ``1.0``, which a lax literal takes."""


class Event(CanonicalModel):
    """The CloudEvents envelope all shipsync events share. Subclasses pin ``type`` and ``data``."""

    model_config = ConfigDict(extra="allow")

    # Extension attributes we do not know, validated inside pydantic-core (no Python call).
    __pydantic_extra__: dict[_ExtensionName, _ExtensionValue] = Field(init=False)

    current_version: ClassVar[int] = 1

    specversion: Literal["1.0"] = "1.0"
    id: KeyIdentifier
    source: Annotated[str, Field(min_length=1, max_length=500)]
    type: str
    subject: KeyText | None = None
    time: UtcDatetime
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: Annotated[str, Field(max_length=500)] | None = None
    schemaversion: int = 1
    correlationid: KeyText | None = None
    partitionkey: PartitionKey = Field(default=None, validate_default=True)
    data: Any

    @classmethod
    def event_type(cls) -> str:
        """The CloudEvents ``type`` this class carries."""
        default = cls.model_fields["type"].default
        assert isinstance(default, str)
        return default

    @classmethod
    def of(
        cls,
        data: Any,
        *,
        source: str,
        time: datetime,
        id: str | None = None,
        subject: str | None = None,
        correlationid: str | None = None,
        partitionkey: str | None = None,
    ) -> Self:
        """Build an event around ``data``.

        ``subject`` and ``partitionkey`` default to the shipment id the data names. ``id``
        defaults to a stable hash of type, source and data, so the same fact always gets the same
        id and duplicates stay harmless. Time is passed in: the canonical model reads no clock.
        """
        event_type = cls.event_type()
        if subject is None:
            subject = _shipment_id_of(data)
        if id is None:
            id = _stable_id(event_type, source, data)
        return cls(
            id=id,
            source=source,
            type=event_type,
            subject=subject,
            time=time,
            dataschema=f"{DATASCHEMA_BASE}/{event_type}/{cls.current_version}",
            schemaversion=cls.current_version,
            correlationid=correlationid,
            partitionkey=partitionkey or subject,
            data=data,
        )

    def to_json(self) -> bytes:
        """The structured-mode JSON bytes of this event."""
        # What ``model_dump_json(exclude_none=True).encode()`` gives, straight from the model's
        # serializer as bytes, with no str made and encoded again: about a quarter less CPU, and
        # this is the larger part of a publisher's own work.
        return self.__pydantic_serializer__.to_json(self, exclude_none=True)


def _shipment_id_of(data: Any) -> str | None:
    value = (
        getattr(data, "shipment_id", None)
        or getattr(data, "manifest_id", None)
        or getattr(data, "batch_id", None)
    )
    return value if isinstance(value, str) else None


def _stable_id(event_type: str, source: str, data: Any) -> str:
    payload = data.model_dump_json() if isinstance(data, pydantic.BaseModel) else json.dumps(data)
    digest = hashlib.sha256(f"{event_type}\n{source}\n{payload}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=5))


# --- shipment lifecycle ------------------------------------------------------------------------


class ShipmentCreated(Event):
    """A shipment was booked with a carrier."""

    type: Literal["shipment.created"] = "shipment.created"
    schemaversion: _Version1 = 1
    data: Shipment


class MilestoneEvent(Event):
    """A tracking milestone of one package. The event type and ``data.milestone`` agree."""

    milestone: ClassVar[Milestone]
    data: TrackingEvent

    def model_post_init(self, context: Any, /) -> None:
        # The one Python call on the hot path of a milestone event. A pydantic-core-only check
        # is not possible: nested models are validated by their own prebuilt validator.
        if self.data.milestone is not self.milestone:
            raise CanonicalValidationError(
                type(self).__name__,
                [("data.milestone", f"must be {self.milestone.value!r} for type {self.type!r}")],
            )


class ShipmentLabelCreated(MilestoneEvent):
    """A label was created; the carrier does not have the package yet."""

    milestone = Milestone.LABEL_CREATED
    type: Literal["shipment.label_created"] = "shipment.label_created"
    schemaversion: _Version1 = 1


class ShipmentPickedUp(MilestoneEvent):
    """The carrier has the package."""

    milestone = Milestone.PICKED_UP
    type: Literal["shipment.picked_up"] = "shipment.picked_up"
    schemaversion: _Version1 = 1


class ShipmentInTransit(MilestoneEvent):
    """The package moves through the carrier's network."""

    milestone = Milestone.IN_TRANSIT
    type: Literal["shipment.in_transit"] = "shipment.in_transit"
    schemaversion: _Version1 = 1


class ShipmentOutForDelivery(MilestoneEvent):
    """The package is on the vehicle for final delivery."""

    milestone = Milestone.OUT_FOR_DELIVERY
    type: Literal["shipment.out_for_delivery"] = "shipment.out_for_delivery"
    schemaversion: _Version1 = 1


class ShipmentDeliveryAttempted(MilestoneEvent):
    """Delivery was attempted and failed; ``data.reason`` says why."""

    milestone = Milestone.DELIVERY_ATTEMPTED
    type: Literal["shipment.delivery_attempted"] = "shipment.delivery_attempted"
    schemaversion: _Version1 = 1


class ShipmentAvailableForPickup(MilestoneEvent):
    """The package waits at a pickup point."""

    milestone = Milestone.AVAILABLE_FOR_PICKUP
    type: Literal["shipment.available_for_pickup"] = "shipment.available_for_pickup"
    schemaversion: _Version1 = 1


class ShipmentException(MilestoneEvent):
    """Something is wrong; ``data.reason`` says what. A later progress event clears it."""

    milestone = Milestone.EXCEPTION
    type: Literal["shipment.exception"] = "shipment.exception"
    schemaversion: _Version1 = 1


class ShipmentDelivered(MilestoneEvent):
    """The package was delivered."""

    milestone = Milestone.DELIVERED
    type: Literal["shipment.delivered"] = "shipment.delivered"
    schemaversion: _Version1 = 1


class ShipmentReturningToSender(MilestoneEvent):
    """The package is on its way back to the shipper."""

    milestone = Milestone.RETURNING_TO_SENDER
    type: Literal["shipment.returning_to_sender"] = "shipment.returning_to_sender"
    schemaversion: _Version1 = 1


class ShipmentReturned(MilestoneEvent):
    """The package is back with the shipper."""

    milestone = Milestone.RETURNED
    type: Literal["shipment.returned"] = "shipment.returned"
    schemaversion: _Version1 = 1


class ShipmentCancelled(MilestoneEvent):
    """The shipment was cancelled before pick-up."""

    milestone = Milestone.CANCELLED
    type: Literal["shipment.cancelled"] = "shipment.cancelled"
    schemaversion: _Version1 = 1


class ShipmentLost(MilestoneEvent):
    """The carrier declared the package lost."""

    milestone = Milestone.LOST
    type: Literal["shipment.lost"] = "shipment.lost"
    schemaversion: _Version1 = 1


class PodCaptured(Event):
    """Proof of delivery was captured."""

    type: Literal["pod.captured"] = "pod.captured"
    schemaversion: _Version1 = 1
    data: ProofOfDelivery


class ManifestCreated(Event):
    """A carrier closed a day: the manifest of the shipments handed over (subject: its id)."""

    type: Literal["manifest.created"] = "manifest.created"
    schemaversion: _Version1 = 1
    data: Manifest


class BatchCompleted(Event):
    """An aggregator finished a batch of labels (subject: the batch id); its labels are ready."""

    type: Literal["batch.completed"] = "batch.completed"
    schemaversion: _Version1 = 1
    data: LabelBatch


# --- money -------------------------------------------------------------------------------------


class RateQuote(CanonicalModel):
    """A rate quoted for a shipment."""

    shipment_id: Identifier
    rate: Rate
    quoted_at: UtcDatetime


class FreightRateQuoted(Event):
    """A carrier quoted a rate for a shipment; reconciliation compares invoices with it."""

    type: Literal["freight.rate_quoted"] = "freight.rate_quoted"
    schemaversion: _Version1 = 1
    data: RateQuote


class FreightChargeAccrued(Event):
    """A freight cost was accrued (estimate, reversal or actual)."""

    type: Literal["freight.charge_accrued"] = "freight.charge_accrued"
    schemaversion: _Version1 = 1
    data: Accrual


class FreightInvoiceReceived(Event):
    """A carrier invoice arrived."""

    type: Literal["freight.invoice_received"] = "freight.invoice_received"
    schemaversion: _Version1 = 1
    data: FreightInvoice


class FreightInvoiceMatched(Event):
    """An invoice line matched its shipment within tolerance."""

    type: Literal["freight.invoice_matched"] = "freight.invoice_matched"
    schemaversion: _Version1 = 1
    data: InvoiceMatch


class FreightDiscrepancyFound(Event):
    """An invoice line differs from what was expected."""

    type: Literal["freight.discrepancy_found"] = "freight.discrepancy_found"
    schemaversion: _Version1 = 1
    data: Discrepancy


class SettlementCompleted(Event):
    """An invoice was reconciled; its totals add up."""

    type: Literal["settlement.completed"] = "settlement.completed"
    schemaversion: _Version1 = 1
    data: Settlement


class ClaimOpened(Event):
    """A claim against a carrier was opened."""

    type: Literal["claim.opened"] = "claim.opened"
    schemaversion: _Version1 = 1
    data: Claim


class ClaimSettled(Event):
    """A claim was settled."""

    type: Literal["claim.settled"] = "claim.settled"
    schemaversion: _Version1 = 1
    data: Claim


# --- predictions -----------------------------------------------------------------------------


class ShipmentDelayPredicted(Event):
    """A model judges a late delivery likely; emitted once per shipment and risk level."""

    type: Literal["shipment.delay_predicted"] = "shipment.delay_predicted"
    schemaversion: _Version1 = 1
    data: RiskAssessment


class ShipmentExceptionPredicted(Event):
    """A model judges an ending in an exception class likely; once per shipment and level."""

    type: Literal["shipment.exception_predicted"] = "shipment.exception_predicted"
    schemaversion: _Version1 = 1
    data: RiskAssessment


# --- monitoring --------------------------------------------------------------------------------


class SlaKind(enum.StrEnum):
    """Which service level a shipment breached (the monitor's policies name them)."""

    LABEL_WAIT = "label_wait"
    """Booked, and no label after the policy's minutes."""
    STALE_FEED = "stale_feed"
    """Picked up, and no carrier scan for the policy's hours (the last known state is kept)."""
    LATE_DELIVERY = "late_delivery"
    """Out for delivery past the promised date."""
    MISSING_POD = "missing_pod"
    """Delivered without proof of delivery after the policy's hours."""


class SlaBreach(CanonicalModel):
    """A shipment breached a service level: what, since when, and the threshold it passed."""

    shipment_id: Identifier
    kind: SlaKind
    status: Annotated[str, Field(min_length=1, max_length=40)]
    since: UtcDatetime
    detected_at: UtcDatetime
    threshold_seconds: Annotated[int, Field(ge=0, le=10 * 365 * 86400)]
    carrier: Identifier | None = None


class ShipmentSlaBreached(Event):
    """A shipment breached a service level; the monitor raises it, flows may notify people."""

    type: Literal["sla.breached"] = "sla.breached"
    schemaversion: _Version1 = 1
    data: SlaBreach


# --- what the ERP publishes ---------------------------------------------------------------------


class OrderConfirmed(Event):
    """A sale order was confirmed in the ERP; ``subject`` is the order's name."""

    type: Literal["order.confirmed"] = "order.confirmed"
    schemaversion: _Version1 = 1
    data: ConfirmedOrder


class PickingReady(Event):
    """An outgoing picking with a carrier is ready to ship; ``subject`` is its shipment id."""

    type: Literal["picking.ready"] = "picking.ready"
    schemaversion: _Version1 = 1
    data: ReadyPicking


class PickingCancelled(Event):
    """An outgoing picking was cancelled; ``subject`` is its shipment id."""

    type: Literal["picking.cancelled"] = "picking.cancelled"
    schemaversion: _Version1 = 1
    data: CancelledPicking


class ReturnInitiated(Event):
    """A return picking was created; ``subject`` is the original picking's shipment id."""

    type: Literal["return.initiated"] = "return.initiated"
    schemaversion: _Version1 = 1
    data: InitiatedReturn


_BUILTIN: tuple[type[Event], ...] = (
    ShipmentCreated,
    ShipmentLabelCreated,
    ShipmentPickedUp,
    ShipmentInTransit,
    ShipmentOutForDelivery,
    ShipmentDeliveryAttempted,
    ShipmentAvailableForPickup,
    ShipmentException,
    ShipmentDelivered,
    ShipmentReturningToSender,
    ShipmentReturned,
    ShipmentCancelled,
    ShipmentLost,
    PodCaptured,
    FreightRateQuoted,
    FreightChargeAccrued,
    FreightInvoiceReceived,
    FreightInvoiceMatched,
    FreightDiscrepancyFound,
    SettlementCompleted,
    ClaimOpened,
    ClaimSettled,
    ShipmentDelayPredicted,
    ShipmentExceptionPredicted,
    ManifestCreated,
    BatchCompleted,
    ShipmentSlaBreached,
    OrderConfirmed,
    PickingReady,
    PickingCancelled,
    ReturnInitiated,
)

AnyEvent = Annotated[
    ShipmentCreated
    | ShipmentLabelCreated
    | ShipmentPickedUp
    | ShipmentInTransit
    | ShipmentOutForDelivery
    | ShipmentDeliveryAttempted
    | ShipmentAvailableForPickup
    | ShipmentException
    | ShipmentDelivered
    | ShipmentReturningToSender
    | ShipmentReturned
    | ShipmentCancelled
    | ShipmentLost
    | PodCaptured
    | FreightRateQuoted
    | FreightChargeAccrued
    | FreightInvoiceReceived
    | FreightInvoiceMatched
    | FreightDiscrepancyFound
    | SettlementCompleted
    | ClaimOpened
    | ClaimSettled
    | ShipmentDelayPredicted
    | ShipmentExceptionPredicted
    | ManifestCreated
    | BatchCompleted
    | ShipmentSlaBreached
    | OrderConfirmed
    | PickingReady
    | PickingCancelled
    | ReturnInitiated,
    Field(discriminator="type"),
]
"""Any event of the built-in catalogue, discriminated on ``type``."""

MILESTONE_EVENT_TYPES: Mapping[Milestone, type[MilestoneEvent]] = {
    cls.milestone: cls for cls in _BUILTIN if issubclass(cls, MilestoneEvent)
}
"""The event class of each milestone (``Milestone.UNKNOWN`` has none: it is not published)."""


def event_for_tracking(
    tracking: TrackingEvent, *, source: str, correlationid: str | None = None
) -> MilestoneEvent:
    """Wrap a tracking event in the envelope of its milestone; the id derives from its event id."""
    cls = MILESTONE_EVENT_TYPES.get(tracking.milestone)
    if cls is None:
        raise CanonicalValidationError(
            "TrackingEvent", [("milestone", "an 'unknown' milestone has no event type")]
        )
    return cls.of(
        tracking,
        source=source,
        time=tracking.occurred_at,
        id=_stable_id(cls.event_type(), source, tracking.event_id),
        correlationid=correlationid,
    )


class EventCatalogue:
    """Event types by name, with their upcasters; parses envelope bytes into typed events.

    The default catalogue holds the built-in types. Hosts may build their own catalogue to add
    event types of their own; :meth:`register_upcaster` teaches it to read older versions.
    """

    def __init__(self, event_types: Iterable[type[Event]] = ()) -> None:
        self._types: dict[str, type[Event]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}
        self._adapter: TypeAdapter[Any] | None = None
        # The adapter's core validator, called directly on the hot path of :meth:`parse`.
        self._validator: Any = None
        for event_type in event_types:
            self.register(event_type)

    @property
    def types(self) -> Mapping[str, type[Event]]:
        """Registered event classes by ``type``."""
        return dict(self._types)

    def register(self, event_cls: type[Event]) -> type[Event]:
        """Add an event class; usable as a class decorator."""
        name = event_cls.event_type()
        if name in self._types and self._types[name] is not event_cls:
            raise CanonicalValidationError("EventCatalogue", [("type", f"{name!r} is taken")])
        self._types[name] = event_cls
        self._adapter = None
        self._validator = None
        return event_cls

    def register_upcaster(self, event_type: str, from_version: int, upcaster: Upcaster) -> None:
        """Teach the catalogue to read ``event_type`` at ``from_version`` as the next version."""
        self._upcasters[(event_type, from_version)] = upcaster

    def prepare(self) -> None:
        """Build the validator now rather than on the first :meth:`parse`.

        Importing shipsync defers this work; the first parse of a process (and the first after
        :meth:`register`) pays for it instead, 20 to 23 ms of CPU with the default catalogue on
        the development machine. Call this at start-up, where a worker or a webhook receiver
        would rather wait than on its first event.
        """
        self._union()

    def _union(self) -> TypeAdapter[Any]:
        if self._adapter is None:
            classes = tuple(self._types.values())
            if len(classes) == 1:
                self._adapter = TypeAdapter(classes[0])
            else:
                union: Any = Annotated[_make_union(classes), Field(discriminator="type")]
                # Cache only keys: values (ids, times) rarely repeat, caching them costs ~15%.
                self._adapter = TypeAdapter(union, config=ConfigDict(cache_strings="keys"))
            self._validator = self._adapter.validator
        return self._adapter

    def parse(self, raw: bytes | str) -> Event:
        """Parse envelope JSON into its typed event; upcast older schema versions."""
        validator = self._validator or self._union().validator
        try:
            event: Event = validator.validate_json(raw)
            return event
        except pydantic.ValidationError as exc:
            return self._slow_path(raw, exc)

    def parse_obj(self, obj: Mapping[str, Any]) -> Event:
        """Like :meth:`parse`, from an already decoded dict."""
        if not isinstance(obj, Mapping):
            raise CanonicalValidationError("Event", [("", "an event must be a JSON object")])
        try:
            event: Event = self._union().validate_python(obj)
            return event
        except pydantic.ValidationError as exc:
            return self._recover(dict(obj), exc)

    def _slow_path(self, raw: bytes | str, exc: pydantic.ValidationError) -> Event:
        if not isinstance(raw, bytes | bytearray | str):
            raise CanonicalValidationError("Event", [("", "an envelope must be bytes or str")])
        try:
            obj = json.loads(raw)
        except RecursionError:
            raise CanonicalValidationError("Event", [("", "JSON nested too deeply")]) from None
        except ValueError:  # includes UnicodeDecodeError and integers of over 4300 digits
            raise CanonicalValidationError("Event", [("", "not valid UTF-8 JSON")]) from None
        if not isinstance(obj, dict):
            raise CanonicalValidationError("Event", [("", "an event must be a JSON object")])
        return self._recover(obj, exc)

    def _recover(self, obj: dict[str, Any], exc: pydantic.ValidationError) -> Event:
        event_type = obj.get("type")
        if not isinstance(event_type, str):
            raise CanonicalValidationError("Event", [("type", "missing or not a string")])
        cls = self._types.get(event_type)
        if cls is None:
            raise UnknownEventTypeError(event_type) from None
        version = obj.get("schemaversion", 1)
        if (
            isinstance(version, str)
            and version.isascii()
            and version.isdigit()
            and len(version) < 10
        ):
            # CloudEvents binary mode carries extensions as strings ("schemaversion": "1" after
            # an SDK's binary -> structured round trip); read them as the integer they denote.
            version = int(version)
            obj = obj | {"schemaversion": version}
            if version == cls.current_version:
                return cls.model_validate(obj)
        if not isinstance(version, int) or isinstance(version, bool):
            raise UnsupportedSchemaVersionError(event_type, version)
        current = cls.current_version
        if version == current:
            raise _translate(exc, event_type) from None
        if version > current or version < 1:
            raise UnsupportedSchemaVersionError(event_type, version)
        while version < current:
            upcaster = self._upcasters.get((event_type, version))
            if upcaster is None:
                raise UnsupportedSchemaVersionError(event_type, version)
            obj = _upcast(upcaster, obj, event_type, version)
            version += 1
            obj["schemaversion"] = version
        obj["dataschema"] = f"{DATASCHEMA_BASE}/{event_type}/{current}"
        return cls.model_validate(obj)


def _upcast(
    upcaster: Upcaster, obj: dict[str, Any], event_type: str, version: int
) -> dict[str, Any]:
    """Run one upcaster; what it raises on a malformed old envelope becomes our typed error."""
    try:
        result = upcaster(dict(obj))
    except CanonicalValidationError:
        raise
    except Exception as exc:  # a host's upcaster meeting input it did not expect
        raise CanonicalValidationError(
            event_type,
            [("", f"the upcaster from schema version {version} failed: {type(exc).__name__}")],
        ) from exc
    if not isinstance(result, dict):
        raise CanonicalValidationError(
            event_type, [("", f"the upcaster from schema version {version} did not return a dict")]
        )
    return result


def _make_union(classes: tuple[type[Event], ...]) -> Any:
    union: Any = classes[0]
    for cls in classes[1:]:
        union = union | cls
    return union


def _translate(exc: pydantic.ValidationError, model: str) -> CanonicalValidationError:
    from shipsync.canonical._base import translate_validation_error

    translated = translate_validation_error(exc, model)
    # The discriminated union prefixes every path with the tag; drop it so paths read "data.x".
    tag = f"{model}."
    errors = [
        ("" if path == model else path.removeprefix(tag), reason)
        for path, reason in translated.errors
    ]
    return CanonicalValidationError(model, errors)


default_catalogue = EventCatalogue(_BUILTIN)
"""The catalogue of built-in event types."""


def parse_event(raw: bytes | str) -> Event:
    """Parse one CloudEvents structured-mode JSON envelope into its typed event.

    Raises ``UnknownEventTypeError`` for a type not in the catalogue,
    ``UnsupportedSchemaVersionError`` for a version no upcaster reads and
    ``CanonicalValidationError`` (naming the field path) for anything else that is wrong.
    """
    return default_catalogue.parse(raw)
