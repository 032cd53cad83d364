"""An in-memory Odoo for tests: a gateway over plain tables, with Odoo's ``write_date`` habits.

:class:`MemoryOdoo` implements :class:`~shipsync.odoo.OdooGateway` over dicts. It knows the
ORM calls shipsync makes (``search_read``, ``search``, ``search_count``, ``read``, ``create``,
``write``, ``fields_get``, ``load``, ``button_validate``, ``action_cancel``) and Odoo's domain
language for plain fields (``&``, ``|``, ``!`` and ``=``, ``!=``, ``<``, ``<=``, ``>``,
``>=``, ``in``, ``not in``, ``=like``, ``ilike``). Every create and write stamps ``write_date``
to the second, as Odoo does; :meth:`MemoryOdoo.transaction` stamps with the time it *started*
and shows its writes only when it ends, which is how a late commit looks from outside.

It is a fake for tests and demos, not an Odoo: no access rules, no computed fields, and
many2one values are stored as ids and read back as ``[id, name]``.
"""

from __future__ import annotations

import contextlib
import copy
import fnmatch
import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from shipsync.errors import OdooError, OdooUnavailableError, OdooUserError

__all__ = ["RELATIONS", "MemoryOdoo"]

_FORMAT = "%Y-%m-%d %H:%M:%S"

Row = dict[str, Any]

RELATIONS: dict[str, str] = {
    "author_id": "res.partner",
    "carrier_id": "delivery.carrier",
    "company_id": "res.company",
    "currency_id": "res.currency",
    "move_id": "account.move",
    "partner_id": "res.partner",
    "picking_id": "stock.picking",
    "product_id": "product.product",
    "result_package_id": "stock.quant.package",
    "return_id": "stock.picking",
    "sale_id": "sale.order",
    "sale_line_id": "sale.order.line",
    "state_id": "res.country.state",
    "subtype_id": "mail.message.subtype",
}
"""Many2one fields and their models: read back as ``[id, name]`` like Odoo does."""


def _compare(op: str, value: Any, wanted: Any) -> bool:
    if op == "=":
        return bool(value == wanted or (wanted is False and value in (None, False, "", [])))
    if op == "!=":
        return not _compare("=", value, wanted)
    if op == "in":
        return value in wanted
    if op == "not in":
        return value not in wanted
    if op in ("=like", "like", "ilike", "=ilike"):
        if not isinstance(value, str):
            return False
        pattern = str(wanted).replace("%", "*").replace("_", "?")
        if op in ("like", "ilike"):
            pattern = f"*{pattern}*"
        if op in ("ilike", "=ilike"):
            return fnmatch.fnmatchcase(value.lower(), pattern.lower())
        return fnmatch.fnmatchcase(value, pattern)
    if value in (None, False):
        return False
    if op == ">":
        return bool(value > wanted)
    if op == ">=":
        return bool(value >= wanted)
    if op == "<":
        return bool(value < wanted)
    if op == "<=":
        return bool(value <= wanted)
    raise OdooError(f"the memory Odoo does not know the operator {op!r}")


