"""Logistics operations against a real Odoo 18 (replayed from cassettes unless ODOO_* is set)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shipsync.canonical import (
    Address,
    ChargeType,
    FreightCharge,
    FreightInvoice,
    FreightInvoiceLine,
    Label,
    LabelFormat,
    Milestone,
    Money,
    Package,
    Parcel,
    ProofOfDelivery,
    Shipment,
    ShipmentStatus,
    TrackingEvent,
    Weight,
    WeightUnit,
)
from shipsync.errors import OdooModuleMissingError, OdooValidationError
from shipsync.odoo import OdooFieldMap, OdooLogistics, event_message_id, version_facts

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _event(tag: str, ref: str, n: int, milestone: Milestone, **extra: Any) -> TrackingEvent:
    return TrackingEvent(
        event_id=f"ev-{tag}-{ref}-{n}",
        shipment_id=f"shp-{ref}",
        tracking_number=ref,
        carrier="fakecarrier",
        milestone=milestone,
        occurred_at=T0 + timedelta(hours=n),
        recorded_at=T0 + timedelta(hours=n, minutes=1),
        carrier_code=milestone.value.upper(),
        carrier_description=f"{milestone.value} <scan> & co",
        **extra,
    )


def _shipment(ref: str, *, packages: int = 2) -> Shipment:
    return Shipment(
        shipment_id=f"shp-{ref}",
        carrier="fakecarrier",
        service="express",
        shipper=Address(country="US", city="Austin"),
        recipient=Address(country="US", city="Denver"),
        packages=tuple(
            Package(
                parcel=Parcel(weight=Weight(value="1.5", unit=WeightUnit.KG), reference=f"P{i}"),
                tracking_number=f"{ref}-{i}",
                label=Label(
                    tracking_number=f"{ref}-{i}", format=LabelFormat.PDF, data=b"%PDF-1.4 label"
                ),
            )
            for i in range(1, packages + 1)
        ),
    )


def _tracking(logistics: OdooLogistics, picking_ids: list[int], tag: str) -> list[str]:
    refs = [f"TRK{tag}{i:03d}" for i in range(len(picking_ids))]
    for picking_id, ref in zip(picking_ids, refs, strict=True):
        logistics.gateway.call(
            "stock.picking", "write", [[picking_id], {"carrier_tracking_ref": ref}]
        )
    return refs


def test_sale_order_pickings_are_found_by_order_name_picking_name_and_tracking(
    logistics: OdooLogistics, odoo_data: Any
) -> None:
    """A confirmed sale order's delivery is found by order, by its name and by tracking."""
    gw = logistics.gateway
    customer = odoo_data.partner("Customer")
    order = gw.call(
        "sale.order",
        "create",
        [{"partner_id": customer, "order_line": [[0, 0, {"product_id": odoo_data.product()}]]}],
    )
    gw.call("sale.order", "action_confirm", [[order]])
    [so] = gw.call("sale.order", "read", [[order]], {"fields": ["name"]})

    [picking] = logistics.find_outgoing_pickings(so["name"])
    assert picking.sale_order == so["name"]
    assert logistics.find_picking(picking.name) == picking
    assert logistics.find_picking(f"nothing {odoo_data.tag}") is None

    [ref] = _tracking(logistics, [picking.id], f"S{odoo_data.tag}")
    found = logistics.find_pickings_by_tracking([ref, f"unknown-{odoo_data.tag}"])
    assert list(found) == [ref]
    assert found[ref].id == picking.id


def test_record_shipment_writes_tracking_price_labels_and_one_note_once(
    logistics: OdooLogistics, odoo_data: Any
) -> None:
    """Recording a shipment writes refs, price and labels; recording it again writes nothing."""
    [picking_id] = odoo_data.pickings(1)
    shipment = _shipment(f"R{odoo_data.tag}")
    price = Money.of("12.34", odoo_data.currency())

    first = logistics.record_shipment(picking_id, shipment, price=price)
    assert first.price_written
    assert len(first.attachment_ids) == 2
    assert first.message_id is not None

    again = logistics.record_shipment(picking_id, shipment, price=price)
    assert again.already_recorded
    assert again.round_trips == 2  # read the picking, look up the Message-Id

    [record] = logistics.read_pickings([picking_id])
    assert record.tracking_numbers == (f"R{odoo_data.tag}-1", f"R{odoo_data.tag}-2")
    assert record.carrier_price == price
    assert len(record.message_ids) == 1
    attachments = logistics.gateway.call(
        "ir.attachment",
        "search_read",
        [[["res_model", "=", "stock.picking"], ["res_id", "=", picking_id]]],
        {"fields": ["name", "mimetype"]},
    )
    assert sorted(a["mimetype"] for a in attachments) == ["application/pdf"] * 2


