"""UPS's code tables, read from the JSON data files beside this module.

Each file names its source. The tables are data so a reviewer can check them against UPS's
documents without reading code, and a test walks every row.
"""

from __future__ import annotations

import json
from decimal import Decimal
from importlib import resources
from typing import Any

import attrs

from shipsync.canonical import LabelFormat, Milestone, Reason

__all__ = [
    "ADDRESS_CLASSIFICATION",
    "DOMESTIC_ONLY",
    "LABELS",
    "LIMITS",
    "SERVICES",
    "SERVICE_CODES",
    "SIGNATURE_CODES",
    "STATUS_CODES",
    "STATUS_TYPES",
    "UNSERVED_COUNTRIES",
    "LabelSpec",
    "Limits",
    "Status",
    "status_for",
]


def _load(name: str) -> dict[str, Any]:
    text = resources.files("shipsync.carriers.ups").joinpath("data", name).read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@attrs.frozen
class Status:
    """The canonical reading of one UPS status type (or type/code pair)."""

    milestone: Milestone
    reason: Reason
    meaning: str


@attrs.frozen
class LabelSpec:
    """How a canonical label format is asked of UPS."""

    code: str
    height: str
    width: str
    wrap_in_pdf: bool


@attrs.frozen
class Limits:
    """Per-package limits, by UPS unit code."""

    max_weight: dict[str, Decimal]
    max_length: dict[str, Decimal]
    max_length_plus_girth: dict[str, Decimal]
    max_packages: int


def _status(row: dict[str, str]) -> Status:
    return Status(Milestone(row["milestone"]), Reason(row["reason"]), row["meaning"])


_services = _load("services.json")
_tracking = _load("tracking.json")
_labels = _load("labels.json")
_limits = _load("limits.json")

#: UPS service code -> canonical service name (``"03"`` -> ``"ground"``).
SERVICES: dict[str, str] = {code: row["name"] for code, row in _services["services"].items()}
#: Canonical service name -> UPS service code.
SERVICE_CODES: dict[str, str] = {name: code for code, name in SERVICES.items()}
#: Service codes UPS offers only within one country.
DOMESTIC_ONLY: frozenset[str] = frozenset(_services["domestic_only"])
#: UPS activity status type -> canonical status.
STATUS_TYPES: dict[str, Status] = {k: _status(v) for k, v in _tracking["types"].items()}
#: ``"TYPE/CODE"`` -> canonical status, where a code refines its type.
STATUS_CODES: dict[str, Status] = {k: _status(v) for k, v in _tracking["codes"].items()}
LABELS: dict[LabelFormat, LabelSpec] = {
    LabelFormat(k): LabelSpec(v["code"], v["height"], v["width"], v["wrap_in_pdf"])
    for k, v in _labels["formats"].items()
}
LIMITS = Limits(
    {k: Decimal(v) for k, v in _limits["max_weight"].items()},
    {k: Decimal(v) for k, v in _limits["max_length"].items()},
    {k: Decimal(v) for k, v in _limits["max_length_plus_girth"].items()},
    int(_limits["max_packages"]),
)
UNSERVED_COUNTRIES: frozenset[str] = frozenset(_limits["unserved_countries"])
#: Canonical signature option -> UPS DeliveryConfirmation DCISType.
SIGNATURE_CODES: dict[str, str] = dict(_limits["signature"])
#: UPS AddressClassification code -> residential (``None``: UPS could not classify).
ADDRESS_CLASSIFICATION: dict[str, bool | None] = dict(_limits["address_classification"])


def status_for(status_type: str, code: str) -> Status | None:
    """The canonical status of a UPS activity, or ``None`` when UPS's type is unknown to us."""
    return STATUS_CODES.get(f"{status_type}/{code}") or STATUS_TYPES.get(status_type)
