"""Freight settlement: reconcile carrier invoices against shipments, exactly and in one pass.

Read a carrier's invoice CSV with its :class:`InvoiceColumns` (or take canonical
``FreightInvoice`` values from a driver), look every line up in a :class:`ShipmentIndex`, classify
it under :class:`MatchRules`, and get a :class:`ReconciliationReport` whose totals add back to each
invoice to the cent. With a :class:`SettlementLedger` the run is checkpointed and idempotent; with
an ``on_event`` sink it publishes ``freight.invoice_matched``, ``freight.discrepancy_found``,
``freight.charge_accrued`` and ``settlement.completed``; with a :class:`VendorBillSink` each
settled invoice becomes a draft vendor bill. :class:`ChargeAnomalyDetector` flags unusual charges
with robust statistics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipsync.settlement._anomaly import ChargeAnomaly, ChargeAnomalyDetector, GroupStats
from shipsync.settlement._bills import (
    DisputePolicy,
    MemoryVendorBillSink,
    VendorBill,
    VendorBillLine,
    VendorBillSink,
    build_vendor_bill,
)
from shipsync.settlement._columns import (
    CHARGE_COLUMNS,
    CREDIT_CHARGE_TYPES,
    FAKE_CARRIER_COLUMNS,
    InvoiceColumns,
    columns_for,
    register_columns,
)
from shipsync.settlement._index import (
    Expectation,
    MemoryShipmentIndex,
    ShipmentIndex,
    allocate,
    load_shipments_csv,
)
from shipsync.settlement._index_sqlite import SqliteShipmentIndex
from shipsync.settlement._ledger import SettlementLedger
from shipsync.settlement._odoo import OdooVendorBillSink, freight_invoice_of_bill
from shipsync.settlement._parse import (
    InvoiceRow,
    RowProblem,
    iter_invoice_rows,
    open_invoice_file,
    read_invoice_rows,
)
from shipsync.settlement._reconcile import (
    Reconciler,
    reconcile_file,
    report_json,
    rows_of_invoice,
)
from shipsync.settlement._report import (
    ClassTotal,
    InvoiceStatus,
    InvoiceSummary,
    LineBatch,
    LineOutcome,
    ReconciliationReport,
    ReportProblem,
)
from shipsync.settlement._rules import MatchRules, Tolerance, classify_charges

__all__ = [
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

if TYPE_CHECKING:
    from shipsync.settlement._columnar import ColumnarShipmentIndex
else:  # hidden from mypy, which would otherwise accept any name

    def __getattr__(name: str) -> object:
        # ColumnarShipmentIndex needs the ``columnar`` extra (pyarrow, numpy): loaded on first use
        if name == "ColumnarShipmentIndex":
            from shipsync.settlement._columnar import ColumnarShipmentIndex

            return ColumnarShipmentIndex
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
