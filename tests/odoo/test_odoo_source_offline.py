"""OdooSource on the in-memory Odoo: whatever the records hold, each change becomes an event or
a rejection with its reason, never a crash and never a silent drop."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipsync.canonical import PickingReady
from shipsync.odoo import PICKINGS_READY, Change, MemoryCursorStore, OdooSource
from shipsync.testing.odoo import MemoryOdoo

_odd = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**6),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.lists(st.integers(0, 5), max_size=3),
)
_country = st.one_of(_odd, st.sampled_from(["DE", "FR", "us", "XX", "", "DEU"]))


@settings(max_examples=60)
@given(
    partner=st.fixed_dictionaries(
        {
            "name": _odd,
            "street": _odd,
            "street2": _odd,
            "city": _odd,
            "zip": _odd,
            "country_code": _country,
            "phone": _odd,
            "email": _odd,
            "is_company": _odd,
        }
    ),
    picking=st.fixed_dictionaries(
        {
            "name": _odd,
            "shipping_weight": _odd,
            "weight": _odd,
            "origin": _odd,
            "date_deadline": _odd,
            "carrier_id": st.one_of(st.just(False), st.just([50, "Fake Express"]), _odd),
            "sale_id": st.one_of(st.just(False), st.just([9, "S00009"]), _odd),
        }
    ),
)
def test_every_ready_change_is_an_event_or_a_rejection_whatever_odoo_holds(
    partner: dict[str, Any], picking: dict[str, Any]
) -> None:
    """Odd partner and picking values: the change is built into an event or rejected, typed."""
    odoo = MemoryOdoo()
    odoo.tables["res.partner"][1].update(country_code="FR", city="Lyon")
    customer = odoo.insert("res.partner", partner)
    row = {"id": 7, "partner_id": [customer, "x"], "company_id": [1, "Main"], **picking}
    source = OdooSource(odoo, MemoryCursorStore(), database="t")
    change = Change("picking.ready", 7, "2026-12-01 09:00:00", row)
    events, rejected = source.events_for(PICKINGS_READY, [change])
    assert len(events) + len(rejected) == 1
    for event in events:
        assert isinstance(event, PickingReady)
        assert event.data.shipment.shipment_id == "odoo:t:stock.picking:7"
    for reason in rejected.values():
        assert reason


@pytest.mark.parametrize("weight", [float("nan"), float("inf"), -3.0, 1e300, True, "2 kg"])
def test_an_odd_weight_is_a_rejection_or_the_minimum_parcel_never_a_crash(weight: object) -> None:
    """NaN, infinite, negative, huge or non-numeric weights never crash the source."""
    odoo = MemoryOdoo()
    odoo.tables["res.partner"][1].update(country_code="FR")
    customer = odoo.insert("res.partner", {"name": "x", "country_code": "DE"})
    row = {"id": 7, "name": "P", "partner_id": [customer, "x"], "company_id": [1, "Main"]}
    change = Change("picking.ready", 7, "2026-12-01 09:00:00", {**row, "shipping_weight": weight})
    events, rejected = OdooSource(odoo, MemoryCursorStore(), database="t").events_for(
        PICKINGS_READY, [change]
    )
    assert len(events) + len(rejected) == 1


@settings(max_examples=40)
@given(price=_odd, quantity=_odd, hs_code=_odd)
def test_odd_customs_values_reject_the_picking_with_a_reason_or_build_its_commodities(
    price: object, quantity: object, hs_code: object
) -> None:
    """A cross-border picking whose move or product holds odd values: commodities or rejection."""
    odoo = MemoryOdoo()
    odoo.tables["res.partner"][1].update(country_code="FR")
    customer = odoo.insert("res.partner", {"name": "x", "country_code": "US"})
    product = odoo.insert(
        "product.product", {"display_name": "Widget", "hs_code": hs_code, "list_price": price}
    )
    odoo.insert(
        "stock.move",
        {"picking_id": 7, "product_id": product, "product_uom_qty": quantity, "state": "assigned"},
    )
    row = {"id": 7, "name": "P", "partner_id": [customer, "x"], "company_id": [1, "Main"]}
    change = Change("picking.ready", 7, "2026-12-01 09:00:00", row)
    events, rejected = OdooSource(odoo, MemoryCursorStore(), database="t").events_for(
        PICKINGS_READY, [change]
    )
    assert len(events) + len(rejected) == 1
    for event in events:
        assert isinstance(event, PickingReady)
        assert event.data.shipment.customs is not None
