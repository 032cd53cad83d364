"""The CloudEvents envelope and the catalogue: round trips, dispatch, versions, extensions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipsync.canonical import (
    DATASCHEMA_BASE,
    MILESTONE_EVENT_TYPES,
    CanonicalModel,
    Event,
    EventCatalogue,
    Milestone,
    MilestoneEvent,
    ShipmentDelivered,
    ShipmentInTransit,
    TrackingEvent,
    Weight,
    default_catalogue,
    event_for_tracking,
    parse_event,
)
from shipsync.errors import (
    CanonicalValidationError,
    InvalidInputError,
    UnknownEventTypeError,
    UnsupportedSchemaVersionError,
)
from shipsync.testing import strategies as sst

T = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)

ISSUE_TYPES = {
    "shipment.created",
    "shipment.label_created",
    "shipment.picked_up",
    "shipment.in_transit",
    "shipment.out_for_delivery",
    "shipment.delivery_attempted",
    "shipment.available_for_pickup",
    "shipment.exception",
    "shipment.delivered",
    "shipment.returning_to_sender",
    "shipment.returned",
    "shipment.cancelled",
    "shipment.lost",
    "pod.captured",
    "freight.rate_quoted",
    "freight.charge_accrued",
    "freight.invoice_received",
    "freight.invoice_matched",
    "freight.discrepancy_found",
    "settlement.completed",
    "claim.opened",
    "claim.settled",
}
ADDED_TYPES = {
    "shipment.delay_predicted",  # insight
    "shipment.exception_predicted",  # insight
    "manifest.created",  # the end-of-day close of the manifest capability
    "sla.breached",  # monitor: a service level breached
    "batch.completed",  # an aggregator's label batch is done (ShipEngine's batch webhook)
}
"""Types added after the first catalogue, by the issue that needed them."""
ERP_TYPES = {"order.confirmed", "picking.ready", "picking.cancelled", "return.initiated"}
"""What the ERP publishes (issue 21)."""


def _tracking(milestone: Milestone = Milestone.DELIVERED) -> TrackingEvent:
    return TrackingEvent(
        event_id="evt-1",
        shipment_id="SHP-1",
        tracking_number="1Z1",
        carrier="fake",
        milestone=milestone,
        occurred_at=T,
        recorded_at=T,
        carrier_code="D1",
    )


def _delivered_json(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(event_for_tracking(_tracking(), source="test").to_json())
    raw.update(changes)
    return raw


# --- round trips and dispatch ------------------------------------------------------------------


def test_the_catalogue_holds_every_type_of_the_issue() -> None:
    """The catalogue: the first 22 types, those added since and the ERP's, each its own class."""
    assert set(default_catalogue.types) == ISSUE_TYPES | ADDED_TYPES | ERP_TYPES
    assert len(set(default_catalogue.types.values())) == len(ISSUE_TYPES | ADDED_TYPES | ERP_TYPES)
    for name, cls in default_catalogue.types.items():
        assert cls.event_type() == name


@pytest.mark.parametrize("event_type", sorted(ISSUE_TYPES | ERP_TYPES))
@settings(max_examples=10)  # 22 types; the mixed round trip below explores further
@given(data=st.data())
def test_every_type_parses_into_its_own_class(event_type: str, data: st.DataObject) -> None:
    """Bytes of each type come back as an instance of that type's class, equal to the original."""
    event = data.draw(sst.any_events(event_type))
    parsed = parse_event(event.to_json())
    assert type(parsed) is default_catalogue.types[event_type]
    assert parsed == event
    assert parsed.to_json() == event.to_json()


@settings(max_examples=100)
@given(sst.any_events())
def test_envelope_round_trip_from_bytes_str_and_dict(event: Event) -> None:
    """parse(to_json(e)) == e, whether given bytes, str, or a decoded dict."""
    raw = event.to_json()
    assert parse_event(raw) == event
    assert parse_event(raw.decode()) == event
    assert default_catalogue.parse_obj(json.loads(raw)) == event


@settings(max_examples=100)
@given(sst.any_events())
def test_to_json_is_pydantics_json_without_nones(event: Event) -> None:
    """``to_json`` takes the model's serializer directly; it must give what pydantic's public
    ``model_dump_json(exclude_none=True)`` gives, byte for byte, for every type."""
    assert event.to_json() == event.model_dump_json(exclude_none=True).encode()


