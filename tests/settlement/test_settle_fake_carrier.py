"""End to end: the fake carrier's invoices, with every discrepancy it injects, reconcile into events
and a vendor bill."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _settle_helpers import clock

from shipsync.canonical import (
    Event,
    FreightDiscrepancyFound,
    FreightInvoice,
    FreightInvoiceMatched,
    LineClass,
    Money,
    SettlementCompleted,
)
from shipsync.carriers.fake import DISCREPANCY_KINDS
from shipsync.settlement import (
    DisputePolicy,
    InvoiceStatus,
    LineOutcome,
    MemoryShipmentIndex,
    MemoryVendorBillSink,
    OdooVendorBillSink,
    Reconciler,
    SettlementLedger,
    VendorBill,
    build_vendor_bill,
    freight_invoice_of_bill,
)
from shipsync.testing.fake_carrier import FakeCarrier

EXPECTED = {
    "none": [LineClass.MATCHED],
    "fuel_surcharge": [LineClass.UNQUOTED_SURCHARGE],
    "residential_surcharge": [LineClass.UNQUOTED_SURCHARGE],
    "weight_adjustment": [LineClass.WEIGHT_ADJUSTMENT],
    "dimension_adjustment": [LineClass.WEIGHT_ADJUSTMENT],
    "address_correction": [LineClass.ADDRESS_CORRECTION],
    "duplicate_line": [LineClass.MATCHED, LineClass.DUPLICATE_LINE, LineClass.MATCHED],
    "unknown_tracking_number": [LineClass.MATCHED, LineClass.UNKNOWN_SHIPMENT],
    "billed_after_cancellation": [LineClass.BILLED_AFTER_CANCELLATION],
}


@pytest.fixture
def billed() -> Iterator[tuple[MemoryShipmentIndex, FreightInvoice, dict[str, str]]]:
    """One shipment per discrepancy kind booked, quoted and invoiced by the fake carrier."""
    assert set(EXPECTED) == {"none", *DISCREPANCY_KINDS}
    carrier = FakeCarrier(seed=4)
    index = MemoryShipmentIndex()
    kind_of: dict[str, str] = {}
    try:
        for kind in EXPECTED:
            extra = {"invoice_discrepancies": [kind]} if kind != "none" else None
            client = carrier.client(carrier.driver(extra=extra))
            shipment = carrier.shipment(packages=2 if kind == "duplicate_line" else 1)
            (rate,) = [r for r in client.quote_rates(shipment) if r.service == shipment.service]
            booked = client.create_shipment(shipment)
            cancelled = kind == "billed_after_cancellation"
            if cancelled:
                assert booked.carrier_shipment_id is not None
                client.cancel_shipment(booked.carrier_shipment_id)
            index.add_shipment(booked, rate, cancelled=cancelled)
            kind_of[booked.shipment_id] = kind
        carrier.service.issue_invoices()
        (invoice,) = carrier.client().fetch_invoices()
        yield index, invoice, kind_of
    finally:
        carrier.close()


def test_every_injected_discrepancy_gets_its_class(
    billed: tuple[MemoryShipmentIndex, FreightInvoice, dict[str, str]],
) -> None:
    """Each kind the fake carrier injects is classified as finance would name it."""
    index, invoice, kind_of = billed
    outcomes: list[LineOutcome] = []
    summary = Reconciler(index, carrier="fake", on_line=outcomes.append).reconcile_invoice(invoice)
    by_kind: dict[str, list[LineClass]] = {}
    for outcome, line in zip(
        outcomes, sorted(invoice.lines, key=lambda x: x.line_number), strict=True
    ):
        kind = kind_of.get(line.reference or "", "unknown_tracking_number")
        by_kind.setdefault(kind, []).append(outcome.line_class)
    assert by_kind == EXPECTED
    assert summary.total == invoice.total
    assert summary.matched_total + summary.disputed_total + summary.unknown_total == invoice.total


def test_the_invoice_settles_into_events_and_one_bill_exactly_once(
    billed: tuple[MemoryShipmentIndex, FreightInvoice, dict[str, str]], tmp_path: Path
) -> None:
    """Events and a draft bill on the first run; nothing new when the invoice comes again."""
    index, invoice, _ = billed
    events: list[Event] = []
    bills = MemoryVendorBillSink()
    with SettlementLedger(tmp_path / "ledger.sqlite") as ledger:
        reconciler = Reconciler(
            index, carrier="fake", ledger=ledger, on_event=events.append, bills=bills, now=clock
        )
        summary = reconciler.reconcile_invoice(invoice)
        again = Reconciler(
            index, carrier="fake", ledger=ledger, on_event=events.append, bills=bills, now=clock
        ).reconcile_invoice(invoice)
    assert summary.status is InvoiceStatus.SETTLED
    assert again.status is InvoiceStatus.ALREADY_SETTLED
    line_events = [
        e for e in events if isinstance(e, FreightInvoiceMatched | FreightDiscrepancyFound)
    ]
    assert len(line_events) == len(invoice.lines)
    (done,) = [e for e in events if isinstance(e, SettlementCompleted)]
    assert done.data.invoice_total == invoice.total
    assert bills.calls == 1
    (bill,) = bills.bills.values()
    assert bill.total + bill.held_back == invoice.total
    assert bill.total == summary.matched_total


class _RecordingLogistics:
    """Stands in for ``OdooLogistics``: records the invoices it is asked to bill."""

    def __init__(self) -> None:
        self.invoices: list[FreightInvoice] = []

    def create_vendor_bill(self, invoice: FreightInvoice, **options: Any) -> Any:
        self.invoices.append(invoice)

        class _Record:
            id = 41

        return _Record()


def test_a_flagged_bill_goes_to_odoo_as_one_charge_per_class(
    billed: tuple[MemoryShipmentIndex, FreightInvoice, dict[str, str]],
) -> None:
    """The Odoo sink hands OdooLogistics a canonical invoice that totals to the bill."""
    index, invoice, _ = billed
    summary = Reconciler(index, carrier="fake").reconcile_invoice(invoice)
    bill = build_vendor_bill(summary, DisputePolicy.FLAG)
    logistics = _RecordingLogistics()
    sink = OdooVendorBillSink(logistics, vendor_id=7)  # type: ignore[arg-type]
    assert sink.post(bill, idempotency_key="fake:x") == "odoo:account.move:41"
    (sent,) = logistics.invoices
    assert sent.invoice_number == invoice.invoice_number
    assert sent.total == invoice.total
    assert len(sent.lines) == len(summary.classes)
    assert any("(disputed)" in (line.charges[0].description or "") for line in sent.lines)
    empty = VendorBill(
        carrier="fake",
        invoice_number="X",
        currency="EUR",
        lines=(),
        total=Money.zero("EUR"),
        held_back=Money.of("1.00", "EUR"),
    )
    assert sink.post(empty, idempotency_key="fake:X") == "held:fake:X"
    assert freight_invoice_of_bill(bill).total == bill.total
