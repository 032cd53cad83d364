"""Regenerate the schema extracts the ShipEngine and DHL Express driver tests check against.

Run by hand (``python tests/carriers/extract_specs.py SE_YAML DHL_YAML``) with the upstream
documents fetched from their repositories; it writes ``shipengine/spec/shipengine.json`` and
``dhl_express/spec/mydhl.json`` beside this file. The extracts keep names, types, enums, required
lists and bounds (no descriptions, no examples); ``x-source`` records where they came from.
Not a test: pytest does not collect it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from shipsync.testing.openapi import Correction, extract, load_document

HERE = Path(__file__).parent

SHIPENGINE_OPERATIONS = [
    ("POST", "/v1/addresses/validate"),
    ("GET", "/v1/carriers"),
    ("POST", "/v1/rates"),
    ("POST", "/v1/labels"),
    ("POST", "/v1/labels/rates/{rate_id}"),
    ("PUT", "/v1/labels/{label_id}/void"),
    ("POST", "/v1/labels/{label_id}/return"),
    ("GET", "/v1/labels/{label_id}/track"),
    ("GET", "/v1/tracking"),
    ("POST", "/v1/pickups"),
    ("DELETE", "/v1/pickups/{pickup_id}"),
    ("POST", "/v1/manifests"),
    ("POST", "/v1/batches"),
    ("POST", "/v1/batches/{batch_id}/process/labels"),
    # Not called by the driver: kept for its webhook_event enum, which the webhook tests read.
    ("POST", "/v1/environment/webhooks"),
]
DHL_OPERATIONS = [
    ("POST", "/rates"),
    ("POST", "/landed-cost"),
    ("POST", "/shipments"),
    ("GET", "/shipments/{shipmentTrackingNumber}/tracking"),
    ("GET", "/shipments/{shipmentTrackingNumber}/proof-of-delivery"),
    ("POST", "/pickups"),
    ("PATCH", "/pickups/{dispatchConfirmationNumber}"),
    ("DELETE", "/pickups/{dispatchConfirmationNumber}"),
    ("GET", "/address-validate"),
]


#: The MyDHL document holds TAB characters where YAML forbids them (after two enum values and
#: one example): removed before parsing, nothing else is touched.
DHL_TEXT_CORRECTIONS = [
    Correction.text("XPD\t", "XPD", reason="a TAB after an enum value is invalid YAML"),
    Correction.text(
        "example: false\t", "example: false", reason="a TAB after an example is invalid YAML"
    ),
]


def main(shipengine_yaml: str, mydhl_yaml: str) -> None:
    """Write both extracts."""
    se = extract(
        load_document(shipengine_yaml),
        operations=SHIPENGINE_OPERATIONS,
        source={
            "repository": "ShipEngine/shipengine-openapi",
            "path": "openapi.yaml",
            "commit": "f77943e5bfd154adde33780c25e5b0f22a319fbf",
            "version": "1.1.202604070904",
            "license": "MIT",
        },
    )
    dhl = extract(
        load_document(mydhl_yaml, DHL_TEXT_CORRECTIONS),
        operations=DHL_OPERATIONS,
        source={
            "repository": "karrioapi/karrio (vendored copy of DHL's published document)",
            "path": "modules/connectors/mydhl/vendors/dpdhl-express-api-3.1.1_swagger.yaml",
            "commit": "deea10f8568b2d48c71bbcc11ec11c62cdaf2a6a",
            "version": "3.1.1",
            "text_corrections": [c.reason for c in DHL_TEXT_CORRECTIONS],
        },
    )
    targets = ((se, "shipengine/spec/shipengine.json"), (dhl, "dhl_express/spec/mydhl.json"))
    for data, target in targets:
        (HERE / target).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