def test_record_shipment_in_another_currency_keeps_the_price_out_of_the_float_field(
    logistics: OdooLogistics, odoo_data: Any
) -> None:
    """A price in a currency other than the company's is not written as a bare float."""
    [picking_id] = odoo_data.pickings(1)
    foreign = odoo_data.other_currency(odoo_data.currency())
    result = logistics.record_shipment(
        picking_id, _shipment(f"E{odoo_data.tag}", packages=1), price=Money.of("9.99", foreign)
    )
    assert not result.price_written
    [record] = logistics.read_pickings([picking_id])
    assert record.carrier_price is None
    assert record.tracking_numbers == (f"E{odoo_data.tag}-1",)


def test_apply_events_posts_one_note_per_event_in_a_bounded_number_of_requests(
    logistics: OdooLogistics, odoo_data: Any
) -> None:
    """Twelve events on three pickings take at most seven requests; applying again posts none.

    The customer follows the pickings, and gets no e-mail: the notes use the Note subtype.
    """
    tag = odoo_data.tag
    customer = odoo_data.partner("Customer", email=f"customer-{tag}@example.com")
    pickings = odoo_data.pickings(3, partner=customer)
    logistics.gateway.call(
        "stock.picking", "message_subscribe", [pickings], {"partner_ids": [customer]}
    )
    followers = logistics.gateway.call(
        "mail.followers",
        "search_count",
        [
            [
                ["res_model", "=", "stock.picking"],
                ["res_id", "in", pickings],
                ["partner_id", "=", customer],
            ]
        ],
    )
    assert followers == 3
    refs = _tracking(logistics, pickings, f"A{tag}")
    milestones = [
        Milestone.PICKED_UP,
        Milestone.IN_TRANSIT,
        Milestone.OUT_FOR_DELIVERY,
        Milestone.DELIVERED,
    ]
    events = [_event(tag, ref, n, m) for ref in refs for n, m in enumerate(milestones)]
    stray = _event(tag, f"NOPE{tag}", 0, Milestone.IN_TRANSIT)

    report = logistics.apply_events([*events, events[0], stray])
    assert len(report.applied) == 12
    assert report.duplicates == (events[0].event_id,)
    assert report.unmatched == (stray.event_id,)
    # fields, pickings by tracking, ilike fallback for the stray, Message-Ids, subtype, author,
    # create: seven, whatever the number of events.
    assert report.round_trips <= 7
    assert report.status_skipped == "Odoo has no field stock.picking.delivery_state"
    assert report.anomalies == ()

    again = logistics.apply_events(events)
    assert again.applied == ()
    assert len(again.duplicates) == 12
    assert again.round_trips == 2

    records = logistics.read_pickings(pickings)
    assert [len(r.message_ids) for r in records] == [4, 4, 4]
    assert event_message_id(events[0]) in records[0].message_ids
    gw = logistics.gateway
    messages = gw.call(
        "mail.message",
        "search_read",
        [
            [
                ["model", "=", "stock.picking"],
                ["res_id", "in", pickings],
                ["message_id", "=like", "<shipsync.%"],
            ]
        ],
        {"fields": ["body", "subtype_id", "message_type", "author_id"]},
    )
    assert {m["subtype_id"][1] for m in messages} == {"Note"}
    assert all("&lt;scan&gt; &amp; co" in m["body"] for m in messages)
    notified = gw.call(
        "mail.notification",
        "search_count",
        [[["mail_message_id", "in", [m["id"] for m in messages]]]],
    )
    assert notified == 0
    queued = gw.call(
        "mail.mail", "search_count", [[["mail_message_id", "in", [m["id"] for m in messages]]]]
    )
    assert queued == 0


