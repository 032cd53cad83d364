"""Logistics operations on Odoo, taking and returning canonical types, in few round trips.

Theory of operation. Every write is made idempotent on the Odoo side by a stable Message-Id
(:func:`~shipsync.odoo.event_message_id`): the chatter note that records a fact carries an id
derived from the fact (the carrier's event id, the shipment id, the proof of delivery), and
``mail.message.message_id`` is indexed, so one ``search_read`` with an ``in`` domain tells which
facts are already in Odoo. Notes are created with ``mail.message`` ``create`` on a list of
dicts (one request for up to :data:`~shipsync.odoo.CREATE_CHUNK` notes; this sends no
notification whatever the subtype, and the body is escaped here), with the Note subtype so
the notes stay internal (not shown to portal followers such as the customer). Pickings are
found with one ``search_read`` on the tracking field,
which also reads the status each picking holds (and its base, when a field keeps it): the
canonical fold of the batch's events starts from it (:mod:`shipsync.odoo._status`) at no extra
cost. A status equal for many
pickings is one ``write``, different statuses are one ``load`` with ``.id``. Facts about the
server (which fields exist, the subtype id, the user's partner) are asked once per instance and
cached. Applying N events to M pickings therefore takes at most seven requests whatever N and M
(plus one per further chunk of 1,000 notes or 5,000 ids, and two to validate delivered pickings
when asked to).
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from shipsync.canonical import (
    CURRENCY_EXPONENTS,
    FreightInvoice,
    Money,
    ProofOfDelivery,
    Shipment,
    ShipmentStatus,
    TrackingEvent,
)
from shipsync.errors import (
    ConfigurationError,
    OdooError,
    OdooMissingError,
    OdooModuleMissingError,
    OdooResponseError,
    OdooUserError,
    OdooValidationError,
)
from shipsync.odoo._answers import created_ids, is_id, mapping, rows
from shipsync.odoo._batch import (
    CREATE_CHUNK,
    IN_CHUNK,
    chunked,
    message_id_for,
    or_domain,
    split_refs,
)
from shipsync.odoo._bills import bill_values, currency_id, find_bill, read_bill
from shipsync.odoo._gateway import OdooGateway
from shipsync.odoo._mapping import OdooFieldMap
from shipsync.odoo._records import (
    ApplyReport,
    PickingRecord,
    RecordedDocument,
    VendorBillRecord,
)
from shipsync.odoo._render import (
    LABEL_MIMETYPES,
    event_body,
    m2o_id,
    m2o_name,
    money_from_float,
    proof_body,
    shipment_body,
)
from shipsync.odoo._status import decide
from shipsync.telemetry import _hooks as _telemetry

__all__ = ["OdooLogistics", "event_message_id"]

_FALLBACK_CHUNK = 200
_ATTACH_BYTES = 32 * 1024 * 1024
"""Base64 bytes of attachments per ``create`` request (Odoo refuses bodies over 128 MiB)."""
_DONE_STATES = frozenset({"done", "cancel"})


def event_message_id(event: TrackingEvent) -> str:
    """The Message-Id under which ``event`` is recorded in Odoo's chatter."""
    return message_id_for("event", event.carrier, event.event_id)


@attrs.frozen
class _Schema:
    """Which configured fields the server has, by ``(model, field)``."""

    present: frozenset[tuple[str, str]]

    def has(self, model: str, field: str | None) -> bool:
        return field is not None and (model, field) in self.present


# Fields a host may name in OdooFieldMap, other than the tracking field (checked above). OCA's
# default status field is optional (skipped and reported when absent); any other is checked.
_CHOSEN_FIELDS = (
    ("picking_status", "picking_model"),
    ("picking_carrier_price", "picking_model"),
    ("picking_price_currency", "picking_model"),
    ("picking_status_base", "picking_model"),
    ("picking_sale_order", "picking_model"),
    ("package_tracking", "package_model"),
)


