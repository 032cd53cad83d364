"""The operations a driver may declare."""

from __future__ import annotations

import enum

__all__ = ["Capability"]


class Capability(enum.StrEnum):
    """One operation of the driver contract; a driver declares the ones it implements."""

    VALIDATE_ADDRESS = "validate_address"
    QUOTE_RATES = "quote_rates"
    CREATE_SHIPMENT = "create_shipment"
    CANCEL_SHIPMENT = "cancel_shipment"
    SCHEDULE_PICKUP = "schedule_pickup"
    CANCEL_PICKUP = "cancel_pickup"
    TRACK = "track"
    PARSE_WEBHOOK = "parse_webhook"
    FETCH_INVOICES = "fetch_invoices"
    CREATE_RETURN = "create_return"
    CREATE_MANIFEST = "create_manifest"
    QUOTE_LANDED_COST = "quote_landed_cost"
    FETCH_PROOF_OF_DELIVERY = "fetch_proof_of_delivery"
    UPDATE_PICKUP = "update_pickup"