def _status_field(gw: Any) -> None:
    """Make sure the custom char field the status test maps onto exists."""
    exists = gw.call(
        "ir.model.fields",
        "search_count",
        [[["model", "=", "stock.picking"], ["name", "=", "x_shipsync_status"]]],
    )
    if not exists:
        [model_id] = gw.call("ir.model", "search", [[["model", "=", "stock.picking"]]])
        gw.call(
            "ir.model.fields",
            "create",
            [
                {
                    "model_id": model_id,
                    "name": "x_shipsync_status",
                    "ttype": "char",
                    "field_description": "Shipment status",
                    "state": "manual",
                }
            ],
        )


def test_status_goes_to_a_configured_field_and_delivery_validates_the_picking(
    gateway: Any, odoo_data: Any
) -> None:
    """Per-picking statuses land in a custom field in one load; delivered pickings get validated."""
    _status_field(gateway)
    fields = OdooFieldMap(
        picking_status="x_shipsync_status",
        status_values={m: m.value for m in Milestone if m is not Milestone.UNKNOWN},
        validate_on_delivery=True,
    )
    logistics = OdooLogistics(gateway, fields)
    tag = odoo_data.tag
    pickings = odoo_data.pickings(3)
    refs = _tracking(logistics, pickings, f"V{tag}")
    events = [
        _event(tag, refs[0], 1, Milestone.IN_TRANSIT),
        _event(tag, refs[0], 2, Milestone.DELIVERED),
        _event(tag, refs[0], 3, Milestone.IN_TRANSIT),  # later but not final: no regression
        _event(tag, refs[1], 1, Milestone.OUT_FOR_DELIVERY),
        _event(tag, refs[2], 1, Milestone.EXCEPTION),
    ]
    report = logistics.apply_events(events)
    assert report.status_written == {
        pickings[0]: "delivered",
        pickings[1]: "out_for_delivery",
        pickings[2]: "exception",
    }
    assert [a.event_id for a in report.anomalies] == [events[2].event_id]
    assert report.validated == (pickings[0],)
    records = logistics.read_pickings(pickings)
    assert [r.status for r in records] == ["delivered", "out_for_delivery", "exception"]
    assert records[0].state == "done"

    late = logistics.apply_events([_event(tag, refs[0], 9, Milestone.OUT_FOR_DELIVERY)])
    assert late.status_written == {}
    assert list(late.status_kept) == [pickings[0]]
    assert len(late.applied) == 1


def test_a_later_batch_never_moves_a_picking_back_but_a_return_after_delivery_moves_it(
    gateway: Any, odoo_data: Any
) -> None:
    """A depot scan after out-for-delivery and an in-transit scan after delivery, coming in a
    later batch, leave the statuses alone (their notes are posted); a return after delivery
    is written."""
    _status_field(gateway)
    fields = OdooFieldMap(
        picking_status="x_shipsync_status",
        status_values={m: m.value for m in Milestone if m is not Milestone.UNKNOWN},
    )
    logistics = OdooLogistics(gateway, fields)
    tag = odoo_data.tag
    pickings = odoo_data.pickings(2)
    refs = _tracking(logistics, pickings, f"G{tag}")
    first = logistics.apply_events(
        [
            _event(tag, refs[0], 1, Milestone.PICKED_UP),
            _event(tag, refs[0], 2, Milestone.OUT_FOR_DELIVERY),
            _event(tag, refs[1], 1, Milestone.IN_TRANSIT),
            _event(tag, refs[1], 2, Milestone.DELIVERED),
        ]
    )
    assert first.status_written == {pickings[0]: "out_for_delivery", pickings[1]: "delivered"}
    assert first.round_trips <= 7

    stale = logistics.apply_events(
        [
            _event(tag, refs[0], 3, Milestone.IN_TRANSIT),  # a depot scan after out for delivery
            _event(tag, refs[1], 3, Milestone.IN_TRANSIT),  # a late scan after delivery
        ]
    )
    assert len(stale.applied) == 2
    assert stale.status_written == {}
    assert stale.status_kept == {
        pickings[0]: "in_transit may not follow out_for_delivery (stored 'out_for_delivery')",
        pickings[1]: "in_transit may not follow delivered (stored 'delivered')",
    }
    assert stale.round_trips <= 4  # pickings, Message-Ids, create; nothing written

    back = logistics.apply_events([_event(tag, refs[1], 4, Milestone.RETURNING_TO_SENDER)])
    assert back.status_written == {pickings[1]: "returning_to_sender"}
    assert back.status_kept == {}

    records = logistics.read_pickings(pickings)
    assert [r.status for r in records] == ["out_for_delivery", "returning_to_sender"]
    assert [len(r.message_ids) for r in records] == [3, 4]


