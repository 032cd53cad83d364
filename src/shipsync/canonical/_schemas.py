"""JSON Schemas of the event catalogue, one per event type and schema version.

Each schema describes a whole structured-mode envelope (CloudEvents attributes and ``data``) and
is identified by its ``dataschema`` URI (``$id``), so a partner can fetch and validate what we
send without Python. Fields holding personal data carry ``"x-personal-data": true``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shipsync.canonical._events import (
    _EXTENSION_NAME_PATTERN,
    DATASCHEMA_BASE,
    EventCatalogue,
    MilestoneEvent,
    default_catalogue,
)

__all__ = ["JSON_SCHEMA_DIALECT", "event_schemas", "export_schemas", "schema_file_name"]

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
"""The JSON Schema dialect of every exported schema."""


def event_schemas(catalogue: EventCatalogue | None = None) -> dict[str, dict[str, Any]]:
    """One JSON Schema per event type of ``catalogue`` (default: the built-in one), by type.

    ``$id`` is the type's ``dataschema`` URI (``{DATASCHEMA_BASE}/{type}/{version}``); the
    schema requires ``type`` and ``schemaversion`` to be exactly that type and version.
    """
    catalogue = catalogue or default_catalogue
    schemas: dict[str, dict[str, Any]] = {}
    for event_type, cls in sorted(catalogue.types.items()):
        version = cls.current_version
        body = cls.model_json_schema(mode="validation")
        properties = body.setdefault("properties", {})
        properties["type"] = {"const": event_type, "type": "string", "title": "Type"}
        properties["schemaversion"] = {"const": version, "type": "integer", "title": "Schema"}
        if issubclass(cls, MilestoneEvent):
            # The parser checks that data.milestone matches the type; say so in the schema too.
            pinned = {"properties": {"milestone": {"const": cls.milestone.value}}}
            properties["data"] = {"allOf": [properties["data"], pinned]}
        # CloudEvents attribute names, ours and any extension's: lower-case ASCII alphanumerics.
        body["propertyNames"] = {"pattern": _EXTENSION_NAME_PATTERN}
        required = body.setdefault("required", [])
        for name in ("type", "schemaversion"):
            if name not in required:
                required.append(name)
        schemas[event_type] = {
            "$schema": JSON_SCHEMA_DIALECT,
            "$id": f"{DATASCHEMA_BASE}/{event_type}/{version}",
            **body,
        }
    return schemas


def schema_file_name(event_type: str, version: int) -> str:
    """The file name a schema is exported under: ``<type>.v<version>.schema.json``."""
    return f"{event_type}.v{version}.schema.json"


def export_schemas(directory: str | Path, catalogue: EventCatalogue | None = None) -> list[Path]:
    """Write every event type's schema into ``directory`` (created if missing); return the paths.

    Files are named ``<type>.v<version>.schema.json`` and written as sorted, indented UTF-8 JSON,
    so exporting twice gives identical bytes.
    """
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for event_type, schema in event_schemas(catalogue).items():
        version = schema["properties"]["schemaversion"]["const"]
        path = target / schema_file_name(event_type, version)
        text = json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
