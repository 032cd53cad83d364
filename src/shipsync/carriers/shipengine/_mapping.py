"""ShipEngine's code tables, as data (from ``ShipEngine/shipengine-openapi``, openapi.yaml
version 1.1.202604070904: the ``status_code``, ``status_detail_code``, ``rate_detail_type``,
``weight_unit``, ``dimension_unit`` and ``label_format`` enums).

A status is mapped by its detail code when ShipEngine gives one we know, else by its coarse
status code; a code in neither table is ``Milestone.UNKNOWN`` (never guessed as in transit).
"""

from __future__ import annotations

from typing import Final

from shipsync.canonical import ChargeType, LabelFormat, LengthUnit, Milestone, Reason, WeightUnit

__all__ = [
    "CHARGE_TYPES",
    "DETAIL_CODES",
    "LABEL_FORMATS",
    "LENGTH_UNITS",
    "STATUS_CODES",
    "WEBHOOK_EVENTS",
    "WEBHOOK_RESOURCE_TYPES",
    "WEIGHT_UNITS",
]

M, R = Milestone, Reason

#: The coarse normalised status (``status_code``).
STATUS_CODES: Final[dict[str, tuple[Milestone, Reason]]] = {
    "UN": (M.UNKNOWN, R.UNKNOWN),
    "AC": (M.LABEL_CREATED, R.NORMAL),  # accepted: the label exists, the carrier has it on file
    "IT": (M.IN_TRANSIT, R.NORMAL),
    "DE": (M.DELIVERED, R.NORMAL),
    "EX": (M.EXCEPTION, R.OTHER),
    "AT": (M.DELIVERY_ATTEMPTED, R.MISSED_DELIVERY),
    "NY": (M.LABEL_CREATED, R.NORMAL),  # not yet in system
    "SP": (M.AVAILABLE_FOR_PICKUP, R.AWAITING_PICKUP),  # delivered to a service point
}