OCA_SELECTION = [
    ("shipping_recorded_in_carrier", "Shipping recorded in carrier"),
    ("in_transit", "In transit"),
    ("canceled_shipment", "Canceled shipment"),
    ("incident", "Incident"),
    ("customer_delivered", "Customer delivered"),
    ("warehouse_delivered", "Warehouse delivered"),
    ("no_update", "No more updates from carrier"),
]


def _oca_like_field(gw: Any) -> str:
    """A selection field with OCA delivery_state's 16.0+ values (OCA's module is not installed)."""
    name = "x_shipsync_delivery_state"
    domain = [["model", "=", "stock.picking"], ["name", "=", name]]
    if not gw.call("ir.model.fields", "search_count", [domain]):
        [model_id] = gw.call("ir.model", "search", [[["model", "=", "stock.picking"]]])
        gw.call(
            "ir.model.fields",
            "create",
            [
                {
                    "model_id": model_id,
                    "name": name,
                    "ttype": "selection",
                    "field_description": "Delivery state (OCA values)",
                    "state": "manual",
                    "selection_ids": [
                        [0, 0, {"value": value, "name": label, "sequence": n}]
                        for n, (value, label) in enumerate(OCA_SELECTION)
                    ],
                }
            ],
        )
    return name


def test_oca_delivery_state_values_follow_the_canonical_mapping_without_regressing(
    gateway: Any, odoo_data: Any
) -> None:
    """OCA values: delivered is kept against a late in-transit scan, a return is an incident."""
    logistics = OdooLogistics(gateway, OdooFieldMap(picking_status=_oca_like_field(gateway)))
    tag = odoo_data.tag
    [picking] = odoo_data.pickings(1)
    [ref] = _tracking(logistics, [picking], f"O{tag}")

    first = logistics.apply_events(
        [_event(tag, ref, 1, Milestone.IN_TRANSIT), _event(tag, ref, 2, Milestone.DELIVERED)]
    )
    assert first.status_written == {picking: "customer_delivered"}
    stale = logistics.apply_events([_event(tag, ref, 3, Milestone.IN_TRANSIT)])
    assert stale.status_written == {}
    assert list(stale.status_kept) == [picking]
    back = logistics.apply_events([_event(tag, ref, 4, Milestone.RETURNING_TO_SENDER)])
    assert back.status_written == {picking: "incident"}
    [record] = logistics.read_pickings([picking])
    assert record.status == "incident"


def _base_field(gw: Any) -> str:
    """A char field that keeps the milestone beside the status."""
    name = "x_shipsync_status_base"
    domain = [["model", "=", "stock.picking"], ["name", "=", name]]
    if not gw.call("ir.model.fields", "search_count", [domain]):
        [model_id] = gw.call("ir.model", "search", [[["model", "=", "stock.picking"]]])
        gw.call(
            "ir.model.fields",
            "create",
            [
                {
                    "model_id": model_id,
                    "name": name,
                    "ttype": "char",
                    "field_description": "Shipment status base",
                    "state": "manual",
                }
            ],
        )
    return name


