"""Facts about the Odoo server, asked once per instance and cached.

Which configured fields the server has (``fields_get``, readable by every user who may read the
model), the id of the note subtype, the current user's partner (the author of shipsync's
notes), each company's currency, and whether modules are installed.
"""

from __future__ import annotations

import attrs

from shipsync.errors import (
    ConfigurationError,
    OdooError,
    OdooModuleMissingError,
    OdooResponseError,
    OdooUserError,
)
from shipsync.odoo._answers import is_id, mapping, rows
from shipsync.odoo._gateway import OdooGateway
from shipsync.odoo._mapping import OdooFieldMap
from shipsync.odoo._render import m2o_id, m2o_name
from shipsync.odoo._versions import version_facts

__all__ = ["ServerFacts"]


@attrs.frozen
class Schema:
    """Which configured fields the server has, by ``(model, field)``."""

    present: frozenset[tuple[str, str]]

    def has(self, model: str, field: str | None) -> bool:
        """Whether ``model`` has ``field`` (never for ``None``)."""
        return field is not None and (model, field) in self.present


# Fields a host may name in OdooFieldMap, other than the tracking field (checked in schema()).
# OCA's default status field is optional (skipped and reported when absent); any other is checked.
_CHOSEN_FIELDS = (
    ("picking_status", "picking_model"),
    ("picking_carrier_price", "picking_model"),
    ("picking_price_currency", "picking_model"),
    ("picking_status_base", "picking_model"),
    ("picking_sale_order", "picking_model"),
    ("package_tracking", "package_model"),
)


def _check_chosen_fields(f: OdooFieldMap, schema: Schema) -> None:
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


class ServerFacts:
    """What shipsync needs to know about one server, each fact asked once."""

    def __init__(self, gateway: OdooGateway, fields: OdooFieldMap) -> None:
        self._gw = gateway
        self._fields = fields
        self._schema_cache: Schema | None = None
        self._subtype_id: int | None = None
        self._author_id: int | None = None
        self._company_currency: dict[int, str] | None = None

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

    def schema(self) -> Schema:
        """Which configured fields exist; raises for a missing model or tracking field."""
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
        schema = Schema(frozenset(present))
        if not schema.has(f.picking_model, "name"):
            if f.picking_model == "stock.picking":
                raise OdooModuleMissingError("stock")
            raise OdooError(f"Odoo has no model {f.picking_model!r}")
        if not schema.has(f.picking_model, f.picking_tracking):
            if f.picking_tracking == "carrier_tracking_ref":
                raise OdooModuleMissingError(version_facts(self._gw.server_version).delivery_module)
            raise OdooError(f"Odoo has no field {f.picking_model}.{f.picking_tracking}")
        _check_chosen_fields(f, schema)
        self._schema_cache = schema
        return schema

    def subtype(self) -> int:
        """The id of the subtype shipsync's notes carry (internal notes by default)."""
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

    def author(self) -> int:
        """The partner of the user shipsync runs as: the author of its notes."""
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

    def currencies(self) -> dict[int, str]:
        """Each company's currency code, by company id."""
        if self._company_currency is None:
            companies = rows(
                self._gw.call("res.company", "search_read", [[]], {"fields": ["currency_id"]}),
                "res.company.search_read",
            )
            self._company_currency = {
                int(row["id"]): m2o_name(row.get("currency_id")) or "" for row in companies
            }
        return self._company_currency
