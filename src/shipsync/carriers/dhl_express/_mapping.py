"""DHL Express code tables, as data.

Tracking event codes: DHL's published event code list for Express (the ``express`` rows of the
status list vendored in ``karrioapi/karrio`` under ``modules/connectors/mydhl/vendors/``: facts
only). Product codes, package type codes, price breakdown and service codes: the MyDHL API
OpenAPI document 3.1.1. A code in no table maps to ``Milestone.UNKNOWN``, never a guess.
"""

from __future__ import annotations

from typing import Final

from shipsync.canonical import ChargeType, CustomsDocumentKind, Milestone, Reason

__all__ = [
    "CHARGE_SERVICE_CODES",
    "DOCUMENT_TYPES",
    "EVENT_CODES",
    "PAPERLESS_TRADE_SERVICE",
    "PRODUCTS",
]

M, R = Milestone, Reason

#: Express checkpoint codes (``events[].typeCode``).
EVENT_CODES: Final[dict[str, tuple[Milestone, Reason]]] = {
    "SA": (M.LABEL_CREATED, R.NORMAL),  # shipment acceptance (data received)
    "PU": (M.PICKED_UP, R.NORMAL),
    "AF": (M.IN_TRANSIT, R.NORMAL),
    "DF": (M.IN_TRANSIT, R.NORMAL),
    "PL": (M.IN_TRANSIT, R.NORMAL),
    "AR": (M.IN_TRANSIT, R.NORMAL),
    "TR": (M.IN_TRANSIT, R.NORMAL),
    "SM": (M.IN_TRANSIT, R.NORMAL),
    "FD": (M.IN_TRANSIT, R.NORMAL),
    "RR": (M.IN_TRANSIT, R.NORMAL),  # customs status updated
    "IC": (M.IN_TRANSIT, R.NORMAL),  # in clearance processing
    "CR": (M.IN_TRANSIT, R.NORMAL),  # clearance release
    "BR": (M.IN_TRANSIT, R.NORMAL),  # broker release
    "BN": (M.IN_TRANSIT, R.NORMAL),  # customer broker notified
    "SC": (M.IN_TRANSIT, R.NORMAL),  # service changed
    "AD": (M.IN_TRANSIT, R.CUSTOMER_REQUESTED_FUTURE_DELIVERY),  # agreed delivery
    "WC": (M.OUT_FOR_DELIVERY, R.NORMAL),  # with delivering courier
    "OK": (M.DELIVERED, R.NORMAL),
    "DD": (M.DELIVERED, R.DAMAGED),
    "PD": (M.DELIVERED, R.OTHER),  # partial delivery
    "NH": (M.DELIVERY_ATTEMPTED, R.RECIPIENT_ABSENT),
    "CA": (M.DELIVERY_ATTEMPTED, R.HOLIDAY_OR_CLOSED),
    "MD": (M.DELIVERY_ATTEMPTED, R.MISSED_DELIVERY),
    "CC": (M.AVAILABLE_FOR_PICKUP, R.AWAITING_PICKUP),
    "BA": (M.EXCEPTION, R.ADDRESS_ISSUE),
    "CM": (M.EXCEPTION, R.ADDRESS_ISSUE),
    "CD": (M.EXCEPTION, R.CUSTOMS_HOLD),
    "UD": (M.EXCEPTION, R.CUSTOMS_HOLD),
    "HP": (M.EXCEPTION, R.HELD_FOR_PAYMENT),
    "PY": (M.IN_TRANSIT, R.NORMAL),  # payment received
    "OH": (M.EXCEPTION, R.HELD_AT_REQUEST),
    "SS": (M.EXCEPTION, R.HELD_AT_REQUEST),  # shipment stopped
    "MC": (M.EXCEPTION, R.MIS_SORT),
    "MS": (M.EXCEPTION, R.MIS_SORT),
    "ND": (M.EXCEPTION, R.OTHER),
    "RD": (M.EXCEPTION, R.REFUSED),
    "TP": (M.IN_TRANSIT, R.CARRIER_RELATED),  # forwarded to a third party
    "RT": (M.RETURNED, R.OTHER),
    "DS": (M.LOST, R.OTHER),  # destroyed / disposal
    "CS": (M.EXCEPTION, R.OTHER),  # closed shipment
}

#: ``productCode`` to a readable service name (the canonical ``service`` is the product code).
PRODUCTS: Final[dict[str, str]] = {
    "P": "EXPRESS WORLDWIDE",
    "D": "EXPRESS WORLDWIDE (documents)",
    "U": "EXPRESS WORLDWIDE (EU)",
    "K": "EXPRESS 9:00",
    "E": "EXPRESS 9:00 (non-documents)",
    "T": "EXPRESS 12:00",
    "Y": "EXPRESS 12:00 (non-documents)",
    "N": "DOMESTIC EXPRESS",
    "W": "ECONOMY SELECT",
    "H": "ECONOMY SELECT (non-documents)",
}

#: ``detailedPriceBreakdown[].breakdown[].serviceCode`` to charge types (others: accessorial).
CHARGE_SERVICE_CODES: Final[dict[str, ChargeType]] = {
    "FF": ChargeType.FUEL,
    "II": ChargeType.INSURANCE,
    "DD": ChargeType.DUTIES_AND_TAXES,
    "DS": ChargeType.DUTIES_AND_TAXES,
}

#: The value-added service that tells DHL the customs documents travel electronically.
PAPERLESS_TRADE_SERVICE: Final = "WY"

#: Canonical customs document kinds to ``documentImages[].typeCode``.
DOCUMENT_TYPES: Final[dict[CustomsDocumentKind, str]] = {
    CustomsDocumentKind.COMMERCIAL_INVOICE: "INV",
    CustomsDocumentKind.PROFORMA_INVOICE: "PNV",
    CustomsDocumentKind.CERTIFICATE_OF_ORIGIN: "COO",
    CustomsDocumentKind.OTHER: "DCL",
}