def test_a_base_field_keeps_what_oca_incident_forgets_in_the_same_requests(
    gateway: Any, odoo_data: Any
) -> None:
    """With a base field beside OCA's values, a return and a delivery attempt are both
    ``incident`` but fold on differently: a stale in-transit scan after the return is refused,
    and the base is read and written in the requests the status already takes."""
    fields = OdooFieldMap(
        picking_status=_oca_like_field(gateway), picking_status_base=_base_field(gateway)
    )
    logistics = OdooLogistics(gateway, fields)
    tag = odoo_data.tag
    pickings = odoo_data.pickings(2)
    refs = _tracking(logistics, pickings, f"B{tag}")

    first = logistics.apply_events(
        [
            _event(tag, refs[0], 1, Milestone.IN_TRANSIT),
            _event(tag, refs[0], 2, Milestone.DELIVERED),
            _event(tag, refs[0], 3, Milestone.RETURNING_TO_SENDER),
            _event(tag, refs[1], 1, Milestone.DELIVERY_ATTEMPTED),
        ]
    )
    assert first.status_written == {pickings[0]: "incident", pickings[1]: "incident"}
    assert first.round_trips <= 7

    def stored() -> list[tuple[str, str]]:
        rows = gateway.call(
            "stock.picking",
            "search_read",
            [[["id", "in", pickings]]],
            {"fields": [fields.picking_status, fields.picking_status_base], "order": "id"},
        )
        return [(r[fields.picking_status], r[fields.picking_status_base]) for r in rows]

    assert stored() == [("incident", "returning_to_sender"), ("incident", "delivery_attempted")]

    later = logistics.apply_events(
        [
            _event(tag, refs[0], 4, Milestone.IN_TRANSIT),  # stale: the package is on its way back
            _event(tag, refs[1], 2, Milestone.OUT_FOR_DELIVERY),  # a second attempt
        ]
    )
    assert later.status_kept == {
        pickings[0]: "in_transit may not follow exception (stored 'incident')"
    }
    assert later.status_written == {pickings[1]: "in_transit"}
    assert [a.reason.value for a in later.anomalies] == ["regression"]
    assert later.round_trips <= 4  # pickings, Message-Ids, create, one write
    assert stored() == [("incident", "returning_to_sender"), ("in_transit", "out_for_delivery")]

    back = logistics.apply_events([_event(tag, refs[0], 5, Milestone.RETURNED)])
    assert back.status_written == {pickings[0]: "warehouse_delivered"}
    assert stored()[0] == ("warehouse_delivered", "returned")


def test_proof_of_delivery_is_attached_once(logistics: OdooLogistics, odoo_data: Any) -> None:
    """A proof of delivery becomes one attachment and one note, however often it is recorded."""
    [picking_id] = odoo_data.pickings(1)
    proof = ProofOfDelivery(
        shipment_id=f"shp-{odoo_data.tag}",
        tracking_number=f"POD{odoo_data.tag}",
        delivered_at=T0,
        signed_by="J. Doe",
        notes="Left at reception",
    )
    first = logistics.record_proof_of_delivery(picking_id, proof, document=b"%PDF-1.4 pod")
    assert len(first.attachment_ids) == 1
    second = logistics.record_proof_of_delivery(picking_id, proof, document=b"%PDF-1.4 pod")
    assert second.already_recorded
    assert second.attachment_ids == ()


def test_vendor_bill_has_one_line_per_charge_and_is_created_once(
    logistics: OdooLogistics, odoo_data: Any
) -> None:
    """A freight invoice becomes one draft vendor bill referencing its pickings, once."""
    tag = odoo_data.tag
    vendor = odoo_data.partner("Carrier")
    pickings = odoo_data.pickings(2)
    refs = _tracking(logistics, pickings, f"B{tag}")
    currency = odoo_data.currency()

    def company_money(amount: str) -> Money:
        return Money.of(amount, currency)

    invoice = FreightInvoice(
        invoice_number=f"INV-{tag}",
        carrier="fakecarrier",
        issued_at=T0,
        currency=currency,
        lines=(
            FreightInvoiceLine(
                line_number=1,
                tracking_number=refs[0],
                charges=(
                    FreightCharge(type=ChargeType.BASE_FREIGHT, amount=company_money("10.00")),
                    FreightCharge(type=ChargeType.FUEL, amount=company_money("1.25")),
                ),
            ),
            FreightInvoiceLine(
                line_number=2,
                tracking_number=refs[1],
                charges=(
                    FreightCharge(type=ChargeType.BASE_FREIGHT, amount=company_money("8.50")),
                ),
            ),
        ),
        total=company_money("19.75"),
    )
    bill = logistics.create_vendor_bill(invoice, vendor_id=vendor)
    assert bill.created
    assert bill.state == "draft"
    assert bill.total == company_money("19.75")
    assert [line.amount for line in bill.lines] == [
        company_money("10.00"),
        company_money("1.25"),
        company_money("8.50"),
    ]
    names = [r.name for r in logistics.read_pickings(pickings)]
    assert bill.picking_names == tuple(sorted(names))
    assert names[0] in bill.lines[0].label

    again = logistics.create_vendor_bill(invoice, vendor_id=vendor)
    assert not again.created
    assert again.id == bill.id