#: The finer ``status_detail_code``; codes left out fall back to ``STATUS_CODES``.
DETAIL_CODES: Final[dict[str, tuple[Milestone, Reason]]] = {
    "SHIPMENT_CREATED": (M.LABEL_CREATED, R.NORMAL),
    "AWAITING_PICKUP_DROP_OFF": (M.LABEL_CREATED, R.NORMAL),
    "ELEC_ADVICE_RECD_BY_CARRIER": (M.LABEL_CREATED, R.NORMAL),
    "NOT_YET_RECEIVED_BY_CARRIER": (M.LABEL_CREATED, R.NORMAL),
    "DROPPED_OFF": (M.PICKED_UP, R.NORMAL),
    "PICKED_UP": (M.PICKED_UP, R.NORMAL),
    "RECEIVED_BY_CARRIER": (M.PICKED_UP, R.NORMAL),
    "RECD_BY_CARRIER_NO_ELEC_ADVICE": (M.PICKED_UP, R.NORMAL),
    "IN_TRANSIT": (M.IN_TRANSIT, R.NORMAL),
    "HUB_SCAN_IN": (M.IN_TRANSIT, R.NORMAL),
    "HUB_SCAN_OUT": (M.IN_TRANSIT, R.NORMAL),
    "HUB_PROCESSING": (M.IN_TRANSIT, R.NORMAL),
    "CUSTOMS_CLEARED": (M.IN_TRANSIT, R.NORMAL),
    "CUSTOMS_PROCESSING": (M.IN_TRANSIT, R.NORMAL),
    "RECEIVED_LOCAL_DELIVERY_DEPOT": (M.IN_TRANSIT, R.NORMAL),
    "SUB_CONTRACTOR_RECEIVED": (M.IN_TRANSIT, R.NORMAL),
    "DELIVERY_SCHEDULED": (M.IN_TRANSIT, R.NORMAL),
    "DELIVERY_ARRANGED_WITH_RECIPIENT": (M.IN_TRANSIT, R.CUSTOMER_REQUESTED_FUTURE_DELIVERY),
    "DELIVERY_RESCHEDULED": (M.IN_TRANSIT, R.CUSTOMER_REQUESTED_FUTURE_DELIVERY),
    "PARCEL_REDIRECTED": (M.IN_TRANSIT, R.CUSTOMER_REQUESTED_FUTURE_DELIVERY),
    "PARCEL_REDIRECTED_BY_CARRIER": (M.IN_TRANSIT, R.CARRIER_RELATED),
    "OUT_FOR_DELIVERY": (M.OUT_FOR_DELIVERY, R.NORMAL),
    "ATTEMPTED_DELIVERY": (M.DELIVERY_ATTEMPTED, R.MISSED_DELIVERY),
    "ATTEMPTED_DELIVERY_FINAL": (M.DELIVERY_ATTEMPTED, R.MISSED_DELIVERY),
    "CUSTOMER_CARDED": (M.DELIVERY_ATTEMPTED, R.RECIPIENT_ABSENT),
    "AWAITING_COLLECTION_FROM_PICKUP_POINT": (M.AVAILABLE_FOR_PICKUP, R.AWAITING_PICKUP),
    "COLLECT_AT_LOCAL_PO": (M.AVAILABLE_FOR_PICKUP, R.AWAITING_PICKUP),
    "CUSTOMER_TO_COLLECT_FROM_CARRIER": (M.AVAILABLE_FOR_PICKUP, R.AWAITING_PICKUP),
    "DELIVERED_TO_PICKUP_POINT": (M.AVAILABLE_FOR_PICKUP, R.AWAITING_PICKUP),
    "DELIVERED": (M.DELIVERED, R.NORMAL),
    "DELIVERED_TO_RECEPTION": (M.DELIVERED, R.NORMAL),
    "DELIVERED_SPECIFIED_SAFE_PLACE": (M.DELIVERED, R.NORMAL),
    "DELIVERED_TO_ALTERNATIVE_DELIVERY_LOCATION": (M.DELIVERED, R.NORMAL),
    "DELIVERED_TO_NEIGHBOUR": (M.DELIVERED, R.NORMAL),
    "DELIVERED_TO_PO_BOX": (M.DELIVERED, R.NORMAL),
    "PARCEL_COLLECTED_FROM_PICKUP_POINT": (M.DELIVERED, R.NORMAL),
    "DELIVERED_DAMAGED": (M.DELIVERED, R.DAMAGED),
    "DELIVERED_IN_PART": (M.DELIVERED, R.OTHER),
    "PICKUP_FAILED": (M.EXCEPTION, R.CARRIER_RELATED),
    "PARCEL_DAMAGED": (M.EXCEPTION, R.DAMAGED),
    "ADDRESS_QUERY": (M.EXCEPTION, R.ADDRESS_ISSUE),
    "CARRIER_DELAYS": (M.EXCEPTION, R.DELAYED),
    "DELAYED_NOT_CARRIER": (M.EXCEPTION, R.DELAYED),
    "HELD_BY_CARRIER": (M.EXCEPTION, R.CARRIER_RELATED),
    "HELD_BY_CARRIER_FOR_CLEARANCE_PRE_PROCESSING": (M.EXCEPTION, R.CUSTOMS_HOLD),
    "HELD_BY_CUSTOMS": (M.EXCEPTION, R.CUSTOMS_HOLD),
    "INCORRECT_DECLARATION": (M.EXCEPTION, R.MISSING_DOCUMENTS),
    "DUTY_NOT_PAID": (M.EXCEPTION, R.HELD_FOR_PAYMENT),
    "COD_AMOUNT_NOT_PAID": (M.EXCEPTION, R.HELD_FOR_PAYMENT),
    "MISROUTED": (M.EXCEPTION, R.MIS_SORT),
    "CUSTOMER_IDENTIFICATION_FAILED": (M.EXCEPTION, R.CONSIGNEE_RELATED),
    "NO_ACCESS_TO_RECIPIENTS_ADDRESS": (M.EXCEPTION, R.ADDRESS_ISSUE),
    "CUSTOMER_MOVED": (M.EXCEPTION, R.ADDRESS_ISSUE),
    "HAZARDOUS_PROHIBITED": (M.EXCEPTION, R.SHIPPER_RELATED),
    "NOT_COLLECTED_FROM_PICKUP_POINT": (M.EXCEPTION, R.CONSIGNEE_RELATED),
    "NOT_DELIVERED": (M.EXCEPTION, R.OTHER),
    "NOT_DELIVERED_ADDRESSEE_DECEASED": (M.EXCEPTION, R.CONSIGNEE_RELATED),
    "PARCEL_OUTSIDE_OF_SERVICE_CAPABILITY": (M.EXCEPTION, R.SHIPPER_RELATED),
    "REFUSED_BY_CUSTOMER": (M.EXCEPTION, R.REFUSED),
    "UNSPECIFIED_EXCEPTION": (M.EXCEPTION, R.OTHER),
    "PARCEL_LOST": (M.LOST, R.CARRIER_RELATED),
    "PARCEL_DISPOSED": (M.LOST, R.OTHER),
    "CANCELLED": (M.CANCELLED, R.NORMAL),
    "RETURN_TO_SENDER": (M.RETURNING_TO_SENDER, R.OTHER),
    "UNDELIVERABLE_RETURNED_TO_SENDER": (M.RETURNED, R.OTHER),
    # Informational details carry no milestone of their own: fall back to the status code.
}

