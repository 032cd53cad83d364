"""What the logistics operations return: typed views of what is in Odoo."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from shipsync.canonical import Anomaly, Money

__all__ = [
    "ApplyReport",
    "PickingRecord",
    "RecordedDocument",
    "VendorBillLineRecord",
    "VendorBillRecord",
]


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PickingRecord(_Record):
    """A picking as shipsync sees it.

    ``tracking_numbers`` are the picking's references split on the separator, plus the
    per-package references when a package field is configured; ``status`` is the mapped status
    field's value (``None`` without one); ``carrier_price`` is ``None`` when unset or when its
    currency is not known; ``applied_event_ids`` are the Message-Ids shipsync posted on it.
    """

    id: int
    name: str
    state: str
    tracking_numbers: tuple[str, ...] = ()
    package_tracking: dict[str, str] = {}
    carrier_price: Money | None = None
    status: str | None = None
    sale_order: str | None = None
    message_ids: tuple[str, ...] = ()


class ApplyReport(_Record):
    """What :meth:`~shipsync.odoo.OdooLogistics.apply_events` did.

    ``applied``: event ids posted now; ``duplicates``: already posted before (or twice in the
    batch); ``unmatched``: no picking carries their tracking number; ``status_written``: picking
    id to the status value written; ``status_skipped``: why no status was written, if so;
    ``status_kept``: picking id to why its status was left as it was (folded from the status
    Odoo holds, none of the picking's new events applied, and the batch alone says otherwise:
    stale events); ``anomalies``: the new events the canonical fold, from the stored status,
    did not apply (posted as notes all the same); ``validated``: pickings
    validated on delivery; ``validation_errors``: Odoo's reason for each delivered picking it
    refused to validate (the notes and statuses are written all the same); ``round_trips``:
    requests the call took.
    """

    applied: tuple[str, ...] = ()
    duplicates: tuple[str, ...] = ()
    unmatched: tuple[str, ...] = ()
    status_written: dict[int, str] = {}
    status_skipped: str | None = None
    status_kept: dict[int, str] = {}
    anomalies: tuple[Anomaly, ...] = ()
    validated: tuple[int, ...] = ()
    validation_errors: dict[int, str] = {}
    round_trips: int = 0


class RecordedDocument(_Record):
    """The result of recording a shipment or a proof of delivery on a picking.

    ``already_recorded`` is true when the same fact had been recorded before and nothing was
    written this time. ``price_written`` says whether the carrier price went into Odoo.
    """

    picking_id: int
    message_id: int | None = None
    attachment_ids: tuple[int, ...] = ()
    already_recorded: bool = False
    price_written: bool = False
    round_trips: int = 0


class VendorBillLineRecord(_Record):
    """One line of a vendor bill, read back."""

    id: int
    label: str
    amount: Money


class VendorBillRecord(_Record):
    """A draft (or later) vendor bill for a carrier's freight invoice, read back.

    ``created`` is false when the bill existed already for that invoice number and vendor.
    """

    id: int
    invoice_number: str
    state: str
    vendor_id: int
    total: Money
    lines: tuple[VendorBillLineRecord, ...]
    picking_names: tuple[str, ...] = ()
    created: bool = True
    company_id: int | None = None
    """The bill's company (read by an instance scoped to a company; else ``None``)."""
    journal_id: int | None = None
    """The bill's journal (read by an instance scoped to a company; else ``None``)."""
