"""Finding and reading pickings: by name, sale order, tracking number or package, in few requests.

Pickings are found with one ``search_read`` on the tracking field (which also reads the status
each picking holds, so folding events needs no further read); references still missing are
looked up through packages (per-package tracking numbers) and, last, with ``ilike`` for
pickings holding several references. When several pickings carry the same reference (carriers
reuse numbers after a while), the newest picking wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from shipsync.canonical import CURRENCY_EXPONENTS, Money
from shipsync.errors import OdooMissingError
from shipsync.odoo._answers import is_id, rows
from shipsync.odoo._batch import IN_CHUNK, chunked, or_domain, split_refs
from shipsync.odoo._facts import Schema, ServerFacts
from shipsync.odoo._gateway import OdooGateway
from shipsync.odoo._mapping import OdooFieldMap
from shipsync.odoo._records import PickingRecord
from shipsync.odoo._render import m2o_id, m2o_name, money_from_float

__all__ = ["PickingLookup"]

_FALLBACK_CHUNK = 200


class PickingLookup:
    """Reads pickings (and their packages and shipsync notes) as rows or typed records."""

    def __init__(self, gateway: OdooGateway, fields: OdooFieldMap, facts: ServerFacts) -> None:
        self._gw = gateway
        self._fields = fields
        self._facts = facts

    def picking_fields(self, schema: Schema) -> list[str]:
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

    def search(self, domain: list[Any], *, order: str = "id") -> list[dict[str, Any]]:
        schema = self._facts.schema()
        model = self._fields.picking_model
        found = self._gw.call(
            model,
            "search_read",
            [domain],
            {"fields": self.picking_fields(schema), "order": order},
        )
        return rows(found, f"{model}.search_read")

    def to_record(
        self,
        row: Mapping[str, Any],
        *,
        packages: Mapping[str, str] | None = None,
        message_ids: Sequence[str] = (),
    ) -> PickingRecord:
        f = self._fields
        schema = self._facts.schema()
        price: Money | None = None
        if schema.has(f.picking_model, f.picking_carrier_price) and f.picking_carrier_price:
            raw = row.get(f.picking_carrier_price)
            currency = None
            if f.picking_price_currency and schema.has(f.picking_model, f.picking_price_currency):
                currency = row.get(f.picking_price_currency) or None
            if currency is None and raw:
                company = m2o_id(row.get("company_id"))
                currency = self._facts.currencies().get(company or 0) or None
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

    def rows_by_tracking(self, refs: Sequence[str]) -> dict[str, dict[str, Any]]:
        """One ``in`` search; then packages and ``ilike`` only for references still missing.

        When several pickings carry the same reference (carriers reuse numbers after a while),
        the newest picking wins.
        """
        f = self._fields
        schema = self._facts.schema()
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
            take(self.search([[f.picking_tracking, "in", list(chunk)]], order="id desc"))
        missing = [r for r in refs if r not in found]
        if missing and schema.has(f.package_model, f.package_tracking):
            by_picking = self.pickings_of_packages(missing)
            if by_picking:
                rows = self.search([["id", "in", sorted(by_picking)]], order="id desc")
                for row in rows:
                    for ref in by_picking[row["id"]]:
                        found.setdefault(ref, row)
            missing = [r for r in refs if r not in found]
        for chunk in chunked(missing, _FALLBACK_CHUNK):
            leaves = [[f.picking_tracking, "ilike", ref] for ref in chunk]
            take(self.search(or_domain(leaves), order="id desc"))
        return found

    def pickings_of_packages(self, refs: Sequence[str]) -> dict[int, list[str]]:
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

    def packages_of(self, picking_ids: Sequence[int]) -> dict[int, dict[int, tuple[str, str]]]:
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

    def one(self, picking_id: int) -> dict[str, Any]:
        rows = self.search([["id", "=", picking_id]])
        if not rows:
            raise OdooMissingError(f"picking {picking_id} does not exist")
        return rows[0]

    def notes_by_picking(self, picking_ids: Sequence[int]) -> dict[int, list[str]]:
        """The Message-Ids of shipsync's notes on each picking, oldest first."""
        by_picking: dict[int, list[str]] = {}
        for chunk in chunked(list(picking_ids), IN_CHUNK):
            messages = self._gw.call(
                "mail.message",
                "search_read",
                [
                    [
                        ["model", "=", self._fields.picking_model],
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
        return by_picking