#: ``rate_detail_type`` to canonical charge types (unlisted: ``OTHER``).
CHARGE_TYPES: Final[dict[str, ChargeType]] = {
    "shipping": ChargeType.BASE_FREIGHT,
    "fuel_charge": ChargeType.FUEL,
    "insurance": ChargeType.INSURANCE,
    "confirmation": ChargeType.ACCESSORIAL,
    "additional_fees": ChargeType.ACCESSORIAL,
    "delivery": ChargeType.ACCESSORIAL,
    "handling": ChargeType.ACCESSORIAL,
    "special_goods": ChargeType.ACCESSORIAL,
    "oversize": ChargeType.ACCESSORIAL,
    "location_fee": ChargeType.ACCESSORIAL,
    "notifications": ChargeType.ACCESSORIAL,
    "pickup": ChargeType.PICKUP,
    "tariff": ChargeType.DUTIES_AND_TAXES,
    "tax": ChargeType.DUTIES_AND_TAXES,
    "duties_and_taxes": ChargeType.DUTIES_AND_TAXES,
    "brokerage_fee": ChargeType.DUTIES_AND_TAXES,
}

WEIGHT_UNITS: Final[dict[WeightUnit, str]] = {
    WeightUnit.KG: "kilogram",
    WeightUnit.G: "gram",
    WeightUnit.LB: "pound",
    WeightUnit.OZ: "ounce",
}

#: ShipEngine knows inches and centimetres; millimetres are sent as centimetres.
LENGTH_UNITS: Final[dict[LengthUnit, str]] = {LengthUnit.IN: "inch", LengthUnit.CM: "centimeter"}

LABEL_FORMATS: Final[dict[LabelFormat, str]] = {
    LabelFormat.PDF: "pdf",
    LabelFormat.PNG: "png",
    LabelFormat.ZPL: "zpl",
}

#: ShipEngine's ``webhook_event`` enum (openapi.yaml): each event's ``resource_type`` and the
#: canonical event type it is published as (``None``: acknowledged, nothing published).
WEBHOOK_EVENTS: Final[dict[str, tuple[str, str | None]]] = {
    "track": ("API_TRACK", "shipment.<milestone>"),
    "batch": ("API_BATCH", "batch.completed"),
    "rate": ("API_RATE", "freight.rate_quoted"),
    "carrier_connected": ("API_CARRIER_CONNECTED", None),
    "report_complete": ("API_REPORT_COMPLETE", None),
    "sales_orders_imported": ("API_SALES_ORDERS_IMPORTED", None),
    "order_source_refresh_complete": ("API_ORDER_SOURCE_REFRESH_COMPLETE", None),
}

#: The ``resource_type`` of each webhook delivery, to the canonical event type it gives.
WEBHOOK_RESOURCE_TYPES: Final[dict[str, str | None]] = dict(WEBHOOK_EVENTS.values())