def test_a_missing_module_is_reported_by_name(logistics: OdooLogistics) -> None:
    """Asking for OCA delivery_state on a server without it names the module."""
    logistics.require_modules("stock", "delivery", "account")
    with pytest.raises(OdooModuleMissingError) as caught:
        logistics.require_modules("stock", "delivery_state")
    assert caught.value.module == "delivery_state"


def _package_field(gw: Any) -> None:
    """Make sure the custom char field for per-package tracking numbers exists."""
    package_model = version_facts(gw.server_version).package_model
    domain = [["model", "=", package_model], ["name", "=", "x_shipsync_tracking"]]
    if not gw.call("ir.model.fields", "search_count", [domain]):
        [model_id] = gw.call("ir.model", "search", [[["model", "=", package_model]]])
        gw.call(
            "ir.model.fields",
            "create",
            [
                {
                    "model_id": model_id,
                    "name": "x_shipsync_tracking",
                    "ttype": "char",
                    "field_description": "Tracking number",
                    "state": "manual",
                }
            ],
        )


def test_each_package_gets_its_own_tracking_number_when_a_field_is_mapped(
    gateway: Any, odoo_data: Any
) -> None:
    """Two packed parcels get one tracking number each, found again by either number."""
    _package_field(gateway)
    logistics = OdooLogistics(gateway, OdooFieldMap(package_tracking="x_shipsync_tracking"))
    [picking_id] = odoo_data.pickings(1, moves=2)
    gateway.call("stock.picking", "action_assign", [[picking_id]])
    lines = gateway.call(
        "stock.move.line", "search", [[["picking_id", "=", picking_id]]], {"order": "id"}
    )
    for line in lines:  # pack each line on its own: two packages
        gateway.call("stock.move.line", "action_put_in_pack", [[line]])
    lines = gateway.call(
        "stock.move.line",
        "search_read",
        [[["picking_id", "=", picking_id]]],
        {"fields": ["result_package_id"], "order": "id"},
    )
    packages = [line["result_package_id"][1] for line in lines]
    assert len(set(packages)) == 2
    tag = odoo_data.tag
    shipment = _shipment(f"K{tag}").model_copy(
        update={
            "packages": tuple(
                package.model_copy(
                    update={"parcel": package.parcel.model_copy(update={"reference": name})}
                )
                for package, name in zip(_shipment(f"K{tag}").packages, packages, strict=True)
            )
        }
    )

    logistics.record_shipment(picking_id, shipment)

    [record] = logistics.read_pickings([picking_id])
    assert record.package_tracking == {packages[0]: f"K{tag}-1", packages[1]: f"K{tag}-2"}
    assert record.tracking_numbers == (f"K{tag}-1", f"K{tag}-2")
    found = logistics.find_pickings_by_tracking([f"K{tag}-2"])
    assert found[f"K{tag}-2"].id == picking_id
    report = logistics.apply_events([_event(tag, f"K{tag}-2", 1, Milestone.IN_TRANSIT)])
    assert len(report.applied) == 1


def test_a_picking_odoo_refuses_to_validate_is_reported_and_the_others_are_validated(
    gateway: Any, odoo_data: Any
) -> None:
    """Nothing in stock: that picking stays open with Odoo's reason; the other one is done."""
    logistics = OdooLogistics(gateway, OdooFieldMap(validate_on_delivery=True))
    tag = odoo_data.tag
    [available] = odoo_data.pickings(1)
    [empty] = odoo_data.pickings(1, stocked=True)
    refs = _tracking(logistics, [available, empty], f"X{tag}")
    events = [_event(tag, ref, 1, Milestone.DELIVERED) for ref in refs]

    report = logistics.apply_events(events)

    assert len(report.applied) == 2
    assert report.validated == (available,)
    assert list(report.validation_errors) == [empty]
    assert "quantities" in report.validation_errors[empty]
    states = {r.id: r.state for r in logistics.read_pickings([available, empty])}
    assert states[available] == "done"
    assert states[empty] != "done"