@settings(max_examples=50)
@given(sst.any_events())
def test_envelope_has_the_cloudevents_attributes(event: Event) -> None:
    """Structured mode: specversion 1.0, JSON data, dataschema URI and the three extensions."""
    raw = json.loads(event.to_json())
    assert raw["specversion"] == "1.0"
    assert raw["datacontenttype"] == "application/json"
    assert raw["dataschema"] == f"{DATASCHEMA_BASE}/{raw['type']}/{raw['schemaversion']}"
    assert raw["time"].endswith("Z")
    assert isinstance(raw["schemaversion"], int)
    assert raw["partitionkey"]
    assert {"id", "source", "type", "time", "data"} <= set(raw)


def test_partition_key_defaults_to_the_shipment_id_then_the_id() -> None:
    """Without a partition key the subject (shipment id) is used, else the event id."""
    raw = _delivered_json()
    del raw["partitionkey"]
    assert parse_event(json.dumps(raw)).partitionkey == "SHP-1"
    raw["partitionkey"] = None
    assert parse_event(json.dumps(raw)).partitionkey == "SHP-1"
    del raw["subject"]
    assert parse_event(json.dumps(raw)).partitionkey == raw["id"]
    raw["partitionkey"] = "orders-7"
    assert parse_event(json.dumps(raw)).partitionkey == "orders-7"
    assert event_for_tracking(_tracking(), source="s").partitionkey == "SHP-1"


def test_ids_are_stable_for_the_same_fact() -> None:
    """The same tracking event always yields the same envelope id; another one another id."""
    first = event_for_tracking(_tracking(), source="s")
    assert event_for_tracking(_tracking(), source="s").id == first.id
    other = _tracking().model_copy(update={"event_id": "evt-2"})
    assert event_for_tracking(other, source="s").id != first.id


def test_milestone_events_map_one_to_one() -> None:
    """Every milestone but ``unknown`` has its event class; ``unknown`` is never published."""
    assert set(MILESTONE_EVENT_TYPES) == set(Milestone) - {Milestone.UNKNOWN}
    for milestone, cls in MILESTONE_EVENT_TYPES.items():
        assert cls.event_type() == f"shipment.{milestone.value}"
    with pytest.raises(CanonicalValidationError):
        event_for_tracking(_tracking(Milestone.UNKNOWN), source="s")


def test_type_and_milestone_must_agree() -> None:
    """A shipment.delivered envelope around an in-transit event is refused, at data.milestone."""
    raw = _delivered_json()
    raw["data"]["milestone"] = "in_transit"
    with pytest.raises(CanonicalValidationError) as info:
        parse_event(json.dumps(raw))
    assert info.value.path == "data.milestone"
    with pytest.raises(CanonicalValidationError):
        ShipmentDelivered.of(_tracking(Milestone.IN_TRANSIT), source="s", time=T)


# --- bad input ---------------------------------------------------------------------------------


def test_unknown_type_is_a_typed_error() -> None:
    """A type outside the catalogue raises UnknownEventTypeError naming it."""
    with pytest.raises(UnknownEventTypeError) as info:
        parse_event(json.dumps(_delivered_json(type="shipment.teleported")))
    assert info.value.event_type == "shipment.teleported"
    assert isinstance(info.value, InvalidInputError)


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        (b"not json", ""),
        (b"[1, 2]", ""),
        (b"\xff\xfe", ""),
        (json.dumps({"id": "x"}).encode(), "type"),
        (json.dumps(_delivered_json(type=7)).encode(), "type"),
    ],
    ids=["junk", "array", "not-utf8", "no-type", "type-not-string"],
)
def test_malformed_envelopes_are_typed_errors(raw: bytes, path: str) -> None:
    """Invalid JSON, non-objects and a missing type are CanonicalValidationErrors."""
    with pytest.raises(CanonicalValidationError) as info:
        parse_event(raw)
    assert info.value.path == path


