"""Logistics operations on Odoo, taking and returning canonical types, in few round trips.

Each public operation is a short sequence: *plan* (read what Odoo holds and decide what to
write, without writing), *write* (idempotent writes, the note that marks a fact as recorded
last, so a failure on the way is repeated in full), *report* (a typed record of what was done
and how many requests it took). The parts live beside this module: server facts asked once
(:mod:`shipsync.odoo._facts`), picking lookup (:mod:`shipsync.odoo._lookup`) and the write
strategy (:mod:`shipsync.odoo._writes`: Message-Ids, batched creates, ``write``/``load``).

Applying N events to M pickings takes at most seven requests whatever N and M (plus one per
further chunk of 1,000 notes or 5,000 ids, and two to validate delivered pickings when asked
to): one search of the pickings by tracking number (which reads their status too), one search
of the Message-Ids already posted, the server facts once per instance, one ``write`` or
``load`` of the statuses and one ``create`` of the notes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from shipsync.canonical import (
    Anomaly,
    Claim,
    FreightInvoice,
    Money,
    ProofOfDelivery,
    ReturnShipment,
    Shipment,
    ShipmentStatus,
    TrackingEvent,
)
from shipsync.errors import OdooCompanyAccessError, OdooMissingError, OdooModuleMissingError
from shipsync.odoo._answers import created_ids, record_ids
from shipsync.odoo._batch import IN_CHUNK, chunked, message_id_for
from shipsync.odoo._bills import (
    bill_values,
    credit_note_values,
    currency_id,
    find_bill,
    find_credit_note,
    read_bill,
)
from shipsync.odoo._companies import (
    CompanyGateway,
    OdooCompany,
    explain_absence,
    record_company,
    resolve_company,
    single_company,
    user_companies,
)
from shipsync.odoo._facts import ServerFacts
from shipsync.odoo._gateway import OdooGateway
from shipsync.odoo._lookup import PickingLookup
from shipsync.odoo._mapping import OdooFieldMap
from shipsync.odoo._records import (
    ApplyReport,
    PickingRecord,
    RecordedDocument,
    VendorBillRecord,
)
from shipsync.odoo._render import (
    LABEL_MIMETYPES,
    cancellation_body,
    event_body,
    m2o_id,
    proof_body,
    return_body,
    shipment_body,
)
from shipsync.odoo._status import StatusDecision, decide
from shipsync.odoo._versions import fields_for_version, version_facts
from shipsync.odoo._writes import Writer
from shipsync.telemetry import _hooks as _telemetry

__all__ = ["OdooLogistics", "event_message_id"]


def event_message_id(event: TrackingEvent) -> str:
    """The Message-Id under which ``event`` is recorded in Odoo's chatter."""
    return message_id_for("event", event.carrier, event.event_id)


@attrs.frozen
class _EventPlan:
    """What applying a batch of tracking events will write, decided before writing anything."""

    fresh: list[tuple[str, TrackingEvent]]
    duplicates: list[str]
    unmatched: list[str]
    notes: list[dict[str, Any]]
    writes: dict[int, dict[str, str | None]]
    status_written: dict[int, str]
    status_kept: dict[int, str]
    status_skipped: str | None
    anomalies: tuple[Anomaly, ...]
    to_validate: list[int]


@attrs.frozen
class _OneShipmentPlan:
    """What recording one booking on one picking will write."""

    values: dict[str, Any]
    per_package: dict[int, str]
    labels: list[tuple[str, bytes, str]]
    note: dict[str, Any]
    price_written: bool


@attrs.frozen
class _ShipmentPlan:
    """What recording a batch of bookings will write."""

    tracking: dict[int, dict[str, str | None]]
    prices: dict[int, dict[str, str | None]]
    labels: list[tuple[int, str, bytes, str]]
    notes: list[tuple[int, str, str]]


