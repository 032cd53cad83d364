"""The documented corrections to the MyDHL API OpenAPI document 3.1.1.

Two kinds. *Text* corrections are applied while extracting (the raw file is not valid YAML; they
are listed in ``extract_specs.py`` and recorded in the extract's ``x-source``): TAB characters
after the ``XPD`` enum value (three times) and after one ``example: false``. *Structural*
corrections are applied here, at load, so the extract stays faithful to upstream:

- the line-item quantity unit list holds the boolean ``false`` where DHL wrote the unit code
  ``NO`` (number): an unquoted ``NO`` is a boolean in YAML 1.1. Set back to ``"NO"``.
"""

from __future__ import annotations

from pathlib import Path

from shipsync.testing.openapi import Correction, OpenAPISpec

SPEC_FILE = Path(__file__).parent / "spec" / "mydhl.json"
_QUANTITY_UNITS = (
    "/components/schemas/supermodelIoLogisticsExpressCreateShipmentRequest/properties/content"
    "/properties/exportDeclaration/properties/lineItems/items/properties/quantity/properties"
    "/unitOfMeasurement/enum/12"
)

CORRECTIONS: list[Correction] = [
    Correction.set(
        _QUANTITY_UNITS,
        "NO",
        reason="YAML 1.1 read the unit code NO (number) as the boolean false",
    ),
]


def load_spec() -> OpenAPISpec:
    """The extract with the corrections applied."""
    return OpenAPISpec.load(SPEC_FILE, corrections=CORRECTIONS, name="mydhl")