@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        ("time", "2026-11-26T10:00:00", "time"),
        ("specversion", "0.3", "specversion"),
        ("id", "", "id"),
        ("source", "x" * 501, "source"),
        ("datacontenttype", "text/xml", "datacontenttype"),
    ],
)
def test_bad_envelope_attributes_name_their_path(field: str, value: Any, path: str) -> None:
    """Each bad attribute is reported at its own path, without the union tag in front."""
    with pytest.raises(CanonicalValidationError) as info:
        parse_event(json.dumps(_delivered_json(**{field: value})))
    assert info.value.path == path


def test_missing_data_fields_are_reported_under_data() -> None:
    """A missing field inside data is named ``data.<field>``, even for dotted type names."""
    raw = _delivered_json()
    del raw["data"]["tracking_number"]
    with pytest.raises(CanonicalValidationError) as info:
        parse_event(json.dumps(raw))
    assert info.value.path == "data.tracking_number"


# --- extensions --------------------------------------------------------------------------------


@settings(max_examples=40)
@given(
    st.dictionaries(
        st.from_regex(r"\A[a-z][a-z0-9]{0,19}\Z").filter(
            lambda k: k not in ShipmentDelivered.model_fields
        ),
        st.text(max_size=20) | st.integers(-5, 5) | st.booleans(),
        max_size=4,
    )
)
def test_unknown_extension_attributes_are_kept(extensions: dict[str, Any]) -> None:
    """CloudEvents extensions we do not know survive parse and re-serialisation."""
    raw = _delivered_json(**extensions)
    event = parse_event(json.dumps(raw))
    assert (event.model_extra or {}) == extensions
    assert json.loads(event.to_json()) == raw


# --- versions and upcasters --------------------------------------------------------------------


class Weighing(CanonicalModel):
    """Data of the test-only ``test.parcel_weighed`` event, version 2 (and 3)."""

    tracking_number: str
    weight: Weight


class ParcelWeighed(Event):
    """A test-only event type whose current schema version is 2."""

    current_version: ClassVar[int] = 2
    type: Literal["test.parcel_weighed"] = "test.parcel_weighed"
    schemaversion: Literal[2] = 2
    data: Weighing


class ParcelWeighedV3(Event):
    """The same event type at version 3: the weight is mandatory and a scale id is added."""

    current_version: ClassVar[int] = 3
    type: Literal["test.parcel_weighed"] = "test.parcel_weighed"
    schemaversion: Literal[3] = 3
    data: dict[str, Any]


def _v1_to_v2(envelope: dict[str, Any]) -> dict[str, Any]:
    """Version 1 carried ``grams`` as a string; version 2 carries a Weight."""
    data = dict(envelope["data"])
    data["weight"] = {"value": data.pop("grams"), "unit": "g"}
    return envelope | {"data": data}


def _v2_to_v3(envelope: dict[str, Any]) -> dict[str, Any]:
    return envelope | {"data": envelope["data"] | {"scale": "unknown"}}


def _v1_envelope(version: int = 1) -> bytes:
    return json.dumps(
        {
            "specversion": "1.0",
            "id": "w-1",
            "source": "scale/7",
            "type": "test.parcel_weighed",
            "time": "2026-11-26T10:00:00+01:00",
            "schemaversion": version,
            "dataschema": f"{DATASCHEMA_BASE}/test.parcel_weighed/{version}",
            "data": {"tracking_number": "1Z1", "grams": "1200"},
        }
    ).encode()


def _catalogue(*event_types: type[Event]) -> EventCatalogue:
    return EventCatalogue((ShipmentInTransit, ShipmentDelivered, *event_types))


def test_registered_upcaster_reads_an_older_version_as_the_current_one() -> None:
    """A v1 envelope is upcast to v2, typed, and re-labelled with the v2 dataschema."""
    catalogue = _catalogue(ParcelWeighed)
    catalogue.register_upcaster("test.parcel_weighed", 1, _v1_to_v2)
    event = catalogue.parse(_v1_envelope())
    assert isinstance(event, ParcelWeighed)
    assert event.schemaversion == 2
    assert event.dataschema == f"{DATASCHEMA_BASE}/test.parcel_weighed/2"
    assert event.data.weight == Weight.of("1.2", "kg")
    assert event.time == datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    assert catalogue.parse(event.to_json()) == event
    assert catalogue.parse_obj(json.loads(_v1_envelope())) == event


