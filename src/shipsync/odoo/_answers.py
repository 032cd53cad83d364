"""Check the shape of Odoo's answers before reading them.

A gateway hands back whatever the server sent. An operation that expects ``search_read`` rows
and gets ``None``, a string or rows without an ``id`` (a proxy that rewrote the body, a broken
customisation, a fake) must fail with :class:`~shipsync.errors.OdooResponseError` naming the
call, never with a ``TypeError`` deep inside the operation or, worse, by silently reading
nothing.
"""

from __future__ import annotations

from typing import Any, TypeGuard

from shipsync.errors import OdooResponseError

__all__ = ["created_ids", "is_id", "mapping", "record_ids", "rows"]


def is_id(value: object) -> TypeGuard[int]:
    """Tell whether ``value`` is a record id (a positive int, not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def rows(value: object, where: str) -> list[dict[str, Any]]:
    """``search_read``/``read`` rows: a list of objects, each with a record id."""
    if not isinstance(value, list) or not all(
        isinstance(row, dict) and is_id(row.get("id")) for row in value
    ):
        raise OdooResponseError(f"Odoo answered {where} with something that is not records")
    return value


def record_ids(value: object, where: str) -> list[int]:
    """``search`` ids: a list of record ids."""
    if not isinstance(value, list) or not all(is_id(v) for v in value):
        raise OdooResponseError(f"Odoo answered {where} with something that is not record ids")
    return value


def created_ids(value: object, count: int, where: str) -> list[int]:
    """The ids ``create`` returned for ``count`` values: one id per value, in order."""
    found = [value] if is_id(value) and count == 1 else value
    ids = record_ids(found, where)
    if len(ids) != count:
        raise OdooResponseError(f"Odoo answered {where} with {len(ids)} ids for {count} records")
    return ids


def mapping(value: object, where: str) -> dict[str, Any]:
    """An object answer (``fields_get``, ``load``)."""
    if not isinstance(value, dict):
        raise OdooResponseError(f"Odoo answered {where} with something that is not an object")
    return value