def test_a_value_odoo_refuses_in_load_is_an_error_with_its_message_and_a_repeat_recovers(
    gateway: Any, odoo_data: Any
) -> None:
    """Odoo's ``load`` reports a bad value in its messages instead of raising: that becomes an
    OdooValidationError with Odoo's text, nothing is posted, and the corrected call applies all.
    """
    exists = gateway.call(
        "ir.model.fields",
        "search_count",
        [[["model", "=", "stock.picking"], ["name", "=", "x_shipsync_choice"]]],
    )
    if not exists:
        [model_id] = gateway.call("ir.model", "search", [[["model", "=", "stock.picking"]]])
        choices = [("in_transit", "In transit"), ("delivered", "Delivered")]
        gateway.call(
            "ir.model.fields",
            "create",
            [
                {
                    "model_id": model_id,
                    "name": "x_shipsync_choice",
                    "ttype": "selection",
                    "field_description": "Shipment choice",
                    "state": "manual",
                    "selection_ids": [
                        [0, 0, {"value": value, "name": name, "sequence": n}]
                        for n, (value, name) in enumerate(choices)
                    ],
                }
            ],
        )
    tag = odoo_data.tag
    pickings = odoo_data.pickings(2)
    refs = _tracking(OdooLogistics(gateway), pickings, f"L{tag}")
    events = [
        _event(tag, refs[0], 1, Milestone.IN_TRANSIT),
        _event(tag, refs[1], 1, Milestone.DELIVERED),
    ]
    wrong = OdooFieldMap(
        picking_status="x_shipsync_choice",
        status_values={
            ShipmentStatus.IN_TRANSIT: "in_transit",
            ShipmentStatus.DELIVERED: "handed_over",
        },
    )
    with pytest.raises(OdooValidationError) as caught:
        OdooLogistics(gateway, wrong).apply_events(events)
    assert "handed_over" in (caught.value.odoo_message or "")
    unposted = OdooLogistics(gateway).read_pickings(pickings)
    assert [r.message_ids for r in unposted] == [(), ()]
    right = OdooLogistics(
        gateway,
        OdooFieldMap(
            picking_status="x_shipsync_choice",
            status_values={
                ShipmentStatus.IN_TRANSIT: "in_transit",
                ShipmentStatus.DELIVERED: "delivered",
            },
        ),
    )
    report = right.apply_events(events)
    assert len(report.applied) == 2
    assert report.status_written == {pickings[0]: "in_transit", pickings[1]: "delivered"}
    stored = gateway.call("stock.picking", "read", [pickings], {"fields": ["x_shipsync_choice"]})
    assert [row["x_shipsync_choice"] for row in stored] == ["in_transit", "delivered"]


def test_non_ascii_numbers_names_and_texts_are_stored_and_read_back_unchanged(
    logistics: OdooLogistics, odoo_data: Any
) -> None:
    """Accents, CJK and emoji go through Odoo intact: found by number, escaped in the note."""
    tag = odoo_data.tag
    customer = odoo_data.partner("Zoë Müller 東京")
    [picking] = odoo_data.pickings(1, partner=customer)
    ref = f"TRK-Zürich-東京-{tag}"
    logistics.gateway.call("stock.picking", "write", [[picking], {"carrier_tracking_ref": ref}])
    event = _event(tag, ref, 1, Milestone.IN_TRANSIT).model_copy(
        update={"carrier_description": "Remis à <b>Müller</b> 📦"}
    )
    report = logistics.apply_events([event])
    assert report.applied == (event.event_id,)
    [found] = logistics.find_pickings_by_tracking([ref]).values()
    assert found.id == picking
    assert found.tracking_numbers == (ref,)
    proof = ProofOfDelivery(
        shipment_id=f"shp-{ref}",
        tracking_number=ref,
        delivered_at=T0 + timedelta(days=1),
        signed_by="Zoë Müller",
        notes="Déposé chez le voisin 🏠",
    )
    logistics.record_proof_of_delivery(picking, proof, document=b"%PDF", filename="preuve-é.pdf")
    [record] = logistics.read_pickings([picking])
    messages = logistics.gateway.call(
        "mail.message",
        "search_read",
        [[["message_id", "in", list(record.message_ids)]]],
        {"fields": ["body", "attachment_ids"], "order": "id"},
    )
    assert "Remis à &lt;b&gt;Müller&lt;/b&gt; 📦" in messages[0]["body"]
    assert "Zoë Müller" in messages[1]["body"]
    assert "Déposé chez le voisin 🏠" in messages[1]["body"]
    [attachment] = logistics.gateway.call(
        "ir.attachment", "read", [messages[1]["attachment_ids"]], {"fields": ["name"]}
    )
    assert attachment["name"] == "preuve-é.pdf"
