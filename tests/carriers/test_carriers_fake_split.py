"""The fake carrier bills a multi-package quote split exactly as settlement allocates it."""

from __future__ import annotations

import pytest

from shipsync.canonical import ChargeType
from shipsync.settlement import allocate
from shipsync.testing.fake_carrier import FakeCarrier


@pytest.mark.parametrize(
    ("packages", "weight_kg"),
    [(1, "1.5"), (2, "1.503"), (3, "1.004"), (4, "1.503"), (5, "1.337"), (7, "2.011")],
    ids=["1-package", "2-packages", "3-packages", "4-packages", "5-packages", "7-packages"],
)
def test_invoice_splits_the_quote_like_settlement(
    fake_carrier: FakeCarrier, packages: int, weight_kg: str
) -> None:
    """Each package's base charge is its ``allocate`` share; the shares add up to the quote."""
    client = fake_carrier.client()
    shipment = fake_carrier.shipment(packages=packages, weight_kg=weight_kg)
    booked = client.create_shipment(shipment)
    quote = next(r for r in client.quote_rates(shipment) if r.service == "standard")
    fake_carrier.service.issue_invoices()
    (invoice,) = client.fetch_invoices()
    assert [line.tracking_number for line in invoice.lines] == list(booked.tracking_numbers)
    bases = [line.charges[0] for line in invoice.lines]
    assert {charge.type for charge in bases} == {ChargeType.BASE_FREIGHT}
    assert [charge.amount for charge in bases] == allocate(quote.total, packages)
    assert invoice.total == quote.total
