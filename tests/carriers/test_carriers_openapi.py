"""The spec check of the driver conformance kit: OpenAPI documents, corrections, extracts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shipsync.carriers import CarrierRequest
from shipsync.testing.carriers import check_driver
from shipsync.testing.openapi import (
    Correction,
    OpenAPISpec,
    SpecViolation,
    check_request,
    extract,
    load_document,
)

DOCUMENT: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Parcels", "version": "1", "description": "prose to drop"},
    "paths": {
        "/parcels/{version}/book": {
            "post": {
                "operationId": "Book",
                "description": "prose",
                "parameters": [
                    {
                        "name": "version",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": ["v1", "v2"]},
                    },
                    {"$ref": "#/components/parameters/transId"},
                    {"name": "dryrun", "in": "query", "schema": {"type": "boolean"}},
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Book"}}
                    },
                },
            }
        },
        "/parcels/{version}/void/{id}": {
            "delete": {
                "parameters": [
                    {
                        "name": "version",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "maxLength": 18},
                    },
                ]
            }
        },
    },
    "components": {
        "parameters": {
            "transId": {
                "name": "transId",
                "in": "header",
                "required": True,
                "schema": {"type": "string", "maxLength": 32},
            },
        },
        "schemas": {
            "Book": {
                "type": "object",
                "required": ["Parcel"],
                "properties": {
                    "Parcel": {"type": "array", "items": {"$ref": "#/components/schemas/Parcel"}},
                    "Note": {"type": "string", "nullable": True, "example": "x"},
                },
            },
            "Parcel": {
                "type": "object",
                "required": ["Weight"],
                "description": "drop me",
                "properties": {
                    "Weight": {"type": "string", "maxLength": 5},
                    "Unit": {"type": "string", "enum": ["LBS", "KGS"]},
                },
            },
            "Unused": {"type": "object", "properties": {"X": {"type": "string"}}},
        },
    },
}


def _book(
    body: Any,
    *,
    version: str = "v1",
    headers: dict[str, str] | None = None,
    params: tuple[tuple[str, str], ...] = (),
) -> CarrierRequest:
    return CarrierRequest.json(
        "POST",
        f"/parcels/{version}/book",
        body,
        headers={"transId": "abc"} if headers is None else headers,
        params=params,
    )


GOOD = {"Parcel": [{"Weight": "1.5", "Unit": "KGS"}], "Note": None}


def test_a_conforming_request_has_no_problems() -> None:
    """A request with declared fields, right types and required headers passes."""
    spec = OpenAPISpec(DOCUMENT)
    assert spec.check(_book(GOOD, params=(("dryrun", "true"),))) == []
    spec.assert_valid(_book(GOOD))


@pytest.mark.parametrize(
    ("request_", "needle"),
    [
        pytest.param(
            _book({"Parcel": [{"Weight": "1", "Extra": 1}]}), "Extra", id="undeclared-field"
        ),
        pytest.param(_book({"Parcel": [{"Weight": 1}]}), "Parcel/0/Weight", id="wrong-type"),
        pytest.param(_book({"Parcel": [{"Weight": "1", "Unit": "LB"}]}), "Unit", id="enum"),
        pytest.param(_book({"Parcel": [{}]}), "Weight", id="missing-required"),
        pytest.param(_book({"Parcel": {"Weight": "1"}}), "Parcel", id="object-for-array"),
        pytest.param(_book(GOOD, headers={}), "transId", id="missing-header"),
        pytest.param(_book(GOOD, version="v9"), "version", id="path-enum"),
        pytest.param(_book(GOOD, params=(("debug", "1"),)), "debug", id="undeclared-query"),
        pytest.param(_book(GOOD, params=(("dryrun", "maybe"),)), "dryrun", id="query-type"),
        pytest.param(
            CarrierRequest("POST", "/parcels/v1/book", headers={"transId": "a"}),
            "body is required",
            id="missing-body",
        ),
        pytest.param(CarrierRequest("GET", "/parcels/v1/book"), "no operation", id="wrong-method"),
        pytest.param(
            CarrierRequest("DELETE", "/parcels/v1/void/" + "9" * 19), "id", id="path-length"
        ),
        pytest.param(
            CarrierRequest.form(
                "POST",
                "/parcels/v1/book",
                {"a": "b"},
            ),
            "content type",
            id="content-type",
        ),
    ],
)
def test_each_kind_of_defect_is_reported(request_: CarrierRequest, needle: str) -> None:
    """Undeclared fields, types, enums, required fields, headers, params and bodies are refused."""
    problems = OpenAPISpec(DOCUMENT).check(request_)
    assert problems
    assert any(needle in p for p in problems), problems
    with pytest.raises(SpecViolation):
        OpenAPISpec(DOCUMENT).assert_valid(request_)


def test_corrections_are_applied_and_must_hit() -> None:
    """A set correction changes the schema; a correction whose target is gone fails loudly."""
    fix = Correction.set(
        "/components/schemas/Parcel/properties/Girth", {"type": "string"}, reason="undeclared"
    )
    document = json.loads(json.dumps(DOCUMENT))
    fix.apply(document)
    body = {"Parcel": [{"Weight": "1", "Girth": "3"}]}
    assert OpenAPISpec(document).check(_book(body)) == []
    assert OpenAPISpec(DOCUMENT).check(_book(body))
    with pytest.raises(ValueError, match="does not exist"):
        Correction.remove("/components/schemas/Nope", reason="gone").apply(document)
    with pytest.raises(ValueError, match="reason"):
        Correction.set("/a", 1, reason=" ")


def test_text_corrections_make_a_broken_file_readable(tmp_path: Path) -> None:
    """A text correction runs before parsing; one that no longer occurs is an error."""
    import yaml

    text = yaml.safe_dump(DOCUMENT).replace("    maxLength: 5", "\tmaxLength: 5", 1)
    path = tmp_path / "doc.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(yaml.YAMLError):
        load_document(path)
    fix = Correction.text("\tmaxLength: 5", "    maxLength: 5", reason="stray tab")
    spec = OpenAPISpec.load(path, corrections=[fix])
    assert spec.check(_book(GOOD)) == []
    path.write_text(yaml.safe_dump(DOCUMENT), encoding="utf-8")
    with pytest.raises(ValueError, match="does not occur"):
        load_document(path, [fix])


def test_an_extract_keeps_structure_and_drops_prose(tmp_path: Path) -> None:
    """Extracts check exactly as the full document does, without descriptions or examples."""
    small = extract(
        DOCUMENT,
        operations=[("POST", "/parcels/{version}/book")],
        source={"repository": "example/parcels", "commit": "abc"},
    )
    text = json.dumps(small)
    assert "prose" not in text
    assert "drop me" not in text
    assert '"example"' not in text
    assert "Unused" not in small["components"]["schemas"]
    assert small["x-source"]["repository"] == "example/parcels"
    path = tmp_path / "parcels.json"
    path.write_text(text, encoding="utf-8")
    spec = OpenAPISpec.load(path)
    assert spec.check(_book(GOOD)) == []
    assert spec.check(_book({"Parcel": [{"Weight": "1", "Extra": 1}]}))
    assert spec.check(CarrierRequest("DELETE", "/parcels/v1/void/1"))  # not extracted


def test_check_request_picks_the_document_that_has_the_path() -> None:
    """With several documents the request is checked against the one that has its path."""
    other = OpenAPISpec({"info": {"title": "Other"}, "paths": {"/x": {"get": {}}}})
    parcels = OpenAPISpec(DOCUMENT)
    assert check_request(CarrierRequest("GET", "/x"), [parcels, other]) == []
    assert check_request(_book(GOOD), [other, parcels]) == []
    assert "no operation" in check_request(CarrierRequest("GET", "/y"), [other, parcels])[0]


def test_composed_schemas_are_closed_as_a_whole() -> None:
    """allOf parts are open, the composition is closed: fields from any part pass, others fail."""
    document = json.loads(json.dumps(DOCUMENT))
    document["components"]["schemas"]["Book"] = {
        "allOf": [
            {"type": "object", "properties": {"Parcel": {"type": "array"}}},
            {"type": "object", "properties": {"Note": {"type": "string"}}},
        ]
    }
    spec = OpenAPISpec(document)
    assert spec.check(_book({"Parcel": [], "Note": "n"})) == []
    assert spec.check(_book({"Parcel": [], "Other": "n"}))


def test_the_kit_checks_a_drivers_requests_against_a_spec() -> None:
    """check_driver with a spec reports the driver's requests the document does not know."""
    from shipsync.carriers import Capability
    from shipsync.carriers.fake import FakeDriver
    from shipsync.testing.carriers import Recording, check_spec_recording

    recording = Recording(
        Capability.VALIDATE_ADDRESS, ((200, (), b'{"valid": true, "messages": []}'),)
    )
    assert check_driver(FakeDriver(), [recording]) == []
    problems = check_driver(FakeDriver(), [recording], specs=[OpenAPISpec(DOCUMENT)])
    assert any("POST /v1/addresses/validate: no operation" in p for p in problems), problems
    known = OpenAPISpec(
        {
            "info": {"title": "Fake"},
            "paths": {
                "/v1/addresses/validate": {
                    "post": {
                        "requestBody": {
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {"address": {"type": "object"}},
                                    }
                                }
                            }
                        }
                    }
                }
            },
        }
    )
    assert check_spec_recording(FakeDriver(), recording, [known]) == []
