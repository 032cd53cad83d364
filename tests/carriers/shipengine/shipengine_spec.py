"""The documented corrections to ShipEngine's OpenAPI document (openapi.yaml 1.1.202604070904).

Each correction says what is wrong upstream and why the fix is the document's evident intent;
they are applied when the extract in ``spec/shipengine.json`` is loaded, so the extract itself
stays faithful to upstream. A correction whose target disappears upstream fails loudly.
"""

from __future__ import annotations

import json
from pathlib import Path

from shipsync.testing.openapi import Correction, OpenAPISpec

SPEC_FILE = Path(__file__).parent / "spec" / "shipengine.json"
S = "/components/schemas"


def _composition_fixes() -> list[Correction]:
    """ShipEngine composes objects from parts with ``allOf``/``oneOf`` and closes *both* the whole
    and each part with ``additionalProperties: false``. In JSON Schema a closed part forbids the
    other parts' properties, so no body can satisfy a composed object (every address, every
    shipment, every rate request). The intent is "the whole is closed": each part that is a
    member of a multi-member ``allOf``/``oneOf`` (or of one beside its own ``properties``) is
    opened, and each composing schema's misplaced ``additionalProperties: false`` removed; the
    kit's strict mode then closes every composition with ``unevaluatedProperties: false``, so an
    undeclared property is still refused.
    """
    document = json.loads(SPEC_FILE.read_text())
    schemas = document["components"]["schemas"]
    parts: set[str] = set()

    def visit(node: object) -> None:
        if isinstance(node, dict):
            members = [*node.get("allOf", ()), *node.get("oneOf", ())]
            if len(members) > 1 or (members and "properties" in node):
                for member in members:
                    if isinstance(member, dict) and "$ref" in member:
                        parts.add(member["$ref"].rsplit("/", 1)[-1])
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(document)
    fixes = []
    for name in sorted(schemas):
        schema = schemas[name]
        if name in parts and "properties" in schema:
            fixes.append(
                Correction.set(
                    f"{S}/{name}/additionalProperties",
                    True,
                    reason="a closed part of an allOf forbids its sibling parts' properties",
                )
            )
        elif schema.get("additionalProperties") is False and (
            "allOf" in schema or "oneOf" in schema
        ):
            fixes.append(
                Correction.remove(
                    f"{S}/{name}/additionalProperties",
                    reason="additionalProperties:false beside allOf forbids the composed ones",
                )
            )
    return fixes


CORRECTIONS: list[Correction] = [
    *_composition_fixes(),
    # POST /v1/rates: "required: [shipment_id, shipment]" beside "oneOf: [{shipment_id},
    # {shipment}]" whose branches require nothing, so both branches match every body and the
    # oneOf fails. Intent: exactly one of the two.
    Correction.remove(
        f"{S}/calculate_rates_request_body/required",
        reason="requires both alternatives of its own oneOf",
    ),
    Correction.set(
        f"{S}/shipment_id_request/required",
        ["shipment_id"],
        reason="oneOf branch must require its alternative to be distinguishable",
    ),
    Correction.set(
        f"{S}/rate_shipment_request/required",
        ["shipment"],
        reason="oneOf branch must require its alternative to be distinguishable",
    ),
    # POST /v1/batches: a oneOf of "create" and "create and process" bodies, neither requiring
    # anything, so a body of rate ids matches both and the oneOf fails. Intent: processing
    # labels at creation is what tells the second apart.
    Correction.set(
        f"{S}/create_and_process_batch_request_body/required",
        ["process_labels"],
        reason="oneOf branches must be distinguishable: process_labels marks this one",
    ),
    # A shipment rated before it exists has no shipment_id yet, and the carriers are chosen by
    # rate_options.carrier_ids, not carrier_id/service_code.
    Correction.set(
        f"{S}/address_validating_shipment/required",
        ["ship_to", "ship_from"],
        reason="a new shipment has no shipment_id; carriers come from rate_options",
    ),
    # customs_item requires its readOnly customs_item_id; OpenAPI 3.0 says a required readOnly
    # property applies to responses only, which a plain JSON Schema validator cannot know.
    Correction.remove(
        f"{S}/customs_item/required",
        reason="its only required property is readOnly (server-assigned)",
    ),
    # state_province is required on every address although most countries have no state
    # (ShipEngine's own address guides send none outside the US, CA and AU).
    Correction.set(
        f"{S}/address/required",
        ["name", "address_line1", "city_locality", "postal_code"],
        reason="state_province cannot be required for countries without states",
    ),
    Correction.set(
        f"{S}/address_to_validate/required",
        ["address_line1", "city_locality", "country_code"],
        reason="state_province cannot be required for countries without states",
    ),
]


def load_spec() -> OpenAPISpec:
    """The extract with the corrections applied."""
    return OpenAPISpec.load(SPEC_FILE, corrections=CORRECTIONS, name="shipengine")


def upstream_version() -> str:
    """The upstream version recorded in the extract."""
    return str(json.loads(SPEC_FILE.read_text())["x-source"]["version"])
