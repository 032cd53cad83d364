"""Typical calls of the canonical model, type-checked (``mypy --strict``) but never run.

If a public signature changes in a way that breaks how users call us, mypy fails on this file.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, assert_type

from shipsync.canonical import (
    Address,
    ChargeType,
    Contact,
    Dimensions,
    Event,
    EventCatalogue,
    FreightCharge,
    FreightInvoice,
    FreightInvoiceLine,
    Milestone,
    MilestoneEvent,
    Money,
    Package,
    Parcel,
    Reason,
    Shipment,
    ShipmentCreated,
    ShipmentDelivered,
    TrackingEvent,
    Weight,
    WeightUnit,
    default_catalogue,
    event_for_tracking,
    event_schemas,
    export_schemas,
    parse_event,
)
from shipsync.errors import (
    CanonicalValidationError,
    CurrencyMismatchError,
    UnknownEventTypeError,
    UnsupportedSchemaVersionError,
)

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)

# --- money ---------------------------------------------------------------------------------------

price = Money.of("12.50", "EUR")
assert_type(price, Money)
assert_type(price.amount, Decimal)
assert_type(price.currency, str)
assert_type(price + Money.of(Decimal("1.25"), "EUR"), Money)
assert_type(price - price, Money)
assert_type(price * 3, Money)
assert_type(price * Decimal("0.19"), Money)
assert_type(price.percent(19), Money)
assert_type(-price, Money)
assert_type(price < Money.zero("EUR"), bool)
assert_type(Money.sum([price, price], "EUR"), Money)
assert_type(price.minor_units, int)
assert_type(price.is_negative, bool)

try:
    price + Money.of(1, "USD")
except CurrencyMismatchError as exc:
    assert_type(exc.left, str)

# --- units ---------------------------------------------------------------------------------------

weight = Weight.of("1.5", WeightUnit.KG)
assert_type(weight.to("lb"), Weight)
assert_type(weight.grams, Fraction)
assert_type(weight + Weight.of(2, "g"), Weight)
box = Dimensions.of(50, 40, "30.5", "cm")
assert_type(box.volumetric_weight(5000), Weight)
assert_type(box.volumetric_weight(139, length_unit="in", weight_unit="lb"), Weight)
assert_type(box.volume(), Fraction)

# --- parties and shipments -----------------------------------------------------------------------

recipient = Address(
    name="Ada Lovelace",
    street=("1 Main St",),
    city="Paris",
    postal_code="75001",
    country="FR",
    contact=Contact(email="ada@example.org"),
)
assert_type(recipient.redacted(), dict[str, Any])
shipment = Shipment(
    shipment_id="SHP-1",
    carrier="fake",
    service="express",
    shipper=Address(country="DE"),
    recipient=recipient,
    packages=(Package(parcel=Parcel(weight=weight), tracking_number="1Z1"),),
)
assert_type(shipment.tracking_numbers, tuple[str, ...])

invoice = FreightInvoice(
    invoice_number="INV-1",
    carrier="fake",
    issued_at=NOW,
    currency="EUR",
    lines=(
        FreightInvoiceLine(
            line_number=1,
            tracking_number="1Z1",
            charges=(FreightCharge(type=ChargeType.FUEL, amount=price),),
        ),
    ),
    total=price,
)
assert_type(invoice.lines[0].total, Money)

# --- tracking and events -------------------------------------------------------------------------

tracking = TrackingEvent(
    event_id="evt-1",
    shipment_id="SHP-1",
    tracking_number="1Z1",
    carrier="fake",
    milestone=Milestone.DELIVERED,
    reason=Reason.NORMAL,
    occurred_at=NOW,
    recorded_at=NOW,
    carrier_code="D1",
)
envelope = event_for_tracking(tracking, source="shipsync/fake", correlationid="c-1")
assert_type(envelope, MilestoneEvent)
assert_type(envelope.to_json(), bytes)
created = ShipmentCreated.of(shipment, source="shipsync/fake", time=NOW)
assert_type(created, ShipmentCreated)
assert_type(created.data, Shipment)
delivered = ShipmentDelivered.of(tracking, source="shipsync/fake", time=NOW, subject="SHP-1")
assert_type(delivered.data, TrackingEvent)
assert_type(ShipmentDelivered.event_type(), str)

event = parse_event(envelope.to_json())
assert_type(event, Event)
if isinstance(event, ShipmentDelivered):
    assert_type(event.data.milestone, Milestone)
assert_type(event.partitionkey, str | None)
assert_type(default_catalogue.parse_obj({"type": "x"}), Event)

catalogue = EventCatalogue([ShipmentDelivered])
catalogue.register(ShipmentCreated)
catalogue.register_upcaster("shipment.delivered", 1, lambda envelope: envelope)

try:
    parse_event(b"{}")
except UnknownEventTypeError as exc:
    assert_type(exc.event_type, str)
except UnsupportedSchemaVersionError as exc:
    assert_type(exc.version, object)
except CanonicalValidationError as exc:
    assert_type(exc.errors, tuple[tuple[str, str], ...])
    assert_type(exc.path, str | None)

# --- schemas -------------------------------------------------------------------------------------

assert_type(event_schemas(), dict[str, dict[str, Any]])
assert_type(export_schemas(Path("schemas")), list[Path])
assert_type(export_schemas("schemas", catalogue), list[Path])
