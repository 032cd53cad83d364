"""Shadow mode: run every Odoo operation for real, except that writes are recorded, not sent.

Theory of operation. A :class:`ShadowGateway` wraps a real gateway. Reads (``read``,
``search_read``, ``search``, ``search_count``, ``fields_get``, ...) go to the server. Every other
method — ``write``, ``create``, ``load``, ``unlink``, ``message_post``, ``button_validate``,
``action_*`` — is an *intended write*: it is appended to a :class:`ShadowRecorder` (SQLite or
PostgreSQL) and answered locally, so no write request ever leaves the process.

So that the operations behave as they would live, the gateway keeps an **overlay** of what it
pretended to write and lays it over later reads:

- fields written to existing records are returned instead of the server's values; fields named
  in ``owned`` (by default the picking status, ``delivery_state``) read as empty until shipsync
  itself writes them, so a legacy integration's values never steer shipsync's decisions;
- searches on ``isolated`` models (by default vendor bills and their lines, chatter messages
  and attachments) see only what shipsync itself pretended to create: a bill or a note the
  legacy integration created must not make shipsync believe its own is already there;
- records it pretended to create get ids from :data:`SHADOW_ID_BASE` (10^12) upward, far above
  any real record's, and can be read and searched (plain domains:
  ``=``, ``!=``, ``in``, ``not in`` joined by ``&``) like real ones; for ``account.move`` it
  fills the fields Odoo would compute (``amount_total``, ``state``, the product lines), because
  the bill operations read back what they create.

Search domains on the server do not see the overlay (a search for pickings by a status shipsync
only pretended to write finds what the server has): the logistics operations search by name, id
and tracking number, which shipsync never changes on existing pickings except the tracking
reference of a booking, which the overlay answers for the records it knows.

Every intended write is recorded with a key derived from (model, method, records, values), the
way the real write would be identified: the same write intended twice is recorded once.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from os import PathLike
from typing import Any, Protocol

import attrs

from shipsync.errors import ConfigurationError, OdooError
from shipsync.odoo._gateway import OdooGateway

__all__ = [
    "READ_METHODS",
    "SHADOW_ID_BASE",
    "IntendedWrite",
    "PostgresShadowRecorder",
    "SQLiteShadowRecorder",
    "ShadowGateway",
    "ShadowRecorder",
]

SHADOW_ID_BASE = 10**12
"""The first id of a record shadow mode pretends to create (real ids stay far below)."""

READ_METHODS: frozenset[str] = frozenset(
    {
        "read",
        "search",
        "search_read",
        "search_count",
        "fields_get",
        "read_group",
        "name_search",
        "name_get",
        "check_access_rights",
        "has_access",
        "default_get",
    }
)
"""Methods that only read: sent to the server in shadow mode. Everything else is recorded."""

_DEFAULT_OWNED: Mapping[str, frozenset[str]] = {"stock.picking": frozenset({"delivery_state"})}
_DEFAULT_ISOLATED = frozenset(
    {"account.move", "account.move.line", "mail.message", "ir.attachment"}
)


@attrs.frozen
class IntendedWrite:
    """One write shipsync would have sent: what, on which records, with which values, when."""

    key: str
    model: str
    method: str
    record_ids: tuple[int, ...]
    args: Any
    kwargs: Any
    at: float
    run: str

    def to_row(self) -> tuple[str, str, str, str, str, str, float, str]:
        """The row a recorder stores."""
        return (
            self.key,
            self.model,
            self.method,
            json.dumps(list(self.record_ids)),
            json.dumps(self.args, sort_keys=True, default=str),
            json.dumps(self.kwargs, sort_keys=True, default=str),
            self.at,
            self.run,
        )

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> IntendedWrite:
        """Read a stored row back."""
        key, model, method, ids, args, kwargs, at, run = row
        return cls(
            key=str(key),
            model=str(model),
            method=str(method),
            record_ids=tuple(int(i) for i in json.loads(ids)),
            args=json.loads(args),
            kwargs=json.loads(kwargs),
            at=float(at),
            run=str(run),
        )


def _key(model: str, method: str, args: Any, kwargs: Any) -> str:
    payload = json.dumps([model, method, args, kwargs], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


class ShadowRecorder(Protocol):
    """Where intended writes are kept."""

    def record(self, write: IntendedWrite) -> None:
        """Keep ``write`` (once per key)."""
        ...

    def writes(self, run: str | None = None) -> Iterator[IntendedWrite]:
        """Every kept write (of one run), in the order they were intended."""
        ...


_COLUMNS = "key, model, method, record_ids, args, kwargs, at, run"


class SQLiteShadowRecorder:
    """Intended writes in a SQLite file (the embedded default)."""

    def __init__(self, path: str | PathLike[str], *, table: str = "shipsync_shadow") -> None:
        if not table.replace("_", "").isalnum():
            raise ConfigurationError("table must be letters, digits and underscores", path="table")
        self.path = path
        self.table = table
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False)
        with self._conn:
            self._conn.execute(
                f"CREATE TABLE IF NOT EXISTS {table} (seq INTEGER PRIMARY KEY, key TEXT UNIQUE, "
                "model TEXT, method TEXT, record_ids TEXT, args TEXT, kwargs TEXT, at REAL, "
                "run TEXT)"
            )

    def record(self, write: IntendedWrite) -> None:
        with self._lock, self._conn:
            self._conn.execute(
                f"INSERT OR IGNORE INTO {self.table} ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                write.to_row(),
            )

    def writes(self, run: str | None = None) -> Iterator[IntendedWrite]:
        query = f"SELECT {_COLUMNS} FROM {self.table}"
        params: tuple[str, ...] = ()
        if run is not None:
            query += " WHERE run = ?"
            params = (run,)
        with self._lock:
            found = self._conn.execute(query + " ORDER BY seq", params).fetchall()
        for row in found:
            yield IntendedWrite.from_row(row)

    def close(self) -> None:
        """Close the file."""
        self._conn.close()

    def __enter__(self) -> SQLiteShadowRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PostgresShadowRecorder:
    """Intended writes in a PostgreSQL table (needs the ``postgres`` extra)."""

    def __init__(self, dsn: str, *, table: str = "shipsync_shadow") -> None:
        if not table.replace("_", "").isalnum():
            raise ConfigurationError("table must be letters, digits and underscores", path="table")
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - the extra is installed in CI
            from shipsync.errors import MissingDependencyError

            raise MissingDependencyError("PostgresShadowRecorder", "postgres") from exc
        self.table = table
        self._conn = psycopg.connect(dsn, autocommit=True)
        self._conn.execute(
            f"CREATE TABLE IF NOT EXISTS {table} (seq BIGSERIAL PRIMARY KEY, key TEXT UNIQUE, "
            "model TEXT, method TEXT, record_ids TEXT, args TEXT, kwargs TEXT, at DOUBLE "
            "PRECISION, run TEXT)"
        )

    def record(self, write: IntendedWrite) -> None:
        self._conn.execute(
            f"INSERT INTO {self.table} ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (key) DO NOTHING",
            write.to_row(),
        )

    def writes(self, run: str | None = None) -> Iterator[IntendedWrite]:
        query = f"SELECT {_COLUMNS} FROM {self.table}"
        params: tuple[str, ...] = ()
        if run is not None:
            query += " WHERE run = %s"
            params = (run,)
        for row in self._conn.execute(query + " ORDER BY seq", params).fetchall():
            yield IntendedWrite.from_row(row)

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> PostgresShadowRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _matches(row: Mapping[str, Any], domain: Sequence[Any]) -> bool:
    for leaf in domain:
        if leaf == "&":
            continue
        if not isinstance(leaf, list | tuple) or len(leaf) != 3:
            return False  # a domain the overlay does not evaluate matches none of its records
        field, op, wanted = leaf
        value = row.get(field, False)
        if isinstance(value, list) and len(value) == 2 and isinstance(value[0], int):
            value = value[0]
        if op == "=":
            ok = value == wanted
        elif op == "!=":
            ok = value != wanted
        elif op == "in":
            ok = value in wanted
        elif op == "not in":
            ok = value not in wanted
        else:
            return False
        if not ok:
            return False
    return True


class ShadowGateway:
    """An :class:`~shipsync.odoo.OdooGateway` that reads for real and records every write."""

    def __init__(
        self,
        gateway: OdooGateway,
        recorder: ShadowRecorder,
        *,
        run: str = "shadow",
        owned: Mapping[str, Iterable[str]] | None = None,
        isolated: Iterable[str] | None = None,
        clock: Any = time.time,
    ) -> None:
        self._gw = gateway
        self.recorder = recorder
        self.run = run
        self._clock = clock
        chosen = _DEFAULT_OWNED if owned is None else owned
        self.owned = {model: frozenset(fields) for model, fields in chosen.items()}
        self.isolated = frozenset(_DEFAULT_ISOLATED if isolated is None else isolated)
        self._written: dict[str, dict[int, dict[str, Any]]] = {}
        self._created: dict[str, dict[int, dict[str, Any]]] = {}
        self._next_id = SHADOW_ID_BASE
        self.intended = 0

    # --- the gateway contract ---------------------------------------------------------------

    @property
    def server_version(self) -> tuple[int, int]:
        return self._gw.server_version

    @property
    def uid(self) -> int:
        return self._gw.uid

    @property
    def round_trips(self) -> int:
        """Requests that went to the server: reads only."""
        return self._gw.round_trips

    def call(
        self,
        model: str,
        method: str,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
    ) -> Any:
        args = list(args)
        kw = dict(kwargs or {})
        if method in READ_METHODS:
            return self._read(model, method, args, kw)
        return self._write(model, method, args, kw)

    # --- reads ------------------------------------------------------------------------------

    def _read(self, model: str, method: str, args: list[Any], kw: dict[str, Any]) -> Any:
        created = self._created.get(model, {})
        if method == "read":
            ids = [int(i) for i in (args[0] if args else [])]
            real = [i for i in ids if i < SHADOW_ID_BASE]
            rows = self._gw.call(model, "read", [real, *args[1:]], kw) if real else []
            rows = [self._overlay(model, dict(r)) for r in rows]
            fields = kw.get("fields") or (args[1] if len(args) > 1 else None)
            rows += [self._project(model, i, fields) for i in ids if i in created]
            return rows
        if method in {"search_read", "search", "search_count"}:
            domain = args[0] if args else kw.get("domain", [])
            answer: Any = 0 if method == "search_count" else []
            if model not in self.isolated:
                answer = self._gw.call(model, method, args, kw)
            local = [i for i, row in created.items() if _matches(row, domain)]
            if method == "search_count":
                return int(answer) + len(local)
            if method == "search":
                return [*answer, *local]
            fields = kw.get("fields")
            return [self._overlay(model, dict(r)) for r in answer] + [
                self._project(model, i, fields) for i in local
            ]
        return self._gw.call(model, method, args, kw)

    def _overlay(self, model: str, row: dict[str, Any]) -> dict[str, Any]:
        record_id = row.get("id")
        owned = self.owned.get(model, frozenset())
        written = self._written.get(model, {}).get(int(record_id)) if record_id else None
        for field in owned & row.keys():
            row[field] = False
        if written:
            row.update({k: v for k, v in written.items() if k in row})
        return row

    def _project(self, model: str, record_id: int, fields: Any) -> dict[str, Any]:
        row = {"id": record_id, **self._created[model][record_id]}
        if fields:
            return {k: row.get(k, False) for k in ["id", *fields]}
        return row

    # --- writes -----------------------------------------------------------------------------

    def _write(self, model: str, method: str, args: list[Any], kw: dict[str, Any]) -> Any:
        record_ids: tuple[int, ...] = ()
        if method != "create" and args and isinstance(args[0], list):
            record_ids = tuple(int(i) for i in args[0] if isinstance(i, int))
        write = IntendedWrite(
            key=_key(model, method, args, kw),
            model=model,
            method=method,
            record_ids=record_ids,
            args=args,
            kwargs=kw,
            at=float(self._clock()),
            run=self.run,
        )
        self.recorder.record(write)
        self.intended += 1
        if method == "create":
            values = args[0] if args else []
            many = isinstance(values, list)
            ids = [self._create(model, dict(v)) for v in (values if many else [values])]
            return ids if many else ids[0]
        if method == "write":
            for record_id in record_ids:
                target = self._created.get(model, {}).get(record_id)
                if target is None:
                    target = self._written.setdefault(model, {}).setdefault(record_id, {})
                target.update(args[1] if len(args) > 1 else {})
            return True
        if method == "load":
            columns, table = args[0], args[1]
            ids = []
            for line in table:
                values = dict(zip(columns, line, strict=False))
                record_id = int(values.pop(".id"))
                self._written.setdefault(model, {}).setdefault(record_id, {}).update(values)
                ids.append(record_id)
            return {"ids": ids, "messages": []}
        if method == "message_post":
            return self._create("mail.message", {"model": model, "res_id": record_ids, **kw})
        return True  # button_validate, action_*: Odoo answers True or an action dict

    def _create(self, model: str, values: dict[str, Any]) -> int:
        record_id = self._next_id
        self._next_id += 1
        if model == "account.move":
            values = self._bill(record_id, values)
        self._created.setdefault(model, {})[record_id] = values
        return record_id

    def _bill(self, bill_id: int, values: dict[str, Any]) -> dict[str, Any]:
        """Fill what Odoo computes on a vendor bill: total, draft state, the product lines."""
        total = 0.0
        for command in values.get("invoice_line_ids") or []:
            if isinstance(command, list | tuple) and len(command) == 3 and command[0] == 0:
                line = dict(command[2])
                subtotal = float(line.get("quantity", 1)) * float(line.get("price_unit", 0))
                total += subtotal
                self._create(
                    "account.move.line",
                    {
                        "move_id": bill_id,
                        "display_type": "product",
                        "name": line.get("name", ""),
                        "price_subtotal": subtotal,
                    },
                )
        currency = values.get("currency_id")
        if isinstance(currency, int):
            try:
                [row] = self._gw.call("res.currency", "read", [[currency]], {"fields": ["name"]})
                currency = [currency, row["name"]]
            except (OdooError, ValueError, KeyError, TypeError):
                currency = [currency, ""]
        return {**values, "currency_id": currency, "amount_total": total, "state": "draft"}
