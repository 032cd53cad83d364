"""The public surface of shipsync.settlement."""

from __future__ import annotations

import shipsync.settlement as settlement


def test_public_names_are_pinned() -> None:
    """Adding or removing a public name is a deliberate act: this list changes with it."""
    assert settlement.__all__ == [
        "CHARGE_COLUMNS",
        "CREDIT_CHARGE_TYPES",
        "FAKE_CARRIER_COLUMNS",
        "ChargeAnomaly",
        "ChargeAnomalyDetector",
        "ClassTotal",
        "ColumnarShipmentIndex",
        "DisputePolicy",
        "Expectation",
        "GroupStats",
        "InvoiceColumns",
        "InvoiceRow",
        "InvoiceStatus",
        "InvoiceSummary",
        "LineBatch",
        "LineOutcome",
        "MatchRules",
        "MemoryShipmentIndex",
        "MemoryVendorBillSink",
        "OdooVendorBillSink",
        "Reconciler",
        "ReconciliationReport",
        "ReportProblem",
        "RowProblem",
        "SettlementLedger",
        "ShipmentIndex",
        "SqliteShipmentIndex",
        "Tolerance",
        "VendorBill",
        "VendorBillLine",
        "VendorBillSink",
        "allocate",
        "build_vendor_bill",
        "classify_charges",
        "columns_for",
        "freight_invoice_of_bill",
        "iter_invoice_rows",
        "load_shipments_csv",
        "open_invoice_file",
        "read_invoice_rows",
        "reconcile_file",
        "register_columns",
        "report_json",
        "rows_of_invoice",
    ]


def test_every_public_name_resolves() -> None:
    """Each name in __all__ is importable from the package."""
    for name in settlement.__all__:
        assert getattr(settlement, name) is not None
