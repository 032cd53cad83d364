"""The public surface of ``shipsync.canonical`` (pinned) and of ``shipsync.errors``."""

from __future__ import annotations

import importlib

import pytest

import shipsync.canonical
import shipsync.errors

CANONICAL_ALL = [
    "COUNTRY_CODES",
    "CURRENCY_EXPONENTS",
    "DATASCHEMA_BASE",
    "FINAL_MILESTONES",
    "JSON_SCHEMA_DIALECT",
    "MILESTONE_EVENT_TYPES",
    "REDACTED",
    "SORT_RANK",
    "TRANSITIONS",
    "Accrual",
    "AccrualKind",
    "Address",
    "Anomaly",
    "AnomalyReason",
    "AnyEvent",
    "BatchCompleted",
    "CancelledPicking",
    "CanonicalModel",
    "ChargeType",
    "Claim",
    "ClaimOpened",
    "ClaimSettled",
    "ClaimStatus",
    "Commodity",
    "ConfirmedOrder",
    "Contact",
    "CountryCode",
    "CurrencyCode",
    "Customs",
    "CustomsDocument",
    "CustomsDocumentKind",
    "DeliveryDocument",
    "Dimensions",
    "Discrepancy",
    "DiscrepancyKind",
    "ErpReference",
    "Event",
    "EventCatalogue",
    "ExactDecimal",
    "FreightCharge",
    "FreightChargeAccrued",
    "FreightDiscrepancyFound",
    "FreightInvoice",
    "FreightInvoiceLine",
    "FreightInvoiceMatched",
    "FreightInvoiceReceived",
    "FreightRateQuoted",
    "HsCode",
    "Incoterm",
    "InitiatedReturn",
    "InvoiceMatch",
    "Label",
    "LabelBatch",
    "LabelFormat",
    "LengthUnit",
    "LineClass",
    "Location",
    "Manifest",
    "ManifestCreated",
    "ManifestDocument",
    "ManifestFormat",
    "Milestone",
    "MilestoneEvent",
    "Money",
    "OrderConfirmed",
    "Package",
    "PackageState",
    "Parcel",
    "PersonalData",
    "PickingCancelled",
    "PickingReady",
    "Pickup",
    "PodCaptured",
    "ProofOfDelivery",
    "Rate",
    "RateQuote",
    "ReadyPicking",
    "Reason",
    "ReturnInitiated",
    "ReturnShipment",
    "RiskAssessment",
    "RiskKind",
    "RiskLevel",
    "Settlement",
    "SettlementCompleted",
    "Shipment",
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
    "ShipmentOptions",
    "ShipmentOutForDelivery",
    "ShipmentPickedUp",
    "ShipmentReturned",
    "ShipmentReturningToSender",
    "ShipmentSlaBreached",
    "ShipmentState",
    "ShipmentStatus",
    "SignatureOption",
    "SlaBreach",
    "SlaKind",
    "TrackingEvent",
    "Upcaster",
    "UtcDatetime",
    "Weight",
    "WeightUnit",
    "can_transition",
    "default_catalogue",
    "event_for_tracking",
    "event_schemas",
    "export_schemas",
    "fold",
    "fold_package",
    "parse_event",
    "sort_key",
]

CANONICAL_ERRORS = [
    "CanonicalValidationError",
    "CurrencyMismatchError",
    "InvalidInputError",
    "ShipsyncError",
    "UnknownEventTypeError",
    "UnsupportedSchemaVersionError",
]


def _isort_key(name: str) -> tuple[int, str]:
    """Ruff's RUF022 order: CONSTANTS, then Classes, then functions and the rest."""
    if name.isupper():
        return (0, name)
    return (1, name) if name[0].isupper() else (2, name)


def test_canonical_all_is_pinned() -> None:
    """Adding or removing a public name is a deliberate change to this list."""
    assert shipsync.canonical.__all__ == CANONICAL_ALL


@pytest.mark.parametrize("module", [shipsync.canonical, shipsync.errors], ids=lambda m: m.__name__)
def test_all_is_sorted_unique_and_importable(module: object) -> None:
    """__all__ is in RUF022 order, has no duplicates, and every name resolves."""
    names: list[str] = module.__all__  # type: ignore[attr-defined]
    assert names == sorted(names, key=_isort_key)
    assert len(set(names)) == len(names)
    fresh = importlib.import_module(module.__name__)  # type: ignore[attr-defined]
    for name in names:
        assert getattr(fresh, name) is not None


def test_errors_all_holds_every_exception_class_and_the_canonical_ones() -> None:
    """errors.__all__ lists its exception classes, including those the canonical model raises."""
    names = shipsync.errors.__all__
    assert set(CANONICAL_ERRORS) <= set(names)
    for name in names:
        value = getattr(shipsync.errors, name)
        assert isinstance(value, type)
        assert issubclass(value, shipsync.errors.ShipsyncError)


def test_private_modules_are_not_exported() -> None:
    """Only public names leave the package; implementation modules stay private."""
    assert not [name for name in shipsync.canonical.__all__ if name.startswith("_")]