class MemoryOdoo:
    """A gateway over in-memory tables (see the module docstring).

    ``fields`` maps a model to the fields ``fields_get`` reports; ``hooks`` maps
    ``"model.method"`` to a callable run before the call (raise in it to inject a fault).
    """

    server_version = (18, 0)
    uid = 2

    def __init__(
        self,
        fields: Mapping[str, Sequence[str]] | None = None,
        *,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.tables: dict[str, dict[int, Row]] = {}
        self.fields: dict[str, set[str]] = {m: set(f) for m, f in (fields or {}).items()}
        self.hooks: dict[str, Callable[[Sequence[Any]], None]] = {}
        self.calls: list[str] = []
        self._ids = itertools.count(1)
        self._now = now or (lambda: datetime.now(UTC))
        self._pending: list[tuple[str, int, Row]] | None = None
        self._stamp: str | None = None
        self.seed_defaults()

    # -- setup ----------------------------------------------------------------------------------

    def seed_defaults(self) -> None:
        """The records shipsync asks about: the note subtype, the user, a company."""
        self.insert("res.partner", {"id": 3, "name": "Shipping Bot"})
        self.insert("res.partner", {"id": 1, "name": "Lyon Warehouse", "country_code": "FR"})
        self.insert("res.users", {"id": 2, "name": "bot", "partner_id": 3})
        self.insert("res.company", {"id": 1, "name": "Main", "currency_id": 1, "partner_id": 1})
        self.insert("res.currency", {"id": 1, "name": "EUR", "active": True})
        self.insert("mail.message.subtype", {"id": 2, "name": "Note"})
        self.insert(
            "ir.model.data",
            {"module": "mail", "name": "mt_note", "model": "mail.message.subtype", "res_id": 2},
        )
        self.insert("ir.module.module", {"name": "stock", "state": "installed"})
        self.insert("ir.module.module", {"name": "stock_delivery", "state": "installed"})

    def insert(self, model: str, values: Mapping[str, Any]) -> int:
        """Add a record directly, committed at once (no round trip counted); returns its id.

        Inside :meth:`transaction` this is another session's write: visible immediately,
        stamped with the current time.
        """
        return self._create(model, dict(values), direct=True)

    @property
    def round_trips(self) -> int:
        """Calls made through :meth:`call`."""
        return len(self.calls)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Writes inside are stamped with the time the block started and seen when it ends."""
        self._stamp = self._now().strftime(_FORMAT)
        self._pending = []
        try:
            yield
            for model, record_id, row in self._pending:
                self.tables.setdefault(model, {})[record_id] = row
        finally:
            self._pending = None
            self._stamp = None

    # -- the gateway ----------------------------------------------------------------------------

    def call(
        self,
        model: str,
        method: str,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
    ) -> Any:
        """Run one ORM method on the tables."""
        self.calls.append(f"{model}.{method}")
        hook = self.hooks.get(f"{model}.{method}")
        if hook is not None:
            hook(args)
        kw = dict(kwargs or {})
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            raise OdooError(f"the memory Odoo does not know {model}.{method}")
        return handler(model, list(args), kw)

    # -- ORM methods ------------------------------------------------------------------------------

    def _m_search_read(self, model: str, args: list[Any], kw: dict[str, Any]) -> list[Row]:
        domain = args[0] if args else kw.get("domain", [])
        fields = kw.get("fields") or (args[1] if len(args) > 1 else None)
        found = self._search(model, domain, kw.get("order"), kw.get("limit"), kw.get("offset", 0))
        return [self._view(model, row, fields) for row in found]

    def _m_search(self, model: str, args: list[Any], kw: dict[str, Any]) -> list[int]:
        found = self._search(model, args[0], kw.get("order"), kw.get("limit"), kw.get("offset", 0))
        return [int(row["id"]) for row in found]

    def _m_search_count(self, model: str, args: list[Any], kw: dict[str, Any]) -> int:
        return len(self._search(model, args[0], None, None, 0))

    def _m_read(self, model: str, args: list[Any], kw: dict[str, Any]) -> list[Row]:
        table = self.tables.get(model, {})
        fields = kw.get("fields") or (args[1] if len(args) > 1 else None)
        return [self._view(model, table[i], fields) for i in args[0] if i in table]

    def _m_create(self, model: str, args: list[Any], kw: dict[str, Any]) -> Any:
        values = args[0]
        if isinstance(values, dict):
            return self._create_record(model, dict(values))
        return [self._create_record(model, dict(v)) for v in values]

    def _create_record(self, model: str, values: Row) -> int:
        if model != "account.move":
            return self._create(model, values)
        # The one computed field shipsync reads back: a move's lines and total.
        lines = [v for _, _, v in values.pop("invoice_line_ids", [])]
        values.setdefault("state", "draft")
        values["amount_total"] = sum(float(v["price_unit"]) * v.get("quantity", 1) for v in lines)
        move_id = self._create(model, values)
        for sequence, line in enumerate(lines):
            self._create(
                "account.move.line",
                {
                    "move_id": move_id,
                    "name": line["name"],
                    "display_type": "product",
                    "sequence": sequence,
                    "price_subtotal": float(line["price_unit"]) * line.get("quantity", 1),
                },
            )
        return move_id

    def _m_write(self, model: str, args: list[Any], kw: dict[str, Any]) -> bool:
        ids, values = args[0], args[1]
        for record_id in ids:
            row = self._row(model, record_id)
            row.update(self._clean(values))
            self._stamp_row(model, record_id, row)
        return True

    def _m_load(self, model: str, args: list[Any], kw: dict[str, Any]) -> dict[str, Any]:
        columns, table = args[0], args[1]
        ids = []
        for line in table:
            values = dict(zip(columns, line, strict=True))
            record_id = int(values.pop(".id"))
            self._m_write(model, [[record_id], {k: v or False for k, v in values.items()}], {})
            ids.append(record_id)
        return {"ids": ids, "messages": []}

    def _m_fields_get(self, model: str, args: list[Any], kw: dict[str, Any]) -> dict[str, Any]:
        known = self.fields.get(model)
        if known is None:
            raise OdooUserError(f"Object {model} doesn't exist")
        wanted = args[0] if args else sorted(known)
        return {name: {"type": "char"} for name in wanted if name in known}

    def _m_button_validate(self, model: str, args: list[Any], kw: dict[str, Any]) -> bool:
        return self._m_write(model, [args[0], {"state": "done"}], {})

    def _m_action_cancel(self, model: str, args: list[Any], kw: dict[str, Any]) -> bool:
        return self._m_write(model, [args[0], {"state": "cancel"}], {})

    # -- internals --------------------------------------------------------------------------------

    def _clean(self, values: Mapping[str, Any]) -> Row:
        return {k: copy.deepcopy(v) for k, v in values.items() if k != "id"}

    def _row(self, model: str, record_id: int) -> Row:
        if self._pending is not None:
            for m, i, row in reversed(self._pending):
                if (m, i) == (model, record_id):
                    return row
        try:
            row = self.tables[model][record_id]
        except KeyError:
            from shipsync.errors import OdooMissingError

            raise OdooMissingError(f"{model}({record_id}) does not exist") from None
        if self._pending is not None:
            row = dict(row)
            self._pending.append((model, record_id, row))
        return row

    def _stamp_row(self, model: str, record_id: int, row: Row) -> None:
        row["write_date"] = self._stamp or self._now().strftime(_FORMAT)

    def _create(self, model: str, values: Row, *, direct: bool = False) -> int:
        record_id = int(values.pop("id", 0) or next(self._ids))
        while record_id in self.tables.get(model, {}):
            record_id = next(self._ids)
        row = {"id": record_id, **self._clean(values)}
        stamp = self._now().strftime(_FORMAT) if direct else self._stamp
        row.setdefault("create_date", stamp or self._now().strftime(_FORMAT))
        row["write_date"] = stamp or self._now().strftime(_FORMAT)
        if self._pending is not None and not direct:
            self._pending.append((model, record_id, row))
        else:
            self.tables.setdefault(model, {})[record_id] = row
        return record_id

    def _view(self, model: str, row: Row, fields: Sequence[str] | None) -> Row:
        names = list(fields) if fields else [k for k in row if k != "id"]
        view: Row = {"id": row["id"]}
        for name in names:
            value = row.get(name, False)
            view[name] = self._many2one(name, value)
        return copy.deepcopy(view)

    def _many2one(self, name: str, value: Any) -> Any:
        model = RELATIONS.get(name)
        if model is not None and isinstance(value, int) and not isinstance(value, bool):
            target = self.tables.get(model, {}).get(value, {})
            return [value, str(target.get("name") or value)]
        return value

    def _value(self, row: Row, name: str) -> Any:
        value = row.get(name, False)
        if isinstance(value, list) and len(value) == 2 and name.endswith("_id"):
            return value[0]
        return value

    def _match(self, row: Row, domain: Sequence[Any]) -> bool:
        stack: list[bool] = []
        for item in reversed(list(domain)):
            if item == "&":
                a, b = stack.pop(), stack.pop()
                stack.append(a and b)
            elif item == "|":
                a, b = stack.pop(), stack.pop()
                stack.append(a or b)
            elif item == "!":
                stack.append(not stack.pop())
            else:
                name, op, wanted = item
                stack.append(_compare(op, self._value(row, name), wanted))
        return all(stack)

    def _search(
        self, model: str, domain: Sequence[Any], order: str | None, limit: int | None, offset: int
    ) -> list[Row]:
        found = [row for row in self.tables.get(model, {}).values() if self._match(row, domain)]
        keys = [part.split() for part in (order or "id").split(",")]
        for key in reversed(keys):
            field, desc = key[0], len(key) > 1 and key[1].lower() == "desc"

            def by(row: Row, field: str = field) -> tuple[bool, Any]:
                return row.get(field) is None, row.get(field) or 0

            found.sort(key=by, reverse=desc)
        found = found[offset:]
        return found[:limit] if limit else found

    def fail_next(self, name: str, error: Exception | None = None) -> None:
        """Make the next ``"model.method"`` call fail (default: Odoo unavailable), once."""

        def hook(_args: Sequence[Any]) -> None:
            del self.hooks[name]
            raise error or OdooUnavailableError(f"{name} failed (injected)")

        self.hooks[name] = hook
