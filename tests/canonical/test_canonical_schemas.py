"""JSON Schemas of the event catalogue: one per type, valid, identified, and matching our JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipsync.canonical import (
    DATASCHEMA_BASE,
    JSON_SCHEMA_DIALECT,
    Event,
    EventCatalogue,
    ShipmentDelivered,
    default_catalogue,
    event_schemas,
    export_schemas,
)
from shipsync.testing import strategies as sst

jsonschema = pytest.importorskip("jsonschema")

SCHEMAS = event_schemas()


def _validator(schema: dict[str, Any]) -> Any:
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


VALIDATORS = {name: _validator(schema) for name, schema in SCHEMAS.items()}


def test_there_is_one_schema_per_event_type() -> None:
    """Every catalogue type has a schema, keyed by its type name."""
    assert set(SCHEMAS) == set(default_catalogue.types)


@pytest.mark.parametrize("event_type", sorted(default_catalogue.types))
def test_each_schema_is_a_valid_2020_12_schema_identified_by_its_dataschema(
    event_type: str,
) -> None:
    """$schema is draft 2020-12, $id is the dataschema URI, type and version are pinned."""
    schema = SCHEMAS[event_type]
    jsonschema.Draft202012Validator.check_schema(schema)
    version = default_catalogue.types[event_type].current_version
    assert schema["$schema"] == JSON_SCHEMA_DIALECT
    assert schema["$id"] == f"{DATASCHEMA_BASE}/{event_type}/{version}"
    assert schema["properties"]["type"]["const"] == event_type
    assert schema["properties"]["schemaversion"]["const"] == version
    assert {"id", "source", "type", "time", "data", "schemaversion"} <= set(schema["required"])


@settings(max_examples=60)
@given(st.data())
def test_every_schema_validates_the_json_of_a_generated_event(data: st.DataObject) -> None:
    """The JSON we write for any event is valid against its type's schema (and no other's)."""
    event: Event = data.draw(sst.any_events())
    document = json.loads(event.to_json())
    VALIDATORS[event.type].validate(document)
    other = data.draw(st.sampled_from(sorted(set(SCHEMAS) - {event.type})))
    assert not VALIDATORS[other].is_valid(document)


@pytest.mark.parametrize("event_type", sorted(default_catalogue.types))
@settings(max_examples=5)
@given(data=st.data())
def test_each_type_schema_accepts_its_events(event_type: str, data: st.DataObject) -> None:
    """Each of the 22 schemas accepts generated events of its own type."""
    event = data.draw(sst.any_events(event_type))
    VALIDATORS[event_type].validate(json.loads(event.to_json()))


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda d: d.update(time="2026-11-26T10:00:00"), "time"),
        (lambda d: d["data"].update(milestone="in_transit"), "milestone"),
        (lambda d: d["data"].update(location={"country": "Germany"}), "country"),
        (lambda d: d["data"].update(surprise=True), "surprise"),
        (lambda d: d.pop("id"), "id"),
    ],
    ids=["naive-time", "milestone", "country", "extra-data-field", "missing-id"],
)
def test_schemas_reject_what_the_parser_rejects(change: Any, path: str) -> None:
    """Typical bad envelopes are invalid by the schema too."""
    document = json.loads(
        ShipmentDelivered.of(
            _delivered_tracking(), source="s", time=_delivered_tracking().occurred_at
        ).to_json()
    )
    change(document)
    errors = list(VALIDATORS["shipment.delivered"].iter_errors(document))
    assert errors
    assert any(path in json.dumps(list(e.absolute_path)) + e.message for e in errors)


def _delivered_tracking() -> Any:
    from datetime import UTC, datetime

    from shipsync.canonical import Milestone, TrackingEvent

    t = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    return TrackingEvent(
        event_id="e",
        shipment_id="S",
        tracking_number="T",
        carrier="c",
        milestone=Milestone.DELIVERED,
        occurred_at=t,
        recorded_at=t,
        carrier_code="D1",
    )


def test_schemas_keep_extension_attributes_open() -> None:
    """Unknown CloudEvents extension attributes are allowed at the envelope level only."""
    schema = SCHEMAS["shipment.delivered"]
    assert schema.get("additionalProperties", True) is not False


def _find_personal(node: Any, found: list[str], path: str = "") -> None:
    if isinstance(node, dict):
        if node.get("x-personal-data") is True:
            found.append(path)
        for key, value in node.items():
            _find_personal(value, found, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _find_personal(value, found, f"{path}/{index}")


def test_personal_data_fields_are_marked_in_the_schemas() -> None:
    """Names, street lines, phones, e-mails and the POD signer carry x-personal-data."""
    created: list[str] = []
    _find_personal(SCHEMAS["shipment.created"], created)
    joined = " ".join(created)
    for field in ("Address/properties/name", "street/items", "Contact/properties/email"):
        assert field in joined, field
    assert "phone" in joined
    pod: list[str] = []
    _find_personal(SCHEMAS["pod.captured"], pod)
    assert any("signed_by" in p for p in pod)
    freight: list[str] = []
    _find_personal(SCHEMAS["freight.invoice_received"], freight)
    assert freight == []


def test_money_amounts_are_strings_in_the_schema() -> None:
    """The schema states that amounts are decimal strings, never JSON numbers."""
    money = SCHEMAS["freight.charge_accrued"]["$defs"]["Money"]
    assert money["properties"]["amount"]["type"] == "string"


def test_export_writes_every_schema_as_a_file(tmp_path: Path) -> None:
    """export_schemas writes <type>.v<version>.schema.json for each type; reruns are identical."""
    target = tmp_path / "schemas" / "nested"
    paths = export_schemas(target)
    names = sorted(p.name for p in paths)
    assert names == sorted(f"{t}.v1.schema.json" for t in default_catalogue.types)
    assert sorted(p.name for p in target.iterdir()) == names
    for path in paths:
        schema = json.loads(path.read_text(encoding="utf-8"))
        event_type = path.name.split(".v")[0]
        assert schema == json.loads(json.dumps(SCHEMAS[event_type]))
    before = {p.name: p.read_bytes() for p in paths}
    export_schemas(target)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before


def test_export_uses_a_custom_catalogue_and_its_versions(tmp_path: Path) -> None:
    """A host catalogue's own types (and versions) are exported too."""
    from typing import ClassVar, Literal

    class Weighed(Event):
        current_version: ClassVar[int] = 2
        type: Literal["test.weighed"] = "test.weighed"
        schemaversion: Literal[2] = 2
        data: dict[str, int]

    catalogue = EventCatalogue([ShipmentDelivered, Weighed])
    paths = export_schemas(tmp_path, catalogue)
    assert sorted(p.name for p in paths) == [
        "shipment.delivered.v1.schema.json",
        "test.weighed.v2.schema.json",
    ]
    schema = json.loads((tmp_path / "test.weighed.v2.schema.json").read_text())
    assert schema["$id"] == f"{DATASCHEMA_BASE}/test.weighed/2"