def _check_chosen_fields(f: OdooFieldMap, schema: _Schema) -> None:
    """A field the host named itself that the server lacks is a mistake: say so, never skip it."""
    for attribute, model_attribute in _CHOSEN_FIELDS:
        name = getattr(f, attribute)
        if (
            attribute in f.model_fields_set
            and name
            and not schema.has(getattr(f, model_attribute), name)
        ):
            raise ConfigurationError(
                f"OdooFieldMap.{attribute}: Odoo has no field {getattr(f, model_attribute)}.{name}"
            )


class OdooLogistics:
    """Logistics operations over any :class:`~shipsync.odoo.OdooGateway`.

    Every operation is idempotent: applying the same events, recording the same shipment or
    proof of delivery, or billing the same freight invoice again writes nothing new and says so.
    ``fields`` maps canonical facts onto Odoo fields (see :class:`~shipsync.odoo.OdooFieldMap`).
    """

    def __init__(self, gateway: OdooGateway, fields: OdooFieldMap | None = None) -> None:
        self._gw = gateway
        self._fields = fields or OdooFieldMap()
        self._schema_cache: _Schema | None = None
        self._subtype_id: int | None = None
        self._author_id: int | None = None
        self._company_currency: dict[int, str] | None = None

    @property
    def gateway(self) -> OdooGateway:
        """The gateway the operations run on."""
        return self._gw

    @property
    def fields(self) -> OdooFieldMap:
        """The field mapping in use."""
        return self._fields

    # --- facts about the server, asked once ----------------------------------------------------

    def require_modules(self, *modules: str) -> None:
        """Raise :class:`~shipsync.errors.OdooModuleMissingError` for a module not installed."""
        found = self._gw.call(
            "ir.module.module",
            "search_read",
            [[["name", "in", list(modules)], ["state", "=", "installed"]]],
            {"fields": ["name"]},
        )
        installed = {row.get("name") for row in rows(found, "ir.module.module.search_read")}
        for module in modules:
            if module not in installed:
                raise OdooModuleMissingError(module)

    def _schema(self) -> _Schema:
        if self._schema_cache is not None:
            return self._schema_cache
        f = self._fields
        wanted = {
            f.picking_model: [
                "name",
                "state",
                "company_id",
                f.picking_tracking,
                f.picking_carrier_price,
                f.picking_price_currency,
                f.picking_status,
                f.picking_status_base,
                f.picking_sale_order,
            ],
            f.package_model: ["name", f.package_tracking],
        }
        present: set[tuple[str, str]] = set()
        for model, names in wanted.items():
            if model == f.package_model and not f.package_tracking:
                continue
            # fields_get works for every user who may read the model; ir.model.fields does not.
            try:
                found = self._gw.call(
                    model,
                    "fields_get",
                    [sorted({n for n in names if n})],
                    {"attributes": ["type"]},
                )
            except OdooUserError:  # Odoo 18 says "Object x doesn't exist" as a UserError
                found = {}
            present.update((model, name) for name in mapping(found, f"{model}.fields_get"))
        schema = _Schema(frozenset(present))
        if not schema.has(f.picking_model, "name"):
            if f.picking_model == "stock.picking":
                raise OdooModuleMissingError("stock")
            raise OdooError(f"Odoo has no model {f.picking_model!r}")
        if not schema.has(f.picking_model, f.picking_tracking):
            if f.picking_tracking == "carrier_tracking_ref":
                raise OdooModuleMissingError("delivery")
            raise OdooError(f"Odoo has no field {f.picking_model}.{f.picking_tracking}")
        _check_chosen_fields(f, schema)
        self._schema_cache = schema
        return schema

    def _subtype(self) -> int:
        if self._subtype_id is None:
            module, name = self._fields.note_subtype.split(".", 1)
            found = rows(
                self._gw.call(
                    "ir.model.data",
                    "search_read",
                    [[["module", "=", module], ["name", "=", name]]],
                    {"fields": ["res_id", "model"], "limit": 1},
                ),
                "ir.model.data.search_read",
            )
            if not found or found[0].get("model") != "mail.message.subtype":
                raise OdooError(f"Odoo has no message subtype {self._fields.note_subtype!r}")
            res_id = found[0].get("res_id")
            if not is_id(res_id):
                raise OdooResponseError("Odoo answered ir.model.data.search_read without a res_id")
            self._subtype_id = int(res_id)
        return self._subtype_id

    def _author(self) -> int:
        if self._author_id is None:
            uid = self._gw.uid
            users = rows(
                self._gw.call("res.users", "read", [[uid]], {"fields": ["partner_id"]}),
                "res.users.read",
            )
            partner = m2o_id(users[0].get("partner_id")) if users else None
            if partner is None:
                raise OdooResponseError("Odoo returned no partner for the current user")
            self._author_id = partner
        return self._author_id

    def _currencies(self) -> dict[int, str]:
        if self._company_currency is None:
            companies = rows(
                self._gw.call("res.company", "search_read", [[]], {"fields": ["currency_id"]}),
                "res.company.search_read",
            )
            self._company_currency = {
                int(row["id"]): m2o_name(row.get("currency_id")) or "" for row in companies
            }
        return self._company_currency

    # --- reading pickings -------------------------------------------------------------------

    def _picking_fields(self, schema: _Schema) -> list[str]:
        f = self._fields
        names = ["name", "state", "company_id", f.picking_tracking]
        for extra in (
            f.picking_carrier_price,
            f.picking_price_currency,
            f.picking_status,
            f.picking_status_base,
            f.picking_sale_order,
        ):
            if schema.has(f.picking_model, extra) and extra is not None:
                names.append(extra)
        return names

    def _search_pickings(self, domain: list[Any], *, order: str = "id") -> list[dict[str, Any]]:
        schema = self._schema()
        model = self._fields.picking_model
        found = self._gw.call(
            model,
            "search_read",
            [domain],
            {"fields": self._picking_fields(schema), "order": order},
        )
        return rows(found, f"{model}.search_read")

    def _to_record(
        self,
        row: Mapping[str, Any],
        *,
        packages: Mapping[str, str] | None = None,
        message_ids: Sequence[str] = (),
    ) -> PickingRecord:
        f = self._fields
        schema = self._schema()
        price: Money | None = None
        if schema.has(f.picking_model, f.picking_carrier_price) and f.picking_carrier_price:
            raw = row.get(f.picking_carrier_price)
            currency = None
            if f.picking_price_currency and schema.has(f.picking_model, f.picking_price_currency):
                currency = row.get(f.picking_price_currency) or None
            if currency is None and raw:
                company = m2o_id(row.get("company_id"))
                currency = self._currencies().get(company or 0) or None
            if raw and isinstance(currency, str) and currency in CURRENCY_EXPONENTS:
                price = money_from_float(raw, currency)
        status = None
        if f.picking_status and schema.has(f.picking_model, f.picking_status):
            status = row.get(f.picking_status) or None
        refs = split_refs(row.get(f.picking_tracking), f.tracking_separator)
        package_refs = dict(packages or {})
        refs += [r for r in package_refs.values() if r not in refs]
        sale = row.get(f.picking_sale_order) if f.picking_sale_order else None
        return PickingRecord(
            id=int(row["id"]),
            name=str(row.get("name") or ""),
            state=str(row.get("state") or ""),
            tracking_numbers=tuple(refs),
            package_tracking=package_refs,
            carrier_price=price,
            status=str(status) if status is not None else None,
            sale_order=m2o_name(sale),
            message_ids=tuple(message_ids),
        )

    def find_outgoing_pickings(self, sale_order: str) -> list[PickingRecord]:
        """The outgoing pickings of the sale order named ``sale_order`` (``"S00042"``)."""
        f = self._fields
        if not f.picking_sale_order or not self._schema().has(
            f.picking_model, f.picking_sale_order
        ):
            raise OdooModuleMissingError("sale_stock")
        rows = self._search_pickings(
            [
                [f"{f.picking_sale_order}.name", "=", sale_order],
                ["picking_type_code", "=", "outgoing"],
            ]
        )
        return [self._to_record(row) for row in rows]

    def find_picking(self, name: str) -> PickingRecord | None:
        """The picking named ``name`` (``"WH/OUT/00007"``), or ``None``."""
        rows = self._search_pickings([["name", "=", name]])
        return self._to_record(rows[0]) if rows else None

    def find_pickings_by_tracking(
        self, tracking_numbers: Iterable[str]
    ) -> dict[str, PickingRecord]:
        """Map each tracking number found in Odoo to its picking (missing ones are left out)."""
        found = self._rows_by_tracking(sorted(set(tracking_numbers)))
        return {ref: self._to_record(row) for ref, row in found.items()}

    def _rows_by_tracking(self, refs: Sequence[str]) -> dict[str, dict[str, Any]]:
        """One ``in`` search; then packages and ``ilike`` only for references still missing.

        When several pickings carry the same reference (carriers reuse numbers after a while),
        the newest picking wins.
        """
        f = self._fields
        schema = self._schema()
        found: dict[str, dict[str, Any]] = {}
        wanted = set(refs)

        def take(rows: Iterable[dict[str, Any]], pick: Mapping[int, str] | None = None) -> None:
            for row in rows:
                stored = split_refs(row.get(f.picking_tracking), f.tracking_separator)
                if pick is not None and row["id"] in pick:
                    stored = [*stored, pick[row["id"]]]
                for ref in stored:
                    if ref in wanted and ref not in found:
                        found[ref] = row

        for chunk in chunked(list(refs), IN_CHUNK):
            take(self._search_pickings([[f.picking_tracking, "in", list(chunk)]], order="id desc"))
        missing = [r for r in refs if r not in found]
        if missing and schema.has(f.package_model, f.package_tracking):
            by_picking = self._pickings_of_packages(missing)
            if by_picking:
                rows = self._search_pickings([["id", "in", sorted(by_picking)]], order="id desc")
                for row in rows:
                    for ref in by_picking[row["id"]]:
                        found.setdefault(ref, row)
            missing = [r for r in refs if r not in found]
        for chunk in chunked(missing, _FALLBACK_CHUNK):
            leaves = [[f.picking_tracking, "ilike", ref] for ref in chunk]
            take(self._search_pickings(or_domain(leaves), order="id desc"))
        return found

    def _pickings_of_packages(self, refs: Sequence[str]) -> dict[int, list[str]]:
        f = self._fields
        assert f.package_tracking is not None
        ref_of: dict[int, str] = {}
        for chunk in chunked(list(refs), IN_CHUNK):
            packages = self._gw.call(
                f.package_model,
                "search_read",
                [[[f.package_tracking, "in", list(chunk)]]],
                {"fields": [f.package_tracking]},
            )
            for p in rows(packages, f"{f.package_model}.search_read"):
                if isinstance(p.get(f.package_tracking), str):
                    ref_of[int(p["id"])] = p[f.package_tracking]
        if not ref_of:
            return {}
        lines: list[dict[str, Any]] = []
        for chunk_ids in chunked(sorted(ref_of), IN_CHUNK):
            found = self._gw.call(
                "stock.move.line",
                "search_read",
                [[["result_package_id", "in", list(chunk_ids)], ["picking_id", "!=", False]]],
                {"fields": ["picking_id", "result_package_id"]},
            )
            lines += rows(found, "stock.move.line.search_read")
        result: dict[int, list[str]] = {}
        for line in lines:
            picking = m2o_id(line.get("picking_id"))
            package = m2o_id(line.get("result_package_id"))
            if picking is not None and package in ref_of:
                refs_of_picking = result.setdefault(picking, [])
                if ref_of[package] not in refs_of_picking:
                    refs_of_picking.append(ref_of[package])
        return result

    def _packages_of(self, picking_ids: Sequence[int]) -> dict[int, dict[int, tuple[str, str]]]:
        """``{picking id: {package id: (package name, stored tracking)}}``."""
        f = self._fields
        lines: list[dict[str, Any]] = []
        for chunk in chunked(list(picking_ids), IN_CHUNK):
            found = self._gw.call(
                "stock.move.line",
                "search_read",
                [[["picking_id", "in", list(chunk)], ["result_package_id", "!=", False]]],
                {"fields": ["picking_id", "result_package_id"]},
            )
            lines += rows(found, "stock.move.line.search_read")
        package_ids = sorted(
            {pid for line in lines if (pid := m2o_id(line.get("result_package_id")))}
        )
        if not package_ids:
            return {}
        tracking = f.package_tracking
        fields = ["name"] + ([tracking] if tracking else [])
        info: dict[int, tuple[str, str]] = {}
        for chunk in chunked(package_ids, IN_CHUNK):
            packages = self._gw.call(f.package_model, "read", [list(chunk)], {"fields": fields})
            for p in rows(packages, f"{f.package_model}.read"):
                stored = (p.get(tracking) if tracking else "") or ""
                info[int(p["id"])] = (str(p.get("name") or ""), str(stored))
        result: dict[int, dict[int, tuple[str, str]]] = {}
        for line in lines:
            picking = m2o_id(line.get("picking_id"))
            package = m2o_id(line.get("result_package_id"))
            if picking is not None and package in info:
                result.setdefault(picking, {})[package] = info[package]
        return result

    def read_pickings(self, picking_ids: Sequence[int]) -> list[PickingRecord]:
        """Read back pickings with what shipsync wrote: tracking, price, status, notes."""
        f = self._fields
        ids = sorted(set(picking_ids))
        found: list[dict[str, Any]] = []
        for chunk in chunked(ids, IN_CHUNK):
            found += self._search_pickings([["id", "in", list(chunk)]])
        if len(found) != len(ids):
            missing = sorted(set(ids) - {int(r["id"]) for r in found})
            shown = ", ".join(map(str, missing[:20])) + (", ..." if len(missing) > 20 else "")
            raise OdooMissingError(f"{len(missing)} picking(s) do not exist: {shown}")
        by_picking: dict[int, list[str]] = {}
        for chunk in chunked(ids, IN_CHUNK):
            messages = self._gw.call(
                "mail.message",
                "search_read",
                [
                    [
                        ["model", "=", f.picking_model],
                        ["res_id", "in", list(chunk)],
                        ["message_id", "=like", "<shipsync.%"],
                    ]
                ],
                {"fields": ["res_id", "message_id"], "order": "id"},
            )
            for message in rows(messages, "mail.message.search_read"):
                res_id, message_id = message.get("res_id"), message.get("message_id")
                if is_id(res_id) and isinstance(message_id, str):
                    by_picking.setdefault(int(res_id), []).append(message_id)
        packages: dict[int, dict[int, tuple[str, str]]] = {}
        if self._schema().has(f.package_model, f.package_tracking):
            packages = self._packages_of(ids)
        return [
            self._to_record(
                row,
                packages={
                    name: ref for name, ref in packages.get(int(row["id"]), {}).values() if ref
                },
                message_ids=by_picking.get(int(row["id"]), ()),
            )
            for row in found
        ]

    # --- writing ----------------------------------------------------------------------------

    def _existing(self, message_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for chunk in chunked(list(message_ids), IN_CHUNK):
            answer = self._gw.call(
                "mail.message",
                "search_read",
                [[["message_id", "in", list(chunk)]]],
                {"fields": ["message_id"]},
            )
            found.update(
                str(row.get("message_id")) for row in rows(answer, "mail.message.search_read")
            )
        return found

    def _note(
        self, res_id: int, body: str, message_id: str, attachment_ids: Sequence[int] = ()
    ) -> dict[str, Any]:
        values: dict[str, Any] = {
            "model": self._fields.picking_model,
            "res_id": res_id,
            "message_type": "comment",
            "subtype_id": self._subtype(),
            "author_id": self._author(),
            "body": body,
            "message_id": message_id,
        }
        if attachment_ids:
            values["attachment_ids"] = [[6, 0, list(attachment_ids)]]
        return values

    def _create_many(self, model: str, values: Sequence[Mapping[str, Any]]) -> list[int]:
        ids: list[int] = []
        for chunk in chunked(list(values), CREATE_CHUNK):
            created = self._gw.call(model, "create", [list(chunk)])
            ids.extend(created_ids(created, len(chunk), f"{model}.create"))
        return ids

    def _write_per_record(self, model: str, field: str, values: Mapping[int, str]) -> None:
        """Equal values in one ``write`` each when few, else one ``load`` for all."""
        self._write_rows(model, {record_id: {field: value} for record_id, value in values.items()})

    def _write_rows(self, model: str, rows: Mapping[int, Mapping[str, str | None]]) -> None:
        """One ``write`` when every record gets the same values, else one ``load`` for all.

        A None value empties the field. With ``load`` every record gets every column named by
        any record, so a record without a value for a column keeps the one it holds (read back
        by the caller) or is emptied: callers pass complete rows.
        """
        if not rows:
            return
        groups: dict[tuple[tuple[str, str | None], ...], list[int]] = {}
        for record_id, values in sorted(rows.items()):
            groups.setdefault(tuple(sorted(values.items())), []).append(record_id)
        if len(groups) == 1:
            [(same, ids)] = groups.items()
            self._gw.call(
                model, "write", [ids, {k: v if v is not None else False for k, v in same}]
            )
            return
        columns = sorted({name for row in rows.values() for name in row})
        table = [
            [str(record_id), *(row.get(name) or "" for name in columns)]
            for record_id, row in sorted(rows.items())
        ]
        result = mapping(self._gw.call(model, "load", [[".id", *columns], table]), f"{model}.load")
        messages = result.get("messages")
        messages = messages if isinstance(messages, list) else []
        errors = [m for m in messages if not isinstance(m, dict) or m.get("type") == "error"]
        if not errors and not isinstance(result.get("ids"), list):
            errors = [{"message": "Odoo wrote nothing and gave no reason"}]
        if errors:
            raise OdooValidationError(
                f"Odoo refused to write {model}.{', '.join(columns)}",
                odoo_message="; ".join(
                    str(m.get("message") if isinstance(m, dict) else m) for m in errors
                )[:2000],
            )

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
        f = self._fields
        schema = self._schema()
        unique: dict[str, TrackingEvent] = {}
        duplicates: list[str] = []
        for event in events:
            key = event_message_id(event)
            if key in unique:
                duplicates.append(event.event_id)
            else:
                unique[key] = event
        rows = self._rows_by_tracking(sorted({e.tracking_number for e in unique.values()}))
        unmatched = [e.event_id for e in unique.values() if e.tracking_number not in rows]
        matched = {k: e for k, e in unique.items() if e.tracking_number in rows}
        existing = self._existing(sorted(matched)) if matched else set()
        duplicates += [e.event_id for k, e in matched.items() if k in existing]
        fresh = sorted(
            ((k, e) for k, e in matched.items() if k not in existing),
            key=lambda item: (item[1].occurred_at, item[1].event_id),
        )
        # The notes are built first (subtype and author are looked up before anything is
        # written) and created last: a failure on the way leaves the events without notes, so
        # repeating the call applies them again. Created first, they would mark the events as
        # seen and a repeat would never write the status the failed call did not write.
        notes = [self._note(int(rows[e.tracking_number]["id"]), event_body(e), k) for k, e in fresh]
        by_picking: dict[int, list[TrackingEvent]] = {}
        for _, event in fresh:
            by_picking.setdefault(int(rows[event.tracking_number]["id"]), []).append(event)
        row_of = {int(row["id"]): row for row in rows.values()}
        status_field = f.picking_status
        skipped: str | None = None
        if status_field is None:
            skipped = "no status field is configured"
        elif not schema.has(f.picking_model, status_field):
            skipped = f"Odoo has no field {f.picking_model}.{status_field}"
            status_field = None
        base_field = f.picking_status_base
        if status_field is None or not schema.has(f.picking_model, base_field):
            base_field = None
        decisions = {
            pid: decide(
                f,
                group,
                row_of[pid].get(status_field) or None if status_field else None,
                row_of[pid].get(base_field) or None if base_field else None,
            )
            for pid, group in sorted(by_picking.items())
        }
        anomalies = tuple(a for _, d in sorted(decisions.items()) for a in d.state.anomalies)
        status_written: dict[int, str] = {}
        writes: dict[int, dict[str, str | None]] = {}
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
                status_written[picking_id] = values[status_field] = decision.value
            if base_field is not None and decision.base_changed:
                values[base_field] = decision.base
            if values and base_field is not None:  # load writes every column: complete the row
                values.setdefault(status_field, row.get(status_field) or None)
                values.setdefault(base_field, row.get(base_field) or None)
            if values:
                writes[picking_id] = values
        self._write_rows(f.picking_model, writes)
        validated: list[int] = []
        refused: dict[int, str] = {}
        if f.validate_on_delivery:
            candidates = [pid for pid in delivered if row_of[pid].get("state") not in _DONE_STATES]
            validated, refused = self._validate(candidates)
        if notes:
            self._create_many("mail.message", notes)
        return ApplyReport(
            applied=tuple(e.event_id for _, e in fresh),
            duplicates=tuple(duplicates),
            unmatched=tuple(unmatched),
            status_written=status_written,
            status_skipped=skipped,
            status_kept=kept,
            anomalies=anomalies,
            validated=tuple(validated),
            validation_errors=refused,
            round_trips=self._gw.round_trips - start,
        )

    def _validate(self, picking_ids: list[int]) -> tuple[list[int], dict[int, str]]:
        """Validate delivered pickings: all in one call, one by one only those Odoo left open.

        Returns the pickings that are done afterwards and Odoo's reason for each one refused
        (no quantity reserved, a wizard asking for confirmation, ...).
        """
        if not picking_ids:
            return [], {}
        model = self._fields.picking_model

        def validate(ids: list[int]) -> Any:
            context = {
                "skip_backorder": True,
                "picking_ids_not_to_backorder": ids,
                "skip_sms": True,
            }
            return self._gw.call(model, "button_validate", [ids], {"context": context})

        def done() -> list[int]:
            answer = self._gw.call(
                model,
                "search_read",
                [[["id", "in", picking_ids], ["state", "=", "done"]]],
                {"fields": ["state"]},
            )
            return sorted(int(row["id"]) for row in rows(answer, f"{model}.search_read"))

        with contextlib.suppress(OdooUserError, OdooValidationError):
            validate(picking_ids)
        # Odoo may validate part of a batch and skip the rest, or refuse the whole batch for one
        # picking: the rest are tried one by one, so each refusal comes with Odoo's own reason.
        finished = done()
        if len(finished) == len(picking_ids):
            return finished, {}
        refused: dict[int, str] = {}
        for picking_id in picking_ids:
            if picking_id in finished:
                continue
            try:
                validate([picking_id])
            except (OdooUserError, OdooValidationError) as exc:
                refused[picking_id] = exc.odoo_message or str(exc)
        finished = done()
        for picking_id in picking_ids:
            if picking_id not in finished and picking_id not in refused:
                refused[picking_id] = "Odoo did not validate it (it may ask for a confirmation)"
        return finished, refused

    def _one_picking(self, picking_id: int) -> dict[str, Any]:
        rows = self._search_pickings([["id", "=", picking_id]])
        if not rows:
            raise OdooMissingError(f"picking {picking_id} does not exist")
        return rows[0]

    def _attach(self, picking_id: int, files: Sequence[tuple[str, bytes, str]]) -> list[int]:
        """Create the files as attachments, at most :data:`_ATTACH_BYTES` of data a request."""
        ids: list[int] = []
        batch: list[dict[str, Any]] = []
        size = 0
        for name, data, mimetype in files:
            encoded = base64.b64encode(data).decode("ascii")
            if batch and size + len(encoded) > _ATTACH_BYTES:
                ids += self._create_many("ir.attachment", batch)
                batch, size = [], 0
            batch.append(
                {
                    "name": name,
                    "datas": encoded,
                    "mimetype": mimetype,
                    "res_model": self._fields.picking_model,
                    "res_id": picking_id,
                }
            )
            size += len(encoded)
        if batch:
            ids += self._create_many("ir.attachment", batch)
        return ids

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
        f = self._fields
        schema = self._schema()
        key = message_id_for("shipment", shipment.carrier, shipment.shipment_id, str(picking_id))
        row = self._one_picking(picking_id)
        if self._existing([key]):
            return RecordedDocument(
                picking_id=picking_id,
                already_recorded=True,
                round_trips=self._gw.round_trips - start,
            )
        refs = [p.tracking_number for p in shipment.packages if p.tracking_number]
        per_package: dict[int, str] = {}
        if refs and schema.has(f.package_model, f.package_tracking) and f.package_tracking:
            by_name = {
                name: pid
                for pid, (name, _) in self._packages_of([picking_id]).get(picking_id, {}).items()
            }
            for package in shipment.packages:
                ref = package.parcel.reference
                if package.tracking_number and ref and ref in by_name:
                    per_package[by_name[ref]] = package.tracking_number
        all_matched = bool(refs) and len(per_package) == len(refs)
        values: dict[str, Any] = {}
        if refs:
            values[f.picking_tracking] = (
                refs[0] if all_matched else f"{f.tracking_separator}".join(refs)
            )
        price_written = False
        price_field = f.picking_carrier_price
        if price is not None and price_field and schema.has(f.picking_model, price_field):
            currency_field = f.picking_price_currency
            if currency_field and schema.has(f.picking_model, currency_field):
                values[currency_field] = price.currency
                price_written = True
            else:
                company = m2o_id(row.get("company_id")) or 0
                price_written = self._currencies().get(company) == price.currency
            if price_written:
                values[price_field] = float(price.amount)
        labels = [
            (
                f"{row['name']}-{p.label.tracking_number}.{p.label.format.value}".replace("/", "-"),
                p.label.data,
                LABEL_MIMETYPES[p.label.format],
            )
            for p in shipment.packages
            if p.label is not None
        ]
        # Writes first (repeating them is harmless), then the labels, then the note that marks
        # the shipment as recorded: a call that fails before the note is repeated in full, and
        # only a failure between the labels and the note leaves labels a repeat attaches again.
        note = self._note(picking_id, shipment_body(shipment, refs, price), key)
        if per_package and f.package_tracking:
            self._write_per_record(f.package_model, f.package_tracking, per_package)
        if values:
            self._gw.call(f.picking_model, "write", [[picking_id], values])
        attachment_ids = self._attach(picking_id, labels)
        if attachment_ids:
            note["attachment_ids"] = [[6, 0, list(attachment_ids)]]
        [message_id] = self._create_many("mail.message", [note])
        return RecordedDocument(
            picking_id=picking_id,
            message_id=message_id,
            attachment_ids=tuple(attachment_ids),
            price_written=price_written,
            round_trips=self._gw.round_trips - start,
        )

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
        self._one_picking(picking_id)
        if self._existing([key]):
            return RecordedDocument(
                picking_id=picking_id,
                already_recorded=True,
                round_trips=self._gw.round_trips - start,
            )
        attachment_ids = self._attach(
            picking_id, [(filename, document, mimetype)] if document is not None else []
        )
        body = proof_body(proof)
        [message_id] = self._create_many(
            "mail.message", [self._note(picking_id, body, key, attachment_ids)]
        )
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
        """
        existing = find_bill(self._gw, invoice.invoice_number, vendor_id)
        if existing is not None:
            return read_bill(self._gw, existing, created=False)
        currency = currency_id(self._gw, invoice.currency)
        rows = self._rows_by_tracking(sorted({line.tracking_number for line in invoice.lines}))
        values = bill_values(
            invoice,
            vendor_id=vendor_id,
            currency_id=currency,
            pickings={ref: str(row["name"]) for ref, row in rows.items()},
            journal_id=journal_id,
        )
        created = self._gw.call("account.move", "create", [[values]])
        [bill_id] = created_ids(created, 1, "account.move.create")
        return read_bill(self._gw, bill_id, created=True)

    def read_vendor_bill(self, invoice_number: str, *, vendor_id: int) -> VendorBillRecord | None:
        """Read back the vendor bill of ``vendor_id`` referenced ``invoice_number``, if any."""
        bill_id = find_bill(self._gw, invoice_number, vendor_id)
        return read_bill(self._gw, bill_id, created=False) if bill_id is not None else None
