"""Bring in-process ORM results to the shape JSON-RPC gives: ids, lists, Odoo date strings."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

__all__ = ["to_rpc_shape"]

_DATETIME = "%Y-%m-%d %H:%M:%S"
_DATE = "%Y-%m-%d"


def to_rpc_shape(value: Any) -> Any:
    """Return ``value`` as JSON-RPC would deliver it.

    Recordsets become their ids, tuples lists, datetimes ``"YYYY-MM-DD HH:MM:SS"``, dates
    ``"YYYY-MM-DD"``, bytes text and ``Decimal`` a float (Odoo's float fields are floats).
    """
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return value.strftime(_DATETIME)
    if isinstance(value, date):
        return value.strftime(_DATE)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): to_rpc_shape(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_rpc_shape(v) for v in value]
    ids = getattr(value, "ids", None)
    if isinstance(ids, list) and hasattr(value, "_name"):
        return list(ids)
    return str(value)
