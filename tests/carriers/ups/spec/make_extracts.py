"""Regenerate the UPS schema extracts from a checkout of ``UPS-API/api-documentation``.

    python tests/carriers/ups/spec/make_extracts.py /path/to/api-documentation

Each extract keeps names, types, enumerations, lengths and required lists of the operations the
driver calls (no descriptions, no examples) and notes its source commit under ``x-source``.
Structural corrections are not applied here: the tests apply them at load (see
``tests/carriers/ups/spec_corrections.py``), so an extract stays faithful to the upstream file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from shipsync.testing.openapi import Correction, extract, load_document

REPOSITORY = "UPS-API/api-documentation"
#: (upstream file, extract name, operations the driver calls)
APIS = [
    ("OAuthClientCredentials.yaml", "oauth", [("POST", "/security/v1/oauth/token")]),
    (
        "AddressValidation.yaml",
        "address_validation",
        [("POST", "/addressvalidation/{version}/{requestoption}")],
    ),
    ("Rating.yaml", "rating", [("POST", "/rating/{version}/{requestoption}")]),
    (
        "Shipping.yaml",
        "shipping",
        [
            ("POST", "/shipments/{version}/ship"),
            ("DELETE", "/shipments/{version}/void/cancel/{shipmentidentificationnumber}"),
        ],
    ),
    (
        "Pickup.yaml",
        "pickup",
        [
            ("POST", "/pickupcreation/{version}/pickup"),
            ("DELETE", "/shipments/{version}/pickup/{CancelBy}"),
        ],
    ),
    ("Tracking.yaml", "tracking", [("GET", "/track/v1/details/{inquiryNumber}")]),
    ("UPSTrackAlert.yaml", "track_alert", [("POST", "/subscription/{type}/package")]),
]
#: Defects that make an upstream file unreadable, fixed before parsing.
TEXT_CORRECTIONS = {
    "Shipping.yaml": [
        Correction.text("\t", "    ", reason="stray TABs make the file invalid YAML")
    ],
    "Tracking.yaml": [
        Correction.text("\t", "    ", reason="a stray TAB makes the file invalid YAML")
    ],
}


def main(checkout: Path) -> None:
    commit = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    here = Path(__file__).parent
    for file, name, operations in APIS:
        fixes = TEXT_CORRECTIONS.get(file, [])
        document = load_document(checkout / file, fixes)
        source = {
            "repository": REPOSITORY,
            "path": file,
            "commit": commit,
            "license": "MIT",
            "text_corrections": [f.reason for f in fixes],
        }
        data = extract(document, operations=operations, source=source)
        (here / f"{name}.json").write_text(
            json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8"
        )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