def test_upcasters_chain_one_version_at_a_time() -> None:
    """v1 reaches v3 through v1->v2 and v2->v3."""
    catalogue = _catalogue(ParcelWeighedV3)
    catalogue.register_upcaster("test.parcel_weighed", 1, _v1_to_v2)
    catalogue.register_upcaster("test.parcel_weighed", 2, _v2_to_v3)
    event = catalogue.parse(_v1_envelope())
    assert event.schemaversion == 3
    assert event.data == {
        "tracking_number": "1Z1",
        "weight": {"value": "1200", "unit": "g"},
        "scale": "unknown",
    }


def test_versions_without_an_upcaster_path_are_typed_errors() -> None:
    """No upcaster, a future version, version 0 or a non-integer: UnsupportedSchemaVersionError."""
    catalogue = _catalogue(ParcelWeighed)
    with pytest.raises(UnsupportedSchemaVersionError) as info:
        catalogue.parse(_v1_envelope())
    assert (info.value.event_type, info.value.version) == ("test.parcel_weighed", 1)
    catalogue.register_upcaster("test.parcel_weighed", 1, _v1_to_v2)
    for version in (3, 0):
        with pytest.raises(UnsupportedSchemaVersionError):
            catalogue.parse(_v1_envelope(version))
    with pytest.raises(UnsupportedSchemaVersionError):
        catalogue.parse(_v1_envelope().replace(b'"schemaversion": 1', b'"schemaversion": "x"'))


def test_a_current_version_envelope_that_is_invalid_is_not_upcast() -> None:
    """Bad data at the current version is a validation error, not a version error."""
    catalogue = _catalogue(ParcelWeighed)
    catalogue.register_upcaster("test.parcel_weighed", 1, _v1_to_v2)
    raw = json.loads(_v1_envelope(2))
    with pytest.raises(CanonicalValidationError) as info:
        catalogue.parse(json.dumps(raw))
    assert info.value.path.startswith("data.")


def test_catalogue_registration_rules() -> None:
    """A type name can be registered once; the built-ins are unaffected by local catalogues."""
    catalogue = _catalogue()
    assert catalogue.register(ParcelWeighed) is ParcelWeighed
    catalogue.register(ParcelWeighed)  # the same class again is fine
    with pytest.raises(CanonicalValidationError):
        catalogue.register(ParcelWeighedV3)
    assert "test.parcel_weighed" not in default_catalogue.types
    with pytest.raises(UnknownEventTypeError):
        parse_event(_v1_envelope(2))


def test_a_single_type_catalogue_parses_and_refuses_others() -> None:
    """A catalogue of one class still parses it and refuses any other type."""
    catalogue = EventCatalogue([ShipmentDelivered])
    event = catalogue.parse(json.dumps(_delivered_json()))
    assert isinstance(event, ShipmentDelivered)
    with pytest.raises(UnknownEventTypeError):
        catalogue.parse(json.dumps(_delivered_json(type="shipment.in_transit")))


def test_prepare_builds_the_validator_before_the_first_parse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After prepare() a parse builds nothing, without it the parse builds; register resets it."""
    from shipsync.canonical import _events

    prepared, unprepared = _catalogue(), _catalogue()
    prepared.prepare()
    built: list[object] = []
    real = _events.TypeAdapter

    def counting(*args: Any, **kwargs: Any) -> Any:
        built.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(_events, "TypeAdapter", counting)
    raw = json.dumps(_delivered_json())
    assert isinstance(prepared.parse(raw), ShipmentDelivered)
    assert built == []
    assert isinstance(unprepared.parse(raw), ShipmentDelivered)
    assert len(built) == 1
    # a type registered after prepare() is built in on the next call, and parses
    prepared.register(ParcelWeighed)
    prepared.register_upcaster("test.parcel_weighed", 1, _v1_to_v2)
    prepared.prepare()
    assert len(built) == 2
    assert isinstance(prepared.parse(_v1_envelope()), ParcelWeighed)
    assert len(built) == 2


def test_milestone_event_base_is_not_in_the_catalogue() -> None:
    """The abstract MilestoneEvent is a base, not a type one can receive."""
    assert MilestoneEvent not in default_catalogue.types.values()
    assert Event not in default_catalogue.types.values()