class OdooLogistics:
    """Logistics operations over any :class:`~shipsync.odoo.OdooGateway`.

    Every operation is idempotent: applying the same events, recording the same shipment or
    proof of delivery, or billing the same freight invoice again writes nothing new and says so.
    ``fields`` maps canonical facts onto Odoo fields (see :class:`~shipsync.odoo.OdooFieldMap`);
    what it leaves unset follows the server's version (:func:`~shipsync.odoo.fields_for_version`),
    and a server of a version shipsync does not know is refused here with
    :class:`~shipsync.errors.ConfigurationError`.
    """

    def __init__(
        self,
        gateway: OdooGateway,
        fields: OdooFieldMap | None = None,
        *,
        company: int | str | None = None,
    ) -> None:
        version_facts(gateway.server_version)  # an Odoo shipsync does not know: refused here
        self._fields = fields_for_version(fields or OdooFieldMap(), gateway.server_version)
        self._base = gateway
        self._allowed: dict[int, OdooCompany] | None = None
        self._company: OdooCompany | None = None
        self._scope: CompanyGateway | None = None
        if company is not None:  # checked now: a company the user may not access is refused
            self._company = resolve_company(company, self._companies())
            self._scope = CompanyGateway(gateway, self._company)
        self._gw: OdooGateway = self._scope or gateway
        self._facts = ServerFacts(self._gw, self._fields)
        self._lookup = PickingLookup(self._gw, self._fields, self._facts)
        self._writes = Writer(self._gw, self._fields, self._facts)

    @property
    def gateway(self) -> OdooGateway:
        """The gateway the operations run on (scoped to :attr:`company` when one is set)."""
        return self._gw

    @property
    def fields(self) -> OdooFieldMap:
        """The field mapping in use."""
        return self._fields

    @property
    def company(self) -> OdooCompany | None:
        """The company every operation runs in, or ``None`` (Odoo's defaults: every company
        of the user is read, records are created in the user's current company)."""
        return self._company

    # --- companies --------------------------------------------------------------------------

    def _companies(self) -> dict[int, OdooCompany]:
        if self._allowed is None:
            self._allowed = user_companies(self._base)
        return self._allowed

    def companies(self) -> list[OdooCompany]:
        """The companies the Odoo user may work in (asked once, two requests)."""
        return sorted(self._companies().values(), key=lambda c: c.id)

    def in_company(self, company: int | str) -> OdooLogistics:
        """The same operations scoped to ``company`` (an id or exact name).

        Every request then runs in that company only (``allowed_company_ids``): records of
        other companies are neither read nor written, and what is created (notes, labels,
        bills) belongs to it. A company the user may not access raises
        :class:`~shipsync.errors.OdooCompanyAccessError` naming it, before any write.
        """
        chosen = resolve_company(company, self._companies())
        scoped = OdooLogistics.__new__(OdooLogistics)
        scoped._fields = self._fields
        scoped._base = self._base
        scoped._allowed = self._allowed
        scoped._company = chosen
        scoped._scope = CompanyGateway(self._base, scoped._company)
        scoped._gw = scoped._scope
        scoped._facts = ServerFacts(scoped._gw, self._fields)
        scoped._lookup = PickingLookup(scoped._gw, self._fields, scoped._facts)
        scoped._writes = Writer(scoped._gw, self._fields, scoped._facts)
        return scoped

    def for_picking(self, picking_id: int) -> OdooLogistics:
        """The operations scoped to the company of the picking ``picking_id`` (inferred).

        A picking outside this instance's company, or outside the user's companies, raises
        :class:`~shipsync.errors.OdooCompanyAccessError` naming it.
        """
        if self._scope is not None:
            self._one(picking_id)
            return self
        _name, company = record_company(self._gw, self._fields.picking_model, picking_id)
        if company is None:
            return self
        return self.in_company(company)

    def for_invoice(self, invoice: FreightInvoice) -> OdooLogistics:
        """The operations scoped to the company of the pickings ``invoice`` covers (inferred).

        Pickings of several companies raise :class:`~shipsync.errors.OdooCompanyMismatchError`
        naming them; an invoice covering no known picking keeps this instance as it is.
        """
        found = self._lookup.rows_by_tracking(sorted({ln.tracking_number for ln in invoice.lines}))
        company = single_company(found, f"invoice {invoice.invoice_number}")
        if company is None or self._scope is not None:
            return self
        return self.in_company(company)

    def _one(self, picking_id: int) -> dict[str, Any]:
        """The picking's row; one outside the company (or the user's companies) is
        :class:`~shipsync.errors.OdooCompanyAccessError` naming it."""
        try:
            return self._lookup.one(picking_id)
        except OdooMissingError:
            # Not found: another company's (in a scope), outside the user's companies (a
            # typed access error naming it), or gone; asked once more, by id, to tell which.
            if self._scope is not None:
                explain_absence(self._scope, self._fields.picking_model, picking_id)
            record_company(self._gw, self._fields.picking_model, picking_id)
            raise

    def require_modules(self, *modules: str) -> None:
        """Raise :class:`~shipsync.errors.OdooModuleMissingError` for a module not installed."""
        self._facts.require_modules(*modules)

    # --- reading pickings -------------------------------------------------------------------

    def find_outgoing_pickings(self, sale_order: str) -> list[PickingRecord]:
        """The outgoing pickings of the sale order named ``sale_order`` (``"S00042"``)."""
        f = self._fields
        if not f.picking_sale_order or not self._facts.schema().has(
            f.picking_model, f.picking_sale_order
        ):
            raise OdooModuleMissingError("sale_stock")
        rows = self._lookup.search(
            [
                [f"{f.picking_sale_order}.name", "=", sale_order],
                ["picking_type_code", "=", "outgoing"],
            ]
        )
        return [self._lookup.to_record(row) for row in rows]

    def find_picking(self, name: str) -> PickingRecord | None:
        """The picking named ``name`` (``"WH/OUT/00007"``), or ``None``."""
        rows = self._lookup.search([["name", "=", name]])
        return self._lookup.to_record(rows[0]) if rows else None

    def find_pickings_by_tracking(
        self, tracking_numbers: Iterable[str]
    ) -> dict[str, PickingRecord]:
        """Map each tracking number found in Odoo to its picking (missing ones are left out)."""
        found = self._lookup.rows_by_tracking(sorted(set(tracking_numbers)))
        return {ref: self._lookup.to_record(row) for ref, row in found.items()}

    def read_pickings(self, picking_ids: Sequence[int]) -> list[PickingRecord]:
        """Read back pickings with what shipsync wrote: tracking, price, status, notes."""
        f = self._fields
        ids = sorted(set(picking_ids))
        found: list[dict[str, Any]] = []
        for chunk in chunked(ids, IN_CHUNK):
            found += self._lookup.search([["id", "in", list(chunk)]])
        if len(found) != len(ids):
            missing = sorted(set(ids) - {int(r["id"]) for r in found})
            if self._scope is not None:
                explain_absence(self._scope, f.picking_model, missing[0])
            shown = ", ".join(map(str, missing[:20])) + (", ..." if len(missing) > 20 else "")
            raise OdooMissingError(f"{len(missing)} picking(s) do not exist: {shown}")
        notes = self._lookup.notes_by_picking(ids)
        packages: dict[int, dict[int, tuple[str, str]]] = {}
        if self._facts.schema().has(f.package_model, f.package_tracking):
            packages = self._lookup.packages_of(ids)
        return [
            self._lookup.to_record(
                row,
                packages={
                    name: ref for name, ref in packages.get(int(row["id"]), {}).values() if ref
                },
                message_ids=notes.get(int(row["id"]), ()),
            )
            for row in found
        ]

    # --- tracking events --------------------------------------------------------------------

    @_telemetry.traced_odoo_operation  # telemetry
    def apply_events(self, events: Iterable[TrackingEvent]) -> ApplyReport:
        """Post each event once as a chatter note and move each picking's status forward.

        Pickings are found by the events' tracking numbers. An event seen before (in Odoo or
        earlier in the same batch) is reported as a duplicate and not posted again. Each
        picking's new events are folded with :func:`shipsync.canonical.fold`, starting from the
        status the picking holds (and the base beside it, with ``picking_status_base``); events
        the fold rejects from there get their note but set no status (``ApplyReport.anomalies``),
        so an event older than what Odoo already shows never moves a picking back
        (``ApplyReport.status_kept`` when none of a picking's events applied). With
        ``validate_on_delivery`` the pickings the batch leaves delivered (moved there, or
        confirmed by a repeated delivery scan) are validated too.
        """
        start = self._gw.round_trips
        plan = self._plan_events(events)
        # Statuses first, notes last: a failure on the way leaves the events without notes, so
        # repeating the call applies them again. Created first, the notes would mark the events
        # as seen and a repeat would never write the status the failed call did not write.
        self._writes.write_rows(self._fields.picking_model, plan.writes)
        validated, refused = self._writes.validate(plan.to_validate)
        if plan.notes:
            self._writes.create_many("mail.message", plan.notes)
        return ApplyReport(
            applied=tuple(e.event_id for _, e in plan.fresh),
            duplicates=tuple(plan.duplicates),
            unmatched=tuple(plan.unmatched),
            status_written=plan.status_written,
            status_skipped=plan.status_skipped,
            status_kept=plan.status_kept,
            anomalies=plan.anomalies,
            validated=tuple(validated),
            validation_errors=refused,
            round_trips=self._gw.round_trips - start,
        )

    def _plan_events(self, events: Iterable[TrackingEvent]) -> _EventPlan:
        """Read what Odoo holds for the events' pickings; decide notes, statuses, validations."""
        unique: dict[str, TrackingEvent] = {}
        duplicates: list[str] = []
        for event in events:
            key = event_message_id(event)
            if key in unique:
                duplicates.append(event.event_id)
            else:
                unique[key] = event
        found = self._lookup.rows_by_tracking(sorted({e.tracking_number for e in unique.values()}))
        unmatched = [e.event_id for e in unique.values() if e.tracking_number not in found]
        matched = {k: e for k, e in unique.items() if e.tracking_number in found}
        existing = self._writes.existing(sorted(matched)) if matched else set()
        duplicates += [e.event_id for k, e in matched.items() if k in existing]
        fresh = sorted(
            ((k, e) for k, e in matched.items() if k not in existing),
            key=lambda item: (item[1].occurred_at, item[1].event_id),
        )
        picking_of = {e.tracking_number: int(found[e.tracking_number]["id"]) for _, e in fresh}
        # Subtype and author are looked up here, before anything is written.
        notes = [
            self._writes.note(picking_of[e.tracking_number], event_body(e), k) for k, e in fresh
        ]
        by_picking: dict[int, list[TrackingEvent]] = {}
        for _, event in fresh:
            by_picking.setdefault(picking_of[event.tracking_number], []).append(event)
        row_of = {int(row["id"]): row for row in found.values()}
        status_field, base_field, skipped = self._status_fields()
        decisions = {
            pid: decide(
                self._fields,
                group,
                row_of[pid].get(status_field) or None if status_field else None,
                row_of[pid].get(base_field) or None if base_field else None,
            )
            for pid, group in sorted(by_picking.items())
        }
        writes, written, kept, delivered = self._status_writes(
            decisions, row_of, status_field, base_field
        )
        to_validate: list[int] = []
        if self._fields.validate_on_delivery:
            final = version_facts(self._gw.server_version).picking_final_states
            to_validate = [pid for pid in delivered if row_of[pid].get("state") not in final]
        return _EventPlan(
            fresh=fresh,
            duplicates=duplicates,
            unmatched=unmatched,
            notes=notes,
            writes=writes,
            status_written=written,
            status_kept=kept,
            status_skipped=skipped,
            anomalies=tuple(a for _, d in sorted(decisions.items()) for a in d.state.anomalies),
            to_validate=to_validate,
        )

    def _status_fields(self) -> tuple[str | None, str | None, str | None]:
        """The status and base fields to write (``None`` when absent) and why none, if so."""
        f = self._fields
        schema = self._facts.schema()
        if f.picking_status is None:
            return None, None, "no status field is configured"
        if not schema.has(f.picking_model, f.picking_status):
            return None, None, f"Odoo has no field {f.picking_model}.{f.picking_status}"
        base = f.picking_status_base if schema.has(f.picking_model, f.picking_status_base) else None
        return f.picking_status, base, None

    @staticmethod
    def _status_writes(
        decisions: Mapping[int, StatusDecision],
        row_of: Mapping[int, Mapping[str, Any]],
        status_field: str | None,
        base_field: str | None,
    ) -> tuple[dict[int, dict[str, str | None]], dict[int, str], dict[int, str], list[int]]:
        """The rows to write, the statuses written, those kept and why, the delivered pickings."""
        writes: dict[int, dict[str, str | None]] = {}
        written: dict[int, str] = {}
        kept: dict[int, str] = {}
        delivered: list[int] = []
        for picking_id, decision in sorted(decisions.items()):
            if not decision.allowed:
                kept[picking_id] = decision.refusal or ""
                continue
            if decision.status is ShipmentStatus.DELIVERED:
                delivered.append(picking_id)
            if status_field is None:
                continue
            row = row_of[picking_id]
            values: dict[str, str | None] = {}
            if decision.value is not None:
                written[picking_id] = values[status_field] = decision.value
            if base_field is not None and decision.base_changed:
                values[base_field] = decision.base
            if values and base_field is not None:  # load writes every column: complete the row
                values.setdefault(status_field, row.get(status_field) or None)
                values.setdefault(base_field, row.get(base_field) or None)
            if values:
                writes[picking_id] = values
        return writes, written, kept, delivered

    # --- documents --------------------------------------------------------------------------

    @_telemetry.traced_odoo_operation  # telemetry
    def record_shipment(
        self, picking_id: int, shipment: Shipment, *, price: Money | None = None
    ) -> RecordedDocument:
        """Record a booked shipment on a picking: tracking, price, labels and one note.

        Tracking numbers go one per package into the configured package field when the
        picking's packages are matched by name to the parcels' ``reference``; the picking then
        keeps the first one. Otherwise all go joined into the picking's tracking field. The
        price is written when its currency is the company's or a currency field is configured.
        Recording the same shipment on the same picking again writes nothing.
        """
        start = self._gw.round_trips
        key = message_id_for("shipment", shipment.carrier, shipment.shipment_id, str(picking_id))
        row = self._one(picking_id)
        if self._writes.existing([key]):
            return RecordedDocument(
                picking_id=picking_id,
                already_recorded=True,
                round_trips=self._gw.round_trips - start,
            )
        plan = self._plan_shipment(row, shipment, price, key)
        # Writes first (repeating them is harmless), then the labels, then the note that marks
        # the shipment as recorded: a call that fails before the note is repeated in full, and
        # only a failure between the labels and the note leaves labels a repeat attaches again.
        f = self._fields
        if plan.per_package and f.package_tracking:
            self._writes.write_per_record(f.package_model, f.package_tracking, plan.per_package)
        if plan.values:
            self._gw.call(f.picking_model, "write", [[picking_id], plan.values])
        attachment_ids = self._writes.attach(picking_id, plan.labels)
        if attachment_ids:
            plan.note["attachment_ids"] = [[6, 0, list(attachment_ids)]]
        [message_id] = self._writes.create_many("mail.message", [plan.note])
        return RecordedDocument(
            picking_id=picking_id,
            message_id=message_id,
            attachment_ids=tuple(attachment_ids),
            price_written=plan.price_written,
            round_trips=self._gw.round_trips - start,
        )

    def _plan_shipment(
        self, row: Mapping[str, Any], shipment: Shipment, price: Money | None, key: str
    ) -> _OneShipmentPlan:
        """Tracking values (per package when the packages match), price, labels and the note."""
        f = self._fields
        picking_id = int(row["id"])
        refs = [p.tracking_number for p in shipment.packages if p.tracking_number]
        per_package: dict[int, str] = {}
        if refs and self._facts.schema().has(f.package_model, f.package_tracking):
            packages = self._lookup.packages_of([picking_id]).get(picking_id, {})
            by_name = {name: pid for pid, (name, _) in packages.items()}
            for package in shipment.packages:
                ref = package.parcel.reference
                if package.tracking_number and ref and ref in by_name:
                    per_package[by_name[ref]] = package.tracking_number
        all_matched = bool(refs) and len(per_package) == len(refs)
        values: dict[str, Any] = {}
        if refs:
            values[f.picking_tracking] = refs[0] if all_matched else f.tracking_separator.join(refs)
        price_values, price_written = self._price_values(row, price)
        if price_written:
            assert price is not None
            values.update(price_values)
            values[str(f.picking_carrier_price)] = float(price.amount)
        labels = [
            (
                f"{row['name']}-{p.label.tracking_number}.{p.label.format.value}".replace("/", "-"),
                p.label.data,
                LABEL_MIMETYPES[p.label.format],
            )
            for p in shipment.packages
            if p.label is not None
        ]
        note = self._writes.note(picking_id, shipment_body(shipment, refs, price), key)
        return _OneShipmentPlan(values, per_package, labels, note, price_written)

    def _price_values(
        self, row: Mapping[str, Any], price: Money | None
    ) -> tuple[dict[str, str | None], bool]:
        """The currency value to write beside the price (if a field holds it), and whether the
        price can be written at all: with a currency field, or in the company's currency."""
        f = self._fields
        schema = self._facts.schema()
        price_field, currency_field = f.picking_carrier_price, f.picking_price_currency
        if price is None or not price_field or not schema.has(f.picking_model, price_field):
            return {}, False
        if currency_field and schema.has(f.picking_model, currency_field):
            return {currency_field: price.currency}, True
        company = m2o_id(row.get("company_id")) or 0
        return {}, self._facts.currencies().get(company) == price.currency

    def record_shipments(
        self, bookings: Sequence[tuple[int, Shipment, Money | None]]
    ) -> list[RecordedDocument]:
        """:meth:`record_shipment` for many pickings in a bounded number of requests.

        One read of the pickings, one search of the notes already posted, one ``write`` or
        ``load`` of the tracking numbers (and one of the prices), one ``create`` of the labels
        per 32 MiB and one of the notes, whatever the number of pickings. With a per-package
        tracking field configured, each picking is recorded on its own (packages are matched
        per picking).
        """
        f = self._fields
        if self._facts.schema().has(f.package_model, f.package_tracking):
            return [self.record_shipment(pid, s, price=p) for pid, s, p in bookings]
        start = self._gw.round_trips
        plan = self._plan_shipments(bookings)
        self._writes.write_rows(f.picking_model, plan.tracking)
        if plan.prices:
            self._writes.write_rows(f.picking_model, plan.prices)
        attachment_ids = self._writes.attach_many(plan.labels)
        by_picking: dict[int, list[int]] = {}
        for (picking_id, *_), attachment_id in zip(plan.labels, attachment_ids, strict=True):
            by_picking.setdefault(picking_id, []).append(attachment_id)
        notes = [
            self._writes.note(pid, body, key, by_picking.get(pid, ()))
            for pid, body, key in plan.notes
        ]
        message_ids = self._writes.create_many("mail.message", notes)
        trips = self._gw.round_trips - start
        done = dict(zip([pid for pid, _, _ in plan.notes], message_ids, strict=True))
        return [
            RecordedDocument(
                picking_id=pid,
                message_id=done.get(pid),
                attachment_ids=tuple(by_picking.get(pid, ())),
                already_recorded=pid not in done,
                price_written=pid in plan.prices,
                round_trips=trips,
            )
            for pid, _, _ in bookings
        ]

    def _plan_shipments(
        self, bookings: Sequence[tuple[int, Shipment, Money | None]]
    ) -> _ShipmentPlan:
        """Read the pickings and the notes posted; decide the writes, labels and notes."""
        f = self._fields
        ids = sorted({pid for pid, _, _ in bookings})
        rows = {int(r["id"]): r for r in self._lookup.search([["id", "in", ids]])}
        missing = [pid for pid in ids if pid not in rows]
        if missing and self._scope is not None:
            explain_absence(self._scope, f.picking_model, missing[0])
        if missing:
            raise OdooMissingError(f"{len(missing)} picking(s) do not exist: {missing[:20]}")
        keys = {
            pid: message_id_for("shipment", s.carrier, s.shipment_id, str(pid))
            for pid, s, _ in bookings
        }
        existing = self._writes.existing(sorted(set(keys.values())))
        plan = _ShipmentPlan({}, {}, [], [])
        for picking_id, shipment, price in bookings:
            key = keys[picking_id]
            if key in existing or any(n[0] == picking_id for n in plan.notes):
                continue
            refs = [p.tracking_number for p in shipment.packages if p.tracking_number]
            if refs:
                plan.tracking[picking_id] = {f.picking_tracking: f.tracking_separator.join(refs)}
            currency_values, written = self._price_values(rows[picking_id], price)
            if written and price is not None and f.picking_carrier_price:
                plan.prices[picking_id] = {
                    f.picking_carrier_price: str(price.amount),
                    **currency_values,
                }
            plan.labels.extend(
                (
                    picking_id,
                    f"{rows[picking_id]['name']}-{p.label.tracking_number}.{p.label.format.value}".replace(
                        "/", "-"
                    ),
                    p.label.data,
                    LABEL_MIMETYPES[p.label.format],
                )
                for p in shipment.packages
                if p.label is not None
            )
            plan.notes.append((picking_id, shipment_body(shipment, refs, price), key))
        return plan

    @_telemetry.traced_odoo_operation  # telemetry
    def record_proof_of_delivery(
        self,
        picking_id: int,
        proof: ProofOfDelivery,
        *,
        document: bytes | None = None,
        filename: str = "proof-of-delivery.pdf",
        mimetype: str = "application/pdf",
    ) -> RecordedDocument:
        """Attach a proof of delivery (optional file) and post one note; once per proof."""
        start = self._gw.round_trips
        key = message_id_for(
            "pod", proof.shipment_id, proof.tracking_number, proof.delivered_at.isoformat()
        )
        self._one(picking_id)
        if self._writes.existing([key]):
            return RecordedDocument(
                picking_id=picking_id,
                already_recorded=True,
                round_trips=self._gw.round_trips - start,
            )
        attachment_ids = self._writes.attach(
            picking_id, [(filename, document, mimetype)] if document is not None else []
        )
        body = proof_body(proof)
        [message_id] = self._writes.create_many(
            "mail.message", [self._writes.note(picking_id, body, key, attachment_ids)]
        )
        return RecordedDocument(
            picking_id=picking_id,
            message_id=message_id,
            attachment_ids=tuple(attachment_ids),
            round_trips=self._gw.round_trips - start,
        )

    def record_cancellation(
        self, picking_id: int, shipment: Shipment, *, voided: bool, reason: str
    ) -> RecordedDocument:
        """Say on a cancelled picking what became of its booking: voided, or to void by hand.

        Once per shipment and picking. A label that could not be voided is flagged in the note
        so someone voids it with the carrier.
        """
        start = self._gw.round_trips
        key = message_id_for("cancel", shipment.carrier, shipment.shipment_id, str(picking_id))
        self._one(picking_id)
        if self._writes.existing([key]):
            return RecordedDocument(
                picking_id=picking_id,
                already_recorded=True,
                round_trips=self._gw.round_trips - start,
            )
        body = cancellation_body(shipment, voided=voided, reason=reason)
        [message_id] = self._writes.create_many(
            "mail.message", [self._writes.note(picking_id, body, key)]
        )
        return RecordedDocument(
            picking_id=picking_id, message_id=message_id, round_trips=self._gw.round_trips - start
        )

    def record_return(self, picking_id: int, returned: ReturnShipment) -> RecordedDocument:
        """Record a return label on the return picking: tracking number, label, one note."""
        start = self._gw.round_trips
        key = message_id_for("return", returned.carrier, returned.return_id, str(picking_id))
        row = self._one(picking_id)
        if self._writes.existing([key]):
            return RecordedDocument(
                picking_id=picking_id,
                already_recorded=True,
                round_trips=self._gw.round_trips - start,
            )
        self._gw.call(
            self._fields.picking_model,
            "write",
            [[picking_id], {self._fields.picking_tracking: returned.tracking_number}],
        )
        files = []
        if returned.label is not None:
            name = f"{row['name']}-return-{returned.tracking_number}.{returned.label.format.value}"
            files.append(
                (
                    name.replace("/", "-"),
                    returned.label.data,
                    LABEL_MIMETYPES[returned.label.format],
                )
            )
        attachment_ids = self._writes.attach(picking_id, files)
        note = self._writes.note(picking_id, return_body(returned), key, attachment_ids)
        [message_id] = self._writes.create_many("mail.message", [note])
        return RecordedDocument(
            picking_id=picking_id,
            message_id=message_id,
            attachment_ids=tuple(attachment_ids),
            round_trips=self._gw.round_trips - start,
        )

    # --- freight invoices -------------------------------------------------------------------

    def create_vendor_bill(
        self, invoice: FreightInvoice, *, vendor_id: int, journal_id: int | None = None
    ) -> VendorBillRecord:
        """Create a draft vendor bill for a carrier's freight invoice, once per invoice number.

        One line per charge, labelled with the tracking number, charge type and the picking it
        covers; the bill's origin lists the pickings. When a bill of that vendor with that
        reference exists, it is read back with ``created=False`` and nothing is written.

        In a company (:attr:`company`, :meth:`in_company`, :meth:`for_invoice`), the bill goes
        to that company's purchase journal (or ``journal_id``, which must be one of its purchase
        journals, else :class:`~shipsync.errors.OdooCompanyAccessError`), in the invoice's
        currency, and is looked for only in that company: each company bills its own freight.
        """
        existing = find_bill(self._gw, invoice.invoice_number, vendor_id)
        scoped = self._company is not None
        if existing is not None:
            return read_bill(self._gw, existing, created=False, with_company=scoped)
        currency = currency_id(self._gw, invoice.currency)
        rows = self._lookup.rows_by_tracking(
            sorted({line.tracking_number for line in invoice.lines})
        )
        if scoped:
            journal_id = self._bill_journal(journal_id)
        values = bill_values(
            invoice,
            vendor_id=vendor_id,
            currency_id=currency,
            pickings={ref: str(row["name"]) for ref, row in rows.items()},
            journal_id=journal_id,
        )
        created = self._gw.call("account.move", "create", [[values]])
        [bill_id] = created_ids(created, 1, "account.move.create")
        return read_bill(self._gw, bill_id, created=True, with_company=scoped)

    def _bill_journal(self, journal_id: int | None) -> int:
        """The company's purchase journal: ``journal_id`` checked, or its first one."""
        company = self._company
        assert company is not None
        kind = version_facts(self._gw.server_version).bill_journal_type
        domain: list[Any] = [["type", "=", kind], ["company_id", "=", company.id]]
        if journal_id is not None:
            domain.append(["id", "=", journal_id])
        found = record_ids(
            self._gw.call(
                "account.journal", "search", [domain], {"limit": 1, "order": "sequence, id"}
            ),
            "account.journal.search",
        )
        if found:
            return found[0]
        if journal_id is not None:
            raise OdooCompanyAccessError(
                f"account.journal {journal_id} is not a {kind} journal of company {company}",
                record=f"account.journal {journal_id}",
                company=company.name,
            )
        raise OdooMissingError(f"company {company} has no {kind} journal")

    def read_vendor_bill(self, invoice_number: str, *, vendor_id: int) -> VendorBillRecord | None:
        """Read back the vendor bill of ``vendor_id`` referenced ``invoice_number``, if any."""
        bill_id = find_bill(self._gw, invoice_number, vendor_id)
        if bill_id is None:
            return None
        return read_bill(self._gw, bill_id, created=False, with_company=self._company is not None)

    def create_credit_note(self, claim: Claim, *, vendor_id: int) -> VendorBillRecord:
        """Draft the carrier's credit note (``in_refund``) for a settled claim, once per claim.

        ``ref`` is the claim id; one line for the settled amount (or the claimed one). In a
        company, the note goes to that company's purchase journal.
        """
        scoped = self._company is not None
        existing = find_credit_note(self._gw, claim.claim_id, vendor_id)
        if existing is not None:
            return read_bill(self._gw, existing, created=False, with_company=scoped)
        amount = claim.settled_amount or claim.amount
        values = credit_note_values(
            claim,
            vendor_id=vendor_id,
            currency_id=currency_id(self._gw, amount.currency),
            journal_id=self._bill_journal(None) if scoped else None,
        )
        created = self._gw.call("account.move", "create", [[values]])
        [note_id] = created_ids(created, 1, "account.move.create")
        return read_bill(self._gw, note_id, created=True, with_company=scoped)
